// Solver: trains a classification model with cs231n's Solver semantics.
//
//   Solver solver(model, {X_train, y_train, X_val, y_val},
//                 {.update_rule = "adam", .optim_config = {{"learning_rate", 1e-3}},
//                  .lr_decay = 0.95, .batch_size = 100, .num_epochs = 10});
//   solver.train();          // keeps the best-validation parameters in the model at the end
//   solver.check_accuracy(X_test, y_test);
//
// Every epoch runs max(N / batch_size, 1) iterations on random minibatches (a fresh random
// order each epoch), records every iteration's loss, and at the start and at the end of every
// epoch the training accuracy (on num_train_samples random training examples) and the
// validation accuracy. After each epoch the learning rate is multiplied by lr_decay.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dagrad/autograd/tensor.h"
#include "dagrad/nn/module.h"
#include "dagrad/optim/optimizer.h"

namespace dagrad::optim {

struct SolverData {
  Tensor X_train, y_train, X_val, y_val;
};

struct SolverOptions {
  std::string update_rule = "sgd";  // sgd, sgd_momentum, nesterov, rmsprop, adagrad, adam, adamw
  Config optim_config;              // e.g. {{"learning_rate", 1e-3}}
  double lr_decay = 1.0;            // per-epoch multiplicative decay
  std::string lr_schedule;          // "" (use lr_decay), "step", "inverse_time", "cosine"
  Config schedule_config;           // e.g. {{"step_size", 5}, {"gamma", 0.1}}
  int64_t batch_size = 100;
  int num_epochs = 10;
  int64_t num_train_samples = 1000;  // training examples used to measure training accuracy
  int64_t num_val_samples = -1;      // -1: the whole validation set
  std::string checkpoint_name;       // if set, "<name>_epoch_<e>.ckpt" after every epoch
  int print_every = 10;              // iterations between loss lines (when not a terminal)
  bool verbose = true;
  double clip_grad_norm = 0.0;  // 0: no clipping
  uint64_t seed = 0;            // minibatch order and accuracy subsamples
  // Applied to every training minibatch (augmentation); may be empty.
  std::function<Tensor(const Tensor&)> augment;

  // Options from name=value text (a command line, a config file). An unknown name or a
  // malformed value is an error naming it. Keys: the fields above, plus
  // "learning_rate", "momentum", ... which go into optim_config.
  static SolverOptions from_map(const std::map<std::string, std::string>& kv);
};

class Solver {
 public:
  Solver(nn::Classifier& model, SolverData data, SolverOptions options = {});

  void train();
  // Accuracy on (X, y), on a random subsample of num_samples when >= 0, in batches.
  double check_accuracy(const Tensor& X, const Tensor& y, int64_t num_samples = -1,
                        int64_t batch_size = 100);

  // Writes the loss (per iteration) and train/val accuracy (per epoch) curves as SVG.
  void save_curves(const std::string& svg_path, const std::string& title = "training") const;

  std::vector<double> loss_history;
  std::vector<double> train_acc_history;
  std::vector<double> val_acc_history;
  double best_val_acc = 0.0;
  int epoch = 0;
  double train_seconds = 0.0;
  const SolverOptions& options() const { return opts_; }
  Optimizer& optimizer() { return *optimizer_; }

 private:
  double step(const Tensor& X, const Tensor& y);
  void end_of_epoch_check(int64_t it, int64_t total);

  nn::Classifier& model_;
  SolverData data_;
  SolverOptions opts_;
  std::unique_ptr<Optimizer> optimizer_;
  double base_lr_ = 0.0;
  nn::NamedTensors best_state_;
  Generator gen_;
};

}  // namespace dagrad::optim
