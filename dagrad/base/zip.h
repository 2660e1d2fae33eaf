// Zip archives in memory, enough for .npz files, on top of libzip (which stays out of this
// header): reading stored and deflated members (zip64, data descriptors and archive comments
// included), and writing them. Private to dagrad (not installed).
//
// Archives may be hostile. libzip checks the structure (end records, central directory, local
// headers, CRC-32s); on top of that the Reader refuses encrypted members, methods other than
// stored/deflated, declared sizes above max_member_size and members whose compressed sizes add
// up to more than the archive holds (overlapping members, the zip-bomb trick), before anything
// is extracted; and extracting never produces more than a member's declared size. Every error is
// a std::runtime_error that starts with `what` (e.g. "npz model.npz") followed by
// ": member '<name>': " when it concerns one member.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dagrad::base::zip {

// The largest uncompressed member accepted (64 GiB): bounds what a hostile archive can make us
// allocate.
inline constexpr uint64_t max_member_size = uint64_t{1} << 36;

struct Entry {
  std::string name;     // the bytes of the archive, not converted from CP437
  uint64_t index = 0;   // in the central directory
  uint16_t method = 0;  // 0 stored, 8 deflated (the only two accepted)
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
};

// An archive held in `bytes`, which must outlive the Reader.
class Reader {
 public:
  // Opens the archive and checks every member as described above; throws std::runtime_error.
  Reader(std::string_view bytes, std::string what);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The members in central-directory order.
  const std::vector<Entry>& entries() const { return entries_; }

  // The uncompressed bytes of `entry` (one of entries()), CRC-32 checked. The buffer grows with
  // what actually comes out, and reading stops as soon as it would exceed the declared size.
  std::string extract(const Entry& entry) const;

 private:
  struct Archive;
  std::string what_;
  std::unique_ptr<Archive> archive_;
  std::vector<Entry> entries_;
};

// Builds an archive in memory: members are added (and copied) one at a time, and finish()
// has libzip write the archive. Every member is stamped 1980-01-01 00:00 with mode rw-r--r--, so
// that the same members give the same bytes; zip64 records are written where sizes, offsets or
// the member count need them.
class Writer {
 public:
  explicit Writer(std::string what);
  void add(std::string_view name, std::string_view data, bool deflate);
  std::string finish();  // the whole archive; the Writer is empty afterwards

 private:
  struct Member {
    std::string name, data;
    bool deflate;
  };
  std::string what_;
  std::vector<Member> members_;
};

// `s` for an error message: quoted by the caller, with bytes that are not printable ASCII
// shown as \xNN and anything past 200 bytes cut to "...".
std::string printable(std::string_view s);

}  // namespace dagrad::base::zip
