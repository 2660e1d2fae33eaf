#include "dagrad/io/checkpoint.h"

#include "dagrad/base/file.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace dagrad::io {

using base::read_file;
using base::write_file_atomically;

namespace {

constexpr char magic[8] = {'D', 'A', 'G', 'R', 'A', 'D', 'C', 'K'};

template <typename T>
void put(std::string& buf, T v) {
  buf.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void put_string(std::string& buf, const std::string& s) {
  put<uint32_t>(buf, static_cast<uint32_t>(s.size()));
  buf += s;
}

// A bounds-checked cursor over the file's bytes.
struct Reader {
  const std::string& path;
  const std::string& buf;
  std::size_t pos = 0;
  std::size_t end;

  void need(std::size_t n, const char* what) {
    if (end - pos < n)
      throw std::runtime_error(fmt::format(
          "checkpoint {}: truncated or corrupt file (needed {} bytes for {} at offset {})", path, n,
          what, pos));
  }
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, buf.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string get_string(const char* what) {
    const uint32_t n = get<uint32_t>(what);
    need(n, what);
    std::string s = buf.substr(pos, n);
    pos += n;
    return s;
  }
};

}  // namespace

void save_checkpoint(const Checkpoint& ckpt, const std::string& path) {
  std::string buf(magic, sizeof(magic));
  put<uint32_t>(buf, checkpoint_format_version);
  put<uint32_t>(buf, static_cast<uint32_t>(ckpt.meta.size()));
  for (const auto& [k, v] : ckpt.meta) {
    put_string(buf, k);
    put_string(buf, v);
  }
  put<uint32_t>(buf, static_cast<uint32_t>(ckpt.tensors.size()));
  for (const auto& [name, t] : ckpt.tensors) {
    put_string(buf, name);
    put<uint8_t>(buf, static_cast<uint8_t>(t.dtype()));  // 0 float32, 1 float64, 2 int64
    put<uint8_t>(buf, static_cast<uint8_t>(t.dim()));
    for (int64_t d : t.shape()) put<int64_t>(buf, d);
    const uint64_t nbytes = t.numel() * dtype_size(t.dtype());
    put<uint64_t>(buf, nbytes);
    buf.append(static_cast<const char*>(t.raw_data()), nbytes);
  }
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(buf.size())));
  put<uint32_t>(buf, crc);

  base::write_file_atomically(buf, path, fmt::format("checkpoint {}", path));
}

Checkpoint load_checkpoint(const std::string& path) {
  const std::string buf = base::read_file(path, fmt::format("checkpoint {}", path));
  if (buf.size() < sizeof(magic) + 4 || std::memcmp(buf.data(), magic, sizeof(magic)) != 0)
    throw std::runtime_error(
        fmt::format("checkpoint {}: not a dagrad checkpoint (wrong magic number)", path));
  if (buf.size() < sizeof(magic) + 8)
    throw std::runtime_error(
        fmt::format("checkpoint {}: truncated file ({} bytes)", path, buf.size()));
  uint32_t stored_crc;
  std::memcpy(&stored_crc, buf.data() + buf.size() - 4, 4);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(buf.size() - 4)));
  Reader r{path, buf, sizeof(magic), buf.size() - 4};
  if (crc != stored_crc)
    throw std::runtime_error(fmt::format(
        "checkpoint {}: checksum mismatch (file is truncated or corrupted: crc32 {:08x}, stored "
        "{:08x})",
        path, crc, stored_crc));
  const uint32_t version = r.get<uint32_t>("the version");
  if (version != checkpoint_format_version)
    throw std::runtime_error(fmt::format(
        "checkpoint {}: format version {} is not supported (this build reads version {})", path,
        version, checkpoint_format_version));
  Checkpoint ck;
  const uint32_t nmeta = r.get<uint32_t>("the metadata count");
  for (uint32_t i = 0; i < nmeta; ++i) {
    std::string k = r.get_string("a metadata key");
    ck.meta[k] = r.get_string("a metadata value");
  }
  const uint32_t n = r.get<uint32_t>("the tensor count");
  for (uint32_t i = 0; i < n; ++i) {
    std::string name = r.get_string("a tensor name");
    const uint8_t dt = r.get<uint8_t>("a dtype");
    if (dt > static_cast<uint8_t>(int64))
      throw std::runtime_error(
          fmt::format("checkpoint {}: tensor '{}' has unknown dtype code {}", path, name, dt));
    const uint8_t nd = r.get<uint8_t>("a rank");
    if (nd > Shape::max_dims)
      throw std::runtime_error(
          fmt::format("checkpoint {}: tensor '{}' has {} dimensions", path, name, nd));
    Shape s;
    for (int d = 0; d < nd; ++d) {
      const int64_t v = r.get<int64_t>("a dimension");
      if (v < 0)
        throw std::runtime_error(
            fmt::format("checkpoint {}: tensor '{}' has a negative dimension", path, name));
      s.push_back(v);
    }
    const Dtype dtype = static_cast<Dtype>(dt);
    const uint64_t nbytes = r.get<uint64_t>("a data size");
    int64_t needed = 0;
    try {
      needed = checked_nbytes(s, dtype, "checkpoint");
    } catch (const std::invalid_argument&) {
      throw std::runtime_error(
          fmt::format("checkpoint {}: tensor '{}' has shape {}, too large for a tensor", path, name,
                      to_string(s)));
    }
    if (nbytes != static_cast<uint64_t>(needed))
      throw std::runtime_error(
          fmt::format("checkpoint {}: tensor '{}' of shape {} declares {} bytes", path, name,
                      to_string(s), nbytes));
    r.need(nbytes, "tensor data");
    Tensor t = empty(s, dtype);
    std::memcpy(t.raw_data(), buf.data() + r.pos, nbytes);
    r.pos += nbytes;
    ck.tensors.emplace_back(std::move(name), t);
  }
  if (r.pos != r.end)
    throw std::runtime_error(fmt::format("checkpoint {}: {} unexpected bytes after the last tensor",
                                         path, r.end - r.pos));
  return ck;
}

}  // namespace dagrad::io
