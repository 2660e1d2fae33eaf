// A module's state in the formats other tools read: safetensors (under dagrad's names or
// PyTorch's) and NumPy's .npz. dagrad's own checkpoints are in io/checkpoint.h.
//
// Loading follows Module::load_state: strict by default (every tensor present, nothing extra,
// shapes and dtypes equal, else an error listing every problem and the model unchanged);
// strict = false loads what matches and returns the report of what did not. Errors name the
// file.
#pragma once
#include <map>
#include <string>

#include "dagrad/nn/module.h"

namespace dagrad::nn {

// Under dagrad's names (model.state(): "W1", "conv1.weight", "bn1.running_mean", ...), with
// metadata {"format": "dagrad", "model": model.describe()} plus `metadata`.
void save_safetensors(const Module& model, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});
LoadReport load_safetensors(Module& model, const std::string& path, bool strict = true);

// Under PyTorch's names and layouts (nn/pytorch.h), num_batches_tracked as I64, metadata
// {"format": "pt", "dagrad_model": model.describe()}: what torch's load_state_dict takes.
void save_pytorch_safetensors(const Module& model, const std::string& path);
LoadReport load_pytorch_safetensors(Module& model, const std::string& path, bool strict = true);

// One .npz of the state under dagrad's names, which for the cs231n models are the keys of the
// course's model.params (W1, b1, gamma1, ...; weights (in, out) as there), plus the batch-norm
// running averages. `compress` deflates it as np.savez_compressed does.
void save_npz(const Module& model, const std::string& path, bool compress = false);
LoadReport load_npz(Module& model, const std::string& path, bool strict = true);

}  // namespace dagrad::nn
