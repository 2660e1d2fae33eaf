// Checkpoint files: named tensors plus text metadata, versioned and checksummed.
//
// Format (little-endian), version 1:
//   "DAGRADCK"               8-byte magic
//   u32 version              = 1
//   u32 num_meta             then per entry: u32 len, key bytes, u32 len, value bytes
//   u32 num_tensors          then per tensor:
//       u32 name_len, name bytes, u8 dtype (0 float32, 1 float64), u8 ndim,
//       i64 dims[ndim], u64 nbytes, raw row-major data
//   u32 crc32                zlib crc32 of every byte before it
// Writing goes to "<path>.tmp" and is renamed over <path> only when complete, so a crash
// never leaves a half-written checkpoint. Reading checks magic, version, sizes and the crc
// before returning anything.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::io {

struct Checkpoint {
  std::map<std::string, std::string> meta;
  std::vector<std::pair<std::string, Tensor>> tensors;
};

inline constexpr uint32_t checkpoint_format_version = 1;

void save_checkpoint(const Checkpoint& ckpt, const std::string& path);
Checkpoint load_checkpoint(const std::string& path);

}  // namespace dagrad::io
