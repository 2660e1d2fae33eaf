// Raw loops shared by the ops: elementwise maps with NumPy broadcasting, and axis reductions.
// Internal header: ops call these from their forward (and heavy backward) code.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace dagrad::kernels {

inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(fmt::format("{}: dtype mismatch: {} {} vs {} {}", op,
                                            dtype_name(a.dtype()), to_string(a.shape()),
                                            dtype_name(b.dtype()), to_string(b.shape())));
}

inline void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(fmt::format("{}: shape mismatch: {} vs {}", op,
                                            to_string(a.shape()), to_string(b.shape())));
}

// Elements per parallel chunk of an elementwise loop: big maps (activations of a conv layer)
// are split across the pool, small ones never leave the calling thread.
inline constexpr int64_t elementwise_grain = int64_t{1} << 15;

// body(lo, hi) over [0, n), on the pool when n is large.
template <typename Body>
void for_elements(int64_t n, Body body) {
  if (n < 2 * elementwise_grain) {
    body(int64_t{0}, n);
    return;
  }
  parallel_for(n, elementwise_grain, body);
}

// out[i] = f(x[i]); f is a generic lambda over the element type.
template <typename F>
Tensor map_unary(const Tensor& x, F f) {
  Tensor out = empty_like(x);
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_elements(x.numel(), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) po[i] = static_cast<T>(f(px[i]));
    });
  });
  return out;
}

// out = f(a, b) with NumPy broadcasting. Fast paths: same shape, a scalar side, and a
// contiguous innermost run (bias-add); otherwise an odometer over the outer dimensions.
template <typename F>
Tensor map_binary(const Tensor& a, const Tensor& b, const char* op, F f) {
  check_same_dtype(a, b, op);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(out_shape, a.dtype());
  const int64_t n = out.numel();
  if (n == 0) return out;
  DAGRAD_DISPATCH(a.dtype(), {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    if (a.shape() == b.shape()) {
      for_elements(n, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) po[i] = static_cast<T>(f(pa[i], pb[i]));
      });
    } else if (b.numel() == 1) {
      const T vb = pb[0];
      for_elements(n, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) po[i] = static_cast<T>(f(pa[i], vb));
      });
    } else if (a.numel() == 1) {
      const T va = pa[0];
      for_elements(n, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) po[i] = static_cast<T>(f(va, pb[i]));
      });
    } else {
      // Strides of a and b over the output's dimensions (0 where broadcast).
      const int nd = out_shape.size();
      Shape sa, sb;
      {
        const Shape ca = contiguous_strides(a.shape()), cb = contiguous_strides(b.shape());
        for (int i = 0; i < nd; ++i) {
          const int ia = a.dim() - nd + i, ib = b.dim() - nd + i;
          sa.push_back(ia >= 0 && a.shape()[ia] != 1 ? ca[ia] : 0);
          sb.push_back(ib >= 0 && b.shape()[ib] != 1 ? cb[ib] : 0);
        }
      }
      const int64_t inner = out_shape[nd - 1];
      const int64_t ia_step = sa[nd - 1], ib_step = sb[nd - 1];
      int64_t index[Shape::max_dims] = {};
      int64_t off_a = 0, off_b = 0;
      for (int64_t base = 0; base < n; base += inner) {
        T* o = po + base;
        const T* ra = pa + off_a;
        const T* rb = pb + off_b;
        if (ia_step == 1 && ib_step == 1) {
          for (int64_t j = 0; j < inner; ++j) o[j] = static_cast<T>(f(ra[j], rb[j]));
        } else if (ia_step == 1) {
          const T vb = rb[0];
          for (int64_t j = 0; j < inner; ++j) o[j] = static_cast<T>(f(ra[j], vb));
        } else if (ib_step == 1) {
          const T va = ra[0];
          for (int64_t j = 0; j < inner; ++j) o[j] = static_cast<T>(f(va, rb[j]));
        } else {
          const T v = static_cast<T>(f(ra[0], rb[0]));
          for (int64_t j = 0; j < inner; ++j) o[j] = v;
        }
        // Advance the odometer over dimensions nd-2 ... 0.
        for (int d = nd - 2; d >= 0; --d) {
          off_a += sa[d];
          off_b += sb[d];
          if (++index[d] < out_shape[d]) break;
          off_a -= sa[d] * out_shape[d];
          off_b -= sb[d] * out_shape[d];
          index[d] = 0;
        }
      }
    }
  });
  return out;
}

// Sum of f(s) for s in [0, n): vector-wide partial sums in T within blocks of 1024, each block
// folded into a double (float accumulators stay short; the pragma allows the reassociation
// that vectorizing needs, for this loop only).
template <typename T, typename F>
double block_sum(int64_t n, F f) {
  double total = 0;
  for (int64_t b = 0; b < n; b += 1024) {
    const int64_t e = std::min(n, b + 1024);
    T acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t s = b; s < e; ++s) acc += f(s);
    total += acc;
  }
  return total;
}

// The sums of f and of h in one pass; added to out_f and out_h.
template <typename T, typename F, typename H>
void block_sum2(int64_t n, F f, H h, double& out_f, double& out_h) {
  for (int64_t b = 0; b < n; b += 1024) {
    const int64_t e = std::min(n, b + 1024);
    T af = 0, ah = 0;
#pragma omp simd reduction(+ : af, ah)
    for (int64_t s = b; s < e; ++s) af += f(s), ah += h(s);
    out_f += af;
    out_h += ah;
  }
}

// Views a tensor as (outer, axis, inner) around `axis` for axis-wise kernels.
struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
inline AxisSplit split_at_axis(const Shape& s, int axis) {
  AxisSplit r;
  for (int i = 0; i < axis; ++i) r.outer *= s[i];
  r.len = s[axis];
  for (int i = axis + 1; i < s.size(); ++i) r.inner *= s[i];
  return r;
}

}  // namespace dagrad::kernels
