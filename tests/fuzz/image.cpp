// Fuzz target: the PNG/PGM/PPM decoder (dagrad/io/image.h).
//
// Every PNG chunk carries a CRC-32, which random mutations almost never get right: a PNG input
// is decoded as it is and, when some CRC is wrong, again with every chunk's CRC corrected, so
// that mutations reach the chunk parsers, inflate and the unfiltering behind the check.
#include <zlib.h>

#include "dagrad/io/image.h"
#include "tests/fuzz/fuzz.h"

namespace {

uint32_t be32(const std::string& s, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + pos);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// The input with the CRC of every complete chunk recomputed (a walk that stops at the first
// chunk running past the end, as the decoder does).
std::string with_fixed_crcs(std::string_view in) {
  std::string out(in);
  if (out.size() < 8 || out.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return out;
  for (size_t pos = 8; out.size() - pos >= 12;) {
    const uint32_t len = be32(out, pos);
    if (len > out.size() - pos - 12) break;
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(out.data() + pos + 4), len + 4));
    for (int i = 0; i < 4; ++i) out[pos + 8 + len + i] = static_cast<char>(crc >> (24 - 8 * i));
    pos += 12 + size_t{len};
  }
  return out;
}

// A decoded image must be what image.h promises: a positive size, 1-4 channels, and exactly
// width * height * channels bytes of pixels.
void check(const dagrad::io::Image& img) {
  if (img.width > 0 && img.height > 0 && img.channels >= 1 && img.channels <= 4 &&
      img.pixels.size() == size_t(img.width) * size_t(img.height) * size_t(img.channels))
    return;
  std::fprintf(stderr, "fuzz: inconsistent image %dx%dx%d with %zu bytes of pixels\n", img.width,
               img.height, img.channels, img.pixels.size());
  std::abort();
}

void read(std::string_view bytes) {
  const std::string& path = dagrad::fuzz::as_file(bytes);
  dagrad::fuzz::expect_clean([&] { check(dagrad::io::load_image(path)); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = dagrad::fuzz::bytes_of(data, size);
  read(in);
  const std::string fixed = with_fixed_crcs(in);
  if (fixed != in) read(fixed);
  return 0;
}
