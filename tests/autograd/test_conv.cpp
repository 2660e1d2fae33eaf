#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/ops/conv.h"
#include "tests/error_of.h"
#include "tests/op_test_util.h"

using namespace dagrad;
using dagrad::test_util::error_of;

namespace {

struct Cfg {
  int64_t N, C, H, W, F, KH, KW;
  Size2 stride, pad;
};

int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t p) { return (in + 2 * p - k) / s + 1; }

// The naive 7-loop convolution (the course's conv_forward_naive), in double.
std::vector<double> naive_conv(const std::vector<double>& x, const std::vector<double>& w,
                               const std::vector<double>* b, const Cfg& c) {
  const int64_t OH = out_len(c.H, c.KH, c.stride.h, c.pad.h);
  const int64_t OW = out_len(c.W, c.KW, c.stride.w, c.pad.w);
  std::vector<double> out(c.N * c.F * OH * OW, 0.0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t f = 0; f < c.F; ++f)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          double acc = b ? (*b)[f] : 0.0;
          for (int64_t ch = 0; ch < c.C; ++ch)
            for (int64_t p = 0; p < c.KH; ++p)
              for (int64_t q = 0; q < c.KW; ++q) {
                const int64_t ih = i * c.stride.h - c.pad.h + p;
                const int64_t iw = j * c.stride.w - c.pad.w + q;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                acc += x[((n * c.C + ch) * c.H + ih) * c.W + iw] *
                       w[((f * c.C + ch) * c.KH + p) * c.KW + q];
              }
          out[((n * c.F + f) * OH + i) * OW + j] = acc;
        }
  return out;
}

// The naive backward (the course's conv_backward_naive): dx, dw, db from dout.
void naive_conv_backward(const std::vector<double>& x, const std::vector<double>& w,
                         const std::vector<double>& dout, const Cfg& c, std::vector<double>& dx,
                         std::vector<double>& dw, std::vector<double>& db) {
  const int64_t OH = out_len(c.H, c.KH, c.stride.h, c.pad.h);
  const int64_t OW = out_len(c.W, c.KW, c.stride.w, c.pad.w);
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  db.assign(c.F, 0.0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t f = 0; f < c.F; ++f)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          const double g = dout[((n * c.F + f) * OH + i) * OW + j];
          db[f] += g;
          for (int64_t ch = 0; ch < c.C; ++ch)
            for (int64_t p = 0; p < c.KH; ++p)
              for (int64_t q = 0; q < c.KW; ++q) {
                const int64_t ih = i * c.stride.h - c.pad.h + p;
                const int64_t iw = j * c.stride.w - c.pad.w + q;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const int64_t xi = ((n * c.C + ch) * c.H + ih) * c.W + iw;
                const int64_t wi = ((f * c.C + ch) * c.KH + p) * c.KW + q;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
        }
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

// Forward values and all three gradients against the naive loops.
void check_against_naive(const Cfg& c, bool with_bias, Dtype dt, uint64_t seed) {
  INFO("N C H W = ", c.N, " ", c.C, " ", c.H, " ", c.W, "; F KH KW = ", c.F, " ", c.KH, " ", c.KW,
       "; stride ", c.stride.h, " ", c.stride.w, "; pad ", c.pad.h, " ", c.pad.w, "; bias ",
       with_bias, "; float64 ", dt == float64);
  Generator gen(seed);
  Tensor x = randn({c.N, c.C, c.H, c.W}, gen, dt).requires_grad_();
  Tensor w = randn({c.F, c.C, c.KH, c.KW}, gen, dt).requires_grad_();
  Tensor b = randn({c.F}, gen, dt).requires_grad_();
  Tensor y = with_bias ? conv2d(x, w, b, c.stride, c.pad) : conv2d(x, w, c.stride, c.pad);
  const int64_t OH = out_len(c.H, c.KH, c.stride.h, c.pad.h);
  const int64_t OW = out_len(c.W, c.KW, c.stride.w, c.pad.w);
  REQUIRE(y.shape() == Shape{c.N, c.F, OH, OW});
  CHECK(y.dtype() == dt);
  const auto xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  const auto ref = naive_conv(xv, wv, with_bias ? &bv : nullptr, c);
  const double tol = dt == float64 ? 1e-12 : 1e-4;
  CHECK(max_abs_diff(y.to_vector(), ref) <= tol * (1 + max_abs(ref)));

  Tensor dout = randn(y.shape(), gen, dt);
  y.backward(dout);
  std::vector<double> dx, dw, db;
  naive_conv_backward(xv, wv, dout.to_vector(), c, dx, dw, db);
  CHECK(max_abs_diff(x.grad().to_vector(), dx) <= tol * (1 + max_abs(dx)));
  CHECK(max_abs_diff(w.grad().to_vector(), dw) <= tol * (1 + max_abs(dw)));
  if (with_bias) {
    CHECK(max_abs_diff(b.grad().to_vector(), db) <= tol * (1 + max_abs(db)));
  } else {
    CHECK_FALSE(b.grad().defined());
  }
}

}  // namespace

TEST_CASE("conv: hand-computed values") {
  // x = 0..15 in a 4x4 image, w = ones 2x2: every output is the sum of its window.
  Tensor x = arange(16, float64).reshape({1, 1, 4, 4});
  Tensor w = ones({1, 1, 2, 2}, float64);
  Tensor y = conv2d(x, w, tensor({0.5}, {1}, float64));
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});
  // window at (0,0): 0+1+4+5 = 10; the sums step by 4 along a row and 16 down a column
  CHECK(y.to_vector() == std::vector<double>{10.5, 14.5, 18.5, 26.5, 30.5, 34.5, 42.5, 46.5, 50.5});
  // stride 2, padding 1: windows at rows/cols -1, 1, 3
  Tensor z = conv2d(x, w, 2, 1);
  REQUIRE(z.shape() == Shape{1, 1, 3, 3});
  // (0,0): only x[0,0] = 0; (0,1): x[0,1]+x[0,2] = 3; (0,2): x[0,3] = 3
  // (1,0): x[1,0]+x[2,0] = 12; (1,1): 5+6+9+10 = 30; (1,2): 7+11 = 18
  // (2,0): x[3,0] = 12; (2,1): 13+14 = 27; (2,2): 15
  CHECK(z.to_vector() == std::vector<double>{0, 3, 3, 12, 30, 18, 12, 27, 15});
}

TEST_CASE("conv: output size follows PyTorch's floor rule") {
  CHECK(conv_output_size(28, 3, 1, 1) == 28);
  CHECK(conv_output_size(7, 3, 2, 1) == 4);
  CHECK(conv_output_size(6, 2, 3, 0) == 2);  // (6 - 2) / 3 + 1 = 2 (floor of 2.33)
  CHECK(conv_output_size(5, 5, 1, 0) == 1);
  Tensor y = conv2d(zeros({2, 3, 7, 6}), zeros({4, 3, 3, 2}), Size2{2, 3}, Size2{1, 0});
  CHECK(y.shape() == Shape{2, 4, 4, 2});
}

TEST_CASE("conv: values and gradients match the naive loops") {
  const std::vector<Cfg> cfgs = {
      {2, 3, 7, 6, 4, 3, 2, {1, 1}, {0, 0}},  // non-square kernel
      {2, 3, 7, 6, 4, 3, 3, {2, 2}, {1, 1}},  // stride 2, padding 1
      {3, 2, 8, 9, 3, 2, 3, {2, 1}, {1, 2}},  // different strides / paddings per axis
      {2, 4, 5, 5, 3, 1, 1, {1, 1}, {0, 0}},  // 1x1 (pointwise path)
      {2, 4, 5, 5, 3, 1, 1, {2, 2}, {1, 1}},  // 1x1 with stride and padding
      {2, 2, 5, 5, 3, 5, 5, {1, 1}, {0, 0}},  // kernel = image: 1x1 output
      {1, 2, 4, 4, 2, 5, 4, {3, 1}, {2, 1}},  // kernel larger than the image, fits the padding
      {3, 1, 9, 9, 2, 3, 3, {3, 3}, {0, 0}},  // stride = kernel
  };
  for (const Cfg& c : cfgs) {
    check_against_naive(c, true, float64, 1);
    check_against_naive(c, false, float64, 2);
    check_against_naive(c, true, float32, 3);
  }
}

TEST_CASE("conv: stride-1 lowering without a padded copy, at every width and padding") {
  // Stride 1 reads the unpadded image with masked rows: widths below, at and above one vector
  // (16 floats), paddings 0..3 (wider than the kernel's reach), non-square kernels.
  const std::vector<Cfg> cfgs = {
      {2, 3, 7, 7, 4, 3, 3, {1, 1}, {1, 1}},
      {2, 2, 5, 16, 3, 3, 3, {1, 1}, {1, 1}},
      {2, 2, 6, 17, 3, 3, 3, {1, 1}, {1, 1}},
      {1, 2, 4, 33, 2, 3, 5, {1, 1}, {0, 2}},
      {2, 2, 9, 20, 3, 5, 3, {1, 1}, {2, 0}},
      {1, 1, 6, 6, 2, 2, 2, {1, 1}, {3, 3}},
      {2, 3, 14, 14, 2, 3, 3, {1, 1}, {0, 0}},
      {1, 2, 3, 31, 2, 1, 4, {1, 1}, {0, 3}},
      // past the vector paths' limits (rows over 64, kernels wider than 8): the portable loops
      {1, 2, 3, 70, 2, 3, 3, {1, 1}, {1, 1}},
      {1, 1, 4, 12, 2, 1, 9, {1, 1}, {0, 4}},
  };
  for (const Cfg& c : cfgs) {
    check_against_naive(c, true, float32, 11);
    check_against_naive(c, false, float64, 12);
  }
}

TEST_CASE("conv: large batches (several images per GEMM, and one image per GEMM)") {
  // Small outputs: several images share one GEMM (about 512 output columns per GEMM), with a
  // remainder chunk of several images, and of a single image.
  check_against_naive({37, 2, 12, 12, 3, 3, 3, {2, 2}, {1, 1}}, true, float64, 5);
  check_against_naive({31, 2, 12, 12, 3, 3, 3, {2, 2}, {1, 1}}, true, float32, 8);
  check_against_naive({20, 3, 14, 14, 5, 3, 3, {1, 1}, {1, 1}}, false, float32, 9);
  // Big outputs: one image per GEMM.
  check_against_naive({6, 3, 32, 32, 4, 3, 3, {1, 1}, {1, 1}}, true, float32, 4);
  check_against_naive({2, 64, 32, 32, 2, 3, 3, {1, 1}, {1, 1}}, true, float32, 6);
  // Pointwise with a batch.
  check_against_naive({9, 8, 6, 6, 5, 1, 1, {1, 1}, {0, 0}}, false, float64, 7);
}

TEST_CASE("conv: gradcheck in float64 for x, w and b") {
  const std::vector<Cfg> cfgs = {
      {2, 2, 5, 6, 3, 3, 2, {1, 1}, {1, 0}},
      {2, 2, 7, 5, 2, 3, 3, {2, 1}, {1, 2}},
      {3, 3, 4, 4, 2, 1, 1, {1, 1}, {0, 0}},
  };
  // conv is linear in each input, so central differences are exact for any step: a large step
  // keeps the rounding noise of the finite differences far below the tolerance.
  GradcheckOptions opts;
  opts.eps = 1e-3;
  for (const Cfg& c : cfgs) {
    Generator gen(11);
    Tensor x = randn({c.N, c.C, c.H, c.W}, gen, float64).requires_grad_();
    Tensor w = randn({c.F, c.C, c.KH, c.KW}, gen, float64).requires_grad_();
    Tensor b = randn({c.F}, gen, float64).requires_grad_();
    auto r = gradcheck(
        [c](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.stride, c.pad); },
        {x, w, b}, opts);
    INFO(r.report());
    CHECK(r.passed);
    auto r2 = gradcheck(
        [c](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], c.stride, c.pad); },
        {x, w}, opts);
    INFO(r2.report());
    CHECK(r2.passed);
  }
}

TEST_CASE("conv: only the inputs that require grad get gradients") {
  Generator gen(3);
  Tensor x = randn({2, 2, 5, 5}, gen, float64);
  Tensor w = randn({3, 2, 3, 3}, gen, float64).requires_grad_();
  Tensor b = randn({3}, gen, float64);
  conv2d(x, w, b, 1, 1).sum().backward();
  CHECK(w.grad().defined());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(b.grad().defined());
  // sum(conv) w.r.t. w[f, c, p, q] = sum over n and valid windows of x: check one entry by hand
  // through the naive backward with dout = 1.
  std::vector<double> dx, dw, db;
  naive_conv_backward(x.to_vector(), w.to_vector(), std::vector<double>(2 * 3 * 25, 1.0),
                      {2, 2, 5, 5, 3, 3, 3, {1, 1}, {1, 1}}, dx, dw, db);
  CHECK(max_abs_diff(w.grad().to_vector(), dw) < 1e-12);
  // Only x: the input gradient alone.
  Tensor x2 = x.detach().requires_grad_();
  Tensor w2 = w.detach();
  conv2d(x2, w2, b, 1, 1).sum().backward();
  CHECK_FALSE(w2.grad().defined());
  CHECK(max_abs_diff(x2.grad().to_vector(), dx) < 1e-12);
}

TEST_CASE("conv: forward mode is bilinear") {
  Generator gen(5);
  const Cfg c{2, 2, 5, 6, 3, 3, 2, {2, 1}, {1, 1}};
  Tensor x = randn({c.N, c.C, c.H, c.W}, gen, float64);
  Tensor w = randn({c.F, c.C, c.KH, c.KW}, gen, float64);
  Tensor b = randn({c.F}, gen, float64);
  Tensor tx = randn(x.shape(), gen, float64), tw = randn(w.shape(), gen, float64),
         tb = randn(b.shape(), gen, float64);
  auto f = [c](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], in[2], c.stride, c.pad);
  };
  auto [y, ty] = jvp(MultiFn(f), {x, w, b}, {tx, tw, tb});
  // conv(x + h tx, w + h tw) - conv(x - h tx, w - h tw) = 2h (conv(tx, w) + conv(x, tw)) exactly
  // for a bilinear map, so the central difference with h = 1 is the exact tangent.
  Tensor ref = (f({x + tx, w + tw, b + tb}) - f({x - tx, w - tw, b - tb})) * 0.5;
  CHECK(rel_error(ty, ref) < 1e-12);
  // Only x carries a tangent: t_out = conv(t_x, w).
  auto [y2, ty2] = jvp(MultiFn(f), {x, w, b}, {tx, Tensor(), Tensor()});
  CHECK(rel_error(ty2, conv2d(tx, w, c.stride, c.pad)) < 1e-12);
  CHECK(rel_error(y2, y) < 1e-15);
}

TEST_CASE("conv: double backward and forward mode through every input, stride and padding") {
  const Tensor x = test_util::randn64({2, 3, 5, 6}, 140), w = test_util::randn64({4, 3, 3, 2}, 141);
  const Tensor b = test_util::randn64({4}, 142);
  // ~100 outputs of size ~10: step 1e-4 keeps the rounding of sum(f * dout) in the
  // differences (~1e-16 |sum| / step) below atol (see check_all_orders).
  GradcheckOptions opts;
  opts.eps = 1e-4;
  for (auto [stride, padding] : {std::pair<Size2, Size2>{1, 0}, {Size2{2, 1}, Size2{1, 2}}}) {
    CAPTURE(stride.h);
    test_util::check_all_orders(
        [&](const Tensor& v) { return square(conv2d(v, w, b, stride, padding)); }, x, 143, opts);
    test_util::check_all_orders(
        [&](const Tensor& v) { return square(conv2d(x, v, b, stride, padding)); }, w, 144, opts);
    test_util::check_all_orders(
        [&](const Tensor& v) { return square(conv2d(x, w, v, stride, padding)); }, b, 145, opts);
    // x used twice, with and without bias.
    test_util::check_all_orders(
        [&](const Tensor& v) {
          return conv2d(v, w, Tensor(), stride, padding) * conv2d(v, w, b, stride, padding);
        },
        x, 146, opts);
  }
  // The backward ops carry their names into the graph under create_graph.
  const Tensor xl = x.detach().requires_grad_();
  const Tensor gx =
      dagrad::grad({sum(square(conv2d(xl, w)))}, {xl}, {}, test_util::create_graph())[0];
  CHECK(std::string(gx.grad_fn()->name) == "conv2d_backward_input");
}

TEST_CASE("conv: a WGAN-GP gradient penalty trains through the convnet's input gradient") {
  // penalty = (||d D(x) / dx|| - 1)^2 for a critic D = sum(relu(conv(x)) * v) with a pool:
  // its gradient with respect to the critic's weight needs double backward through conv2d,
  // relu and max_pool2d.
  const Tensor x = test_util::randn64({2, 1, 6, 6}, 150).requires_grad_();
  const Tensor w0 = test_util::randn64({3, 1, 3, 3}, 151),
               v = test_util::randn64({2, 3, 2, 2}, 152);
  auto penalty = [&](const Tensor& w) {
    enable_grad on;  // gradcheck evaluates its differences under no_grad
    const Tensor critic = sum(max_pool2d(relu(conv2d(x, w, Tensor(), 1, 1)), 3) * v);
    const Tensor gx = dagrad::grad({critic}, {x}, {}, test_util::create_graph())[0];
    return square(norm(gx) - 1.0);
  };
  test_util::check_gradcheck([&](const std::vector<Tensor>& in) { return penalty(in[0]); },
                             {w0.detach().requires_grad_()});
}
TEST_CASE("conv: errors name the op and the shapes") {
  Tensor x = zeros({2, 3, 5, 5}), w = zeros({4, 3, 3, 3});
  CHECK(error_of([&] {
          conv2d(zeros({3, 5, 5}), w);
        }) == "conv2d: input must be 4-D (N, C, H, W), got shape (3, 5, 5)");
  CHECK(error_of([&] {
          conv2d(x, zeros({4, 3, 3}));
        }) == "conv2d: weight must be 4-D (F, C, KH, KW), got shape (4, 3, 3)");
  CHECK(error_of([&] {
          conv2d(x, zeros({4, 2, 3, 3}));
        }) == "conv2d: input (2, 3, 5, 5) has 3 channels but weight (4, 2, 3, 3) expects 2");
  CHECK(error_of([&] { conv2d(x, w, zeros({3})); }) ==
        "conv2d: bias must have shape (4,) for weight (4, 3, 3, 3), got (3,)");
  CHECK(error_of([&] { conv2d(x, w, 0, 1); }) == "conv2d: stride must be positive, got (0, 0)");
  CHECK(error_of([&] {
          conv2d(x, w, Size2{1, -1}, 1);
        }) == "conv2d: stride must be positive, got (1, -1)");
  CHECK(error_of([&] {
          conv2d(x, w, 1, Size2{0, -1});
        }) == "conv2d: padding must be non-negative, got (0, -1)");
  CHECK(error_of([&] {
          conv2d(zeros({1, 3, 2, 5}), w);
        }) ==
        "conv2d: kernel 3x3 (weight (4, 3, 3, 3)) is larger than the padded input 2x5 (input "
        "(1, 3, 2, 5), padding (0, 0))");
  CHECK(error_of([&] { conv2d(zeros({1, 3, 1, 1}), w, 1, 1); }) == "(no error)");  // 3x3 fits
  CHECK(error_of([&] {
          conv2d(x, zeros({4, 3, 3, 3}, float64));
        }).find("conv2d: dtype mismatch") == 0);
}

namespace {
// out[n, f, i, j] = b[f] + sum over c in f's group, p, q of
//   x[n, c, i sh - ph + p dh, j sw - pw + q dw] w[f, c - group start, p, q]  (zero padding)
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, Size2 s, Size2 p, Size2 d,
                  int64_t groups) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t F = w.size(0), CG = w.size(1), KH = w.size(2), KW = w.size(3);
  const int64_t OH = (H + 2 * p.h - d.h * (KH - 1) - 1) / s.h + 1;
  const int64_t OW = (W + 2 * p.w - d.w * (KW - 1) - 1) / s.w + 1;
  const std::vector<double> xv = x.to_vector(), wv = w.to_vector();
  std::vector<double> out(N * F * OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t f = 0; f < F; ++f)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          double acc = b.defined() ? b.to_vector()[f] : 0.0;
          const int64_t c0 = f / (F / groups) * CG;
          for (int64_t c = 0; c < CG; ++c)
            for (int64_t q = 0; q < KH; ++q)
              for (int64_t r = 0; r < KW; ++r) {
                const int64_t y = i * s.h - p.h + q * d.h, z = j * s.w - p.w + r * d.w;
                if (y < 0 || y >= H || z < 0 || z >= W) continue;
                acc +=
                    xv[((n * C + c0 + c) * H + y) * W + z] * wv[((f * CG + c) * KH + q) * KW + r];
              }
          out[((n * F + f) * OH + i) * OW + j] = acc;
        }
  return tensor(out, {N, F, OH, OW}, float64);
}
}  // namespace

TEST_CASE("conv: dilation, groups and conv1d against a direct loop") {
  const Tensor x = test_util::randn64({2, 4, 7, 6}, 180), b = test_util::randn64({6}, 181);
  const Tensor w = test_util::randn64({6, 2, 3, 2}, 182),
               w1 = test_util::randn64({6, 4, 3, 2}, 183);
  auto same = [](const Tensor& a, const Tensor& c) {
    REQUIRE(a.shape() == c.shape());
    CHECK(max(abs(a - c)).item() < 1e-13);
  };
  same(conv2d(x, w1, b, 1, 1, Size2{2, 1}), naive_conv(x, w1, b, 1, 1, Size2{2, 1}, 1));
  same(conv2d(x, w, b, Size2{2, 1}, Size2{1, 0}, 1, 2), naive_conv(x, w, b, {2, 1}, {1, 0}, 1, 2));
  same(conv2d(x, w, Tensor(), 1, 2, 2, 2), naive_conv(x, w, Tensor(), 1, 2, 2, 2));
  // conv1d is conv2d over a height of 1.
  const Tensor x1 = test_util::randn64({2, 4, 9}, 184), k1 = test_util::randn64({6, 2, 3}, 185);
  same(conv1d(x1, k1, b, 2, 1, 2, 2),
       squeeze(naive_conv(unsqueeze(x1, 2), unsqueeze(k1, 2), b, {1, 2}, {0, 1}, {1, 2}, 2), 2));
  CHECK_THROWS_WITH_AS(conv2d(x, w, b, 1, 0, 1, 3), doctest::Contains("3 groups"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, w1, b, 1, 0, 0, 1), doctest::Contains("dilation must be positive"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv1d(x, k1), doctest::Contains("conv1d: input must be (N, C, L)"),
                       std::invalid_argument);
  GradcheckOptions opts;  // ~100 outputs: see check_all_orders
  opts.eps = 1e-4;
  test_util::check_all_orders([&](const Tensor& v) { return square(conv2d(v, w, b, 1, 1, 2, 2)); },
                              x, 186, opts);
  test_util::check_all_orders(
      [&](const Tensor& v) {
        return square(conv2d(x, v, b, 2, 1, Size2{1, 2}, 2));
      },
      w, 187, opts);
  test_util::check_all_orders([&](const Tensor& v) { return square(conv1d(v, k1, b, 1, 1, 1, 2)); },
                              x1, 188, opts);
}

TEST_CASE("conv: conv_transpose2d is the adjoint of conv2d, with output_padding and bias") {
  const Tensor y = test_util::randn64({2, 3, 4, 5}, 190), w = test_util::randn64({3, 2, 3, 3}, 191);
  const Tensor b = test_util::randn64({2}, 192);
  for (auto [stride, padding, outpad] : {std::tuple<Size2, Size2, Size2>{1, 0, 0},
                                         {2, 1, 1},
                                         {Size2{2, 3}, Size2{0, 1}, Size2{1, 2}}}) {
    const Tensor t = conv_transpose2d(y, w, Tensor(), stride, padding, outpad);
    CHECK(t.size(2) == (4 - 1) * stride.h - 2 * padding.h + 3 + outpad.h);
    CHECK(t.size(3) == (5 - 1) * stride.w - 2 * padding.w + 3 + outpad.w);
    // <conv_transpose2d(y, w), x> = <y, conv2d(x, w)> for any x of t's shape.
    const Tensor x = test_util::randn64(t.shape(), 193);
    const Tensor c = conv2d(x, w, Tensor(), stride, padding);
    REQUIRE(c.shape() == y.shape());
    CHECK(sum(t * x).item() == doctest::Approx(sum(y * c).item()).epsilon(1e-12));
    CHECK(max(abs(conv_transpose2d(y, w, b, stride, padding, outpad) -
                  (t + reshape(b, {1, 2, 1, 1}))))
              .item() < 1e-14);
  }
  GradcheckOptions opts;
  opts.eps = 1e-4;
  test_util::check_all_orders(
      [&](const Tensor& v) { return square(conv_transpose2d(v, w, b, 2, 1, 1)); }, y, 194, opts);
  test_util::check_all_orders(
      [&](const Tensor& v) { return square(conv_transpose2d(y, v, b, 2, 1, 1)); }, w, 195, opts);
  CHECK_THROWS_WITH_AS(conv_transpose2d(y, w, b, 2, 0, 2),
                       doctest::Contains("output_padding < stride"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d(y, test_util::randn64({2, 2, 3, 3}, 196)),
                       doctest::Contains("the same F"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d(y, w, test_util::randn64({3}, 197)),
                       doctest::Contains("bias must have shape (2)"), std::invalid_argument);
}
