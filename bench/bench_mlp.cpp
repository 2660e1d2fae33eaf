// Workload 2: MLP 784-512-256-10 (ReLU), batch 128, softmax cross-entropy, one Adam step.
// One run = forward, loss, zero_grad, backward, optimizer step, loss.item().
//
//   bench_mlp [--repeats N] [--warmup N] [--threads N] [--batch 128]
#include <cstdio>
#include <exception>

#include "bench/bench_common.h"
#include "dagrad/autograd/ops/loss.h"
#include "dagrad/nn/nn.h"
#include "dagrad/optim/optimizer.h"

using namespace dagrad;

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv, "bench_mlp", "[--batch N]");
    const bench::Common c = bench::common_flags(args, 50, 5);
    const int batch = args.get_int("--batch", 128, 1);
    args.finish();

    Generator gen(0);
    const nn::Init he{nn::InitScheme::he, 0.0};
    nn::Sequential model;
    model.add(std::make_shared<nn::Linear>(784, 512, gen, he));
    model.add(std::make_shared<nn::ReLU>());
    model.add(std::make_shared<nn::Linear>(512, 256, gen, he));
    model.add(std::make_shared<nn::ReLU>());
    model.add(std::make_shared<nn::Linear>(256, 10, gen, he));
    auto opt = optim::make_optimizer("adam", model.parameters(), {{"learning_rate", 1e-3}});

    const Tensor X = randn({batch, 784}, gen);
    const Tensor y = randint(0, 10, {batch}, gen);
    const bench::TrainingRuns r = bench::time_training_steps(model, *opt, X, y, c);

    std::printf("MLP 784-512-256-10, batch %d, adam: last loss %.4f\n", batch, r.last_loss);
    bench::print_training("mlp", r, batch, c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_mlp: %s\n", e.what());
    return 1;
  }
  return 0;
}
