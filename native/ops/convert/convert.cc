// CPU driver of the conversions: the active kernel table over pieces of the array on the thread pool.
#include "convert.h"

#include "../../core/cpu_features.h"
#include "../../core/cuda_runtime.h"
#include "../../core/thread_pool.h"

namespace kq::convert {
namespace {

constexpr int64_t kGrain = 1 << 15;

}  // namespace

const Kernels& active_kernels() { return kernels_for_level(kernels_ref, kernels_avx2, kernels_avx512); }

Status to_half(const float* src, uint16_t* dst, int64_t n, Half kind, Device device) {
  if (n < 0) return error(Code::shape, "element count is negative");
  if (device == Device::cuda) return run_on_cuda("convert", [&] { return to_half_cuda(src, dst, n, kind); });
  const Kernels& k = active_kernels();
  const auto fn = kind == Half::f16 ? k.f32_to_f16 : k.f32_to_bf16;
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { fn(src + b, dst + b, e - b); });
  return Status::success();
}

Status from_half(const uint16_t* src, float* dst, int64_t n, Half kind, Device device) {
  if (n < 0) return error(Code::shape, "element count is negative");
  if (device == Device::cuda) return run_on_cuda("convert", [&] { return from_half_cuda(src, dst, n, kind); });
  const Kernels& k = active_kernels();
  const auto fn = kind == Half::f16 ? k.f16_to_f32 : k.bf16_to_f32;
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { fn(src + b, dst + b, e - b); });
  return Status::success();
}

}  // namespace kq::convert
