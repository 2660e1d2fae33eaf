#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/data/idx.h"
#include "dagrad/data/preprocess.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::data;
using namespace dagrad::test_util;
namespace fs = std::filesystem;

namespace {

void write_gz(const std::string& path, const Bytes& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!b.empty()) REQUIRE(gzwrite(f, b.data(), static_cast<unsigned>(b.size())) == int(b.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

// IDX header + payload.
Bytes idx_file(unsigned type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b{0, 0, static_cast<unsigned char>(type), static_cast<unsigned char>(dims.size())};
  for (uint32_t d : dims) put_be32(b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes images_file(uint32_t n, uint32_t rows, uint32_t cols, const Bytes& pixels) {
  return idx_file(0x08, {n, rows, cols}, pixels);
}
Bytes labels_file(const Bytes& labels) {
  return idx_file(0x08, {static_cast<uint32_t>(labels.size())}, labels);
}

// The message of the exception f throws ("" if it does not throw).
}  // namespace

TEST_CASE("idx: small ubyte images, raw and gzip give the same 0..255 values") {
  TempDir dir;
  Bytes pixels;
  for (int i = 0; i < 3 * 2 * 4; ++i) pixels.push_back(static_cast<unsigned char>(i * 11));
  pixels[5] = 255;
  const Bytes file = images_file(3, 2, 4, pixels);
  write_raw(dir.file("img_raw"), file);
  write_gz(dir.file("img_gz"), file);
  write_gz(dir.file("img_gz_named.idx"), file);  // detection is by magic, not by name

  for (const std::string name : {"img_raw", "img_gz", "img_gz_named.idx"}) {
    CAPTURE(name);
    const Tensor X = read_idx(dir.file(name));
    CHECK(X.shape() == Shape{3, 2, 4});
    CHECK(X.dtype() == float32);
    CHECK(X.at({0, 0, 1}) == 11);
    CHECK(X.at({0, 1, 1}) == 255);
    CHECK(X.at({2, 1, 3}) == 23 * 11);
    const Tensor I = read_idx_images(dir.file(name), float64);
    CHECK(I.dtype() == float64);
    CHECK(I.to_vector() == X.to_vector());
  }
  const std::vector<double> v = read_idx(dir.file("img_gz")).to_vector();
  for (size_t i = 0; i < pixels.size(); ++i) CHECK(v[i] == pixels[i]);
}

TEST_CASE("idx: other IDX data types are decoded big-endian") {
  TempDir dir;
  // int16: -2, 258
  write_raw(dir.file("i16"), idx_file(0x0B, {2}, {0xFF, 0xFE, 0x01, 0x02}));
  CHECK(read_idx(dir.file("i16")).to_vector() == std::vector<double>{-2, 258});
  // int32 (2, 1): -1, 65536
  write_raw(dir.file("i32"), idx_file(0x0C, {2, 1}, {0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0, 0}));
  const Tensor i32 = read_idx(dir.file("i32"), float64);
  CHECK(i32.shape() == Shape{2, 1});
  CHECK(i32.to_vector() == std::vector<double>{-1, 65536});
  // sbyte: -128, 127
  write_raw(dir.file("i8"), idx_file(0x09, {2}, {0x80, 0x7F}));
  CHECK(read_idx(dir.file("i8")).to_vector() == std::vector<double>{-128, 127});
  // float32 1.5 = 0x3FC00000, -0.25 = 0xBE800000
  write_raw(dir.file("f32"), idx_file(0x0D, {2}, {0x3F, 0xC0, 0, 0, 0xBE, 0x80, 0, 0}));
  CHECK(read_idx(dir.file("f32")).to_vector() == std::vector<double>{1.5, -0.25});
  // float64 0.1 = 0x3FB999999999999A, 4-D shape (1, 1, 1, 1)
  write_gz(dir.file("f64"),
           idx_file(0x0E, {1, 1, 1, 1}, {0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A}));
  const Tensor f64 = read_idx(dir.file("f64"), float64);
  CHECK(f64.shape() == Shape{1, 1, 1, 1});
  CHECK(f64.item() == 0.1);
  // As int64: integer types exactly, float types truncated toward zero; a float value int64
  // cannot hold is an error naming the file.
  const Tensor i32_as_int = read_idx(dir.file("i32"), int64);
  CHECK(i32_as_int.dtype() == int64);
  CHECK(i32_as_int.to_vector() == std::vector<double>{-1, 65536});
  CHECK(read_idx(dir.file("f32"), int64).to_vector() == std::vector<double>{1, 0});
  write_raw(dir.file("inf"), idx_file(0x0D, {1}, {0x7F, 0x80, 0, 0}));  // +inf
  const std::string m = error_of<std::exception>([&] { read_idx(dir.file("inf"), int64); });
  CHECK_MESSAGE_HAS(m, dir.file("inf"));
  CHECK_MESSAGE_HAS(m, "value inf at index 0 cannot be converted to int64");
  // A zero-sized dimension is a valid, empty file.
  write_raw(dir.file("empty"), idx_file(0x08, {0, 28, 28}, {}));
  CHECK(read_idx(dir.file("empty")).shape() == Shape{0, 28, 28});
}

TEST_CASE("idx: bad headers name the file and the problem") {
  TempDir dir;
  const std::string unknown = dir.file("unknown_type");
  write_raw(unknown, idx_file(0x07, {2}, {1, 2}));
  std::string m = error_of<std::exception>([&] { read_idx(unknown); });
  CHECK_MESSAGE_HAS(m, unknown);
  CHECK_MESSAGE_HAS(m, "unknown IDX data type 0x07");

  const std::string not_idx = dir.file("not_idx.png");
  write_raw(not_idx, {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
  m = error_of<std::exception>([&] { read_idx(not_idx); });
  CHECK_MESSAGE_HAS(m, not_idx);
  CHECK_MESSAGE_HAS(m, "wrong magic number 0x89504e47");

  const std::string zero_dims = dir.file("zero_dims");
  write_raw(zero_dims, {0, 0, 8, 0});
  m = error_of<std::exception>([&] { read_idx(zero_dims); });
  CHECK_MESSAGE_HAS(m, zero_dims);
  CHECK_MESSAGE_HAS(m, "0 dimensions");

  const std::string tiny = dir.file("tiny");
  write_raw(tiny, {0, 0});
  m = error_of<std::exception>([&] { read_idx(tiny); });
  CHECK_MESSAGE_HAS(m, tiny);
  CHECK_MESSAGE_HAS(m, "too short for an IDX header: got 2 bytes");

  const std::string empty_file = dir.file("empty");
  write_raw(empty_file, {});
  m = error_of<std::exception>([&] { read_idx(empty_file); });
  CHECK_MESSAGE_HAS(m, "got 0 bytes");

  const std::string cut_dims = dir.file("cut_dims");
  write_raw(cut_dims, {0, 0, 8, 3, 0, 0, 0, 5, 0, 0});
  m = error_of<std::exception>([&] { read_idx(cut_dims); });
  CHECK_MESSAGE_HAS(m, cut_dims);
  CHECK_MESSAGE_HAS(m, "truncated header: expected 12 bytes of dimension sizes, got 6");

  // Labels where images are expected, and the other way round.
  const std::string labels = dir.file("labels");
  write_raw(labels, labels_file({1, 2, 3}));
  m = error_of<std::exception>([&] { read_idx_images(labels); });
  CHECK_MESSAGE_HAS(m, labels);
  CHECK_MESSAGE_HAS(m, "wrong magic number 0x00000801 for IDX images: expected 0x00000803");
  const std::string images = dir.file("images");
  write_raw(images, images_file(1, 1, 1, {7}));
  m = error_of<std::exception>([&] { read_idx_labels(images); });
  CHECK_MESSAGE_HAS(m, images);
  CHECK_MESSAGE_HAS(m, "expected 0x00000801");
  // Right dimension count but not ubyte.
  const std::string i16_images = dir.file("i16_images");
  write_raw(i16_images, idx_file(0x0B, {1, 1, 1}, {0, 1}));
  m = error_of<std::exception>([&] { read_idx_images(i16_images); });
  CHECK_MESSAGE_HAS(m, "wrong magic number 0x00000b03");

  const std::string missing = dir.file("does_not_exist.gz");
  m = error_of<std::exception>([&] { read_idx(missing); });
  CHECK_MESSAGE_HAS(m, missing);
  CHECK_MESSAGE_HAS(m, "cannot open file");
  CHECK_THROWS_AS(read_idx(missing), std::runtime_error);
}

TEST_CASE("idx: payload size must match the header exactly") {
  TempDir dir;
  Bytes full = images_file(2, 3, 3, Bytes(18, 9));
  Bytes cut(full.begin(), full.end() - 5);
  const std::string raw = dir.file("cut_raw"), gz = dir.file("cut_gz");
  write_raw(raw, cut);
  write_gz(gz, cut);  // a complete gzip stream whose content is short
  for (const std::string& p : {raw, gz}) {
    const std::string m = error_of<std::exception>([&] { read_idx(p); });
    CHECK_MESSAGE_HAS(m, p);
    CHECK_MESSAGE_HAS(m, "truncated: expected 18 data bytes for shape (2, 3, 3) of ubyte, got 13");
  }
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { read_idx(gz); }), "after decompression");

  Bytes longer = full;
  longer.push_back(0);
  longer.push_back(0);
  const std::string extra = dir.file("extra");
  write_gz(extra, longer);
  const std::string m = error_of<std::exception>([&] { read_idx(extra); });
  CHECK_MESSAGE_HAS(m, extra);
  CHECK_MESSAGE_HAS(m, "expected 18 data bytes");
  CHECK_MESSAGE_HAS(m, "got 20 bytes (2 trailing bytes)");

  // A header that promises far more than the file holds is reported, not allocated (with the
  // payload limit raised so that the truncation check is the one that speaks).
  const std::string huge = dir.file("huge");
  write_raw(huge, idx_file(0x08, {1000000, 1000, 1000}, {1, 2, 3}));
  const uint64_t limit = max_idx_payload_bytes();
  set_max_idx_payload_bytes(uint64_t(1) << 41);
  const std::string mh = error_of<std::exception>([&] { read_idx(huge); });
  set_max_idx_payload_bytes(limit);
  CHECK_MESSAGE_HAS(mh, "truncated: expected 1000000000000 data bytes");
  CHECK_MESSAGE_HAS(mh, "got 3 bytes");
  // Under the default limit (2 GiB) the header alone is refused.
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { read_idx(huge); }),
                    "header promises 1000000000000 bytes of ubyte for shape (1000000, 1000, "
                    "1000), more than the limit of 2147483648 bytes");
}

TEST_CASE("idx: sizes that overflow 64 bits, and gzip bombs, are refused before decompressing") {
  TempDir dir;
  // 00 00 08 03, dims 2^20, 2^20, 2^24: the product is 2^64, which wrapped to 0 before.
  const std::string wrap = dir.file("wrap");
  write_raw(wrap, {0, 0, 8, 3, 0, 0x10, 0, 0, 0, 0x10, 0, 0, 1, 0, 0, 0});
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { read_idx(wrap); }),
                    "header promises more than 2^64 bytes of ubyte for shape (1048576, 1048576, "
                    "16777216)");
  // A small gzip file whose header promises 64 MB of zeros: with a 1 MB limit nothing is
  // inflated, whatever the stream holds.
  const std::string bomb = dir.file("bomb.gz");
  write_gz(bomb, idx_file(0x08, {64, 1024, 1024}, {}));
  const uint64_t limit = max_idx_payload_bytes();
  set_max_idx_payload_bytes(1 << 20);
  const std::string m = error_of<std::exception>([&] { read_idx(bomb); });
  set_max_idx_payload_bytes(limit);
  CHECK_MESSAGE_HAS(m, "more than the limit of 1048576 bytes");
  // A zero dimension makes the payload empty; the other dimensions must still multiply within
  // 64 bits.
  const std::string zero = dir.file("zero");
  write_raw(zero, idx_file(0x08, {0, 1000, 1000}, {}));
  CHECK(read_idx(zero).numel() == 0);
  const std::string zero_huge = dir.file("zero-huge");
  write_raw(zero_huge, idx_file(0x08, {0, 4000000000u, 4000000000u, 4}, {}));
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { read_idx(zero_huge); }), "more than 2^64 bytes");
}

TEST_CASE("idx: damaged gzip streams are errors naming the file") {
  TempDir dir;
  // Incompressible pixels, so the compressed stream is long enough to cut in the middle.
  Bytes pixels(4 * 50 * 50);
  uint32_t s = 12345;
  for (auto& p : pixels) {
    s = s * 1664525u + 1013904223u;
    p = static_cast<unsigned char>(s >> 24);
  }
  const std::string good = dir.file("good.gz");
  write_gz(good, images_file(4, 50, 50, pixels));
  CHECK(read_idx(good).shape() == Shape{4, 50, 50});
  const Bytes gz = read_bytes(good);
  REQUIRE(gz.size() > 5000);

  const std::string cut = dir.file("cut.gz");
  write_raw(cut, Bytes(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
  std::string m = error_of<std::exception>([&] { read_idx(cut); });
  CHECK_MESSAGE_HAS(m, cut);
  CHECK_MESSAGE_HAS(m, "gzip stream is truncated");

  // Cut just before the 8-byte trailer: all data present, CRC and length missing.
  const std::string no_trailer = dir.file("no_trailer.gz");
  write_raw(no_trailer, Bytes(gz.begin(), gz.end() - 8));
  m = error_of<std::exception>([&] { read_idx(no_trailer); });
  CHECK_MESSAGE_HAS(m, no_trailer);
  CHECK_MESSAGE_HAS(m, "gzip stream is truncated");

  // A wrong CRC in the trailer.
  Bytes bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0xFF;
  const std::string crc = dir.file("crc.gz");
  write_raw(crc, bad_crc);
  m = error_of<std::exception>([&] { read_idx(crc); });
  CHECK_MESSAGE_HAS(m, crc);
  CHECK_MESSAGE_HAS(m, "gzip stream is corrupt");
}

TEST_CASE("idx: labels, pairs and their checks") {
  TempDir dir;
  const std::string img = dir.file("img.gz"), lbl = dir.file("lbl");
  write_gz(img, images_file(3, 2, 2, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  write_raw(lbl, labels_file({9, 0, 3}));
  const Tensor y = read_idx_labels(lbl);
  CHECK(y.shape() == Shape{3});
  CHECK(y.to_vector() == std::vector<double>{9, 0, 3});
  const Tensor y64 = read_idx_labels(lbl, 10, int64);  // PyTorch's label dtype
  CHECK(y64.dtype() == int64);
  CHECK(y64.to_vector() == std::vector<double>{9, 0, 3});

  auto [X, y2] = read_mnist_pair(img, lbl);
  CHECK(X.shape() == Shape{3, 1, 2, 2});
  CHECK(X.at({2, 0, 1, 0}) == 10);
  CHECK(y2.to_vector() == std::vector<double>{9, 0, 3});

  // num_classes = 5 makes the 9 at index 0 the first bad label.
  std::string m = error_of<std::exception>([&] { read_mnist_pair(img, lbl, 5); });
  CHECK_MESSAGE_HAS(m, lbl);
  CHECK_MESSAGE_HAS(m, "label 9 at index 0 is not in [0, 5)");

  const std::string bad = dir.file("bad_labels.gz");
  write_gz(bad, labels_file({1, 2, 3, 12, 200}));
  m = error_of<std::exception>([&] { read_idx_labels(bad); });
  CHECK_MESSAGE_HAS(m, bad);
  CHECK_MESSAGE_HAS(m, "label out of range: label 12 at index 3");

  const std::string two = dir.file("two_labels");
  write_raw(two, labels_file({1, 2}));
  m = error_of<std::exception>([&] { read_mnist_pair(img, two); });
  CHECK_MESSAGE_HAS(m, img);
  CHECK_MESSAGE_HAS(m, two);
  CHECK_MESSAGE_HAS(m, "count mismatch");
  CHECK_MESSAGE_HAS(m, "3 images");
  CHECK_MESSAGE_HAS(m, "2 labels");
}

TEST_CASE("idx: load_fashion_mnist on a small generated directory") {
  TempDir dir;
  // 10 training images of 2x2 (image i has pixels 10i + {0, 5, 10, 20}), 4 test images.
  Bytes train, test;
  for (int i = 0; i < 10; ++i)
    for (int v : {0, 5, 10, 20}) train.push_back(static_cast<unsigned char>(10 * i + v));
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 4; ++k) test.push_back(static_cast<unsigned char>(255 - i - k));
  // Mixed: .gz and raw names are both found.
  write_gz(dir.file("train-images-idx3-ubyte.gz"), images_file(10, 2, 2, train));
  write_raw(dir.file("train-labels-idx1-ubyte"), labels_file({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  write_raw(dir.file("t10k-images-idx3-ubyte"), images_file(4, 2, 2, test));
  write_gz(dir.file("t10k-labels-idx1-ubyte.gz"), labels_file({3, 3, 1, 0}));

  const Dataset raw = load_fashion_mnist(dir.path.string(), 3, false);
  CHECK(raw.X_train.shape() == Shape{7, 1, 2, 2});
  CHECK(raw.X_val.shape() == Shape{3, 1, 2, 2});
  CHECK(raw.X_test.shape() == Shape{4, 1, 2, 2});
  CHECK(raw.y_val.to_vector() == std::vector<double>{7, 8, 9});  // the LAST 3 images
  CHECK(raw.y_train.to_vector() == std::vector<double>{0, 1, 2, 3, 4, 5, 6});
  CHECK(raw.y_test.to_vector() == std::vector<double>{3, 3, 1, 0});
  CHECK(raw.X_val.at({0, 0, 1, 1}) == doctest::Approx(90.0 / 255).epsilon(1e-7));
  CHECK(raw.X_test.at({0, 0, 0, 0}) == 1.0f);
  CHECK(raw.channel_mean.empty());

  const Dataset d = load_fashion_mnist(dir.path.string(), 3, true);
  // Training split pixels: 10i + v for i < 7 -> mean 30 + 8.75, population variance
  // var_i(10i) + var_v = 400 + 54.6875 (i and v independent over the grid).
  const double mean = 38.75 / 255, std = std::sqrt(454.6875) / 255;
  REQUIRE(d.channel_mean.size() == 1);
  CHECK(d.channel_mean[0] == doctest::Approx(mean).epsilon(1e-13));
  CHECK(d.channel_std[0] == doctest::Approx(std).epsilon(1e-13));
  const ChannelStats s = channel_stats(d.X_train);
  CHECK(s.mean[0] == doctest::Approx(0.0).epsilon(1e-6).scale(1));
  CHECK(s.std[0] == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(d.X_val.at({2, 0, 0, 1}) == doctest::Approx((95.0 / 255 - mean) / std).epsilon(1e-6));
  CHECK(d.X_test.at({3, 0, 1, 1}) == doctest::Approx((249.0 / 255 - mean) / std).epsilon(1e-6));

  std::string m = error_of<std::exception>([&] { load_fashion_mnist(dir.path.string(), 11); });
  CHECK_MESSAGE_HAS(m, "num_val 11 out of range");

  fs::remove(dir.file("t10k-labels-idx1-ubyte.gz"));
  m = error_of<std::exception>([&] { load_fashion_mnist(dir.path.string()); });
  CHECK_MESSAGE_HAS(m, dir.file("t10k-labels-idx1-ubyte"));
  CHECK_MESSAGE_HAS(m, "missing file");
  CHECK_MESSAGE_HAS(m, "DAGRAD_FASHION_MNIST_DIR");
}

TEST_CASE("idx: default_fashion_mnist_dir follows the environment") {
  const char* old = std::getenv("DAGRAD_FASHION_MNIST_DIR");
  const std::string saved = old ? old : "";
  ::setenv("DAGRAD_FASHION_MNIST_DIR", "/somewhere/else", 1);
  CHECK(default_fashion_mnist_dir() == "/somewhere/else");
  ::setenv("DAGRAD_FASHION_MNIST_DIR", "", 1);
  CHECK(default_fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
  ::unsetenv("DAGRAD_FASHION_MNIST_DIR");
  CHECK(default_fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
  if (old) ::setenv("DAGRAD_FASHION_MNIST_DIR", saved.c_str(), 1);
}

TEST_CASE("idx: the real Fashion-MNIST files") {
  const std::string dir = default_fashion_mnist_dir();
  if (!fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz")) {
    MESSAGE("Fashion-MNIST not found in " << dir << " (package dataset-fashion-mnist); skipped");
    return;
  }
  // Reference values computed from the raw files with Python's gzip module: first labels
  // (9 = ankle boot), the training-split statistics of x / 255 over the first 55000 images
  // (exactly, with fractions), and individual normalized pixels.
  const Dataset d = load_fashion_mnist(dir);
  CHECK(d.X_train.shape() == Shape{55000, 1, 28, 28});
  CHECK(d.X_val.shape() == Shape{5000, 1, 28, 28});
  CHECK(d.X_test.shape() == Shape{10000, 1, 28, 28});
  CHECK(d.y_train.shape() == Shape{55000});
  CHECK(d.y_val.shape() == Shape{5000});
  CHECK(d.y_test.shape() == Shape{10000});
  CHECK(d.X_train.dtype() == float32);

  const std::vector<double> first{9, 0, 0, 3, 0, 2, 7, 2};
  for (size_t i = 0; i < first.size(); ++i) CHECK(d.y_train.at({int64_t(i)}) == first[i]);
  CHECK(d.y_test.at({0}) == 9);
  CHECK(d.y_test.at({1}) == 2);
  CHECK(d.y_val.at({0}) == 0);     // training label 55000
  CHECK(d.y_val.at({4999}) == 5);  // training label 59999

  // Each class has exactly 6000 training images (train + val) and labels are in [0, 10).
  std::vector<int> counts(10, 0);
  int bad = 0;
  for (const Tensor& y : {d.y_train, d.y_val})
    for (double v : y.to_vector()) {
      if (v >= 0 && v <= 9 && v == std::floor(v))
        ++counts[static_cast<int>(v)];
      else
        ++bad;
    }
  CHECK(bad == 0);
  for (int c = 0; c < 10; ++c) CHECK(counts[c] == 6000);

  REQUIRE(d.channel_mean.size() == 1);
  CHECK(d.channel_mean[0] == doctest::Approx(0.2858173055585871).epsilon(1e-13));
  CHECK(d.channel_std[0] == doctest::Approx(0.352937206261364).epsilon(1e-13));
  CHECK(d.X_val.at({0, 0, 10, 10}) == doctest::Approx(1.434644883693391).epsilon(1e-6));
  CHECK(d.X_test.at({0, 0, 14, 14}) == doctest::Approx(0.4124111623559764).epsilon(1e-6));

  // Raw reading: pixels unscaled, first test image sums to 33456.
  const std::string test_images = (fs::path(dir) / "t10k-images-idx3-ubyte.gz").string();
  const std::string test_labels = (fs::path(dir) / "t10k-labels-idx1-ubyte.gz").string();
  auto [X, y] = read_mnist_pair(test_images, test_labels);
  CHECK(X.shape() == Shape{10000, 1, 28, 28});
  double sum0 = 0;
  const float* p = X.data<float>();
  for (int i = 0; i < 784; ++i) sum0 += p[i];
  CHECK(sum0 == 33456);
  CHECK(X.at({0, 0, 14, 14}) == 110);
  const Tensor train_labels =
      read_idx_labels((fs::path(dir) / "train-labels-idx1-ubyte.gz").string());
  CHECK(train_labels.shape() == Shape{60000});
  CHECK(train_labels.at({59995}) == 5);
}
