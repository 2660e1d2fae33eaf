// Tests for io/image: PNG and PGM/PPM reading, PNG writing, and the pixel helpers.
#include "dagrad/io/image.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/data/data_test_util.h"

namespace fs = std::filesystem;
using dagrad::io::Image;
using dagrad::test_util::error_of;

namespace {

// A fresh path in the temp directory; the random part keeps parallel test runs apart.
std::string temp_path(const std::string& name) {
  static const std::string tag = std::to_string(std::random_device{}());
  return (fs::temp_directory_path() / ("dagrad_test_image_" + tag + "_" + name)).string();
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}

std::vector<uint8_t> chunk(const std::string& type, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  put32(out, static_cast<uint32_t>(data.size()));
  for (char c : type) out.push_back(static_cast<uint8_t>(c));
  for (uint8_t b : data) out.push_back(b);  // (insert() trips a GCC 12 -O3 false warning)
  uLong crc = crc32(0, nullptr, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(type.data()), 4);
  if (!data.empty()) crc = crc32(crc, data.data(), static_cast<uInt>(data.size()));
  put32(out, static_cast<uint32_t>(crc));
  return out;
}

std::vector<uint8_t> zlib_compress(const std::vector<uint8_t>& raw) {
  uLongf n = compressBound(raw.size());
  std::vector<uint8_t> out(n);
  REQUIRE(compress2(out.data(), &n, raw.data(), raw.size(), 9) == Z_OK);
  out.resize(n);
  return out;
}

struct PngSpec {
  PngSpec(uint32_t w, uint32_t h, uint8_t d, uint8_t ct, uint8_t il = 0)
      : width(w), height(h), depth(d), color_type(ct), interlace(il) {}
  uint32_t width, height;
  uint8_t depth, color_type, interlace;
  std::vector<std::vector<uint8_t>> extra_chunks;  // complete chunks placed before IDAT
  int idat_pieces = 1;                             // split the zlib stream over this many IDATs
};

// A PNG file around already-filtered scanlines (each row starts with its filter byte).
std::vector<uint8_t> build_png(const PngSpec& spec, const std::vector<uint8_t>& filtered) {
  std::vector<uint8_t> png = {137, 80, 78, 71, 13, 10, 26, 10};
  std::vector<uint8_t> ihdr;
  put32(ihdr, spec.width);
  put32(ihdr, spec.height);
  ihdr.insert(ihdr.end(), {spec.depth, spec.color_type, 0, 0, spec.interlace});
  auto append = [&png](const std::vector<uint8_t>& c) {
    png.insert(png.end(), c.begin(), c.end());
  };
  append(chunk("IHDR", ihdr));
  for (const auto& c : spec.extra_chunks) append(c);
  const std::vector<uint8_t> z = zlib_compress(filtered);
  const size_t piece = (z.size() + spec.idat_pieces - 1) / spec.idat_pieces;
  for (size_t off = 0; off < z.size(); off += piece) {
    append(chunk("IDAT", std::vector<uint8_t>(z.begin() + off,
                                              z.begin() + std::min(z.size(), off + piece))));
  }
  append(chunk("IEND", {}));
  return png;
}

int paeth_ref(int a, int b, int c) {
  int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Applies PNG filter `type` to `row` given the previous raw row (PNG spec, section 9).
std::vector<uint8_t> filter_row(int type, const std::vector<uint8_t>& row,
                                const std::vector<uint8_t>& prev, size_t bpp) {
  std::vector<uint8_t> out = {static_cast<uint8_t>(type)};
  for (size_t i = 0; i < row.size(); ++i) {
    int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
    int pred = type == 0   ? 0
               : type == 1 ? a
               : type == 2 ? b
               : type == 3 ? (a + b) / 2
                           : paeth_ref(a, b, c);
    out.push_back(static_cast<uint8_t>(row[i] - pred));
  }
  return out;
}

// Filters every row of `raw` (rows of `stride` bytes) with filters[y % filters.size()].
std::vector<uint8_t> filter_image(const std::vector<uint8_t>& raw, size_t stride, size_t bpp,
                                  const std::vector<int>& filters) {
  std::vector<uint8_t> out, prev(stride, 0);
  for (size_t y = 0; y * stride < raw.size(); ++y) {
    std::vector<uint8_t> row(raw.begin() + y * stride, raw.begin() + (y + 1) * stride);
    auto f = filter_row(filters[y % filters.size()], row, prev, bpp);
    out.insert(out.end(), f.begin(), f.end());
    prev = row;
  }
  return out;
}

Image random_image(int w, int h, int c, uint32_t seed) {
  std::mt19937 rng(seed);
  Image img{w, h, c, std::vector<uint8_t>(size_t(w) * h * c)};
  for (auto& p : img.pixels) p = static_cast<uint8_t>(rng());
  return img;
}

// pnmtopng -force -paeth
const std::vector<uint8_t> fixture_paeth = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x22, 0x66, 0xd9,
    0x14, 0x00, 0x00, 0x00, 0x35, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0x61, 0x90, 0xb3, 0xd1,
    0x40, 0x05, 0x2c, 0x0c, 0xec, 0x7c, 0x8c, 0x1c, 0xfc, 0x2c, 0xdc, 0x42, 0x9c, 0x02, 0xe2, 0x02,
    0xe2, 0x72, 0x1c, 0xfc, 0x62, 0x08, 0xa1, 0x1f, 0xff, 0xd9, 0xfe, 0xb3, 0xf1, 0x72, 0xf0, 0x6b,
    0xa2, 0xa8, 0xfa, 0xcf, 0xc6, 0xfb, 0xfd, 0x1f, 0x2b, 0x00, 0x50, 0xce, 0x0a, 0xda, 0xa7, 0xd5,
    0xca, 0xcd, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};
// pnmtopng -force -avg
const std::vector<uint8_t> fixture_avg = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x22, 0x66, 0xd9,
    0x14, 0x00, 0x00, 0x00, 0x54, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0x66, 0x90, 0xb3, 0xd1,
    0x30, 0x77, 0xb3, 0xf1, 0x8e, 0x0a, 0x88, 0xcf, 0x4b, 0x29, 0x6e, 0xaa, 0x68, 0x9f, 0xc6, 0xcc,
    0x20, 0xa6, 0x23, 0x2a, 0x29, 0x23, 0x21, 0x2d, 0x2f, 0x2d, 0xaf, 0xa4, 0xa0, 0xac, 0x2e, 0x22,
    0x31, 0x9b, 0x99, 0x41, 0xca, 0x58, 0x4c, 0x52, 0x56, 0x52, 0x56, 0x81, 0x57, 0x40, 0x44, 0x5a,
    0x4e, 0x49, 0x52, 0x46, 0x81, 0x99, 0x41, 0xd6, 0x4a, 0x4c, 0x4a, 0x56, 0x5a, 0x4e, 0x49, 0x42,
    0x5a, 0x5e, 0x4c, 0x72, 0x2e, 0xcf, 0x04, 0x61, 0x00, 0x34, 0x23, 0x0c, 0xff, 0x9b, 0x6f, 0x4b,
    0x6d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};
// pnmtopng -alpha=fxa.pgm
const std::vector<uint8_t> fixture_rgba16 = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x03, 0x10, 0x06, 0x00, 0x00, 0x00, 0x0b,
    0xa6, 0x19, 0xbb, 0x00, 0x00, 0x00, 0x79, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x45, 0xc7,
    0xb1, 0x0d, 0x83, 0x40, 0x0c, 0x05, 0xd0, 0x8f, 0x44, 0x81, 0x84, 0xa9, 0xec, 0xe8, 0x4e,
    0x14, 0x29, 0x62, 0x24, 0x3c, 0x00, 0xd7, 0xa5, 0xba, 0x4d, 0xc8, 0x08, 0xb4, 0x59, 0xc0,
    0x45, 0xe6, 0x88, 0xbc, 0x02, 0x6d, 0xf6, 0x49, 0x16, 0x48, 0x43, 0xc9, 0xeb, 0x5e, 0x03,
    0x5c, 0xd7, 0xfb, 0x07, 0x4f, 0x35, 0x35, 0x35, 0x71, 0x35, 0xb5, 0xc9, 0xd8, 0xcf, 0x4f,
    0xa6, 0xc6, 0xde, 0x02, 0xb4, 0xe7, 0xed, 0x11, 0x18, 0xe8, 0x97, 0x0b, 0x07, 0x46, 0xfa,
    0xa7, 0x97, 0x38, 0x66, 0xea, 0x52, 0xe1, 0xc0, 0xd2, 0x7f, 0x73, 0x11, 0x6f, 0x81, 0x7e,
    0x4f, 0xdb, 0x1a, 0x18, 0xa8, 0xa6, 0x2a, 0x8e, 0x91, 0xba, 0x5c, 0x39, 0x30, 0xd3, 0x25,
    0x57, 0xf1, 0x66, 0xa1, 0x5b, 0x7a, 0x73, 0x1c, 0x3c, 0x63, 0x1a, 0x17, 0xf0, 0x54, 0x11,
    0xb5, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

// Pixels of the fixtures above, recomputed from the formulas their source PPMs were made with.
uint8_t fixture_rgb8_value(int x, int y, int c) {
  return static_cast<uint8_t>((x * 40 + y * 7 * c + c * 30 + (x * x * y) % 17) % 256);
}
uint8_t to8(unsigned v16) { return static_cast<uint8_t>((v16 * 255 + 32767) / 65535); }

}  // namespace

TEST_CASE("image: save_png then load_image round-trips 1-4 channels byte for byte") {
  for (int c = 1; c <= 4; ++c) {
    for (auto [w, h] : {std::pair{1, 1}, {7, 3}, {33, 17}, {128, 2}}) {
      CAPTURE(c);
      CAPTURE(w);
      CAPTURE(h);
      const Image img = random_image(w, h, c, static_cast<uint32_t>(c * 1000 + w * 10 + h));
      const std::string path = temp_path("roundtrip.png");
      dagrad::io::save_png(img, path);
      CHECK_FALSE(fs::exists(path + ".tmp"));
      const Image back = dagrad::io::load_image(path);
      CHECK(back.width == w);
      CHECK(back.height == h);
      CHECK(back.channels == c);
      CHECK(back.pixels == img.pixels);
      fs::remove(path);
    }
  }
}

TEST_CASE("image: save_png round-trips a smooth picture and compresses it") {
  const Image img = dagrad::io::make_test_image(96, 64);
  const std::string path = temp_path("smooth.png");
  dagrad::io::save_png(img, path);
  CHECK(fs::file_size(path) < img.pixels.size() / 4);
  CHECK(dagrad::io::load_image(path).pixels == img.pixels);
  // Writing again replaces the file in place.
  const Image gray = dagrad::io::to_grayscale(img);
  dagrad::io::save_png(gray, path);
  CHECK(dagrad::io::load_image(path).pixels == gray.pixels);
  fs::remove(path);
}

TEST_CASE("image: images wider than libpng's default limit of 1,000,000 pixels round-trip") {
  Image wide = random_image(1500000, 2, 1, 11);
  const std::string path = temp_path("wide.png");
  dagrad::io::save_png(wide, path);
  const Image back = dagrad::io::load_image(path);
  CHECK(back.width == 1500000);
  CHECK(back.pixels == wide.pixels);
  fs::remove(path);
}

TEST_CASE("image: save_png rejects bad images and unwritable paths, naming the path") {
  const std::string path = temp_path("bad.png");
  Image five = random_image(2, 2, 4, 1);
  five.channels = 5;
  std::string msg = error_of<std::exception>([&] { dagrad::io::save_png(five, path); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "channel"));
  Image short_buffer = random_image(3, 3, 3, 2);
  short_buffer.pixels.pop_back();
  CHECK_THROWS_AS(dagrad::io::save_png(short_buffer, path), std::invalid_argument);
  CHECK(contains(error_of<std::exception>([&] { dagrad::io::save_png(Image{}, path); }), path));
  CHECK_FALSE(fs::exists(path));

  const std::string missing_dir = temp_path("no_such_dir") + "/x.png";
  CHECK_THROWS_AS(dagrad::io::save_png(random_image(2, 2, 1, 3), missing_dir), std::runtime_error);
  msg = error_of<std::exception>(
      [&] { dagrad::io::save_png(random_image(2, 2, 1, 3), missing_dir); });
  CHECK(contains(msg, missing_dir));
  CHECK_FALSE(fs::exists(missing_dir));
}

TEST_CASE("image: load_image undoes all five PNG filters") {
  // 8-bit RGB (3 bytes per pixel) and 16-bit RGBA (8 bytes per pixel) exercise the
  // "bytes per pixel" offset of the Sub, Average and Paeth predictors.
  const int w = 7, h = 10;
  const Image src = random_image(w, h, 3, 42);
  const std::string path = temp_path("filters.png");
  write_bytes(path, build_png({w, h, 8, 2}, filter_image(src.pixels, w * 3, 3, {0, 1, 2, 3, 4})));
  Image img = dagrad::io::load_image(path);
  CHECK(img.channels == 3);
  CHECK(img.pixels == src.pixels);

  // Rows in a different order, so every filter also sees a non-zero previous row.
  write_bytes(path, build_png({w, h, 8, 2}, filter_image(src.pixels, w * 3, 3, {4, 3, 2, 1, 0})));
  CHECK(dagrad::io::load_image(path).pixels == src.pixels);

  const Image src16 = random_image(5, 6, 8, 43);  // 5x6 RGBA, 2 bytes per sample
  write_bytes(path,
              build_png({5, 6, 16, 6}, filter_image(src16.pixels, 5 * 8, 8, {1, 4, 3, 2, 0, 4})));
  img = dagrad::io::load_image(path);
  REQUIRE(img.channels == 4);
  REQUIRE(img.pixels.size() == 5 * 6 * 4);
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    const unsigned v16 = (unsigned{src16.pixels[2 * i]} << 8) | src16.pixels[2 * i + 1];
    CHECK(img.pixels[i] == to8(v16));
  }
  fs::remove(path);
}

TEST_CASE("image: load_image decodes PNGs written by another encoder (netpbm's pnmtopng)") {
  const std::string path = temp_path("fixture.png");
  for (const auto* fixture : {&fixture_paeth, &fixture_avg}) {
    write_bytes(path, *fixture);
    const Image img = dagrad::io::load_image(path);
    REQUIRE(img.width == 6);
    REQUIRE(img.height == 4);
    REQUIRE(img.channels == 3);
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 6; ++x) {
        for (int c = 0; c < 3; ++c) CHECK(img.at(x, y, c) == fixture_rgb8_value(x, y, c));
      }
    }
  }
  write_bytes(path, fixture_rgba16);
  const Image img = dagrad::io::load_image(path);
  REQUIRE(img.width == 5);
  REQUIRE(img.height == 3);
  REQUIRE(img.channels == 4);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 5; ++x) {
      for (int c = 0; c < 3; ++c) {
        const unsigned v = (x * 9000 + y * 3001 * c + c * 7777 + y * x * 13) % 65536;
        CHECK(img.at(x, y, c) == to8(v));
      }
      CHECK(img.at(x, y, 3) == to8(((y * 5 + x) * 5000 + 123) % 65536));
    }
  }
  fs::remove(path);
}

TEST_CASE("image: load_image handles gray, gray+alpha, palette, low bit depths and transparency") {
  const std::string path = temp_path("kinds.png");
  SUBCASE("8-bit gray+alpha, split over several IDAT chunks with an ancillary chunk") {
    const Image src = random_image(9, 4, 2, 5);
    std::vector<uint8_t> text = {'C', 'o', 'm', 'm', 'e', 'n', 't', 0, 'h', 'i'};
    PngSpec spec{9, 4, 8, 4};
    spec.extra_chunks = {chunk("tEXt", text)};
    spec.idat_pieces = 3;
    write_bytes(path, build_png(spec, filter_image(src.pixels, 18, 2, {2, 1})));
    const Image img = dagrad::io::load_image(path);
    CHECK(img.channels == 2);
    CHECK(img.pixels == src.pixels);
  }
  SUBCASE("1-bit gray scales to 0/255") {
    // 10 pixels per row: 2 bytes, the last 6 bits are padding.
    // Row 1 uses the Sub filter, whose predictor for sub-byte depths is the previous byte.
    const std::vector<uint8_t> rows = {0, 0b10110000, 0b01000000, 1, 0xFF, 0xC0 - 0xFF + 256};
    write_bytes(path, build_png({10, 2, 1, 0}, rows));
    const Image img = dagrad::io::load_image(path);
    REQUIRE(img.channels == 1);
    const std::vector<uint8_t> want = {255, 0,   255, 255, 0,   0,   0,   0,   0,   255,
                                       255, 255, 255, 255, 255, 255, 255, 255, 255, 255};
    CHECK(img.pixels == want);
  }
  SUBCASE("4-bit gray scales by 17") {
    write_bytes(path, build_png({3, 1, 4, 0}, {0, 0x0F, 0x80}));
    CHECK(dagrad::io::load_image(path).pixels == std::vector<uint8_t>{0, 255, 136});
  }
  SUBCASE("16-bit gray rounds to 8 bits") {
    write_bytes(path, build_png({3, 1, 16, 0}, {0, 0xFF, 0xFF, 0x80, 0x80, 0x00, 0x80}));
    CHECK(dagrad::io::load_image(path).pixels == std::vector<uint8_t>{255, 128, 0});
  }
  SUBCASE("2-bit palette expands to RGB") {
    PngSpec spec{4, 1, 2, 3};
    spec.extra_chunks = {chunk("PLTE", {10, 20, 30, 40, 50, 60, 70, 80, 90})};
    write_bytes(path, build_png(spec, {0, 0b00011000}));  // indices 0 1 2 0
    const Image img = dagrad::io::load_image(path);
    REQUIRE(img.channels == 3);
    CHECK(img.pixels == std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 10, 20, 30});
  }
  SUBCASE("palette with tRNS becomes RGBA; missing tRNS entries are opaque") {
    PngSpec spec{3, 1, 8, 3};
    spec.extra_chunks = {chunk("PLTE", {1, 2, 3, 4, 5, 6, 7, 8, 9}), chunk("tRNS", {0, 128})};
    write_bytes(path, build_png(spec, {0, 0, 1, 2}));
    const Image img = dagrad::io::load_image(path);
    REQUIRE(img.channels == 4);
    CHECK(img.pixels == std::vector<uint8_t>{1, 2, 3, 0, 4, 5, 6, 128, 7, 8, 9, 255});
  }
  SUBCASE("RGB colour key in tRNS becomes an alpha channel") {
    PngSpec spec{2, 1, 8, 2};
    spec.extra_chunks = {chunk("tRNS", {0, 1, 0, 2, 0, 3})};
    write_bytes(path, build_png(spec, {0, 1, 2, 3, 1, 2, 4}));
    const Image img = dagrad::io::load_image(path);
    REQUIRE(img.channels == 4);
    CHECK(img.pixels == std::vector<uint8_t>{1, 2, 3, 0, 1, 2, 4, 255});
  }
  SUBCASE("Adam7-interlaced 8-bit gray and 16-bit RGB") {
    // A 2x2 image: pass 1 holds pixel (0, 0), pass 6 pixel (1, 0), pass 7 the row y = 1; the
    // passes in between are empty for this size.
    write_bytes(path, build_png({2, 2, 8, 0, 1}, {0, 10, 0, 20, 0, 30, 40}));
    Image img = dagrad::io::load_image(path);
    REQUIRE(img.channels == 1);
    CHECK(img.pixels == std::vector<uint8_t>{10, 20, 30, 40});
    // 3x1: pass 1 has pixel (0, 0), pass 4 (2, 0) (it starts at x = 2), pass 6 (1, 0).
    write_bytes(path,
                build_png({3, 1, 16, 2, 1}, {0, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x80,     // pass 1
                                             0, 0x80, 0x80, 0xFF, 0xFF, 0x00, 0x00,     // pass 4
                                             0, 0x00, 0x00, 0x80, 0x80, 0xFF, 0xFF}));  // pass 6
    img = dagrad::io::load_image(path);
    REQUIRE(img.channels == 3);
    CHECK(img.pixels == std::vector<uint8_t>{255, 0, 128, 0, 128, 255, 128, 255, 0});
  }
  SUBCASE("16-bit samples round to 8 bits for every value") {
    std::vector<uint8_t> rows;
    for (unsigned v = 0; v < 65536; ++v) {
      if (v % 256 == 0) rows.push_back(0);  // each row of 256 samples starts with its filter
      rows.push_back(static_cast<uint8_t>(v >> 8));
      rows.push_back(static_cast<uint8_t>(v));
    }
    write_bytes(path, build_png({256, 256, 16, 0}, rows));
    const Image img = dagrad::io::load_image(path);
    REQUIRE(img.pixels.size() == 65536);
    int wrong = 0;
    for (unsigned v = 0; v < 65536; ++v) wrong += img.pixels[v] != to8(v);
    CHECK(wrong == 0);
  }
  SUBCASE("palette index past the end of PLTE is an error") {
    PngSpec spec{2, 1, 8, 3};
    spec.extra_chunks = {chunk("PLTE", {1, 2, 3})};
    write_bytes(path, build_png(spec, {0, 0, 1}));
    CHECK(contains(error_of<std::exception>([&] { dagrad::io::load_image(path); }),
                   "palette index 1 past the end of the 1-colour PLTE"));
  }
  fs::remove(path);
}

TEST_CASE("image: load_image reads PGM and PPM, ASCII and binary") {
  const std::string path = temp_path("image.pnm");
  SUBCASE("P2 with comments") {
    write_text(path, "P2\n# a comment\n3 2 # trailing comment\n255\n0 10 20\n30 40\n255\n");
    const Image img = dagrad::io::load_image(path);
    CHECK(img.width == 3);
    CHECK(img.height == 2);
    CHECK(img.channels == 1);
    CHECK(img.pixels == std::vector<uint8_t>{0, 10, 20, 30, 40, 255});
  }
  SUBCASE("P2 with maxval 15 rescales to 0..255") {
    write_text(path, "P2 2 1 15 15 5");
    CHECK(dagrad::io::load_image(path).pixels == std::vector<uint8_t>{255, 85});
  }
  SUBCASE("P3") {
    write_text(path, "P3\n2 1\n255\n255 0 0   0 128 255\n");
    const Image img = dagrad::io::load_image(path);
    CHECK(img.channels == 3);
    CHECK(img.pixels == std::vector<uint8_t>{255, 0, 0, 0, 128, 255});
  }
  SUBCASE("P5, including a raster byte that looks like whitespace") {
    std::string data = "P5\n4 1\n255\n";
    data += std::string{'\n', ' ', '\0', '\xff'};
    write_text(path, data);
    CHECK(dagrad::io::load_image(path).pixels == std::vector<uint8_t>{10, 32, 0, 255});
  }
  SUBCASE("P5 with 16-bit samples") {
    write_text(path, std::string("P5 2 1 65535\n") + std::string{'\xff', '\xff', '\x80', '\x00'});
    CHECK(dagrad::io::load_image(path).pixels == std::vector<uint8_t>{255, 128});
  }
  SUBCASE("P6") {
    write_text(path, std::string("P6\n1 2\n255\n") + std::string{1, 2, 3, 4, 5, 6});
    const Image img = dagrad::io::load_image(path);
    CHECK(img.width == 1);
    CHECK(img.height == 2);
    CHECK(img.channels == 3);
    CHECK(img.pixels == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  }
  fs::remove(path);
}

TEST_CASE("image: load_image errors name the path and the problem") {
  const std::string path = temp_path("broken.img");
  auto error = [&] { return error_of<std::exception>([&] { dagrad::io::load_image(path); }); };

  SUBCASE("missing file") {
    fs::remove(path);
    CHECK_THROWS_AS(dagrad::io::load_image(path), std::runtime_error);
    CHECK(contains(error(), path));
    CHECK(contains(error(), "cannot open"));
  }
  SUBCASE("empty file") {
    write_text(path, "");
    CHECK(contains(error(), path));
    CHECK(contains(error(), "empty"));
  }
  SUBCASE("wrong magic") {
    write_text(path, "GIF89a not really");
    CHECK_THROWS_AS(dagrad::io::load_image(path), std::runtime_error);
    CHECK(contains(error(), path));
    CHECK(contains(error(), "unknown image format"));
  }
  SUBCASE("truncated PNG") {
    dagrad::io::save_png(random_image(20, 20, 3, 9), path);
    std::vector<uint8_t> bytes = read_bytes(path);
    for (size_t keep : {bytes.size() / 2, bytes.size() - 5, size_t{20}, size_t{6}}) {
      CAPTURE(keep);
      write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + keep));
      CHECK_THROWS_AS(dagrad::io::load_image(path), std::runtime_error);
      CHECK(contains(error(), path));
      CHECK((contains(error(), "truncated") || contains(error(), "signature")));
    }
  }
  SUBCASE("corrupted CRC") {
    dagrad::io::save_png(random_image(8, 8, 1, 10), path);
    std::vector<uint8_t> bytes = read_bytes(path);
    bytes[8 + 8 + 13 + 4 + 8 + 2] ^= 0x40;  // a byte inside the first IDAT's data
    write_bytes(path, bytes);
    CHECK_THROWS_AS(dagrad::io::load_image(path), std::runtime_error);
    CHECK(contains(error(), path));
    CHECK(contains(error(), "IDAT: CRC error"));
  }
  SUBCASE("an unknown interlace method") {
    PngSpec spec{2, 2, 8, 0, 2};
    write_bytes(path, build_png(spec, {0, 1, 2, 0, 3, 4}));
    CHECK(contains(error(), path));
    CHECK(contains(error(), "Invalid IHDR data (Unknown interlace method in IHDR)"));
  }
  SUBCASE("bad PNG header") {
    write_bytes(path, build_png({2, 2, 3, 0}, {0, 0, 0, 0}));  // bit depth 3 does not exist
    CHECK(contains(error(), path));
    CHECK(contains(error(), "Invalid IHDR data (Invalid bit depth in IHDR)"));
    write_bytes(path, build_png({0, 2, 8, 0}, {}));
    CHECK(contains(error(), "Invalid IHDR data (Image width is zero in IHDR)"));
  }
  SUBCASE("bad filter type") {
    write_bytes(path, build_png({1, 1, 8, 0}, {7, 0}));
    CHECK(contains(error(), path));
    CHECK(contains(error(), "bad adaptive filter value"));
  }
  SUBCASE("image data shorter than the header implies") {
    write_bytes(path, build_png({4, 4, 8, 0}, {0, 1, 2, 3, 4}));
    CHECK(contains(error(), path));
    CHECK(contains(error(), "Not enough image data"));
  }
  SUBCASE("image data longer than the header implies") {
    write_bytes(path, build_png({1, 1, 8, 0}, {0, 1, 0, 2, 0, 3}));
    CHECK(contains(error(), path));
    CHECK(contains(error(), "IDAT: Too much image data"));
  }
  SUBCASE("a header claiming far more pixels than the file can hold") {
    write_bytes(path, build_png({30000, 30000, 8, 0}, {0, 1}));
    CHECK(error() == "load_image: '" + path +
                         "': image data too short: a 30000x30000 image has 900030000 bytes of "
                         "rows, more than a " +
                         std::to_string(fs::file_size(path)) + "-byte file can hold");
    write_bytes(path, build_png({0x7fffffff, 0x7fffffff, 16, 6}, {0, 1}));
    CHECK(contains(error(), "image too large (2147483647x2147483647)"));
  }
  SUBCASE("a corrupt ancillary chunk is an error too") {
    PngSpec spec{1, 1, 8, 0};
    std::vector<uint8_t> text = chunk("tEXt", {'a', 0, 'b'});
    text.back() ^= 1;  // its CRC
    spec.extra_chunks = {text};
    write_bytes(path, build_png(spec, {0, 7}));
    CHECK(contains(error(), "tEXt: CRC error"));
  }
  SUBCASE("an unknown critical chunk") {
    PngSpec spec{1, 1, 8, 0};
    spec.extra_chunks = {chunk("CRIT", {1, 2, 3})};
    write_bytes(path, build_png(spec, {0, 7}));
    CHECK(contains(error(), "CRIT: unhandled critical chunk"));
  }
  SUBCASE("truncated PPM data") {
    write_text(path, std::string("P6\n2 2\n255\n") + std::string(5, 'x'));
    CHECK_THROWS_AS(dagrad::io::load_image(path), std::runtime_error);
    CHECK(contains(error(), path));
    CHECK(contains(error(), "truncated"));
  }
  SUBCASE("truncated ASCII PGM and bad header") {
    write_text(path, "P2 2 2 255 1 2 3");
    CHECK(contains(error(), "truncated"));
    write_text(path, "P2 2 x 255");
    CHECK(contains(error(), path));
    CHECK(contains(error(), "height"));
    write_text(path, "P5 2 2 0\n");
    CHECK(contains(error(), "maxval"));
  }
  SUBCASE("sample above maxval") {
    write_text(path, "P2 1 1 10 11");
    CHECK(contains(error(), "exceeds maxval"));
  }
  fs::remove(path);
}

TEST_CASE("image: to_grayscale uses BT.601 luma and drops alpha") {
  Image rgb{4, 1, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255}};
  Image g = dagrad::io::to_grayscale(rgb);
  CHECK(g.channels == 1);
  CHECK(g.width == 4);
  CHECK(g.pixels == std::vector<uint8_t>{76, 150, 29, 255});  // 0.299, 0.587, 0.114 of 255

  Image rgba{1, 1, 4, {100, 150, 200, 7}};
  CHECK(dagrad::io::to_grayscale(rgba).pixels ==
        std::vector<uint8_t>{
            static_cast<uint8_t>(std::lround(0.299 * 100 + 0.587 * 150 + 0.114 * 200))});
  Image gray_alpha{2, 1, 2, {10, 0, 20, 255}};
  CHECK(dagrad::io::to_grayscale(gray_alpha).pixels == std::vector<uint8_t>{10, 20});
  Image gray{2, 1, 1, {3, 4}};
  CHECK(dagrad::io::to_grayscale(gray).pixels == gray.pixels);
  CHECK_THROWS_AS(dagrad::io::to_grayscale(Image{1, 1, 3, {1}}), std::invalid_argument);
}

TEST_CASE("image: make_test_image is deterministic and full of edges") {
  const Image a = dagrad::io::make_test_image(64, 48), b = dagrad::io::make_test_image(64, 48);
  CHECK(a.width == 64);
  CHECK(a.height == 48);
  CHECK(a.channels == 3);
  CHECK(a.pixels == b.pixels);
  // Count strong horizontal and vertical steps in the luma.
  const Image g = dagrad::io::to_grayscale(a);
  int horizontal = 0, vertical = 0;
  for (int y = 0; y + 1 < g.height; ++y) {
    for (int x = 0; x + 1 < g.width; ++x) {
      horizontal += std::abs(g.at(x + 1, y) - g.at(x, y)) > 100;
      vertical += std::abs(g.at(x, y + 1) - g.at(x, y)) > 100;
    }
  }
  CHECK(horizontal > 20);
  CHECK(vertical > 20);
  CHECK_THROWS_AS(dagrad::io::make_test_image(0, 5), std::invalid_argument);
}

TEST_CASE("image: tile_grid lays out normalized, upscaled cells in a near-square grid") {
  // 5 gray 2x3 images: image i holds i*100 + (0..5), so each spans a different range.
  const int n = 5, h = 2, w = 3;
  std::vector<float> data;
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < h * w; ++k) data.push_back(static_cast<float>(i * 100 + k));
  }
  const Image img = dagrad::io::tile_grid(data, n, 1, h, w, /*padding=*/1, /*upscale=*/2);
  // ceil(sqrt(5)) = 3 columns, 2 rows; cells are 6x4 pixels with 1-pixel gaps.
  CHECK(img.channels == 1);
  CHECK(img.width == 3 * 6 + 2);
  CHECK(img.height == 2 * 4 + 1);
  for (int i = 0; i < n; ++i) {
    const int ox = (i % 3) * 7, oy = (i / 3) * 5;
    CAPTURE(i);
    CHECK(img.at(ox, oy) == 0);            // each image's minimum maps to 0...
    CHECK(img.at(ox + 5, oy + 3) == 255);  // ...and its maximum to 255
    CHECK(img.at(ox + 1, oy + 1) == 0);    // upscaled: a 2x2 block per source pixel
    CHECK(img.at(ox + 2, oy) == 51);       // value k=1 of 0..5 -> 255/5
    CHECK(img.at(ox + 3, oy + 2) == 204);  // value k=4 (row 1, col 1)
  }
  for (int y = 0; y < img.height; ++y) CHECK(img.at(6, y) == 0);  // padding column
  for (int x = 0; x < img.width; ++x) CHECK(img.at(x, 4) == 0);   // padding row
  CHECK(img.at(14 + 3, 5 + 2) == 0);                              // the unused sixth cell

  // Three channels keep their order; a constant image becomes mid-grey; NaN becomes 0.
  std::vector<float> rgb = {0, 1, 2, 3,   // R of a 2x2 image
                            3, 2, 1, 0,   // G
                            7, 7, 7, 7};  // B
  Image c3 = dagrad::io::tile_grid(rgb, 1, 3, 2, 2, 1, 1);
  CHECK(c3.channels == 3);
  CHECK(c3.width == 2);
  CHECK(c3.height == 2);
  // One range (0..7) across all channels of the image, as in cs231n's visualize_grid.
  CHECK(c3.pixels == std::vector<uint8_t>{0, 109, 255, 36, 73, 255, 73, 36, 255, 109, 0, 255});
  std::vector<float> flat = {4, 4, 4, NAN};
  CHECK(dagrad::io::tile_grid(flat, 1, 1, 2, 2, 0, 1).pixels ==
        std::vector<uint8_t>{128, 128, 128, 0});

  CHECK_THROWS_AS(dagrad::io::tile_grid(data, n, 2, h, w), std::invalid_argument);
  CHECK_THROWS_AS(dagrad::io::tile_grid(data, n + 1, 1, h, w), std::invalid_argument);
  CHECK_THROWS_AS(dagrad::io::tile_grid(data, n, 1, h, w, -1, 1), std::invalid_argument);
}

TEST_CASE("image: from_float normalizes or clamps") {
  const float v[] = {-1.0f, 0.0f, 1.0f, 3.0f, 300.0f, NAN};
  const Image norm = dagrad::io::from_float(v, 2, 3, true);
  CHECK(norm.width == 3);
  CHECK(norm.height == 2);
  CHECK(norm.channels == 1);
  CHECK(norm.pixels[0] == 0);
  CHECK(norm.pixels[4] == 255);
  CHECK(norm.pixels[1] == 1);  // 1/301 of 255, rounded
  CHECK(norm.pixels[5] == 0);
  const Image clamped = dagrad::io::from_float(v, 2, 3, false);
  CHECK(clamped.pixels == std::vector<uint8_t>{0, 0, 1, 3, 255, 0});
  CHECK_THROWS_AS(dagrad::io::from_float(v, 0, 3, false), std::invalid_argument);
}
