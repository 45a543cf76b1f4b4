// The scalar reference of the conversions: core/half.h applied element by element.
#include "../../core/half.h"
#include "convert.h"

namespace kq::convert {
namespace {

void f32_to_f16_ref(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16_bits(src[i]);
}
void f16_to_f32_ref(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_bits_to_f32(src[i]);
}
void f32_to_bf16_ref(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16_bits(src[i]);
}
void bf16_to_f32_ref(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_f32(src[i]);
}

}  // namespace

const Kernels kernels_ref = {f32_to_f16_ref, f16_to_f32_ref, f32_to_bf16_ref, bf16_to_f32_ref};

}  // namespace kq::convert
