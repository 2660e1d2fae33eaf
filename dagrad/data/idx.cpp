#include "dagrad/data/idx.h"

#include <fmt/format.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <type_traits>

namespace dagrad::data {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(fmt::format("read_idx: '{}': {}", path, what));
}

// Sequential reader over a raw file or a gzip stream (chosen by the magic bytes 1f 8b).
class ByteSource {
 public:
  explicit ByteSource(const std::string& path) : path_(path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(path, fmt::format("cannot open file: {}", std::strerror(errno)));
    unsigned char head[2] = {0, 0};
    const size_t n = std::fread(head, 1, 2, f);
    if (n == 2 && head[0] == 0x1f && head[1] == 0x8b) {
      std::fclose(f);
      gz_ = gzopen(path.c_str(), "rb");
      if (!gz_) fail(path, "cannot open gzip stream");
      gzbuffer(gz_, 1 << 17);
    } else {
      std::rewind(f);
      file_ = f;
    }
  }
  ~ByteSource() {
    if (file_) std::fclose(file_);
    if (gz_) gzclose(gz_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gzip() const { return gz_ != nullptr; }

  // Reads up to n bytes; fewer only at the end of the data. A damaged gzip stream (cut short,
  // bad CRC, not deflate) is an error, not an end.
  size_t read(void* buf, size_t n) {
    char* p = static_cast<char*>(buf);
    size_t total = 0;
    while (total < n) {
      const size_t want = std::min<size_t>(n - total, 1u << 30);
      size_t got;
      if (gz_) {
        const int r = gzread(gz_, p + total, static_cast<unsigned>(want));
        if (r < 0) gz_fail(consumed_);
        got = static_cast<size_t>(r);
        if (got < want) {
          int err = Z_OK;
          gzerror(gz_, &err);
          if (err != Z_OK) gz_fail(consumed_ + got);
        }
      } else {
        got = std::fread(p + total, 1, want, file_);
        if (got < want && std::ferror(file_))
          fail(path_, fmt::format("read error: {}", std::strerror(errno)));
      }
      total += got;
      consumed_ += got;
      if (got < want) break;
    }
    return total;
  }

 private:
  [[noreturn]] void gz_fail(uint64_t decompressed) {
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    std::string m = msg ? msg : "unknown zlib error";
    // zlib prefixes its message with the path; we already name the file.
    if (m.rfind(path_ + ": ", 0) == 0) m = m.substr(path_.size() + 2);
    if (err == Z_BUF_ERROR)
      fail(path_, fmt::format("gzip stream is truncated ({}) after {} decompressed bytes", m,
                              decompressed));
    fail(path_,
         fmt::format("gzip stream is corrupt ({}) after {} decompressed bytes", m, decompressed));
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
  uint64_t consumed_ = 0;
};

struct IdxType {
  unsigned code;
  const char* name;
  size_t size;
};

const IdxType* idx_type(unsigned code) {
  static const IdxType types[] = {{0x08, "ubyte", 1}, {0x09, "sbyte", 1},   {0x0B, "int16", 2},
                                  {0x0C, "int32", 4}, {0x0D, "float32", 4}, {0x0E, "float64", 8}};
  for (const IdxType& t : types)
    if (t.code == code) return &t;
  return nullptr;
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

struct IdxRaw {
  uint32_t magic = 0;
  const IdxType* type = nullptr;
  Shape shape;
  std::vector<unsigned char> bytes;  // the payload, big-endian
};

std::atomic<uint64_t> idx_limit{uint64_t(1) << 31};

IdxRaw read_idx_raw(const std::string& path) {
  ByteSource src(path);
  IdxRaw raw;
  unsigned char head[4];
  const size_t got_head = src.read(head, 4);
  if (got_head < 4)
    fail(path,
         fmt::format("file too short for an IDX header: got {} bytes, need at least 4", got_head));
  raw.magic = be32(head);
  if (head[0] != 0 || head[1] != 0)
    fail(path, fmt::format("wrong magic number 0x{:08x}: not an IDX file (the first two bytes "
                           "must be zero; e.g. 0x00000803 for images, 0x00000801 for labels)",
                           raw.magic));
  raw.type = idx_type(head[2]);
  if (!raw.type)
    fail(path, fmt::format("wrong magic number 0x{:08x}: unknown IDX data type 0x{:02x} "
                           "(supported: 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D "
                           "float32, 0x0E float64)",
                           raw.magic, head[2]));
  const int ndims = head[3];
  if (ndims < 1 || ndims > Shape::max_dims)
    fail(path, fmt::format("wrong magic number 0x{:08x}: {} dimensions (supported: 1 to {})",
                           raw.magic, ndims, Shape::max_dims));
  unsigned char dims[4 * Shape::max_dims];
  const size_t got_dims = src.read(dims, 4 * static_cast<size_t>(ndims));
  if (got_dims < 4 * static_cast<size_t>(ndims))
    fail(path, fmt::format("truncated header: expected {} bytes of dimension sizes, got {}",
                           4 * ndims, got_dims));
  // Refuse absurd sizes before allocating or decompressing anything (a corrupt or hostile
  // header must not exhaust memory): the payload, computed without overflow, must be within
  // the limit. The product of the nonzero dimensions must fit too, even when a zero dimension
  // makes the payload empty (as Shape::numel requires).
  const uint64_t max_bytes = max_idx_payload_bytes();
  uint64_t expected = raw.type->size;
  bool overflow = false, empty = false;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t d = be32(dims + 4 * i);
    raw.shape.push_back(d);
    if (d == 0)
      empty = true;
    else
      overflow |= __builtin_mul_overflow(expected, uint64_t{d}, &expected);
  }
  overflow |= expected > uint64_t(INT64_MAX);
  if (empty && !overflow) expected = 0;
  if (overflow || expected > max_bytes)
    fail(path, fmt::format("header promises {} bytes of {} for shape {}, more than the limit of "
                           "{} bytes (data::set_max_idx_payload_bytes)",
                           overflow ? std::string("more than 2^64") : std::to_string(expected),
                           raw.type->name, to_string(raw.shape), max_bytes));
  // Grow the buffer chunk by chunk, so a corrupt header promising far more data than the file
  // holds is reported as truncation instead of allocating the promised size up front.
  constexpr uint64_t chunk = uint64_t(1) << 24;
  uint64_t got = 0;
  while (got < expected) {
    const uint64_t want = std::min(chunk, expected - got);
    raw.bytes.resize(static_cast<size_t>(got + want));
    const size_t n = src.read(raw.bytes.data() + got, static_cast<size_t>(want));
    got += n;
    if (n < want) break;
  }
  const std::string what = fmt::format("{} data bytes for shape {} of {}", expected,
                                       to_string(raw.shape), raw.type->name);
  if (got < expected)
    fail(path, fmt::format("truncated: expected {}, got {} bytes{}", what, got,
                           src.gzip() ? " (after decompression)" : ""));
  // Anything after the payload means the header and data disagree.
  uint64_t extra = 0;
  char sink[1 << 16];
  for (size_t n; (n = src.read(sink, sizeof sink)) > 0;) extra += n;
  if (extra > 0)
    fail(path, fmt::format("size mismatch: expected {}, got {} bytes ({} trailing bytes)", what,
                           expected + extra, extra));
  return raw;
}

// Converts a big-endian payload to a tensor of `shape` (same number of elements). Integer
// types convert exactly to every dtype; a float file's value that int64 cannot hold (NaN,
// inf, beyond its range) is an error naming the file.
Tensor to_tensor(const IdxRaw& raw, Dtype dtype, const Shape& shape, const std::string& path) {
  Tensor out = empty(shape, dtype);
  const unsigned char* b = raw.bytes.data();
  const int64_t n = out.numel();
  DAGRAD_DISPATCH_ALL(dtype, {
    T* dst = out.data<T>();
    auto from_float = [&](double v, int64_t i) {
      if constexpr (std::is_same_v<T, int64_t>) {
        if (!(v >= -0x1p63 && v < 0x1p63))
          fail(path, fmt::format("value {} at index {} cannot be converted to int64", v, i));
      }
      return static_cast<T>(v);
    };
    switch (raw.type->code) {
      case 0x08:
        for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(b[i]);
        break;
      case 0x09:
        for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(static_cast<int8_t>(b[i]));
        break;
      case 0x0B:
        for (int64_t i = 0; i < n; ++i)
          dst[i] = static_cast<T>(static_cast<int16_t>((uint16_t(b[2 * i]) << 8) | b[2 * i + 1]));
        break;
      case 0x0C:
        for (int64_t i = 0; i < n; ++i)
          dst[i] = static_cast<T>(static_cast<int32_t>(be32(b + 4 * i)));
        break;
      case 0x0D:
        for (int64_t i = 0; i < n; ++i) {
          const uint32_t u = be32(b + 4 * i);
          float f;
          std::memcpy(&f, &u, 4);
          dst[i] = from_float(f, i);
        }
        break;
      case 0x0E:
        for (int64_t i = 0; i < n; ++i) {
          const uint64_t u = (uint64_t(be32(b + 8 * i)) << 32) | be32(b + 8 * i + 4);
          double f;
          std::memcpy(&f, &u, 8);
          dst[i] = from_float(f, i);
        }
        break;
    }
  });
  return out;
}

// Images [begin, end) of a ubyte (N, rows, cols) payload as (end - begin, 1, rows, cols) float32,
// each byte mapped through `lut` (scaling and normalization in the same pass).
Tensor image_rows(const IdxRaw& raw, int64_t begin, int64_t end, const float* lut) {
  const int64_t per = raw.shape[1] * raw.shape[2];
  Tensor out = empty({end - begin, 1, raw.shape[1], raw.shape[2]}, float32);
  const unsigned char* src = raw.bytes.data() + begin * per;
  float* dst = out.data<float>();
  for (int64_t i = 0, n = (end - begin) * per; i < n; ++i) dst[i] = lut[src[i]];
  return out;
}

Tensor label_rows(const IdxRaw& raw, int64_t begin, int64_t end) {
  Tensor out = empty({end - begin}, float32);
  float* dst = out.data<float>();
  for (int64_t i = begin; i < end; ++i) dst[i - begin] = static_cast<float>(raw.bytes[i]);
  return out;
}

void require_magic(const std::string& path, const IdxRaw& raw, uint32_t want, const char* what) {
  if (raw.magic != want)
    fail(path, fmt::format("wrong magic number 0x{:08x} for {}: expected 0x{:08x} (ubyte, {} "
                           "dimension{})",
                           raw.magic, what, want, want & 0xff, (want & 0xff) == 1 ? "" : "s"));
}

IdxRaw read_images_raw(const std::string& path) {
  IdxRaw raw = read_idx_raw(path);
  require_magic(path, raw, 0x00000803, "IDX images");
  return raw;
}

IdxRaw read_labels_raw(const std::string& path, int num_classes) {
  IdxRaw raw = read_idx_raw(path);
  require_magic(path, raw, 0x00000801, "IDX labels");
  for (size_t i = 0; i < raw.bytes.size(); ++i)
    if (raw.bytes[i] >= num_classes)
      fail(path, fmt::format("label out of range: label {} at index {} is not in [0, {}) (first "
                             "bad label)",
                             raw.bytes[i], i, num_classes));
  return raw;
}

struct RawPair {
  IdxRaw images, labels;
};

RawPair read_raw_pair(const std::string& images_path, const std::string& labels_path,
                      int num_classes) {
  RawPair p;
  p.labels = read_labels_raw(labels_path, num_classes);
  p.images = read_images_raw(images_path);
  if (p.images.shape[0] != p.labels.shape[0])
    throw std::runtime_error(fmt::format(
        "read_mnist_pair: count mismatch: '{}' holds {} images but '{}' holds {} labels",
        images_path, p.images.shape[0], labels_path, p.labels.shape[0]));
  return p;
}

std::string find_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path base = fs::path(dir) / name;
  for (const std::string& suffix : {std::string(".gz"), std::string()}) {
    fs::path p = base;
    p += suffix;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  throw std::runtime_error(
      fmt::format("load_fashion_mnist: missing file: neither '{}.gz' nor '{}' exists (set "
                  "DAGRAD_FASHION_MNIST_DIR, or install the Debian package dataset-fashion-mnist)",
                  base.string(), base.string()));
}

}  // namespace

uint64_t max_idx_payload_bytes() { return idx_limit.load(); }
void set_max_idx_payload_bytes(uint64_t bytes) { idx_limit.store(bytes); }

Tensor read_idx(const std::string& path, Dtype dtype) {
  const IdxRaw raw = read_idx_raw(path);
  return to_tensor(raw, dtype, raw.shape, path);
}

Tensor read_idx_images(const std::string& path, Dtype dtype) {
  const IdxRaw raw = read_images_raw(path);
  return to_tensor(raw, dtype, raw.shape, path);
}

Tensor read_idx_labels(const std::string& path, int num_classes, Dtype dtype) {
  const IdxRaw raw = read_labels_raw(path, num_classes);
  return to_tensor(raw, dtype, raw.shape, path);
}

std::pair<Tensor, Tensor> read_mnist_pair(const std::string& images_path,
                                          const std::string& labels_path, int num_classes,
                                          Dtype dtype) {
  const RawPair p = read_raw_pair(images_path, labels_path, num_classes);
  const Shape& s = p.images.shape;
  return {to_tensor(p.images, dtype, {s[0], 1, s[1], s[2]}, images_path),
          to_tensor(p.labels, dtype, p.labels.shape, labels_path)};
}

std::string default_fashion_mnist_dir() {
  const char* env = std::getenv("DAGRAD_FASHION_MNIST_DIR");
  if (env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

Dataset load_fashion_mnist(const std::string& dir, int num_val, bool normalize) {
  const std::string train_images = find_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = find_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = find_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = find_file(dir, "t10k-labels-idx1-ubyte");
  RawPair train = read_raw_pair(train_images, train_labels, 10);
  const int64_t n = train.images.shape[0];
  if (num_val < 0 || num_val > n)
    throw std::invalid_argument(fmt::format(
        "load_fashion_mnist: num_val {} out of range: the training file '{}' has {} images",
        num_val, train_images, n));
  const int64_t n_train = n - num_val;

  // Pixel b becomes b / 255 (like torchvision's ToTensor), then (b / 255 - mean) / std. The
  // statistics of the training split come exactly (in double) from a histogram of its bytes.
  Dataset d;
  float lut[256];
  for (int b = 0; b < 256; ++b) lut[b] = static_cast<float>(b) / 255.0f;
  if (normalize) {
    const int64_t count = n_train * train.images.shape[1] * train.images.shape[2];
    if (count == 0)
      throw std::invalid_argument(fmt::format(
          "load_fashion_mnist: cannot normalize with an empty training split ({} images, "
          "num_val {})",
          n, num_val));
    std::vector<int64_t> hist(256, 0);
    for (int64_t i = 0; i < count; ++i) ++hist[train.images.bytes[i]];
    double mean = 0.0, var = 0.0;
    for (int b = 0; b < 256; ++b) mean += static_cast<double>(hist[b]) * (b / 255.0);
    mean /= static_cast<double>(count);
    for (int b = 0; b < 256; ++b)
      var += static_cast<double>(hist[b]) * std::pow(b / 255.0 - mean, 2);
    const double std = std::sqrt(var / static_cast<double>(count));
    if (!(std > 0.0))
      throw std::invalid_argument(fmt::format(
          "load_fashion_mnist: cannot normalize: every training pixel in '{}' has the same value",
          train_images));
    for (int b = 0; b < 256; ++b) lut[b] = static_cast<float>((b / 255.0 - mean) / std);
    d.channel_mean = {mean};
    d.channel_std = {std};
  }
  d.X_train = image_rows(train.images, 0, n_train, lut);
  d.X_val = image_rows(train.images, n_train, n, lut);
  d.y_train = label_rows(train.labels, 0, n_train);
  d.y_val = label_rows(train.labels, n_train, n);
  train = RawPair();
  const RawPair test = read_raw_pair(test_images, test_labels, 10);
  d.X_test = image_rows(test.images, 0, test.images.shape[0], lut);
  d.y_test = label_rows(test.labels, 0, test.labels.shape[0]);
  return d;
}

}  // namespace dagrad::data
