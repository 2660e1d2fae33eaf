// softmax and log_softmax along an axis, numerically stable (max subtracted first; the
// normalizer is summed in double). A row that is all -inf gives NaN, as PyTorch.
// Backward (Tensor ops, so create_graph works): softmax: y (g - sum(g y));
// log_softmax: g - softmax(x) sum(g), both sums along the axis.
#pragma once
#include "dagrad/autograd/tensor.h"

namespace dagrad {

Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

}  // namespace dagrad
