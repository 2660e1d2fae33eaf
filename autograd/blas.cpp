#include "autograd/blas.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>

#include <cstdlib>
#include <stdexcept>
#include <string>

// Prototypes and enums only: the functions are resolved with dlsym, never linked, so that
// OPENBLAS_CORETYPE can be set before the library loads. The header's C99 _Complex typedefs
// would trip -Wpedantic under clang.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <cblas.h>
#pragma GCC diagnostic pop

#include "autograd/parallel.h"

namespace dagrad::blas {
namespace {

constexpr const char* library_names[] = {"libopenblas.so.0", "libopenblas.so"};

// The core OpenBLAS should use on this CPU, or nullptr to leave the choice to the library.
// __builtin_cpu_supports also checks that the OS saves the AVX/AVX-512 registers (XCR0), so we
// never pick AVX-512 kernels where the OS cannot run them.
const char* core_from_cpu_features() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    // Cooperlake (SkylakeX + bf16 kernels) measured the same for sgemm here (~152 GFLOP/s per
    // core); SkylakeX also runs on AVX-512 CPUs without bf16.
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

struct Library {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  decltype(&openblas_get_corename) get_corename = nullptr;
  decltype(&openblas_get_config) get_config = nullptr;
  decltype(&openblas_set_num_threads) set_num_threads = nullptr;
  std::string coretype_source;
};

template <typename Fn>
void resolve(void* handle, const char* library, const char* symbol, Fn& out) {
  dlerror();  // clear any stale error so the message below is about this lookup
  void* p = dlsym(handle, symbol);
  if (p == nullptr) {
    const char* err = dlerror();
    throw std::runtime_error(std::string("dagrad: ") + library + " has no symbol " + symbol + ": " +
                             (err ? err : "null address"));
  }
  out = reinterpret_cast<Fn>(p);
}

Library load() {
  Library lib;

  // If OpenBLAS is already in the process (linked by someone else, or loaded by another
  // library), it has already read OPENBLAS_CORETYPE and setting it now would change nothing.
  bool already_loaded = false;
  for (const char* name : library_names) {
    if (void* h = dlopen(name, RTLD_NOW | RTLD_NOLOAD)) {
      already_loaded = true;
      dlclose(h);  // drops only the reference RTLD_NOLOAD just took
      break;
    }
  }

  const char* user = std::getenv("OPENBLAS_CORETYPE");
  if (user != nullptr && *user != '\0') {
    lib.coretype_source = std::string("set by the user (OPENBLAS_CORETYPE=") + user + ")";
  } else if (already_loaded) {
    lib.coretype_source = "library's own detection (OpenBLAS was loaded before dagrad's setup)";
  } else if (const char* core = core_from_cpu_features()) {
    // setenv is not thread-safe against concurrent getenv; this runs once, early, and the
    // variable is also inherited by child processes that use OpenBLAS, which is what we want.
    setenv("OPENBLAS_CORETYPE", core, /*overwrite=*/1);
    lib.coretype_source = "set by dagrad from CPU features";
  } else {
    lib.coretype_source = "library's own detection";
  }

  // dagrad's pool supplies the threads, so OpenBLAS should start none of its own: its idle
  // workers spin in sched_yield after start-up and took CPU from ours (1024^3 sgemm at 0.90 of
  // the same call without them). Only if the user did not choose a count.
  const char* user_threads = std::getenv("OPENBLAS_NUM_THREADS");
  if (!already_loaded && (user_threads == nullptr || *user_threads == '\0'))
    setenv("OPENBLAS_NUM_THREADS", "1", /*overwrite=*/1);

  void* handle = nullptr;
  const char* loaded_name = nullptr;
  std::string errors;
  for (const char* name : library_names) {
    handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      loaded_name = name;
      break;
    }
    const char* err = dlerror();
    errors += std::string(errors.empty() ? "" : "; ") + (err ? err : name);
  }
  if (handle == nullptr) {
    // dlerror() names each library it tried.
    throw std::runtime_error("dagrad: cannot load OpenBLAS: " + errors +
                             " (on Debian/Ubuntu: apt install libopenblas0)");
  }
  // The handle is never closed: OpenBLAS's worker threads must outlive every caller.

  resolve(handle, loaded_name, "cblas_sgemm", lib.sgemm);
  resolve(handle, loaded_name, "cblas_dgemm", lib.dgemm);
  resolve(handle, loaded_name, "openblas_get_corename", lib.get_corename);
  resolve(handle, loaded_name, "openblas_get_config", lib.get_config);
  resolve(handle, loaded_name, "openblas_set_num_threads", lib.set_num_threads);
  // dagrad's pool supplies the threads (gemm below splits big products across it); OpenBLAS
  // threads on top would oversubscribe the cores.
  lib.set_num_threads(1);
  return lib;
}

// Thread-safe one-time setup (magic static). If load() throws, the next call tries again.
const Library& library() {
  static const Library lib = load();
  return lib;
}

void check_gemm_args(bool trans_a, bool trans_b, int m, int n, int k, int lda, int ldb, int ldc) {
  if (m < 0 || n < 0 || k < 0) {
    throw std::invalid_argument("blas::gemm: negative size (m=" + std::to_string(m) +
                                ", n=" + std::to_string(n) + ", k=" + std::to_string(k) + ")");
  }
  // Row-major: the leading dimension must cover a stored row (and be >= 1, as BLAS requires).
  auto check = [](const char* name, int ld, int cols) {
    if (ld < (cols > 1 ? cols : 1)) {
      throw std::invalid_argument(std::string("blas::gemm: ") + name + "=" + std::to_string(ld) +
                                  " is smaller than a stored row (" + std::to_string(cols) + ")");
    }
  };
  check("lda", lda, trans_a ? m : k);
  check("ldb", ldb, trans_b ? k : n);
  check("ldc", ldc, n);
}

CBLAS_TRANSPOSE op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

// Products smaller than this many multiply-adds run on the calling thread: below it, handing
// half to a worker costs about as much as it saves.
constexpr int64_t split_threshold = int64_t{1} << 20;

// C = alpha op(A) op(B) + beta C on the pool: the longer of C's two sides is cut into one
// block per thread (multiples of 16, a vector register of floats); each block is an
// independent single-threaded GEMM on its own rows or columns of C.
template <typename T, typename Fn>
void split_gemm(Fn fn, bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a,
                int lda, const T* b, int ldb, T beta, T* c, int ldc) {
  const int64_t work = int64_t{m} * n * k;
  const bool by_rows = m >= n;
  const int64_t side = by_rows ? m : n;
  const int64_t chunks = work < split_threshold || in_parallel_region()
                             ? 1
                             : std::min<int64_t>(num_threads(), side / 32);
  if (chunks <= 1) {
    fn(CblasRowMajor, op(trans_a), op(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int64_t blocks = (side + 15) / 16;
  parallel_chunked(chunks, 1, [&](int64_t, int64_t lo_chunk, int64_t hi_chunk) {
    const int lo = static_cast<int>(std::min(side, blocks * lo_chunk / chunks * 16));
    const int hi = static_cast<int>(std::min(side, blocks * hi_chunk / chunks * 16));
    if (hi <= lo) return;
    if (by_rows) {  // rows lo..hi of C and of op(A)
      const T* ap = trans_a ? a + lo : a + int64_t{lo} * lda;
      fn(CblasRowMajor, op(trans_a), op(trans_b), hi - lo, n, k, alpha, ap, lda, b, ldb, beta,
         c + int64_t{lo} * ldc, ldc);
    } else {  // columns lo..hi of C and of op(B)
      const T* bp = trans_b ? b + int64_t{lo} * ldb : b + lo;
      fn(CblasRowMajor, op(trans_a), op(trans_b), m, hi - lo, k, alpha, a, lda, bp, ldb, beta,
         c + lo, ldc);
    }
  });
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  check_gemm_args(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  split_gemm(library().sgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda,
          const double* b, int ldb, double beta, double* c, int ldc) {
  check_gemm_args(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  split_gemm(library().dgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

std::string core_name() {
  const char* s = library().get_corename();
  return s ? s : "unknown";
}

std::string coretype_source() { return library().coretype_source; }

std::string config() {
  const char* s = library().get_config();
  return s ? s : "unknown";
}

std::string info() {
  const int threads = dagrad::num_threads();
  return "BLAS: " + config() + ", core " + core_name() + " (" + coretype_source() + "), " +
         std::to_string(threads) + (threads == 1 ? " thread" : " threads") +
         " (dagrad's pool; OpenBLAS itself single-threaded)";
}

}  // namespace dagrad::blas
