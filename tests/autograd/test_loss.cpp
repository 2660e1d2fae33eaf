#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/ops/loss.h"
#include "dagrad/autograd/ops/softmax.h"

#include "tests/op_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;

namespace {

const Reduction all_reductions[] = {Reduction::mean, Reduction::sum, Reduction::none};

// The 3x4 example used with PyTorch for reference values.
Tensor example_logits() {
  return tensor({1, 2, 3, 0.5, -1, 0.2, 0.3, 2, 0.1, -0.4, 1.5, 1}, {3, 4}, float64);
}
Tensor example_labels() { return tensor({2, 0, 3}, {3}, float32); }

}  // namespace

// ---------------------------------------------------------------- cross-entropy

TEST_CASE("loss: cross_entropy of uniform logits is log C") {
  for (Dtype dt : {float32, float64}) {
    Tensor x = zeros({4, 10}, dt);
    Tensor y = tensor({0, 3, 9, 5}, {4}, dt);
    CHECK(cross_entropy(x, y).item() == doctest::Approx(std::log(10.0)));
    CHECK(cross_entropy(x, y).shape() == Shape{});
    CHECK(cross_entropy(x, y, Reduction::sum).item() == doctest::Approx(4 * std::log(10.0)));
    Tensor none = cross_entropy(x, y, Reduction::none);
    CHECK(none.shape() == Shape{4});
    CHECK(none.dtype() == dt);
    check_values(none, std::vector<double>(4, std::log(10.0)), 1e-6);
  }
}

TEST_CASE("loss: cross_entropy values and gradient match PyTorch") {
  Tensor x = example_logits().requires_grad_();
  Tensor loss = cross_entropy(x, example_labels());
  CHECK(loss.item() == doctest::Approx(1.6633818737421013).epsilon(1e-12));
  check_values(cross_entropy(x, example_labels(), Reduction::none),
               {0.460773489157, 3.334877737971, 1.194494394099}, 1e-10);
  loss.backward();
  check_values(x.grad(),
               {0.028456297837, 0.077352237314, -0.123068152251, 0.017259617100, -0.321460353070,
                0.039419682695, 0.043565486914, 0.238475183462, 0.041044161476, 0.024894542338,
                0.166442282258, -0.232380986071},
               1e-9);
  // = (softmax - onehot) / N
  Tensor p = softmax(example_logits(), 1);
  Tensor g = grad({cross_entropy(x, example_labels())}, {x})[0];
  std::vector<double> want = p.to_vector();
  want[2] -= 1, want[4] -= 1, want[11] -= 1;
  for (double& e : want) e /= 3;
  check_values(g, want);
}

TEST_CASE("loss: cross_entropy with huge logits does not overflow") {
  Tensor x = tensor({1000, 0, -1000, 1000, 0, -1000}, {2, 3}, float32).requires_grad_();
  Tensor y = tensor({0, 1}, {2}, float32);
  Tensor l = cross_entropy(x, y, Reduction::none);
  check_values(l, {0, 1000}, 1e-6);
  cross_entropy(x, y).backward();
  for (double e : x.grad().to_vector()) CHECK(std::isfinite(e));
  check_values(x.grad(), {0, 0, 0, 0.5, -0.5, 0}, 1e-6);
  // equal huge logits: log 2
  Tensor z = tensor({1000, 1000}, {1, 2}, float64);
  CHECK(cross_entropy(z, tensor({1}, {1}, float64)).item() == doctest::Approx(std::log(2.0)));
}

TEST_CASE("loss: cross_entropy gradcheck for every reduction") {
  Tensor x = randn64({5, 4}, 1).requires_grad_();
  Tensor y = tensor({3, 0, 1, 1, 2}, {5}, float64);
  for (Reduction r : all_reductions)
    check_gradcheck([=](const std::vector<Tensor>& in) { return cross_entropy(in[0], y, r); }, {x});
}

TEST_CASE("loss: cross_entropy double backward: Hessian-vector product") {
  // H = (1/N) blockdiag(diag(p_i) - p_i p_i^T) for the mean
  Tensor x = example_logits().requires_grad_();
  Tensor v = randn64({3, 4}, 2);
  Tensor hv = hess_vec([](const Tensor& t) { return cross_entropy(t, example_labels()); }, x, v);
  const std::vector<double> p = softmax(example_logits(), 1).to_vector(), vv = v.to_vector();
  std::vector<double> want;
  for (int i = 0; i < 3; ++i) {
    double pv = 0;
    for (int c = 0; c < 4; ++c) pv += p[i * 4 + c] * vv[i * 4 + c];
    for (int c = 0; c < 4; ++c)
      want.push_back((p[i * 4 + c] * vv[i * 4 + c] - p[i * 4 + c] * pv) / 3);
  }
  check_values(hv, want, 1e-10);
  // reduction none with a weighted upstream: the second derivatives match central differences
  Tensor w = tensor({1, -2, 0.5}, {3}, float64);
  check_gradcheck(
      [=](const std::vector<Tensor>& in) {
        enable_grad on;
        Tensor l = sum(cross_entropy(in[0], example_labels(), Reduction::none) * w);
        return grad({l}, {in[0]}, {}, create_graph())[0];
      },
      {x});
}

TEST_CASE("loss: cross_entropy forward mode matches reverse mode") {
  Tensor x = randn64({3, 4}, 5), t = randn64({3, 4}, 6);
  for (Reduction r : all_reductions) {
    Tensor out = cross_entropy(dual(x, t), example_labels(), r);
    REQUIRE(out.tangent().defined());
    Tensor w = r == Reduction::none ? randn64({3}, 7) : scalar_tensor(1.0, float64);
    Tensor xl = x.detach().requires_grad_();
    Tensor gx = grad({sum(cross_entropy(xl, example_labels(), r) * w)}, {xl})[0];
    CHECK(sum(out.tangent() * w).item() == doctest::Approx(sum(gx * t).item()).epsilon(1e-10));
  }
}

TEST_CASE("loss: cross_entropy errors name the op, the value and C") {
  Tensor x = zeros({4, 5}, float64);
  CHECK_THROWS_WITH_AS(
      cross_entropy(x, tensor({0, 1, 7, 2}, {4})),
      doctest::Contains("cross_entropy: label 7 at index 2 is out of range for 5 classes"),
      std::out_of_range);
  CHECK_THROWS_WITH_AS(cross_entropy(x, tensor({0, -1, 1, 2}, {4})), doctest::Contains("label -1"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(cross_entropy(x, tensor({0, 5, 1, 2}, {4})), doctest::Contains("5 classes"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(cross_entropy(x, tensor({0, 1.5, 1, 2}, {4})),
                       doctest::Contains("cross_entropy: label 1.5 at index 1 is not an integer"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(x, tensor({0, 1, 2}, {3})),
                       doctest::Contains("cross_entropy: labels of shape (3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(x, zeros({4, 1})), doctest::Contains("cross_entropy: labels"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(zeros({5}), tensor({0})),
                       doctest::Contains("cross_entropy: scores must be 2-D"),
                       std::invalid_argument);
}

// ---------------------------------------------------------------- multiclass SVM

TEST_CASE("loss: svm_loss values and gradient (cs231n)") {
  Tensor s = example_logits().requires_grad_();
  Tensor y = example_labels();
  // row 0: margins -1, 0 (at the kink: no loss, no gradient), -1.5 -> 0
  // row 1: 2.2 + 2.3 + 4 = 8.5;  row 2: 0.1 + 0 + 1.5 = 1.6
  check_values(svm_loss(s, y, 1.0, Reduction::none), {0, 8.5, 1.6});
  Tensor l = svm_loss(s, y);
  CHECK(l.item() == doctest::Approx(10.1 / 3));
  CHECK(svm_loss(s, y, 1.0, Reduction::sum).item() == doctest::Approx(10.1));
  l.backward();
  check_values(s.grad(),
               {0, 0, 0, 0, -1, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3, -2.0 / 3});
  // a larger margin turns on more terms
  check_values(svm_loss(s, y, 2.0, Reduction::none), {1, 11.5, 4.2});
  // float32
  CHECK(svm_loss(example_logits().to(float32), y).item() == doctest::Approx(10.1 / 3));
}

TEST_CASE("loss: svm_loss gradcheck, double backward and forward mode") {
  Tensor s = randn64({6, 5}, 11).requires_grad_();
  Tensor y = tensor({0, 4, 2, 2, 1, 3}, {6}, float64);
  for (Reduction r : all_reductions)
    check_gradcheck([=](const std::vector<Tensor>& in) { return svm_loss(in[0], y, 1.0, r); }, {s});
  check_gradcheck([=](const std::vector<Tensor>& in) { return svm_loss(in[0], y, 0.5); }, {s});
  // piecewise linear in s (zero Hessian), but under create_graph the gradient stays linked
  // to the upstream gradient: with loss * c, d/dc <grad_s, v> = <grad_s(c = 1), v>
  {
    Tensor c = scalar_tensor(1.5, float64).requires_grad_();
    Tensor v = randn64({6, 5}, 12);
    Tensor gs = grad({svm_loss(s, y) * c}, {s}, {}, create_graph())[0];
    REQUIRE(gs.requires_grad());
    auto second = grad({sum(gs * v)}, {s, c});
    check_values(second[0], std::vector<double>(30, 0.0));
    Tensor g1 = grad({svm_loss(s, y)}, {s})[0];
    CHECK(second[1].item() == doctest::Approx(sum(g1 * v).item()).epsilon(1e-12));
    CHECK(hvp([&](const Tensor& t) { return svm_loss(t, y); }, s, v).to_vector() ==
          std::vector<double>(30, 0.0));
  }
  // forward mode
  Tensor t = randn64({6, 5}, 13);
  Tensor out = svm_loss(dual(s, t), y);
  REQUIRE(out.tangent().defined());
  Tensor g = grad({svm_loss(s, y)}, {s})[0];
  CHECK(out.tangent().item() == doctest::Approx(sum(g * t).item()).epsilon(1e-12));
}

TEST_CASE("loss: svm_loss errors") {
  CHECK_THROWS_WITH_AS(
      svm_loss(zeros({2, 3}), tensor({0, 3}, {2})),
      doctest::Contains("svm_loss: label 3 at index 1 is out of range for 3 classes"),
      std::out_of_range);
  CHECK_THROWS_WITH_AS(svm_loss(zeros({2, 3}), tensor({0, 1, 2}, {3})),
                       doctest::Contains("svm_loss: labels of shape (3"), std::invalid_argument);
}

// ---------------------------------------------------------------- binary logistic

TEST_CASE("loss: binary_logistic_loss values and gradient match PyTorch") {
  Tensor z = tensor({0.5, -1.2, 3.0, -0.3}, {4}, float64).requires_grad_();
  Tensor y = tensor({1, 0, 0, 1}, {4}, float64);
  Tensor l = binary_logistic_loss(z, y);
  CHECK(l.item() == doctest::Approx(1.1600755118901018).epsilon(1e-12));
  l.backward();
  check_values(z.grad(), {-0.094385167200, 0.057868804125, 0.238143531706, -0.143610629203}, 1e-9);
  // (N, 1) logits keep their shape with reduction none; labels may be (N) or (N, 1)
  Tensor z2 = tensor({0.5, -1.2, 3.0, -0.3}, {4, 1}, float64);
  Tensor none = binary_logistic_loss(z2, y, Reduction::none);
  CHECK(none.shape() == Shape{4, 1});
  CHECK(binary_logistic_loss(z2, y.reshape({4, 1}), Reduction::sum).item() ==
        doctest::Approx(4 * 1.1600755118901018));
}

namespace {
// Element by element on purpose: GCC 12.2 with -march=native (AVX-512) miscompiles a constant
// list {1000, 1000, 0, 0} built in a loop or repeated call into {1000, 1000, 1000, 1000}
// (SLP vectorizer; fine with -fno-tree-slp-vectorize).
void check_logistic_large(Dtype dt) {
  Tensor z = tensor({1000, -1000, 1000, -1000}, {4}, dt).requires_grad_();
  Tensor y = tensor({0, 1, 1, 0}, {4}, dt);
  const std::vector<double> loss = binary_logistic_loss(z, y, Reduction::none).to_vector();
  REQUIRE(loss.size() == 4);
  CHECK(loss[0] == doctest::Approx(1000));
  CHECK(loss[1] == doctest::Approx(1000));
  CHECK(loss[2] == 0);
  CHECK(loss[3] == 0);
  binary_logistic_loss(z, y, Reduction::sum).backward();
  const std::vector<double> g = z.grad().to_vector();
  CHECK(g[0] == 1);
  CHECK(g[1] == -1);
  CHECK(g[2] == 0);
  CHECK(g[3] == 0);
}
}  // namespace

TEST_CASE("loss: binary_logistic_loss is stable for |z| ~ 1000") {
  check_logistic_large(float32);
  check_logistic_large(float64);
}

TEST_CASE("loss: binary_logistic_loss gradcheck, double backward, forward mode") {
  Tensor z = randn64({5}, 21).requires_grad_();
  Tensor y = tensor({1, 0, 0, 1, 1}, {5}, float64);
  for (Reduction r : all_reductions)
    check_gradcheck(
        [=](const std::vector<Tensor>& in) { return binary_logistic_loss(in[0], y, r); }, {z});
  check_gradcheck(
      [=](const std::vector<Tensor>& in) {
        return binary_logistic_loss(in[0], y.reshape({5, 1}));
      },
      {randn64({5, 1}, 22).requires_grad_()});
  // d^2/dz^2 = sigmoid(z)(1 - sigmoid(z)) / N
  Tensor v = randn64({5}, 23);
  Tensor hv = hess_vec([&](const Tensor& t) { return binary_logistic_loss(t, y); }, z, v);
  std::vector<double> want;
  for (int i = 0; i < 5; ++i) {
    const double s = 1 / (1 + std::exp(-z.to_vector()[i]));
    want.push_back(s * (1 - s) / 5 * v.to_vector()[i]);
  }
  check_values(hv, want, 1e-10);
  Tensor out = binary_logistic_loss(dual(z, v), y, Reduction::sum);
  Tensor g = grad({binary_logistic_loss(z, y, Reduction::sum)}, {z})[0];
  CHECK(out.tangent().item() == doctest::Approx(sum(g * v).item()).epsilon(1e-12));
}

TEST_CASE("loss: binary_logistic_loss errors") {
  CHECK_THROWS_WITH_AS(binary_logistic_loss(zeros({3}), tensor({0, 2, 1}, {3})),
                       doctest::Contains("binary_logistic_loss: label 2 at index 1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      binary_logistic_loss(zeros({3, 2}), tensor({0, 1, 1}, {3})),
      doctest::Contains("binary_logistic_loss: scores must have shape (N) or (N, 1)"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_logistic_loss(zeros({3}), tensor({0, 1}, {2})),
                       doctest::Contains("binary_logistic_loss: labels of shape (2"),
                       std::invalid_argument);
}

// ---------------------------------------------------------------- binary hinge

TEST_CASE("loss: binary_hinge_loss values and gradient") {
  Tensor s = tensor({0.5, -2, 0.3, 1.5}, {4}, float64).requires_grad_();
  Tensor y01 = tensor({1, 0, 0, 1}, {4}, float64);
  Tensor ypm = tensor({1, -1, -1, 1}, {4}, float64);
  check_values(binary_hinge_loss(s, y01, Reduction::none), {0.5, 0, 1.3, 0});
  CHECK(binary_hinge_loss(s, y01).item() == doctest::Approx(0.45));
  CHECK(binary_hinge_loss(s, ypm).item() == doctest::Approx(0.45));
  CHECK(binary_hinge_loss(s, ypm, Reduction::sum).item() == doctest::Approx(1.8));
  binary_hinge_loss(s, y01).backward();
  check_values(s.grad(), {-0.25, 0, 0.25, 0});
  // exactly at the kink (y s = 1): no loss and zero gradient
  Tensor k = tensor({1}, {1, 1}, float64).requires_grad_();
  binary_hinge_loss(k, tensor({1}, {1}, float64)).backward();
  CHECK(k.grad().item() == 0);
}

TEST_CASE("loss: binary_hinge_loss gradcheck, double backward, forward mode") {
  Tensor s = tensor({0.5, -2, 0.3, 1.5, -0.2}, {5, 1}, float64).requires_grad_();
  Tensor y = tensor({1, 0, 0, 1, 1}, {5}, float64);
  for (Reduction r : all_reductions)
    check_gradcheck([=](const std::vector<Tensor>& in) { return binary_hinge_loss(in[0], y, r); },
                    {s});
  Tensor v = randn64({5, 1}, 31);
  {
    // zero Hessian in s; the create_graph gradient is linear in the upstream scale c
    Tensor c = scalar_tensor(-2.0, float64).requires_grad_();
    Tensor gs = grad({binary_hinge_loss(s, y) * c}, {s}, {}, create_graph())[0];
    auto second = grad({sum(gs * v)}, {s, c});
    check_values(second[0], std::vector<double>(5, 0.0));
    Tensor g1 = grad({binary_hinge_loss(s, y)}, {s})[0];
    CHECK(second[1].item() == doctest::Approx(sum(g1 * v).item()).epsilon(1e-12));
  }
  Tensor out = binary_hinge_loss(dual(s, v), y);
  Tensor g = grad({binary_hinge_loss(s, y)}, {s})[0];
  CHECK(out.tangent().item() == doctest::Approx(sum(g * v).item()).epsilon(1e-12));
}

TEST_CASE("loss: binary_hinge_loss rejects other labels") {
  CHECK_THROWS_WITH_AS(binary_hinge_loss(zeros({3}), tensor({0, 2, 1}, {3})),
                       doctest::Contains("binary_hinge_loss: label 2 at index 1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_hinge_loss(zeros({3}), tensor({0, 0.5, 1}, {3})),
                       doctest::Contains("label 0.5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_hinge_loss(zeros({3}), tensor({0, -1, 1}, {3})),
                       doctest::Contains("binary_hinge_loss: labels mix 0 and -1"),
                       std::invalid_argument);
}

// ---------------------------------------------------------------- MSE

TEST_CASE("loss: mse_loss values, reductions and gradient") {
  Tensor p = tensor({1, 2, 3, 4.5}, {2, 2}, float64).requires_grad_();
  Tensor t = tensor({0, 2.5, 1, 4}, {2, 2}, float64).requires_grad_();
  Tensor l = mse_loss(p, t);
  CHECK(l.item() == doctest::Approx(1.375));  // PyTorch MSELoss: mean over all elements
  CHECK(mse_loss(p, t, Reduction::sum).item() == doctest::Approx(5.5));
  Tensor none = mse_loss(p, t, Reduction::none);
  CHECK(none.shape() == Shape{2, 2});
  check_values(none, {1, 0.25, 4, 0.25});
  l.backward();
  check_values(p.grad(), {0.5, -0.25, 1, 0.25});
  check_values(t.grad(), {-0.5, 0.25, -1, -0.25});
}

TEST_CASE("loss: mse_loss gradcheck, double backward, forward mode") {
  Tensor p = randn64({3, 4}, 41).requires_grad_();
  Tensor t = randn64({3, 4}, 42).requires_grad_();
  for (Reduction r : all_reductions)
    check_gradcheck([=](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], r); },
                    {p, t});
  // H = (2 / numel) I with respect to pred
  Tensor v = randn64({3, 4}, 43);
  Tensor hv = hess_vec([&](const Tensor& x) { return mse_loss(x, t.detach()); }, p, v);
  std::vector<double> want;
  for (double e : v.to_vector()) want.push_back(2.0 / 12 * e);
  check_values(hv, want, 1e-12);
  // forward mode with tangents on both sides
  Tensor tp = randn64({3, 4}, 44), tt = randn64({3, 4}, 45);
  Tensor out = mse_loss(dual(p, tp), dual(t, tt), Reduction::sum);
  auto gs = grad({mse_loss(p, t, Reduction::sum)}, {p, t});
  CHECK(out.tangent().item() ==
        doctest::Approx(sum(gs[0] * tp).item() + sum(gs[1] * tt).item()).epsilon(1e-12));
}

TEST_CASE("loss: mse_loss shapes must match exactly") {
  CHECK_THROWS_WITH_AS(mse_loss(zeros({2, 3}), zeros({3})),
                       doctest::Contains("mse_loss: pred shape (2, 3) and target shape (3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mse_loss(zeros({2, 1}), zeros({2})), doctest::Contains("match exactly"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mse_loss(zeros({2}, float32), zeros({2}, float64)),
                       doctest::Contains("mse_loss: dtype mismatch"), std::invalid_argument);
}

TEST_CASE("loss: losses are recorded as single fused ops") {
  Tensor x = example_logits().requires_grad_();
  CHECK(std::string(cross_entropy(x, example_labels()).grad_fn()->name) == "cross_entropy");
  CHECK(std::string(svm_loss(x, example_labels()).grad_fn()->name) == "svm_loss");
  CHECK_FALSE(cross_entropy(example_logits(), example_labels()).requires_grad());
}

TEST_CASE("loss: changing saved logits in place before backward is an error naming the op") {
  Tensor x = example_logits().requires_grad_();
  Tensor h = x * 1.0;
  Tensor l = cross_entropy(h, example_labels());
  {
    no_grad off;
    h.mul_(2.0);
  }
  CHECK_THROWS_WITH_AS(l.backward(), doctest::Contains("cross_entropy"), std::runtime_error);
}

// ---------------------------------------------------------------- composed losses (issue 13)

TEST_CASE("loss: nll, l1, smooth-l1, huber, kl_div and binary_cross_entropy match torch 1.13") {
  const Tensor lp = log_softmax(tensor({1, 2, 3, 0.5, -1, 0.2, 0.3, 2}, {2, 4}, float64), 1);
  const Tensor y = tensor({2, 0}, {2}, float64);
  CHECK(nll_loss(lp, y).item() == doctest::Approx(1.8978256135638731).epsilon(1e-14));
  check_values(nll_loss(lp, y, Reduction::none), {0.4607734891568512, 3.334877737970895}, 1e-14);
  const Tensor p = tensor({0.5, -1.25, 2.0, 0.1}, {4}, float64);
  const Tensor t = tensor({0.3, -0.2, 0.7, 1.1}, {4}, float64);
  CHECK(l1_loss(p, t).item() == doctest::Approx(0.8875).epsilon(1e-14));
  check_values(smooth_l1_loss(p, t, Reduction::none, 0.5), {0.04, 0.8, 1.05, 0.75}, 1e-14);
  check_values(huber_loss(p, t, Reduction::none, 0.5), {0.02, 0.4, 0.525, 0.375}, 1e-14);
  check_values(smooth_l1_loss(p, t, Reduction::none, 0.0), abs(p - t).to_vector(), 1e-14);
  const Tensor q = tensor({0.2, 0.0, 0.5, 0.3}, {4}, float64);
  CHECK(kl_div(log(full({4}, 0.25, float64)), q, Reduction::sum).item() ==
        doctest::Approx(0.356641347055317).epsilon(1e-14));
  const Tensor pr = tensor({0.9, 0.2, 0.0, 1.0}, {4}, float64).requires_grad_();
  const Tensor tt = tensor({1.0, 0.0, 1.0, 0.5}, {4}, float64);
  // log clamped at -100; gradient with PyTorch's float epsilon at p = 0 and 1.
  check_values(binary_cross_entropy(pr, tt, Reduction::none),
               {0.10536051565782628, 0.2231435513142097, 100.0, 50.0}, 1e-14);
  binary_cross_entropy(pr, tt, Reduction::sum).backward();
  check_values(pr.grad(),
               {-1.1111111111111112, 1.2499999999999998, -1000000003995.8029, 500000001997.9014},
               1e-14);
  // mean over zero elements is NaN, as PyTorch; batchmean divides the sum by size(0).
  CHECK(std::isnan(l1_loss(zeros({0}, float64), zeros({0}, float64)).item()));
  CHECK(kl_div(zeros({2, 3}, float64), full({2, 3}, 0.5, float64), Reduction::batchmean).item() ==
        doctest::Approx(3 * 0.5 * std::log(0.5)));
}

TEST_CASE("loss: the composed losses' errors name the loss and the problem") {
  const Tensor a = zeros({2, 3}, float64), b = zeros({3, 2}, float64);
  CHECK_THROWS_WITH_AS(l1_loss(a, b),
                       doctest::Contains("l1_loss: input shape (2, 3) and target shape (3, 2)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(huber_loss(a, zeros({2, 3})),
                       doctest::Contains("huber_loss: dtype mismatch"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(huber_loss(a, a, Reduction::mean, 0), "huber_loss: delta must be > 0, got 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(smooth_l1_loss(a, a, Reduction::mean, -1),
                       "smooth_l1_loss: beta must be >= 0, got -1", std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_cross_entropy(full({2}, 1.5, float64), zeros({2}, float64)),
                       "binary_cross_entropy: input 1.5 at index 0 is not a probability in [0, 1]",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nll_loss(a, tensor({0, 3}, {2}, float64)), doctest::Contains("out of range"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(mse_loss(a, a, Reduction::batchmean),
                       "mse_loss: reduction batchmean is only for kl_div (use mean, sum or none)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(a, tensor({0, 1}, {2}, float64), Reduction::batchmean),
                       doctest::Contains("batchmean is only for kl_div"), std::invalid_argument);
}

TEST_CASE("loss: the composed losses: gradcheck, forward mode and double backward") {
  const Tensor t = randn64({3, 4}, 40), y = tensor({1, 3, 0}, {3}, float64);
  const Tensor probs = sigmoid(randn64({3, 4}, 41));
  const Tensor x = randn64({3, 4}, 42);
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    CAPTURE(static_cast<int>(r));
    check_all_orders([&](const Tensor& v) { return nll_loss(log_softmax(v, 1), y, r); }, x, 43);
    check_all_orders([&](const Tensor& v) { return l1_loss(v, t, r); }, x, 44);
    check_all_orders([&](const Tensor& v) { return smooth_l1_loss(v, t, r, 0.7); }, x, 45);
    check_all_orders([&](const Tensor& v) { return huber_loss(v, t, r, 0.6); }, x, 46);
    check_all_orders([&](const Tensor& v) { return kl_div(log_softmax(v, 1), softmax(t, 1), r); },
                     x, 47);
    check_all_orders([&](const Tensor& v) { return kl_div(v, t, r, true); }, x, 48);
    check_all_orders([&](const Tensor& v) { return binary_cross_entropy(sigmoid(v), probs, r); }, x,
                     49);
    // The targets' gradients too.
    check_all_orders([&](const Tensor& v) { return binary_cross_entropy(probs, sigmoid(v), r); }, x,
                     50);
    check_all_orders([&](const Tensor& v) { return kl_div(log_softmax(t, 1), softmax(v, 1), r); },
                     x, 51);
    check_all_orders([&](const Tensor& v) { return huber_loss(t, v, r); }, x, 52);
  }
}
