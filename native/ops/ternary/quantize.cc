// The BitNet quantizer driver (quantize.h): checks, one pass of row sums spread over the pool, the scales
// and per-row parameters in row order (row_parameters, shared with CUDA), then one pass of rows writing
// trits. Rows own disjoint outputs and every sum is formed inside one row or in row order afterwards, so any
// thread split gives the same bits. Device cuda runs quantize_cuda / dequantize_cuda on the same definitions.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../../core/cpu_features.h"  // kernels_for_level
#include "../../core/cuda_runtime.h"
#include "../../core/thread_pool.h"
#include "quantize.h"

namespace kq::ternary {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

// Elements per parallel_for grain: enough rows that a chunk is worth a thread hand-off.
int64_t row_grain(int64_t k) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(k, 1)); }

Status check_shape(int64_t n, int64_t k) {
  if (n < 1 || k < 1) return error(Code::shape, "n and k must be >= 1, got n = " + str(n) + ", k = " + str(k));
  if (n > (int64_t(1) << 40) / k) return error(Code::too_large, "n · k is too large");
  return Status::success();
}

// The first non-finite weight, named as lib/ops/ternary.ts always has.
Status non_finite_weight(const float* w, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(w[i]))
      return error(Code::non_finite, "Expected finite weights but weight[" + str(i) + "] is " +
                                         (std::isnan(w[i]) ? "NaN" : (w[i] > 0 ? "Infinity" : "-Infinity")));
  return error(Code::internal, "a row sum was not finite but no weight is");
}

}  // namespace

const QuantKernels& active_quant_kernels() {
  return kernels_for_level(quant_kernels_ref, quant_kernels_avx2, quant_kernels_avx512);
}

Status row_parameters(const QuantizeArgs& a, const double* sums, const double* sums_abs, double* params) {
  // Σ|w| of finite f32 values cannot overflow f64 at these sizes, so a non-finite sum means a non-finite weight.
  for (int64_t row = 0; row < a.n; ++row)
    if (!std::isfinite(sums_abs[row])) return non_finite_weight(a.w, a.n * a.k);
  const int64_t groups = a.per_row ? a.n : 1;
  const auto per = static_cast<double>(a.per_row ? a.k : a.n * a.k);
  for (int64_t g = 0; g < groups; ++g) {
    double sum = sums[g], sum_abs = sums_abs[g];
    if (!a.per_row) {
      for (int64_t row = 1; row < a.n; ++row) {
        sum += sums[row];
        sum_abs += sums_abs[row];
      }
    }
    a.scales[g] = static_cast<float>(sum_abs / per);
    const double param = a.scheme == Scheme::ternary ? static_cast<double>(a.scales[g]) + kEpsilon : sum / per;
    if (a.per_row) {
      params[g] = param;
    } else {
      for (int64_t row = 0; row < a.n; ++row) params[row] = param;
    }
  }
  return Status::success();
}

Status quantize(const QuantizeArgs& a) {
  KQ_RETURN_IF_ERROR(check_shape(a.n, a.k));
  if (!a.w || !a.trits || !a.scales) return error(Code::invalid_argument, "weight, trits and scales are required");
  if (a.device == Device::cuda) return run_on_cuda("quantizeTernary", [&] { return quantize_cuda(a); });
  const QuantKernels& kern = a.kernels ? *a.kernels : active_quant_kernels();
  std::vector<double> sums, sums_abs, params;
  try {
    sums.resize(static_cast<size_t>(a.n));
    sums_abs.resize(static_cast<size_t>(a.n));
    params.resize(static_cast<size_t>(a.n));
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "quantizeTernary: no memory for the row sums");
  }
  const int64_t grain = row_grain(a.k);
  parallel_for(a.n, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) kern.row_sums(a.w + row * a.k, a.k, &sums[row], &sums_abs[row]);
  });
  KQ_RETURN_IF_ERROR(row_parameters(a, sums.data(), sums_abs.data(), params.data()));
  const auto row_kernel = a.scheme == Scheme::ternary ? kern.ternary_row : kern.binary_row;
  parallel_for(a.n, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) row_kernel(a.w + row * a.k, a.k, params[row], a.trits + row * a.k);
  });
  return Status::success();
}

Status dequantize(const DequantizeArgs& a) {
  KQ_RETURN_IF_ERROR(check_shape(a.n, a.k));
  if (!a.trits || !a.scales || !a.out) return error(Code::invalid_argument, "trits, scales and out are required");
  if (a.scales_len != 1 && a.scales_len != a.n)
    return error(Code::length, "scales has " + str(a.scales_len) + " elements; expected 1 or n = " + str(a.n));
  if (a.device == Device::cuda) return run_on_cuda("dequantizeTernary", [&] { return dequantize_cuda(a); });
  const QuantKernels& kern = a.kernels ? *a.kernels : active_quant_kernels();
  parallel_for(a.n, row_grain(a.k), [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row)
      kern.dequantize_row(a.trits + row * a.k, a.k, a.scales[a.scales_len == 1 ? 0 : row], a.out + row * a.k);
  });
  return Status::success();
}

}  // namespace kq::ternary
