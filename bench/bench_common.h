// Shared helpers of the benchmark programs: flags, timing (warm-up, N timed repeats, median),
// memory readings, and the one-line JSON result that bench/run_benchmarks.py parses.
//
// Every program accepts --repeats N --warmup N --threads N (plus its own flags), prints
// human-readable lines, and ends with exactly one JSON line:
//   {"workload": "mlp", "impl": "dagrad", "median_ms": 3.21, "runs": 30, ...extra fields}
#pragma once
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/base/command_line.h"
#include "dagrad/runtime/blas.h"
#include "dagrad/runtime/parallel.h"

namespace dagrad::bench {

// ---- flags ----

// Flags are "--name value", read by base::CommandLine. finish() rejects any flag nobody read, so
// a typo is an error instead of a silently ignored setting. An error prints the message and the
// usage line and exits with status 2.
class Args {
 public:
  Args(int argc, char** argv, std::string program, std::string usage_extra = "")
      : cli_(argc, argv), program_(std::move(program)), usage_extra_(std::move(usage_extra)) {
    if (cli_.help(usage_line())) std::exit(0);
  }
  int get_int(const std::string& flag, int fallback, int lo = 0, int hi = 1 << 30) {
    return static_cast<int>(checked([&] { return cli_.integer(flag, fallback, lo, hi); }));
  }
  std::string get_str(const std::string& flag, const std::string& fallback) {
    return checked([&] { return cli_.text(flag, fallback); });
  }
  void finish() {
    checked([&] {
      cli_.finish();
      return 0;
    });
  }
  [[noreturn]] void usage(int code) const {
    std::fprintf(code ? stderr : stdout, "%s\n", usage_line().c_str());
    std::exit(code);
  }
  [[noreturn]] void fail(const std::string& msg) const {
    std::fprintf(stderr, "%s: %s\n", program_.c_str(), msg.c_str());
    usage(2);
  }

 private:
  std::string usage_line() const {
    return "usage: " + program_ + " [--repeats N] [--warmup N] [--threads N]" +
           (usage_extra_.empty() ? "" : " ") + usage_extra_;
  }
  // read(), or fail() with the error that names the flag.
  template <typename Read>
  auto checked(Read read) -> decltype(read()) {
    try {
      return read();
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
  }
  base::CommandLine cli_;
  std::string program_, usage_extra_;
};

// The three common flags. threads defaults to 2 (both cores of the reference machine) and sizes
// dagrad's thread pool, which also runs the GEMMs (OpenBLAS itself stays single-threaded).
struct Common {
  int repeats, warmup, threads;
};

inline Common common_flags(Args& args, int repeats, int warmup) {
  Common c;
  c.repeats = args.get_int("--repeats", repeats, 1);
  c.warmup = args.get_int("--warmup", warmup, 0);
  c.threads = args.get_int("--threads", 2, 1, 256);
  set_num_threads(c.threads);
  return c;
}

// ---- timing ----

using steady = std::chrono::steady_clock;

inline double ms_since(steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(steady::now() - t0).count();
}

// CPU time of the whole process (all threads), in ms. On a busy machine the wall time of a run
// includes the time spent waiting for a core; with one thread, CPU time is what the run would
// take on an idle machine, which makes it the steadier number to compare.
inline double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

struct Stats {
  std::vector<double> ms;   // wall time of every timed run, in run order
  std::vector<double> cpu;  // process CPU time of every timed run (may be empty)
  double median = 0, min = 0, max = 0, mean = 0;
  double cpu_median = -1;  // -1 when not measured
};

inline double median_of(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline Stats summarize(std::vector<double> ms, std::vector<double> cpu = {}) {
  Stats s;
  s.ms = ms;
  s.cpu = cpu;
  s.cpu_median = median_of(cpu);
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  s.median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  s.min = ms.front();
  s.max = ms.back();
  double sum = 0;
  for (double v : ms) sum += v;
  s.mean = sum / double(n);
  return s;
}

// Runs fn `warmup` times untimed, then `repeats` times timed one by one.
inline Stats time_runs(const std::function<void()>& fn, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms, cpu;
  ms.reserve(repeats);
  cpu.reserve(repeats);
  for (int i = 0; i < repeats; ++i) {
    const double c0 = cpu_ms();
    const auto t0 = steady::now();
    fn();
    ms.push_back(ms_since(t0));
    cpu.push_back(cpu_ms() - c0);
  }
  return summarize(std::move(ms), std::move(cpu));
}

inline void print_stats(const char* what, const Stats& s) {
  std::printf("%s: median %.4f ms (min %.4f, mean %.4f, max %.4f) over %zu runs", what, s.median,
              s.min, s.mean, s.max, s.ms.size());
  if (s.cpu_median >= 0) std::printf("; median CPU time %.4f ms", s.cpu_median);
  std::printf("\n");
}

// What the training workloads (bench_mlp, bench_cnn, bench_cnn_bn) time: one step of forward,
// cross-entropy, zero_grad, backward, optimizer step and loss.item() (which waits for the
// result). Templates, so that this header needs no nn/ or optim/ include.
struct TrainingRuns {
  Stats stats;
  double last_loss = 0;
};

template <typename Model, typename Optimizer, typename T>
TrainingRuns time_training_steps(Model& model, Optimizer& opt, const T& X, const T& y,
                                 const Common& c) {
  TrainingRuns r;
  r.stats = time_runs(
      [&] {
        T loss = cross_entropy(model(X), y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        r.last_loss = loss.item();
      },
      c.warmup, c.repeats);
  return r;
}

// ---- memory ----

// Peak resident set size of this process so far (getrusage ru_maxrss, KiB on Linux), in MiB.
inline double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

// Current resident set size (/proc/self/statm), in MiB; -1 if unavailable.
inline double current_rss_mb() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (got != 2) return -1;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// ---- the JSON result line ----

inline std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Builds {"workload": ..., "impl": "dagrad", "median_ms": ..., "runs": ..., extras} in order.
class JsonLine {
 public:
  JsonLine(const std::string& workload, const Stats& s) {
    add("workload", workload);
    add("impl", std::string("dagrad"));
    add("median_ms", s.median);
    add("runs", static_cast<double>(s.ms.size()));
    add("min_ms", s.min);
    add("max_ms", s.max);
    if (s.cpu_median >= 0) add("median_cpu_ms", s.cpu_median);
  }
  JsonLine& add(const std::string& key, double v) { return raw(key, json_number(v)); }
  JsonLine& add(const std::string& key, int v) { return raw(key, std::to_string(v)); }
  JsonLine& add(const std::string& key, const std::string& v) { return raw(key, quoted(v)); }
  JsonLine& add(const std::string& key, const char* v) { return add(key, std::string(v)); }
  JsonLine& add(const std::string& key, const std::vector<double>& v) {
    std::string a = "[";
    for (std::size_t i = 0; i < v.size(); ++i) a += (i ? ", " : "") + json_number(v[i]);
    return raw(key, a + "]");
  }
  // The common tail: threads and the OpenBLAS core, so a result can be tied to its setup.
  JsonLine& add_setup(const Common& c) {
    add("threads", c.threads);
    add("blas_core", blas::core_name());
    return *this;
  }
  void print() const {
    std::printf("{%s}\n", body_.c_str());
    std::fflush(stdout);
  }

 private:
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "\"" + string.
  static std::string quoted(const std::string& s) {
    std::string q(1, '"');
    q += json_escape(s);
    q += '"';
    return q;
  }
  JsonLine& raw(const std::string& key, const std::string& value) {
    if (!body_.empty()) body_ += ", ";
    body_ += quoted(key);
    body_ += ": ";
    body_ += value;
    return *this;
  }
  std::string body_;
};

// The lines a training workload ends with: its statistics and its JSON line.
inline void print_training(const char* workload, const TrainingRuns& r, int batch,
                           const Common& c) {
  print_stats("train step", r.stats);
  JsonLine(workload, r.stats)
      .add("batch", batch)
      .add("last_loss", r.last_loss)
      .add_setup(c)
      .print();
}

}  // namespace dagrad::bench
