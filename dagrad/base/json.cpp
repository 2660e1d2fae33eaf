#include "dagrad/base/json.h"

#include <set>

#include <fmt/format.h>

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

void append_utf8(std::string& out, uint32_t cp) {
  const auto put = [&](uint32_t b) { out += static_cast<char>(b); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Recursive descent over the text; `depth` counts the arrays and objects we are inside.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Value parse_document() {
    skip_whitespace();
    Value v = parse_value(0);
    skip_whitespace();
    if (pos_ != text_.size()) fail(fmt::format("unexpected {} after the JSON value", next()));
    return v;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw ParseError(fmt::format("{} at byte {}", what, pos_));
  }
  bool at_end() const { return pos_ == text_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(text_[pos_]); }
  // The next character, described for a message.
  std::string next() const {
    if (at_end()) return "end of text";
    const unsigned char c = peek();
    return c > 0x20 && c < 0x7F ? fmt::format("'{}'", char(c)) : fmt::format("byte 0x{:02x}", c);
  }
  void skip_whitespace() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }
  void expect(char c, std::string_view context) {
    if (at_end() || peek() != static_cast<unsigned char>(c))
      fail(fmt::format("expected '{}' {}, found {}", c, context, next()));
    ++pos_;
  }
  bool consume(std::string_view word) {
    if (!text_.substr(pos_).starts_with(word)) return false;
    pos_ += word.size();
    return true;
  }

  Value parse_value(int depth) {
    if (at_end()) fail("unexpected end of text, expected a value");
    switch (peek()) {
      case '{':
        return parse_object(depth + 1);
      case '[':
        return parse_array(depth + 1);
      case '"':
        return Value(parse_string());
      case 't':
      case 'f':
      case 'n':
        return parse_literal();
      default:
        if (peek() == '-' || is_digit(peek())) return parse_number();
        fail(fmt::format("unexpected {}, expected a value", next()));
    }
  }

  void check_depth(int depth) const {
    if (depth > max_depth)
      fail(fmt::format("arrays and objects nested more than {} deep", max_depth));
  }

  Value parse_object(int depth) {
    check_depth(depth);
    ++pos_;  // '{'
    Object members;
    std::set<std::string> keys;  // decoded, so "a" and "\u0061" collide
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return Value(std::move(members));
    }
    while (true) {
      skip_whitespace();
      if (at_end() || peek() != '"') fail(fmt::format("expected a string key, found {}", next()));
      const std::size_t key_pos = pos_;
      std::string key = parse_string();
      if (!keys.insert(key).second) {
        pos_ = key_pos;
        fail(fmt::format("duplicate key {}", quote(key)));
      }
      skip_whitespace();
      expect(':', "after an object key");
      skip_whitespace();
      Value v = parse_value(depth);
      members.emplace_back(std::move(key), std::move(v));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}', "or ',' after an object member");
      return Value(std::move(members));
    }
  }

  Value parse_array(int depth) {
    check_depth(depth);
    ++pos_;  // '['
    Array items;
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return Value(std::move(items));
    }
    while (true) {
      skip_whitespace();
      items.push_back(parse_value(depth));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']', "or ',' after an array element");
      return Value(std::move(items));
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, kept as text.
  Value parse_number() {
    const std::size_t start = pos_;
    const auto digits = [&](std::string_view where) {
      if (at_end() || !is_digit(peek())) fail(fmt::format("expected a digit {}", where));
      while (!at_end() && is_digit(peek())) ++pos_;
    };
    if (peek() == '-') ++pos_;
    if (!at_end() && peek() == '0') {
      ++pos_;
      if (!at_end() && is_digit(peek())) fail("leading zero in a number");
    } else {
      digits("in a number");
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      digits("after a decimal point");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      digits("in an exponent");
    }
    return Value(Value::Number{std::string(text_.substr(start, pos_ - start))});
  }

  Value parse_literal() {
    if (consume("true")) return Value(true);
    if (consume("false")) return Value(false);
    if (consume("null")) return Value();
    fail(fmt::format("unexpected {}, expected a value", next()));
  }

  uint32_t parse_hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      if (at_end()) fail("unexpected end of text in a \\u escape");
      const char c = static_cast<char>(peek());
      const int d = is_digit(c)              ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
      if (d < 0) fail(fmt::format("expected a hex digit in a \\u escape, found {}", next()));
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }

  // After the backslash: one escape, appended to `out` as UTF-8.
  void parse_escape(std::string& out) {
    if (at_end()) fail("unterminated string");
    const char c = static_cast<char>(peek());
    ++pos_;
    switch (c) {
      case '"':
        out += '"';
        return;
      case '\\':
        out += '\\';
        return;
      case '/':
        out += '/';
        return;
      case 'b':
        out += '\b';
        return;
      case 'f':
        out += '\f';
        return;
      case 'n':
        out += '\n';
        return;
      case 'r':
        out += '\r';
        return;
      case 't':
        out += '\t';
        return;
      case 'u':
        break;
      default:
        --pos_;
        fail(fmt::format("invalid escape character {}", next()));
    }
    uint32_t cp = parse_hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF) fail("unpaired low surrogate in a \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate: the low half must follow
      if (!consume("\\u")) fail("unpaired high surrogate in a \\u escape");
      const uint32_t low = parse_hex4();
      if (low < 0xDC00 || low > 0xDFFF) fail("unpaired high surrogate in a \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, cp);
  }

  std::string parse_string() {
    ++pos_;  // '"'
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      const unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        ++pos_;
        parse_escape(out);
      } else if (c < 0x20) {
        fail(fmt::format("raw control character 0x{:02x} in a string", c));
      } else if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
      } else {
        const std::size_t n = utf8_length_at(text_, pos_);
        if (n == 0) fail("invalid UTF-8 in a string");
        out.append(text_.substr(pos_, n));
        pos_ += n;
      }
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

Value parse(std::string_view text) { return Parser(text).parse_document(); }

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

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace dagrad::base::json
