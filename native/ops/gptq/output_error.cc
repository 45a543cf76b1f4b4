// The layer-output error Σ‖(W − Q)x‖² = tr(H · DᵀD) from the Hessian alone, so it costs one SYRK of the
// weight's size instead of a pass over the calibration data.
#include <algorithm>
#include <vector>

#include "../../core/thread_pool.h"
#include "../dense/dense.h"
#include "gptq.h"

namespace kq::gptq {

double output_error(const float* w, const float* q, int64_t rows, int64_t cols, const float* h) {
  constexpr int64_t kChunkRows = 256;
  std::vector<float> gram(static_cast<size_t>(cols * cols), 0.0f);
  std::vector<float> diff(static_cast<size_t>(std::min(rows, kChunkRows) * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t n = std::min(kChunkRows, rows - r0);
    for (int64_t i = 0; i < n * cols; ++i) diff[i] = w[r0 * cols + i] - q[r0 * cols + i];
    dense::syrk_upper_f32(cols, n, diff.data(), cols, gram.data(), cols);
  }
  // H and DᵀD are symmetric: the diagonal once, the strict upper triangle twice.
  std::vector<double> row_sums(static_cast<size_t>(cols), 0.0);
  parallel_for(cols, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      double s = static_cast<double>(h[i * cols + i]) * gram[i * cols + i];
      for (int64_t j = i + 1; j < cols; ++j) s += 2.0 * static_cast<double>(h[i * cols + j]) * gram[i * cols + j];
      row_sums[i] = s;
    }
  });
  double total = 0.0;
  for (double s : row_sums) total += s;
  return total;
}

}  // namespace kq::gptq
