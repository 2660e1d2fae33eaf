#include <doctest/doctest.h>

#include "autograd/autograd.h"

using namespace dagrad;

TEST_CASE("engine: scalar chain rule") {
  Tensor x = tensor({2.0}, {}, float64).requires_grad_();
  Tensor y = x * x * 3.0 + x;  // dy/dx = 6x + 1
  y.sum().backward();
  CHECK(x.grad().item() == doctest::Approx(13.0));
}

TEST_CASE("engine: broadcasting gradients sum back") {
  Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64).requires_grad_();
  Tensor b = tensor({10, 20, 30}, {3}, float64).requires_grad_();
  Tensor y = (a * b).sum();
  y.backward();
  CHECK(b.grad().to_vector() == std::vector<double>{5, 7, 9});
  CHECK(a.grad().to_vector() == std::vector<double>{10, 20, 30, 10, 20, 30});
}
