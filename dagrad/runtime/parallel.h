// dagrad's own worker threads: every parallel kernel (conv, pooling, batch norm, big
// elementwise maps, and GEMMs split by blas::gemm) runs on one pool, and OpenBLAS itself stays
// single-threaded inside it. One set of threads means no oversubscription between BLAS threads
// and ours, and whole per-image pipelines (im2col + GEMM + col2im) run on every core.
//
// The pool has num_threads() - 1 workers; the calling thread takes a share of every job.
// A parallel_for inside another one (or inside a running job) runs serially on its caller.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace dagrad {

// Threads dagrad's kernels use: DAGRAD_NUM_THREADS if set, else the CPUs this process may run
// on. set_num_threads throws std::invalid_argument if n < 1; it waits for running jobs.
int num_threads();
void set_num_threads(int n);

// True on a thread that is running a share of a parallel job.
bool in_parallel_region();

// Flush-to-zero for denormal floats (x86 MXCSR FTZ and DAZ, aarch64 FPCR FZ) on the calling
// thread and on the pool's workers (they pick it up at their next job); like
// torch.set_flush_denormal. Training
// drives many values (Adam's second moments, gradients of confident predictions) into the
// denormal range, where every operation on them costs ~100 cycles: measured, the main job's
// epochs slowed from 12 to 24 s as training went on. Returns false (and does nothing) where
// the CPU has no such mode.
bool set_flush_denormal(bool on);
bool flush_denormal();

namespace detail {
// Runs task(ctx, 0 .. n_tasks-1) across the pool, each index exactly once, and returns when
// all are done. The first exception thrown by a task is rethrown here.
void run_tasks(int64_t n_tasks, void (*task)(void* ctx, int64_t index), void* ctx);
}  // namespace detail

// Ranges per thread. One: consecutive kernels then cut their (equal-sized) tensors the same
// way, so each core reads back the half it just wrote while it is still in its cache.
// Measured on a main-job epoch: 4 ranges per thread (taken first come first served, which
// would help when a worker is preempted) was 6% slower on an idle machine, 2 per thread 3%.
inline constexpr int chunks_per_thread = 1;

// How many ranges parallel_for would cut [0, n) into: each at least `grain` items, at most
// chunks_per_thread per thread (1 with a single thread, when n < 2 grains, or when already
// in a parallel region).
inline int64_t parallel_chunks(int64_t n, int64_t grain) {
  if (n <= 0) return 0;
  const int threads = num_threads();
  if (threads <= 1 || in_parallel_region()) return 1;
  grain = std::max<int64_t>(grain, 1);
  return std::clamp<int64_t>(n / grain, 1, int64_t{threads} * chunks_per_thread);
}

// fn(chunk, lo, hi) for `chunks` consecutive ranges covering [0, n) (chunks >= 1), run on
// the pool. Use this form when per-chunk scratch is sized beforehand from parallel_chunks():
// the count cannot change between the two calls.
template <typename F>
void parallel_run_chunks(int64_t n, int64_t chunks, F&& fn) {
  if (n <= 0) return;
  chunks = std::clamp<int64_t>(chunks, 1, n);
  if (chunks == 1) {
    fn(int64_t{0}, int64_t{0}, n);
    return;
  }
  struct Ctx {
    std::remove_reference_t<F>* fn;
    int64_t n, chunks;
  } ctx{&fn, n, chunks};
  detail::run_tasks(
      chunks,
      [](void* p, int64_t c) {
        auto* x = static_cast<Ctx*>(p);
        const int64_t lo = x->n * c / x->chunks, hi = x->n * (c + 1) / x->chunks;
        (*x->fn)(c, lo, hi);
      },
      &ctx);
}

// fn(chunk, lo, hi) for consecutive ranges covering [0, n); chunk < parallel_chunks(n, grain)
// identifies the range.
template <typename F>
void parallel_chunked(int64_t n, int64_t grain, F&& fn) {
  parallel_run_chunks(n, parallel_chunks(n, grain), fn);
}

// fn(lo, hi) for consecutive ranges covering [0, n), in parallel when n is at least 2 grains.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& fn) {
  parallel_chunked(n, grain, [&fn](int64_t, int64_t lo, int64_t hi) { fn(lo, hi); });
}

}  // namespace dagrad
