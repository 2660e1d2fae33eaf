// The elementwise map loops, compiled once per path (isa_begin.h) and instantiated for every
// element function of functors.h; the compiler vectorizes each for the path.
#include <cstdint>
#include <functional>

#include "dagrad/kernels/functors.h"
// clang-format off
#include "dagrad/kernels/isa_begin.h"
// clang-format on

namespace dagrad::kernels::DAGRAD_ISA_NS {

// A local copy of f: its fields (a scalar, a slope) then cannot alias the output, so they stay
// in registers and the loop vectorizes.
template <typename F, typename T>
void unary_run(const T* __restrict x, T* __restrict out, int64_t n, const F& f) {
  const F local = f;
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(local(x[i]));
}

// Steps sa, sb are 0 or 1; each combination gets its own loop so that each vectorizes.
template <typename F, typename T>
void binary_run(const T* a, int64_t sa, const T* b, int64_t sb, T* __restrict out, int64_t n,
                const F& f) {
  const F local = f;
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(local(a[i], b[i]));
  } else if (sa == 1) {
    const T vb = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(local(a[i], vb));
  } else if (sb == 1) {
    const T va = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(local(va, b[i]));
  } else {
    const T v = static_cast<T>(local(a[0], b[0]));
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  }
}

#define DAGRAD_INSTANTIATE_UNARY(F)                                                   \
  template void unary_run<fn::F, float>(const float*, float*, int64_t, const fn::F&); \
  template void unary_run<fn::F, double>(const double*, double*, int64_t, const fn::F&);
#define DAGRAD_INSTANTIATE_BINARY(F)                                                               \
  template void binary_run<fn::F, float>(const float*, int64_t, const float*, int64_t, float*,     \
                                         int64_t, const fn::F&);                                   \
  template void binary_run<fn::F, double>(const double*, int64_t, const double*, int64_t, double*, \
                                          int64_t, const fn::F&);
#define DAGRAD_INSTANTIATE_INTEGER_UNARY(F) \
  template void unary_run<fn::F, int64_t>(const int64_t*, int64_t*, int64_t, const fn::F&);
#define DAGRAD_INSTANTIATE_INTEGER_BINARY(F)                                                 \
  template void binary_run<fn::F, int64_t>(const int64_t*, int64_t, const int64_t*, int64_t, \
                                           int64_t*, int64_t, const fn::F&);
DAGRAD_UNARY_FUNCTIONS(DAGRAD_INSTANTIATE_UNARY)
DAGRAD_BINARY_FUNCTIONS(DAGRAD_INSTANTIATE_BINARY)
DAGRAD_INTEGER_UNARY_FUNCTIONS(DAGRAD_INSTANTIATE_INTEGER_UNARY)
DAGRAD_INTEGER_BINARY_FUNCTIONS(DAGRAD_INSTANTIATE_INTEGER_BINARY)
#undef DAGRAD_INSTANTIATE_UNARY
#undef DAGRAD_INSTANTIATE_BINARY
#undef DAGRAD_INSTANTIATE_INTEGER_UNARY
#undef DAGRAD_INSTANTIATE_INTEGER_BINARY

}  // namespace dagrad::kernels::DAGRAD_ISA_NS

#include "dagrad/kernels/isa_end.h"
