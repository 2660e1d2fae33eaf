// Weight initialization: Gaussian x weight_scale (the cs231n default), Xavier/Glorot, He/Kaiming,
// LeCun.
// Biases start at 0, norm scales at 1 and shifts at 0.
#pragma once
#include <string>

#include "dagrad/autograd/random.h"

namespace dagrad::nn {

// zeros: all 0, for a model about to load its weights (no random draws to pay for).
enum class InitScheme { gaussian, xavier, he, lecun, zeros };

struct Init {
  InitScheme scheme = InitScheme::gaussian;
  double weight_scale = 1e-2;  // standard deviation for InitScheme::gaussian
};

// A weight of `shape` whose fan-in/fan-out are given (Linear: D, M; Conv: C*KH*KW, F*KH*KW).
//   gaussian: N(0, weight_scale^2)   xavier: N(0, 2/(fan_in+fan_out))   he: N(0, 2/fan_in)
//   lecun: N(0, 1/fan_in) (LeCun et al. 1998, "Efficient BackProp"; for tanh and SELU nets)
Tensor init_weight(const Shape& shape, int64_t fan_in, int64_t fan_out, const Init& init,
                   Generator& gen, Dtype dtype = float32);
// "gaussian", "xavier", "he", "lecun", "zeros"
InitScheme parse_init_scheme(const std::string& name);

}  // namespace dagrad::nn
