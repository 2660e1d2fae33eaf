// Fuzz target: dagrad checkpoints (dagrad/io/checkpoint.h).
//
// The file ends in a CRC-32 of everything before it, which random mutations almost never get
// right: each input is read as it is (the CRC check) and, when its CRC is wrong, again with the
// CRC corrected, so that mutations reach the parser behind the check.
#include <zlib.h>

#include <cstring>

#include "dagrad/io/checkpoint.h"
#include "tests/fuzz/fuzz.h"

namespace {

std::string with_fixed_crc(std::string_view in) {
  std::string out(in);
  if (out.size() < 12) return out;  // magic + version + crc at least
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size() - 4)));
  std::memcpy(out.data() + out.size() - 4, &crc, 4);  // little-endian, like the writer
  return out;
}

void read(std::string_view bytes) {
  const std::string& path = dagrad::fuzz::as_file(bytes);
  dagrad::fuzz::expect_clean(
      [&] { dagrad::fuzz::consume(dagrad::io::load_checkpoint(path).tensors); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = dagrad::fuzz::bytes_of(data, size);
  read(in);
  const std::string fixed = with_fixed_crc(in);
  if (fixed != in) read(fixed);
  return 0;
}
