// The update loops of optim/'s rules on raw buffers, per path (optimizer.cpp). The optimizer
// classes keep state and hyper-parameters; these do one pass over a parameter.
#pragma once
#include <cstdint>

#include "dagrad/runtime/isa.h"

namespace dagrad::kernels {

// A rule's constants in the parameter's type (each computed in double, then rounded once).
template <typename T>
struct UpdateHyper {
  T lr = 0, wd = 0;                  // wd: L2 decay (dw + wd*w) when l2
  T mu = 0, one_plus_mu = 0;         // momentum, Nesterov
  T decay = 0, one_minus_decay = 0;  // RMSProp
  T eps = 0;                         // RMSProp, Adagrad, Adam
  T b1 = 0, b2 = 0, one_minus_b1 = 0, one_minus_b2 = 0;
  T bias1 = 1, bias2 = 1;  // Adam's 1 - b1^t, 1 - b2^t
  T shrink = 1;            // AdamW: w *= 1 - lr*wd first, when decoupled
  bool l2 = false, decoupled = false;
};

template <typename T>
struct OptimizerKernels {
  // w -= lr * dw
  void (*sgd)(T* w, const T* dw, int64_t n, const UpdateHyper<T>& h);
  // v = mu*v - lr*dw;  w += v
  void (*momentum)(T* w, T* v, const T* dw, int64_t n, const UpdateHyper<T>& h);
  // v_prev = v;  v = mu*v - lr*dw;  w += -mu*v_prev + (1+mu)*v
  void (*nesterov)(T* w, T* v, const T* dw, int64_t n, const UpdateHyper<T>& h);
  // cache = d*cache + (1-d)*dw²;  w -= lr*dw/(sqrt(cache)+eps)
  void (*rmsprop)(T* w, T* cache, const T* dw, int64_t n, const UpdateHyper<T>& h);
  // cache += dw²;  w -= lr*dw/(sqrt(cache)+eps)
  void (*adagrad)(T* w, T* cache, const T* dw, int64_t n, const UpdateHyper<T>& h);
  // m = b1*m + (1-b1)*dw;  v = b2*v + (1-b2)*dw²;  w -= lr*(m/bias1)/(sqrt(v/bias2)+eps)
  void (*adam)(T* w, T* m, T* v, const T* dw, int64_t n, const UpdateHyper<T>& h);
};
DAGRAD_FOR_EACH_ISA(template <typename T> const OptimizerKernels<T>& optimizer_kernels();)
template <typename T>
const OptimizerKernels<T>& optimizer_kernels() {
  return DAGRAD_ISA_PICK(optimizer_kernels<T>());
}

}  // namespace dagrad::kernels
