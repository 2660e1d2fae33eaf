#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/ops/linalg.h"

using namespace dagrad;

namespace {

using Vec = std::vector<double>;

void check_close(const Tensor& t, const Vec& want, double tol = 1e-12) {
  const Vec got = t.to_vector();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

Tensor rnd(const Shape& s, uint64_t seed, Dtype d = float64) {
  Generator gen(seed);
  return randn(s, gen, d);
}

Tensor leaf(const Shape& s, uint64_t seed) { return rnd(s, seed).requires_grad_(); }

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                      const std::vector<Tensor>& inputs, GradcheckOptions opts = {}) {
  GradcheckResult r = gradcheck(f, inputs, opts);
  INFO(r.report());
  CHECK(r.passed);
}

template <typename E, typename F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("no exception thrown");
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) {
      INFO("message: " << msg << " | expected to contain: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  }
}

// Reference NumPy matmul for operands with >= 2 dims, op(x) = x^T on the last two axes when
// flagged: plain loops over row-major values, batch dims broadcast by hand.
struct Ref {
  Shape shape;
  Vec values;
};
Ref naive_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const Vec va = a.to_vector(), vb = b.to_vector();
  const Shape &sa = a.shape(), &sb = b.shape();
  const int na = sa.size(), nb = sb.size();
  const int64_t ar = sa[na - 2], ac = sa[na - 1], br = sb[nb - 2], bc = sb[nb - 1];
  const int64_t n = ta ? ac : ar, k = ta ? ar : ac, m = tb ? br : bc;
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const int nd = std::max(ba.size(), bb.size());
  Shape batch;
  for (int i = 0; i < nd; ++i) {
    const int ia = ba.size() - nd + i, ib = bb.size() - nd + i;
    const int64_t da = ia >= 0 ? ba[ia] : 1, db = ib >= 0 ? bb[ib] : 1;
    batch.push_back(std::max(da, db));
  }
  Ref r;
  r.shape = batch;
  r.shape.push_back(n);
  r.shape.push_back(m);
  r.values.assign(r.shape.numel(), 0.0);
  for (int64_t bi = 0; bi < batch.numel(); ++bi) {
    // multi-index of bi over batch, then the matrix index in a and in b
    int64_t rem = bi, mat_a = 0, mat_b = 0, mul_a = 1, mul_b = 1;
    for (int d = nd - 1; d >= 0; --d) {
      const int64_t c = rem % batch[d];
      rem /= batch[d];
      const int ia = ba.size() - nd + d, ib = bb.size() - nd + d;
      if (ia >= 0) {
        mat_a += (ba[ia] == 1 ? 0 : c) * mul_a;
        mul_a *= ba[ia];
      }
      if (ib >= 0) {
        mat_b += (bb[ib] == 1 ? 0 : c) * mul_b;
        mul_b *= bb[ib];
      }
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) {
          const double x = va[mat_a * ar * ac + (ta ? p * ac + i : i * ac + p)];
          const double y = vb[mat_b * br * bc + (tb ? j * bc + p : p * bc + j)];
          s += x * y;
        }
        r.values[(bi * n + i) * m + j] = s;
      }
  }
  return r;
}

// Stored shape of an operand whose op() is (rows, cols).
Shape stored(Shape batch, int64_t rows, int64_t cols, bool trans) {
  batch.push_back(trans ? cols : rows);
  batch.push_back(trans ? rows : cols);
  return batch;
}

void check_against_naive(const Shape& batch_a, const Shape& batch_b, int64_t n, int64_t k,
                         int64_t m, bool ta, bool tb, Dtype dt, uint64_t seed) {
  const Tensor a = rnd(stored(batch_a, n, k, ta), seed, dt);
  const Tensor b = rnd(stored(batch_b, k, m, tb), seed + 100, dt);
  const Tensor c = matmul(a, b, ta, tb);
  const Ref r = naive_matmul(a, b, ta, tb);
  INFO("a " << to_string(a.shape()) << " b " << to_string(b.shape()) << " ta " << ta << " tb "
            << tb);
  REQUIRE(c.shape() == r.shape);
  CHECK(c.dtype() == dt);
  const Vec got = c.to_vector();
  const double tol = dt == float32 ? 1e-4 * std::sqrt(double(k)) : 1e-12;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - r.values[i]));
  CHECK(worst <= tol);
}

}  // namespace

// ---------------------------------------------------------------- values

TEST_CASE("linalg: matmul 2-D values by hand") {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2}, float64);
  Tensor b = tensor({5, 6, 7, 8}, {2, 2}, float64);
  check_close(matmul(a, b), {19, 22, 43, 50});
  check_close(matmul(a, b, true, false), {26, 30, 38, 44});  // a^T b
  check_close(matmul(a, b, false, true), {17, 23, 39, 53});  // a b^T
  check_close(matmul(a, b, true, true), {23, 31, 34, 46});   // a^T b^T
  Tensor r = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor s = tensor({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor c = matmul(r, s);
  CHECK(c.dtype() == float32);
  REQUIRE(c.shape() == Shape{2, 2});
  check_close(c, {4, 5, 10, 11});
}

TEST_CASE("linalg: matmul every transpose combination against naive loops") {
  for (Dtype dt : {float32, float64})
    for (int f = 0; f < 4; ++f) {
      const bool ta = f & 1, tb = f & 2;
      check_against_naive({}, {}, 3, 4, 5, ta, tb, dt, 1 + f);
      check_against_naive({}, {}, 1, 7, 1, ta, tb, dt, 5 + f);
      check_against_naive({}, {}, 37, 29, 41, ta, tb, dt, 9 + f);
    }
}

TEST_CASE("linalg: matmul batched and broadcast batch dimensions against naive loops") {
  for (int f = 0; f < 4; ++f) {
    const bool ta = f & 1, tb = f & 2;
    for (Dtype dt : {float32, float64}) {
      check_against_naive({2}, {2}, 3, 4, 5, ta, tb, dt, 20 + f);        // same batch
      check_against_naive({2, 3}, {}, 3, 4, 2, ta, tb, dt, 30 + f);      // b shared
      check_against_naive({}, {4}, 3, 2, 5, ta, tb, dt, 40 + f);         // a shared
      check_against_naive({2, 1}, {3}, 2, 3, 4, ta, tb, dt, 50 + f);     // both broadcast
      check_against_naive({1, 3}, {2, 1}, 2, 3, 2, ta, tb, dt, 60 + f);  // (1,3) x (2,1)
      check_against_naive({3}, {1}, 2, 3, 2, ta, tb, dt, 70 + f);        // size-1 batch
    }
  }
}

TEST_CASE("linalg: matmul broadcasting equals an explicit broadcast") {
  Tensor a = rnd({2, 1, 3, 4}, 80), b = rnd({5, 4, 2}, 81);
  Tensor c = matmul(a, b);
  REQUIRE(c.shape() == Shape{2, 5, 3, 2});
  Tensor c2 = matmul(broadcast_to(a, {2, 5, 3, 4}), broadcast_to(b, {2, 5, 4, 2}));
  check_close(c, c2.to_vector());
}

TEST_CASE("linalg: matmul 1-D operands follow NumPy") {
  Tensor v = tensor({1, 2, 3}, {-1}, float64);
  Tensor w = tensor({4, 5, 6}, {-1}, float64);
  Tensor d = matmul(v, w);
  CHECK(d.shape() == Shape{});
  CHECK(d.item() == 32);
  Tensor m = arange(6, float64).reshape({3, 2});  // [[0,1],[2,3],[4,5]]
  Tensor vm = matmul(v, m);
  REQUIRE(vm.shape() == Shape{2});
  check_close(vm, {16, 22});
  Tensor mt = arange(6, float64).reshape({2, 3});  // [[0,1,2],[3,4,5]]
  Tensor mv = matmul(mt, v);
  REQUIRE(mv.shape() == Shape{2});
  check_close(mv, {8, 26});
  // The flag transposes the matrix operand; on the vector it is a no-op.
  check_close(matmul(m, v, true, false), {16, 22});
  check_close(matmul(v, mt, true, true), {8, 26});
  // Batched with a vector on either side.
  Tensor bm = arange(12, float64).reshape({2, 3, 2});
  Tensor vb = matmul(v, bm);
  REQUIRE(vb.shape() == Shape{2, 2});
  check_close(vb, {16, 22, 52, 58});
  Tensor bv = matmul(arange(12, float64).reshape({2, 2, 3}), v);
  REQUIRE(bv.shape() == Shape{2, 2});
  check_close(bv, {8, 26, 44, 62});
}

TEST_CASE("linalg: matmul empty dimensions") {
  Tensor z = matmul(zeros({2, 0}, float64), zeros({0, 3}, float64));
  REQUIRE(z.shape() == Shape{2, 3});
  check_close(z, Vec(6, 0.0));
  CHECK(matmul(zeros({0, 4}), zeros({4, 3})).shape() == Shape{0, 3});
  CHECK(matmul(zeros({0, 2, 4}), zeros({4, 3})).shape() == Shape{0, 2, 3});
  // Gradients of empty products: zeros of the operands' shapes.
  Tensor a = zeros({2, 3, 0}, float64).requires_grad_(),
         w = zeros({0, 4}, float64).requires_grad_();
  sum(matmul(a, w)).backward();
  CHECK(a.grad().shape() == Shape{2, 3, 0});
  CHECK(w.grad().shape() == Shape{0, 4});
  Tensor e = zeros({0, 2, 3}, float64).requires_grad_(), v = ones({3, 2}, float64).requires_grad_();
  sum(matmul(e, v)).backward();
  CHECK(e.grad().shape() == Shape{0, 2, 3});
  check_close(v.grad(), Vec(6, 0.0));
}

// ---------------------------------------------------------------- gradients

TEST_CASE("linalg: matmul gradcheck 2-D, every transpose combination") {
  for (int f = 0; f < 4; ++f) {
    const bool ta = f & 1, tb = f & 2;
    INFO("ta " << ta << " tb " << tb);
    expect_gradcheck([=](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); },
                     {leaf(stored({}, 3, 4, ta), 100 + f), leaf(stored({}, 4, 2, tb), 110 + f)});
  }
}

TEST_CASE("linalg: matmul gradcheck batched and broadcast, every transpose combination") {
  struct Case {
    Shape ba, bb;
  };
  const std::vector<Case> cases = {
      {{2}, {2}}, {{2, 3}, {}}, {{}, {3}}, {{2, 1}, {3}}, {{1, 2}, {3, 1}}};
  uint64_t seed = 200;
  for (const Case& c : cases)
    for (int f = 0; f < 4; ++f) {
      const bool ta = f & 1, tb = f & 2;
      INFO("batch a " << to_string(c.ba) << " batch b " << to_string(c.bb) << " ta " << ta << " tb "
                      << tb);
      expect_gradcheck(
          [=](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); },
          {leaf(stored(c.ba, 2, 3, ta), seed), leaf(stored(c.bb, 3, 2, tb), seed + 1)});
      seed += 2;
    }
}

TEST_CASE("linalg: matmul gradcheck with 1-D operands") {
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                   {leaf({4}, 300), leaf({4}, 301)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                   {leaf({3}, 302), leaf({3, 2}, 303)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                   {leaf({2, 3}, 304), leaf({3}, 305)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                   {leaf({3}, 306), leaf({2, 3, 2}, 307)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1], true, false); },
                   {leaf({2, 3, 2}, 308), leaf({3}, 309)});
}

TEST_CASE("linalg: matmul gradient of a shared matrix sums over the batch") {
  // C_i = A_i W, loss = sum(C): dW[p][j] = sum over i, rows r of A_i[r][p].
  Tensor a = rnd({3, 2, 4}, 320);
  Tensor w = leaf({4, 5}, 321);
  sum(matmul(a, w)).backward();
  const Vec va = a.to_vector();
  Vec want(20, 0.0);
  for (int p = 0; p < 4; ++p) {
    double s = 0;
    for (int r = 0; r < 6; ++r) s += va[r * 4 + p];
    for (int j = 0; j < 5; ++j) want[p * 5 + j] = s;
  }
  check_close(w.grad(), want, 1e-12);
  // Shared left operand: dA = sum_i G_i B_i^T.
  Tensor l = leaf({2, 3}, 322);
  Tensor b = rnd({4, 3, 2}, 323);
  sum(matmul(l, b)).backward();
  const Vec vb = b.to_vector();
  Vec wl(6, 0.0);
  for (int i = 0; i < 2; ++i)
    for (int p = 0; p < 3; ++p)
      for (int bi = 0; bi < 4; ++bi)
        for (int j = 0; j < 2; ++j) wl[i * 3 + p] += vb[bi * 6 + p * 2 + j];
  check_close(l.grad(), wl, 1e-12);
}

// ---------------------------------------------------------------- double backward

TEST_CASE("linalg: matmul double backward, Hessian-vector products vs analytic") {
  // f(A, B) = sum((A B)^2):  dA = 2 (A B) B^T.
  // HVP in A: d<dA, V>/dA = 2 V B B^T;  cross term: d<dA, V>/dB = 2 (M + M^T) B, M = V^T A.
  Tensor A = leaf({3, 4}, 400), B = leaf({4, 2}, 401);
  Tensor V = rnd({3, 4}, 402);
  Tensor f = sum(square(matmul(A, B)));
  Tensor dA = grad({f}, {A}, {}, {.create_graph = true})[0];
  Tensor AB = matmul(A.detach(), B.detach());
  {
    const Ref r = naive_matmul(AB, B.detach(), false, true);
    Vec want = r.values;
    for (double& x : want) x *= 2;
    check_close(dA, want, 1e-12);
  }
  std::vector<Tensor> h = grad({sum(dA * V)}, {A, B});
  const Ref vb = naive_matmul(V, B.detach(), false, false);
  const Tensor VB = tensor(vb.values, vb.shape, float64);
  const Ref want_a = naive_matmul(VB, B.detach(), false, true);
  Vec wa = want_a.values;
  for (double& x : wa) x *= 2;
  check_close(h[0], wa, 1e-12);
  const Ref m = naive_matmul(V, A.detach(), true, false);  // (4, 4)
  const Tensor M = tensor(m.values, m.shape, float64);
  const Tensor Msym = M + transpose(M, 0, 1);
  const Ref want_b = naive_matmul(Msym, B.detach(), false, false);
  Vec wb = want_b.values;
  for (double& x : wb) x *= 2;
  check_close(h[1], wb, 1e-12);
}

TEST_CASE("linalg: matmul double backward gradcheck for every transpose flag and a batch") {
  // The gradient itself, as a function of (A, B), must have correct gradients.
  struct Case {
    Shape ba, bb;
  };
  const std::vector<Case> cases = {{{}, {}}, {{2}, {}}, {{2}, {2}}, {{}, {2}}};
  uint64_t seed = 500;
  for (const Case& c : cases)
    for (int f = 0; f < 4; ++f) {
      const bool ta = f & 1, tb = f & 2;
      INFO("batch a " << to_string(c.ba) << " batch b " << to_string(c.bb) << " ta " << ta << " tb "
                      << tb);
      const Tensor A = leaf(stored(c.ba, 2, 3, ta), seed),
                   B = leaf(stored(c.bb, 3, 2, tb), seed + 1);
      const Tensor VA = rnd(A.shape(), seed + 2), VB = rnd(B.shape(), seed + 3);
      expect_gradcheck(
          [=](const std::vector<Tensor>& in) {
            enable_grad on;  // gradcheck evaluates f under no_grad; grad() needs a graph
            Tensor y = sum(square(matmul(in[0], in[1], ta, tb)));
            std::vector<Tensor> g = grad({y}, {in[0], in[1]}, {}, {.create_graph = true});
            return sum(g[0] * VA) + sum(g[1] * VB);
          },
          // <grad, V> is a cubic polynomial: central differences have truncation error
          // h^2/6 f''' (negligible) and rounding error ~1e-16 |f| / h, so a larger step is
          // the more accurate one
          {A, B}, {.eps = 1e-4});
      seed += 4;
    }
}

// ---------------------------------------------------------------- forward mode

TEST_CASE("linalg: matmul forward-mode tangent is dA B + A dB") {
  Tensor A = rnd({2, 3, 4}, 600), B = rnd({4, 2}, 601);
  Tensor tA = rnd({2, 3, 4}, 602), tB = rnd({4, 2}, 603);
  A.impl().tangent = tA.impl_ptr();
  B.impl().tangent = tB.impl_ptr();
  Tensor C = matmul(A, B);
  REQUIRE(C.tangent().defined());
  Tensor want = matmul(tA, B.detach()) + matmul(A.detach(), tB);
  check_close(C.tangent(), want.to_vector(), 1e-12);
  Tensor Ct = matmul(A, B, false, false);
  check_close(Ct.tangent(), want.to_vector(), 1e-12);
}

// ---------------------------------------------------------------- errors

TEST_CASE("linalg: matmul shape and dtype errors") {
  expect_error<std::invalid_argument>(
      [] {
        matmul(zeros({2, 3}), zeros({4, 5}));
      },
      {"matmul: shapes (2, 3) and (4, 5) are not aligned (3 != 4)"});
  expect_error<std::invalid_argument>(
      [] {
        matmul(zeros({2, 3}), zeros({3, 2}), false, true);
      },
      {"matmul", "(2, 3) and (3, 2)", "not aligned (3 != 2)", "trans_b = true"});
  expect_error<std::invalid_argument>(
      [] {
        matmul(zeros({2, 3}), zeros({3, 2}), true, false);
      },
      {"matmul", "not aligned (2 != 3)", "trans_a = true"});
  expect_error<std::invalid_argument>([] { matmul(zeros({3}), zeros({4})); },
                                      {"matmul", "(3,) and (4,)", "3 != 4"});
  expect_error<std::invalid_argument>(
      [] {
        matmul(zeros({3}), zeros({2, 4, 5}));
      },
      {"matmul", "(3,)", "(2, 4, 5)", "3 != 4"});
  expect_error<std::invalid_argument>(
      [] {
        matmul(zeros({2, 3, 4}), zeros({5, 4, 2}));
      },
      {"matmul", "(2, 3, 4)", "(5, 4, 2)", "broadcast"});
  expect_error<std::invalid_argument>(
      [] {
        matmul(zeros({2, 3}), zeros({3, 2}, float64));
      },
      {"matmul", "dtype", "float32", "float64"});
  expect_error<std::invalid_argument>([] { matmul(scalar_tensor(2), zeros({2})); },
                                      {"matmul", "0-d"});
}

// ---------------------------------------------------------------- affine

TEST_CASE("linalg: affine values with the fused bias") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64);
  Tensor w = tensor({1, 0, 0, 1, 1, 1}, {3, 2}, float64);
  Tensor b = tensor({10, -10}, {-1}, float64);
  Tensor y = affine(x, w, b);
  REQUIRE(y.shape() == Shape{2, 2});
  check_close(y, {14, -5, 20, 1});
  // Larger, float32, against matmul + broadcast add.
  Tensor X = rnd({17, 33}, 700, float32), W = rnd({33, 9}, 701, float32),
         B = rnd({9}, 702, float32);
  Tensor Y = affine(X, W, B);
  Tensor R = matmul(X, W) + B;
  const Vec got = Y.to_vector(), want = R.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
  // D = 0: the output is the bias.
  check_close(affine(zeros({2, 0}, float64), zeros({0, 2}, float64), b), {10, -10, 10, -10});
}

TEST_CASE("linalg: affine gradients") {
  expect_gradcheck([](const std::vector<Tensor>& in) { return affine(in[0], in[1], in[2]); },
                   {leaf({4, 3}, 710), leaf({3, 5}, 711), leaf({5}, 712)});
  // db is the column sum of the upstream gradient.
  Tensor x = rnd({3, 2}, 713), w = rnd({2, 2}, 714);
  Tensor b = leaf({2}, 715);
  affine(x, w, b).backward(tensor({1, 2, 3, 4, 5, 6}, {3, 2}, float64));
  check_close(b.grad(), {9, 12});
  // Double backward through affine.
  const Tensor V = rnd({4, 3}, 716);
  expect_gradcheck(
      [=](const std::vector<Tensor>& in) {
        enable_grad on;
        Tensor y = sum(square(affine(in[0], in[1], in[2])));
        std::vector<Tensor> g = grad({y}, {in[0], in[1], in[2]}, {}, {.create_graph = true});
        return sum(g[0] * V) + sum(g[1]) + sum(g[2]);
      },
      {leaf({4, 3}, 717), leaf({3, 2}, 718), leaf({2}, 719)}, {.eps = 1e-4});
}

TEST_CASE("linalg: affine forward-mode tangent") {
  Tensor x = rnd({2, 3}, 720), w = rnd({3, 2}, 721), b = rnd({2}, 722);
  Tensor tx = rnd({2, 3}, 723), tb = rnd({2}, 724);
  x.impl().tangent = tx.impl_ptr();
  b.impl().tangent = tb.impl_ptr();
  Tensor y = affine(x, w, b);
  check_close(y.tangent(), (matmul(tx, w) + tb).to_vector(), 1e-12);
}

TEST_CASE("linalg: affine errors") {
  expect_error<std::invalid_argument>(
      [] {
        affine(zeros({2, 3}), zeros({4, 5}), zeros({5}));
      },
      {"affine: shapes (2, 3) and (4, 5) are not aligned (3 != 4)"});
  expect_error<std::invalid_argument>(
      [] {
        affine(zeros({2, 3}), zeros({3, 5}), zeros({4}));
      },
      {"affine", "bias", "(4,)", "(5,)"});
  expect_error<std::invalid_argument>(
      [] {
        affine(zeros({2, 3, 1}), zeros({3, 5}), zeros({5}));
      },
      {"affine", "(2, 3, 1)"});
  expect_error<std::invalid_argument>(
      [] {
        affine(zeros({2, 3}), zeros({3, 5}, float64), zeros({5}));
      },
      {"affine", "dtype"});
}

// ---------------------------------------------------------------- dot / outer

TEST_CASE("linalg: dot values, gradients and errors") {
  Tensor a = tensor({1, 2, 3}, {-1}, float64), b = tensor({4, -5, 6}, {-1}, float64);
  Tensor d = dot(a, b);
  CHECK(d.shape() == Shape{});
  CHECK(d.item() == 12);
  expect_gradcheck([](const std::vector<Tensor>& in) { return dot(in[0], in[1]); },
                   {leaf({5}, 800), leaf({5}, 801)});
  // d^2/da db of dot = I: grad of <grad_a, v> wrt b is v.
  Tensor x = leaf({3}, 802), y = leaf({3}, 803);
  Tensor gx = grad({dot(x, y)}, {x}, {}, {.create_graph = true})[0];
  check_close(gx, y.detach().to_vector());
  check_close(grad({dot(gx, a)}, {y})[0], {1, 2, 3});
  expect_error<std::invalid_argument>([] { dot(zeros({3}), zeros({4})); },
                                      {"dot", "(3,)", "(4,)", "3 != 4"});
  expect_error<std::invalid_argument>(
      [] {
        dot(zeros({3, 1}), zeros({3}));
      },
      {"dot", "1-D", "(3, 1)"});
}

TEST_CASE("linalg: outer values, gradients and errors") {
  Tensor o = outer(tensor({1, 2}, {-1}, float64), tensor({3, 4, 5}, {-1}, float64));
  REQUIRE(o.shape() == Shape{2, 3});
  check_close(o, {3, 4, 5, 6, 8, 10});
  expect_gradcheck([](const std::vector<Tensor>& in) { return outer(in[0], in[1]); },
                   {leaf({3}, 810), leaf({4}, 811)});
  Tensor a = tensor({1, 2}, {-1}, float64), b = tensor({3, 4, 5}, {-1}, float64);
  a.impl().tangent = tensor({1, 0}, {-1}, float64).impl_ptr();
  check_close(outer(a, b).tangent(), {3, 4, 5, 0, 0, 0});
  expect_error<std::invalid_argument>(
      [] {
        outer(zeros({2, 2}), zeros({2}));
      },
      {"outer", "1-D", "(2, 2)"});
  expect_error<std::invalid_argument>([] { outer(zeros({2}), zeros({2}, float64)); },
                                      {"outer", "dtype"});
}
