// float32 GEMM throughput through dagrad::blas (1024 x 1024 x 1024 by default).
//
//   bench_blas [--threads N] [--size N]
//
// Prints the median of 20 timed runs after a warm-up, and blas::info() so the numbers can be
// tied to the OpenBLAS core that produced them. Compare cores with OPENBLAS_CORETYPE=Haswell etc.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "dagrad/base/command_line.h"
#include "dagrad/runtime/blas.h"
#include "dagrad/runtime/parallel.h"

int main(int argc, char** argv) {
  int threads = 0;  // 0: keep dagrad's default (DAGRAD_NUM_THREADS or all cores)
  int n = 1024;
  try {
    dagrad::base::CommandLine cli(argc, argv);
    if (cli.help("usage: bench_blas [--threads N] [--size N]")) return 0;
    threads = static_cast<int>(cli.integer("--threads", threads, 1, 1 << 16));
    n = static_cast<int>(cli.integer("--size", n, 1, 1 << 16));
    cli.finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_blas: %s\n", e.what());
    return 2;
  }

  try {
    namespace blas = dagrad::blas;
    if (threads > 0) dagrad::set_num_threads(threads);

    std::vector<float> a(std::size_t(n) * n), b(std::size_t(n) * n), c(std::size_t(n) * n);
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = float(int(i % 13) - 6) / 8.0f;
      b[i] = float(int(i % 7) - 3) / 4.0f;
    }
    auto run = [&] {
      blas::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    };

    // Warm-up: loads the library, starts its threads, faults in the pages.
    for (int i = 0; i < 3; ++i) run();

    constexpr int runs = 20;
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      run();
      const auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double median = (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
    const double gflops = 2.0 * double(n) * n * n / (median * 1e-3) / 1e9;

    std::printf("%s\n", blas::info().c_str());
    std::printf("sgemm %dx%dx%d, %d runs: median %.2f ms (min %.2f, max %.2f), %.1f GFLOP/s\n", n,
                n, n, runs, median, ms.front(), ms.back(), gflops);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_blas: %s\n", e.what());
    return 1;
  }
  return 0;
}
