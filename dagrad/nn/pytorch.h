// PyTorch state_dict names and layouts for the models that have a torch.nn equivalent, so a
// model moves between dagrad and PyTorch through safetensors (nn/serialize.h) or in memory.
//
// The equivalents (docs/formats.md has them as Python):
//   TwoLayerNet         Sequential(Flatten, Linear, ReLU, Linear)          1.weight ... 3.bias
//   FullyConnectedNet   Sequential(Flatten, {Linear, [BatchNorm1d|LayerNorm], ReLU,
//                       [Dropout]} x (L-1), Linear)
//   ThreeLayerConvNet   Sequential(Conv2d, ReLU, MaxPool2d(2), Flatten, Linear, ReLU, Linear)
//   LeNet5, VGGNet      Sequential(features=Sequential(...), flatten=Flatten(),
//                       classifier=Sequential(...)): the layers before dagrad's Flatten go to
//                       `features`, those after to `classifier` (torchvision's VGG naming);
//                       BatchNormReLU2d is BatchNorm2d followed by ReLU (two entries)
//   nn::Sequential      a flat Sequential, one entry per torch module
//   other models        by their modules' dotted names (the torchvision-structured alexnet,
//                       vgg*: features.0.weight, classifier.6.bias, as torchvision's)
// Layouts: Linear weights are (out, in) in PyTorch and (in, out) in dagrad (cs231n), so they
// are transposed both ways; conv weights (out, in, kh, kw) are the same. Batch norm's gamma and
// beta are `weight` and `bias`; running_mean/running_var are copied as they are, and
// num_batches_tracked is a 0-d float64 tensor here (int64 in a file).
#pragma once
#include "dagrad/nn/module.h"

namespace dagrad::nn {

// The model's tensors under PyTorch's names, in state_dict order (copies; transposed where
// the layouts differ). Throws std::invalid_argument naming the model or layer that has no
// PyTorch equivalent here.
NamedTensors pytorch_state_dict(const Module& model);

// Loads a PyTorch state_dict into the model (with Module::load_state's strict and non-strict
// rules; shapes are checked in PyTorch's layout, e.g. a Linear weight as (out, in)).
LoadReport load_pytorch_state_dict(Module& model, const NamedTensors& state, bool strict = true);

}  // namespace dagrad::nn
