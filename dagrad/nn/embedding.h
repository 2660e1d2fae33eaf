// Embedding: a lookup table of `num` vectors of size `dim`; forward(indices) = the rows picked
// by integer indices of any shape, indices.shape + (dim,) (torch.nn.Embedding). The weight
// starts N(0, 1), as PyTorch's.
#pragma once
#include "dagrad/nn/module.h"

namespace dagrad::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Generator& gen, Dtype dtype = float32);
  Tensor forward(const Tensor& indices) override { return embedding(weight, indices); }
  std::string type_name() const override { return "Embedding"; }
  std::string describe() const override;

  Tensor weight;  // (num, dim)
};

}  // namespace dagrad::nn
