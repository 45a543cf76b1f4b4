// The scalar reference of LLM.int8(): the specification every other variant is tested against.
#include <cmath>

#include "int8mm.h"

namespace kq::int8mm {

float row_stat_ref(const float* a, int64_t cols, float threshold, uint32_t* non_finite) {
  float m = 0.0f;
  for (int64_t c = 0; c < cols; ++c) {
    if (std::isnan(a[c] - a[c])) *non_finite = 1;
    const float v = std::fabs(a[c]);
    if (threshold > 0.0f && v >= threshold) continue;
    m = std::fmax(m, v);
  }
  return m;
}

void mark_outliers_ref(const float* a, int64_t cols, float threshold, uint8_t* mask) {
  for (int64_t c = 0; c < cols; ++c)
    if (std::fabs(a[c]) >= threshold) mask[c] = 1;
}

void quantize_row_ref(const float* a, int64_t cols, float threshold, float row_stat, const uint8_t* col_mask,
                      int8_t* q) {
  // 127 · (1 / row_stat): two roundings, as bnb's torch path. A zero row (scale inf, 0 · inf = NaN) gives 0.
  const float scale = (1.0f / row_stat) * 127.0f;
  for (int64_t c = 0; c < cols; ++c) {
    const bool outlier = (threshold > 0.0f && std::fabs(a[c]) >= threshold) || (col_mask && col_mask[c]);
    if (outlier || row_stat == 0.0f) {
      q[c] = 0;
      continue;
    }
    const float product = a[c] * scale;
    const float r = std::fmin(std::fmax(std::nearbyint(product), -127.0f), 127.0f);
    q[c] = static_cast<int8_t>(static_cast<int32_t>(r));
  }
}

void dequantize_row_ref(const int8_t* q, int64_t cols, float row_stat, float* out) {
  for (int64_t c = 0; c < cols; ++c) {
    const float x = static_cast<float>(q[c]) * row_stat;
    out[c] = x * kDequantScale;
  }
}

namespace {

void gemm_tile_ref(const int8_t* a, int64_t rows_a, const int8_t* b, int64_t rows_b, int64_t k,
                   const int32_t* /*b_sums*/, int32_t* c, int64_t ldc) {
  for (int64_t i = 0; i < rows_a; ++i)
    for (int64_t j = 0; j < rows_b; ++j) {
      int32_t acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += static_cast<int32_t>(a[i * k + p]) * static_cast<int32_t>(b[j * k + p]);
      c[i * ldc + j] = acc;
    }
}

}  // namespace

const Kernels kernels_ref = {gemm_tile_ref};

}  // namespace kq::int8mm
