// Minibatches: an epoch iterator over shuffled rows, data augmentation for NCHW image batches,
// and random row selection for a Solver. Batches are plain tensors without autograd history.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dagrad/autograd/random.h"
#include "dagrad/autograd/tensor.h"

namespace dagrad::data {

// Per-sample augmentation of NCHW images, applied while a batch is assembled.
struct Augment {
  bool random_flip = false;     // mirror along W with probability 1/2
  int random_crop_padding = 0;  // zero-pad H and W by this much, crop back to H x W at a random
                                // offset (0 = no crop)
};

// Iterates one epoch at a time over the rows of X (N, ...) and y (N, ...), copying them into
// contiguous batch tensors:
//   MinibatchLoader loader(X, y, 64, /*shuffle=*/true, /*seed=*/0);
//   for (int epoch = 0; epoch < E; ++epoch, loader.reset())
//     for (Tensor xb, yb; loader.next(xb, yb);) { ... }
// Every row appears exactly once per epoch; the last batch is smaller (N % batch_size rows)
// unless drop_last, which skips it. With shuffle, each epoch uses a fresh permutation drawn from
// the loader's own generator (Fisher-Yates), so the same seed gives the same batches every run.
// Augmentation draws come from a second generator derived from the seed, so the order of the
// samples does not depend on whether augmentation is on. For each sample the crop offsets (row,
// then column, each uniform in [0, 2 * padding]) are drawn before the flip coin, and the crop is
// applied before the flip.
// Buffers: next() writes into the batch tensor it returned last time when nobody else holds it
// (only the loader and the `xb`/`yb` handle being overwritten); a batch kept elsewhere (saved by
// an autograd graph, copied into a variable, reshaped into a view) is never overwritten.
class MinibatchLoader {
 public:
  MinibatchLoader(Tensor X, Tensor y, int64_t batch_size, bool shuffle = true, uint64_t seed = 0,
                  bool drop_last = false, Augment augment = {});

  // The next batch of this epoch into xb (B, ...) and yb (B, ...); false at the end of the
  // epoch (and on every later call until reset()).
  bool next(Tensor& xb, Tensor& yb);
  // Starts a new epoch (reshuffled when shuffle is on).
  void reset();

  int64_t num_batches() const;  // per epoch
  int64_t num_samples() const { return n_; }
  int64_t batch_size() const { return batch_size_; }
  int64_t epoch() const { return epoch_; }  // 0 for the first epoch, +1 per reset()
  const std::vector<int64_t>& order() const { return order_; }  // this epoch's row order

  // The shuffling and augmentation generators' states (Generator::state). Restored into a
  // loader over the same data with the same settings, the epochs after the next reset() draw
  // exactly the batches the original loader would have: how a Solver resumes training.
  struct State {
    std::string shuffle, augment;
  };
  State state() const { return {gen_.state(), aug_gen_.state()}; }
  void set_state(const State& s);

 private:
  Tensor buffer(int slot, const Tensor& handed_out, const Shape& shape, Dtype dtype, bool x);
  void fill_batch(Tensor& xb, Tensor& yb, int64_t begin, int64_t rows);

  Tensor X_, y_;
  int64_t n_ = 0, batch_size_ = 0;
  bool shuffle_ = true, drop_last_ = false;
  Augment augment_;
  Generator gen_, aug_gen_;
  std::vector<int64_t> order_;
  int64_t cursor_ = 0, epoch_ = 0;
  Tensor xbuf_[2], ybuf_[2];  // slot 0: full batches, slot 1: the last, partial batch
};

// A copy of an NCHW batch with each sample mirrored along W with probability p
// (one gen.uniform() < p draw per sample).
Tensor random_horizontal_flip(const Tensor& batch, Generator& gen, double p = 0.5);
// A copy of an NCHW batch where each sample is zero-padded by `padding` on all four sides and
// cropped back to H x W at offsets (dy, dx) drawn uniformly from [0, 2 * padding] (dy first).
Tensor random_crop(const Tensor& batch, int padding, Generator& gen);

// Rows idx of X (axis 0), copied: the minibatch a Solver draws each iteration.
Tensor sample_rows(const Tensor& X, const std::vector<int64_t>& idx);
// k distinct indices from [0, n), in random order (a partial Fisher-Yates shuffle; the same
// draws whatever n and k, so results depend only on the generator state). 0 <= k <= n.
std::vector<int64_t> random_choice(int64_t n, int64_t k, Generator& gen);

}  // namespace dagrad::data
