// im2col and its adjoint for one image, compiled once per path (isa_begin.h). The rows of
// small images are 7-32 elements, too short for the compiler's vector loops, so float runs
// through simd.h's masked loads and stores; double keeps the plain loops.
#include <algorithm>
#include <type_traits>

#include "dagrad/kernels/conv.h"
// clang-format off
#include "dagrad/kernels/isa_begin.h"
// clang-format on

namespace dagrad::kernels::DAGRAD_ISA_NS {
namespace {

template <typename T>
constexpr bool vector_float = std::is_same_v<T, float>&& simd::lanes > 0;

// d[j] = s[j], j in [0, n)
template <typename T>
inline void copy_run(T* __restrict d, const T* __restrict s, int64_t n) {
  int64_t j = 0;
  if constexpr (vector_float<T>) {
    for (; j + simd::lanes <= n; j += simd::lanes) simd::store(d + j, simd::load(s + j));
    if (j < n) {
      const simd::M m = simd::mask_first(n - j);
      simd::store(d + j, m, simd::load(s + j, m));
    }
    return;
  }
  for (; j < n; ++j) d[j] = s[j];
}

// d[j] += s[j], j in [0, n)
template <typename T>
inline void add_run(T* __restrict d, const T* __restrict s, int64_t n) {
  int64_t j = 0;
  if constexpr (vector_float<T>) {
    for (; j + simd::lanes <= n; j += simd::lanes)
      simd::store(d + j, simd::add(simd::load(d + j), simd::load(s + j)));
    if (j < n) {
      const simd::M m = simd::mask_first(n - j);
      simd::store(d + j, m, simd::add(simd::load(d + j, m), simd::load(s + j, m)));
    }
    return;
  }
  for (; j < n; ++j) d[j] += s[j];
}

// d[j] = s[j] for j in [j0, j1), 0 elsewhere in [0, n). s may point before the row: only the
// window is read.
template <typename T>
inline void window_run(T* __restrict d, const T* s, int64_t n, int64_t j0, int64_t j1) {
  if constexpr (vector_float<T>) {
    for (int64_t b = 0; b < n; b += simd::lanes)
      simd::store(d + b, simd::mask_first(n - b),
                  simd::load(s + b, simd::mask_range(j0 - b, j1 - b)));
    return;
  }
  for (int64_t j = 0; j < n; ++j) d[j] = (j >= j0 && j < j1) ? s[j] : T(0);
}

// d[j] += s[j] for j in [j0, j1)
template <typename T>
inline void window_add(T* __restrict d, const T* s, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) d[j] += s[j];
}

// ---- any stride: lowering from a zero-padded copy xp (every kernel row a plain strided read)

template <typename T>
void pad_image(const T* x, const ConvGeom& g, T* xp) {
  const int64_t Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW;
  for (int64_t c = 0; c < g.C; ++c) {
    T* dc = xp + c * Hp * Wp;
    const T* sc = x + c * g.H * g.W;
    std::fill(dc, dc + g.PH * Wp, T(0));
    for (int64_t h = 0; h < g.H; ++h) {
      T* d = dc + (g.PH + h) * Wp;
      std::fill(d, d + g.PW, T(0));
      copy_run(d + g.PW, sc + h * g.W, g.W);
      std::fill(d + g.PW + g.W, d + Wp, T(0));
    }
    std::fill(dc + (g.PH + g.H) * Wp, dc + Hp * Wp, T(0));
  }
}

// cols[(c, p, q), (i, j)] = xp[c, i*sh + p, j*sw + q]; Hp, Wp are xp's plane size.
template <typename T>
void im2col(const T* xp, int64_t Hp, int64_t Wp, const ConvGeom& g, T* cols, int64_t ld) {
  const int64_t OW = g.OW, SW = g.SW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t p = 0; p < g.KH; ++p)
      for (int64_t q = 0; q < g.KW; ++q) {
        T* row = cols + ((c * g.KH + p) * g.KW + q) * ld;
        const T* src = xp + (c * Hp + p) * Wp + q;
        for (int64_t i = 0; i < g.OH; ++i) {
          T* __restrict d = row + i * OW;
          const T* __restrict s = src + i * g.SH * Wp;
          if (SW == 1) {
            copy_run(d, s, OW);
          } else {
            for (int64_t j = 0; j < OW; ++j) d[j] = s[j * SW];
          }
        }
      }
}

// dxp[c, i*sh + p, j*sw + q] += cols[(c, p, q), (i, j)]
template <typename T>
void col2im(const T* cols, int64_t ld, const ConvGeom& g, int64_t Hp, int64_t Wp, T* dxp) {
  const int64_t OW = g.OW, SW = g.SW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t p = 0; p < g.KH; ++p)
      for (int64_t q = 0; q < g.KW; ++q) {
        const T* row = cols + ((c * g.KH + p) * g.KW + q) * ld;
        T* dst = dxp + (c * Hp + p) * Wp + q;
        for (int64_t i = 0; i < g.OH; ++i) {
          const T* __restrict s = row + i * OW;
          T* __restrict d = dst + i * g.SH * Wp;
          if (SW == 1) {
            add_run(d, s, OW);
          } else {
            for (int64_t j = 0; j < OW; ++j) d[j * SW] += s[j];
          }
        }
      }
}

// ---- stride 1 (nearly every conv): no padded copy. Row (c, p, q) of cols reads input row
// i + p - PH at columns j + q - PW, and reads outside the image are zeros. The adjoint gathers
// instead of scattering: dx[c, h, w] = sum over (p, q) of cols[(c, p, q), (h + PH - p,
// w + PW - q)], summed in registers and stored once.

// Rows up to this many elements get their lane masks computed once per kernel offset.
constexpr int64_t max_row = 64;
constexpr int64_t lanes = simd::lanes > 0 ? simd::lanes : 1;  // 1: no vectors (branches unused)
constexpr int64_t max_blocks = max_row / lanes;
constexpr int64_t max_kw = 8;

template <typename T>
void im2col_s1(const T* x, const ConvGeom& g, T* cols, int64_t ld) {
  const int64_t H = g.H, W = g.W, OH = g.OH, OW = g.OW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t p = 0; p < g.KH; ++p)
      for (int64_t q = 0; q < g.KW; ++q) {
        T* row = cols + ((c * g.KH + p) * g.KW + q) * ld;
        const int64_t dq = q - g.PW;  // output column j reads input column j + dq
        const int64_t j0 = std::clamp<int64_t>(-dq, 0, OW),
                      j1 = std::clamp<int64_t>(W - dq, j0, OW);
        // output rows i in [i0, i1) read input rows inside the image
        const int64_t i0 = std::clamp<int64_t>(g.PH - p, 0, OH),
                      i1 = std::clamp<int64_t>(H + g.PH - p, i0, OH);
        std::fill(row, row + i0 * OW, T(0));
        std::fill(row + i1 * OW, row + OH * OW, T(0));
        const T* src = x + (c * H + i0 + p - g.PH) * W + dq;
        if constexpr (vector_float<T>) {
          if (OW <= max_row) {  // the masks depend only on q
            simd::M lm[max_blocks], sm[max_blocks];
            const int64_t nb = (OW + lanes - 1) / lanes;
            for (int64_t k = 0; k < nb; ++k) {
              lm[k] = simd::mask_range(j0 - lanes * k, j1 - lanes * k);
              sm[k] = simd::mask_first(OW - lanes * k);
            }
            for (int64_t i = i0; i < i1; ++i, src += W) {
              float* d = row + i * OW;
              for (int64_t k = 0; k < nb; ++k)
                simd::store(d + lanes * k, sm[k], simd::load(src + lanes * k, lm[k]));
            }
            continue;
          }
        }
        for (int64_t i = i0; i < i1; ++i, src += W) window_run(row + i * OW, src, OW, j0, j1);
      }
}

template <typename T>
void col2im_s1(const T* cols, int64_t ld, const ConvGeom& g, T* dx) {
  const int64_t H = g.H, W = g.W, OH = g.OH, OW = g.OW;
  if constexpr (vector_float<T>) {
    if (W <= max_row && g.KW <= max_kw) {
      // lm[q][k]: the lanes of block k that take a value from kernel column q
      simd::M lm[max_kw][max_blocks], sm[max_blocks];
      const int64_t nb = (W + lanes - 1) / lanes;
      for (int64_t k = 0; k < nb; ++k) {
        const int64_t b = lanes * k;
        sm[k] = simd::mask_first(W - b);
        for (int64_t q = 0; q < g.KW; ++q) {
          const int64_t dq = q - g.PW;  // dx column w takes cols column w - dq
          lm[q][k] = simd::mask_range(std::max<int64_t>(dq, 0) - b, std::min(W, OW + dq) - b);
        }
      }
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t h = 0; h < H; ++h) {
          float* d = dx + (c * H + h) * W;
          const int64_t p0 = std::max<int64_t>(0, h + g.PH - OH + 1),
                        p1 = std::min(g.KH, h + g.PH + 1);
          for (int64_t k = 0; k < nb; ++k) {
            simd::F acc = simd::zero();
            for (int64_t p = p0; p < p1; ++p) {
              const float* r =
                  cols + (c * g.KH + p) * g.KW * ld + (h + g.PH - p) * OW + g.PW + lanes * k;
              for (int64_t q = 0; q < g.KW; ++q, r += ld - 1)
                acc = simd::add(acc, simd::load(r, lm[q][k]));
            }
            simd::store(d + lanes * k, sm[k], acc);
          }
        }
      return;
    }
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < H; ++h) {
      T* d = dx + (c * H + h) * W;
      std::fill(d, d + W, T(0));
      for (int64_t p = 0; p < g.KH; ++p) {
        const int64_t i = h + g.PH - p;
        if (i < 0 || i >= OH) continue;
        for (int64_t q = 0; q < g.KW; ++q) {
          const int64_t dq = q - g.PW;
          const T* s = cols + ((c * g.KH + p) * g.KW + q) * ld + i * OW - dq;
          window_add(d, s, std::max<int64_t>(dq, 0), std::min(W, OW + dq));
        }
      }
    }
}

// ---- the two entry points

template <typename T>
void lower(const T* x, const ConvGeom& g, T* cols, int64_t ld, T* scratch) {
  if (g.stride1()) return im2col_s1(x, g, cols, ld);
  if (g.padded_size() == 0) return im2col(x, g.H, g.W, g, cols, ld);
  pad_image(x, g, scratch);
  im2col(scratch, g.H + 2 * g.PH, g.W + 2 * g.PW, g, cols, ld);
}

template <typename T>
void raise(const T* cols, int64_t ld, const ConvGeom& g, T* dx, T* scratch) {
  if (g.stride1()) return col2im_s1(cols, ld, g, dx);
  if (g.padded_size() == 0) {
    std::fill(dx, dx + g.C * g.H * g.W, T(0));
    return col2im(cols, ld, g, g.H, g.W, dx);
  }
  const int64_t Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW;
  std::fill(scratch, scratch + g.padded_size(), T(0));
  col2im(cols, ld, g, Hp, Wp, scratch);
  for (int64_t c = 0; c < g.C; ++c)  // dx = the interior of the padded gradient
    for (int64_t h = 0; h < g.H; ++h)
      copy_run(dx + (c * g.H + h) * g.W, scratch + (c * Hp + g.PH + h) * Wp + g.PW, g.W);
}

}  // namespace

template <typename T>
const ConvLowering<T>& conv_lowering() {
  static const ConvLowering<T> table{&lower<T>, &raise<T>};
  return table;
}
template const ConvLowering<float>& conv_lowering<float>();
template const ConvLowering<double>& conv_lowering<double>();

}  // namespace dagrad::kernels::DAGRAD_ISA_NS

#include "dagrad/kernels/isa_end.h"
