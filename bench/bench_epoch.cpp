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
#include <numeric>
#include <vector>

#include "dagrad/autograd/ops/loss.h"
#include "bench/bench_common.h"
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

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Args args(
        argc, argv, "bench_epoch",
        "[--epochs N] [--data DIR] [--train-size N] [--batch N] [--flush-denormal 0|1]");
    const bench::Common c = bench::common_flags(args, 1, 0);
    const int epochs = args.get_int("--epochs", c.repeats, 1);
    const std::string dir = args.get_str("--data", data::default_fashion_mnist_dir());
    const int train_size = args.get_int("--train-size", 0, 0);
    const int batch = args.get_int("--batch", 128, 1);
    // As the main job runs (and PyTorch's side, with torch.set_flush_denormal).
    const bool flush = args.get_int("--flush-denormal", 1, 0, 1) == 1;
    args.finish();
    set_flush_denormal(flush);

    const double rss_start = bench::current_rss_mb();
    data::Dataset ds = data::load_fashion_mnist(dir);
    if (!ds.channel_mean.empty())
      std::printf("normalized with the training split's mean %.6f and std %.6f\n",
                  ds.channel_mean[0], ds.channel_std[0]);
    Tensor X = ds.X_train, y = ds.y_train;
    if (train_size > 0 && train_size < X.shape()[0]) {
      X = slice(X, 0, 0, train_size).clone();
      y = slice(y, 0, 0, train_size).clone();
    }
    const double rss_loaded = bench::current_rss_mb(), peak_loaded = bench::peak_rss_mb();
    const int64_t n = X.shape()[0];
    const int64_t per_epoch = std::max<int64_t>(n / batch, 1);

    nn::VGGConfig cfg;
    cfg.stage_channels = {32, 64, 128};
    cfg.hidden_dim = 128;
    cfg.dropout = 0.3;
    cfg.seed = 0;
    nn::VGGNet model(cfg);
    model.train();
    auto opt = optim::make_optimizer("adam", model.parameters(), {{"learning_rate", 2e-3}});
    Generator order_gen(0);

    auto step = [&](const std::vector<int64_t>& order, int64_t pos) {
      std::vector<int64_t> idx(order.begin() + pos * batch, order.begin() + (pos + 1) * batch);
      Tensor Xb = index_select(X, 0, idx);
      Tensor yb = index_select(y, 0, idx);
      Tensor loss = model.loss(Xb, yb);
      opt->zero_grad();
      loss.backward();
      opt->step();
      return loss.item();
    };

    if (c.warmup > 0) {
      const std::vector<int64_t> order = permutation(n, order_gen);
      for (int i = 0; i < c.warmup; ++i) step(order, i % per_epoch);
    }

    std::printf(
        "%s\ntrain %lld images, batch %d, %lld iterations per epoch; rss %.1f MiB at "
        "start, %.1f MiB with the data loaded (peak so far %.1f MiB)\n",
        blas::info().c_str(), (long long)n, batch, (long long)per_epoch, rss_start, rss_loaded,
        peak_loaded);
    std::vector<double> epoch_ms, epoch_cpu, rss_after;
    double last_mean_loss = 0;
    for (int e = 0; e < epochs; ++e) {
      const double c0 = bench::cpu_ms();
      const auto t0 = bench::steady::now();
      const std::vector<int64_t> order = permutation(n, order_gen);
      double loss_sum = 0;
      for (int64_t it = 0; it < per_epoch; ++it) loss_sum += step(order, it);
      epoch_ms.push_back(bench::ms_since(t0));
      epoch_cpu.push_back(bench::cpu_ms() - c0);
      rss_after.push_back(bench::current_rss_mb());
      last_mean_loss = loss_sum / double(per_epoch);
      std::printf(
          "epoch %d: %.2f s (%.2f ms per iteration; CPU time %.2f s), mean loss %.4f, "
          "rss %.1f MiB, peak %.1f MiB\n",
          e + 1, epoch_ms.back() / 1e3, epoch_ms.back() / double(per_epoch), epoch_cpu.back() / 1e3,
          last_mean_loss, rss_after.back(), bench::peak_rss_mb());
      std::fflush(stdout);
      if (!std::isfinite(last_mean_loss)) {
        std::fprintf(stderr, "bench_epoch: the loss is not finite\n");
        return 1;
      }
    }
    const bench::Stats s = bench::summarize(epoch_ms, epoch_cpu);
    bench::print_stats("epoch", s);
    bench::JsonLine("epoch", s)
        .add("epochs", epochs)
        .add("train_images", static_cast<double>(n))
        .add("iterations", static_cast<double>(per_epoch))
        .add("batch", batch)
        .add("mean_loss_last_epoch", last_mean_loss)
        .add("rss_loaded_mb", rss_loaded)
        .add("peak_rss_loaded_mb", peak_loaded)
        .add("epoch_ms", epoch_ms)
        .add("epoch_cpu_ms", epoch_cpu)
        .add("rss_after_epoch_mb", rss_after)
        .add("peak_rss_mb", bench::peak_rss_mb())
        .add_setup(c)
        .print();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_epoch: %s\n", e.what());
    return 1;
  }
  return 0;
}
