// Losses. Labels are float tensors holding class indices (or 0/1 for the binary losses); they
// get no gradient. Reduction::mean divides by the batch size N for cross_entropy, svm_loss and
// the binary losses (as CrossEntropyLoss, BCEWithLogitsLoss) and by numel for mse_loss (as
// MSELoss); Reduction::none gives one value per example (per element for mse_loss).
// Every loss is one fused op whose backward is written with Tensor ops (create_graph works).
#pragma once
#include "dagrad/autograd/tensor.h"

namespace dagrad {

enum class Reduction { mean, sum, none };

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

}  // namespace dagrad
