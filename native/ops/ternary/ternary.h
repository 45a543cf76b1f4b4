// Ternary GEMV / small-m GEMM with int8 activations, as BitNet b1.58's BitLinear runs at inference:
// y [m, n] = (Σ_k t[o, k] · xq[i, k]) · γ_w[o] / s_x[i], with t ∈ {−1, 0, +1} the weight trits [n, k],
// γ_w their scale (per tensor or per row, lib/ops/ternary.ts), xq = clamp(rint(x · s_x), −127, 127) and
// s_x = 127 / max_k |x[i, k]| per token — linear::quantize's per-channel absmax, the same rounding as
// quantizePerToken (BitLinear's Clip(x·Q_b/γ_x, −Q_b+ε, Q_b−ε) with Q_b = 127, then round-half-even).
//
// Layout (PreparedTernary): rows in tiles of kTileRows = 32 (one 16-bit lane per row, so one zmm or one
// warp covers a tile), columns in quads of 16 = four groups of 4. Per tile and quad, two planes of 32 u16:
// `plus` lane r has bit 4g + j set where t[row r, column 16q + 4g + j] = +1, `minus` where it is −1 — 2 bits
// per weight; the trits never appear as numbers. Rows past n and columns past k are zero in both planes
// (and xq is padded with 0).
//
// Arithmetic, every variant: the dot is Σ over set plus bits of xq − Σ over set minus bits of xq, exact in
// int32 (|dot| ≤ 127·k, k ≤ kMaxK). The AVX-512 and AVX2 kernels read it from tables of activation sums (as
// T-MAC and bitnet.cpp's TL kernels do): per token and group of 4 columns, S[p] = Σ_{j ∈ p} xq[4G + j] for
// the 16 subsets p, built with additions only; a row adds S[plus nibble] and subtracts S[minus nibble]
// (vpermw / vpshufb lookups). The scalar reference and CUDA select activations by the bits directly (mask /
// subtract). No variant multiplies by a weight; CUDA's __dp4a multiplies the selected bytes by the constant
// 1, as a widening horizontal add. Then, in f32,
//   y = (f32(dot) · γ_w[o]) / s_x[i]        (two roundings after the integer conversion)
// so every variant (scalar, AVX2, AVX-512, CUDA) gives the reference's bits.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../../core/status.h"
#include "../../core/tensor.h"  // Device

namespace kq::ternary {

constexpr int64_t kTileRows = 32;              // output rows per tile: one u16 lane each
constexpr int64_t kQuad = 16;                   // columns per quad: 4 groups of 4, one u16 per row and plane
constexpr int64_t kGroup = 4;                   // columns per table lookup (16 subsets)
constexpr int64_t kTableEntries = 16;           // int16 per group table: the sums of the 16 subsets
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
  int64_t n = 0, k = 0;
  int64_t tiles = 0, quads = 0;      // ceil(n / kTileRows), ceil(k / kQuad)
  std::vector<uint16_t> planes;      // [tiles][quads][2: plus, minus][kTileRows] (released after a CUDA upload)
  std::vector<float> scales;         // [n] γ_w per row (a per-tensor scale repeated)
  std::shared_ptr<void> cuda;        // device cuda: the uploaded planes and scales (cuda.cu)
  int64_t cuda_bytes = 0;
  int64_t bytes() const;             // memory held
};

// Per-call activations, quantized by the driver (shared by every variant, CUDA included).
struct CallArgs {
  const PreparedTernary* w = nullptr;
  int64_t m = 0;
  const int8_t* xq = nullptr;      // [m][quads · kQuad], padding 0
  const int16_t* tables = nullptr; // [m][quads · 4][kTableEntries]: S[p] as the kernel's TableFormat says
  const float* xscale = nullptr;   // [m] s_x: x ≈ xq / s_x
  float* y = nullptr;              // [m][n]
};

// How a kernel wants each group's 16 sums: none (the kernel reads xq), int16 S[0..15], or split_bytes:
// the low bytes of S[0..15], then their high bytes (16-entry byte tables for vpshufb).
enum class TableFormat { none, int16, split_bytes };

// One instruction set's kernel: row tiles [t0, t1) for every x row.
struct Kernels {
  void (*tiles)(const CallArgs& a, int64_t t0, int64_t t1);
  TableFormat tables;
};

extern const Kernels kernels_ref;     // reads the bits and xq
extern const Kernels kernels_avx2;    // table lookups (two vpshufb per 16 rows: low and high bytes)
extern const Kernels kernels_avx512;  // table lookups (vpermw), int16 adds flushed to int32

// The table for the active SIMD level.
const Kernels& active_kernels();

// S[p] = Σ_{j ∈ p} xq[j] over the 16 subsets p of one group of kGroup activations, in `format` (driver).
void build_group_table(const int8_t* xq, TableFormat format, int16_t* table);

// The reference's epilogue, shared so no variant can differ: (f32(dot) · γ_w) / s_x.
inline float scale_dot(int32_t dot, float w_scale, float x_scale) {
  const float scaled = static_cast<float>(dot) * w_scale;
  return scaled / x_scale;
}

// Checks the trits ({−1, 0, 1}), shapes and scales (finite) and builds the planes; device cuda uploads them
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
// The same call on the device (tables unused): xq and xscale up, y down; any m (launches of kMaxCudaM rows).
Status matmul_cuda(const CallArgs& a);

}  // namespace kq::ternary
