#include <doctest/doctest.h>

#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "dagrad/base/json.h"
#include "tests/data/data_test_util.h"

using namespace dagrad::base;
using namespace dagrad::test_util;

namespace {

// The ParseError message for `text`, or "(no error)".
std::string json_error(std::string_view text) {
  return error_of<json::ParseError>([&] { json::parse(text); });
}

}  // namespace

TEST_CASE("json: values of every kind, in document order, with numbers kept as text") {
  const json::Value v =
      json::parse(" {\"b\": [1, -2.5e+3, 0, true, false, null, {}, []],\n\t\"a\" :\r\"x\"} ");
  REQUIRE(v.is(json::Kind::object));
  const json::Object& members = v.as_object();
  REQUIRE(members.size() == 2);
  CHECK(members[0].first == "b");  // document order, not sorted
  CHECK(members[1].first == "a");
  CHECK(v.find("a")->as_string() == "x");
  CHECK(v.find("c") == nullptr);
  const json::Array& items = v.find("b")->as_array();
  REQUIRE(items.size() == 8);
  CHECK(items[0].number_text() == "1");
  CHECK(items[1].number_text() == "-2.5e+3");
  CHECK(items[3].as_bool());
  CHECK_FALSE(items[4].as_bool());
  CHECK(items[5].is(json::Kind::null));
  CHECK(items[6].as_object().empty());
  CHECK(items[7].as_array().empty());
  CHECK_THROWS_AS(items[0].as_string(), std::logic_error);
  CHECK(json::parse("7").number_text() == "7");  // any value at the top level
}

TEST_CASE("json: as_uint64 accepts plain digits that fit in 64 bits only") {
  const auto u = [](std::string_view text) { return json::parse(text).as_uint64(); };
  CHECK(u("0") == 0u);
  CHECK(u("18446744073709551615") == UINT64_MAX);
  CHECK(u("18446744073709551616") == std::nullopt);  // overflow
  CHECK(u("-1") == std::nullopt);
  CHECK(u("-0") == std::nullopt);
  CHECK(u("1.0") == std::nullopt);
  CHECK(u("1e2") == std::nullopt);
  CHECK(u("\"1\"") == std::nullopt);
  CHECK(u("true") == std::nullopt);
}

TEST_CASE("json: string escapes, \\u escapes and surrogate pairs decode to UTF-8") {
  CHECK(json::parse(R"("a\"\\\/\b\f\n\r\t")").as_string() == "a\"\\/\b\f\n\r\t");
  CHECK(json::parse(R"("\u00e9\u20AC\u0000")").as_string() ==
        std::string("\xC3\xA9\xE2\x82\xAC\0", 6));
  CHECK(json::parse(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");  // U+1F600
  CHECK(json::parse("\"\xF0\x9F\x98\x80 \xC3\xA9\"").as_string() == "\xF0\x9F\x98\x80 \xC3\xA9");
}

TEST_CASE("json: malformed texts are rejected with the problem and its byte offset") {
  // nlohmann's descriptions, with dagrad's byte offsets (0-based) of where the problem is.
  const auto value_error = [](std::string_view problem, int at) {
    return fmt::format("syntax error while parsing value - {} at byte {}", problem, at);
  };
  const std::string expected_value = "expected '[', '{', or a literal";
  CHECK(json_error("") == value_error("unexpected end of input; " + expected_value, 0));
  CHECK(json_error("{} x") == value_error("invalid literal; expected end of input", 3));
  CHECK(json_error("{}\0") == "(no error)");  // the literal stops at the NUL
  CHECK(json_error(std::string_view("{}\0", 3)) ==
        "unexpected byte 0x00 after the JSON value at byte 2");
  CHECK(json_error(std::string_view("{}\0garbage", 10)) ==
        "unexpected byte 0x00 after the JSON value at byte 2");
  CHECK(json_error(std::string_view("[1,\0]", 5)) == "unexpected byte 0x00 at byte 3");
  CHECK(json_error(std::string_view("[\"a\0\"]", 6)) == "unexpected byte 0x00 at byte 3");
  CHECK(json_error(std::string_view("[x\0]", 4)) == value_error("invalid literal", 1));
  CHECK(json_error("\xEF\xBB\xBF{}") == "unexpected byte 0xef (a byte order mark) at byte 0");
  CHECK(json_error(R"({"a":1,"a":2})") == "duplicate key \"a\" at byte 7");
  CHECK(json_error(R"({"a":1,"\u0061":2})") == "duplicate key \"a\" at byte 7");
  CHECK(json_error(R"({"a\"":1,"a\"":2})") == "duplicate key \"a\\\"\" at byte 9");
  CHECK(json_error(R"({"a\\":1,"a\\":2})") == "duplicate key \"a\\\\\" at byte 9");
  CHECK(json_error(R"({"b":{"a":1},"a":{"a":2}})") == "(no error)");  // per object
  CHECK(json_error(R"({"a":1,})") ==
        "syntax error while parsing object key - unexpected '}'; expected string literal at byte "
        "7");
  CHECK(json_error("[1,]") == value_error("unexpected ']'; " + expected_value, 3));
  CHECK(json_error("[1 2]") ==
        "syntax error while parsing array - unexpected number literal; expected ']' at byte 3");
  CHECK(json_error(R"({"a" 1})") ==
        "syntax error while parsing object separator - unexpected number literal; expected ':' "
        "at byte 5");
  CHECK(json_error("{'a':1}") ==
        "syntax error while parsing object key - invalid literal; expected string literal at "
        "byte 1");
  CHECK(json_error("01") == value_error("unexpected number literal; expected end of input", 1));
  CHECK(json_error("1.") == value_error("invalid number; expected digit after '.'", 2));
  CHECK(json_error(".5") == value_error("invalid literal", 0));
  CHECK(json_error("-") == value_error("invalid number; expected digit after '-'", 1));
  CHECK(json_error("1e") ==
        value_error("invalid number; expected '+', '-', or digit after exponent", 2));
  CHECK(json_error("NaN") == value_error("invalid literal", 0));
  CHECK(json_error("tru") == value_error("invalid literal", 3));
  CHECK(json_error("[1e999]") == "number overflow parsing '1e999' at byte 5");
  CHECK(json_error("\"abc") == value_error("invalid string: missing closing quote", 4));
  CHECK(json_error("\"a\tb\"") ==
        value_error("invalid string: control character U+0009 (HT) must be escaped to \\u0009 "
                    "or \\t",
                    2));
  CHECK(json_error(R"("\x")") ==
        value_error("invalid string: forbidden character after backslash", 2));
  CHECK(json_error(R"("\u12G4")") ==
        value_error("invalid string: '\\u' must be followed by 4 hex digits", 5));
  const std::string high =
      "invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF";
  CHECK(json_error(R"("\ud83d")") == value_error(high, 7));
  CHECK(json_error(R"("\ud83d\u0041")") == value_error(high, 12));
  CHECK(json_error(R"("\ude00")") ==
        value_error("invalid string: surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF", 6));
  // The message does not quote the bad token (it may be long or unprintable).
  const std::string long_bad = "\"" + std::string(100000, 'a') + "\x01\"";
  CHECK(json_error(long_bad) ==
        value_error("invalid string: control character U+0001 (SOH) must be escaped to "
                    "\\u0001",
                    100001));
  // Invalid UTF-8: a stray continuation byte, overlong forms, an encoded surrogate, a code
  // point above U+10FFFF, a sequence cut short; the offset is of the byte that shows it.
  for (const auto& [bad, at] :
       std::initializer_list<std::pair<const char*, int>>{{"\"\x80\"", 1},
                                                          {"\"\xC0\x80\"", 1},
                                                          {"\"\xE0\x80\xAF\"", 2},
                                                          {"\"\xED\xA0\x80\"", 2},
                                                          {"\"\xF4\x90\x80\x80\"", 2},
                                                          {"\"\xF5\x80\x80\x80\"", 1},
                                                          {"\"\xE2\x82\"", 3},
                                                          {"\"\xC3", 2}}) {
    CAPTURE(bad);
    CHECK(json_error(bad) == value_error("invalid string: ill-formed UTF-8 byte", at));
  }
}

TEST_CASE("json: nesting deeper than max_depth is rejected, not recursed into") {
  const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  CHECK(json_error(nested(json::max_depth)) == "(no error)");
  CHECK(json_error(nested(json::max_depth + 1)) ==
        "arrays and objects nested more than 64 deep at byte 64");
  CHECK(json_error(std::string(1000000, '[')) ==
        "arrays and objects nested more than 64 deep at byte 64");
  CHECK(json_error(std::string(100, '{')) ==
        "syntax error while parsing object key - unexpected '{'; expected string literal at byte "
        "1");
  std::string objects;
  for (int i = 0; i < json::max_depth + 1; ++i) objects += "{\"a\": ";
  CHECK(json_error(objects + "1" + std::string(json::max_depth + 1, '}')) ==
        fmt::format("arrays and objects nested more than 64 deep at byte {}", 6 * json::max_depth));
  // Depth counts both kinds; values next to a deep branch do not add to it.
  std::string mixed;
  for (int i = 0; i < json::max_depth / 2; ++i) mixed += "[{\"k\":";
  mixed += "0";
  for (int i = 0; i < json::max_depth / 2; ++i) mixed += "}]";
  const json::Value v = json::parse("[" + std::string(json::max_depth - 1, '[') +
                                    std::string(json::max_depth - 1, ']') + ", 1]");
  CHECK(v.as_array().size() == 2);
  CHECK(json_error(mixed) == "(no error)");
  CHECK(json_error("[" + mixed + "]").find("nested more than 64 deep") != std::string::npos);
}

TEST_CASE("json: quote escapes like serde_json and parses back to the same string") {
  CHECK(json::quote("a\"b\\c/") == R"("a\"b\\c/")");
  CHECK(json::quote("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  CHECK(json::quote(std::string("\0\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\x7f\"");
  CHECK(json::quote("\xC3\xA9") == "\"\xC3\xA9\"");  // UTF-8 as is
  std::string all;
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  all += "\xF0\x9F\x98\x80";
  CHECK(json::parse(json::quote(all)).as_string() == all);
  CHECK(json::is_valid_utf8(all));
  CHECK_FALSE(json::is_valid_utf8("\xFF"));
  CHECK_FALSE(json::is_valid_utf8("ok\xE2\x82"));
  CHECK_THROWS_AS(json::quote("\xFF"), std::invalid_argument);
}
