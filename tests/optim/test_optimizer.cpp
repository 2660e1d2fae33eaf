#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/optim/optimizer.h"
#include "dagrad/runtime/parallel.h"

using namespace dagrad;
using namespace dagrad::optim;

namespace {

// One 3-element parameter, the same three gradients for every rule.
const std::vector<double> w0 = {1.0, -2.0, 0.5};
const std::vector<std::vector<double>> grads = {
    {0.1, 0.2, -0.3}, {0.2, -0.1, 0.4}, {-0.5, 0.3, 0.1}};

Tensor param(const std::vector<double>& v, Dtype dt) {
  Tensor p = tensor(v, {-1}, dt);
  p.requires_grad_();
  return p;
}

// w after each of the first `steps` updates of `rule` over `grads`.
std::vector<std::vector<double>> trajectory(const std::string& rule, const Config& cfg, Dtype dt,
                                            int steps = 3) {
  Tensor w = param(w0, dt);
  auto opt = make_optimizer(rule, {w}, cfg);
  std::vector<std::vector<double>> out;
  for (int s = 0; s < steps; ++s) {
    w.set_grad(tensor(grads[s], {-1}, dt));
    opt->step();
    out.push_back(w.to_vector());
  }
  return out;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, Dtype dt) {
  const double tol = dt == float32 ? 2e-6 : 1e-12;
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << " (" << dtype_name(dt) << ")");
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

const Dtype dtypes[] = {float32, float64};

}  // namespace

TEST_CASE("optim: sgd updates by hand") {
  for (Dtype dt : dtypes) {
    auto w = trajectory("sgd", {{"learning_rate", 0.1}}, dt);
    // w -= 0.1*dw
    check_close(w[0], {1 - 0.1 * 0.1, -2 - 0.1 * 0.2, 0.5 + 0.1 * 0.3}, dt);  // .99 -2.02 .53
    check_close(w[1], {0.99 - 0.1 * 0.2, -2.02 + 0.1 * 0.1, 0.53 - 0.1 * 0.4}, dt);
    check_close(w[2], {0.97 + 0.1 * 0.5, -2.01 - 0.1 * 0.3, 0.49 - 0.1 * 0.1}, dt);
  }
}

TEST_CASE("optim: sgd_momentum updates by hand") {
  for (Dtype dt : dtypes) {
    auto w = trajectory("sgd_momentum", {{"learning_rate", 0.1}, {"momentum", 0.9}}, dt);
    // v1 = -0.1*g1 = (-.01, -.02, .03);  w1 = w0 + v1
    check_close(w[0], {0.99, -2.02, 0.53}, dt);
    // v2 = 0.9*v1 - 0.1*g2 = (-.009-.02, -.018+.01, .027-.04) = (-.029, -.008, -.013)
    check_close(w[1], {0.99 - 0.029, -2.02 - 0.008, 0.53 - 0.013}, dt);
    // v3 = 0.9*v2 - 0.1*g3 = (-.0261+.05, -.0072-.03, -.0117-.01)
    check_close(w[2], {0.961 + 0.0239, -2.028 - 0.0372, 0.517 - 0.0217}, dt);
  }
}

TEST_CASE("optim: nesterov updates by hand (cs231n form)") {
  for (Dtype dt : dtypes) {
    auto w = trajectory("nesterov", {{"learning_rate", 0.1}, {"momentum", 0.9}}, dt);
    // v_prev = 0, v1 = (-.01, -.02, .03);  w += -0.9*0 + 1.9*v1
    check_close(w[0], {1 - 0.019, -2 - 0.038, 0.5 + 0.057}, dt);
    // v_prev = v1, v2 = (-.029, -.008, -.013);  w += -0.9*v1 + 1.9*v2
    check_close(
        w[1],
        {0.981 + 0.009 - 1.9 * 0.029, -2.038 + 0.018 - 1.9 * 0.008, 0.557 - 0.027 - 1.9 * 0.013},
        dt);  // (0.9349, -2.0352, 0.5053)
    // PyTorch's SGD(nesterov=True) is the same rule at a constant rate: its third step.
    check_close(w[2], {1.00641, -2.09868, 0.47577}, dt);
  }
}

TEST_CASE("optim: rmsprop updates by hand") {
  for (Dtype dt : dtypes) {
    auto w = trajectory("rmsprop", {{"learning_rate", 0.01}}, dt);  // decay 0.99, eps 1e-8
    // cache1 = 0.01*g1² -> sqrt = 0.1*|g1| = (.01, .02, .03); step = 0.01*g1/(sqrt+eps) ≈ 0.1
    const double c1[3] = {0.01 * 0.01, 0.01 * 0.04, 0.01 * 0.09};
    std::vector<double> w1 = {1 - 0.01 * 0.1 / (std::sqrt(c1[0]) + 1e-8),
                              -2 - 0.01 * 0.2 / (std::sqrt(c1[1]) + 1e-8),
                              0.5 + 0.01 * 0.3 / (std::sqrt(c1[2]) + 1e-8)};
    check_close(w[0], w1, dt);
    CHECK(w1[0] == doctest::Approx(0.9).epsilon(1e-6));
    // cache2 = 0.99*cache1 + 0.01*g2²
    const double c2[3] = {0.99 * c1[0] + 0.01 * 0.04, 0.99 * c1[1] + 0.01 * 0.01,
                          0.99 * c1[2] + 0.01 * 0.16};
    check_close(w[1],
                {w1[0] - 0.01 * 0.2 / (std::sqrt(c2[0]) + 1e-8),
                 w1[1] + 0.01 * 0.1 / (std::sqrt(c2[1]) + 1e-8),
                 w1[2] - 0.01 * 0.4 / (std::sqrt(c2[2]) + 1e-8)},
                dt);
    // PyTorch RMSprop(lr=0.01, alpha=0.99, eps=1e-8), third step.
    check_close(w[2], {0.901846191740216, -2.135534804598994, 0.5001148280462087}, dt);
  }
}

TEST_CASE("optim: adagrad updates by hand") {
  for (Dtype dt : dtypes) {
    auto w = trajectory("adagrad", {{"learning_rate", 0.1}}, dt);
    // cache1 = g1²: the first step is 0.1*g/(|g|+eps) ≈ 0.1*sign(g)
    std::vector<double> w1 = {1 - 0.1 * 0.1 / (0.1 + 1e-8), -2 - 0.1 * 0.2 / (0.2 + 1e-8),
                              0.5 + 0.1 * 0.3 / (0.3 + 1e-8)};
    check_close(w[0], w1, dt);
    // cache2 = g1² + g2² = (.05, .05, .25)
    check_close(w[1],
                {w1[0] - 0.1 * 0.2 / (std::sqrt(0.05) + 1e-8),
                 w1[1] + 0.1 * 0.1 / (std::sqrt(0.05) + 1e-8), w1[2] - 0.1 * 0.4 / (0.5 + 1e-8)},
                dt);
    // cache3 = (.30, .14, .26); PyTorch Adagrad(lr=0.1, eps=1e-8) agrees.
    check_close(w[2], {0.9018443861508683, -2.1354570078808743, 0.5003883851374638}, dt);
  }
}

TEST_CASE("optim: adam updates by hand with bias correction") {
  for (Dtype dt : dtypes) {
    auto w = trajectory("adam", {}, dt);  // lr 1e-2, beta1 .9, beta2 .999, eps 1e-8
    // t=1: m = 0.1*g, v = 0.001*g²; mt = m/0.1 = g, vt = v/0.001 = g²:
    // w -= 0.01*g/(|g|+eps), i.e. about lr*sign(g) whatever the gradient's size.
    std::vector<double> w1 = {1 - 0.01 * 0.1 / (0.1 + 1e-8), -2 - 0.01 * 0.2 / (0.2 + 1e-8),
                              0.5 + 0.01 * 0.3 / (0.3 + 1e-8)};
    check_close(w[0], w1, dt);
    CHECK(w[0][0] == doctest::Approx(0.99).epsilon(1e-6));
    CHECK(w[0][1] == doctest::Approx(-2.01).epsilon(1e-6));
    CHECK(w[0][2] == doctest::Approx(0.51).epsilon(1e-6));
    // t=2: m = 0.9*0.1*g1 + 0.1*g2; v = 0.999*0.001*g1² + 0.001*g2²;
    // mt = m/(1-0.81) = m/0.19; vt = v/(1-0.998001) = v/0.001999
    std::vector<double> w2(3);
    for (int i = 0; i < 3; ++i) {
      const double g1 = grads[0][i], g2 = grads[1][i];
      const double m = 0.9 * (0.1 * g1) + 0.1 * g2;
      const double v = 0.999 * (0.001 * g1 * g1) + 0.001 * g2 * g2;
      w2[i] = w1[i] - 0.01 * (m / 0.19) / (std::sqrt(v / 0.001999) + 1e-8);
    }
    check_close(w[1], w2, dt);
    // PyTorch Adam(lr=0.01), third step.
    check_close(w[2], {0.9831359378673091, -2.019016571267526, 0.5053445049988272}, dt);
  }
}

TEST_CASE("optim: adam's first step is lr*sign(dw) for tiny and huge gradients") {
  Tensor w = param({0.0, 0.0, 0.0}, float64);
  Adam opt({w}, {{"learning_rate", 0.05}});
  w.set_grad(tensor({1e-4, -1e4, 3.0}, {-1}, float64));
  opt.step();
  const auto v = w.to_vector();
  CHECK(v[0] == doctest::Approx(-0.05).epsilon(1e-4));  // eps matters a little at 1e-4
  CHECK(v[1] == doctest::Approx(0.05).epsilon(1e-12));
  CHECK(v[2] == doctest::Approx(-0.05).epsilon(1e-9));
}

TEST_CASE("optim: adamw decays decoupled, adam adds L2 to the gradient") {
  for (Dtype dt : dtypes) {
    const Config cfg = {{"learning_rate", 0.1}, {"weight_decay", 0.1}};
    auto aw = trajectory("adamw", cfg, dt);
    auto al2 = trajectory("adam", cfg, dt);
    // adamw, t=1: w *= 1 - 0.1*0.1, then w -= 0.1*sign(g) (adam on the raw gradient)
    check_close(aw[0],
                {0.99 * 1 - 0.1 * 0.1 / (0.1 + 1e-8), 0.99 * -2 - 0.1 * 0.2 / (0.2 + 1e-8),
                 0.99 * 0.5 + 0.1 * 0.3 / (0.3 + 1e-8)},
                dt);  // (0.89, -2.08, 0.595)
    // adam+L2, t=1: g' = g + 0.1*w = (0.2, 0.0, -0.25): the middle weight does not move.
    check_close(al2[0], {1 - 0.1 * 0.2 / (0.2 + 1e-8), -2.0, 0.5 + 0.1 * 0.25 / (0.25 + 1e-8)}, dt);
    // PyTorch AdamW(lr=.1, weight_decay=.1) and Adam(lr=.1, weight_decay=.1), third step.
    check_close(aw[2], {0.8046135604388799, -2.128507375751946, 0.5367980604582697}, dt);
    check_close(al2[2], {0.8003453899809299, -1.8929838640029275, 0.5235341450314897}, dt);
  }
}

TEST_CASE("optim: adamw with zero gradient still shrinks the weights") {
  Tensor w = param({2.0, -4.0}, float64);
  AdamW opt({w}, {{"learning_rate", 0.5}, {"weight_decay", 0.2}});
  w.set_grad(zeros({2}, float64));
  opt.step();  // m = v = 0: the adam part is 0/(0+eps) = 0; decay: w *= 1 - 0.5*0.2
  CHECK(w.to_vector() == std::vector<double>{1.8, -3.6});
}

TEST_CASE("optim: L2 weight decay joins the gradient without touching .grad") {
  for (Dtype dt : dtypes) {
    Tensor w = param({1.0, -2.0}, dt);
    Sgd opt({w}, {{"learning_rate", 0.1}, {"weight_decay", 0.5}});
    w.set_grad(tensor({0.2, 0.4}, {-1}, dt));
    opt.step();  // w -= 0.1*(g + 0.5*w) = (1 - 0.1*0.7, -2 - 0.1*(0.4-1.0))
    check_close(w.to_vector(), {0.93, -1.94}, dt);
    check_close(w.grad().to_vector(), {0.2, 0.4}, dt);
  }
  // sgd_momentum with decay: v = -lr*(g + wd*w) on the first step
  Tensor w = param({1.0}, float64);
  SgdMomentum opt({w}, {{"learning_rate", 0.1}, {"weight_decay", 0.5}});
  w.set_grad(tensor({0.2}, {-1}, float64));
  opt.step();
  CHECK(w.item() == doctest::Approx(1 - 0.1 * 0.7).epsilon(1e-14));
}

TEST_CASE("optim: default config values") {
  Tensor w = param({1.0}, float64);
  auto expect = [&](const std::string& rule, const Config& want) {
    auto opt = make_optimizer(rule, {w});
    INFO(rule);
    CHECK(opt->name() == rule);
    CHECK(opt->config() == want);
    CHECK(opt->learning_rate() == 1e-2);
  };
  expect("sgd", {{"learning_rate", 1e-2}, {"weight_decay", 0.0}});
  expect("sgd_momentum", {{"learning_rate", 1e-2}, {"momentum", 0.9}, {"weight_decay", 0.0}});
  expect("nesterov", {{"learning_rate", 1e-2}, {"momentum", 0.9}, {"weight_decay", 0.0}});
  expect("rmsprop",
         {{"learning_rate", 1e-2}, {"decay_rate", 0.99}, {"epsilon", 1e-8}, {"weight_decay", 0.0}});
  expect("adagrad", {{"learning_rate", 1e-2}, {"epsilon", 1e-8}, {"weight_decay", 0.0}});
  expect("adam", {{"learning_rate", 1e-2},
                  {"beta1", 0.9},
                  {"beta2", 0.999},
                  {"epsilon", 1e-8},
                  {"weight_decay", 0.0}});
  expect("adamw", {{"learning_rate", 1e-2},
                   {"beta1", 0.9},
                   {"beta2", 0.999},
                   {"epsilon", 1e-8},
                   {"weight_decay", 1e-2}});
  // A user value overrides only its own key.
  auto opt = make_optimizer("adam", {w}, {{"beta2", 0.99}});
  CHECK(opt->hyper("beta2") == 0.99);
  CHECK(opt->hyper("beta1") == 0.9);
  CHECK_THROWS_AS(opt->hyper("momentum"), std::invalid_argument);
}

TEST_CASE("optim: default sgd_momentum step uses mu 0.9 and lr 1e-2") {
  Tensor w = param({0.0}, float64);
  auto opt = make_optimizer("sgd_momentum", {w});
  w.set_grad(tensor({1.0}, {-1}, float64));
  opt->step();  // v = -0.01
  opt->step();  // v = 0.9*-0.01 - 0.01 = -0.019
  CHECK(w.item() == doctest::Approx(-0.029).epsilon(1e-14));
}

TEST_CASE("optim: unknown rule, unknown key, bad values") {
  Tensor w = param({1.0}, float32);
  try {
    make_optimizer("adamax", {w});
    FAIL("no throw");
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    CHECK(m.find("'adamax'") != std::string::npos);
    for (const auto& r : update_rules()) CHECK(m.find(r) != std::string::npos);
  }
  try {
    make_optimizer("adam", {w}, {{"momentum", 0.9}});
    FAIL("no throw");
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    CHECK(m.find("adam: unknown config key 'momentum'") != std::string::npos);
    CHECK(m.find("beta1, beta2, epsilon, learning_rate, weight_decay") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(make_optimizer("adamw", {w}, {{"lr", 0.1}}),
                       doctest::Contains("adamw: unknown config key 'lr'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer("sgd", {w}, {{"learning_rate", -1.0}}),
                       doctest::Contains("sgd: config 'learning_rate'"), std::invalid_argument);
  CHECK_THROWS_AS(make_optimizer("adam", {w}, {{"beta1", 1.0}}), std::invalid_argument);
  CHECK_THROWS_AS(make_optimizer("rmsprop", {w}, {{"decay_rate", 1.5}}), std::invalid_argument);
  CHECK_THROWS_AS(make_optimizer("sgd_momentum", {w}, {{"momentum", NAN}}), std::invalid_argument);
  auto opt = make_optimizer("sgd", {w});
  CHECK_THROWS_AS(opt->set_learning_rate(-0.1), std::invalid_argument);
  CHECK(opt->learning_rate() == 1e-2);
}

TEST_CASE("optim: parameters must be distinct leaves") {
  Tensor a = param({1.0, 2.0}, float64);
  CHECK_THROWS_WITH_AS(make_optimizer("sgd", {a * 2.0}), doctest::Contains("not a leaf"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer("sgd", {a, a}),
                       doctest::Contains("parameter 1 is the same tensor as parameter 0"),
                       std::invalid_argument);
  CHECK_THROWS_AS(make_optimizer("sgd", {Tensor()}), std::invalid_argument);
}

TEST_CASE("optim: parameters without a gradient are skipped; t counts per parameter") {
  for (Dtype dt : dtypes) {
    Tensor a = param({1.0, 2.0}, dt), b = param({3.0}, dt);
    Adam opt({a, b}, {{"learning_rate", 0.1}});
    a.set_grad(tensor({1.0, -1.0}, {-1}, dt));
    const auto vb = b.version();
    opt.step();
    CHECK(b.to_vector() == std::vector<double>{3.0});
    CHECK(b.version() == vb);
    const double step = 0.1 * 1.0 / (1.0 + 1e-8);  // lr*mt/(sqrt(vt)+eps) with mt=g, vt=g²
    check_close(a.to_vector(), {1 - step, 2 + step}, dt);
    opt.step();  // same gradient again: mt = g and vt = g² again, so the same step
    check_close(a.to_vector(), {1 - 2 * step, 2 + 2 * step}, dt);
    CHECK(opt.step_count() == 2);
    // b's first update (global step 3) gets the bias correction of t=1: ~lr*sign(g)
    a.zero_grad();
    b.set_grad(tensor({0.001}, {-1}, dt));
    opt.step();
    check_close(b.to_vector(), {3 - 0.1 * 0.001 / (0.001 + 1e-8)}, dt);
    check_close(a.to_vector(), {1 - 2 * step, 2 + 2 * step}, dt);
    auto st = opt.state();
    CHECK(opt.step_count() == 3);
    bool saw_t0 = false, saw_t1 = false;
    for (auto& [n, t] : st) {
      if (n == "t.0") saw_t0 = (t.item() == 2);
      if (n == "t.1") saw_t1 = (t.item() == 1);
    }
    CHECK(saw_t0);
    CHECK(saw_t1);
  }
}

TEST_CASE("optim: state is created lazily with the parameter's shape and dtype") {
  Tensor a = ones({2, 3}, float32);
  a.requires_grad_();
  Tensor b = param({1.0, 2.0, 3.0, 4.0}, float64);
  Adam opt({a, b});
  auto st = opt.state();
  REQUIRE(st.size() == 1);
  CHECK(st[0].first == "t");
  CHECK(st[0].second.item() == 0);

  a.set_grad(ones({2, 3}, float32));
  b.set_grad(ones({4}, float64));
  opt.step();
  st = opt.state();
  std::vector<std::string> names;
  for (auto& [n, t] : st) names.push_back(n);
  CHECK(names == std::vector<std::string>{"t", "t.0", "m.0", "v.0", "t.1", "m.1", "v.1"});
  CHECK(st[2].second.shape() == Shape{2, 3});
  CHECK(st[2].second.dtype() == float32);
  CHECK(st[6].second.shape() == Shape{4});
  CHECK(st[6].second.dtype() == float64);
  // m = 0.1*g, v = 0.001*g²
  CHECK(st[2].second.to_vector()[0] == doctest::Approx(0.1).epsilon(1e-7));
  CHECK(st[6].second.to_vector()[3] == doctest::Approx(0.001).epsilon(1e-14));

  // No allocation after the first step: the same buffers are updated in place.
  const void* m0 = st[2].second.raw_data();
  opt.step();
  auto st2 = opt.state();
  CHECK(st2[2].second.raw_data() == m0);

  // Slot names of the other rules.
  Tensor c = param({1.0}, float64);
  c.set_grad(ones({1}, float64));
  for (auto [rule, slot] : std::vector<std::pair<std::string, std::string>>{{"sgd", ""},
                                                                            {"sgd_momentum", "v.0"},
                                                                            {"nesterov", "v.0"},
                                                                            {"rmsprop", "cache.0"},
                                                                            {"adagrad", "cache.0"},
                                                                            {"adamw", "m.0"}}) {
    auto o = make_optimizer(rule, {c});
    o->step();
    auto s = o->state();
    INFO(rule);
    CHECK(s.size() == (slot.empty() ? 2u : rule == "adamw" ? 4u : 3u));
    if (!slot.empty()) CHECK(s[2].first == slot);
  }
}

TEST_CASE("optim: load_state resumes exactly") {
  for (const auto& rule : update_rules()) {
    INFO(rule);
    Tensor a = param(w0, float64);
    auto opt = make_optimizer(rule, {a});
    for (int s = 0; s < 2; ++s) {
      a.set_grad(tensor(grads[s], {-1}, float64));
      opt->step();
    }
    // A fresh optimizer on a copy of the parameter, given the saved state.
    Tensor b = param(a.to_vector(), float64);
    auto opt2 = make_optimizer(rule, {b});
    opt2->load_state(opt->state());
    CHECK(opt2->step_count() == 2);
    a.set_grad(tensor(grads[2], {-1}, float64));
    b.set_grad(tensor(grads[2], {-1}, float64));
    opt->step();
    opt2->step();
    CHECK(a.to_vector() == b.to_vector());
  }
  Tensor a = param(w0, float64);
  Adam opt({a});
  CHECK_THROWS_WITH_AS(opt.load_state({{"m.0", zeros({2}, float64)}}),
                       doctest::Contains("'m.0' has shape (2,)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(opt.load_state({{"cache.0", zeros({3}, float64)}}),
                       doctest::Contains("unknown state entry 'cache.0'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(opt.load_state({{"m.1", zeros({3}, float64)}}),
                       doctest::Contains("refers to parameter 1"), std::invalid_argument);
  CHECK_THROWS_AS(opt.load_state({{"m.0", zeros({3}, float32)}}), std::invalid_argument);
  // A bad entry leaves the optimizer untouched, even after good ones.
  CHECK_THROWS_AS(opt.load_state({{"t", scalar_tensor(5, float64)}, {"v.7", Tensor()}}),
                  std::invalid_argument);
  CHECK(opt.step_count() == 0);
  CHECK(opt.state().size() == 1);
}

TEST_CASE("optim: zero_grad, set_learning_rate, versions, no graph") {
  Tensor w = param({1.0, 2.0}, float32);
  Tensor loss = (w * w).sum();
  loss.backward();
  auto opt = make_optimizer("sgd", {w}, {{"learning_rate", 0.5}});
  const auto v0 = w.version();
  opt->step();  // w -= 0.5*2w = 0
  CHECK(w.to_vector() == std::vector<double>{0.0, 0.0});
  CHECK(w.version() > v0);
  CHECK(w.is_leaf());
  CHECK(w.requires_grad());
  opt->zero_grad();
  CHECK_FALSE(w.grad().defined());
  opt->step();  // nothing to do
  CHECK(w.to_vector() == std::vector<double>{0.0, 0.0});

  opt->set_learning_rate(0.25);
  CHECK(opt->learning_rate() == 0.25);
  CHECK(opt->config().at("learning_rate") == 0.25);
  w.set_grad(tensor({1.0, -2.0}));
  opt->step();
  CHECK(w.to_vector() == std::vector<double>{-0.25, 0.5});
}

TEST_CASE("optim: every rule minimizes a quadratic") {
  // loss = sum((w - c)²) from a fixed start; gradient 2(w - c).
  struct Case {
    std::string rule;
    Config cfg;
    int steps;
    double tol;
  };
  const std::vector<Case> cases = {
      {"sgd", {{"learning_rate", 0.1}}, 200, 1e-6},
      {"sgd_momentum", {{"learning_rate", 0.05}}, 300, 1e-5},
      {"nesterov", {{"learning_rate", 0.05}}, 300, 1e-5},
      // a constant-rate rmsprop hovers within about lr of the minimum
      {"rmsprop", {{"learning_rate", 0.01}}, 500, 5e-3},
      {"adagrad", {{"learning_rate", 0.5}}, 500, 1e-5},
      {"adam", {{"learning_rate", 0.05}}, 500, 1e-5},
      {"adamw", {{"learning_rate", 0.05}, {"weight_decay", 0.0}}, 500, 1e-5},
  };
  const std::vector<double> target = {1.0, 2.0, -0.5, 0.0};
  for (Dtype dt : dtypes) {
    for (const auto& c : cases) {
      INFO(c.rule << " " << dtype_name(dt));
      Tensor w = param({3.0, -1.0, 0.5, 2.0}, dt);
      Tensor ct = tensor(target, {-1}, dt);
      auto opt = make_optimizer(c.rule, {w}, c.cfg);
      double first = 0, last = 0;
      for (int s = 0; s < c.steps; ++s) {
        opt->zero_grad();
        Tensor d = w - ct;
        Tensor loss = (d * d).sum();
        if (s == 0) first = loss.item();
        last = loss.item();
        loss.backward();
        opt->step();
      }
      CHECK(last < first * 1e-3);
      const auto v = w.to_vector();
      for (int i = 0; i < 4; ++i) CHECK(std::abs(v[i] - target[i]) < c.tol);
    }
  }
}

TEST_CASE("big parameters (updated on the thread pool) match the 3-element trajectories") {
  // 200,000 copies of the 3-element parameter: every rule's elementwise update, split across
  // the pool, must reproduce the small run element by element.
  const int before = num_threads();
  set_num_threads(2);
  const int64_t copies = 200000;
  for (const std::string& rule : update_rules()) {
    CAPTURE(rule);
    const Config cfg = {{"learning_rate", 0.1}, {"weight_decay", 0.01}};
    const auto small = trajectory(rule, cfg, float64);
    std::vector<double> wv, gv;
    for (int64_t c = 0; c < copies; ++c) wv.insert(wv.end(), w0.begin(), w0.end());
    Tensor w = param(wv, float64);
    auto opt = make_optimizer(rule, {w}, cfg);
    int wrong = 0;
    for (std::size_t s = 0; s < small.size(); ++s) {
      gv.clear();
      for (int64_t c = 0; c < copies; ++c) gv.insert(gv.end(), grads[s].begin(), grads[s].end());
      w.set_grad(tensor(gv, {-1}, float64));
      opt->step();
      const std::vector<double> now = w.to_vector();
      for (int64_t c = 0; c < copies; ++c)
        for (int k = 0; k < 3; ++k) wrong += now[c * 3 + k] != small[s][k];
    }
    CHECK(wrong == 0);
  }
  set_num_threads(before);
}

// ---------------------------------------------------------------- parameter groups

TEST_CASE("optimizer: parameter groups take their own learning rate and weight decay") {
  Tensor a = param({1.0, 2.0}, float64), b = param({-1.0, 4.0}, float64);
  auto opt = make_optimizer(
      "sgd",
      std::vector<ParamGroup>{{{a}, {}}, {{b}, {{"learning_rate", 0.5}, {"weight_decay", 0.1}}}},
      {{"learning_rate", 0.1}});
  REQUIRE(opt->num_groups() == 2);
  CHECK(opt->params().size() == 2);
  CHECK(opt->group_config(0).at("weight_decay") == 0.0);
  CHECK(opt->group_config(1).at("weight_decay") == 0.1);
  a.set_grad(tensor({1.0, 1.0}, {-1}, float64));
  b.set_grad(tensor({2.0, -2.0}, {-1}, float64));
  opt->step();
  // a: w -= 0.1 g;  b: w -= 0.5 (g + 0.1 w)
  CHECK(a.to_vector() == std::vector<double>{1.0 - 0.1, 2.0 - 0.1});
  // (approximately: a path may fuse the multiply-adds)
  CHECK(b.to_vector()[0] == doctest::Approx(-1.0 - 0.5 * (2.0 + 0.1 * -1.0)).epsilon(1e-15));
  CHECK(b.to_vector()[1] == doctest::Approx(4.0 - 0.5 * (-2.0 + 0.1 * 4.0)).epsilon(1e-15));
  // A schedule moves every group in proportion: the second stays at 5x the first.
  opt->set_learning_rate(0.02);
  CHECK(opt->learning_rate() == 0.02);
  CHECK(opt->group_learning_rate(0) == 0.02);
  CHECK(opt->group_learning_rate(1) == doctest::Approx(0.1).epsilon(1e-15));
  CHECK_THROWS_AS(opt->group_learning_rate(2), std::out_of_range);
}

TEST_CASE("optimizer: a group's adam equals its own optimizer with that config, bit for bit") {
  Tensor a = param(w0, float64), b = param(w0, float64), c = param(w0, float64);
  auto grouped = make_optimizer(
      "adam", std::vector<ParamGroup>{{{a}, {}}, {{b}, {{"beta1", 0.5}, {"learning_rate", 0.3}}}},
      {{"learning_rate", 0.1}});
  auto alone = make_optimizer("adam", {c}, {{"beta1", 0.5}, {"learning_rate", 0.3}});
  for (const auto& g : grads) {
    for (Tensor* p : {&a, &b, &c}) p->set_grad(tensor(g, {-1}, float64));
    grouped->step();
    alone->step();
  }
  CHECK(b.to_vector() == c.to_vector());
  CHECK(a.to_vector() == trajectory("adam", {{"learning_rate", 0.1}}, float64).back());
  // The state indexes parameters across groups, and loads back.
  const auto state = grouped->state();
  Tensor a2 = param(w0, float64), b2 = param(w0, float64);
  auto again = make_optimizer(
      "adam", std::vector<ParamGroup>{{{a2}, {}}, {{b2}, {{"beta1", 0.5}, {"learning_rate", 0.3}}}},
      {{"learning_rate", 0.1}});
  again->load_state(state);
  CHECK(again->state().size() == state.size());
}

TEST_CASE("optimizer: parameter group errors name the group and the key") {
  Tensor a = param({1.0}, float64), b = param({2.0}, float64);
  CHECK_THROWS_WITH_AS(
      make_optimizer("sgd", std::vector<ParamGroup>{{{a}, {}}, {{b}, {{"lr", 0.1}}}}),
      "sgd: unknown config key 'lr' in parameter group 1 (valid: learning_rate, weight_decay)",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer("adam", std::vector<ParamGroup>{{{a}, {{"beta1", 1.5}}}}),
                       "adam: config 'beta1' = 1.5 is out of range (must be in [0, 1))",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer("sgd", std::vector<ParamGroup>{{{a}, {}}, {{a}, {}}}),
                       "optimizer: parameter 1 is the same tensor as parameter 0; it would be "
                       "updated twice per step",
                       std::invalid_argument);
  // A first group that starts at 0 (a frozen-by-rate backbone) cannot lead the others.
  auto opt =
      make_optimizer("sgd", std::vector<ParamGroup>{{{a}, {{"learning_rate", 0.0}}}, {{b}, {}}});
  CHECK(opt->group_learning_rate(1) == 1e-2);
  CHECK_THROWS_WITH_AS(opt->set_learning_rate(0.1),
                       "sgd: set_learning_rate: the first parameter group started at learning "
                       "rate 0, so the other groups' rates cannot follow it in proportion",
                       std::invalid_argument);
  CHECK(opt->learning_rate() == 0.0);  // unchanged
}
