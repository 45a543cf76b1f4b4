// f32 <-> f16 / bf16 conversion of whole arrays, round-to-nearest-even with NaN, Inf and subnormals exact
// (core/half.h is the per-element spec). f16 and bf16 are carried as their 16-bit patterns.
#pragma once
#include <cstdint>

#include "../../core/status.h"
#include "../../core/tensor.h"

namespace kq::convert {

enum class Half : int32_t { f16 = 0, bf16 = 1 };

struct Kernels {
  void (*f32_to_f16)(const float* src, uint16_t* dst, int64_t n);
  void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n);
  void (*f32_to_bf16)(const float* src, uint16_t* dst, int64_t n);
  void (*bf16_to_f32)(const uint16_t* src, float* dst, int64_t n);
};

extern const Kernels kernels_ref;
extern const Kernels kernels_avx2;
extern const Kernels kernels_avx512;

const Kernels& active_kernels();

Status to_half(const float* src, uint16_t* dst, int64_t n, Half kind, Device device);
Status from_half(const uint16_t* src, float* dst, int64_t n, Half kind, Device device);

// Defined in cuda.cu, only in builds with CUDA; drivers reach them through run_on_cuda.
Status to_half_cuda(const float* src, uint16_t* dst, int64_t n, Half kind);
Status from_half_cuda(const uint16_t* src, float* dst, int64_t n, Half kind);

}  // namespace kq::convert
