// NumPy .npy and .npz files.
//
// .npy: a magic string, a format version, and a header that is a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// then the raw data. Read: format versions 1.0, 2.0 and 3.0; descr '<f4' (-> float32), '<f8'
// (-> float64) and '<i8' (-> int64); C order only; any shape dagrad can hold (at
// most 8 dimensions), including 0-d () and zero-size dimensions. Big-endian ('>f4') and every
// other descr, fortran_order True, and a data size other than exactly numel * itemsize are
// errors. Written: what numpy >= 1.24's np.save writes, byte for byte: version 1.0 (2.0 only if
// the header needs it), the header padded with spaces to a multiple of 64 bytes, ending in '\n'.
//
// .npz: a zip archive of .npy members named "<key>.npy", as np.savez (stored) and
// np.savez_compressed (deflated) write them. Read: stored and deflated members, zip64, data
// descriptors, archive comments; every member's CRC-32 is checked and nothing is inflated past
// its declared size. Keys come back without ".npy", in archive order. Written atomically (a
// crash leaves the old file or the new one), with zip64 only where sizes need it.
//
// int64 tensors are written as '<i8'; as_int64 / int64_keys also write float tensors as '<i8'
// (every value must then be an integer in the int64 range).
//
// Files may be hostile: every length and offset is checked before it is used, and loading
// checks everything before returning anything. Every error is a std::runtime_error starting
// "npy <path>: " or "npz <path>: " (then "member '<key>.npy': " where one member is at fault),
// e.g. "npz model.npz: member 'W1.npy': CRC-32 mismatch (...)".
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::io {

Tensor load_npy(const std::string& path);
void save_npy(const Tensor& t, const std::string& path, bool as_int64 = false);

// The same in memory (for npz members and fuzzers); `source` stands for the path in errors.
Tensor parse_npy(std::string_view bytes, const std::string& source);
std::string npy_bytes(const Tensor& t, bool as_int64 = false);

NamedTensors load_npz(const std::string& path);
NamedTensors parse_npz(std::string_view bytes, const std::string& source);  // in memory
// Like np.savez, or np.savez_compressed when `compress`. Keys must be unique; the arrays named
// in `int64_keys` are written as '<i8'. Members are dated 1980-01-01 so that the same arrays
// always give the same bytes.
void save_npz(const NamedTensors& arrays, const std::string& path, bool compress = false,
              const std::vector<std::string>& int64_keys = {});

}  // namespace dagrad::io
