#include "dagrad/data/preprocess.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace dagrad::data {

namespace {

void require_defined(const Tensor& X, const char* fn) {
  if (!X.defined()) throw std::invalid_argument(fmt::format("{}: undefined tensor", fn));
}

void require_dim(const Tensor& X, int ndim, const char* fn) {
  require_defined(X, fn);
  if (X.dim() != ndim)
    throw std::invalid_argument(
        fmt::format("{}: expected a {}-D tensor, got shape {}", fn, ndim, to_string(X.shape())));
}

// Shape (N, C, H, W)-style split: channels on axis 1, `outer` = N, `inner` = product of the rest.
struct ChannelLayout {
  int64_t outer, channels, inner;
};

ChannelLayout channel_layout(const Tensor& X, const char* fn) {
  require_defined(X, fn);
  if (X.dim() < 2)
    throw std::invalid_argument(
        fmt::format("{}: expected a tensor with a channel axis (N, C, ...), got shape {}", fn,
                    to_string(X.shape())));
  int64_t inner = 1;
  for (int i = 2; i < X.dim(); ++i) inner *= X.size(i);
  return {X.size(0), X.size(1), inner};
}

void check_stats(const ChannelStats& s, int64_t channels, const Tensor& X, const char* fn,
                 bool need_positive_std) {
  if (static_cast<int64_t>(s.mean.size()) != channels ||
      static_cast<int64_t>(s.std.size()) != channels)
    throw std::invalid_argument(
        fmt::format("{}: stats have {} means and {} stds but the input of shape {} has {} channels",
                    fn, s.mean.size(), s.std.size(), to_string(X.shape()), channels));
  for (int64_t c = 0; c < channels; ++c) {
    if (!std::isfinite(s.mean[c]) || !std::isfinite(s.std[c]) ||
        (need_positive_std && !(s.std[c] > 0.0)))
      throw std::invalid_argument(fmt::format(
          "{}: channel {} has mean {} and std {}; need finite values and a positive std", fn, c,
          s.mean[c], s.std[c]));
  }
}

// out[n, c, ...] = f(in[n, c, ...], c), computed in double.
template <typename F>
Tensor map_channels(const Tensor& X, const char* fn, F f) {
  const ChannelLayout l = channel_layout(X, fn);
  Tensor out = empty(X.shape(), X.dtype());
  DAGRAD_DISPATCH(X.dtype(), {
    const T* src = X.data<T>();
    T* dst = out.data<T>();
    for (int64_t n = 0; n < l.outer; ++n)
      for (int64_t c = 0; c < l.channels; ++c) {
        const int64_t base = (n * l.channels + c) * l.inner;
        for (int64_t i = 0; i < l.inner; ++i)
          dst[base + i] = static_cast<T>(f(static_cast<double>(src[base + i]), c));
      }
  });
  return out;
}

// Permutes a 4-D tensor: out[i0, i1, i2, i3] = in[...] with in's axes given by `perm`
// (out axis k is in axis perm[k]).
Tensor permute4(const Tensor& X, const int perm[4]) {
  Shape in_shape = X.shape();
  Shape out_shape{in_shape[perm[0]], in_shape[perm[1]], in_shape[perm[2]], in_shape[perm[3]]};
  const Shape in_strides = contiguous_strides(in_shape);
  const int64_t s0 = in_strides[perm[0]], s1 = in_strides[perm[1]], s2 = in_strides[perm[2]],
                s3 = in_strides[perm[3]];
  Tensor out = empty(out_shape, X.dtype());
  DAGRAD_DISPATCH(X.dtype(), {
    const T* src = X.data<T>();
    T* dst = out.data<T>();
    for (int64_t a = 0; a < out_shape[0]; ++a)
      for (int64_t b = 0; b < out_shape[1]; ++b)
        for (int64_t c = 0; c < out_shape[2]; ++c) {
          const T* p = src + a * s0 + b * s1 + c * s2;
          for (int64_t d = 0; d < out_shape[3]; ++d) *dst++ = p[d * s3];
        }
  });
  return out;
}

int64_t row_numel(const Tensor& X) {
  int64_t r = 1;
  for (int i = 1; i < X.dim(); ++i) r *= X.size(i);
  return r;
}

}  // namespace

Tensor nhwc_to_nchw(const Tensor& X) {
  require_dim(X, 4, "nhwc_to_nchw");
  static const int perm[4] = {0, 3, 1, 2};
  return permute4(X, perm);
}

Tensor nchw_to_nhwc(const Tensor& X) {
  require_dim(X, 4, "nchw_to_nhwc");
  static const int perm[4] = {0, 2, 3, 1};
  return permute4(X, perm);
}

Tensor mean_image(const Tensor& X) {
  require_defined(X, "mean_image");
  if (X.dim() < 1 || X.size(0) == 0)
    throw std::invalid_argument(fmt::format(
        "mean_image: need at least one row (N, ...), got shape {}", to_string(X.shape())));
  const int64_t n = X.size(0), r = row_numel(X);
  std::vector<double> acc(static_cast<size_t>(r), 0.0);
  DAGRAD_DISPATCH(X.dtype(), {
    const T* src = X.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < r; ++j) acc[j] += static_cast<double>(src[i * r + j]);
  });
  Shape out_shape(X.shape().begin() + 1, X.shape().end());
  Tensor out = empty(out_shape, X.dtype());
  DAGRAD_DISPATCH(X.dtype(), {
    T* dst = out.data<T>();
    for (int64_t j = 0; j < r; ++j) dst[j] = static_cast<T>(acc[j] / static_cast<double>(n));
  });
  return out;
}

Tensor subtract_mean_image(const Tensor& X, const Tensor& mean) {
  require_defined(X, "subtract_mean_image");
  require_defined(mean, "subtract_mean_image");
  const Shape row_shape = X.dim() >= 1 ? Shape(X.shape().begin() + 1, X.shape().end()) : Shape{};
  if (X.dim() < 1 || mean.shape() != row_shape)
    throw std::invalid_argument(
        fmt::format("subtract_mean_image: mean of shape {} does not match the rows of X of "
                    "shape {} (expected mean shape {})",
                    to_string(mean.shape()), to_string(X.shape()), to_string(row_shape)));
  const Tensor m = mean.dtype() == X.dtype() ? mean : mean.detach().to(X.dtype());
  const int64_t n = X.size(0), r = row_numel(X);
  Tensor out = empty(X.shape(), X.dtype());
  DAGRAD_DISPATCH(X.dtype(), {
    const T* src = X.data<T>();
    const T* mp = m.data<T>();
    T* dst = out.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < r; ++j) dst[i * r + j] = src[i * r + j] - mp[j];
  });
  return out;
}

ChannelStats channel_stats(const Tensor& X) {
  const ChannelLayout l = channel_layout(X, "channel_stats");
  const int64_t count = l.outer * l.inner;
  if (count == 0)
    throw std::invalid_argument(fmt::format(
        "channel_stats: no values per channel in a tensor of shape {}", to_string(X.shape())));
  ChannelStats s;
  s.mean.assign(static_cast<size_t>(l.channels), 0.0);
  s.std.assign(static_cast<size_t>(l.channels), 0.0);
  // Two passes (mean, then squared deviations) for accuracy on large sets.
  DAGRAD_DISPATCH(X.dtype(), {
    const T* src = X.data<T>();
    for (int64_t n = 0; n < l.outer; ++n)
      for (int64_t c = 0; c < l.channels; ++c) {
        const T* p = src + (n * l.channels + c) * l.inner;
        double acc = 0.0;
        for (int64_t i = 0; i < l.inner; ++i) acc += static_cast<double>(p[i]);
        s.mean[c] += acc;
      }
    for (int64_t c = 0; c < l.channels; ++c) s.mean[c] /= static_cast<double>(count);
    for (int64_t n = 0; n < l.outer; ++n)
      for (int64_t c = 0; c < l.channels; ++c) {
        const T* p = src + (n * l.channels + c) * l.inner;
        const double m = s.mean[c];
        double acc = 0.0;
        for (int64_t i = 0; i < l.inner; ++i) {
          const double d = static_cast<double>(p[i]) - m;
          acc += d * d;
        }
        s.std[c] += acc;
      }
    for (int64_t c = 0; c < l.channels; ++c)
      s.std[c] = std::sqrt(s.std[c] / static_cast<double>(count));
  });
  return s;
}

Tensor normalize_channels(const Tensor& X, const ChannelStats& stats) {
  const ChannelLayout l = channel_layout(X, "normalize_channels");
  check_stats(stats, l.channels, X, "normalize_channels", true);
  return map_channels(X, "normalize_channels",
                      [&](double x, int64_t c) { return (x - stats.mean[c]) / stats.std[c]; });
}

Tensor denormalize_channels(const Tensor& X, const ChannelStats& stats) {
  const ChannelLayout l = channel_layout(X, "denormalize_channels");
  check_stats(stats, l.channels, X, "denormalize_channels", false);
  return map_channels(X, "denormalize_channels",
                      [&](double x, int64_t c) { return x * stats.std[c] + stats.mean[c]; });
}

Tensor slice_rows(const Tensor& X, int64_t begin, int64_t end) {
  require_defined(X, "slice_rows");
  if (X.dim() < 1)
    throw std::invalid_argument(
        fmt::format("slice_rows: need a tensor with rows, got shape {}", to_string(X.shape())));
  const int64_t n = X.size(0);
  if (begin < 0 || end < begin || end > n)
    throw std::invalid_argument(fmt::format("slice_rows: rows [{}, {}) out of range for shape {}",
                                            begin, end, to_string(X.shape())));
  Shape out_shape = X.shape();
  out_shape[0] = end - begin;
  Tensor out = empty(out_shape, X.dtype());
  const size_t row_bytes = static_cast<size_t>(row_numel(X)) * dtype_size(X.dtype());
  if (end > begin)
    std::memcpy(out.raw_data(), static_cast<const char*>(X.raw_data()) + begin * row_bytes,
                static_cast<size_t>(end - begin) * row_bytes);
  return out;
}

Tensor take_rows(const Tensor& X, const std::vector<int64_t>& indices) {
  require_defined(X, "take_rows");
  if (X.dim() < 1)
    throw std::invalid_argument(
        fmt::format("take_rows: need a tensor with rows, got shape {}", to_string(X.shape())));
  const int64_t n = X.size(0);
  for (size_t k = 0; k < indices.size(); ++k)
    if (indices[k] < 0 || indices[k] >= n)
      throw std::invalid_argument(
          fmt::format("take_rows: index {} (position {}) out of range for {} rows (shape {})",
                      indices[k], k, n, to_string(X.shape())));
  Shape out_shape = X.shape();
  out_shape[0] = static_cast<int64_t>(indices.size());
  Tensor out = empty(out_shape, X.dtype());
  const size_t row_bytes = static_cast<size_t>(row_numel(X)) * dtype_size(X.dtype());
  const char* src = static_cast<const char*>(X.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (size_t k = 0; k < indices.size(); ++k)
    std::memcpy(dst + k * row_bytes, src + indices[k] * row_bytes, row_bytes);
  return out;
}

Dataset split(const Tensor& X, const Tensor& y, int64_t num_train, int64_t num_val,
              int64_t num_test) {
  require_defined(X, "split");
  require_defined(y, "split");
  if (X.dim() < 1 || y.dim() < 1 || X.size(0) != y.size(0))
    throw std::invalid_argument(
        fmt::format("split: X of shape {} and y of shape {} must have the same number of rows",
                    to_string(X.shape()), to_string(y.shape())));
  const int64_t n = X.size(0);
  if (num_train < 0 || num_val < 0)
    throw std::invalid_argument(
        fmt::format("split: negative count (num_train {}, num_val {})", num_train, num_val));
  if (num_test < 0) num_test = std::max<int64_t>(0, n - num_train - num_val);
  if (num_train + num_val + num_test > n)
    throw std::invalid_argument(fmt::format(
        "split: num_train {} + num_val {} + num_test {} = {} exceeds the {} rows available",
        num_train, num_val, num_test, num_train + num_val + num_test, n));
  Dataset d;
  const int64_t a = num_train, b = a + num_val, c = b + num_test;
  d.X_train = slice_rows(X, 0, a);
  d.y_train = slice_rows(y, 0, a);
  d.X_val = slice_rows(X, a, b);
  d.y_val = slice_rows(y, a, b);
  d.X_test = slice_rows(X, b, c);
  d.y_test = slice_rows(y, b, c);
  return d;
}

}  // namespace dagrad::data
