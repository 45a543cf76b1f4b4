// The ternary GEMV on CUDA for m = 1 … 16 per launch (larger m loops over launches): the same bit planes and
// the same host-quantized activations as the CPU kernels (ternary.h), so the result is the reference's bits.
// Compiled, not yet run on a GPU.
//
// One warp per 32-row tile, lane = row: per quad the warp reads the tile's plus and minus planes (64
// contiguous bytes each) and every lane the same 16 activations of each x row (a broadcast through the
// read-only cache). Each 4-bit nibble of a lane's planes becomes a 32-bit byte mask (nibble_bytes), and
//   v = __vsub4(x & plus_bytes, x & minus_bytes)    per byte: +x, −x or 0 — no multiplication by a weight
//   acc = __dp4a(v, 0x01010101, acc)                 the four bytes summed (× the constant 1) into int32
// Each lane owns its row's sums, so no reduction is needed; it applies scale_dot as the CPU does.
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
  DeviceBuffer planes, scales;
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

// Byte j = 0xff where bit j of the nibble is set: each bit moved to the bottom of its byte, then a per-byte
// compare (lanes index different nibbles, so a table in constant memory would serialize).
__device__ __forceinline__ uint32_t nibble_bytes(uint32_t nibble) {
  return __vcmpne4((nibble | (nibble << 7) | (nibble << 14) | (nibble << 21)) & 0x01010101u, 0u);
}

__device__ __forceinline__ float scale_dot_device(int32_t dot, float w_scale, float x_scale) {
  const float scaled = __fmul_rn(static_cast<float>(dot), w_scale);  // _rn: never contracted, as on the CPU
  return __fdiv_rn(scaled, x_scale);
}

__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    ternary_gemv(const uint16_t* __restrict__ planes, const float* __restrict__ scales,
                 const int8_t* __restrict__ xq, const float* __restrict__ xscale, float* __restrict__ y,
                 int64_t n, int64_t tiles, int64_t quads, int m) {
  const int lane = threadIdx.x & 31;
  const int64_t tile = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (tile >= tiles) return;
  const int64_t kp = quads * kQuad;
  int32_t acc[kMaxCudaM];
#pragma unroll
  for (int i = 0; i < kMaxCudaM; ++i) acc[i] = 0;
  const uint16_t* tile_planes = planes + tile * quads * 2 * kTileRows;
  for (int64_t q = 0; q < quads; ++q) {
    const uint32_t plus = tile_planes[q * 2 * kTileRows + lane];
    const uint32_t minus = tile_planes[q * 2 * kTileRows + kTileRows + lane];
#pragma unroll
    for (int g = 0; g < 4; ++g) {
      const uint32_t pb = nibble_bytes((plus >> (4 * g)) & 15u);
      const uint32_t mb = nibble_bytes((minus >> (4 * g)) & 15u);
#pragma unroll
      for (int i = 0; i < kMaxCudaM; ++i) {
        if (i < m) {
          const uint32_t x = __ldg(reinterpret_cast<const uint32_t*>(xq + i * kp + q * kQuad) + g);
          acc[i] = __dp4a(static_cast<int>(__vsub4(x & pb, x & mb)), 0x01010101, acc[i]);
        }
      }
    }
  }
  const int64_t row = tile * kTileRows + lane;
  if (row >= n) return;
#pragma unroll
  for (int i = 0; i < kMaxCudaM; ++i)
    if (i < m) y[i * n + row] = scale_dot_device(acc[i], scales[row], xscale[i]);
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
  KQ_RETURN_IF_ERROR(d->planes.upload(w->planes.data(), w->planes.size() * sizeof(uint16_t)));
  KQ_RETURN_IF_ERROR(d->scales.upload(w->scales.data(), w->scales.size() * sizeof(float)));
  w->cuda_bytes = static_cast<int64_t>(d->planes.bytes() + d->scales.bytes());
  w->cuda = std::shared_ptr<void>(d.release(), [](void* p) { delete static_cast<CudaTernary*>(p); });
  std::vector<uint16_t>().swap(w->planes);  // the host planes were only the source of the upload
  return Status::success();
}

Status matmul_cuda(const CallArgs& a) {
  const PreparedTernary& w = *a.w;
  auto* d = static_cast<CudaTernary*>(w.cuda.get());
  if (!d) return error(Code::internal, "ternary matmul: the CUDA weight has no device buffers");
  const std::lock_guard<std::mutex> lock(d->mutex);
  KQ_CUDA_TRY(cudaSetDevice(d->device));
  const int64_t kp = w.quads * kQuad, m = a.m;
  KQ_RETURN_IF_ERROR(reserve(&d->xq, static_cast<size_t>(m * kp)));
  KQ_RETURN_IF_ERROR(reserve(&d->xscale, static_cast<size_t>(m) * sizeof(float)));
  KQ_RETURN_IF_ERROR(reserve(&d->y, static_cast<size_t>(m * w.n) * sizeof(float)));
  KQ_CUDA_TRY(cudaMemcpy(d->xq->as<int8_t>(), a.xq, static_cast<size_t>(m * kp), cudaMemcpyHostToDevice));
  KQ_CUDA_TRY(cudaMemcpy(d->xscale->as<float>(), a.xscale, static_cast<size_t>(m) * sizeof(float), cudaMemcpyHostToDevice));
  const unsigned grid = static_cast<unsigned>((w.tiles + kWarpsPerBlock - 1) / kWarpsPerBlock);
  for (int64_t i0 = 0; i0 < m; i0 += kMaxCudaM) {
    const int rows = static_cast<int>(std::min<int64_t>(kMaxCudaM, m - i0));
    ternary_gemv<<<grid, kWarpsPerBlock * 32>>>(d->planes.as<uint16_t>(), d->scales.as<float>(),
                                                d->xq->as<int8_t>() + i0 * kp, d->xscale->as<float>() + i0,
                                                d->y->as<float>() + i0 * w.n, w.n, w.tiles, w.quads, rows);
  }
  KQ_RETURN_IF_ERROR(cuda_check_launch("ternary_gemv"));
  return d->y->download(a.y, static_cast<size_t>(m * w.n) * sizeof(float));
}

}  // namespace kq::ternary
