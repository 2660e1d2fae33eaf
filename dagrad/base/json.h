// A strict JSON reader and string writer for the file formats' headers (safetensors), on top of
// nlohmann/json's parser and serializer (which stay out of this header). Private to dagrad (not
// installed). Strict on purpose, since headers come from untrusted files: one value per text with
// nothing but whitespace after it (no byte order mark, no NUL), no duplicate object keys, strings
// valid UTF-8 without raw control characters, numbers finite as doubles, nesting at most
// max_depth deep. Numbers keep their text so that integer fields are checked exactly (as_uint64)
// instead of via a double.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace dagrad::base::json {

// Why a text is not valid JSON (nlohmann's description of the problem, or dagrad's for the
// limits above), with the byte offset where the problem is.
struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;  // members in document order

enum class Kind { null, boolean, number, string, array, object };

// "null", "a boolean", "a number", "a string", "an array", "an object": for error messages.
const char* kind_name(Kind kind);

class Value {
 public:
  // The raw text of a number, e.g. "-1.5e3": numbers are never converted on parsing.
  struct Number {
    std::string text;
  };

  Value() = default;  // null
  explicit Value(bool b) : v_(b) {}
  explicit Value(Number n) : v_(std::move(n)) {}
  explicit Value(std::string s) : v_(std::move(s)) {}
  explicit Value(Array a) : v_(std::move(a)) {}
  explicit Value(Object o) : v_(std::move(o)) {}

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is(Kind k) const { return kind() == k; }

  // The accessors below throw std::logic_error when the kind is another: check kind() first.
  bool as_bool() const { return get<bool>(); }
  const std::string& number_text() const { return get<Number>().text; }
  const std::string& as_string() const { return get<std::string>(); }
  const Array& as_array() const { return get<Array>(); }
  const Object& as_object() const { return get<Object>(); }

  // The value as an unsigned integer when it is a number written as plain digits that fit in
  // 64 bits; nullopt for anything else (other kinds, a sign, a fraction or exponent, overflow).
  std::optional<uint64_t> as_uint64() const;

  // The member named `key` of an object, or nullptr (also when this is not an object).
  const Value* find(std::string_view key) const;

 private:
  template <typename T>
  const T& get() const {
    if (const T* p = std::get_if<T>(&v_)) return *p;
    throw std::logic_error(std::string("json::Value: not ") + kind_name(kind()));
  }
  // The order matches Kind.
  std::variant<std::monostate, bool, Number, std::string, Array, Object> v_;
};

inline constexpr int max_depth = 64;

// Parses exactly one JSON value from `text`; throws ParseError.
Value parse(std::string_view text);

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view s);

// `s` as a JSON string literal with its quotes, escaped the way serde_json does: \" \\ \b \f \n
// \r \t, other control characters as \u00XX, everything else as is. Throws
// std::invalid_argument when `s` is not valid UTF-8 (check with is_valid_utf8 first).
std::string quote(std::string_view s);

}  // namespace dagrad::base::json
