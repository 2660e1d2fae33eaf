#include "dagrad/base/zip.h"

#define ZLIB_CONST  // next_in is a pointer to const
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace dagrad::base::zip {

namespace {

// Record signatures and fixed sizes (APPNOTE.TXT, sections 4.3.7 - 4.3.16).
constexpr uint32_t local_signature = 0x04034b50;
constexpr uint32_t central_signature = 0x02014b50;
constexpr uint32_t end_signature = 0x06054b50;
constexpr uint32_t zip64_end_signature = 0x06064b50;
constexpr uint32_t zip64_locator_signature = 0x07064b50;
constexpr std::size_t local_header_size = 30;
constexpr std::size_t central_header_size = 46;
constexpr std::size_t end_size = 22;
constexpr std::size_t zip64_end_size = 56;
constexpr std::size_t zip64_locator_size = 20;
constexpr std::size_t max_comment_size = 0xFFFF;
constexpr uint16_t zip64_extra_id = 0x0001;
// A 16- or 32-bit field holding all ones means "the real value is in the zip64 record/field".
constexpr uint16_t sentinel16 = 0xFFFF;
constexpr uint32_t sentinel32 = 0xFFFFFFFF;
constexpr uint16_t flag_encrypted = 1 << 0;
constexpr uint16_t flag_utf8_name = 1 << 11;
constexpr uint16_t method_stored = 0;
constexpr uint16_t method_deflated = 8;
// "Version needed to extract": 2.0 for deflate, 4.5 for zip64. Made by: Unix (3), so that
// unzip honours the permission bits in the external attributes.
constexpr uint16_t version_deflate = 20;
constexpr uint16_t version_zip64 = 45;
constexpr uint16_t made_by_unix = 3 << 8;
constexpr uint32_t external_attributes = 0100644u << 16;  // a regular file, rw-r--r--
// Every member is stamped 1980-01-01 00:00 (the earliest DOS date), so that saving the same
// arrays twice gives the same bytes.
constexpr uint16_t dos_time = 0;
constexpr uint16_t dos_date = (1 << 5) | 1;
// zlib counts in 32-bit uInt: feed and drain it in pieces no bigger than this.
constexpr std::size_t zlib_chunk = std::size_t{1} << 30;

[[noreturn]] void fail(const std::string& what, const std::string& problem) {
  throw std::runtime_error(fmt::format("{}: {}", what, problem));
}
[[noreturn]] void fail_member(const std::string& what, std::string_view name,
                              const std::string& problem) {
  throw std::runtime_error(fmt::format("{}: member '{}': {}", what, printable(name), problem));
}

// True when [offset, offset + size) lies within [0, limit), without overflowing.
bool within(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

// Little-endian fields of a record whose bounds the caller has already checked.
uint64_t get_le(std::string_view b, std::size_t at, int nbytes) {
  uint64_t v = 0;
  for (int i = 0; i < nbytes; ++i) v |= uint64_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  return v;
}
uint16_t get16(std::string_view b, std::size_t at) {
  return static_cast<uint16_t>(get_le(b, at, 2));
}
uint32_t get32(std::string_view b, std::size_t at) {
  return static_cast<uint32_t>(get_le(b, at, 4));
}
uint64_t get64(std::string_view b, std::size_t at) { return get_le(b, at, 8); }

void put_le(std::string& out, uint64_t v, int nbytes) {
  for (int i = 0; i < nbytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put16(std::string& out, uint16_t v) { put_le(out, v, 2); }
void put32(std::string& out, uint32_t v) { put_le(out, v, 4); }
void put64(std::string& out, uint64_t v) { put_le(out, v, 8); }

uint32_t crc32_of(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

// ---- reading: the end records ----

// Where the central directory is, and where it must end (the start of the end records).
struct DirectoryLocation {
  uint64_t count = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t limit = 0;
};

[[noreturn]] void fail_multi_disk(const std::string& what) {
  fail(what, "multi-disk (split) zip archives are not supported");
}

// The end-of-central-directory record is followed only by the archive comment, whose length
// it holds: search backwards for a signature whose comment reaches exactly the end of the file.
std::size_t find_end_record(std::string_view b, const std::string& what) {
  if (b.size() < end_size)
    fail(what, fmt::format("not a zip archive ({} bytes is too short for one)", b.size()));
  const std::size_t last = b.size() - end_size;
  const std::size_t first = last > max_comment_size ? last - max_comment_size : 0;
  for (std::size_t pos = last + 1; pos-- > first;) {
    if (get32(b, pos) == end_signature && pos + end_size + get16(b, pos + 20) == b.size())
      return pos;
  }
  fail(what, "not a zip archive (no end-of-central-directory record)");
}

// The zip64 end record, found through the locator just before the ordinary end record.
DirectoryLocation read_zip64_end(std::string_view b, std::size_t locator, const std::string& what) {
  if (get32(b, locator + 4) != 0) fail_multi_disk(what);
  const uint64_t at = get64(b, locator + 8);
  if (!within(at, zip64_end_size, locator) || get32(b, at) != zip64_end_signature)
    fail(what, fmt::format("no zip64 end-of-central-directory record at offset {}", at));
  if (get32(b, at + 16) != 0 || get32(b, at + 20) != 0 || get64(b, at + 24) != get64(b, at + 32))
    fail_multi_disk(what);
  return {get64(b, at + 32), get64(b, at + 48), get64(b, at + 40), at};
}

DirectoryLocation read_end_records(std::string_view b, const std::string& what) {
  const std::size_t end = find_end_record(b, what);
  DirectoryLocation loc;
  if (end >= zip64_locator_size && get32(b, end - zip64_locator_size) == zip64_locator_signature) {
    loc = read_zip64_end(b, end - zip64_locator_size, what);
  } else {
    if (get16(b, end + 4) != 0 || get16(b, end + 6) != 0 || get16(b, end + 8) != get16(b, end + 10))
      fail_multi_disk(what);
    loc = {get16(b, end + 10), get32(b, end + 16), get32(b, end + 12), end};
  }
  if (!within(loc.offset, loc.size, loc.limit))
    fail(what, fmt::format("the central directory (offset {}, {} bytes) lies outside the archive",
                           loc.offset, loc.size));
  // Every entry takes at least a fixed-size header: bounds the count before allocating for it.
  if (loc.count > loc.size / central_header_size)
    fail(what,
         fmt::format("the central directory claims {} entries in {} bytes", loc.count, loc.size));
  return loc;
}

// ---- reading: the central directory ----

// The zip64 extra field (id 1) holds, in this order, 8-byte values for whichever of the
// uncompressed size, compressed size and local header offset are 0xFFFFFFFF in the header
// (then the 4-byte disk number, which we do not need).
void read_zip64_extra(std::string_view extra, Entry& e, const std::string& what) {
  uint64_t* const fields[] = {&e.uncompressed_size, &e.compressed_size, &e.local_header_offset};
  if (std::none_of(std::begin(fields), std::end(fields),
                   [](uint64_t* f) { return *f == sentinel32; }))
    return;
  for (std::size_t pos = 0; extra.size() - pos >= 4;) {
    const uint16_t id = get16(extra, pos);
    const std::size_t size = get16(extra, pos + 2);
    if (size > extra.size() - pos - 4) break;
    if (id == zip64_extra_id) {
      std::size_t at = pos + 4;
      for (uint64_t* f : fields) {
        if (*f != sentinel32) continue;
        if (at + 8 > pos + 4 + size)
          fail_member(what, e.name, "the zip64 extra field is too short");
        *f = get64(extra, at);
        at += 8;
      }
      return;
    }
    pos += 4 + size;
  }
  fail_member(what, e.name, "sizes or offset are 0xFFFFFFFF but there is no zip64 extra field");
}

// Reads the central directory header at `pos` (which must end by `end`) into `e`; returns
// where the next one starts.
std::size_t read_central_header(std::string_view b, std::size_t pos, std::size_t end,
                                uint64_t index, Entry& e, const std::string& what) {
  const auto corrupt = [&] {
    fail(what,
         fmt::format("central directory entry {} (offset {}) is truncated or corrupt", index, pos));
  };
  if (!within(pos, central_header_size, end) || get32(b, pos) != central_signature) corrupt();
  const std::size_t name_size = get16(b, pos + 28);
  const std::size_t extra_size = get16(b, pos + 30);
  const std::size_t comment_size = get16(b, pos + 32);
  const std::size_t name_at = pos + central_header_size;
  if (!within(name_at, name_size + extra_size + comment_size, end)) corrupt();
  e.flags = get16(b, pos + 8);
  e.method = get16(b, pos + 10);
  e.crc32 = get32(b, pos + 16);
  e.compressed_size = get32(b, pos + 20);
  e.uncompressed_size = get32(b, pos + 24);
  e.local_header_offset = get32(b, pos + 42);
  e.name = std::string(b.substr(name_at, name_size));
  const uint16_t disk = get16(b, pos + 34);
  if (disk != 0 && disk != sentinel16) fail_multi_disk(what);
  read_zip64_extra(b.substr(name_at + name_size, extra_size), e, what);
  return name_at + name_size + extra_size + comment_size;
}

// What we can read: not encrypted, stored or deflated, of a size we are willing to allocate.
void check_supported(const Entry& e, const std::string& what) {
  if (e.flags & flag_encrypted) fail_member(what, e.name, "encrypted members are not supported");
  if (e.method != method_stored && e.method != method_deflated)
    fail_member(what, e.name,
                fmt::format("unsupported compression method {} (dagrad reads 0, stored, and 8, "
                            "deflated)",
                            e.method));
  if (e.uncompressed_size > max_member_size)
    fail_member(what, e.name,
                fmt::format("declared size of {} bytes is over the limit of {} bytes",
                            e.uncompressed_size, max_member_size));
  if (e.method == method_stored && e.compressed_size != e.uncompressed_size)
    fail_member(what, e.name,
                fmt::format("stored member with compressed size {} but uncompressed size {}",
                            e.compressed_size, e.uncompressed_size));
}

// Sets where the member's data starts: past its local header, whose extra field may differ
// from the central directory's (numpy's has zip64 sizes there only). Sizes come from the
// central directory: with a data descriptor (flag bit 3) the local ones are zero.
void locate_data(std::string_view b, uint64_t directory_offset, Entry& e, const std::string& what) {
  const uint64_t at = e.local_header_offset;
  if (!within(at, local_header_size, directory_offset) || get32(b, at) != local_signature)
    fail_member(what, e.name, fmt::format("no local header at offset {}", at));
  const std::size_t name_size = get16(b, at + 26);
  const std::size_t extra_size = get16(b, at + 28);
  const uint64_t name_at = at + local_header_size;
  if (!within(name_at, name_size + extra_size, directory_offset))
    fail_member(what, e.name, fmt::format("the local header at offset {} is truncated", at));
  if (b.substr(name_at, name_size) != e.name)
    fail_member(what, e.name,
                fmt::format("the local header at offset {} names '{}' instead", at,
                            printable(b.substr(name_at, name_size))));
  e.data_offset = name_at + name_size + extra_size;
  if (!within(e.data_offset, e.compressed_size, directory_offset))
    fail_member(what, e.name,
                fmt::format("data (offset {}, {} bytes) runs past the central directory",
                            e.data_offset, e.compressed_size));
}

// Members may not share bytes: overlapping members are how zip bombs multiply their output,
// and a hostile directory could point many entries at the same data.
void check_no_overlap(const std::vector<Entry>& entries, const std::string& what) {
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->local_header_offset < b->local_header_offset;
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& prev = *by_offset[i - 1];
    const Entry& e = *by_offset[i];
    if (prev.data_offset + prev.compressed_size > e.local_header_offset)
      fail_member(what, e.name,
                  fmt::format("overlaps member '{}' (local header offset {})", printable(prev.name),
                              e.local_header_offset));
  }
}

// ---- extracting ----

// Raw-deflate decompression into `out`, given room for one byte more than the declared size:
// enough to tell that the stream is longer than declared, without letting a small hostile
// member expand into gigabytes. `out` grows with what is actually produced.
void inflate_member(std::string_view in, const Entry& e, const std::string& what,
                    std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
    fail_member(what, e.name, "zlib could not start inflating");
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  const uint64_t declared = e.uncompressed_size;
  const uint64_t room = declared + 1;
  uint64_t produced = 0;
  std::size_t fed = 0;
  out.clear();
  for (;;) {
    if (zs.avail_in == 0 && fed < in.size()) {
      const std::size_t n = std::min(in.size() - fed, zlib_chunk);
      zs.next_in = reinterpret_cast<const Bytef*>(in.data() + fed);
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    if (produced == out.size())
      out.resize(std::min<uint64_t>(room, std::max<uint64_t>(2 * out.size(), 1 << 16)));
    const std::size_t space = std::min<uint64_t>(out.size() - produced, zlib_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(space);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += space - zs.avail_out;
    if (produced > declared)
      fail_member(what, e.name,
                  fmt::format("inflates to more than its declared size of {} bytes", declared));
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed == in.size())
      fail_member(what, e.name,
                  fmt::format("truncated deflate data ({} bytes inflate to only {} of the declared "
                              "{})",
                              in.size(), produced, declared));
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      fail_member(what, e.name,
                  fmt::format("corrupt deflate data ({})", zs.msg ? zs.msg : "zlib error"));
  }
  if (produced != declared)
    fail_member(
        what, e.name,
        fmt::format("inflates to {} bytes, but its declared size is {}", produced, declared));
  out.resize(produced);
}

// Raw deflate (no zlib header, as zip wants) at zlib's default level, like Python's zipfile.
std::string deflate_member(std::string_view in, std::string_view name, const std::string& what) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    fail_member(what, name, "zlib could not start deflating");
  struct End {
    z_stream* zs;
    ~End() { deflateEnd(zs); }
  } end{&zs};
  std::string out(deflateBound(&zs, in.size()), '\0');
  std::size_t fed = 0, produced = 0;
  for (int rc = Z_OK; rc != Z_STREAM_END;) {
    if (zs.avail_in == 0 && fed < in.size()) {
      const std::size_t n = std::min(in.size() - fed, zlib_chunk);
      zs.next_in = reinterpret_cast<const Bytef*>(in.data() + fed);
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    if (produced == out.size()) out.resize(2 * out.size() + 64);  // beyond deflateBound: never
    const std::size_t space = std::min(out.size() - produced, zlib_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(space);
    rc = deflate(&zs, fed == in.size() ? Z_FINISH : Z_NO_FLUSH);
    produced += space - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
      fail_member(what, name, fmt::format("zlib deflate failed (code {})", rc));
  }
  out.resize(produced);
  return out;
}

bool needs_zip64(uint64_t v) { return v >= sentinel32; }

}  // namespace

std::vector<Entry> read_directory(std::string_view bytes, const std::string& what) {
  const DirectoryLocation loc = read_end_records(bytes, what);
  std::vector<Entry> entries(loc.count);
  const std::size_t end = loc.offset + loc.size;
  std::size_t pos = loc.offset;
  for (uint64_t i = 0; i < loc.count; ++i) {
    pos = read_central_header(bytes, pos, end, i, entries[i], what);
    check_supported(entries[i], what);
    locate_data(bytes, loc.offset, entries[i], what);
  }
  if (pos != end)
    fail(what, fmt::format("{} unexpected bytes after the {} central directory entries", end - pos,
                           loc.count));
  check_no_overlap(entries, what);
  return entries;
}

std::string_view extract(std::string_view bytes, const Entry& entry, const std::string& what,
                         std::string& scratch) {
  std::string_view data = bytes.substr(entry.data_offset, entry.compressed_size);
  if (entry.method == method_deflated) {
    inflate_member(data, entry, what, scratch);
    data = scratch;
  }
  const uint32_t crc = crc32_of(data);
  if (crc != entry.crc32)
    fail_member(what, entry.name,
                fmt::format("CRC-32 mismatch (data has {:08x}, the directory says {:08x})", crc,
                            entry.crc32));
  return data;
}

// ---- writing ----

Writer::Writer(std::string what, bool force_zip64)
    : what_(std::move(what)), force_zip64_(force_zip64) {}

void Writer::add(std::string_view name, std::string_view data, bool deflate) {
  if (name.size() > 0xFFFF) fail_member(what_, name, "the name is longer than 65535 bytes");
  Record r{std::string(name), 0, deflate ? method_deflated : method_stored,
           crc32_of(data),    0, data.size(),
           out_.size()};
  if (std::any_of(name.begin(), name.end(), [](char c) { return c & 0x80; }))
    r.flags |= flag_utf8_name;
  const std::string compressed = deflate ? deflate_member(data, name, what_) : std::string();
  const std::string_view body = deflate ? std::string_view(compressed) : data;
  r.compressed_size = body.size();

  // The local header carries the sizes in a zip64 extra field when they need it.
  const bool zip64 =
      force_zip64_ || needs_zip64(r.uncompressed_size) || needs_zip64(r.compressed_size);
  put32(out_, local_signature);
  put16(out_, zip64 ? version_zip64 : version_deflate);
  put16(out_, r.flags);
  put16(out_, r.method);
  put16(out_, dos_time);
  put16(out_, dos_date);
  put32(out_, r.crc32);
  put32(out_, zip64 ? sentinel32 : static_cast<uint32_t>(r.compressed_size));
  put32(out_, zip64 ? sentinel32 : static_cast<uint32_t>(r.uncompressed_size));
  put16(out_, static_cast<uint16_t>(name.size()));
  put16(out_, zip64 ? 20 : 0);
  out_ += name;
  if (zip64) {
    put16(out_, zip64_extra_id);
    put16(out_, 16);
    put64(out_, r.uncompressed_size);
    put64(out_, r.compressed_size);
  }
  out_ += body;
  records_.push_back(std::move(r));
}

void Writer::put_central_record(const Record& r) {
  // Values that do not fit in 32 bits go to the zip64 extra field, in the order it fixes.
  std::string zip64_values;
  const auto field32 = [&](uint64_t v) {
    if (!force_zip64_ && !needs_zip64(v)) return static_cast<uint32_t>(v);
    put64(zip64_values, v);
    return sentinel32;
  };
  const uint32_t uncompressed_size = field32(r.uncompressed_size);
  const uint32_t compressed_size = field32(r.compressed_size);
  const uint32_t offset = field32(r.offset);
  const uint16_t version = zip64_values.empty() ? version_deflate : version_zip64;
  put32(out_, central_signature);
  put16(out_, made_by_unix | version);
  put16(out_, version);
  put16(out_, r.flags);
  put16(out_, r.method);
  put16(out_, dos_time);
  put16(out_, dos_date);
  put32(out_, r.crc32);
  put32(out_, compressed_size);
  put32(out_, uncompressed_size);
  put16(out_, static_cast<uint16_t>(r.name.size()));
  put16(out_, static_cast<uint16_t>(zip64_values.empty() ? 0 : 4 + zip64_values.size()));
  put16(out_, 0);  // comment length
  put16(out_, 0);  // disk number
  put16(out_, 0);  // internal attributes
  put32(out_, external_attributes);
  put32(out_, offset);
  out_ += r.name;
  if (!zip64_values.empty()) {
    put16(out_, zip64_extra_id);
    put16(out_, static_cast<uint16_t>(zip64_values.size()));
    out_ += zip64_values;
  }
}

void Writer::put_end_records(uint64_t directory_offset) {
  const uint64_t count = records_.size();
  const uint64_t size = out_.size() - directory_offset;
  const bool zip64 =
      force_zip64_ || count >= sentinel16 || needs_zip64(size) || needs_zip64(directory_offset);
  if (zip64) {
    const uint64_t record_offset = out_.size();
    put32(out_, zip64_end_signature);
    put64(out_, zip64_end_size - 12);  // the size of the rest of this record
    put16(out_, made_by_unix | version_zip64);
    put16(out_, version_zip64);
    put32(out_, 0);  // this disk
    put32(out_, 0);  // the disk where the central directory starts
    put64(out_, count);
    put64(out_, count);
    put64(out_, size);
    put64(out_, directory_offset);
    put32(out_, zip64_locator_signature);
    put32(out_, 0);  // the disk with the zip64 end record
    put64(out_, record_offset);
    put32(out_, 1);  // total number of disks
  }
  // Values too big for the ordinary record are all ones there (readers then use zip64's).
  const auto count16 = static_cast<uint16_t>(std::min<uint64_t>(count, sentinel16));
  put32(out_, end_signature);
  put16(out_, 0);  // this disk
  put16(out_, 0);  // the disk where the central directory starts
  put16(out_, count16);
  put16(out_, count16);
  put32(out_, static_cast<uint32_t>(std::min<uint64_t>(size, sentinel32)));
  put32(out_, static_cast<uint32_t>(std::min<uint64_t>(directory_offset, sentinel32)));
  put16(out_, 0);  // comment length
}

std::string Writer::finish() {
  const uint64_t directory_offset = out_.size();
  for (const Record& r : records_) put_central_record(r);
  put_end_records(directory_offset);
  records_.clear();
  return std::exchange(out_, std::string());
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
