// Workload 6: one epoch of the main job's model on Fashion-MNIST, and the memory of the run.
//
// The model is examples/train_fashion_mnist.cpp's default: nn::VGGNet with stage_channels
// {32, 64, 128}, hidden 128 (conv3x3-BN-ReLU-pool three times, fc128, dropout 0.3, fc10), adam
// with learning rate 2e-3,
// batch 128, on the 55,000-image training split of data::load_fashion_mnist (num_val 5000,
// normalized). An epoch is what train::Solver runs: N / batch = 429 minibatches drawn from a
// fresh random permutation, gathered with index_select, then loss, zero_grad, backward, step,
// loss.item(). The Solver's accuracy checks are not part of the epoch.
//
// Memory: the resident set after loading the data, after each epoch (it must stay flat), and
// the peak of the whole run (getrusage ru_maxrss).
//
//   bench_epoch [--repeats EPOCHS] [--epochs EPOCHS] [--warmup ITERS] [--threads N]
//               [--data DIR] [--train-size N] [--batch 128]
// --epochs is a synonym of --repeats (default 1); --warmup runs that many untimed minibatches
// first (default 0); --train-size uses only the first N training images (for profiling runs).
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "dagrad/autograd/ops/loss.h"
#include "dagrad/data/idx.h"
#include "dagrad/nn/nn.h"
#include "dagrad/optim/optimizer.h"

using namespace dagrad;

namespace {

// Fisher-Yates with the library's seedable generator.
std::vector<int64_t> permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[gen.randint(0, i + 1)]);
  return p;
}

struct Settings {
  bench::Common common;
  int epochs, train_size, batch;
  std::string dir;
  bool flush;
};

Settings read_settings(int argc, char** argv) {
  bench::Args args(argc, argv, "bench_epoch",
                   "[--epochs N] [--data DIR] [--train-size N] [--batch N] [--flush-denormal 0|1]");
  Settings s;
  s.common = bench::common_flags(args, 1, 0);
  s.epochs = args.get_int("--epochs", s.common.repeats, 1);
  s.dir = args.get_str("--data", data::default_fashion_mnist_dir());
  s.train_size = args.get_int("--train-size", 0, 0);
  s.batch = args.get_int("--batch", 128, 1);
  // As the main job runs (and PyTorch's side, with torch.set_flush_denormal).
  s.flush = args.get_int("--flush-denormal", 1, 0, 1) == 1;
  args.finish();
  return s;
}

// The training images (the first train_size of them when given) and the memory around loading.
struct TrainData {
  Tensor X, y;
  double rss_start, rss_loaded, peak_loaded;
};

TrainData load_train_data(const std::string& dir, int train_size) {
  TrainData d;
  d.rss_start = bench::current_rss_mb();
  data::Dataset ds = data::load_fashion_mnist(dir);
  if (!ds.channel_mean.empty())
    std::printf("normalized with the training split's mean %.6f and std %.6f\n", ds.channel_mean[0],
                ds.channel_std[0]);
  d.X = ds.X_train;
  d.y = ds.y_train;
  if (train_size > 0 && train_size < d.X.shape()[0]) {
    d.X = slice(d.X, 0, 0, train_size).clone();
    d.y = slice(d.y, 0, 0, train_size).clone();
  }
  d.rss_loaded = bench::current_rss_mb();
  d.peak_loaded = bench::peak_rss_mb();
  return d;
}

// The main job's model and optimizer, stepped the way train::Solver steps them.
class Job {
 public:
  Job(const TrainData& data, int batch)
      : data_(data),
        batch_(batch),
        model_(config()),
        opt_(optim::make_optimizer("adam", model_.parameters(), {{"learning_rate", 2e-3}})) {
    model_.train();
  }
  int64_t images() const { return data_.X.shape()[0]; }
  int64_t per_epoch() const { return std::max<int64_t>(images() / batch_, 1); }
  // A fresh random order of the training images.
  std::vector<int64_t> order() { return permutation(images(), order_gen_); }
  // Minibatch `pos` of `order`: gather, loss, zero_grad, backward, step; the loss.
  double step(const std::vector<int64_t>& order, int64_t pos) {
    std::vector<int64_t> idx(order.begin() + pos * batch_, order.begin() + (pos + 1) * batch_);
    Tensor Xb = index_select(data_.X, 0, idx);
    Tensor yb = index_select(data_.y, 0, idx);
    Tensor loss = model_.loss(Xb, yb);
    opt_->zero_grad();
    loss.backward();
    opt_->step();
    return loss.item();
  }

 private:
  static nn::VGGConfig config() {
    nn::VGGConfig cfg;
    cfg.stage_channels = {32, 64, 128};
    cfg.hidden_dim = 128;
    cfg.dropout = 0.3;
    cfg.seed = 0;
    return cfg;
  }
  const TrainData& data_;
  int batch_;
  nn::VGGNet model_;
  std::unique_ptr<optim::Optimizer> opt_;
  Generator order_gen_{0};
};

struct EpochStats {
  std::vector<double> ms, cpu, rss_after;
  double last_mean_loss = 0;
};

// The timed epochs, a line each; a loss that is not finite ends the run.
EpochStats run_epochs(Job& job, int epochs) {
  EpochStats st;
  const int64_t per_epoch = job.per_epoch();
  for (int e = 0; e < epochs; ++e) {
    const double c0 = bench::cpu_ms();
    const auto t0 = bench::steady::now();
    const std::vector<int64_t> order = job.order();
    double loss_sum = 0;
    for (int64_t it = 0; it < per_epoch; ++it) loss_sum += job.step(order, it);
    st.ms.push_back(bench::ms_since(t0));
    st.cpu.push_back(bench::cpu_ms() - c0);
    st.rss_after.push_back(bench::current_rss_mb());
    st.last_mean_loss = loss_sum / double(per_epoch);
    std::printf(
        "epoch %d: %.2f s (%.2f ms per iteration; CPU time %.2f s), mean loss %.4f, "
        "rss %.1f MiB, peak %.1f MiB\n",
        e + 1, st.ms.back() / 1e3, st.ms.back() / double(per_epoch), st.cpu.back() / 1e3,
        st.last_mean_loss, st.rss_after.back(), bench::peak_rss_mb());
    std::fflush(stdout);
    if (!std::isfinite(st.last_mean_loss)) throw std::runtime_error("the loss is not finite");
  }
  return st;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Settings s = read_settings(argc, argv);
    set_flush_denormal(s.flush);
    const TrainData d = load_train_data(s.dir, s.train_size);
    Job job(d, s.batch);
    if (s.common.warmup > 0) {
      const std::vector<int64_t> order = job.order();
      for (int i = 0; i < s.common.warmup; ++i) job.step(order, i % job.per_epoch());
    }
    std::printf(
        "%s\ntrain %lld images, batch %d, %lld iterations per epoch; rss %.1f MiB at "
        "start, %.1f MiB with the data loaded (peak so far %.1f MiB)\n",
        blas::info().c_str(), (long long)job.images(), s.batch, (long long)job.per_epoch(),
        d.rss_start, d.rss_loaded, d.peak_loaded);
    const EpochStats st = run_epochs(job, s.epochs);

    const bench::Stats stats = bench::summarize(st.ms, st.cpu);
    bench::print_stats("epoch", stats);
    bench::JsonLine("epoch", stats)
        .add("epochs", s.epochs)
        .add("train_images", static_cast<double>(job.images()))
        .add("iterations", static_cast<double>(job.per_epoch()))
        .add("batch", s.batch)
        .add("mean_loss_last_epoch", st.last_mean_loss)
        .add("rss_loaded_mb", d.rss_loaded)
        .add("peak_rss_loaded_mb", d.peak_loaded)
        .add("epoch_ms", st.ms)
        .add("epoch_cpu_ms", st.cpu)
        .add("rss_after_epoch_mb", st.rss_after)
        .add("peak_rss_mb", bench::peak_rss_mb())
        .add_setup(s.common)
        .print();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_epoch: %s\n", e.what());
    return 1;
  }
  return 0;
}
