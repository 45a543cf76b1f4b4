// CUDA kernels of GPTQ: the Hessian accumulation and the blocked solve (README section 3.3), with our own
// kernels (no cuBLAS/cuSOLVER at run time). The entry points take host pointers, as the CPU drivers do:
// they upload, run and download. The inverse factor is computed on the CPU (f64) and arrives in f32.
//
// Rounding: -fmad=false keeps every product and sum separately rounded, division is IEEE (no fast math),
// and rintf is round-half-even like nearbyint, so each element step equals the CPU code's. The f32 sums
// (H's tiles, E·Hinv) add their terms in index order starting from 0, the order of the scalar dense
// reference; the AVX kernels sum in another order, so against them H and the updated W differ in the last
// bits, and a code whose w/scale sits within that distance of a rounding boundary can flip (then the rest
// of that row's feedback differs slightly). Expect nearly all codes equal, not all.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "../../core/cuda_check.cuh"
#include "../../core/half.h"
#include "gptq.h"

namespace kq::gptq {
namespace {

// Shared tiling of the SYRK and the SGEMM: a block of 16×16 threads owns a 64×64 tile of the output, each
// thread a 4×4 strided sub-tile; the inner dimension is staged 16 at a time in shared memory.
constexpr int kTile = 64;
constexpr int kStep = 16;
constexpr int kSide = 16;
constexpr int kThreads = kSide * kSide;
constexpr int kPer = kTile / kSide;
constexpr int64_t kMaxGridY = 65535;
constexpr unsigned kFullMask = 0xffffffffu;
// The sweep: rows (one warp each) per thread block, sharing one staged Hinv block.
constexpr int kSweepWarps = 8;
// Tokens per SYRK pass: the CPU's chunking (64 MiB of f32 staging), so each pass sums the same tokens.
constexpr int64_t kStageBytes = int64_t(1) << 26;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

unsigned elementwise_blocks(int64_t n) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(ceil_div(n, kThreads), int64_t(1) << 16)));
}

// A byte count that wraps size_t would make cudaMalloc succeed with a tiny buffer.
Status check_bytes(int64_t count, size_t element, const char* what) {
  if (count < 0 || static_cast<uint64_t>(count) > std::numeric_limits<size_t>::max() / element)
    return error(Code::too_large, std::string("GPTQ: ") + what + " of " + std::to_string(count) +
                                      " elements is too large for CUDA");
  return Status::success();
}

size_t bytes(int64_t count, size_t element) { return static_cast<size_t>(count) * element; }

// acc[s][t] += Σ_kk as[kk][ty + 16s] · bs[kk][tx + 16t], kk in order (zero padding adds +0: no change).
template <int kLd>
__device__ __forceinline__ void multiply_step(const float (*as)[kLd], const float (*bs)[kTile],
                                              float (&acc)[kPer][kPer]) {
  const int tx = threadIdx.x, ty = threadIdx.y;
#pragma unroll
  for (int kk = 0; kk < kStep; ++kk) {
    float av[kPer], bv[kPer];
#pragma unroll
    for (int s = 0; s < kPer; ++s) {
      av[s] = as[kk][ty + kSide * s];
      bv[s] = bs[kk][tx + kSide * s];
    }
#pragma unroll
    for (int s = 0; s < kPer; ++s)
#pragma unroll
      for (int t = 0; t < kPer; ++t) acc[s][t] += av[s] * bv[t];
  }
}

// ---- Hessian ----

template <Input kType>
__device__ __forceinline__ float widen(const void* x, int64_t i) {
  if (kType == Input::f16) return f16_bits_to_f32(static_cast<const uint16_t*>(x)[i]);
  if (kType == Input::bf16) return bf16_bits_to_f32(static_cast<const uint16_t*>(x)[i]);
  return static_cast<const float*>(x)[i];
}

// h *= keep on the upper triangle (the old average's weight, one rounding as on the CPU).
__global__ void scale_upper(float* __restrict__ h, int64_t cols, float keep) {
  const int64_t n = cols * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (i % cols >= i / cols) h[i] *= keep;
}

// h[i, j] += Σ_t a[t, i]·a[t, j] for j >= i, a = f32(input_scale · x) [tokens, cols]. Only tiles on or
// above the diagonal work (the others leave before any barrier); the sum is formed before it meets h.
template <Input kType>
__global__ void syrk_upper(const void* __restrict__ x, int64_t tokens, int64_t cols, float input_scale,
                           float* __restrict__ h) {
  const int64_t tile_i = blockIdx.y, tile_j = blockIdx.x;
  if (tile_j < tile_i) return;
  __shared__ float as[kStep][kTile];
  __shared__ float bs[kStep][kTile];
  const int tid = threadIdx.y * kSide + threadIdx.x;
  const int64_t i0 = tile_i * kTile, j0 = tile_j * kTile;
  float acc[kPer][kPer] = {};
  for (int64_t t0 = 0; t0 < tokens; t0 += kStep) {
    for (int idx = tid; idx < kStep * kTile; idx += kThreads) {
      const int t = idx / kTile, c = idx % kTile;
      const int64_t token = t0 + t, ci = i0 + c, cj = j0 + c;
      const bool in = token < tokens;
      as[t][c] = in && ci < cols ? input_scale * widen<kType>(x, token * cols + ci) : 0.0f;
      bs[t][c] = in && cj < cols ? input_scale * widen<kType>(x, token * cols + cj) : 0.0f;
    }
    __syncthreads();
    multiply_step<kTile>(as, bs, acc);
    __syncthreads();
  }
#pragma unroll
  for (int s = 0; s < kPer; ++s) {
    const int64_t i = i0 + threadIdx.y + kSide * s;
#pragma unroll
    for (int t = 0; t < kPer; ++t) {
      const int64_t j = j0 + threadIdx.x + kSide * t;
      if (i < cols && j < cols && j >= i) h[i * cols + j] += acc[s][t];
    }
  }
}

// h[r, c] = h[c, r] for c < r through a 32×32 shared tile, so reads and writes are both coalesced. Block
// (tc, tr) with tc <= tr writes lower tile (tr, tc) from upper tile (tc, tr); a diagonal tile reads all of
// itself before the barrier and writes only below its diagonal after it.
constexpr int kMirrorTile = 32;
constexpr int kMirrorRows = 8;
__global__ void mirror_upper(float* __restrict__ h, int64_t cols) {
  const int64_t tr = blockIdx.y, tc = blockIdx.x;
  if (tc > tr) return;
  __shared__ float tile[kMirrorTile][kMirrorTile + 1];
  for (int y = threadIdx.y; y < kMirrorTile; y += kMirrorRows) {
    const int64_t r = tc * kMirrorTile + y, c = tr * kMirrorTile + threadIdx.x;
    if (r < cols && c < cols) tile[y][threadIdx.x] = h[r * cols + c];
  }
  __syncthreads();
  for (int y = threadIdx.y; y < kMirrorTile; y += kMirrorRows) {
    const int64_t r = tr * kMirrorTile + y, c = tc * kMirrorTile + threadIdx.x;
    if (r < cols && c < r) h[r * cols + c] = tile[threadIdx.x][y];
  }
}

template <Input kType>
Status accumulate(const void* x, int64_t tokens, int64_t cols, float input_scale, float* dh) {
  const size_t element = kType == Input::f32 ? sizeof(float) : sizeof(uint16_t);
  const int64_t chunk = std::max<int64_t>(1, std::min(tokens, kStageBytes / (cols * int64_t(sizeof(float)))));
  DeviceBuffer dx;
  KQ_RETURN_IF_ERROR(dx.allocate(bytes(chunk * cols, element)));
  const int64_t tiles = ceil_div(cols, kTile);
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(tiles)), block(kSide, kSide);
  for (int64_t t0 = 0; t0 < tokens; t0 += chunk) {
    const int64_t n = std::min(chunk, tokens - t0);
    KQ_CUDA_TRY(cudaMemcpy(dx.as<void>(), static_cast<const char*>(x) + bytes(t0 * cols, element),
                           bytes(n * cols, element), cudaMemcpyHostToDevice));
    syrk_upper<kType><<<grid, block>>>(dx.as<void>(), n, cols, input_scale, dh);
    KQ_RETURN_IF_ERROR(cuda_check_launch("syrk_upper"));
  }
  return Status::success();
}

// ---- the solve ----

// Device twin of gptq.h's quantize_code (dequantize_code is inlined below as scale·(q − zero)).
__device__ __forceinline__ int quantize_code_dev(float w, float scale, float zero, int maxq) {
  float q = rintf(w / scale) + zero;
  if (!(q >= 0.0f)) q = 0.0f;
  if (q > static_cast<float>(maxq)) q = static_cast<float>(maxq);
  return static_cast<int>(q);
}

// find_params without the MSE search over x[0..n), the lanes of one warp striding; min and max are exact
// in any order, so the warp's reduction gives the CPU's values.
__device__ void group_params(const float* __restrict__ x, int64_t n, int maxq, bool sym, int lane, float* scale,
                             float* zero) {
  float xmin = 0.0f, xmax = 0.0f;
  for (int64_t c = lane; c < n; c += 32) {
    xmin = fminf(xmin, x[c]);
    xmax = fmaxf(xmax, x[c]);
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    xmin = fminf(xmin, __shfl_xor_sync(kFullMask, xmin, offset));
    xmax = fmaxf(xmax, __shfl_xor_sync(kFullMask, xmax, offset));
  }
  if (sym) {
    xmax = fmaxf(fabsf(xmin), xmax);
    if (xmin < 0.0f) xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f) {
    xmin = -1.0f;
    xmax = 1.0f;
  }
  *scale = (xmax - xmin) / static_cast<float>(maxq);
  *zero = sym ? static_cast<float>(maxq + 1) / 2.0f : rintf(-xmin / *scale);
}

// Device pointers and the current lazy block [i1, i1 + count).
struct Sweep {
  int64_t rows, cols, groups, group_size, i1, count;
  int maxq;
  bool sym, static_groups;
  const int32_t* perm;
  const float* hinv;
  const float* work;
  const float* row_scale;
  const float* row_zero;
  const float* static_scale;
  const float* static_zero;
  uint8_t* codes;
  float* scales;
  float* zeros;
  float* q;
  float* err;  // [rows, count]: each column's error / Hinv diagonal, the left factor of the update
  double* row_loss;
};

// One row through the lazy block: solve_band's inner loop. Column c of the block lives in lane c % 32 of
// register slot c / 32; the slot loop is unrolled so every register index is a constant (a runtime index
// would put the row in local memory). Each column's value is broadcast and every lane quantizes it
// (identical, warp-uniform work), then the lanes update their own later columns by e·Hinv[i, c], as
// w1[c] -= e * hrow[c] does on the CPU.
template <int kSlots>
__device__ void sweep_row(const Sweep& p, const float* __restrict__ hs, int64_t r, int lane) {
  const float* wr = p.work + r * p.cols;
  float w[kSlots];
#pragma unroll
  for (int k = 0; k < kSlots; ++k) {
    const int c = lane + 32 * k;
    w[k] = c < p.count ? wr[p.i1 + c] : 0.0f;
  }
  const bool dynamic_groups = p.group_size > 0 && !p.static_groups;
  float s, z;
  if (dynamic_groups) {  // a group begun in an earlier block: its parameters are already written
    s = p.scales[r * p.groups + p.i1 / p.group_size];
    z = p.zeros[r * p.groups + p.i1 / p.group_size];
  } else {
    s = p.row_scale[r];
    z = p.row_zero[r];
  }
  double loss = 0.0;
#pragma unroll
  for (int slot = 0; slot < kSlots; ++slot)
    for (int owner = 0; owner < 32; ++owner) {
      const int i = 32 * slot + owner;
      if (i >= p.count) break;  // uniform across the warp
      const int64_t j = p.i1 + i;
      if (p.group_size > 0) {
        if (p.static_groups) {
          const int64_t g = p.perm[j] / p.group_size;
          s = p.static_scale[r * p.groups + g];
          z = p.static_zero[r * p.groups + g];
        } else if (j % p.group_size == 0) {
          // From W as it stood before this block (wr, not the running w), as the CPU reads it.
          group_params(wr + j, p.group_size < p.cols - j ? p.group_size : p.cols - j, p.maxq, p.sym, lane, &s, &z);
          if (lane == 0) {
            p.scales[r * p.groups + j / p.group_size] = s;
            p.zeros[r * p.groups + j / p.group_size] = z;
          }
        }
      }
      const float wi = __shfl_sync(kFullMask, w[slot], owner);
      const int code = quantize_code_dev(wi, s, z, p.maxq);
      const float deq = s * (static_cast<float>(code) - z);
      const float d = hs[i * p.count + i];
      const float diff = wi - deq;
      const float e = diff / d;
      loss += static_cast<double>(e) * e;
      if (lane == 0) {
        const int64_t orig = p.perm[j];
        p.codes[r * p.cols + orig] = static_cast<uint8_t>(code);
        p.q[r * p.cols + orig] = deq;
        p.err[r * p.count + i] = e;
      }
#pragma unroll
      for (int k = slot; k < kSlots; ++k) {
        const int c = lane + 32 * k;
        if (c > i && c < p.count) w[k] -= e * hs[i * p.count + c];
      }
    }
  if (lane == 0) p.row_loss[r] += loss / 2.0;
}

// Stages Hinv[i1:i2, i1:i2] in shared memory once per thread block; each warp then takes rows
// blockIdx·warps + warp, striding by the grid (no barrier after the staging, so warps may run apart).
template <int kSlots>
__global__ void sweep_block(const Sweep p) {
  extern __shared__ float hs[];
  const int64_t n = p.count * p.count;
  for (int64_t idx = threadIdx.x; idx < n; idx += blockDim.x)
    hs[idx] = p.hinv[(p.i1 + idx / p.count) * p.cols + p.i1 + idx % p.count];
  __syncthreads();
  const int warps = blockDim.x / 32;
  for (int64_t r = int64_t(blockIdx.x) * warps + threadIdx.x / 32; r < p.rows; r += int64_t(gridDim.x) * warps)
    sweep_row<kSlots>(p, hs, r, threadIdx.x % 32);
}

// c[i, j] -= Σ_p a[i, p]·b[p, j] (the sum formed first, p in order): the lazy-block update W[:, i2:] -=
// E·Hinv[i1:i2, i2:]. Blocks: x over 64-row tiles of c, y over 64-column tiles. A is staged transposed
// (column p of the tile in one shared row), padded by one so the transposing stores hit distinct banks.
__global__ void gemm_subtract(int64_t m, int64_t n, int64_t k, const float* __restrict__ a, int64_t lda,
                              const float* __restrict__ b, int64_t ldb, float* __restrict__ c, int64_t ldc) {
  __shared__ float as[kStep][kTile + 1];
  __shared__ float bs[kStep][kTile];
  const int tid = threadIdx.y * kSide + threadIdx.x;
  const int64_t i0 = int64_t(blockIdx.x) * kTile, j0 = int64_t(blockIdx.y) * kTile;
  float acc[kPer][kPer] = {};
  for (int64_t p0 = 0; p0 < k; p0 += kStep) {
    for (int idx = tid; idx < kStep * kTile; idx += kThreads) {
      const int pa = idx % kStep, ra = idx / kStep;  // consecutive threads: consecutive p in one row of a
      as[pa][ra] = i0 + ra < m && p0 + pa < k ? a[(i0 + ra) * lda + p0 + pa] : 0.0f;
      const int pb = idx / kTile, cb = idx % kTile;
      bs[pb][cb] = j0 + cb < n && p0 + pb < k ? b[(p0 + pb) * ldb + j0 + cb] : 0.0f;
    }
    __syncthreads();
    multiply_step<kTile + 1>(as, bs, acc);
    __syncthreads();
  }
#pragma unroll
  for (int s = 0; s < kPer; ++s) {
    const int64_t i = i0 + threadIdx.y + kSide * s;
    if (i >= m) continue;
#pragma unroll
    for (int t = 0; t < kPer; ++t) {
      const int64_t j = j0 + threadIdx.x + kSide * t;
      if (j < n) c[i * ldc + j] -= acc[s][t];
    }
  }
}

template <int kSlots>
Status launch_sweep(const Sweep& sweep, unsigned grid) {
  const size_t shared = bytes(sweep.count * sweep.count, sizeof(float));
  // Above 48 KiB a kernel must opt in to dynamic shared memory (sm_80+ allow 99 KiB or more; 128² f32 is 64).
  KQ_CUDA_TRY(cudaFuncSetAttribute(sweep_block<kSlots>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   static_cast<int>(shared)));
  sweep_block<kSlots><<<grid, kSweepWarps * 32, shared>>>(sweep);
  return cuda_check_launch("sweep_block");
}

Status upload_or_empty(DeviceBuffer* buffer, const void* host, size_t size) {
  return host ? buffer->upload(host, size) : buffer->allocate(1);
}

}  // namespace

Status hessian_add_cuda(float* h, int64_t cols, double samples, const void* x, Input type, int64_t tokens,
                        double count) {
  KQ_RETURN_IF_ERROR(check_bytes(cols * cols, sizeof(float), "hessian"));
  if (ceil_div(cols, kMirrorTile) > kMaxGridY) return error(Code::too_large, "GPTQ Hessian: too many columns for CUDA");
  const double total = samples + count;
  const float keep = static_cast<float>(samples / total);
  const float input_scale = static_cast<float>(std::sqrt(2.0 / total));
  const size_t h_bytes = bytes(cols * cols, sizeof(float));
  DeviceBuffer dh;
  KQ_RETURN_IF_ERROR(dh.upload(h, h_bytes));
  scale_upper<<<elementwise_blocks(cols * cols), kThreads>>>(dh.as<float>(), cols, keep);
  KQ_RETURN_IF_ERROR(cuda_check_launch("scale_upper"));
  switch (type) {
    case Input::f32: KQ_RETURN_IF_ERROR(accumulate<Input::f32>(x, tokens, cols, input_scale, dh.as<float>())); break;
    case Input::f16: KQ_RETURN_IF_ERROR(accumulate<Input::f16>(x, tokens, cols, input_scale, dh.as<float>())); break;
    case Input::bf16: KQ_RETURN_IF_ERROR(accumulate<Input::bf16>(x, tokens, cols, input_scale, dh.as<float>())); break;
  }
  const unsigned mirror_tiles = static_cast<unsigned>(ceil_div(cols, kMirrorTile));
  mirror_upper<<<dim3(mirror_tiles, mirror_tiles), dim3(kMirrorTile, kMirrorRows)>>>(dh.as<float>(), cols);
  KQ_RETURN_IF_ERROR(cuda_check_launch("mirror_upper"));
  // H on the host changes only here, after every kernel succeeded.
  return dh.download(h, h_bytes);
}

Status solve_cuda(const SolveProblem& p) {
  if (p.block <= 0 || p.block > kCudaMaxBlock) return error(Code::internal, "GPTQ solve_cuda: block out of range");
  const int64_t rows = p.rows, cols = p.cols;
  KQ_RETURN_IF_ERROR(check_bytes(rows * cols, sizeof(float), "weight"));
  KQ_RETURN_IF_ERROR(check_bytes(cols * cols, sizeof(float), "hessian"));
  KQ_RETURN_IF_ERROR(check_bytes(rows * p.groups, sizeof(float), "scales"));
  if (ceil_div(cols, kTile) > kMaxGridY) return error(Code::too_large, "GPTQ solve: too many columns for CUDA");
  const bool dynamic_groups = p.group_size > 0 && !p.static_groups;
  const size_t w_bytes = bytes(rows * cols, sizeof(float)), g_bytes = bytes(rows * p.groups, sizeof(float));
  DeviceBuffer perm, hinv, work, row_scale, row_zero, static_scale, static_zero, codes, scales, zeros, q, err,
      row_loss;
  KQ_RETURN_IF_ERROR(perm.upload(p.perm, bytes(cols, sizeof(int32_t))));
  KQ_RETURN_IF_ERROR(hinv.upload(p.hinv, bytes(cols * cols, sizeof(float))));
  KQ_RETURN_IF_ERROR(work.upload(p.work, w_bytes));
  KQ_RETURN_IF_ERROR(row_scale.upload(p.row_scale, bytes(rows, sizeof(float))));
  KQ_RETURN_IF_ERROR(row_zero.upload(p.row_zero, bytes(rows, sizeof(float))));
  KQ_RETURN_IF_ERROR(upload_or_empty(&static_scale, p.static_groups ? p.static_scale : nullptr, g_bytes));
  KQ_RETURN_IF_ERROR(upload_or_empty(&static_zero, p.static_groups ? p.static_zero : nullptr, g_bytes));
  KQ_RETURN_IF_ERROR(row_loss.upload(p.row_loss, bytes(rows, sizeof(double))));
  KQ_RETURN_IF_ERROR(codes.allocate(bytes(rows * cols, 1)));
  KQ_RETURN_IF_ERROR(q.allocate(w_bytes));
  KQ_RETURN_IF_ERROR(err.allocate(bytes(rows * p.block, sizeof(float))));
  KQ_RETURN_IF_ERROR(scales.allocate(g_bytes));
  KQ_RETURN_IF_ERROR(zeros.allocate(g_bytes));
  // Read before the first group of a row is found only when a block starts inside a group: never unset
  // then, but zeroed so no path reads garbage.
  KQ_CUDA_TRY(cudaMemset(scales.as<void>(), 0, g_bytes));
  KQ_CUDA_TRY(cudaMemset(zeros.as<void>(), 0, g_bytes));

  int device = 0, multiprocessors = 1;
  KQ_CUDA_TRY(cudaGetDevice(&device));
  KQ_CUDA_TRY(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));
  // Enough thread blocks to fill the GPU a few times over; more would only stage Hinv more often.
  const unsigned sweep_grid =
      static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(ceil_div(rows, kSweepWarps), 4 * multiprocessors)));

  Sweep sweep{rows, cols, p.groups, p.group_size, 0, 0, p.grid.maxq(), p.grid.sym, p.static_groups,
              perm.as<int32_t>(), hinv.as<float>(), work.as<float>(), row_scale.as<float>(), row_zero.as<float>(),
              static_scale.as<float>(), static_zero.as<float>(), codes.as<uint8_t>(), scales.as<float>(),
              zeros.as<float>(), q.as<float>(), err.as<float>(), row_loss.as<double>()};
  for (int64_t i1 = 0; i1 < cols; i1 += p.block) {
    const int64_t i2 = std::min(cols, i1 + p.block), count = i2 - i1;
    sweep.i1 = i1;
    sweep.count = count;
    if (count <= 32) KQ_RETURN_IF_ERROR(launch_sweep<1>(sweep, sweep_grid));
    else if (count <= 64) KQ_RETURN_IF_ERROR(launch_sweep<2>(sweep, sweep_grid));
    else KQ_RETURN_IF_ERROR(launch_sweep<4>(sweep, sweep_grid));
    if (i2 < cols) {
      const dim3 grid(static_cast<unsigned>(ceil_div(rows, kTile)), static_cast<unsigned>(ceil_div(cols - i2, kTile)));
      gemm_subtract<<<grid, dim3(kSide, kSide)>>>(rows, cols - i2, count, err.as<float>(), count,
                                                  hinv.as<float>() + i1 * cols + i2, cols, work.as<float>() + i2, cols);
      KQ_RETURN_IF_ERROR(cuda_check_launch("gemm_subtract"));
    }
  }
  KQ_RETURN_IF_ERROR(codes.download(p.codes, bytes(rows * cols, 1)));
  KQ_RETURN_IF_ERROR(q.download(p.q, w_bytes));
  KQ_RETURN_IF_ERROR(row_loss.download(p.row_loss, bytes(rows, sizeof(double))));
  if (dynamic_groups) {
    KQ_RETURN_IF_ERROR(scales.download(p.scales, g_bytes));
    KQ_RETURN_IF_ERROR(zeros.download(p.zeros, g_bytes));
  }
  return Status::success();
}

}  // namespace kq::gptq
