// Losses. Labels are float tensors holding class indices (or 0/1 for the binary losses); they
// get no gradient. Reduction::mean divides by the batch size N for cross_entropy, svm_loss and
// the binary losses (as CrossEntropyLoss, BCEWithLogitsLoss) and by numel for mse_loss (as
// MSELoss); Reduction::none gives one value per example (per element for mse_loss).
// Every loss is one fused op whose backward is written with Tensor ops (create_graph works).
#pragma once
#include "dagrad/autograd/tensor.h"

namespace dagrad {

// batchmean (the sum divided by the batch size, size(0)) is kl_div's; the other losses refuse it.
enum class Reduction { mean, sum, none, batchmean };

// Softmax cross-entropy of logits (N, C) against labels (N): -log softmax(x)[y], fused.
// Labels must be integers in [0, C). Gradient (softmax(x) - onehot(y)) / N for the mean.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                     Reduction reduction = Reduction::mean);
// Multiclass SVM (cs231n): sum_{j != y} max(0, s_j - s_y + margin), per example. Gradient:
// 1 where a margin is > 0 (0 exactly at the kink), minus their count at the correct class.
Tensor svm_loss(const Tensor& scores, const Tensor& labels, double margin = 1.0,
                Reduction reduction = Reduction::mean);
// Binary logistic loss on logits (N) or (N, 1), labels in [0, 1] (normally 0/1; soft labels
// as BCEWithLogitsLoss), of shape (N) or (N, 1): softplus(z) - y z, stable for any |z|.
// Gradient sigmoid(z) - y. Reduction::none keeps the logits' shape.
Tensor binary_logistic_loss(const Tensor& logits, const Tensor& labels,
                            Reduction reduction = Reduction::mean);
// Binary hinge loss, labels in {0, 1} (mapped to -1/+1) or {-1, +1}: max(0, 1 - y s).
// Scores and labels shaped as for binary_logistic_loss; any other label value is an error.
// Gradient -y where 1 - y s > 0 (0 at the kink).
Tensor binary_hinge_loss(const Tensor& scores, const Tensor& labels,
                         Reduction reduction = Reduction::mean);
// Mean squared error (p - t)^2; shapes and dtypes must match exactly (no broadcasting).
// Both pred and target get gradients.
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction = Reduction::mean);

// The losses below are composed of differentiable ops (double backward and forward mode come
// with them). Reduction::mean divides by numel, as PyTorch; over zero elements it gives NaN.
// pred and target must have the same shape (no broadcasting) and dtype; both get gradients.

// Negative log-likelihood of log-probabilities (N, C) at labels (N): -logp[i, y_i]
// (torch.nn.functional.nll_loss; mean divides by N).
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels,
                Reduction reduction = Reduction::mean);
// |p - t| (F.l1_loss); gradient sign(p - t), 0 at 0.
Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction reduction = Reduction::mean);
// d = |p - t|: 0.5 d^2 / beta where d < beta, else d - 0.5 beta (F.smooth_l1_loss); beta >= 0,
// beta = 0 is l1_loss.
Tensor smooth_l1_loss(const Tensor& pred, const Tensor& target,
                      Reduction reduction = Reduction::mean, double beta = 1.0);
// d = |p - t|: 0.5 d^2 where d < delta, else delta (d - 0.5 delta) (F.huber_loss); delta > 0.
Tensor huber_loss(const Tensor& pred, const Tensor& target, Reduction reduction = Reduction::mean,
                  double delta = 1.0);
// KL divergence with `input` holding log-probabilities: t (log t - input), 0 where t = 0
// (F.kl_div); with log_target, target holds log-probabilities: e^t (t - input). PyTorch's
// default reduction is mean (over every element); batchmean gives the true KL per example.
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
              bool log_target = false);
// Binary cross-entropy of probabilities p in [0, 1]: -(t log p + (1 - t) log(1 - p)), each log
// clamped at -100 (F.binary_cross_entropy). Gradient (p - t) / max(p (1 - p), 1e-12).
// Inputs outside [0, 1] (or NaN) are an error naming the first one.
Tensor binary_cross_entropy(const Tensor& probs, const Tensor& target,
                            Reduction reduction = Reduction::mean);

}  // namespace dagrad
