#include "dagrad/train/solver.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "dagrad/autograd/autograd.h"
#include "dagrad/optim/clip.h"
#include "dagrad/optim/schedule.h"
#include "dagrad/viz/chart.h"

namespace dagrad::train {

using optim::clip_grad_norm;
using optim::make_optimizer;
using optim::make_schedule;
using optim::Schedule;

namespace {

double parse_number(const std::string& key, const std::string& v) {
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used != v.size()) throw std::invalid_argument("trailing characters");
    return d;
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("Solver option '{}': '{}' is not a number", key, v));
  }
}

// A whole number within [lo, hi]: checked before any conversion, since casting a double out of
// an integer type's range (1e300, nan) is undefined behaviour.
template <typename Int>
Int parse_integer(const std::string& key, const std::string& v, double lo, double hi) {
  const double d = parse_number(key, v);
  if (!(d >= lo && d <= hi) || d != std::floor(d))
    throw std::invalid_argument(
        fmt::format("Solver option '{}': '{}' is not a whole number in [{}, {}]", key, v, lo, hi));
  return static_cast<Int>(d);
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "1" || v == "true" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "no") return false;
  throw std::invalid_argument(fmt::format("Solver option '{}': '{}' is not true/false", key, v));
}

// schedule_config of lr_schedule "plateau", each key checked.
template <typename Plateau>
Plateau plateau_config(const optim::Config& config) {
  Plateau p;
  for (const auto& entry : config) {
    const std::string& k = entry.first;  // named, not bound: clang cannot capture bindings
    const double v = entry.second;
    auto bad = [&](const char* want) {
      throw std::invalid_argument(
          fmt::format("plateau schedule: '{}' = {} must be {}", k, v, want));
    };
    auto count = [&] {
      if (!(v >= 0 && v <= 1e9) || v != std::floor(v)) bad("a whole number >= 0");
      return static_cast<int64_t>(v);
    };
    if (k == "factor") {
      if (!(v > 0 && v < 1)) bad("in (0, 1)");
      p.factor = v;
    } else if (k == "patience") {
      p.patience = count();
    } else if (k == "cooldown") {
      p.cooldown = count();
    } else if (k == "min_lr") {
      if (!(v >= 0) || !std::isfinite(v)) bad(">= 0");
      p.min_lr = v;
    } else if (k == "threshold") {
      if (!(v >= 0) || !std::isfinite(v)) bad(">= 0");
      p.threshold = v;
    } else {
      throw std::invalid_argument(fmt::format(
          "plateau schedule: unknown config key '{}' (valid: cooldown, factor, min_lr, patience, "
          "threshold)",
          k));
    }
  }
  return p;
}

std::string clock_text(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  return fmt::format("{:02d}:{:02d}", s / 60, s % 60);
}

}  // namespace

SolverOptions SolverOptions::from_map(const std::map<std::string, std::string>& kv) {
  static const char* optim_keys[] = {"learning_rate", "momentum", "decay_rate",  "epsilon",
                                     "beta1",         "beta2",    "weight_decay"};
  static const char* schedule_keys[] = {"step_size", "gamma",        "k",
                                        "min_lr",    "total_epochs", "factor",
                                        "patience",  "cooldown",     "threshold"};
  SolverOptions o;
  for (const auto& [k, v] : kv) {
    if (k == "update_rule")
      o.update_rule = v;
    else if (k == "lr_decay")
      o.lr_decay = parse_number(k, v);
    else if (k == "lr_schedule")
      o.lr_schedule = v;
    else if (k == "batch_size")
      o.batch_size = parse_integer<int64_t>(k, v, 1, 1e15);
    else if (k == "num_epochs")
      o.num_epochs = parse_integer<int>(k, v, 0, 1e9);
    else if (k == "num_train_samples")
      o.num_train_samples = parse_integer<int64_t>(k, v, -1, 1e15);
    else if (k == "num_val_samples")
      o.num_val_samples = parse_integer<int64_t>(k, v, -1, 1e15);
    else if (k == "checkpoint_name")
      o.checkpoint_name = v;
    else if (k == "state_path")
      o.state_path = v;
    else if (k == "print_every")
      o.print_every = parse_integer<int>(k, v, 0, 1e9);
    else if (k == "verbose")
      o.verbose = parse_bool(k, v);
    else if (k == "early_stopping_patience")
      o.early_stopping_patience = parse_integer<int>(k, v, 0, 1e9);
    else if (k == "early_stopping_min_delta")
      o.early_stopping_min_delta = parse_number(k, v);
    else if (k == "clip_grad_norm")
      o.clip_grad_norm = parse_number(k, v);
    else if (k == "seed")
      o.seed = parse_integer<uint64_t>(k, v, 0, 9007199254740992.0);  // 2^53: exact in a double
    else if (std::find(std::begin(optim_keys), std::end(optim_keys), k) != std::end(optim_keys))
      o.optim_config[k] = parse_number(k, v);
    else if (std::find(std::begin(schedule_keys), std::end(schedule_keys), k) !=
             std::end(schedule_keys))
      o.schedule_config[k] = parse_number(k, v);
    else
      throw std::invalid_argument(fmt::format(
          "Solver: unknown option '{}' (known: update_rule, learning_rate, momentum, decay_rate, "
          "epsilon, beta1, beta2, weight_decay, lr_decay, lr_schedule, step_size, gamma, k, "
          "min_lr, total_epochs, factor, patience, cooldown, threshold, batch_size, num_epochs, "
          "num_train_samples, num_val_samples, checkpoint_name, state_path, print_every, "
          "verbose, early_stopping_patience, early_stopping_min_delta, clip_grad_norm, seed)",
          k));
  }
  return o;
}

Solver::Solver(nn::Module& model, SolverData data, SolverOptions options)
    : model_(model),
      classifier_(dynamic_cast<nn::Classifier*>(&model)),
      data_(std::move(data)),
      opts_(std::move(options)),
      gen_(opts_.seed) {
  auto check_pair = [](const Tensor& X, const Tensor& y, const char* what) {
    if (!X.defined() || !y.defined())
      throw std::invalid_argument(fmt::format("Solver: {} data is missing", what));
    if (X.dim() < 1 || y.dim() != 1 || X.shape()[0] != y.shape()[0])
      throw std::invalid_argument(
          fmt::format("Solver: {} inputs of shape {} do not match labels of shape {}", what,
                      to_string(X.shape()), to_string(y.shape())));
  };
  check_pair(data_.X_train, data_.y_train, "training");
  check_pair(data_.X_val, data_.y_val, "validation");
  if (data_.X_train.shape()[0] == 0)
    throw std::invalid_argument("Solver: the training set is empty (0 rows)");
  if (opts_.batch_size <= 0)
    throw std::invalid_argument(
        fmt::format("Solver: batch_size must be positive, got {}", opts_.batch_size));
  if (opts_.num_epochs < 0)
    throw std::invalid_argument(
        fmt::format("Solver: num_epochs must be >= 0, got {}", opts_.num_epochs));
  comm_ = opts_.comm ? opts_.comm : std::make_shared<dist::SingleProcess>();
  if (opts_.batch_size % comm_->size() != 0)
    throw std::invalid_argument(
        fmt::format("Solver: batch_size {} does not split evenly across {} processes",
                    opts_.batch_size, comm_->size()));
  if (comm_->size() > 1) {
    // One model everywhere: rank 0's weights and buffers; dropout draws its own per rank.
    std::vector<Tensor> state;
    for (auto& [name, t] : model_.state()) state.push_back(t);
    dist::broadcast_all(*comm_, state, 0);
    for (auto& [name, gen] : model_.named_generators())
      gen->seed(gen->next_u64() ^ (0x9e3779b97f4a7c15ull * (comm_->rank() + 1)));
    if (!leader()) opts_.verbose = false;
  }
  // Every epoch has max(N / batch_size, 1) full batches: the last partial batch is dropped,
  // unless it is the only one.
  const bool drop_last = data_.X_train.shape()[0] >= opts_.batch_size;
  loader_ =
      std::make_unique<data::MinibatchLoader>(data_.X_train, data_.y_train, opts_.batch_size, true,
                                              opts_.seed, drop_last, opts_.augmentation);
  optimizer_ = make_optimizer(opts_.update_rule, model_.parameters(), opts_.optim_config);
  base_lr_ = optimizer_->learning_rate();
  plateau_on_ = opts_.lr_schedule == "plateau";
  if (plateau_on_)
    plateau_ = plateau_config<Plateau>(opts_.schedule_config);
  else if (!opts_.lr_schedule.empty())
    (void)make_schedule(opts_.lr_schedule, opts_.schedule_config);
  if (opts_.early_stopping_patience < 0 || !(opts_.early_stopping_min_delta >= 0))
    throw std::invalid_argument(fmt::format(
        "Solver: early_stopping_patience ({}) and early_stopping_min_delta ({}) must be >= 0",
        opts_.early_stopping_patience, opts_.early_stopping_min_delta));
}

bool Solver::Watch::improved(double val, double delta) {
  if (val > best + delta) {
    best = val;
    bad_epochs = 0;
    return true;
  }
  ++bad_epochs;
  return false;
}

// PyTorch's ReduceLROnPlateau.step(val_acc) in mode max with an absolute threshold.
void Solver::reduce_on_plateau(double val_acc) {
  Watch& w = plateau_watch_;
  w.improved(val_acc, plateau_.threshold);
  if (w.cooldown > 0) {
    --w.cooldown;
    w.bad_epochs = 0;
  }
  if (w.bad_epochs <= plateau_.patience) return;
  const double old_lr = optimizer_->learning_rate();
  const double new_lr = std::max(old_lr * plateau_.factor, plateau_.min_lr);
  if (old_lr - new_lr > 1e-8 * old_lr) {
    optimizer_->set_learning_rate(new_lr);
    if (opts_.verbose)
      fmt::print("(Epoch {}) validation accuracy on a plateau: learning rate {:.3e} -> {:.3e}\n",
                 epoch, old_lr, new_lr);
  }
  w.cooldown = plateau_.cooldown;
  w.bad_epochs = 0;
}

void Solver::check_early_stopping(double val_acc) {
  if (opts_.early_stopping_patience == 0) return;
  early_watch_.improved(val_acc, opts_.early_stopping_min_delta);
  if (early_watch_.bad_epochs >= opts_.early_stopping_patience && epoch < opts_.num_epochs) {
    stopped_early = true;
    if (opts_.verbose)
      fmt::print("(Epoch {}) early stopping: no validation gain above {} for {} epochs\n", epoch,
                 opts_.early_stopping_min_delta, early_watch_.bad_epochs);
  }
}

Tensor Solver::loss_on(const Tensor& X, const Tensor& y) {
  return classifier_ ? classifier_->loss(X, y) : cross_entropy(model_.forward(X), y);
}

Tensor Solver::predict_on(const Tensor& X) {
  if (classifier_) return classifier_->predict(X);
  no_grad guard;
  return argmax(model_.forward(X), 1);
}

double Solver::step(const Tensor& X, const Tensor& y) {
  model_.train();
  Tensor loss = loss_on(X, y);
  optimizer_->zero_grad();
  loss.backward();
  if (comm_->size() > 1) {
    std::vector<Tensor> grads;
    for (const Tensor& p : optimizer_->params()) grads.push_back(p.grad());
    dist::allreduce_mean(*comm_, grads);
  }
  if (opts_.clip_grad_norm > 0) clip_grad_norm(optimizer_->params(), opts_.clip_grad_norm);
  optimizer_->step();
  return loss.item();
}

double Solver::check_accuracy(const Tensor& X, const Tensor& y, int64_t num_samples,
                              int64_t batch_size) {
  if (batch_size <= 0)
    throw std::invalid_argument(
        fmt::format("check_accuracy: batch_size must be positive, got {}", batch_size));
  if (!X.defined() || !y.defined() || X.dim() < 1 || y.dim() != 1 || X.shape()[0] != y.shape()[0])
    throw std::invalid_argument(
        fmt::format("check_accuracy: inputs of shape {} do not match labels of shape {}",
                    X.defined() ? to_string(X.shape()) : "undefined",
                    y.defined() ? to_string(y.shape()) : "undefined"));
  Tensor Xs = X, ys = y;
  const int64_t n = X.shape()[0];
  if (num_samples >= 0 && n > num_samples) {
    const std::vector<int64_t> idx = data::random_choice(n, num_samples, gen_);
    Xs = index_select(X, 0, idx);
    ys = index_select(y, 0, idx);
  }
  const int64_t m = Xs.shape()[0];
  if (m == 0) return 0.0;
  const bool was_training = model_.is_training();
  model_.eval();
  no_grad guard;
  // Each process counts its share of the rows; the counts are summed.
  const int64_t first = m * comm_->rank() / comm_->size();
  const int64_t last = m * (comm_->rank() + 1) / comm_->size();
  int64_t correct = 0;
  for (int64_t start = first; start < last; start += batch_size) {
    const int64_t stop = std::min(last, start + batch_size);
    Tensor pred = predict_on(slice(Xs, 0, start, stop));
    const std::vector<double> p = pred.to_vector();
    const std::vector<double> t = slice(ys, 0, start, stop).to_vector();
    for (std::size_t i = 0; i < p.size(); ++i) correct += (p[i] == t[i]);
  }
  model_.train(was_training);
  Tensor count = tensor({static_cast<double>(correct)}, Shape{1}, float64);
  comm_->allreduce_sum(count);
  return count.item() / static_cast<double>(m);
}

// Batch norm's running averages differ between processes (each saw its own rows): their mean
// is used for evaluation and saved.
void Solver::average_buffers() {
  if (comm_->size() == 1) return;
  std::vector<Tensor> buffers;
  for (auto& [name, t] : model_.named_buffers()) buffers.push_back(t);
  dist::allreduce_mean(*comm_, buffers);
}

void Solver::end_of_epoch_check() {
  average_buffers();
  const double train_acc = check_accuracy(data_.X_train, data_.y_train, opts_.num_train_samples);
  const double val_acc = check_accuracy(data_.X_val, data_.y_val, opts_.num_val_samples);
  train_acc_history.push_back(train_acc);
  val_acc_history.push_back(val_acc);
  if (opts_.verbose) {
    if (isatty(STDOUT_FILENO)) fmt::print("\r\033[K");
    fmt::print("(Epoch {} / {}) train acc: {:.4f}; val_acc: {:.4f}; lr {:.3e}; {} elapsed\n", epoch,
               opts_.num_epochs, train_acc, val_acc, optimizer_->learning_rate(),
               clock_text(train_seconds));
    std::fflush(stdout);
  }
  if (val_acc > best_val_acc || best_state_.empty()) {
    best_val_acc = val_acc;
    best_state_.clear();
    for (auto& [name, t] : model_.state()) best_state_.emplace_back(name, t.detach().clone());
  }
}

// After the last step of an epoch: the next learning rate, the accuracy check, the per-epoch
// model checkpoint and the training state.
void Solver::end_of_epoch(Schedule* schedule) {
  ++epoch;
  if (!plateau_on_)
    optimizer_->set_learning_rate(schedule ? schedule->lr(base_lr_, epoch)
                                           : optimizer_->learning_rate() * opts_.lr_decay);
  end_of_epoch_check();
  if (plateau_on_) reduce_on_plateau(val_acc_history.back());
  check_early_stopping(val_acc_history.back());
  if (!opts_.checkpoint_name.empty() && leader()) {
    std::map<std::string, std::string> meta{
        {"epoch", std::to_string(epoch)},
        {"update_rule", opts_.update_rule},
        {"batch_size", std::to_string(opts_.batch_size)},
        {"train_acc", fmt::format("{:.6f}", train_acc_history.back())},
        {"val_acc", fmt::format("{:.6f}", val_acc_history.back())}};
    meta.insert(opts_.checkpoint_meta.begin(), opts_.checkpoint_meta.end());
    model_.save(fmt::format("{}_epoch_{}.ckpt", opts_.checkpoint_name, epoch), meta);
  }
  if (!opts_.state_path.empty()) save_state(opts_.state_path);
}

void Solver::print_progress(int64_t t, int64_t pos, int64_t per_epoch, int64_t total, double loss) {
  if (isatty(STDOUT_FILENO)) {
    // A live progress line, rewritten in place.
    const double rate = (t + 1) / std::max(train_seconds, 1e-9);
    const int width = 24;
    const int filled = static_cast<int>(width * (pos + 1) / per_epoch);
    fmt::print("\r\033[Kepoch {}/{} [{}{}] {}/{} loss {:.4f}  {:.1f} it/s  ETA {}", epoch + 1,
               opts_.num_epochs, std::string(filled, '#'), std::string(width - filled, '.'),
               pos + 1, per_epoch, loss, rate, clock_text((total - t - 1) / rate));
    std::fflush(stdout);
  } else if (opts_.print_every > 0 && t % opts_.print_every == 0) {
    fmt::print("(Iteration {} / {}) loss: {:.6f}\n", t + 1, total, loss);
    std::fflush(stdout);
  }
}

void Solver::train() {
  const int64_t per_epoch = loader_->num_batches();
  const int64_t total = per_epoch * opts_.num_epochs;
  std::unique_ptr<Schedule> schedule;
  if (!opts_.lr_schedule.empty() && !plateau_on_)
    schedule = make_schedule(opts_.lr_schedule, opts_.schedule_config);

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const double seconds_before = train_seconds;  // > 0 after resume()
  auto elapsed = [&] {
    return seconds_before + std::chrono::duration<double>(clock::now() - t0).count();
  };

  if (train_acc_history.empty()) end_of_epoch_check();  // before training, as cs231n records it
  for (int64_t t = epoch * per_epoch; epoch < opts_.num_epochs && !stopped_early;) {
    loader_->reset();
    int64_t pos = 0;
    const std::size_t epoch_begin = loss_history.size();
    for (Tensor Xb, yb; loader_->next(Xb, yb); ++pos, ++t) {
      if (comm_->size() > 1) {  // this process's rows of the global batch
        const int64_t rows = Xb.shape()[0] / comm_->size(), r = comm_->rank();
        Xb = slice(Xb, 0, r * rows, (r + 1) * rows);
        yb = slice(yb, 0, r * rows, (r + 1) * rows);
      }
      const double loss = step(opts_.augment ? opts_.augment(Xb) : Xb, yb);
      loss_history.push_back(loss);
      train_seconds = elapsed();
      if (!std::isfinite(loss))
        throw std::runtime_error(fmt::format(
            "Solver: the loss became {} at iteration {} (learning rate {:.3e} too high?)", loss,
            t + 1, optimizer_->learning_rate()));
      if (opts_.verbose) print_progress(t, pos, per_epoch, total, loss);
    }
    if (comm_->size() > 1) {  // the epoch's losses, averaged over processes
      std::vector<double> local(loss_history.begin() + epoch_begin, loss_history.end());
      Tensor losses = tensor(local, Shape{static_cast<int64_t>(local.size())}, float64);
      comm_->allreduce_sum(losses);
      const std::vector<double> sums = losses.to_vector();
      for (std::size_t i = 0; i < sums.size(); ++i)
        loss_history[epoch_begin + i] = sums[i] / comm_->size();
    }
    end_of_epoch(schedule.get());
  }
  if (!best_state_.empty()) model_.load_state(best_state_);
}

void Solver::save_curves(const std::string& svg_path, const std::string& title) const {
  viz::Chart loss_chart;
  loss_chart.title = title + ": training loss";
  loss_chart.x_label = "iteration";
  loss_chart.y_label = "loss";
  viz::Series ls;
  ls.label = "loss";
  for (std::size_t i = 0; i < loss_history.size(); ++i) {
    ls.x.push_back(static_cast<double>(i + 1));
    ls.y.push_back(loss_history[i]);
  }
  loss_chart.series.push_back(ls);

  viz::Chart acc_chart;
  acc_chart.title = title + ": accuracy";
  acc_chart.x_label = "epoch";
  acc_chart.y_label = "accuracy";
  viz::Series tr, va;
  tr.label = "train";
  va.label = "val";
  tr.markers = va.markers = true;
  for (std::size_t e = 0; e < train_acc_history.size(); ++e) {
    tr.x.push_back(static_cast<double>(e));
    tr.y.push_back(train_acc_history[e]);
    va.x.push_back(static_cast<double>(e));
    va.y.push_back(val_acc_history[e]);
  }
  acc_chart.series = {tr, va};
  viz::save_svg({loss_chart, acc_chart}, svg_path);
}

}  // namespace dagrad::train
