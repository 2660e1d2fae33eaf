// Batch-norm and layer-norm loops, compiled once per path (isa_begin.h): plain loops over
// contiguous runs that the compiler vectorizes for the path, statistics summed in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "dagrad/base/shape.h"
#include "dagrad/kernels/norm.h"
#include "dagrad/runtime/parallel.h"
// clang-format off
#include "dagrad/kernels/isa_begin.h"
#include "dagrad/kernels/block_sum.h"
// clang-format on

namespace dagrad::kernels::DAGRAD_ISA_NS {
namespace {

// ---------------------------------------------------------------- batch norm

// y = a (x - m) + b: batch norm's per-channel map, one expression for the forward value and for
// the fused ReLU's mask recomputed in backward (so both round identically).
template <typename T>
inline T bn_map(T a, T x, T m, T b) {
  return a * (x - m) + b;
}

// The fused ReLU's forward coefficients as T (empty without the ReLU).
template <typename T>
struct ReluMask {
  std::vector<T> a, b;
  ReluMask() = default;  // no mask
  explicit ReluMask(const Stats& st) {
    for (double v : st.fa) a.push_back(static_cast<T>(v));
    for (double v : st.fb) b.push_back(static_cast<T>(v));
  }
  bool on() const { return !a.empty(); }
};

// Channels per parallel chunk: about 32K elements of work each.
inline int64_t channel_grain(const BnGeom& g) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(g.M(), 1));
}

template <typename T>
Stats bn_batch_stats(const T* x, const BnGeom& g, double eps, std::vector<double>& var) {
  Stats st;
  st.mean.assign(g.C, 0.0);
  st.rstd.assign(g.C, 0.0);
  var.assign(g.C, 0.0);
  const double invM = 1.0 / static_cast<double>(g.M());
  // Each chunk owns a range of channels; the second pass is around the mean (no cancellation
  // in E[x^2] - E[x]^2).
  parallel_for(g.C, channel_grain(g), [&](int64_t c0, int64_t c1) {
    if (g.S == 1) {  // (N, D): accumulate whole rows, vectorized over the channels
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t c = c0; c < c1; ++c) st.mean[c] += x[n * g.C + c];
      for (int64_t c = c0; c < c1; ++c) st.mean[c] *= invM;
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const double d = x[n * g.C + c] - st.mean[c];
          var[c] += d * d;
        }
      return;
    }
    for (int64_t c = c0; c < c1; ++c) {
      double sum = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* r = x + (n * g.C + c) * g.S;
        sum += block_sum<T>(g.S, [r](int64_t s) { return r[s]; });
      }
      st.mean[c] = sum * invM;
      const T m = static_cast<T>(st.mean[c]);
      double sq = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* r = x + (n * g.C + c) * g.S;
        sq += block_sum<T>(g.S, [r, m](int64_t s) { return (r[s] - m) * (r[s] - m); });
      }
      var[c] = sq;
    }
  });
  for (int64_t c = 0; c < g.C; ++c) {
    var[c] *= invM;
    st.rstd[c] = 1.0 / std::sqrt(var[c] + eps);
  }
  return st;
}

// Applies out = a[c] * (x - mean[c]) + b[c] + k[c] * g' over every channel, where g' is g
// (may be null) zeroed where the fused ReLU's mask is off (when mask.on()). With clamp, out is
// then max(out, 0) (the fused ReLU's forward).
template <typename T>
void bn_affine_apply(const T* x, const T* gr, const Stats& st, const std::vector<T>& a,
                     const std::vector<T>& b, const std::vector<T>& k, const ReluMask<T>& mask,
                     bool clamp, T* out, const BnGeom& g) {
  std::vector<T> m(g.C);
  for (int64_t c = 0; c < g.C; ++c) m[c] = static_cast<T>(st.mean[c]);
  const bool masked = gr && mask.on();
  // S == 1: one row of the (N, C) input, over the channels.
  auto row = [&](const T* xr, const T* gg, T* o) {
    for (int64_t c = 0; c < g.C; ++c) {
      if (gr) {
        const T gv = masked && !(bn_map(mask.a[c], xr[c], m[c], mask.b[c]) > 0) ? T(0) : gg[c];
        o[c] = a[c] * (xr[c] - m[c]) + b[c] + k[c] * gv;
      } else {
        const T v = bn_map(a[c], xr[c], m[c], b[c]);
        o[c] = clamp && !(v > 0) ? T(0) : v;
      }
    }
  };
  if (g.S == 1) {
    parallel_for(g.N, std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(g.C, 1)),
                 [&](int64_t n0, int64_t n1) {
                   for (int64_t n = n0; n < n1; ++n)
                     row(x + n * g.C, gr ? gr + n * g.C : nullptr, out + n * g.C);
                 });
    return;
  }
  // One run of S elements per (image, channel) pair; per-channel constants hoisted.
  parallel_for(g.N * g.C, std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(g.S, 1)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r) {
                   const int64_t c = r % g.C, off = r * g.S;
                   const T ac = a[c], bc = b[c], mc = m[c], kc = k[c];
                   const T* xr = x + off;
                   T* o = out + off;
                   if (masked) {
                     const T fa = mask.a[c], fb = mask.b[c];
                     const T* gg = gr + off;
                     for (int64_t s = 0; s < g.S; ++s) {
                       const T gv = bn_map(fa, xr[s], mc, fb) > 0 ? gg[s] : T(0);
                       o[s] = ac * (xr[s] - mc) + bc + kc * gv;
                     }
                   } else if (gr) {
                     const T* gg = gr + off;
                     for (int64_t s = 0; s < g.S; ++s) o[s] = ac * (xr[s] - mc) + bc + kc * gg[s];
                   } else if (clamp) {
                     for (int64_t s = 0; s < g.S; ++s) {
                       const T v = bn_map(ac, xr[s], mc, bc);
                       o[s] = v > 0 ? v : T(0);
                     }
                   } else {
                     for (int64_t s = 0; s < g.S; ++s) o[s] = bn_map(ac, xr[s], mc, bc);
                   }
                 }
               });
}

// out = gamma * (x - mean) * rstd + beta, then max(out, 0) when relu (and st keeps the map
// for backward's mask).
template <typename T>
void bn_normalize(const T* x, Stats& st, const T* gamma, const T* beta, bool relu, T* out,
                  const BnGeom& g) {
  std::vector<double> fa(g.C), fb(g.C);
  std::vector<T> a(g.C), b(g.C), k(g.C, T(0));
  for (int64_t c = 0; c < g.C; ++c) {
    fa[c] = (gamma ? gamma[c] : 1.0) * st.rstd[c];
    fb[c] = beta ? beta[c] : 0.0;
    a[c] = static_cast<T>(fa[c]);
    b[c] = static_cast<T>(fb[c]);
  }
  if (relu) st.fa = std::move(fa), st.fb = std::move(fb);
  bn_affine_apply<T>(x, nullptr, st, a, b, k, ReluMask<T>(), relu, out, g);
}

// sum_g[c] = sum of g', sum_gx[c] = sum of g' * xh over channel c, where g' is g zeroed where
// the mask (the fused ReLU's, when on) is off.
template <typename T>
void bn_channel_sums(const T* x, const T* gr, const Stats& st, bool relu_mask, const BnGeom& g,
                     std::vector<double>& sum_g, std::vector<double>& sum_gx) {
  const ReluMask<T> mask = relu_mask ? ReluMask<T>(st) : ReluMask<T>();
  sum_g.assign(g.C, 0.0);
  sum_gx.assign(g.C, 0.0);
  parallel_for(g.C, channel_grain(g), [&](int64_t c0, int64_t c1) {
    if (g.S == 1) {
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const T xv = x[n * g.C + c];
          const double gv =
              mask.on() && !(bn_map(mask.a[c], xv, static_cast<T>(st.mean[c]), mask.b[c]) > 0)
                  ? 0.0
                  : static_cast<double>(gr[n * g.C + c]);
          sum_g[c] += gv;
          sum_gx[c] += gv * (x[n * g.C + c] - st.mean[c]);
        }
      return;
    }
    for (int64_t c = c0; c < c1; ++c) {
      const T m = static_cast<T>(st.mean[c]);
      for (int64_t n = 0; n < g.N; ++n) {
        const int64_t off = (n * g.C + c) * g.S;
        const T* xr = x + off;
        const T* gg = gr + off;
        if (mask.on()) {
          const T fa = mask.a[c], fb = mask.b[c];
          auto gm = [gg, xr, m, fa, fb](int64_t s) {
            return bn_map(fa, xr[s], m, fb) > 0 ? gg[s] : T(0);
          };
          block_sum2<T>(
              g.S, gm, [gm, xr, m](int64_t s) { return gm(s) * (xr[s] - m); }, sum_g[c], sum_gx[c]);
        } else {
          block_sum2<T>(
              g.S, [gg](int64_t s) { return gg[s]; },
              [gg, xr, m](int64_t s) { return gg[s] * (xr[s] - m); }, sum_g[c], sum_gx[c]);
        }
      }
    }
  });
  for (int64_t c = 0; c < g.C; ++c) sum_gx[c] *= st.rstd[c];
}

// The linear map shared by backward and forward mode (g is first masked by the fused ReLU's
// mask, when on):
//   training: dx = gamma * rstd * (g - mean(g) - xh * mean(g xh))   (means over the channel)
//   eval:     dx = gamma * rstd * g
template <typename T>
void bn_input_map(const T* x, const T* gr, const Stats& st, bool relu_mask, const T* gamma,
                  bool training, const std::vector<double>& sum_g,
                  const std::vector<double>& sum_gx, T* dx, const BnGeom& g) {
  const ReluMask<T> mask = relu_mask ? ReluMask<T>(st) : ReluMask<T>();
  const double invM = 1.0 / static_cast<double>(g.M());
  // dx = k * g + a * (x - mean) + b per channel
  std::vector<T> k(g.C), a(g.C), b(g.C);
  for (int64_t c = 0; c < g.C; ++c) {
    const double gs = (gamma ? gamma[c] : 1.0) * st.rstd[c];
    k[c] = static_cast<T>(gs);
    if (!training) {
      a[c] = 0, b[c] = 0;
      continue;
    }
    const double mg = sum_g[c] * invM, mgx = sum_gx[c] * invM;
    // gs * (g - mg - (x - mean) * rstd * mgx)
    a[c] = static_cast<T>(-gs * st.rstd[c] * mgx);
    b[c] = static_cast<T>(-gs * mg);
  }
  bn_affine_apply<T>(x, gr, st, a, b, k, mask, false, dx, g);
}

// out += t_gamma * xh + t_beta
template <typename T>
void bn_add_affine_tangent(const T* x, const Stats& st, const T* tg, const T* tb, T* out,
                           const BnGeom& g) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const int64_t off = (n * g.C + c) * g.S;
      const T a = static_cast<T>(tg[c] * st.rstd[c]);
      const T b = static_cast<T>(tb[c] - tg[c] * st.mean[c] * st.rstd[c]);
      for (int64_t s = 0; s < g.S; ++s) out[off + s] += a * x[off + s] + b;
    }
}

// ---------------------------------------------------------------- layer norm
// x is viewed as (R, D): every row normalized on its own.

template <typename T>
Stats ln_stats(const T* x, int64_t R, int64_t D, double eps) {
  Stats st;
  st.mean.resize(R);
  st.rstd.resize(R);
  for (int64_t r = 0; r < R; ++r) {
    const T* row = x + r * D;
    const double m = block_sum<T>(D, [row](int64_t j) { return row[j]; }) / static_cast<double>(D);
    const T mt = static_cast<T>(m);
    const double v =
        block_sum<T>(D, [row, mt](int64_t j) { return (row[j] - mt) * (row[j] - mt); });
    st.mean[r] = m;
    st.rstd[r] = 1.0 / std::sqrt(v / static_cast<double>(D) + eps);
  }
  return st;
}

template <typename T>
void ln_normalize(const T* x, const Stats& st, const T* gamma, const T* beta, T* out, int64_t R,
                  int64_t D) {
  for (int64_t r = 0; r < R; ++r) {
    const T m = static_cast<T>(st.mean[r]), rs = static_cast<T>(st.rstd[r]);
    const T* row = x + r * D;
    T* o = out + r * D;
    for (int64_t j = 0; j < D; ++j) {
      const T xh = (row[j] - m) * rs;
      o[j] = (gamma ? gamma[j] : T(1)) * xh + (beta ? beta[j] : T(0));
    }
  }
}

// dx = rstd * (gg - mean(gg) - xh * mean(gg xh)) per row, gg = g * gamma (the Jacobian of the
// row normalization applied to gg; forward mode uses it with gamma = null and multiplies
// afterwards). dgamma / dbeta accumulate sum over rows of g * xh and g when non-null.
template <typename T>
void ln_backward(const T* x, const T* gr, const Stats& st, const T* gamma, T* dx, T* dgamma,
                 T* dbeta, int64_t R, int64_t D) {
  std::vector<double> dg(dgamma ? D : 0, 0.0), db(dbeta ? D : 0, 0.0);
  std::vector<T> xh(D), gg(D);
  const double invD = 1.0 / static_cast<double>(D);
  for (int64_t r = 0; r < R; ++r) {
    const T m = static_cast<T>(st.mean[r]), rs = static_cast<T>(st.rstd[r]);
    const T* row = x + r * D;
    const T* grow = gr + r * D;
    for (int64_t j = 0; j < D; ++j) {
      xh[j] = (row[j] - m) * rs;
      gg[j] = gamma ? grow[j] * gamma[j] : grow[j];
    }
    double s1 = 0, s2 = 0;
    block_sum2<T>(
        D, [&gg](int64_t j) { return gg[j]; }, [&gg, &xh](int64_t j) { return gg[j] * xh[j]; }, s1,
        s2);
    if (dgamma)
      for (int64_t j = 0; j < D; ++j) dg[j] += grow[j] * xh[j];
    if (dbeta)
      for (int64_t j = 0; j < D; ++j) db[j] += grow[j];
    if (dx) {
      const T a = static_cast<T>(s1 * invD), b = static_cast<T>(s2 * invD);
      T* d = dx + r * D;
      for (int64_t j = 0; j < D; ++j) d[j] = rs * (gg[j] - a - xh[j] * b);
    }
  }
  for (int64_t j = 0; dgamma && j < D; ++j) dgamma[j] = static_cast<T>(dg[j]);
  for (int64_t j = 0; dbeta && j < D; ++j) dbeta[j] = static_cast<T>(db[j]);
}

}  // namespace

template <typename T>
const NormKernels<T>& norm_kernels() {
  static const NormKernels<T> table{
      &bn_batch_stats<T>,        &bn_normalize<T>, &bn_channel_sums<T>, &bn_input_map<T>,
      &bn_add_affine_tangent<T>, &ln_stats<T>,     &ln_normalize<T>,    &ln_backward<T>};
  return table;
}
template const NormKernels<float>& norm_kernels<float>();
template const NormKernels<double>& norm_kernels<double>();

}  // namespace dagrad::kernels::DAGRAD_ISA_NS

#include "dagrad/kernels/isa_end.h"
