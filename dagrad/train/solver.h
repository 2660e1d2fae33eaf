// Solver: trains a classification model with cs231n's Solver semantics.
//
//   Solver solver(model, {X_train, y_train, X_val, y_val},
//                 {.update_rule = "adam", .optim_config = {{"learning_rate", 1e-3}},
//                  .lr_decay = 0.95, .batch_size = 100, .num_epochs = 10});
//   solver.train();          // keeps the best-validation parameters in the model at the end
//   solver.check_accuracy(X_test, y_test);
//
// Every epoch runs max(N / batch_size, 1) iterations on random minibatches (a fresh random
// order each epoch, from data::MinibatchLoader), records every iteration's loss, and at the start
// and at the end of every epoch the training accuracy (on num_train_samples random training
// examples) and the validation accuracy. After each epoch the learning rate is multiplied by
// lr_decay (or set by lr_schedule).
//
// Resuming: with state_path set, the complete training state is written (atomically) after
// every epoch; Solver::resume(path) on a fresh Solver over the same model and data continues
// from it, and the run ends with the same weights, bit for bit, as one never interrupted (with
// the same number of threads: sums are split across threads). Randomness that lives outside
// dagrad's generators (a custom `augment` function) is not saved.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dagrad/autograd/tensor.h"
#include "dagrad/data/loader.h"
#include "dagrad/dist/communicator.h"
#include "dagrad/nn/module.h"
#include "dagrad/optim/optimizer.h"

namespace dagrad::optim {
class Schedule;
}  // namespace dagrad::optim

namespace dagrad::train {

struct SolverData {
  Tensor X_train, y_train, X_val, y_val;
};

struct SolverOptions {
  std::string update_rule = "sgd";  // sgd, sgd_momentum, nesterov, rmsprop, adagrad, adam, adamw
  optim::Config optim_config;       // e.g. {{"learning_rate", 1e-3}}
  double lr_decay = 1.0;            // per-epoch multiplicative decay
  // "" (use lr_decay), "step", "inverse_time", "inverse_sqrt", "cosine" (optim/schedule.h), or
  // "plateau": PyTorch's ReduceLROnPlateau on the validation accuracy (mode max, absolute
  // threshold) - when it has not beaten its best by more than `threshold` for more than
  // `patience` epochs, the rate is multiplied by `factor` (not below `min_lr`), and `cooldown`
  // epochs pass before counting again. Keys and defaults: factor 0.1, patience 10, cooldown 0,
  // min_lr 0, threshold 0.
  std::string lr_schedule;
  optim::Config schedule_config;  // e.g. {{"step_size", 5}, {"gamma", 0.1}}
  // Early stopping: train() ends once the validation accuracy has gone this many epochs without
  // beating its best by more than early_stopping_min_delta (0: never stops early). The best
  // parameters are restored at the end either way.
  int early_stopping_patience = 0;
  double early_stopping_min_delta = 0.0;
  int64_t batch_size = 100;
  int num_epochs = 10;
  int64_t num_train_samples = 1000;  // training examples used to measure training accuracy
  int64_t num_val_samples = -1;      // -1: the whole validation set
  std::string checkpoint_name;       // if set, "<name>_epoch_<e>.ckpt" after every epoch
  // Extra metadata for those checkpoints (e.g. the model's configuration, so that a checkpoint
  // says what to rebuild to load it).
  std::map<std::string, std::string> checkpoint_meta;
  int print_every = 10;  // iterations between loss lines (when not a terminal)
  bool verbose = true;
  double clip_grad_norm = 0.0;  // 0: no clipping
  uint64_t seed = 0;            // minibatch order and accuracy subsamples
  // Random flips and crops of NCHW training images, drawn by the minibatch loader (saved with
  // the training state, so resuming repeats them).
  data::Augment augmentation;
  // Applied to every training minibatch after `augmentation`; may be empty. Its randomness, if
  // any, is its own and not saved in the training state.
  std::function<Tensor(const Tensor&)> augment;
  // If set, the training state is written here after every epoch (see resume()).
  std::string state_path;
  // Data-parallel training over several processes (dist/mpi.h); empty: this process alone.
  // Every process runs the same program with the same options and data. batch_size is the
  // global batch: each of P processes computes the loss of batch_size / P rows of it, and the
  // gradients are averaged before each step (one allreduce per dtype), so the weights stay the
  // same everywhere. See docs/distributed.md.
  std::shared_ptr<dist::Communicator> comm;

  // Options from name=value text (a command line, a config file). An unknown name or a
  // malformed value is an error naming it. Keys: the fields above, plus
  // "learning_rate", "momentum", ... which go into optim_config.
  static SolverOptions from_map(const std::map<std::string, std::string>& kv);
};

class Solver {
 public:
  // Any module whose forward gives class scores (N, C): an nn::Sequential, a model. A
  // Classifier brings its own loss (data loss and regularization) and predict; any other module
  // is trained on softmax cross-entropy and predicts the argmax, as a PyTorch loop would.
  Solver(nn::Module& model, SolverData data, SolverOptions options = {});

  void train();
  // Accuracy on (X, y), on a random subsample of num_samples when >= 0, in batches.
  double check_accuracy(const Tensor& X, const Tensor& y, int64_t num_samples = -1,
                        int64_t batch_size = 100);

  // The complete training state: model (parameters and buffers), best parameters so far,
  // optimizer state and learning rate, epoch, every generator's state (the Solver's, the
  // loader's, the model's dropout on every process), histories. Written atomically (a dagrad
  // checkpoint file) by rank 0; with several processes every one must call it.
  void save_state(const std::string& path) const;
  // Continues from save_state's file: the next train() starts with the epoch after the saved
  // one. The file must come from the same model (describe()), update rule, batch size and
  // number of processes;
  // anything else is an std::invalid_argument naming the file and the difference, and leaves
  // this Solver and its model unchanged.
  void resume(const std::string& path);

  // Writes the loss (per iteration) and train/val accuracy (per epoch) curves as SVG.
  void save_curves(const std::string& svg_path, const std::string& title = "training") const;

  std::vector<double> loss_history;
  std::vector<double> train_acc_history;
  std::vector<double> val_acc_history;
  double best_val_acc = 0.0;
  int epoch = 0;
  bool stopped_early = false;  // train() ended before num_epochs (early stopping)
  double train_seconds = 0.0;
  const SolverOptions& options() const { return opts_; }
  optim::Optimizer& optimizer() { return *optimizer_; }

 private:
  double step(const Tensor& X, const Tensor& y);
  void average_buffers();
  bool leader() const { return comm_->rank() == 0; }
  void end_of_epoch_check();
  void end_of_epoch(optim::Schedule* schedule);
  void print_progress(int64_t t, int64_t pos, int64_t per_epoch, int64_t total, double loss);
  Tensor loss_on(const Tensor& X, const Tensor& y);
  Tensor predict_on(const Tensor& X);
  void reduce_on_plateau(double val_acc);
  void check_early_stopping(double val_acc);

  // A watch on the validation accuracy: its best, and the epochs since it last improved.
  struct Watch {
    double best = -std::numeric_limits<double>::infinity();
    int64_t bad_epochs = 0;
    int64_t cooldown = 0;  // plateau only: epochs left before counting again
    // Records val: true when it beats the best by more than delta.
    bool improved(double val, double delta);
  };
  struct Plateau {
    double factor = 0.1, min_lr = 0.0, threshold = 0.0;
    int64_t patience = 10, cooldown = 0;
  };
  bool plateau_on_ = false;
  Plateau plateau_;
  Watch plateau_watch_, early_watch_;

  nn::Module& model_;
  nn::Classifier* classifier_;  // model_ when it is one, else null
  SolverData data_;
  SolverOptions opts_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  double base_lr_ = 0.0;
  nn::NamedTensors best_state_;
  Generator gen_;  // accuracy subsamples
  std::unique_ptr<data::MinibatchLoader> loader_;
  std::shared_ptr<dist::Communicator> comm_;
};

}  // namespace dagrad::train
