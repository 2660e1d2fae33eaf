// The zip layer on libzip: archives are read from and written to memory buffers (libzip's
// buffer sources), so that reading needs no temporary file and writing goes through dagrad's
// one atomic-write helper (base/file.h) in the caller.
#include "dagrad/base/zip.h"

#include <fmt/format.h>
#include <zip.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace dagrad::base::zip {

namespace {

// "Last modified 1980-01-01 00:00", the earliest DOS date (day 1, month 1, year 1980 + 0).
constexpr uint16_t dos_time = 0;
constexpr uint16_t dos_date = (1 << 5) | 1;
constexpr uint32_t unix_mode = 0100644;  // a regular file, rw-r--r--
// An archive without members: the end-of-central-directory record alone (signature, then
// zeros). libzip does not write one (it removes an archive left empty); np.savez() does.
constexpr std::string_view empty_archive("PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22);

[[noreturn]] void fail(const std::string& what, const std::string& problem) {
  throw std::runtime_error(fmt::format("{}: {}", what, problem));
}
[[noreturn]] void fail_member(const std::string& what, std::string_view name,
                              const std::string& problem) {
  throw std::runtime_error(fmt::format("{}: member '{}': {}", what, printable(name), problem));
}

// libzip's description of `error`, with the system error (e.g. zlib's) when there is one.
std::string describe(zip_error_t* error) { return zip_error_strerror(error); }

struct ErrorGuard {
  zip_error_t error;
  ErrorGuard() { zip_error_init(&error); }
  ~ErrorGuard() { zip_error_fini(&error); }
};

// What we can read: not encrypted, stored or deflated, of a size we are willing to allocate.
void check_supported(const Entry& e, uint16_t encryption, const std::string& what) {
  if (encryption != ZIP_EM_NONE) fail_member(what, e.name, "encrypted members are not supported");
  if (e.method != ZIP_CM_STORE && e.method != ZIP_CM_DEFLATE)
    fail_member(what, e.name,
                fmt::format("unsupported compression method {} (dagrad reads 0, stored, and 8, "
                            "deflated)",
                            e.method));
  if (e.uncompressed_size > max_member_size)
    fail_member(what, e.name,
                fmt::format("declared size of {} bytes is over the limit of {} bytes",
                            e.uncompressed_size, max_member_size));
  if (e.method == ZIP_CM_STORE && e.compressed_size != e.uncompressed_size)
    fail_member(what, e.name,
                fmt::format("stored member with compressed size {} but uncompressed size {}",
                            e.compressed_size, e.uncompressed_size));
}

// Members may not share bytes: overlapping members are how zip bombs multiply their output, and
// a hostile directory could point many entries at the same data. libzip does not expose where
// members start, but members that do not overlap fit in the archive together: their compressed
// sizes add up to less than its size. (That bounds the total output as non-overlap would: each
// compressed byte inflates at most once.)
void check_total_size(const std::vector<Entry>& entries, std::size_t archive_size,
                      const std::string& what) {
  uint64_t total = 0;
  for (const Entry& e : entries) {
    if (__builtin_add_overflow(total, e.compressed_size, &total) || total > archive_size)
      fail_member(what, e.name,
                  fmt::format("the members' compressed sizes up to this one add up to more than "
                              "the archive's {} bytes (members overlap)",
                              archive_size));
  }
}

// The message for a failed read of `e` after `produced` bytes of it.
std::string read_problem(zip_error_t* error, const Entry& e, uint64_t produced) {
  switch (zip_error_code_zip(error)) {
    case ZIP_ER_CRC:  // checked at the end of the data, which may have come too soon
      if (produced < e.uncompressed_size) break;
      return fmt::format("CRC-32 mismatch (the directory says {:08x}; {})", e.crc32,
                         describe(error));
    case ZIP_ER_ZLIB:
    case ZIP_ER_COMPRESSED_DATA:
      return fmt::format("corrupt deflate data after {} bytes ({})", produced, describe(error));
    case ZIP_ER_INCONS:
    case ZIP_ER_EOF:
      break;
    default:
      return fmt::format("cannot read it ({})", describe(error));
  }
  return fmt::format("the data ends after {} bytes, but its declared size is {} ({})", produced,
                     e.uncompressed_size, describe(error));
}

}  // namespace

// ---- reading ----

struct Reader::Archive {
  zip_t* zip = nullptr;
  ~Archive() {
    if (zip) zip_discard(zip);  // read-only: nothing to write back
  }
};

Reader::Reader(std::string_view bytes, std::string what)
    : what_(std::move(what)), archive_(std::make_unique<Archive>()) {
  if (bytes.empty()) fail(what_, "not a zip archive (the file is empty)");
  ErrorGuard e;
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &e.error);
  if (!source) fail(what_, fmt::format("cannot read the archive ({})", describe(&e.error)));
  // ZIP_CHECKCONS: libzip also checks each local header against the central directory.
  archive_->zip = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &e.error);
  if (!archive_->zip) {
    zip_source_free(source);  // still ours when opening fails
    fail(what_, fmt::format("not a valid zip archive ({})", describe(&e.error)));
  }
  const zip_int64_t count = zip_get_num_entries(archive_->zip, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive_->zip, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW, &st) != 0)
      fail(what_, fmt::format("cannot read central directory entry {} ({})", i,
                              zip_strerror(archive_->zip)));
    Entry entry{st.name ? st.name : "", static_cast<uint64_t>(i),
                st.comp_method,         st.crc,
                st.comp_size,           st.size};
    check_supported(entry, st.encryption_method, what_);
    entries_.push_back(std::move(entry));
  }
  check_total_size(entries_, bytes.size(), what_);
}

Reader::~Reader() = default;

std::string Reader::extract(const Entry& entry) const {
  zip_file_t* file = zip_fopen_index(archive_->zip, entry.index, 0);
  if (!file)
    fail_member(what_, entry.name, fmt::format("cannot open it ({})", zip_strerror(archive_->zip)));
  struct Closer {
    zip_file_t* file;
    ~Closer() { zip_fclose(file); }
  } closer{file};
  // Room for one byte more than declared: enough to tell that the data is longer than declared,
  // without letting a small hostile member expand into gigabytes.
  const uint64_t declared = entry.uncompressed_size;
  const uint64_t room = declared + 1;
  std::string out;
  uint64_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() == room) break;
      out.resize(std::min<uint64_t>(room, std::max<uint64_t>(2 * out.size(), 1 << 16)));
    }
    const zip_int64_t n = zip_fread(file, out.data() + produced, out.size() - produced);
    if (n < 0)
      fail_member(what_, entry.name, read_problem(zip_file_get_error(file), entry, produced));
    if (n == 0) break;  // the end, CRC-32 checked by libzip
    produced += static_cast<uint64_t>(n);
  }
  if (produced > declared)
    fail_member(what_, entry.name,
                fmt::format("inflates to more than its declared size of {} bytes", declared));
  if (produced != declared)
    fail_member(what_, entry.name,
                fmt::format("the data ends after {} bytes, but its declared size is {}", produced,
                            declared));
  out.resize(produced);
  return out;
}

// ---- writing ----

Writer::Writer(std::string what) : what_(std::move(what)) {}

void Writer::add(std::string_view name, std::string_view data, bool deflate) {
  if (name.size() > 0xFFFF) fail_member(what_, name, "the name is longer than 65535 bytes");
  if (name.find('\0') != std::string_view::npos)
    fail_member(what_, name, "the name contains a NUL byte");
  members_.push_back({std::string(name), std::string(data), deflate});
}

namespace {

// libzip's archive being written into the buffer source `target`: zip_close() writes it there.
struct OutArchive {
  zip_t* zip = nullptr;
  ~OutArchive() {
    if (zip) zip_discard(zip);
  }
};

// Adds `data` (which must outlive the archive: libzip reads it in zip_close) as `name`.
void add_member(zip_t* zip, const std::string& name, const std::string& data, bool deflate,
                const std::string& what) {
  zip_source_t* source = zip_source_buffer(zip, data.data(), data.size(), 0);
  if (!source) fail_member(what, name, fmt::format("libzip: {}", zip_strerror(zip)));
  const zip_int64_t index = zip_file_add(zip, name.c_str(), source, ZIP_FL_ENC_GUESS);
  if (index < 0) {
    zip_source_free(source);  // still ours when adding fails
    fail_member(what, name, fmt::format("libzip: {}", zip_strerror(zip)));
  }
  const auto i = static_cast<zip_uint64_t>(index);
  if (zip_set_file_compression(zip, i, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
      zip_file_set_dostime(zip, i, dos_time, dos_date, 0) != 0 ||
      zip_file_set_external_attributes(zip, i, 0, ZIP_OPSYS_UNIX, unix_mode << 16) != 0)
    fail_member(what, name, fmt::format("libzip: {}", zip_strerror(zip)));
}

// The bytes libzip wrote into `target`.
std::string read_source(zip_source_t* target, const std::string& what) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_stat(target, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) ||
      zip_source_open(target) != 0)
    fail(what, fmt::format("libzip: {}", zip_error_strerror(zip_source_error(target))));
  std::string out(st.size, '\0');
  const zip_int64_t n = zip_source_read(target, out.data(), out.size());
  zip_source_close(target);
  if (n < 0 || static_cast<uint64_t>(n) != st.size)
    fail(what, fmt::format("libzip: {}", zip_error_strerror(zip_source_error(target))));
  return out;
}

}  // namespace

std::string Writer::finish() {
  const std::vector<Member> members = std::exchange(members_, {});
  if (members.empty()) return std::string(empty_archive);
  ErrorGuard e;
  zip_source_t* target = zip_source_buffer_create(nullptr, 0, 0, &e.error);
  if (!target) fail(what_, fmt::format("libzip: {}", describe(&e.error)));
  struct SourceGuard {
    zip_source_t* source;
    ~SourceGuard() { zip_source_free(source); }
  } source_guard{target};
  zip_source_keep(target);  // the archive's reference; ours stays for reading it back
  OutArchive archive;
  archive.zip = zip_open_from_source(target, ZIP_TRUNCATE, &e.error);
  if (!archive.zip) {
    zip_source_free(target);  // the reference zip_open_from_source did not take
    fail(what_, fmt::format("libzip: {}", describe(&e.error)));
  }
  for (const Member& m : members) add_member(archive.zip, m.name, m.data, m.deflate, what_);
  if (zip_close(archive.zip) != 0)
    fail(what_, fmt::format("libzip could not write the archive: {}", zip_strerror(archive.zip)));
  archive.zip = nullptr;  // closed and freed
  return read_source(target, what_);
}

std::string printable(std::string_view s) {
  constexpr std::size_t max_shown = 200;
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == max_shown) return out + "...";
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

}  // namespace dagrad::base::zip
