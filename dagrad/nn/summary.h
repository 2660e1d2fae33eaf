// A model summary that counts, as the course's tables do: for one example of a given size,
// every layer's output shape, parameters, multiply-adds and activation memory, with totals.
//   nn::ModelSummary s = nn::summarize(model, {3, 224, 224});
//   fmt::print("{}", s.table());
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dagrad/nn/module.h"

namespace dagrad::nn {

struct LayerSummary {
  std::string name;   // dotted, as in named_parameters(): "features.0", "fc1"
  std::string layer;  // describe()
  Shape output;       // for a batch of one
  int64_t parameters = 0;
  int64_t multiply_adds = 0;     // Module::multiply_adds
  int64_t activation_bytes = 0;  // the output's size
};

struct ModelSummary {
  std::vector<LayerSummary> layers;
  int64_t parameters = 0;  // the model's (each shared tensor once)
  int64_t multiply_adds = 0;
  int64_t activation_bytes = 0;
  // One line per layer, then "total: P parameters, M multiply-adds, A bytes of activations"
  // with exact integers.
  std::string table() const;
};

// Runs `model` once, in eval mode and without recording, on zeros of shape (1, *input) in the
// dtype of its parameters, and lists every call of a module without children (a model that
// computes with raw ops is one row). The model's training mode is restored. An input the model
// cannot take is the model's own error, with the input named.
ModelSummary summarize(Module& model, const Shape& input);

}  // namespace dagrad::nn
