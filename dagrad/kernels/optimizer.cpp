// The optimizers' update loops, compiled once per path (isa_begin.h). Each is one pass over
// contiguous memory; the L2 decay (dw + wd*w) is fused so .grad is never written.
#include "dagrad/kernels/optimizer.h"

#include <cmath>

#include "dagrad/runtime/parallel.h"
// clang-format off
#include "dagrad/kernels/isa_begin.h"
// clang-format on

namespace dagrad::kernels::DAGRAD_ISA_NS {
namespace {

// body(j) for j in [0, n); big parameters are split across the thread pool.
template <typename Body>
void for_each_index(int64_t n, Body body) {
  parallel_for(n, int64_t{1} << 15, [&body](int64_t lo, int64_t hi) {
    // A local copy: the body's captured constants then cannot alias the parameters it
    // stores to, so they stay in registers and the loop vectorizes (through the shared
    // reference, every store forced a reload and the loop ran scalar).
    const Body local = body;
    for (int64_t j = lo; j < hi; ++j) local(j);
  });
}

template <typename T>
void sgd(T* __restrict w, const T* __restrict dw, int64_t n, const UpdateHyper<T>& h) {
  const T lr = h.lr, wd = h.wd;
  if (h.l2) {
    for_each_index(n, [=](int64_t j) { w[j] -= lr * (dw[j] + wd * w[j]); });
  } else {
    for_each_index(n, [=](int64_t j) { w[j] -= lr * dw[j]; });
  }
}

template <typename T>
void momentum(T* __restrict w, T* __restrict v, const T* __restrict dw, int64_t n,
              const UpdateHyper<T>& h) {
  const T lr = h.lr, mu = h.mu, wd = h.wd;
  const bool l2 = h.l2;
  for_each_index(n, [=](int64_t j) {
    const T d = l2 ? dw[j] + wd * w[j] : dw[j];
    v[j] = mu * v[j] - lr * d;
    w[j] += v[j];
  });
}

template <typename T>
void nesterov(T* __restrict w, T* __restrict v, const T* __restrict dw, int64_t n,
              const UpdateHyper<T>& h) {
  const T lr = h.lr, mu = h.mu, wd = h.wd, one_mu = h.one_plus_mu;
  const bool l2 = h.l2;
  for_each_index(n, [=](int64_t j) {
    const T d = l2 ? dw[j] + wd * w[j] : dw[j];
    const T v_prev = v[j];
    v[j] = mu * v[j] - lr * d;
    w[j] += -mu * v_prev + one_mu * v[j];
  });
}

template <typename T>
void rmsprop(T* __restrict w, T* __restrict cache, const T* __restrict dw, int64_t n,
             const UpdateHyper<T>& h) {
  const T lr = h.lr, dr = h.decay, one_dr = h.one_minus_decay, eps = h.eps, wd = h.wd;
  const bool l2 = h.l2;
  for_each_index(n, [=](int64_t j) {
    const T d = l2 ? dw[j] + wd * w[j] : dw[j];
    cache[j] = dr * cache[j] + one_dr * d * d;
    w[j] -= lr * d / (std::sqrt(cache[j]) + eps);
  });
}

template <typename T>
void adagrad(T* __restrict w, T* __restrict cache, const T* __restrict dw, int64_t n,
             const UpdateHyper<T>& h) {
  const T lr = h.lr, eps = h.eps, wd = h.wd;
  const bool l2 = h.l2;
  for_each_index(n, [=](int64_t j) {
    const T d = l2 ? dw[j] + wd * w[j] : dw[j];
    cache[j] += d * d;
    w[j] -= lr * d / (std::sqrt(cache[j]) + eps);
  });
}

template <typename T>
void adam(T* __restrict w, T* __restrict m, T* __restrict v, const T* __restrict dw, int64_t n,
          const UpdateHyper<T>& h) {
  const T lr = h.lr, b1 = h.b1, b2 = h.b2, one_b1 = h.one_minus_b1, one_b2 = h.one_minus_b2,
          c1 = h.bias1, c2 = h.bias2, eps = h.eps, wd = h.wd, shrink = h.shrink;
  const bool l2 = h.l2, decoupled = h.decoupled;
  for_each_index(n, [=](int64_t j) {
    if (decoupled) w[j] *= shrink;
    const T d = l2 ? dw[j] + wd * w[j] : dw[j];
    m[j] = b1 * m[j] + one_b1 * d;
    v[j] = b2 * v[j] + one_b2 * d * d;
    const T mt = m[j] / c1, vt = v[j] / c2;
    w[j] -= lr * mt / (std::sqrt(vt) + eps);
  });
}

}  // namespace

template <typename T>
const OptimizerKernels<T>& optimizer_kernels() {
  static const OptimizerKernels<T> table{&sgd<T>,     &momentum<T>, &nesterov<T>,
                                         &rmsprop<T>, &adagrad<T>,  &adam<T>};
  return table;
}
template const OptimizerKernels<float>& optimizer_kernels<float>();
template const OptimizerKernels<double>& optimizer_kernels<double>();

}  // namespace dagrad::kernels::DAGRAD_ISA_NS

#include "dagrad/kernels/isa_end.h"
