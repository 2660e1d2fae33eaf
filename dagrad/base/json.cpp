// The reader is nlohmann/json's parser driven through its SAX interface: nlohmann does the
// lexing, the grammar, the escapes and the UTF-8 checks, and the handler below builds a
// json::Value, rejecting duplicate keys and nesting deeper than max_depth as it goes (nlohmann's
// parser keeps its own stack on the heap, so hostile nesting cannot overflow ours). quote() is
// nlohmann's serializer.
#include "dagrad/base/json.h"

#include <fmt/format.h>

#include <clocale>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

namespace dagrad::base::json {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::null:
      return "null";
    case Kind::boolean:
      return "a boolean";
    case Kind::number:
      return "a number";
    case Kind::string:
      return "a string";
    case Kind::array:
      return "an array";
    case Kind::object:
      return "an object";
  }
  return "?";
}

std::optional<uint64_t> Value::as_uint64() const {
  if (!is(Kind::number)) return std::nullopt;
  uint64_t v = 0;
  for (const char c : number_text()) {
    if (c < '0' || c > '9') return std::nullopt;  // a sign, fraction or exponent
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, unsigned(c - '0'), &v))
      return std::nullopt;
  }
  return v;
}

const Value* Value::find(std::string_view key) const {
  if (!is(Kind::object)) return nullptr;
  for (const auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}

namespace {

using nlohmann_json = nlohmann::json;

// A ParseError together with the byte offset it is at (parse() compares offsets).
struct Failure {
  std::string message;
  std::size_t offset;
};

[[noreturn]] void fail(std::string_view problem, std::size_t offset) {
  throw Failure{std::string(problem), offset};
}

// A forward iterator over the text that publishes how far nlohmann has read, so that the
// handler's own errors (nesting, duplicate keys) can say where they are. nlohmann reads one byte
// at a time through it and never looks back.
class ReadingIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  ReadingIterator() = default;
  ReadingIterator(const char* at, const char** reached) : at_(at), reached_(reached) {}
  reference operator*() const { return *at_; }
  ReadingIterator& operator++() {
    ++at_;
    if (reached_) *reached_ = at_;
    return *this;
  }
  ReadingIterator operator++(int) {
    ReadingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const ReadingIterator& other) const { return at_ == other.at_; }

 private:
  const char* at_ = nullptr;
  const char** reached_ = nullptr;  // where the adapter's copy has got to
};

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1,
// column 5: " prefix (or "[json.exception.out_of_range.406] ") (dagrad gives a byte offset instead)
// and without the "; last read: '...'" it quotes the bad token with, which may be long and is not
// always printable.
std::string problem_of(const nlohmann_json::exception& e, const std::string& last_token) {
  std::string what = e.what();
  if (what.starts_with("[json.exception."))
    if (const std::size_t bracket = what.find("] "); bracket != std::string::npos)
      what.erase(0, bracket + 2);
  if (const std::size_t column = what.find(", column "); column != std::string::npos)
    if (const std::size_t colon = what.find(": ", column); colon != std::string::npos)
      what.erase(0, colon + 2);
  const std::string last_read = "; last read: '" + last_token + "'";
  if (const std::size_t at = what.find(last_read); at != std::string::npos)
    what.erase(at, last_read.size());
  return what;
}

// Builds the Value from nlohmann's SAX events: a stack of the arrays and objects still open.
class Builder final : public nlohmann::json_sax<nlohmann_json> {
 public:
  // `begin` is the text's first byte and `*reached` how far nlohmann has read.
  Builder(const char* begin, const char* const* reached) : begin_(begin), reached_(reached) {}

  Value take_result() { return std::move(*result_); }

  bool null() override { return add(Value()); }
  bool boolean(bool b) override { return add(Value(b)); }
  // Integers come as values, not text. nlohmann calls number_integer only for a minus sign
  // (plain digits are unsigned), and -0 is the only such text whose value is 0.
  bool number_integer(number_integer_t v) override {
    return add(Value(Value::Number{v == 0 ? "-0" : std::to_string(v)}));
  }
  bool number_unsigned(number_unsigned_t v) override {
    return add(Value(Value::Number{std::to_string(v)}));
  }
  // `text` is the number as written, except that nlohmann puts the C locale's decimal point in
  // place of '.' (to hand it to strtod): put the '.' back.
  bool number_float(number_float_t, const string_t& text) override {
    std::string s = text;
    const char point = *std::localeconv()->decimal_point;
    if (point != '.')
      for (char& c : s)
        if (c == point) c = '.';
    return add(Value(Value::Number{std::move(s)}));
  }
  bool string(string_t& s) override { return add(Value(std::move(s))); }
  bool binary(binary_t&) override { return false; }  // not produced by the JSON parser

  bool start_object(std::size_t) override {
    open(/*object=*/true);
    return true;
  }
  // Keys are compared decoded, so "a" and "\u0061" collide.
  bool key(string_t& k) override {
    Open& top = open_.back();
    if (!top.keys.insert(k).second) fail(fmt::format("duplicate key {}", quote(k)), key_offset());
    top.key = std::move(k);
    return true;
  }
  bool end_object() override {
    Value v(std::move(open_.back().members));
    open_.pop_back();
    return add(std::move(v));
  }
  bool start_array(std::size_t) override {
    open(/*object=*/false);
    return true;
  }
  bool end_array() override {
    Value v(std::move(open_.back().items));
    open_.pop_back();
    return add(std::move(v));
  }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& e) override {
    // `position` counts the bytes read, the offending one (or the end of the text) included.
    fail(problem_of(e, last_token), position > 0 ? position - 1 : 0);
  }

 private:
  struct Open {
    bool object;
    Array items;
    Object members;
    std::set<std::string> keys;
    std::string key;  // the member whose value comes next
  };

  // The offset of the last byte nlohmann has read.
  std::size_t offset() const { return static_cast<std::size_t>(*reached_ - begin_) - 1; }

  // Where the key just read starts: its closing quote is the last byte read, and the opening
  // one is the first quote before it that a backslash does not escape (an even run of them).
  std::size_t key_offset() const {
    std::size_t at = offset();
    while (at-- > 0) {
      if (begin_[at] != '"') continue;
      std::size_t backslashes = 0;
      while (backslashes < at && begin_[at - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) return at;
    }
    return offset();
  }

  void open(bool object) {
    // The '[' or '{' is the last byte read.
    if (open_.size() >= static_cast<std::size_t>(max_depth))
      fail(fmt::format("arrays and objects nested more than {} deep", max_depth), offset());
    open_.push_back(Open{object, {}, {}, {}, {}});
  }

  bool add(Value v) {
    if (open_.empty()) {
      result_ = std::move(v);
    } else if (Open& top = open_.back(); top.object) {
      top.members.emplace_back(std::move(top.key), std::move(v));
    } else {
      top.items.push_back(std::move(v));
    }
    return true;
  }

  const char* begin_;
  const char* const* reached_;
  std::vector<Open> open_;
  std::optional<Value> result_;
};

// Parses `text`, which holds no NUL byte (nlohmann would take one for the end of the text).
Value parse_without_nul(std::string_view text) {
  // nlohmann skips a UTF-8 byte order mark; JSON texts exchanged between systems have none
  // (RFC 8259, section 8.1), and dagrad's reader never accepted one.
  if (text.starts_with("\xEF\xBB\xBF")) fail("unexpected byte 0xef (a byte order mark)", 0);
  const char* reached = text.data();
  Builder builder(text.data(), &reached);
  const ReadingIterator first(text.data(), &reached), last(text.data() + text.size(), nullptr);
  nlohmann_json::sax_parse(first, last, &builder, nlohmann_json::input_format_t::json,
                           /*strict=*/true, /*ignore_comments=*/false);
  return builder.take_result();
}

}  // namespace

Value parse(std::string_view text) {
  try {
    // A NUL byte is never valid JSON (raw in a string or outside one), but nlohmann stops at
    // it as at the end of the text. Parse what comes before it: an earlier error wins.
    const std::size_t nul = text.find('\0');
    if (nul == std::string_view::npos) return parse_without_nul(text);
    std::string_view problem = "unexpected byte 0x00";
    try {
      parse_without_nul(text.substr(0, nul));
      problem = "unexpected byte 0x00 after the JSON value";
    } catch (const Failure& f) {
      if (f.offset < nul) throw;
    }
    fail(problem, nul);
  } catch (const Failure& f) {
    throw ParseError(fmt::format("{} at byte {}", f.message, f.offset));
  }
}

namespace {

// The length of the well-formed UTF-8 sequence starting at s[i] (s[i] >= 0x80), or 0 if there
// is none. The ranges are those of the Unicode standard's table of well-formed byte sequences:
// they exclude overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code
// points above U+10FFFF (F4 90.., F5..FF).
std::size_t utf8_length_at(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() - i < n || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  return n;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_length_at(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// nlohmann's serializer escapes exactly as serde_json does (lowercase \u00XX for the other
// control characters, UTF-8 and DEL as is).
std::string quote(std::string_view s) {
  try {
    return nlohmann_json(std::string(s))
        .dump(-1, ' ', /*ensure_ascii=*/false, nlohmann_json::error_handler_t::strict);
  } catch (const nlohmann_json::type_error&) {
    throw std::invalid_argument("json::quote: the string is not valid UTF-8");
  }
}

}  // namespace dagrad::base::json
