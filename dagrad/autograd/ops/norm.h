// Batch and layer normalization as fused raw kernels (forward and backward). Under
// create_graph their backward is written in differentiable ops instead (the same formulas,
// statistics recomputed from x), so second derivatives work. Group and instance normalization
// are composed of differentiable ops.
#pragma once
#include "dagrad/autograd/tensor.h"

namespace dagrad {

// Batch normalization over x (N, C, *): statistics per channel (axis 1) over every other
// axis, so (N, D) is the course's batchnorm and (N, C, H, W) its spatial batchnorm.
//   training: mu, var = mean and BIASED variance of the batch (np.var, what normalizes);
//             out = gamma * (x - mu) / sqrt(var + eps) + beta; and, when running_mean /
//             running_var are defined, they are updated in place (under no_grad, version
//             bumped):  running = momentum * running + (1 - momentum) * batch.
//             CONVENTION: this is the course's (cs231n) rule: momentum = 0.9 keeps 90% of the
//             old value, and running_var tracks the BIASED batch variance. PyTorch instead
//             writes momentum' = 1 - momentum (default 0.1) and tracks the UNBIASED variance.
//   eval:     out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta.
// gamma, beta, running_mean, running_var have shape (C); an undefined gamma/beta means 1/0.
// Backward (training), with xh = (x - mu) / sigma and M = elements per channel:
//   dx = gamma / (M sigma) * (M g - sum(g) - xh * sum(g xh)); dgamma = sum(g xh); dbeta = sum(g).
// Forward mode: the same linear map applied to t_x, plus t_gamma * xh + t_beta.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.9, double eps = 1e-5);

// relu(batch_norm(...)) as one op (one node on the tape, as oneDNN's and cuDNN's fused
// batch norm + ReLU): the clamp is applied in the normalizing pass, and backward recomputes
// the ReLU's mask from x and the per-channel map instead of reading the output, so the pair
// costs the memory passes of batch norm alone. Same arguments and conventions as batch_norm.
// Backward: batch_norm's rules applied to g' = g where out > 0, else 0.
Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       double momentum = 0.9, double eps = 1e-5);

// Layer normalization over the last dimensions of x given by normalized_shape (the course's
// layernorm: the features of each example), biased variance:
//   out = gamma * (x - mu) / sqrt(var + eps) + beta, with gamma/beta of normalized_shape
// (undefined = 1/0). Backward per row, with gg = g * gamma and D = row length:
//   dx = (1 / (D sigma)) * (D gg - sum(gg) - xh * sum(gg xh)); dgamma = sum over rows of g xh.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& gamma,
                  const Tensor& beta, double eps = 1e-5);
// normalized_shape = gamma's shape.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);

// Group normalization (F.group_norm): the C channels of x (N, C, *) in `groups` groups, each
// normalized over its channels and every other axis (biased variance), then
// out = gamma * xh + beta per channel (gamma, beta of shape (C), undefined = 1/0). Composed of
// differentiable ops: double backward and forward mode work.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta,
                  double eps = 1e-5);
// Instance normalization (F.instance_norm without running statistics): group_norm with one
// group per channel.
Tensor instance_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);

// Local response normalization across channels (F.local_response_norm, AlexNet's LRN): for x
// (N, C, *), out_c = x_c / (k + alpha / size * sum_{c'} x_{c'}^2)^beta, the sum over the
// `size` channels c - size/2 .. c + (size-1)/2 (missing channels count as 0, the divisor is
// always size). Composed of differentiable ops: any order, forward mode.
Tensor local_response_norm(const Tensor& x, int64_t size, double alpha = 1e-4, double beta = 0.75,
                           double k = 1.0);

}  // namespace dagrad
