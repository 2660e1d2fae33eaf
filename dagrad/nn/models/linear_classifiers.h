// Small classifiers: a binary classifier with a logistic or hinge loss, and a softmax
// classifier, each with an optional hidden ReLU layer (hidden_dim > 0).
#pragma once
#include <string>

#include "dagrad/nn/module.h"

namespace dagrad::nn {

struct LinearClassifierConfig {
  int64_t input_dim = 2;
  int64_t hidden_dim = 0;    // 0: linear model
  int64_t num_classes = 10;  // softmax classifier only
  double weight_scale = 1e-2;
  double reg = 0.0;
  Dtype dtype = float32;
  uint64_t seed = 0;
};

// The shared body: affine, or affine - relu - affine with a hidden layer.
class LinearStack : public Classifier {
 public:
  Tensor W1, b1, W2, b2;  // W2/b2 only with a hidden layer

 protected:
  LinearStack(const LinearClassifierConfig& config, int64_t outputs, const char* who);
  Tensor scores(const Tensor& X) const;
  LinearClassifierConfig cfg_;
  const char* who_;
};

// Scores (N); labels 0/1. loss_type "logistic" (binary cross-entropy on logits) or "hinge".
class BinaryClassifier : public LinearStack {
 public:
  BinaryClassifier(const LinearClassifierConfig& config, const std::string& loss_type = "logistic");
  Tensor forward(const Tensor& X) override;
  Tensor data_loss(const Tensor& scores, const Tensor& y) override;
  Tensor predict(const Tensor& X) override;  // 1 where the score is > 0
  std::string type_name() const override { return "BinaryClassifier"; }
  std::string describe() const override;

 private:
  std::string loss_type_;
};

class SoftmaxClassifier : public LinearStack {
 public:
  explicit SoftmaxClassifier(const LinearClassifierConfig& config);
  Tensor forward(const Tensor& X) override;
  std::string type_name() const override { return "SoftmaxClassifier"; }
  std::string describe() const override;
};

}  // namespace dagrad::nn
