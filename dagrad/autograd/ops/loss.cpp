#include "dagrad/autograd/ops/loss.h"

#include <cmath>
#include <string>
#include <vector>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/autograd/ops/softmax.h"
#include "dagrad/autograd/ops/unary.h"
#include "dagrad/autograd/rules.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules loss_rules{
    {"cross_entropy", "d/dscores = softmax(scores) - onehot(labels), over N"},
    {"svm_loss", "d/ds_j = 1 where the margin s_j - s_y + m > 0, minus their count at y"},
    {"mse_loss", "d(p-t)^2/dp = 2(p-t), d/dt = -2(p-t)"},
    {"binary_cross_entropy", "d/dp = (p - t) / (p (1 - p))"},
    {"binary_logistic_loss", "d/dz = sigmoid(z) - y"},
    {"binary_hinge_loss", "d max(0, 1 - y s)/ds = -y where 1 - y s > 0, else 0"},
};

namespace {

// ---------------------------------------------------------------- shared helpers

// Class indices of `labels` (N) for `scores` (N, C): integers in [0, C).
std::vector<int64_t> class_labels(const Tensor& scores, const Tensor& labels, const char* op) {
  if (scores.dim() != 2)
    throw std::invalid_argument(
        fmt::format("{}: scores must be 2-D (N, C), got shape {}", op, to_string(scores.shape())));
  const int64_t n = scores.size(0), c = scores.size(1);
  if (labels.dim() != 1 || labels.size(0) != n)
    throw std::invalid_argument(
        fmt::format("{}: labels of shape {} do not match scores of shape {}; expected shape ({})",
                    op, to_string(labels.shape()), to_string(scores.shape()), n));
  const std::vector<double> v = labels.to_vector();
  std::vector<int64_t> y(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!(v[i] == std::floor(v[i])))
      throw std::invalid_argument(
          fmt::format("{}: label {} at index {} is not an integer class index", op, v[i], i));
    if (v[i] < 0 || v[i] >= static_cast<double>(c))
      throw std::out_of_range(
          fmt::format("{}: label {} at index {} is out of range for {} classes (expected 0 to {})",
                      op, v[i], i, c, c - 1));
    y[i] = static_cast<int64_t>(v[i]);
  }
  return y;
}

Tensor one_hot(const std::vector<int64_t>& y, int64_t c, Dtype dtype) {
  Tensor out = zeros(Shape{static_cast<int64_t>(y.size()), c}, dtype);
  DAGRAD_DISPATCH(dtype, {
    T* p = out.data<T>();
    for (std::size_t i = 0; i < y.size(); ++i) p[static_cast<int64_t>(i) * c + y[i]] = T(1);
  });
  return out;
}

// batchmean is kl_div's alone (as in PyTorch).
void check_not_batchmean(Reduction r, const char* op) {
  if (r == Reduction::batchmean)
    throw std::invalid_argument(
        fmt::format("{}: reduction batchmean is only for kl_div (use mean, sum or none)", op));
}

// The loss tensor from per-example values: their mean or sum (shape ()), or all of them in
// `none_shape`. Sums are accumulated in double.
Tensor loss_output(const std::vector<double>& per, Reduction r, Dtype dtype,
                   const Shape& none_shape) {
  if (r == Reduction::none) return tensor(per, none_shape, dtype);
  double acc = 0;
  for (double v : per) acc += v;
  if (r == Reduction::mean) acc /= static_cast<double>(per.size());  // 0/0 = NaN, as PyTorch
  return full(Shape{}, acc, dtype);
}

// The upstream gradient of the reduced loss, shaped to broadcast against per-example
// quantities whose leading axis is the batch: mean spreads g/N over the batch.
Tensor upstream(const Tensor& g, Reduction r, int64_t n, const Shape& none_shape) {
  if (r == Reduction::none) return reshape(g, none_shape);
  if (r == Reduction::mean) return g * (1.0 / static_cast<double>(n));
  return g;
}

// The reduction applied to per-example tangents `v` (the jvp of loss_output).
Tensor reduce_tangent(const Tensor& v, Reduction r, int64_t n, const Shape& none_shape) {
  if (r == Reduction::none) return reshape(v, none_shape);
  Tensor s = sum(v);
  return r == Reduction::mean ? s * (1.0 / static_cast<double>(n)) : s;
}

// Binary losses take scores of shape (N) or (N, 1); labels must hold N values in (N) or (N, 1).
int64_t binary_batch(const Tensor& scores, const Tensor& labels, const char* op) {
  const bool ok = scores.dim() == 1 || (scores.dim() == 2 && scores.size(1) == 1);
  if (!ok)
    throw std::invalid_argument(fmt::format("{}: scores must have shape (N) or (N, 1), got {}", op,
                                            to_string(scores.shape())));
  const int64_t n = scores.size(0);
  const bool lok = (labels.dim() == 1 && labels.size(0) == n) ||
                   (labels.dim() == 2 && labels.size(0) == n && labels.size(1) == 1);
  if (!lok)
    throw std::invalid_argument(
        fmt::format("{}: labels of shape {} do not match scores of shape {}; expected ({}) or "
                    "({}, 1)",
                    op, to_string(labels.shape()), to_string(scores.shape()), n, n));
  return n;
}

// svm: per-example losses and d loss_i / d s_ij = [margin_ij > 0] for j != y_i, and
// -(number of positive margins) for j == y_i (cs231n's svm_loss).
Tensor svm_raw(const Tensor& s, const std::vector<int64_t>& y, double margin,
               std::vector<double>* per) {
  const int64_t n = s.size(0), c = s.size(1);
  Tensor coef = zeros(s.shape(), s.dtype());
  if (per) per->assign(n, 0.0);
  DAGRAD_DISPATCH(s.dtype(), {
    const T* ps = s.data<T>();
    T* pc = coef.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      const T* row = ps + i * c;
      T* crow = pc + i * c;
      const double sy = row[y[i]];
      double loss = 0;
      int64_t count = 0;
      for (int64_t j = 0; j < c; ++j) {
        if (j == y[i]) continue;
        const double m = double(row[j]) - sy + margin;
        if (m > 0) {
          loss += m;
          crow[j] = T(1);
          ++count;
        }
      }
      crow[y[i]] = static_cast<T>(-count);
      if (per) (*per)[i] = loss;
    }
  });
  return coef;
}

// hinge: labels as -1/+1 in the scores' shape and dtype; {0, 1} maps 0 to -1.
Tensor signed_labels(const Tensor& scores, const Tensor& labels, const char* op) {
  std::vector<double> v = labels.to_vector();
  bool has_zero = false, has_minus = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != 0 && v[i] != 1 && v[i] != -1)
      throw std::invalid_argument(
          fmt::format("{}: label {} at index {} is not in {{0, 1}} or {{-1, +1}}", op, v[i], i));
    has_zero |= v[i] == 0;
    has_minus |= v[i] == -1;
  }
  if (has_zero && has_minus)
    throw std::invalid_argument(
        fmt::format("{}: labels mix 0 and -1; use either {{0, 1}} or {{-1, +1}}", op));
  for (double& e : v)
    if (e == 0) e = -1;
  return tensor(v, scores.shape(), scores.dtype());
}

// d max(0, 1 - y s)/ds = -y [1 - y s > 0] (0 at the kink, like relu)
Tensor hinge_coef(const Tensor& s, const Tensor& ys) {
  return detail::map_binary(s, ys, "binary_hinge_loss", kernels::fn::HingeCoef{});
}

}  // namespace

// ---------------------------------------------------------------- cross-entropy

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Reduction reduction) {
  detail::check_floating(logits, "cross_entropy");
  check_not_batchmean(reduction, "cross_entropy");
  const std::vector<int64_t> y = class_labels(logits, labels, "cross_entropy");
  const int64_t n = logits.size(0), c = logits.size(1);
  std::vector<double> per(n);
  {
    const Tensor logp = log_softmax(logits.detach(), 1);
    DAGRAD_DISPATCH(logp.dtype(), {
      const T* p = logp.data<T>();
      for (int64_t i = 0; i < n; ++i) per[i] = -double(p[i * c + y[i]]);
    });
  }
  Tensor out = loss_output(per, reduction, logits.dtype(), Shape{n});
  // d loss_i/dx_i = softmax(x_i) - onehot(y_i), times g (and 1/N for the mean)
  return record(
      "cross_entropy", out, {logits},
      [x = SavedTensor(logits, "cross_entropy"), y, reduction, n, c](const Tensor& g,
                                                                     const Tensor&) -> GradList {
        const Tensor& xv = x.get();
        return {(softmax(xv, 1) - one_hot(y, c, xv.dtype())) *
                upstream(g, reduction, n, Shape{n, 1})};
      },
      [x = logits.detach(), y, reduction, n, c](const TangentList& t, const Tensor&) {
        Tensor v = sum((softmax(x, 1) - one_hot(y, c, x.dtype())) * t[0], 1);
        return reduce_tangent(v, reduction, n, Shape{n});
      });
}

// ---------------------------------------------------------------- multiclass SVM

Tensor svm_loss(const Tensor& scores, const Tensor& labels, double margin, Reduction reduction) {
  detail::check_floating(scores, "svm_loss");
  check_not_batchmean(reduction, "svm_loss");
  const std::vector<int64_t> y = class_labels(scores, labels, "svm_loss");
  const int64_t n = scores.size(0);
  std::vector<double> per;
  const Tensor sd = scores.detach();
  svm_raw(sd, y, margin, &per);
  Tensor out = loss_output(per, reduction, scores.dtype(), Shape{n});
  // piecewise linear: the gradient is the constant indicator matrix of svm_raw, times g
  return record(
      "svm_loss", out, {scores},
      [s = SavedTensor(scores, "svm_loss"), y, margin, reduction, n](const Tensor& g,
                                                                     const Tensor&) -> GradList {
        return {svm_raw(s.get().detach(), y, margin, nullptr) *
                upstream(g, reduction, n, Shape{n, 1})};
      },
      [sd, y, margin, reduction, n](const TangentList& t, const Tensor&) {
        Tensor v = sum(svm_raw(sd, y, margin, nullptr) * t[0], 1);
        return reduce_tangent(v, reduction, n, Shape{n});
      });
}

// ---------------------------------------------------------------- binary losses

Tensor binary_logistic_loss(const Tensor& logits, const Tensor& labels, Reduction reduction) {
  detail::check_floating(logits, "binary_logistic_loss");
  check_not_batchmean(reduction, "binary_logistic_loss");
  const char* op = "binary_logistic_loss";
  const int64_t n = binary_batch(logits, labels, op);
  const std::vector<double> yv = labels.to_vector();
  for (std::size_t i = 0; i < yv.size(); ++i)
    if (!(yv[i] >= 0 && yv[i] <= 1))
      throw std::invalid_argument(
          fmt::format("{}: label {} at index {} is not in [0, 1] (use 0/1 labels)", op, yv[i], i));
  const Tensor ys = tensor(yv, logits.shape(), logits.dtype());
  // softplus(z) - y z = max(z, 0) - y z + log1p(e^-|z|): no overflow for any z
  std::vector<double> per(n);
  {
    const std::vector<double> z = logits.to_vector();
    for (int64_t i = 0; i < n; ++i)
      per[i] = std::max(z[i], 0.0) - yv[i] * z[i] + std::log1p(std::exp(-std::abs(z[i])));
  }
  Tensor out = loss_output(per, reduction, logits.dtype(), logits.shape());
  // d loss/dz = sigmoid(z) - y
  return record(
      op, out, {logits},
      [z = SavedTensor(logits, op), ys, reduction, n](const Tensor& g, const Tensor&) -> GradList {
        const Tensor& zv = z.get();
        return {(sigmoid(zv) - ys) * upstream(g, reduction, n, zv.shape())};
      },
      [z = logits.detach(), ys, reduction, n](const TangentList& t, const Tensor&) {
        return reduce_tangent((sigmoid(z) - ys) * t[0], reduction, n, z.shape());
      });
}

Tensor binary_hinge_loss(const Tensor& scores, const Tensor& labels, Reduction reduction) {
  detail::check_floating(scores, "binary_hinge_loss");
  check_not_batchmean(reduction, "binary_hinge_loss");
  const char* op = "binary_hinge_loss";
  const int64_t n = binary_batch(scores, labels, op);
  const Tensor ys = signed_labels(scores, labels, op);
  std::vector<double> per(n);
  {
    const std::vector<double> s = scores.to_vector(), y = ys.to_vector();
    for (int64_t i = 0; i < n; ++i) per[i] = std::max(0.0, 1.0 - y[i] * s[i]);
  }
  Tensor out = loss_output(per, reduction, scores.dtype(), scores.shape());
  // piecewise linear: the gradient -y [1 - y s > 0] is constant, times g
  return record(
      op, out, {scores},
      [s = SavedTensor(scores, op), ys, reduction, n](const Tensor& g, const Tensor&) -> GradList {
        const Tensor& sv = s.get();
        return {hinge_coef(sv.detach(), ys) * upstream(g, reduction, n, sv.shape())};
      },
      [sd = scores.detach(), ys, reduction, n](const TangentList& t, const Tensor&) {
        return reduce_tangent(hinge_coef(sd, ys) * t[0], reduction, n, sd.shape());
      });
}

// ---------------------------------------------------------------- MSE

Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction) {
  detail::check_floating(pred, "mse_loss");
  check_not_batchmean(reduction, "mse_loss");
  if (pred.shape() != target.shape())
    throw std::invalid_argument(fmt::format(
        "mse_loss: pred shape {} and target shape {} must match exactly (no broadcasting)",
        to_string(pred.shape()), to_string(target.shape())));
  detail::check_same_dtype(pred, target, "mse_loss");
  const int64_t numel = pred.numel();
  std::vector<double> per(numel);
  {
    const std::vector<double> p = pred.to_vector(), t = target.to_vector();
    for (int64_t i = 0; i < numel; ++i) per[i] = (p[i] - t[i]) * (p[i] - t[i]);
  }
  Tensor out = loss_output(per, reduction, pred.dtype(), pred.shape());
  const bool gt = target.requires_grad();
  // d (p - t)^2 / dp = 2 (p - t) = -d/dt; the mean divides by numel
  return record(
      "mse_loss", out, {pred, target},
      [p = SavedTensor(pred, "mse_loss"), t = SavedTensor(target, "mse_loss"), reduction, numel,
       gt](const Tensor& g, const Tensor&) -> GradList {
        const Tensor& pv = p.get();
        Tensor gp = (pv - t.get()) * upstream(g, reduction, numel, pv.shape()) * 2.0;
        return {gp, gt ? -gp : Tensor()};
      },
      [p = pred.detach(), t = target.detach(), reduction, numel](const TangentList& tg,
                                                                 const Tensor&) {
        return reduce_tangent((p - t) * (tg[0] - tg[1]) * 2.0, reduction, numel, p.shape());
      });
}

// ---------------------------------------------------------------- composed losses

namespace {
// The reduction of elementwise losses, in differentiable ops: mean = sum / numel (NaN over zero
// elements, as PyTorch), batchmean = sum / size(0).
Tensor reduce_loss(const Tensor& per, Reduction r) {
  switch (r) {
    case Reduction::none:
      return per;
    case Reduction::sum:
      return sum(per);
    case Reduction::batchmean:
      return sum(per) / static_cast<double>(per.dim() == 0 ? 1 : per.size(0));
    case Reduction::mean:
      break;
  }
  return sum(per) / static_cast<double>(per.numel());
}

// pred and target of a pointwise loss: same shape (no broadcasting) and dtype.
void check_pair(const Tensor& pred, const Tensor& target, const char* op) {
  if (pred.shape() != target.shape())
    throw std::invalid_argument(
        fmt::format("{}: input shape {} and target shape {} must match exactly (no broadcasting)",
                    op, to_string(pred.shape()), to_string(target.shape())));
  detail::check_same_dtype(pred, target, op);
}

// d = |p - t| scored by `quadratic` below `limit` and by `linear` above it (smooth-L1, Huber).
template <typename Q, typename L>
Tensor piecewise_abs_loss(const Tensor& pred, const Tensor& target, double limit, Q quadratic,
                          L linear) {
  const Tensor d = abs(pred - target);
  return where(lt(d, limit), quadratic(d), linear(d));
}
}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, Reduction reduction) {
  detail::check_floating(log_probs, "nll_loss");
  check_not_batchmean(reduction, "nll_loss");
  const std::vector<int64_t> y = class_labels(log_probs, labels, "nll_loss");
  const int64_t n = log_probs.size(0);
  std::vector<double> yv(y.begin(), y.end());
  const Tensor index = tensor(yv, Shape{n, 1}, log_probs.dtype());
  const Tensor picked = reshape(gather(log_probs, 1, index), Shape{n});
  return reduce_loss(-picked, reduction);
}

Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction reduction) {
  detail::check_floating(pred, "l1_loss");
  check_not_batchmean(reduction, "l1_loss");
  check_pair(pred, target, "l1_loss");
  return reduce_loss(abs(pred - target), reduction);
}

Tensor smooth_l1_loss(const Tensor& pred, const Tensor& target, Reduction reduction, double beta) {
  detail::check_floating(pred, "smooth_l1_loss");
  check_not_batchmean(reduction, "smooth_l1_loss");
  check_pair(pred, target, "smooth_l1_loss");
  if (!(beta >= 0))
    throw std::invalid_argument(fmt::format("smooth_l1_loss: beta must be >= 0, got {}", beta));
  if (beta == 0) return l1_loss(pred, target, reduction);
  return reduce_loss(
      piecewise_abs_loss(
          pred, target, beta, [beta](const Tensor& d) { return d * d * (0.5 / beta); },
          [beta](const Tensor& d) { return d - 0.5 * beta; }),
      reduction);
}

Tensor huber_loss(const Tensor& pred, const Tensor& target, Reduction reduction, double delta) {
  detail::check_floating(pred, "huber_loss");
  check_not_batchmean(reduction, "huber_loss");
  check_pair(pred, target, "huber_loss");
  if (!(delta > 0))
    throw std::invalid_argument(fmt::format("huber_loss: delta must be > 0, got {}", delta));
  return reduce_loss(piecewise_abs_loss(
                         pred, target, delta, [](const Tensor& d) { return d * d * 0.5; },
                         [delta](const Tensor& d) { return (d - 0.5 * delta) * delta; }),
                     reduction);
}

Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction, bool log_target) {
  detail::check_floating(input, "kl_div");
  check_pair(input, target, "kl_div");
  if (log_target) return reduce_loss(exp(target) * (target - input), reduction);
  // t log t as 0 where t = 0 (xlogy), with t = 1 in the unused branch so that no NaN reaches
  // the gradient.
  const Tensor positive = gt(target, 0.0);
  const Tensor safe = where(positive, target, ones_like(target));
  const Tensor t_log_t = where(positive, target * log(safe), zeros_like(target));
  return reduce_loss(t_log_t - target * input, reduction);
}

Tensor binary_cross_entropy(const Tensor& probs, const Tensor& target, Reduction reduction) {
  detail::check_floating(probs, "binary_cross_entropy");
  check_not_batchmean(reduction, "binary_cross_entropy");
  check_pair(probs, target, "binary_cross_entropy");
  {
    const std::vector<double> p = probs.to_vector();
    for (std::size_t i = 0; i < p.size(); ++i)
      if (!(p[i] >= 0 && p[i] <= 1))
        throw std::invalid_argument(fmt::format(
            "binary_cross_entropy: input {} at index {} is not a probability in [0, 1]", p[i], i));
  }
  Tensor per;
  {
    no_grad ng;  // the value only; the rules below are PyTorch's
    const Tensor pd = probs.detach(), td = target.detach();
    per =
        -(td * clamp(log(pd), -100, INFINITY) + (1.0 - td) * clamp(log(1.0 - pd), -100, INFINITY));
  }
  // d/dp = (p - t) / max(p (1 - p), eps);  d/dt = log(1 - p) - log(p) (logs clamped at -100).
  // eps is PyTorch's, a float 1e-12 (9.99999996e-13), so that p = 0 or 1 gives its gradient.
  auto dp = [](const Tensor& p, const Tensor& t) {
    return (p - t) / maximum(p * (1.0 - p), full_like(p, static_cast<double>(1e-12f)));
  };
  auto dt = [](const Tensor& p) {
    return clamp(log(1.0 - p), -100, INFINITY) - clamp(log(p), -100, INFINITY);
  };
  const bool gt = target.requires_grad();
  per = record(
      "binary_cross_entropy", per, {probs, target},
      [p = SavedTensor(probs, "binary_cross_entropy"),
       t = SavedTensor(target, "binary_cross_entropy"), gt, dp,
       dt](const Tensor& g, const Tensor&) -> GradList {
        return {g * dp(p.get(), t.get()), gt ? g * dt(p.get()) : Tensor()};
      },
      [&probs, &target, dp, dt](const TangentList& tg, const Tensor&) {
        return tg[0] * dp(probs, target) + tg[1] * dt(probs);
      });
  return reduce_loss(per, reduction);
}

}  // namespace dagrad
