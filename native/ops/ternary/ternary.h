// Ternary GEMV / small-m GEMM with int8 activations, as BitNet b1.58's BitLinear runs at inference:
// y [m, n] = (Σ_k t[o, k] · xq[i, k]) · γ_w[o] / s_x[i], with t ∈ {−1, 0, +1} the weight trits [n, k],
// γ_w their scale (per tensor or per row, lib/ops/ternary.ts), xq = clamp(rint(x · s_x), −127, 127) and
// s_x = 127 / max_k |x[i, k]| per token — linear::quantize's per-channel absmax, the same rounding as
// quantizePerToken (BitLinear's Clip(x·Q_b/γ_x, −Q_b+ε, Q_b−ε) with Q_b = 127, then round-half-even).
//
// Layout (PreparedTernary): per output row, kBlock = 64 columns per block, two 64-bit masks per block:
// `plus` has bit j set where t[o, 64b + j] = +1, `minus` where it is −1 — 2 bits per weight, the trits never
// appear as numbers. Columns past k are zero in both masks (and xq is padded with 0).
//
// Arithmetic, every variant: the dot is Σ over set plus bits of xq − Σ over set minus bits of xq, exact in
// int32 (|dot| ≤ 127·k, k ≤ kMaxK). The weights are applied only by selecting and negating activations
// (masked moves/subtractions, or AND-masks and a subtraction): no multiplication by a weight anywhere. The
// one instruction named "multiply" in the SIMD paths (vpdpbusd / vpmaddubsw / __dp4a) multiplies the
// selected int8 values by the constant 1: it is used as a widening horizontal add. Then, in f32,
//   y = (f32(dot) · γ_w[o]) / s_x[i]        (two roundings after the integer conversion)
// so every variant (scalar, AVX2, AVX-512, AVX-512 VNNI, CUDA) gives the reference's bits.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../../core/status.h"
#include "../../core/tensor.h"  // Device

namespace kq::ternary {

constexpr int64_t kBlock = 64;                  // columns per (plus, minus) mask pair
constexpr int64_t kRowGroup = 4;                // output rows a CPU kernel call walks together (thread grain)
constexpr int64_t kMaxK = int64_t(1) << 24;     // keeps 127·k inside int32 with room to spare
constexpr int64_t kMaxCudaM = 16;               // the CUDA kernel's x rows per launch

// Trits [n, k] row-major and their scales: scales_len 1 (per tensor) or n (per row).
struct TritTensor {
  const int8_t* trits = nullptr;
  int64_t trits_len = 0;
  const float* scales = nullptr;
  int64_t scales_len = 0;
  int64_t n = 0, k = 0;
};

struct PreparedTernary {
  Device device = Device::cpu;
  int64_t n = 0, k = 0, blocks = 0;  // blocks = ceil(k / kBlock)
  std::vector<uint64_t> masks;       // [n][blocks][2]: plus, minus (released after a CUDA upload)
  std::vector<float> scales;         // [n] γ_w per row (a per-tensor scale repeated)
  std::shared_ptr<void> cuda;        // device cuda: the uploaded masks and scales (cuda.cu)
  int64_t cuda_bytes = 0;
  int64_t bytes() const;             // memory held
};

// Per-call activations, quantized by the driver (shared by every variant, CUDA included).
struct CallArgs {
  const PreparedTernary* w = nullptr;
  int64_t m = 0;
  const int8_t* xq = nullptr;      // [m][blocks · kBlock], padding 0
  const float* xscale = nullptr;   // [m] s_x: x ≈ xq / s_x
  float* y = nullptr;              // [m][n]
};

// One instruction set's kernel: output rows [r0, r1) for every x row.
struct Kernels {
  void (*rows)(const CallArgs& a, int64_t r0, int64_t r1);
};

extern const Kernels kernels_ref;
extern const Kernels kernels_avx2;         // AND-masks expanded from the bits, vpmaddubsw(1, ·) widening
extern const Kernels kernels_avx512;       // masked moves/subtractions (AVX-512BW), vpmaddubsw(1, ·) widening
extern const Kernels kernels_avx512_vnni;  // the same selection, vpdpbusd(1, ·) widening

// The table for the active SIMD level (AVX-512 uses VNNI where the CPU has it).
const Kernels& active_kernels();

// The reference's epilogue, shared so no variant can differ: (f32(dot) · γ_w) / s_x.
inline float scale_dot(int32_t dot, float w_scale, float x_scale) {
  const float scaled = static_cast<float>(dot) * w_scale;
  return scaled / x_scale;
}

// Checks the trits ({−1, 0, 1}), shapes and scales (finite) and builds the masks; device cuda uploads them
// (KQ_CUDA_UNAVAILABLE without a GPU of compute capability 8.0+). Errors: KQ_SHAPE, KQ_LENGTH,
// KQ_INVALID_ARGUMENT (a trit outside {−1, 0, 1}), KQ_NON_FINITE, KQ_TOO_LARGE (k > kMaxK).
Status prepare(const TritTensor& t, Device device, std::shared_ptr<PreparedTernary>* out);

struct MatmulArgs {
  const float* x = nullptr;  // [m, k]
  int64_t m = 0;
  float* y = nullptr;        // [m, n]
  const Kernels* kernels = nullptr;  // null: active_kernels(); tests and benchmarks name a table
};

// Quantizes x per token (KQ_NON_FINITE on NaN/Inf) and runs the weight's device.
Status matmul(const PreparedTernary& w, const MatmulArgs& args);

// ---- CUDA (cuda.cu; builds with CUDA only, reached through run_on_cuda) ----
Status upload_cuda(PreparedTernary* w);
// The same call on the device: xq and xscale up, y down; any m (launches of kMaxCudaM rows).
Status matmul_cuda(const CallArgs& a);

}  // namespace kq::ternary
