// The registry of backward-rule text (autograd/rules.h): each op file registers the one-line
// math of the ops it records, and the graph page shows it beside each node.
#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/viz/graph.h"

using namespace dagrad;

TEST_CASE("rules: looked up by the node's name; unknown names have none") {
  // A few of the texts the page showed from its own table before the registry (all 44 were
  // checked equal when they moved); "mean" is gone: mean records a sum and a mul_scalar.
  CHECK(backward_rule("add") == "d(a+b)/da = 1, d(a+b)/db = 1 (summed over broadcast axes)");
  CHECK(backward_rule("matmul") == "d(AB)/dA: G B^T, d(AB)/dB: A^T G");
  CHECK(backward_rule("cross_entropy") == "d/dscores = softmax(scores) - onehot(labels), over N");
  CHECK(backward_rule("make_dual") == "identity (the tangent rides along)");
  CHECK(backward_rule("mean").empty());
  CHECK(backward_rule("no_such_op").empty());
  CHECK(backward_rule("").empty());
}

TEST_CASE("rules: listed sorted, each with its math; a second registration is refused") {
  const std::vector<BackwardRule> all = backward_rules();
  CHECK(all.size() >= 90);
  for (std::size_t i = 0; i < all.size(); ++i) {
    CAPTURE(all[i].op);
    CHECK_FALSE(all[i].math.empty());
    if (i > 0) CHECK(all[i - 1].op < all[i].op);
  }
  CHECK_THROWS_WITH_AS(BackwardRules({{"exp", "something else"}}),
                       "backward rule of 'exp' registered twice", std::logic_error);
  CHECK(backward_rule("exp") == "d exp(x)/dx = exp(x)");  // unchanged
}

TEST_CASE("rules: every node of a program over each op family has its rule") {
  Generator gen(3);
  auto x = [&gen](const Shape& s) { return randn(s, gen, float64).requires_grad_(); };
  const Tensor labels = tensor({2, 0}, {-1}, float64);
  const Tensor idx = tensor({3, 0, 0, 2}, {2, 2}, float64);
  const Tensor rows = tensor({1, 0, 1}, {-1}, float64);
  const Tensor a = x({2, 4}), b = x({2, 4}), w = x({4, 3}), v = x({4}), img = x({1, 2, 4, 4});
  const Tensor k = x({3, 2, 3, 3}), p = sigmoid(x({2, 4}));
  const std::vector<std::pair<const char*, Tensor>> programs = {
      {"elementwise", sum(maximum(a, b) + minimum(a, b) - a * b / (b * b + 1.0) - a + 2.0 -
                          (3.0 - a) + 1.0 / (b * b + 1.0) + pow(a, 3.0) + pow(a * a + 1.0, b) +
                          atan2(a, b) + clamp(a, -0.5, 0.5) + where(a, a, b) - (-a) * 2.0 / 4.0)},
      {"unary", sum(exp(a) + log(a * a + 1.0) + log1p(a * a) + log2(a * a + 1.0) + expm1(a) +
                    sqrt(a * a + 1.0) + rsqrt(a * a + 1.0) + abs(a) + sign(a) + floor(a) + ceil(a) +
                    round(a) + sin(a) + cos(a) + tan(a) + atan(a) + tanh(a) + sigmoid(a) + relu(a) +
                    leaky_relu(a, 0.1) + softplus(a) + elu(a) + gelu(a) + gelu(a, "tanh") +
                    silu(a) + erf(a))},
      {"reduction",
       sum(prod(a, 1) + var(a, 1) + norm(a, 2, {1}) + logsumexp(a, 1) + max(a, 1) + min(a, 1)) +
           sum(cumsum(a, 0))},
      {"shape", sum(concat({flatten(transpose(a, 0, 1)), flatten(gather(a, 1, idx)),
                            flatten(pad(slice(a, 1, 1, 4, 2), {{1, 0}, {0, 1}})),
                            flatten(broadcast_to(v, {2, 4})), flatten(flip(a, {1})),
                            flatten(roll(a, {1}, {1})), masked_select(a, gt(a, 0.0)),
                            flatten(index_select(a, 0, rows)), flatten(embedding(w, rows))}))},
      {"linalg", sum(matmul(a, w)) + sum(affine(a, w, x({3}))) + dot(v, v) + sum(outer(v, v))},
      {"conv and pool",
       sum(max_pool2d(conv2d(img, k, Tensor(), 1, 1), 2)) + sum(avg_pool2d(img, 3, 1, 1))},
      {"norm", sum(batch_norm(a, Tensor(), Tensor(), Tensor(), Tensor(), true) +
                   layer_norm(a, {4}, Tensor(), Tensor()))},
      {"softmax and losses", sum(softmax(a, 1) + log_softmax(a, 0)) + cross_entropy(a, labels) +
                                 svm_loss(a, labels) + mse_loss(a, b) +
                                 binary_cross_entropy(p, gt(b, 0.0).to(float64)) +
                                 binary_logistic_loss(v, gt(v, 0.0).to(float64)) +
                                 binary_hinge_loss(v, gt(v, 0.0).to(float64))},
      {"misc", sum(dropout(a.clone(), 0.5, true, gen) + a.to(float32).to(float64)) +
                   sum(primal_of(make_dual(a, b)))},
  };
  std::set<std::string> seen;
  for (const auto& [family, y] : programs) {
    INFO("family " << family);
    for (const Node* n : backward_order(y)) {
      if (n->is_accumulator()) continue;
      CAPTURE(n->name);
      CHECK_FALSE(backward_rule(n->name).empty());
      seen.insert(n->name);
    }
  }
  CHECK(seen.size() >= 80);
  // Second-order nodes (the rules' own ops) too: conv's and pooling's backward ops.
  Tensor gimg = grad(
      {sum(conv2d(img, k, Tensor(), 1, 1) * conv2d(img, k, Tensor(), 1, 1)) +
       sum(max_pool2d(img, 2) * max_pool2d(img, 2)) + sum(avg_pool2d(img, 2) * avg_pool2d(img, 2))},
      {img}, {}, {.create_graph = true})[0];
  const Tensor total = sum(gimg);  // alive while its nodes are read
  for (const Node* n : backward_order(total)) {
    if (n->is_accumulator()) continue;
    CAPTURE(n->name);
    CHECK_FALSE(backward_rule(n->name).empty());
  }
}

TEST_CASE("rules: the graph page shows the registered text, and the fallback for an unknown op") {
  Tensor x = scalar_tensor(0.5, float64).set_name("x").requires_grad_();
  const std::string page = viz::to_html({exp(x).set_name("y")}, {.title = "rules"});
  CHECK(page.find("\"rule\":\"d exp(x)/dx = exp(x)\"") != std::string::npos);
  CHECK(page.find("\"rule\":\"a leaf: its adjoint is accumulated into .grad\"") !=
        std::string::npos);
}
