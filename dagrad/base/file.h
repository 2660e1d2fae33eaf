// Whole-file reads and atomic whole-file writes, shared by every file format dagrad writes
// (checkpoints, safetensors, npy/npz). Errors are std::runtime_error naming the file.
#pragma once
#include <string>
#include <string_view>

namespace dagrad::base {

// The whole file as bytes. `what` starts the error message, e.g. "checkpoint model.ckpt".
std::string read_file(const std::string& path, std::string_view what);

// Writes `bytes` to "<path>.tmp", fsyncs it, renames it over `path` and fsyncs the directory,
// so a crash or power loss leaves either the old file or the new one, never half of one. On any
// error the .tmp is removed; a process killed mid-write leaves it, and the next write of the same
// path replaces it (readers never look at it).
void write_file_atomically(std::string_view bytes, const std::string& path, std::string_view what);

}  // namespace dagrad::base
