// Losses. Labels are float tensors holding class indices (or 0/1 for the binary losses).
#pragma once
#include "autograd/tensor.h"

namespace dagrad {

enum class Reduction { mean, sum, none };

// Softmax cross-entropy of logits (N, C) against labels (N): -log softmax(x)[y], fused.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                     Reduction reduction = Reduction::mean);
// Multiclass SVM (cs231n): sum_{j != y} max(0, s_j - s_y + margin), per example.
Tensor svm_loss(const Tensor& scores, const Tensor& labels, double margin = 1.0,
                Reduction reduction = Reduction::mean);
// Binary logistic loss on logits, labels in {0, 1}: log(1 + e^-z) style, stable for large |z|.
Tensor binary_logistic_loss(const Tensor& logits, const Tensor& labels,
                            Reduction reduction = Reduction::mean);
// Binary hinge loss, labels in {0, 1} (mapped to -1/+1) or {-1, +1}: max(0, 1 - y s).
Tensor binary_hinge_loss(const Tensor& scores, const Tensor& labels,
                         Reduction reduction = Reduction::mean);
// Mean squared error.
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction reduction = Reduction::mean);

}  // namespace dagrad
