// A gradient-check tour of the nn stack: every layer and every model, built in float64 at
// small sizes, its gradients from the tape against central differences — the check a course
// notebook runs after writing each layer. One line per parameter (and per layer input "x"):
// its shape, the largest relative error max |a-n| / max(1e-8, |a|+|n|) over its elements (the
// cs231n rel_error), the largest absolute error, and ok/FAILED.
//
// An element passes when its relative error is <= 1e-7. Where a gradient is zero or nearly
// zero — exactly zero by construction for the bias of a layer followed by batch norm, which the
// normalization cancels — both sides are rounding noise and the relative error measures only
// that noise; such an element passes on its absolute error (<= 1e-9), and when that rescued
// the line it says "ok (abs)". (rel_error's floor of 1e-8 in the denominator already keeps an
// exact-zero gradient like b1 below batch norm at rel ~1e-8: look at its abs column, ~1e-17.)
//
// Usage: gradcheck-layers [--eps H] [name-filter]
//   --eps H        the finite-difference step (default 1e-5)
//   name-filter    run only the checks whose title contains this text
// Exit status 1 when any check fails or throws.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dagrad/base/command_line.h"
#include "dagrad/nn/nn.h"
#include "examples/common.h"

using namespace dagrad;

namespace {

constexpr double kRtol = 1e-7;  // relative error an element must reach ...
constexpr double kAtol = 1e-9;  // ... or absolute error, for gradients that are ~0
constexpr int kSparseChecks = 12;

struct Target {
  std::string name;
  Tensor t;  // a leaf that requires grad; perturbed in place by the numerical gradient
};

struct Tally {
  int lines = 0, failed = 0, errors = 0;
};

// The command line's settings: the finite-difference step and the title filter.
double g_eps = 1e-5;
std::string g_filter;

// ---- small float64 inputs
Tensor rn(Generator& g, const Shape& s, double scale = 1.0) { return randn(s, g, float64) * scale; }
Tensor leaf(Tensor t) { return t.requires_grad_(); }
Tensor labels(Generator& g, int64_t n, int64_t classes) {
  return randint(0, classes, {n}, g, float64);
}

// Overwrites a module's parameters with random values so that the check does not run at the
// special point of the initialization (zero biases, unit gamma): gamma/scale-like vectors
// named "gamma" get values in [0.5, 1.5), everything else N(0, scale^2).
void randomize(nn::Module& m, Generator& g, double scale = 0.5) {
  no_grad guard;
  for (auto& [name, p] : m.named_parameters()) {
    Tensor v = name.find("gamma") != std::string::npos ? uniform(p.shape(), 0.5, 1.5, g, float64)
                                                       : randn(p.shape(), g, float64) * scale;
    p.copy_(v);
  }
}

std::vector<Target> params_of(const nn::Module& m) {
  std::vector<Target> out;
  for (auto& [name, p] : m.named_parameters()) out.push_back({name, p});
  return out;
}

// Checks df/dt for every target of a scalar, deterministic f: one backward for the analytic
// gradients, then central differences over every element (or `sparse` random elements with
// grad_check_sparse, for big models). Prints one line per target.
void check(Tally& tally, const std::string& title, const std::function<Tensor()>& f,
           const std::vector<Target>& targets, int sparse = 0) {
  fmt::print("\n{}\n", title);
  try {
    for (Target tg : targets) tg.t.zero_grad();
    Tensor loss = f();
    loss.backward();
    for (const Target& tg : targets) {
      Tensor a = tg.t.grad().defined() ? tg.t.grad().clone() : zeros_like(tg.t);
      ++tally.lines;
      if (sparse > 0) {
        // cs231n's grad_check_sparse: a few random coordinates of a big parameter.
        const double rel = grad_check_sparse(f, tg.t, a, sparse, g_eps, 7, false);
        const bool ok = rel <= kRtol;
        if (!ok) ++tally.failed;
        fmt::print("  {:<28} {:<16} rel {:9.2e}  ({} random elements)  {}\n", tg.name,
                   to_string(tg.t.shape()), rel, sparse, ok ? "ok" : "FAILED");
        continue;
      }
      const Tensor n = numerical_gradient(f, tg.t, g_eps);
      const std::vector<double> va = a.to_vector(), vn = n.to_vector();
      double worst_rel = 0, worst_abs = 0;
      bool ok = true;
      for (std::size_t i = 0; i < va.size(); ++i) {
        const double r = rel_error(va[i], vn[i]), d = std::abs(va[i] - vn[i]);
        worst_rel = std::max(worst_rel, r);
        worst_abs = std::max(worst_abs, d);
        if (r > kRtol && d > kAtol) ok = false;
      }
      if (!ok) ++tally.failed;
      const char* status = !ok ? "FAILED" : worst_rel <= kRtol ? "ok" : "ok (abs)";
      fmt::print("  {:<28} {:<16} rel {:9.2e}  abs {:9.2e}  {}\n", tg.name, to_string(tg.t.shape()),
                 worst_rel, worst_abs, status);
    }
  } catch (const std::exception& e) {
    ++tally.errors;
    fmt::print("  ERROR: {}\n", e.what());
  }
}

// A layer with a non-scalar output is checked through sum(layer(x) * dout), dout random and
// fixed: its gradient with respect to anything is the layer's backward applied to dout.
void check_layer(Tally& tally, const std::string& title, nn::Module& layer, const Tensor& x,
                 Generator& g) {
  Tensor dout;
  {
    no_grad guard;
    dout = randn(layer.forward(x).shape(), g, float64);
  }
  std::vector<Target> targets = params_of(layer);
  targets.push_back({"x", x});
  check(
      tally, fmt::format("{}  (x {})", title, to_string(x.shape())),
      [&layer, x, dout] { return sum(layer.forward(x) * dout); }, targets);
}

// A model is checked through its own loss: data loss plus 0.5 * reg * sum(W^2).
void check_model(Tally& tally, const std::string& title, nn::Classifier& model, const Tensor& X,
                 const Tensor& y, int sparse = 0) {
  check(
      tally,
      fmt::format("{}  [{}, {}]  (X {}, reg {})", title, model.describe(),
                  model.is_training() ? "train" : "eval", to_string(X.shape()), model.reg),
      [&model, X, y] { return model.loss(X, y); }, params_of(model), sparse);
}

// A few training-mode forwards so that batch-norm running statistics are not the initial 0/1.
void warm_up(nn::Module& m, Generator& g, const Shape& input_shape) {
  no_grad guard;
  m.train();
  for (int i = 0; i < 5; ++i) m.forward(rn(g, input_shape) * 1.5 + 0.3);
}

// Moves every element of x at least 0.1 away from 0: for checks right after a ReLU-like kink.
Tensor away_from_zero(Tensor t) {
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] += p[i] >= 0 ? 0.1 : -0.1;
  return t;
}

bool wanted(const std::string& title) {
  return g_filter.empty() || title.find(g_filter) != std::string::npos;
}

const nn::Init kHe{nn::InitScheme::he, 0.0};

// =================================================================== layers
// Each group of checks draws from a generator of its own seed, so that adding a check to one
// group leaves the numbers of the others alone.

// Linear on a matrix and on a batch it flattens.
void linear_checks(Tally& tally) {
  Generator g(1);
  nn::Linear lin(4, 3, g, kHe, float64);
  randomize(lin, g);
  if (wanted("Linear")) check_layer(tally, "Linear", lin, leaf(rn(g, {3, 4})), g);
  nn::Linear lin3(6, 2, g, kHe, float64);
  randomize(lin3, g);
  if (wanted("Linear (flattens)"))
    check_layer(tally, "Linear on (N, 2, 3): flattens", lin3, leaf(rn(g, {2, 2, 3})), g);
}

// Conv2d with stride 1 and 2, with and without padding and bias.
void conv2d_checks(Tally& tally) {
  Generator g(2);
  nn::Conv2d c1(2, 3, 3, g, {.padding = 1, .init = kHe, .dtype = float64});
  randomize(c1, g);
  if (wanted("Conv2d stride 1"))
    check_layer(tally, "Conv2d 3x3, stride 1, padding 1", c1, leaf(rn(g, {2, 2, 5, 5})), g);
  nn::Conv2d c2(2, 3, 3, g, {.stride = 2, .padding = 1, .init = kHe, .dtype = float64});
  randomize(c2, g);
  if (wanted("Conv2d stride 2"))
    check_layer(tally, "Conv2d 3x3, stride 2, padding 1", c2, leaf(rn(g, {2, 2, 6, 6})), g);
  nn::Conv2d c3(3, 2, 2, g, {.stride = 2, .init = kHe, .dtype = float64, .bias = false});
  randomize(c3, g);
  if (wanted("Conv2d no bias"))
    check_layer(tally, "Conv2d 2x2, stride 2, no padding, no bias", c3, leaf(rn(g, {1, 3, 4, 5})),
                g);
}

// The pooling layers: max and average (stride = size, and overlapping windows), global
// average.
void pool_checks(Tally& tally) {
  Generator g(3);
  nn::MaxPool2d mp(2);
  if (wanted("MaxPool2d")) check_layer(tally, "MaxPool2d 2x2", mp, leaf(rn(g, {2, 2, 4, 4})), g);
  nn::MaxPool2d mp3(3, 2);
  if (wanted("MaxPool2d"))
    check_layer(tally, "MaxPool2d 3x3, stride 2", mp3, leaf(rn(g, {1, 2, 5, 5})), g);
  nn::AvgPool2d ap(2);
  if (wanted("AvgPool2d")) check_layer(tally, "AvgPool2d 2x2", ap, leaf(rn(g, {2, 2, 4, 4})), g);
  nn::AvgPool2d ap3(3, 2);
  if (wanted("AvgPool2d"))
    check_layer(tally, "AvgPool2d 3x3, stride 2", ap3, leaf(rn(g, {1, 2, 5, 5})), g);
  nn::GlobalAvgPool gap;
  if (wanted("GlobalAvgPool"))
    check_layer(tally, "GlobalAvgPool", gap, leaf(rn(g, {2, 3, 3, 3})), g);
}

// The batch norm layers in train mode, then in eval mode after a warm-up; LayerNorm.
void norm_checks(Tally& tally) {
  Generator g(4);
  auto check_bn = [&](nn::BatchNorm& bn, const std::string& train_what, const Shape& train_shape,
                      double shift, const Shape& eval_shape) {
    const std::string name = bn.type_name();
    randomize(bn, g);
    if (wanted(name + " (train)"))
      check_layer(tally, name + " (train: " + train_what + ")", bn,
                  leaf(rn(g, train_shape, 2.0) + shift), g);
    warm_up(bn, g, train_shape);
    bn.eval();
    if (wanted(name + " (eval)"))
      check_layer(tally, name + " (eval: running statistics)", bn, leaf(rn(g, eval_shape)), g);
  };
  nn::BatchNorm1d bn1(3, 0.9, 1e-5, float64);
  check_bn(bn1, "batch statistics", {5, 3}, 1.0, {4, 3});
  nn::BatchNorm2d bn2(3, 0.9, 1e-5, float64);
  check_bn(bn2, "batch statistics", {2, 3, 3, 3}, -0.5, {2, 3, 3, 3});
  nn::BatchNormReLU2d bnr(3, 0.9, 1e-5, float64);
  check_bn(bnr, "fused batch norm + ReLU", {2, 3, 3, 3}, -0.5, {2, 3, 3, 3});

  nn::LayerNorm ln(5, 1e-5, float64);
  randomize(ln, g);
  if (wanted("LayerNorm")) check_layer(tally, "LayerNorm", ln, leaf(rn(g, {3, 5}, 2.0)), g);
}

// Dropout in train mode (a fixed mask) and in eval mode (the identity).
void dropout_checks(Tally& tally) {
  Generator g(5);
  // Dropout draws a fresh mask on every forward; rebuilding the layer from the same seed
  // on every call keeps the mask fixed, which the numerical gradient needs.
  if (wanted("Dropout (train")) {
    Tensor x = leaf(rn(g, {4, 5}));
    Tensor dout = randn({4, 5}, g, float64);
    check(tally, "Dropout p=0.3 (train, same mask on every call)  (x (4, 5))",
          [x, dout] {
            nn::Dropout d(0.3, /*seed=*/42);
            return sum(d.forward(x) * dout);
          },
          {{"x", x}});
  }
  nn::Dropout d(0.3, 42);
  d.eval();
  if (wanted("Dropout (eval"))
    check_layer(tally, "Dropout p=0.3 (eval: identity)", d, leaf(rn(g, {4, 5})), g);
}

// The activation layers and Flatten.
void activation_checks(Tally& tally) {
  Generator g(6);
  nn::ReLU relu_l;
  nn::LeakyReLU leaky(0.1);
  nn::Sigmoid sig;
  nn::Tanh th;
  nn::Flatten fl;
  // ReLU-like layers are checked away from their kink at 0.
  if (wanted("ReLU")) check_layer(tally, "ReLU", relu_l, leaf(away_from_zero(rn(g, {3, 4}))), g);
  if (wanted("LeakyReLU"))
    check_layer(tally, "LeakyReLU(0.1)", leaky, leaf(away_from_zero(rn(g, {3, 4}))), g);
  if (wanted("Sigmoid")) check_layer(tally, "Sigmoid", sig, leaf(rn(g, {3, 4})), g);
  if (wanted("Tanh")) check_layer(tally, "Tanh", th, leaf(rn(g, {3, 4})), g);
  if (wanted("Flatten")) check_layer(tally, "Flatten", fl, leaf(rn(g, {2, 2, 3})), g);
}

// ResidualBlock with the identity shortcut and with the 1x1 conv shortcut, train and eval.
void residual_block_checks(Tally& tally) {
  Generator g(7);
  nn::ResidualBlock same(3, 3, 1, g, float64);
  randomize(same, g);
  if (wanted("ResidualBlock"))
    check_layer(tally, "ResidualBlock 3 -> 3, stride 1 (identity shortcut, train)", same,
                leaf(rn(g, {2, 3, 4, 4})), g);
  nn::ResidualBlock down(2, 3, 2, g, float64);
  randomize(down, g);
  if (wanted("ResidualBlock"))
    check_layer(tally, "ResidualBlock 2 -> 3, stride 2 (1x1 conv shortcut, train)", down,
                leaf(rn(g, {2, 2, 4, 4})), g);
  warm_up(down, g, {2, 2, 4, 4});
  down.eval();
  if (wanted("ResidualBlock"))
    check_layer(tally, "ResidualBlock 2 -> 3, stride 2 (eval)", down, leaf(rn(g, {2, 2, 4, 4})), g);
}

// A Sequential stack of conv, batch norm, ReLU, pooling, Flatten and Linear.
void sequential_checks(Tally& tally) {
  Generator g(8);
  nn::Sequential seq;
  seq.add(std::make_shared<nn::Conv2d>(
              1, 2, 3, g, nn::Conv2dOptions{.padding = 1, .init = kHe, .dtype = float64}),
          "conv");
  seq.add(std::make_shared<nn::BatchNorm2d>(2, 0.9, 1e-5, float64), "bn");
  seq.add(std::make_shared<nn::ReLU>(), "relu");
  seq.add(std::make_shared<nn::MaxPool2d>(2), "pool");
  seq.add(std::make_shared<nn::Flatten>(), "flatten");
  seq.add(std::make_shared<nn::Linear>(2 * 2 * 2, 3, g, kHe, float64), "fc");
  randomize(seq, g);
  if (wanted("Sequential"))
    check_layer(tally, "Sequential conv-bn-relu-pool-flatten-linear (conv.bias is ~0: bn follows)",
                seq, leaf(rn(g, {3, 1, 4, 4})), g);
}

// =================================================================== models

// TwoLayerNet and FullyConnectedNet with each normalization, and with dropout in eval mode.
void fully_connected_checks(Tally& tally) {
  Generator g(10);
  const int64_t N = 4, D = 6, C = 3;
  Tensor X = rn(g, {N, D}), y = labels(g, N, C);
  auto fc_config = [&](const char* normalization) {
    nn::FullyConnectedNetConfig c;
    c.hidden_dims = {5, 4};
    c.input_dim = D;
    c.num_classes = C;
    c.normalization = normalization;
    c.weight_scale = 0.3;
    c.reg = 0.05;
    c.dtype = float64;
    return c;
  };
  if (wanted("TwoLayerNet")) {
    nn::TwoLayerNetConfig c;
    c.input_dim = D;
    c.hidden_dim = 5;
    c.num_classes = C;
    c.weight_scale = 0.3;
    c.reg = 0.1;
    c.dtype = float64;
    nn::TwoLayerNet m(c);
    randomize(m, g);  // non-zero biases too
    check_model(tally, "TwoLayerNet", m, X, y);
  }
  for (const char* norm : {"", "batchnorm", "layernorm"}) {
    const std::string title =
        fmt::format("FullyConnectedNet, normalization {}", *norm ? norm : "none");
    if (!wanted(title)) continue;
    nn::FullyConnectedNet m(fc_config(norm));
    randomize(m, g);
    check_model(tally,
                title + (std::string(norm) == "batchnorm" ? " (b1, b2 are ~0: bn follows)" : ""), m,
                X, y);
  }
  if (wanted("FullyConnectedNet, batchnorm + dropout")) {
    nn::FullyConnectedNetConfig c = fc_config("batchnorm");
    c.dropout_keep_ratio = 0.75;
    nn::FullyConnectedNet m(c);
    randomize(m, g);
    warm_up(m, g, {N, D});
    m.eval();  // dropout is the identity and batch norm uses its running statistics
    check_model(tally, "FullyConnectedNet, batchnorm + dropout keep 0.75", m, X, y);
  }
}

// ThreeLayerConvNet.
void three_layer_convnet_checks(Tally& tally) {
  Generator g(11);
  if (wanted("ThreeLayerConvNet")) {
    nn::ThreeLayerConvNetConfig c;
    c.input_dim = {2, 6, 6};
    c.num_filters = 3;
    c.filter_size = 3;
    c.hidden_dim = 5;
    c.num_classes = 3;
    c.weight_scale = 0.3;
    c.reg = 0.05;
    c.dtype = float64;
    nn::ThreeLayerConvNet m(c);
    randomize(m, g);
    check_model(tally, "ThreeLayerConvNet", m, rn(g, {2, 2, 6, 6}), labels(g, 2, 3));
  }
}

// BinaryClassifier (logistic and hinge) and SoftmaxClassifier, linear and with a hidden
// layer.
void linear_classifier_checks(Tally& tally) {
  Generator g(12);
  const int64_t N = 6, D = 5;
  Tensor X = rn(g, {N, D});
  Tensor y2 = labels(g, N, 2), y4 = labels(g, N, 4);
  auto classifier_config = [&](int64_t hidden) {
    nn::LinearClassifierConfig c;
    c.input_dim = D;
    c.hidden_dim = hidden;
    c.weight_scale = 0.3;
    c.reg = 0.1;
    c.dtype = float64;
    return c;
  };
  for (const char* loss : {"logistic", "hinge"}) {
    for (int64_t hidden : {0, 4}) {
      const std::string title =
          fmt::format("BinaryClassifier {}, {}", loss, hidden ? "hidden layer" : "linear");
      if (!wanted(title)) continue;
      nn::BinaryClassifier m(classifier_config(hidden), loss);
      randomize(m, g);
      check_model(tally, title, m, X, y2);
    }
  }
  for (int64_t hidden : {0, 4}) {
    const std::string title =
        fmt::format("SoftmaxClassifier, {}", hidden ? "hidden layer" : "linear");
    if (!wanted(title)) continue;
    nn::LinearClassifierConfig c = classifier_config(hidden);
    c.num_classes = 4;
    nn::SoftmaxClassifier m(c);
    randomize(m, g);
    check_model(tally, title, m, X, y4);
  }
}

// The deeper nets: LeNet5 (sparse: it is big), VGGNet in train and eval mode, SmallResNet.
void deep_net_checks(Tally& tally) {
  Generator g(13);
  if (wanted("LeNet5")) {
    // The real thing (28x28 inputs, 62k parameters): a full check would take ~120k
    // forwards, so a few random elements of each parameter, cs231n's grad_check_sparse.
    // No L2 term here: its sum of 62k squares adds ~1e-11 of rounding noise to every
    // difference quotient, more than the smallest gradients of fc1 can tolerate at 1e-7
    // (the L2 gradient is checked on every other model).
    nn::ConvNetConfig c;
    c.num_classes = 10;
    c.reg = 0.0;
    c.dtype = float64;
    c.seed = 3;
    nn::LeNet5 m(c);
    check_model(tally, "LeNet5 (sparse check)", m, rn(g, {2, 1, 28, 28}), labels(g, 2, 10),
                kSparseChecks);
  }
  if (wanted("VGGNet")) {
    nn::VGGConfig c;
    c.input_dim = {1, 8, 8};
    c.stage_channels = {2, 3};
    c.hidden_dim = 5;
    c.num_classes = 3;
    c.reg = 0.01;
    c.dtype = float64;
    c.seed = 4;
    nn::VGGNet m(c);
    check_model(tally, "VGGNet (train: batch statistics)", m, rn(g, {3, 1, 8, 8}), labels(g, 3, 3));
    warm_up(m, g, {3, 1, 8, 8});
    m.eval();
    check_model(tally, "VGGNet (eval: running statistics)", m, rn(g, {3, 1, 8, 8}),
                labels(g, 3, 3));
  }
  if (wanted("SmallResNet")) {
    nn::ResNetConfig c;
    c.input_dim = {1, 6, 6};
    c.stage_channels = {2, 3};
    c.num_classes = 3;
    c.reg = 0.01;
    c.dtype = float64;
    c.seed = 5;
    nn::SmallResNet m(c);
    check_model(tally, "SmallResNet", m, rn(g, {3, 1, 6, 6}), labels(g, 3, 3));
  }
}

// What is checked and the pass mark.
void print_header() {
  fmt::print("Gradient check of the nn layers and models (float64, central differences h = {:g})\n",
             g_eps);
  fmt::print(
      "rel = max |a-n| / max(1e-8, |a|+|n|) over the elements; an element passes with\n"
      "rel <= {:g}, or with abs = |a-n| <= {:g} for a gradient that is ~0 (where rel measures\n"
      "only rounding noise; the line then says \"ok (abs)\")\n",
      kRtol, kAtol);
}

// The summary line; the exit status.
int report(const Tally& tally, double seconds) {
  fmt::print("\n{} gradients checked: {} ok, {} failed, {} errors  ({:.1f} s)\n", tally.lines,
             tally.lines - tally.failed, tally.failed, tally.errors, seconds);
  if (tally.failed + tally.errors > 0) {
    fmt::print("GRADIENT CHECK FAILED\n");
    return 1;
  }
  fmt::print("all gradients ok\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    base::CommandLine cli(argc, argv);
    if (cli.help("usage: gradcheck-layers [--eps H] [name-filter]")) return 0;
    g_eps = cli.positive("--eps", g_eps);
    g_filter = cli.positional("name filter");
    cli.finish();
    const auto t0 = std::chrono::steady_clock::now();
    print_header();
    Tally tally;
    fmt::print("\n==================== layers ====================\n");
    linear_checks(tally);
    conv2d_checks(tally);
    pool_checks(tally);
    norm_checks(tally);
    dropout_checks(tally);
    activation_checks(tally);
    residual_block_checks(tally);
    sequential_checks(tally);
    fmt::print(
        "\n==================== models (loss = data loss + 0.5 reg sum W^2) "
        "====================\n");
    fully_connected_checks(tally);
    three_layer_convnet_checks(tally);
    linear_classifier_checks(tally);
    deep_net_checks(tally);
    return report(tally, examples::seconds_since(t0));
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
