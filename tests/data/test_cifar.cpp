#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/data/cifar.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::data;
using namespace dagrad::test_util;
namespace fs = std::filesystem;

namespace {

// Pixel value of record `r` of batch `b` at (c, i, j): a pattern that identifies all of them.
unsigned char pixel(int b, int r, int c, int i, int j) {
  return static_cast<unsigned char>((b * 41 + r * 7 + c * 50 + i * 3 + j) % 256);
}

Bytes batch(int b, int n, const std::vector<int>& labels) {
  Bytes out;
  for (int r = 0; r < n; ++r) {
    out.push_back(static_cast<unsigned char>(labels[r % labels.size()]));
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 32; ++i)
        for (int j = 0; j < 32; ++j) out.push_back(pixel(b, r, c, i, j));
  }
  return out;
}

}  // namespace

TEST_CASE("cifar: one batch file, layout channel-first") {
  TempDir dir;
  const std::string p = dir.file("data_batch_1.bin");
  write_raw(p, batch(1, 3, {6, 9, 0}));
  Tensor X, y;
  read_cifar10_batch(p, X, y);
  CHECK(X.shape() == Shape{3, 3, 32, 32});
  CHECK(y.shape() == Shape{3});
  CHECK(X.dtype() == float32);
  CHECK(y.to_vector() == std::vector<double>{6, 9, 0});
  CHECK(X.at({0, 0, 0, 0}) == pixel(1, 0, 0, 0, 0));
  CHECK(X.at({2, 1, 5, 7}) == pixel(1, 2, 1, 5, 7));
  CHECK(X.at({1, 2, 31, 30}) == pixel(1, 1, 2, 31, 30));
  Tensor X64, y64;
  read_cifar10_batch(p, X64, y64, float64);
  CHECK(X64.dtype() == float64);
  CHECK(X64.to_vector() == X.to_vector());
}

TEST_CASE("cifar: bad batch files name the file and the problem") {
  TempDir dir;
  Tensor X, y;
  const std::string cut = dir.file("cut.bin");
  Bytes b = batch(0, 2, {1});
  b.resize(b.size() - 100);
  write_raw(cut, b);
  std::string m = error_of<std::exception>([&] { read_cifar10_batch(cut, X, y); });
  CHECK_MESSAGE_HAS(m, cut);
  CHECK_MESSAGE_HAS(m, "size 6046 bytes is not a positive multiple of 3073");
  CHECK_MESSAGE_HAS(m, "1 whole records and 2973 bytes left over");

  const std::string empty = dir.file("empty.bin");
  write_raw(empty, {});
  m = error_of<std::exception>([&] { read_cifar10_batch(empty, X, y); });
  CHECK_MESSAGE_HAS(m, empty);
  CHECK_MESSAGE_HAS(m, "size 0 bytes");

  const std::string bad_label = dir.file("bad_label.bin");
  write_raw(bad_label, batch(0, 4, {3, 9, 10, 200}));
  m = error_of<std::exception>([&] { read_cifar10_batch(bad_label, X, y); });
  CHECK_MESSAGE_HAS(m, bad_label);
  CHECK_MESSAGE_HAS(m, "label 10 in record 2");

  const std::string missing = dir.file("nope.bin");
  m = error_of<std::exception>([&] { read_cifar10_batch(missing, X, y); });
  CHECK_MESSAGE_HAS(m, missing);
  CHECK_MESSAGE_HAS(m, "cannot open file");
  CHECK_THROWS_AS(read_cifar10_batch(missing, X, y), std::runtime_error);
  CHECK_FALSE(X.defined());  // outputs untouched on error
}

TEST_CASE("cifar: load_cifar10 concatenates, splits and subtracts the mean image") {
  TempDir dir;
  // Batches of 2 records each (10 training images), test batch of 3.
  for (int b = 1; b <= 5; ++b)
    write_raw(dir.file("data_batch_" + std::to_string(b) + ".bin"), batch(b, 2, {b, b + 4}));
  write_raw(dir.file("test_batch.bin"), batch(7, 3, {2, 1, 0}));

  const Dataset raw = load_cifar10(dir.path.string(), 3, false);
  CHECK(raw.X_train.shape() == Shape{7, 3, 32, 32});
  CHECK(raw.X_val.shape() == Shape{3, 3, 32, 32});
  CHECK(raw.X_test.shape() == Shape{3, 3, 32, 32});
  CHECK(raw.y_train.to_vector() == std::vector<double>{1, 5, 2, 6, 3, 7, 4});
  CHECK(raw.y_val.to_vector() == std::vector<double>{8, 5, 9});  // the last three images
  CHECK(raw.y_test.to_vector() == std::vector<double>{2, 1, 0});
  CHECK(raw.X_train.at({2, 1, 4, 4}) == pixel(2, 0, 1, 4, 4));  // batch 2, record 0
  CHECK(raw.X_val.at({2, 2, 0, 9}) == pixel(5, 1, 2, 0, 9));    // batch 5, record 1
  CHECK(raw.X_test.at({1, 0, 3, 3}) == pixel(7, 1, 0, 3, 3));

  const Dataset d = load_cifar10(dir.path.string(), 3);
  // Mean image over the 7 training images at one pixel, computed from the pattern.
  const int64_t c = 2, i = 17, j = 30;
  double mean = 0;
  const int recs[7][2] = {{1, 0}, {1, 1}, {2, 0}, {2, 1}, {3, 0}, {3, 1}, {4, 0}};
  for (const auto& br : recs) mean += pixel(br[0], br[1], int(c), int(i), int(j));
  mean /= 7;
  CHECK(d.X_train.at({0, c, i, j}) == doctest::Approx(pixel(1, 0, 2, 17, 30) - mean));
  CHECK(d.X_val.at({0, c, i, j}) == doctest::Approx(pixel(4, 1, 2, 17, 30) - mean));
  CHECK(d.X_test.at({2, c, i, j}) == doctest::Approx(pixel(7, 2, 2, 17, 30) - mean));
  CHECK(d.y_val.to_vector() == raw.y_val.to_vector());

  std::string m = error_of<std::exception>([&] { load_cifar10(dir.path.string(), 11); });
  CHECK_MESSAGE_HAS(m, "num_val 11 out of range");

  fs::remove(dir.file("data_batch_4.bin"));
  m = error_of<std::exception>([&] { load_cifar10(dir.path.string()); });
  CHECK_MESSAGE_HAS(m, dir.file("data_batch_4.bin"));
  CHECK_MESSAGE_HAS(m, "missing file");
}
