// Gradient checking: autodiff against central differences, the way a course notebook does it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad {

// The difference quotient of g along element i of x, the one finite-difference step every
// numerical check uses: central (g(x + h e_i) - g(x - h e_i)) / 2h, error O(h^2), or forward
// (g(x + h e_i) - g(x)) / h, error O(h). x is written raw (no version bump, so a recorded graph
// stays usable) and restored exactly, also when g throws; the quotient divides by the step the
// dtype actually took. g returns its values flattened.
enum class Difference { central, forward };
std::vector<double> difference_quotient(const std::function<std::vector<double>()>& g,
                                        const Tensor& x, int64_t i, double h,
                                        Difference kind = Difference::central);
double difference_quotient(const std::function<double()>& g, const Tensor& x, int64_t i, double h,
                           Difference kind = Difference::central);

// max over elements of |a - b| / max(1e-8, |a| + |b|)
double rel_error(const Tensor& a, const Tensor& b);
double rel_error(double a, double b);

// Central differences of a scalar function f() with respect to x (f reads x; x is perturbed
// in place and restored): df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h.
Tensor numerical_gradient(const std::function<Tensor()>& f, const Tensor& x, double h = 1e-6);
// The array version: the gradient of sum(f() * dout), for f with a non-scalar output.
Tensor numerical_gradient(const std::function<Tensor()>& f, const Tensor& x, const Tensor& dout,
                          double h = 1e-6);

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double rtol = 1e-7;  // an element passes when its relative error is <= rtol ...
  double atol = 1e-9;  // ... or its absolute error is <= atol (for gradients that are ~0)
  uint64_t seed = 0;   // for the random upstream gradient of non-scalar outputs
  bool verbose = false;
};

struct GradcheckInput {
  std::string name;
  Shape shape;
  double max_rel_error = 0;
  double max_abs_error = 0;
  bool passed = true;
};

struct GradcheckResult {
  std::vector<GradcheckInput> inputs;
  bool passed = true;
  std::string report() const;  // one line per input
};

// Checks every input that requires grad: the analytic gradient of sum(f(inputs) * dout)
// (dout random for a non-scalar output) against central differences.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

// Checks `num_checks` random coordinates of `analytic` (the gradient of scalar f w.r.t. x)
// and returns the largest relative error; prints each check when verbose.
double grad_check_sparse(const std::function<Tensor()>& f, const Tensor& x, const Tensor& analytic,
                         int num_checks = 10, double h = 1e-6, uint64_t seed = 0,
                         bool verbose = true);

}  // namespace dagrad
