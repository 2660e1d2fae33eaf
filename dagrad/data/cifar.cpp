#include "dagrad/data/cifar.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include "dagrad/data/preprocess.h"

namespace dagrad::data {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(fmt::format("read_cifar10_batch: '{}': {}", path, what));
}

std::vector<unsigned char> read_file(const std::string& path) {
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(path, fmt::format("cannot open file: {}", std::strerror(errno)));
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, fmt::format("cannot get the file size: {}", ec.message()));
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  const size_t got = std::fread(bytes.data(), 1, bytes.size(), f.get());
  if (got != bytes.size())
    fail(path, fmt::format("read error: expected {} bytes, got {}", bytes.size(), got));
  return bytes;
}

}  // namespace

void read_cifar10_batch(const std::string& path, Tensor& X, Tensor& y, Dtype dtype) {
  const std::vector<unsigned char> bytes = read_file(path);
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size == 0 || size % cifar10_record_bytes != 0)
    fail(path, fmt::format("size {} bytes is not a positive multiple of {} (1 label byte + 3072 "
                           "pixel bytes per record): truncated or not a CIFAR-10 batch; {} whole "
                           "records and {} bytes left over",
                           size, cifar10_record_bytes, size / cifar10_record_bytes,
                           size % cifar10_record_bytes));
  const int64_t n = size / cifar10_record_bytes;
  for (int64_t i = 0; i < n; ++i) {
    const unsigned label = bytes[static_cast<size_t>(i * cifar10_record_bytes)];
    if (label > 9)
      fail(path,
           fmt::format("label out of range: label {} in record {} is not in [0, 10)", label, i));
  }
  constexpr int64_t pixels = cifar10_record_bytes - 1;
  Tensor Xo = empty({n, 3, 32, 32}, dtype);
  Tensor yo = empty({n}, dtype);
  DAGRAD_DISPATCH_ALL(dtype, {  // bytes: exact in every dtype
    T* xp = Xo.data<T>();
    T* yp = yo.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      const unsigned char* rec = bytes.data() + i * cifar10_record_bytes;
      yp[i] = static_cast<T>(rec[0]);
      for (int64_t j = 0; j < pixels; ++j) xp[i * pixels + j] = static_cast<T>(rec[1 + j]);
    }
  });
  X = Xo;
  y = yo;
}

Dataset load_cifar10(const std::string& dir, int num_val, bool subtract_mean) {
  namespace fs = std::filesystem;
  auto file = [&](const std::string& name) {
    const std::string p = (fs::path(dir) / name).string();
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      throw std::runtime_error(fmt::format(
          "load_cifar10: missing file '{}' (expected data_batch_1.bin .. data_batch_5.bin and "
          "test_batch.bin of the CIFAR-10 binary version in '{}')",
          p, dir));
    return p;
  };
  std::vector<std::string> train_files;
  for (int b = 1; b <= 5; ++b) train_files.push_back(file(fmt::format("data_batch_{}.bin", b)));
  const std::string test_file = file("test_batch.bin");

  std::vector<Tensor> Xs(5), ys(5);
  int64_t n = 0;
  for (int b = 0; b < 5; ++b) {
    read_cifar10_batch(train_files[b], Xs[b], ys[b]);
    n += Xs[b].size(0);
  }
  if (num_val < 0 || num_val > n)
    throw std::invalid_argument(fmt::format(
        "load_cifar10: num_val {} out of range: the training batches in '{}' hold {} images",
        num_val, dir, n));
  // Concatenate the batches: the records are contiguous rows.
  Tensor X = empty({n, 3, 32, 32}, float32), y = empty({n}, float32);
  int64_t row = 0;
  for (int b = 0; b < 5; ++b) {
    const int64_t m = Xs[b].size(0);
    std::memcpy(X.data<float>() + row * 3072, Xs[b].data<float>(), m * 3072 * sizeof(float));
    std::memcpy(y.data<float>() + row, ys[b].data<float>(), m * sizeof(float));
    row += m;
    Xs[b] = Tensor();
  }
  Dataset d = split(X, y, n - num_val, num_val, 0);
  X = Tensor();
  read_cifar10_batch(test_file, d.X_test, d.y_test);
  if (subtract_mean) {
    if (d.X_train.size(0) == 0)
      throw std::invalid_argument(
          "load_cifar10: cannot subtract the mean image of an empty training split");
    const Tensor mean = mean_image(d.X_train);
    d.X_train = subtract_mean_image(d.X_train, mean);
    d.X_val = subtract_mean_image(d.X_val, mean);
    d.X_test = subtract_mean_image(d.X_test, mean);
  }
  return d;
}

}  // namespace dagrad::data
