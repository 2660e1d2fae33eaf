#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "dagrad/runtime/blas.h"
#include "dagrad/runtime/isa.h"
#include "dagrad/runtime/parallel.h"

namespace {

// Deterministic, exactly representable values in [-1, 1) so float results are near-exact.
template <typename T>
std::vector<T> filled(std::size_t n, int seed) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = T(int((i * 37 + seed * 11) % 17) - 8) / T(8);
  return v;
}

// Reference: C = alpha * op(A) * op(B) + beta * C, row-major, with leading dimensions.
template <typename T>
void naive_gemm(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
                int ldb, T beta, T* c, int ldc) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int p = 0; p < k; ++p) {
        const T av = ta ? a[p * lda + i] : a[i * lda + p];
        const T bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        sum += double(av) * double(bv);
      }
      c[i * ldc + j] = T(alpha * sum + (beta == T(0) ? 0.0 : double(beta) * c[i * ldc + j]));
    }
  }
}

// Runs blas::gemm and the naive loop on the same padded buffers and compares every element,
// including the padding of C, which must be left untouched.
template <typename T>
void check_against_naive(bool ta, bool tb, int m, int n, int k, T alpha, T beta) {
  const int a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int lda = a_cols + 3, ldb = b_cols + 5, ldc = n + 2;  // larger than the minimum
  const auto a = filled<T>(std::size_t(a_rows) * lda, 1);
  const auto b = filled<T>(std::size_t(b_rows) * ldb, 2);
  auto c = filled<T>(std::size_t(m) * ldc, 3);
  auto expected = c;

  dagrad::blas::gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  naive_gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, expected.data(), ldc);

  // One assertion per product (not per element) keeps failures readable.
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-13;
  std::size_t bad = 0, first_bad = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double scale = std::fmax(1.0, std::fabs(double(expected[i])));
    if (!(std::fabs(double(c[i]) - double(expected[i])) <= tol * scale) && bad++ == 0) {
      first_bad = i;
    }
  }
  INFO("m=" << m << " n=" << n << " k=" << k << " alpha=" << alpha << " beta=" << beta);
  INFO("first mismatch at row " << first_bad / ldc << ", col " << first_bad % ldc << ": got "
                                << c[first_bad] << ", expected " << expected[first_bad]);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("blas::gemm matches a naive triple loop for every transpose combination", T,
                   float, double) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      check_against_naive<T>(ta, tb, 7, 5, 3, T(1), T(0));
      check_against_naive<T>(ta, tb, 13, 9, 11, T(1), T(0));
      // Large enough that OpenBLAS takes its blocked (and possibly threaded) path.
      check_against_naive<T>(ta, tb, 131, 67, 259, T(1), T(0));
    }
  }
}

TEST_CASE_TEMPLATE("blas::gemm applies alpha and beta", T, float, double) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      check_against_naive<T>(ta, tb, 6, 4, 5, T(-0.5), T(1));     // accumulate
      check_against_naive<T>(ta, tb, 6, 4, 5, T(2), T(0.25));     // scale both
      check_against_naive<T>(ta, tb, 6, 4, 5, T(0), T(-1.5));     // alpha = 0: only scales C
      check_against_naive<T>(ta, tb, 70, 40, 90, T(1.5), T(-2));  // blocked path
    }
  }
}

TEST_CASE_TEMPLATE("blas::gemm known values", T, float, double) {
  // [[1 2 3] [4 5 6]] * [[7 8] [9 10] [11 12]] = [[58 64] [139 154]]
  const T a[] = {1, 2, 3, 4, 5, 6};
  const T b[] = {7, 8, 9, 10, 11, 12};
  T c[] = {1, 1, 1, 1};
  dagrad::blas::gemm(false, false, 2, 2, 3, T(1), a, 3, b, 2, T(10), c, 2);
  CHECK(c[0] == T(68));
  CHECK(c[1] == T(74));
  CHECK(c[2] == T(149));
  CHECK(c[3] == T(164));
}

TEST_CASE_TEMPLATE("blas::gemm with beta = 0 ignores what C held", T, float, double) {
  const T a[] = {1, 2, 3, 4};  // 2x2
  const T b[] = {1, 0, 0, 1};  // identity
  const T nan = std::numeric_limits<T>::quiet_NaN();
  T c[] = {nan, nan, nan, nan};
  dagrad::blas::gemm(false, false, 2, 2, 2, T(1), a, 2, b, 2, T(0), c, 2);
  CHECK(c[0] == T(1));
  CHECK(c[1] == T(2));
  CHECK(c[2] == T(3));
  CHECK(c[3] == T(4));
}

TEST_CASE("blas::gemm with k = 0 only scales C") {
  float c[] = {1, 2, 3, 4, 5, 6};
  const float dummy = 0;
  dagrad::blas::gemm(false, false, 2, 3, 0, 1.0f, &dummy, 1, &dummy, 3, 0.5f, c, 3);
  CHECK(c[0] == 0.5f);
  CHECK(c[5] == 3.0f);
}

TEST_CASE("blas::gemm rejects bad sizes and leading dimensions") {
  std::vector<double> a(64), b(64), c(64);
  using dagrad::blas::gemm;
  CHECK_THROWS_AS(gemm(false, false, -1, 2, 2, 1.0, a.data(), 2, b.data(), 2, 0.0, c.data(), 2),
                  std::invalid_argument);
  // A is 3x4 as stored: lda must be >= 4.
  CHECK_THROWS_AS(gemm(false, false, 3, 2, 4, 1.0, a.data(), 3, b.data(), 2, 0.0, c.data(), 2),
                  std::invalid_argument);
  // A^T stored as 4x3: lda must be >= 3, so 3 is fine and 2 is not.
  CHECK_NOTHROW(gemm(true, false, 3, 2, 4, 1.0, a.data(), 3, b.data(), 2, 0.0, c.data(), 2));
  CHECK_THROWS_AS(gemm(true, false, 3, 2, 4, 1.0, a.data(), 2, b.data(), 2, 0.0, c.data(), 2),
                  std::invalid_argument);
  // B^T stored as 2x4: ldb must be >= 4.
  CHECK_THROWS_AS(gemm(false, true, 3, 2, 4, 1.0, a.data(), 4, b.data(), 2, 0.0, c.data(), 2),
                  std::invalid_argument);
  CHECK_THROWS_AS(gemm(false, false, 3, 2, 4, 1.0, a.data(), 4, b.data(), 2, 0.0, c.data(), 1),
                  std::invalid_argument);
  std::vector<float> af(64), bf(64), cf(64);
  CHECK_THROWS_WITH_AS(
      gemm(false, false, 3, 5, 4, 1.0f, af.data(), 4, bf.data(), 4, 0.0f, cf.data(), 5),
      doctest::Contains("ldb"), std::invalid_argument);
}

TEST_CASE("blas::core_override overrides only CPUs OpenBLAS 0.3.21 does not know") {
  using dagrad::blas::core_override;
  using dagrad::blas::CpuSignature;
  const std::string intel = "GenuineIntel", amd = "AuthenticAMD";
  struct Row {
    const char* name;
    CpuSignature cpu;
    std::optional<std::string> core;
  };
  // {vendor, family, model, avx2+fma, avx512 F/BW/VL/DQ}
  const Row rows[] = {
      {"Zen 3 EPYC (Milan)", {amd, 25, 1, true, false}, std::nullopt},
      {"Zen 4 EPYC (Genoa)", {amd, 25, 17, true, true}, std::nullopt},
      {"Zen 2 EPYC (Rome)", {amd, 23, 49, true, false}, std::nullopt},
      {"Hygon Dhyana", {"HygonGenuine", 24, 0, true, false}, std::nullopt},
      {"Zen 5 EPYC (Turin)", {amd, 26, 2, true, true}, "SkylakeX"},
      {"Zen 5 with AVX-512 off", {amd, 26, 2, true, false}, "Haswell"},
      {"Haswell-EP", {intel, 6, 63, true, false}, std::nullopt},
      {"Broadwell-EP", {intel, 6, 79, true, false}, std::nullopt},
      {"Skylake-X / Cascade Lake", {intel, 6, 85, true, true}, std::nullopt},
      {"Ice Lake-SP", {intel, 6, 106, true, true}, std::nullopt},
      {"Alder Lake", {intel, 6, 151, true, false}, std::nullopt},
      {"Sapphire Rapids", {intel, 6, 143, true, true}, "SkylakeX"},
      {"Emerald Rapids (model 207)", {intel, 6, 207, true, true}, "SkylakeX"},
      {"Granite Rapids", {intel, 6, 173, true, true}, "SkylakeX"},
      {"Raptor Lake", {intel, 6, 183, true, false}, "Haswell"},
      {"unknown AVX2-only Intel model", {intel, 6, 250, true, false}, "Haswell"},
      {"Intel family 19", {intel, 19, 1, true, true}, "SkylakeX"},
      // A known model whose AVX-512 the OS or hypervisor hides keeps the library's choice.
      {"Skylake-X without AVX-512 state", {intel, 6, 85, true, false}, std::nullopt},
      // Nothing to gain where the CPU has no AVX2: the library's own pick stands.
      {"unknown model, no AVX2", {intel, 6, 250, false, false}, std::nullopt},
      {"Sandy Bridge", {intel, 6, 42, false, false}, std::nullopt},
      {"Zhaoxin with AVX2", {"  Shanghai  ", 7, 91, true, false}, "Haswell"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CHECK(core_override(row.cpu) == row.core);
  }
}

TEST_CASE("blas::this_cpu reads a plausible signature") {
  const auto cpu = dagrad::blas::this_cpu();
#if defined(__x86_64__) || defined(__i386__)
  REQUIRE(cpu.has_value());
  CHECK(cpu->vendor.size() == 12);
  CHECK(cpu->family >= 6);
  if (cpu->avx512_skx) CHECK(cpu->avx2_fma);  // every AVX-512 CPU has AVX2 and FMA
#else
  CHECK_FALSE(cpu.has_value());
#endif
}

TEST_CASE("blas reports who chose the core, and a core dagrad set is the one in use") {
  const std::string core = dagrad::blas::core_name();
  const std::string source = dagrad::blas::coretype_source();
  CHECK_FALSE(core.empty());
  CHECK(dagrad::blas::config().find("OpenBLAS") != std::string::npos);

  const char* env = std::getenv("OPENBLAS_CORETYPE");
  const auto cpu = dagrad::blas::this_cpu();
  const auto wanted = cpu ? dagrad::blas::core_override(*cpu) : std::nullopt;
  if (source.rfind("OPENBLAS_CORETYPE set by the user", 0) == 0) {
    REQUIRE(env != nullptr);
    CHECK(source.find(env) != std::string::npos);
  } else if (source.rfind("set by dagrad for DAGRAD_ISA=", 0) == 0) {
    // A forced lower kernel path takes GEMM down with it: Haswell for avx2, Prescott below.
    REQUIRE(env != nullptr);
    CHECK(core == env);
    const dagrad::runtime::Isa isa = dagrad::runtime::active_isa();
    CHECK(isa != dagrad::runtime::cpu_isa());
    CHECK(std::string(env) == (isa == dagrad::runtime::Isa::avx2 ? "Haswell" : "Prescott"));
    CHECK(source.find(dagrad::runtime::isa_name(isa)) != std::string::npos);
  } else if (source.rfind("set by dagrad", 0) == 0) {
    // Our own setenv must be visible and be what the library ended up using.
    REQUIRE(env != nullptr);
    REQUIRE(wanted.has_value());
    CHECK(*wanted == env);
    CHECK(core == env);
    CHECK(source.find("model " + std::to_string(cpu->model)) != std::string::npos);
  } else {
    CHECK(source.rfind("detected by OpenBLAS", 0) == 0);
    // Inside dagrad's own tests nothing else may load OpenBLAS first: that would silently
    // bring back the library's misdetection (e.g. a build that links -lopenblas again).
    if (source.find("loaded before") != std::string::npos) {
      FAIL_CHECK("OpenBLAS was loaded before dagrad's setup; is something linking -lopenblas?");
    } else {
      CHECK_FALSE(wanted.has_value());
    }
    // On an AVX2 CPU the library's own pick must use AVX2; the note would say otherwise.
    CHECK(source.find("try OPENBLAS_CORETYPE") == std::string::npos);
  }
}

TEST_CASE("blas::info names the core, who chose it and the thread count") {
  const std::string line = dagrad::blas::info();
  CHECK(line.rfind("BLAS: OpenBLAS", 0) == 0);
  CHECK(line.find("core " + dagrad::blas::core_name()) != std::string::npos);
  CHECK(line.find(dagrad::blas::coretype_source()) != std::string::npos);
  CHECK(line.find(std::to_string(dagrad::num_threads()) + " thread") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("blas::gemm split across the pool matches the naive product") {
  // Big enough to be split (by rows when m >= n, else by columns), for every transpose case,
  // with 1, 2 and 3 threads (3 leaves uneven blocks).
  const int before = dagrad::num_threads();
  for (int threads : {1, 2, 3}) {
    dagrad::set_num_threads(threads);
    CAPTURE(threads);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_against_naive<float>(ta, tb, 300, 70, 200, 1.0f, 0.0f);  // rows
        check_against_naive<float>(ta, tb, 70, 301, 200, 0.5f, 1.0f);  // columns
        check_against_naive<double>(ta, tb, 129, 257, 64, 1.0, 0.25);
      }
  }
  dagrad::set_num_threads(before);
  CHECK(dagrad::num_threads() == before);
}
