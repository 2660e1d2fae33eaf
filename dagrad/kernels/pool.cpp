// Max and average pooling, compiled once per path (isa_begin.h). The 2x2 / stride 2 rows of a
// convnet (14 or 7 outputs) defeat the compiler's vectorizer (its vector loop needs a full
// vector of iterations and the scalar tail branches on every compare), so float rows use
// simd.h: deinterleave a window row's even and odd columns, compare, select.
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "dagrad/kernels/pool.h"
// clang-format off
#include "dagrad/kernels/isa_begin.h"
// clang-format on

namespace dagrad::kernels::DAGRAD_ISA_NS {
namespace {

template <typename T>
constexpr bool vector_float = std::is_same_v<T, float>&& simd::lanes > 0;

// The max-pool update: v (at index k) replaces the current best when strictly larger or NaN
// (PyTorch's rule, so the first maximum wins ties). Bit-mask selects: branch-free, so random
// data does not mispredict.
template <typename T, typename I>
inline void take(T& best, I& bi, T v, I k) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const bool win = (v > best) | (v != v);
  const U mask = U(0) - static_cast<U>(win);
  U vb, bb;
  std::memcpy(&vb, &v, sizeof(T));
  std::memcpy(&bb, &best, sizeof(T));
  bb = (vb & mask) | (bb & ~mask);
  std::memcpy(&best, &bb, sizeof(T));
  const I imask = -static_cast<I>(win);
  bi = (k & imask) | (bi & ~imask);
}

// ---- 2x2 / stride 2 rows. One output row from input rows r0 and r1: out[j] = the max of
// r0[2j], r0[2j+1], r1[2j], r1[2j+1] in that order, idx[j] its offset in the plane (top = the
// offset of r0[0], W = row length).
template <typename T>
void max2x2_row(const T* __restrict r0, const T* __restrict r1, T* __restrict out,
                int32_t* __restrict idx, int64_t n, int32_t top, int32_t W) {
  int64_t j = 0;
  if constexpr (vector_float<T>) {
    using namespace simd;
    const I one = splat(1), w0 = splat(W), w1 = splat(W + 1);
    const I lane2 = add(lane_index(), lane_index());  // window starts, 2 columns apart
    for (; j < n; j += lanes) {
      const int64_t m = std::min<int64_t>(lanes, n - j);
      const M lo = mask_first(2 * m), hi = mask_first(2 * m - lanes);
      F a, b, c, d;
      deinterleave(load(r0 + 2 * j, lo), load(r0 + 2 * j + lanes, hi), a, b);
      deinterleave(load(r1 + 2 * j, lo), load(r1 + 2 * j + lanes, hi), c, d);
      F best = a;
      I off = splat(0);
      M win = either(greater(b, best), is_nan(b));
      best = select(win, b, best), off = select(win, one, off);
      win = either(greater(c, best), is_nan(c));
      best = select(win, c, best), off = select(win, w0, off);
      win = either(greater(d, best), is_nan(d));
      best = select(win, d, best), off = select(win, w1, off);
      const M mo = mask_first(m);
      store(out + j, mo, best);
      store(idx + j, mo, add(add(splat(top + 2 * static_cast<int32_t>(j)), lane2), off));
    }
    return;
  }
  for (; j < n; ++j) {
    const T a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
    T best = a;
    int32_t off = 0;
    bool win = (b > best) | (b != b);
    best = win ? b : best, off = win ? 1 : off;
    win = (c > best) | (c != c);
    best = win ? c : best, off = win ? W : off;
    win = (d > best) | (d != d);
    best = win ? d : best, off = win ? W + 1 : off;
    out[j] = best;
    idx[j] = top + 2 * static_cast<int32_t>(j) + off;
  }
}

// The backward of one row: each input of the four gets g[j] if it was the argmax, else 0.
template <typename T>
void max2x2_row_backward(const T* __restrict g, const int32_t* __restrict idx, T* __restrict r0,
                         T* __restrict r1, int64_t n, int32_t top, int32_t W) {
  int64_t j = 0;
  if constexpr (vector_float<T>) {
    using namespace simd;
    const I one = splat(1), w0 = splat(W), w1 = splat(W + 1), zero_i = splat(0);
    const I lane2 = add(lane_index(), lane_index());
    for (; j < n; j += lanes) {
      const int64_t m = std::min<int64_t>(lanes, n - j);
      const M mo = mask_first(m);
      const F v = load(g + j, mo);
      const I rel = sub(load(idx + j, mo), add(splat(top + 2 * static_cast<int32_t>(j)), lane2));
      const F a = zero_unless(equal(rel, zero_i), v), b = zero_unless(equal(rel, one), v);
      const F c = zero_unless(equal(rel, w0), v), d = zero_unless(equal(rel, w1), v);
      const M lo = mask_first(2 * m), hi = mask_first(2 * m - lanes);
      F x0, x1;
      interleave(a, b, x0, x1);
      store(r0 + 2 * j, lo, x0), store(r0 + 2 * j + lanes, hi, x1);
      interleave(c, d, x0, x1);
      store(r1 + 2 * j, lo, x0), store(r1 + 2 * j + lanes, hi, x1);
    }
    return;
  }
  for (; j < n; ++j) {
    const int32_t rel = idx[j] - top - 2 * static_cast<int32_t>(j);  // 0, 1, W or W + 1
    const T v = g[j];
    r0[2 * j] = rel == 0 ? v : T(0);
    r0[2 * j + 1] = rel == 1 ? v : T(0);
    r1[2 * j] = rel == W ? v : T(0);
    r1[2 * j + 1] = rel == W + 1 ? v : T(0);
  }
}

template <typename T>
void max_pool_forward(const T* x, T* out, int32_t* idx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  const bool padded = g.PH > 0 || g.PW > 0;
  const int64_t Wp = g.W + 2 * g.PW;
  std::vector<T> xp(padded ? (g.H + 2 * g.PH) * Wp : 0, -std::numeric_limits<T>::infinity());
  std::vector<T> best(g.OW);
  std::vector<int32_t> bidx(g.OW);  // int32 like the floats: one vector lane each
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* xs = x + pl * HW;
    T* o = out + pl * OP;
    int32_t* id = idx + pl * OP;
    if (g.fast2x2()) {
      for (int64_t i = 0; i < g.OH; ++i)
        max2x2_row<T>(xs + 2 * i * g.W, xs + (2 * i + 1) * g.W, o + i * g.OW, id + i * g.OW, g.OW,
                      static_cast<int32_t>(2 * i * g.W), static_cast<int32_t>(g.W));
      continue;
    }
    // General windows: the plane padded with -inf (which never wins), then for each output
    // row every window offset (p, q) updates all output columns at once. The columns are
    // independent, so the select chains overlap instead of running one after another.
    const T* src = xs;
    if (padded) {
      for (int64_t h = 0; h < g.H; ++h)
        std::copy(xs + h * g.W, xs + (h + 1) * g.W, xp.data() + (h + g.PH) * Wp + g.PW);
      src = xp.data();
    }
    for (int64_t i = 0; i < g.OH; ++i) {
      const int64_t hs = std::max<int64_t>(i * g.SH - g.PH, 0);
      for (int64_t j = 0; j < g.OW; ++j) {  // start at the window's first real entry
        best[j] = -std::numeric_limits<T>::infinity();
        bidx[j] = static_cast<int32_t>(hs * g.W + std::max<int64_t>(j * g.SW - g.PW, 0));
      }
      for (int64_t p = 0; p < g.KH; ++p) {
        const int64_t h = i * g.SH + p;  // row in the padded plane
        for (int64_t q = 0; q < g.KW; ++q) {
          const T* r = src + h * Wp + q;
          // index of column j = 0 in the unpadded plane
          const int32_t base = static_cast<int32_t>((h - g.PH) * g.W + q - g.PW);
          const int32_t sw = static_cast<int32_t>(g.SW);
          for (int32_t j = 0; j < static_cast<int32_t>(g.OW); ++j)
            take(best[j], bidx[j], r[j * sw], base + j * sw);
        }
      }
      for (int64_t j = 0; j < g.OW; ++j) {
        o[i * g.OW + j] = best[j];
        id[i * g.OW + j] = bidx[j];
      }
    }
  }
}

template <typename T>
void max_pool_backward(const T* g_out, const int32_t* idx, T* dx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  if (g.fast2x2() && g.H % 2 == 0 && g.W % 2 == 0) {
    // Windows tile the plane: every input gets its window's gradient or 0, written once
    // (no zero-fill pass).
    for (int64_t pl = 0; pl < g.planes; ++pl) {
      T* d = dx + pl * HW;
      const T* s = g_out + pl * OP;
      const int32_t* id = idx + pl * OP;
      for (int64_t i = 0; i < g.OH; ++i)
        max2x2_row_backward<T>(s + i * g.OW, id + i * g.OW, d + 2 * i * g.W, d + (2 * i + 1) * g.W,
                               g.OW, static_cast<int32_t>(2 * i * g.W), static_cast<int32_t>(g.W));
    }
    return;
  }
  std::fill(dx, dx + g.planes * HW, T(0));
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    T* d = dx + pl * HW;
    const T* s = g_out + pl * OP;
    const int32_t* id = idx + pl * OP;
    for (int64_t o = 0; o < OP; ++o) d[id[o]] += s[o];
  }
}

// The input rows [h0, h1) and columns [w0, w1) of output (i, j)'s window, padding cut off.
struct Window {
  int64_t h0, h1, w0, w1;
};
inline Window window_at(const PoolGeom& g, int64_t i, int64_t j) {
  return {std::max<int64_t>(i * g.SH - g.PH, 0), std::min(i * g.SH - g.PH + g.KH, g.H),
          std::max<int64_t>(j * g.SW - g.PW, 0), std::min(j * g.SW - g.PW + g.KW, g.W)};
}

template <typename T>
void avg_pool_forward(const T* x, T* out, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  const T inv = T(1) / static_cast<T>(g.KH * g.KW);
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* xs = x + pl * HW;
    T* o = out + pl * OP;
    if (g.fast2x2()) {
      for (int64_t i = 0; i < g.OH; ++i) {
        const T* r0 = xs + 2 * i * g.W;
        const T* r1 = r0 + g.W;
        for (int64_t j = 0; j < g.OW; ++j)
          o[i * g.OW + j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) * inv;
      }
      continue;
    }
    for (int64_t i = 0; i < g.OH; ++i)
      for (int64_t j = 0; j < g.OW; ++j) {
        const Window r = window_at(g, i, j);
        T acc = 0;
        for (int64_t h = r.h0; h < r.h1; ++h)
          for (int64_t w = r.w0; w < r.w1; ++w) acc += xs[h * g.W + w];
        o[i * g.OW + j] = acc * inv;
      }
  }
}

template <typename T>
void avg_pool_backward(const T* gout, T* dx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  const T inv = T(1) / static_cast<T>(g.KH * g.KW);
  std::fill(dx, dx + g.planes * HW, T(0));
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    T* d = dx + pl * HW;
    const T* s = gout + pl * OP;
    if (g.fast2x2()) {
      for (int64_t i = 0; i < g.OH; ++i) {
        T* r0 = d + 2 * i * g.W;
        T* r1 = r0 + g.W;
        for (int64_t j = 0; j < g.OW; ++j) {
          const T v = s[i * g.OW + j] * inv;
          r0[2 * j] = v, r0[2 * j + 1] = v, r1[2 * j] = v, r1[2 * j + 1] = v;
        }
      }
      continue;
    }
    for (int64_t i = 0; i < g.OH; ++i)
      for (int64_t j = 0; j < g.OW; ++j) {
        const Window r = window_at(g, i, j);
        const T v = s[i * g.OW + j] * inv;
        for (int64_t h = r.h0; h < r.h1; ++h)
          for (int64_t w = r.w0; w < r.w1; ++w) d[h * g.W + w] += v;
      }
  }
}

}  // namespace

template <typename T>
const PoolKernels<T>& pool_kernels() {
  static const PoolKernels<T> table{&max_pool_forward<T>, &max_pool_backward<T>,
                                    &avg_pool_forward<T>, &avg_pool_backward<T>};
  return table;
}
template const PoolKernels<float>& pool_kernels<float>();
template const PoolKernels<double>& pool_kernels<double>();

}  // namespace dagrad::kernels::DAGRAD_ISA_NS

#include "dagrad/kernels/isa_end.h"
