// What several examples share.
#pragma once
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dagrad/data/idx.h"
#include "dagrad/train/solver.h"

namespace dagrad::examples {

// The first num_train training and num_val validation images of a dataset.
inline train::SolverData subset(const data::Dataset& ds, int64_t num_train, int64_t num_val) {
  return {slice(ds.X_train, 0, 0, num_train), slice(ds.y_train, 0, 0, num_train),
          slice(ds.X_val, 0, 0, num_val), slice(ds.y_val, 0, 0, num_val)};
}

// Loads Fashion-MNIST from dir, saying so under an "== data" heading, and keeps the subset.
inline train::SolverData load_subset(const std::string& dir, int64_t num_train, int64_t num_val) {
  fmt::print("== data\nloading Fashion-MNIST from {} ...\n", dir);
  return subset(data::load_fashion_mnist(dir), num_train, num_val);
}

// The Solver settings of the examples that compare runs: batches of 100, training accuracy on
// 1000 images, only the per-epoch lines, and seed 0 so that every run sees the same minibatches.
inline train::SolverOptions comparison_options(const std::string& update_rule, double learning_rate,
                                               int epochs) {
  train::SolverOptions o;
  o.update_rule = update_rule;
  o.optim_config = {{"learning_rate", learning_rate}};
  o.batch_size = 100;
  o.num_epochs = epochs;
  o.num_train_samples = 1000;
  o.print_every = 1000000;
  o.seed = 0;
  return o;
}

// 0, 1, ..., n - 1: the x axis of a per-epoch history (epoch 0 is before training).
inline std::vector<double> epoch_axis(std::size_t n) {
  std::vector<double> ep;
  for (std::size_t e = 0; e < n; ++e) ep.push_back(static_cast<double>(e));
  return ep;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace dagrad::examples
