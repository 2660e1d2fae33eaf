// softmax and log_softmax along an axis, numerically stable (max subtracted first).
#pragma once
#include "autograd/tensor.h"

namespace dagrad {

Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

}  // namespace dagrad
