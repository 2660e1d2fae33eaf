// Workload 5: float32 matmul 1024 x 1024 x 1024 through dagrad::matmul (the autograd op,
// recording off because no input requires grad), in GFLOP/s = 2 n^3 / time.
//
// For reference the same process also times the raw OpenBLAS sgemm call (blas::gemm into a
// preallocated C), alternating with the op, so the op's own overhead (output allocation,
// checks) can be read off directly: raw_sgemm_gflops in the JSON line.
//
//   bench_matmul [--repeats N] [--warmup N] [--threads N] [--size 1024]
#include <cstdio>
#include <exception>
#include <vector>

#include "bench/bench_common.h"
#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/nn/nn.h"

using namespace dagrad;

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv, "bench_matmul", "[--size N]");
    const bench::Common c = bench::common_flags(args, 20, 3);
    const int n = args.get_int("--size", 1024, 1, 1 << 15);
    args.finish();

    Generator gen(0);
    const Tensor a = randn({n, n}, gen), b = randn({n, n}, gen);
    Tensor out;
    std::vector<float> raw_c(std::size_t(n) * n);
    auto op = [&] { out = matmul(a, b); };
    auto raw = [&] {
      blas::gemm(false, false, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f,
                 raw_c.data(), n);
    };

    for (int i = 0; i < c.warmup; ++i) {
      op();
      raw();
    }
    std::vector<double> op_ms, op_cpu, raw_ms;
    for (int i = 0; i < c.repeats; ++i) {
      const double c0 = bench::cpu_ms();
      auto t0 = bench::steady::now();
      op();
      op_ms.push_back(bench::ms_since(t0));
      op_cpu.push_back(bench::cpu_ms() - c0);
      out = Tensor();  // free outside the timed region, as torch's result is
      t0 = bench::steady::now();
      raw();
      raw_ms.push_back(bench::ms_since(t0));
    }
    const bench::Stats s = bench::summarize(op_ms, op_cpu), r = bench::summarize(raw_ms);
    const double flop = 2.0 * double(n) * n * n;
    const double gflops = flop / (s.median * 1e-3) / 1e9;
    const double raw_gflops = flop / (r.median * 1e-3) / 1e9;

    std::printf("%s\n", blas::info().c_str());
    bench::print_stats("dagrad::matmul", s);
    bench::print_stats("raw blas::gemm", r);
    std::printf("sgemm %dx%dx%d: matmul %.1f GFLOP/s, raw sgemm %.1f GFLOP/s\n", n, n, n, gflops,
                raw_gflops);
    bench::JsonLine("matmul", s)
        .add("size", n)
        .add("gflops", gflops)
        .add("raw_sgemm_ms", r.median)
        .add("raw_sgemm_gflops", raw_gflops)
        .add_setup(c)
        .print();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_matmul: %s\n", e.what());
    return 1;
  }
  return 0;
}
