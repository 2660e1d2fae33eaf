#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dagrad/nn/nn.h"

using namespace dagrad;

namespace {
// gradcheck of a module's output w.r.t. its input and every parameter (float64), gradient of
// F = sum(out * dout). An entry passes when its relative error is below rtol, or when its
// absolute error is within what the central difference can resolve: F is computed with a
// rounding error of at most K u sum|out * dout| (K = out.numel() for the final sum plus
// x.numel(), the longest reduction a layer makes over its input), so (F(p + h) - F(p - h)) / 2h
// errs by up to that / h (h = 1e-6; the truncation error h^2/6 |F'''| ~ 1e-12 is negligible).
// Entries that cancel to ~0 (batch norm's dx) have no relative accuracy to test; a wrong term
// still shows as an O(1) error in the entries that do not cancel.
void check_module(nn::Module& m, const Tensor& x, double rtol = 1e-7) {
  const nn::NamedTensors params = m.named_parameters();
  Generator gen(7);
  Tensor xin = x.detach().requires_grad_();
  Tensor out = m.forward(xin);
  Tensor dout = randn(out.shape(), gen, out.dtype());
  std::vector<Tensor> wrt = {xin};
  for (auto& [n, p] : params) wrt.push_back(p);
  std::vector<Tensor> analytic = grad({out}, wrt, {dout});
  const double K = double(out.numel() + x.numel()), h = 1e-6;
  const double fd_noise = K * 0x1p-53 * sum(abs(out * dout)).item() / h;
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    Tensor num = numerical_gradient([&] { return m.forward(xin); }, wrt[i], dout, h);
    const std::vector<double> a = analytic[i].to_vector(), n = num.to_vector();
    double worst = 0;  // the entry furthest outside both criteria, as a multiple of them
    for (std::size_t j = 0; j < a.size(); ++j)
      worst =
          std::max(worst, std::min(rel_error(a[j], n[j]) / rtol, std::abs(a[j] - n[j]) / fd_noise));
    INFO(m.describe(), " input ", i, " (", (i == 0 ? std::string("x") : params[i - 1].first),
         ") rel error ", rel_error(analytic[i], num), "; worst entry at ", worst,
         " of its bound (rtol ", rtol, ", or ", fd_noise, " absolute)");
    CHECK(worst < 1);
  }
}
}  // namespace

TEST_CASE("layers: Linear values and gradients") {
  Generator gen(0);
  nn::Linear l(3, 2, gen, {}, float64);
  {
    no_grad g;
    l.weight.copy_(tensor({1, 2, 3, 4, 5, 6}, {3, 2}, float64));
    l.bias.copy_(tensor({0.5, -0.5}, {2}, float64));
  }
  Tensor y = l(tensor({1, 1, 1}, {1, 3}, float64));
  CHECK(y.to_vector() == std::vector<double>{9.5, 11.5});
  // (N, d1, d2) inputs are flattened
  CHECK(l(ones({2, 3, 1}, float64)).shape() == Shape{2, 2});
  check_module(l, randn({4, 3}, gen, float64));
  CHECK_THROWS_WITH_AS(l(ones({2, 4}, float64)), doctest::Contains("Linear(3 -> 2)"),
                       std::invalid_argument);
}

TEST_CASE("layers: Conv2d, pools and GlobalAvgPool gradients") {
  Generator gen(1);
  nn::Conv2d conv(2, 3, 3, gen,
                  {.stride = 1, .padding = 1, .init = {nn::InitScheme::he, 0}, .dtype = float64});
  check_module(conv, randn({2, 2, 5, 5}, gen, float64));
  nn::Conv2d strided(
      2, 2, 3, gen,
      nn::Conv2dOptions{.stride = 2, .init = {nn::InitScheme::xavier, 0}, .dtype = float64});
  check_module(strided, randn({1, 2, 7, 7}, gen, float64));
  // Options by name, the rest at their defaults.
  nn::Conv2d named(2, 3, 3, gen, {.padding = 1, .dtype = float64, .bias = false});
  CHECK(!named.bias.defined());
  CHECK(named.describe() == "Conv2d(2 -> 3, 3x3, stride 1, padding 1)");
  CHECK(nn::Conv2d(2, 3, 3, gen).describe() == "Conv2d(2 -> 3, 3x3, stride 1, padding 0)");
  nn::MaxPool2d mp(2);
  check_module(mp, randn({2, 2, 4, 4}, gen, float64));
  nn::AvgPool2d ap(2);
  check_module(ap, randn({2, 2, 4, 4}, gen, float64));
  nn::GlobalAvgPool gp;
  Tensor x = randn({2, 3, 4, 4}, gen, float64);
  CHECK(gp(x).shape() == Shape{2, 3});
  check_module(gp, x);
  CHECK_THROWS(conv(randn({2, 3, 5, 5}, gen, float64)));  // 3 channels into a 2-channel conv
}

TEST_CASE("layers: BatchNorm1d/2d train and eval, LayerNorm") {
  Generator gen(2);
  nn::BatchNorm1d bn1(4, 0.9, 1e-5, float64);
  {
    no_grad g;
    bn1.gamma.copy_(tensor({1, 2, 0.5, 1.5}, {4}, float64));
    bn1.beta.copy_(tensor({0, 1, -1, 0.25}, {4}, float64));
  }
  Tensor x = randn({6, 4}, gen, float64) * 3.0 + 2.0;
  {
    no_grad g;
    Tensor y = bn1(x);
    // train mode: each column has mean beta and std ~gamma
    Tensor m = mean(y, 0);
    CHECK(m.to_vector()[1] == doctest::Approx(1.0).epsilon(1e-9));
  }
  check_module(bn1, x, 1e-6);
  nn::BatchNorm2d bn2(3, 0.9, 1e-5, float64);
  check_module(bn2, randn({2, 3, 3, 3}, gen, float64), 1e-6);
  bn2.eval();
  check_module(bn2, randn({2, 3, 3, 3}, gen, float64));
  nn::LayerNorm ln(5, 1e-5, float64);
  check_module(ln, randn({3, 5}, gen, float64), 1e-6);
  CHECK_THROWS_WITH_AS(bn1(randn({2, 5}, gen, float64)), doctest::Contains("BatchNorm1d(4)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(bn2(randn({2, 3, 4}, gen, float64)), doctest::Contains("BatchNorm2d(3)"),
                       std::invalid_argument);
}

TEST_CASE("layers: BatchNormReLU1d/2d are BatchNorm + ReLU in one op, with the same state") {
  Generator gen(12);
  nn::BatchNormReLU2d fused(3, 0.9, 1e-5, float64);
  nn::BatchNorm2d bn(3, 0.9, 1e-5, float64);
  CHECK(fused.type_name() == "BatchNormReLU2d");
  CHECK(fused.describe() == "BatchNormReLU2d(3)");
  CHECK(nn::BatchNormReLU1d(4).type_name() == "BatchNormReLU1d");
  // The same parameter and buffer names and shapes: a checkpoint of the unfused pair loads.
  {
    no_grad g;
    bn.gamma.copy_(randn({3}, gen, float64));
    bn.beta.copy_(randn({3}, gen, float64));
  }
  fused.load_state(bn.state());
  Tensor x = randn({4, 3, 5, 5}, gen, float64);
  for (bool training : {true, false}) {
    fused.train(training);
    bn.train(training);
    no_grad g;
    CHECK(fused(x).to_vector() == relu(bn(x)).to_vector());
  }
  CHECK(fused.running_mean.to_vector() == bn.running_mean.to_vector());
  fused.train();
  check_module(fused, x, 1e-6);
  fused.eval();
  check_module(fused, x);
  CHECK_THROWS_WITH_AS(fused(randn({2, 3, 4}, gen, float64)),
                       doctest::Contains("BatchNormReLU2d(3)"), std::invalid_argument);
}

TEST_CASE("layers: Dropout is identity in eval and scales kept units in train") {
  nn::Dropout d(0.5, 3);
  Tensor x = ones({1000});
  {
    no_grad g;
    Tensor y = d(x);
    int kept = 0;
    for (double v : y.to_vector()) {
      CHECK((v == 0.0 || v == doctest::Approx(2.0)));
      kept += v != 0.0;
    }
    CHECK(kept > 400);
    CHECK(kept < 600);
    d.eval();
    CHECK(d(x).to_vector() == x.to_vector());
  }
  CHECK_THROWS(nn::Dropout(1.5));
}

TEST_CASE("layers: activations, Flatten, Sequential and ResidualBlock") {
  Generator gen(4);
  nn::Sequential s;
  s.add(std::make_shared<nn::Conv2d>(
      1, 2, 3, gen,
      nn::Conv2dOptions{.padding = 1, .init = {nn::InitScheme::he, 0}, .dtype = float64}));
  s.add(std::make_shared<nn::Tanh>());
  s.add(std::make_shared<nn::Flatten>());
  s.add(std::make_shared<nn::Linear>(2 * 4 * 4, 3, gen, nn::Init{nn::InitScheme::xavier, 0},
                                     float64));
  s.add(std::make_shared<nn::Sigmoid>());
  s.add(std::make_shared<nn::LeakyReLU>(0.1));
  CHECK(s(randn({2, 1, 4, 4}, gen, float64)).shape() == Shape{2, 3});
  check_module(s, randn({2, 1, 4, 4}, gen, float64), 1e-6);
  nn::ResidualBlock rb(2, 3, 2, gen, float64);
  Tensor x = randn({2, 2, 4, 4}, gen, float64);
  CHECK(rb(x).shape() == Shape{2, 3, 2, 2});
  rb.eval();  // batch statistics make train mode a function of the whole batch; check eval too
  check_module(rb, x, 1e-6);
  rb.train();
  check_module(rb, x, 1e-5);
}

TEST_CASE("layers: GELU, SiLU and ELU apply their functions and pass check_module") {
  Generator gen(6);
  const Tensor x = randn({3, 5}, gen, float64);
  CHECK(max(abs(nn::GELU()(x) - gelu(x))).item() == 0);
  CHECK(max(abs(nn::GELU("tanh")(x) - gelu(x, "tanh"))).item() == 0);
  CHECK(max(abs(nn::SiLU()(x) - silu(x))).item() == 0);
  CHECK(max(abs(nn::ELU(0.5)(x) - elu(x, 0.5))).item() == 0);
  CHECK(nn::GELU().type_name() == "GELU");
  CHECK(nn::SiLU().type_name() == "SiLU");
  CHECK(nn::ELU().type_name() == "ELU");
  CHECK_THROWS_WITH_AS(nn::GELU("fast"), doctest::Contains("gelu: approximate"),
                       std::invalid_argument);
  nn::Sequential s;
  s.add(std::make_shared<nn::Linear>(5, 4, gen, nn::Init{nn::InitScheme::xavier, 0}, float64));
  s.add(std::make_shared<nn::GELU>());
  s.add(std::make_shared<nn::Linear>(4, 4, gen, nn::Init{nn::InitScheme::xavier, 0}, float64));
  s.add(std::make_shared<nn::SiLU>());
  s.add(std::make_shared<nn::ELU>());
  check_module(s, x, 1e-6);
}

TEST_CASE("layers: Embedding looks up rows and trains them") {
  Generator gen(7);
  nn::Embedding emb(5, 3, gen, float64);
  CHECK(emb.type_name() == "Embedding");
  CHECK(emb.describe() == "Embedding(5, 3)");
  const Tensor idx = tensor({4, 0, 4}, {3}, float64);
  const Tensor out = emb(idx);
  CHECK(out.shape() == Shape{3, 3});
  CHECK(max(abs(slice(out, 0, 0, 1) - slice(emb.weight, 0, 4, 5))).item() == 0);
  out.sum().backward();
  const std::vector<double> g = emb.weight.grad().to_vector();
  CHECK(g == std::vector<double>{1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2});
  CHECK_THROWS_AS(emb(tensor({5}, {1}, float64)), std::out_of_range);
  CHECK_THROWS_WITH_AS(nn::Embedding(0, 3, gen), doctest::Contains("must be positive"),
                       std::invalid_argument);
  CHECK(emb.named_parameters().size() == 1);
}

TEST_CASE("layers: pooling options as torch.nn's, and AdaptiveMaxPool2d") {
  Generator gen(9);
  const Tensor x = randn({2, 3, 7, 7}, gen, float64);
  nn::MaxPool2d plain(2);
  CHECK(plain.describe() == "MaxPool2d(2x2, stride 2)");
  nn::MaxPool2d mp({.kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true});
  CHECK(mp.describe() == "MaxPool2d(3x3, stride 2, padding 1x1, ceil_mode)");
  CHECK(max(abs(mp(x) - max_pool2d(x, 3, 2, 1, true))).item() == 0);
  nn::AvgPool2d ap({.kernel_size = {3, 2}, .ceil_mode = true, .count_include_pad = false});
  CHECK(ap.describe() == "AvgPool2d(3x2, stride 3x2, ceil_mode, count_include_pad=false)");
  CHECK(max(abs(ap(x) - avg_pool2d(x, Size2{3, 2}, Size2{3, 2}, 0, true, false))).item() == 0);
  CHECK_THROWS_WITH_AS(nn::MaxPool2d({.kernel_size = 0}),
                       doctest::Contains("MaxPool2d: kernel_size (0, 0) and stride (0, 0) must be "
                                         "positive"),
                       std::invalid_argument);
  nn::AdaptiveMaxPool2d amp(Size2{2, 3});
  CHECK(amp.describe() == "AdaptiveMaxPool2d(2x3)");
  CHECK(max(abs(amp(x) - adaptive_max_pool2d(x, Size2{2, 3}))).item() == 0);
}

TEST_CASE("layers: Concat runs its branches on one input and joins them, Inception-style") {
  Generator gen(13);
  nn::Concat inception;
  auto b1 = inception.add(
      std::make_shared<nn::Conv2d>(3, 2, 1, gen, nn::Conv2dOptions{.dtype = float64}), "branch1");
  auto b2 = std::make_shared<nn::Sequential>();
  b2->add(std::make_shared<nn::Conv2d>(3, 1, 1, gen, nn::Conv2dOptions{.dtype = float64}));
  b2->add(std::make_shared<nn::ReLU>());
  b2->add(std::make_shared<nn::Conv2d>(1, 4, 3, gen,
                                       nn::Conv2dOptions{.padding = 1, .dtype = float64}));
  inception.add(b2, "branch2");
  inception.add(std::make_shared<nn::MaxPool2d>(
                    nn::Pool2dOptions{.kernel_size = 3, .stride = 1, .padding = 1}),
                "branch3");
  const Tensor x = randn({2, 3, 4, 4}, gen, float64);
  const Tensor y = inception(x);
  CHECK(y.shape() == Shape{2, 2 + 4 + 3, 4, 4});
  CHECK(max(abs(y - concat({(*b1)(x), (*b2)(x), max_pool2d(x, 3, 1, 1)}, 1))).item() == 0.0);
  std::vector<std::string> names;
  for (const auto& [n, t] : inception.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"branch1.weight", "branch1.bias", "branch2.0.weight",
                                          "branch2.0.bias", "branch2.2.weight", "branch2.2.bias"});
  CHECK(inception.describe() ==
        "Concat(Conv2d(3 -> 2, 1x1, stride 1, padding 0), Sequential(Conv2d(3 -> 1, 1x1, stride "
        "1, padding 0), ReLU, Conv2d(1 -> 4, 3x3, stride 1, padding 1)), MaxPool2d(3x3, stride "
        "1, padding 1x1))");
  check_module(inception, x, 1e-6);
  // Along another axis, and the errors.
  nn::Concat rows(0);
  rows.add(std::make_shared<nn::ReLU>());
  rows.add(std::make_shared<nn::Tanh>());
  CHECK(rows.describe() == "Concat(ReLU, Tanh, axis=0)");
  CHECK(rows(x).shape() == Shape{4, 3, 4, 4});
  CHECK_THROWS_WITH_AS(nn::Concat()(x), "Concat: no branches to run", std::invalid_argument);
  nn::Concat mismatched;
  mismatched.add(std::make_shared<nn::ReLU>());
  mismatched.add(std::make_shared<nn::MaxPool2d>(2));
  CHECK_THROWS_AS(mismatched(x), std::invalid_argument);  // (2,3,4,4) and (2,3,2,2)
}

TEST_CASE("layers: LocalResponseNorm is the op, with no parameters") {
  Generator gen(12);
  nn::LocalResponseNorm lrn(5, 1e-4, 0.75, 2.0);  // AlexNet's
  CHECK(lrn.describe() == "LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=2)");
  CHECK(lrn.named_parameters().empty());
  const Tensor x = randn({2, 6, 3, 3}, gen, float64) * 10.0;
  CHECK(max(abs(lrn(x) - local_response_norm(x, 5, 1e-4, 0.75, 2.0))).item() == 0.0);
  nn::LocalResponseNorm strong(3, 0.9, 0.75);
  check_module(strong, randn({2, 4, 2, 2}, gen, float64));
  CHECK_THROWS_WITH_AS(nn::LocalResponseNorm(0), "LocalResponseNorm: size must be positive, got 0",
                       std::invalid_argument);
}

TEST_CASE("layers: GroupNorm and AdaptiveAvgPool2d, and their PyTorch names") {
  Generator gen(8);
  nn::GroupNorm gn(2, 4, 1e-5, float64);
  CHECK(gn.describe() == "GroupNorm(2, 4)");
  const Tensor x = randn({2, 4, 3, 3}, gen, float64);
  CHECK(max(abs(gn(x) - group_norm(x, 2, gn.gamma, gn.beta))).item() == 0);
  check_module(gn, x, 1e-6);
  CHECK_THROWS_WITH_AS(nn::GroupNorm(3, 4), "GroupNorm: 4 channels cannot be split into 3 groups",
                       std::invalid_argument);
  nn::AdaptiveAvgPool2d pool(Size2{1, 1});
  CHECK(pool(x).shape() == Shape{2, 4, 1, 1});
  CHECK(pool.describe() == "AdaptiveAvgPool2d(1x1)");
  nn::Sequential s;
  s.add(std::make_shared<nn::GroupNorm>(2, 4, 1e-5, float64));
  s.add(std::make_shared<nn::GELU>());
  s.add(std::make_shared<nn::AdaptiveAvgPool2d>(Size2{1, 1}));
  s.add(std::make_shared<nn::Flatten>());
  s.add(std::make_shared<nn::Linear>(4, 2, gen, nn::Init{}, float64));
  std::vector<std::string> names;
  for (const auto& [name, t] : nn::pytorch_state_dict(s)) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "4.weight", "4.bias"});
}

TEST_CASE("layers: Conv2d with a (kh, kw) kernel and per-axis stride, padding and dilation") {
  Generator gen(11);
  // A 1x3 kernel of ones, padding (0, 1): each output is the sum of a pixel and its row
  // neighbours (zero past the edges).
  nn::Conv2d row_sum(1, 1, {1, 3}, gen, {.padding = {0, 1}, .dtype = float64, .bias = false});
  CHECK(row_sum.weight.shape() == Shape{1, 1, 1, 3});
  row_sum.weight.detach().fill_(1.0);
  const Tensor img = tensor({1, 2, 3, 4, 5, 6}, {1, 1, 2, 3}, float64);
  CHECK(row_sum(img).to_vector() == std::vector<double>{3, 6, 5, 9, 15, 11});
  CHECK(row_sum.describe() == "Conv2d(1 -> 1, 1x3, stride 1, padding 0x1)");
  // Inception v3's factorized pair, and every setting different per axis, against gradcheck.
  nn::Conv2d tall(3, 4, {3, 1}, gen, {.padding = {1, 0}, .dtype = float64});
  nn::Conv2d odd(3, 2, {3, 2}, gen,
                 {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .dtype = float64});
  CHECK(odd.weight.shape() == Shape{2, 3, 3, 2});
  CHECK(odd.describe() == "Conv2d(3 -> 2, 3x2, stride 2x1, padding 1x0, dilation 1x2)");
  const Tensor x = randn({2, 3, 5, 6}, gen, float64);
  CHECK(tall(x).shape() == Shape{2, 4, 5, 6});
  // Height (5 + 2 - 3) / 2 + 1 = 3; width (6 - (2 - 1) * 2 - 1) / 1 + 1 = 4.
  CHECK(odd(x).shape() == Shape{2, 2, 3, 4});
  check_module(tall, x, 1e-6);
  check_module(odd, x, 1e-6);
  // The same as the op with the layer's weights.
  const Tensor want = conv2d(x, odd.weight, odd.bias, {2, 1}, {1, 0}, {1, 2});
  CHECK(max(abs(odd(x) - want)).item() == 0.0);
  // He init uses fan_in = in * kh * kw (= 9 here): the weights' std is sqrt(2 / 9).
  nn::Conv2d wide(1, 2000, {3, 3}, gen, {.init = {nn::InitScheme::he, 0}, .dtype = float64});
  nn::Conv2d flat(3, 2000, {1, 3}, gen, {.init = {nn::InitScheme::he, 0}, .dtype = float64});
  for (nn::Conv2d* c : {&wide, &flat}) {
    const double sd = std::sqrt(mean(c->weight * c->weight).item());
    CHECK(sd == doctest::Approx(std::sqrt(2.0 / 9)).epsilon(0.03));  // 18000 samples: ~0.5%
  }
  CHECK_THROWS_WITH_AS(nn::Conv2d(3, 2, {3, 0}, gen),
                       "Conv2d: kernel_size (3, 0), stride (1, 1) and dilation (1, 1) must be "
                       "positive, padding (0, 0) not negative",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Conv2d(3, 2, 3, gen, {.stride = {1, 0}}),
                       "Conv2d: kernel_size (3, 3), stride (1, 0) and dilation (1, 1) must be "
                       "positive, padding (0, 0) not negative",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::Conv2d(3, 2, 3, gen, {.padding = {-1, 0}}),
                       "Conv2d: kernel_size (3, 3), stride (1, 1) and dilation (1, 1) must be "
                       "positive, padding (-1, 0) not negative",
                       std::invalid_argument);
  // Too small an input: the op's error names it.
  nn::Conv2d unpadded(3, 2, {3, 2}, gen, {.dtype = float64});
  CHECK_THROWS_WITH_AS(unpadded(randn({1, 3, 2, 4}, gen, float64)),
                       "conv2d: kernel 3x2 (weight (2, 3, 3, 2)) is larger than the padded input "
                       "2x4 (input (1, 3, 2, 4), padding (0, 0))",
                       std::invalid_argument);
}

TEST_CASE("layers: Conv2d with dilation and groups, Conv1d, ConvTranspose2d") {
  Generator gen(9);
  nn::Conv2d grouped(4, 6, 3, gen, {.padding = 2, .dilation = 2, .groups = 2, .dtype = float64});
  CHECK(grouped.weight.shape() == Shape{6, 2, 3, 3});
  CHECK(grouped.describe() == "Conv2d(4 -> 6, 3x3, stride 1, padding 2, dilation 2, groups 2)");
  const Tensor x = randn({2, 4, 5, 5}, gen, float64);
  CHECK(grouped(x).shape() == Shape{2, 6, 5, 5});
  check_module(grouped, x, 1e-6);
  CHECK_THROWS_WITH_AS(nn::Conv2d(4, 6, 3, gen, {.groups = 4}),
                       "Conv2d: 4 input and 6 output channels cannot be split into 4 groups",
                       std::invalid_argument);
  nn::Conv1d c1(4, 3, 3, gen, {.stride = 2, .padding = 1, .dtype = float64});
  CHECK(c1.weight.shape() == Shape{3, 4, 3});
  const Tensor seq = randn({2, 4, 9}, gen, float64);
  CHECK(c1(seq).shape() == Shape{2, 3, 5});
  check_module(c1, seq, 1e-6);
  CHECK(c1.describe() == "Conv1d(4 -> 3, 3, stride 2, padding 1)");
  // Conv1dOptions: dilation and groups along the length, (out, in / groups, k) weights.
  nn::Conv1d c1g(
      4, 6, 3, gen,
      nn::Conv1dOptions{.padding = 2, .dilation = 2, .groups = 2, .dtype = float64, .bias = false});
  CHECK(c1g.weight.shape() == Shape{6, 2, 3});
  CHECK(!c1g.bias.defined());
  CHECK(c1g.describe() == "Conv1d(4 -> 6, 3, stride 1, padding 2, dilation 2, groups 2)");
  CHECK(c1g(seq).shape() == Shape{2, 6, 9});
  check_module(c1g, seq, 1e-6);
  CHECK_THROWS_WITH_AS(nn::Conv1d(4, 6, 3, gen, {.groups = 3}),
                       "Conv1d: 4 input and 6 output channels cannot be split into 3 groups",
                       std::invalid_argument);
  nn::ConvTranspose2d up(4, 2, 3, gen,
                         {.stride = 2, .padding = 1, .output_padding = 1, .dtype = float64});
  CHECK(up.weight.shape() == Shape{4, 2, 3, 3});
  CHECK(up(x).shape() == Shape{2, 2, 10, 10});  // doubles the resolution
  check_module(up, x, 1e-6);
  nn::Sequential s;
  s.add(std::make_shared<nn::ConvTranspose2d>(4, 2, 3, gen,
                                              nn::ConvTranspose2dOptions{.dtype = float64}));
  s.add(std::make_shared<nn::SiLU>());
  std::vector<std::string> names;
  for (const auto& [name, t] : nn::pytorch_state_dict(s)) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias"});
}

TEST_CASE("layers: init schemes have the promised scale") {
  Generator gen(5);
  auto std_of = [](const Tensor& t) { return std::sqrt(var(t, false).item()); };
  Tensor g = nn::init_weight({200, 300}, 200, 300, {nn::InitScheme::gaussian, 0.05}, gen);
  CHECK(std_of(g) == doctest::Approx(0.05).epsilon(0.03));
  Tensor xv = nn::init_weight({200, 300}, 200, 300, {nn::InitScheme::xavier, 0}, gen);
  CHECK(std_of(xv) == doctest::Approx(std::sqrt(2.0 / 500)).epsilon(0.03));
  Tensor he = nn::init_weight({200, 300}, 200, 300, {nn::InitScheme::he, 0}, gen);
  CHECK(std_of(he) == doctest::Approx(std::sqrt(2.0 / 200)).epsilon(0.03));
  Tensor lc = nn::init_weight({200, 300}, 200, 300, {nn::InitScheme::lecun, 0}, gen);
  CHECK(std_of(lc) == doctest::Approx(std::sqrt(1.0 / 200)).epsilon(0.03));
  CHECK(nn::parse_init_scheme("lecun") == nn::InitScheme::lecun);
  Tensor z = nn::init_weight({3, 4}, 3, 4, {nn::InitScheme::zeros, 0}, gen, float64);
  CHECK(z.to_vector() == std::vector<double>(12, 0.0));
  CHECK(z.dtype() == float64);
  CHECK(nn::parse_init_scheme("zeros") == nn::InitScheme::zeros);
  CHECK_THROWS_WITH_AS(
      nn::parse_init_scheme("kaiming"),
      "unknown init scheme 'kaiming' (expected gaussian, xavier, he, lecun or zeros)",
      std::invalid_argument);
}
