#include "dagrad/nn/models/linear_classifiers.h"

#include <fmt/format.h>

#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/autograd/ops/loss.h"
#include "dagrad/nn/init.h"

namespace dagrad::nn {

LinearStack::LinearStack(const LinearClassifierConfig& c, int64_t outputs, const char* who)
    : cfg_(c), who_(who) {
  reg = c.reg;
  Generator gen(c.seed);
  const Init init{InitScheme::gaussian, c.weight_scale};
  const int64_t first = c.hidden_dim > 0 ? c.hidden_dim : outputs;
  W1 = register_parameter(
      "W1", init_weight({c.input_dim, first}, c.input_dim, first, init, gen, c.dtype));
  b1 = register_parameter("b1", zeros({first}, c.dtype), false);
  if (c.hidden_dim > 0) {
    W2 =
        register_parameter("W2", init_weight({first, outputs}, first, outputs, init, gen, c.dtype));
    b2 = register_parameter("b2", zeros({outputs}, c.dtype), false);
  }
}

Tensor LinearStack::scores(const Tensor& X) const {
  Tensor x = X.dim() == 2 ? X : X.reshape({X.shape()[0], -1});
  if (x.shape()[1] != cfg_.input_dim)
    throw std::invalid_argument(fmt::format("{}: input of shape {} does not flatten to (N, {})",
                                            who_, to_string(X.shape()), cfg_.input_dim));
  Tensor h = affine(x, W1, b1);
  return W2.defined() ? affine(relu(h), W2, b2) : h;
}

BinaryClassifier::BinaryClassifier(const LinearClassifierConfig& c, const std::string& loss_type)
    : LinearStack(c, 1, "BinaryClassifier"), loss_type_(loss_type) {
  if (loss_type != "logistic" && loss_type != "hinge")
    throw std::invalid_argument(
        fmt::format("BinaryClassifier: unknown loss '{}' (expected logistic or hinge)", loss_type));
}

Tensor BinaryClassifier::forward(const Tensor& X) { return scores(X).reshape({-1}); }

Tensor BinaryClassifier::data_loss(const Tensor& scores, const Tensor& y) {
  return loss_type_ == "logistic" ? binary_logistic_loss(scores, y) : binary_hinge_loss(scores, y);
}

Tensor BinaryClassifier::predict(const Tensor& X) {
  no_grad guard;
  return gt(forward(X), 0.0);
}

std::string BinaryClassifier::describe() const {
  return fmt::format("BinaryClassifier({}, {} -> {}{})", loss_type_, cfg_.input_dim,
                     cfg_.hidden_dim > 0 ? fmt::format("{} -> ", cfg_.hidden_dim) : "", 1);
}

SoftmaxClassifier::SoftmaxClassifier(const LinearClassifierConfig& c)
    : LinearStack(c, c.num_classes, "SoftmaxClassifier") {}

Tensor SoftmaxClassifier::forward(const Tensor& X) { return scores(X); }

std::string SoftmaxClassifier::describe() const {
  return fmt::format("SoftmaxClassifier({} -> {}{})", cfg_.input_dim,
                     cfg_.hidden_dim > 0 ? fmt::format("{} -> ", cfg_.hidden_dim) : "",
                     cfg_.num_classes);
}

}  // namespace dagrad::nn
