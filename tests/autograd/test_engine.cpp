#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::test_util::error_of;

namespace {

using V = std::vector<double>;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

void check_close(const Tensor& t, const V& want, double eps = 1e-12) {
  REQUIRE(t.defined());
  const V got = t.to_vector();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(eps));
  }
}

Tensor leaf(const V& v, const Shape& s = {-1}) { return tensor(v, s, float64).requires_grad_(); }

BackwardOptions create_graph() {
  BackwardOptions o;
  o.create_graph = true;
  return o;
}

BackwardOptions retain_graph() {
  BackwardOptions o;
  o.retain_graph = true;
  return o;
}

}  // namespace

// ---------------------------------------------------------------- basics

TEST_CASE("engine: scalar chain rule") {
  Tensor x = leaf({2.0});
  Tensor y = x * x * 3.0 + x;  // dy/dx = 6x + 1
  y.sum().backward();
  CHECK(x.grad().item() == doctest::Approx(13.0));
}

TEST_CASE("engine: chain rule through several ops") {
  // y = sum(sin(x)^2 * exp(x)); dy/dx = (2 sin cos + sin^2) e^x
  Tensor x = leaf({0.3, -1.2, 2.0});
  (square(sin(x)) * exp(x)).sum().backward();
  V want;
  for (double v : {0.3, -1.2, 2.0})
    want.push_back((2 * std::sin(v) * std::cos(v) + std::sin(v) * std::sin(v)) * std::exp(v));
  check_close(x.grad(), want);
}

TEST_CASE("engine: broadcasting gradients sum back") {
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({10, 20, 30}, {3});
  Tensor y = (a * b).sum();
  y.backward();
  CHECK(b.grad().to_vector() == V{5, 7, 9});
  CHECK(a.grad().to_vector() == V{10, 20, 30, 10, 20, 30});

  Tensor c = leaf({1, 2}, {2, 1});
  Tensor d = leaf({1, 2, 3}, {1, 3});
  (c * d + c).sum().backward();  // (2,1) x (1,3) -> (2,3)
  CHECK(c.grad().shape() == Shape{2, 1});
  CHECK(c.grad().to_vector() == V{9, 9});  // sum of d, plus 3 from the broadcast + c
  CHECK(d.grad().shape() == Shape{1, 3});
  CHECK(d.grad().to_vector() == V{3, 3, 3});
}

TEST_CASE("engine: a leaf used twice gets both contributions") {
  Tensor x = leaf({1.5, -2});
  (x * x + x * 3.0).sum().backward();  // 2x + 3
  check_close(x.grad(), {6, -1});
  Tensor z = leaf({4});
  (z + z + z).sum().backward();
  CHECK(z.grad().item() == 3);
}

TEST_CASE("engine: diamond graph") {
  Tensor x = leaf({0.7});
  Tensor a = sin(x);
  Tensor b = a * 2.0;
  Tensor c = exp(a);
  (b * c).sum().backward();  // d/dx [2 sin x e^{sin x}] = 2 cos x e^{sin x} (1 + sin x)
  const double v = 0.7;
  CHECK(x.grad().item() ==
        doctest::Approx(2 * std::cos(v) * std::exp(std::sin(v)) * (1 + std::sin(v))));
}

TEST_CASE("engine: gradients accumulate across backward calls until zero_grad") {
  Tensor x = leaf({1, 2});
  (x * x).sum().backward();
  check_close(x.grad(), {2, 4});
  (x * 3.0).sum().backward();
  check_close(x.grad(), {5, 7});
  x.zero_grad();
  CHECK(!x.grad().defined());
  (x * 3.0).sum().backward();
  check_close(x.grad(), {3, 3});
}

TEST_CASE("engine: two leaves fed the same gradient tensor keep separate gradients") {
  // add's backward hands the very same tensor to both inputs; accumulating in place into one
  // leaf's gradient must not change the other's.
  Tensor a = leaf({1, 2});
  Tensor b = leaf({3, 4});
  (a + b).sum().backward();
  CHECK(a.grad().impl_ptr() != b.grad().impl_ptr());
  (a + b).sum().backward();
  check_close(a.grad(), {2, 2});
  check_close(b.grad(), {2, 2});
  (a * 5.0).sum().backward();
  check_close(a.grad(), {7, 7});
  check_close(b.grad(), {2, 2});
}

TEST_CASE("engine: the upstream gradient is copied, never aliased or modified") {
  Tensor x = leaf({1, 2, 3});
  Tensor dout = tensor({1, 1, 1}, {-1}, float64);
  Tensor y = x + 1.0;  // passes the gradient through unchanged
  y.backward(dout, retain_graph());
  y.backward(dout);
  check_close(x.grad(), {2, 2, 2});
  check_close(dout, {1, 1, 1});
  // A leaf as the root: its gradient is a copy of dout.
  Tensor w = leaf({5, 6});
  Tensor dw = tensor({0.5, 0.25}, {-1}, float64);
  w.backward(dw);
  check_close(w.grad(), {0.5, 0.25});
  {
    no_grad ng;
    dw.fill_(9);
  }
  check_close(w.grad(), {0.5, 0.25});
}

// ---------------------------------------------------------------- dout

TEST_CASE("engine: backward with an explicit upstream gradient (dout)") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x * x;
  Tensor dout = tensor({1, 0, -1, 0.5, 2, 0}, {2, 3}, float64);
  y.backward(dout);
  check_close(x.grad(), {2, 0, -6, 4, 20, 0});
}

TEST_CASE("engine: a non-scalar output without dout is an error naming its shape") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x * 2.0;
  const std::string msg = error_of<std::exception>([&] { y.backward(); });
  CHECK(contains(msg, "backward: the output has shape (2, 3)"));
  CHECK(contains(msg, "dout"));
  CHECK_THROWS_AS(y.backward(), std::invalid_argument);
  // One-element non-0-d outputs are fine.
  Tensor z = x.sum().reshape({1, 1});
  z.backward();
  check_close(x.grad(), V(6, 1.0));
}

TEST_CASE("engine: dout must match the output's shape and dtype") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x * 2.0;
  std::string msg = error_of<std::exception>([&] { y.backward(ones({3, 2}, float64)); });
  CHECK(contains(msg,
                 "upstream gradient of shape (3, 2) (float64) does not match the output of "
                 "shape (2, 3) (float64)"));
  msg = error_of<std::exception>([&] { y.backward(ones({2, 3}, float32)); });
  CHECK(contains(msg, "(2, 3) (float32) does not match the output of shape (2, 3) (float64)"));
  msg = error_of<std::exception>([&] {
    backward({y}, {ones({2, 3}, float64), ones({2, 3}, float64)});
  });
  CHECK(contains(msg, "1 outputs but 2 upstream gradients"));
  CHECK(!x.grad().defined());
}

// ---------------------------------------------------------------- retain_graph

TEST_CASE("engine: retain_graph lets a second backward run") {
  Tensor x = leaf({2});
  Tensor y = (exp(x) * x).sum();  // d/dx = e^x (1 + x)
  y.backward({}, retain_graph());
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(2 * std::exp(2.0) * 3));
}

TEST_CASE("engine: a second backward through a freed graph names retain_graph and the op") {
  Tensor x = leaf({2});
  Tensor y = exp(x).sum();
  y.backward();
  const std::string msg = error_of<std::exception>([&] { y.backward(); });
  CHECK(contains(msg, "retain_graph"));
  CHECK(contains(msg, "'sum'"));
  CHECK(contains(msg, "already freed"));
  CHECK_THROWS_AS(y.backward(), std::runtime_error);
  // The shared part is freed too: a new output over it fails at 'exp'.
  Tensor e = exp(x);
  Tensor y1 = (e * 2.0).sum();
  Tensor y2 = (e * 3.0).sum();
  y1.backward();
  CHECK(contains(error_of<std::exception>([&] { y2.backward(); }), "'exp'"));
}

TEST_CASE("engine: saved tensors are freed after backward") {
  Tensor x = leaf({1, 2, 3});
  Tensor w = leaf({4, 5, 6});
  const long before = x.impl_ptr().use_count();
  Tensor y = (x * w).sum();
  // Held by its accumulator and saved by mul (for w's gradient).
  CHECK(x.impl_ptr().use_count() == before + 2);
  y.backward();
  CHECK(x.impl_ptr().use_count() == before + 1);  // the accumulator lives while y does
  CHECK(y.grad_fn()->released);
  y = Tensor();
  CHECK(x.impl_ptr().use_count() == before);
}

// ---------------------------------------------------------------- create_graph

TEST_CASE("engine: create_graph gives derivatives of any order (x^3)") {
  Tensor x = leaf({1.5, -2});
  Tensor y = (x * x * x).sum();
  Tensor g1 = grad({y}, {x}, {}, create_graph())[0];
  CHECK(g1.requires_grad());
  check_close(g1, {3 * 2.25, 3 * 4.0});
  Tensor g2 = grad({g1.sum()}, {x}, {}, create_graph())[0];
  check_close(g2, {6 * 1.5, 6 * -2.0});
  Tensor g3 = grad({g2.sum()}, {x})[0];
  check_close(g3, {6, 6});
}

TEST_CASE("engine: create_graph mixed partials of x*y") {
  Tensor x = leaf({2});
  Tensor y = leaf({-3});
  Tensor f = (x * x * y).sum();  // f_x = 2xy, f_y = x^2
  auto g = grad({f}, {x, y}, {}, create_graph());
  check_close(g[0], {-12});
  check_close(g[1], {4});
  auto gxx = grad({g[0]}, {x, y}, {}, create_graph());  // f_xx = 2y, f_xy = 2x
  check_close(gxx[0], {-6});
  check_close(gxx[1], {4});
  auto gyx = grad({g[1]}, {x, y});  // f_yx = 2x, f_yy = 0
  check_close(gyx[0], {4});
  check_close(gyx[1], {0});
}

TEST_CASE("engine: Hessian-vector product by reverse over reverse") {
  // f = sum(x^2 * w) + x0 x1 ; H_xx = diag(2w) + [[0,1],[1,0]]
  Tensor x = leaf({1, 2});
  Tensor w = tensor({3, 5}, {-1}, float64);
  Tensor f = (x * x * w).sum() + (slice(x, 0, 0, 1) * slice(x, 0, 1, 2)).sum();
  Tensor g = grad({f}, {x}, {}, create_graph())[0];
  Tensor v = tensor({1, -1}, {-1}, float64);
  Tensor hv = grad({(g * v).sum()}, {x})[0];
  check_close(hv, {2 * 3 * 1 + 1 * -1, 1 * 1 + 2 * 5 * -1});
}

TEST_CASE("engine: backward with create_graph fills .grad with a differentiable gradient") {
  Tensor x = leaf({1, 2});
  (x * x * x).sum().backward({}, create_graph());
  Tensor gx = x.grad();
  CHECK(gx.requires_grad());
  check_close(gx, {3, 12});
  x.zero_grad();  // also breaks the x -> x.grad -> graph -> x reference cycle
  gx.sum().backward();
  check_close(x.grad(), {6, 12});
  CHECK(!x.grad().requires_grad());
}

TEST_CASE("engine: gradients of gradients accumulate through the create_graph sum") {
  // Two create_graph backward calls: .grad = g1 + g2 stays differentiable.
  Tensor x = leaf({3});
  (x * x).sum().backward({}, create_graph());
  (x * x * x).sum().backward({}, create_graph());
  Tensor gx = x.grad();  // 2x + 3x^2
  check_close(gx, {6 + 27});
  Tensor h = grad({gx.sum()}, {x})[0];  // 2 + 6x
  check_close(h, {20});
  x.zero_grad();
}

TEST_CASE("engine: once-differentiable ops refuse a double backward clearly") {
  Tensor x = leaf({1, 2});
  // A custom op y = 2x whose backward is marked as raw-kernel-only.
  Tensor out = (x.detach() * 2.0);
  Tensor y = record(
      "twice_raw", out, {x}, [](const Tensor& g, const Tensor&) -> GradList { return {g * 2.0}; },
      no_jvp);
  mark_once_differentiable(y);
  CHECK(y.grad_fn()->once_differentiable);
  Tensor g = grad({(y * y).sum()}, {x}, {}, create_graph())[0];  // 8x
  check_close(g, {8, 16});
  CHECK(g.requires_grad());
  const std::string msg = error_of<std::exception>([&] { grad({g.sum()}, {x}); });
  CHECK(contains(msg, "double backward through 'twice_raw' is not supported"));
  // A plain backward through it is fine.
  (y * y).sum().backward();
  check_close(x.grad(), {8, 16});
}

// ---------------------------------------------------------------- dagrad::grad

TEST_CASE("engine: grad does not touch .grad") {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, 4});
  Tensor y = (x * w).sum();
  auto g = grad({y}, {x});
  check_close(g[0], {3, 4});
  CHECK(!x.grad().defined());
  CHECK(!w.grad().defined());
  // An existing .grad stays as it was.
  x.set_grad(full({2}, 7.0, float64));
  Tensor y2 = (x * w).sum();
  auto g2 = grad({y2}, {x, w});
  check_close(g2[0], {3, 4});
  check_close(g2[1], {1, 2});
  check_close(x.grad(), {7, 7});
  CHECK(!w.grad().defined());
}

TEST_CASE("engine: grad of unused inputs: zeros, or an error without allow_unused") {
  Tensor x = leaf({1, 2});
  Tensor u = leaf({5, 6, 7});
  Tensor y = (x * x).sum();
  auto g = grad({y}, {x, u}, {}, retain_graph());
  check_close(g[0], {2, 4});
  CHECK(g[1].shape() == Shape{3});
  check_close(g[1], {0, 0, 0});
  const std::string msg = error_of<std::exception>([&] {
    grad({y}, {x, u}, {}, retain_graph(), false);
  });
  CHECK(contains(msg, "grad: input 1 (shape (3,)) is not used by the outputs"));
  Tensor c = tensor({1, 2}, {-1}, float64);
  CHECK(contains(error_of<std::exception>([&] { grad({y}, {c}); }),
                 "grad: input 0 (shape (2,)) does not require grad"));
}

TEST_CASE("engine: grad with respect to an intermediate and with dout") {
  Tensor x = leaf({1, 2, 3});
  Tensor h = x * 2.0;
  Tensor y = h * h;  // dy/dh = 2h
  auto g = grad({y}, {h, x}, {tensor({1, 1, 0.5}, {-1}, float64)});
  check_close(g[0], {4, 8, 6});
  check_close(g[1], {8, 16, 12});
}

TEST_CASE("engine: grad runs only the part of the graph that leads to the inputs") {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, 4});
  Tensor a = exp(x);
  Tensor b = sin(w);
  Tensor y = (a + b).sum();
  auto g = grad({y}, {x});
  check_close(g[0], {std::exp(1.0), std::exp(2.0)});
  CHECK(a.grad_fn()->released);
  CHECK(!b.grad_fn()->released);  // never executed, so never freed
  CHECK(!w.grad().defined());
}

// ---------------------------------------------------------------- several outputs

TEST_CASE("engine: one output an ancestor of another") {
  Tensor x = leaf({0.5});
  Tensor a = x * 3.0;  // a = 3x
  Tensor b = a * a;    // b = 9x^2
  backward({a, b});    // d(a + b)/dx = 3 + 18x
  CHECK(x.grad().item() == doctest::Approx(3 + 18 * 0.5));
  // Order of the outputs does not matter; dout per output.
  Tensor y = leaf({0.5});
  Tensor c = y * 3.0;
  Tensor d = c * c;
  backward({d, c}, {tensor({2.0}, {-1}, float64), tensor({-1.0}, {-1}, float64)});
  CHECK(y.grad().item() == doctest::Approx(2 * 9 - 3));
}

TEST_CASE("engine: the same output twice counts twice") {
  Tensor x = leaf({2});
  Tensor y = (x * x).sum();
  backward({y, y});
  CHECK(x.grad().item() == 8);
}

// ---------------------------------------------------------------- no_grad / detach

TEST_CASE("engine: no_grad records nothing; enable_grad records again") {
  Tensor x = leaf({1, 2});
  CHECK(grad_mode_enabled());
  {
    no_grad ng;
    CHECK(!grad_mode_enabled());
    Tensor y = exp(x * 2.0);
    CHECK(!y.requires_grad());
    CHECK(y.is_leaf());
    CHECK(y.grad_fn() == nullptr);
    check_close(y, {std::exp(2.0), std::exp(4.0)});
    {
      enable_grad eg;
      CHECK(grad_mode_enabled());
      Tensor z = x * 2.0;
      CHECK(z.requires_grad());
      CHECK(z.grad_fn() != nullptr);
      {
        no_grad inner;
        CHECK(!(x * 2.0).requires_grad());
      }
      CHECK(grad_mode_enabled());
    }
    CHECK(!grad_mode_enabled());
  }
  CHECK(grad_mode_enabled());
}

TEST_CASE("engine: grad mode is per thread") {
  no_grad ng;
  bool other = false;
  std::thread t([&] { other = grad_mode_enabled(); });
  t.join();
  CHECK(other);
  CHECK(!grad_mode_enabled());
}

TEST_CASE("engine: detach cuts the graph") {
  Tensor x = leaf({3});
  Tensor h = x * x;
  Tensor y = (h.detach() * x).sum();  // d/dx treats h as the constant 9
  y.backward();
  CHECK(x.grad().item() == 9);
}

TEST_CASE("engine: backward from a tensor that does not require grad names the op") {
  Tensor x = leaf({1, 2});
  Tensor d = (x.detach() * 2.0).sum();
  std::string msg = error_of<std::exception>([&] { d.backward(); });
  CHECK(contains(msg, "does not require grad"));
  CHECK(contains(msg, "'sum'"));
  Tensor e = exp(x.detach());
  msg = error_of<std::exception>([&] { e.backward(ones({2}, float64)); });
  CHECK(contains(msg, "'exp'"));
  CHECK(contains(msg, "shape (2,)"));
  {
    no_grad ng;
    Tensor f = (x * x).sum();
    CHECK(contains(error_of<std::exception>([&] { f.backward(); }), "'sum'"));
  }
  Tensor c = ones({1});
  CHECK(contains(error_of<std::exception>([&] { c.backward(); }),
                 "a leaf created without requires_grad"));
  CHECK_THROWS_AS(c.backward(), std::invalid_argument);
}

// ---------------------------------------------------------------- version counter

TEST_CASE("engine: changing a saved tensor in place makes backward fail naming the op") {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, 4});
  Tensor y = (x * w).sum();
  {
    no_grad ng;
    x.add_(ones({2}, float64));
  }
  const std::string msg = error_of<std::exception>([&] { y.backward(); });
  CHECK(contains(msg, "backward of 'mul'"));
  CHECK(contains(msg, "modified in place"));
  CHECK(contains(msg, "(2,)"));
  CHECK_THROWS_AS(y.backward(), std::runtime_error);
}

TEST_CASE("engine: changing a saved output in place is caught too") {
  Tensor x = leaf({0.5});
  Tensor y = exp(x);  // saves its output
  {
    no_grad ng;
    y.mul_(2);
  }
  CHECK(contains(error_of<std::exception>([&] { y.sum().backward(); }), "backward of 'exp'"));
  // A change to a tensor nobody saved is fine.
  Tensor a = leaf({0.5});
  Tensor b = a * 2.0;  // mul_scalar saves nothing
  {
    no_grad ng;
    a.add_(ones({1}, float64));
  }
  b.sum().backward();
  CHECK(a.grad().item() == 2);
}

// ---------------------------------------------------------------- anomaly mode

TEST_CASE("engine: anomaly mode names the op whose backward made NaN/Inf") {
  Tensor x = leaf({0, 4});
  {
    detect_anomaly guard;
    CHECK(anomaly_mode_enabled());
    Tensor y = (sqrt(x) * sqrt(x)).sum();  // sqrt's backward at 0: 0 / 0
    const std::string msg = error_of<std::exception>([&] { y.backward(); });
    CHECK(contains(msg, "anomaly detected"));
    CHECK(contains(msg, "'sqrt'"));
    Tensor z = log(x).sum();  // log's backward at 0: 1 / 0
    CHECK(contains(error_of<std::exception>([&] { z.backward(); }), "'log'"));
    // A clean graph passes.
    Tensor ok = (x * x).sum();
    ok.backward();
    check_close(x.grad(), {0, 8});
  }
  CHECK(!anomaly_mode_enabled());
  // Without anomaly mode the non-finite gradient just arrives.
  x.zero_grad();
  sqrt(x).sum().backward();
  CHECK(std::isinf(x.grad().to_vector()[0]));
  set_anomaly_mode(true);
  CHECK(anomaly_mode_enabled());
  set_anomaly_mode(false);
}

// ---------------------------------------------------------------- deep graphs

TEST_CASE("engine: a 100,000-step chain backward without recursion") {
  Tensor x = leaf({1.0});
  const int steps = 100000;  // 200,000 ops
  const double a = 1.0001, c = 0.001;
  Tensor z = x;
  for (int i = 0; i < steps; ++i) z = z * a + c;
  const double an = std::pow(a, steps);
  CHECK(z.item() == doctest::Approx(an + c * (an - 1) / (a - 1)).epsilon(1e-9));
  z.sum().backward();
  CHECK(x.grad().item() == doctest::Approx(an).epsilon(1e-9));
  std::weak_ptr<Node> last = z.grad_fn();
  z = Tensor();  // frees the whole chain iteratively
  CHECK(last.expired());
}

TEST_CASE("engine: a 1,000,000-op chain is freed without backward and without recursion") {
  Tensor x = leaf({1.0});
  Tensor z = x;
  for (int i = 0; i < 500000; ++i) z = z * 1.0001 + 0.001;
  std::weak_ptr<Node> last = z.grad_fn();
  z = Tensor();
  CHECK(last.expired());
}

TEST_CASE("engine: deep chains that save tensors are freed too") {
  // mul saves its inputs and tanh its output: the saved handles own earlier nodes as well.
  Tensor x = leaf({0.5});
  Tensor w = leaf({1.0});
  Tensor z = x;
  for (int i = 0; i < 100000; ++i) z = tanh(z * w) + 0.5;
  std::weak_ptr<Node> last = z.grad_fn();
  z = Tensor();
  CHECK(last.expired());
  CHECK(x.impl_ptr().use_count() == 1);
  CHECK(w.impl_ptr().use_count() == 1);
  // And through a create_graph backward of a long chain.
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = sin(y) * 1.0;
  Tensor g = grad({y.sum()}, {x}, {}, create_graph())[0];
  std::weak_ptr<Node> gl = g.grad_fn();
  y = Tensor();
  g = Tensor();
  CHECK(gl.expired());
  CHECK(x.impl_ptr().use_count() == 1);
}

// ---------------------------------------------------------------- topological order

TEST_CASE("engine: backward_order is a topological order with later nodes first on ties") {
  Tensor x = leaf({0.3});
  Tensor sx = sin(x);  // created first: the smaller sequence number
  Tensor cx = cos(x);
  Tensor s = sx + cx;
  std::vector<std::string> names;
  for (Node* n : backward_order(s)) names.push_back(n->name);
  CHECK(names == std::vector<std::string>{"add", "cos", "sin", "accumulate_grad"});

  // A bigger graph: check every rule of Kahn's algorithm by replaying it.
  Tensor a = leaf({1, 2});
  Tensor b = leaf({3, 4});
  Tensor c = a * b;
  Tensor d = c + a;
  Tensor e = exp(c);
  Tensor f = d * e + sin(b) * d;
  Tensor out = f.sum();
  const std::vector<Node*> order = backward_order(out);
  // Every reachable node once, the root first.
  std::set<Node*> reach;
  std::vector<Node*> stack{out.grad_fn().get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!reach.insert(n).second) continue;
    for (const Edge& ed : n->next)
      if (ed.node) stack.push_back(ed.node.get());
  }
  REQUIRE(order.size() == reach.size());
  CHECK(std::set<Node*>(order.begin(), order.end()) == reach);
  CHECK(order.front() == out.grad_fn().get());
  // Replay: each node must be ready (all consumers done) and the latest-created ready node.
  std::map<Node*, int> pending;
  for (Node* n : reach)
    for (const Edge& ed : n->next)
      if (ed.node) ++pending[ed.node.get()];
  std::set<Node*> done;
  for (Node* n : order) {
    CHECK(pending[n] == 0);
    for (Node* m : reach)
      if (!done.count(m) && m != n && pending[m] == 0) CHECK(m->seq < n->seq);
    done.insert(n);
    for (const Edge& ed : n->next)
      if (ed.node) --pending[ed.node.get()];
  }
  // backward_order leaves no state behind.
  out.backward();
  // df/da = e^{ab} (b + 1)(1 + ab) + sin(b) (b + 1)
  check_close(a.grad(), {std::exp(3.0) * 4 * 4 + std::sin(3.0) * 4,
                         std::exp(8.0) * 5 * 9 + std::sin(4.0) * 5});
  CHECK_THROWS_AS(backward_order(ones({1})), std::invalid_argument);
}

// ---------------------------------------------------------------- retain_grad

TEST_CASE("engine: retain_grad keeps the gradient of an intermediate") {
  Tensor x = leaf({1, 2});
  Tensor h = x * 2.0;
  h.retain_grad();
  Tensor k = h * 3.0;        // not retained
  Tensor y = (h * k).sum();  // y = 3 h^2: dy/dh = 6h
  y.backward({}, retain_graph());
  check_close(h.grad(), {12, 24});
  CHECK(!k.grad().defined());
  check_close(x.grad(), {24, 48});
  y.backward();
  check_close(h.grad(), {24, 48});  // accumulates like a leaf
  x.retain_grad();                  // a leaf: nothing to do
  CHECK_THROWS_AS(tensor({1}).retain_grad(), std::invalid_argument);
}

// ---------------------------------------------------------------- the engine's checks on rules

TEST_CASE("engine: a rule returning the wrong number, shape or dtype of gradients is caught") {
  Tensor x = leaf({1, 2});
  auto custom = [&](const char* name, auto rule) {
    Tensor out = x.detach() * 1.0;
    return record(name, out, {x}, std::move(rule), no_jvp);
  };
  Tensor y1 = custom("bad_count", [](const Tensor& g, const Tensor&) -> GradList {
    return {g, g};
  });
  CHECK(contains(error_of<std::exception>([&] { y1.sum().backward(); }),
                 "backward of 'bad_count' returned 2 gradients for 1 inputs"));
  Tensor y2 = custom(
      "bad_shape", [](const Tensor& g, const Tensor&) -> GradList { return {ones({3}, float64)}; });
  CHECK(
      contains(error_of<std::exception>([&] { y2.sum().backward(); }), "backward of 'bad_shape'"));
  Tensor y3 = custom("bad_dtype",
                     [](const Tensor& g, const Tensor&) -> GradList { return {g.to(float32)}; });
  const std::string msg = error_of<std::exception>([&] { y3.sum().backward(); });
  CHECK(contains(msg, "backward of 'bad_dtype'"));
  CHECK(contains(msg, "float32"));
  // An undefined gradient means "none": the leaf gets nothing.
  Tensor y4 =
      custom("no_grad_rule", [](const Tensor&, const Tensor&) -> GradList { return {Tensor()}; });
  y4.sum().backward();
  CHECK(!x.grad().defined());
  // record() refuses to re-record an input as its own output.
  Tensor h = x * 1.0;
  CHECK_THROWS_AS(
      record(
          "self", h, {h}, [](const Tensor& g, const Tensor&) -> GradList { return {g}; }, no_jvp),
      std::logic_error);
}

TEST_CASE("engine: forward-mode rules do not recurse into their own dual inputs") {
  Tensor x = tensor({1, 2}, {-1}, float64);
  x.impl().tangent = tensor({1, 0.5}, {-1}, float64).impl_ptr();
  Tensor y = x * x * x;  // dy = 3x^2 dx
  REQUIRE(y.tangent().defined());
  check_close(y.tangent(), {3, 6});
  CHECK(!y.tangent().tangent().defined());
}

// ---------------------------------------------------------------- memory

TEST_CASE("engine: nodes and saved tensors are freed when the graph dies") {
  Tensor w = leaf({0.5, -0.25, 1.0}, {3, 1});
  Tensor b = leaf({0.1});
  const long w_uses = w.impl_ptr().use_count();
  std::weak_ptr<Node> acc;
  for (int it = 0; it < 10000; ++it) {
    std::vector<std::weak_ptr<Node>> nodes;
    std::weak_ptr<TensorImpl> out_impl;
    {
      Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64);
      Tensor h = tanh(sum(x.reshape({2, 3, 1}) * w, 1) + b);
      Tensor loss = (h * h).mean();
      if (it % 1000 == 0) {  // every node of the graph (Node has no shared_from_this)
        std::vector<std::shared_ptr<Node>> walk{loss.grad_fn()};
        std::set<Node*> seen{loss.grad_fn().get()};
        while (!walk.empty()) {
          std::shared_ptr<Node> n = walk.back();
          walk.pop_back();
          nodes.push_back(n);
          for (const Edge& e : n->next)
            if (e.node && seen.insert(e.node.get()).second) walk.push_back(e.node);
        }
        CHECK(nodes.size() == backward_order(loss).size());
      }
      out_impl = loss.impl_ptr();
      loss.backward();
      if (it == 0) acc = w.impl().grad_accumulator;
    }
    CHECK(out_impl.expired());
    for (auto& n : nodes) CHECK(n.expired());
  }
  CHECK(acc.expired());  // the leaf's accumulator dies with the graphs that used it
  CHECK(w.impl_ptr().use_count() == w_uses);
  CHECK(w.grad().defined());
  // A graph dropped without backward is freed as well.
  std::weak_ptr<Node> fn;
  {
    Tensor y = exp(w * 2.0).sum();
    fn = y.grad_fn();
  }
  CHECK(fn.expired());
  CHECK(w.impl_ptr().use_count() == w_uses);
}

TEST_CASE("engine: grad with an input listed twice gives it both times") {
  Tensor x = leaf({1, 2});
  auto g = grad({(x * x).sum()}, {x, x});
  check_close(g[0], {2, 4});
  check_close(g[1], {2, 4});
}

TEST_CASE("engine: grad leaves retained gradients alone") {
  Tensor x = leaf({1, 2});
  Tensor h = x * 3.0;
  h.retain_grad();
  auto g = grad({(h * h).sum()}, {x});
  check_close(g[0], {18, 36});
  CHECK(!h.grad().defined());
}

TEST_CASE("engine: a create_graph backward from a leaf does not alias dout") {
  Tensor x = leaf({1, 2});
  Tensor dout = tensor({1, 1}, {-1}, float64);
  x.backward(dout, create_graph());
  (x * 2.0).sum().backward();  // accumulates in place into x.grad
  check_close(x.grad(), {3, 3});
  check_close(dout, {1, 1});
}

// ---------------------------------------------------------------- observer

namespace {
// Records what a BackwardObserver is told, in order.
struct Recorder final : BackwardObserver {
  struct Step {
    const Node* node;
    V gradient;
    std::vector<bool> defined;  // per input: did the rule return a gradient
    std::vector<V> grads;
  };
  std::vector<Step> steps;
  void on_gradient(const Node& n, const Tensor& g) override {
    steps.push_back({&n, g.to_vector(), {}, {}});
  }
  void on_rule(const Node& n, const GradList& grads) override {
    REQUIRE(!steps.empty());
    REQUIRE(steps.back().node == &n);  // the rule follows its own node's gradient
    for (const Tensor& t : grads) {
      steps.back().defined.push_back(t.defined());
      steps.back().grads.push_back(t.defined() ? t.to_vector() : V{});
    }
  }
};
}  // namespace

TEST_CASE("engine: an observer sees each step in the engine's order, with its gradients") {
  Tensor x = leaf({1, 2}), w = leaf({3});
  Tensor h = x * w;  // w broadcast: its gradient sums back
  h.retain_grad();
  Tensor y = (h * h).sum();
  Recorder r;
  BackwardOptions o = retain_graph();
  o.observer = &r;
  y.backward({}, o);
  // Every node backward_order lists is reached here, in that order.
  const std::vector<Node*> order = backward_order(y);
  REQUIRE(r.steps.size() == order.size());
  for (std::size_t i = 0; i < order.size(); ++i) CHECK(r.steps[i].node == order[i]);
  // The seed first; h's step carries dy/dh = 2h; the leaves' accumulators get .grad.
  CHECK(r.steps.front().gradient == V{1});
  for (const auto& s : r.steps) {
    if (s.node == h.grad_fn().get()) CHECK(s.gradient == h.grad().to_vector());
    if (s.node->leaf() == &x.impl()) CHECK(s.gradient == x.grad().to_vector());
    if (s.node->leaf() == &w.impl()) CHECK(s.gradient == w.grad().to_vector());
    if (s.node == h.grad_fn().get()) {  // mul's rule: dh/dx = w (2h*3), dh/dw = x summed
      REQUIRE(s.grads.size() == 2);
      CHECK(s.grads[0] == V{18, 36});
      CHECK(s.grads[1] == V{30});
    }
  }
  check_close(w.grad(), {30});
  // No observer: the same gradients.
  x.zero_grad();
  w.zero_grad();
  y.backward();
  check_close(x.grad(), {18, 36});
  check_close(w.grad(), {30});
  CHECK(r.steps.size() == order.size());  // it was not called again
}

TEST_CASE("engine: an observer of grad() sees only the nodes that lead to the inputs") {
  Tensor x = leaf({1, 2}), u = leaf({5});
  Tensor y = (x * x).sum() + u.sum();
  Recorder r;
  BackwardOptions o;
  o.observer = &r;
  auto g = grad({y}, {x}, {}, o);
  check_close(g[0], {2, 4});
  // add, sum, mul, x's accumulator: u's branch (its sum and accumulator) does not lead to x.
  REQUIRE(r.steps.size() == 4);
  CHECK(r.steps[0].defined.size() == 2);
  for (const auto& s : r.steps) {
    CHECK(s.node->leaf() != &u.impl());
    if (!s.node->is_accumulator()) CHECK(s.defined.size() == s.node->next.size());
  }
  CHECK(r.steps.back().node->leaf() == &x.impl());
  CHECK(r.steps.back().gradient == V{2, 4});
  CHECK_FALSE(x.grad().defined());
}
