// Dense kernels (run once per SIMD level, so every table is covered): the active table's f32 GEMM/SYRK and
// f64 GEMM/SYRK against sums in a wider type on random inputs of edge sizes, padded leading dimensions and
// both modes; the threaded drivers the same way; inverse_cholesky_upper_f64 against the reference and
// against Uᵀ·U·a = I on random SPD matrices, and the pivot it reports for matrices that are not PD.
//
// Error bound of a sum of k products in precision u formed in any order, with or without FMA, then met
// with c (one more rounding): |got - exact| <= (k + 2)·u·(Σ|a·b| + |c|) (Higham, "Accuracy and Stability of
// Numerical Algorithms", §3.1, γ_k with the second-order term dropped, loose by design).
#include <cmath>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/thread_pool.h"
#include "../ops/dense/dense.h"
#include "check.h"

namespace kq::test {
namespace {

using namespace dense;

constexpr double kUnitF32 = 0x1p-24;
constexpr double kUnitF64 = 0x1p-53;
constexpr float kSentinel = 12345.0f;

double sum_bound(int64_t k, double unit, double abs_sum, double abs_c) {
  return static_cast<double>(k + 2) * unit * (abs_sum + abs_c);
}

template <typename T>
std::vector<T> random_values(std::mt19937& gen, int64_t count) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<T>(dist(gen));
  return v;
}

// Σ_p a[p·sa]·b[p·sb] in long double, and Σ |a·b| for the bound.
template <typename T>
void long_dot(const T* a, int64_t sa, const T* b, int64_t sb, int64_t k, long double* sum, long double* abs_sum) {
  long double s = 0.0L, abs = 0.0L;
  for (int64_t p = 0; p < k; ++p) {
    const long double prod = static_cast<long double>(a[p * sa]) * b[p * sb];
    s += prod;
    abs += std::fabs(prod);
  }
  *sum = s;
  *abs_sum = abs;
}

// Records entry [i, j] unless got is within tol of want.
template <typename T>
void expect_near(FirstMismatch& bad, int64_t i, int64_t j, T got, double want, double tol) {
  if (!(std::fabs(static_cast<double>(got) - want) <= tol))
    bad.add(format("[%lld, %lld] = %.9g, want %.9g ± %.3g", (long long)i, (long long)j, (double)got, want, tol));
}

// c (m×n in a buffer of row stride ldc) against c0 (op) a·b computed in long double; entries of the buffer
// outside m×n must keep their sentinel.
template <typename T, typename Gemm>
void check_gemm(const char* what, Gemm gemm, int64_t m, int64_t n, int64_t k, Accumulate mode, double unit,
                std::mt19937& gen) {
  const int64_t lda = k + 3, ldb = n + 5, ldc = n + 2;
  const std::vector<T> a = random_values<T>(gen, m * lda + 1), b = random_values<T>(gen, k * ldb + 1);
  std::vector<T> c = random_values<T>(gen, m * ldc);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n; j < ldc; ++j) c[i * ldc + j] = static_cast<T>(kSentinel);
  const std::vector<T> c0 = c;
  gemm(m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc, mode);
  FirstMismatch bad;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const T got = c[i * ldc + j];
      if (j >= n) {
        if (got != static_cast<T>(kSentinel))
          bad.add(format("[%lld, %lld] outside n changed", (long long)i, (long long)j));
        continue;
      }
      long double s, abs_sum;
      long_dot(a.data() + i * lda, 1, b.data() + j, ldb, k, &s, &abs_sum);
      const double base = mode == Accumulate::overwrite ? 0.0 : static_cast<double>(c0[i * ldc + j]);
      const double want = static_cast<double>(mode == Accumulate::overwrite ? s : base - s);
      expect_near(bad, i, j, got, want, sum_bound(k, unit, static_cast<double>(abs_sum), std::fabs(base)));
    }
  check(bad.count == 0, format("dense %s %s %lldx%lldx%lld: %s", what,
                               mode == Accumulate::overwrite ? "overwrite" : "subtract", (long long)m, (long long)n,
                               (long long)k, bad.describe().c_str()));
}

// syrk(n, k, a, lda, c, ldc) must give c0 + sign·aᵀa on and above the diagonal and leave the rest alone.
template <typename T, typename Syrk>
void check_syrk(const char* what, Syrk syrk, int64_t n, int64_t k, double sign, double unit, std::mt19937& gen) {
  const int64_t lda = n + 3, ldc = n + 1;
  const std::vector<T> a = random_values<T>(gen, k * lda + 1);
  std::vector<T> c = random_values<T>(gen, n * ldc);
  const std::vector<T> c0 = c;
  syrk(n, k, a.data(), lda, c.data(), ldc);
  FirstMismatch bad;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const T got = c[i * ldc + j];
      if (j < i || j >= n) {
        if (got != c0[i * ldc + j])
          bad.add(format("[%lld, %lld] outside the triangle changed", (long long)i, (long long)j));
        continue;
      }
      long double s, abs_sum;
      long_dot(a.data() + i, lda, a.data() + j, lda, k, &s, &abs_sum);
      const double base = static_cast<double>(c0[i * ldc + j]);
      const double want = static_cast<double>(base + sign * s);
      expect_near(bad, i, j, got, want, sum_bound(k, unit, static_cast<double>(abs_sum), std::fabs(base)));
    }
  check(bad.count == 0, format("dense %s %lldx%lld: %s", what, (long long)n, (long long)k, bad.describe().c_str()));
}

// Sizes around the tiles (6/14 rows, 8/16/32 columns), the KC = 128/256 blocks (k = 300, 513 stage partial
// sums), one, and empty.
const int64_t kGemmShapes[][3] = {{1, 1, 1},    {1, 1, 0},     {7, 31, 33},  {33, 130, 127}, {130, 7, 300},
                                  {15, 33, 513}, {29, 65, 1},  {2, 1, 700},  {31, 127, 256}, {0, 3, 4}};
const int64_t kSyrkShapes[][2] = {{1, 1}, {1, 0}, {7, 5}, {31, 33}, {33, 300}, {130, 127}, {65, 600}, {47, 257}};

void kernel_tables() {
  const Kernels& kern = active_kernels();
  std::mt19937 gen(2024);
  for (const auto& s : kGemmShapes)
    for (Accumulate mode : {Accumulate::overwrite, Accumulate::subtract}) {
      check_gemm<float>("gemm_f32 table", kern.gemm_f32, s[0], s[1], s[2], mode, kUnitF32, gen);
      check_gemm<double>("gemm_f64 table", kern.gemm_f64, s[0], s[1], s[2], mode, kUnitF64, gen);
    }
  for (const auto& s : kSyrkShapes) {
    // The whole range, and three uneven column ranges (the driver's split), must agree.
    for (int split = 0; split < 2; ++split) {
      auto f32 = [&](int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc) {
        const int64_t cuts[] = {0, split ? n / 3 : n, split ? n / 2 + 1 : n, n};
        for (int t = 0; t < 3; ++t) kern.syrk_upper_f32(n, k, a, lda, c, ldc, cuts[t], std::max(cuts[t], cuts[t + 1]));
      };
      auto f64 = [&](int64_t n, int64_t k, const double* a, int64_t lda, double* c, int64_t ldc) {
        const int64_t cuts[] = {0, split ? n / 3 : n, split ? n / 2 + 1 : n, n};
        for (int t = 0; t < 3; ++t)
          kern.syrk_upper_sub_f64(n, k, a, lda, c, ldc, cuts[t], std::max(cuts[t], cuts[t + 1]));
      };
      check_syrk<float>(split ? "syrk_upper_f32 table (3 ranges)" : "syrk_upper_f32 table", f32, s[0], s[1], 1.0,
                        kUnitF32, gen);
      check_syrk<double>(split ? "syrk_upper_sub_f64 table (3 ranges)" : "syrk_upper_sub_f64 table", f64, s[0], s[1],
                         -1.0, kUnitF64, gen);
    }
  }
}

void drivers() {
  std::mt19937 gen(99);
  for (Accumulate mode : {Accumulate::overwrite, Accumulate::subtract})
    check_gemm<float>("gemm_f32 driver", gemm_f32, 300, 260, 129, mode, kUnitF32, gen);
  auto syrk = [](int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc) {
    syrk_upper_f32(n, k, a, lda, c, ldc);
  };
  check_syrk<float>("syrk_upper_f32 driver", syrk, 301, 280, 1.0, kUnitF32, gen);
  check_syrk<float>("syrk_upper_f32 driver", syrk, 64, 3, 1.0, kUnitF32, gen);
}

// a = XᵀX/rows + I/4 for a random X: symmetric, eigenvalues in [1/4, ~5], so the inverse factors agree to
// about cond·n·u.
std::vector<double> random_spd(int64_t n, std::mt19937& gen) {
  const int64_t rows = n + 8;
  const std::vector<double> x = random_values<double>(gen, rows * n);
  std::vector<double> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0.0;
      for (int64_t t = 0; t < rows; ++t) s += x[t * n + i] * x[t * n + j];
      s /= static_cast<double>(rows);
      if (i == j) s += 0.25;
      a[i * n + j] = a[j * n + i] = s;
    }
  return a;
}

void inverse_cholesky() {
  std::mt19937 gen(31);
  for (int64_t n : {1, 2, 5, 64, 200, 513}) {
    const std::vector<double> a = random_spd(n, gen);
    std::vector<double> u = a, u_ref = a;
    const int64_t failed = inverse_cholesky_upper_f64(u.data(), n);
    const int64_t failed_ref = inverse_cholesky_upper_f64_ref(u_ref.data(), n);
    double max_ref = 0.0, diff = 0.0;
    bool lower_zero = true;
    for (int64_t i = 0; i < n * n; ++i) {
      max_ref = std::max(max_ref, std::fabs(u_ref[i]));
      diff = std::max(diff, std::fabs(u[i] - u_ref[i]));
      if (i % n < i / n && u[i] != 0.0) lower_zero = false;
    }
    const double tol = 1e-12 * static_cast<double>(n) * max_ref;
    check(failed == -1 && failed_ref == -1 && diff <= tol && lower_zero,
          format("dense inverse_cholesky n=%lld vs ref: max diff %.3g (tol %.3g), lower zero %d", (long long)n, diff,
                 tol, lower_zero));
    // Uᵀ·U·a = I: residual bounded by cond(a)·n·u-sized terms.
    std::vector<double> inv(static_cast<size_t>(n * n), 0.0);
    for (int64_t p = 0; p < n; ++p)
      for (int64_t i = p; i < n; ++i)
        for (int64_t j = p; j < n; ++j) inv[i * n + j] += u[p * n + i] * u[p * n + j];
    double residual = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0.0;
        for (int64_t p = 0; p < n; ++p) s += inv[i * n + p] * a[p * n + j];
        residual = std::max(residual, std::fabs(s - (i == j ? 1.0 : 0.0)));
      }
    check(residual <= 1e-11 * static_cast<double>(n),
          format("dense inverse_cholesky n=%lld: max |UᵀUa - I| %.3g", (long long)n, residual));
  }
  // Not positive definite: the first leading minor that fails names the pivot, as in the reference. Two
  // defects put a later row first in the reversed order the driver factors in.
  struct Case { int64_t n; std::vector<int64_t> negative; int64_t pivot; };
  const Case cases[] = {{1, {0}, 0}, {5, {0}, 0}, {5, {3}, 3}, {200, {150}, 150}, {200, {150, 190}, 150},
                        {300, {7, 260}, 7}};
  for (const Case& t : cases) {
    std::vector<double> a = random_spd(t.n, gen);
    for (int64_t p : t.negative) a[p * t.n + p] = -1.0;
    std::vector<double> a_ref = a;
    const int64_t got = inverse_cholesky_upper_f64(a.data(), t.n);
    const int64_t want = inverse_cholesky_upper_f64_ref(a_ref.data(), t.n);
    check(got == t.pivot && want == t.pivot,
          format("dense inverse_cholesky not PD n=%lld: pivot %lld, ref %lld, expected %lld", (long long)t.n,
                 (long long)got, (long long)want, (long long)t.pivot));
  }
}

}  // namespace

void dense_suite() {
  kernel_tables();
  drivers();
  inverse_cholesky();
}

}  // namespace kq::test
