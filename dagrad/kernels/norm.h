// Batch-norm and layer-norm kernels on raw buffers, per path (norm.cpp). The ops (dagrad/autograd/
// ops/norm.cpp) check shapes, keep the statistics for backward, and record.
#pragma once
#include <cstdint>
#include <vector>

#include "dagrad/runtime/isa.h"

namespace dagrad::kernels {

// Per-group statistics: the mean and 1/sqrt(var + eps) of every channel (batch norm) or row
// (layer norm), kept in double.
struct Stats {
  std::vector<double> mean, rstd;
  // batch_norm_relu only: the forward's per-channel map y = fa (x - mean) + fb before the
  // clamp, so that backward recomputes the mask y > 0 from x instead of keeping y.
  std::vector<double> fa, fb;
};

// Batch norm views x as (N, C, S): channel c of image n is the run x + (n*C + c)*S.
struct BnGeom {
  int64_t N, C, S;
  int64_t M() const { return N * S; }  // elements per channel
};

template <typename T>
struct NormKernels {
  // Batch statistics of every channel; var gets the biased batch variance.
  Stats (*bn_batch_stats)(const T* x, const BnGeom& g, double eps, std::vector<double>& var);
  // out = gamma (x - mean) rstd + beta, then max(out, 0) when relu (st then keeps the map).
  void (*bn_normalize)(const T* x, Stats& st, const T* gamma, const T* beta, bool relu, T* out,
                       const BnGeom& g);
  // sum_g[c] = sum of g', sum_gx[c] = sum of g' xh over channel c; g' = g, zeroed where the
  // fused ReLU's output was 0 when relu_mask.
  void (*bn_channel_sums)(const T* x, const T* g, const Stats& st, bool relu_mask,
                          const BnGeom& geom, std::vector<double>& sum_g,
                          std::vector<double>& sum_gx);
  // training: dx = gamma rstd (g' - mean(g') - xh mean(g' xh)); eval: dx = gamma rstd g'
  void (*bn_input_map)(const T* x, const T* g, const Stats& st, bool relu_mask, const T* gamma,
                       bool training, const std::vector<double>& sum_g,
                       const std::vector<double>& sum_gx, T* dx, const BnGeom& geom);
  // out += t_gamma * xh + t_beta
  void (*bn_add_affine_tangent)(const T* x, const Stats& st, const T* tg, const T* tb, T* out,
                                const BnGeom& g);
  // Layer norm over rows of length D of an (R, D) view.
  Stats (*ln_stats)(const T* x, int64_t R, int64_t D, double eps);
  void (*ln_normalize)(const T* x, const Stats& st, const T* gamma, const T* beta, T* out,
                       int64_t R, int64_t D);
  // dx = rstd (gg - mean(gg) - xh mean(gg xh)) per row, gg = g * gamma (gamma may be null);
  // dgamma, dbeta (each may be null) = sums over rows of g xh and g.
  void (*ln_backward)(const T* x, const T* g, const Stats& st, const T* gamma, T* dx, T* dgamma,
                      T* dbeta, int64_t R, int64_t D);
};
DAGRAD_FOR_EACH_ISA(template <typename T> const NormKernels<T>& norm_kernels();)
template <typename T>
const NormKernels<T>& norm_kernels() {
  return DAGRAD_ISA_PICK(norm_kernels<T>());
}

}  // namespace dagrad::kernels
