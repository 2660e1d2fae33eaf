#include "autograd/ops/reduction.h"

#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/kernels.h"
#include "autograd/ops/shape_ops.h"

namespace dagrad {

namespace {

// Sorted, de-duplicated, normalized axes; empty input means every axis.
std::vector<int> normalize_axes(const std::vector<int64_t>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int64_t a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw std::invalid_argument(fmt::format("{}: an axis is repeated", op));
  return out;
}

Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keepdim) {
  Shape out;
  for (int i = 0; i < s.size(); ++i) {
    const bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced) out.push_back(s[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Raw sum over one axis, keeping it as size 1.
Tensor sum_axis_raw(const Tensor& x, int axis) {
  Shape os = x.shape();
  os[axis] = 1;
  Tensor out = zeros(os, x.dtype());
  const auto sp = kernels::split_at_axis(x.shape(), axis);
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o) {
      const T* src = px + o * sp.len * sp.inner;
      T* dst = po + o * sp.inner;
      if (sp.inner == 1) {
        double acc = 0;  // a long run: accumulate in double
        for (int64_t l = 0; l < sp.len; ++l) acc += src[l];
        dst[0] = static_cast<T>(acc);
      } else {
        for (int64_t l = 0; l < sp.len; ++l)
          for (int64_t i = 0; i < sp.inner; ++i) dst[i] += src[l * sp.inner + i];
      }
    }
  });
  return out;
}

// Raw sum over `axes` (sorted), result with those axes kept as 1.
Tensor sum_axes_raw(const Tensor& x, const std::vector<int>& axes) {
  Tensor cur = x;
  for (int a : axes) cur = sum_axis_raw(cur, a);
  return cur;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes_in, bool keepdim) {
  std::vector<int> axes = normalize_axes(axes_in, x.dim(), "sum");
  if (axes_in.empty())
    for (int i = 0; i < x.dim(); ++i) axes.push_back(i);
  Tensor out;
  if (axes.size() == static_cast<std::size_t>(x.dim())) {
    out = zeros(reduced_shape(x.shape(), axes, keepdim), x.dtype());
    DAGRAD_DISPATCH(x.dtype(), {
      const T* p = x.data<T>();
      double acc = 0;
      for (int64_t i = 0, n = x.numel(); i < n; ++i) acc += p[i];
      out.data<T>()[0] = static_cast<T>(acc);
    });
  } else {
    out = sum_axes_raw(x, axes);
    out = out.detach();
    out.impl().shape = reduced_shape(x.shape(), axes, keepdim);
  }
  const Shape kept = reduced_shape(x.shape(), axes, true);
  // d sum(x)/dx = 1: the gradient is broadcast back over the summed axes
  return record(
      "sum", out, {x},
      [xs = x.shape(), kept](const Tensor& g, const Tensor&) -> GradList {
        return {broadcast_to(reshape(g, kept), xs)};
      },
      [axes_in, keepdim](const TangentList& t, const Tensor&) {
        return sum(t[0], axes_in, keepdim);
      });
}

Tensor sum(const Tensor& x) { return sum(x, std::vector<int64_t>{}, false); }
Tensor sum(const Tensor& x, int64_t axis, bool keepdim) {
  return sum(x, std::vector<int64_t>{axis}, keepdim);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  Tensor s = sum(x, axes, keepdim);
  const int64_t count = s.numel() == 0 ? 0 : x.numel() / s.numel();
  if (count == 0)
    throw std::invalid_argument(
        fmt::format("mean: reduction over zero elements (shape {})", to_string(x.shape())));
  return s * (1.0 / static_cast<double>(count));
}
Tensor mean(const Tensor& x) { return mean(x, std::vector<int64_t>{}, false); }
Tensor mean(const Tensor& x, int64_t axis, bool keepdim) {
  return mean(x, std::vector<int64_t>{axis}, keepdim);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int lead = g.dim() - shape.size();
  if (lead < 0)
    throw std::invalid_argument(fmt::format("sum_to: cannot reduce shape {} to the larger {}",
                                            to_string(g.shape()), to_string(shape)));
  std::vector<int64_t> axes;
  for (int i = 0; i < g.dim(); ++i) {
    if (i < lead) {
      axes.push_back(i);
    } else if (shape[i - lead] == 1 && g.shape()[i] != 1) {
      axes.push_back(i);
    } else if (shape[i - lead] != g.shape()[i]) {
      throw std::invalid_argument(fmt::format("sum_to: shape {} is not a broadcast of {}",
                                              to_string(g.shape()), to_string(shape)));
    }
  }
  Tensor s = axes.empty() ? g : sum(g, axes, true);
  return reshape(s, shape);
}

}  // namespace dagrad
