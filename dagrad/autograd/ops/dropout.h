// Inverted dropout (PyTorch's F.dropout): p is the probability of DROPPING an element.
#pragma once
#include "dagrad/autograd/random.h"
#include "dagrad/autograd/tensor.h"

namespace dagrad {

// Training: out = x * mask / (1 - p), mask[i] = 1 with probability 1 - p (an element is kept
// when gen.uniform() < 1 - p, one draw per element in row-major order), so E[out] = x and the
// same generator state gives the same mask. p == 1 drops everything (out = 0).
// Identity (the input itself, no copy) when !training or p == 0.
// NOTE: the course's FullyConnectedNet takes a KEEP probability; this op takes the DROP
// probability like PyTorch, and the nn layer converts (p = 1 - keep).
// Backward: dx = dout * mask / (1 - p), written with Tensor ops, so it is twice
// differentiable. Forward mode: t_out = t_x * mask / (1 - p).
// Errors: p outside [0, 1].
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);
Tensor dropout(const Tensor& x, double p, bool training = true);  // the default generator

}  // namespace dagrad
