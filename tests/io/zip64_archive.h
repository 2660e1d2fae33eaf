// A zip64 test fixture shared by the unit tests (tests/io/test_npy.cpp) and the fuzz corpus
// (tests/fuzz/make_corpus.cpp).
#pragma once
#include <zlib.h>

#include <cstdint>
#include <string>

namespace dagrad::test_util {

// A stored one-member archive with every zip64 record, which libzip writes only for members
// of 4 GiB: zip64 extra fields in both headers (sizes, and the offset in the central one), the
// zip64 end record and its locator, and all-ones fields in the ordinary records. Laid out by
// hand after APPNOTE.TXT 4.3.
inline std::string zip64_archive(const std::string& name, const std::string& data) {
  std::string b;
  const auto put = [&b](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b += static_cast<char>(v >> (8 * i));
  };
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  const uint64_t ones32 = 0xFFFFFFFF;
  put(0x04034b50, 4), put(45, 2), put(0, 2), put(0, 2), put(0, 2), put(0x21, 2), put(crc, 4);
  put(ones32, 4), put(ones32, 4), put(name.size(), 2), put(20, 2);
  b += name;
  put(1, 2), put(16, 2), put(data.size(), 8), put(data.size(), 8);
  b += data;
  const uint64_t central = b.size();
  put(0x02014b50, 4), put(0x032d, 2), put(45, 2), put(0, 2), put(0, 2), put(0, 2), put(0x21, 2);
  put(crc, 4), put(ones32, 4), put(ones32, 4), put(name.size(), 2), put(28, 2), put(0, 2);
  put(0, 2), put(0, 2), put(0100644u << 16, 4), put(ones32, 4);
  b += name;
  put(1, 2), put(24, 2), put(data.size(), 8), put(data.size(), 8), put(0, 8);
  const uint64_t zip64_end = b.size();
  put(0x06064b50, 4), put(44, 8), put(0x032d, 2), put(45, 2), put(0, 4), put(0, 4), put(1, 8);
  put(1, 8), put(zip64_end - central, 8), put(central, 8);
  put(0x07064b50, 4), put(0, 4), put(zip64_end, 8), put(1, 4);
  put(0x06054b50, 4), put(0, 2), put(0, 2), put(0xFFFF, 2), put(0xFFFF, 2), put(ones32, 4);
  put(ones32, 4), put(0, 2);
  return b;
}

}  // namespace dagrad::test_util
