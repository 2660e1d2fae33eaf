// Writes the seed corpus of every fuzz target: tests/fuzz/corpus/<target>/<name>, a few valid
// files (made with dagrad's own writers where it has one) and a few edge cases each reader must
// refuse cleanly. Deterministic, so rerunning it changes nothing; it overwrites its own files
// and leaves the others (reproducers of findings, named repro-*) alone.
//
//   build/tests/fuzz/dagrad-fuzz-make-corpus tests/fuzz/corpus
#include <fmt/format.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "dagrad/base/zip.h"
#include "dagrad/io/checkpoint.h"
#include "dagrad/io/image.h"
#include "dagrad/io/npy.h"
#include "dagrad/io/safetensors.h"
#include "tests/io/zip64_archive.h"

namespace fs = std::filesystem;
using namespace dagrad;
using namespace std::literals;

namespace {

fs::path out_root;

void put(const std::string& target, const std::string& name, std::string_view bytes) {
  const fs::path dir = out_root / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), bytes.size());
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The bytes one of dagrad's path-taking writers produces (written to a scratch file).
template <typename Write>
std::string written_by(Write&& write) {
  const fs::path tmp = out_root / ".make_corpus.tmp";
  write(tmp.string());
  std::string bytes = read_bytes(tmp);
  fs::remove(tmp);
  return bytes;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
template <typename T>
std::string le(T v) {  // the machine is little-endian (x86-64, aarch64)
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}
std::string repeat_pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 37 + seed * 11) & 0xff);
  return s;
}

// gzip (RFC 1952) with a zero timestamp, like `gzip -n`.
std::string gzip(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

uint32_t crc_of(std::string_view s) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), s.size()));
}

// ---------------------------------------------------------------------------------------------
// IDX, raw and gzip

std::string idx(unsigned type, const std::vector<uint32_t>& dims, std::string_view payload) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) s += be32(d);
  return s.append(payload);
}

void idx_corpus() {
  const std::string labels = idx(0x08, {10}, "\0\1\2\3\4\5\6\7\x08\x09"sv);
  const std::string images = idx(0x08, {2, 4, 5}, repeat_pattern(40, 1));
  const std::string f64 =
      idx(0x0E, {1, 1, 2},
          std::string("\x3f\xf8\0\0\0\0\0\0", 8) + std::string("\x7f\xf0\0\0\0\0\0\0", 8));
  const std::string empty = idx(0x08, {0, 28, 28}, "");
  put("idx", "labels-idx1", labels);
  put("idx", "images-idx3", images);
  put("idx", "sbyte", idx(0x09, {4}, "\x80\xff\x00\x7f"sv));
  put("idx", "int16", idx(0x0B, {2, 2}, "\x80\x00\xff\xff\x00\x01\x7f\xff"sv));
  put("idx", "int32", idx(0x0C, {3}, repeat_pattern(12, 2)));
  put("idx", "float32-nan", idx(0x0D, {2}, "\x3f\xc0\0\0\x7f\xc0\0\0"sv));
  put("idx", "float64-inf", f64);
  put("idx", "eight-dims", idx(0x08, {1, 1, 1, 1, 1, 1, 1, 2}, "ab"));
  put("idx", "zero-size", empty);
  put("idx", "truncated", idx(0x08, {10}, "\1\2\3\4\5"));
  put("idx", "trailing-bytes", idx(0x08, {3}, "\1\2\3\4\5"));
  put("idx", "label-out-of-range", idx(0x08, {3}, "\1\2\x0a"));
  put("idx", "unknown-type", idx(0x0A, {1}, "x"));
  put("idx", "no-dims", idx(0x08, {}, ""));
  put("idx", "nine-dims", idx(0x08, {1, 1, 1, 1, 1, 1, 1, 1, 1}, "x"));
  put("idx", "short-header", "\0\0\x08\x03\0\0"sv);

  put("idx_gz", "labels-idx1.gz", gzip(labels));
  put("idx_gz", "images-idx3.gz", gzip(images));
  put("idx_gz", "float64.gz", gzip(f64));
  put("idx_gz", "zero-size.gz", gzip(empty));
  const std::string gz = gzip(images);
  put("idx_gz", "truncated.gz", gz.substr(0, gz.size() - 10));
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 1;  // the trailer: CRC-32, then the size
  put("idx_gz", "bad-crc.gz", bad_crc);
  put("idx_gz", "two-members.gz", gzip(images.substr(0, 7)) + gzip(images.substr(7)));
  put("idx_gz", "empty.gz", gzip(""));
  put("idx_gz", "not-idx.gz", gzip("hello, fuzzer"));
  put("idx_gz", "gzip-magic-only", "\x1f\x8b"sv);
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10

std::string cifar_record(unsigned label, unsigned seed) {
  return static_cast<char>(label) + repeat_pattern(3072, seed);
}

void cifar_corpus() {
  put("cifar", "one-record", cifar_record(3, 1));
  put("cifar", "two-records", cifar_record(0, 2) + cifar_record(9, 3));
  put("cifar", "label-10", cifar_record(1, 4) + cifar_record(10, 5));
  put("cifar", "short-record", cifar_record(2, 6).substr(0, 3072));
  put("cifar", "extra-byte", cifar_record(2, 7) + "x");
  put("cifar", "empty", "");
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

// magic, version, `body`, then the CRC-32 of all that (what save_checkpoint writes).
std::string ckpt(uint32_t version, std::string_view body) {
  std::string s = "DAGRADCK" + le<uint32_t>(version) + std::string(body);
  return s + le<uint32_t>(crc_of(s));
}
std::string ckpt_tensor(std::string_view name, uint8_t dtype, const std::vector<int64_t>& dims,
                        uint64_t nbytes, std::string_view data) {
  std::string s = le<uint32_t>(name.size()) + std::string(name) + static_cast<char>(dtype) +
                  static_cast<char>(dims.size());
  for (int64_t d : dims) s += le<int64_t>(d);
  return s + le<uint64_t>(nbytes) + std::string(data);
}

void checkpoint_corpus() {
  io::Checkpoint small;
  small.meta = {{"epoch", "3"}, {"model", "mlp"}};
  small.tensors = {{"W", tensor({1, -2, 3.5, 0, 1e-30, -0.0}, {2, 3})},
                   {"b", tensor({0.25, 1e300, -1}, {3}, float64)},
                   {"step", scalar_tensor(7)},
                   {"none", empty({0, 4})}};
  const std::string valid =
      written_by([&](const std::string& p) { io::save_checkpoint(small, p); });
  put("checkpoint", "empty.ckpt",
      written_by([](const std::string& p) { io::save_checkpoint({}, p); }));
  put("checkpoint", "small.ckpt", valid);
  std::string bad_crc = valid;
  bad_crc.back() ^= 0x40;
  put("checkpoint", "bad-crc.ckpt", bad_crc);
  const std::string body = valid.substr(12, valid.size() - 16);  // after magic+version, no CRC
  put("checkpoint", "version-2.ckpt", ckpt(2, body));
  put("checkpoint", "truncated.ckpt", ckpt(1, body.substr(0, 30)));
  put("checkpoint", "trailing-bytes.ckpt", ckpt(1, body + "xyz"));
  const std::string one = le<uint32_t>(0) + le<uint32_t>(1);  // no metadata, one tensor
  put("checkpoint", "dtype-2.ckpt", ckpt(1, one + ckpt_tensor("t", 2, {1}, 4, "abcd")));
  put("checkpoint", "nine-dims.ckpt",
      ckpt(1, one + ckpt_tensor("t", 0, {1, 1, 1, 1, 1, 1, 1, 1, 1}, 4, "abcd")));
  put("checkpoint", "negative-dim.ckpt", ckpt(1, one + ckpt_tensor("t", 0, {-1}, 4, "abcd")));
  put("checkpoint", "nbytes-mismatch.ckpt", ckpt(1, one + ckpt_tensor("t", 1, {1}, 4, "abcd")));
  put("checkpoint", "magic-only.ckpt", "DAGRADCK"sv);
}

// ---------------------------------------------------------------------------------------------
// Images: PNG (dagrad's writer, plus hand-made files for what it never writes) and PGM/PPM

std::string png_chunk(std::string_view type, std::string_view data) {
  const std::string typed = std::string(type) + std::string(data);
  return be32(static_cast<uint32_t>(data.size())) + typed + be32(crc_of(typed));
}

// A PNG of `rows` (each already starting with its filter byte), `extra` chunks between IHDR and
// IDAT (PLTE, tRNS, ...), the compressed data split into `idat_parts` IDAT chunks.
std::string png(uint32_t w, uint32_t h, int depth, int color, std::string_view rows,
                std::string_view extra = "", int interlace = 0, int idat_parts = 1) {
  std::string z(compressBound(rows.size()), '\0');
  uLongf zlen = z.size();
  compress2(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(rows.data()),
            rows.size(), 9);
  z.resize(zlen);
  std::string ihdr = be32(w) + be32(h);
  ihdr += {static_cast<char>(depth), static_cast<char>(color), 0, 0, static_cast<char>(interlace)};
  std::string s = "\x89PNG\r\n\x1a\n" + png_chunk("IHDR", ihdr) + std::string(extra);
  const size_t part = (z.size() + idat_parts - 1) / idat_parts;
  for (size_t off = 0; off < z.size(); off += part) s += png_chunk("IDAT", z.substr(off, part));
  return s + png_chunk("IEND", "");
}

// `h` rows of `stride` bytes, row y using filter type filters[y % filters.size()].
std::string png_rows(size_t stride, size_t h, std::string_view filters, unsigned seed) {
  std::string s;
  for (size_t y = 0; y < h; ++y)
    s += filters[y % filters.size()] + repeat_pattern(stride, seed + y);
  return s;
}

void image_corpus() {
  const io::Image rgb = io::make_test_image(6, 5);
  io::Image gray = io::to_grayscale(rgb), gray_alpha{6, 5, 2, {}}, rgba{6, 5, 4, {}};
  for (size_t i = 0; i < 30; ++i) {
    gray_alpha.pixels.insert(gray_alpha.pixels.end(), {gray.pixels[i], uint8_t(i * 8)});
    rgba.pixels.insert(rgba.pixels.end(), rgb.pixels.begin() + 3 * i,
                       rgb.pixels.begin() + 3 * i + 3);
    rgba.pixels.push_back(uint8_t(255 - i));
  }
  for (const auto& [name, img] :
       std::map<std::string, const io::Image*>{{"rgb.png", &rgb},
                                               {"gray.png", &gray},
                                               {"gray-alpha.png", &gray_alpha},
                                               {"rgba.png", &rgba}})
    put("image", name, written_by([&](const std::string& p) { io::save_png(*img, p); }));

  const std::string all_filters("\0\1\2\3\4", 5);
  const std::string plte = png_chunk("PLTE", "\0\0\0\xff\0\0\0\xff\0\0\0\xff\xff\xff\xff"sv);
  put("image", "palette-1bit-trns.png",
      png(9, 3, 1, 3, png_rows(2, 3, all_filters, 1).replace(1, 2, "\x55\x80"sv),
          plte + png_chunk("tRNS", "\x80\0"sv)));
  put("image", "palette-4bit.png", png(4, 2, 4, 3, std::string("\0\x01\x23\0\x32\x10", 6), plte));
  put("image", "palette-index-out-of-range.png", png(2, 1, 8, 3, "\0\x01\x09"sv, plte));
  put("image", "gray-2bit.png", png(7, 4, 2, 0, png_rows(2, 4, all_filters, 2)));
  put("image", "gray-16bit-trns.png",
      png(3, 5, 16, 0, png_rows(6, 5, all_filters, 3), png_chunk("tRNS", "\x12\x34"sv)));
  put("image", "rgb-16bit.png", png(2, 3, 16, 2, png_rows(12, 3, all_filters, 4)));
  put("image", "rgb-trns-key.png",
      png(3, 3, 8, 2, png_rows(9, 3, all_filters, 5), png_chunk("tRNS", "\0\1\0\2\0\3"sv)));
  put("image", "gray-alpha-16bit.png", png(2, 2, 16, 4, png_rows(8, 2, all_filters, 6)));
  put("image", "rgba-filters.png", png(4, 5, 8, 6, png_rows(16, 5, all_filters, 7)));
  put("image", "text-and-split-idat.png",
      png(5, 5, 8, 0, png_rows(5, 5, all_filters, 8), png_chunk("tEXt", "Comment\0fuzz"sv), 0, 3));
  put("image", "interlaced.png", png(2, 2, 8, 0, png_rows(2, 2, "\0"sv, 9), "", 1));
  put("image", "bad-filter.png", png(2, 2, 8, 0, png_rows(2, 2, "\5"sv, 10)));
  put("image", "unknown-critical-chunk.png",
      png(2, 2, 8, 0, png_rows(2, 2, "\0"sv, 11), png_chunk("ABCD", "x")));
  const std::string whole = png(8, 8, 8, 2, png_rows(24, 8, all_filters, 12));
  put("image", "truncated.png", whole.substr(0, whole.size() / 2));

  put("image", "ascii.pgm", "P2\n# a comment\n3 2\n255\n0 128 255\n1 2 3\n"sv);
  put("image", "ascii.ppm", "P3 2 1 15  15 0 0   0 15 7\n"sv);
  put("image", "binary.pgm", "P5 4 2 255\n" + repeat_pattern(8, 13));
  put("image", "binary.ppm", "P6\n2 2\n255\n" + repeat_pattern(12, 14));
  put("image", "binary-16bit.pgm", "P5 2 2 1000\n\x03\xe8\0\0\x01\xf4\0\x01"sv);
  put("image", "sample-over-maxval.pgm", "P5 2 1 100\n\x10\xff"sv);
  put("image", "truncated.ppm", "P6 4 4 255\n" + repeat_pattern(20, 15));
  put("image", "pbm-unsupported.pbm", "P1\n2 2\n0 1\n1 0\n"sv);
}

// ---------------------------------------------------------------------------------------------
// safetensors

// An 8-byte little-endian header length, the header, then the data.
std::string st(std::string_view header, std::string_view data) {
  return le<uint64_t>(header.size()) + std::string(header) + std::string(data);
}

void safetensors_corpus() {
  const NamedTensors tensors = {{"weight", tensor({1, 2, 3, 4, 5, 6}, {2, 3})},
                                {"bias", tensor({-0.5, 1e-300}, {2}, float64)},
                                {"step", scalar_tensor(42, float64)},
                                {"empty", empty({0, 3})}};
  put("safetensors", "small.safetensors",
      io::safetensors_bytes(tensors, {{"format", "pt"}}, {"step"}));
  put("safetensors", "no-tensors.safetensors", io::safetensors_bytes({}));
  const std::string f32 = R"("dtype":"F32","shape":[1],"data_offsets")";
  put("safetensors", "duplicate-name.safetensors",
      st(R"({"a":{)" + f32 + R"(:[0,4]},"a":{)" + f32 + ":[4,8]}}", "abcdefgh"));
  put("safetensors", "gap.safetensors", st(R"({"a":{)" + f32 + ":[4,8]}}", "abcdefgh"));
  put("safetensors", "bf16.safetensors",
      st(R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "abcd"));
  put("safetensors", "i64-too-large.safetensors",
      st(R"({"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", le<int64_t>(1LL << 60)));
  put("safetensors", "shape-overflow.safetensors",
      st(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", ""));
  put("safetensors", "deep-metadata.safetensors",
      st(R"({"__metadata__":)" + std::string(300, '[') + std::string(300, ']') + "}", ""));
  put("safetensors", "huge-header-length.safetensors", le<uint64_t>(~0ull) + "{}");
  put("safetensors", "bad-utf8-name.safetensors", st("{\"\xff\xfe\":{" + f32 + ":[0,4]}}", "abcd"));
}

// ---------------------------------------------------------------------------------------------
// npy and npz

// Magic, version, header length (2 bytes for 1.0, 4 for 2.0/3.0), `dict` padded to a multiple
// of 64 with spaces and '\n' as np.save does, then the data.
std::string npy(int major, std::string_view dict, std::string_view data) {
  const size_t prefix = 8 + (major == 1 ? 2 : 4);
  std::string header(dict);
  header.append(63 - (prefix + header.size()) % 64, ' ').push_back('\n');
  std::string s = "\x93NUMPY" + std::string{static_cast<char>(major), 0};
  s += major == 1 ? le<uint16_t>(header.size()) : le<uint32_t>(header.size());
  return s + header + std::string(data);
}

void npy_corpus() {
  put("npy", "f32.npy", io::npy_bytes(tensor({1, 2, 3, 4, 5, 6}, {2, 3})));
  put("npy", "f64-scalar.npy", io::npy_bytes(scalar_tensor(-2.5, float64)));
  put("npy", "i8.npy", io::npy_bytes(tensor({-3, 0, 9007199254740992.0}, {3}, float64), true));
  put("npy", "zero-size.npy", io::npy_bytes(empty({0, 3})));
  const std::string f32x2 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  put("npy", "version-2.npy", npy(2, f32x2, "abcdefgh"));
  put("npy", "version-3.npy", npy(3, f32x2, "abcdefgh"));
  put("npy", "fortran.npy",
      npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", "abcdefgh"));
  put("npy", "big-endian.npy",
      npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "abcdefgh"));
  put("npy", "half.npy",
      npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", "abcd"));
  put("npy", "negative-dim.npy",
      npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", ""));
  put("npy", "shape-overflow.npy",
      npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", ""));
  put("npy", "short-data.npy", npy(1, f32x2, "abcd"));
  put("npy", "unterminated-header.npy", "\x93NUMPY\1\0\x08\0{'descr'"sv);

  const NamedTensors arrays = {{"W", tensor({1, 2, 3, 4}, {2, 2})},
                               {"b", tensor({0.5, -1}, {2}, float64)},
                               {"n", scalar_tensor(3, float64)}};
  for (bool compress : {false, true})
    put("npz", compress ? "compressed.npz" : "stored.npz",
        written_by([&](const std::string& p) { io::save_npz(arrays, p, compress, {"n"}); }));
  put("npz", "empty.npz", written_by([](const std::string& p) { io::save_npz({}, p); }));
  put("npz", "zip64.npz", test_util::zip64_archive("a.npy", io::npy_bytes(tensor({1, 2}))));
  base::zip::Writer not_npy("corpus");
  not_npy.add("notes.txt", "not an array", false);
  put("npz", "not-npy-member.npz", not_npy.finish());
  // libzip will not write two members of one name: b.npy renamed in both of its headers.
  base::zip::Writer duplicate("corpus");
  duplicate.add("a.npy", io::npy_bytes(tensor({1})), false);
  duplicate.add("b.npy", io::npy_bytes(tensor({2})), true);
  std::string duplicated = duplicate.finish();
  for (std::size_t at = duplicated.find("b.npy"); at != std::string::npos;
       at = duplicated.find("b.npy", at + 1))
    duplicated[at] = 'a';
  put("npz", "duplicate-member.npz", duplicated);
  std::string bad_crc = written_by([&](const std::string& p) { io::save_npz(arrays, p); });
  bad_crc[bad_crc.find("\x93NUMPY") + 60] ^= 1;  // inside W.npy's header padding
  put("npz", "bad-crc.npz", bad_crc);
  put("npz", "truncated.npz", bad_crc.substr(0, bad_crc.size() - 30));
}

// ---------------------------------------------------------------------------------------------
// Command lines: arguments separated by NUL bytes

void cli_corpus() {
  const std::map<std::string, std::string_view> lines = {
      {"options", "--quick\0--epochs\0005\0--lr\0001e-3\0--out\0dir"sv},
      {"help", "-h"sv},
      {"key-values", "--a=1\0--b=\0pos1\0pos2"sv},
      {"bad-integer", "--epochs\0abc"sv},
      {"integer-out-of-range", "--epochs\00099999999999999999999"sv},
      {"missing-value", "--lr"sv},
      {"unknown", "--nope\0-x"sv},
      {"repeated", "--out\0a\0--out\0b\0--quick\0--quick"sv},
      {"empty-args", "\0\0"sv},
      {"no-args", ""sv},
      {"checked-forms", "--size\0000\0--eps\0nan\0a\0b\0-v"sv},
  };
  for (const auto& [name, line] : lines) put("cli", name, line);
}

// ---------------------------------------------------------------------------------------------
// dagrad-explain: the program, a NUL byte, the --at text

void explain_corpus() {
  const std::map<std::string, std::string_view> inputs = {
      {"homework",
       "f1 = exp(exp(w1)+exp(w2)) + sin(exp(w1)+exp(w2)); f2 = w1*w2 + sigmoid(w1)\0w1=1,w2=2"sv},
      {"matrix", "f = x @ A @ x + sum(exp(x), 0) - mean(A)\0x=[1,2],A=[[1,2],[3,4]]"sv},
      {"powers", "g = -x^2^y + 2^-x; h = g * max(x, y) / atan2(x, y)\0x=0.5,y=-1.5"sv},
      {"comment", "# c\na = x\n\nb = a*a  # d\0x=3"sv},
      {"nan", "f = log(x - 5)\0x=1"sv},
      {"parse-error", "f = (x + \0x=1"sv},
      {"unknown-function", "f = foo(x)\0x=1"sv},
      {"missing-value", "f = x*y\0x=1"sv},
      {"ragged", "f = x\0x=[[1,2],[3]]"sv},
      {"broadcast", "f = x + y\0x=[1,2,3],y=[[1],[2]]"sv},
  };
  for (const auto& [name, text] : inputs) put("explain", name, text);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  out_root = argv[1];
  fs::create_directories(out_root);
  idx_corpus();
  cifar_corpus();
  checkpoint_corpus();
  image_corpus();
  safetensors_corpus();
  npy_corpus();
  cli_corpus();
  explain_corpus();
  return 0;
}
