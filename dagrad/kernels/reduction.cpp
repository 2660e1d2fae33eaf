// Reductions along one axis, compiled once per path (isa_begin.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "dagrad/kernels/reduction.h"
// clang-format off
#include "dagrad/kernels/isa_begin.h"
// clang-format on

namespace dagrad::kernels::DAGRAD_ISA_NS {
namespace {

template <typename T>
void sum_axis(const T* x, const AxisSplit& sp, T* out) {
  for (int64_t o = 0; o < sp.outer; ++o) {
    const T* src = x + o * sp.len * sp.inner;
    T* dst = out + o * sp.inner;
    if (sp.inner == 1) {
      double acc = 0;  // a long run: accumulate in double
      for (int64_t l = 0; l < sp.len; ++l) acc += src[l];
      dst[0] = static_cast<T>(acc);
    } else {
      for (int64_t i = 0; i < sp.inner; ++i) dst[i] = T(0);
      for (int64_t l = 0; l < sp.len; ++l)
        for (int64_t i = 0; i < sp.inner; ++i) dst[i] += src[l * sp.inner + i];
    }
  }
}

template <typename T>
void extreme_axis(const T* x, const AxisSplit& sp, bool larger, T* out) {
  const T init = larger ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      const T* src = x + o * sp.len * sp.inner + i;
      T best = init;
      for (int64_t l = 0; l < sp.len; ++l) {
        const T v = src[l * sp.inner];
        if (std::isnan(v)) {
          best = v;
          break;
        }
        if (larger ? v > best : v < best) best = v;
      }
      out[o * sp.inner + i] = best;
    }
}

template <typename T>
void arg_extreme_axis(const T* x, const AxisSplit& sp, bool larger, int64_t* out) {
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      const T* src = x + o * sp.len * sp.inner + i;
      int64_t best_i = 0;
      T best = src[0];
      if (!std::isnan(best)) {
        for (int64_t l = 1; l < sp.len; ++l) {
          const T v = src[l * sp.inner];
          if (std::isnan(v) || (larger ? v > best : v < best)) {
            best = v;
            best_i = l;
            if (std::isnan(v)) break;
          }
        }
      }
      out[o * sp.inner + i] = best_i;
    }
}

// out = x's running sums (scan) or the whole product (prod) along the axis, accumulated in
// double per (o, i) column, as PyTorch's CPU cumsum; prod writes one value per column.
template <typename T, bool Scan>
void accumulate_axis(const T* x, const AxisSplit& sp, T* out) {
  std::vector<double> acc(sp.inner);
  for (int64_t o = 0; o < sp.outer; ++o) {
    const T* src = x + o * sp.len * sp.inner;
    std::fill(acc.begin(), acc.end(), Scan ? 0.0 : 1.0);
    for (int64_t l = 0; l < sp.len; ++l)
      for (int64_t i = 0; i < sp.inner; ++i) {
        if constexpr (Scan) {
          acc[i] += src[l * sp.inner + i];
          out[(o * sp.len + l) * sp.inner + i] = static_cast<T>(acc[i]);
        } else {
          acc[i] *= src[l * sp.inner + i];
        }
      }
    if constexpr (!Scan)
      for (int64_t i = 0; i < sp.inner; ++i) out[o * sp.inner + i] = static_cast<T>(acc[i]);
  }
}

template <typename T>
void cumsum_axis(const T* x, const AxisSplit& sp, T* out) {
  accumulate_axis<T, true>(x, sp, out);
}
template <typename T>
void prod_axis(const T* x, const AxisSplit& sp, T* out) {
  accumulate_axis<T, false>(x, sp, out);
}

// out[l] = the product of every x[j], j != l, along the axis: a prefix pass then a suffix pass
// (no division, so zeros are exact).
template <typename T>
void others_prod_axis(const T* x, const AxisSplit& sp, T* out) {
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      const int64_t base = o * sp.len * sp.inner + i;
      double before = 1;
      for (int64_t l = 0; l < sp.len; ++l) {
        out[base + l * sp.inner] = static_cast<T>(before);
        before *= x[base + l * sp.inner];
      }
      double after = 1;
      for (int64_t l = sp.len - 1; l >= 0; --l) {
        out[base + l * sp.inner] = static_cast<T>(out[base + l * sp.inner] * after);
        after *= x[base + l * sp.inner];
      }
    }
}

}  // namespace

template <typename T>
const ReductionKernels<T>& reduction_kernels() {
  static const ReductionKernels<T> table{&sum_axis<T>,    &extreme_axis<T>, &arg_extreme_axis<T>,
                                         &cumsum_axis<T>, &prod_axis<T>,    &others_prod_axis<T>};
  return table;
}
template const ReductionKernels<float>& reduction_kernels<float>();
template const ReductionKernels<double>& reduction_kernels<double>();

}  // namespace dagrad::kernels::DAGRAD_ISA_NS

#include "dagrad/kernels/isa_end.h"
