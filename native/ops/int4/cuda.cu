// CUDA int4 GEMV / GEMM: y [m, n] = x [m, k] · dequant(W)ᵀ (+ bias) on a weight uploaded once by prepare().
// Calls move only x, bias and y. Both kernels read one device layout, made from the host-prepared weight
// (int4.h: columns sorted by group, padded to blocks of 32) by upload_cuda:
//
//  * packed nibbles [slice][k-tile][thread][16 bytes]: a slice is 128 output rows (one thread block of
//    8 warps, 16 rows each), a k-tile 64 prepared columns (4 mma k-steps of 16). Each thread's 16 bytes are
//    exactly its B fragments of mma.sync.m16n8k16 for its warp's two n8 sub-tiles and the 4 k-steps (as in
//    Marlin's offline permutation, IST-DASLab/marlin marlin_cuda_kernel.cu, here with a layout of our own):
//    word j (k-step j) holds, for g = lane / 4, t = lane % 4, kc = 64·kt + 16·j + 2t and rows
//    r0 = 128·slice + 16·warp + g, r1 = r0 + 8, the codes at nibble positions
//        0: (r0, kc)  4: (r0, kc+1)  1: (r0, kc+8)  5: (r0, kc+9)
//        2: (r1, kc)  6: (r1, kc+1)  3: (r1, kc+8)  7: (r1, kc+9)
//    so (word >> 4i) & 0x000f000f is the f16x2 pair of B register i (i = 0, 1: sub-tile 0; 2, 3: sub-tile 1).
//    A slice's k-tile is 4 KB contiguous: the block reads it with one coalesced 16-byte load per thread,
//    which is also the whole GEMV layout (no second copy of the weight);
//  * scale_zero [group][n_pad]: f16 scale in the low half, f16 (1024 + zero) in the high half;
//  * block_group [k-tiles · 2]: the group of each 32-column block; src_col [kp_pad]: x gather order.
//
// Dequantization by the magic-number trick (FasterTransformer / Marlin): 0x6400 | q is the f16 1024 + q (the
// ulp is 1 in [1024, 2048)), so subtracting the f16 1024 + zero gives q − zero exactly, with no conversion.
//
// Arithmetic and error (per output, with W = Σ_i |s·(q − z)·x_i| over the row):
//  * GEMV (m ≤ kMaxGemvRows): x in f32 (f16/bf16 widened exactly), (q − z) exact, f32 products summed per
//    k-step of 4 columns and scaled in f32: f32 rounding only, as the CPU 'float32' path (|Δ| ≲ 2e-6·W here).
//  * GEMM (m > kMaxGemvRows): mma.sync f16 × f16 → f32. x is rounded to f16 (x beyond ±65504 is refused) and
//    each weight s·(q − z) is rounded to f16 once (hmul2 of the exact difference), products are exact in
//    f32: |Δ| ≤ 2·2^-11·W + f32 accumulation, about 1e-3·W (f16 subnormals add 2^-25 per term).
// Split-k partial sums go to a buffer [splits][m][n] that a finishing kernel adds in a fixed order (with the
// bias, then rounds to f16/bf16 when asked), so results do not depend on block scheduling.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../../core/cuda_check.cuh"
#include "../../core/thread_pool.h"
#include "int4.h"

namespace kq::int4 {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kSliceRows = kWarps * 16;   // output rows per thread block
constexpr int kTileK = 64;                // prepared columns per k-tile
constexpr int kStages = 3;                // cp.async ring depth of the GEMM
constexpr int kXStride = kTileK + 8;      // halves per staged x row: the 16-byte skew puts ldmatrix rows on distinct banks
constexpr int kMaxGemvRows = 4;           // m up to this runs the GEMV kernel
constexpr int kMinTilesPerSplit = 4;      // a split-k part covers at least 256 columns
constexpr int64_t kMaxGridY = 65535;
static_assert(kThreads * 16 == kSliceRows * kTileK / 2, "one 16-byte load per thread covers a slice's k-tile");
static_assert(kTileK == 2 * kBlock, "block_group is indexed by k-tile · 2");

// The uploaded weight and the per-call buffers it reuses (grow-only; calls on one weight take turns).
struct CudaInt4 {
  int device = 0;
  int multiprocessors = 1;
  int64_t slices = 0, k_tiles = 0, n_pad = 0, kp_pad = 0;
  bool f16_weights = true;  // every s·(q − z) fits f16 (all |s| < 4096), which the GEMM needs
  DeviceBuffer packed, scale_zero, block_group, src_col;
  std::mutex mutex;
  std::unique_ptr<DeviceBuffer> x_raw, x_prepared, partial, y, bias, flag;
};

Status reserve(std::unique_ptr<DeviceBuffer>* buffer, size_t bytes) {
  if (*buffer && (*buffer)->bytes() >= bytes) return Status::success();
  buffer->reset();  // free the old one first: both need not fit at once
  auto fresh = std::make_unique<DeviceBuffer>();
  KQ_RETURN_IF_ERROR(fresh->allocate(bytes));
  *buffer = std::move(fresh);
  return Status::success();
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- device helpers ----

__device__ __forceinline__ half2 as_half2(uint32_t bits) {
  half2 h;
  memcpy(&h, &bits, sizeof h);
  return h;
}

__device__ __forceinline__ uint32_t as_bits(half2 h) {
  uint32_t bits;
  memcpy(&bits, &h, sizeof bits);
  return bits;
}

// B register `pair` of a packed word as the exact f16x2 (q − zero); zero_bias holds 1024 + zero twice.
__device__ __forceinline__ half2 codes_minus_zero(uint32_t word, int pair, half2 zero_bias) {
  return __hsub2(as_half2(((word >> (4 * pair)) & 0x000f000fu) | 0x64006400u), zero_bias);
}

// scale_zero entry → the scale and the 1024 + zero, each in both halves.
__device__ __forceinline__ half2 scale_of(uint32_t sz) { return as_half2((sz & 0xffffu) * 0x10001u); }
__device__ __forceinline__ half2 zero_of(uint32_t sz) { return as_half2((sz >> 16) * 0x10001u); }

__device__ __forceinline__ float load_x(const void* x, XType type, int64_t i) {
  const uint16_t* h = static_cast<const uint16_t*>(x);
  switch (type) {
    case XType::f16: return __half2float(__ushort_as_half(h[i]));
    case XType::bf16: return __uint_as_float(static_cast<uint32_t>(h[i]) << 16);
    case XType::f32: break;
  }
  return static_cast<const float*>(x)[i];
}

// x [m, k] → prepared column order [rows_out, kp_pad] (padding columns and rows past m are 0), as f32 for the
// GEMV or f16 for the GEMM. flag |= 1 for NaN/Inf, |= 2 for a finite value that f16 cannot hold.
__global__ void gather_x(const void* __restrict__ x, XType type, int64_t m, int64_t k,
                         const int32_t* __restrict__ src_col, int64_t kp_pad, int64_t rows_out, bool to_half,
                         void* __restrict__ out, uint32_t* __restrict__ flag) {
  const int64_t total = rows_out * kp_pad;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / kp_pad;
    const int32_t c = src_col[e % kp_pad];
    const float v = i < m && c >= 0 ? load_x(x, type, i * k + c) : 0.0f;
    if (v - v != 0.0f) atomicOr(flag, 1u);  // NaN for NaN and ±Inf
    if (to_half) {
      const __half h = __float2half_rn(v);
      if (__hisinf(h) && v - v == 0.0f) atomicOr(flag, 2u);
      static_cast<__half*>(out)[e] = h;
    } else {
      static_cast<float*>(out)[e] = v;
    }
  }
}

// ---- GEMV: m ≤ kMaxGemvRows, grid (slices, splits) ----

// Each thread keeps f32 sums for its two rows (r0, r1) and every x row over the k-tiles of its split; the 4
// lanes sharing a row (t = 0..3 cover different columns) are added with shuffles at the end.
__global__ void __launch_bounds__(kThreads) int4_gemv(const uint4* __restrict__ packed,
                                                      const uint32_t* __restrict__ scale_zero,
                                                      const int32_t* __restrict__ block_group,
                                                      const float* __restrict__ x, int m, int64_t kp_pad,
                                                      int64_t n_pad, int64_t n, int64_t k_tiles,
                                                      float* __restrict__ partial) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int64_t splits = gridDim.y, split = blockIdx.y;
  const int64_t kt0 = split * k_tiles / splits, kt1 = (split + 1) * k_tiles / splits;
  const int64_t r0 = int64_t(blockIdx.x) * kSliceRows + warp * 16 + g, r1 = r0 + 8;
  const uint4* src = packed + int64_t(blockIdx.x) * k_tiles * kThreads + threadIdx.x;
  float acc0[kMaxGemvRows] = {}, acc1[kMaxGemvRows] = {};
  // One tile ahead, so a load is in flight while the previous tile is computed. The weight is read once per
  // call: the streaming hint (ld.global.cs) keeps it from evicting x and the scales (Marlin: "B is only
  // accessed precisely once").
  uint4 next = kt0 < kt1 ? __ldcs(src + kt0 * kThreads) : make_uint4(0, 0, 0, 0);
  for (int64_t kt = kt0; kt < kt1; ++kt) {
    const uint4 cur = next;
    if (kt + 1 < kt1) next = __ldcs(src + (kt + 1) * kThreads);
    const uint32_t words[4] = {cur.x, cur.y, cur.z, cur.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int32_t group = __ldg(block_group + kt * 2 + j / 2);
      const uint32_t sz0 = __ldg(scale_zero + group * n_pad + r0), sz1 = __ldg(scale_zero + group * n_pad + r1);
      const float2 a = __half22float2(codes_minus_zero(words[j], 0, zero_of(sz0)));  // r0, kc..kc+1
      const float2 b = __half22float2(codes_minus_zero(words[j], 1, zero_of(sz0)));  // r0, kc+8..kc+9
      const float2 c = __half22float2(codes_minus_zero(words[j], 2, zero_of(sz1)));  // r1, kc..kc+1
      const float2 d = __half22float2(codes_minus_zero(words[j], 3, zero_of(sz1)));  // r1, kc+8..kc+9
      const float s0 = __low2float(scale_of(sz0)), s1 = __low2float(scale_of(sz1));
      const int64_t kc = kt * kTileK + j * 16 + 2 * t;
#pragma unroll
      for (int i = 0; i < kMaxGemvRows; ++i) {
        if (i >= m) continue;  // m is uniform; the constant trip count keeps acc in registers
        const float2 xa = __ldg(reinterpret_cast<const float2*>(x + i * kp_pad + kc));
        const float2 xb = __ldg(reinterpret_cast<const float2*>(x + i * kp_pad + kc + 8));
        float p0 = a.x * xa.x;
        p0 = __fmaf_rn(a.y, xa.y, p0);
        p0 = __fmaf_rn(b.x, xb.x, p0);
        p0 = __fmaf_rn(b.y, xb.y, p0);
        float p1 = c.x * xa.x;
        p1 = __fmaf_rn(c.y, xa.y, p1);
        p1 = __fmaf_rn(d.x, xb.x, p1);
        p1 = __fmaf_rn(d.y, xb.y, p1);
        acc0[i] = __fmaf_rn(s0, p0, acc0[i]);
        acc1[i] = __fmaf_rn(s1, p1, acc1[i]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kMaxGemvRows; ++i)
#pragma unroll
    for (int lanes = 1; lanes < 4; lanes *= 2) {
      acc0[i] += __shfl_xor_sync(0xffffffffu, acc0[i], lanes);
      acc1[i] += __shfl_xor_sync(0xffffffffu, acc1[i], lanes);
    }
  if (t != 0) return;
#pragma unroll
  for (int i = 0; i < kMaxGemvRows; ++i) {
    if (i >= m) continue;
    float* out = partial + (split * m + i) * n;
    if (r0 < n) out[r0] = acc0[i];
    if (r1 < n) out[r1] = acc1[i];
  }
}

// ---- GEMM: m > kMaxGemvRows, grid (slices, m-blocks of 16·MT rows, splits) ----

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global → shared without staging in registers (sm_80); .cg: cache in L2 only.
__device__ __forceinline__ void cp_async16(void* smem, const void* global) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared_address(smem)), "l"(global));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

// The A fragment of a 16×16 f16 tile: lane l names row l % 16, columns 8·(l / 16) …, so the four 8×8
// matrices come back in the register order mma expects (rows 0-7 / 8-15 × columns 0-7 / 8-15).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&a)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3])
               : "r"(shared_address(smem)));
}

// c += a (16×16, row) · b (16×8, col), f16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// x is gathered into [m-blocks · 16·MT, kp_pad] f16 with zero rows past m, so tiles need no predicates.
template <int MT>
__global__ void __launch_bounds__(kThreads) int4_gemm(const uint4* __restrict__ packed,
                                                      const uint32_t* __restrict__ scale_zero,
                                                      const int32_t* __restrict__ block_group,
                                                      const __half* __restrict__ x, int64_t m, int64_t kp_pad,
                                                      int64_t n_pad, int64_t n, int64_t k_tiles,
                                                      float* __restrict__ partial) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // upload_cuda refuses devices below sm_80; this keeps other -arch lists compiling
#else
  constexpr int kRows = 16 * MT;
  __shared__ __align__(128) uint4 w_stage[kStages][kThreads];
  __shared__ __align__(128) __half x_stage[kStages][kRows][kXStride];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int64_t splits = gridDim.z, split = blockIdx.z;
  const int64_t kt0 = split * k_tiles / splits, tiles = (split + 1) * k_tiles / splits - kt0;
  const int64_t r0 = int64_t(blockIdx.x) * kSliceRows + warp * 16 + g, r1 = r0 + 8;
  const uint4* w_src = packed + int64_t(blockIdx.x) * k_tiles * kThreads + threadIdx.x;
  const __half* x_src = x + int64_t(blockIdx.y) * kRows * kp_pad;

  // Each thread copies its own 16 weight bytes (and reads only those back) and a share of the x tile.
  auto load_stage = [&](int stage, int64_t kt) {
    cp_async16(&w_stage[stage][threadIdx.x], w_src + kt * kThreads);
    for (int c = threadIdx.x; c < kRows * (kTileK / 8); c += kThreads) {
      const int row = c / (kTileK / 8), chunk = c % (kTileK / 8);
      cp_async16(&x_stage[stage][row][chunk * 8], x_src + row * kp_pad + kt * kTileK + chunk * 8);
    }
  };

  float acc[MT][2][4] = {};
  // Prologue: kStages − 1 tiles in flight. Every thread commits one group per step, empty or not, so
  // wait_group counts the same everywhere.
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < tiles) load_stage(s, kt0 + s);
    cp_async_commit();
  }
  for (int64_t i = 0; i < tiles; ++i) {
    cp_async_wait<kStages - 2>();  // tile i has landed (this thread's copies) …
    __syncthreads();               // … everyone's, and everyone is done with tile i − 1's stage
    if (i + kStages - 1 < tiles) load_stage((i + kStages - 1) % kStages, kt0 + i + kStages - 1);
    cp_async_commit();
    const int stage = static_cast<int>(i % kStages);
    const int64_t kt = kt0 + i;
    const uint4 wv = w_stage[stage][threadIdx.x];
    const uint32_t words[4] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int32_t group = __ldg(block_group + kt * 2 + j / 2);
      const uint32_t sz0 = __ldg(scale_zero + group * n_pad + r0), sz1 = __ldg(scale_zero + group * n_pad + r1);
      // s · (q − z): the difference is exact, the product rounds once to f16.
      const uint32_t b00 = as_bits(__hmul2(codes_minus_zero(words[j], 0, zero_of(sz0)), scale_of(sz0)));
      const uint32_t b01 = as_bits(__hmul2(codes_minus_zero(words[j], 1, zero_of(sz0)), scale_of(sz0)));
      const uint32_t b10 = as_bits(__hmul2(codes_minus_zero(words[j], 2, zero_of(sz1)), scale_of(sz1)));
      const uint32_t b11 = as_bits(__hmul2(codes_minus_zero(words[j], 3, zero_of(sz1)), scale_of(sz1)));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        uint32_t a[4];
        ldmatrix_x4(a, &x_stage[stage][mt * 16 + lane % 16][j * 16 + (lane / 16) * 8]);
        mma_16816(acc[mt][0], a, b00, b01);
        mma_16816(acc[mt][1], a, b10, b11);
      }
    }
  }
  cp_async_wait<0>();
  // Accumulator fragment: c[0..1] at (row g, columns 2t, 2t+1), c[2..3] at row g + 8 of the 16×8 tile.
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int sub = 0; sub < 2; ++sub)
#pragma unroll
      for (int half_row = 0; half_row < 2; ++half_row) {
        const int64_t row = int64_t(blockIdx.y) * kRows + mt * 16 + g + 8 * half_row;
        const int64_t col = int64_t(blockIdx.x) * kSliceRows + warp * 16 + 8 * sub + 2 * t;
        if (row >= m) continue;
        float* out = partial + (split * m + row) * n;
        if (col < n) out[col] = acc[mt][sub][2 * half_row];
        if (col + 1 < n) out[col + 1] = acc[mt][sub][2 * half_row + 1];
      }
#endif
}

// y = Σ_split partial (in split order) + bias, stored as f32 or rounded to f16/bf16 (nearest even). With one
// split and f32 output, partial and y are the same buffer (each element is read, then written, by one thread).
__global__ void finish(const float* partial, int64_t splits, int64_t mn, int64_t n, const float* __restrict__ bias,
                       void* y, XType y_type) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < mn; e += int64_t(gridDim.x) * blockDim.x) {
    float v = partial[e];
    for (int64_t s = 1; s < splits; ++s) v += partial[s * mn + e];
    if (bias) v += bias[e % n];
    switch (y_type) {
      case XType::f16: static_cast<__half*>(y)[e] = __float2half_rn(v); break;
      case XType::bf16: static_cast<__nv_bfloat16*>(y)[e] = __float2bfloat16_rn(v); break;
      case XType::f32: static_cast<float*>(y)[e] = v; break;
    }
  }
}

// Split k when the (slice × m-block) grid cannot fill the GPU: `waves` blocks per multiprocessor wanted,
// each part at least kMinTilesPerSplit k-tiles, the partial buffer at most 2^28 floats.
int64_t choose_splits(int64_t blocks, int64_t k_tiles, int multiprocessors, int waves, int64_t mn) {
  const int64_t want = int64_t(multiprocessors) * waves;
  int64_t splits = blocks >= want ? 1 : ceil_div(want, blocks);
  splits = std::min(splits, std::max<int64_t>(1, k_tiles / kMinTilesPerSplit));
  splits = std::min(splits, std::max<int64_t>(1, (int64_t(1) << 28) / std::max<int64_t>(mn, 1)));
  return std::min(splits, kMaxGridY);
}

unsigned elementwise_grid(int64_t count) {
  return static_cast<unsigned>(std::clamp<int64_t>(ceil_div(count, 256), 1, 4096));
}

// Host code of (row, prepared column) from the CPU tile layout (int4.h); 0 past n or past the blocks.
uint32_t host_code(const PreparedInt4& w, int64_t row, int64_t col) {
  if (row >= w.n || col >= w.blocks * kBlock) return 0;
  const uint8_t* block = w.nibbles.get() + ((row / kTileRows) * w.blocks + col / kBlock) * kTileBlockBytes;
  const int64_t p = col % kBlock;
  const uint8_t byte = block[(p / 8) * kChunkBytes + (row % kTileRows) * 4 + (p % 4)];
  return p % 8 < 4 ? (byte & 0xfu) : (byte >> 4);
}

// The fragment layout described at the top of the file, [slice][k-tile][thread][4 words].
std::vector<uint32_t> pack_fragments(const PreparedInt4& w, int64_t slices, int64_t k_tiles) {
  std::vector<uint32_t> packed(static_cast<size_t>(slices * k_tiles * kThreads * 4));
  parallel_for(slices, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t slice = s0; slice < s1; ++slice)
      for (int64_t kt = 0; kt < k_tiles; ++kt)
        for (int thread = 0; thread < kThreads; ++thread) {
          const int warp = thread / 32, lane = thread % 32;
          const int64_t r0 = slice * kSliceRows + warp * 16 + lane / 4;
          for (int j = 0; j < 4; ++j) {
            const int64_t kc = kt * kTileK + j * 16 + 2 * (lane % 4);
            uint32_t word = 0;
            for (int pos = 0; pos < 8; ++pos) {
              const int64_t row = r0 + ((pos & 2) ? 8 : 0);
              const int64_t col = kc + ((pos & 1) ? 8 : 0) + ((pos & 4) ? 1 : 0);
              word |= host_code(w, row, col) << (4 * pos);
            }
            packed[((slice * k_tiles + kt) * kThreads + thread) * 4 + j] = word;
          }
        }
  });
  return packed;
}

}  // namespace

Status upload_cuda(PreparedInt4* w) {
  auto d = std::make_unique<CudaInt4>();
  KQ_CUDA_TRY(cudaGetDevice(&d->device));
  cudaDeviceProp prop{};
  KQ_CUDA_TRY(cudaGetDeviceProperties(&prop, d->device));
  if (prop.major < 8)
    return error(Code::cuda_unavailable, "prepareInt4Weights: the int4 CUDA kernels need compute capability 8.0+ "
                                         "(mma.sync m16n8k16, cp.async); device " + std::to_string(d->device) + " (" +
                                             prop.name + ") is " + std::to_string(prop.major) + "." +
                                             std::to_string(prop.minor));
  d->multiprocessors = std::max(1, prop.multiProcessorCount);
  d->slices = ceil_div(w->n, kSliceRows);
  d->n_pad = d->slices * kSliceRows;
  d->k_tiles = ceil_div(w->blocks * kBlock, kTileK);
  d->kp_pad = d->k_tiles * kTileK;
  std::vector<uint32_t> packed, scale_zero;
  std::vector<int32_t> block_group, src_col;
  try {
    packed = pack_fragments(*w, d->slices, d->k_tiles);
    scale_zero.assign(static_cast<size_t>(w->groups * d->n_pad), 0x6400u << 16);
    for (int64_t g = 0; g < w->groups; ++g)
      for (int64_t row = 0; row < w->n; ++row) {
        const int64_t at = ((row / kTileRows) * w->groups + g) * kTileRows + row % kTileRows;
        scale_zero[g * d->n_pad + row] = w->scales[at] | (uint32_t(0x6400u + w->zeros[at]) << 16);
        // f16 bits 0x6c00 = 4096: below it 15·|s| ≤ 61425 stays finite.
        if ((w->scales[at] & 0x7fffu) >= 0x6c00u) d->f16_weights = false;
      }
    block_group.assign(static_cast<size_t>(d->k_tiles * 2), 0);  // padding blocks: codes and x are 0
    for (int64_t g = 0; g < w->groups; ++g)
      for (int32_t b = w->group_blocks[g]; b < w->group_blocks[g + 1]; ++b) block_group[b] = static_cast<int32_t>(g);
    src_col = w->src_col;
    src_col.resize(static_cast<size_t>(d->kp_pad), -1);
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "prepareInt4Weights: no host memory to re-lay the weight for CUDA");
  }
  KQ_RETURN_IF_ERROR(d->packed.upload(packed.data(), packed.size() * 4));
  KQ_RETURN_IF_ERROR(d->scale_zero.upload(scale_zero.data(), scale_zero.size() * 4));
  KQ_RETURN_IF_ERROR(d->block_group.upload(block_group.data(), block_group.size() * 4));
  KQ_RETURN_IF_ERROR(d->src_col.upload(src_col.data(), src_col.size() * 4));
  w->cuda_bytes = static_cast<int64_t>(d->packed.bytes() + d->scale_zero.bytes() + d->block_group.bytes() +
                                       d->src_col.bytes());
  w->cuda = std::shared_ptr<void>(d.release(), [](void* p) { delete static_cast<CudaInt4*>(p); });
  // The host tiles were only the source of the device layout.
  w->nibbles.reset();
  std::vector<uint16_t>().swap(w->scales);
  std::vector<uint8_t>().swap(w->zeros);
  return Status::success();
}

Status matmul_cuda(const PreparedInt4& w, const MatmulArgs& a) {
  auto* d = static_cast<CudaInt4*>(w.cuda.get());
  if (!d) return error(Code::internal, "int4 matmul: the CUDA weight has no device buffers");
  const std::lock_guard<std::mutex> lock(d->mutex);
  KQ_CUDA_TRY(cudaSetDevice(d->device));
  const int64_t m = a.m, n = w.n, mn = m * n;
  const bool gemv = m <= kMaxGemvRows;
  const int mt = m <= 16 ? 1 : m <= 32 ? 2 : 4;
  const int64_t m_blocks = gemv ? 1 : ceil_div(m, 16 * mt);
  if (m_blocks > kMaxGridY)
    return error(Code::too_large, "int4 matmul: m = " + std::to_string(m) + " exceeds the CUDA GEMM grid (at most " +
                                      std::to_string(kMaxGridY * 64) + " rows per call); split x");
  if (!gemv && !d->f16_weights)
    return error(Code::invalid_argument, "int4 matmul: a scale of this weight is 4096 or more, so s·(q − zero) overflows "
                                         "the f16 of the CUDA tensor-core path (m > 4); call with m <= 4 or on the CPU");
  const int64_t splits = gemv ? choose_splits(d->slices, d->k_tiles, d->multiprocessors, 4, mn)
                              : choose_splits(d->slices * m_blocks, d->k_tiles, d->multiprocessors, 1, mn);
  const size_t x_bytes = static_cast<size_t>(m * w.k) * (a.x_type == XType::f32 ? 4 : 2);
  const size_t y_bytes = static_cast<size_t>(mn) * (a.y_type == XType::f32 ? 4 : 2);
  const int64_t prepared_rows = gemv ? m : m_blocks * 16 * mt;
  const size_t prepared_bytes = static_cast<size_t>(prepared_rows * d->kp_pad) * (gemv ? 4 : 2);
  const bool y_is_partial = splits == 1 && a.y_type == XType::f32;
  KQ_RETURN_IF_ERROR(reserve(&d->x_raw, x_bytes));
  KQ_RETURN_IF_ERROR(reserve(&d->x_prepared, prepared_bytes));
  KQ_RETURN_IF_ERROR(reserve(&d->partial, static_cast<size_t>(splits * mn) * 4));
  if (!y_is_partial) KQ_RETURN_IF_ERROR(reserve(&d->y, y_bytes));
  if (a.bias) KQ_RETURN_IF_ERROR(reserve(&d->bias, static_cast<size_t>(n) * 4));
  KQ_RETURN_IF_ERROR(reserve(&d->flag, 4));
  KQ_CUDA_TRY(cudaMemcpy(d->x_raw->as<void>(), a.x, x_bytes, cudaMemcpyHostToDevice));
  if (a.bias) KQ_CUDA_TRY(cudaMemcpy(d->bias->as<void>(), a.bias, static_cast<size_t>(n) * 4, cudaMemcpyHostToDevice));
  KQ_CUDA_TRY(cudaMemset(d->flag->as<void>(), 0, 4));

  gather_x<<<elementwise_grid(prepared_rows * d->kp_pad), 256>>>(d->x_raw->as<void>(), a.x_type, m, w.k,
                                                                 d->src_col.as<int32_t>(), d->kp_pad, prepared_rows,
                                                                 !gemv, d->x_prepared->as<void>(), d->flag->as<uint32_t>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("int4 gather_x"));
  uint32_t flag = 0;
  KQ_RETURN_IF_ERROR(d->flag->download(&flag, sizeof flag));
  if (flag & 1u) return error(Code::non_finite, "int4 matmul: x holds NaN or Inf");
  if (flag & 2u)
    return error(Code::invalid_argument, "int4 matmul: x holds values beyond the f16 range (|x| > 65504), which the "
                                         "CUDA tensor-core path (m > 4) computes in; scale x or use the CPU");

  const uint4* packed = d->packed.as<uint4>();
  const uint32_t* sz = d->scale_zero.as<uint32_t>();
  const int32_t* bg = d->block_group.as<int32_t>();
  float* partial = d->partial->as<float>();
  if (gemv) {
    int4_gemv<<<dim3(static_cast<unsigned>(d->slices), static_cast<unsigned>(splits)), kThreads>>>(
        packed, sz, bg, d->x_prepared->as<float>(), static_cast<int>(m), d->kp_pad, d->n_pad, n, d->k_tiles, partial);
  } else {
    const dim3 grid(static_cast<unsigned>(d->slices), static_cast<unsigned>(m_blocks), static_cast<unsigned>(splits));
    const __half* xh = d->x_prepared->as<__half>();
    if (mt == 1) int4_gemm<1><<<grid, kThreads>>>(packed, sz, bg, xh, m, d->kp_pad, d->n_pad, n, d->k_tiles, partial);
    else if (mt == 2) int4_gemm<2><<<grid, kThreads>>>(packed, sz, bg, xh, m, d->kp_pad, d->n_pad, n, d->k_tiles, partial);
    else int4_gemm<4><<<grid, kThreads>>>(packed, sz, bg, xh, m, d->kp_pad, d->n_pad, n, d->k_tiles, partial);
  }
  void* y = y_is_partial ? static_cast<void*>(partial) : d->y->as<void>();
  finish<<<elementwise_grid(mn), 256>>>(partial, splits, mn, n, a.bias ? d->bias->as<float>() : nullptr, y, a.y_type);
  KQ_RETURN_IF_ERROR(cuda_check_launch(gemv ? "int4_gemv" : "int4_gemm"));
  return cuda_status(cudaMemcpy(a.y, y, y_bytes, cudaMemcpyDeviceToHost), "cudaMemcpy int4 y device->host");
}

Status copy_bandwidth_cuda(int64_t bytes, double* gbps) {
  constexpr int kReps = 20;
  DeviceBuffer src, dst;
  KQ_RETURN_IF_ERROR(src.allocate(static_cast<size_t>(bytes)));
  KQ_RETURN_IF_ERROR(dst.allocate(static_cast<size_t>(bytes)));
  KQ_CUDA_TRY(cudaMemset(src.as<void>(), 1, static_cast<size_t>(bytes)));
  KQ_CUDA_TRY(cudaMemcpy(dst.as<void>(), src.as<void>(), static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice));
  cudaEvent_t start, stop;
  KQ_CUDA_TRY(cudaEventCreate(&start));
  if (const Status st = cuda_status(cudaEventCreate(&stop), "cudaEventCreate"); !st.ok()) {
    cudaEventDestroy(start);
    return st;
  }
  cudaEventRecord(start);
  for (int r = 0; r < kReps; ++r)
    cudaMemcpyAsync(dst.as<void>(), src.as<void>(), static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice);
  cudaEventRecord(stop);
  float ms = 0.0f;
  Status st = cuda_status(cudaEventSynchronize(stop), "device copy");
  if (st.ok()) st = cuda_status(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  KQ_RETURN_IF_ERROR(st);
  *gbps = 2.0 * static_cast<double>(bytes) * kReps / (static_cast<double>(ms) * 1e6);
  return Status::success();
}

}  // namespace kq::int4
