// Fuzz target: CIFAR-10 binary batches (dagrad/data/cifar.h).
#include "dagrad/data/cifar.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = dagrad::fuzz::as_file(dagrad::fuzz::bytes_of(data, size));
  dagrad::fuzz::expect_clean([&] {
    dagrad::Tensor X, y;
    dagrad::data::read_cifar10_batch(path, X, y);
    dagrad::fuzz::consume(X);
    dagrad::fuzz::consume(y);
  });
  return 0;
}
