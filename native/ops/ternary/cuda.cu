// The ternary GEMV on CUDA for m = 1 … 16 per launch (larger m loops over launches): the same masks and the
// same host-quantized activations as the CPU kernels (ternary.h), so the result is the reference's bits.
// Compiled, not yet run on a GPU.
//
// One warp per output row; lane l walks the row's blocks l, l + 32, … (the warp reads 32 consecutive
// 16-byte mask pairs, 512 contiguous bytes). Within a block each 4-column nibble of plus/minus becomes a
// 32-bit byte mask (a 16-entry table), and for each x row
//   v = __vsub4(x & plus_bytes, x & minus_bytes)    per byte: +x, −x or 0 — no multiplication by a weight
//   acc = __dp4a(v, 0x01010101, acc)                 the four bytes summed (× the constant 1) into int32
// Partial dots are summed with warp shuffles (integers: order does not matter) and lane 0 applies scale_dot.
// x (≤ 16 rows of int8) is read through the read-only cache; the weight masks are read once per call.
#include <cuda_runtime.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>

#include "../../core/cuda_check.cuh"
#include "ternary.h"

namespace kq::ternary {
namespace {

constexpr int kWarpsPerBlock = 8;

struct CudaTernary {
  int device = 0;
  DeviceBuffer masks, scales;
  std::mutex mutex;  // calls on one weight take turns on the per-call buffers
  std::unique_ptr<DeviceBuffer> xq, xscale, y;
};

Status reserve(std::unique_ptr<DeviceBuffer>* buffer, size_t bytes) {
  if (*buffer && (*buffer)->bytes() >= bytes) return Status::success();
  buffer->reset();
  auto fresh = std::make_unique<DeviceBuffer>();
  KQ_RETURN_IF_ERROR(fresh->allocate(bytes));
  *buffer = std::move(fresh);
  return Status::success();
}

// Byte j = 0xff where bit j of the nibble is set.
__constant__ uint32_t kNibbleBytes[16] = {
    0x00000000u, 0x000000ffu, 0x0000ff00u, 0x0000ffffu, 0x00ff0000u, 0x00ff00ffu, 0x00ffff00u, 0x00ffffffu,
    0xff000000u, 0xff0000ffu, 0xff00ff00u, 0xff00ffffu, 0xffff0000u, 0xffff00ffu, 0xffffff00u, 0xffffffffu};

__device__ __forceinline__ float scale_dot_device(int32_t dot, float w_scale, float x_scale) {
  const float scaled = __fmul_rn(static_cast<float>(dot), w_scale);  // _rn: never contracted, as on the CPU
  return __fdiv_rn(scaled, x_scale);
}

__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    ternary_gemv(const ulonglong2* __restrict__ masks, const float* __restrict__ scales,
                 const int8_t* __restrict__ xq, const float* __restrict__ xscale, float* __restrict__ y,
                 int64_t n, int64_t blocks, int m) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= n) return;
  const int64_t kp = blocks * kBlock;
  int32_t acc[kMaxCudaM];
#pragma unroll
  for (int i = 0; i < kMaxCudaM; ++i) acc[i] = 0;
  for (int64_t b = lane; b < blocks; b += 32) {
    const ulonglong2 pm = masks[row * blocks + b];  // x = plus, y = minus
#pragma unroll 4
    for (int q = 0; q < 16; ++q) {
      const uint32_t plus = kNibbleBytes[(pm.x >> (4 * q)) & 15u];
      const uint32_t minus = kNibbleBytes[(pm.y >> (4 * q)) & 15u];
      if ((plus | minus) == 0) continue;
#pragma unroll
      for (int i = 0; i < kMaxCudaM; ++i) {
        if (i < m) {
          const uint32_t x = __ldg(reinterpret_cast<const uint32_t*>(xq + i * kp + b * kBlock) + q);
          acc[i] = __dp4a(static_cast<int>(__vsub4(x & plus, x & minus)), 0x01010101, acc[i]);
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kMaxCudaM; ++i) {
    if (i < m) {
      int32_t v = acc[i];
      for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
      if (lane == 0) y[i * n + row] = scale_dot_device(v, scales[row], xscale[i]);
    }
  }
}

}  // namespace

Status upload_cuda(PreparedTernary* w) {
  auto d = std::make_unique<CudaTernary>();
  KQ_CUDA_TRY(cudaGetDevice(&d->device));
  cudaDeviceProp prop{};
  KQ_CUDA_TRY(cudaGetDeviceProperties(&prop, d->device));
  if (prop.major < 8)
    return error(Code::cuda_unavailable, "prepareTernaryWeights: kquant's CUDA kernels are built for compute "
                                         "capability 8.0+; device " + std::to_string(d->device) + " (" + prop.name +
                                             ") is " + std::to_string(prop.major) + "." + std::to_string(prop.minor));
  KQ_RETURN_IF_ERROR(d->masks.upload(w->masks.data(), w->masks.size() * sizeof(uint64_t)));
  KQ_RETURN_IF_ERROR(d->scales.upload(w->scales.data(), w->scales.size() * sizeof(float)));
  w->cuda_bytes = static_cast<int64_t>(d->masks.bytes() + d->scales.bytes());
  w->cuda = std::shared_ptr<void>(d.release(), [](void* p) { delete static_cast<CudaTernary*>(p); });
  std::vector<uint64_t>().swap(w->masks);  // the host masks were only the source of the upload
  return Status::success();
}

Status matmul_cuda(const CallArgs& a) {
  const PreparedTernary& w = *a.w;
  auto* d = static_cast<CudaTernary*>(w.cuda.get());
  if (!d) return error(Code::internal, "ternary matmul: the CUDA weight has no device buffers");
  const std::lock_guard<std::mutex> lock(d->mutex);
  KQ_CUDA_TRY(cudaSetDevice(d->device));
  const int64_t kp = w.blocks * kBlock, m = a.m;
  KQ_RETURN_IF_ERROR(reserve(&d->xq, static_cast<size_t>(m * kp)));
  KQ_RETURN_IF_ERROR(reserve(&d->xscale, static_cast<size_t>(m) * sizeof(float)));
  KQ_RETURN_IF_ERROR(reserve(&d->y, static_cast<size_t>(m * w.n) * sizeof(float)));
  KQ_CUDA_TRY(cudaMemcpy(d->xq->as<int8_t>(), a.xq, static_cast<size_t>(m * kp), cudaMemcpyHostToDevice));
  KQ_CUDA_TRY(cudaMemcpy(d->xscale->as<float>(), a.xscale, static_cast<size_t>(m) * sizeof(float), cudaMemcpyHostToDevice));
  const unsigned grid = static_cast<unsigned>((w.n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  for (int64_t i0 = 0; i0 < m; i0 += kMaxCudaM) {
    const int rows = static_cast<int>(std::min<int64_t>(kMaxCudaM, m - i0));
    ternary_gemv<<<grid, kWarpsPerBlock * 32>>>(d->masks.as<ulonglong2>(), d->scales.as<float>(),
                                                d->xq->as<int8_t>() + i0 * kp, d->xscale->as<float>() + i0,
                                                d->y->as<float>() + i0 * w.n, w.n, w.blocks, rows);
  }
  KQ_RETURN_IF_ERROR(cuda_check_launch("ternary_gemv"));
  return d->y->download(a.y, static_cast<size_t>(m * w.n) * sizeof(float));
}

}  // namespace kq::ternary
