// PNG is read and written with libpng (its classic API: the simplified one would apply gamma
// when reducing 16-bit samples); PGM/PPM are parsed directly, after the Netpbm format pages.
#include "dagrad/io/image.h"

#include <fmt/format.h>
#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <type_traits>

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

// ---- PNG, through libpng ----
//
// libpng reports an error by calling our error callback, which must not return: it copies the
// message into the PngState and longjmps back to the setjmp of the `guarded` call that is running.
// Only libpng's C frames and trivially destructible lambdas lie in between, so the jump skips no
// C++ destructor; `guarded` returns false and the caller, in ordinary C++, throws.

// What libpng's callbacks see (trivially destructible: a longjmp may leave its frame).
struct PngState {
  const uint8_t* in = nullptr;  // reading: the file's bytes
  size_t in_size = 0, in_pos = 0;
  std::string* out = nullptr;  // writing: where the file's bytes go
  bool out_of_memory = false;
  char error[256] = "";
  char warning[256] = "";  // the latest; libpng explains some errors in a warning first
};

void copy_message(char (&to)[256], png_const_charp message) {
  std::snprintf(to, sizeof to, "%s", message ? message : "(no message)");
}

void on_png_error(png_structp png, png_const_charp message) {
  copy_message(static_cast<PngState*>(png_get_error_ptr(png))->error, message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp png, png_const_charp message) {
  copy_message(static_cast<PngState*>(png_get_error_ptr(png))->warning, message);
}

void read_png_bytes(png_structp png, png_bytep to, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (s->in_size - s->in_pos < n) png_error(png, "truncated PNG (the file ends too early)");
  std::memcpy(to, s->in + s->in_pos, n);
  s->in_pos += n;
}

void write_png_bytes(png_structp png, png_bytep from, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (s->out_of_memory) return;
  try {
    s->out->append(reinterpret_cast<const char*>(from), n);
  } catch (const std::bad_alloc&) {
    s->out_of_memory = true;  // no exception may cross libpng: save_png throws afterwards
  }
}

void flush_png(png_structp) {}

// Runs `step` (calls into libpng) with libpng's errors caught: false when one occurred.
template <typename Step>
bool guarded(png_structp png, const Step& step) {
  static_assert(std::is_trivially_destructible_v<Step>, "a longjmp may leave its frame");
  if (setjmp(png_jmpbuf(png))) return false;
  step();
  return true;
}

// The error libpng reported, with the warning that explains it when there is one (e.g.
// "Invalid IHDR data (Invalid bit depth in IHDR)").
std::string png_problem(const PngState& s) {
  if (s.warning[0] == '\0') return s.error;
  return fmt::format("{} ({})", s.error, s.warning);
}

// The read and info structs, destroyed with their owner.
struct PngRead {
  png_structp png = nullptr;
  png_infop info = nullptr;
  explicit PngRead(PngState& state) {
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, on_png_error, on_png_warning);
    if (png) info = png_create_info_struct(png);
  }
  ~PngRead() { png_destroy_read_struct(&png, &info, nullptr); }
};

// The header fields that decide the decoded layout.
struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int depth = 0, color_type = 0, interlace = 0;
  bool trns = false;
};

// As the old decoder did, strictly: only IHDR, PLTE, tRNS, IDAT and IEND are read (the other
// chunks are skipped, their CRCs still checked), a bad CRC anywhere is an error, and so are
// libpng's "benign" errors (too much image data, a tRNS longer than PLTE, palette indices past
// its end). Size limits are dagrad's (check_png_size), not libpng's default 1,000,000 pixels a
// side.
void configure_png_reader(png_structp png) {
  png_set_benign_errors(png, 0);
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
}

int png_channels_of(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_PALETTE:
      return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return 2;
    case PNG_COLOR_TYPE_RGB:
      return 3;
    default:
      return 4;
  }
}

// Rejects, before anything is allocated for the pixels, an image whose decoded pixels or
// decompressed rows would pass max_decoded_bytes, or whose rows are more than `file_size` bytes
// of deflate data can hold (deflate expands at most 1032 times): a corrupt header must not make
// a tiny file allocate absurd amounts of memory. Returns the decoded size.
uint64_t check_png_size(const PngHeader& h, int out_channels, size_t file_size,
                        const std::string& path) {
  const uint64_t bits_per_pixel = uint64_t(png_channels_of(h.color_type)) * h.depth;
  const uint64_t stride = (uint64_t{h.width} * bits_per_pixel + 7) / 8;
  uint64_t raw = 0, out = 0;  // (stride + 1) * height can pass 2^64 for 2^31-pixel sides
  const bool overflow =
      __builtin_mul_overflow(stride + 1, uint64_t{h.height}, &raw) ||
      __builtin_mul_overflow(uint64_t{h.width} * h.height, uint64_t(out_channels), &out);
  if (overflow || raw > max_decoded_bytes || out > max_decoded_bytes)
    fail(path, fmt::format("image too large ({}x{})", h.width, h.height));
  constexpr uint64_t max_deflate_ratio = 1032;
  if (raw > max_deflate_ratio * file_size)
    fail(path, fmt::format("image data too short: a {}x{} image has {} bytes of rows, more than "
                           "a {}-byte file can hold",
                           h.width, h.height, raw, file_size));
  return out;
}

// Transformations to 8-bit gray, gray+alpha, RGB or RGBA: samples below 8 bits scaled up, tRNS
// to an alpha channel (png_set_expand), 16-bit samples rounded to 8 bits (png_set_scale_16:
// round(v * 255 / 65535)), Adam7 passes put together. Palette images come out as one index per
// byte (png_set_packing), for expand_palette: libpng's own expansion does not check the indices.
// Returns the number of passes over the rows (7 for Adam7, else 1).
int set_png_transforms(png_structp png, png_infop info, const PngHeader& h) {
  if (h.color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_packing(png);
  else
    png_set_expand(png);
  if (h.depth == 16) png_set_scale_16(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return passes;
}

// The RGB (or, with tRNS, RGBA) pixels of palette indices, one per byte; entries missing from
// tRNS are opaque. An index past the end of PLTE is an error.
void expand_palette(const std::vector<uint8_t>& indices, png_structp png, png_infop info,
                    Image& img, const std::string& path) {
  png_colorp palette = nullptr;
  int n_colors = 0;
  png_bytep alpha = nullptr;
  int n_alpha = 0;
  if (!png_get_PLTE(png, info, &palette, &n_colors)) fail(path, "palette PNG without a PLTE chunk");
  if (img.channels == 4) png_get_tRNS(png, info, &alpha, &n_alpha, nullptr);
  uint8_t* out = img.pixels.data();
  for (const uint8_t i : indices) {
    if (i >= n_colors)
      fail(path, fmt::format("palette index {} past the end of the {}-colour PLTE", i, n_colors));
    *out++ = palette[i].red;
    *out++ = palette[i].green;
    *out++ = palette[i].blue;
    if (img.channels == 4) *out++ = i < n_alpha ? alpha[i] : 255;
  }
}

Image decode_png(const std::vector<uint8_t>& buf, const std::string& path) {
  PngState state;
  state.in = buf.data();
  state.in_size = buf.size();
  PngRead r(state);
  if (!r.info) fail(path, "libpng could not start reading");
  png_structp png = r.png;
  png_infop info = r.info;
  PngHeader h;
  if (!guarded(png, [&] {
        png_set_read_fn(png, &state, read_png_bytes);
        configure_png_reader(png);
        png_read_info(png, info);
        png_get_IHDR(png, info, &h.width, &h.height, &h.depth, &h.color_type, &h.interlace, nullptr,
                     nullptr);
        h.trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
      }))
    fail(path, png_problem(state));
  const bool alpha = (h.color_type & PNG_COLOR_MASK_ALPHA) || h.trns;
  const int color_channels = (h.color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
  const int channels = color_channels + (alpha ? 1 : 0);
  const uint64_t size = check_png_size(h, channels, buf.size(), path);
  int passes = 1;
  if (!guarded(png, [&] { passes = set_png_transforms(png, info, h); }))
    fail(path, png_problem(state));
  const bool indexed = h.color_type == PNG_COLOR_TYPE_PALETTE;
  const int row_channels = indexed ? 1 : channels;  // what libpng writes per pixel
  if (png_get_rowbytes(png, info) != size_t{h.width} * row_channels)
    fail(path, "libpng's decoded rows do not have the expected size");  // cannot happen

  Image img{static_cast<int>(h.width), static_cast<int>(h.height), channels,
            std::vector<uint8_t>(size)};
  std::vector<uint8_t> indices(indexed ? size_t{h.width} * h.height : 0);
  uint8_t* const decoded = indexed ? indices.data() : img.pixels.data();
  // Row by row rather than png_read_image, which would want a pointer per row (8 bytes for each
  // of up to 2^30 rows). Each Adam7 pass goes over every row, libpng filling in its pixels.
  const size_t stride = size_t{h.width} * row_channels;
  if (!guarded(png, [&] {
        for (int pass = 0; pass < passes; ++pass)
          for (png_uint_32 y = 0; y < h.height; ++y)
            png_read_row(png, decoded + y * stride, nullptr);
        png_read_end(png, nullptr);
      }))
    fail(path, png_problem(state));
  if (indexed) expand_palette(indices, png, info, img, path);
  return img;
}

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

// The write and info structs, destroyed with their owner.
struct PngWrite {
  png_structp png = nullptr;
  png_infop info = nullptr;
  explicit PngWrite(PngState& state) {
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, on_png_error, on_png_warning);
    if (png) info = png_create_info_struct(png);
  }
  ~PngWrite() { png_destroy_write_struct(&png, &info); }
};

// An 8-bit PNG of `img` (already checked) in memory. Each row gets whichever of the five
// filters gives the smallest residuals (libpng's heuristic, the one the PNG spec recommends),
// and zlib compresses at its default level.
std::string encode_png(const Image& img, const std::string& path) {
  static constexpr int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                         PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  std::string out;
  PngState state;
  state.out = &out;
  PngWrite w(state);
  if (!w.info) fail_write(path, "libpng could not start writing");
  png_structp png = w.png;
  png_infop info = w.info;
  const uint8_t* pixels = img.pixels.data();
  const size_t stride = size_t(img.width) * img.channels;
  const int color_type = color_types[img.channels];
  if (!guarded(png, [&] {
        png_set_write_fn(png, &state, write_png_bytes, flush_png);
        png_set_user_limits(png, 0x7fffffff, 0x7fffffff);  // PNG's own limit, not 1,000,000
        png_set_IHDR(png, info, static_cast<png_uint_32>(img.width),
                     static_cast<png_uint_32>(img.height), 8, color_type, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_ALL_FILTERS);
        png_write_info(png, info);
        for (int y = 0; y < img.height; ++y) png_write_row(png, pixels + y * stride);
        png_write_end(png, nullptr);
      }))
    fail_write(path, fmt::format("libpng: {}", png_problem(state)));
  if (state.out_of_memory) fail_write(path, "out of memory");
  return out;
}

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

  const std::string bytes = encode_png(img, path);
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
