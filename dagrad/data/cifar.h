// CIFAR-10 binary version (cifar-10-batches-bin): data_batch_1.bin .. data_batch_5.bin and
// test_batch.bin, each a sequence of records of 1 label byte (0..9) + 3072 pixel bytes (1024
// red, 1024 green, 1024 blue, each 32x32 row-major, i.e. already channel-first). Every error is
// a std::runtime_error naming the file and the problem.
#pragma once
#include <string>

#include "dagrad/autograd/tensor.h"
#include "dagrad/data/idx.h"  // Dataset

namespace dagrad::data {

inline constexpr int64_t cifar10_record_bytes = 1 + 3 * 32 * 32;

// Reads one batch file: X (N, 3, 32, 32) with pixel values 0..255, y (N) labels 0..9.
// The file size must be a positive multiple of 3073 bytes; a label > 9 is an error naming the
// record index.
void read_cifar10_batch(const std::string& path, Tensor& X, Tensor& y, Dtype dtype = float32);

// All five training batches and the test batch from `dir`. The validation set is the LAST
// num_val training images (cs231n: 49000 train + 1000 val), the test set is test_batch.bin.
// Pixels stay in 0..255; if `subtract_mean`, the mean image of the training split is subtracted
// from every split (cs231n's preprocessing). A missing file is an error naming it.
Dataset load_cifar10(const std::string& dir, int num_val = 1000, bool subtract_mean = true);

}  // namespace dagrad::data
