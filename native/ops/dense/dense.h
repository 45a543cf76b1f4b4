// Dense f32/f64 linear algebra that GPTQ runs on: the lazy-batch weight update (GEMM), Hessian accumulation
// (SYRK) and the upper Cholesky factor of the inverse Hessian. Row-major storage with leading dimensions.
// The scalar reference (ref.cc) is the spec; the SIMD tables must agree with it within f32/f64 rounding of
// a different summation order (they are not bit-exact: GPTQ's own reference is not either, across BLAS).
#pragma once
#include <cstdint>

namespace kq::dense {

enum class Accumulate { overwrite, subtract };

// One instruction set's kernels.
struct Kernels {
  // c[i, j] = s or c[i, j] -= s with s = Σ_{p<k} a[i, p]·b[p, j] formed in f32 before it meets c (so a
  // subtract rounds once more, as `W -= E @ H` does). Single-threaded: callers split rows among threads.
  void (*gemm_f32)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float* c, int64_t ldc, Accumulate mode);
  // c[i, j] += Σ_{t<k} a[t, i]·a[t, j] for j >= i (the upper triangle; the sum is formed before it is added).
  // Single-threaded over the given column range [j0, j1) of c's upper triangle, so callers can split it.
  void (*syrk_upper_f32)(int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc, int64_t j0,
                         int64_t j1);
  // The f64 steps of the blocked inverse Cholesky (dense.cc), same layout and modes as the f32 kernels:
  // gemm_f64 as gemm_f32, and c[i, j] -= Σ_{t<k} a[t, i]·a[t, j] for j >= i over columns [j0, j1).
  void (*gemm_f64)(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b, int64_t ldb,
                   double* c, int64_t ldc, Accumulate mode);
  void (*syrk_upper_sub_f64)(int64_t n, int64_t k, const double* a, int64_t lda, double* c, int64_t ldc, int64_t j0,
                             int64_t j1);
};

extern const Kernels kernels_ref;
extern const Kernels kernels_avx2;    // FMA: not bit-exact with the reference (see avx2.cc)
extern const Kernels kernels_avx512;  // FMA: not bit-exact with the reference (see avx512.cc)
const Kernels& active_kernels();

// ---- drivers (dense.cc) ----

// gemm_f32 of the active table (single-threaded; see Kernels).
void gemm_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc, Accumulate mode);
// Upper triangle of c [n, n] += aᵀ·a for a [k, n]; spread over the thread pool.
void syrk_upper_f32(int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc);
// a [n, n] symmetric positive definite in f64 (full storage) becomes U, upper triangular with a⁻¹ = Uᵀ·U
// (the lower part is zeroed). Returns -1, or the index of the first pivot that was not positive (a is then
// unspecified). Threaded.
int64_t inverse_cholesky_upper_f64(double* a, int64_t n);

// The plain O(n³) spec of inverse_cholesky_upper_f64 (Cholesky, inverse, Cholesky of the inverse), for tests.
int64_t inverse_cholesky_upper_f64_ref(double* a, int64_t n);

}  // namespace kq::dense
