// Element types and the dispatch macros every kernel uses.
//   float32, float64: values that can be differentiated;
//   int64: labels and indices (no gradient; arithmetic only where it stays exact, see
//          docs/ops.md). Kernels that compute in floating point dispatch with
//          DAGRAD_DISPATCH, which refuses int64; kernels that only move or compare values
//          dispatch with DAGRAD_DISPATCH_ALL.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dagrad {

enum class Dtype : unsigned char { float32, float64, int64 };
inline constexpr Dtype float32 = Dtype::float32;
inline constexpr Dtype float64 = Dtype::float64;
inline constexpr Dtype int64 = Dtype::int64;

inline constexpr std::size_t dtype_size(Dtype d) { return d == Dtype::float32 ? 4 : 8; }
inline constexpr bool is_floating(Dtype d) { return d != Dtype::int64; }
inline constexpr std::string_view dtype_name(Dtype d) {
  return d == Dtype::float32 ? "float32" : d == Dtype::float64 ? "float64" : "int64";
}

template <typename T>
constexpr Dtype dtype_of();
template <>
constexpr Dtype dtype_of<float>() {
  return Dtype::float32;
}
template <>
constexpr Dtype dtype_of<double>() {
  return Dtype::float64;
}
template <>
constexpr Dtype dtype_of<int64_t>() {
  return Dtype::int64;
}

// What DAGRAD_DISPATCH throws for an int64 tensor: an op that reaches a floating-point kernel
// with one (ops check their inputs first and name themselves; this is the backstop).
[[noreturn]] void throw_not_floating(const char* op = nullptr);

}  // namespace dagrad

// Runs the body with `T` bound to the C++ type of a floating `dtype` (float or double); an
// int64 dtype is an std::invalid_argument.
#define DAGRAD_DISPATCH(dtype, ...)                            \
  do {                                                         \
    const ::dagrad::Dtype dagrad_dispatch_ = (dtype);          \
    if (dagrad_dispatch_ == ::dagrad::Dtype::float32) {        \
      using T = float;                                         \
      __VA_ARGS__;                                             \
    } else if (dagrad_dispatch_ == ::dagrad::Dtype::float64) { \
      using T = double;                                        \
      __VA_ARGS__;                                             \
    } else {                                                   \
      ::dagrad::throw_not_floating();                          \
    }                                                          \
  } while (0)

// The same for kernels that copy, gather or compare values: `T` may also be int64_t.
#define DAGRAD_DISPATCH_ALL(dtype, ...)      \
  do {                                       \
    if ((dtype) == ::dagrad::Dtype::int64) { \
      using T = int64_t;                     \
      __VA_ARGS__;                           \
    } else {                                 \
      DAGRAD_DISPATCH(dtype, __VA_ARGS__);   \
    }                                        \
  } while (0)
