#include "dagrad/io/npy.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <stdexcept>

#include "dagrad/base/file.h"
#include "dagrad/base/zip.h"

namespace dagrad::io {

using base::read_file;
using base::write_file_atomically;
namespace zip = base::zip;

namespace {

// Data and header lengths are copied as they are in memory.
static_assert(std::endian::native == std::endian::little,
              "the .npy reader and writer assume a little-endian host");

constexpr std::string_view magic = "\x93NUMPY";
constexpr std::string_view npz_suffix = ".npy";  // npz member "<key>.npy"
constexpr int max_npy_dims = 64;                 // numpy's own limit
constexpr std::size_t header_alignment = 64;     // data starts at a multiple of this
constexpr std::size_t growth_digits = 21;        // see npy_header

[[noreturn]] void fail(const std::string& what, const std::string& problem) {
  throw std::runtime_error(fmt::format("{}: {}", what, problem));
}

// The element types we read and write, one per dtype.
struct Descr {
  std::string_view text;
  Dtype dtype;
};
constexpr Descr descrs[] = {
    {"<f4", float32},
    {"<f8", float64},
    {"<i8", int64},
};
std::size_t item_size(const Descr& d) { return dtype_size(d.dtype); }

// A shape as Python writes a tuple: (), (5,), (2, 3).
std::string shape_repr(const std::vector<int64_t>& dims) {
  if (dims.size() == 1) return fmt::format("({},)", dims[0]);
  return fmt::format("({})", fmt::join(dims, ", "));
}

// ---- reading the header ----

struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
};

// A strict parser for the header: a Python dict literal with exactly the keys 'descr' (a
// string), 'fortran_order' (True or False) and 'shape' (a tuple of integers), in any order,
// with single or double quotes, optional trailing commas and any whitespace. Anything else is
// an error quoting the header.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  Header parse() {
    Header h;
    expect('{', "at the start");
    while (!accept('}')) {
      const std::string key = parse_string("a quoted key or '}'");
      expect(':', "after the key");
      if (key == "descr")
        set_once(h.descr, key, [&] { return parse_string("a quoted descr"); });
      else if (key == "fortran_order")
        set_once(h.fortran_order, key, [&] { return parse_bool(); });
      else if (key == "shape")
        set_once(h.shape, key, [&] { return parse_shape(); });
      else
        fail(what_, fmt::format("unknown key '{}' in the header", zip::printable(key)));
      if (!accept(',')) {
        expect('}', "after a value");
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) malformed("unexpected text after the dict");
    for (const auto& [present, key] : {std::pair{h.descr.has_value(), "descr"},
                                       {h.fortran_order.has_value(), "fortran_order"},
                                       {h.shape.has_value(), "shape"}})
      if (!present) fail(what_, fmt::format("the header has no '{}' key", key));
    return h;
  }

 private:
  // Quotes the header without its padding.
  [[noreturn]] void malformed(std::string_view problem) const {
    std::string_view shown = text_;
    while (!shown.empty() && is_space(shown.back())) shown.remove_suffix(1);
    fail(what_, fmt::format("malformed header: {} at offset {} in \"{}\"", problem, pos_,
                            zip::printable(shown)));
  }

  template <typename T, typename F>
  void set_once(std::optional<T>& field, const std::string& key, F parse_value) {
    if (field) fail(what_, fmt::format("duplicate key '{}' in the header", key));
    field = parse_value();
  }

  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c, std::string_view where) {
    if (!accept(c)) malformed(fmt::format("expected '{}' {}", c, where));
  }

  std::string parse_string(std::string_view expected) {
    skip_space();
    if (pos_ == text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      malformed(fmt::format("expected {}", expected));
    const char quote = text_[pos_++];
    const std::size_t start = pos_;
    for (; pos_ < text_.size() && text_[pos_] != quote; ++pos_)
      if (text_[pos_] == '\\' || text_[pos_] == '\n') malformed("escape or newline in a string");
    if (pos_ == text_.size()) malformed("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  bool parse_bool() {
    skip_space();
    for (const auto& [word, value] :
         {std::pair{std::string_view("True"), true}, {"False", false}}) {
      const std::size_t end = pos_ + word.size();
      if (text_.substr(pos_, word.size()) == word &&
          (end == text_.size() ||
           !(std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_'))) {
        pos_ = end;
        return value;
      }
    }
    malformed("expected True or False");
  }

  // (), (5,), (2, 3) or (2, 3,): a one-element tuple needs its comma, as in Python.
  std::vector<int64_t> parse_shape() {
    expect('(', "to start the shape tuple");
    std::vector<int64_t> dims;
    if (accept(')')) return dims;
    for (;;) {
      if (dims.size() == max_npy_dims)
        fail(what_, fmt::format("the shape has more than {} dimensions", max_npy_dims));
      dims.push_back(parse_int());
      if (accept(')')) {
        if (dims.size() == 1) malformed("expected ',' after the only dimension");
        return dims;
      }
      expect(',', "between dimensions");
      if (accept(')')) return dims;
    }
  }

  // A decimal integer, possibly negative (rejected later, with the whole shape in the message).
  int64_t parse_int() {
    skip_space();
    const bool negative = pos_ < text_.size() && text_[pos_] == '-';
    if (negative) ++pos_;
    const std::size_t start = pos_;
    int64_t v = 0;
    for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, text_[pos_] - '0', &v))
        malformed("a dimension does not fit in 64 bits");
    }
    if (pos_ == start) malformed("expected a dimension");
    return negative ? -v : v;
  }

  std::string_view text_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

// Magic string, version and header length; returns the header text and sets `data_start`.
std::string_view read_preamble(std::string_view b, const std::string& what,
                               std::size_t& data_start) {
  if (b.substr(0, magic.size()) != magic.substr(0, std::min(b.size(), magic.size())))
    fail(what, "not a .npy file (it does not start with \"\\x93NUMPY\")");
  if (b.size() < magic.size() + 2) fail(what, fmt::format("truncated file ({} bytes)", b.size()));
  const int major = static_cast<unsigned char>(b[6]);
  const int minor = static_cast<unsigned char>(b[7]);
  if (minor != 0 || major < 1 || major > 3)
    fail(what, fmt::format("unsupported .npy format version {}.{} (dagrad reads 1.0, 2.0 and 3.0)",
                           major, minor));
  // Version 1.0 has a 2-byte header length; 2.0 and 3.0 (a UTF-8 header) a 4-byte one.
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t header_start = magic.size() + 2 + length_size;
  if (b.size() < header_start) fail(what, fmt::format("truncated file ({} bytes)", b.size()));
  uint32_t header_size = 0;
  std::memcpy(&header_size, b.data() + header_start - length_size, length_size);
  if (header_size > b.size() - header_start)
    fail(what, fmt::format("the header length {} runs past the end of the file ({} bytes)",
                           header_size, b.size()));
  data_start = header_start + header_size;
  return b.substr(header_start, header_size);
}

// What the header describes, checked: a supported descr, C order, a shape dagrad can hold, and
// a data size that fits in 64 bits.
struct Layout {
  const Descr* descr;
  Shape shape;
  uint64_t nbytes;
};

Layout check_header(const Header& h, const std::string& what) {
  const auto* descr = std::find_if(std::begin(descrs), std::end(descrs),
                                   [&](const Descr& d) { return d.text == *h.descr; });
  if (descr == std::end(descrs))
    fail(what, fmt::format("unsupported dtype '{}' (dagrad reads '<f4', '<f8' and '<i8')",
                           zip::printable(*h.descr)));
  if (*h.fortran_order) fail(what, "fortran_order True is not supported (only C-order arrays are)");
  const std::vector<int64_t>& dims = *h.shape;
  if (std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; }))
    fail(what, fmt::format("the shape {} has a negative dimension", shape_repr(dims)));
  if (dims.size() > static_cast<std::size_t>(Shape::max_dims))
    fail(what, fmt::format("the shape {} has {} dimensions; dagrad tensors have at most {}",
                           shape_repr(dims), dims.size(), Shape::max_dims));
  // Zero-size dimensions count as 1 here: strides (products of trailing dimensions) must fit
  // in 64 bits even when the array is empty.
  int64_t nbytes = static_cast<int64_t>(item_size(*descr));
  for (int64_t d : dims)
    if (__builtin_mul_overflow(nbytes, std::max<int64_t>(d, 1), &nbytes))
      fail(what,
           fmt::format("the shape {} is too large (its size overflows 64 bits)", shape_repr(dims)));
  const bool empty_array = std::find(dims.begin(), dims.end(), 0) != dims.end();
  return {descr, Shape(dims), empty_array ? 0 : static_cast<uint64_t>(nbytes)};
}

// The data as a tensor of the descr's dtype (the bytes are little-endian, as ours).
Tensor to_tensor(std::string_view data, const Layout& layout) {
  Tensor t = empty(layout.shape, layout.descr->dtype);
  if (!data.empty()) std::memcpy(t.raw_data(), data.data(), data.size());
  return t;
}

// Everything after `what` (the start of every error message) is checked before returning.
Tensor decode_npy(std::string_view bytes, const std::string& what) {
  std::size_t data_start = 0;
  const std::string_view header_text = read_preamble(bytes, what, data_start);
  const Layout layout = check_header(HeaderParser(header_text, what).parse(), what);
  const std::string_view data = bytes.substr(data_start);
  if (data.size() != layout.nbytes)
    fail(what, fmt::format("the data is {} bytes, expected {} for shape {} of '{}'", data.size(),
                           layout.nbytes, shape_repr(layout.shape.vec()), layout.descr->text));
  return to_tensor(data, layout);
}

// ---- writing ----

// The header numpy >= 1.24 writes: keys sorted, values as repr() gives them, then spaces so
// that the first dimension can grow to 21 digits in place, then padding to a multiple of 64
// bytes ending in '\n' (numpy pads a full 64 when already aligned). Version 2.0 only when the
// length does not fit version 1.0's 16 bits. (For every shape dagrad can hold this comes to a
// 128-byte header, the same as older numpy's without the growth spaces.)
std::string npy_header(std::string_view descr, const Shape& shape) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr,
                                 shape_repr(shape.vec()));
  if (!shape.empty()) dict.append(growth_digits - fmt::formatted_size("{}", shape[0]), ' ');
  // Spaces and the final '\n' bring the preamble and header to a multiple of 64 bytes.
  const auto padding = [&](std::size_t length_size) {
    const std::size_t unpadded = magic.size() + 2 + length_size + dict.size() + 1;
    return header_alignment - unpadded % header_alignment;
  };
  const int major = dict.size() + padding(2) + 1 > 0xFFFF ? 2 : 1;
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t pad = padding(length_size);
  const auto header_size = static_cast<uint32_t>(dict.size() + pad + 1);
  std::string out(magic);
  out += static_cast<char>(major);
  out += '\0';
  out.append(reinterpret_cast<const char*>(&header_size), length_size);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  return out;
}

// Appends the values of a float `t` as '<i8'; each must be an integer in the int64 range.
void append_int64(std::string& out, const Tensor& t, const std::string& what) {
  DAGRAD_DISPATCH(t.dtype(), {
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double v = p[i];
      // 2^63 itself is out of range; NaN fails both comparisons.
      if (!(v >= -0x1p63 && v < 0x1p63) || v != std::trunc(v))
        fail(what, fmt::format("value {} at index {} is not an integer in the int64 range, so "
                               "it cannot be saved as int64",
                               v, i));
      const auto iv = static_cast<int64_t>(v);
      out.append(reinterpret_cast<const char*>(&iv), sizeof iv);
    }
  });
}

std::string encode_npy(const Tensor& t, bool as_int64, const std::string& what) {
  if (!t.defined()) fail(what, "cannot save an undefined tensor");
  const bool convert = as_int64 && t.dtype() != int64;  // a float tensor written as '<i8'
  const Descr& d = *std::find_if(std::begin(descrs), std::end(descrs), [&](const Descr& e) {
    return e.dtype == (as_int64 ? int64 : t.dtype());
  });
  std::string out = npy_header(d.text, t.shape());
  if (convert) {
    append_int64(out, t, what);
  } else {
    out.append(static_cast<const char*>(t.raw_data()), t.numel() * dtype_size(t.dtype()));
  }
  return out;
}

std::string_view key_of(std::string_view member) {
  return member.substr(0, member.size() - npz_suffix.size());
}
std::string member_what(const std::string& npz_what, std::string_view member) {
  return fmt::format("{}: member '{}'", npz_what, zip::printable(member));
}

// Every member is "<key>.npy", each key once: checked for the whole archive before any
// member is extracted.
void check_member_names(const std::vector<zip::Entry>& entries, const std::string& what) {
  std::set<std::string_view> names;
  for (const zip::Entry& e : entries) {
    if (!e.name.ends_with(npz_suffix))
      fail(what, fmt::format("member '{}' is not a .npy file (npz members are named "
                             "'<key>.npy')",
                             zip::printable(e.name)));
    if (!names.insert(e.name).second)
      fail(what, fmt::format("duplicate key '{}' (two members are named '{}')",
                             zip::printable(key_of(e.name)), zip::printable(e.name)));
  }
}

// Keys are unique, and `int64_keys` names only arrays that are there.
void check_keys(const NamedTensors& arrays, const std::vector<std::string>& int64_keys,
                const std::string& what) {
  std::set<std::string_view> keys;
  for (const auto& [key, t] : arrays)
    if (!keys.insert(key).second)
      fail(what, fmt::format("duplicate key '{}'", zip::printable(key)));
  for (const std::string& key : int64_keys)
    if (!keys.count(key))
      fail(what, fmt::format("int64_keys names '{}', which is not one of the arrays",
                             zip::printable(key)));
}

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& source) {
  return decode_npy(bytes, "npy " + source);
}

std::string npy_bytes(const Tensor& t, bool as_int64) {
  return encode_npy(t, as_int64, "npy_bytes");
}

Tensor load_npy(const std::string& path) {
  const std::string what = "npy " + path;
  return decode_npy(read_file(path, what), what);
}

void save_npy(const Tensor& t, const std::string& path, bool as_int64) {
  const std::string what = "npy " + path;
  write_file_atomically(encode_npy(t, as_int64, what), path, what);
}

NamedTensors parse_npz(std::string_view bytes, const std::string& source) {
  const std::string what = "npz " + source;
  const zip::Reader archive(bytes, what);
  check_member_names(archive.entries(), what);
  NamedTensors arrays;
  for (const zip::Entry& e : archive.entries()) {
    const std::string npy = archive.extract(e);  // one member at a time
    arrays.emplace_back(std::string(key_of(e.name)), decode_npy(npy, member_what(what, e.name)));
  }
  return arrays;
}

NamedTensors load_npz(const std::string& path) {
  return parse_npz(read_file(path, "npz " + path), path);
}

void save_npz(const NamedTensors& arrays, const std::string& path, bool compress,
              const std::vector<std::string>& int64_keys) {
  const std::string what = "npz " + path;
  check_keys(arrays, int64_keys, what);
  zip::Writer archive(what);
  for (const auto& [key, t] : arrays) {
    const bool as_int64 = std::find(int64_keys.begin(), int64_keys.end(), key) != int64_keys.end();
    const std::string name = key + std::string(npz_suffix);
    archive.add(name, encode_npy(t, as_int64, member_what(what, name)), compress);
  }
  write_file_atomically(archive.finish(), path, what);
}

}  // namespace dagrad::io
