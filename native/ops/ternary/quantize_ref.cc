// The scalar reference of the BitNet quantizers (quantize.h): the spec the AVX2, AVX-512 and CUDA variants
// are tested against. Each row is read in the defined lane order, so the f64 sums are the SIMD ones.
#include <cmath>

#include "quantize.h"

namespace kq::ternary {
namespace {

void row_sums_ref(const float* w, int64_t k, double* sum, double* sum_abs) {
  double lanes[kSumLanes] = {}, lanes_abs[kSumLanes] = {};
  for (int64_t c = 0; c + kSumLanes <= k; c += kSumLanes)
    for (int64_t j = 0; j < kSumLanes; ++j) {
      lanes[j] += static_cast<double>(w[c + j]);
      lanes_abs[j] += std::fabs(static_cast<double>(w[c + j]));
    }
  finish_row_sums(lanes, lanes_abs, w, k, sum, sum_abs);
}

void ternary_row_ref(const float* w, int64_t k, double divisor, int8_t* trits) {
  // nearbyint in the default rounding mode: half to even, as torch.round.
  for (int64_t c = 0; c < k; ++c)
    trits[c] = static_cast<int8_t>(std::fmin(1.0, std::fmax(-1.0, std::nearbyint(static_cast<double>(w[c]) / divisor))));
}

void binary_row_ref(const float* w, int64_t k, double alpha, int8_t* trits) {
  for (int64_t c = 0; c < k; ++c) trits[c] = static_cast<double>(w[c]) - alpha > 0 ? 1 : -1;
}

void dequantize_row_ref(const int8_t* trits, int64_t k, float scale, float* out) {
  for (int64_t c = 0; c < k; ++c) out[c] = static_cast<float>(trits[c]) * scale;
}

}  // namespace

const QuantKernels quant_kernels_ref = {row_sums_ref, ternary_row_ref, binary_row_ref, dequantize_row_ref};

}  // namespace kq::ternary
