// The kernel layer: choosing the instruction-set path, and every path the CPU runs agreeing with
// the baseline path on the ops whose kernels it provides (pooling, conv lowering, batch norm,
// optimizer updates). CI also runs the whole suite once per path (DAGRAD_ISA).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/ops/conv.h"
#include "dagrad/autograd/ops/norm.h"
#include "dagrad/autograd/ops/pool.h"
#include "dagrad/optim/optimizer.h"
#include "dagrad/runtime/isa.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::runtime::Isa;
using dagrad::test_util::error_of;

namespace {

// Runs on one path, then puts the previous one back.
struct IsaScope {
  explicit IsaScope(Isa isa) : saved(runtime::active_isa()) { runtime::set_isa(isa); }
  ~IsaScope() { runtime::set_isa(saved); }
  Isa saved;
};

std::vector<Isa> runnable_paths() {
  std::vector<Isa> out;
  for (Isa i : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (static_cast<int>(i) <= static_cast<int>(runtime::cpu_isa())) out.push_back(i);
  return out;
}

// f's tensors on every path, compared with the baseline's: `bound(i, base)` is the allowed
// difference of element i (0: equal, NaN matching NaN).
void check_paths(
    const std::function<std::vector<Tensor>()>& f,
    const std::function<double(double)>& bound = [](double) { return 0.0; }) {
  std::vector<std::vector<double>> base;
  {
    IsaScope s(Isa::baseline);
    for (const Tensor& t : f()) base.push_back(t.to_vector());
  }
  for (Isa isa : runnable_paths()) {
    CAPTURE(runtime::isa_name(isa));
    IsaScope s(isa);
    const std::vector<Tensor> got = f();
    REQUIRE(got.size() == base.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      const std::vector<double> v = got[k].to_vector();
      REQUIRE(v.size() == base[k].size());
      int bad = 0;
      for (std::size_t i = 0; i < v.size(); ++i) {
        const double b = base[k][i];
        const bool ok = std::isnan(b) ? std::isnan(v[i]) : std::abs(v[i] - b) <= bound(b);
        if (!ok && bad++ < 3)
          FAIL_CHECK("tensor " << k << " element " << i << ": " << v[i] << " vs baseline " << b);
      }
      CHECK(bad == 0);
    }
  }
}

Tensor random(const Shape& s, uint64_t seed, Dtype dt = float32) {
  Generator gen(seed);
  return randn(s, gen, dt);
}

}  // namespace

TEST_CASE("kernels: DAGRAD_ISA picks a path the CPU runs, and names what is wrong") {
  CHECK(runtime::choose_isa(nullptr, Isa::avx512) == Isa::avx512);
  CHECK(runtime::choose_isa("", Isa::avx2) == Isa::avx2);
  CHECK(runtime::choose_isa("baseline", Isa::avx512) == Isa::baseline);
  CHECK(runtime::choose_isa("avx2", Isa::avx512) == Isa::avx2);
  CHECK(runtime::choose_isa("avx2", Isa::avx2) == Isa::avx2);
  const std::string above =
      error_of<std::invalid_argument>([] { runtime::choose_isa("avx512", Isa::avx2); });
  CHECK(above.find("DAGRAD_ISA=avx512") != std::string::npos);
  CHECK(above.find("best path is avx2") != std::string::npos);
  const std::string unknown =
      error_of<std::invalid_argument>([] { runtime::choose_isa("sse9", Isa::avx2); });
  CHECK(unknown.find("'sse9'") != std::string::npos);
  CHECK(unknown.find("avx512, avx2, baseline") != std::string::npos);
  for (Isa i : {Isa::baseline, Isa::avx2, Isa::avx512})
    CHECK(runtime::parse_isa(runtime::isa_name(i)) == i);
  CHECK_FALSE(runtime::parse_isa("AVX2").has_value());
  if (runtime::cpu_isa() != Isa::avx512) {
    const std::string e = error_of<std::invalid_argument>([] { runtime::set_isa(Isa::avx512); });
    CHECK(e.find("cannot run the avx512 kernels") != std::string::npos);
  }
  CHECK(runtime::isa_description().find(runtime::isa_name(runtime::active_isa())) == 0);
}

TEST_CASE("kernels: max and average pooling agree on every path (ties, NaN, short rows)") {
  // Copies and compares only: every path must give the baseline's values exactly.
  for (int64_t W : {2, 3, 5, 14, 15, 28, 31, 33, 40}) {
    for (int64_t H : {2, 7}) {
      CAPTURE(W);
      CAPTURE(H);
      check_paths([&] {
        Tensor x = random({2, 3, H, W}, 100 + W);
        float* p = x.data<float>();
        for (int64_t i = 0; i + 1 < x.numel(); i += 7) p[i + 1] = p[i];  // ties
        p[W % x.numel()] = std::numeric_limits<float>::quiet_NaN();
        x.requires_grad_();
        std::vector<Tensor> out;
        for (bool is_max : {true, false}) {
          Tensor y = is_max ? max_pool2d(x, 2) : avg_pool2d(x, 2);
          Tensor g = random(y.shape(), 7);
          x.zero_grad();
          y.backward(g);
          out.push_back(y);
          out.push_back(x.grad().clone());
        }
        return out;
      });
    }
  }
}

TEST_CASE("kernels: conv2d lowering agrees on every path (widths, paddings, strides)") {
  // The paths differ only in how im2col/col2im move values: the same GEMMs then give the same
  // bits, and the col2im sums add the same terms in the same order.
  struct Cfg {
    int64_t H, W, KH, KW, stride, pad;
  };
  for (const Cfg& c : {Cfg{5, 5, 3, 3, 1, 1}, Cfg{14, 14, 3, 3, 1, 1}, Cfg{7, 17, 3, 3, 1, 2},
                       Cfg{9, 33, 3, 3, 1, 0}, Cfg{6, 70, 3, 3, 1, 1}, Cfg{4, 20, 1, 9, 1, 3},
                       Cfg{11, 13, 3, 3, 2, 1}, Cfg{8, 8, 2, 2, 2, 0}}) {
    CAPTURE(c.W);
    CAPTURE(c.pad);
    CAPTURE(c.stride);
    for (Dtype dt : {float32, float64}) {
      check_paths([&] {
        Tensor x = random({3, 2, c.H, c.W}, 1, dt).requires_grad_();
        Tensor w = random({4, 2, c.KH, c.KW}, 2, dt).requires_grad_();
        Tensor b = random({4}, 3, dt).requires_grad_();
        Tensor y = conv2d(x, w, b, c.stride, c.pad);
        y.backward(random(y.shape(), 4, dt));
        return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
      });
    }
  }
}

TEST_CASE("kernels: batch_norm_relu and layer_norm agree on every path within rounding") {
  // Paths differ in FMA contraction and in how many float partial sums a vector holds, so
  // sums of L = 1024 terms (block_sum's block) may be added in another order: each result
  // differs by at most ~2 L eps |terms| relative to the scale of the outputs. A wrong mean,
  // mask or scale is off by O(1).
  for (Dtype dt : {float32, float64}) {
    const double eps = dt == float32 ? 0x1p-24 : 0x1p-53;
    check_paths(
        [&] {
          Tensor x = random({8, 4, 14, 14}, 11, dt).requires_grad_();
          Tensor gm = (random({4}, 12, dt) + 1.0).requires_grad_();
          Tensor bt = random({4}, 13, dt).requires_grad_();
          Tensor y = batch_norm_relu(x, gm, bt, Tensor(), Tensor(), true, 0.1, 1e-5);
          y.backward(random(y.shape(), 14, dt));
          Tensor z = layer_norm(x, {14, 14}, Tensor(), Tensor(), 1e-5);
          return std::vector<Tensor>{y, x.grad(), gm.grad(), bt.grad(), z};
        },
        [eps](double b) { return 2 * 1024 * eps * (std::abs(b) + 10.0); });
  }
}

TEST_CASE("kernels: optimizer updates agree on every path within rounding") {
  // One Adam / RMSProp / Nesterov step per element: a handful of roundings, each differing by
  // FMA contraction at most (division and sqrt are exact-rounded on every path).
  for (const char* rule :
       {"adam", "adamw", "rmsprop", "nesterov", "sgd_momentum", "adagrad", "sgd"}) {
    CAPTURE(rule);
    check_paths(
        [&] {
          Tensor w = random({1000 + 7}, 21).requires_grad_();
          auto opt =
              optim::make_optimizer(rule, {w}, {{"learning_rate", 1e-2}, {"weight_decay", 1e-3}});
          for (int s = 0; s < 3; ++s) {
            w.zero_grad();
            (w * random({1007}, 22 + s)).sum().backward();
            opt->step();
          }
          return std::vector<Tensor>{w};
        },
        [](double b) { return 16 * 0x1p-24 * (std::abs(b) + 1e-2); });
  }
}

TEST_CASE("kernels: elementwise maps and axis reductions agree on every path") {
  // Maps and comparisons round once per element, and the axis sums add in the same order on
  // every path, so the results are equal; exp/log are the C library's on every path.
  for (Dtype dt : {float32, float64}) {
    check_paths([&] {
      std::vector<double> v = random({5, 7, 33}, 31, dt).to_vector();
      v[40] = std::numeric_limits<double>::quiet_NaN();  // max and argmax propagate it
      Tensor a = tensor(v, {5, 7, 33}, dt);
      Tensor b = random({7, 1}, 32, dt);
      std::vector<Tensor> out{a + b,
                              a * b,
                              a / (b + 3.0),
                              maximum(a, b),
                              relu(a),
                              sigmoid(a),
                              clamp(a, -0.5, 0.5),
                              gt(a, 0.25),
                              eq(a, b),
                              where(gt(a, b), a, b),
                              exp(a),
                              sum(a, {1}),
                              sum(a, {2}),
                              max(a, 0),
                              argmax(a, 1),
                              sum(a)};
      return out;
    });
  }
}
