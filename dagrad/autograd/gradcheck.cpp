#include "dagrad/autograd/gradcheck.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/random.h"

namespace dagrad {

double rel_error(double a, double b) {
  return std::abs(a - b) / std::max(1e-8, std::abs(a) + std::abs(b));
}

double rel_error(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(fmt::format("rel_error: shapes {} and {} differ",
                                            to_string(a.shape()), to_string(b.shape())));
  const std::vector<double> va = a.to_vector(), vb = b.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i) worst = std::max(worst, rel_error(va[i], vb[i]));
  return worst;
}

std::vector<double> difference_quotient(const std::function<std::vector<double>()>& g,
                                        const Tensor& x, int64_t i, double h, Difference kind) {
  if (!x.defined() || i < 0 || i >= x.numel())
    throw std::invalid_argument(fmt::format("difference_quotient: element {} of a tensor of {}", i,
                                            x.defined() ? to_string(x.shape()) : "undefined"));
  if (!(h > 0))
    throw std::invalid_argument(fmt::format("difference_quotient: h must be > 0, got {}", h));
  std::vector<double> up, down;
  double step = 0;
  DAGRAD_DISPATCH(x.dtype(), {
    T* p = x.data<T>() + i;
    const T old = *p;
    const T hi = static_cast<T>(old + h);
    const T lo = kind == Difference::central ? static_cast<T>(old - h) : old;
    step = static_cast<double>(hi) - static_cast<double>(lo);
    try {
      *p = hi;
      up = g();
      *p = lo;
      down = g();
    } catch (...) {
      *p = old;
      throw;
    }
    *p = old;
  });
  if (step == 0)
    throw std::invalid_argument(
        fmt::format("difference_quotient: h = {} is below the spacing of {} at x = {}: the step "
                    "rounds to 0",
                    h, dtype_name(x.dtype()), x.to_vector()[static_cast<std::size_t>(i)]));
  if (up.size() != down.size())
    throw std::invalid_argument(
        fmt::format("difference_quotient: g returned {} values at x + h and {} at x - h", up.size(),
                    down.size()));
  for (std::size_t k = 0; k < up.size(); ++k) up[k] = (up[k] - down[k]) / step;
  return up;
}

double difference_quotient(const std::function<double()>& g, const Tensor& x, int64_t i, double h,
                           Difference kind) {
  return difference_quotient([&] { return std::vector<double>{g()}; }, x, i, h, kind)[0];
}

namespace {

std::function<double()> scalar_of(const std::function<Tensor()>& f, const Tensor& dout) {
  return [f, dout]() {
    no_grad guard;
    Tensor y = f();
    if (!dout.defined()) {
      if (y.numel() != 1)
        throw std::invalid_argument(fmt::format(
            "numerical_gradient: f returned shape {}; pass dout for a non-scalar output",
            to_string(y.shape())));
      return y.item();
    }
    if (y.shape() != dout.shape())
      throw std::invalid_argument(fmt::format("numerical_gradient: dout shape {} != output {}",
                                              to_string(dout.shape()), to_string(y.shape())));
    return sum(y * dout.to(y.dtype())).item();
  };
}

}  // namespace

Tensor numerical_gradient(const std::function<Tensor()>& f, const Tensor& x, const Tensor& dout,
                          double h) {
  const auto fs = scalar_of(f, dout);
  Tensor g = zeros_like(x);
  DAGRAD_DISPATCH(x.dtype(), {
    T* pg = g.data<T>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i)
      pg[i] = static_cast<T>(difference_quotient(fs, x, i, h));
  });
  return g;
}

Tensor numerical_gradient(const std::function<Tensor()>& f, const Tensor& x, double h) {
  return numerical_gradient(f, x, Tensor(), h);
}

std::string GradcheckResult::report() const {
  std::string out;
  for (const auto& in : inputs)
    out += fmt::format("  {:<12} {:<16} max rel error {:.3e}  max abs error {:.3e}  {}\n", in.name,
                       to_string(in.shape), in.max_rel_error, in.max_abs_error,
                       in.passed ? "ok" : "FAILED");
  return out;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  // Fresh leaves so that the check never touches the caller's .grad.
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    Tensor l = t.detach();
    if (t.requires_grad()) l.requires_grad_();
    leaves.push_back(l);
  }
  Tensor y = f(leaves);
  Tensor dout;
  if (y.numel() != 1) {
    Generator gen(opts.seed);
    dout = randn(y.shape(), gen, y.dtype());
  }
  std::vector<Tensor> wanted;
  for (const Tensor& l : leaves)
    if (l.requires_grad()) wanted.push_back(l);
  if (wanted.empty()) throw std::invalid_argument("gradcheck: no input requires grad");
  if (!y.requires_grad())
    throw std::invalid_argument(
        "gradcheck: the output does not depend on any input that requires grad");
  const std::vector<Tensor> analytic =
      grad({y}, wanted, {dout.defined() ? dout : Tensor()}, {}, true);

  GradcheckResult result;
  std::size_t k = 0;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i].requires_grad()) continue;
    const Tensor& x = leaves[i];
    const auto fs = scalar_of([&] { return f(leaves); }, dout);
    GradcheckInput rep;
    rep.name = !inputs[i].name().empty() ? inputs[i].name() : fmt::format("input {}", i);
    rep.shape = x.shape();
    const std::vector<double> a = analytic[k++].to_vector();
    for (int64_t j = 0; j < x.numel(); ++j) {
      const double num = difference_quotient(fs, x, j, opts.eps);
      const double abs_err = std::abs(a[j] - num), rel = rel_error(a[j], num);
      rep.max_rel_error = std::max(rep.max_rel_error, rel);
      rep.max_abs_error = std::max(rep.max_abs_error, abs_err);
      if (rel > opts.rtol && abs_err > opts.atol) rep.passed = false;
    }
    result.passed &= rep.passed;
    result.inputs.push_back(rep);
  }
  if (opts.verbose) fmt::print("{}", result.report());
  return result;
}

double grad_check_sparse(const std::function<Tensor()>& f, const Tensor& x, const Tensor& analytic,
                         int num_checks, double h, uint64_t seed, bool verbose) {
  if (analytic.shape() != x.shape())
    throw std::invalid_argument(fmt::format("grad_check_sparse: gradient shape {} != input {}",
                                            to_string(analytic.shape()), to_string(x.shape())));
  Generator gen(seed);
  const auto fs = scalar_of(f, Tensor());
  const std::vector<double> a = analytic.to_vector();
  double worst = 0;
  for (int c = 0; c < num_checks; ++c) {
    const int64_t i = gen.randint(0, x.numel());
    const double num = difference_quotient(fs, x, i, h);
    const double rel = rel_error(a[i], num);
    worst = std::max(worst, rel);
    if (verbose)
      fmt::print("numerical: {:+.6e} analytic: {:+.6e}, relative error: {:.3e}\n", num, a[i], rel);
  }
  return worst;
}

}  // namespace dagrad
