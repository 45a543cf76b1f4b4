// CUDA int8 GEMM of LLM.int8(): C_i32[m, n] = A_i8[m, k] · B_i8[n, k]ᵀ with __dp4a (4 signed bytes per
// instruction, sm_61+). The entry point takes host pointers (as the CPU driver does): it uploads, runs and
// downloads. Integer sums are exact in any order (k <= kMaxInner keeps every partial sum inside int32), so
// the result equals the CPU kernels bit for bit.
//
// Tiling: a block of 16×16 threads owns a 64 (A rows) × 64 (B rows) tile of C, each thread a 4×4 strided
// sub-tile. The k dimension is walked in steps of 32 bytes (8 packed words per row) staged in shared memory;
// rows past m or n and bytes past k are staged as zero, so any m, n, k works.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "../../core/cuda_check.cuh"
#include "int8mm.h"

namespace kq::int8mm {
namespace {

constexpr int kTile = 64;               // rows of A and of B per block
constexpr int kStepBytes = 32;          // k bytes per shared-memory step
constexpr int kStepWords = kStepBytes / 4;
constexpr int kThreadsSide = 16;        // 16×16 threads
constexpr int kThreads = kThreadsSide * kThreadsSide;
constexpr int kPerThread = kTile / kThreadsSide;  // 4×4 outputs per thread
constexpr int64_t kMaxBlocks = int64_t(1) << 20;  // tiles beyond this are walked by a block-stride loop

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Four bytes of row `row` starting at column p packed little-endian into a word, zero past k; `aligned`
// (k % 4 == 0, buffers from cudaMalloc) allows one 32-bit load for full words.
template <bool aligned>
__device__ __forceinline__ int load_word(const int8_t* __restrict__ row, int64_t p, int64_t k) {
  if (aligned) {
    if (p < k) return *reinterpret_cast<const int*>(row + p);  // k % 4 == 0: the whole word is in range
    return 0;
  }
  uint32_t w = 0;
#pragma unroll
  for (int s = 0; s < 4; ++s)
    if (p + s < k) w |= static_cast<uint32_t>(static_cast<uint8_t>(row[p + s])) << (8 * s);
  return static_cast<int>(w);
}

// Stages rows [row0, row0 + kTile) × bytes [k0, k0 + kStepBytes) of x (rows of length k, `rows` in all).
template <bool aligned>
__device__ __forceinline__ void stage(const int8_t* __restrict__ x, int64_t rows, int64_t k, int64_t row0,
                                      int64_t k0, int (*tile)[kStepWords + 1]) {
  for (int idx = threadIdx.y * kThreadsSide + threadIdx.x; idx < kTile * kStepWords; idx += kThreads) {
    const int r = idx / kStepWords, w = idx % kStepWords;
    const int64_t row = row0 + r;
    tile[r][w] = row < rows ? load_word<aligned>(x + row * k, k0 + 4 * w, k) : 0;
  }
}

template <bool aligned>
__global__ void gemm_i8_dp4a(const int8_t* __restrict__ a, int64_t m, const int8_t* __restrict__ b, int64_t n,
                             int64_t k, int64_t tiles_n, int64_t tiles, int32_t* __restrict__ c) {
  // +1 word of padding: threads reading B rows tx + 16j hit distinct banks (stride 9 is odd).
  __shared__ int as[kTile][kStepWords + 1];
  __shared__ int bs[kTile][kStepWords + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {  // uniform per block: safe around syncs
    const int64_t i0 = (tile / tiles_n) * kTile, j0 = (tile % tiles_n) * kTile;
    int acc[kPerThread][kPerThread] = {};
    for (int64_t k0 = 0; k0 < k; k0 += kStepBytes) {
      stage<aligned>(a, m, k, i0, k0, as);
      stage<aligned>(b, n, k, j0, k0, bs);
      __syncthreads();
#pragma unroll
      for (int w = 0; w < kStepWords; ++w) {
        int av[kPerThread], bv[kPerThread];
#pragma unroll
        for (int s = 0; s < kPerThread; ++s) {
          av[s] = as[ty + kThreadsSide * s][w];
          bv[s] = bs[tx + kThreadsSide * s][w];
        }
#pragma unroll
        for (int s = 0; s < kPerThread; ++s)
#pragma unroll
          for (int t = 0; t < kPerThread; ++t) acc[s][t] = __dp4a(av[s], bv[t], acc[s][t]);
      }
      __syncthreads();
    }
#pragma unroll
    for (int s = 0; s < kPerThread; ++s) {
      const int64_t i = i0 + ty + kThreadsSide * s;
      if (i >= m) continue;
#pragma unroll
      for (int t = 0; t < kPerThread; ++t) {
        const int64_t j = j0 + tx + kThreadsSide * t;
        if (j < n) c[i * n + j] = acc[s][t];
      }
    }
  }
}

// A byte count that wraps size_t would make cudaMalloc succeed with a tiny buffer.
Status check_bytes(int64_t count, size_t element, const char* what) {
  if (count < 0 || static_cast<uint64_t>(count) > std::numeric_limits<size_t>::max() / element)
    return error(Code::too_large, std::string("int8 matmul: ") + what + " of " + std::to_string(count) +
                                      " elements is too large for CUDA");
  return Status::success();
}

}  // namespace

Status gemm_i8_cuda(const int8_t* a, int64_t m, const int8_t* b, int64_t n, int64_t k, int32_t* c) {
  if (m <= 0 || n <= 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(m * k, 1, "a"));
  KQ_RETURN_IF_ERROR(check_bytes(n * k, 1, "b"));
  KQ_RETURN_IF_ERROR(check_bytes(m * n, sizeof(int32_t), "c"));
  const size_t a_bytes = static_cast<size_t>(m * k), b_bytes = static_cast<size_t>(n * k);
  const size_t c_bytes = static_cast<size_t>(m * n) * sizeof(int32_t);
  DeviceBuffer da, db, dc;
  KQ_RETURN_IF_ERROR(da.upload(a, a_bytes));
  KQ_RETURN_IF_ERROR(db.upload(b, b_bytes));
  KQ_RETURN_IF_ERROR(dc.allocate(c_bytes));
  const int64_t tiles_n = ceil_div(n, kTile);
  const int64_t tiles = ceil_div(m, kTile) * tiles_n;
  const dim3 block(kThreadsSide, kThreadsSide);
  const unsigned grid = static_cast<unsigned>(std::min(tiles, kMaxBlocks));
  // cudaMalloc returns 256-byte aligned buffers, so with k % 4 == 0 every row starts on a word.
  if (k % 4 == 0)
    gemm_i8_dp4a<true><<<grid, block>>>(da.as<int8_t>(), m, db.as<int8_t>(), n, k, tiles_n, tiles, dc.as<int32_t>());
  else
    gemm_i8_dp4a<false><<<grid, block>>>(da.as<int8_t>(), m, db.as<int8_t>(), n, k, tiles_n, tiles, dc.as<int32_t>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("gemm_i8_dp4a"));
  return dc.download(c, c_bytes);
}

}  // namespace kq::int8mm
