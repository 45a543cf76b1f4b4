// The CPU driver of LLM.int8(): argument checks, rows spread over the thread pool for the vector-wise
// quantizer, and (A-row block × B-row block) tiles for the GEMM so a block of B stays in cache while every
// A row of the block passes over it. Tiles own disjoint outputs, so any split gives the same results.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../../core/cpu_features.h"
#include "../../core/cuda_runtime.h"
#include "../../core/finite.h"
#include "../../core/thread_pool.h"
#include "int8mm.h"

namespace kq::int8mm {
namespace {

constexpr int64_t kTileA = 16;     // A rows per task
constexpr int64_t kTileBytes = 1 << 17;  // bytes of B per task (kept in L2)

Status check_dims(int64_t rows, int64_t cols, const char* rows_name, const char* cols_name) {
  if (rows < 0 || cols < 0)
    return error(Code::shape, std::string(rows_name) + " and " + cols_name + " must be non-negative");
  if (cols != 0 && rows > std::numeric_limits<int64_t>::max() / cols)
    return error(Code::too_large, "element count overflows 64 bits");
  return Status::success();
}

Status check_row_stats(const float* row_stats, int64_t count, const char* name) {
  for (int64_t i = 0; i < count; ++i)
    if (!(std::isfinite(row_stats[i]) && row_stats[i] >= 0.0f))
      return error(Code::invalid_argument, std::string(name) + "[" + std::to_string(i) + "] is " +
                                               std::to_string(row_stats[i]) + "; expected finite values >= 0");
  return Status::success();
}

// Integer GEMM into c with leading dimension ldc, spread over the pool.
void gemm(const Kernels& kern, const int8_t* a, int64_t m, const int8_t* b, int64_t n, int64_t k, int32_t* c) {
  std::vector<int32_t> b_sums(n);
  parallel_for(n, std::max<int64_t>(1, 65536 / std::max<int64_t>(k, 1)), [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      int32_t s = 0;
      for (int64_t p = 0; p < k; ++p) s += b[j * k + p];
      b_sums[j] = s;
    }
  });
  const int64_t tile_b = std::max<int64_t>(4, (kTileBytes / std::max<int64_t>(k, 1)) / 4 * 4);
  const int64_t blocks_a = (m + kTileA - 1) / kTileA, blocks_b = (n + tile_b - 1) / tile_b;
  parallel_for(blocks_a * blocks_b, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t ib = t / blocks_b, jb = t % blocks_b;
      const int64_t i0 = ib * kTileA, j0 = jb * tile_b;
      kern.gemm_tile(a + i0 * k, std::min(kTileA, m - i0), b + j0 * k, std::min(tile_b, n - j0), k,
                     b_sums.data() + j0, c + i0 * n + j0, n);
    }
  });
}

}  // namespace

const Kernels& active_kernels() {
  const Kernels& k = kernels_for_level(kernels_ref, kernels_avx2, kernels_avx512);
  if (&k == &kernels_avx512 && cpu_features().avx512_vnni) return kernels_avx512_vnni;
  return k;
}

Status vectorwise_quantize(const float* src, int64_t rows, int64_t cols, float threshold, int8_t* q,
                           float* row_stats, uint8_t* outlier_mask) {
  KQ_RETURN_IF_ERROR(check_dims(rows, cols, "rows", "cols"));
  if (!(std::isfinite(threshold) && threshold >= 0.0f))
    return error(Code::invalid_argument, "threshold must be finite and >= 0, got " + std::to_string(threshold));
  const bool outliers = threshold > 0.0f;
  if (outliers && !outlier_mask) return error(Code::invalid_argument, "a threshold > 0 needs an outlier mask");
  if (outlier_mask) std::fill(outlier_mask, outlier_mask + cols, 0);
  if (rows == 0 || cols == 0) return Status::success();
  const int64_t grain = std::max<int64_t>(1, 16384 / cols);
  std::atomic<uint32_t> any{0};
  // Pass 1: row statistics, non-finite check, and outlier columns (one partial mask per band of rows).
  if (outliers) {
    const int64_t bands = std::max<int64_t>(1, std::min<int64_t>({rows, int64_t(thread_count()) * 2, (int64_t(1) << 24) / cols}));
    const int64_t per_band = (rows + bands - 1) / bands;
    std::vector<uint8_t> masks(bands * cols, 0);
    parallel_for(bands, 1, [&](int64_t b0, int64_t b1) {
      uint32_t local = 0;
      for (int64_t b = b0; b < b1; ++b)
        for (int64_t r = b * per_band; r < std::min(rows, (b + 1) * per_band); ++r) {
          row_stats[r] = row_stat_ref(src + r * cols, cols, threshold, &local);
          mark_outliers_ref(src + r * cols, cols, threshold, &masks[b * cols]);
        }
      if (local) any.store(1);
    });
    for (int64_t b = 0; b < bands; ++b)
      for (int64_t c = 0; c < cols; ++c) outlier_mask[c] |= masks[b * cols + c];
  } else {
    parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      uint32_t local = 0;
      for (int64_t r = r0; r < r1; ++r) row_stats[r] = row_stat_ref(src + r * cols, cols, 0.0f, &local);
      if (local) any.store(1);
    });
  }
  if (any.load()) return non_finite_error(src, rows * cols);
  // Pass 2: codes. Whole outlier columns are zeroed only when there is more than one row.
  const uint8_t* col_mask = outliers && rows > 1 ? outlier_mask : nullptr;
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      quantize_row_ref(src + r * cols, cols, threshold, row_stats[r], col_mask, q + r * cols);
  });
  return Status::success();
}

Status vectorwise_dequantize(const int8_t* q, int64_t rows, int64_t cols, const float* row_stats, float* out) {
  KQ_RETURN_IF_ERROR(check_dims(rows, cols, "rows", "cols"));
  KQ_RETURN_IF_ERROR(check_row_stats(row_stats, rows, "rowStats"));
  if (cols == 0) return Status::success();
  parallel_for(rows, std::max<int64_t>(1, 16384 / cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) dequantize_row_ref(q + r * cols, cols, row_stats[r], out + r * cols);
  });
  return Status::success();
}

Status matmul_i32(const int8_t* a, int64_t m, const int8_t* b, int64_t n, int64_t k, int32_t* c, Device device) {
  KQ_RETURN_IF_ERROR(check_dims(m, k, "m", "k"));
  KQ_RETURN_IF_ERROR(check_dims(n, k, "n", "k"));
  KQ_RETURN_IF_ERROR(check_dims(m, n, "m", "n"));
  if (k > kMaxInner)
    return error(Code::too_large, "k = " + std::to_string(k) + " could overflow the int32 accumulators; at most " +
                                      std::to_string(kMaxInner));
  if (device == Device::cuda)
    return run_on_cuda("int8 matmul", [&] { return gemm_i8_cuda(a, m, b, n, k, c); });
  if (m == 0 || n == 0) return Status::success();
  gemm(active_kernels(), a, m, b, n, k, c);
  return Status::success();
}

Status matmul_dequantize(const int32_t* acc, int64_t m, int64_t n, const float* row_stats_a,
                         const float* row_stats_b, float* out) {
  KQ_RETURN_IF_ERROR(check_dims(m, n, "m", "n"));
  KQ_RETURN_IF_ERROR(check_row_stats(row_stats_a, m, "rowStatsA"));
  KQ_RETURN_IF_ERROR(check_row_stats(row_stats_b, n, "rowStatsB"));
  if (n == 0) return Status::success();
  parallel_for(m, std::max<int64_t>(1, 16384 / n), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < n; ++j) out[i * n + j] = mm_dequant_one(acc[i * n + j], row_stats_a[i], row_stats_b[j]);
  });
  return Status::success();
}

Status linear(const LinearArgs& x) {
  KQ_RETURN_IF_ERROR(check_dims(x.m, x.outliers, "m", "outliers"));
  KQ_RETURN_IF_ERROR(check_dims(x.n, x.outliers, "n", "outliers"));
  std::vector<int32_t> acc;
  try {
    acc.resize(static_cast<size_t>(std::max<int64_t>(0, x.m) * std::max<int64_t>(0, x.n)));
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "int8 linear: no memory for the int32 accumulators");
  }
  KQ_RETURN_IF_ERROR(matmul_i32(x.a, x.m, x.b, x.n, x.k, acc.data(), x.device));
  KQ_RETURN_IF_ERROR(matmul_dequantize(acc.data(), x.m, x.n, x.row_stats_a, x.row_stats_b, x.out));
  if (x.outliers == 0 || x.m == 0 || x.n == 0) return Status::success();
  const int64_t o = x.outliers;
  uint32_t bad = 0;
  for (int64_t i = 0; i < x.m * o; ++i) bad |= std::isfinite(x.a_outliers[i]) ? 0u : 1u;
  for (int64_t i = 0; i < x.n * o; ++i) bad |= std::isfinite(x.b_outliers[i]) ? 0u : 1u;
  if (bad) return error(Code::non_finite, "int8 linear: the outlier columns hold NaN or Inf");
  parallel_for(x.m, std::max<int64_t>(1, 4096 / (x.n * o + 1)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < x.n; ++j) {
        double s = 0.0;
        for (int64_t c = 0; c < o; ++c)
          s += static_cast<double>(x.a_outliers[i * o + c]) * static_cast<double>(x.b_outliers[j * o + c]);
        x.out[i * x.n + j] = static_cast<float>(static_cast<double>(x.out[i * x.n + j]) + s);
      }
  });
  return Status::success();
}

}  // namespace kq::int8mm
