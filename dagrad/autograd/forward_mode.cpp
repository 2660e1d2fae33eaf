#include "dagrad/autograd/forward_mode.h"

#include <fmt/format.h>

#include <stdexcept>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/gradcheck.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/rules.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules forward_mode_rules{
    {"make_dual", "identity (the tangent rides along)"},
    {"primal_of", "identity (the tangent is dropped)"},
};

namespace {

// A new handle on t's storage: same values, no history, no tangent, same name.
Tensor alias_of(const Tensor& t) {
  auto p = std::make_shared<TensorImpl>();
  p->storage = t.impl().storage;
  p->offset = t.impl().offset;
  p->shape = t.impl().shape;
  p->dtype = t.impl().dtype;
  p->name = t.impl().name;
  return Tensor(std::move(p));
}

// Identity op from `src` to `alias` (a handle on src's storage), so that reverse mode flows
// through a re-wrapped tensor back to src. d out / d src = 1.
Tensor link_identity(const char* op, const Tensor& src, Tensor alias) {
  if (!grad_mode_enabled() || !src.requires_grad()) return alias;
  return record(
      op, alias, {src}, [](const Tensor& g, const Tensor&) -> GradList { return {g}; },
      [](const TangentList& t, const Tensor&) { return t[0]; });
}

void check_defined(const Tensor& t, const char* op, const char* what) {
  if (!t.defined())
    throw std::invalid_argument(fmt::format("{}: the {} is an undefined tensor", op, what));
}

// A tangent (or direction) must match its primal exactly.
void check_like(const Tensor& primal, const Tensor& tangent, const char* op, const char* what) {
  check_defined(primal, op, "primal");
  check_defined(tangent, op, what);
  if (!is_floating(primal.dtype()))
    throw std::invalid_argument(fmt::format("{}: the primal is {}; integer tensors have no tangent",
                                            op, dtype_name(primal.dtype())));
  if (tangent.shape() != primal.shape())
    throw std::invalid_argument(fmt::format("{}: the {} has shape {} but the primal has shape {}",
                                            op, what, to_string(tangent.shape()),
                                            to_string(primal.shape())));
  if (tangent.dtype() != primal.dtype())
    throw std::invalid_argument(fmt::format("{}: the {} is {} but the primal is {}", op, what,
                                            dtype_name(tangent.dtype()),
                                            dtype_name(primal.dtype())));
}

// Zeros of `shape` with a 1 at flat index i.
Tensor one_hot(const Shape& shape, Dtype dtype, int64_t i) {
  Tensor e = zeros(shape, dtype);
  DAGRAD_DISPATCH(dtype, { e.data<T>()[i] = T(1); });
  return e;
}

// Writes the values of v (flattened) into column j (or row i) of the 2-D matrix J.
void put_column(Tensor& J, int64_t j, const Tensor& v) {
  const std::vector<double> vals = v.to_vector();
  const int64_t n = J.shape()[1];
  DAGRAD_DISPATCH(J.dtype(), {
    T* p = J.data<T>();
    for (std::size_t i = 0; i < vals.size(); ++i) p[i * n + j] = static_cast<T>(vals[i]);
  });
}
void put_row(Tensor& J, int64_t i, const Tensor& v) {
  const std::vector<double> vals = v.to_vector();
  const int64_t n = J.shape()[1];
  DAGRAD_DISPATCH(J.dtype(), {
    T* p = J.data<T>() + i * n;
    for (std::size_t j = 0; j < vals.size(); ++j) p[j] = static_cast<T>(vals[j]);
  });
}

void check_output(const Tensor& y, const char* op) {
  if (!y.defined())
    throw std::invalid_argument(fmt::format("{}: f returned an undefined tensor", op));
}

}  // namespace

Tensor make_dual(const Tensor& primal, const Tensor& tangent) {
  check_like(primal, tangent, "make_dual", "tangent");
  Tensor out = link_identity("make_dual", primal, alias_of(primal));
  out.impl().tangent = tangent.detach().impl_ptr();
  return out;
}

bool has_tangent(const Tensor& t) { return t.defined() && t.impl().tangent != nullptr; }

Tensor tangent_of(const Tensor& t) {
  check_defined(t, "tangent_of", "tensor");
  return has_tangent(t) ? t.tangent() : zeros_like(t);
}

Tensor primal_of(const Tensor& t) {
  check_defined(t, "primal_of", "tensor");
  if (!has_tangent(t)) return t;
  Tensor out = link_identity("primal_of", t, alias_of(t));
  out.impl().tangent.reset();  // the identity's jvp gave it one
  return out;
}

// ---------------------------------------------------------------- jvp / vjp

std::pair<Tensor, Tensor> jvp(const UnaryFn& f, const Tensor& x, const Tensor& v) {
  check_like(x, v, "jvp", "direction v");
  const Tensor y = f(make_dual(x.detach(), v));
  check_output(y, "jvp");
  return {y.detach(), tangent_of(y).detach()};
}

std::pair<Tensor, Tensor> jvp(const MultiFn& f, const std::vector<Tensor>& xs,
                              const std::vector<Tensor>& vs) {
  if (xs.size() != vs.size())
    throw std::invalid_argument(
        fmt::format("jvp: {} inputs but {} tangent directions", xs.size(), vs.size()));
  std::vector<Tensor> duals;
  duals.reserve(xs.size());
  for (std::size_t k = 0; k < xs.size(); ++k) {
    check_defined(xs[k], "jvp", "input");
    if (!vs[k].defined()) {
      duals.push_back(xs[k].detach());
      continue;
    }
    check_like(xs[k], vs[k], "jvp", fmt::format("direction v[{}]", k).c_str());
    duals.push_back(make_dual(xs[k].detach(), vs[k]));
  }
  const Tensor y = f(duals);
  check_output(y, "jvp");
  return {y.detach(), tangent_of(y).detach()};
}

Tensor vjp(const UnaryFn& f, const Tensor& x, const Tensor& u) {
  check_defined(x, "vjp", "input");
  Tensor xl = x.detach().requires_grad_();
  Tensor y;
  {
    enable_grad on;
    y = f(xl);
  }
  check_output(y, "vjp");
  if (u.defined()) check_like(y, u, "vjp", "upstream gradient u");
  if (!y.requires_grad()) return zeros_like(x);
  return grad({y}, {xl}, {u})[0].detach();
}

// ---------------------------------------------------------------- Jacobians

Tensor jacobian_forward(const UnaryFn& f, const Tensor& x) {
  check_defined(x, "jacobian_forward", "input");
  const Tensor xd = x.detach();
  const int64_t n = xd.numel();
  if (n == 0) {
    no_grad off;
    const Tensor y = f(xd);
    check_output(y, "jacobian_forward");
    return zeros({y.numel(), 0}, y.dtype());
  }
  Tensor J;
  Shape out_shape;
  for (int64_t j = 0; j < n; ++j) {
    // Column j: the tangent of f(x) when x moves along e_j.
    auto [y, t] = jvp(f, xd, one_hot(xd.shape(), xd.dtype(), j));
    if (j == 0) {
      out_shape = y.shape();
      J = zeros({y.numel(), n}, y.dtype());
    } else if (y.shape() != out_shape) {
      throw std::invalid_argument(
          fmt::format("jacobian_forward: f returned shape {} after {} on an earlier pass",
                      to_string(y.shape()), to_string(out_shape)));
    }
    put_column(J, j, t);
  }
  return J;
}

Tensor jacobian_reverse(const UnaryFn& f, const Tensor& x) {
  check_defined(x, "jacobian_reverse", "input");
  Tensor xl = x.detach().requires_grad_();
  Tensor y;
  {
    enable_grad on;
    y = f(xl);
  }
  check_output(y, "jacobian_reverse");
  const int64_t m = y.numel();
  Tensor J = zeros({m, xl.numel()}, y.dtype());
  if (!y.requires_grad()) return J;  // f does not depend on x
  for (int64_t i = 0; i < m; ++i) {
    // Row i: e_iᵀ J, the gradient of y_i. The graph is kept for the next row.
    const Tensor g = grad({y}, {xl}, {one_hot(y.shape(), y.dtype(), i)},
                          BackwardOptions{.retain_graph = true})[0];
    put_row(J, i, g);
  }
  return J;
}

Tensor jacobian_numerical(const UnaryFn& f, const Tensor& x, double eps) {
  check_defined(x, "jacobian_numerical", "input");
  if (!(eps > 0))
    throw std::invalid_argument(fmt::format("jacobian_numerical: eps must be > 0, got {}", eps));
  no_grad off;
  Tensor xc = x.detach().clone();  // perturbed in place; the caller's x is never touched
  const int64_t n = xc.numel();
  Tensor J;
  Shape out_shape;
  auto eval = [&](int64_t j) {
    Shape s;
    Dtype dt = xc.dtype();
    const std::vector<double> col = difference_quotient(
        [&] {
          Tensor y = f(xc);
          check_output(y, "jacobian_numerical");
          s = y.shape();
          dt = y.dtype();
          return y.to_vector();
        },
        xc, j, eps);
    if (j == 0) {
      out_shape = s;
      J = zeros({s.numel(), n}, dt);
    } else if (s != out_shape) {
      throw std::invalid_argument(
          fmt::format("jacobian_numerical: f returned shape {} after {} on an earlier pass",
                      to_string(s), to_string(out_shape)));
    }
    const int64_t cols = J.shape()[1];
    DAGRAD_DISPATCH(J.dtype(), {
      T* pj = J.data<T>();
      for (std::size_t i = 0; i < col.size(); ++i) pj[i * cols + j] = static_cast<T>(col[i]);
    });
  };
  if (n == 0) {
    const Tensor y = f(xc);
    check_output(y, "jacobian_numerical");
    return zeros({y.numel(), 0}, y.dtype());
  }
  for (int64_t j = 0; j < n; ++j) eval(j);
  return J;
}

Tensor hvp(const UnaryFn& f, const Tensor& x, const Tensor& v) {
  check_like(x, v, "hvp", "direction v");
  Tensor xl = x.detach().requires_grad_();
  enable_grad on;
  const Tensor y = f(xl);
  check_output(y, "hvp");
  if (y.numel() != 1)
    throw std::invalid_argument(
        fmt::format("hvp: f must return a scalar, got shape {}", to_string(y.shape())));
  if (!y.requires_grad()) return zeros_like(x);
  // g = ∇f(x), recorded; then H v = ∇ <g, v>.
  const Tensor g = grad({y}, {xl}, {}, BackwardOptions{.create_graph = true})[0];
  if (!g.requires_grad()) return zeros_like(x);  // f is linear in x
  const Tensor gv = sum(g * v.detach());
  return grad({gv}, {xl})[0].detach();
}

namespace {
// ∇f at the dual point x + εv: its tangent is H v. Zeros (no tangent) when f does not
// depend on x.
Tensor dual_gradient(const UnaryFn& f, const Tensor& x, const Tensor& v, const char* op) {
  Tensor xl = x.detach().requires_grad_();
  enable_grad on;
  const Tensor y = f(make_dual(xl, v.detach()));
  check_output(y, op);
  if (y.numel() != 1)
    throw std::invalid_argument(
        fmt::format("{}: f must return a scalar, got shape {}", op, to_string(y.shape())));
  if (!y.requires_grad()) return zeros_like(x);
  return grad({y}, {xl}, {}, BackwardOptions{}, /*allow_unused=*/true)[0];
}
}  // namespace

Tensor hvp_forward(const UnaryFn& f, const Tensor& x, const Tensor& v) {
  check_like(x, v, "hvp_forward", "direction v");
  const Tensor g = dual_gradient(f, x, v, "hvp_forward");
  return g.defined() && has_tangent(g) ? tangent_of(g).detach() : zeros_like(x);
}

Tensor hessian(const UnaryFn& f, const Tensor& x) {
  check_defined(x, "hessian", "input");
  if (!is_floating(x.dtype()))
    throw std::invalid_argument(
        fmt::format("hessian: the input is {}; integer tensors have no "
                    "derivatives",
                    dtype_name(x.dtype())));
  const int64_t n = x.numel();
  Tensor H = zeros({n, n}, x.dtype());
  for (int64_t j = 0; j < n; ++j) {
    const Tensor col = hvp_forward(f, x, one_hot(x.shape(), x.dtype(), j));
    const std::vector<double> c = col.to_vector();
    DAGRAD_DISPATCH(x.dtype(), {
      T* ph = H.data<T>();
      for (int64_t i = 0; i < n; ++i) ph[i * n + j] = static_cast<T>(c[i]);
    });
  }
  return H;
}

}  // namespace dagrad
