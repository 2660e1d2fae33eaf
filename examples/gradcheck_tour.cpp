// A gradient-check tour: every differentiable op in dagrad/autograd/ops, checked in float64 on
// small random inputs — the gradient from the tape against central differences, the way a course
// notebook checks each layer it writes by hand. One line per op: the inputs checked, the
// largest relative error max |a-b| / max(1e-8, |a|+|b|) over all their elements, ok/FAILED.
// A correct op agrees to about 1e-8 or better; the pass mark is rtol 1e-7 (or abs 1e-9).
//
// Usage: gradcheck-tour [--verbose|-v] [--eps H] [name-filter]
//   --verbose, -v  also print the per-input report of each check
//   --eps H        the finite-difference step (default 1e-5, the course's)
//   name-filter    run only the checks whose name contains this text
// Exit status 1 when any check fails or throws.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/ops/conv.h"
#include "dagrad/autograd/ops/dropout.h"
#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/autograd/ops/loss.h"
#include "dagrad/autograd/ops/norm.h"
#include "dagrad/autograd/ops/pool.h"
#include "dagrad/autograd/ops/softmax.h"
#include "dagrad/base/command_line.h"

using namespace dagrad;

namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;

// What one check runs: the inputs (those that require grad are checked) and the function.
struct Case {
  Inputs inputs;
  Fn f;
};

struct Check {
  const char* family;
  const char* name;
  std::function<Case(Generator&)> build;
};

// ---- random inputs (float64, requires grad unless they are labels, indices or masks)
Tensor param(Tensor t) { return t.requires_grad_(); }
Tensor rn(Generator& g, const Shape& s) { return param(randn(s, g, float64)); }
// Values in [lo, hi): for log, sqrt and friends.
Tensor un(Generator& g, const Shape& s, double lo, double hi) {
  return param(uniform(s, lo, hi, g, float64));
}
// Normal values pushed at least 0.1 away from 0: for ops with a kink at 0 (relu, abs, ...).
Tensor away(Generator& g, const Shape& s) {
  Tensor t = randn(s, g, float64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] += p[i] >= 0 ? 0.1 : -0.1;
  return param(t);
}
Tensor labels(Generator& g, int64_t n, int64_t classes) {
  return randint(0, classes, {n}, g, float64);
}

// Appends the checks of one op family to the table. The order is kept: a check's random
// inputs are seeded by its position.
struct Family {
  std::vector<Check>& table;
  const char* name;
  void add(const char* check, std::function<Case(Generator&)> build) {
    table.push_back({name, check, std::move(build)});
  }
};

// Binary arithmetic (broadcasting either way), the scalar forms, pow and atan2, and the ops
// that select between inputs (maximum, minimum, clamp, where, masked_fill).
void elementwise_checks(std::vector<Check>& table) {
  Family f{table, "elementwise"};
  f.add("add", [](Generator& g) -> Case {
    return {{rn(g, {2, 3}), rn(g, {2, 3})}, [](const Inputs& in) { return in[0] + in[1]; }};
  });
  f.add("add (broadcast)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3}), rn(g, {3})}, [](const Inputs& in) { return in[0] + in[1]; }};
  });
  f.add("sub (broadcast)", [](Generator& g) -> Case {
    return {{rn(g, {2, 1, 3}), rn(g, {4, 1})}, [](const Inputs& in) { return in[0] - in[1]; }};
  });
  f.add("mul (broadcast)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {3, 1})}, [](const Inputs& in) { return in[0] * in[1]; }};
  });
  f.add("div (broadcast)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3}), un(g, {3}, 0.5, 2.0)}, [](const Inputs& in) { return in[0] / in[1]; }};
  });
  f.add("scalar + - * /", [](Generator& g) -> Case {
    return {{rn(g, {5})},
            [](const Inputs& in) { return (in[0] + 1.5) * 3.0 - 2.0 / 4.0 + in[0] / 7.0; }};
  });
  f.add("rsub, rdiv, neg", [](Generator& g) -> Case {
    return {{un(g, {5}, 0.5, 2.0)},
            [](const Inputs& in) { return (2.0 - in[0]) + 3.0 / in[0] - in[0]; }};
  });
  f.add("pow (scalar exponent)", [](Generator& g) -> Case {
    return {{un(g, {6}, 0.5, 2.0)}, [](const Inputs& in) { return pow(in[0], 2.5); }};
  });
  f.add("pow (tensor exponent)", [](Generator& g) -> Case {
    return {{un(g, {2, 3}, 0.5, 2.0), rn(g, {3})},
            [](const Inputs& in) { return pow(in[0], in[1]); }};
  });
  f.add("atan2 (broadcast)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {4})}, [](const Inputs& in) { return atan2(in[0], in[1]); }};
  });
  f.add("square", [](Generator& g) -> Case {
    return {{rn(g, {6})}, [](const Inputs& in) { return square(in[0]); }};
  });
  f.add("maximum (broadcast)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {4})}, [](const Inputs& in) { return maximum(in[0], in[1]); }};
  });
  f.add("minimum", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {3, 4})}, [](const Inputs& in) { return minimum(in[0], in[1]); }};
  });
  f.add("clamp", [](Generator& g) -> Case {
    return {{rn(g, {8})}, [](const Inputs& in) { return clamp(in[0], -0.5, 0.5); }};
  });
  f.add("where", [](Generator& g) -> Case {
    Tensor cond = randint(0, 2, {3, 4}, g, float64);
    return {{rn(g, {3, 4}), rn(g, {4})},
            [cond](const Inputs& in) { return where(cond, in[0], in[1]); }};
  });
  f.add("masked_fill", [](Generator& g) -> Case {
    Tensor mask = randint(0, 2, {3, 4}, g, float64);
    return {{rn(g, {3, 4})}, [mask](const Inputs& in) { return masked_fill(in[0], mask, -1.0); }};
  });
}

// One-input math and activations: inputs kept away from a kink at 0 (abs, relu, ...) or in
// the domain (log, sqrt, ...).
void unary_checks(std::vector<Check>& table) {
  Family f{table, "unary"};
  f.add("exp", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return exp(in[0]); }};
  });
  f.add("log", [](Generator& g) -> Case {
    return {{un(g, {2, 3}, 0.5, 3.0)}, [](const Inputs& in) { return log(in[0]); }};
  });
  f.add("log1p", [](Generator& g) -> Case {
    return {{un(g, {2, 3}, -0.5, 2.0)}, [](const Inputs& in) { return log1p(in[0]); }};
  });
  f.add("sqrt", [](Generator& g) -> Case {
    return {{un(g, {2, 3}, 0.5, 3.0)}, [](const Inputs& in) { return sqrt(in[0]); }};
  });
  f.add("abs", [](Generator& g) -> Case {
    return {{away(g, {2, 3})}, [](const Inputs& in) { return abs(in[0]); }};
  });
  f.add("sin", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return sin(in[0]); }};
  });
  f.add("cos", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return cos(in[0]); }};
  });
  f.add("tanh", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return tanh(in[0]); }};
  });
  f.add("sigmoid", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return sigmoid(in[0]); }};
  });
  f.add("relu", [](Generator& g) -> Case {
    return {{away(g, {3, 4})}, [](const Inputs& in) { return relu(in[0]); }};
  });
  f.add("leaky_relu", [](Generator& g) -> Case {
    return {{away(g, {3, 4})}, [](const Inputs& in) { return leaky_relu(in[0], 0.1); }};
  });
  f.add("softplus", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return softplus(in[0]); }};
  });
  f.add("erf", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return erf(in[0]); }};
  });
  f.add("gelu", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return gelu(in[0]); }};
  });
  f.add("gelu (tanh)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return gelu(in[0], "tanh"); }};
  });
  f.add("elu", [](Generator& g) -> Case {
    return {{away(g, {3, 4})}, [](const Inputs& in) { return elu(in[0], 0.7); }};
  });
  f.add("silu", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return silu(in[0]); }};
  });
  f.add("tan", [](Generator& g) -> Case {
    return {{un(g, {2, 3}, -1.2, 1.2)}, [](const Inputs& in) { return tan(in[0]); }};
  });
  f.add("atan", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return atan(in[0]); }};
  });
  f.add("rsqrt", [](Generator& g) -> Case {
    return {{un(g, {2, 3}, 0.5, 3.0)}, [](const Inputs& in) { return rsqrt(in[0]); }};
  });
  f.add("expm1", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return expm1(in[0]); }};
  });
  f.add("log2", [](Generator& g) -> Case {
    return {{un(g, {2, 3}, 0.5, 3.0)}, [](const Inputs& in) { return log2(in[0]); }};
  });
}

// Reductions over all elements, one axis or several (keepdim too), and the scans.
void reduction_checks(std::vector<Check>& table) {
  Family f{table, "reduction"};
  f.add("sum (all)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 4})}, [](const Inputs& in) { return sum(in[0]); }};
  });
  f.add("sum (axis 1, keepdim)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 4})}, [](const Inputs& in) { return sum(in[0], 1, true); }};
  });
  f.add("sum (axes 0, 2)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 4})}, [](const Inputs& in) {
              return sum(in[0], std::vector<int64_t>{0, 2});
            }};
  });
  f.add("mean (all)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return mean(in[0]); }};
  });
  f.add("mean (axis -1)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return mean(in[0], -1); }};
  });
  f.add("max (all)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return max(in[0]); }};
  });
  f.add("max (axis 0)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return max(in[0], 0); }};
  });
  f.add("min (all)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return min(in[0]); }};
  });
  f.add("min (axis 1, keepdim)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return min(in[0], 1, true); }};
  });
  f.add("var (all, unbiased)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return var(in[0]); }};
  });
  f.add("var (axis 1, biased)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return var(in[0], 1, false, false); }};
  });
  f.add("logsumexp (axis 1)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return logsumexp(in[0], 1); }};
  });
  f.add("logsumexp (all)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return logsumexp(in[0]); }};
  });
  f.add("max / logsumexp (axes 0, 2)", [](Generator& g) -> Case {
    return {{rn(g, {3, 2, 4})}, [](const Inputs& in) {
              return max(in[0], {0, 2}) + logsumexp(in[0], {0, 2});
            }};
  });
  f.add("std (axis 1)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return dagrad::std(in[0], 1); }};
  });
  f.add("norm (p = 2, 3, 1.5)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) {
              return norm(in[0], 2, {1}) + norm(in[0], 3, {1}) + norm(in[0], 1.5, {1});
            }};
  });
  f.add("cumsum (axis 1)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return cumsum(in[0], 1); }};
  });
  f.add("prod (axis 0, all)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return prod(in[0], 0) * prod(in[0]); }};
  });
}

// softmax along either axis and log_softmax.
void softmax_checks(std::vector<Check>& table) {
  Family f{table, "softmax"};
  f.add("softmax (axis -1)", [](Generator& g) -> Case {
    return {{rn(g, {3, 5})}, [](const Inputs& in) { return softmax(in[0], -1); }};
  });
  f.add("softmax (axis 0)", [](Generator& g) -> Case {
    return {{rn(g, {3, 5})}, [](const Inputs& in) { return softmax(in[0], 0); }};
  });
  f.add("log_softmax", [](Generator& g) -> Case {
    return {{rn(g, {3, 5})}, [](const Inputs& in) { return log_softmax(in[0], 1); }};
  });
}

// The losses: labels are drawn outside the checked function, so only the scores vary.
void loss_checks(std::vector<Check>& table) {
  Family f{table, "loss"};
  f.add("cross_entropy (mean)", [](Generator& g) -> Case {
    Tensor y = labels(g, 4, 5);
    return {{rn(g, {4, 5})}, [y](const Inputs& in) { return cross_entropy(in[0], y); }};
  });
  f.add("cross_entropy (none)", [](Generator& g) -> Case {
    Tensor y = labels(g, 4, 5);
    return {{rn(g, {4, 5})},
            [y](const Inputs& in) { return cross_entropy(in[0], y, Reduction::none); }};
  });
  f.add("svm_loss (mean)", [](Generator& g) -> Case {
    Tensor y = labels(g, 4, 5);
    return {{rn(g, {4, 5})}, [y](const Inputs& in) { return svm_loss(in[0], y); }};
  });
  f.add("svm_loss (sum)", [](Generator& g) -> Case {
    Tensor y = labels(g, 4, 5);
    return {{rn(g, {4, 5})},
            [y](const Inputs& in) { return svm_loss(in[0], y, 1.0, Reduction::sum); }};
  });
  f.add("binary_logistic_loss", [](Generator& g) -> Case {
    Tensor y = labels(g, 6, 2);
    return {{rn(g, {6})}, [y](const Inputs& in) { return binary_logistic_loss(in[0], y); }};
  });
  f.add("binary_hinge_loss", [](Generator& g) -> Case {
    Tensor y = labels(g, 6, 2);
    return {{rn(g, {6})}, [y](const Inputs& in) { return binary_hinge_loss(in[0], y); }};
  });
  f.add("mse_loss", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {3, 4})},
            [](const Inputs& in) { return mse_loss(in[0], in[1]); }};
  });
  f.add("nll_loss", [](Generator& g) -> Case {
    Tensor y = randint(0, 4, {3}, g, float64);
    return {{rn(g, {3, 4})}, [y](const Inputs& in) { return nll_loss(log_softmax(in[0], 1), y); }};
  });
  f.add("l1 / smooth_l1 / huber", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {3, 4})}, [](const Inputs& in) {
              return l1_loss(in[0], in[1]) + smooth_l1_loss(in[0], in[1], Reduction::sum, 0.5) +
                     huber_loss(in[0], in[1], Reduction::mean, 0.8);
            }};
  });
  f.add("kl_div (batchmean)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {3, 4})}, [](const Inputs& in) {
              return kl_div(log_softmax(in[0], 1), softmax(in[1], 1), Reduction::batchmean);
            }};
  });
  f.add("binary_cross_entropy", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {3, 4})},
            [](const Inputs& in) { return binary_cross_entropy(sigmoid(in[0]), sigmoid(in[1])); }};
  });
}

// Ops that move, copy or pick elements: the gradient routes each one back (summing repeats).
// Views and joins first, then the rearranging copies and the scatters (the table's order is
// the checks' seeds, so the two halves run in this order).
void shape_view_checks(std::vector<Check>& table) {
  Family f{table, "shape"};
  f.add("reshape", [](Generator& g) -> Case {
    return {{rn(g, {2, 6})}, [](const Inputs& in) { return reshape(in[0], {3, -1}) * 1.5; }};
  });
  f.add("flatten", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 2})}, [](const Inputs& in) { return flatten(in[0], 1) * 1.5; }};
  });
  f.add("squeeze / unsqueeze", [](Generator& g) -> Case {
    return {{rn(g, {3, 1})},
            [](const Inputs& in) { return unsqueeze(squeeze(in[0], 1), 0) * 2.0; }};
  });
  f.add("transpose", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 4})}, [](const Inputs& in) { return transpose(in[0], 0, 2); }};
  });
  f.add("permute", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 4})}, [](const Inputs& in) { return permute(in[0], {1, 2, 0}); }};
  });
  f.add("broadcast_to", [](Generator& g) -> Case {
    return {{rn(g, {3, 1})}, [](const Inputs& in) { return broadcast_to(in[0], {2, 3, 4}); }};
  });
  f.add("slice (step 2)", [](Generator& g) -> Case {
    return {{rn(g, {4, 7})}, [](const Inputs& in) { return slice(in[0], 1, 1, 7, 2); }};
  });
  f.add("index_select (repeats)", [](Generator& g) -> Case {
    return {{rn(g, {4, 3})}, [](const Inputs& in) {
              return index_select(in[0], 0, std::vector<int64_t>{2, 0, 2});
            }};
  });
  f.add("gather (axis 1)", [](Generator& g) -> Case {
    Tensor idx = tensor({0, 2, 2, 1, 1, 0}, {3, 2}, float64);
    return {{rn(g, {3, 4})}, [idx](const Inputs& in) { return gather(in[0], 1, idx); }};
  });
  f.add("concat", [](Generator& g) -> Case {
    return {{rn(g, {2, 3}), rn(g, {2, 2})}, [](const Inputs& in) {
              return concat({in[0], in[1]}, 1);
            }};
  });
  f.add("stack", [](Generator& g) -> Case {
    return {{rn(g, {2, 3}), rn(g, {2, 3})}, [](const Inputs& in) {
              return stack({in[0], in[1]}, 1);
            }};
  });
}

void shape_copy_checks(std::vector<Check>& table) {
  Family f{table, "shape"};
  f.add("pad", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return pad(in[0], {{1, 0}, {2, 1}}, 0.5); }};
  });
  f.add("flip", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return flip(in[0], {0, 1}); }};
  });
  f.add("roll", [](Generator& g) -> Case {
    return {{rn(g, {3, 4})}, [](const Inputs& in) { return roll(in[0], {1, -2}, {0, 1}); }};
  });
  f.add("split / chunk", [](Generator& g) -> Case {
    return {{rn(g, {5, 4})},
            [](const Inputs& in) { return split(in[0], 2, 0)[2] * chunk(in[0], 2, 1)[1].sum(); }};
  });
  f.add("expand", [](Generator& g) -> Case {
    return {{rn(g, {3, 1})}, [](const Inputs& in) { return expand(in[0], {2, -1, 4}); }};
  });
  f.add("repeat", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return repeat(in[0], {2, 1, 2}); }};
  });
  f.add("scatter_add / index_add", [](Generator& g) -> Case {
    Tensor index = randint(0, 3, {2, 4}, g, float64);
    Tensor rows = randint(0, 3, {2}, g, float64);
    return {{rn(g, {3, 4}), rn(g, {2, 4})}, [index, rows](const Inputs& in) {
              return scatter_add(in[0], 0, index, in[1]) + index_add(in[0], 0, rows, in[1], 0.5);
            }};
  });
  f.add("scatter", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {2, 4})}, [](const Inputs& in) {
              return scatter(in[0], 0, tensor({2, 0, 1, 1, 0, 1, 2, 2}, {2, 4}, float64), in[1]);
            }};
  });
  f.add("masked_select", [](Generator& g) -> Case {
    Tensor mask = randint(0, 2, {3, 4}, g, float64);
    return {{rn(g, {3, 4})}, [mask](const Inputs& in) { return masked_select(in[0], mask); }};
  });
  f.add("embedding", [](Generator& g) -> Case {
    Tensor idx = randint(0, 5, {2, 3}, g, float64);
    return {{rn(g, {5, 4})}, [idx](const Inputs& in) { return embedding(in[0], idx); }};
  });
  f.add("sort / topk", [](Generator& g) -> Case {
    return {{rn(g, {3, 5})},
            [](const Inputs& in) { return sort(in[0], 1).values * topk(in[0], 5, 1).values; }};
  });
  f.add("clone", [](Generator& g) -> Case {
    return {{rn(g, {2, 3})}, [](const Inputs& in) { return in[0].clone() * 2.0; }};
  });
}

// Matrix products: matmul's broadcasting and transposed forms, affine, dot, outer, einsum.
void linalg_checks(std::vector<Check>& table) {
  Family f{table, "linalg"};
  f.add("matmul (2-D)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {4, 2})}, [](const Inputs& in) { return matmul(in[0], in[1]); }};
  });
  f.add("matmul (batched, broadcast)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 4}), rn(g, {4, 5})},
            [](const Inputs& in) { return matmul(in[0], in[1]); }};
  });
  f.add("matmul (1-D @ 2-D)", [](Generator& g) -> Case {
    return {{rn(g, {4}), rn(g, {4, 3})}, [](const Inputs& in) { return matmul(in[0], in[1]); }};
  });
  f.add("matmul (transposed flags)", [](Generator& g) -> Case {
    return {{rn(g, {4, 3}), rn(g, {2, 4})},
            [](const Inputs& in) { return matmul(in[0], in[1], true, true); }};
  });
  f.add("affine", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {4, 5}), rn(g, {5})},
            [](const Inputs& in) { return affine(in[0], in[1], in[2]); }};
  });
  f.add("dot", [](Generator& g) -> Case {
    return {{rn(g, {5}), rn(g, {5})}, [](const Inputs& in) { return dot(in[0], in[1]); }};
  });
  f.add("outer", [](Generator& g) -> Case {
    return {{rn(g, {3}), rn(g, {4})}, [](const Inputs& in) { return outer(in[0], in[1]); }};
  });

  f.add("einsum (ij,jk,k->i and ...ii)", [](Generator& g) -> Case {
    return {{rn(g, {3, 4}), rn(g, {4, 5}), rn(g, {2, 3, 3})}, [](const Inputs& in) {
              return einsum("ij,jk,k->i", {in[0], in[1], sum(in[1], 0)}) +
                     einsum("...ii->...", {in[2]}).sum();
            }};
  });
}

// Convolutions (stride, padding, dilation, groups, transposed) and pooling (max, average,
// ceil mode, adaptive).
void conv_pool_checks(std::vector<Check>& table) {
  Family convolution{table, "conv"};
  Family pooling{table, "pool"};
  convolution.add("conv2d (stride 1, pad 1)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 5, 5}), rn(g, {4, 3, 3, 3}), rn(g, {4})},
            [](const Inputs& in) { return conv2d(in[0], in[1], in[2], 1, 1); }};
  });
  convolution.add("conv2d (stride 2, no bias)", [](Generator& g) -> Case {
    return {{rn(g, {1, 2, 6, 5}), rn(g, {3, 2, 2, 3})}, [](const Inputs& in) {
              return conv2d(in[0], in[1], {2, 1}, {0, 1});
            }};
  });
  convolution.add("conv2d (dilation 2, groups 2)", [](Generator& g) -> Case {
    return {{rn(g, {1, 4, 6, 6}), rn(g, {4, 2, 2, 3}), rn(g, {4})},
            [](const Inputs& in) { return conv2d(in[0], in[1], in[2], 1, 1, 2, 2); }};
  });
  convolution.add("conv1d (stride 2, pad 1)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 7}), rn(g, {2, 3, 3}), rn(g, {2})},
            [](const Inputs& in) { return conv1d(in[0], in[1], in[2], 2, 1); }};
  });
  convolution.add("conv_transpose2d (stride 2)", [](Generator& g) -> Case {
    return {{rn(g, {1, 3, 3, 4}), rn(g, {3, 2, 3, 3}), rn(g, {2})},
            [](const Inputs& in) { return conv_transpose2d(in[0], in[1], in[2], 2, 1, 1); }};
  });
  pooling.add("max_pool2d (2x2)", [](Generator& g) -> Case {
    return {{rn(g, {2, 2, 4, 4})}, [](const Inputs& in) { return max_pool2d(in[0], 2); }};
  });
  pooling.add("max_pool2d (3x3, stride 2, pad 1)", [](Generator& g) -> Case {
    return {{rn(g, {1, 2, 5, 5})}, [](const Inputs& in) { return max_pool2d(in[0], 3, 2, 1); }};
  });
  pooling.add("avg_pool2d (2x2)", [](Generator& g) -> Case {
    return {{rn(g, {2, 2, 4, 4})}, [](const Inputs& in) { return avg_pool2d(in[0], 2); }};
  });
  pooling.add("avg_pool2d (3x3, stride 2, pad 1)", [](Generator& g) -> Case {
    return {{rn(g, {1, 2, 5, 5})}, [](const Inputs& in) { return avg_pool2d(in[0], 3, 2, 1); }};
  });
  pooling.add("avg/max_pool2d (ceil_mode, count_include_pad off)", [](Generator& g) -> Case {
    return {{away(g, {1, 2, 5, 7})}, [](const Inputs& in) {
              return avg_pool2d(in[0], 3, 2, 1, true, false) + max_pool2d(in[0], 3, 2, 1, true);
            }};
  });
  pooling.add("adaptive_avg_pool2d (5x7 -> 3x4)", [](Generator& g) -> Case {
    return {{rn(g, {1, 2, 5, 7})}, [](const Inputs& in) {
              return adaptive_avg_pool2d(in[0], Size2{3, 4});
            }};
  });
  pooling.add("adaptive_max_pool2d (5x7 -> 3x4)", [](Generator& g) -> Case {
    return {{rn(g, {1, 2, 5, 7})}, [](const Inputs& in) {
              return adaptive_max_pool2d(in[0], Size2{3, 4});
            }};
  });
}

// Normalization in training mode (batch statistics) and evaluation mode (fixed running
// statistics), and dropout with the same mask on every evaluation.
void norm_dropout_checks(std::vector<Check>& table) {
  Family normalization{table, "norm"};
  Family masks{table, "dropout"};
  normalization.add("batch_norm (train, N x D)", [](Generator& g) -> Case {
    return {{rn(g, {5, 3}), un(g, {3}, 0.5, 1.5), rn(g, {3})}, [](const Inputs& in) {
              return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true);
            }};
  });
  normalization.add("batch_norm (train, spatial)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 2, 2}), un(g, {3}, 0.5, 1.5), rn(g, {3})}, [](const Inputs& in) {
              return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true);
            }};
  });
  normalization.add("batch_norm (eval)", [](Generator& g) -> Case {
    Tensor rm = randn({3}, g, float64), rv = uniform({3}, 0.5, 2.0, g, float64);
    return {{rn(g, {4, 3}), un(g, {3}, 0.5, 1.5), rn(g, {3})},
            [rm, rv](const Inputs& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false); }};
  });
  normalization.add("batch_norm_relu (train, spatial)", [](Generator& g) -> Case {
    return {{rn(g, {2, 3, 2, 2}), un(g, {3}, 0.5, 1.5), rn(g, {3})}, [](const Inputs& in) {
              return batch_norm_relu(in[0], in[1], in[2], Tensor(), Tensor(), true);
            }};
  });
  normalization.add("batch_norm_relu (eval)", [](Generator& g) -> Case {
    Tensor rm = randn({3}, g, float64), rv = uniform({3}, 0.5, 2.0, g, float64);
    return {{rn(g, {4, 3}), un(g, {3}, 0.5, 1.5), rn(g, {3})}, [rm, rv](const Inputs& in) {
              return batch_norm_relu(in[0], in[1], in[2], rm, rv, false);
            }};
  });
  normalization.add("layer_norm", [](Generator& g) -> Case {
    return {{rn(g, {3, 5}), un(g, {5}, 0.5, 1.5), rn(g, {5})},
            [](const Inputs& in) { return layer_norm(in[0], in[1], in[2]); }};
  });
  normalization.add("group_norm / instance_norm", [](Generator& g) -> Case {
    return {{rn(g, {2, 4, 2, 2}), rn(g, {4}), rn(g, {4})}, [](const Inputs& in) {
              return group_norm(in[0], 2, in[1], in[2]) + instance_norm(in[0], in[1], in[2]);
            }};
  });
  normalization.add("local_response_norm", [](Generator& g) -> Case {
    return {{rn(g, {2, 5, 2, 2})},
            [](const Inputs& in) { return local_response_norm(in[0], 3, 0.8, 0.75, 1.0); }};
  });
  masks.add("dropout (p = 0.3, fixed mask)", [](Generator& g) -> Case {
    const uint64_t seed = g.next_u64();
    return {{rn(g, {4, 5})}, [seed](const Inputs& in) {
              Generator mask_gen(seed);  // the same mask on every evaluation
              return dropout(in[0], 0.3, true, mask_gen);
            }};
  });
}

// A tiny net end to end: affine, relu, softmax loss and an L2 term through one backward.
void composite_checks(std::vector<Check>& table) {
  Family f{table, "composite"};
  f.add("affine-relu-affine-softmax loss", [](Generator& g) -> Case {
    Tensor y = labels(g, 4, 3);
    return {{rn(g, {4, 5}), rn(g, {5, 6}), rn(g, {6}), rn(g, {6, 3}), rn(g, {3})},
            [y](const Inputs& in) {
              Tensor h = relu(affine(in[0], in[1], in[2]));
              return cross_entropy(affine(h, in[3], in[4]), y) + 0.05 * sum(square(in[1]));
            }};
  });
}

// Every check, family by family, in the order they print.
std::vector<Check> all_checks() {
  std::vector<Check> table;
  elementwise_checks(table);
  unary_checks(table);
  reduction_checks(table);
  softmax_checks(table);
  loss_checks(table);
  shape_view_checks(table);
  shape_copy_checks(table);
  linalg_checks(table);
  conv_pool_checks(table);
  norm_dropout_checks(table);
  composite_checks(table);
  return table;
}

std::string shapes_of(const Inputs& in) {
  std::string s;
  for (const Tensor& t : in) {
    if (!t.requires_grad()) continue;
    s += (s.empty() ? "" : ", ") + to_string(t.shape());
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  double eps = 1e-5;
  std::string filter;
  try {
    base::CommandLine cli(argc, argv);
    if (cli.help("usage: gradcheck-tour [--verbose|-v] [--eps H] [name-filter]")) return 0;
    verbose = cli.flag("--verbose", "-v");
    eps = cli.positive("--eps", eps);
    filter = cli.positional("name filter");
    cli.finish();
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }

  fmt::print("Gradient check tour: analytic (tape) vs numerical (central differences, h = {:g})\n",
             eps);
  fmt::print("float64; relative error = max |a-b| / max(1e-8, |a|+|b|); pass: <= 1e-7\n");
  fmt::print("(an element also passes with an absolute error <= 1e-9, for gradients near 0)\n");

  // The course's step h = 1e-5: central differences are exact up to O(h^2) ~ 1e-10, and the
  // rounding error of f (about 1e-16 |f| / h) stays small even for ops that sum hundreds of
  // terms (a conv2d checked with h = 1e-6 shows ~2e-7 of pure rounding noise).
  GradcheckOptions opts;
  opts.eps = eps;
  const std::vector<Check> checks = all_checks();
  int run = 0, failed = 0, errors = 0;
  const char* family = "";
  for (std::size_t k = 0; k < checks.size(); ++k) {
    const Check& ch = checks[k];
    if (!filter.empty() && std::string(ch.name).find(filter) == std::string::npos &&
        std::string(ch.family).find(filter) == std::string::npos)
      continue;
    if (std::strcmp(family, ch.family) != 0) {
      family = ch.family;
      fmt::print("\n{}\n", family);
    }
    ++run;
    Generator gen(1000 + k);
    try {
      const Case cs = ch.build(gen);
      const GradcheckResult r = gradcheck(cs.f, cs.inputs, opts);
      double worst = 0;
      for (const auto& in : r.inputs) worst = std::max(worst, in.max_rel_error);
      fmt::print("  {:<36} {:<40} {:>9.2e}  {}\n", ch.name, shapes_of(cs.inputs), worst,
                 r.passed ? "ok" : "FAILED");
      if (verbose || !r.passed) fmt::print("{}", r.report());
      if (!r.passed) ++failed;
    } catch (const std::exception& e) {
      ++errors;
      fmt::print("  {:<36} ERROR: {}\n", ch.name, e.what());
    }
  }
  fmt::print(
      "\nNot checked (not differentiable): sign, floor, ceil, round, argmax/argmin, argsort, "
      "comparisons.\n");
  fmt::print("{} checks: {} ok, {} failed, {} errors\n", run, run - failed - errors, failed,
             errors);
  return failed + errors > 0 ? 1 : 0;
}
