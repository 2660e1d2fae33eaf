// The element functions of the elementwise ops, one named type each, so that the map loops
// (kernels/elementwise.cpp) can be compiled once per instruction-set path and instantiated for
// every function below (a lambda in an op file could only be compiled for the baseline). A
// function keeps the arithmetic of the op it serves: scalars stay double (x + s for a float x
// is computed in double, then rounded once), comparisons give 1 or 0.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <type_traits>

namespace dagrad::kernels::fn {

// int64 arithmetic wraps around on overflow, as PyTorch's does (computed in uint64_t, where
// overflow is defined; signed overflow would be undefined behaviour).
template <typename T, typename Op>
T wrap(T x, T y, Op op) {
  return static_cast<T>(op(static_cast<uint64_t>(x), static_cast<uint64_t>(y)));
}

// ---- unary: x -> f(x)
struct AddScalar {
  double s;
  template <typename T>
  auto operator()(T x) const {
    return x + s;
  }
};
struct MulScalar {
  double s;
  template <typename T>
  auto operator()(T x) const {
    return x * s;
  }
};
struct RsubScalar {  // s - x
  double s;
  template <typename T>
  auto operator()(T x) const {
    return s - x;
  }
};
struct RdivScalar {  // s / x
  double s;
  template <typename T>
  auto operator()(T x) const {
    return s / x;
  }
};
struct DivScalar {
  double s;
  template <typename T>
  auto operator()(T x) const {
    return x / s;
  }
};
struct Neg {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_integral_v<T>)
      return wrap<T>(T(0), x, [](uint64_t u, uint64_t v) { return u - v; });
    else
      return -x;
  }
};
struct Square {
  template <typename T>
  T operator()(T x) const {
    return x * x;
  }
};
struct PowScalar {
  double p;
  template <typename T>
  auto operator()(T x) const {
    return std::pow(x, p);
  }
};
struct Clamp {
  double lo, hi;
  template <typename T>
  T operator()(T v) const {
    return v < T(lo) ? T(lo) : (v > T(hi) ? T(hi) : v);
  }
};
struct InsideMask {  // 1 inside [lo, hi] (clamp's derivative)
  double lo, hi;
  template <typename T>
  T operator()(T v) const {
    return (v >= T(lo) && v <= T(hi)) ? T(1) : T(0);
  }
};
template <typename Cmp>
struct CompareScalar {  // 1 where x OP s (compared in double)
  double s;
  template <typename T>
  double operator()(T x) const {
    return Cmp{}(x, s) ? 1.0 : 0.0;
  }
};
struct PositiveMask {  // [x > 0], relu's derivative
  template <typename T>
  T operator()(T v) const {
    return v > 0 ? T(1) : T(0);
  }
};
struct LeakyMask {  // 1 for x > 0, slope otherwise
  double slope;
  template <typename T>
  T operator()(T v) const {
    return v > 0 ? T(1) : T(slope);
  }
};
struct Exp {
  template <typename T>
  T operator()(T v) const {
    return std::exp(v);
  }
};
struct Log {
  template <typename T>
  T operator()(T v) const {
    return std::log(v);
  }
};
struct Log1p {
  template <typename T>
  T operator()(T v) const {
    return std::log1p(v);
  }
};
struct Sqrt {
  template <typename T>
  T operator()(T v) const {
    return std::sqrt(v);
  }
};
struct Sign {
  template <typename T>
  T operator()(T v) const {
    return v > 0 ? T(1) : (v < 0 ? T(-1) : T(0));
  }
};
struct Abs {
  template <typename T>
  T operator()(T v) const {
    return std::abs(v);
  }
};
struct Sin {
  template <typename T>
  T operator()(T v) const {
    return std::sin(v);
  }
};
struct Cos {
  template <typename T>
  T operator()(T v) const {
    return std::cos(v);
  }
};
struct Tanh {
  template <typename T>
  T operator()(T v) const {
    return std::tanh(v);
  }
};
struct Sigmoid {  // stable on both sides: e^x / (1 + e^x) for x < 0
  template <typename T>
  T operator()(T v) const {
    if (v >= 0) return T(1) / (T(1) + std::exp(-v));
    const T e = std::exp(v);
    return e / (T(1) + e);
  }
};
struct Relu {
  template <typename T>
  T operator()(T v) const {
    return v > 0 ? v : T(0);
  }
};
struct LeakyRelu {
  double slope;
  template <typename T>
  T operator()(T v) const {
    return v > 0 ? v : v * T(slope);
  }
};
struct Softplus {  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
  template <typename T>
  T operator()(T v) const {
    return (v > 0 ? v : T(0)) + std::log1p(std::exp(-std::abs(v)));
  }
};
struct Erf {
  template <typename T>
  T operator()(T v) const {
    return std::erf(v);
  }
};
struct Gelu {  // x Phi(x) = x (1 + erf(x / sqrt 2)) / 2
  template <typename T>
  T operator()(T v) const {
    return T(0.5) * v * (T(1) + std::erf(v * T(0.70710678118654752440)));
  }
};
struct GeluTanh {  // x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
  template <typename T>
  T operator()(T v) const {
    const T u = T(0.79788456080286535588) * (v + T(0.044715) * v * v * v);
    return T(0.5) * v * (T(1) + std::tanh(u));
  }
};
struct Elu {  // x for x > 0, alpha (e^x - 1) otherwise
  double alpha;
  template <typename T>
  T operator()(T v) const {
    return v > 0 ? v : T(alpha) * std::expm1(v);
  }
};
struct Silu {  // x sigmoid(x)
  template <typename T>
  T operator()(T v) const {
    return v * Sigmoid{}(v);
  }
};
struct Tan {
  template <typename T>
  T operator()(T v) const {
    return std::tan(v);
  }
};
struct Atan {
  template <typename T>
  T operator()(T v) const {
    return std::atan(v);
  }
};
struct Rsqrt {
  template <typename T>
  T operator()(T v) const {
    return T(1) / std::sqrt(v);
  }
};
struct Expm1 {
  template <typename T>
  T operator()(T v) const {
    return std::expm1(v);
  }
};
struct Log2 {
  template <typename T>
  T operator()(T v) const {
    return std::log2(v);
  }
};
struct Floor {
  template <typename T>
  T operator()(T v) const {
    return std::floor(v);
  }
};
struct Ceil {
  template <typename T>
  T operator()(T v) const {
    return std::ceil(v);
  }
};
struct Round {  // halves to even, as torch.round (nearbyint in the default rounding mode)
  template <typename T>
  T operator()(T v) const {
    return std::nearbyint(v);
  }
};

// ---- binary: (a, b) -> f(a, b)
struct Add {
  template <typename T>
  T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>)
      return wrap<T>(x, y, [](uint64_t u, uint64_t v) { return u + v; });
    else
      return x + y;
  }
};
struct Sub {
  template <typename T>
  T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>)
      return wrap<T>(x, y, [](uint64_t u, uint64_t v) { return u - v; });
    else
      return x - y;
  }
};
struct Mul {
  template <typename T>
  T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>)
      return wrap<T>(x, y, [](uint64_t u, uint64_t v) { return u * v; });
    else
      return x * y;
  }
};
struct Div {
  template <typename T>
  T operator()(T x, T y) const {
    return x / y;
  }
};
struct Pow {
  template <typename T>
  T operator()(T x, T y) const {
    return std::pow(x, y);
  }
};
struct First {  // (a, b) -> a: broadcasting a copy of a (keeps the sign of -0.0, unlike a + 0)
  template <typename T>
  T operator()(T x, T) const {
    return x;
  }
};
struct Atan2 {  // the angle of the point (b, a): atan2(a, b)
  template <typename T>
  T operator()(T x, T y) const {
    return std::atan2(x, y);
  }
};
struct Maximum {  // NaN propagates from either side
  template <typename T>
  T operator()(T x, T y) const {
    return (x >= y || x != x) ? x : y;
  }
};
struct Minimum {
  template <typename T>
  T operator()(T x, T y) const {
    return (x <= y || x != x) ? x : y;
  }
};
struct WinMask {  // where x wins over y (larger, or smaller), ties one half
  bool larger;
  template <typename T>
  T operator()(T x, T y) const {
    if (x == y) return T(0.5);
    return (larger ? x > y : x < y) ? T(1) : T(0);
  }
};
struct NonzeroMask {  // (m, z) -> 1 + z where m != 0, else z (z = 0 broadcasts m)
  template <typename T>
  T operator()(T m, T z) const {
    return m != 0 ? z + 1 : z;
  }
};
template <typename Cmp>
struct Compare {  // 1 where x OP y
  template <typename T>
  double operator()(T x, T y) const {
    return Cmp{}(x, y) ? 1.0 : 0.0;
  }
};
struct ReluBackward {  // (g, y) -> g where y > 0
  template <typename T>
  T operator()(T g, T y) const {
    return y > 0 ? g : T(0);
  }
};
struct HingeCoef {  // (s, y) -> d max(0, 1 - y s)/ds = -y [1 - y s > 0]
  template <typename T>
  T operator()(T a, T b) const {
    return 1 - a * b > 0 ? -b : b - b;
  }
};

// The lists the kernel file instantiates, per path and dtype. A function missing here is a
// link error at the op that uses it.
// Laid out by hand: clang-format reflows these lists differently on every pass.
// clang-format off
#define DAGRAD_UNARY_FUNCTIONS(X)                                                       \
  X(AddScalar) X(MulScalar) X(RsubScalar) X(RdivScalar) X(DivScalar) X(Neg) X(Square)   \
  X(PowScalar) X(Clamp) X(InsideMask) X(CompareScalar<std::greater<>>)                  \
  X(CompareScalar<std::less<>>) X(CompareScalar<std::greater_equal<>>)                  \
  X(CompareScalar<std::less_equal<>>) X(CompareScalar<std::equal_to<>>) X(PositiveMask) \
  X(LeakyMask) X(Exp) X(Log) X(Log1p) X(Sqrt) X(Sign) X(Abs) X(Sin) X(Cos) X(Tanh)      \
  X(Sigmoid) X(Relu) X(LeakyRelu) X(Softplus) X(Erf) X(Gelu) X(GeluTanh) X(Elu) X(Silu) \
  X(Tan) X(Atan) X(Rsqrt) X(Expm1) X(Log2) X(Floor) X(Ceil) X(Round)
#define DAGRAD_BINARY_FUNCTIONS(X)                                                      \
  X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(First) X(Atan2) X(Maximum) X(Minimum) X(WinMask) \
  X(NonzeroMask) X(Compare<std::equal_to<>>) X(Compare<std::not_equal_to<>>)            \
  X(Compare<std::less<>>) X(Compare<std::less_equal<>>) X(Compare<std::greater<>>)      \
  X(Compare<std::greater_equal<>>) X(ReluBackward) X(HingeCoef)

// The functions that also run on int64 tensors: exact there (wrapping like PyTorch's int64).
// Every other function computes in floating point and refuses int64 (map_unary/map_binary).
#define DAGRAD_INTEGER_UNARY_FUNCTIONS(X)                                    \
  X(Neg) X(CompareScalar<std::greater<>>) X(CompareScalar<std::less<>>)      \
  X(CompareScalar<std::greater_equal<>>) X(CompareScalar<std::less_equal<>>) \
  X(CompareScalar<std::equal_to<>>)
#define DAGRAD_INTEGER_BINARY_FUNCTIONS(X)                                                  \
  X(Add) X(Sub) X(Mul) X(First) X(Maximum) X(Minimum) X(NonzeroMask)                        \
  X(Compare<std::equal_to<>>) X(Compare<std::not_equal_to<>>) X(Compare<std::less<>>)       \
  X(Compare<std::less_equal<>>) X(Compare<std::greater<>>) X(Compare<std::greater_equal<>>)
// clang-format on

template <typename F>
inline constexpr bool on_integers = false;
#define DAGRAD_ON_INTEGERS(F) \
  template <>                 \
  inline constexpr bool on_integers<F> = true;
DAGRAD_INTEGER_UNARY_FUNCTIONS(DAGRAD_ON_INTEGERS)
DAGRAD_INTEGER_BINARY_FUNCTIONS(DAGRAD_ON_INTEGERS)
#undef DAGRAD_ON_INTEGERS

}  // namespace dagrad::kernels::fn
