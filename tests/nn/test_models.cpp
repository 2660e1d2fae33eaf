#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "dagrad/nn/nn.h"

using namespace dagrad;

namespace {
// Whole-model check: gradient of the full loss (data + L2) w.r.t. every parameter.
void check_model_gradients(nn::Classifier& m, const Tensor& X, const Tensor& y, double rtol) {
  const nn::NamedTensors params = m.named_parameters();
  std::vector<Tensor> wrt;
  for (auto& [n, p] : params) wrt.push_back(p);
  std::vector<Tensor> analytic = grad({m.loss(X, y)}, wrt);
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    const Tensor num = numerical_gradient([&] { return m.loss(X, y); }, wrt[i]);
    const double err = rel_error(analytic[i], num);
    const double abs_err = max(abs(analytic[i] - num)).item();
    // A bias followed by batch norm has an exactly zero gradient: compare absolutely there.
    INFO(m.describe(), " ", params[i].first, " rel error ", err, " abs error ", abs_err);
    CHECK((err < rtol || abs_err < 1e-9));
  }
}

// Central differences of the float64 loss at `count` random coordinates of p, against the
// analytic gradient. Returns the largest |analytic - numeric| / allowed, where allowed is the
// error of the difference quotient itself: its rounding error is <= 2 eps_f / 2h, eps_f being
// the absolute rounding error of one loss evaluation, and its truncation error h^2/6 |f'''| is
// ~1e-12 for h = 1e-6 and O(1) derivatives, negligible next to it. eps_f <= K u max(|f|, 1):
// every reduction on the way to the loss (a dot product of length k errs by <= k u times the
// size of its terms) adds its length to K, and He-initialised activations, like the loss, are
// O(1).
double sparse_fd_error(const std::function<Tensor()>& loss, const Tensor& p, const Tensor& analytic,
                       int count, int64_t K, uint64_t seed) {
  const double h = 1e-6, u = 0x1p-53;
  auto f = [&] {
    no_grad guard;
    return loss().item();
  };
  const double allowed = double(K) * u * std::max(std::abs(f()), 1.0) / h;
  const std::vector<double> a = analytic.to_vector();
  Generator gen(seed);
  double worst = 0;
  for (int c = 0; c < count; ++c) {
    const int64_t i = gen.randint(0, p.numel());
    double* v = p.data<double>() + i;
    const double old = *v;
    *v = old + h;
    const double up = f();
    *v = old - h;
    const double down = f();
    *v = old;
    const double numeric = (up - down) / (2 * h);
    INFO("coordinate ", i, ": analytic ", a[i], ", numeric ", numeric);
    worst = std::max(worst, std::abs(a[i] - numeric) / allowed);
  }
  return worst;
}
}  // namespace

TEST_CASE("models: TwoLayerNet sanity (initial loss ~ log C, reg raises the loss, gradients)") {
  Generator gen(0);
  Tensor X = randn({8, 5}, gen, float64), y = randint(0, 3, {8}, gen, float64);
  nn::TwoLayerNet net({.input_dim = 5,
                       .hidden_dim = 6,
                       .num_classes = 3,
                       .weight_scale = 1e-3,
                       .dtype = float64,
                       .seed = 1});
  CHECK(net.loss(X, y).item() == doctest::Approx(std::log(3.0)).epsilon(1e-3));
  nn::TwoLayerNet big({.input_dim = 5,
                       .hidden_dim = 6,
                       .num_classes = 3,
                       .weight_scale = 0.5,
                       .dtype = float64,
                       .seed = 1});
  const double l0 = big.loss(X, y).item();
  big.reg = 1.0;
  CHECK(big.loss(X, y).item() > l0);
  check_model_gradients(big, X, y, 1e-7);
  CHECK(net.forward(X).shape() == Shape{8, 3});
}

TEST_CASE("models: FullyConnectedNet with none / batchnorm / layernorm and dropout") {
  Generator gen(1);
  Tensor X = randn({6, 7}, gen, float64), y = randint(0, 4, {6}, gen, float64);
  for (const char* norm : {"", "batchnorm", "layernorm"}) {
    for (double keep : {1.0, 0.7}) {
      nn::FullyConnectedNet net({.hidden_dims = {5, 4},
                                 .input_dim = 7,
                                 .num_classes = 4,
                                 .dropout_keep_ratio = keep,
                                 .normalization = norm,
                                 .reg = 0.1,
                                 .weight_scale = 0.3,
                                 .dtype = float64,
                                 .seed = 3});
      CAPTURE(norm);
      CAPTURE(keep);
      if (keep < 1.0) {
        // dropout masks differ per call: check in eval mode (no dropout, running stats)
        net.eval();
      }
      check_model_gradients(net, X, y, 1e-6);
    }
  }
  nn::FullyConnectedNet small({.hidden_dims = {10},
                               .input_dim = 7,
                               .num_classes = 4,
                               .weight_scale = 1e-3,
                               .dtype = float64});
  CHECK(small.loss(X, y).item() == doctest::Approx(std::log(4.0)).epsilon(1e-3));
  CHECK_THROWS_WITH_AS(nn::FullyConnectedNet({.normalization = "groupnorm"}),
                       doctest::Contains("groupnorm"), std::invalid_argument);
}

TEST_CASE("models: ThreeLayerConvNet sanity and gradients") {
  Generator gen(2);
  Tensor X = randn({2, 2, 6, 6}, gen, float64), y = tensor({0, 2}, {2}, float64);
  nn::ThreeLayerConvNet net({.input_dim = {2, 6, 6},
                             .num_filters = 3,
                             .filter_size = 3,
                             .hidden_dim = 5,
                             .num_classes = 3,
                             .weight_scale = 1e-3,
                             .dtype = float64});
  CHECK(net.loss(X, y).item() == doctest::Approx(std::log(3.0)).epsilon(1e-3));
  nn::ThreeLayerConvNet big({.input_dim = {2, 6, 6},
                             .num_filters = 3,
                             .filter_size = 3,
                             .hidden_dim = 5,
                             .num_classes = 3,
                             .weight_scale = 0.2,
                             .reg = 0.05,
                             .dtype = float64});
  check_model_gradients(big, X, y, 1e-6);
  CHECK_THROWS_WITH_AS(net.forward(randn({2, 3, 6, 6}, gen, float64)),
                       doctest::Contains("ThreeLayerConvNet"), std::invalid_argument);
}

TEST_CASE("models: Hessian-vector product of the ThreeLayerConvNet loss") {
  // H v by double backward (conv2d, relu, max_pool2d, affine, cross-entropy) against central
  // differences of the gradient along v: (g(p + h v) - g(p - h v)) / 2h, good to
  // ~h^2 |g'''| + eps |g| / h ~ 1e-9 here with h = 1e-5.
  Generator gen(4);
  const Tensor X = randn({3, 2, 6, 6}, gen, float64), y = tensor({0, 2, 1}, {3}, float64);
  nn::ThreeLayerConvNet net({.input_dim = {2, 6, 6},
                             .num_filters = 3,
                             .filter_size = 3,
                             .hidden_dim = 5,
                             .num_classes = 3,
                             .weight_scale = 0.3,
                             .reg = 0.05,
                             .dtype = float64});
  std::vector<Tensor> params = net.parameters(), saved, v;
  for (const Tensor& p : params) {
    saved.push_back(p.detach().clone());
    v.push_back(randn(p.shape(), gen, float64));
  }
  BackwardOptions cg;
  cg.create_graph = true;
  const std::vector<Tensor> g = grad({net.loss(X, y)}, params, {}, cg);
  Tensor gv = scalar_tensor(0.0, float64);
  for (std::size_t i = 0; i < g.size(); ++i) gv = gv + sum(g[i] * v[i]);
  const std::vector<Tensor> hv = grad({gv}, params);
  // Central differences of the gradient, moving every parameter along v in place.
  auto grad_shifted = [&](double h) {
    {
      no_grad ng;
      for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i] + v[i] * h);
    }
    std::vector<Tensor> out = grad({net.loss(X, y)}, params);
    {
      no_grad ng;
      for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
    }
    return out;
  };
  const double h = 1e-5;
  const std::vector<Tensor> plus = grad_shifted(h), minus = grad_shifted(-h);
  for (std::size_t i = 0; i < params.size(); ++i) {
    CAPTURE(i);
    const Tensor num = (plus[i] - minus[i]) / (2 * h);
    CHECK(max(abs(hv[i] - num)).item() <= 1e-6 * (1 + max(abs(num)).item()));
  }
}

TEST_CASE("models: binary logistic / hinge and softmax classifiers") {
  Generator gen(3);
  Tensor X = randn({10, 3}, gen, float64), y = randint(0, 2, {10}, gen, float64);
  for (int64_t hidden : {0, 4}) {
    nn::BinaryClassifier logit(
        {.input_dim = 3, .hidden_dim = hidden, .weight_scale = 0.5, .reg = 0.1, .dtype = float64},
        "logistic");
    check_model_gradients(logit, X, y, 1e-7);
    nn::BinaryClassifier hinge(
        {.input_dim = 3, .hidden_dim = hidden, .weight_scale = 0.5, .dtype = float64}, "hinge");
    check_model_gradients(hinge, X, y, 1e-6);
    nn::SoftmaxClassifier soft({.input_dim = 3,
                                .hidden_dim = hidden,
                                .num_classes = 2,
                                .weight_scale = 0.5,
                                .dtype = float64});
    check_model_gradients(soft, X, y, 1e-7);
    const std::vector<double> p = logit.predict(X).to_vector();
    for (double v : p) CHECK((v == 0.0 || v == 1.0));
  }
  CHECK_THROWS_WITH_AS(nn::BinaryClassifier({}, "squared"), doctest::Contains("squared"),
                       std::invalid_argument);
}

TEST_CASE("models: the classic LeNet-5 on 32x32, no padding: 400 features into fc1") {
  nn::LeNet5 classic({.input_dim = {1, 32, 32}, .num_classes = 10}, 0);
  CHECK(classic.describe() == "LeNet5(conv1 padding 0)");
  CHECK(nn::LeNet5().describe() == "LeNet5");
  // conv1 6*25+6, conv2 16*6*25+16, fc1 400*120+120, fc2 120*84+84, fc3 84*10+10.
  CHECK(classic.num_parameters() == 156 + 2416 + 48120 + 10164 + 850);
  for (const auto& [name, t] : classic.named_parameters())
    if (name == "fc1.weight") CHECK(t.shape() == Shape{400, 120});
  Generator gen(4);
  CHECK(classic(randn({2, 1, 32, 32}, gen)).shape() == Shape{2, 10});
  CHECK_THROWS_WITH_AS(nn::LeNet5({.input_dim = {1, 12, 12}}, 0),
                       "LeNet5: input 12x12 is too small", std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::LeNet5({}, -1), "LeNet5: conv1_padding must be >= 0, got -1",
                       std::invalid_argument);
}

TEST_CASE("models: LeNet5, VGGNet and SmallResNet shapes and gradients") {
  Generator gen(4);
  nn::LeNet5 lenet({.input_dim = {1, 28, 28}, .num_classes = 10, .dtype = float64});
  Tensor X = randn({2, 1, 28, 28}, gen, float64), y = tensor({3, 7}, {2}, float64);
  CHECK(lenet.forward(X).shape() == Shape{2, 10});
  // A sparse check on the big model: a few coordinates of each parameter.
  {
    const nn::NamedTensors params = lenet.named_parameters();
    std::vector<Tensor> wrt;
    for (auto& [n, p] : params) wrt.push_back(p);
    std::vector<Tensor> analytic = grad({lenet.loss(X, y)}, wrt);
    // K: the reductions from input to loss: conv1 1*5*5, conv2 6*5*5, fc1 16*5*5, fc2 120,
    // fc3 84, the softmax's 10 and the batch mean's 2 = 791. allowed = 791 u 2.3 / 1e-6 ~ 2e-7
    // here, against gradient entries of 1e-3 to 1e-1: a missing term or a wrong scale is caught.
    for (std::size_t i = 0; i < wrt.size(); ++i) {
      const double err =
          sparse_fd_error([&] { return lenet.loss(X, y); }, wrt[i], analytic[i], 4, 791, i);
      INFO("LeNet5 ", params[i].first, ": |analytic - numeric| / allowed = ", err);
      CHECK(err <= 1.0);
    }
  }
  nn::VGGConfig vc;
  vc.input_dim = {1, 8, 8};
  vc.stage_channels = {2, 3};
  vc.hidden_dim = 5;
  vc.num_classes = 3;
  vc.dtype = float64;
  nn::VGGNet vgg(vc);
  Tensor Xs = randn({3, 1, 8, 8}, gen, float64), ys = tensor({0, 1, 2}, {3}, float64);
  CHECK(vgg.forward(Xs).shape() == Shape{3, 3});
  check_model_gradients(vgg, Xs, ys, 1e-5);
  nn::ResNetConfig rc;
  rc.input_dim = {1, 8, 8};
  rc.stage_channels = {2, 3};
  rc.num_classes = 3;
  rc.dtype = float64;
  nn::SmallResNet resnet(rc);
  CHECK(resnet.forward(Xs).shape() == Shape{3, 3});
  check_model_gradients(resnet, Xs, ys, 1e-5);
  CHECK_THROWS_WITH_AS(vgg.forward(randn({3, 1, 9, 9}, gen, float64)), doctest::Contains("VGGNet"),
                       std::invalid_argument);
}
