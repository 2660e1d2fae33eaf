// GEMM through OpenBLAS, loaded at run time.
//
// Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to SSE3 kernels
// (~5x slower). The core can only be chosen through OPENBLAS_CORETYPE, which the library reads
// once, when it loads. So dagrad does not link OpenBLAS: on first use it picks the core from the
// CPU's features (unless the user set OPENBLAS_CORETYPE), sets the variable, then dlopens
// libopenblas.so.0 and resolves the few symbols it needs. Every function below triggers that
// one-time setup and throws std::runtime_error if the library cannot be loaded.
#pragma once
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

// The kernel set OpenBLAS runs with, as it reports it ("SkylakeX", "Haswell", "Prescott", ...).
std::string core_name();

// Who chose that core: "set by dagrad from CPU features", "set by the user
// (OPENBLAS_CORETYPE=...)", or "library's own detection" (possibly with a reason appended, e.g.
// when something else loaded OpenBLAS before dagrad could set the variable).
std::string coretype_source();

// The library's build description, e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...".
std::string config();

// One line for logs and `dagrad-info`: config, core, who chose it, and the thread count.
std::string info();

}  // namespace dagrad::blas
