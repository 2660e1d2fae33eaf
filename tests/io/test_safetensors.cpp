#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dagrad/autograd/autograd.h"
#include "dagrad/base/file.h"
#include "dagrad/io/safetensors.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::io;
using dagrad::base::read_file;
using dagrad::base::write_file_atomically;
using namespace dagrad::test_util;

namespace {

// Little-endian bytes of a value, as the format stores lengths and tensor data.
template <typename T>
std::string le(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(T));
}

// A file from its JSON header (used as is, no padding) and data buffer.
std::string file_of(std::string_view header, std::string_view data = "") {
  return le<uint64_t>(header.size()) + std::string(header) + std::string(data);
}

// The error parsing `bytes` as "m.safetensors" gives, or "(no error)".
std::string parse_error(std::string_view bytes) {
  return error_of<std::runtime_error>([&] { parse_safetensors(bytes, "m.safetensors"); });
}

// The error for a file with this header and data, which must start with the file's name.
std::string header_error(std::string_view header, std::string_view data = "") {
  const std::string m = parse_error(file_of(header, data));
  CHECK_MESSAGE(m.starts_with("safetensors m.safetensors: "), "message: " << m);
  return m;
}

std::string save_error(const NamedTensors& tensors,
                       const std::vector<std::string>& int64_names = {},
                       const std::map<std::string, std::string>& metadata = {}) {
  return error_of<std::runtime_error>([&] { safetensors_bytes(tensors, metadata, int64_names); });
}

// A header entry, spelled as the reference writes it.
std::string entry(std::string_view name, std::string_view dtype, std::string_view shape,
                  uint64_t begin, uint64_t end) {
  return fmt::format(R"("{}":{{"dtype":"{}","shape":[{}],"data_offsets":[{},{}]}})", name, dtype,
                     shape, begin, end);
}

// A header of these entries.
std::string header_of(const std::vector<std::string>& entries) {
  return fmt::format("{{{}}}", fmt::join(entries, ","));
}

void check_same(const Tensor& a, const Tensor& b) {
  CHECK(a.shape() == b.shape());
  CHECK(a.dtype() == b.dtype());
  CHECK(a.to_vector() == b.to_vector());
}

}  // namespace

TEST_CASE(
    "safetensors: F32, F64 and I64 tensors of ranks 0 to 4, empty ones and metadata round trip") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const NamedTensors tensors = {
      {"scalar", scalar_tensor(-1.25)},
      {"fc.weight", tensor({1, 2, 3, 4, 5, 6}, {2, 3})},
      {"fc.bias", tensor({0.1, -0.2}, {2}, float64)},
      {"conv", arange(24, float64).reshape({1, 2, 3, 4}).mul_(0.5)},
      {"cube", arange(8).reshape({2, 2, 2})},
      {"empty", zeros({0, 3})},
      {"empty64", zeros({2, 0, 1, 1}, float64)},
      {"ids", tensor({-9007199254740992.0, 0, 7, 9007199254740992.0}, {2, 2}, float64)},
      {"step", scalar_tensor(1000, float32)},
      {"none", zeros({0}, float64)},
      {"caf\xC3\xA9 \"quoted\"\n", ones({1})},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"note", "\"x\"\t\xC3\xA9"}};
  save_safetensors(tensors, path, metadata, {"ids", "step", "none"});
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  const SafetensorsContents loaded = load_safetensors(path);
  CHECK(loaded.metadata == metadata);
  CHECK(loaded.int64_names == std::vector<std::string>{"ids", "none", "step"});  // file order
  REQUIRE(loaded.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    CAPTURE(name);
    const auto it = std::find_if(loaded.tensors.begin(), loaded.tensors.end(),
                                 [&](const auto& p) { return p.first == name; });
    REQUIRE(it != loaded.tensors.end());
    const bool is_int = name == "ids" || name == "step" || name == "none";
    check_same(it->second, is_int ? t.to(int64) : t);
  }
  // Loaded in data-offset order, which for files we write is the writing order: I64 (by
  // name), then F64, then F32.
  std::vector<std::string> order;
  for (const auto& [name, t] : loaded.tensors) order.push_back(name);
  CHECK(order == std::vector<std::string>{"ids", "none", "step", "conv", "empty64", "fc.bias",
                                          "caf\xC3\xA9 \"quoted\"\n", "cube", "empty", "fc.weight",
                                          "scalar"});
  // In memory the same.
  CHECK(safetensors_bytes(tensors, metadata, {"ids", "step", "none"}) == read_file(path, "test"));

  // No tensors at all, no metadata.
  save_safetensors({}, path);
  const SafetensorsContents nothing = load_safetensors(path);
  CHECK(nothing.tensors.empty());
  CHECK(nothing.metadata.empty());
}

TEST_CASE("safetensors: a transposed tensor is written in row-major order of its values") {
  const Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor at = a.t();
  const SafetensorsContents c = parse_safetensors(safetensors_bytes({{"at", at}}), "x");
  check_same(c.tensors.at(0).second, at);
  CHECK(c.tensors.at(0).second.to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});
}

// The reference writer (safetensors' Rust `prepare`, used by its Python save_file) sorts the
// tensors by its Dtype enum in descending order, then by name. The enum lists dtypes "in
// increasing alignment order" (..., F32, C64, F64, I64, U64), so I64 comes before F64 though
// both are 8 bytes, and F32 after both. Data follows in that order without gaps, and the
// compact JSON header (serde_json: "__metadata__" first, then the tensors in that order, each
// {"dtype","shape","data_offsets"}) is padded with spaces to a multiple of 8 bytes.
TEST_CASE("safetensors: bytes are those of the reference writer") {
  SUBCASE("metadata, then F64 before F32") {
    const std::string header = R"({"__metadata__":{"format":"pt"},)"
                               R"("b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
                               R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})"
                               "     ";
    REQUIRE(header.size() == 144);
    const std::string expected =
        std::string("\x90\0\0\0\0\0\0\0", 8) + header + le(3.0) + le(1.0f) + le(2.0f);
    CHECK(safetensors_bytes({{"a", tensor({1, 2})}, {"b", tensor({3}, {1}, float64)}},
                            {{"format", "pt"}}) == expected);
  }
  SUBCASE("I64 before F64, names compared by bytes, a scalar and an empty tensor") {
    const std::string header = R"({"z":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                               R"("a":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},)"
                               R"("w10":{"dtype":"F32","shape":[1],"data_offsets":[24,28]},)"
                               R"("w2":{"dtype":"F32","shape":[0,3],"data_offsets":[28,28]}})"
                               "  ";
    REQUIRE(header.size() == 224);
    const std::string expected =
        le<uint64_t>(224) + header + le<int64_t>(-5) + le(0.5) + le(-1.5) + le(7.0f);
    const NamedTensors tensors = {{"w2", zeros({0, 3})},
                                  {"w10", tensor({7})},
                                  {"a", tensor({0.5, -1.5}, {2}, float64)},
                                  {"z", scalar_tensor(-5)}};
    CHECK(safetensors_bytes(tensors, {}, {"z"}) == expected);
  }
  SUBCASE("the reference library's own test vectors") {
    // test_serialization: a 64-byte header needs no padding.
    CHECK(safetensors_bytes({{"attn.0", arange(6).reshape({1, 2, 3})}}) ==
          le<uint64_t>(64) + R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})" +
              le(0.0f) + le(1.0f) + le(2.0f) + le(3.0f) + le(4.0f) + le(5.0f));
    // test_serialization_forced_alignement: 65 bytes padded to 72.
    CHECK(safetensors_bytes({{"attn0", arange(6).reshape({1, 1, 2, 3})}}).substr(0, 80) ==
          le<uint64_t>(72) +
              R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       )");
    // test_empty, without and with metadata.
    CHECK(safetensors_bytes({}) == le<uint64_t>(8) + "{}      ");
    CHECK(safetensors_bytes({}, {{"framework", "pt"}}) ==
          le<uint64_t>(40) + R"({"__metadata__":{"framework":"pt"}}     )");
  }
}

TEST_CASE("safetensors: headers with whitespace, keys in any order and escapes are read") {
  // Tensors listed against their data order, fields in another order, an unknown field (the
  // reference ignores those), an escaped name, no padding, metadata last.
  const std::string header =
      "{\n  \"second\" : {\"data_offsets\": [8, 16], \"shape\": [ 2 ],\n"
      "    \"extra\": {\"x\": [null]}, \"dtype\": \"F32\"},\n"
      "  \"first\\u00e9\": { \"shape\": [], \"dtype\": \"F64\", "
      "\"data_offsets\": [0, 8] },\n"
      "  \"__metadata__\": {\"a\\n\": \"\\\"b\\\"\"}\n}";
  const SafetensorsContents c =
      parse_safetensors(file_of(header, le(2.5) + le(1.0f) + le(-3.0f)), "m.safetensors");
  REQUIRE(c.tensors.size() == 2);
  CHECK(c.tensors[0].first == "first\xC3\xA9");
  check_same(c.tensors[0].second, scalar_tensor(2.5, float64));
  CHECK(c.tensors[1].first == "second");
  check_same(c.tensors[1].second, tensor({1, -3}));
  CHECK(c.metadata == std::map<std::string, std::string>{{"a\n", "\"b\""}});
  CHECK(c.int64_names.empty());
}

TEST_CASE("safetensors: every truncation of a valid file is a clean error") {
  const std::string bytes = safetensors_bytes(
      {{"w", tensor({1, 2, 3})}, {"n", tensor({4, 5}, {2}, float64)}, {"e", zeros({0})}},
      {{"k", "v"}}, {"n"});
  REQUIRE(parse_safetensors(bytes, "m.safetensors").tensors.size() == 3);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    const std::string m = parse_error(std::string_view(bytes).substr(0, n));
    CHECK_MESSAGE(m.starts_with("safetensors m.safetensors: "), "message: " << m);
  }
  CHECK(parse_error(bytes.substr(0, 5)) ==
        "safetensors m.safetensors: file is 5 bytes, too short for the 8-byte header length");
  CHECK(
      parse_error(bytes.substr(0, bytes.size() - 1))
          .find("tensor 'w': data_offsets [16, 28] run past the end of the data buffer (27 bytes): "
                "the file is truncated") != std::string::npos);
}

TEST_CASE("safetensors: corrupting any byte of a valid file gives a result or a clean error") {
  const std::string bytes = safetensors_bytes(
      {{"w", tensor({1, 2, 3})}, {"n", tensor({4, 5}, {2}, float64)}}, {{"k", "v"}}, {"n"});
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const unsigned char x : {0x01, 0x20, 0x80, 0xFF}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ x);
      try {
        parse_safetensors(bad, "m.safetensors");
      } catch (const std::runtime_error& e) {
        CHECK_MESSAGE(std::string(e.what()).starts_with("safetensors m.safetensors: "),
                      "byte " << i << ": " << e.what());
      }
    }
  }
}

TEST_CASE("safetensors: the header length must fit the limit and the file") {
  const std::string header = "{}      ";
  std::string beyond = le<uint64_t>(9) + header;
  CHECK(parse_error(beyond) ==
        "safetensors m.safetensors: header length 9 runs past the end of the file (8 bytes "
        "after the length)");
  CHECK(parse_error(le<uint64_t>(UINT64_MAX) + header) ==
        "safetensors m.safetensors: header length 18446744073709551615 exceeds the limit of "
        "100000000 bytes");
  CHECK(parse_error(le<uint64_t>(100'000'001) + header) ==
        "safetensors m.safetensors: header length 100000001 exceeds the limit of 100000000 bytes");
  CHECK(parse_error(le<uint64_t>(0)) ==
        "safetensors m.safetensors: header is not a JSON object (it must start with '{')");
  CHECK(parse_error(file_of("{}")) == "(no error)");  // no padding is fine
}

TEST_CASE("safetensors: a header that is not a JSON object") {
  CHECK(header_error("[1, 2]").ends_with(": header is not a JSON object (it must start with '{')"));
  CHECK(header_error(" {}").ends_with("(it must start with '{')"));
  CHECK(header_error("{\"a\": nonsense}")
            .ends_with(": header is not valid JSON: syntax error while parsing value - invalid "
                       "literal at byte 7"));
  CHECK(header_error("{} {}").ends_with(
      ": header is not valid JSON: syntax error while parsing value - unexpected '{'; expected "
      "end of input at byte 3"));
  CHECK(header_error(std::string("{}\0\0\0\0\0\0", 8))
            .ends_with(
                ": header is not valid JSON: unexpected byte 0x00 after the JSON value at byte 2"));
  CHECK(header_error("{\"\xFF\": 1}")
            .ends_with(": header is not valid JSON: syntax error while parsing object key - "
                       "invalid string: ill-formed UTF-8 byte; expected string literal at byte 2"));
  CHECK(header_error("{\"a\": 1,").find("header is not valid JSON") != std::string::npos);
}

TEST_CASE("safetensors: tensor entries with missing or malformed fields") {
  const std::string d4 = le(1.0f);
  const auto error = [&](std::string_view tensor_json) {
    return header_error(fmt::format(R"({{"t":{}}})", tensor_json), d4);
  };
  CHECK(error(R"({"shape":[1],"data_offsets":[0,4]})")
            .ends_with(": tensor 't': header entry has no \"dtype\""));
  CHECK(error(R"({"dtype":"F32","data_offsets":[0,4]})")
            .ends_with(": tensor 't': header entry has no \"shape\""));
  CHECK(error(R"({"dtype":"F32","shape":[1]})")
            .ends_with(": tensor 't': header entry has no \"data_offsets\""));
  CHECK(error("[1]").ends_with(": tensor 't': header entry is an array, not an object"));
  CHECK(error(R"("F32")").ends_with(": tensor 't': header entry is \"F32\", not an object"));
  CHECK(error(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})")
            .ends_with(": tensor 't': \"dtype\" is 32, not a string"));
  CHECK(error(R"({"dtype":"F32","shape":1,"data_offsets":[0,4]})")
            .ends_with(": tensor 't': \"shape\" is 1, not an array"));
  // Unsupported dtypes, named with the tensor.
  for (const char* dtype : {"F16", "BF16", "I32", "U8", "BOOL", "U64", "f32", ""}) {
    CAPTURE(dtype);
    CHECK(error(fmt::format(R"({{"dtype":"{}","shape":[1],"data_offsets":[0,4]}})", dtype))
              .ends_with(fmt::format(": tensor 't': dtype \"{}\" is not supported (dagrad reads "
                                     "F32, F64 and I64)",
                                     dtype)));
  }
  // Shape entries must be non-negative integers without fraction or exponent.
  for (const char* dim : {"-1", "1.0", "1e0", "\"1\"", "null", "9223372036854775808"}) {
    CAPTURE(dim);
    CHECK(error(fmt::format(R"({{"dtype":"F32","shape":[{}],"data_offsets":[0,4]}})", dim))
              .find(fmt::format("tensor 't': shape entry {} is not a non-negative 64-bit integer",
                                dim[0] == 'n' ? "null" : dim)) != std::string::npos);
  }
  CHECK(error(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})")
            .ends_with(": tensor 't': shape has more elements than fit in 64 bits"));
  CHECK(error(R"({"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,4]})")
            .ends_with(": tensor 't': shape has more elements than fit in 64 bits"));
  CHECK(error(R"({"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]})")
            .ends_with(": tensor 't': shape (4611686018427387904,) of F64 has more bytes than "
                       "fit in 64 bits"));
  CHECK(error(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]})")
            .ends_with(": tensor 't': shape has 9 dimensions; dagrad tensors have at most 8"));
  for (const char* offsets : {"[0]", "[0,4,4]", "[-1,4]", "[0,4.0]", "[0,\"4\"]", "{}"}) {
    CAPTURE(offsets);
    CHECK(error(fmt::format(R"({{"dtype":"F32","shape":[1],"data_offsets":{}}})", offsets))
              .ends_with(": tensor 't': \"data_offsets\" must be [begin, end], two non-negative "
                         "integers") == (offsets[0] == '['));
  }
}

TEST_CASE("safetensors: data_offsets must match the shape and tile the data buffer exactly") {
  // Size mismatch.
  CHECK(header_error(R"({"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}})",
                     std::string(12, '\0')) ==
        "safetensors m.safetensors: tensor 'fc.weight': data_offsets [0, 12] hold 12 bytes but "
        "shape (2, 3) of F32 needs 24");
  // Begin after end.
  CHECK(header_error(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})",
                     std::string(8, '\0'))
            .ends_with(": tensor 't': data_offsets [8, 4] end before they begin"));
  // Overlap.
  CHECK(header_error(header_of({entry("a", "F32", "2", 0, 8), entry("b", "F32", "2", 4, 12)}),
                     std::string(12, '\0'))
            .ends_with(": tensor 'b': data_offsets [4, 12] overlap those of tensor 'a' [0, 8]"));
  // The same range twice.
  CHECK(header_error(header_of({entry("a", "F32", "2", 0, 8), entry("b", "F32", "2", 0, 8)}),
                     std::string(8, '\0'))
            .ends_with(": tensor 'b': data_offsets [0, 8] overlap those of tensor 'a' [0, 8]"));
  // A gap between tensors, and one before the first.
  CHECK(header_error(header_of({entry("a", "F32", "1", 0, 4), entry("b", "F32", "1", 8, 12)}),
                     std::string(12, '\0'))
            .ends_with(": tensor 'b': data_offsets [8, 12] leave a gap: bytes [4, 8) of the "
                       "data buffer belong to no tensor"));
  CHECK(header_error(header_of({entry("a", "F32", "1", 4, 8)}), std::string(8, '\0'))
            .ends_with(": tensor 'a': data_offsets [4, 8] leave a gap: bytes [0, 4) of the "
                       "data buffer belong to no tensor"));
  // Bytes after the last tensor, and data where there are no tensors.
  CHECK(
      header_error(header_of({entry("a", "F32", "1", 0, 4)}), std::string(6, '\0'))
          .ends_with(": 2 bytes at the end of the data buffer belong to no tensor (4 of 6 used)"));
  CHECK(header_error("{}", "x").ends_with(
      ": 1 bytes at the end of the data buffer belong to no tensor (0 of 1 used)"));
  // Past the end: offsets near 2^64 cannot wrap around.
  CHECK(header_error(header_of({entry("a", "F32", "1", 0, 4)}), "abc")
            .ends_with(": tensor 'a': data_offsets [0, 4] run past the end of the data buffer (3 "
                       "bytes): the file is truncated"));
  CHECK(header_error(R"({"a":{"dtype":"F32","shape":[1],)"
                     R"("data_offsets":[18446744073709551612,18446744073709551615]}})")
            .find("hold 3 bytes but shape (1,) of F32 needs 4") != std::string::npos);
  CHECK(header_error(R"({"a":{"dtype":"F32","shape":[0],)"
                     R"("data_offsets":[18446744073709551615,18446744073709551615]}})")
            .ends_with("leave a gap: bytes [0, 18446744073709551615) of the data buffer belong "
                       "to no tensor"));
  // Zero-size tensors may sit anywhere in the sequence, even at the end.
  const SafetensorsContents c = parse_safetensors(
      file_of(header_of({entry("z2", "F32", "0", 4, 4), entry("a", "F32", "1", 0, 4),
                         entry("z1", "F64", "0,5", 0, 0)}),
              le(1.0f)),
      "m");
  REQUIRE(c.tensors.size() == 3);
  CHECK(c.tensors[0].first == "z1");
  CHECK(c.tensors[1].first == "a");
  CHECK(c.tensors[2].first == "z2");
  CHECK(c.tensors[0].second.shape() == Shape{0, 5});
}

TEST_CASE("safetensors: duplicate tensor names") {
  CHECK(header_error(header_of({entry("a", "F32", "1", 0, 4), entry("a", "F32", "1", 4, 8)}),
                     std::string(8, '\0'))
            .ends_with(": header is not valid JSON: duplicate key \"a\" at byte 54"));
  CHECK(save_error({{"w", ones({1})}, {"b", ones({1})}, {"w", ones({2})}}) ==
        "safetensors (in memory): duplicate tensor name 'w'");
  TempDir dir;
  const std::string path = dir.file("dup.safetensors");
  CHECK(error_of<std::runtime_error>([&] {
          save_safetensors({{"w", ones({1})}, {"w", ones({1})}}, path);
        }) == "safetensors " + path + ": duplicate tensor name 'w'");
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("safetensors: __metadata__ must be an object of strings") {
  CHECK(header_error(R"({"__metadata__":["a"]})")
            .ends_with(": __metadata__ is an array, not an object of strings"));
  CHECK(header_error(R"({"__metadata__":null})")
            .ends_with(": __metadata__ is null, not an object of strings"));
  CHECK(header_error(R"({"__metadata__":{"epoch":3}})")
            .ends_with(": __metadata__ entry 'epoch' is 3, not a string"));
  CHECK(header_error(R"({"__metadata__":{"a":"x","b":{"c":"d"}}})")
            .ends_with(": __metadata__ entry 'b' is an object, not a string"));
  CHECK(header_error(R"({"__metadata__":{},"__metadata__":{}})").find("duplicate key") !=
        std::string::npos);
  CHECK(parse_safetensors(file_of(R"({"__metadata__":{}})"), "m").metadata.empty());
}

TEST_CASE("safetensors: I64 loads as int64, every value exactly, and int64 saves as I64") {
  const std::string header = R"({"ids":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}})";
  const int64_t beyond = (int64_t{1} << 53) + 1;  // where float64 skips integers
  const std::string data = le(beyond) + le(INT64_MIN) + le(INT64_MAX);
  const SafetensorsContents ok = parse_safetensors(file_of(header, data), "m");
  const Tensor ids = ok.tensors.at(0).second;
  REQUIRE(ids.dtype() == int64);
  CHECK(ids.data<int64_t>()[0] == beyond);
  CHECK(ids.data<int64_t>()[1] == INT64_MIN);
  CHECK(ids.data<int64_t>()[2] == INT64_MAX);
  CHECK(ok.int64_names == std::vector<std::string>{"ids"});
  // Written back: the same bytes, with no int64_names needed.
  CHECK(safetensors_bytes({{"ids", ids}}).ends_with(data));
}

TEST_CASE("safetensors: saving checks int64 values, names and metadata") {
  const double nan = std::nan(""), inf = INFINITY;
  CHECK(save_error({{"n", tensor({1, nan})}}, {"n"}) ==
        "safetensors (in memory): tensor 'n': value nan at index 1 cannot be stored as I64 (not "
        "an integer in the int64 range)");
  CHECK(save_error({{"n", tensor({-inf}, {1}, float64)}}, {"n"})
            .ends_with("value -inf at index 0 cannot be stored as I64 (not an integer in the "
                       "int64 range)"));
  CHECK(save_error({{"n", tensor({2.5})}}, {"n"}).find("value 2.5 at index 0") !=
        std::string::npos);
  CHECK(save_error({{"n", tensor({9223372036854775808.0}, {1}, float64)}}, {"n"})
            .find("value 9.223372036854776e+18 at index 0 cannot be stored as I64") !=
        std::string::npos);
  // The most negative int64 is stored as is.
  const std::string bytes =
      safetensors_bytes({{"n", tensor({-9223372036854775808.0}, {1}, float64)}}, {}, {"n"});
  CHECK(bytes.ends_with(le(INT64_MIN)));

  CHECK(save_error({{"a", ones({1})}}, {"a", "b"}) ==
        "safetensors (in memory): int64_names lists 'b', which is not among the tensors");
  CHECK(save_error({{"__metadata__", ones({1})}}) ==
        "safetensors (in memory): a tensor cannot be named __metadata__");
  CHECK(save_error({{"bad\xFF", ones({1})}}) ==
        "safetensors (in memory): tensor name 'bad\xFF' is not valid UTF-8");
  CHECK(save_error({{"u", Tensor()}}) == "safetensors (in memory): tensor 'u' is undefined");
  CHECK(save_error({}, {}, {{"k", "\xC0\x80"}}) ==
        "safetensors (in memory): metadata entry 'k' is not valid UTF-8");
}

TEST_CASE("safetensors: file errors name the file") {
  TempDir dir;
  const std::string missing = dir.file("missing.safetensors");
  CHECK(error_of<std::runtime_error>([&] { load_safetensors(missing); }) ==
        "safetensors " + missing + ": cannot open file");
  const std::string bad = dir.file("bad.safetensors");
  write_file_atomically(
      file_of(header_of({entry("fc.weight", "F32", "2,3", 0, 12)}), std::string(12, '\0')), bad,
      "test");
  CHECK(error_of<std::runtime_error>([&] { load_safetensors(bad); }) ==
        "safetensors " + bad +
            ": tensor 'fc.weight': data_offsets [0, 12] hold 12 bytes but shape (2, 3) of F32 "
            "needs 24");
}
