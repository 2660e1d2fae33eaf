// Elementwise maps with NumPy broadcasting, and the dtype/shape checks the ops share. Internal
// header: ops call these from their forward (and heavy backward) code. The maps are templates
// over the op's lambda, so they are compiled in the op's file for the baseline path.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "autograd/kernels/reduce.h"
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

}  // namespace dagrad::kernels
