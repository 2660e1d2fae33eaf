// Workload 1: per-op overhead. A chain of 1,000 tiny scalar ops (z = z*1.0001 + 0.001, 500
// times) recorded forward, then backward, then the graph freed. One run is all three.
//
//   bench_scalar_chain [--repeats N] [--warmup N] [--threads N] [--length 500]
#include <cmath>
#include <cstdio>
#include <exception>

#include "bench/bench_common.h"
#include "dagrad/autograd/autograd.h"

using namespace dagrad;

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv, "bench_scalar_chain", "[--length STEPS]");
    const bench::Common c = bench::common_flags(args, 300, 30);
    const int length = args.get_int("--length", 500, 1);
    args.finish();

    Tensor x = scalar_tensor(1.0, float32);
    x.requires_grad_();
    double grad = 0;
    auto run = [&] {
      {
        Tensor z = x;
        for (int i = 0; i < length; ++i) z = z * 1.0001 + 0.001;
        z.backward();
      }  // the graph dies here, inside the timed region (PyTorch frees it in backward too)
      grad = x.grad().item();
      x.zero_grad();
    };
    const bench::Stats s = bench::time_runs(run, c.warmup, c.repeats);

    const int ops = 2 * length;
    const double expect = std::pow(1.0001, length);
    std::printf("scalar chain: %d ops forward + backward, dz/dx = %.6f (expected %.6f)\n", ops,
                grad, expect);
    bench::print_stats("forward+backward", s);
    std::printf("per op (forward and backward together): %.1f ns\n", s.median * 1e6 / ops);
    if (std::abs(grad - expect) > 1e-3 * expect) {
      std::fprintf(stderr, "bench_scalar_chain: wrong gradient %.6f\n", grad);
      return 1;
    }
    bench::JsonLine("scalar_chain", s)
        .add("ops", ops)
        .add("ns_per_op", s.median * 1e6 / ops)
        .add_setup(c)
        .print();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scalar_chain: %s\n", e.what());
    return 1;
  }
  return 0;
}
