// Normalization layers: BatchNorm1d (N, D), BatchNorm2d (N, C, H, W, per channel), LayerNorm;
// BatchNormReLU1d/2d are batch norm followed by ReLU as one fused op (batch_norm_relu).
// Parameters gamma (scale, starts at 1) and beta (shift, starts at 0) are not L2-regularized.
// Running statistics follow cs231n: running = momentum * running + (1 - momentum) * batch.
#pragma once
#include "dagrad/nn/module.h"

namespace dagrad::nn {

class BatchNorm : public Module {
 public:
  BatchNorm(int64_t features, bool spatial, double momentum = 0.9, double eps = 1e-5,
            Dtype dtype = float32, bool relu = false);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override;
  std::string describe() const override;

  bool fused_relu() const { return relu_; }

  Tensor gamma, beta, running_mean, running_var;
  // Training-mode forward passes since construction (or since a PyTorch state_dict set it):
  // PyTorch's num_batches_tracked. dagrad's own running averages do not use it, and dagrad
  // checkpoints do not store it.
  int64_t num_batches_tracked = 0;

 private:
  int64_t features_;
  bool spatial_, relu_;
  double momentum_, eps_;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t features, double momentum = 0.9, double eps = 1e-5,
                       Dtype dtype = float32)
      : BatchNorm(features, false, momentum, eps, dtype) {}
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t channels, double momentum = 0.9, double eps = 1e-5,
                       Dtype dtype = float32)
      : BatchNorm(channels, true, momentum, eps, dtype) {}
};

// BatchNorm1d + ReLU in one op: the same parameters and buffers (a checkpoint of the pair's
// BatchNorm1d loads into it), the memory passes of batch norm alone.
class BatchNormReLU1d : public BatchNorm {
 public:
  explicit BatchNormReLU1d(int64_t features, double momentum = 0.9, double eps = 1e-5,
                           Dtype dtype = float32)
      : BatchNorm(features, false, momentum, eps, dtype, true) {}
};

// BatchNorm2d + ReLU in one op (see BatchNormReLU1d).
class BatchNormReLU2d : public BatchNorm {
 public:
  explicit BatchNormReLU2d(int64_t channels, double momentum = 0.9, double eps = 1e-5,
                           Dtype dtype = float32)
      : BatchNorm(channels, true, momentum, eps, dtype, true) {}
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t features, double eps = 1e-5, Dtype dtype = float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string describe() const override;

  Tensor gamma, beta;

 private:
  int64_t features_;
  double eps_;
};

// GroupNorm(groups, channels): group_norm with a learnable per-channel gamma (1) and beta (0)
// (torch.nn.GroupNorm with affine = true). GroupNorm(channels, channels) is instance norm.
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps = 1e-5, Dtype dtype = float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string describe() const override;

  Tensor gamma, beta;

 private:
  int64_t groups_, channels_;
  double eps_;
};

// LocalResponseNorm(size, alpha, beta, k): local_response_norm across channels, no parameters
// (torch.nn.LocalResponseNorm; AlexNet uses size 5, alpha 1e-4, beta 0.75, k 2).
class LocalResponseNorm : public Module {
 public:
  explicit LocalResponseNorm(int64_t size, double alpha = 1e-4, double beta = 0.75, double k = 1.0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LocalResponseNorm"; }
  std::string describe() const override;

 private:
  int64_t size_;
  double alpha_, beta_, k_;
};

}  // namespace dagrad::nn
