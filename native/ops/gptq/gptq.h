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
// the call; the caller stores N + count. Spreads over the thread pool.
enum class Input { f32, f16, bf16 };
Status hessian_add(float* h, int64_t cols, double samples, const void* x, Input type, int64_t tokens, double count);

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

}  // namespace kq::gptq
