// Elementwise loops on pointers: the per-path unary and binary loops (elementwise.cpp, compiled
// once per instruction-set path), the split of a long loop across the pool, and the row walk
// that broadcasting and box copies share. The Tensor-level maps that call them are in
// dagrad/autograd/ops/map.h.
#pragma once
#include <cstdint>

#include "dagrad/base/shape.h"
#include "dagrad/kernels/functors.h"
#include "dagrad/runtime/isa.h"
#include "dagrad/runtime/parallel.h"

namespace dagrad::kernels {

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

// The loops, per path: out[i] = f(x[i]), and out[i] = f(a[i * sa], b[i * sb]) with each step
// sa, sb 0 (a broadcast value) or 1. Instantiated for the functions of functors.h.
DAGRAD_FOR_EACH_ISA(template <typename F, typename T>
                    void unary_run(const T* x, T* out, int64_t n, const F& f);
                    template <typename F, typename T>
                    void binary_run(const T* a, int64_t sa, const T* b, int64_t sb, T* out,
                                    int64_t n, const F& f);)

// fn(a, b, row) for every innermost row of the box `extent` (nd >= 1 dimensions, none empty),
// row = 0, 1, ...: a and b are the row's first element under strides sa and sb, starting from
// a0 and b0 (an odometer over dimensions nd-2 ... 0). Broadcasting (stride 0) and copying
// boxes between tensors both walk this way.
template <typename F>
void for_each_row(const Shape& extent, const Shape& sa, const Shape& sb, int64_t a0, int64_t b0,
                  F fn) {
  const int nd = extent.size();
  const int64_t rows = extent.numel() / extent[nd - 1];
  int64_t index[Shape::max_dims] = {};
  int64_t a = a0, b = b0;
  for (int64_t r = 0; r < rows; ++r) {
    fn(a, b, r);
    for (int d = nd - 2; d >= 0; --d) {
      a += sa[d];
      b += sb[d];
      if (++index[d] < extent[d]) break;
      a -= sa[d] * extent[d];
      b -= sb[d] * extent[d];
      index[d] = 0;
    }
  }
}

// The active path's loops.
template <typename F, typename T>
void unary_loop(const T* x, T* out, int64_t n, const F& f) {
  DAGRAD_ISA_PICK(unary_run<F, T>(x, out, n, f));
}
template <typename F, typename T>
void binary_loop(const T* a, int64_t sa, const T* b, int64_t sb, T* out, int64_t n, const F& f) {
  DAGRAD_ISA_PICK(binary_run<F, T>(a, sa, b, sb, out, n, f));
}

}  // namespace dagrad::kernels
