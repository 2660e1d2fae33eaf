// dagrad's thread pool: ranges covered exactly once, nesting, exceptions, resizing, and
// several user threads dispatching at once.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dagrad/runtime/parallel.h"

using namespace dagrad;

namespace {

// Restores the pool size a test changed.
struct ThreadsGuard {
  int before = num_threads();
  ~ThreadsGuard() { set_num_threads(before); }
};

}  // namespace

TEST_CASE("parallel_for covers every index exactly once, for any pool size") {
  ThreadsGuard guard;
  for (int threads : {1, 2, 3, 5}) {
    set_num_threads(threads);
    CHECK(num_threads() == threads);
    for (int64_t n : {0, 1, 7, 64, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      parallel_for(n, 16, [&](int64_t lo, int64_t hi) {
        CHECK(lo < hi);
        for (int64_t i = lo; i < hi; ++i) hits[i].fetch_add(1);
      });
      int64_t wrong = 0;
      for (auto& h : hits) wrong += h.load() != 1;
      CAPTURE(threads);
      CAPTURE(n);
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("parallel_chunked numbers its ranges and respects the grain") {
  ThreadsGuard guard;
  set_num_threads(4);
  const int64_t most = 4 * chunks_per_thread;
  CHECK(parallel_chunks(0, 10) == 0);
  CHECK(parallel_chunks(15, 10) == 1);  // fewer than two grains: serial
  CHECK(parallel_chunks(25, 10) == 2);
  CHECK(parallel_chunks(100000, 10) == most);  // capped per thread
  std::vector<int64_t> lo(most, -1), hi(most, -1);
  parallel_chunked(100000, 10, [&](int64_t c, int64_t l, int64_t h) { lo[c] = l, hi[c] = h; });
  CHECK(lo[0] == 0);
  for (int c = 1; c < most; ++c) CHECK(lo[c] == hi[c - 1]);
  CHECK(hi[most - 1] == 100000);
  set_num_threads(1);
  CHECK(parallel_chunks(100000, 10) == 1);  // one thread: never split
}

TEST_CASE("nested parallel_for runs serially inside a job") {
  ThreadsGuard guard;
  set_num_threads(2);
  std::atomic<int64_t> total{0};
  std::atomic<int> nested_parallel{0};
  parallel_for(64, 1, [&](int64_t lo, int64_t hi) {
    CHECK(in_parallel_region());
    for (int64_t i = lo; i < hi; ++i) {
      if (parallel_chunks(100, 1) != 1) nested_parallel.fetch_add(1);
      parallel_for(100, 1, [&](int64_t a, int64_t b) { total.fetch_add(b - a); });
    }
  });
  CHECK_FALSE(in_parallel_region());
  CHECK(nested_parallel.load() == 0);
  CHECK(total.load() == 6400);
}

TEST_CASE("an exception in any chunk reaches the caller, and the pool keeps working") {
  ThreadsGuard guard;
  set_num_threads(2);
  for (int bad_chunk : {0, 1}) {
    CHECK_THROWS_WITH_AS(parallel_chunked(100, 1,
                                          [&](int64_t c, int64_t, int64_t) {
                                            if (c == bad_chunk) throw std::runtime_error("boom");
                                          }),
                         "boom", std::runtime_error);
  }
  std::atomic<int64_t> sum{0};
  parallel_for(1000, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) sum.fetch_add(i);
  });
  CHECK(sum.load() == 999 * 1000 / 2);
}

TEST_CASE("several user threads can dispatch at once") {
  ThreadsGuard guard;
  set_num_threads(2);
  constexpr int users = 4, rounds = 200;
  std::vector<int64_t> results(users, 0);
  std::vector<std::thread> ts;
  for (int u = 0; u < users; ++u)
    ts.emplace_back([&, u] {
      for (int r = 0; r < rounds; ++r) {
        std::atomic<int64_t> s{0};
        parallel_for(5000, 8, [&](int64_t lo, int64_t hi) {
          int64_t local = 0;
          for (int64_t i = lo; i < hi; ++i) local += i;
          s.fetch_add(local);
        });
        results[u] += s.load();
      }
    });
  for (auto& t : ts) t.join();
  for (int u = 0; u < users; ++u) CHECK(results[u] == int64_t{rounds} * (4999 * 5000 / 2));
}

TEST_CASE("set_num_threads refuses zero threads and resizing from inside a job") {
  ThreadsGuard guard;
  CHECK_THROWS_AS(set_num_threads(0), std::invalid_argument);
  set_num_threads(2);
  CHECK_THROWS_AS(parallel_for(10, 1, [](int64_t, int64_t) { set_num_threads(3); }),
                  std::logic_error);
  CHECK(num_threads() == 2);
}

TEST_CASE("set_flush_denormal flushes denormals on the caller and on the workers") {
  ThreadsGuard guard;
  set_num_threads(2);
  const bool before = flush_denormal();
  volatile float tiny = 1e-39f;  // a denormal float
#if !defined(__SSE__) && !defined(__aarch64__)
  // No flush mode on this CPU: the call must say so and change nothing.
  CHECK_FALSE(set_flush_denormal(true));
  CHECK_FALSE(flush_denormal());
  CHECK(tiny * 1.0f != 0.0f);
  return;
#endif
  REQUIRE(set_flush_denormal(true));
  CHECK(flush_denormal());
  CHECK(tiny * 1.0f == 0.0f);
  // Every chunk of a parallel job (some run on the worker) sees the mode.
  std::vector<float> out(1 << 16, -1.0f);
  parallel_for(static_cast<int64_t>(out.size()), 1024, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out[i] = tiny * 1.0f;
  });
  CHECK(std::count(out.begin(), out.end(), 0.0f) == static_cast<long>(out.size()));
  set_flush_denormal(false);
  CHECK_FALSE(flush_denormal());
  CHECK(tiny * 1.0f != 0.0f);
  parallel_for(static_cast<int64_t>(out.size()), 1024, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out[i] = tiny * 1.0f;
  });
  CHECK(std::count(out.begin(), out.end(), 0.0f) == 0);
  set_flush_denormal(before);
}

TEST_CASE("parallel_run_chunks uses the given count, at most one chunk per item") {
  ThreadsGuard guard;
  set_num_threads(2);
  std::vector<std::atomic<int>> seen(8);
  parallel_run_chunks(100, 5, [&](int64_t c, int64_t lo, int64_t hi) {
    CHECK(hi - lo == 20);
    seen[c].fetch_add(1);
  });
  for (int c = 0; c < 5; ++c) CHECK(seen[c].load() == 1);
  std::atomic<int> calls{0};
  parallel_run_chunks(3, 7, [&](int64_t c, int64_t lo, int64_t hi) {
    CHECK(c < 3);
    CHECK(hi - lo == 1);
    calls.fetch_add(1);
  });
  CHECK(calls.load() == 3);
}

TEST_CASE("jobs of more than 64 tasks (claimed from a counter) also run every task once") {
  ThreadsGuard guard;
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    for (int64_t chunks : {63, 64, 65, 200}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(chunks));
      parallel_run_chunks(1000, chunks, [&](int64_t c, int64_t, int64_t) { hits[c].fetch_add(1); });
      int wrong = 0;
      for (auto& h : hits) wrong += h.load() != 1;
      CAPTURE(chunks);
      CHECK(wrong == 0);
    }
  }
}
