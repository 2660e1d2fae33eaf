// Gradient clipping, in place on the .grad of parameters (those without a gradient are
// skipped). Runs under no_grad and bumps each changed gradient's version counter.
#pragma once
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::optim {

// PyTorch's clip_grad_norm_: the norm of all gradients taken together (the norm of the
// per-tensor norms), and when it exceeds max_norm every gradient is scaled by
// max_norm / (norm + 1e-6) (precisely: whenever that factor is < 1, as in PyTorch), so the
// result has norm max_norm up to the 1e-6. Returns the norm before clipping (0 when no
// parameter has a gradient). norm_type: any p > 0, or INFINITY for the max |g|. Sums are
// accumulated in double, also for float32 gradients. A non-finite norm propagates into the
// gradients as in PyTorch (scale by NaN/0). max_norm < 0 or norm_type <= 0 is
// std::invalid_argument.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// PyTorch's clip_grad_value_: clamps every gradient element into [-clip, clip].
// clip < 0 is std::invalid_argument.
void clip_grad_value(const std::vector<Tensor>& params, double clip);

// The same global norm, without clipping.
double grad_norm(const std::vector<Tensor>& params, double norm_type = 2.0);

}  // namespace dagrad::optim
