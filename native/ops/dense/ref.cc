// Scalar reference of the dense kernels: plain loops in the order the spec states.
#include <algorithm>
#include <cmath>
#include <vector>

#include "dense.h"

namespace kq::dense {
namespace {

template <typename T>
void gemm_ref(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
              Accumulate mode) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T s = 0;
      for (int64_t p = 0; p < k; ++p) s += a[i * lda + p] * b[p * ldb + j];
      T& out = c[i * ldc + j];
      out = mode == Accumulate::overwrite ? s : out - s;
    }
}

// c (op)= aᵀa on and above the diagonal of columns [j0, j1): += for the f32 entry, -= for the f64 one.
template <typename T, bool kSubtract>
void syrk_ref(int64_t n, int64_t k, const T* a, int64_t lda, T* c, int64_t ldc, int64_t j0, int64_t j1) {
  (void)n;
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t i = 0; i <= j; ++i) {
      T s = 0;
      for (int64_t t = 0; t < k; ++t) s += a[t * lda + i] * a[t * lda + j];
      if (kSubtract) c[i * ldc + j] -= s;
      else c[i * ldc + j] += s;
    }
}

// Lower Cholesky in place (upper part untouched); -1 or the failing pivot.
int64_t cholesky_lower(double* a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int64_t p = 0; p < j; ++p) d -= a[j * n + p] * a[j * n + p];
    if (!(d > 0.0)) return j;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int64_t p = 0; p < j; ++p) s -= a[i * n + p] * a[j * n + p];
      a[i * n + j] = s / d;
    }
  }
  return -1;
}

}  // namespace

const Kernels kernels_ref = {gemm_ref<float>, syrk_ref<float, false>, gemm_ref<double>, syrk_ref<double, true>};

int64_t inverse_cholesky_upper_f64_ref(double* a, int64_t n) {
  const int64_t failed = cholesky_lower(a, n);
  if (failed >= 0) return failed;
  // inv(L) by forward substitution, column by column.
  std::vector<double> linv(static_cast<size_t>(n * n), 0.0);
  for (int64_t c = 0; c < n; ++c) {
    linv[c * n + c] = 1.0 / a[c * n + c];
    for (int64_t i = c + 1; i < n; ++i) {
      double s = 0.0;
      for (int64_t p = c; p < i; ++p) s += a[i * n + p] * linv[p * n + c];
      linv[i * n + c] = -s / a[i * n + i];
    }
  }
  // a⁻¹ = inv(L)ᵀ · inv(L), then its lower Cholesky factor L2; U = L2ᵀ.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = std::max(i, j); p < n; ++p) s += linv[p * n + i] * linv[p * n + j];
      a[i * n + j] = s;
    }
  const int64_t failed_inv = cholesky_lower(a, n);
  if (failed_inv >= 0) return failed_inv;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (j < i) {
        a[j * n + i] = a[i * n + j];
        a[i * n + j] = 0.0;
      }
    }
  return -1;
}

}  // namespace kq::dense
