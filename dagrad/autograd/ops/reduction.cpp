#include "dagrad/autograd/ops/reduction.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/autograd/ops/unary.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/kernels/reduction.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules reduction_rules{
    {"sum", "d sum(x)/dx = 1 (the adjoint is broadcast back)"},
    {"prod", "d prod(x)/dx_i = the product of the other elements"},
    {"var", "d var(x)/dx = 2 (x - mean(x)) / (n - 1), or / n when biased"},
    {"norm", "d ||x||_p/dx = sign(x) |x|^(p-1) / ||x||_p^(p-1)"},
    {"logsumexp", "d logsumexp(x)/dx = softmax(x)"},
    {"cumsum", "dx = the reversed cumulative sum of the adjoint"},
    {"max", "the gradient goes to the elements equal to the max (split on ties)"},
    {"min", "the gradient goes to the elements equal to the min (split on ties)"},
};

namespace {

// Sorted, de-duplicated, normalized axes; empty input means every axis.
std::vector<int> normalize_axes(const std::vector<int64_t>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int64_t a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw std::invalid_argument(fmt::format("{}: an axis is repeated", op));
  return out;
}

Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keepdim) {
  Shape out;
  for (int i = 0; i < s.size(); ++i) {
    const bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      out.push_back(s[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

// int64 sums wrap around as PyTorch's do (accumulated in uint64_t, where overflow is defined).
void sum_axis_int64(const int64_t* x, const kernels::AxisSplit& sp, int64_t* out) {
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      uint64_t acc = 0;
      for (int64_t l = 0; l < sp.len; ++l)
        acc += static_cast<uint64_t>(x[(o * sp.len + l) * sp.inner + i]);
      out[o * sp.inner + i] = static_cast<int64_t>(acc);
    }
}

// Raw sum over one axis, keeping it as size 1.
Tensor sum_axis_raw(const Tensor& x, int axis) {
  Shape os = x.shape();
  os[axis] = 1;
  Tensor out = empty(os, x.dtype());
  const kernels::AxisSplit sp = kernels::split_at_axis(x.shape(), axis);
  if (x.dtype() == int64) {
    sum_axis_int64(x.data<int64_t>(), sp, out.data<int64_t>());
    return out;
  }
  DAGRAD_DISPATCH(x.dtype(),
                  { kernels::reduction_kernels<T>().sum_axis(x.data<T>(), sp, out.data<T>()); });
  return out;
}

// Raw sum over `axes` (sorted), result with those axes kept as 1.
Tensor sum_axes_raw(const Tensor& x, const std::vector<int>& axes) {
  Tensor cur = x;
  for (int a : axes) cur = sum_axis_raw(cur, a);
  return cur;
}

// What a reduction over `axes` (empty = all; a 0-d tensor always reduces over everything)
// does to a shape: the normalized axes, the kept shape (reduced axes as 1), the result shape,
// and how many elements feed each result.
struct ReduceSpec {
  std::vector<int> axes;
  std::vector<int64_t> axes64;  // the same axes, for calling sum/mean
  Shape kept, out;
  int64_t count = 1;
};

ReduceSpec reduce_spec(const Shape& s, const std::vector<int64_t>& axes_in, bool keepdim,
                       const char* op) {
  ReduceSpec r;
  r.axes = normalize_axes(axes_in, s.size(), op);
  if (axes_in.empty() || s.size() == 0) {
    r.axes.clear();
    for (int i = 0; i < s.size(); ++i) r.axes.push_back(i);
  }
  for (int a : r.axes) {
    r.axes64.push_back(a);
    r.count *= s[a];
  }
  r.kept = reduced_shape(s, r.axes, true);
  r.out = reduced_shape(s, r.axes, keepdim);
  return r;
}

// Raw max (larger) or min along one axis of x viewed with shape `s` (same numel as x); the
// result keeps the axis as 1. NaN propagates (as PyTorch); an empty axis gives -inf / +inf.
Tensor extreme_axis_raw(const Tensor& x, const Shape& s, int axis, bool larger) {
  Shape os = s;
  os[axis] = 1;
  Tensor out = empty(os, x.dtype());
  const kernels::AxisSplit sp = kernels::split_at_axis(s, axis);
  DAGRAD_DISPATCH(x.dtype(), {
    kernels::reduction_kernels<T>().extreme_axis(x.data<T>(), sp, larger, out.data<T>());
  });
  return out;
}

// Raw max/min over `spec.axes`, in the kept shape: all axes in one pass, several one after
// another (exact: a max of maxima).
Tensor extreme_raw(const Tensor& x, const ReduceSpec& spec, bool larger) {
  if (x.dim() == 0 || spec.axes.size() == static_cast<std::size_t>(x.dim()))
    return reshape(extreme_axis_raw(x, Shape{x.numel()}, 0, larger), spec.kept);
  Tensor cur = x;
  for (int a : spec.axes) cur = extreme_axis_raw(cur, cur.shape(), a, larger);
  return cur;
}

// d max(x)/dx: the gradient goes to the elements equal to the result, split equally among
// ties (torch.amax); a constant weight tensor of x's shape.
Tensor tie_weights(const Tensor& x, const Tensor& out_kept, const ReduceSpec& spec) {
  Tensor m = eq(x, out_kept);
  return m / sum(m, spec.axes64, true);
}

Tensor extreme_reduce(const Tensor& x, const std::vector<int64_t>& axes_in, bool keepdim,
                      bool larger) {
  const char* op = larger ? "max" : "min";
  detail::check_floating(x, op);
  ReduceSpec spec = reduce_spec(x.shape(), axes_in, keepdim, op);
  if (spec.count == 0)
    throw std::invalid_argument(
        fmt::format("{}: cannot reduce over zero elements (shape {})", op, to_string(x.shape())));
  Tensor out = reshape(extreme_raw(x.detach(), spec, larger), spec.out);
  // d max(x)/dx_i = [x_i == max] / (number of ties)
  return record(
      op, out, {x},
      [x = SavedTensor(x, op), spec](const Tensor& g, const Tensor& out) -> GradList {
        const Tensor& xv = x.get();
        Tensor w = tie_weights(xv.detach(), reshape(out.detach(), spec.kept), spec);
        return {reshape(g, spec.kept) * w};
      },
      [x, spec, keepdim](const TangentList& t, const Tensor& out) {
        Tensor w = tie_weights(x.detach(), reshape(out, spec.kept), spec);
        return sum(t[0] * w, spec.axes64, keepdim);
      },
      KeepOutput::yes);
}

// Raw first index of the max/min along one axis (NaN counts as the extreme, as PyTorch).
Tensor arg_extreme(const Tensor& x, int64_t axis, bool keepdim, bool larger) {
  const char* op = larger ? "argmax" : "argmin";
  const int a = normalize_axis(axis, x.dim(), op);
  const Shape s = x.dim() == 0 ? Shape{1} : x.shape();
  if (s[a] == 0)
    throw std::invalid_argument(fmt::format("{}: cannot reduce over an empty axis {} of shape {}",
                                            op, axis, to_string(x.shape())));
  Shape os = s;
  os[a] = 1;
  detail::check_floating(x, op);
  Tensor out = empty(os, int64);
  const kernels::AxisSplit sp = kernels::split_at_axis(s, a);
  DAGRAD_DISPATCH(x.dtype(), {
    kernels::reduction_kernels<T>().arg_extreme_axis(x.data<T>(), sp, larger, out.data<int64_t>());
  });
  Shape final_shape = x.dim() == 0 ? Shape{} : (keepdim ? os : reduced_shape(s, {a}, false));
  out.impl().shape = final_shape;
  out.impl().op = op;
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes_in, bool keepdim) {
  std::vector<int> axes = normalize_axes(axes_in, x.dim(), "sum");
  if (axes_in.empty())
    for (int i = 0; i < x.dim(); ++i) axes.push_back(i);
  Tensor out;
  if (x.dtype() == int64) {
    const Tensor flat = x.reshape({1, x.numel()});
    out = axes.size() == static_cast<std::size_t>(x.dim()) ? sum_axis_raw(flat, 1)
                                                           : sum_axes_raw(x, axes);
    out.impl().shape = reduced_shape(x.shape(), axes, keepdim);
    out.impl().op = "sum";
    return out;  // integers: nothing to record
  }
  if (axes.size() == static_cast<std::size_t>(x.dim()) || x.dim() == 0) {
    out = zeros(reduced_shape(x.shape(), axes, keepdim), x.dtype());
    DAGRAD_DISPATCH(x.dtype(), {
      const T* p = x.data<T>();
      double acc = 0;
      for (int64_t i = 0, n = x.numel(); i < n; ++i) acc += p[i];
      out.data<T>()[0] = static_cast<T>(acc);
    });
  } else {
    out = sum_axes_raw(x, axes);
    out = out.detach();
    out.impl().shape = reduced_shape(x.shape(), axes, keepdim);
  }
  const Shape kept = reduced_shape(x.shape(), axes, true);
  // d sum(x)/dx = 1: the gradient is broadcast back over the summed axes
  return record(
      "sum", out, {x},
      [xs = x.shape(), kept](const Tensor& g, const Tensor&) -> GradList {
        return {broadcast_to(reshape(g, kept), xs)};
      },
      [axes_in, keepdim](const TangentList& t, const Tensor&) {
        return sum(t[0], axes_in, keepdim);
      });
}

Tensor sum(const Tensor& x) { return sum(x, std::vector<int64_t>{}, false); }
Tensor sum(const Tensor& x, int64_t axis, bool keepdim) {
  return sum(x, std::vector<int64_t>{axis}, keepdim);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  detail::check_floating(x, "mean");  // as torch.mean: an integer mean has no dtype
  Tensor s = sum(x, axes, keepdim);
  const int64_t count = s.numel() == 0 ? 0 : x.numel() / s.numel();
  if (count == 0)
    throw std::invalid_argument(
        fmt::format("mean: reduction over zero elements (shape {})", to_string(x.shape())));
  return s * (1.0 / static_cast<double>(count));
}
Tensor mean(const Tensor& x) { return mean(x, std::vector<int64_t>{}, false); }
Tensor mean(const Tensor& x, int64_t axis, bool keepdim) {
  return mean(x, std::vector<int64_t>{axis}, keepdim);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int lead = g.dim() - shape.size();
  if (lead < 0)
    throw std::invalid_argument(fmt::format("sum_to: cannot reduce shape {} to the larger {}",
                                            to_string(g.shape()), to_string(shape)));
  std::vector<int64_t> axes;
  for (int i = 0; i < g.dim(); ++i) {
    if (i < lead) {
      axes.push_back(i);
    } else if (shape[i - lead] == 1 && g.shape()[i] != 1) {
      axes.push_back(i);
    } else if (shape[i - lead] != g.shape()[i]) {
      throw std::invalid_argument(fmt::format("sum_to: shape {} is not a broadcast of {}",
                                              to_string(g.shape()), to_string(shape)));
    }
  }
  Tensor s = axes.empty() ? g : sum(g, axes, true);
  return reshape(s, shape);
}

// ---------------------------------------------------------------- max / min

Tensor max(const Tensor& x) { return extreme_reduce(x, {}, false, true); }
Tensor max(const Tensor& x, int64_t axis, bool keepdim) {
  return extreme_reduce(x, {axis}, keepdim, true);
}
Tensor min(const Tensor& x) { return extreme_reduce(x, {}, false, false); }
Tensor min(const Tensor& x, int64_t axis, bool keepdim) {
  return extreme_reduce(x, {axis}, keepdim, false);
}
Tensor max(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  return extreme_reduce(x, axes, keepdim, true);
}
Tensor min(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  return extreme_reduce(x, axes, keepdim, false);
}

Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  return arg_extreme(x, axis, keepdim, true);
}
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim) {
  return arg_extreme(x, axis, keepdim, false);
}

// ---------------------------------------------------------------- var

Tensor var(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim, bool unbiased) {
  detail::check_floating(x, "var");
  const ReduceSpec spec = reduce_spec(x.shape(), axes, keepdim, "var");
  if (spec.count == 0)
    throw std::invalid_argument(
        fmt::format("var: cannot reduce over zero elements (shape {})", to_string(x.shape())));
  // n - 1 == 0 (one element, unbiased) gives NaN, as PyTorch does.
  const double denom = static_cast<double>(spec.count - (unbiased ? 1 : 0));
  Tensor out;
  {
    // Two passes: the squared deviations from the mean (no cancellation as in E[x^2]-E[x]^2).
    const Tensor xd = x.detach();
    const Tensor d = xd - mean(xd, spec.axes64, true);
    out = reshape(sum(d * d, spec.axes64, true) / denom, spec.out);
  }
  // d var/dx = 2 (x - mean(x)) / (n - ddof)
  return record(
      "var", out, {x},
      [x = SavedTensor(x, "var"), spec, denom](const Tensor& g, const Tensor&) -> GradList {
        const Tensor& xv = x.get();
        return {reshape(g, spec.kept) * (xv - mean(xv, spec.axes64, true)) * (2.0 / denom)};
      },
      [x, spec, keepdim, denom](const TangentList& t, const Tensor&) {
        const Tensor xd = x.detach();
        return sum(t[0] * (xd - mean(xd, spec.axes64, true)), spec.axes64, keepdim) * (2.0 / denom);
      });
}
Tensor var(const Tensor& x, bool unbiased) {
  return var(x, std::vector<int64_t>{}, false, unbiased);
}
Tensor var(const Tensor& x, int64_t axis, bool keepdim, bool unbiased) {
  return var(x, std::vector<int64_t>{axis}, keepdim, unbiased);
}

// ---------------------------------------------------------------- logsumexp

namespace {
Tensor logsumexp_impl(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  detail::check_floating(x, "logsumexp");
  const ReduceSpec spec = reduce_spec(x.shape(), axes, keepdim, "logsumexp");
  Tensor out;
  {
    const Tensor xd = x.detach();
    // m + log(sum(exp(x - m))); an infinite m (all -inf, or some +inf) is replaced by 0 so
    // that the result is -inf / +inf rather than NaN (as PyTorch).
    Tensor m = extreme_raw(xd, spec, true);
    DAGRAD_DISPATCH(m.dtype(), {
      T* pm = m.data<T>();
      for (int64_t i = 0, n = m.numel(); i < n; ++i)
        if (std::isinf(pm[i])) pm[i] = T(0);
    });
    out = reshape(log(sum(exp(xd - m), spec.axes64, true)) + m, spec.out);
  }
  // d lse/dx = exp(x - lse) = softmax(x)
  return record(
      "logsumexp", out, {x},
      [x = SavedTensor(x, "logsumexp"), spec](const Tensor& g, const Tensor& out) -> GradList {
        return {reshape(g, spec.kept) * exp(x.get() - reshape(out, spec.kept))};
      },
      [x, spec, keepdim](const TangentList& t, const Tensor& out) {
        return sum(t[0] * exp(x.detach() - reshape(out, spec.kept)), spec.axes64, keepdim);
      },
      KeepOutput::yes);
}
}  // namespace

Tensor logsumexp(const Tensor& x, int64_t axis, bool keepdim) {
  return logsumexp_impl(x, {axis}, keepdim);
}
Tensor logsumexp(const Tensor& x) { return logsumexp_impl(x, {}, false); }
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  return logsumexp_impl(x, axes, keepdim);
}

// ---------------------------------------------------------------- std, norm

Tensor std(const Tensor& x, bool unbiased) { return sqrt(var(x, unbiased)); }
Tensor std(const Tensor& x, int64_t axis, bool keepdim, bool unbiased) {
  return sqrt(var(x, axis, keepdim, unbiased));
}
Tensor std(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim, bool unbiased) {
  return sqrt(var(x, axes, keepdim, unbiased));
}

namespace {
// d ||x||_p / dx times g: x |x|^(p-2) g / ||x||^(p-1), written sign(x) |x|^(p-1) for p < 2 so that
// x = 0 gives 0; 0 wherever the norm is 0 (as PyTorch). In differentiable ops.
Tensor norm_backward(const Tensor& x, const Tensor& g_kept, const Tensor& out_kept, double p) {
  const Tensor zero = eq(out_kept, 0.0);
  const Tensor safe = where(zero, ones_like(out_kept), out_kept);
  const Tensor scale =
      where(zero, zeros_like(out_kept), g_kept / (p == 2 ? safe : pow(safe, p - 1)));
  const Tensor scaled =
      p == 2 ? x : (p < 2 ? sign(x) * pow(abs(x), p - 1) : x * pow(abs(x), p - 2));
  return scaled * scale;
}
}  // namespace

Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& axes, bool keepdim) {
  detail::check_floating(x, "norm");
  if (std::isnan(p)) throw std::invalid_argument("norm: p is NaN");
  if (std::isinf(p)) return p > 0 ? max(abs(x), axes, keepdim) : min(abs(x), axes, keepdim);
  if (p == 0) return sum(ne(x, zeros_like(x)), axes, keepdim);  // a count: no gradient
  if (p == 1) return sum(abs(x), axes, keepdim);
  const ReduceSpec spec = reduce_spec(x.shape(), axes, keepdim, "norm");
  Tensor out;
  {
    const Tensor xd = x.detach();
    out = p == 2 ? sqrt(sum(xd * xd, spec.axes64, keepdim))
                 : pow(sum(pow(abs(xd), p), spec.axes64, keepdim), 1.0 / p);
  }
  return record(
      "norm", out, {x},
      [x = SavedTensor(x, "norm"), spec, p](const Tensor& g, const Tensor& out) -> GradList {
        return {norm_backward(x.get(), reshape(g, spec.kept), reshape(out, spec.kept), p)};
      },
      [x, spec, keepdim, p](const TangentList& t, const Tensor& out) {
        const Tensor w =
            norm_backward(x.detach(), ones(spec.kept, x.dtype()), reshape(out, spec.kept), p);
        return sum(t[0] * w, spec.axes64, keepdim);
      },
      KeepOutput::yes);
}

// ---------------------------------------------------------------- cumsum, prod

Tensor cumsum(const Tensor& x, int64_t axis) {
  detail::check_floating(x, "cumsum");
  const int a = normalize_axis(axis, x.dim(), "cumsum");
  if (x.dim() == 0) return reshape(cumsum(reshape(x, {1}), 0), {});
  Tensor out = empty_like(x);
  if (x.numel() > 0) {
    const kernels::AxisSplit sp = kernels::split_at_axis(x.shape(), a);
    DAGRAD_DISPATCH(x.dtype(), {
      kernels::reduction_kernels<T>().cumsum_axis(x.data<T>(), sp, out.data<T>());
    });
  }
  // d cumsum(x)_l / dx_i = [l >= i]: the gradient's running sums from the end
  return record(
      "cumsum", out, {x},
      [a](const Tensor& g, const Tensor&) -> GradList {
        return {flip(cumsum(flip(g, {a}), a), {a})};
      },
      [a](const TangentList& t, const Tensor&) { return cumsum(t[0], a); });
}

namespace {
bool has_zero(const Tensor& x) {
  bool found = false;
  DAGRAD_DISPATCH(x.dtype(), {
    const T* p = x.data<T>();
    for (int64_t i = 0, n = x.numel(); i < n && !found; ++i) found = p[i] == T(0);
  });
  return found;
}

// prod over j != i of x_j along axis a, for every i (x's shape), from the kept product:
// out / x without zeros (as PyTorch); with a zero, without dividing: raw when nothing records,
// else each element masked out of an (n, n) copy of its row so that the result is differentiable
// again (O(n^2), used only for create_graph through a zero).
Tensor prod_others(const Tensor& x, const Tensor& out_kept, int a) {
  if (!has_zero(x)) return out_kept / x;
  if (!backward_in_ops({x, out_kept})) {
    Tensor r = empty_like(x);
    const kernels::AxisSplit sp = kernels::split_at_axis(x.shape(), a);
    DAGRAD_DISPATCH(x.dtype(), {
      kernels::reduction_kernels<T>().others_prod_axis(x.data<T>(), sp, r.data<T>());
    });
    return r;
  }
  const int64_t n = x.shape()[a];
  const Tensor last = transpose(x, a, -1);  // (..., n)
  Shape rows_shape = last.shape();
  rows_shape.insert(rows_shape.size() - 1, n);  // (..., n, n): rows[..., i, j] = x_j
  const Tensor rows = broadcast_to(unsqueeze(last, -2), rows_shape);
  const Tensor masked = where(eye(n, x.dtype()), ones_like(rows), rows);
  return transpose(prod(masked, -1), a, -1);
}
}  // namespace

Tensor prod(const Tensor& x, int64_t axis, bool keepdim) {
  detail::check_floating(x, "prod");
  const int a = normalize_axis(axis, x.dim(), "prod");
  if (x.dim() == 0) return reshape(x, {});
  Shape kept = x.shape();
  kept[a] = 1;
  Tensor out = empty(kept, x.dtype());
  const kernels::AxisSplit sp = kernels::split_at_axis(x.shape(), a);
  DAGRAD_DISPATCH(x.dtype(),
                  { kernels::reduction_kernels<T>().prod_axis(x.data<T>(), sp, out.data<T>()); });
  out.impl().shape = keepdim ? kept : reduced_shape(x.shape(), {a}, false);
  // d prod(x)/dx_i = prod over j != i of x_j
  return record(
      "prod", out, {x},
      [x = SavedTensor(x, "prod"), a, kept](const Tensor& g, const Tensor& out) -> GradList {
        return {reshape(g, kept) * prod_others(x.get(), reshape(out, kept), a)};
      },
      [x, a, kept, keepdim](const TangentList& t, const Tensor& out) {
        return sum(t[0] * prod_others(x.detach(), reshape(out, kept), a), a, keepdim);
      },
      KeepOutput::yes);
}

Tensor prod(const Tensor& x) {
  detail::check_floating(x, "prod");
  if (x.dim() == 0) return reshape(x, {});
  return reshape(prod(flatten(x), 0), {});
}

}  // namespace dagrad
