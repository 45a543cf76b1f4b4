// Fused int4 dequant GEMV / small-m GEMM: y [m, n] = x [m, k] · dequant(W)ᵀ (+ bias), W an int4 weight [n, k]
// with per-group scales and zero points, read from the GPTQModel/AutoGPTQ checkpoint tensors (layout in
// test/fixtures/gptq/README.md section 4): qweight int32 [k/8, n] (8 consecutive input columns per word,
// little end first), qzeros int32 [G, n/8] (v1 "gptq": fields hold zero − 1, readers add 0x11111111 to the
// word; v2 "gptq_v2": fields hold the zero), scales f16 bits [G, n], g_idx int32 [k] (group of each column).
// Dequantization: w[o, i] = scales[g_idx[i], o] · (q[o, i] − zero[g_idx[i], o]).
//
// prepare() re-lays the tensors once (PreparedInt4) so every kernel load is contiguous:
//  * columns are sorted by group (stable), so act-order's arbitrary g_idx becomes contiguous groups, and
//    each group is padded with zero codes to whole blocks of kBlock columns (x is gathered into the same
//    order, padding 0, once per call);
//  * rows come in tiles of kTileRows: one 32-bit lane per row, so the accumulators are vectors over output
//    rows and a tile's 16 results are stored without a horizontal reduction. Per tile and block: kTileRows ×
//    kBlock nibbles = 256 bytes in 4 chunks of 64; chunk c, row r, byte j (j < 4) holds column 8c + j in its
//    low nibble and column 8c + 4 + j in its high nibble;
//  * scales stay f16 (exactly the checkpoint's) and zeros u8, [tile][group][kTileRows].
//
// Two arithmetic paths, both accumulating in f32 (lane = output row, columns in prepared order):
//  * Activations::int8 (default; as ggml's Q4_0 × Q8_0): x is quantized per block of 32 prepared columns,
//    d = absmax / 127, xq = round_half_even(x · (1/d)) in [-127, 127]; then per block
//      acc = fma(f32(Σ q·xq), scale · d, acc)        (the integer dot is exact)
//    and per group acc = fma(−scale·zero, xsum_g, acc) with xsum_g = Σ_blocks d · Σ xq over the group.
//    Every variant is bit-identical to the reference. Error: the activation rounding, |x − d·xq| ≤ d/2.
//  * Activations::f32: in-register dequant; per group eight f32 partial sums p[j] = fma chains of q·x over
//    the group's columns ≡ j (mod 8), in column order; sum = ((p0+p4)+(p1+p5))+((p2+p6)+(p3+p7));
//    acc = fma(scale, sum, acc); acc = fma(−scale·zero, xsum_g, acc) with xsum_g = Σ x over the group
//    (sequential f32). Every variant is bit-identical to the reference here too. Error: f32 rounding only.
// Then y = acc + bias (rounded to f16/bf16 to nearest even when asked).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../../core/status.h"
#include "../../core/tensor.h"  // Device

namespace kq::int4 {

constexpr int64_t kTileRows = 16;                          // output rows per tile (one 32-bit lane each)
constexpr int64_t kBlock = 32;                             // columns per block (padding unit, x quant block)
constexpr int64_t kChunkBytes = 64;                        // 16 rows × 8 columns of nibbles
constexpr int64_t kTileBlockBytes = kTileRows * kBlock / 2;  // 256 bytes of nibbles per tile and block
constexpr int64_t kMaxRowsPerPass = 8;                     // x rows sharing one pass over a tile's weights

enum class Format : int32_t { gptq = 0, gptq_v2 = 1 };  // v1 zeros hold zero − 1 (lib/binding.ts Int4Format)
enum class Activations : int32_t { int8 = 0, f32 = 1 };  // lib/binding.ts Int4Activations
enum class XType : int32_t { f32 = 0, f16 = 1, bf16 = 2 };  // lib/binding.ts Int4XType

// The checkpoint tensors (host memory). qzeros null: symmetric, every zero is 8. g_idx null: column c is in
// group c / group_size (group_size -1: one group). groups = rows of scales.
struct CheckpointTensors {
  const int32_t* qweight = nullptr;  // [k/8, n]
  const int32_t* qzeros = nullptr;   // [groups, n/8] or null
  const uint16_t* scales = nullptr;  // [groups, n] f16 bits
  const int32_t* g_idx = nullptr;    // [k] or null
  int64_t n = 0;
  int64_t k = 0;
  int64_t groups = 0;
  int64_t group_size = 128;  // 32, 64, 128, ... or -1; used only when g_idx is null
  Format format = Format::gptq;
  // Element counts of the arrays above, checked against the shapes.
  int64_t qweight_len = 0, qzeros_len = 0, scales_len = 0, g_idx_len = 0;
};

// 64-byte aligned buffer owned by a prepared weight.
struct AlignedFree {
  void operator()(void* p) const;
};
using AlignedBytes = std::unique_ptr<uint8_t, AlignedFree>;

struct PreparedInt4 {
  Device device = Device::cpu;
  int64_t n = 0, k = 0, groups = 0, group_size = 0;
  int64_t tiles = 0;   // ceil(n / kTileRows)
  int64_t blocks = 0;  // prepared columns / kBlock
  bool identity = false;  // prepared columns = original columns (no sort, no padding): x is used in place
  std::vector<int32_t> src_col;       // [blocks · kBlock]: original column of each prepared one, -1 = padding
  std::vector<int32_t> group_blocks;  // [groups + 1]: group g spans blocks [group_blocks[g], group_blocks[g+1])
  AlignedBytes nibbles;               // [tiles][blocks][4 chunks][kTileRows][4 bytes]
  std::vector<uint16_t> scales;       // [tiles][groups][kTileRows] f16 bits
  std::vector<uint8_t> zeros;         // [tiles][groups][kTileRows]
  // device cuda: the uploaded weight (cuda.cu), freed with this object; nibbles, scales and zeros are then
  // released on the host and cuda_bytes counts the device memory.
  std::shared_ptr<void> cuda;
  int64_t cuda_bytes = 0;
  int64_t bytes() const;              // memory held
};

// Per-call activations in prepared column order, made by the driver (shared by every variant).
struct CallArgs {
  const PreparedInt4* w = nullptr;
  int64_t m = 0;
  const int8_t* xq = nullptr;    // int8 path: [m][blocks · kBlock]
  const float* xd = nullptr;     // int8 path: [m][blocks] block scales d
  const float* xf = nullptr;     // f32 path: [m][blocks · kBlock]
  const float* xsum = nullptr;   // [m][groups]
  const float* bias = nullptr;   // [n] or null
  float* y = nullptr;            // [m][n]
};

// One instruction set's kernels: tiles [t0, t1) for every x row (passes of up to kMaxRowsPerPass rows).
struct Kernels {
  void (*int8_tiles)(const CallArgs& a, int64_t t0, int64_t t1);
  void (*f32_tiles)(const CallArgs& a, int64_t t0, int64_t t1);
};

extern const Kernels kernels_ref;
extern const Kernels kernels_avx2;         // vpmaddubsw
extern const Kernels kernels_avx512;       // vpmaddubsw on zmm
extern const Kernels kernels_avx512_vnni;  // vpdpbusd

// The table for the active SIMD level (AVX-512 uses VNNI where the CPU has it).
const Kernels& active_kernels();

// ---- the scalar specification (ref.cc) ----

// One prepared block of x: d = absmax / 127 (0 for an all-zero block), xq = round_half_even(x · (1/d))
// (x / d where 1/d overflows), clamped to [-127, 127].
void quantize_block_ref(const float* x, int8_t* xq, float* d);

// ---- drivers ----

// Checks every tensor against the shapes and re-lays it (prepare.cc). Errors: KQ_SHAPE (k not a multiple
// of 8, n not a multiple of 8 with qzeros, bad group size), KQ_LENGTH (array lengths), KQ_INVALID_ARGUMENT
// (g_idx out of range), KQ_NON_FINITE (a NaN/Inf scale). device cuda: uploads (upload_cuda);
// KQ_CUDA_UNAVAILABLE without a GPU or below compute capability 8.0.
Status prepare(const CheckpointTensors& t, Device device, std::shared_ptr<PreparedInt4>* out);

struct MatmulArgs {
  const void* x = nullptr;  // [m, k]
  XType x_type = XType::f32;
  int64_t m = 0;
  const float* bias = nullptr;  // [n] or null
  void* y = nullptr;            // [m, n]
  XType y_type = XType::f32;    // f16/bf16: the f32 result rounded to nearest even
  Activations activations = Activations::int8;  // CPU only: the CUDA kernels have their own arithmetic
  const Kernels* kernels = nullptr;  // null: active_kernels(); tests and benchmarks name a table
};

// y = x · dequant(W)ᵀ (+ bias) (int4.cc), on the weight's device. Non-finite x is rejected (KQ_NON_FINITE).
Status matmul(const PreparedInt4& w, const MatmulArgs& args);

// ---- CUDA (cuda.cu) ----
// Defined only in builds with CUDA; the drivers reach them through run_on_cuda. Arithmetic and error bounds
// are in cuda.cu: m <= 4 runs a GEMV in f32 (f32 rounding only), m > 4 an mma.sync f16 tensor-core GEMM
// (x and each s·(q − zero) rounded to f16, f32 accumulation: |Δy| <~ 1e-3 · Σ|w·x|), which refuses x beyond
// ±65504 and weights with a scale of 4096 or more (KQ_INVALID_ARGUMENT), and m past 4194240 (KQ_TOO_LARGE).

// Re-lays the host-prepared weight into the tensor-core fragment layout, uploads it to the current device
// (sm_80+) into w->cuda and releases the host nibbles, scales and zeros.
Status upload_cuda(PreparedInt4* w);
// y = x · dequant(W)ᵀ (+ bias) for a weight prepared on CUDA; host x, bias and y; args.m >= 1.
Status matmul_cuda(const PreparedInt4& w, const MatmulArgs& args);
// The ceiling the CUDA rows of bench/suites/int4.ts compare with: device-to-device cudaMemcpy between two
// buffers of `bytes`, bytes read + written per second (as bench/bandwidth.ts counts the CPU copy).
Status copy_bandwidth_cuda(int64_t bytes, double* gbps);

}  // namespace kq::int4
