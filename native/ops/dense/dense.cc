// Drivers of the dense kernels: dispatch and the split over the thread pool.
#include <algorithm>

#include "../../core/thread_pool.h"
#include "dense.h"

namespace kq::dense {

const Kernels& active_kernels() { return kernels_ref; }

void gemm_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc, Accumulate mode) {
  active_kernels().gemm_f32(m, n, k, a, lda, b, ldb, c, ldc, mode);
}

void syrk_upper_f32(int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc) {
  const Kernels& kern = active_kernels();
  parallel_for(n, 16, [&](int64_t j0, int64_t j1) { kern.syrk_upper_f32(n, k, a, lda, c, ldc, j0, j1); });
}

int64_t inverse_cholesky_upper_f64(double* a, int64_t n) { return inverse_cholesky_upper_f64_ref(a, n); }

}  // namespace kq::dense
