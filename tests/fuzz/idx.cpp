// Fuzz target: IDX files (dagrad/data/idx.h), raw and gzip-compressed. Built twice, as "idx"
// (corpus of raw files) and "idx_gz" (corpus of .gz files): the reader is the same, it tells gzip
// by the magic bytes 1f 8b, but each corpus gets its own fuzzing time and mutations.
#include <zlib.h>

#include "dagrad/data/idx.h"
#include "tests/fuzz/fuzz.h"

namespace {

// The first `n` bytes the reader will see: the input itself, or for gzip its decompressed start
// (across concatenated members, as gzread reads them). Fewer when there are fewer.
std::string head_of(std::string_view in, size_t n) {
  if (in.size() < 2 || in[0] != '\x1f' || in[1] != '\x8b') return std::string(in.substr(0, n));
  std::string out(n, '\0');
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return {};
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(n);
  while (zs.avail_out > 0) {
    const int rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END && zs.avail_in > 0) {
      inflateReset(&zs);  // the next member
      continue;
    }
    if (rc != Z_OK) break;
  }
  out.resize(n - zs.avail_out);
  inflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dagrad;
  const std::string_view in = fuzz::bytes_of(data, size);
  const std::string& path = fuzz::as_file(in);
  fuzz::expect_clean([&] { fuzz::consume(data::read_idx(path)); });
  // The images and labels readers add their own checks (magic, label range) on top.
  const std::string head = head_of(in, 4);
  if (head == std::string("\0\0\x08\x01", 4))
    fuzz::expect_clean([&] { fuzz::consume(data::read_idx_labels(path)); });
  if (head == std::string("\0\0\x08\x03", 4))
    fuzz::expect_clean([&] { fuzz::consume(data::read_idx_images(path)); });
  return 0;
}
