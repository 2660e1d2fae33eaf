#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/data/loader.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::data;
using namespace dagrad::test_util;

namespace {

// N samples (N, 2): row i = (10 i, 10 i + 1); labels y[i] = i.
void make_rows(int64_t n, Tensor& X, Tensor& y) {
  std::vector<double> xv, yv;
  for (int64_t i = 0; i < n; ++i) {
    xv.push_back(10.0 * i);
    xv.push_back(10.0 * i + 1);
    yv.push_back(static_cast<double>(i));
  }
  X = tensor(xv, {n, 2});
  y = tensor(yv, {n});
}

// One epoch: the labels of every batch, checking that each X row matches its label.
std::vector<std::vector<int64_t>> epoch_batches(MinibatchLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  Tensor xb, yb;
  while (loader.next(xb, yb)) {
    REQUIRE(xb.size(0) == yb.size(0));
    std::vector<int64_t> b;
    for (int64_t k = 0; k < yb.size(0); ++k) {
      const auto i = static_cast<int64_t>(yb.at({k}));
      CHECK(xb.at({k, 0}) == 10.0 * i);
      CHECK(xb.at({k, 1}) == 10.0 * i + 1);
      b.push_back(i);
    }
    out.push_back(b);
  }
  return out;
}

// Sample n (1 channel, 2x3) = 100 n + {1..6}: all values distinct, none zero.
Tensor tiny_images(int64_t n, int64_t C = 1) {
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k = 1; k <= 6; ++k) v.push_back(100.0 * i + 10.0 * c + k);
  return tensor(v, {n, C, 2, 3});
}

std::vector<double> sample(const Tensor& X, int64_t n) {
  const std::vector<double> v = X.to_vector();
  const int64_t r = X.numel() / X.size(0);
  return {v.begin() + n * r, v.begin() + (n + 1) * r};
}

// Reference crop-then-flip of one (C, H, W) sample given as a flat vector.
std::vector<double> transformed(const std::vector<double>& s, int64_t C, int64_t H, int64_t W,
                                int64_t p, int64_t dy, int64_t dx, bool flip) {
  std::vector<double> out(s.size(), 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        const int64_t jj = flip ? W - 1 - j : j;
        const int64_t r = i + dy - p, q = jj + dx - p;
        if (r >= 0 && r < H && q >= 0 && q < W) out[(c * H + i) * W + j] = s[(c * H + r) * W + q];
      }
  return out;
}

}  // namespace

TEST_CASE("loader: every sample exactly once per epoch, partial last batch") {
  Tensor X, y;
  make_rows(10, X, y);
  MinibatchLoader loader(X, y, 4, true, 7);
  CHECK(loader.num_batches() == 3);
  CHECK(loader.num_samples() == 10);
  std::vector<std::vector<int64_t>> first;
  for (int epoch = 0; epoch < 3; ++epoch) {
    CHECK(loader.epoch() == epoch);
    const auto batches = epoch_batches(loader);
    REQUIRE(batches.size() == 3);
    CHECK(batches[0].size() == 4);
    CHECK(batches[1].size() == 4);
    CHECK(batches[2].size() == 2);
    std::vector<int64_t> all;
    for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
    CHECK(all == loader.order());
    std::sort(all.begin(), all.end());
    for (int64_t i = 0; i < 10; ++i) CHECK(all[i] == i);
    if (epoch == 0) first = batches;
    if (epoch == 1) CHECK(batches != first);  // reshuffled
    Tensor xb, yb;
    CHECK_FALSE(loader.next(xb, yb));  // stays at the end until reset
    loader.reset();
  }
  // With shuffle the order is not the identity (10! permutations; this seed is not identity).
  MinibatchLoader fresh(X, y, 4, true, 7);
  std::vector<int64_t> id(10);
  for (int64_t i = 0; i < 10; ++i) id[i] = i;
  CHECK(fresh.order() != id);
}

TEST_CASE("loader: deterministic for a seed, different across seeds, ordered without shuffle") {
  Tensor X, y;
  make_rows(50, X, y);
  MinibatchLoader a(X, y, 8, true, 123), b(X, y, 8, true, 123), c(X, y, 8, true, 124);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto ea = epoch_batches(a), eb = epoch_batches(b), ec = epoch_batches(c);
    CHECK(ea == eb);
    CHECK(ea != ec);
    a.reset();
    b.reset();
    c.reset();
  }
  MinibatchLoader plain(X, y, 8, false, 0);
  const auto e = epoch_batches(plain);
  REQUIRE(e.size() == 7);
  CHECK(e[0] == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(e[6] == std::vector<int64_t>{48, 49});
  // Augmentation uses its own stream: the order is the same with or without it.
  const Tensor imgs = tiny_images(50);
  MinibatchLoader aug(imgs, y, 8, true, 123, false, Augment{true, 1});
  MinibatchLoader noaug(imgs, y, 8, true, 123);
  for (int i = 0; i < 3; ++i) {
    CHECK(aug.order() == noaug.order());
    Tensor xb, yb;
    while (aug.next(xb, yb)) {
    }
    aug.reset();
    noaug.reset();
  }
}

TEST_CASE("loader: drop_last, shapes and dtype of batches") {
  Tensor X = tiny_images(10).to(float64), y = tensor({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 1});
  MinibatchLoader loader(X, y, 4, false, 0, /*drop_last=*/true);
  CHECK(loader.num_batches() == 2);
  Tensor xb, yb;
  int count = 0;
  while (loader.next(xb, yb)) {
    ++count;
    CHECK(xb.shape() == Shape{4, 1, 2, 3});
    CHECK(yb.shape() == Shape{4, 1});
    CHECK(xb.dtype() == float64);
    CHECK_FALSE(xb.requires_grad());
  }
  CHECK(count == 2);
  MinibatchLoader big(X, y, 64, false, 0, true);  // batch larger than the set
  CHECK(big.num_batches() == 0);
  CHECK_FALSE(big.next(xb, yb));
  MinibatchLoader big2(X, y, 64, false, 0, false);
  CHECK(big2.num_batches() == 1);
  REQUIRE(big2.next(xb, yb));
  CHECK(xb.shape() == Shape{10, 1, 2, 3});
  CHECK(xb.to_vector() == X.to_vector());

  CHECK_MESSAGE_HAS(error_of<std::exception>([&] {
                      MinibatchLoader(X, tensor({1, 2}), 4, true, 0);
                    }),
                    "different numbers of rows");
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { MinibatchLoader(X, y, 0, true, 0); }),
                    "batch_size must be positive, got 0");
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] {
                      MinibatchLoader(zeros({4, 3}), zeros({4}), 2, true, 0, false, {true, 0});
                    }),
                    "expected an NCHW image batch (4-D), got shape (4, 3)");
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] {
                      MinibatchLoader(X, y, 2, true, 0, false, {false, -1});
                    }),
                    "padding must be >= 0, got -1");
}

TEST_CASE("loader: batch buffers are reused only when nobody else holds them") {
  Tensor X, y;
  make_rows(12, X, y);
  MinibatchLoader loader(X, y, 4, false, 0);
  Tensor xb, yb;
  REQUIRE(loader.next(xb, yb));
  const void* first = xb.raw_data();
  Tensor kept = xb;  // e.g. saved by a graph
  REQUIRE(loader.next(xb, yb));
  CHECK(xb.raw_data() != first);
  CHECK(kept.at({0, 0}) == 0);  // not overwritten
  CHECK(xb.at({0, 0}) == 40);
  const void* second = xb.raw_data();
  REQUIRE(loader.next(xb, yb));
  CHECK(xb.raw_data() == second);  // sole holder: written in place
  CHECK(xb.at({0, 0}) == 80);
  // A view sharing the storage also blocks reuse.
  loader.reset();
  REQUIRE(loader.next(xb, yb));
  Tensor view = xb.reshape({8});
  const void* p = xb.raw_data();
  REQUIRE(loader.next(xb, yb));
  CHECK(xb.raw_data() != p);
  CHECK(view.at({0}) == 0);
}

TEST_CASE("loader: random_horizontal_flip on tiny images") {
  const Tensor X = tiny_images(40, 2);
  Generator gen(5);
  const Tensor F = random_horizontal_flip(X, gen);
  CHECK(F.shape() == X.shape());
  int flipped = 0;
  Generator replay(5);
  for (int64_t n = 0; n < 40; ++n) {
    const std::vector<double> s = sample(X, n), f = sample(F, n);
    const bool expect_flip = replay.uniform() < 0.5;
    CHECK(f == transformed(s, 2, 2, 3, 0, 0, 0, expect_flip));
    flipped += expect_flip;
  }
  CHECK(flipped > 5);
  CHECK(flipped < 35);
  // Hand check of one flipped sample: rows (1 2 3 / 4 5 6) -> (3 2 1 / 6 5 4).
  CHECK(transformed({1, 2, 3, 4, 5, 6}, 1, 2, 3, 0, 0, 0, true) ==
        std::vector<double>{3, 2, 1, 6, 5, 4});
  Generator always(0);
  const Tensor all = random_horizontal_flip(X, always, 1.0);
  CHECK(sample(all, 3) == std::vector<double>{303, 302, 301, 306, 305, 304,  //
                                              313, 312, 311, 316, 315, 314});
  Generator never(0);
  CHECK(random_horizontal_flip(X, never, 0.0).to_vector() == X.to_vector());
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] {
                      random_horizontal_flip(zeros({2, 3}), gen);
                    }),
                    "random_horizontal_flip: expected an NCHW image batch");
}

TEST_CASE("loader: random_crop on tiny images") {
  // Hand-made crops of (1 2 3 / 4 5 6) padded by 1: offset (0, 0) shifts the image down-right.
  CHECK(transformed({1, 2, 3, 4, 5, 6}, 1, 2, 3, 1, 0, 0, false) ==
        std::vector<double>{0, 0, 0, 0, 1, 2});
  CHECK(transformed({1, 2, 3, 4, 5, 6}, 1, 2, 3, 1, 2, 2, false) ==
        std::vector<double>{5, 6, 0, 0, 0, 0});
  CHECK(transformed({1, 2, 3, 4, 5, 6}, 1, 2, 3, 1, 1, 1, false) ==
        std::vector<double>{1, 2, 3, 4, 5, 6});

  const Tensor X = tiny_images(200);
  Generator gen(9), replay(9);
  const Tensor Cr = random_crop(X, 1, gen);
  CHECK(Cr.shape() == X.shape());
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t n = 0; n < 200; ++n) {
    const int64_t dy = replay.randint(0, 3), dx = replay.randint(0, 3);
    seen.insert({dy, dx});
    CHECK(sample(Cr, n) == transformed(sample(X, n), 1, 2, 3, 1, dy, dx, false));
  }
  CHECK(seen.size() == 9);  // all offsets in [0, 2]^2 occur
  Generator g0(1);
  CHECK(random_crop(X, 0, g0).to_vector() == X.to_vector());
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { random_crop(X, -2, gen); }),
                    "padding must be >= 0, got -2");
}

TEST_CASE("loader: augmentation inside the loader keeps labels and uses allowed transforms") {
  const int64_t N = 30, C = 2;
  const Tensor X = tiny_images(N, C);
  std::vector<double> yv;
  for (int64_t i = 0; i < N; ++i) yv.push_back(static_cast<double>(i));
  const Tensor y = tensor(yv);
  MinibatchLoader loader(X, y, 7, true, 3, false, Augment{true, 1});
  Tensor xb, yb;
  int flips = 0, shifted = 0, total = 0;
  while (loader.next(xb, yb)) {
    for (int64_t k = 0; k < yb.size(0); ++k) {
      const auto i = static_cast<int64_t>(yb.at({k}));
      const std::vector<double> got = sample(xb, k), src = sample(X, i);
      // Some crop offset (dy, dx) in [0, 2]^2 and flip must reproduce it from its source.
      bool match = false;
      for (int64_t dy = 0; dy <= 2 && !match; ++dy)
        for (int64_t dx = 0; dx <= 2 && !match; ++dx)
          for (bool flip : {false, true})
            if (got == transformed(src, C, 2, 3, 1, dy, dx, flip)) {
              match = true;
              flips += flip;
              shifted += (dy != 1 || dx != 1);
              break;
            }
      CHECK_MESSAGE(match, "sample " << i << " is not a flip/crop of its source");
      ++total;
    }
  }
  CHECK(total == N);
  CHECK(flips > 0);
  CHECK(shifted > 0);
  // Same seed, same augmented batches.
  MinibatchLoader l1(X, y, 7, true, 3, false, Augment{true, 1});
  MinibatchLoader l2(X, y, 7, true, 3, false, Augment{true, 1});
  Tensor a, ay, b, by;
  while (l1.next(a, ay)) {
    REQUIRE(l2.next(b, by));
    CHECK(a.to_vector() == b.to_vector());
  }
}

TEST_CASE("loader: random_choice without replacement and sample_rows") {
  Generator gen(42);
  for (int64_t k : {0, 1, 5, 100}) {
    const std::vector<int64_t> c = random_choice(100, k, gen);
    CHECK(c.size() == static_cast<size_t>(k));
    std::set<int64_t> s(c.begin(), c.end());
    CHECK(s.size() == c.size());  // distinct
    for (int64_t v : c) {
      CHECK(v >= 0);
      CHECK(v < 100);
    }
  }
  // The sparse path (k much smaller than n) and the dense path draw the same indices:
  // compare choosing 10 of 1000 (sparse) with the first 10 of a dense choice of 1000
  // (both use the same partial Fisher-Yates draws).
  Generator g1(7), g2(7);
  const std::vector<int64_t> sparse = random_choice(1000, 10, g1);
  const std::vector<int64_t> dense = random_choice(1000, 1000, g2);
  CHECK(std::vector<int64_t>(dense.begin(), dense.begin() + 10) == sparse);
  // Deterministic for a seed.
  Generator g3(7);
  CHECK(random_choice(1000, 10, g3) == sparse);
  // Roughly uniform: over many draws of 1 from 4, every value appears.
  Generator g4(1);
  std::vector<int> counts(4, 0);
  for (int t = 0; t < 4000; ++t) ++counts[random_choice(4, 1, g4)[0]];
  for (int c : counts) CHECK(c > 850);
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { random_choice(5, 6, gen); }),
                    "need 0 <= k <= n for a choice without replacement, got n = 5, k = 6");

  Tensor X, y;
  make_rows(6, X, y);
  const Tensor r = sample_rows(X, {5, 2});
  CHECK(r.to_vector() == std::vector<double>{50, 51, 20, 21});
}
