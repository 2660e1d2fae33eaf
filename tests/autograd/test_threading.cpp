// The kernels that run on the thread pool give the same values and gradients with 1, 2 and 3
// threads (3 leaves uneven chunks). The 1-thread run is the serial code the op tests check
// against naive references; sizes here are big enough to be split.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/runtime/parallel.h"

using namespace dagrad;

namespace {

struct Run {
  std::vector<std::vector<double>> values;  // output, then each input's gradient
};

// Builds fresh inputs from `seed`, runs f forward, then backward with a fixed dout.
Run run_once(const std::vector<Shape>& input_shapes, Dtype dt,
             const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  Generator gen(42);
  std::vector<Tensor> in;
  for (const Shape& s : input_shapes) in.push_back(randn(s, gen, dt).requires_grad_());
  Tensor y = f(in);
  Tensor dout = randn(y.shape(), gen, dt);
  y.backward(dout);
  Run r;
  r.values.push_back(y.to_vector());
  for (const Tensor& t : in)
    r.values.push_back(t.grad().defined() ? t.grad().to_vector() : std::vector<double>{});
  return r;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double scale = 1, m = 0;
  for (double v : a) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m / scale;
}

void same_on_any_pool(const std::string& what, const std::vector<Shape>& shapes, Dtype dt,
                      double tol, const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  const int before = num_threads();
  set_num_threads(1);
  const Run ref = run_once(shapes, dt, f);
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    const Run r = run_once(shapes, dt, f);
    for (std::size_t k = 0; k < ref.values.size(); ++k) {
      INFO(what, ": threads ", threads, ", ",
           k == 0 ? std::string("output") : "gradient of input " + std::to_string(k - 1));
      CHECK(max_rel_diff(ref.values[k], r.values[k]) <= tol);
    }
  }
  set_num_threads(before);
}

}  // namespace

TEST_CASE("threaded conv2d matches the serial result") {
  for (Dtype dt : {float32, float64}) {
    const double tol = dt == float64 ? 1e-12 : 1e-5;
    // One image per GEMM, padded.
    same_on_any_pool("conv 3x3 pad 1", {{8, 4, 16, 16}, {8, 4, 3, 3}, {8}}, dt, tol,
                     [](auto& t) { return conv2d(t[0], t[1], t[2], 1, 1); });
    // Small outputs: several images share a GEMM inside each chunk.
    same_on_any_pool("conv stride 2", {{60, 4, 8, 8}, {6, 4, 3, 3}, {6}}, dt, tol,
                     [](auto& t) { return conv2d(t[0], t[1], t[2], 2, 1); });
    // Pointwise path.
    same_on_any_pool("conv 1x1", {{16, 32, 16, 16}, {16, 32, 1, 1}}, dt, tol,
                     [](auto& t) { return conv2d(t[0], t[1], 1, 0); });
  }
}

TEST_CASE("threaded pooling, batch norm and elementwise maps match the serial result") {
  for (Dtype dt : {float32, float64}) {
    const double tol = dt == float64 ? 1e-12 : 1e-5;
    same_on_any_pool("max_pool2d 2x2", {{16, 16, 28, 28}}, dt, 0,
                     [](auto& t) { return max_pool2d(t[0], 2); });
    same_on_any_pool("max_pool2d 3x3 s2 p1", {{16, 16, 15, 15}}, dt, 0,
                     [](auto& t) { return max_pool2d(t[0], 3, 2, 1); });
    same_on_any_pool("avg_pool2d 2x2", {{16, 16, 28, 28}}, dt, tol,
                     [](auto& t) { return avg_pool2d(t[0], 2); });
    same_on_any_pool("batch_norm 2-d", {{32, 48, 12, 12}, {48}, {48}}, dt, tol, [](auto& t) {
      Tensor rm = zeros({48}, t[0].dtype()), rv = ones({48}, t[0].dtype());
      return batch_norm(t[0], t[1], t[2], rm, rv, true, 0.9, 1e-5);
    });
    same_on_any_pool("batch_norm 1-d", {{1024, 96}, {96}, {96}}, dt, tol, [](auto& t) {
      Tensor rm = zeros({96}, t[0].dtype()), rv = ones({96}, t[0].dtype());
      return batch_norm(t[0], t[1], t[2], rm, rv, true, 0.9, 1e-5);
    });
    same_on_any_pool("relu, mul, add scalar", {{300, 700}, {300, 700}}, dt, 0,
                     [](auto& t) { return relu(t[0]) * t[1] + 0.5; });
    same_on_any_pool("matmul", {{200, 300}, {300, 150}}, dt, tol,
                     [](auto& t) { return matmul(t[0], t[1]); });
  }
}
