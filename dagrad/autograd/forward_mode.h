// Forward mode (dual numbers) and Jacobians built three ways.
//
// A dual tensor is a primal value x with a tangent dx attached (x + dx·ε, ε² = 0). Every op
// propagates the tangent with its jvp rule as it computes its value, so after y = f(x) the
// tangent of y is J_f(x)·dx: one forward pass gives one column combination of the Jacobian.
// Reverse mode (backward / dagrad::grad) gives one row combination uᵀ·J_f(x) per pass.
//
// Jacobian convention: every jacobian_* function returns a 2-D (output numel, input numel)
// matrix in the dtype of f's output, J[i][j] = d y_i / d x_j, with both x and y flattened
// row-major (the layout of torch.autograd.functional.jacobian reshaped to 2-D).
#pragma once
#include <functional>
#include <utility>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad {

using UnaryFn = std::function<Tensor(const Tensor&)>;
using MultiFn = std::function<Tensor(const std::vector<Tensor>&)>;

// A new tensor sharing primal's storage (and, when primal requires grad, linked to it by an
// identity op so reverse mode still reaches primal), carrying `tangent` as its dual part.
// The tangent must have primal's shape and dtype; it is stored without its history (tangents
// are first order: never differentiated, and a jvp rule's own ops carry no tangent). Forward
// over reverse works: a backward pass through dual values gives gradients with tangents
// (hvp_forward).
Tensor make_dual(const Tensor& primal, const Tensor& tangent);
// True when t carries a forward-mode tangent.
bool has_tangent(const Tensor& t);
// The tangent of t; zeros of t's shape when t has none (t does not depend on any dual input).
Tensor tangent_of(const Tensor& t);
// t without its tangent: the same storage (and the same reverse-mode history).
Tensor primal_of(const Tensor& t);

// Forward mode: (f(x), J_f(x)·v) from one forward pass with x made dual with tangent v.
// Both results are detached from any graph.
std::pair<Tensor, Tensor> jvp(const UnaryFn& f, const Tensor& x, const Tensor& v);
// Several inputs: (f(xs), sum_k J_k·v_k), one tangent per input (an undefined v_k means 0).
std::pair<Tensor, Tensor> jvp(const MultiFn& f, const std::vector<Tensor>& xs,
                              const std::vector<Tensor>& vs);

// Reverse mode: uᵀ·J_f(x) (shaped like x) from one backward pass with upstream gradient u
// (shaped like f(x)). Zeros when f(x) does not depend on x.
Tensor vjp(const UnaryFn& f, const Tensor& x, const Tensor& u);

// The Jacobian by forward mode: one jvp per input element with tangent e_j (column j).
Tensor jacobian_forward(const UnaryFn& f, const Tensor& x);
// The Jacobian by reverse mode: one backward per output element with a one-hot upstream
// gradient e_i (row i). The graph is built once and retained between passes.
Tensor jacobian_reverse(const UnaryFn& f, const Tensor& x);
// The Jacobian by central differences: (f(x + eps e_j) - f(x - eps e_j)) / 2 eps (column j).
// f is evaluated under no_grad on a perturbed copy of x; x is not modified.
Tensor jacobian_numerical(const UnaryFn& f, const Tensor& x, double eps = 1e-6);

// Hessian-vector product H_f(x)·v of a scalar f, by reverse over reverse: g = ∇f recorded
// with create_graph, then the gradient of <g, v>. Shaped like x; zeros when f is linear.
Tensor hvp(const UnaryFn& f, const Tensor& x, const Tensor& v);
// The same product by forward over reverse: x is made dual with tangent v, and one backward
// pass computes g = ∇f(x) in ops whose tangents carry d/dε ∇f(x + εv) = H v along. One
// forward and one backward pass, and no second graph over the gradient.
Tensor hvp_forward(const UnaryFn& f, const Tensor& x, const Tensor& v);
// The Hessian of a scalar f at x, (x.numel(), x.numel()) with H[i][j] = d²f / dx_i dx_j over
// x flattened: column j is hvp_forward(f, x, e_j). For small x (one pass per element).
Tensor hessian(const UnaryFn& f, const Tensor& x);

}  // namespace dagrad
