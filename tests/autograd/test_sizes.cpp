// Sizes that do not fit: every shape-to-count and count-to-bytes computation is checked
// (Shape::numel, checked_nbytes), and impossible tensors are refused naming the shape.
#include <doctest/doctest.h>

#include <string>

#include "dagrad/autograd/autograd.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::test_util::error_of;

TEST_CASE("sizes: counts and bytes beyond 64 bits are errors naming the shape") {
  CHECK(error_of([] {
          (void)Shape({1LL << 40, 1LL << 30}).numel();
        }) == "shape (1099511627776, 1073741824) has more elements than a 64-bit count can hold");
  CHECK(Shape({1LL << 20, 0, 1LL << 20}).numel() == 0);
  // Empty, but the other dimensions overflow: refused too (their strides would overflow).
  CHECK(error_of([] {
          (void)Shape({1LL << 40, 0, 1LL << 40}).numel();
        }).find("64-bit") != std::string::npos);
  CHECK(error_of([] { zeros({1LL << 62}); }) ==
        "empty: shape (4611686018427387904,) of float32 is too large (its size in bytes does not "
        "fit a 64-bit count)");
  CHECK(error_of([] { empty({1LL << 40, 1LL << 30}); }).find("is too large") != std::string::npos);
  CHECK(error_of([] { empty({2, -3}); }) == "empty: negative dimension in shape (2, -3)");
  CHECK(checked_nbytes({3, 5}, float64, "x") == 120);
  // Within 64 bits but more than the machine has: a clear error, not a bare std::bad_alloc.
  CHECK(error_of([] { empty({1LL << 58}, float32); }).find("cannot allocate") != std::string::npos);
}

TEST_CASE("sizes: arange with a count beyond 64 bits is refused before converting it") {
  CHECK(error_of([] { arange(0.0, 1e300, 1.0); }).find("too many for a tensor") !=
        std::string::npos);
  CHECK(arange(0.0, 3.0).numel() == 3);
}

TEST_CASE("generator: randint on an empty range is an error, not a division by zero") {
  Generator gen(1);
  CHECK(error_of([&] { gen.randint(3, 3); }) ==
        "Generator::randint: empty range [3, 3) (need low < high)");
  CHECK(error_of([&] { gen.randint(5, 2); }).find("empty range [5, 2)") != std::string::npos);
  // The widest ranges do not overflow.
  const int64_t v = gen.randint(-(1LL << 62), 1LL << 62);
  CHECK((v >= -(1LL << 62) && v < (1LL << 62)));
}

TEST_CASE("shape ops on 0-d tensors: transpose and permute are the identity, as in PyTorch") {
  Tensor s = scalar_tensor(2.5, float64).requires_grad_();
  Tensor t = transpose(s, 0, -1);
  CHECK(t.dim() == 0);
  CHECK(t.item() == 2.5);
  Tensor p = permute(s, {});
  CHECK(p.dim() == 0);
  CHECK(p.item() == 2.5);
  (t * 3.0 + p).backward();
  CHECK(s.grad().item() == 4.0);
  CHECK(error_of<std::out_of_range>([&] { transpose(s, 0, 1); }).find("axis 1 is out of range") !=
        std::string::npos);
  CHECK(error_of([&] { permute(s, {0}); }) == "permute: 1 axes given for a tensor of shape ()");
}

TEST_CASE("sizes: an empty shape whose other dimensions' bytes overflow is refused too") {
  CHECK(checked_nbytes({0, 1000}, float64, "x") == 0);
  // 7.2e18 elements fit an int64 count, but not 4 bytes each.
  CHECK(error_of([] {
          empty({7205791293924966400LL, 0});
        }).find("is too large") != std::string::npos);
}
