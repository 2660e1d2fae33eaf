// Solver::save_state and Solver::resume: the training state as a dagrad checkpoint file.
//   meta:    format = dagrad-training-state, version = 1, model (describe()), update_rule,
//            batch_size, world_size, epoch, learning_rate, best_val_acc, train_seconds (doubles
//            as hex floats: exact), rng.solver, rng.loader.shuffle, rng.loader.augment (the
//            same on every process), rank<r>.rng.model.<name> (each process's dropout streams;
//            Generator::state text), plateau.best, plateau.bad_epochs, plateau.cooldown,
//            early_stopping.best, early_stopping.bad_epochs, stopped_early (absent from files
//            written before them: read as a fresh start)
//   tensors: model.<name> (parameters and buffers), best.<name>, optimizer.<name>,
//            history.loss, history.train_acc, history.val_acc (float64)
#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>

#include "dagrad/io/checkpoint.h"
#include "dagrad/train/solver.h"

namespace dagrad::train {

using optim::make_optimizer;

namespace {

constexpr const char* state_format = "dagrad-training-state";

std::string exact(double v) { return fmt::format("{:a}", v); }

Tensor history_tensor(const std::vector<double>& h) {
  return tensor(h, Shape{static_cast<int64_t>(h.size())}, float64);
}

// Reads a training-state file; every accessor's error names the file.
class StateFile {
 public:
  explicit StateFile(const std::string& path) : path_(path), ck_(io::load_checkpoint(path)) {
    if (!ck_.meta.count("format") || ck_.meta.at("format") != state_format)
      fail("not a training state (a model checkpoint? load those with Module::load)");
    if (text("version") != "1") fail(fmt::format("unknown version '{}'", text("version")));
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument(fmt::format("resume {}: {}", path_, why));
  }
  const std::string& text(const std::string& key) const {
    auto it = ck_.meta.find(key);
    if (it == ck_.meta.end()) fail(fmt::format("'{}' is missing", key));
    return it->second;
  }
  bool has(const std::string& key) const { return ck_.meta.count(key) != 0; }
  double number(const std::string& key) const {
    const std::string& t = text(key);
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0') fail(fmt::format("'{}' = '{}' is not a number", key, t));
    return v;
  }
  int64_t count(const std::string& key) const {
    const double v = number(key);
    if (!(v >= 0 && v <= 1e15) || v != static_cast<double>(static_cast<int64_t>(v)))
      fail(fmt::format("'{}' = {} is not a count", key, text(key)));
    return static_cast<int64_t>(v);
  }
  void expect(const std::string& key, const std::string& ours, const std::string& what) const {
    if (text(key) != ours)
      fail(fmt::format("it was saved with {} {} but this run has {}", what, text(key), ours));
  }
  // Tensors named "<prefix>.<name>", without the prefix.
  NamedTensors group(const std::string& prefix) const {
    NamedTensors out;
    for (const auto& [name, t] : ck_.tensors)
      if (name.starts_with(prefix + ".")) out.emplace_back(name.substr(prefix.size() + 1), t);
    return out;
  }
  std::vector<double> history(const std::string& name) const {
    for (const auto& [n, t] : ck_.tensors)
      if (n == "history." + name) {
        if (t.dim() != 1) fail(fmt::format("history.{} is not 1-D", name));
        return t.to_vector();
      }
    fail(fmt::format("history.{} is missing", name));
  }
  Generator generator(const std::string& key) const {
    Generator g;
    try {
      g.set_state(text(key));
    } catch (const std::invalid_argument&) {
      fail(fmt::format("'{}' is not a generator state", key));
    }
    return g;
  }

 private:
  std::string path_;
  io::Checkpoint ck_;
};

}  // namespace

void Solver::save_state(const std::string& path) const {
  // Every process's own generators go to rank 0, which writes the file.
  std::string mine;
  for (const auto& [name, gen] : model_.named_generators())
    mine += name + '\0' + gen->state() + '\0';
  const std::vector<std::string> per_rank = comm_->all_gather(mine);
  if (!leader()) return;
  io::Checkpoint ck;
  const data::MinibatchLoader::State loader = loader_->state();
  ck.meta = {{"format", state_format},
             {"version", "1"},
             {"model", model_.describe()},
             {"update_rule", opts_.update_rule},
             {"batch_size", std::to_string(opts_.batch_size)},
             {"world_size", std::to_string(comm_->size())},
             {"epoch", std::to_string(epoch)},
             {"learning_rate", exact(optimizer_->learning_rate())},
             {"best_val_acc", exact(best_val_acc)},
             {"train_seconds", exact(train_seconds)},
             {"rng.solver", gen_.state()},
             {"rng.loader.shuffle", loader.shuffle},
             {"rng.loader.augment", loader.augment},
             {"plateau.best", exact(plateau_watch_.best)},
             {"plateau.bad_epochs", std::to_string(plateau_watch_.bad_epochs)},
             {"plateau.cooldown", std::to_string(plateau_watch_.cooldown)},
             {"early_stopping.best", exact(early_watch_.best)},
             {"early_stopping.bad_epochs", std::to_string(early_watch_.bad_epochs)},
             {"stopped_early", stopped_early ? "1" : "0"}};
  for (std::size_t r = 0; r < per_rank.size(); ++r) {
    const std::string& text = per_rank[r];
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t name_end = text.find('\0', at), state_end = text.find('\0', name_end + 1);
      ck.meta[fmt::format("rank{}.rng.model.{}", r, text.substr(at, name_end - at))] =
          text.substr(name_end + 1, state_end - name_end - 1);
      at = state_end + 1;
    }
  }
  for (const auto& [name, t] : model_.state()) ck.tensors.emplace_back("model." + name, t);
  for (const auto& [name, t] : best_state_) ck.tensors.emplace_back("best." + name, t);
  for (const auto& [name, t] : optimizer_->state()) ck.tensors.emplace_back("optimizer." + name, t);
  ck.tensors.emplace_back("history.loss", history_tensor(loss_history));
  ck.tensors.emplace_back("history.train_acc", history_tensor(train_acc_history));
  ck.tensors.emplace_back("history.val_acc", history_tensor(val_acc_history));
  io::save_checkpoint(ck, path);
}

void Solver::resume(const std::string& path) {
  // 1. Read and check everything; nothing of this Solver changes until step 2.
  const StateFile file(path);
  file.expect("model", model_.describe(), "the model");
  file.expect("update_rule", opts_.update_rule, "update rule");
  file.expect("batch_size", std::to_string(opts_.batch_size), "batch size");
  file.expect("world_size", std::to_string(comm_->size()), "world size");
  const int64_t saved_epoch = file.count("epoch");
  const double lr = file.number("learning_rate");
  const double best = file.number("best_val_acc");
  const double seconds = file.number("train_seconds");
  const Generator solver_gen = file.generator("rng.solver");
  const data::MinibatchLoader::State loader{file.text("rng.loader.shuffle"),
                                            file.text("rng.loader.augment")};
  (void)file.generator("rng.loader.shuffle");
  (void)file.generator("rng.loader.augment");
  std::vector<std::pair<Generator*, Generator>> model_gens;
  for (const auto& [name, gen] : model_.named_generators())
    model_gens.emplace_back(
        gen, file.generator(fmt::format("rank{}.rng.model.{}", comm_->rank(), name)));
  // The plateau and early-stopping watches (fresh when the file predates them).
  Watch plateau, early;
  if (file.has("plateau.best")) {
    plateau = {file.number("plateau.best"), file.count("plateau.bad_epochs"),
               file.count("plateau.cooldown")};
    early = {file.number("early_stopping.best"), file.count("early_stopping.bad_epochs"), 0};
  }
  const bool saved_stopped = file.has("stopped_early") && file.count("stopped_early") == 1;
  const NamedTensors best_state = file.group("best");
  const std::vector<double> losses = file.history("loss"), train_acc = file.history("train_acc"),
                            val_acc = file.history("val_acc");
  if (!best_state.empty()) {
    // Checked against the model the same way as the weights below, without copying.
    std::vector<nn::LoadTarget> targets;
    for (const auto& [name, t] : model_.state())
      targets.push_back({name, t.shape(), t.dtype(), [](const Tensor&) {}});
    try {
      nn::load_into(targets, best_state, true, "best parameters");
    } catch (const std::invalid_argument& e) {
      file.fail(e.what());
    }
  }

  // 2. Apply: the weights (checked whole before any copy), then the optimizer (likewise); if the
  // optimizer refuses its state, the weights go back.
  NamedTensors before;
  for (const auto& [name, t] : model_.state()) before.emplace_back(name, t.detach().clone());
  try {
    model_.load_state(file.group("model"));
  } catch (const std::invalid_argument& e) {
    file.fail(e.what());
  }
  try {
    optimizer_->load_state(file.group("optimizer"));
  } catch (const std::invalid_argument& e) {
    model_.load_state(before);
    file.fail(e.what());
  }
  optimizer_->set_learning_rate(lr);
  gen_ = solver_gen;
  loader_->set_state(loader);
  for (auto& [gen, saved] : model_gens) *gen = saved;
  best_state_.clear();
  for (const auto& [name, t] : best_state) best_state_.emplace_back(name, t);
  epoch = static_cast<int>(saved_epoch);
  plateau_watch_ = plateau;
  early_watch_ = early;
  stopped_early = saved_stopped;
  best_val_acc = best;
  train_seconds = seconds;
  loss_history = losses;
  train_acc_history = train_acc;
  val_acc_history = val_acc;
}

}  // namespace dagrad::train
