#include "dagrad/nn/serialize.h"

#include <fmt/format.h>

#include <stdexcept>

#include "dagrad/io/npy.h"
#include "dagrad/io/safetensors.h"
#include "dagrad/nn/pytorch.h"

namespace dagrad::nn {

namespace {

// Runs a load that matched names against the model; its error gets the file's name in front.
template <typename Load>
LoadReport loading_from(const std::string& format, const std::string& path, Load&& load) {
  try {
    return load();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{} {}: {}", format, path, e.what()));
  }
}

}  // namespace

void save_safetensors(const Module& model, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta = metadata;
  meta.emplace("format", "dagrad");
  meta.emplace("model", model.describe());
  io::save_safetensors(model.state(), path, meta);
}

LoadReport load_safetensors(Module& model, const std::string& path, bool strict) {
  io::SafetensorsContents file = io::load_safetensors(path);
  return loading_from("safetensors", path, [&] { return model.load_state(file.tensors, strict); });
}

void save_pytorch_safetensors(const Module& model, const std::string& path) {
  const NamedTensors state = pytorch_state_dict(model);
  // num_batches_tracked is an int64 tensor, so it is stored as I64, as torch stores it.
  io::save_safetensors(state, path, {{"format", "pt"}, {"dagrad_model", model.describe()}});
}

LoadReport load_pytorch_safetensors(Module& model, const std::string& path, bool strict) {
  io::SafetensorsContents file = io::load_safetensors(path);
  return loading_from("safetensors", path,
                      [&] { return load_pytorch_state_dict(model, file.tensors, strict); });
}

void save_npz(const Module& model, const std::string& path, bool compress) {
  io::save_npz(model.state(), path, compress);
}

LoadReport load_npz(Module& model, const std::string& path, bool strict) {
  const NamedTensors arrays = io::load_npz(path);
  return loading_from("npz", path, [&] { return model.load_state(arrays, strict); });
}

}  // namespace dagrad::nn
