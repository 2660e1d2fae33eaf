// The safetensors format (https://github.com/huggingface/safetensors), as written by its
// Python/Rust library: an 8-byte little-endian header length N, N bytes of JSON mapping each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} plus an optional
// "__metadata__" object of strings, then the tensors' bytes, row-major and little-endian.
//
// dagrad reads F32, F64 and I64 (integer tensors such as token ids or step counters) as
// float32, float64 and int64 tensors; any other dtype is an error. Files are checked as strictly as
// the reference reader does (header at most 100,000,000 bytes, tensors' data contiguous from 0 to
// the end of the file, sizes matching shapes, no duplicate names), so a hostile file gives a
// std::runtime_error beginning "safetensors <path>: ", naming the tensor when there is one.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::io {

struct SafetensorsContents {
  NamedTensors tensors;                         // in data-offset order
  std::map<std::string, std::string> metadata;  // __metadata__ (empty when absent)
  std::vector<std::string> int64_names;         // the tensors stored as I64 (loaded as int64)
};

// F32 -> float32, F64 -> float64, I64 -> int64.
SafetensorsContents load_safetensors(const std::string& path);
// The same from the file's bytes in memory; `source` names them in errors.
SafetensorsContents parse_safetensors(std::string_view bytes, const std::string& source);

// Writes `tensors` (in any order; the file lists them as the reference writer does: by dtype,
// then name) with `metadata` as "__metadata__" when it is not empty. int64 tensors are stored
// as I64, and so are the float tensors named in `int64_names` (each value must then be an
// integer in the int64 range). Names
// must be unique, valid UTF-8 and not "__metadata__". The file is replaced atomically.
void save_safetensors(const NamedTensors& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {},
                      const std::vector<std::string>& int64_names = {});
// The bytes save_safetensors writes.
std::string safetensors_bytes(const NamedTensors& tensors,
                              const std::map<std::string, std::string>& metadata = {},
                              const std::vector<std::string>& int64_names = {});

}  // namespace dagrad::io
