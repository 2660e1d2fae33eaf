#include "dagrad/autograd/ops/norm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/autograd/ops/unary.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/kernels/norm.h"
#include "dagrad/runtime/parallel.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules norm_rules{
    {"batch_norm", "dx = (gamma/sigma)(g - mean(g) - xhat mean(g xhat)) over the batch"},
    {"batch_norm_relu", "batch_norm's rule applied to the adjoint masked by relu"},
    {"layer_norm", "dx = (gamma/sigma)(g - mean(g) - xhat mean(g xhat)) over the normalized axes"},
};

namespace {

using kernels::BnGeom;
using kernels::Stats;

void check_param(const Tensor& p, const Tensor& x, const Shape& want, const char* op,
                 const char* what) {
  if (!p.defined()) return;
  detail::check_same_dtype(x, p, op);
  if (p.shape() != want)
    throw std::invalid_argument(fmt::format("{}: {} must have shape {} for input {}, got {}", op,
                                            what, to_string(want), to_string(x.shape()),
                                            to_string(p.shape())));
}

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

// ---------------------------------------------------------------- batch_norm

namespace {

// The axes a per-channel statistic reduces over (all but 1), and the shape (1, C, 1, ...)
// that broadcasts a per-channel value against x.
std::vector<int64_t> bn_axes(const Tensor& x) {
  std::vector<int64_t> axes{0};
  for (int i = 2; i < x.dim(); ++i) axes.push_back(i);
  return axes;
}
Shape bn_channel_shape(const Tensor& x) {
  Shape s(std::vector<int64_t>(x.dim(), 1));
  s[1] = x.size(1);
  return s;
}

// batch_norm's backward written in differentiable ops, for create_graph: the kernels' rules
// with the statistics recomputed from x (training) or the running ones used by the forward
// (eval), and the fused ReLU's mask taken from the recomputed output.
GradList bn_backward_composite(const Tensor& x, const Tensor& gm, const Tensor& bt,
                               const Tensor& gout, const Stats& st, bool training, double eps,
                               bool relu) {
  const std::vector<int64_t> axes = bn_axes(x);
  const Shape cs = bn_channel_shape(x);
  Tensor mu, rstd;
  if (training) {
    mu = mean(x, axes, true);
    rstd = rsqrt(var(x, axes, true, false) + eps);
  } else {
    mu = tensor(st.mean, cs, x.dtype());
    rstd = tensor(st.rstd, cs, x.dtype());
  }
  const Tensor xh = (x - mu) * rstd, gmc = reshape(gm, cs);
  const Tensor g =
      relu ? gout * gt(xh.detach() * gmc.detach() + reshape(bt, cs).detach(), 0.0) : gout;
  Tensor dx = training ? gmc * rstd * (g - mean(g, axes, true) - xh * mean(g * xh, axes, true))
                       : g * gmc * rstd;
  return {dx, sum(g * xh, axes), sum(g, axes)};
}

// The (N, C, S) geometry of x, once every argument is checked against it.
BnGeom check_batch_norm_args(const char* op, const Tensor& x, const Tensor& gamma,
                             const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, bool training, double eps) {
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
  return g;
}

// The statistics the forward normalizes with: the batch's (training; the running ones then
// move towards them) or the running ones (eval).
template <typename T>
Stats batch_norm_stats(const T* px, const BnGeom& g, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps) {
  Stats st;
  if (training) {
    std::vector<double> var;
    st = kernels::norm_kernels<T>().bn_batch_stats(px, g, eps, var);
    if (running_mean.defined()) {
      // running = momentum * running + (1 - momentum) * batch (biased batch variance)
      T* rm = running_mean.data<T>();
      T* rv = running_var.data<T>();
      for (int64_t c = 0; c < g.C; ++c) {
        rm[c] = static_cast<T>(momentum * rm[c] + (1.0 - momentum) * st.mean[c]);
        rv[c] = static_cast<T>(momentum * rv[c] + (1.0 - momentum) * var[c]);
      }
      running_mean.bump_version();
      running_var.bump_version();
    }
  } else {
    const T* rm = running_mean.data<T>();
    const T* rv = running_var.data<T>();
    st.mean.resize(g.C);
    st.rstd.resize(g.C);
    for (int64_t c = 0; c < g.C; ++c) {
      st.mean[c] = rm[c];
      st.rstd[c] = 1.0 / std::sqrt(static_cast<double>(rv[c]) + eps);
    }
  }
  return st;
}

// The kernels' backward: dx = gamma rstd (g - mean(g) - xh mean(g xh)) [eval: gamma rstd g];
// dgamma = sum(g xh); dbeta = sum(g); with the fused ReLU, g is first zeroed where out = 0.
// Only the gradients asked for (want_*) are computed.
GradList bn_backward_kernels(const Tensor& x, const Tensor& gm, const Tensor& gout, const Stats& st,
                             const BnGeom& g, bool training, bool want_x, bool want_gamma,
                             bool want_beta) {
  Tensor dx = want_x ? empty_like(x) : Tensor();
  Tensor dgm = want_gamma ? empty({g.C}, x.dtype()) : Tensor();
  Tensor dbt = want_beta ? empty({g.C}, x.dtype()) : Tensor();
  DAGRAD_DISPATCH(x.dtype(), {
    std::vector<double> sum_g, sum_gx;
    const kernels::NormKernels<T>& k = kernels::norm_kernels<T>();
    const bool mask = !st.fa.empty();  // the fused ReLU's
    k.bn_channel_sums(x.data<T>(), gout.data<T>(), st, mask, g, sum_g, sum_gx);
    for (int64_t c = 0; c < g.C; ++c) {
      if (want_gamma) dgm.data<T>()[c] = static_cast<T>(sum_gx[c]);
      if (want_beta) dbt.data<T>()[c] = static_cast<T>(sum_g[c]);
    }
    if (want_x)
      k.bn_input_map(x.data<T>(), gout.data<T>(), st, mask, gm.data<T>(), training, sum_g, sum_gx,
                     dx.data<T>(), g);
  });
  return {dx, dgm, dbt};
}

// t_out = (the backward's input map on t_x) + t_gamma * xh + t_beta; relu: zeroed where out = 0
Tensor bn_tangent(const Tensor& x, const Tensor& gm, const TangentList& t, const Tensor& out,
                  const Stats& st, const BnGeom& g, bool training, bool relu) {
  Tensor r = empty_like(out);
  DAGRAD_DISPATCH(out.dtype(), {
    std::vector<double> sum_g, sum_gx;
    const kernels::NormKernels<T>& k = kernels::norm_kernels<T>();
    if (training) k.bn_channel_sums(x.data<T>(), t[0].data<T>(), st, false, g, sum_g, sum_gx);
    k.bn_input_map(x.data<T>(), t[0].data<T>(), st, false, gm.data<T>(), training, sum_g, sum_gx,
                   r.data<T>(), g);
    k.bn_add_affine_tangent(x.data<T>(), st, t[1].data<T>(), t[2].data<T>(), r.data<T>(), g);
    if (relu) {
      T* pr = r.data<T>();
      const T* po = out.data<T>();
      for (int64_t i = 0, n = r.numel(); i < n; ++i)
        if (!(po[i] > 0)) pr[i] = T(0);
    }
  });
  return r;
}

// batch_norm, and with relu the fused batch_norm_relu.
Tensor batch_norm_op(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                     const Tensor& running_mean, const Tensor& running_var, bool training,
                     double momentum, double eps, bool relu) {
  const char* op = relu ? "batch_norm_relu" : "batch_norm";
  const BnGeom g =
      check_batch_norm_args(op, x, gamma, beta, running_mean, running_var, training, eps);
  auto st = std::make_shared<Stats>();
  Tensor out = empty_like(x);
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    *st = batch_norm_stats(px, g, running_mean, running_var, training, momentum, eps);
    kernels::norm_kernels<T>().bn_normalize(px, *st, ptr_or_null<T>(gamma), ptr_or_null<T>(beta),
                                            relu, out.data<T>(), g);
  });

  const Shape cs{g.C};
  const Tensor gm = gamma.defined() ? gamma : ones(cs, x.dtype());
  const Tensor bt = beta.defined() ? beta : zeros(cs, x.dtype());
  const bool gx = x.requires_grad(), gg = gm.requires_grad(), gb = bt.requires_grad();
  return record(
      op, out, {x, gm, bt},
      // the kernels' rules (bn_backward_kernels); in ops when a higher order is being recorded
      [x = SavedTensor(x, op), gm = SavedTensor(gm, op), bt = SavedTensor(bt, op), st, g, training,
       gx, gg, gb, eps, relu](const Tensor& gout, const Tensor&) -> GradList {
        const Tensor& xv = x.get();
        if (backward_in_ops({gout, xv, gm.get(), bt.get()}))
          return bn_backward_composite(xv, gm.get(), bt.get(), gout, *st, training, eps, relu);
        return bn_backward_kernels(xv, gm.get(), gout, *st, g, training, gx, gg, gb);
      },
      [x, gm, st, g, training, relu](const TangentList& t, const Tensor& o) {
        return bn_tangent(x, gm, t, o, *st, g, training, relu);
      });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  detail::check_floating(x, "batch_norm");
  return batch_norm_op(x, gamma, beta, running_mean, running_var, training, momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       double momentum, double eps) {
  detail::check_floating(x, "batch_norm_relu");
  return batch_norm_op(x, gamma, beta, running_mean, running_var, training, momentum, eps, true);
}

// ---------------------------------------------------------------- layer_norm

namespace {
// layer_norm's backward in differentiable ops (create_graph), statistics recomputed from x.
GradList ln_backward_composite(const Tensor& x, const Tensor& gm, const Tensor& gout,
                               const Shape& ns, double eps) {
  std::vector<int64_t> axes;
  for (int i = x.dim() - ns.size(); i < x.dim(); ++i) axes.push_back(i);
  const Tensor mu = mean(x, axes, true), rstd = rsqrt(var(x, axes, true, false) + eps);
  const Tensor xh = (x - mu) * rstd, gg = gout * gm;
  const Tensor dx = rstd * (gg - mean(gg, axes, true) - xh * mean(gg * xh, axes, true));
  return {dx, sum_to(gout * xh, ns), sum_to(gout, ns)};
}
}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& gamma,
                  const Tensor& beta, double eps) {
  detail::check_floating(x, "layer_norm");
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
    *st = kernels::norm_kernels<T>().ln_stats(x.data<T>(), R, D, eps);
    kernels::norm_kernels<T>().ln_normalize(x.data<T>(), *st, ptr_or_null<T>(gamma),
                                            ptr_or_null<T>(beta), out.data<T>(), R, D);
  });

  const Tensor gm = gamma.defined() ? gamma : ones(normalized_shape, x.dtype());
  const Tensor bt = beta.defined() ? beta : zeros(normalized_shape, x.dtype());
  const bool gx = x.requires_grad(), gg = gm.requires_grad(), gb = bt.requires_grad();
  return record(
      op, out, {x, gm, bt},
      // dx = rstd (gg - mean(gg) - xh mean(gg xh)), gg = g gamma; dgamma = sum_rows(g xh);
      // dbeta = sum_rows(g)
      [x = SavedTensor(x, op), gm = SavedTensor(gm, op), st, R, D, ns = normalized_shape, gx, gg,
       gb, eps](const Tensor& gout, const Tensor&) -> GradList {
        const Tensor& xv = x.get();
        if (backward_in_ops({gout, xv, gm.get()}))
          return ln_backward_composite(xv, gm.get(), gout, ns, eps);
        Tensor dx = gx ? empty_like(xv) : Tensor();
        Tensor dgm = gg ? empty(ns, xv.dtype()) : Tensor();
        Tensor dbt = gb ? empty(ns, xv.dtype()) : Tensor();
        DAGRAD_DISPATCH(xv.dtype(), {
          kernels::norm_kernels<T>().ln_backward(
              xv.data<T>(), gout.data<T>(), *st, gx ? gm.get().data<T>() : nullptr,
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
          kernels::norm_kernels<T>().ln_backward(px, tx, *st, nullptr, pr, nullptr, nullptr, R, D);
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
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  if (!gamma.defined())
    throw std::invalid_argument("layer_norm: without gamma, pass the normalized shape explicitly");
  return layer_norm(x, gamma.shape(), gamma, beta, eps);
}

// ---------------------------------------------------------------- group / instance norm

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta,
                  double eps) {
  detail::check_floating(x, "group_norm");
  if (x.dim() < 2)
    throw std::invalid_argument(
        fmt::format("group_norm: input must be (N, C, *), got shape {}", to_string(x.shape())));
  const int64_t n = x.shape()[0], c = x.shape()[1];
  if (groups <= 0 || c % groups != 0)
    throw std::invalid_argument(
        fmt::format("group_norm: {} channels (shape {}) cannot be split into {} groups", c,
                    to_string(x.shape()), groups));
  for (const Tensor* p : {&gamma, &beta})
    if (p->defined() && p->shape() != Shape{c})
      throw std::invalid_argument(fmt::format(
          "group_norm: gamma and beta must have shape ({}), got {}", c, to_string(p->shape())));
  // (N, G, rest): mean and biased variance over each group's elements.
  const Tensor g = reshape(x, {n, groups, -1});
  const Tensor mu = mean(g, 2, true);
  const Tensor xh = reshape((g - mu) / sqrt(var(g, 2, true, false) + eps), x.shape());
  // gamma, beta broadcast per channel: shape (C, 1, ..., 1) against (N, C, *).
  Shape per_channel(std::vector<int64_t>(x.dim() - 1, 1));
  per_channel[0] = c;
  Tensor out = gamma.defined() ? xh * reshape(gamma, per_channel) : xh;
  return beta.defined() ? out + reshape(beta, per_channel) : out;
}

Tensor instance_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  detail::check_floating(x, "instance_norm");
  if (x.dim() < 2)
    throw std::invalid_argument(
        fmt::format("instance_norm: input must be (N, C, *), got shape {}", to_string(x.shape())));
  return group_norm(x, x.shape()[1], gamma, beta, eps);
}

Tensor local_response_norm(const Tensor& x, int64_t size, double alpha, double beta, double k) {
  detail::check_floating(x, "local_response_norm");
  if (x.dim() < 3)
    throw std::invalid_argument(
        fmt::format("local_response_norm: input must be (N, C, *) with at least 3 axes, got "
                    "shape {}",
                    to_string(x.shape())));
  if (size <= 0)
    throw std::invalid_argument(
        fmt::format("local_response_norm: size must be positive, got {}", size));
  // Window sums along the channels: the squares padded with size/2 zero channels before and
  // (size-1)/2 after, then the size shifted copies added.
  const int64_t c = x.shape()[1];
  std::vector<std::pair<int64_t, int64_t>> widths(x.dim(), {0, 0});
  widths[1] = {size / 2, (size - 1) / 2};
  const Tensor padded = pad(x * x, widths);
  Tensor window = slice(padded, 1, 0, c);
  for (int64_t j = 1; j < size; ++j) window = window + slice(padded, 1, j, j + c);
  return x / pow(window * (alpha / static_cast<double>(size)) + k, beta);
}

}  // namespace dagrad
