// Convolution as im2col + GEMM: images are split across the thread pool, and each chunk lowers
// its images (conv_lowering.cpp, per path) and runs single-threaded GEMMs on them.
#include "dagrad/kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "dagrad/kernels/block_sum.h"
#include "dagrad/runtime/blas.h"
#include "dagrad/runtime/parallel.h"

namespace dagrad::kernels {

namespace {

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

// Images per parallel chunk: at least enough that a chunk holds ~64K multiply-adds, so the
// pool's hand-off cost stays small next to the work.
int64_t image_grain(const ConvGeom& g) {
  const int64_t macs = std::max<int64_t>(g.F * g.K() * g.P(), 1);
  return std::max<int64_t>(1, (int64_t{1} << 16) / macs);
}

// One chunk's scratch: the im2col matrix of up to G images, the (F, G*P) product when several
// images share a GEMM, and the padded image of strided convs.
template <typename T>
struct ConvScratch {
  ConvScratch(const ConvGeom& g, int64_t G)
      : cols(static_cast<std::size_t>(g.K() * G * g.P())),
        tmp(G > 1 ? static_cast<std::size_t>(g.F * G * g.P()) : 0),
        xp(static_cast<std::size_t>(g.padded_size())),
        k(conv_lowering<T>()) {}
  std::vector<T> cols, tmp, xp;
  const ConvLowering<T>& k;
  void lower(const T* xn, const ConvGeom& g, T* c, int64_t ld) { k.lower(xn, g, c, ld, xp.data()); }
  void raise(const T* c, int64_t ld, const ConvGeom& g, T* dxn) {
    k.raise(c, ld, g, dxn, xp.data());
  }
};

}  // namespace

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

// Each chunk writes its own images' dx and sums its dw share into a private buffer (the first
// chunk straight into dw); the shares are added at the end.
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
        // dcols (K, gn*P) = w^T (K, F) . dout (F, gn*P), then raised back into the images
        blas::gemm(true, false, K, ld, F, T(1), w, K, gc, ld, T(0), sc.cols.data(), ld);
        for (int64_t j = 0; j < gn; ++j)
          sc.raise(sc.cols.data() + j * P, ld, g, dx + (n0 + j) * in_img);
      }
    }
  });
  for (const std::vector<T>& share : dw_share)
    for (int64_t i = 0; i < F * K; ++i) dw[i] += share[i];
}

template <typename T>
void conv_bias_backward(const T* dout, T* db, const ConvGeom& g) {
  const int64_t P = g.P();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(g.N * P, 1));
  parallel_for(g.F, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t f = lo; f < hi; ++f) {
      double acc = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* r = dout + (n * g.F + f) * P;
        acc += block_sum<T>(P, [r](int64_t i) { return r[i]; });
      }
      db[f] = static_cast<T>(acc);
    }
  });
}

template void conv_forward<float>(const float*, const float*, const float*, float*,
                                  const ConvGeom&);
template void conv_forward<double>(const double*, const double*, const double*, double*,
                                   const ConvGeom&);
template void conv_backward<float>(const float*, const float*, const float*, float*, float*,
                                   const ConvGeom&);
template void conv_backward<double>(const double*, const double*, const double*, double*, double*,
                                    const ConvGeom&);
template void conv_bias_backward<float>(const float*, float*, const ConvGeom&);
template void conv_bias_backward<double>(const double*, double*, const ConvGeom&);

}  // namespace dagrad::kernels
