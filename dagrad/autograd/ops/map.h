// Tensor-level elementwise maps with NumPy broadcasting, and the dtype/shape checks the ops
// share. Internal header: ops call these from their forward (and heavy backward) code with an
// element function from kernels/functors.h; this header does the dtypes, the shapes, the
// broadcasting and the threads, and kernels/elementwise.h the loops.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <utility>

#include "dagrad/autograd/tensor.h"
#include "dagrad/kernels/elementwise.h"

namespace dagrad::detail {

using kernels::for_each_row;
using kernels::for_elements;
namespace fn = kernels::fn;

inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(fmt::format("{}: dtype mismatch: {} {} vs {} {}", op,
                                            dtype_name(a.dtype()), to_string(a.shape()),
                                            dtype_name(b.dtype()), to_string(b.shape())));
}

// An op that computes in floating point, given an int64 tensor.
inline void check_floating(const Tensor& x, const char* op) {
  if (!is_floating(x.dtype())) throw_not_floating(op);
}

inline void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(fmt::format("{}: shape mismatch: {} vs {}", op,
                                            to_string(a.shape()), to_string(b.shape())));
}

// Runs body.template operator()<T>() for x's dtype: int64 only when f is one of the
// functions that are exact on integers (functors.h); otherwise int64 is an error naming `op`.
template <typename F, typename Body>
void dispatch_for(Dtype dtype, const char* op, const Body& body) {
  if constexpr (fn::on_integers<F>) {
    DAGRAD_DISPATCH_ALL(dtype, body.template operator()<T>());
  } else {
    if (!is_floating(dtype)) throw_not_floating(op);
    DAGRAD_DISPATCH(dtype, body.template operator()<T>());
  }
}

// out[i] = f(x[i]) for f from functors.h; `op` names the op in errors (an int64 x).
template <typename F>
Tensor map_unary(const Tensor& x, const char* op, const F& f) {
  Tensor out = empty_like(x);
  dispatch_for<F>(x.dtype(), op, [&]<typename T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_elements(x.numel(), [&](int64_t lo, int64_t hi) {
      kernels::unary_loop<F, T>(px + lo, po + lo, hi - lo, f);
    });
  });
  return out;
}

// The operands of a binary op in one dtype: an int64 operand meeting a floating one is
// converted to the floating dtype (PyTorch's promotion); float32 with float64 is an error.
inline std::pair<Tensor, Tensor> promote(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() == b.dtype()) return {a, b};
  if (a.dtype() == Dtype::int64 && is_floating(b.dtype())) return {a.to(b.dtype()), b};
  if (b.dtype() == Dtype::int64 && is_floating(a.dtype())) return {a, b.to(a.dtype())};
  check_same_dtype(a, b, op);
  return {a, b};
}

// out = f(a, b) with NumPy broadcasting, f from functors.h. Fast paths: same shape and a
// scalar side (split across threads); otherwise one loop per innermost row of the output,
// rows walked with an odometer over the outer dimensions.
template <typename F>
Tensor map_binary(const Tensor& a, const Tensor& b, const char* op, const F& f) {
  if (a.dtype() != b.dtype()) [[unlikely]] {  // (no handle copies on the usual path)
    const std::pair<Tensor, Tensor> same = promote(a, b, op);
    return map_binary(same.first, same.second, op, f);
  }
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(out_shape, a.dtype());
  const int64_t n = out.numel();
  if (n == 0) return out;
  dispatch_for<F>(a.dtype(), op, [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    auto run = [&f](const T* x, int64_t sx, const T* y, int64_t sy, T* o, int64_t len) {
      kernels::binary_loop<F, T>(x, sx, y, sy, o, len, f);
    };
    const bool same = a.shape() == b.shape();
    if (same || a.numel() == 1 || b.numel() == 1) {
      const int64_t sa = a.numel() == 1 && !same ? 0 : 1, sb = b.numel() == 1 && !same ? 0 : 1;
      for_elements(n, [&](int64_t lo, int64_t hi) {
        run(pa + lo * sa, sa, pb + lo * sb, sb, po + lo, hi - lo);
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
      for_each_row(out_shape, sa, sb, 0, 0, [&](int64_t off_a, int64_t off_b, int64_t row) {
        run(pa + off_a, sa[nd - 1], pb + off_b, sb[nd - 1], po + row * inner, inner);
      });
    }
  });
  return out;
}

}  // namespace dagrad::detail
