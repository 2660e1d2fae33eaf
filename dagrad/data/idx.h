// IDX files (MNIST, Fashion-MNIST): gzip-compressed or raw, and the ready-made Fashion-MNIST
// train/val/test split. Every error is a std::runtime_error that names the file and the problem.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::data {

// A classification data set, already split. Labels are class indices stored as floats, shape
// (N). channel_mean / channel_std hold the per-channel statistics (of the training split) that
// were used to normalize the images; both are empty when nothing was normalized.
struct Dataset {
  Tensor X_train, y_train, X_val, y_val, X_test, y_test;
  std::vector<double> channel_mean, channel_std;
};

// Reads any IDX file: magic 0x00 0x00 <type> <ndims>, ndims big-endian uint32 sizes, then the
// data, big-endian. Types: 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32,
// 0x0E float64; anything else is rejected naming the type code. ndims must be 1..8. gzip is
// detected by the magic bytes 1f 8b (not by the file name). The file must hold exactly the
// bytes the header promises (a shorter or longer payload is an error giving expected vs got).
// Values are converted unchanged (ubyte pixels come out as 0..255); with dtype int64 (labels
// as PyTorch keeps them) float types truncate toward zero, and a value int64 cannot hold is an
// error naming the file. A header promising more
// than max_idx_payload_bytes() of data (default 2 GiB, after decompression) is refused before
// anything is allocated or decompressed; so is a size that overflows.
Tensor read_idx(const std::string& path, Dtype dtype = float32);

// The largest payload the IDX readers accept (default 2^31 bytes: EMNIST's largest file is
// 550 MB). Process-wide; thread-safe.
uint64_t max_idx_payload_bytes();
void set_max_idx_payload_bytes(uint64_t bytes);

// IDX images: type ubyte, 3 dimensions (magic 0x00000803) -> (N, rows, cols), values 0..255.
Tensor read_idx_images(const std::string& path, Dtype dtype = float32);
// IDX labels: type ubyte, 1 dimension (magic 0x00000801) -> (N). A label >= num_classes is an
// error naming the file, the index of the first bad label and its value.
Tensor read_idx_labels(const std::string& path, int num_classes = 10, Dtype dtype = float32);

// An images file and its labels file: images (N, 1, rows, cols) in 0..255 and labels (N).
// A different number of images and labels is an error naming both files.
std::pair<Tensor, Tensor> read_mnist_pair(const std::string& images_path,
                                          const std::string& labels_path, int num_classes = 10,
                                          Dtype dtype = float32);

// $DAGRAD_FASHION_MNIST_DIR if set and non-empty, else /usr/share/datasets/fashion-mnist
// (the Debian package dataset-fashion-mnist).
std::string default_fashion_mnist_dir();

// Fashion-MNIST from `dir` (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; the .gz name is tried first).
// X is (N, 1, 28, 28) float32 scaled to [0, 1]; the validation set is the LAST num_val training
// images (cs231n style), the training set the first 60000 - num_val, the test set t10k. If
// `normalize`, every split becomes (x - mean) / std with the mean and population standard
// deviation of the training split's pixels x (after the validation images were taken out),
// computed exactly in double; they are returned in Dataset::channel_mean / channel_std.
Dataset load_fashion_mnist(const std::string& dir = default_fashion_mnist_dir(), int num_val = 5000,
                           bool normalize = true);

}  // namespace dagrad::data
