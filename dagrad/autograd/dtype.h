// Element types and the dispatch macro every kernel uses.
#pragma once
#include <cstddef>
#include <string_view>

namespace dagrad {

enum class Dtype : unsigned char { float32, float64 };
inline constexpr Dtype float32 = Dtype::float32;
inline constexpr Dtype float64 = Dtype::float64;

inline constexpr std::size_t dtype_size(Dtype d) { return d == Dtype::float32 ? 4 : 8; }
inline constexpr std::string_view dtype_name(Dtype d) {
  return d == Dtype::float32 ? "float32" : "float64";
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

}  // namespace dagrad

// Runs the body with `T` bound to the C++ type of `dtype`.
#define DAGRAD_DISPATCH(dtype, ...)            \
  do {                                         \
    if ((dtype) == ::dagrad::Dtype::float32) { \
      using T = float;                         \
      __VA_ARGS__;                             \
    } else {                                   \
      using T = double;                        \
      __VA_ARGS__;                             \
    }                                          \
  } while (0)
