#include "dagrad/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include "dagrad/base/file.h"
#include "dagrad/base/json.h"

namespace dagrad::io {

using base::read_file;
using base::write_file_atomically;
namespace json = base::json;

// Tensor bytes are copied as they are in memory.
static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader and writer copy it as is");

namespace {

constexpr uint64_t max_header_bytes = 100'000'000;  // the reference reader's limit
constexpr std::string_view metadata_key = "__metadata__";

// The file dtypes dagrad handles. `order` is the position in the reference library's Dtype
// enum (... F32, C64, F64, I64, U64: listed "in increasing alignment order"), which its writer
// sorts by; only the relative order of these three matters here.
struct FileDtype {
  std::string_view name;
  std::size_t itemsize;
  int order;
};
constexpr FileDtype F32{"F32", 4, 0}, F64{"F64", 8, 1}, I64{"I64", 8, 2};

template <typename... Args>
[[noreturn]] void fail(const std::string& source, fmt::format_string<Args...> what,
                       Args&&... args) {
  throw std::runtime_error(
      fmt::format("safetensors {}: {}", source, fmt::format(what, std::forward<Args>(args)...)));
}

// ---------------------------------------------------------------------------------------------
// Reading

// A tensor as the header describes it.
struct Entry {
  std::string name;
  const FileDtype* dtype;
  Shape shape;
  uint64_t begin, end;  // data_offsets, relative to the start of the data buffer
};

// A JSON value for an error message: a number's or string's text (cut short), else its kind.
std::string describe(const json::Value& v) {
  constexpr std::size_t max_chars = 40;
  std::string text;
  if (v.is(json::Kind::number))
    text = v.number_text();
  else if (v.is(json::Kind::string))
    text = json::quote(v.as_string());
  else
    return json::kind_name(v.kind());
  if (text.size() > max_chars) text = text.substr(0, max_chars) + "...";
  return text;
}

// The JSON header's text, after checking the length field against the limit and the file.
std::string_view header_text(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8)
    fail(source, "file is {} bytes, too short for the 8-byte header length", bytes.size());
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  if (n > max_header_bytes)
    fail(source, "header length {} exceeds the limit of {} bytes", n, max_header_bytes);
  if (n > bytes.size() - 8)
    fail(source, "header length {} runs past the end of the file ({} bytes after the length)", n,
         bytes.size() - 8);
  const std::string_view header = bytes.substr(8, n);
  if (header.empty() || header[0] != '{')
    fail(source, "header is not a JSON object (it must start with '{{')");
  return header;
}

json::Value parse_header(std::string_view header, const std::string& source) {
  try {
    return json::parse(header);
  } catch (const json::ParseError& e) {
    fail(source, "header is not valid JSON: {}", e.what());
  }
}

std::map<std::string, std::string> read_metadata(const json::Value& v, const std::string& source) {
  if (!v.is(json::Kind::object))
    fail(source, "{} is {}, not an object of strings", metadata_key, json::kind_name(v.kind()));
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : v.as_object()) {
    if (!value.is(json::Kind::string))
      fail(source, "{} entry '{}' is {}, not a string", metadata_key, key, describe(value));
    metadata.emplace(key, value.as_string());
  }
  return metadata;
}

// A member of a tensor's header entry, which must be there and of this kind.
const json::Value& field(const json::Value& entry, std::string_view key, json::Kind kind,
                         const std::string& name, const std::string& source) {
  const json::Value* v = entry.find(key);
  if (!v) fail(source, "tensor '{}': header entry has no \"{}\"", name, key);
  if (!v->is(kind))
    fail(source, "tensor '{}': \"{}\" is {}, not {}", name, key, describe(*v),
         json::kind_name(kind));
  return *v;
}

const FileDtype& read_dtype(const json::Value& entry, const std::string& name,
                            const std::string& source) {
  const json::Value& dtype = field(entry, "dtype", json::Kind::string, name, source);
  for (const FileDtype* d : {&F32, &F64, &I64})
    if (dtype.as_string() == d->name) return *d;
  fail(source, "tensor '{}': dtype {} is not supported (dagrad reads F32, F64 and I64)", name,
       describe(dtype));
}

Shape read_shape(const json::Value& entry, const std::string& name, const std::string& source) {
  const json::Array& dims = field(entry, "shape", json::Kind::array, name, source).as_array();
  if (dims.size() > static_cast<std::size_t>(Shape::max_dims))
    fail(source, "tensor '{}': shape has {} dimensions; dagrad tensors have at most {}", name,
         dims.size(), Shape::max_dims);
  Shape shape;
  int64_t numel = 1;
  for (const json::Value& d : dims) {
    const std::optional<uint64_t> size = d.as_uint64();
    if (!size || *size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(source, "tensor '{}': shape entry {} is not a non-negative 64-bit integer", name,
           describe(d));
    // Checked as the reference does, even after a zero: Shape::numel must not overflow.
    if (__builtin_mul_overflow(numel, static_cast<int64_t>(*size), &numel))
      fail(source, "tensor '{}': shape has more elements than fit in 64 bits", name);
    shape.push_back(static_cast<int64_t>(*size));
  }
  return shape;
}

// Members other than dtype, shape and data_offsets are ignored, as the reference reader does.
Entry read_entry(const std::string& name, const json::Value& entry, const std::string& source) {
  if (!entry.is(json::Kind::object))
    fail(source, "tensor '{}': header entry is {}, not an object", name, describe(entry));
  const FileDtype& dtype = read_dtype(entry, name, source);
  Shape shape = read_shape(entry, name, source);
  const json::Array& offsets =
      field(entry, "data_offsets", json::Kind::array, name, source).as_array();
  const std::optional<uint64_t> begin = offsets.size() == 2 ? offsets[0].as_uint64() : std::nullopt;
  const std::optional<uint64_t> end = offsets.size() == 2 ? offsets[1].as_uint64() : std::nullopt;
  if (!begin || !end)
    fail(source, "tensor '{}': \"data_offsets\" must be [begin, end], two non-negative integers",
         name);
  if (*begin > *end)
    fail(source, "tensor '{}': data_offsets [{}, {}] end before they begin", name, *begin, *end);
  uint64_t nbytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(shape.numel()), dtype.itemsize, &nbytes))
    fail(source, "tensor '{}': shape {} of {} has more bytes than fit in 64 bits", name,
         to_string(shape), dtype.name);
  if (*end - *begin != nbytes)
    fail(source, "tensor '{}': data_offsets [{}, {}] hold {} bytes but shape {} of {} needs {}",
         name, *begin, *end, *end - *begin, to_string(shape), dtype.name, nbytes);
  return {name, &dtype, shape, *begin, *end};
}

// Sorts `entries` by data offset and checks that they tile the data buffer exactly, as the
// reference reader requires: from 0, contiguous, no overlaps, ending where the file ends.
void check_layout(std::vector<Entry>& entries, uint64_t buffer_size, const std::string& source) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;  // bytes [0, covered) belong to the tensors so far
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered)
      fail(source, "tensor '{}': data_offsets [{}, {}] overlap those of tensor '{}' [{}, {}]",
           e.name, e.begin, e.end, previous->name, previous->begin, previous->end);
    if (e.begin > covered)
      fail(source,
           "tensor '{}': data_offsets [{}, {}] leave a gap: bytes [{}, {}) of the data buffer "
           "belong to no tensor",
           e.name, e.begin, e.end, covered, e.begin);
    if (e.end > buffer_size)
      fail(source,
           "tensor '{}': data_offsets [{}, {}] run past the end of the data buffer ({} bytes): "
           "the file is truncated",
           e.name, e.begin, e.end, buffer_size);
    covered = e.end;
    previous = &e;
  }
  if (covered != buffer_size)
    fail(source, "{} bytes at the end of the data buffer belong to no tensor ({} of {} used)",
         buffer_size - covered, covered, buffer_size);
}

Tensor read_tensor(const Entry& e, std::string_view buffer) {
  const char* src = buffer.data() + e.begin;
  Tensor t = empty(e.shape, e.dtype == &F32 ? float32 : e.dtype == &F64 ? float64 : int64);
  if (e.end > e.begin) std::memcpy(t.raw_data(), src, e.end - e.begin);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Writing

struct Item {
  const std::string* name;
  const Tensor* tensor;
  const FileDtype* dtype;
};

// The tensors in the order the reference writer uses: its Dtype enum order descending (so
// I64, then F64, then F32), then name by bytes; with the checks that make the file readable.
std::vector<Item> writing_order(const NamedTensors& tensors,
                                const std::vector<std::string>& int64_names,
                                const std::string& source) {
  const std::set<std::string_view> as_int64(int64_names.begin(), int64_names.end());
  std::set<std::string_view> seen;
  std::vector<Item> items;
  for (const auto& [name, t] : tensors) {
    if (!seen.insert(name).second) fail(source, "duplicate tensor name '{}'", name);
    if (name == metadata_key) fail(source, "a tensor cannot be named {}", metadata_key);
    if (!json::is_valid_utf8(name)) fail(source, "tensor name '{}' is not valid UTF-8", name);
    if (!t.defined()) fail(source, "tensor '{}' is undefined", name);
    const FileDtype* dtype = as_int64.count(name) || t.dtype() == int64 ? &I64
                             : t.dtype() == float32                     ? &F32
                                                                        : &F64;
    items.push_back({&name, &t, dtype});
  }
  for (const std::string& name : int64_names)
    if (!seen.count(name))
      fail(source, "int64_names lists '{}', which is not among the tensors", name);
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.dtype->order != b.dtype->order) return a.dtype->order > b.dtype->order;
    return *a.name < *b.name;  // std::string compares bytes as unsigned, like Rust's str
  });
  return items;
}

// The reference writer's JSON (serde_json, no spaces): "__metadata__" first when there is
// metadata, then the tensors in writing order, each {"dtype","shape","data_offsets"}; padded
// with spaces to a multiple of 8 bytes so that the data buffer starts aligned. The reference
// keeps metadata in a hash map (any order); std::map gives sorted keys.
std::string header_json(const std::vector<Item>& items,
                        const std::map<std::string, std::string>& metadata,
                        const std::string& source) {
  std::vector<std::string> members;
  if (!metadata.empty()) {
    std::vector<std::string> pairs;
    for (const auto& [key, value] : metadata) {
      if (!json::is_valid_utf8(key) || !json::is_valid_utf8(value))
        fail(source, "metadata entry '{}' is not valid UTF-8", key);
      pairs.push_back(json::quote(key) + ":" + json::quote(value));
    }
    members.push_back(fmt::format("\"{}\":{{{}}}", metadata_key, fmt::join(pairs, ",")));
  }
  uint64_t offset = 0;
  for (const Item& item : items) {
    const uint64_t nbytes = static_cast<uint64_t>(item.tensor->numel()) * item.dtype->itemsize;
    members.push_back(fmt::format(R"({}:{{"dtype":"{}","shape":[{}],"data_offsets":[{},{}]}})",
                                  json::quote(*item.name), item.dtype->name,
                                  fmt::join(item.tensor->shape(), ","), offset, offset + nbytes));
    offset += nbytes;
  }
  std::string header = fmt::format("{{{}}}", fmt::join(members, ","));
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

// A float tensor's values as I64, each checked to be an integer in the int64 range.
void append_int64(std::string& out, const Item& item, const std::string& source) {
  constexpr double two_63 = 9223372036854775808.0;
  const std::vector<double> values = item.tensor->to_vector();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!(std::isfinite(v) && std::trunc(v) == v && v >= -two_63 && v < two_63))
      fail(source,
           "tensor '{}': value {} at index {} cannot be stored as I64 (not an integer in the "
           "int64 range)",
           *item.name, v, i);
    const int64_t k = static_cast<int64_t>(v);
    out.append(reinterpret_cast<const char*>(&k), 8);
  }
}

std::string encode(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
                   const std::vector<std::string>& int64_names, const std::string& source) {
  const std::vector<Item> items = writing_order(tensors, int64_names, source);
  const std::string header = header_json(items, metadata, source);
  std::string out;
  const uint64_t n = header.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += header;
  // dagrad tensors are row-major in their storage (views only add an offset), so a tensor's
  // values are its numel() elements from raw_data().
  for (const Item& item : items) {
    if (item.dtype == &I64 && item.tensor->dtype() != int64)
      append_int64(out, item, source);
    else
      out.append(static_cast<const char*>(item.tensor->raw_data()),
                 item.tensor->numel() * item.dtype->itemsize);
  }
  return out;
}

}  // namespace

SafetensorsContents parse_safetensors(std::string_view bytes, const std::string& source) {
  const std::string_view header = header_text(bytes, source);
  const json::Value root = parse_header(header, source);
  SafetensorsContents contents;
  std::vector<Entry> entries;
  for (const auto& [key, value] : root.as_object()) {
    if (key == metadata_key)
      contents.metadata = read_metadata(value, source);
    else
      entries.push_back(read_entry(key, value, source));
  }
  const std::string_view buffer = bytes.substr(8 + header.size());
  check_layout(entries, buffer.size(), source);
  for (const Entry& e : entries) {
    contents.tensors.emplace_back(e.name, read_tensor(e, buffer));
    if (e.dtype == &I64) contents.int64_names.push_back(e.name);
  }
  return contents;
}

SafetensorsContents load_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path, "safetensors " + path), path);
}

std::string safetensors_bytes(const NamedTensors& tensors,
                              const std::map<std::string, std::string>& metadata,
                              const std::vector<std::string>& int64_names) {
  return encode(tensors, metadata, int64_names, "(in memory)");
}

void save_safetensors(const NamedTensors& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata,
                      const std::vector<std::string>& int64_names) {
  write_file_atomically(encode(tensors, metadata, int64_names, path), path, "safetensors " + path);
}

}  // namespace dagrad::io
