#include "autograd/ops/norm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops/kernels.h"
#include "autograd/parallel.h"

namespace dagrad {

namespace {

// Per-group statistics: the mean and 1/sqrt(var + eps) of every channel (batch norm) or row
// (layer norm), kept in double.
struct Stats {
  std::vector<double> mean, rstd;
  // batch_norm_relu only: the forward's per-channel map y = fa (x - mean) + fb before the
  // clamp, so that backward recomputes the mask y > 0 from x instead of keeping y.
  std::vector<double> fa, fb;
};

void check_param(const Tensor& p, const Tensor& x, const Shape& want, const char* op,
                 const char* what) {
  if (!p.defined()) return;
  kernels::check_same_dtype(x, p, op);
  if (p.shape() != want)
    throw std::invalid_argument(fmt::format("{}: {} must have shape {} for input {}, got {}", op,
                                            what, to_string(want), to_string(x.shape()),
                                            to_string(p.shape())));
}

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// ---------------------------------------------------------------- batch norm kernels
// x is viewed as (N, C, S): channel c of image n is the contiguous run x + (n*C + c)*S.

struct BnGeom {
  int64_t N, C, S;
  int64_t M() const { return N * S; }  // elements per channel
};

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
        sum += kernels::block_sum<T>(g.S, [r](int64_t s) { return r[s]; });
      }
      st.mean[c] = sum * invM;
      const T m = static_cast<T>(st.mean[c]);
      double sq = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* r = x + (n * g.C + c) * g.S;
        sq += kernels::block_sum<T>(g.S, [r, m](int64_t s) { return (r[s] - m) * (r[s] - m); });
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
void bn_channel_sums(const T* x, const T* gr, const Stats& st, const ReluMask<T>& mask,
                     const BnGeom& g, std::vector<double>& sum_g, std::vector<double>& sum_gx) {
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
          kernels::block_sum2<T>(
              g.S, gm, [gm, xr, m](int64_t s) { return gm(s) * (xr[s] - m); }, sum_g[c], sum_gx[c]);
        } else {
          kernels::block_sum2<T>(
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
void bn_input_map(const T* x, const T* gr, const Stats& st, const ReluMask<T>& mask, const T* gamma,
                  bool training, const std::vector<double>& sum_g,
                  const std::vector<double>& sum_gx, T* dx, const BnGeom& g) {
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

// ---------------------------------------------------------------- layer norm kernels
// x is viewed as (R, D): every row normalized on its own.

template <typename T>
Stats ln_stats(const T* x, int64_t R, int64_t D, double eps) {
  Stats st;
  st.mean.resize(R);
  st.rstd.resize(R);
  for (int64_t r = 0; r < R; ++r) {
    const T* row = x + r * D;
    const double m =
        kernels::block_sum<T>(D, [row](int64_t j) { return row[j]; }) / static_cast<double>(D);
    const T mt = static_cast<T>(m);
    const double v =
        kernels::block_sum<T>(D, [row, mt](int64_t j) { return (row[j] - mt) * (row[j] - mt); });
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
    kernels::block_sum2<T>(
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

// ---------------------------------------------------------------- batch_norm

namespace {

// batch_norm, and with relu the fused batch_norm_relu.
Tensor batch_norm_op(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                     const Tensor& running_mean, const Tensor& running_var, bool training,
                     double momentum, double eps, bool relu) {
  const char* op = relu ? "batch_norm_relu" : "batch_norm";
  if (x.dim() < 2)
    throw std::invalid_argument(fmt::format(
        "{}: input must be (N, C) or (N, C, H, W), got shape {}", op, to_string(x.shape())));
  BnGeom g{x.size(0), x.size(1), 1};
  for (int i = 2; i < x.dim(); ++i) g.S *= x.size(i);
  const Shape cs{g.C};
  check_param(gamma, x, cs, op, "gamma");
  check_param(beta, x, cs, op, "beta");
  check_param(running_mean, x, cs, op, "running_mean");
  check_param(running_var, x, cs, op, "running_var");
  if (running_mean.defined() != running_var.defined())
    throw std::invalid_argument(
        fmt::format("{}: give both running_mean and running_var, or neither", op));
  if (!training && !running_mean.defined())
    throw std::invalid_argument(fmt::format(
        "{}: eval mode needs running_mean and running_var (input {})", op, to_string(x.shape())));
  if (training && g.M() <= 1)
    throw std::invalid_argument(
        fmt::format("{}: expected more than 1 value per channel when training, got input {}", op,
                    to_string(x.shape())));
  if (!(eps >= 0.0))
    throw std::invalid_argument(fmt::format("{}: eps must be non-negative, got {}", op, eps));

  auto st = std::make_shared<Stats>();
  Tensor out = empty_like(x);
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    if (training) {
      std::vector<double> var;
      *st = bn_batch_stats<T>(px, g, eps, var);
      if (running_mean.defined()) {
        // running = momentum * running + (1 - momentum) * batch (biased batch variance)
        T* rm = running_mean.data<T>();
        T* rv = running_var.data<T>();
        for (int64_t c = 0; c < g.C; ++c) {
          rm[c] = static_cast<T>(momentum * rm[c] + (1.0 - momentum) * st->mean[c]);
          rv[c] = static_cast<T>(momentum * rv[c] + (1.0 - momentum) * var[c]);
        }
        running_mean.bump_version();
        running_var.bump_version();
      }
    } else {
      const T* rm = running_mean.data<T>();
      const T* rv = running_var.data<T>();
      st->mean.resize(g.C);
      st->rstd.resize(g.C);
      for (int64_t c = 0; c < g.C; ++c) {
        st->mean[c] = rm[c];
        st->rstd[c] = 1.0 / std::sqrt(static_cast<double>(rv[c]) + eps);
      }
    }
    bn_normalize<T>(px, *st, ptr_or_null<T>(gamma), ptr_or_null<T>(beta), relu, out.data<T>(), g);
  });

  const Tensor gm = gamma.defined() ? gamma : ones(cs, x.dtype());
  const Tensor bt = beta.defined() ? beta : zeros(cs, x.dtype());
  const bool gx = x.requires_grad(), gg = gm.requires_grad(), gb = bt.requires_grad();
  out = record(
      op, out, {x, gm, bt},
      // dx = gamma rstd (g - mean(g) - xh mean(g xh)) [eval: gamma rstd g];
      // dgamma = sum(g xh); dbeta = sum(g); relu: g first zeroed where out = 0
      [x = SavedTensor(x, op), gm = SavedTensor(gx ? gm : Tensor(), op), st, g, training, gx, gg,
       gb](const Tensor& gout, const Tensor&) -> GradList {
        const Tensor& xv = x.get();
        Tensor dx = gx ? empty_like(xv) : Tensor();
        Tensor dgm = gg ? empty({g.C}, xv.dtype()) : Tensor();
        Tensor dbt = gb ? empty({g.C}, xv.dtype()) : Tensor();
        DAGRAD_DISPATCH(xv.dtype(), {
          std::vector<double> sum_g, sum_gx;
          const ReluMask<T> mask(*st);
          bn_channel_sums<T>(xv.data<T>(), gout.data<T>(), *st, mask, g, sum_g, sum_gx);
          for (int64_t c = 0; c < g.C; ++c) {
            if (gg) dgm.data<T>()[c] = static_cast<T>(sum_gx[c]);
            if (gb) dbt.data<T>()[c] = static_cast<T>(sum_g[c]);
          }
          if (gx)
            bn_input_map<T>(xv.data<T>(), gout.data<T>(), *st, mask, gm.get().data<T>(), training,
                            sum_g, sum_gx, dx.data<T>(), g);
        });
        return {dx, dgm, dbt};
      },
      // t_out = (the same map on t_x) + t_gamma * xh + t_beta; relu: zeroed where out = 0
      [x, gm, st, g, training, relu](const TangentList& t, const Tensor& o) {
        Tensor r = empty_like(o);
        DAGRAD_DISPATCH(o.dtype(), {
          std::vector<double> sum_g, sum_gx;
          const ReluMask<T> none;
          if (training)
            bn_channel_sums<T>(x.data<T>(), t[0].data<T>(), *st, none, g, sum_g, sum_gx);
          bn_input_map<T>(x.data<T>(), t[0].data<T>(), *st, none, gm.data<T>(), training, sum_g,
                          sum_gx, r.data<T>(), g);
          bn_add_affine_tangent<T>(x.data<T>(), *st, t[1].data<T>(), t[2].data<T>(), r.data<T>(),
                                   g);
          if (relu) {
            T* pr = r.data<T>();
            const T* po = o.data<T>();
            for (int64_t i = 0, n = r.numel(); i < n; ++i)
              if (!(po[i] > 0)) pr[i] = T(0);
          }
        });
        return r;
      });
  mark_once_differentiable(out);
  return out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  return batch_norm_op(x, gamma, beta, running_mean, running_var, training, momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       double momentum, double eps) {
  return batch_norm_op(x, gamma, beta, running_mean, running_var, training, momentum, eps, true);
}

// ---------------------------------------------------------------- layer_norm

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& gamma,
                  const Tensor& beta, double eps) {
  const char* op = "layer_norm";
  const int k = normalized_shape.size();
  bool ok = k >= 1 && k <= x.dim();
  for (int i = 0; ok && i < k; ++i) ok = normalized_shape[i] == x.size(x.dim() - k + i);
  if (!ok)
    throw std::invalid_argument(fmt::format(
        "layer_norm: normalized shape {} must be non-empty and match the last dimensions of "
        "input {}",
        to_string(normalized_shape), to_string(x.shape())));
  check_param(gamma, x, normalized_shape, op, "gamma");
  check_param(beta, x, normalized_shape, op, "beta");
  if (!(eps >= 0.0))
    throw std::invalid_argument(fmt::format("layer_norm: eps must be non-negative, got {}", eps));
  const int64_t D = normalized_shape.numel();
  const int64_t R = D == 0 ? 0 : x.numel() / D;

  auto st = std::make_shared<Stats>();
  Tensor out = empty_like(x);
  DAGRAD_DISPATCH(x.dtype(), {
    *st = ln_stats<T>(x.data<T>(), R, D, eps);
    ln_normalize<T>(x.data<T>(), *st, ptr_or_null<T>(gamma), ptr_or_null<T>(beta), out.data<T>(), R,
                    D);
  });

  const Tensor gm = gamma.defined() ? gamma : ones(normalized_shape, x.dtype());
  const Tensor bt = beta.defined() ? beta : zeros(normalized_shape, x.dtype());
  const bool gx = x.requires_grad(), gg = gm.requires_grad(), gb = bt.requires_grad();
  out = record(
      op, out, {x, gm, bt},
      // dx = rstd (gg - mean(gg) - xh mean(gg xh)), gg = g gamma; dgamma = sum_rows(g xh);
      // dbeta = sum_rows(g)
      [x = SavedTensor(x, op), gm = SavedTensor(gx ? gm : Tensor(), op), st, R, D,
       ns = normalized_shape, gx, gg, gb](const Tensor& gout, const Tensor&) -> GradList {
        const Tensor& xv = x.get();
        Tensor dx = gx ? empty_like(xv) : Tensor();
        Tensor dgm = gg ? empty(ns, xv.dtype()) : Tensor();
        Tensor dbt = gb ? empty(ns, xv.dtype()) : Tensor();
        DAGRAD_DISPATCH(xv.dtype(), {
          ln_backward<T>(xv.data<T>(), gout.data<T>(), *st, gx ? gm.get().data<T>() : nullptr,
                         gx ? dx.data<T>() : nullptr, gg ? dgm.data<T>() : nullptr,
                         gb ? dbt.data<T>() : nullptr, R, D);
        });
        return {dx, dgm, dbt};
      },
      // t_out = gamma * rstd (t_x - mean(t_x) - xh mean(t_x xh)) + t_gamma * xh + t_beta
      [x, gm, st, R, D](const TangentList& t, const Tensor& o) {
        Tensor r = empty_like(o);
        DAGRAD_DISPATCH(o.dtype(), {
          const T* tx = t[0].data<T>();
          const T* tg = t[1].data<T>();
          const T* tb = t[2].data<T>();
          const T* gp = gm.data<T>();
          const T* px = x.data<T>();
          T* pr = r.data<T>();
          ln_backward<T>(px, tx, *st, nullptr, pr, nullptr, nullptr, R, D);
          for (int64_t i = 0; i < R; ++i) {
            const T m = static_cast<T>(st->mean[i]), rs = static_cast<T>(st->rstd[i]);
            for (int64_t j = 0; j < D; ++j) {
              const int64_t e = i * D + j;
              pr[e] = gp[j] * pr[e] + tg[j] * (px[e] - m) * rs + tb[j];
            }
          }
        });
        return r;
      });
  mark_once_differentiable(out);
  return out;
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  if (!gamma.defined())
    throw std::invalid_argument("layer_norm: without gamma, pass the normalized shape explicitly");
  return layer_norm(x, gamma.shape(), gamma, beta, eps);
}

}  // namespace dagrad
