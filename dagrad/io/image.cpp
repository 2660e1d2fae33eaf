// PNG is decoded by hand on top of zlib's inflate (chunk walk + CRC check + scanline
// unfiltering); PGM/PPM are parsed directly. See the PNG specification (W3C, 2nd edition) and
// the Netpbm format pages for the layouts implemented here.
#include "dagrad/io/image.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "dagrad/base/file.h"

namespace dagrad::io {
namespace {

// Refuse anything whose decoded pixels would exceed 1 GiB: a corrupt header must not be able
// to make us allocate absurd amounts of memory.
constexpr uint64_t max_decoded_bytes = uint64_t{1} << 30;

constexpr uint8_t png_signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};

[[noreturn]] void fail(const std::string& path, std::string_view problem) {
  throw std::runtime_error(fmt::format("load_image: '{}': {}", path, problem));
}

std::vector<uint8_t> read_whole_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not an image file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, fmt::format("cannot open file ({})", std::strerror(errno)));
  std::vector<uint8_t> bytes;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    bytes.insert(bytes.end(), chunk, chunk + in.gcount());
  }
  if (in.bad()) fail(path, "read error");
  return bytes;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// Chunk types are four ASCII letters; anything else means we lost sync with the file.
bool valid_chunk_type(const uint8_t* t) {
  for (int i = 0; i < 4; ++i) {
    if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z'))) return false;
  }
  return true;
}

uint8_t paeth(int a, int b, int c) {
  int p = a + b - c;
  int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  if (pb <= pc) return static_cast<uint8_t>(b);
  return static_cast<uint8_t>(c);
}

// Inflates exactly `expected` bytes; more or less data than the header implies is an error.
// The buffer grows as data actually arrives, so a corrupt header claiming a huge image cannot
// make a tiny file allocate the full claimed size.
std::vector<uint8_t> inflate_exact(const std::vector<uint8_t>& in, size_t expected,
                                   const std::string& path) {
  std::vector<uint8_t> out;
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) fail(path, "zlib inflateInit failed");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());  // callers keep IDAT below 4 GiB
  int ret = Z_OK;
  // One byte beyond `expected` lets us notice a stream that decodes to more than promised.
  const size_t limit = expected + 1;
  while (ret == Z_OK) {
    if (zs.total_out == out.size()) {
      if (out.size() == limit) break;
      out.resize(std::min(limit, std::max<size_t>(size_t{1} << 16, out.size() * 2)));
    }
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    ret = inflate(&zs, Z_NO_FLUSH);
    if (ret == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ran out mid-stream
  }
  const std::string msg = zs.msg ? zs.msg : "zlib";
  const size_t produced = zs.total_out;
  inflateEnd(&zs);
  if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR || ret == Z_MEM_ERROR) {
    fail(path, fmt::format("corrupt compressed image data ({})", msg));
  }
  if (produced > expected) {
    fail(path,
         fmt::format("image data longer than the header implies (more than {} bytes)", expected));
  }
  if (ret != Z_STREAM_END) {
    fail(path,
         fmt::format("truncated image data (decompressed {} of {} bytes)", produced, expected));
  }
  if (produced < expected) {
    fail(path,
         fmt::format("image data too short (decompressed {} of {} bytes)", produced, expected));
  }
  out.resize(expected);
  return out;
}

Image decode_png(const std::vector<uint8_t>& buf, const std::string& path) {
  uint32_t width = 0, height = 0;
  int depth = 0, color_type = -1;
  std::vector<uint8_t> palette, trns, idat;
  bool have_ihdr = false, have_iend = false;

  size_t pos = sizeof png_signature;
  while (!have_iend) {
    if (buf.size() - pos < 12) {
      fail(path, pos == buf.size() ? "truncated PNG (no IEND chunk)"
                                   : "truncated PNG (incomplete chunk header)");
    }
    uint32_t len = be32(&buf[pos]);
    const uint8_t* type_ptr = &buf[pos + 4];
    if (!valid_chunk_type(type_ptr)) {
      fail(path, fmt::format("bad chunk type at byte {} (corrupt PNG)", pos + 4));
    }
    std::string type(reinterpret_cast<const char*>(type_ptr), 4);
    if (len > 0x7fffffffu) fail(path, fmt::format("bad length in '{}' chunk", type));
    if (buf.size() - pos - 12 < len) {
      fail(path, fmt::format("truncated PNG ('{}' chunk runs past the end of the file)", type));
    }
    const uint8_t* data = &buf[pos + 8];
    uint32_t stored_crc = be32(data + len);
    uint32_t crc = static_cast<uint32_t>(crc32(crc32(0, nullptr, 0), type_ptr, len + 4));
    if (crc != stored_crc) fail(path, fmt::format("bad CRC in '{}' chunk", type));
    if (!have_ihdr && type != "IHDR") fail(path, "bad PNG header: first chunk is not IHDR");

    if (type == "IHDR") {
      if (have_ihdr) fail(path, "bad PNG header: more than one IHDR chunk");
      if (len != 13) fail(path, "bad PNG header: IHDR chunk must be 13 bytes");
      have_ihdr = true;
      width = be32(data);
      height = be32(data + 4);
      depth = data[8];
      color_type = data[9];
      if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu) {
        fail(path, fmt::format("bad PNG header: invalid size {}x{}", width, height));
      }
      bool ok_depth = false;
      const bool low = depth == 1 || depth == 2 || depth == 4 || depth == 8;
      const bool high = depth == 8 || depth == 16;
      if (color_type == 0) {
        ok_depth = low || high;
      } else if (color_type == 3) {
        ok_depth = low;
      } else if (color_type == 2 || color_type == 4 || color_type == 6) {
        ok_depth = high;
      } else {
        fail(path, fmt::format("bad PNG header: invalid colour type {}", color_type));
      }
      if (!ok_depth) {
        fail(path, fmt::format("bad PNG header: bit depth {} is invalid for colour type {}", depth,
                               color_type));
      }
      if (data[10] != 0) fail(path, "bad PNG header: unknown compression method");
      if (data[11] != 0) fail(path, "bad PNG header: unknown filter method");
      if (data[12] == 1) fail(path, "interlaced PNG not supported");
      if (data[12] != 0) fail(path, "bad PNG header: unknown interlace method");
    } else if (type == "PLTE") {
      if (len == 0 || len % 3 != 0 || len > 3 * 256) fail(path, "bad PLTE chunk length");
      palette.assign(data, data + len);
    } else if (type == "tRNS") {
      trns.assign(data, data + len);
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + len);
    } else if (type == "IEND") {
      have_iend = true;
    } else if (type[0] >= 'A' && type[0] <= 'Z') {
      // An uppercase first letter marks a critical chunk: we cannot safely ignore it.
      fail(path, fmt::format("unsupported critical chunk '{}'", type));
    }
    pos += 12 + size_t{len};
  }
  if (idat.empty()) fail(path, "PNG has no IDAT chunk");
  if (idat.size() > std::numeric_limits<uInt>::max()) fail(path, "compressed data too large");
  if (color_type == 3 && palette.empty()) fail(path, "palette PNG without a PLTE chunk");

  const int in_channels = color_type == 0   ? 1
                          : color_type == 2 ? 3
                          : color_type == 3 ? 1
                          : color_type == 4 ? 2
                                            : 4;
  // tRNS on gray/RGB is a single transparent colour key; on a palette it is per-entry alpha.
  bool key_alpha = false;
  if (color_type == 0 && trns.size() == 2) key_alpha = true;
  if (color_type == 2 && trns.size() == 6) key_alpha = true;
  if (color_type == 3 && trns.size() > palette.size() / 3) fail(path, "tRNS longer than PLTE");
  const bool palette_alpha = color_type == 3 && !trns.empty();
  const int out_channels =
      color_type == 3 ? (palette_alpha ? 4 : 3) : in_channels + (key_alpha ? 1 : 0);

  const uint64_t bits_per_pixel = uint64_t(in_channels) * depth;
  const uint64_t stride64 = (uint64_t{width} * bits_per_pixel + 7) / 8;
  // Products checked for overflow: (stride + 1) * height can pass 2^64 for 2^31-pixel sides,
  // and a wrapped size would slip under the limit.
  uint64_t raw64 = 0, out64 = 0;
  const bool overflow = __builtin_mul_overflow(stride64 + 1, uint64_t{height}, &raw64) ||
                        __builtin_mul_overflow(uint64_t{width} * height, uint64_t(out_channels),
                                               &out64);
  if (overflow || raw64 > max_decoded_bytes || out64 > max_decoded_bytes) {
    fail(path, fmt::format("image too large ({}x{})", width, height));
  }
  const size_t stride = static_cast<size_t>(stride64);
  const size_t bpp = std::max<size_t>(1, bits_per_pixel / 8);
  std::vector<uint8_t> raw = inflate_exact(idat, static_cast<size_t>(raw64), path);

  // Undo the per-row filters in place; each row is predicted from the already-restored one.
  std::vector<uint8_t> zero_row(stride, 0);
  for (uint32_t y = 0; y < height; ++y) {
    uint8_t* row = &raw[y * (stride + 1)];
    const int filter = row[0];
    uint8_t* cur = row + 1;
    const uint8_t* prev = y == 0 ? zero_row.data() : cur - (stride + 1);
    switch (filter) {
      case 0:
        break;
      case 1:
        for (size_t i = bpp; i < stride; ++i) cur[i] = static_cast<uint8_t>(cur[i] + cur[i - bpp]);
        break;
      case 2:
        for (size_t i = 0; i < stride; ++i) cur[i] = static_cast<uint8_t>(cur[i] + prev[i]);
        break;
      case 3:
        for (size_t i = 0; i < stride; ++i) {
          int left = i >= bpp ? cur[i - bpp] : 0;
          cur[i] = static_cast<uint8_t>(cur[i] + ((left + prev[i]) >> 1));
        }
        break;
      case 4:
        for (size_t i = 0; i < stride; ++i) {
          int left = i >= bpp ? cur[i - bpp] : 0;
          int up_left = i >= bpp ? prev[i - bpp] : 0;
          cur[i] = static_cast<uint8_t>(cur[i] + paeth(left, prev[i], up_left));
        }
        break;
      default:
        fail(path, fmt::format("bad filter type {} in row {}", filter, y));
    }
  }

  auto sample = [depth](const uint8_t* row, size_t i) -> unsigned {
    if (depth == 8) return row[i];
    if (depth == 16) return (unsigned{row[2 * i]} << 8) | row[2 * i + 1];
    size_t bit = i * depth;  // sub-byte samples are packed most significant bits first
    unsigned shift = 8 - depth - static_cast<unsigned>(bit & 7);
    return (row[bit >> 3] >> shift) & ((1u << depth) - 1);
  };
  auto to8 = [depth](unsigned v) -> uint8_t {
    if (depth == 8) return static_cast<uint8_t>(v);
    if (depth == 16) return static_cast<uint8_t>((v * 255 + 32767) / 65535);
    return static_cast<uint8_t>(v * 255 / ((1u << depth) - 1));
  };
  unsigned key[3] = {0, 0, 0};
  if (key_alpha) {
    for (int c = 0; c < in_channels; ++c) key[c] = (unsigned{trns[2 * c]} << 8) | trns[2 * c + 1];
  }

  Image img;
  img.width = static_cast<int>(width);
  img.height = static_cast<int>(height);
  img.channels = out_channels;
  img.pixels.resize(static_cast<size_t>(out64));
  const size_t n_entries = palette.size() / 3;
  uint8_t* out = img.pixels.data();
  for (uint32_t y = 0; y < height; ++y) {
    const uint8_t* row = &raw[y * (stride + 1) + 1];
    for (uint32_t x = 0; x < width; ++x) {
      if (color_type == 3) {
        unsigned idx = sample(row, x);
        if (idx >= n_entries) {
          fail(path, fmt::format("palette index {} out of range at ({}, {})", idx, x, y));
        }
        *out++ = palette[3 * idx];
        *out++ = palette[3 * idx + 1];
        *out++ = palette[3 * idx + 2];
        if (palette_alpha) *out++ = idx < trns.size() ? trns[idx] : 255;
        continue;
      }
      bool matches_key = key_alpha;
      for (int c = 0; c < in_channels; ++c) {
        unsigned v = sample(row, size_t{x} * in_channels + c);
        if (key_alpha && v != key[c]) matches_key = false;
        *out++ = to8(v);
      }
      if (key_alpha) *out++ = matches_key ? 0 : 255;
    }
  }
  return img;
}

// ---- PGM / PPM ----

struct PnmCursor {
  const std::vector<uint8_t>& buf;
  const std::string& path;
  std::string_view format;  // "PGM" or "PPM", for messages
  size_t pos = 2;

  static bool is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  }
  void skip_space_and_comments() {
    while (pos < buf.size()) {
      if (is_space(buf[pos])) {
        ++pos;
      } else if (buf[pos] == '#') {
        while (pos < buf.size() && buf[pos] != '\n' && buf[pos] != '\r') ++pos;
      } else {
        break;
      }
    }
  }
  // Reads a non-negative decimal; `what` names the field for messages.
  unsigned read_uint(std::string_view what, bool in_header) {
    skip_space_and_comments();
    if (pos >= buf.size()) {
      fail(path, fmt::format("truncated {} {} (missing {})", format, in_header ? "header" : "data",
                             what));
    }
    if (buf[pos] < '0' || buf[pos] > '9') {
      fail(path, fmt::format("bad {} {}: expected a number for {}", format,
                             in_header ? "header" : "data", what));
    }
    uint64_t v = 0;
    while (pos < buf.size() && buf[pos] >= '0' && buf[pos] <= '9') {
      v = v * 10 + (buf[pos++] - '0');
      if (v > 0x7fffffffu) fail(path, fmt::format("bad {} file: {} is too large", format, what));
    }
    if (pos < buf.size() && !is_space(buf[pos]) && buf[pos] != '#') {
      fail(path,
           fmt::format("bad {} {}: junk after {}", format, in_header ? "header" : "data", what));
    }
    return static_cast<unsigned>(v);
  }
};

Image decode_pnm(const std::vector<uint8_t>& buf, const std::string& path) {
  const char kind = static_cast<char>(buf[1]);
  const bool binary = kind == '5' || kind == '6';
  const int channels = (kind == '2' || kind == '5') ? 1 : 3;
  PnmCursor cur{buf, path, channels == 1 ? "PGM" : "PPM"};
  unsigned width = cur.read_uint("width", true);
  unsigned height = cur.read_uint("height", true);
  unsigned maxval = cur.read_uint("maxval", true);
  if (width == 0 || height == 0) {
    fail(path, fmt::format("bad {} header: invalid size {}x{}", cur.format, width, height));
  }
  if (maxval == 0 || maxval > 65535) {
    fail(path, fmt::format("bad {} header: maxval {} is outside 1..65535", cur.format, maxval));
  }
  const uint64_t n_samples = uint64_t{width} * height * channels;
  if (n_samples > max_decoded_bytes) {
    fail(path, fmt::format("image too large ({}x{})", width, height));
  }
  auto scale = [maxval](unsigned v) -> uint8_t {
    if (maxval == 255) return static_cast<uint8_t>(v);
    return static_cast<uint8_t>((uint64_t{v} * 255 + maxval / 2) / maxval);
  };

  // Check that the file can hold the raster before allocating it: every ASCII sample takes at
  // least a digit and a separator.
  const size_t sample_bytes = maxval > 255 ? 2 : 1;
  const uint64_t need = binary ? n_samples * sample_bytes + 1 : 2 * n_samples - 1;
  const uint64_t have = buf.size() - cur.pos;
  if (have < need) {
    fail(path, fmt::format("truncated {} data (expected {} samples, file too short)", cur.format,
                           n_samples));
  }
  Image img;
  img.width = static_cast<int>(width);
  img.height = static_cast<int>(height);
  img.channels = channels;
  img.pixels.resize(static_cast<size_t>(n_samples));
  if (binary) {
    ++cur.pos;  // exactly one whitespace byte separates maxval from the raster
    const uint8_t* p = &buf[cur.pos];
    for (size_t i = 0; i < n_samples; ++i) {
      unsigned v = sample_bytes == 2 ? (unsigned{p[2 * i]} << 8) | p[2 * i + 1] : p[i];
      if (v > maxval) fail(path, fmt::format("sample value {} exceeds maxval {}", v, maxval));
      img.pixels[i] = scale(v);
    }
  } else {
    for (size_t i = 0; i < n_samples; ++i) {
      unsigned v = cur.read_uint("pixel samples", false);
      if (v > maxval) fail(path, fmt::format("sample value {} exceeds maxval {}", v, maxval));
      img.pixels[i] = scale(v);
    }
  }
  return img;
}

[[noreturn]] void fail_write(const std::string& path, std::string_view problem) {
  throw std::runtime_error(fmt::format("save_png: '{}': {}", path, problem));
}

void append_chunk(std::vector<uint8_t>& out, const char* type, const uint8_t* data, size_t len) {
  put_be32(out, static_cast<uint32_t>(len));
  size_t type_pos = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data, data + len);
  put_be32(out, static_cast<uint32_t>(
                    crc32(crc32(0, nullptr, 0), &out[type_pos], static_cast<uInt>(len + 4))));
}

// Byte value mapped to the "minimum sum of absolute differences" cost used to pick a filter.
int filter_cost(uint8_t v) { return v < 128 ? v : 256 - v; }

uint8_t to_byte(double v, double lo, double hi, bool normalize) {
  if (!std::isfinite(v)) return 0;
  if (normalize) {
    if (!(hi > lo)) return 128;
    v = (v - lo) / (hi - lo) * 255.0;
  }
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
}

// Finite min/max of a float range; lo > hi when there is no finite value.
void finite_range(const float* p, size_t n, double& lo, double& hi) {
  lo = std::numeric_limits<double>::infinity();
  hi = -lo;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) continue;
    lo = std::min(lo, double{p[i]});
    hi = std::max(hi, double{p[i]});
  }
}

}  // namespace

Image load_image(const std::string& path) {
  std::vector<uint8_t> buf = read_whole_file(path);
  if (buf.empty()) fail(path, "empty file");
  if (buf.size() >= 4 && std::equal(png_signature, png_signature + 4, buf.begin())) {
    if (buf.size() < sizeof png_signature ||
        !std::equal(std::begin(png_signature), std::end(png_signature), buf.begin())) {
      fail(path, "bad PNG signature (truncated or mangled by a text-mode transfer)");
    }
    return decode_png(buf, path);
  }
  if (buf.size() >= 2 && buf[0] == 'P') {
    switch (buf[1]) {
      case '2':
      case '3':
      case '5':
      case '6':
        return decode_pnm(buf, path);
      case '1':
      case '4':
        fail(path, "PBM bitmaps (P1/P4) not supported");
      case '7':
        fail(path, "PAM (P7) not supported");
      default:
        break;
    }
  }
  fail(path, "unknown image format (expected PNG, PGM or PPM)");
}

void save_png(const Image& img, const std::string& path) {
  auto invalid = [&](std::string_view problem) {
    throw std::invalid_argument(fmt::format("save_png: '{}': {}", path, problem));
  };
  if (img.channels < 1 || img.channels > 4) {
    invalid(fmt::format("unsupported channel count {} (expected 1-4)", img.channels));
  }
  if (img.width <= 0 || img.height <= 0) {
    invalid(fmt::format("invalid size {}x{}", img.width, img.height));
  }
  const size_t stride = size_t(img.width) * img.channels;
  if (img.pixels.size() != stride * img.height) {
    invalid(fmt::format("pixel buffer has {} bytes, {}x{}x{} needs {}", img.pixels.size(),
                        img.width, img.height, img.channels, stride * img.height));
  }

  // Filter each row with whichever of the five filters gives the smallest residuals, the
  // heuristic the PNG spec recommends; it usually compresses far better than no filtering.
  const size_t bpp = img.channels;
  std::vector<uint8_t> filtered((stride + 1) * img.height);
  std::vector<uint8_t> candidate(stride), best(stride), zero_row(stride, 0);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* cur = &img.pixels[y * stride];
    const uint8_t* prev = y == 0 ? zero_row.data() : cur - stride;
    long best_cost = std::numeric_limits<long>::max();
    int best_filter = 0;
    for (int f = 0; f < 5; ++f) {
      long cost = 0;
      for (size_t i = 0; i < stride; ++i) {
        int left = i >= bpp ? cur[i - bpp] : 0;
        int up_left = i >= bpp ? prev[i - bpp] : 0;
        int pred = f == 0   ? 0
                   : f == 1 ? left
                   : f == 2 ? prev[i]
                   : f == 3 ? (left + prev[i]) >> 1
                            : paeth(left, prev[i], up_left);
        candidate[i] = static_cast<uint8_t>(cur[i] - pred);
        cost += filter_cost(candidate[i]);
      }
      if (cost < best_cost) {
        best_cost = cost;
        best_filter = f;
        best.swap(candidate);
      }
    }
    uint8_t* dst = &filtered[y * (stride + 1)];
    dst[0] = static_cast<uint8_t>(best_filter);
    std::copy(best.begin(), best.end(), dst + 1);
  }

  uLongf zlen = compressBound(filtered.size());
  std::vector<uint8_t> zdata(zlen);
  if (compress2(zdata.data(), &zlen, filtered.data(), filtered.size(), 6) != Z_OK) {
    fail_write(path, "zlib compression failed");
  }
  zdata.resize(zlen);

  std::vector<uint8_t> file(png_signature, png_signature + 8);
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, static_cast<uint32_t>(img.width));
  put_be32(ihdr, static_cast<uint32_t>(img.height));
  static constexpr uint8_t color_types[5] = {0, 0, 4, 2, 6};
  ihdr.insert(ihdr.end(), {8, color_types[img.channels], 0, 0, 0});
  append_chunk(file, "IHDR", ihdr.data(), ihdr.size());
  constexpr size_t max_idat = size_t{1} << 20;  // keep chunks modest for streaming readers
  for (size_t off = 0; off < zdata.size(); off += max_idat) {
    append_chunk(file, "IDAT", zdata.data() + off, std::min(max_idat, zdata.size() - off));
  }
  append_chunk(file, "IEND", nullptr, 0);
  const std::string_view bytes(reinterpret_cast<const char*>(file.data()), file.size());
  base::write_file_atomically(bytes, path, fmt::format("save_png: '{}'", path));
}

Image to_grayscale(const Image& img) {
  if (img.channels < 1 || img.channels > 4) {
    throw std::invalid_argument(
        fmt::format("to_grayscale: unsupported channel count {}", img.channels));
  }
  const size_t n = size_t(img.width) * img.height;
  if (img.pixels.size() != n * img.channels) {
    throw std::invalid_argument(
        fmt::format("to_grayscale: pixel buffer has {} bytes, {}x{}x{} needs {}", img.pixels.size(),
                    img.width, img.height, img.channels, n * img.channels));
  }
  Image out{img.width, img.height, 1, std::vector<uint8_t>(n)};
  const uint8_t* p = img.pixels.data();
  for (size_t i = 0; i < n; ++i, p += img.channels) {
    if (img.channels <= 2) {
      out.pixels[i] = p[0];
    } else {
      // Integer weights in thousandths keep the result exact and platform independent.
      out.pixels[i] = static_cast<uint8_t>((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
    }
  }
  return out;
}

Image make_test_image(int width, int height) {
  if (width <= 0 || height <= 0) {
    throw std::invalid_argument(
        fmt::format("make_test_image: size must be positive, got {}x{}", width, height));
  }
  Image img{width, height, 3, std::vector<uint8_t>(size_t(width) * height * 3)};
  const double s = std::min(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double fx = (x + 0.5) / width, fy = (y + 0.5) / height;
      // Smooth background: red grows to the right, blue grows downwards (no edges).
      int r = static_cast<int>(40 + 180 * fx), g = 90, b = static_cast<int>(40 + 180 * fy);
      const double cx = x + 0.5 - 0.28 * width, cy = y + 0.5 - 0.3 * height;
      if (fy > 0.62 && fx < 0.45) {
        // Vertical black/white bars: strong vertical edges at a fixed spatial frequency.
        r = g = b = static_cast<int>(fx * 14) % 2 ? 240 : 15;
      } else if (fy > 0.62 && fx > 0.55) {
        // Horizontal bars whose brightness ramps left to right: edges of varying contrast.
        int v = static_cast<int>(60 + 180 * (fx - 0.55) / 0.45);
        r = g = b = static_cast<int>(fy * 28) % 2 ? v : 255 - v;
      } else if (fx > 0.55 && fx < 0.9 && fy > 0.1 && fy < 0.5) {
        r = 235, g = 200, b = 40;  // yellow rectangle: axis-aligned edges
      } else if (cx * cx + cy * cy < (0.2 * s) * (0.2 * s)) {
        r = 25, g = 60, b = 210;  // blue disc: edges in every orientation
      } else if (std::abs(fx - 0.5 * fy - 0.05) * width < 1.0 && fy < 0.6) {
        r = g = b = 250;  // thin diagonal line
      }
      uint8_t* p = &img.pixels[(size_t(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(std::clamp(r, 0, 255));
      p[1] = static_cast<uint8_t>(std::clamp(g, 0, 255));
      p[2] = static_cast<uint8_t>(std::clamp(b, 0, 255));
    }
  }
  return img;
}

Image tile_grid(const std::vector<float>& data, int n, int c, int h, int w, int padding,
                int upscale) {
  if (n <= 0 || h <= 0 || w <= 0) {
    throw std::invalid_argument(
        fmt::format("tile_grid: n, h and w must be positive, got n={} h={} w={}", n, h, w));
  }
  if (c != 1 && c != 3) {
    throw std::invalid_argument(fmt::format("tile_grid: c must be 1 or 3, got {}", c));
  }
  if (padding < 0 || upscale < 1) {
    throw std::invalid_argument(
        fmt::format("tile_grid: need padding >= 0 and upscale >= 1, got padding={} upscale={}",
                    padding, upscale));
  }
  const size_t per_image = size_t(c) * h * w;
  if (data.size() != per_image * n) {
    throw std::invalid_argument(fmt::format("tile_grid: data has {} values, {}x{}x{}x{} needs {}",
                                            data.size(), n, c, h, w, per_image * n));
  }
  int cols = 1;
  while (cols * cols < n) ++cols;
  const int rows = (n + cols - 1) / cols;
  const uint64_t cell_w = uint64_t(w) * upscale, cell_h = uint64_t(h) * upscale;
  const uint64_t out_w = cols * cell_w + uint64_t(cols - 1) * padding;
  const uint64_t out_h = rows * cell_h + uint64_t(rows - 1) * padding;
  if (out_w > 0x7fffffff || out_h > 0x7fffffff || out_w * out_h * c > max_decoded_bytes) {
    throw std::invalid_argument(fmt::format("tile_grid: output {}x{} is too large", out_w, out_h));
  }
  Image img{static_cast<int>(out_w), static_cast<int>(out_h), c,
            std::vector<uint8_t>(out_w * out_h * c, 0)};
  for (int i = 0; i < n; ++i) {
    const float* src = data.data() + per_image * i;
    double lo, hi;
    finite_range(src, per_image, lo, hi);
    const uint64_t ox = (i % cols) * (cell_w + padding), oy = (i / cols) * (cell_h + padding);
    for (int ch = 0; ch < c; ++ch) {
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const uint8_t v = to_byte(src[(size_t(ch) * h + y) * w + x], lo, hi, true);
          for (int dy = 0; dy < upscale; ++dy) {
            uint8_t* row = &img.pixels[((oy + uint64_t(y) * upscale + dy) * out_w + ox) * c];
            for (int dx = 0; dx < upscale; ++dx) row[(size_t(x) * upscale + dx) * c + ch] = v;
          }
        }
      }
    }
  }
  return img;
}

Image from_float(const float* data, int h, int w, bool normalize) {
  if (h <= 0 || w <= 0) {
    throw std::invalid_argument(fmt::format("from_float: size must be positive, got {}x{}", h, w));
  }
  if (data == nullptr) throw std::invalid_argument("from_float: data is null");
  const size_t n = size_t(h) * w;
  double lo = 0, hi = 0;
  if (normalize) finite_range(data, n, lo, hi);
  Image img{w, h, 1, std::vector<uint8_t>(n)};
  for (size_t i = 0; i < n; ++i) img.pixels[i] = to_byte(data[i], lo, hi, normalize);
  return img;
}

}  // namespace dagrad::io
