#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/base/file.h"
#include "dagrad/base/zip.h"
#include "dagrad/io/npy.h"
#include "tests/data/data_test_util.h"
#include "tests/io/zip64_archive.h"

using namespace dagrad;
using namespace dagrad::test_util;
namespace zip = dagrad::base::zip;

namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The message of the std::runtime_error that f throws.
template <typename F>
std::string runtime_error_of(F&& f) {
  return error_of<std::runtime_error>(std::forward<F>(f));
}

// Little-endian field edits, for corrupting archives.
uint64_t get_le(const std::string& b, std::size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  return v;
}
void set_le(std::string& b, std::size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
}

constexpr uint32_t local_sig = 0x04034b50;
constexpr uint32_t central_sig = 0x02014b50;
constexpr uint32_t end_sig = 0x06054b50;

// Offset of the nth (0-based) record with this signature.
std::size_t find_record(const std::string& b, uint32_t signature, int nth = 0) {
  std::string sig;
  set_le(sig.append(4, '\0'), 0, signature, 4);
  std::size_t pos = b.find(sig);
  for (int i = 0; i < nth && pos != std::string::npos; ++i) pos = b.find(sig, pos + 1);
  REQUIRE(pos != std::string::npos);
  return pos;
}

std::string npy_magic_v1(uint16_t header_size) {
  std::string s("\x93NUMPY\x01\x00", 8);
  set_le(s.append(2, '\0'), 8, header_size, 2);
  return s;
}

// np.save(np.arange(6, dtype='<f4').reshape(2, 3)), byte for byte: magic, version 1.0, header
// length 0x76 (118), the dict, spaces up to byte 127, '\n', then the data (0.0f .. 5.0f).
const std::string f4_2x3_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
const std::string f4_2x3_npy = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + f4_2x3_dict +
                               std::string(127 - 10 - f4_2x3_dict.size(), ' ') + "\n" +
                               std::string(
                                   "\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x40"
                                   "\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\xa0\x40",
                                   24);

// A header with the given dict text (padded like numpy's) and data.
std::string npy_with_header(const std::string& dict, const std::string& data = "") {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  return npy_magic_v1(static_cast<uint16_t>(header.size() + 1)) + header + "\n" + data;
}
std::string npy_with_shape(const std::string& shape, const std::string& data = "") {
  return npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }",
                         data);
}

std::string npy_error(const std::string& bytes) {
  return runtime_error_of([&] { io::parse_npy(bytes, "t.npy"); });
}
std::string npz_error(const std::string& bytes) {
  return runtime_error_of([&] { io::parse_npz(bytes, "t.npz"); });
}

void check_same(const Tensor& got, const Tensor& want) {
  CHECK(got.shape() == want.shape());
  CHECK(got.dtype() == want.dtype());
  CHECK(got.to_vector() == want.to_vector());
}

// Python's zipfile writing what np.savez does (zipf.open(name, 'w', force_zip64=True) on a
// seekable file, stored): members "x.npy" = arange(6, '<f4').reshape(2, 3) and "s.npy" = the
// 0-d float64 2.5. Local headers have sizes 0xFFFFFFFF plus a zip64 extra field.
const std::string python_zip64_stored = from_hex(
    "504b03042d0000000000000021004fe9002affffffffffffffff05001400782e6e7079010010009800000000"
    "0000009800000000000000934e554d5059010076007b276465736372273a20273c6634272c2027666f727472"
    "616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d2020202020202020"
    "2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020"
    "2020202020200a000000000000803f0000004000004040000080400000a040504b03042d0000000000000021"
    "0035b43a93ffffffffffffffff05001400732e6e70790100100088000000000000008800000000000000934e"
    "554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a204661"
    "6c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020"
    "202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000"
    "0440504b01022d032d0000000000000021004fe9002a98000000980000000500000000000000000000008001"
    "00000000782e6e7079504b01022d032d00000000000000210035b43a93880000008800000005000000000000"
    "00000000008001cf000000732e6e7079504b05060000000002000200660000008e0100000000");

// The same writing deflated members to an unseekable stream (np.savez_compressed to a pipe):
// local headers with zero sizes and flag bit 3, each member followed by a zip64 data
// descriptor. Members "i.npy" = np.array([1, -2, 3]) ('<i8') and "x.npy" as above.
const std::string python_deflated_descriptors = from_hex(
    "504b03042d00080008000000210000000000ffffffffffffffff05001400692e6e7079010010000000000000"
    "00000000000000000000009bec17ea1b10c9c850c650ad9e925a9c5ca46ea5a06e9369a1aea3a09e965f5452"
    "9498179f5f94920a12774bcc294e058a17672416a402f91ac63a9a3a0ab50a14002e460608f8f71f0298a17c"
    "00504b070874a8f3304e000000000000009800000000000000504b03042d00080008000000210000000000ff"
    "ffffffffffffff05001400782e6e707901001000000000000000000000000000000000009bec17ea1b10c9c8"
    "50c650ad9e925a9c5ca46ea5a06e9366a2aea3a09e965f54529498179f5f94920a12774bcc294e058a176724"
    "16a402f91a463a0ac69a3a0ab50a64032e063068b007120e4004c40d40bcc00100504b07084fe9002a550000"
    "00000000009800000000000000504b01022d032d00080008000000210074a8f3304e00000098000000050000"
    "000000000000000000800100000000692e6e7079504b01022d032d0008000800000021004fe9002a55000000"
    "9800000005000000000000000000000080019d000000782e6e7079504b050600000000020002006600000041"
    "0100000000");

// A small archive of two stored members for corrupting: "a.npy" (float32, (2, 3)) and "b.npy".
std::string two_member_npz(bool compress = false) {
  zip::Writer w("test");
  w.add("a.npy", io::npy_bytes(arange(6).reshape({2, 3})), compress);
  w.add("b.npy", io::npy_bytes(tensor({1, 2, 3}, {-1}, float64)), compress);
  return w.finish();
}

// Sets a field of member `nth`'s local header (at `local_at`) and central directory header (at
// `central_at`) alike: libzip compares the two, so edits of one only are caught as inconsistent.
void set_header_field(std::string& b, int nth, std::size_t local_at, std::size_t central_at,
                      uint64_t v, int n) {
  set_le(b, find_record(b, local_sig, nth) + local_at, v, n);
  set_le(b, find_record(b, central_sig, nth) + central_at, v, n);
}

}  // namespace

// ---------------------------------------------------------------- .npy: exact bytes

TEST_CASE("npy: the writer emits np.save's bytes for arange(6, '<f4').reshape(2, 3)") {
  REQUIRE(f4_2x3_npy.size() == 128 + 24);
  CHECK(io::npy_bytes(arange(6).reshape({2, 3})) == f4_2x3_npy);
  const Tensor t = io::parse_npy(f4_2x3_npy, "x.npy");
  check_same(t, arange(6).reshape({2, 3}));
}

TEST_CASE("npy: exact bytes of a 0-d float64 array and an int64 array") {
  const std::string scalar_dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (), }";
  const std::string scalar = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + scalar_dict +
                             std::string(127 - 10 - scalar_dict.size(), ' ') + "\n" +
                             std::string("\x00\x00\x00\x00\x00\x00\x04\x40", 8);
  CHECK(io::npy_bytes(scalar_tensor(2.5, float64)) == scalar);
  const Tensor s = io::parse_npy(scalar, "s.npy");
  CHECK(s.dim() == 0);
  CHECK(s.dtype() == float64);
  CHECK(s.item() == 2.5);

  // np.array([1, -2, 3]): '<i8', with 20 spaces after the dict for the first dimension to grow.
  const std::string int_dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
  const std::string ints = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + int_dict +
                           std::string(127 - 10 - int_dict.size(), ' ') + "\n" +
                           std::string(
                               "\x01\x00\x00\x00\x00\x00\x00\x00"
                               "\xfe\xff\xff\xff\xff\xff\xff\xff"
                               "\x03\x00\x00\x00\x00\x00\x00\x00",
                               24);
  CHECK(io::npy_bytes(tensor({1, -2, 3}), /*as_int64=*/true) == ints);
  CHECK(io::npy_bytes(tensor({1, -2, 3}, {-1}, int64)) == ints);
  const Tensor i = io::parse_npy(ints, "i.npy");
  CHECK(i.dtype() == int64);
  CHECK(i.to_vector() == std::vector<double>{1, -2, 3});
}

TEST_CASE("npy: headers are padded so the data starts at a multiple of 64") {
  for (const Shape& shape : {Shape{}, Shape{0}, Shape{7}, Shape{1, 2, 3, 4, 5, 6, 7, 8},
                             Shape{123456789, 0, 987654321}}) {
    CAPTURE(to_string(shape));
    const std::string b = io::npy_bytes(zeros(shape));
    const std::size_t data_start = 10 + get_le(b, 8, 2);
    CHECK(data_start % 64 == 0);
    CHECK(b[data_start - 1] == '\n');
    CHECK(b.size() == data_start + 4 * zeros(shape).numel());
  }
}

TEST_CASE("npy: version 2.0 and 3.0 headers are read") {
  for (const char major : {'\x02', '\x03'}) {
    std::string header = f4_2x3_dict;
    while ((12 + header.size() + 1) % 64) header += ' ';
    header += '\n';
    std::string b = std::string("\x93NUMPY", 6) + major + '\0';
    set_le(b.append(4, '\0'), 8, header.size(), 4);
    b += header + f4_2x3_npy.substr(128);
    check_same(io::parse_npy(b, "v2.npy"), arange(6).reshape({2, 3}));
  }
}

// ---------------------------------------------------------------- .npy: round trips

TEST_CASE("npy: float32, float64 and int64 round-trip through files at ranks 0 to 4") {
  TempDir dir;
  const std::vector<Shape> shapes = {{},           {5}, {2, 3}, {2, 1, 3},
                                     {2, 3, 1, 2}, {0}, {3, 0}, {0, 2, 0, 1}};
  for (const Shape& shape : shapes) {
    for (const Dtype dtype : {float32, float64}) {
      for (const bool as_int64 : {false, true}) {
        CAPTURE(to_string(shape));
        CAPTURE(dtype_name(dtype));
        CAPTURE(as_int64);
        // Integers for int64; fractions and negatives otherwise.
        const int64_t n = shape.numel();
        Tensor t = (as_int64 ? arange(n, dtype) - 3.0 : arange(n, dtype) * 0.37 - 1.5);
        t = t.reshape(shape);
        const std::string path = dir.file("a.npy");
        io::save_npy(t, path, as_int64);
        const Tensor back = io::load_npy(path);
        CHECK(back.shape() == shape);
        CHECK(back.dtype() == (as_int64 ? int64 : dtype));
        CHECK(back.to_vector() == t.to_vector());
      }
    }
  }
}

TEST_CASE("npy: views and transposed tensors are saved in logical (row-major) order") {
  const Tensor base = arange(12, float64);
  const Tensor view = base.reshape({3, 4});  // shares base's storage
  check_same(io::parse_npy(io::npy_bytes(view), "v"), view);
  const Tensor tr = view.t();
  const Tensor back = io::parse_npy(io::npy_bytes(tr), "t");
  CHECK(back.shape() == Shape{4, 3});
  CHECK(back.at({1, 2}) == view.at({2, 1}));
  CHECK(back.to_vector() == tr.to_vector());
}

TEST_CASE("npy: int64 arrays load as int64 tensors, every value exactly") {
  // Beyond 2^53 (where float64 skips integers) and the extremes of the range.
  const int64_t values[] = {(int64_t{1} << 53) + 1, INT64_MIN, INT64_MAX, -7};
  const Tensor t = from_blob(values, Shape{4});
  const Tensor back = io::parse_npy(io::npy_bytes(t), "e.npy");
  REQUIRE(back.dtype() == int64);
  CHECK(std::equal(values, values + 4, back.data<int64_t>()));
  // A float tensor written as '<i8' comes back as int64.
  CHECK(io::parse_npy(io::npy_bytes(tensor({5, 6}, {-1}, float64), true), "f.npy").dtype() ==
        int64);
}

TEST_CASE("npy: as_int64 needs integers in the int64 range") {
  TempDir dir;
  const std::string path = dir.file("i.npy");
  CHECK(runtime_error_of([&] {
          io::save_npy(tensor({1, 1.5}), path, true);
        }) ==
        "npy " + path +
            ": value 1.5 at index 1 is not an integer in the int64 range, so it cannot be saved "
            "as int64");
  for (const double bad : {std::nan(""), HUGE_VAL, 0x1p63}) {
    CAPTURE(bad);
    CHECK_MESSAGE_HAS(runtime_error_of([&] { io::npy_bytes(tensor({bad}, {-1}, float64), true); }),
                      "at index 0 is not an integer in the int64 range");
  }
  const Tensor lowest = tensor({-0x1p63}, {-1}, float64);
  CHECK(get_le(io::npy_bytes(lowest, true), 128, 8) == uint64_t{1} << 63);
  CHECK(runtime_error_of([&] { io::save_npy(Tensor(), path); }) ==
        "npy " + path + ": cannot save an undefined tensor");
}

// ---------------------------------------------------------------- .npy: the header parser

TEST_CASE("npy: the header parser takes any key order, either quote, optional commas, spaces") {
  const std::vector<std::string> dicts = {
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
      "{ 'descr' : '<f4' ,\n\t'fortran_order':False,'shape':(2,3,),\r\n}",
      "{'descr':'<f4','fortran_order':False,'shape':( 2 , 3 ),}",
  };
  for (const std::string& dict : dicts) {
    CAPTURE(dict);
    check_same(io::parse_npy(npy_with_header(dict, f4_2x3_npy.substr(128)), "h.npy"),
               arange(6).reshape({2, 3}));
  }
  CHECK(io::parse_npy(npy_with_shape("(5,)", std::string(20, '\0')), "h").shape() == Shape{5});
  CHECK(io::parse_npy(npy_with_shape("( )", std::string(4, '\0')), "h").shape() == Shape{});
}

TEST_CASE("npy: malformed headers are errors quoting the header") {
  const std::string data = f4_2x3_npy.substr(128);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", "expected '}' after a value"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", "unexpected text after"},
      {"'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", "expected '{' at the start"},
      {"{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", "expected a quoted key"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", "expected '}' after a value"},
      {"{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}", "expected ':' after the key"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}", "expected True or False"},
      {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3)}", "expected True or False"},
      {"{'descr': 4, 'fortran_order': False, 'shape': (2, 3)}", "expected a quoted descr"},
      {"{'descr': '<\\f4', 'fortran_order': False, 'shape': (2, 3)}", "escape or newline"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "expected ',' after the only"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", "expected '(' to start"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3.0)}", "expected ',' between"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3)}", "expected a dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", "expected a dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
       "a dimension does not fit in 64 bits"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ,}", "expected a quoted key"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "expected '}' after a value"},
      {"{'descr': '<f4", "escape or newline in a string"},  // reaches the final '\n'
  };
  for (const auto& [dict, problem] : cases) {
    CAPTURE(dict);
    const std::string msg = npy_error(npy_with_header(dict, data));
    CHECK_MESSAGE(msg.find("  ") == std::string::npos, msg);  // the padding is left out
    CHECK_MESSAGE(msg.rfind("npy t.npy: malformed header: ", 0) == 0, msg);
    CHECK_MESSAGE_HAS(msg, problem);
    CHECK_MESSAGE(msg.ends_with(" in \"" + zip::printable(dict) + "\""), msg);  // quotes it
  }
}

TEST_CASE("npy: a header without its padding and newline can end inside a string") {
  const std::string header = "{'descr': '<f4";
  CHECK(npy_error(npy_magic_v1(static_cast<uint16_t>(header.size())) + header) ==
        "npy t.npy: malformed header: unterminated string at offset 14 in \"{'descr': '<f4\"");
}

TEST_CASE("npy: wrong, missing and duplicate keys are errors naming the key") {
  CHECK(npy_error(npy_with_header("{'descr': '<f4', 'shape': ()}")) ==
        "npy t.npy: the header has no 'fortran_order' key");
  CHECK(npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False}")) ==
        "npy t.npy: the header has no 'shape' key");
  CHECK(npy_error(npy_with_header("{}")) == "npy t.npy: the header has no 'descr' key");
  CHECK(npy_error(npy_with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'descr': '<f8'}")) ==
        "npy t.npy: duplicate key 'descr' in the header");
  CHECK(npy_error(npy_with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'align': True}")) ==
        "npy t.npy: unknown key 'align' in the header");
}

TEST_CASE("npy: unsupported dtypes, Fortran order and impossible shapes are errors") {
  for (const std::string descr : {">f4", "<i4", "|u1", "<f2", "<c8", "f4", "<f8 ", ""}) {
    CAPTURE(descr);
    CHECK(npy_error(
              npy_with_header("{'descr': '" + descr + "', 'fortran_order': False, 'shape': ()}")) ==
          "npy t.npy: unsupported dtype '" + descr + "' (dagrad reads '<f4', '<f8' and '<i8')");
  }
  CHECK(npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}",
                                  f4_2x3_npy.substr(128))) ==
        "npy t.npy: fortran_order True is not supported (only C-order arrays are)");
  CHECK(npy_error(npy_with_shape("(2, -3)")) ==
        "npy t.npy: the shape (2, -3) has a negative dimension");
  CHECK(npy_error(npy_with_shape("(1, 1, 1, 1, 1, 1, 1, 1, 1)")) ==
        "npy t.npy: the shape (1, 1, 1, 1, 1, 1, 1, 1, 1) has 9 dimensions; dagrad tensors have "
        "at most 8");
  std::string many = "(1";
  for (int i = 1; i < 65; ++i) many += ", 1";
  CHECK(npy_error(npy_with_shape(many + ")")) ==
        "npy t.npy: the shape has more than 64 dimensions");
  CHECK(npy_error(npy_with_shape("(4294967296, 4294967296)")) ==
        "npy t.npy: the shape (4294967296, 4294967296) is too large (its size overflows 64 bits)");
  // Even with no elements: the strides would overflow.
  CHECK_MESSAGE_HAS(npy_error(npy_with_shape("(0, 4294967296, 4294967296)")), "is too large");
  CHECK(io::parse_npy(npy_with_shape("(0, 4294967296)"), "z").shape() == Shape{0, 4294967296});
}

TEST_CASE("npy: the data must be exactly numel * itemsize bytes") {
  const std::string good = f4_2x3_npy;
  CHECK(npy_error(good.substr(0, good.size() - 1)) ==
        "npy t.npy: the data is 23 bytes, expected 24 for shape (2, 3) of '<f4'");
  CHECK(npy_error(good + "x") ==
        "npy t.npy: the data is 25 bytes, expected 24 for shape (2, 3) of '<f4'");
  CHECK(npy_error(npy_with_shape("(0,)", "\x01")) ==
        "npy t.npy: the data is 1 bytes, expected 0 for shape (0,) of '<f4'");
}

TEST_CASE("npy: bad magic, versions and header lengths are errors") {
  CHECK(npy_error("") == "npy t.npy: truncated file (0 bytes)");
  CHECK(npy_error("PK\x03\x04 not npy") ==
        "npy t.npy: not a .npy file (it does not start with \"\\x93NUMPY\")");
  std::string b = f4_2x3_npy;
  b[6] = 4;
  CHECK(npy_error(b) ==
        "npy t.npy: unsupported .npy format version 4.0 (dagrad reads 1.0, 2.0 and 3.0)");
  b[6] = 1;
  b[7] = 1;
  CHECK_MESSAGE_HAS(npy_error(b), "unsupported .npy format version 1.1");
  b = f4_2x3_npy;
  set_le(b, 8, 0xFFFF, 2);
  CHECK(npy_error(b) ==
        "npy t.npy: the header length 65535 runs past the end of the file (152 bytes)");
  b[6] = 2;  // now a 4-byte length: 0x277bffff
  CHECK_MESSAGE_HAS(npy_error(b), "the header length 662437887 runs past the end of the file");
}

TEST_CASE("npy: every truncation and every corrupted byte of a valid file is a clean error") {
  for (const std::string& good :
       {f4_2x3_npy, io::npy_bytes(tensor({1, 2, 3}), true), io::npy_bytes(scalar_tensor(1))}) {
    for (std::size_t n = 0; n < good.size(); ++n) {
      CAPTURE(n);
      CHECK(npy_error(good.substr(0, n)).rfind("npy t.npy: ", 0) == 0);
    }
    // Flipping bytes may leave a valid file (a space in the padding, a data byte) but must
    // never crash or throw anything but runtime_error.
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (const unsigned char x : {0x01, 0x80, 0xFF}) {
        std::string b = good;
        b[i] = static_cast<char>(b[i] ^ x);
        const std::string msg = npy_error(b);
        CHECK((msg == "(no error)" || msg.rfind("npy t.npy: ", 0) == 0));
      }
    }
  }
}

TEST_CASE("npy: load_npy and save_npy name the file in their errors") {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  write_bytes(path, f4_2x3_npy.substr(0, 100));
  CHECK(runtime_error_of([&] { io::load_npy(path); }) ==
        "npy " + path + ": the header length 118 runs past the end of the file (100 bytes)");
  CHECK(runtime_error_of([&] { io::load_npy(dir.file("missing.npy")); }) ==
        "npy " + dir.file("missing.npy") + ": cannot open file");
}

// ---------------------------------------------------------------- .npz

TEST_CASE("npz: stored and deflated round trips keep keys, order, dtypes and values") {
  TempDir dir;
  const NamedTensors arrays = {
      {"W1", arange(12).reshape({3, 4}) * 0.5}, {"b1", tensor({1, -2}, {-1}, float64)},
      {"labels", tensor({3, 1, 4, 1, 5})},      {"empty", zeros({0, 3})},
      {"scalar", scalar_tensor(7, float64)},    {"nested/name", ones({2, 2, 2})},
  };
  for (const bool compress : {false, true}) {
    CAPTURE(compress);
    const std::string path = dir.file("a.npz");
    io::save_npz(arrays, path, compress, {"labels"});
    const NamedTensors back = io::load_npz(path);
    REQUIRE(back.size() == arrays.size());
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      CAPTURE(arrays[i].first);
      CHECK(back[i].first == arrays[i].first);
      CHECK(back[i].second.shape() == arrays[i].second.shape());
      CHECK(back[i].second.dtype() == (i == 2 ? int64 : arrays[i].second.dtype()));
      CHECK(back[i].second.to_vector() == arrays[i].second.to_vector());
    }
    // The members are np.save's bytes, stamped 1980-01-01 00:00, and saving is deterministic.
    const std::string bytes = base::read_file(path, "t");
    const zip::Reader archive(bytes, "t");
    REQUIRE(archive.entries().size() == arrays.size());
    CHECK(archive.extract(archive.entries()[0]) == io::npy_bytes(arrays[0].second));
    CHECK(archive.entries()[0].method == (compress ? 8 : 0));
    CHECK(archive.entries()[5].name == "nested/name.npy");
    const std::size_t local = find_record(bytes, local_sig);
    CHECK(get_le(bytes, local + 10, 2) == 0);               // DOS time
    CHECK(get_le(bytes, local + 12, 2) == ((1 << 5) | 1));  // DOS date
    io::save_npz(arrays, path, compress, {"labels"});
    CHECK(base::read_file(path, "t") == bytes);
  }
  // No members: the end record alone, as np.savez() writes it.
  io::save_npz({}, dir.file("none.npz"));
  CHECK(base::read_file(dir.file("none.npz"), "t") ==
        std::string("PK\x05\x06", 4) + std::string(18, '\0'));
  CHECK(io::load_npz(dir.file("none.npz")).empty());
}

TEST_CASE("npz: reads Python zipfile's zip64 local headers and data descriptors") {
  const NamedTensors a = io::parse_npz(python_zip64_stored, "stored.npz");
  REQUIRE(a.size() == 2);
  CHECK(a[0].first == "x");  // archive order, not sorted
  CHECK(a[1].first == "s");
  check_same(a[0].second, arange(6).reshape({2, 3}));
  check_same(a[1].second, scalar_tensor(2.5, float64));
  CHECK(io::npy_bytes(a[0].second) == f4_2x3_npy);

  const NamedTensors d = io::parse_npz(python_deflated_descriptors, "deflated.npz");
  REQUIRE(d.size() == 2);
  CHECK(d[0].first == "i");
  check_same(d[0].second, tensor({1, -2, 3}, {-1}, int64));
  CHECK(d[1].first == "x");
  check_same(d[1].second, arange(6).reshape({2, 3}));
}

TEST_CASE("zip: zip64 extra fields and end records, and archive comments") {
  const std::string b = zip64_archive("a.npy", f4_2x3_npy);
  CHECK(b.find(std::string("PK\x06\x06", 4)) != std::string::npos);  // zip64 end record
  const NamedTensors a = io::parse_npz(b, "z64.npz");
  REQUIRE(a.size() == 1);
  check_same(a[0].second, arange(6).reshape({2, 3}));
  // An archive comment after the end record.
  for (std::string archive : {b, two_member_npz(true)}) {
    const std::string comment = "a comment with PK\x05\x06 in it";
    set_le(archive, archive.size() - 2, comment.size(), 2);
    CHECK(io::parse_npz(archive + comment, "c.npz").size() >= 1);
  }
}

TEST_CASE("zip: more than 65535 members use the zip64 end record") {
  zip::Writer w("w");
  const int n = 65536 + 3;
  for (int i = 0; i < n; ++i) w.add(std::to_string(i), std::string(1, static_cast<char>(i)), false);
  const std::string b = w.finish();
  CHECK(b.find(std::string("PK\x06\x06", 4)) != std::string::npos);
  const zip::Reader archive(b, "many");
  REQUIRE(archive.entries().size() == static_cast<std::size_t>(n));
  CHECK(archive.entries()[n - 1].name == std::to_string(n - 1));
  CHECK(archive.extract(archive.entries()[n - 1]) == std::string(1, char((n - 1) & 0xFF)));
  CHECK(get_le(b, b.size() - 12, 2) == 0xFFFF);  // the ordinary record's count is saturated
}

TEST_CASE("zip: the writer names the member it cannot add") {
  zip::Writer w("w");
  w.add("a.npy", "x", false);
  w.add("a.npy", "y", true);
  CHECK(runtime_error_of([&] { w.finish(); }) == "w: member 'a.npy': libzip: File already exists");
  CHECK(runtime_error_of([&] { w.add(std::string("a\0b", 3), "x", false); }) ==
        "w: member 'a\\x00b': the name contains a NUL byte");
  CHECK(runtime_error_of([&] {
          w.add(std::string(70000, 'n'), "x", false);
        }).ends_with("...': the name is longer than 65535 bytes"));
}

TEST_CASE("npz: a member whose CRC-32 does not match is an error naming the member") {
  std::string b = two_member_npz();
  b[find_record(b, local_sig, 1) - 1] ^= 1;  // the last data byte of a.npy
  CHECK(npz_error(b) == "npz t.npz: member 'a.npy': CRC-32 mismatch (the directory says " +
                            fmt::format("{:08x}", get_le(b, find_record(b, central_sig) + 16, 4)) +
                            "; CRC error)");
  // The CRC-32 in both headers changed: the data no longer matches.
  std::string d = two_member_npz(/*compress=*/true);
  for (const uint32_t sig : {local_sig, central_sig}) {
    const std::size_t at = find_record(d, sig, 1) + (sig == local_sig ? 14 : 16);
    set_le(d, at, get_le(d, at, 4) ^ 0x10, 4);
  }
  CHECK_MESSAGE_HAS(npz_error(d), "npz t.npz: member 'b.npy': CRC-32 mismatch");
  // Only in the central directory: libzip's consistency check sees the two headers differ.
  d = two_member_npz(true);
  const std::size_t central = find_record(d, central_sig, 1);
  set_le(d, central + 16, get_le(d, central + 16, 4) ^ 0x10, 4);
  CHECK(npz_error(d) == "npz t.npz: not a valid zip archive (Zip archive inconsistent)");
}

TEST_CASE("npz: unsupported members are errors naming the member") {
  const std::string good = two_member_npz();
  std::string b = good;
  set_header_field(b, 1, 6, 8, 1, 2);  // flag bit 0: encrypted
  CHECK(npz_error(b) == "npz t.npz: member 'b.npy': encrypted members are not supported");
  b = good;
  set_header_field(b, 1, 8, 10, 12, 2);  // bzip2
  CHECK(npz_error(b) ==
        "npz t.npz: member 'b.npy': unsupported compression method 12 (dagrad reads 0, stored, "
        "and 8, deflated)");
  b = good;
  set_header_field(b, 1, 22, 24, 153, 4);  // uncompressed size
  CHECK(npz_error(b) ==
        "npz t.npz: member 'b.npy': stored member with compressed size 152 but uncompressed size "
        "153");
}

TEST_CASE("npz: member names must be <key>.npy, each key once") {
  // Two members named a.npy (libzip will not write that: rename b.npy in both headers).
  std::string b = two_member_npz();
  for (const uint32_t sig : {local_sig, central_sig}) {
    const std::size_t at = find_record(b, sig, 1);
    b[at + (sig == local_sig ? 30 : 46)] = 'a';
  }
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (File already exists)");
  zip::Writer w("w");
  w.add("a.npy", f4_2x3_npy, false);
  w.add("readme.txt", "hello", false);
  CHECK(npz_error(w.finish()) ==
        "npz t.npz: member 'readme.txt' is not a .npy file (npz members are named '<key>.npy')");
  TempDir dir;
  const std::string path = dir.file("dup.npz");
  CHECK(runtime_error_of([&] {
          io::save_npz({{"a", ones({1})}, {"a", ones({2})}}, path);
        }) == "npz " + path + ": duplicate key 'a'");
  CHECK(runtime_error_of([&] {
          io::save_npz({{"a", ones({1})}}, path, false, {"b"});
        }) == "npz " + path + ": int64_keys names 'b', which is not one of the arrays");
  CHECK(runtime_error_of([&] {
          io::save_npz({{"a", tensor({0.5})}}, path, false, {"a"});
        }) ==
        "npz " + path +
            ": member 'a.npy': value 0.5 at index 0 is not an integer in the int64 range, so it "
            "cannot be saved as int64");
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("npz: a bad .npy member is an error naming the file and the member") {
  zip::Writer w("w");
  w.add("ok.npy", f4_2x3_npy, false);
  w.add("W1.npy", f4_2x3_npy.substr(0, 140), true);
  TempDir dir;
  const std::string path = dir.file("model.npz");
  write_bytes(path, w.finish());
  CHECK(runtime_error_of([&] { io::load_npz(path); }) ==
        "npz " + path +
            ": member 'W1.npy': the data is 12 bytes, expected 24 for shape (2, 3) of '<f4'");
}

TEST_CASE("npz: declared sizes must match what inflates, and inflating stops at them") {
  const std::string good = two_member_npz(/*compress=*/true);  // a.npy: 152 bytes
  std::string b = good;
  set_header_field(b, 0, 22, 24, 151, 4);
  CHECK(npz_error(b) ==
        "npz t.npz: member 'a.npy': inflates to more than its declared size of 151 bytes");
  set_header_field(b, 0, 22, 24, 153, 4);
  CHECK(npz_error(b) ==
        "npz t.npz: member 'a.npy': the data ends after 152 bytes, but its declared size is 153");

  // A zip bomb: 16 MiB of zeros deflate to ~16 KiB; declared as 1000 bytes, it stops there.
  zip::Writer w("w");
  w.add("bomb.npy", std::string(16 << 20, '\0'), true);
  std::string bomb = w.finish();
  CHECK(bomb.size() < (1 << 20));
  set_header_field(bomb, 0, 22, 24, 1000, 4);
  CHECK(npz_error(bomb) ==
        "npz t.npz: member 'bomb.npy': inflates to more than its declared size of 1000 bytes");

  // Declared sizes are capped before anything is allocated.
  std::string huge = zip64_archive("huge.npy", f4_2x3_npy);
  set_le(huge, 30 + 8 + 4, uint64_t{1} << 37, 8);  // the local zip64 extra's uncompressed size
  const std::size_t c = find_record(huge, central_sig);
  set_le(huge, c + 46 + 8 + 4, uint64_t{1} << 37, 8);  // the central one's
  CHECK(npz_error(huge) ==
        "npz t.npz: member 'huge.npy': declared size of 137438953472 bytes is over the limit of "
        "68719476736 bytes");
}

TEST_CASE("npz: members may not overlap (the zip-bomb trick)") {
  // Three stored members, a.npy's data stretched over b.npy and c.npy and b.npy's over c.npy,
  // in both headers: their sizes add up to more than the archive.
  zip::Writer w("w");
  for (const char* name : {"a.npy", "b.npy", "c.npy"}) w.add(name, f4_2x3_npy, false);
  std::string b = w.finish();
  const uint64_t member = 30 + 5 + f4_2x3_npy.size();
  set_header_field(b, 0, 18, 20, f4_2x3_npy.size() + 2 * member, 4);
  set_header_field(b, 0, 22, 24, f4_2x3_npy.size() + 2 * member, 4);
  set_header_field(b, 1, 18, 20, f4_2x3_npy.size() + member, 4);
  set_header_field(b, 1, 22, 24, f4_2x3_npy.size() + member, 4);
  CHECK(npz_error(b) == fmt::format("npz t.npz: member 'b.npy': the members' compressed sizes up "
                                    "to this one add up to more than the archive's {} bytes "
                                    "(members overlap)",
                                    b.size()));
}

TEST_CASE("npz: corrupt and truncated deflate data are errors") {
  std::string b = two_member_npz(/*compress=*/true);
  const std::size_t data = find_record(b, local_sig) + 30 + 5;
  b[data] = static_cast<char>(0xFF);  // block type 3: invalid
  CHECK_MESSAGE_HAS(npz_error(b),
                    "npz t.npz: member 'a.npy': corrupt deflate data after 0 bytes (");
  b = two_member_npz(true);
  const uint64_t size = get_le(b, find_record(b, central_sig) + 20, 4);
  set_header_field(b, 0, 18, 20, size - 5, 4);  // compressed size
  CHECK_MESSAGE_HAS(npz_error(b), "npz t.npz: member 'a.npy': the data ends after ");
  CHECK_MESSAGE_HAS(npz_error(b), " bytes, but its declared size is 152 (CRC error)");
}

TEST_CASE("npz: broken archives are errors naming the file and libzip's finding") {
  const std::string good = two_member_npz();
  CHECK(npz_error("") == "npz t.npz: not a zip archive (the file is empty)");
  CHECK(npz_error(f4_2x3_npy) == "npz t.npz: not a valid zip archive (Not a zip archive)");
  const std::size_t end = find_record(good, end_sig);
  std::string b = good;
  set_le(b, end + 16, get_le(b, end + 16, 4) + 10, 4);  // central directory offset
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Zip archive inconsistent)");
  b = good;
  set_le(b, end + 4, 1, 2);  // disk number
  CHECK(npz_error(b) ==
        "npz t.npz: not a valid zip archive (Multi-disk zip archives not supported)");
  b = good;
  set_le(b, end + 8, 3, 2);  // entry count
  set_le(b, end + 10, 3, 2);
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Zip archive inconsistent)");
  b = good;
  b[find_record(good, central_sig, 1)] = 'X';
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Not a zip archive)");
  b = good;
  set_le(b, find_record(good, central_sig, 1) + 42, 1, 4);  // local header offset
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Not a zip archive)");
  b = good;
  set_le(b, find_record(good, central_sig, 1) + 42, 0, 4);  // a.npy's local header
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Zip archive inconsistent)");
  b = good;
  set_header_field(b, 1, 18, 20, 1000, 4);  // data running into the central directory
  set_header_field(b, 1, 22, 24, 1000, 4);
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Not a zip archive)");
}

TEST_CASE("npz: zip64 fields that point nowhere are errors") {
  const std::string good = zip64_archive("a.npy", f4_2x3_npy);
  const std::size_t locator = find_record(good, 0x07064b50);
  std::string b = good;
  set_le(b, locator + 8, 5, 8);
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Zip archive inconsistent)");
  b = good;
  set_le(b, locator + 8, uint64_t{1} << 62, 8);
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Zip archive inconsistent)");
  b = good;
  const std::size_t central = find_record(good, central_sig);
  set_le(b, central + 46 + 5, 0x5455, 2);  // another extra field id: no zip64 sizes
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (No such file)");
  b = good;
  set_le(b, central + 46 + 5 + 2, 8, 2);  // the extra field holds one value, not three
  CHECK(npz_error(b) == "npz t.npz: not a valid zip archive (Zip archive inconsistent)");
}

TEST_CASE("npz: every truncation and every corrupted byte of a valid archive is a clean error") {
  for (const std::string& good :
       {two_member_npz(false), two_member_npz(true), python_deflated_descriptors}) {
    for (std::size_t n = 0; n < good.size(); ++n) {
      CAPTURE(n);
      CHECK(npz_error(good.substr(0, n)).rfind("npz t.npz: ", 0) == 0);
    }
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (const unsigned char x : {0x01, 0x80, 0xFF}) {
        std::string b = good;
        b[i] = static_cast<char>(b[i] ^ x);
        const std::string msg = npz_error(b);
        CHECK((msg == "(no error)" || msg.rfind("npz t.npz: ", 0) == 0));
      }
    }
  }
}
