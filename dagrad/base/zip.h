// A minimal zip archive reader and writer, enough for .npz files: stored and deflated members,
// zip64 sizes and offsets, data descriptors, archive comments. Private to dagrad (not installed).
//
// Archives may be hostile: every offset and size is checked against the buffer before use,
// members may not overlap each other or the central directory, and inflating never goes past a
// member's declared size. Every error is a std::runtime_error that starts with `what` (e.g.
// "npz model.npz") followed by ": member '<name>': " when it concerns one member.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dagrad::base::zip {

// The largest uncompressed member accepted (64 GiB): bounds what a hostile archive can make us
// allocate.
inline constexpr uint64_t max_member_size = uint64_t{1} << 36;

struct Entry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;  // 0 stored, 8 deflated (the only two accepted)
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;  // where the member's stored/compressed bytes start
};

// The members of the archive `bytes` in central-directory order. Checks the end records, the
// central directory, every local header and the layout (no overlaps), and rejects encrypted
// members, methods other than stored/deflated and declared sizes above max_member_size, so
// that extract() can only fail on the member's data itself.
std::vector<Entry> read_directory(std::string_view bytes, const std::string& what);

// The uncompressed bytes of an entry from read_directory(bytes, ...), CRC-32 checked. A stored
// member is returned as a view into `bytes`; a deflated one is inflated into `scratch` (and
// the view points there), stopping as soon as it would exceed the declared size.
std::string_view extract(std::string_view bytes, const Entry& entry, const std::string& what,
                         std::string& scratch);

// Builds an archive in memory, one member at a time: local header and data, then on finish()
// the central directory and end record. zip64 fields are used only where needed (a size or
// offset of 4 GiB - 1 or more, more than 65534 members) unless `force_zip64`, which writes them
// everywhere (as Python's zipfile does with force_zip64=True), for testing readers.
class Writer {
 public:
  explicit Writer(std::string what, bool force_zip64 = false);
  void add(std::string_view name, std::string_view data, bool deflate);
  std::string finish();  // the whole archive; the Writer is empty afterwards

 private:
  struct Record {
    std::string name;
    uint16_t flags, method;
    uint32_t crc32;
    uint64_t compressed_size, uncompressed_size, offset;
  };
  void put_central_record(const Record& r);
  void put_end_records(uint64_t directory_offset);

  std::string what_;
  bool force_zip64_;
  std::string out_;
  std::vector<Record> records_;
};

// `s` for an error message: quoted by the caller, with bytes that are not printable ASCII
// shown as \xNN and anything past 200 bytes cut to "...".
std::string printable(std::string_view s);

}  // namespace dagrad::base::zip
