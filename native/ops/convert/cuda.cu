// CUDA conversions f32 <-> f16 / bf16. The entry points take host pointers: they upload, convert and
// download. Each element goes through core/half.h, the bit-exact spec the CPU paths are tested against,
// rather than cuda_fp16 intrinsics whose NaN payloads are not guaranteed to match it.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "../../core/cuda_check.cuh"
#include "../../core/half.h"
#include "convert.h"

namespace kq::convert {
namespace {

constexpr int kThreads = 256;
// Grid-stride loops cover any size; more blocks than this only add scheduling overhead.
constexpr int64_t kMaxBlocks = 1 << 16;

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::min((n + kThreads - 1) / kThreads, kMaxBlocks));
}

// A byte count that wraps size_t would make cudaMalloc succeed with a tiny buffer.
Status check_bytes(int64_t n) {
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / sizeof(float))
    return error(Code::too_large, "array of " + std::to_string(n) + " elements is too large for CUDA");
  return Status::success();
}

template <Half kKind>
__global__ void to_half_kernel(const float* __restrict__ src, uint16_t* __restrict__ dst, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = kKind == Half::f16 ? f32_to_f16_bits(src[i]) : f32_to_bf16_bits(src[i]);
}

template <Half kKind>
__global__ void from_half_kernel(const uint16_t* __restrict__ src, float* __restrict__ dst, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = kKind == Half::f16 ? f16_bits_to_f32(src[i]) : bf16_bits_to_f32(src[i]);
}

}  // namespace

Status to_half_cuda(const float* src, uint16_t* dst, int64_t n, Half kind) {
  if (n == 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(n));
  DeviceBuffer d_src, d_dst;
  KQ_RETURN_IF_ERROR(d_src.upload(src, static_cast<size_t>(n) * sizeof(float)));
  KQ_RETURN_IF_ERROR(d_dst.allocate(static_cast<size_t>(n) * sizeof(uint16_t)));
  if (kind == Half::f16)
    to_half_kernel<Half::f16><<<blocks_for(n), kThreads>>>(d_src.as<float>(), d_dst.as<uint16_t>(), n);
  else
    to_half_kernel<Half::bf16><<<blocks_for(n), kThreads>>>(d_src.as<float>(), d_dst.as<uint16_t>(), n);
  KQ_RETURN_IF_ERROR(cuda_check_launch("to_half_kernel"));
  return d_dst.download(dst, static_cast<size_t>(n) * sizeof(uint16_t));
}

Status from_half_cuda(const uint16_t* src, float* dst, int64_t n, Half kind) {
  if (n == 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(n));
  DeviceBuffer d_src, d_dst;
  KQ_RETURN_IF_ERROR(d_src.upload(src, static_cast<size_t>(n) * sizeof(uint16_t)));
  KQ_RETURN_IF_ERROR(d_dst.allocate(static_cast<size_t>(n) * sizeof(float)));
  if (kind == Half::f16)
    from_half_kernel<Half::f16><<<blocks_for(n), kThreads>>>(d_src.as<uint16_t>(), d_dst.as<float>(), n);
  else
    from_half_kernel<Half::bf16><<<blocks_for(n), kThreads>>>(d_src.as<uint16_t>(), d_dst.as<float>(), n);
  KQ_RETURN_IF_ERROR(cuda_check_launch("from_half_kernel"));
  return d_dst.download(dst, static_cast<size_t>(n) * sizeof(float));
}

}  // namespace kq::convert
