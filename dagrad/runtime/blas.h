// GEMM through OpenBLAS, loaded at run time.
//
// Debian's OpenBLAS 0.3.21 does not recognise CPUs newer than it (Sapphire/Emerald Rapids,
// Raptor Lake, Zen 5, ...) and runs its SSE3 kernels there (~5x slower). The core can only be
// chosen through OPENBLAS_CORETYPE, which the library reads once, when it loads. So dagrad does
// not link OpenBLAS: on first use it checks whether 0.3.21 knows this CPU and, only if not, sets
// the variable to the best core the CPU's features allow (unless the user set it); then it
// dlopens libopenblas.so.0 and resolves the few symbols it needs. Every function below except
// core_override and this_cpu triggers that one-time setup and throws std::runtime_error if the
// library cannot be loaded.
#pragma once
#include <optional>
#include <string>

namespace dagrad::blas {

// C = alpha * op(A) * op(B) + beta * C, all row-major; op(X) = X^T when trans_x is set.
// op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are the row strides as stored.
// With beta == 0, C is only written, never read (it may hold garbage or NaN).
// Big products are split across dagrad's thread pool (dagrad::set_num_threads); inside a
// parallel job, or when small, the product runs on the calling thread.
// Throws std::invalid_argument for negative sizes or too-small leading dimensions.
void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);
void gemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda,
          const double* b, int ldb, double beta, double* c, int ldc);

// What decides the core: the CPUID vendor string, family and model as /proc/cpuinfo shows them
// (extended fields folded in), and the features the OS also enables (XCR0 checked).
struct CpuSignature {
  std::string vendor;       // "GenuineIntel", "AuthenticAMD", "HygonGenuine", ...
  int family = 0;           // e.g. 6 (Intel Core/Xeon), 25 (AMD Zen 3/4), 26 (Zen 5)
  int model = 0;            // e.g. 143 (Sapphire Rapids), 207 (Emerald Rapids)
  bool avx2_fma = false;    // AVX2 and FMA: what the Haswell kernels need
  bool avx512_skx = false;  // AVX-512 F, BW, VL and DQ: what the SkylakeX kernels need
};

// The OPENBLAS_CORETYPE dagrad sets for this CPU, or nullopt to leave the choice to OpenBLAS:
// a core only where OpenBLAS 0.3.21's own detection does not know the CPU and would fall back
// to a pre-AVX2 core although the CPU has AVX2 (SkylakeX with AVX-512, else Haswell).
std::optional<std::string> core_override(const CpuSignature& cpu);

// The signature of the CPU this process runs on; nullopt on non-x86 machines.
std::optional<CpuSignature> this_cpu();

// The kernel set OpenBLAS runs with, as it reports it ("SkylakeX", "Haswell", "Prescott", ...).
std::string core_name();

// Who chose that core: "detected by OpenBLAS", "set by dagrad: OpenBLAS 0.3.21 does not know
// this CPU, family 6 model 207", or "OPENBLAS_CORETYPE set by the user"; the first can carry a
// note (OpenBLAS was loaded before dagrad's setup, or picked a pre-AVX2 core on an AVX2 CPU).
std::string coretype_source();

// The library's build description, e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...".
std::string config();

// One line for logs and `dagrad-info`: config, core, who chose it, and the thread count.
std::string info();

}  // namespace dagrad::blas
