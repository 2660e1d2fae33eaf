#include <doctest/doctest.h>

#include <string>

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
  CHECK(json_error("") == "unexpected end of text, expected a value at byte 0");
  CHECK(json_error("{} x") == "unexpected 'x' after the JSON value at byte 3");
  CHECK(json_error("{}\0") == "(no error)");  // the literal stops at the NUL
  CHECK(json_error(std::string_view("{}\0", 3)) ==
        "unexpected byte 0x00 after the JSON value at byte 2");
  CHECK(json_error(R"({"a":1,"a":2})") == "duplicate key \"a\" at byte 7");
  CHECK(json_error(R"({"a":1,"\u0061":2})") == "duplicate key \"a\" at byte 7");
  CHECK(json_error(R"({"a":1,})") == "expected a string key, found '}' at byte 7");
  CHECK(json_error("[1,]") == "unexpected ']', expected a value at byte 3");
  CHECK(json_error("[1 2]") == "expected ']' or ',' after an array element, found '2' at byte 3");
  CHECK(json_error(R"({"a" 1})") == "expected ':' after an object key, found '1' at byte 5");
  CHECK(json_error("{'a':1}") == "expected a string key, found ''' at byte 1");
  CHECK(json_error("01") == "leading zero in a number at byte 1");
  CHECK(json_error("1.") == "expected a digit after a decimal point at byte 2");
  CHECK(json_error(".5") == "unexpected '.', expected a value at byte 0");
  CHECK(json_error("-") == "expected a digit in a number at byte 1");
  CHECK(json_error("1e") == "expected a digit in an exponent at byte 2");
  CHECK(json_error("NaN") == "unexpected 'N', expected a value at byte 0");
  CHECK(json_error("tru") == "unexpected 't', expected a value at byte 0");
  CHECK(json_error("\"abc") == "unterminated string at byte 4");
  CHECK(json_error("\"a\tb\"") == "raw control character 0x09 in a string at byte 2");
  CHECK(json_error(R"("\x")") == "invalid escape character 'x' at byte 2");
  CHECK(json_error(R"("\u12G4")") == "expected a hex digit in a \\u escape, found 'G' at byte 5");
  CHECK(json_error(R"("\ud83d")") == "unpaired high surrogate in a \\u escape at byte 7");
  CHECK(json_error(R"("\ud83d\u0041")") == "unpaired high surrogate in a \\u escape at byte 13");
  CHECK(json_error(R"("\ude00")") == "unpaired low surrogate in a \\u escape at byte 7");
  // Invalid UTF-8: a stray continuation byte, overlong forms, an encoded surrogate, a code
  // point above U+10FFFF, a sequence cut short.
  for (const char* bad :
       {"\"\x80\"", "\"\xC0\x80\"", "\"\xE0\x80\xAF\"", "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\"",
        "\"\xF5\x80\x80\x80\"", "\"\xE2\x82\"", "\"\xC3"}) {
    CAPTURE(bad);
    CHECK(json_error(bad) == "invalid UTF-8 in a string at byte 1");
  }
}

TEST_CASE("json: nesting deeper than max_depth is rejected, not recursed into") {
  const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  CHECK(json_error(nested(json::max_depth)) == "(no error)");
  CHECK(json_error(nested(json::max_depth + 1)) ==
        "arrays and objects nested more than 64 deep at byte 64");
  CHECK(json_error(std::string(1000000, '[')).find("nested more than 64 deep") !=
        std::string::npos);
  CHECK(json_error(std::string(100, '{')).find("expected a string key") == 0);
  std::string objects;
  for (int i = 0; i < json::max_depth + 1; ++i) objects += "{\"a\":";
  CHECK(json_error(objects + "1" + std::string(json::max_depth + 1, '}'))
            .find("nested more than 64 deep") != std::string::npos);
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
}
