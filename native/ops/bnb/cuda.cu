// CUDA kernels of the bnb family. The entry points take host pointers (as the CPU driver does): they
// upload, run and download. Every step rounds as ref.cc does: the per-block reciprocal is the correctly
// rounded __fdiv_rn(1, absmax) (bnb's own fast-math build uses rcp.approx, README 4.10), products are
// __fmul_rn, and the decision points are the very floats of thresholds.h / the host midpoints, so the
// bytes are identical to the CPU reference.
//
// A group of G lanes owns one bnb block at a time: it reduces the block's absmax, then encodes (or decodes)
// the block with the lanes striding over it. G is a power of two <= 32 (groups tile a warp, shuffles reduce)
// for block sizes below kWideFrom, so blocks of 32 .. 512 get a warp each and smaller ones share one; larger
// blocks get a whole thread block (G = kThreads, shuffles then shared memory).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "../../core/cuda_check.cuh"
#include "../../core/finite.h"
#include "bnb.h"
#include "thresholds.h"

namespace kq::bnb {
namespace {

constexpr int kThreads = 256;
// Grid-stride loops cover any size; more blocks than this only add scheduling overhead.
constexpr int64_t kMaxBlocks = 1 << 16;
// Block sizes from which a whole thread block, rather than a warp, owns a bnb block.
constexpr int64_t kWideFrom = 1024;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t block_count(int64_t n, int64_t blocksize) { return n / blocksize + (n % blocksize != 0); }

// A byte count that wraps size_t would make cudaMalloc succeed with a tiny buffer.
Status check_bytes(int64_t n) {
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / sizeof(float))
    return error(Code::too_large, "tensor of " + std::to_string(n) + " elements is too large for CUDA");
  return Status::success();
}

// Lanes per bnb block: a thread block for large blocks, else the smallest power of two >= blocksize, at
// most a warp.
int group_for(int64_t blocksize) {
  if (blocksize >= kWideFrom) return kThreads;
  int group = 1;
  while (group < 32 && group < blocksize) group *= 2;
  return group;
}

// Enough thread blocks for one group per bnb block (a whole number of warps), capped.
unsigned blocks_for(int64_t nblocks, int group) {
  if (group == kThreads) return static_cast<unsigned>(std::min(nblocks, kMaxBlocks));
  const int64_t threads = ceil_div(nblocks, 32 / group) * 32;
  return static_cast<unsigned>(std::min(ceil_div(threads, kThreads), kMaxBlocks));
}

// Where a lane stands. The rounds over bnb blocks are uniform per warp (per thread block when the group is
// one), so every lane reaches the shuffles and barriers: round r runs while anchor + r * step < nblocks, and
// `valid` (b < nblocks) tells whether the lane's own group has a block in it.
struct GroupLane {
  int group, sub;
  int64_t first, step;  // first block of the lane's group, blocks per round of the whole grid
  int64_t anchor;       // first block of the warp's (thread block's) first group

  __device__ explicit GroupLane(int group_) : group(group_) {
    if (group == kThreads) {
      sub = threadIdx.x;
      first = anchor = blockIdx.x;
      step = gridDim.x;
      return;
    }
    const int lane = threadIdx.x % 32;
    const int64_t groups_per_warp = 32 / group;
    const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
    const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
    sub = lane % group;
    first = warp * groups_per_warp + lane / group;
    anchor = warp * groups_per_warp;
    step = warps * groups_per_warp;
  }
};

// The decision points of a 4-bit encoder, passed by value (kernel parameter space, constant-indexed after
// unrolling): NF4 uses t[0..15), FP4 the 7 magnitude thresholds and the rank -> code table as nibbles.
struct Encode4 {
  float t[15];
  uint32_t rank_nibbles;
};

Encode4 encode4_params(Quant4 type) {
  Encode4 e{};
  if (type == Quant4::nf4) {
    std::memcpy(e.t, nf4_thresholds(), 15 * sizeof(float));
  } else {
    std::memcpy(e.t, fp4_abs_thresholds(), 7 * sizeof(float));
    for (int k = 0; k < 8; ++k) e.rank_nibbles |= static_cast<uint32_t>(kFp4RankCode[k]) << (4 * k);
  }
  return e;
}

// Strict comparisons throughout, so NaN (an all-zero block) gives code 0, as in ref.cc.
template <Quant4 kType>
__device__ __forceinline__ uint32_t code4_of(float s, const Encode4& e) {
  if constexpr (kType == Quant4::nf4) {
    uint32_t code = 0;
#pragma unroll
    for (int k = 0; k < 15; ++k) code += s > e.t[k];
    return code;
  } else {
    const float magnitude = fabsf(s);
    uint32_t rank = 0;
#pragma unroll
    for (int j = 0; j < 7; ++j) rank += magnitude > e.t[j];
    return ((e.rank_nibbles >> (4 * rank)) & 0xfu) | (s < 0.0f ? 8u : 0u);
  }
}

// max |x| over the group's block (lanes stride by group), reduced so every lane of the group holds it.
// Must be reached by all 32 lanes (all kThreads for a whole-block group); invalid lanes contribute 0.
// Sets *bad for NaN/Inf. max is exact, so the reduction order cannot change the result.
__device__ __forceinline__ float group_absmax(const float* __restrict__ x, int64_t begin, int64_t length, bool valid,
                                              const GroupLane& g, bool* bad) {
  float m = 0.0f;
  if (valid)
    for (int64_t i = g.sub; i < length; i += g.group) {
      const float v = x[begin + i];
      *bad |= isnan(v - v);  // x − x is NaN exactly for NaN and ±Inf
      m = fmaxf(m, fabsf(v));
    }
  for (int offset = min(g.group, 32) / 2; offset > 0; offset /= 2)
    m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, offset));
  if (g.group == kThreads) {
    __shared__ float partial[kThreads / 32];
    __syncthreads();  // the previous round has read `partial`
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = m;
    __syncthreads();
    m = partial[0];
#pragma unroll
    for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, partial[w]);
  }
  return m;
}

template <Quant4 kType>
__global__ void quantize4_kernel(const float* __restrict__ x, int64_t n, int64_t blocksize, int64_t nblocks,
                                 int group, Encode4 e, uint8_t* __restrict__ packed, float* __restrict__ absmax,
                                 uint32_t* non_finite) {
  const GroupLane g(group);
  bool bad = false;
  for (int64_t round = 0; g.anchor + round * g.step < nblocks; ++round) {
    const int64_t b = g.first + round * g.step;
    const bool valid = b < nblocks;
    const int64_t begin = b * blocksize;
    const int64_t length = valid ? min(blocksize, n - begin) : 0;
    const float m = group_absmax(x, begin, length, valid, g, &bad);
    if (!valid) continue;
    if (g.sub == 0) absmax[b] = m;
    // IEEE division once per block (an all-zero block gets +inf, so s = NaN), then a multiply per element.
    const float inv = __fdiv_rn(1.0f, m);
    const int64_t bytes = (length + 1) / 2;  // blocksize is even, so the block starts on a byte
    for (int64_t j = g.sub; j < bytes; j += group) {
      const int64_t i = begin + 2 * j;
      const float hi = __fmul_rn(x[i], inv);
      // Odd n: the last low nibble encodes 0 · inv of the last block.
      const float lo = __fmul_rn(i + 1 < n ? x[i + 1] : 0.0f, inv);
      packed[i / 2] = static_cast<uint8_t>(code4_of<kType>(hi, e) << 4 | code4_of<kType>(lo, e));
    }
  }
  if (bad) *non_finite = 1;
}

__global__ void quantize8_kernel(const float* __restrict__ x, int64_t n, int64_t blocksize, int64_t nblocks,
                                 int group, const float* __restrict__ midpoints_in, uint8_t* __restrict__ codes,
                                 float* __restrict__ absmax, uint32_t* non_finite) {
  __shared__ float midpoints[255];
  for (int j = threadIdx.x; j < 255; j += blockDim.x) midpoints[j] = midpoints_in[j];
  __syncthreads();
  const GroupLane g(group);
  bool bad = false;
  for (int64_t round = 0; g.anchor + round * g.step < nblocks; ++round) {
    const int64_t b = g.first + round * g.step;
    const bool valid = b < nblocks;
    const int64_t begin = b * blocksize;
    const int64_t length = valid ? min(blocksize, n - begin) : 0;
    const float m = group_absmax(x, begin, length, valid, g, &bad);
    if (!valid) continue;
    if (g.sub == 0) absmax[b] = m;
    const float inv = __fdiv_rn(1.0f, m);
    for (int64_t i = begin + g.sub; i < begin + length; i += group) {
      const float s = __fmul_rn(x[i], inv);
      // j = number of midpoints below s (lower_bound over the ascending midpoints); NaN gives 0.
      int j = 0;
#pragma unroll
      for (int step = 128; step > 0; step /= 2)
        if (j + step <= 255 && midpoints[j + step - 1] < s) j += step;
      // On midpoint j the two neighbours are j and j + 1: take the even one, as bnb's binary search does.
      if (j < 255 && midpoints[j] == s && (j & 1)) ++j;
      codes[i] = static_cast<uint8_t>(j);
    }
  }
  if (bad) *non_finite = 1;
}

struct Table16 {
  float v[16];
};

__global__ void dequantize4_kernel(const uint8_t* __restrict__ packed, int64_t n, int64_t blocksize,
                                   int64_t nblocks, int group, Table16 table_in, const float* __restrict__ absmax,
                                   float* __restrict__ out) {
  __shared__ float table[16];
  if (threadIdx.x == 0) {
#pragma unroll
    for (int k = 0; k < 16; ++k) table[k] = table_in.v[k];  // constant indices: stays in parameter space
  }
  __syncthreads();
  const GroupLane g(group);
  for (int64_t b = g.first; b < nblocks; b += g.step) {
    const int64_t begin = b * blocksize;
    const int64_t length = min(blocksize, n - begin);
    const float a = absmax[b];
    const int64_t bytes = (length + 1) / 2;
    for (int64_t j = g.sub; j < bytes; j += group) {
      const int64_t i = begin + 2 * j;
      const uint32_t byte = packed[i / 2];
      out[i] = __fmul_rn(table[byte >> 4], a);
      if (i + 1 < n) out[i + 1] = __fmul_rn(table[byte & 0xf], a);
    }
  }
}

__global__ void dequantize8_kernel(const uint8_t* __restrict__ codes, int64_t n, int64_t blocksize, int64_t nblocks,
                                   int group, const float* __restrict__ code_in, const float* __restrict__ absmax,
                                   float* __restrict__ out) {
  __shared__ float code[256];
  for (int j = threadIdx.x; j < 256; j += blockDim.x) code[j] = code_in[j];
  __syncthreads();
  const GroupLane g(group);
  for (int64_t b = g.first; b < nblocks; b += g.step) {
    const int64_t begin = b * blocksize;
    const int64_t end = begin + min(blocksize, n - begin);
    const float a = absmax[b];
    for (int64_t i = begin + g.sub; i < end; i += group) out[i] = __fmul_rn(code[codes[i]], a);
  }
}

}  // namespace

Status quantize_4bit_cuda(const float* src, int64_t n, int64_t blocksize, Quant4 type, uint8_t* packed,
                          float* absmax) {
  if (n == 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(n));
  if (blocksize < 2 || blocksize % 2 != 0)
    return error(Code::invalid_argument, "4-bit blocksize must be even, got " + std::to_string(blocksize));
  const int64_t nblocks = block_count(n, blocksize);
  const int64_t nbytes = (n + 1) / 2;
  const int group = group_for(blocksize);
  DeviceBuffer x, d_packed, d_absmax, flag;
  KQ_RETURN_IF_ERROR(x.upload(src, static_cast<size_t>(n) * sizeof(float)));
  KQ_RETURN_IF_ERROR(d_packed.allocate(static_cast<size_t>(nbytes)));
  KQ_RETURN_IF_ERROR(d_absmax.allocate(static_cast<size_t>(nblocks) * sizeof(float)));
  KQ_RETURN_IF_ERROR(zeroed_flag(&flag));
  const Encode4 e = encode4_params(type);
  if (type == Quant4::nf4)
    quantize4_kernel<Quant4::nf4><<<blocks_for(nblocks, group), kThreads>>>(
        x.as<float>(), n, blocksize, nblocks, group, e, d_packed.as<uint8_t>(), d_absmax.as<float>(),
        flag.as<uint32_t>());
  else
    quantize4_kernel<Quant4::fp4><<<blocks_for(nblocks, group), kThreads>>>(
        x.as<float>(), n, blocksize, nblocks, group, e, d_packed.as<uint8_t>(), d_absmax.as<float>(),
        flag.as<uint32_t>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("quantize4_kernel"));
  KQ_RETURN_IF_ERROR(check_flag(flag, src, n));
  KQ_RETURN_IF_ERROR(d_packed.download(packed, static_cast<size_t>(nbytes)));
  return d_absmax.download(absmax, static_cast<size_t>(nblocks) * sizeof(float));
}

Status dequantize_4bit_cuda(const uint8_t* packed, int64_t n, int64_t blocksize, Quant4 type, const float* absmax,
                            float* out) {
  if (n == 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(n));
  if (blocksize < 2 || blocksize % 2 != 0)
    return error(Code::invalid_argument, "4-bit blocksize must be even, got " + std::to_string(blocksize));
  const int64_t nblocks = block_count(n, blocksize);
  const int64_t nbytes = (n + 1) / 2;
  const int group = group_for(blocksize);
  Table16 table;
  std::memcpy(table.v, code4(type), sizeof table.v);
  DeviceBuffer d_packed, d_absmax, d_out;
  KQ_RETURN_IF_ERROR(d_packed.upload(packed, static_cast<size_t>(nbytes)));
  KQ_RETURN_IF_ERROR(d_absmax.upload(absmax, static_cast<size_t>(nblocks) * sizeof(float)));
  KQ_RETURN_IF_ERROR(d_out.allocate(static_cast<size_t>(n) * sizeof(float)));
  dequantize4_kernel<<<blocks_for(nblocks, group), kThreads>>>(d_packed.as<uint8_t>(), n, blocksize, nblocks, group,
                                                               table, d_absmax.as<float>(), d_out.as<float>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("dequantize4_kernel"));
  return d_out.download(out, static_cast<size_t>(n) * sizeof(float));
}

Status quantize_8bit_cuda(const float* src, int64_t n, int64_t blocksize, const float* code, uint8_t* codes,
                          float* absmax) {
  if (n == 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(n));
  if (blocksize < 1) return error(Code::invalid_argument, "blocksize must be >= 1, got " + std::to_string(blocksize));
  // The driver has checked that the map ascends; the midpoints are formed as bnb.cc forms them.
  std::array<float, 255> midpoints;
  for (int j = 0; j < 255; ++j) midpoints[j] = (code[j] + code[j + 1]) * 0.5f;
  const int64_t nblocks = block_count(n, blocksize);
  const int group = group_for(blocksize);
  DeviceBuffer x, d_mid, d_codes, d_absmax, flag;
  KQ_RETURN_IF_ERROR(x.upload(src, static_cast<size_t>(n) * sizeof(float)));
  KQ_RETURN_IF_ERROR(d_mid.upload(midpoints.data(), sizeof midpoints));
  KQ_RETURN_IF_ERROR(d_codes.allocate(static_cast<size_t>(n)));
  KQ_RETURN_IF_ERROR(d_absmax.allocate(static_cast<size_t>(nblocks) * sizeof(float)));
  KQ_RETURN_IF_ERROR(zeroed_flag(&flag));
  quantize8_kernel<<<blocks_for(nblocks, group), kThreads>>>(x.as<float>(), n, blocksize, nblocks, group,
                                                             d_mid.as<float>(), d_codes.as<uint8_t>(),
                                                             d_absmax.as<float>(), flag.as<uint32_t>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("quantize8_kernel"));
  KQ_RETURN_IF_ERROR(check_flag(flag, src, n));
  KQ_RETURN_IF_ERROR(d_codes.download(codes, static_cast<size_t>(n)));
  return d_absmax.download(absmax, static_cast<size_t>(nblocks) * sizeof(float));
}

Status dequantize_8bit_cuda(const uint8_t* codes, int64_t n, int64_t blocksize, const float* code, const float* absmax,
                            float* out) {
  if (n == 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(n));
  if (blocksize < 1) return error(Code::invalid_argument, "blocksize must be >= 1, got " + std::to_string(blocksize));
  const int64_t nblocks = block_count(n, blocksize);
  const int group = group_for(blocksize);
  DeviceBuffer d_codes, d_code, d_absmax, d_out;
  KQ_RETURN_IF_ERROR(d_codes.upload(codes, static_cast<size_t>(n)));
  KQ_RETURN_IF_ERROR(d_code.upload(code, 256 * sizeof(float)));
  KQ_RETURN_IF_ERROR(d_absmax.upload(absmax, static_cast<size_t>(nblocks) * sizeof(float)));
  KQ_RETURN_IF_ERROR(d_out.allocate(static_cast<size_t>(n) * sizeof(float)));
  dequantize8_kernel<<<blocks_for(nblocks, group), kThreads>>>(d_codes.as<uint8_t>(), n, blocksize, nblocks, group,
                                                               d_code.as<float>(), d_absmax.as<float>(),
                                                               d_out.as<float>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("dequantize8_kernel"));
  return d_out.download(out, static_cast<size_t>(n) * sizeof(float));
}

}  // namespace kq::bnb
