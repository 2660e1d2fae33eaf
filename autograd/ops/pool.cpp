#include "autograd/ops/pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/parallel.h"

namespace dagrad {

namespace {

struct PoolGeom {
  int64_t planes, H, W;  // planes = N * C
  int64_t KH, KW, SH, SW, PH, PW;
  int64_t OH, OW;
  bool fast2x2() const {  // the common 2x2 / stride 2 / no padding case
    return KH == 2 && KW == 2 && SH == 2 && SW == 2 && PH == 0 && PW == 0;
  }
};

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

// The max-pool update: v (at index k) replaces the current best when strictly larger or NaN
// (PyTorch's rule, so the first maximum wins ties).
template <typename T, typename I>
inline void take(T& best, I& bi, T v, I k) {
  // Bit-mask selects: branch-free, so random data does not mispredict.
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

// ---- 2x2 / stride 2 rows: the common case, and most of a convnet's pooling time.
// One output row from input rows r0 and r1: out[j] = the max of r0[2j], r0[2j+1], r1[2j],
// r1[2j+1] in that order (a later entry wins only if strictly larger, or NaN), idx[j] its
// offset in the plane (top = offset of r0[0], W = row length).
template <typename T>
void max2x2_row(const T* __restrict r0, const T* __restrict r1, T* __restrict out,
                int32_t* __restrict idx, int64_t n, int32_t top, int32_t W) {
  for (int64_t j = 0; j < n; ++j) {
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
  for (int64_t j = 0; j < n; ++j) {
    const int32_t rel = idx[j] - top - 2 * static_cast<int32_t>(j);  // 0, 1, W or W + 1
    const T v = g[j];
    r0[2 * j] = rel == 0 ? v : T(0);
    r0[2 * j + 1] = rel == 1 ? v : T(0);
    r1[2 * j] = rel == W ? v : T(0);
    r1[2 * j + 1] = rel == W + 1 ? v : T(0);
  }
}

#if defined(__AVX512F__)
// float rows with AVX-512: 16 outputs per step, the short rows of small images (14 outputs)
// in one masked step. Rows of this length defeat the compiler's vectorizer (its vector loop
// needs 16 iterations and the scalar tail branches on every compare).
inline __mmask16 first_lanes(int64_t k) {  // the lowest k lanes, k in [0, 16]
  return static_cast<__mmask16>(k >= 16 ? 0xFFFF : (1u << k) - 1);
}

// Lane constants shared by both directions: 2*lane (each output's window starts two columns
// after the previous one) and the offsets of a window's four entries, 0, 1, W and W + 1.
struct WindowOffsets {
  explicit WindowOffsets(int32_t W)
      : lane2(_mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)),
        one(_mm512_set1_epi32(1)),
        w0(_mm512_set1_epi32(W)),
        w1(_mm512_set1_epi32(W + 1)) {}
  __m512i lane2, one, w0, w1;
};

template <>
void max2x2_row<float>(const float* __restrict r0, const float* __restrict r1,
                       float* __restrict out, int32_t* __restrict idx, int64_t n, int32_t top,
                       int32_t W) {
  const WindowOffsets k(W);
  const __m512i even = k.lane2, odd = _mm512_add_epi32(even, k.one);
  for (int64_t j = 0; j < n; j += 16) {
    const int64_t m = std::min<int64_t>(16, n - j);
    const __mmask16 lo = first_lanes(2 * m), hi = first_lanes(2 * m - 16 > 0 ? 2 * m - 16 : 0);
    const __m512 p0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * j),
                 p1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * j + 16),
                 q0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * j),
                 q1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * j + 16);
    const __m512 a = _mm512_permutex2var_ps(p0, even, p1), b = _mm512_permutex2var_ps(p0, odd, p1);
    const __m512 c = _mm512_permutex2var_ps(q0, even, q1), d = _mm512_permutex2var_ps(q0, odd, q1);
    __m512 best = a;
    __m512i off = _mm512_setzero_si512();
    __mmask16 win =
        _mm512_cmp_ps_mask(b, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
    best = _mm512_mask_mov_ps(best, win, b), off = _mm512_mask_mov_epi32(off, win, k.one);
    win = _mm512_cmp_ps_mask(c, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q);
    best = _mm512_mask_mov_ps(best, win, c), off = _mm512_mask_mov_epi32(off, win, k.w0);
    win = _mm512_cmp_ps_mask(d, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q);
    best = _mm512_mask_mov_ps(best, win, d), off = _mm512_mask_mov_epi32(off, win, k.w1);
    const __mmask16 mo = first_lanes(m);
    _mm512_mask_storeu_ps(out + j, mo, best);
    const __m512i base = _mm512_set1_epi32(top + 2 * static_cast<int32_t>(j));
    _mm512_mask_storeu_epi32(idx + j, mo, _mm512_add_epi32(_mm512_add_epi32(base, k.lane2), off));
  }
}

template <>
void max2x2_row_backward<float>(const float* __restrict g, const int32_t* __restrict idx,
                                float* __restrict r0, float* __restrict r1, int64_t n, int32_t top,
                                int32_t W) {
  // Interleave two 16-lane vectors e, o into (e0 o0 e1 o1 ...): lanes 0-7 and 8-15.
  const __m512i lo_mix = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_mix =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const WindowOffsets k(W);
  for (int64_t j = 0; j < n; j += 16) {
    const int64_t m = std::min<int64_t>(16, n - j);
    const __mmask16 mo = first_lanes(m);
    const __m512 v = _mm512_maskz_loadu_ps(mo, g + j);
    const __m512i base =
        _mm512_add_epi32(_mm512_set1_epi32(top + 2 * static_cast<int32_t>(j)), k.lane2);
    const __m512i rel = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mo, idx + j), base);
    const __m512 a = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(rel, _mm512_setzero_si512()), v);
    const __m512 b = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(rel, k.one), v);
    const __m512 c = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(rel, k.w0), v);
    const __m512 d = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(rel, k.w1), v);
    const __mmask16 lo = first_lanes(2 * m), hi = first_lanes(2 * m - 16 > 0 ? 2 * m - 16 : 0);
    _mm512_mask_storeu_ps(r0 + 2 * j, lo, _mm512_permutex2var_ps(a, lo_mix, b));
    _mm512_mask_storeu_ps(r0 + 2 * j + 16, hi, _mm512_permutex2var_ps(a, hi_mix, b));
    _mm512_mask_storeu_ps(r1 + 2 * j, lo, _mm512_permutex2var_ps(c, lo_mix, d));
    _mm512_mask_storeu_ps(r1 + 2 * j + 16, hi, _mm512_permutex2var_ps(c, hi_mix, d));
  }
}
#endif

// Max pooling; idx gets the argmax's offset within its plane (first maximum, NaN wins).
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

// dx[plane, idx[o]] += dout[plane, o]: the max-pool backward.
template <typename T>
void max_pool_scatter(const T* g_out, const int32_t* idx, T* dx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  if (g.fast2x2() && g.H % 2 == 0 && g.W % 2 == 0) {
    // Windows tile the plane: every input gets its window's gradient or 0, written once
    // (no zero-fill pass, and the loop vectorizes).
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
    for (int64_t i = 0; i < g.OH; ++i) {
      const int64_t h0 = std::max<int64_t>(i * g.SH - g.PH, 0),
                    h1 = std::min(i * g.SH - g.PH + g.KH, g.H);
      for (int64_t j = 0; j < g.OW; ++j) {
        const int64_t w0 = std::max<int64_t>(j * g.SW - g.PW, 0),
                      w1 = std::min(j * g.SW - g.PW + g.KW, g.W);
        T acc = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) acc += xs[h * g.W + w];
        o[i * g.OW + j] = acc * inv;
      }
    }
  }
}

// dx[window] += dout / (kh*kw)
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
    for (int64_t i = 0; i < g.OH; ++i) {
      const int64_t h0 = std::max<int64_t>(i * g.SH - g.PH, 0),
                    h1 = std::min(i * g.SH - g.PH + g.KH, g.H);
      for (int64_t j = 0; j < g.OW; ++j) {
        const int64_t w0 = std::max<int64_t>(j * g.SW - g.PW, 0),
                      w1 = std::min(j * g.SW - g.PW + g.KW, g.W);
        const T v = s[i * g.OW + j] * inv;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) d[h * g.W + w] += v;
      }
    }
  }
}

Tensor avg_pool_raw(const Tensor& x, const PoolGeom& g) {
  Tensor out = empty(out_shape(x, g), x.dtype());
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
      avg_pool_forward<T>(px + p0 * HW, po + p0 * OP, sub);
    });
  });
  return out;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  const PoolGeom g = check_pool(x, kernel, stride, padding, "max_pool2d");
  Tensor out = empty(out_shape(x, g), x.dtype());
  auto idx = std::make_shared<std::vector<int32_t>>(static_cast<std::size_t>(out.numel()));
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    int32_t* pi = idx->data();
    for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
      max_pool_forward<T>(px + p0 * HW, po + p0 * OP, pi + p0 * OP, sub);
    });
  });
  out = record(
      "max_pool2d", out, {x},
      // d out / d x = 1 at the window's argmax, 0 elsewhere
      [idx, g, xs = x.shape()](const Tensor& gout, const Tensor&) -> GradList {
        Tensor dx = empty(xs, gout.dtype());
        const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
        DAGRAD_DISPATCH(gout.dtype(), {
          const T* pg = gout.data<T>();
          T* pd = dx.data<T>();
          const int32_t* pi = idx->data();
          for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
            max_pool_scatter<T>(pg + p0 * OP, pi + p0 * OP, pd + p0 * HW, sub);
          });
        });
        return {dx};
      },
      [idx, g](const TangentList& t, const Tensor& o) {
        Tensor r = empty_like(o);
        const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
        DAGRAD_DISPATCH(r.dtype(), {
          const T* s = t[0].data<T>();
          T* d = r.data<T>();
          for (int64_t pl = 0; pl < g.planes; ++pl)
            for (int64_t k = 0; k < OP; ++k) d[pl * OP + k] = s[pl * HW + (*idx)[pl * OP + k]];
        });
        return r;
      });
  mark_once_differentiable(out);
  return out;
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  const PoolGeom g = check_pool(x, kernel, stride, padding, "avg_pool2d");
  Tensor out = avg_pool_raw(x, g);
  out = record(
      "avg_pool2d", out, {x},
      // d out / d x = 1 / (kh*kw) for every input in the window
      [g, xs = x.shape()](const Tensor& gout, const Tensor&) -> GradList {
        Tensor dx = empty(xs, gout.dtype());
        const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
        DAGRAD_DISPATCH(gout.dtype(), {
          const T* pg = gout.data<T>();
          T* pd = dx.data<T>();
          for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
            avg_pool_backward<T>(pg + p0 * OP, pd + p0 * HW, sub);
          });
        });
        return {dx};
      },
      [g](const TangentList& t, const Tensor&) { return avg_pool_raw(t[0], g); });
  mark_once_differentiable(out);
  return out;
}

}  // namespace dagrad
