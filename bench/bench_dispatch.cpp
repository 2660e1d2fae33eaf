// The price of run-time kernel dispatch: a one-element axis sum called 10^6 times through the
// active path's table, looked up on every call (what an op does), against the same kernel with
// its function pointer fetched once. The difference per call is what dispatch costs an op.
//
//   bench_dispatch [--repeats N] [--warmup N] [--threads N] [--calls N]
#include "bench/bench_common.h"
#include "dagrad/kernels/reduction.h"
#include "dagrad/runtime/isa.h"

using namespace dagrad;

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv, "bench_dispatch", "[--calls N]");
    const bench::Common c = bench::common_flags(args, 30, 3);
    const int calls = args.get_int("--calls", 1000000, 1);
    args.finish();

    float x = 1.5f, out = 0;
    const kernels::AxisSplit one{1, 1, 1};
    double sink = 0;
    const bench::Stats looked_up = bench::time_runs(
        [&] {
          for (int i = 0; i < calls; ++i) {
            kernels::reduction_kernels<float>().sum_axis(&x, one, &out);
            sink += out;
          }
        },
        c.warmup, c.repeats);
    const auto fetched = kernels::reduction_kernels<float>().sum_axis;
    const bench::Stats direct = bench::time_runs(
        [&] {
          for (int i = 0; i < calls; ++i) {
            fetched(&x, one, &out);
            sink += out;
          }
        },
        c.warmup, c.repeats);

    const double per_lookup = looked_up.median * 1e6 / calls,
                 per_direct = direct.median * 1e6 / calls;
    std::printf(
        "path %s: %.2f ns per call with the table looked up, %.2f ns with the pointer "
        "fetched once: dispatch %.2f ns per call (checksum %g)\n",
        runtime::isa_name(runtime::active_isa()), per_lookup, per_direct, per_lookup - per_direct,
        sink);
    bench::JsonLine("dispatch", looked_up)
        .add("ns_per_call", per_lookup)
        .add("ns_per_call_direct", per_direct)
        .add("isa", runtime::isa_name(runtime::active_isa()))
        .add_setup(c)
        .print();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dispatch: %s\n", e.what());
    return 1;
  }
  return 0;
}
