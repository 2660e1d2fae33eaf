// Preprocessing of image data sets: layout changes, mean-image subtraction, per-channel
// normalization, splits and row selection. Plain kernels: results are new tensors without
// autograd history (inputs are read as values, never recorded). float32 and float64;
// statistics are accumulated in double. Errors are std::invalid_argument naming the function
// and the offending shapes or values.
#pragma once
#include <cstdint>
#include <vector>

#include "dagrad/autograd/tensor.h"
#include "dagrad/data/idx.h"  // Dataset

namespace dagrad::data {

// (N, H, W, C) -> (N, C, H, W) and back.
Tensor nhwc_to_nchw(const Tensor& X);
Tensor nchw_to_nhwc(const Tensor& X);

// Mean over the first axis: X (N, ...) -> (...). N must be > 0.
Tensor mean_image(const Tensor& X);
// X - mean for every row; mean must have shape X.shape[1:].
Tensor subtract_mean_image(const Tensor& X, const Tensor& mean);

// Per-channel statistics over every axis except axis 1 (N, H, W for an NCHW batch; N for (N, C)).
// std is the population standard deviation (divide by the count, like numpy's default).
struct ChannelStats {
  std::vector<double> mean, std;
};
ChannelStats channel_stats(const Tensor& X);
// (x - mean[c]) / std[c] on axis 1. Throws if the number of channels differs or a std is not
// positive and finite (a constant channel cannot be normalized).
Tensor normalize_channels(const Tensor& X, const ChannelStats& stats);
// The inverse: x * std[c] + mean[c] (e.g. to show normalized images).
Tensor denormalize_channels(const Tensor& X, const ChannelStats& stats);

// Rows [begin, end) of X along axis 0, copied.
Tensor slice_rows(const Tensor& X, int64_t begin, int64_t end);
// Rows indices[0], indices[1], ... of X along axis 0 (repeats allowed), copied; every index
// must lie in [0, N).
Tensor take_rows(const Tensor& X, const std::vector<int64_t>& indices);

// cs231n-style split of one labelled set, in order: rows [0, num_train) train, the next
// num_val rows validation, the next num_test rows test (num_test < 0: all remaining rows).
// Throws if the counts are negative or add up to more than N, or X and y disagree on N.
Dataset split(const Tensor& X, const Tensor& y, int64_t num_train, int64_t num_val,
              int64_t num_test = -1);

}  // namespace dagrad::data
