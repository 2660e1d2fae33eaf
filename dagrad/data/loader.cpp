#include "dagrad/data/loader.h"

#include <fmt/format.h>

#include <cstring>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "dagrad/data/preprocess.h"

namespace dagrad::data {

namespace {

int64_t row_numel(const Tensor& X) {
  int64_t r = 1;
  for (int i = 1; i < X.dim(); ++i) r *= X.size(i);
  return r;
}

void require_nchw(const Tensor& X, const char* fn) {
  if (!X.defined() || X.dim() != 4)
    throw std::invalid_argument(fmt::format(
        "{}: expected an NCHW image batch (4-D), got {}", fn,
        X.defined() ? "shape " + to_string(X.shape()) : std::string("an undefined tensor")));
}

void require_padding(int padding, const char* fn) {
  if (padding < 0)
    throw std::invalid_argument(fmt::format("{}: padding must be >= 0, got {}", fn, padding));
}

// One sample (C, H, W): dst[c, i, j] = padded(src)[c, i + dy, jj + dx] where jj = W-1-j when
// flipped, else j; padded(src)[c, r, q] = src[c, r - p, q - p], or 0 outside the image.
template <typename T>
void transform_sample(const T* src, T* dst, int64_t C, int64_t H, int64_t W, int64_t p, int64_t dy,
                      int64_t dx, bool flip) {
  for (int64_t c = 0; c < C; ++c) {
    const T* s = src + c * H * W;
    T* d = dst + c * H * W;
    for (int64_t i = 0; i < H; ++i) {
      const int64_t r = i + dy - p;
      T* drow = d + i * W;
      if (r < 0 || r >= H) {
        for (int64_t j = 0; j < W; ++j) drow[j] = T(0);
        continue;
      }
      const T* srow = s + r * W;
      for (int64_t j = 0; j < W; ++j) {
        const int64_t q = (flip ? W - 1 - j : j) + dx - p;
        drow[j] = (q >= 0 && q < W) ? srow[q] : T(0);
      }
    }
  }
}

// Seed of the augmentation stream: splitmix64 of the loader seed, so the two streams differ.
uint64_t derive_seed(uint64_t seed) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

MinibatchLoader::MinibatchLoader(Tensor X, Tensor y, int64_t batch_size, bool shuffle,
                                 uint64_t seed, bool drop_last, Augment augment)
    : X_(std::move(X)),
      y_(std::move(y)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      drop_last_(drop_last),
      augment_(augment),
      gen_(seed),
      aug_gen_(derive_seed(seed)) {
  if (!X_.defined() || !y_.defined() || X_.dim() < 1 || y_.dim() < 1)
    throw std::invalid_argument("MinibatchLoader: X and y must be defined tensors with rows");
  if (X_.size(0) != y_.size(0))
    throw std::invalid_argument(fmt::format(
        "MinibatchLoader: X of shape {} and y of shape {} have different numbers of rows",
        to_string(X_.shape()), to_string(y_.shape())));
  if (batch_size_ <= 0)
    throw std::invalid_argument(
        fmt::format("MinibatchLoader: batch_size must be positive, got {}", batch_size_));
  require_padding(augment_.random_crop_padding, "MinibatchLoader");
  if (augment_.random_flip || augment_.random_crop_padding > 0)
    require_nchw(X_, "MinibatchLoader (augmentation)");
  n_ = X_.size(0);
  order_.resize(static_cast<size_t>(n_));
  epoch_ = -1;
  reset();
}

void MinibatchLoader::reset() {
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (shuffle_)
    for (int64_t i = n_ - 1; i > 0; --i) std::swap(order_[i], order_[gen_.randint(0, i + 1)]);
  cursor_ = 0;
  ++epoch_;
}

void MinibatchLoader::set_state(const State& s) {
  Generator shuffle = gen_, augment = aug_gen_;
  shuffle.set_state(s.shuffle);  // both parsed before either is replaced
  augment.set_state(s.augment);
  gen_ = shuffle;
  aug_gen_ = augment;
}

int64_t MinibatchLoader::num_batches() const {
  return drop_last_ ? n_ / batch_size_ : (n_ + batch_size_ - 1) / batch_size_;
}

Tensor MinibatchLoader::buffer(int slot, const Tensor& handed_out, const Shape& shape, Dtype dtype,
                               bool x) {
  Tensor& cached = x ? xbuf_[slot] : ybuf_[slot];
  if (cached.defined() && cached.shape() == shape && cached.dtype() == dtype) {
    // Reusable only if the loader and the handle about to be overwritten are the sole owners:
    // no copies, no views sharing the storage, nothing saved by a graph, no autograd state.
    const long holders = 1 + (handed_out.defined() && handed_out.impl_ptr() == cached.impl_ptr());
    const TensorImpl& im = cached.impl();
    if (cached.impl_ptr().use_count() == holders && im.storage.use_count() == 1 &&
        !im.requires_grad && !im.grad && !im.grad_fn && !im.tangent) {
      cached.bump_version();
      return cached;
    }
  }
  cached = empty(shape, dtype);
  return cached;
}

bool MinibatchLoader::next(Tensor& xb, Tensor& yb) {
  if (cursor_ >= n_) return false;
  const int64_t rows = std::min(batch_size_, n_ - cursor_);
  if (drop_last_ && rows < batch_size_) {
    cursor_ = n_;
    return false;
  }
  fill_batch(xb, yb, cursor_, rows);
  cursor_ += rows;
  return true;
}

void MinibatchLoader::fill_batch(Tensor& xb, Tensor& yb, int64_t begin, int64_t rows) {
  const int slot = rows == batch_size_ ? 0 : 1;
  Shape xs = X_.shape(), ys = y_.shape();
  xs[0] = rows;
  ys[0] = rows;
  Tensor xo = buffer(slot, xb, xs, X_.dtype(), true);
  Tensor yo = buffer(slot, yb, ys, y_.dtype(), false);
  xb = Tensor();  // drop the caller's handles only after the ownership check above
  yb = Tensor();

  const int64_t* idx = order_.data() + begin;
  const size_t yrow = static_cast<size_t>(row_numel(y_)) * dtype_size(y_.dtype());
  const char* ysrc = static_cast<const char*>(y_.raw_data());
  char* ydst = static_cast<char*>(yo.raw_data());
  for (int64_t k = 0; k < rows; ++k) std::memcpy(ydst + k * yrow, ysrc + idx[k] * yrow, yrow);

  const bool augment = augment_.random_flip || augment_.random_crop_padding > 0;
  if (!augment) {
    const size_t xrow = static_cast<size_t>(row_numel(X_)) * dtype_size(X_.dtype());
    const char* xsrc = static_cast<const char*>(X_.raw_data());
    char* xdst = static_cast<char*>(xo.raw_data());
    for (int64_t k = 0; k < rows; ++k) std::memcpy(xdst + k * xrow, xsrc + idx[k] * xrow, xrow);
  } else {
    const int64_t C = X_.size(1), H = X_.size(2), W = X_.size(3), p = augment_.random_crop_padding;
    DAGRAD_DISPATCH(X_.dtype(), {
      const T* src = X_.data<T>();
      T* dst = xo.data<T>();
      for (int64_t k = 0; k < rows; ++k) {
        int64_t dy = p, dx = p;
        if (p > 0) {
          dy = aug_gen_.randint(0, 2 * p + 1);
          dx = aug_gen_.randint(0, 2 * p + 1);
        }
        const bool flip = augment_.random_flip && aug_gen_.uniform() < 0.5;
        transform_sample(src + idx[k] * C * H * W, dst + k * C * H * W, C, H, W, p, dy, dx, flip);
      }
    });
  }
  xb = xo;
  yb = yo;
}

Tensor random_horizontal_flip(const Tensor& batch, Generator& gen, double p) {
  require_nchw(batch, "random_horizontal_flip");
  const int64_t N = batch.size(0), C = batch.size(1), H = batch.size(2), W = batch.size(3);
  Tensor out = empty(batch.shape(), batch.dtype());
  DAGRAD_DISPATCH(batch.dtype(), {
    const T* src = batch.data<T>();
    T* dst = out.data<T>();
    for (int64_t n = 0; n < N; ++n) {
      const bool flip = gen.uniform() < p;
      transform_sample(src + n * C * H * W, dst + n * C * H * W, C, H, W, 0, 0, 0, flip);
    }
  });
  return out;
}

Tensor random_crop(const Tensor& batch, int padding, Generator& gen) {
  require_nchw(batch, "random_crop");
  require_padding(padding, "random_crop");
  const int64_t N = batch.size(0), C = batch.size(1), H = batch.size(2), W = batch.size(3);
  const int64_t p = padding;
  Tensor out = empty(batch.shape(), batch.dtype());
  DAGRAD_DISPATCH(batch.dtype(), {
    const T* src = batch.data<T>();
    T* dst = out.data<T>();
    for (int64_t n = 0; n < N; ++n) {
      const int64_t dy = gen.randint(0, 2 * p + 1);
      const int64_t dx = gen.randint(0, 2 * p + 1);
      transform_sample(src + n * C * H * W, dst + n * C * H * W, C, H, W, p, dy, dx, false);
    }
  });
  return out;
}

Tensor sample_rows(const Tensor& X, const std::vector<int64_t>& idx) { return take_rows(X, idx); }

std::vector<int64_t> random_choice(int64_t n, int64_t k, Generator& gen) {
  if (n < 0 || k < 0 || k > n)
    throw std::invalid_argument(fmt::format(
        "random_choice: need 0 <= k <= n for a choice without replacement, got n = {}, k = {}", n,
        k));
  std::vector<int64_t> out(static_cast<size_t>(k));
  if (k * 8 < n) {
    // Sparse partial Fisher-Yates: only the swapped positions are stored; same draws and
    // result as the dense version below.
    std::unordered_map<int64_t, int64_t> moved;
    auto value_at = [&](int64_t i) {
      auto it = moved.find(i);
      return it == moved.end() ? i : it->second;
    };
    for (int64_t i = 0; i < k; ++i) {
      const int64_t j = gen.randint(i, n);
      const int64_t vi = value_at(i), vj = value_at(j);
      out[i] = vj;
      moved[j] = vi;
    }
  } else {
    std::vector<int64_t> a(static_cast<size_t>(n));
    std::iota(a.begin(), a.end(), int64_t{0});
    for (int64_t i = 0; i < k; ++i) {
      std::swap(a[i], a[gen.randint(i, n)]);
      out[i] = a[i];
    }
  }
  return out;
}

}  // namespace dagrad::data
