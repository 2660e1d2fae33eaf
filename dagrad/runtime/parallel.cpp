#include "dagrad/runtime/parallel.h"

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DAGRAD_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
// The spin-wait hint, like x86's pause: no system call per spin.
#define DAGRAD_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define DAGRAD_CPU_RELAX() std::this_thread::yield()
#endif

namespace dagrad {

namespace {

thread_local bool t_in_region = false;

// The requested denormal mode and its version; workers re-apply it when the version changes.
std::atomic<bool> g_flush{false};
std::atomic<uint64_t> g_flush_version{0};
thread_local uint64_t t_flush_version = 0;

#if defined(__aarch64__)
// FPCR bit 24 (FZ): denormal inputs and results of float and double operations become zero, the
// same as MXCSR's FTZ and DAZ together.
constexpr unsigned fpcr_fz = 1u << 24;
#endif

void apply_flush_mode(bool on) {
#if defined(__SSE__)
  constexpr unsigned ftz_daz = 0x8040;  // MXCSR bits 15 (flush to zero) and 6 (denormals are zero)
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? (csr | ftz_daz) : (csr & ~ftz_daz));
#elif defined(__aarch64__)
  const unsigned fpcr = __builtin_aarch64_get_fpcr();
  __builtin_aarch64_set_fpcr(on ? (fpcr | fpcr_fz) : (fpcr & ~fpcr_fz));
#else
  (void)on;
#endif
}

// Called by a worker before each job.
inline void sync_flush_mode() {
  const uint64_t v = g_flush_version.load(std::memory_order_acquire);
  if (v != t_flush_version) {
    t_flush_version = v;
    apply_flush_mode(g_flush.load(std::memory_order_relaxed));
  }
}

int default_threads() {
  if (const char* env = std::getenv("DAGRAD_NUM_THREADS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 1024) return static_cast<int>(v);
    throw std::invalid_argument(
        std::string("DAGRAD_NUM_THREADS must be a positive integer, got '") + env + "'");
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Workers spin this long for the next job before sleeping: kernels of one training step come
// microseconds apart, and a futex wake-up costs tens of microseconds.
constexpr auto spin_time = std::chrono::microseconds(200);

class Pool {
 public:
  static Pool& get() {
    static Pool* pool = new Pool(default_threads());  // never destroyed: workers may outlive main
    return *pool;
  }

  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void resize(int n) {
    std::lock_guard dispatch(dispatch_mu_);
    stop_workers();
    start_workers(n);
  }

  void run(int64_t n_tasks, void (*task)(void*, int64_t), void* ctx) {
    std::unique_lock dispatch(dispatch_mu_, std::try_to_lock);
    if (!dispatch.owns_lock() || workers_.empty()) {  // another thread's job is running
      run_serial(n_tasks, task, ctx);
      return;
    }
    {
      std::unique_lock lk(mu_);
      // Workers still leaving the previous job must be gone before its fields change.
      idle_cv_.wait(lk, [&] { return participants_ == 0; });
      task_ = task;
      ctx_ = ctx;
      n_tasks_ = n_tasks;
      next_.store(0, std::memory_order_relaxed);
      claimed_.store(0, std::memory_order_relaxed);
      done_.store(0, std::memory_order_relaxed);
      error_ = nullptr;
      open_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleepers_.load() > 0) wake_cv_.notify_all();

    t_in_region = true;
    work(task, ctx, n_tasks, 0);
    t_in_region = false;
    // Wait for the tasks workers claimed: spin briefly, then yield (a preempted worker).
    for (int spins = 0; done_.load(std::memory_order_acquire) < n_tasks; ++spins) {
      if (spins < 4096) {
        DAGRAD_CPU_RELAX();
      } else {
        std::this_thread::yield();
      }
    }
    std::exception_ptr err;
    {
      std::lock_guard lk(mu_);
      open_ = false;
      err = error_;
      error_ = nullptr;
    }
    if (err) std::rethrow_exception(err);
  }

 private:
  explicit Pool(int n) { start_workers(n); }

  static void run_serial(int64_t n_tasks, void (*task)(void*, int64_t), void* ctx) {
    const bool outer = t_in_region;
    t_in_region = true;
    try {
      for (int64_t i = 0; i < n_tasks; ++i) task(ctx, i);
    } catch (...) {
      t_in_region = outer;
      throw;
    }
    t_in_region = outer;
  }

  // Claims and runs tasks until none is left; exceptions are kept for the caller. Participant
  // p (the caller is 0, worker k is k) takes task p first: with one task per thread,
  // consecutive jobs then give each thread the same slice of their tensors, which is still in
  // its core's cache. The other tasks go first come first served.
  void work(void (*task)(void*, int64_t), void* ctx, int64_t n_tasks, int p) {
    auto run = [&](int64_t i) {
      try {
        task(ctx, i);
      } catch (...) {
        std::lock_guard lk(mu_);
        if (!error_) error_ = std::current_exception();
      }
      done_.fetch_add(1, std::memory_order_release);
    };
    if (n_tasks <= 64) {  // claims as bits of one word
      auto claim = [&](int64_t i) {
        const uint64_t bit = uint64_t{1} << i;
        return (claimed_.fetch_or(bit, std::memory_order_relaxed) & bit) == 0;
      };
      if (p < n_tasks && claim(p)) run(p);
      for (int64_t i = 0; i < n_tasks; ++i)
        if (claim(i)) run(i);
      return;
    }
    for (;;) {
      const int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_tasks) return;
      run(i);
    }
  }

  void worker_loop(int id) {
    t_in_region = true;  // a task that calls parallel_for runs it serially
    uint64_t seen = generation_.load(std::memory_order_acquire);
    for (;;) {
      // Wait for a new job: spin, then sleep.
      const auto until = std::chrono::steady_clock::now() + spin_time;
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
        DAGRAD_CPU_RELAX();
        if (++spins % 64 == 0 && std::chrono::steady_clock::now() > until) {
          std::unique_lock lk(mu_);
          ++sleepers_;
          wake_cv_.wait(lk, [&] { return generation_.load() != seen || stop_.load(); });
          --sleepers_;
          break;
        }
      }
      if (stop_.load()) return;
      // Join the job only while it is open, copying its description under the lock.
      void (*task)(void*, int64_t) = nullptr;
      void* ctx = nullptr;
      int64_t n = 0;
      {
        std::lock_guard lk(mu_);
        seen = generation_.load(std::memory_order_relaxed);
        if (!open_) continue;
        ++participants_;
        task = task_, ctx = ctx_, n = n_tasks_;
      }
      sync_flush_mode();
      work(task, ctx, n, id);
      {
        std::lock_guard lk(mu_);
        --participants_;
      }
      idle_cv_.notify_all();
    }
  }

  void start_workers(int n) {
    threads_.store(n, std::memory_order_relaxed);
    stop_.store(false);
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }

  void stop_workers() {
    {
      std::lock_guard lk(mu_);
      stop_.store(true);
    }
    wake_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  std::mutex dispatch_mu_;  // one job at a time; held by the dispatching thread
  std::vector<std::thread> workers_;
  std::atomic<int> threads_{1};

  std::mutex mu_;  // guards the job description, open_, participants_, error_, sleepers_
  std::condition_variable wake_cv_, idle_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> sleepers_{0};
  int participants_ = 0;
  bool open_ = false;
  void (*task_)(void*, int64_t) = nullptr;
  void* ctx_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_{0}, done_{0};
  std::atomic<uint64_t> claimed_{0};  // tasks taken, when there are at most 64
  std::exception_ptr error_;
};

}  // namespace

int num_threads() { return Pool::get().threads(); }

void set_num_threads(int n) {
  if (n < 1)
    throw std::invalid_argument("set_num_threads: need at least 1 thread, got " +
                                std::to_string(n));
  if (t_in_region)
    throw std::logic_error("set_num_threads: cannot resize the pool from inside a parallel job");
  if (n != num_threads()) Pool::get().resize(n);
}

bool in_parallel_region() { return t_in_region; }

bool set_flush_denormal(bool on) {
#if defined(__SSE__) || defined(__aarch64__)
  g_flush.store(on, std::memory_order_relaxed);
  g_flush_version.fetch_add(1, std::memory_order_release);
  apply_flush_mode(on);
  return true;
#else
  (void)on;
  return false;
#endif
}

bool flush_denormal() {
#if defined(__SSE__)
  return (_mm_getcsr() & 0x8040) == 0x8040;
#elif defined(__aarch64__)
  return (__builtin_aarch64_get_fpcr() & fpcr_fz) != 0;
#else
  return false;
#endif
}

namespace detail {
void run_tasks(int64_t n_tasks, void (*task)(void*, int64_t), void* ctx) {
  if (n_tasks <= 0) return;
  if (n_tasks == 1 || t_in_region) {
    for (int64_t i = 0; i < n_tasks; ++i) task(ctx, i);
    return;
  }
  Pool::get().run(n_tasks, task, ctx);
}
}  // namespace detail

}  // namespace dagrad
