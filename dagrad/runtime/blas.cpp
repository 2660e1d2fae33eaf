#include "dagrad/runtime/blas.h"

#include <dlfcn.h>
#include <strings.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>

// Prototypes and enums only: the functions are resolved with dlsym, never linked, so that
// OPENBLAS_CORETYPE can be set before the library loads. The header's C99 _Complex typedefs
// would trip -Wpedantic under clang.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <cblas.h>
#pragma GCC diagnostic pop

#include "dagrad/runtime/isa.h"
#include "dagrad/runtime/parallel.h"

namespace dagrad::blas {
namespace {

constexpr const char* library_names[] = {"libopenblas.so.0", "libopenblas.so"};

// Family-6 Intel models with AVX2 that OpenBLAS 0.3.21's run-time detection (dynamic.c,
// get_coretype) maps to Haswell, SkylakeX or Cooperlake kernels: Haswell, Broadwell, Skylake,
// Skylake-SP/Cascade Lake/Cooper Lake, Knights Landing, Kaby/Coffee/Comet Lake, Cannon Lake,
// Ice Lake, Tiger Lake, Alder Lake. Any other Intel model gets no core (0.3.21 has no
// SapphireRapids core at all; its core table ends at Cooperlake) and the library falls back to
// Prescott: measured here for model 207 (Emerald Rapids). Ice Lake 125 and Rocket Lake 167 are
// left out because their 0.3.21 support could not be confirmed. The list errs towards "unknown":
// overriding a CPU the library knows costs nothing (dagrad picks the same core by features),
// leaving an unknown one to it costs ~5x in every GEMM.
constexpr int intel_known_models[] = {
    60,  63,  69,  70,   // Haswell
    61,  71,  79,  86,   // Broadwell
    78,  94,  142, 158,  // Skylake, Kaby/Coffee/Whiskey Lake
    165, 166,            // Comet Lake
    85,                  // Skylake-SP, Cascade Lake, Cooper Lake
    87,                  // Knights Landing
    102,                 // Cannon Lake
    106, 108, 126,       // Ice Lake (SP, D, client)
    140, 141,            // Tiger Lake
    151, 154,            // Alder Lake
};

// Whether 0.3.21 maps this CPU to a core that uses its AVX2 (or better) instructions.
bool openblas_0321_knows(const CpuSignature& cpu) {
  if (cpu.vendor == "GenuineIntel") {
    return cpu.family == 6 &&
           std::find(std::begin(intel_known_models), std::end(intel_known_models), cpu.model) !=
               std::end(intel_known_models);
  }
  // AMD and Hygon: families 0x15 (Excavator), 0x17/0x18 (Zen 1/2, Dhyana) and 0x19 (Zen 3/4)
  // are recognised; later families (0x1A, Zen 5) fall through to Barcelona (SSE3 era).
  if (cpu.vendor == "AuthenticAMD" || cpu.vendor == "HygonGenuine") return cpu.family <= 0x19;
  // Centaur/Zhaoxin and others: at best Nano or Nehalem kernels, never AVX2.
  return false;
}

// Cores that use AVX2 or wider: anything else on an AVX2 CPU is a misdetection.
bool is_avx2_core(const std::string& core) {
  for (const char* name :
       {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"}) {
    if (core == name) return true;
  }
  return false;
}

// The core of a path forced below the CPU's best with DAGRAD_ISA, else null.
const char* core_for_forced_path() {
  if (runtime::active_isa() == runtime::cpu_isa()) return nullptr;
  return runtime::active_isa() == runtime::Isa::avx2 ? "Haswell" : "Prescott";
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

// Whether OpenBLAS is already in the process (linked by someone else, or loaded by another
// library): it has then read OPENBLAS_CORETYPE, and setting it now would change nothing.
bool openblas_already_loaded() {
  for (const char* name : library_names) {
    if (void* h = dlopen(name, RTLD_NOW | RTLD_NOLOAD)) {
      dlclose(h);  // drops only the reference RTLD_NOLOAD just took
      return true;
    }
  }
  return false;
}

// Chooses the core OpenBLAS will run (setting OPENBLAS_CORETYPE where dagrad knows better than
// the library) and says why in lib.coretype_source. Returns whether the choice was left to the
// library's own detection.
bool choose_coretype(Library& lib, const char* user, bool already_loaded,
                     const std::optional<CpuSignature>& cpu) {
  const std::optional<std::string> core = cpu ? core_override(*cpu) : std::nullopt;
  if (user != nullptr && *user != '\0') {
    lib.coretype_source = std::string("OPENBLAS_CORETYPE set by the user: ") + user;
    return false;
  }
  if (already_loaded) {
    lib.coretype_source = "detected by OpenBLAS; it was loaded before dagrad's setup";
    return true;
  }
  if (const char* path_core = core_for_forced_path()) {
    // DAGRAD_ISA lowered dagrad's kernels: GEMM follows, so that a forced path runs the way
    // a CPU with only those instructions would.
    setenv("OPENBLAS_CORETYPE", path_core, /*overwrite=*/1);
    lib.coretype_source =
        std::string("set by dagrad for DAGRAD_ISA=") + runtime::isa_name(runtime::active_isa());
    return false;
  }
  if (core) {
    // setenv is not thread-safe against concurrent getenv; this runs once, early, and the
    // variable is also inherited by child processes that use OpenBLAS, which is what we want.
    setenv("OPENBLAS_CORETYPE", core->c_str(), /*overwrite=*/1);
    lib.coretype_source = "set by dagrad: OpenBLAS 0.3.21 does not know this CPU, " + cpu->vendor +
                          " family " + std::to_string(cpu->family) + " model " +
                          std::to_string(cpu->model);
    return false;
  }
  lib.coretype_source = "detected by OpenBLAS";
  return true;
}

// dlopen's the first library name that loads; the handle is never closed: OpenBLAS's worker
// threads must outlive every caller.
std::pair<void*, const char*> open_openblas() {
  std::string errors;
  for (const char* name : library_names) {
    if (void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)) return {handle, name};
    const char* err = dlerror();
    errors += std::string(errors.empty() ? "" : "; ") + (err ? err : name);
  }
  // dlerror() names each library it tried.
  throw std::runtime_error("dagrad: cannot load OpenBLAS: " + errors +
                           " (on Debian/Ubuntu: apt install libopenblas0)");
}

// Adds to lib.coretype_source what the loaded library's choice of core tells the user.
void note_running_core(Library& lib, const char* user, bool left_to_library,
                       const std::optional<CpuSignature>& cpu) {
  // 0.3.21 runs an unknown OPENBLAS_CORETYPE name as Cooperlake (measured: "Foo" -> Cooperlake),
  // an illegal instruction on a CPU without AVX-512: say so next to the user's value.
  const char* name = lib.get_corename();
  if (user != nullptr && *user != '\0' && name != nullptr && strcasecmp(name, user) != 0)
    lib.coretype_source += std::string("; OpenBLAS does not know that name and runs ") + name;
  // The known-CPU table describes 0.3.21; a library that still picked a pre-AVX2 core on an AVX2
  // CPU (another version, a model the table wrongly counts as known) is worth saying so.
  if (left_to_library && cpu && cpu->avx2_fma && name != nullptr && !is_avx2_core(name)) {
    lib.coretype_source += std::string("; the CPU has AVX2, try OPENBLAS_CORETYPE=") +
                           (cpu->avx512_skx ? "SkylakeX" : "Haswell");
  }
}

Library load() {
  Library lib;
  const bool already_loaded = openblas_already_loaded();
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  const std::optional<CpuSignature> cpu = this_cpu();
  const bool left_to_library = choose_coretype(lib, user, already_loaded, cpu);

  // dagrad's pool supplies the threads, so OpenBLAS should start none of its own: its idle
  // workers spin in sched_yield after start-up and took CPU from ours (1024^3 sgemm at 0.90 of
  // the same call without them). Only if the user did not choose a count.
  const char* user_threads = std::getenv("OPENBLAS_NUM_THREADS");
  if (!already_loaded && (user_threads == nullptr || *user_threads == '\0'))
    setenv("OPENBLAS_NUM_THREADS", "1", /*overwrite=*/1);

  const auto [handle, loaded_name] = open_openblas();
  resolve(handle, loaded_name, "cblas_sgemm", lib.sgemm);
  resolve(handle, loaded_name, "cblas_dgemm", lib.dgemm);
  resolve(handle, loaded_name, "openblas_get_corename", lib.get_corename);
  resolve(handle, loaded_name, "openblas_get_config", lib.get_config);
  resolve(handle, loaded_name, "openblas_set_num_threads", lib.set_num_threads);
  // gemm below splits big products across dagrad's pool; OpenBLAS threads on top would
  // oversubscribe the cores.
  lib.set_num_threads(1);
  note_running_core(lib, user, left_to_library, cpu);
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

std::optional<std::string> core_override(const CpuSignature& cpu) {
  if (openblas_0321_knows(cpu)) return std::nullopt;
  // Cooperlake (SkylakeX + bf16 kernels) measured the same for sgemm on Emerald Rapids (~152
  // GFLOP/s per core); SkylakeX also runs on AVX-512 CPUs without bf16.
  if (cpu.avx512_skx) return "SkylakeX";
  if (cpu.avx2_fma) return "Haswell";
  return std::nullopt;  // nothing better than what the library picks by itself
}

std::optional<CpuSignature> this_cpu() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return std::nullopt;
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return std::nullopt;
  CpuSignature cpu;
  cpu.vendor = vendor;
  const int base_family = (eax >> 8) & 0xf;
  const int base_model = (eax >> 4) & 0xf;
  // The extended fields count only for these base families (Intel SDM and AMD APM agree).
  cpu.family = base_family == 0xf ? base_family + int((eax >> 20) & 0xff) : base_family;
  cpu.model = base_family == 0x6 || base_family == 0xf ? (int((eax >> 16) & 0xf) << 4) | base_model
                                                       : base_model;
  // __builtin_cpu_supports also checks that the OS saves the AVX/AVX-512 registers (XCR0), so
  // dagrad never picks kernels the OS cannot run.
  __builtin_cpu_init();
  cpu.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  cpu.avx512_skx = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return cpu;
#else
  return std::nullopt;
#endif
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
