// GPTQ (Frantar et al., IST-DASLab/gptq commit 2d65066, `gptq.py` + `quant.py`): one-shot, layer-wise
// quantization that quantizes a weight one input column at a time and spreads each column's error over the
// columns not yet quantized, weighted by the inverse Hessian of the layer's calibration inputs. The spec of
// every step (float32 semantics, group and act-order rules, g_idx) is test/fixtures/gptq/README.md section 3.
//
// Weights are W [rows = out features, cols = in features], row-major f32. Codes are returned in the original
// column order; scales/zeros per group in the order the groups were created (permuted order with act-order).
#pragma once
#include <cstdint>

#include "../../core/status.h"
#include "../../core/tensor.h"

namespace kq::gptq {

// ---- the per-row min/max quantizer (quantizer.cc; reference `Quantizer`, perchannel, weight=True) ----

struct Grid {
  int bits = 4;      // 2, 3, 4 or 8
  bool sym = true;   // symmetric: mid-range zero point (2^(bits-1))
  bool mse = false;  // shrink the range by the reference's grid search (grid 100, maxshrink 0.8, norm 2.4)
  int maxq() const { return (1 << bits) - 1; }
};

// scale and zero of one row slice x[0..n), f32 as the reference computes them.
void find_params(const float* x, int64_t n, const Grid& grid, float* scale, float* zero);

// clamp(round_half_even(w / scale) + zero, 0, maxq) in f32.
inline int quantize_code(float w, float scale, float zero, int maxq) {
  float q = __builtin_nearbyintf(w / scale) + zero;
  if (!(q >= 0.0f)) q = 0.0f;  // also NaN, from a scale that underflowed to 0
  if (q > static_cast<float>(maxq)) q = static_cast<float>(maxq);
  return static_cast<int>(q);
}
inline float dequantize_code(int q, float scale, float zero) { return scale * (static_cast<float>(q) - zero); }

// ---- Hessian accumulation (hessian.cc) ----

// The reference's `add_batch` for one call with `count` samples (sequences) in x [tokens, cols]:
// H ← H·f32(N/(N+count)), N ← N+count, x ← f32(sqrt(2/N))·x, H ← H + xᵀx. h is [cols, cols] f32, full
// symmetric storage (both triangles kept). x is f32, or f16/bf16 bits widened exactly. `samples` is N before
// the call; the caller stores N + count. Spreads over the thread pool; Device::cuda runs hessian_add_cuda
// (after the same checks, so a rejected batch leaves H as it was either way).
enum class Input { f32, f16, bf16 };
Status hessian_add(float* h, int64_t cols, double samples, const void* x, Input type, int64_t tokens, double count,
                   Device device = Device::cpu);

// ---- GPTQ (solve.cc) and round-to-nearest (rtn.cc) ----

struct Options {
  Grid grid;
  int64_t group_size = -1;    // -1: one group per row
  bool act_order = false;     // columns by descending Hessian diagonal
  bool static_groups = false;  // group parameters from the original W before the solve (GPTQModel)
  float damp = 0.01f;          // fraction of mean(diag H) added to the diagonal
  bool damp_auto = true;       // when H + damp is not positive definite, retry with damp + 0.01 (as GPTQModel)
  int64_t block_size = 128;    // lazy-batch width
  bool errors = true;          // compute the output errors of GPTQ and RTN (two SYRKs of the weight size)
  // Device::cuda runs the column sweep and the lazy-block updates on the GPU (solve_cuda); the inverse factor
  // and the output errors stay on the CPU. Options solve_cuda_supports() rejects run on the CPU.
  Device device = Device::cpu;
};

// Output buffers; `dequant` and `rtn_*` may be null.
struct Outputs {
  uint8_t* codes = nullptr;   // [rows, cols], original column order
  float* scales = nullptr;    // [rows, groups]
  float* zeros = nullptr;     // [rows, groups], integer valued
  int32_t* g_idx = nullptr;   // [cols]
  int32_t* perm = nullptr;    // [cols]: position j of the solve quantized original column perm[j]
  float* dequant = nullptr;   // [rows, cols] scales·(codes − zeros), original order
};

struct Report {
  double damp = 0.0;          // the damping added to the diagonal (absolute)
  double damp_fraction = 0.0;  // the fraction of mean(diag H) it is (larger than asked if damp_auto stepped)
  double loss = 0.0;          // the reference's printed loss: Σ (w − q)² / Hinv[j,j]² / 2
  double gptq_error = -1.0;   // tr(H · DᵀD), D = W − Q (the output error up to H's normalisation); -1 if off
  double rtn_error = -1.0;    // the same for round-to-nearest with identical grid and groups
  int64_t dead_columns = 0;   // columns with diag(H) == 0
};

inline int64_t group_count(int64_t cols, int64_t group_size) {
  return group_size <= 0 ? 1 : (cols + group_size - 1) / group_size;
}

// w [rows, cols] and h [cols, cols] (full symmetric f32) are read only.
Status quantize(const float* w, int64_t rows, int64_t cols, const float* h, const Options& options,
                const Outputs& out, Report* report);

// bits in {2, 3, 4, 8} and group_size -1 or positive.
Status check_grid(const Grid& grid, int64_t group_size);

// Round-to-nearest with the same quantizer over groups of consecutive columns (g_idx = c / group_size).
// Outputs as above (perm is identity when given).
Status quantize_rtn(const float* w, int64_t rows, int64_t cols, const Grid& grid, int64_t group_size,
                    const Outputs& out);

// tr(h · DᵀD) with D = w − q (both [rows, cols]) in f64 from an f32 SYRK of D: the output error
// Σ‖(W − Q)x‖² when h = Σ x xᵀ.
double output_error(const float* w, const float* q, int64_t rows, int64_t cols, const float* h);

// ---- CUDA (cuda.cu) ----

// Defined in cuda.cu, only in builds with CUDA; the drivers reach them through run_on_cuda. Host pointers,
// arguments already checked by the drivers: each uploads, runs and downloads. Built with -fmad=false, every
// step rounds as the CPU code does; only f32 sums may be formed in another order than the active CPU
// kernels' (the scalar dense reference's order is kept, so at SIMD level scalar the results are identical).

// hessian_add's arithmetic on a tiled SYRK of H's upper triangle (mirrored afterwards): the same keep factor
// and input scale, and each chunk's sum formed in f32 over the same token chunks before it is added to H.
Status hessian_add_cuda(float* h, int64_t cols, double samples, const void* x, Input type, int64_t tokens,
                        double count);

// The solve's state once solve.cc has prepared it (the fields of its Problem, outputs split out).
struct SolveProblem {
  int64_t rows, cols, groups, group_size, block;  // block <= kCudaMaxBlock
  Grid grid;
  bool static_groups;
  const int32_t* perm;        // [cols]
  const float* hinv;          // [cols, cols] f32 upper inverse factor of the permuted, damped H
  const float* work;          // [rows, cols] W permuted, dead columns zeroed (read only here)
  const float* row_scale;     // [rows] parameters for group_size = -1
  const float* row_zero;
  const float* static_scale;  // [rows, groups] for static groups
  const float* static_zero;
  uint8_t* codes;             // [rows, cols] original order
  float* scales;              // [rows, groups]: written for dynamic groups only (the driver fills the others)
  float* zeros;
  float* q;                   // [rows, cols] dequantized, original order
  double* row_loss;           // [rows], each lazy block's loss / 2 added
};

// A warp holds one row's lazy block in registers, at most 4 columns per lane.
constexpr int64_t kCudaMaxBlock = 128;

// What solve_cuda does not do: the MSE grid search inside dynamic groups (its pow() would not round as the
// CPU's does, so the chosen range, and every later code, could change) and lazy blocks wider than
// kCudaMaxBlock. Such solves run on the CPU even when CUDA is asked for; the results are the CPU's.
inline bool solve_cuda_supports(const Options& o, int64_t cols) {
  const bool dynamic_groups = o.group_size > 0 && !o.static_groups;
  const int64_t block = o.block_size < cols ? o.block_size : cols;
  return !(o.grid.mse && dynamic_groups) && block > 0 && block <= kCudaMaxBlock;
}

// solve_band for all rows: per lazy block, the column-by-column error feedback (one warp per row, the
// block of Hinv in shared memory), then W[:, i2:] -= E·Hinv[i1:i2, i2:] by a tiled SGEMM.
Status solve_cuda(const SolveProblem& p);

}  // namespace kq::gptq
