#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/data/preprocess.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::data;
using namespace dagrad::test_util;

namespace {}  // namespace

TEST_CASE("preprocess: NHWC <-> NCHW") {
  // x[n, h, w, c] = 1000 n + 100 h + 10 w + c
  const int64_t N = 2, H = 3, W = 4, C = 2;
  std::vector<double> v;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t c = 0; c < C; ++c) v.push_back(1000 * n + 100 * h + 10 * w + c);
  for (Dtype dt : {float32, float64}) {
    const Tensor nhwc = tensor(v, {N, H, W, C}, dt);
    const Tensor nchw = nhwc_to_nchw(nhwc);
    CHECK(nchw.shape() == Shape{N, C, H, W});
    CHECK(nchw.dtype() == dt);
    CHECK(nchw.at({1, 1, 2, 3}) == 1000 + 200 + 30 + 1);
    CHECK(nchw.at({0, 0, 0, 1}) == 10);
    CHECK(nchw.at({0, 1, 0, 0}) == 1);
    const Tensor back = nchw_to_nhwc(nchw);
    CHECK(back.shape() == Shape{N, H, W, C});
    CHECK(back.to_vector() == v);
  }
  CHECK_MESSAGE_HAS(error_of<std::exception>([] {
                      nhwc_to_nchw(zeros({2, 3, 4}));
                    }),
                    "nhwc_to_nchw: expected a 4-D tensor, got shape (2, 3, 4)");
}

TEST_CASE("preprocess: mean image and its subtraction") {
  const Tensor X = tensor({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 2, 2}, float64);
  const Tensor m = mean_image(X);
  CHECK(m.shape() == Shape{2, 2});
  CHECK(m.to_vector() == std::vector<double>{5, 6, 7, 8});
  const Tensor Y = subtract_mean_image(X, m);
  CHECK(Y.shape() == Shape{3, 2, 2});
  CHECK(Y.to_vector() == std::vector<double>{-4, -4, -4, -4, 0, 0, 0, 0, 4, 4, 4, 4});
  CHECK(X.at({0, 0, 0}) == 1);  // input untouched
  // A float32 input with a float64 mean keeps float32.
  const Tensor Yf = subtract_mean_image(X.to(float32), m);
  CHECK(Yf.dtype() == float32);
  CHECK(Yf.at({2, 1, 1}) == 4);
  // Results carry no history even if the input requires grad.
  Tensor Xg = X.clone().detach();
  Xg.requires_grad_();
  CHECK_FALSE(subtract_mean_image(Xg, mean_image(Xg)).requires_grad());

  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { subtract_mean_image(X, zeros({4}, float64)); }),
                    "mean of shape (4,) does not match the rows of X of shape (3, 2, 2)");
  CHECK_MESSAGE_HAS(error_of<std::exception>([] { mean_image(zeros({0, 3})); }), "mean_image");
}

TEST_CASE("preprocess: channel statistics and normalization") {
  // (N=2, C=2, 2x1): channel 0 holds {1, 3, 5, 7}, channel 1 holds {10, 10, 10, 30}.
  const Tensor X = tensor({1, 3, 10, 10, 5, 7, 10, 30}, {2, 2, 2, 1}, float64);
  const ChannelStats s = channel_stats(X);
  REQUIRE(s.mean.size() == 2);
  CHECK(s.mean[0] == 4);
  CHECK(s.mean[1] == 15);
  CHECK(s.std[0] == doctest::Approx(std::sqrt(5.0)).epsilon(1e-15));  // population std
  CHECK(s.std[1] == doctest::Approx(std::sqrt(75.0)).epsilon(1e-15));

  const Tensor Z = normalize_channels(X, s);
  CHECK(Z.shape() == X.shape());
  CHECK(Z.at({0, 0, 0, 0}) == doctest::Approx(-3 / std::sqrt(5.0)).epsilon(1e-15));
  CHECK(Z.at({1, 1, 1, 0}) == doctest::Approx(15 / std::sqrt(75.0)).epsilon(1e-15));
  const ChannelStats zs = channel_stats(Z);
  for (int c = 0; c < 2; ++c) {
    CHECK(std::abs(zs.mean[c]) < 1e-15);
    CHECK(zs.std[c] == doctest::Approx(1.0).epsilon(1e-14));
  }
  const Tensor back = denormalize_channels(Z, s);
  const std::vector<double> xv = X.to_vector(), bv = back.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) CHECK(bv[i] == doctest::Approx(xv[i]).epsilon(1e-14));

  // (N, C) works too: statistics over N.
  const ChannelStats s2 = channel_stats(tensor({1, 2, 3, 6}, {2, 2}));
  CHECK(s2.mean == std::vector<double>{2, 4});
  CHECK(s2.std == std::vector<double>{1, 2});

  CHECK_MESSAGE_HAS(error_of<std::exception>([&] {
                      normalize_channels(X, ChannelStats{{0}, {1}});
                    }),
                    "stats have 1 means and 1 stds but the input of shape (2, 2, 2, 1) has 2");
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] {
                      normalize_channels(X, ChannelStats{{0, 0}, {1, 0}});
                    }),
                    "channel 1 has mean 0 and std 0");
  CHECK_MESSAGE_HAS(error_of<std::exception>([] { channel_stats(zeros({5})); }),
                    "channel_stats: expected a tensor with a channel axis");
}

TEST_CASE("preprocess: rows, take_rows and split") {
  const Tensor X = arange(12, float32).reshape({6, 2});
  const Tensor y = tensor({0, 1, 2, 3, 4, 5});
  const Tensor t = take_rows(X, {4, 0, 4});
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.to_vector() == std::vector<double>{8, 9, 0, 1, 8, 9});
  CHECK(take_rows(X, {}).shape() == Shape{0, 2});
  CHECK(slice_rows(X, 1, 3).to_vector() == std::vector<double>{2, 3, 4, 5});
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] {
                      take_rows(X, {0, 6});
                    }),
                    "take_rows: index 6 (position 1) out of range for 6 rows");
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { take_rows(X, {-1}); }), "index -1");
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { slice_rows(X, 2, 7); }),
                    "rows [2, 7) out of range");

  const Dataset d = split(X, y, 3, 2);
  CHECK(d.y_train.to_vector() == std::vector<double>{0, 1, 2});
  CHECK(d.y_val.to_vector() == std::vector<double>{3, 4});
  CHECK(d.y_test.to_vector() == std::vector<double>{5});
  CHECK(d.X_val.to_vector() == std::vector<double>{6, 7, 8, 9});
  CHECK(d.X_test.shape() == Shape{1, 2});
  const Dataset d2 = split(X, y, 2, 1, 2);
  CHECK(d2.y_test.to_vector() == std::vector<double>{3, 4});
  const Dataset d3 = split(X, y, 6, 0);
  CHECK(d3.X_val.shape() == Shape{0, 2});
  CHECK(d3.X_test.shape() == Shape{0, 2});
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { split(X, y, 4, 2, 1); }),
                    "num_train 4 + num_val 2 + num_test 1 = 7 exceeds the 6 rows");
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] { split(X, y, 5, 2); }), "exceeds the 6 rows");
  CHECK_MESSAGE_HAS(error_of<std::exception>([&] {
                      split(X, tensor({1, 2}), 1, 1);
                    }),
                    "same number of rows");
}
