#include "autograd/ops/conv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "autograd/blas.h"
#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops/kernels.h"
#include "autograd/parallel.h"

namespace dagrad {

namespace {

// Everything the kernels need to know about one convolution.
struct ConvGeom {
  int64_t N, C, H, W;                        // input
  int64_t F, KH, KW;                         // weight
  int64_t SH, SW, PH, PW;                    // stride, padding
  int64_t OH, OW;                            // output
  int64_t P() const { return OH * OW; }      // output positions per image
  int64_t K() const { return C * KH * KW; }  // rows of the im2col matrix
  bool pointwise() const {  // 1x1, stride 1, no padding: the image itself is the im2col matrix
    return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0;
  }
};

// Images per GEMM: several small images share one wider GEMM (fewer BLAS calls, each big
// enough to thread well), up to about `target_cols` output columns, with the im2col buffer
// kept under `budget` elements.
int64_t images_per_chunk(const ConvGeom& g) {
  // Measured on 2 cores: one image per GEMM is best from ~28x28 outputs up; grouping pays off
  // for small outputs (7x7, 8x8).
  constexpr int64_t target_cols = 512;
  constexpr int64_t budget = int64_t{1} << 20;  // 1 Mi elements (4 MiB in float32)
  const int64_t P = std::max<int64_t>(g.P(), 1);
  int64_t G = (target_cols + P - 1) / P;
  G = std::min(G, budget / std::max<int64_t>(g.K() * P, 1));
  return std::clamp<int64_t>(G, 1, std::max<int64_t>(g.N, 1));
}

// Copies (and adds) of short runs: the rows of small images are 7-32 elements, too short for
// the compiler's vector loops, so float gets AVX-512 masked loads and stores for the tail.
template <typename T>
inline void copy_run(T* __restrict d, const T* __restrict s, int64_t n) {
  for (int64_t j = 0; j < n; ++j) d[j] = s[j];
}
template <typename T>
inline void add_run(T* __restrict d, const T* __restrict s, int64_t n) {
  for (int64_t j = 0; j < n; ++j) d[j] += s[j];
}
#if defined(__AVX512F__)
inline __mmask16 tail_mask(int64_t k) { return static_cast<__mmask16>((1u << k) - 1); }
inline void copy_run(float* __restrict d, const float* __restrict s, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(d + j, _mm512_loadu_ps(s + j));
  if (j < n) {
    const __mmask16 m = tail_mask(n - j);
    _mm512_mask_storeu_ps(d + j, m, _mm512_maskz_loadu_ps(m, s + j));
  }
}
inline void add_run(float* __restrict d, const float* __restrict s, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    _mm512_storeu_ps(d + j, _mm512_add_ps(_mm512_loadu_ps(d + j), _mm512_loadu_ps(s + j)));
  if (j < n) {
    const __mmask16 m = tail_mask(n - j);
    _mm512_mask_storeu_ps(
        d + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + j), _mm512_maskz_loadu_ps(m, s + j)));
  }
}
#endif

// im2col works on a zero-padded copy of one image, so that every kernel row is a plain
// strided read with no bounds checks (small images make per-row branching the bottleneck).
template <typename T>
void pad_image(const T* x, const ConvGeom& g, T* xp) {
  const int64_t Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW;
  if (g.PH == 0 && g.PW == 0) {
    std::memcpy(xp, x, g.C * g.H * g.W * sizeof(T));
    return;
  }
  for (int64_t c = 0; c < g.C; ++c) {
    T* dc = xp + c * Hp * Wp;
    const T* sc = x + c * g.H * g.W;
    std::fill(dc, dc + g.PH * Wp, T(0));
    for (int64_t h = 0; h < g.H; ++h) {
      T* d = dc + (g.PH + h) * Wp;
      for (int64_t j = 0; j < g.PW; ++j) d[j] = T(0);
      copy_run(d + g.PW, sc + h * g.W, g.W);
      for (int64_t j = g.PW + g.W; j < Wp; ++j) d[j] = T(0);
    }
    std::fill(dc + (g.PH + g.H) * Wp, dc + Hp * Wp, T(0));
  }
}

// cols[(c, p, q), (i, j)] = xp[c, i*sh + p, j*sw + q] for the padded image xp; cols has row
// stride ld.
template <typename T>
void im2col(const T* xp, const ConvGeom& g, T* cols, int64_t ld) {
  const int64_t Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW, OW = g.OW, SW = g.SW;
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

// The adjoint of im2col into a padded gradient buffer: dxp[c, i*sh + p, j*sw + q] +=
// cols[(c, p, q), (i, j)].
template <typename T>
void col2im(const T* cols, int64_t ld, const ConvGeom& g, T* dxp) {
  const int64_t Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW, OW = g.OW, SW = g.SW;
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

// dx = the interior of the padded gradient dxp.
template <typename T>
void unpad_image(const T* dxp, const ConvGeom& g, T* dx) {
  const int64_t Hp = g.H + 2 * g.PH, Wp = g.W + 2 * g.PW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < g.H; ++h) {
      copy_run(dx + (c * g.H + h) * g.W, dxp + (c * Hp + g.PH + h) * Wp + g.PW, g.W);
    }
}

// Stride 1 (nearly every conv) needs no padded copy: row (c, p, q) of cols reads input row
// i + p - PH at columns j + q - PW, and the reads that fall outside the image are zeros. The
// adjoint gathers instead of scattering: dx[c, h, w] = sum over (p, q) of
// cols[(c, p, q), (h + PH - p, w + PW - q)], summed in registers and stored once.

// d[j] = s[j] for j in [j0, j1), 0 elsewhere in [0, n).
template <typename T>
inline void window_run(T* __restrict d, const T* s, int64_t n, int64_t j0, int64_t j1) {
  for (int64_t j = 0; j < n; ++j) d[j] = (j >= j0 && j < j1) ? s[j] : T(0);
}
// d[j] += s[j] for j in [j0, j1) (d[j] for j outside is left alone).
template <typename T>
inline void window_add(T* __restrict d, const T* s, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) d[j] += s[j];
}
#if defined(__AVX512F__)
// Lanes [a, b) of a 16-lane block, clamped.
inline __mmask16 lane_range(int64_t a, int64_t b) {
  a = std::clamp<int64_t>(a, 0, 16), b = std::clamp<int64_t>(b, 0, 16);
  if (b <= a) return 0;
  return static_cast<__mmask16>(((1u << b) - 1) & ~((1u << a) - 1));
}
// The masked-off lanes are never read, so s may point before the row (fault suppression).
inline void window_run(float* __restrict d, const float* s, int64_t n, int64_t j0, int64_t j1) {
  for (int64_t b = 0; b < n; b += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(lane_range(j0 - b, j1 - b), s + b);
    _mm512_mask_storeu_ps(d + b, lane_range(0, n - b), v);
  }
}
#endif

template <typename T>
void im2col_s1(const T* x, const ConvGeom& g, T* cols, int64_t ld) {
  const int64_t H = g.H, W = g.W, OH = g.OH, OW = g.OW;
#if defined(__AVX512F__)
  // Row masks depend only on q: computed once per (c, p, q) for up to 4 blocks of 16 lanes.
  constexpr int64_t max_blocks = 4;
  const bool vec = std::is_same_v<T, float> && OW <= 16 * max_blocks;
#endif
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
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>) {
          if (vec) {
            __mmask16 lm[max_blocks], sm[max_blocks];
            const int64_t nb = (OW + 15) / 16;
            for (int64_t k = 0; k < nb; ++k) {
              lm[k] = lane_range(j0 - 16 * k, j1 - 16 * k);
              sm[k] = lane_range(0, OW - 16 * k);
            }
            for (int64_t i = i0; i < i1; ++i, src += W) {
              float* d = row + i * OW;
              for (int64_t k = 0; k < nb; ++k)
                _mm512_mask_storeu_ps(d + 16 * k, sm[k],
                                      _mm512_maskz_loadu_ps(lm[k], src + 16 * k));
            }
            continue;
          }
        }
#endif
        for (int64_t i = i0; i < i1; ++i, src += W) window_run(row + i * OW, src, OW, j0, j1);
      }
}

// dx = the adjoint of im2col_s1 applied to cols (fully overwritten).
template <typename T>
void col2im_s1(const T* cols, int64_t ld, const ConvGeom& g, T* dx) {
  const int64_t H = g.H, W = g.W, OH = g.OH, OW = g.OW;
#if defined(__AVX512F__)
  constexpr int64_t max_blocks = 4, max_kw = 8;
  if constexpr (std::is_same_v<T, float>) {
    if (W <= 16 * max_blocks && g.KW <= max_kw) {
      // lm[q][k]: the lanes of block k that take a value from kernel column q
      __mmask16 lm[max_kw][max_blocks], sm[max_blocks];
      const int64_t nb = (W + 15) / 16;
      for (int64_t k = 0; k < nb; ++k) {
        sm[k] = lane_range(0, W - 16 * k);
        for (int64_t q = 0; q < g.KW; ++q) {
          const int64_t dq = q - g.PW;  // dx column w takes cols column w - dq
          lm[q][k] = lane_range(std::max<int64_t>(dq, 0) - 16 * k, std::min(W, OW + dq) - 16 * k);
        }
      }
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t h = 0; h < H; ++h) {
          float* d = dx + (c * H + h) * W;
          const int64_t p0 = std::max<int64_t>(0, h + g.PH - OH + 1),
                        p1 = std::min(g.KH, h + g.PH + 1);
          for (int64_t k = 0; k < nb; ++k) {
            __m512 acc = _mm512_setzero_ps();
            for (int64_t p = p0; p < p1; ++p) {
              const float* r =
                  cols + (c * g.KH + p) * g.KW * ld + (h + g.PH - p) * OW + g.PW + 16 * k;
              for (int64_t q = 0; q < g.KW; ++q, r += ld - 1)
                acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lm[q][k], r));
            }
            _mm512_mask_storeu_ps(d + 16 * k, sm[k], acc);
          }
        }
      return;
    }
  }
#endif
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

// Images per parallel chunk: at least enough that a chunk holds ~64K multiply-adds, so the
// pool's hand-off cost stays small next to the work.
int64_t image_grain(const ConvGeom& g) {
  const int64_t macs = std::max<int64_t>(g.F * g.K() * g.P(), 1);
  return std::max<int64_t>(1, (int64_t{1} << 16) / macs);
}

// One chunk's scratch: the im2col matrix of up to G images, the padded image, and the
// (F, G*P) product when several images share a GEMM.
template <typename T>
struct ConvScratch {
  ConvScratch(const ConvGeom& g, int64_t G)
      : cols(static_cast<std::size_t>(g.K() * G * g.P())),
        tmp(G > 1 ? static_cast<std::size_t>(g.F * G * g.P()) : 0),
        xp(padded_copy(g) ? static_cast<std::size_t>(g.C * (g.H + 2 * g.PH) * (g.W + 2 * g.PW))
                          : 0) {}
  std::vector<T> cols, tmp, xp;
  // Strided convs with padding lower a zero-padded copy of the image.
  static bool padded_copy(const ConvGeom& g) { return !stride1(g) && (g.PH > 0 || g.PW > 0); }
  static bool stride1(const ConvGeom& g) { return g.SH == 1 && g.SW == 1; }
  // im2col of image xn into column block c (row stride ld)
  void lower(const T* xn, const ConvGeom& g, T* c, int64_t ld) {
    if (stride1(g)) return im2col_s1(xn, g, c, ld);
    if (!xp.empty()) pad_image(xn, g, xp.data());
    im2col(xp.empty() ? xn : xp.data(), g, c, ld);
  }
  // dx_n = the adjoint of lower() applied to column block c
  void raise(const T* c, int64_t ld, const ConvGeom& g, T* dxn) {
    if (stride1(g)) return col2im_s1(c, ld, g, dxn);
    if (xp.empty()) {
      std::fill(dxn, dxn + g.C * g.H * g.W, T(0));
      col2im(c, ld, g, dxn);
      return;
    }
    std::fill(xp.begin(), xp.end(), T(0));
    col2im(c, ld, g, xp.data());
    unpad_image(xp.data(), g, dxn);
  }
};

// out = conv(x, w) + b (b may be null), all raw. Images are split across the pool; each chunk
// runs im2col and single-threaded GEMMs on its own images.
template <typename T>
void conv_forward(const T* x, const T* w, const T* b, T* out, const ConvGeom& g) {
  const int64_t P = g.P(), K = g.K(), F = g.F;
  const int64_t in_img = g.C * g.H * g.W, out_img = F * P;
  auto fill_bias = [&](T* o) {  // o is (F, P) with row stride P
    for (int64_t f = 0; f < F; ++f) std::fill(o + f * P, o + (f + 1) * P, b ? b[f] : T(0));
  };
  if (g.pointwise()) {  // out_n (F, P) = w (F, C) . x_n (C, P)
    parallel_for(g.N, image_grain(g), [&](int64_t lo, int64_t hi) {
      for (int64_t n = lo; n < hi; ++n) {
        T* o = out + n * out_img;
        if (b) fill_bias(o);
        blas::gemm(false, false, F, P, K, T(1), w, K, x + n * in_img, P, b ? T(1) : T(0), o, P);
      }
    });
    return;
  }
  const int64_t G = images_per_chunk(g);
  parallel_for(g.N, image_grain(g), [&](int64_t lo, int64_t hi) {
    ConvScratch<T> sc(g, std::min(G, hi - lo));
    for (int64_t n0 = lo; n0 < hi; n0 += G) {
      const int64_t gn = std::min(G, hi - n0), ld = gn * P;
      for (int64_t j = 0; j < gn; ++j)
        sc.lower(x + (n0 + j) * in_img, g, sc.cols.data() + j * P, ld);
      if (gn == 1) {  // (F, P) lands directly in the output
        T* o = out + n0 * out_img;
        if (b) fill_bias(o);
        blas::gemm(false, false, F, P, K, T(1), w, K, sc.cols.data(), P, b ? T(1) : T(0), o, P);
        continue;
      }
      // tmp (F, gn*P) = w (F, K) . cols (K, gn*P), then scatter to (gn, F, P) adding the bias.
      blas::gemm(false, false, F, ld, K, T(1), w, K, sc.cols.data(), ld, T(0), sc.tmp.data(), ld);
      for (int64_t j = 0; j < gn; ++j) {
        T* o = out + (n0 + j) * out_img;
        for (int64_t f = 0; f < F; ++f) {
          const T* s = sc.tmp.data() + f * ld + j * P;
          T* d = o + f * P;
          const T bf = b ? b[f] : T(0);
          for (int64_t i = 0; i < P; ++i) d[i] = s[i] + bf;
        }
      }
    }
  });
}

// dx and/or dw (each may be null) from dout; dx and dw are fully overwritten. Images are split
// across the pool: each chunk writes its own images' dx and sums its dw share into a private
// buffer (the first chunk straight into dw); the shares are added at the end.
template <typename T>
void conv_backward(const T* x, const T* w, const T* dout, T* dx, T* dw, const ConvGeom& g) {
  const int64_t P = g.P(), K = g.K(), F = g.F;
  const int64_t in_img = g.C * g.H * g.W, out_img = F * P;
  const int64_t chunks = parallel_chunks(g.N, image_grain(g));
  std::vector<std::vector<T>> dw_share(dw ? std::max<int64_t>(chunks - 1, 0) : 0);
  if (dw) std::fill(dw, dw + F * K, T(0));
  const int64_t G = g.pointwise() ? 1 : images_per_chunk(g);
  parallel_run_chunks(g.N, chunks, [&](int64_t chunk, int64_t lo, int64_t hi) {
    T* dwc = nullptr;
    if (dw) {
      if (chunk == 0) {
        dwc = dw;
      } else {
        dw_share[chunk - 1].assign(static_cast<std::size_t>(F * K), T(0));
        dwc = dw_share[chunk - 1].data();
      }
    }
    if (g.pointwise()) {
      for (int64_t n = lo; n < hi; ++n) {
        const T* go = dout + n * out_img;
        // dw (F, C) += dout_n (F, P) . x_n^T (P, C);  dx_n (C, P) = w^T (C, F) . dout_n (F, P)
        if (dwc) blas::gemm(false, true, F, K, P, T(1), go, P, x + n * in_img, P, T(1), dwc, K);
        if (dx) blas::gemm(true, false, K, P, F, T(1), w, K, go, P, T(0), dx + n * in_img, P);
      }
      return;
    }
    ConvScratch<T> sc(g, std::min(G, hi - lo));
    std::vector<T>& gbuf = sc.tmp;  // the chunk's dout as one (F, gn*P) matrix
    for (int64_t n0 = lo; n0 < hi; n0 += G) {
      const int64_t gn = std::min(G, hi - n0), ld = gn * P;
      const T* gc = dout + n0 * out_img;
      if (gn > 1) {
        for (int64_t j = 0; j < gn; ++j)
          for (int64_t f = 0; f < F; ++f)
            std::memcpy(gbuf.data() + f * ld + j * P, dout + (n0 + j) * out_img + f * P,
                        P * sizeof(T));
        gc = gbuf.data();
      }
      if (dwc) {
        // dw (F, K) += dout (F, gn*P) . cols^T (gn*P, K)
        for (int64_t j = 0; j < gn; ++j)
          sc.lower(x + (n0 + j) * in_img, g, sc.cols.data() + j * P, ld);
        blas::gemm(false, true, F, K, ld, T(1), gc, ld, sc.cols.data(), ld, T(1), dwc, K);
      }
      if (dx) {
        // dcols (K, gn*P) = w^T (K, F) . dout (F, gn*P), then scattered back into the images
        blas::gemm(true, false, K, ld, F, T(1), w, K, gc, ld, T(0), sc.cols.data(), ld);
        for (int64_t j = 0; j < gn; ++j)
          sc.raise(sc.cols.data() + j * P, ld, g, dx + (n0 + j) * in_img);
      }
    }
  });
  for (const std::vector<T>& share : dw_share)
    for (int64_t i = 0; i < F * K; ++i) dw[i] += share[i];
}

// db[f] = sum over n, i, j of dout[n, f, i, j]
template <typename T>
void bias_backward(const T* dout, T* db, const ConvGeom& g) {
  const int64_t P = g.P();
  parallel_for(g.F, std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(g.N * P, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t f = lo; f < hi; ++f) {
                   double acc = 0;
                   for (int64_t n = 0; n < g.N; ++n) {
                     const T* r = dout + (n * g.F + f) * P;
                     acc += kernels::block_sum<T>(P, [r](int64_t i) { return r[i]; });
                   }
                   db[f] = static_cast<T>(acc);
                 }
               });
}

ConvGeom check_conv(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride,
                    Size2 padding) {
  if (x.dim() != 4)
    throw std::invalid_argument(
        fmt::format("conv2d: input must be 4-D (N, C, H, W), got shape {}", to_string(x.shape())));
  if (w.dim() != 4)
    throw std::invalid_argument(fmt::format(
        "conv2d: weight must be 4-D (F, C, KH, KW), got shape {}", to_string(w.shape())));
  kernels::check_same_dtype(x, w, "conv2d");
  if (x.size(1) != w.size(1))
    throw std::invalid_argument(
        fmt::format("conv2d: input {} has {} channels but weight {} expects {}",
                    to_string(x.shape()), x.size(1), to_string(w.shape()), w.size(1)));
  if (b.defined()) {
    kernels::check_same_dtype(x, b, "conv2d");
    if (b.dim() != 1 || b.size(0) != w.size(0))
      throw std::invalid_argument(
          fmt::format("conv2d: bias must have shape {} for weight {}, got {}",
                      to_string(Shape{w.size(0)}), to_string(w.shape()), to_string(b.shape())));
  }
  if (stride.h <= 0 || stride.w <= 0)
    throw std::invalid_argument(
        fmt::format("conv2d: stride must be positive, got ({}, {})", stride.h, stride.w));
  if (padding.h < 0 || padding.w < 0)
    throw std::invalid_argument(
        fmt::format("conv2d: padding must be non-negative, got ({}, {})", padding.h, padding.w));
  ConvGeom g{};
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.F = w.size(0), g.KH = w.size(2), g.KW = w.size(3);
  g.SH = stride.h, g.SW = stride.w, g.PH = padding.h, g.PW = padding.w;
  if (g.KH < 1 || g.KW < 1)
    throw std::invalid_argument(
        fmt::format("conv2d: weight {} has an empty kernel", to_string(w.shape())));
  if (g.KH > g.H + 2 * g.PH || g.KW > g.W + 2 * g.PW)
    throw std::invalid_argument(fmt::format(
        "conv2d: kernel {}x{} (weight {}) is larger than the padded input {}x{} (input {}, "
        "padding ({}, {}))",
        g.KH, g.KW, to_string(w.shape()), g.H + 2 * g.PH, g.W + 2 * g.PW, to_string(x.shape()),
        g.PH, g.PW));
  g.OH = conv_output_size(g.H, g.KH, g.SH, g.PH);
  g.OW = conv_output_size(g.W, g.KW, g.SW, g.PW);
  return g;
}

// Raw convolution of plain tensors (no recording): used by the forward pass and the
// forward-mode rule.
Tensor conv_raw(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& g) {
  Tensor out = empty({g.N, g.F, g.OH, g.OW}, x.dtype());
  if (out.numel() == 0) return out;
  DAGRAD_DISPATCH(x.dtype(), {
    if (g.K() == 0) {  // no input channels: only the bias remains
      T* po = out.data<T>();
      for (int64_t i = 0, n = out.numel(); i < n; ++i)
        po[i] = b.defined() ? b.data<T>()[(i / g.P()) % g.F] : T(0);
      return out;
    }
    conv_forward<T>(x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr, out.data<T>(),
                    g);
  });
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride, Size2 padding) {
  const ConvGeom g = check_conv(x, w, b, stride, padding);
  Tensor out = conv_raw(x, w, b, g);

  const bool gx = x.requires_grad(), gw = w.requires_grad();
  // dx = col2im(w^T dout), dw = sum_n dout_n cols_n^T, db = sum over N, H, W of dout
  auto backward_xw = [x = SavedTensor(gw ? x : Tensor(), "conv2d"),
                      w = SavedTensor(gx ? w : Tensor(), "conv2d"), g, gx,
                      gw](const Tensor& gout) -> std::pair<Tensor, Tensor> {
    Tensor dx = gx ? empty({g.N, g.C, g.H, g.W}, gout.dtype()) : Tensor();
    Tensor dw = gw ? empty({g.F, g.C, g.KH, g.KW}, gout.dtype()) : Tensor();
    if ((gx || gw) && g.K() > 0 && gout.numel() > 0) {
      DAGRAD_DISPATCH(gout.dtype(), {
        conv_backward<T>(gw ? x.get().data<T>() : nullptr, gx ? w.get().data<T>() : nullptr,
                         gout.data<T>(), gx ? dx.data<T>() : nullptr, gw ? dw.data<T>() : nullptr,
                         g);
      });
    } else {
      if (gx) dx.fill_(0.0);
      if (gw) dw.fill_(0.0);
    }
    return {dx, dw};
  };
  // Forward mode: conv is bilinear, t_out = conv(t_x, w) + conv(x, t_w) + t_b.
  const bool tx = x.tangent().defined(), tw = w.tangent().defined();
  auto jvp_xw = [xd = x.detach(), wd = w.detach(), g, tx, tw](const TangentList& t) {
    Tensor r;
    if (tx) r = conv_raw(t[0].detach(), wd, Tensor(), g);
    if (tw) {
      Tensor s = conv_raw(xd, t[1].detach(), Tensor(), g);
      r = r.defined() ? r.add_(s) : s;
    }
    return r.defined() ? r : zeros({g.N, g.F, g.OH, g.OW}, xd.dtype());
  };

  if (!b.defined()) {
    out = record(
        "conv2d", out, {x, w},
        [bw = std::move(backward_xw)](const Tensor& gout, const Tensor&) -> GradList {
          auto [dx, dw] = bw(gout);
          return {dx, dw};
        },
        [jv = std::move(jvp_xw)](const TangentList& t, const Tensor&) { return jv(t); });
  } else {
    const bool gb = b.requires_grad(), tb = b.tangent().defined();
    out = record(
        "conv2d", out, {x, w, b},
        [bw = std::move(backward_xw), g, gb](const Tensor& gout, const Tensor&) -> GradList {
          auto [dx, dw] = bw(gout);
          Tensor db;
          if (gb) {
            db = empty({g.F}, gout.dtype());
            DAGRAD_DISPATCH(gout.dtype(), { bias_backward<T>(gout.data<T>(), db.data<T>(), g); });
          }
          return {dx, dw, db};
        },
        [jv = std::move(jvp_xw), g, tb](const TangentList& t, const Tensor&) {
          Tensor r = jv(t);
          if (tb) {
            DAGRAD_DISPATCH(r.dtype(), {
              T* pr = r.data<T>();
              const T* pb = t[2].data<T>();
              const int64_t P = g.P();
              for (int64_t n = 0; n < g.N; ++n)
                for (int64_t f = 0; f < g.F; ++f) {
                  T* d = pr + (n * g.F + f) * P;
                  for (int64_t i = 0; i < P; ++i) d[i] += pb[f];
                }
            });
          }
          return r;
        });
  }
  mark_once_differentiable(out);
  return out;
}

Tensor conv2d(const Tensor& x, const Tensor& w, Size2 stride, Size2 padding) {
  return conv2d(x, w, Tensor(), stride, padding);
}

}  // namespace dagrad
