#include "dagrad/autograd/ops/pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/kernels/pool.h"
#include "dagrad/runtime/parallel.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules pool_rules{
    {"max_pool2d", "the gradient goes to each window's max"},
    {"max_pool2d_backward", "linear: its adjoint is read at each window's max"},
    {"avg_pool2d", "each window's gradient is spread evenly over it (1/area)"},
    {"avg_pool2d_backward", "linear: its adjoint is avg_pool2d-ed"},
};

namespace {

using kernels::PoolGeom;

PoolGeom check_pool(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, const char* op) {
  if (x.dim() != 4)
    throw std::invalid_argument(
        fmt::format("{}: input must be 4-D (N, C, H, W), got shape {}", op, to_string(x.shape())));
  if (stride.h == 0 && stride.w == 0) stride = kernel;
  if (kernel.h <= 0 || kernel.w <= 0)
    throw std::invalid_argument(
        fmt::format("{}: kernel size must be positive, got ({}, {})", op, kernel.h, kernel.w));
  if (stride.h <= 0 || stride.w <= 0)
    throw std::invalid_argument(
        fmt::format("{}: stride must be positive, got ({}, {})", op, stride.h, stride.w));
  if (padding.h < 0 || padding.w < 0 || 2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    throw std::invalid_argument(fmt::format(
        "{}: padding ({}, {}) must be non-negative and at most half the kernel ({}, {})", op,
        padding.h, padding.w, kernel.h, kernel.w));
  PoolGeom g{};
  g.planes = x.size(0) * x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.KH = kernel.h, g.KW = kernel.w, g.SH = stride.h, g.SW = stride.w;
  g.PH = padding.h, g.PW = padding.w;
  if (g.KH > g.H + 2 * g.PH || g.KW > g.W + 2 * g.PW)
    throw std::invalid_argument(fmt::format(
        "{}: kernel ({}, {}) is larger than the padded input {}x{} (input {}, padding ({}, {}))",
        op, g.KH, g.KW, g.H + 2 * g.PH, g.W + 2 * g.PW, to_string(x.shape()), g.PH, g.PW));
  g.OH = conv_output_size(g.H, g.KH, g.SH, g.PH);
  g.OW = conv_output_size(g.W, g.KW, g.SW, g.PW);
  return g;
}

Shape out_shape(const Tensor& x, const PoolGeom& g) { return {x.size(0), x.size(1), g.OH, g.OW}; }

// Runs kernel(sub_geometry, first_plane) over ranges of planes on the pool; planes are
// independent in every pooling kernel.
template <typename K>
void for_planes(const PoolGeom& g, K kernel) {
  const int64_t per_plane = std::max<int64_t>(g.H * g.W + g.OH * g.OW * g.KH * g.KW, 1);
  parallel_for(g.planes, std::max<int64_t>(1, (int64_t{1} << 15) / per_plane),
               [&](int64_t lo, int64_t hi) {
                 PoolGeom sub = g;
                 sub.planes = hi - lo;
                 kernel(sub, lo);
               });
}

// A tensor of `out_shape` computed from src plane by plane on the pool:
// f(src plane, out plane, sub-geometry, first plane) with T bound to src's element type;
// `to_out` says whether src holds pooled planes (OH x OW) and out input planes, or the reverse.
template <typename F>
Tensor map_planes(const Tensor& src, const Shape& out_shape, const PoolGeom& g, bool to_out, F f) {
  Tensor out = empty(out_shape, src.dtype());
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  const int64_t src_plane = to_out ? HW : OP, out_plane = to_out ? OP : HW;
  DAGRAD_DISPATCH(src.dtype(), {
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
      f(ps + p0 * src_plane, po + p0 * out_plane, sub, p0);
    });
  });
  return out;
}

template <typename P>
using Elem = std::remove_cv_t<std::remove_pointer_t<P>>;

Tensor avg_pool_raw(const Tensor& x, const PoolGeom& g) {
  return map_planes(x, out_shape(x, g), g, true,
                    [](const auto* s, auto* d, const PoolGeom& sub, int64_t) {
                      kernels::pool_kernels<Elem<decltype(s)>>().avg_pool(s, d, sub);
                    });
}

// The backward of each pooling op is an op too, so that create_graph differentiates it again:
// pooling and its backward are adjoint linear maps (in the values, for max pooling with its
// argmax fixed), each the other's backward.

using ArgmaxList = std::shared_ptr<const std::vector<int32_t>>;  // per output, within its plane

// dx of avg pooling: each output's gradient spread evenly over its window (the raw kernel).
Tensor avg_pool_backward_raw(const Tensor& gout, const PoolGeom& g, const Shape& xs) {
  return map_planes(gout, xs, g, false, [](const auto* s, auto* d, const PoolGeom& sub, int64_t) {
    kernels::pool_kernels<Elem<decltype(s)>>().avg_pool_backward(s, d, sub);
  });
}

Tensor avg_pool_backward_op(const Tensor& gout, const PoolGeom& g, const Shape& xs);

// d out / d x = 1 / (kh kw) for every input in the window
Tensor avg_pool_op(const Tensor& x, const PoolGeom& g) {
  return record(
      "avg_pool2d", avg_pool_raw(x, g), {x},
      [g, xs = x.shape()](const Tensor& gout, const Tensor&) -> GradList {
        return {avg_pool_backward_op(gout, g, xs)};
      },
      [g](const TangentList& t, const Tensor&) { return avg_pool_raw(t[0], g); });
}

Tensor avg_pool_backward_op(const Tensor& gout, const PoolGeom& g, const Shape& xs) {
  return record(
      "avg_pool2d_backward", avg_pool_backward_raw(gout, g, xs), {gout},
      [g](const Tensor& gg, const Tensor&) -> GradList { return {avg_pool_op(gg, g)}; },
      [g, xs](const TangentList& t, const Tensor&) { return avg_pool_backward_raw(t[0], g, xs); });
}

// out[k] = x[argmax[k]] in each plane.
Tensor gather_argmax_raw(const Tensor& x, const ArgmaxList& idx, const PoolGeom& g) {
  Tensor out = empty({x.size(0), x.size(1), g.OH, g.OW}, x.dtype());
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  DAGRAD_DISPATCH(x.dtype(), {
    const T* s = x.data<T>();
    T* d = out.data<T>();
    for (int64_t pl = 0; pl < g.planes; ++pl)
      for (int64_t k = 0; k < OP; ++k) d[pl * OP + k] = s[pl * HW + (*idx)[pl * OP + k]];
  });
  return out;
}

// dx of max pooling: each output's gradient added at its argmax (the raw kernel).
Tensor scatter_argmax_raw(const Tensor& gout, const ArgmaxList& idx, const PoolGeom& g,
                          const Shape& xs) {
  const int64_t OP = g.OH * g.OW;
  return map_planes(gout, xs, g, false,
                    [&idx, OP](const auto* s, auto* d, const PoolGeom& sub, int64_t p0) {
                      kernels::pool_kernels<Elem<decltype(s)>>().max_pool_backward(
                          s, idx->data() + p0 * OP, d, sub);
                    });
}

Tensor scatter_argmax_op(const Tensor& gout, const ArgmaxList& idx, const PoolGeom& g,
                         const Shape& xs);

// `out` (x at the argmax of each window, computed by the caller) recorded as max pooling:
// d out / d x = 1 at the window's argmax, 0 elsewhere.
Tensor gather_argmax_op(const Tensor& x, Tensor out, const ArgmaxList& idx, const PoolGeom& g) {
  return record(
      "max_pool2d", std::move(out), {x},
      [idx, g, xs = x.shape()](const Tensor& gout, const Tensor&) -> GradList {
        return {scatter_argmax_op(gout, idx, g, xs)};
      },
      [idx, g](const TangentList& t, const Tensor&) { return gather_argmax_raw(t[0], idx, g); });
}

Tensor scatter_argmax_op(const Tensor& gout, const ArgmaxList& idx, const PoolGeom& g,
                         const Shape& xs) {
  return record(
      "max_pool2d_backward", scatter_argmax_raw(gout, idx, g, xs), {gout},
      [idx, g](const Tensor& gg, const Tensor&) -> GradList {
        return {gather_argmax_op(gg, gather_argmax_raw(gg, idx, g), idx, g)};
      },
      [idx, g, xs](const TangentList& t, const Tensor&) {
        return scatter_argmax_raw(t[0], idx, g, xs);
      });
}

}  // namespace

namespace {
// With ceil_mode, the rows and columns past the right padding that the last window reaches
// (PyTorch's rule: round the output size up, less one if the last window would start past
// the right padding). The floor-mode geometry g has been checked.
Size2 ceil_overhang(const PoolGeom& g) {
  auto extra = [](int64_t in, int64_t k, int64_t s, int64_t p) {
    int64_t out = (in + 2 * p - k + s - 1) / s + 1;
    if ((out - 1) * s >= in + p) --out;
    return std::max<int64_t>(0, (out - 1) * s + k - (in + 2 * p));
  };
  return {extra(g.H, g.KH, g.SH, g.PH), extra(g.W, g.KW, g.SW, g.PW)};
}

// x (N, C, H, W) padded by p on the top and left and by p + extra on the bottom and right.
Tensor pad_for_pooling(const Tensor& x, const PoolGeom& g, Size2 extra, double value) {
  return pad(x, {{0, 0}, {0, 0}, {g.PH, g.PH + extra.h}, {g.PW, g.PW + extra.w}}, value);
}
}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, bool ceil_mode) {
  detail::check_floating(x, "max_pool2d");
  const PoolGeom g = check_pool(x, kernel, stride, padding, "max_pool2d");
  if (ceil_mode) {  // -inf padding never wins, as PyTorch's
    const Size2 extra = ceil_overhang(g);
    if (extra.h > 0 || extra.w > 0)
      return max_pool2d(pad_for_pooling(x, g, extra, -INFINITY), kernel, Size2{g.SH, g.SW});
  }
  Tensor out = empty(out_shape(x, g), x.dtype());
  auto idx = std::make_shared<std::vector<int32_t>>(static_cast<std::size_t>(out.numel()));
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    int32_t* pi = idx->data();
    for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
      kernels::pool_kernels<T>().max_pool(px + p0 * HW, po + p0 * OP, pi + p0 * OP, sub);
    });
  });
  return gather_argmax_op(x, std::move(out), idx, g);
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad) {
  detail::check_floating(x, "avg_pool2d");
  const PoolGeom g = check_pool(x, kernel, stride, padding, "avg_pool2d");
  const Size2 extra = ceil_mode ? ceil_overhang(g) : Size2{0};
  if (count_include_pad && extra.h == 0 && extra.w == 0) return avg_pool_op(x, g);
  // The window sums over the zero-padded input, divided by how many of the window's places
  // count: the input, the padding too when count_include_pad, never the ceil overhang.
  const Size2 s{g.SH, g.SW};
  const Tensor sums = avg_pool2d(pad_for_pooling(x, g, extra, 0.0), kernel, s);
  Tensor counted = pad(ones({1, 1, g.H, g.W}, x.dtype()),
                       {{0, 0}, {0, 0}, {g.PH, g.PH}, {g.PW, g.PW}}, count_include_pad ? 1.0 : 0.0);
  counted = pad(counted, {{0, 0}, {0, 0}, {0, extra.h}, {0, extra.w}}, 0.0);
  return sums / avg_pool2d(counted, kernel, s);
}

// ---------------------------------------------------------------- adaptive average pooling

namespace {
// Adaptive window i of `out` over `in` elements: [floor(i in / out), ceil((i + 1) in / out)).
std::pair<int64_t, int64_t> adaptive_window(int64_t i, int64_t out, int64_t in) {
  return {i * in / out, ((i + 1) * in + out - 1) / out};
}

// (out, in) matrix whose row i averages in[floor(i in / out) .. ceil((i + 1) in / out)).
Tensor averaging_matrix(int64_t out, int64_t in, Dtype dtype) {
  Tensor m = zeros({out, in}, dtype);
  DAGRAD_DISPATCH(dtype, {
    T* p = m.data<T>();
    for (int64_t i = 0; i < out; ++i) {
      const auto [lo, hi] = adaptive_window(i, out, in);
      for (int64_t j = lo; j < hi; ++j) p[i * in + j] = T(1) / static_cast<T>(hi - lo);
    }
  });
  return m;
}
}  // namespace

namespace {
// The checks both adaptive poolings share; returns the input's (H, W).
Size2 adaptive_input(const Tensor& x, Size2 size, const char* op) {
  detail::check_floating(x, op);
  if (x.dim() != 3 && x.dim() != 4)
    throw std::invalid_argument(fmt::format(
        "{}: input must be (N, C, H, W) or (C, H, W), got shape {}", op, to_string(x.shape())));
  const int64_t h = x.shape()[x.dim() - 2], w = x.shape()[x.dim() - 1];
  if (size.h <= 0 || size.w <= 0 || h == 0 || w == 0)
    throw std::invalid_argument(
        fmt::format("{}: output size ({}, {}) must be positive and the input {} not empty", op,
                    size.h, size.w, to_string(x.shape())));
  return {h, w};
}

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 size) {
  const Size2 in = adaptive_input(x, size, "adaptive_avg_pool2d");
  // out = A_h x A_w^T over the last two axes.
  const Tensor rows = averaging_matrix(size.h, in.h, x.dtype());
  const Tensor cols = averaging_matrix(size.w, in.w, x.dtype());
  return matmul(matmul(rows, x), cols, false, true);
}

Tensor adaptive_max_pool2d(const Tensor& x, Size2 size) {
  const Size2 in = adaptive_input(x, size, "adaptive_max_pool2d");
  if (x.dim() == 3) return squeeze(adaptive_max_pool2d(unsqueeze(x, 0), size), 0);  // (C, H, W)
  if (in.h % size.h == 0 && in.w % size.w == 0)
    return max_pool2d(x, Size2(in.h / size.h, in.w / size.w));
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < size.h; ++i) {
    const auto [r0, r1] = adaptive_window(i, size.h, in.h);
    const Tensor band = slice(x, -2, r0, r1);
    std::vector<Tensor> cells;
    for (int64_t j = 0; j < size.w; ++j) {
      const auto [c0, c1] = adaptive_window(j, size.w, in.w);
      cells.push_back(max_pool2d(slice(band, -1, c0, c1), Size2(r1 - r0, c1 - c0)));
    }
    rows.push_back(concat(cells, -1));
  }
  return concat(rows, -2);
}

}  // namespace dagrad
