// BitNet weight quantization, its inverse and the trit packings (lib/ops/ternary.ts quotes the papers):
//   ternary (b1.58, Ma et al. 2024): γ = mean |W|, t = RoundClip(W / (γ + ε), −1, 1), ε = 1e-5, ties to even
//   binary  (Wang et al. 2023):      α = mean W, t = Sign(W − α) with Sign(0) = −1, β = mean |W|
// per tensor or per row. Sums and means are f64, γ / β are stored as f32 (f32(sum / count)); γ + ε, the
// quotient and W − α are f64, as the TypeScript code this replaced computed them.
//
// Summation order (defined here so every variant gives the same f64 sums bit for bit): a row's elements
// c < k − k % 8 go to lane c % 8 (kSumLanes f64 accumulators from +0, each in increasing c), the lanes are
// then added in lane order 0…7, then the last k % 8 elements in order. A per-tensor sum adds the row sums
// in row order. AVX2 holds the 8 lanes in two ymm, AVX-512 in one zmm, CUDA in 8 threads per row.
//
// Packings: '2bit' puts trit 4j + i in bits 2i..2i+1 of byte j as t + 1; 'base3' is TQ1_0's encoding,
// q = Σ_i (t_{5j+i} + 1)·3^(4−i) stored as ⌈q·256 / 243⌉ and trit i read back as ((byte·3^i mod 256)·3) >> 8.
// The tail of the last byte is padded with trit 0.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/status.h"
#include "../../core/tensor.h"  // Device

namespace kq::ternary {

constexpr double kEpsilon = 1e-5;  // b1.58's ε in RoundClip(W / (γ + ε))
constexpr int64_t kSumLanes = 8;   // the row sum's accumulators (see above)

// Pinned to lib/binding.ts TernaryScheme / TritPacking.
enum class Scheme : int { ternary = 0, binary = 1 };
enum class Packing : int { two_bit = 0, base3 = 1 };

// One instruction set's row kernels; each variant must give the reference's bits.
struct QuantKernels {
  // Σ w and Σ |w| of w[0..k) in the order above.
  void (*row_sums)(const float* w, int64_t k, double* sum, double* sum_abs);
  // t = clamp(rint(f64(w) / divisor), −1, 1), divisor = γ + ε.
  void (*ternary_row)(const float* w, int64_t k, double divisor, int8_t* trits);
  // t = f64(w) − α > 0 ? 1 : −1.
  void (*binary_row)(const float* w, int64_t k, double alpha, int8_t* trits);
  // out = f32(t) · scale (exact: ±scale or ±0).
  void (*dequantize_row)(const int8_t* trits, int64_t k, float scale, float* out);
};

extern const QuantKernels quant_kernels_ref;
extern const QuantKernels quant_kernels_avx2;
extern const QuantKernels quant_kernels_avx512;
const QuantKernels& active_quant_kernels();

// The reference's order of combining the lanes and the tail, shared so the SIMD variants cannot differ.
inline void finish_row_sums(const double* lanes, const double* lanes_abs, const float* w, int64_t k, double* sum,
                            double* sum_abs) {
  double s = lanes[0], a = lanes_abs[0];
  for (int64_t j = 1; j < kSumLanes; ++j) {
    s += lanes[j];
    a += lanes_abs[j];
  }
  for (int64_t c = k - k % kSumLanes; c < k; ++c) {
    s += static_cast<double>(w[c]);
    a += std::fabs(static_cast<double>(w[c]));
  }
  *sum = s;
  *sum_abs = a;
}

struct QuantizeArgs {
  const float* w = nullptr;  // [n, k], finite (KQ_NON_FINITE names the first bad element)
  int64_t n = 0, k = 0;
  Scheme scheme = Scheme::ternary;
  bool per_row = false;
  int8_t* trits = nullptr;   // [n · k]
  float* scales = nullptr;   // [per_row ? n : 1]: γ or β
  Device device = Device::cpu;
  const QuantKernels* kernels = nullptr;  // null: active_quant_kernels(); tests name a table
};

struct DequantizeArgs {
  const int8_t* trits = nullptr;  // [n · k]
  int64_t n = 0, k = 0;
  const float* scales = nullptr;  // [scales_len]: 1 or n
  int64_t scales_len = 0;
  float* out = nullptr;           // [n · k]
  Device device = Device::cpu;
  const QuantKernels* kernels = nullptr;
};

Status quantize(const QuantizeArgs& args);
Status dequantize(const DequantizeArgs& args);

// From the row sums to the stored scales and each row's parameter (ternary: γ + ε, binary: α); the one place
// the per-tensor order (row sums in row order) is written, used by the CPU and CUDA drivers alike.
// KQ_NON_FINITE, naming the first non-finite weight, when a sum is not finite.
Status row_parameters(const QuantizeArgs& args, const double* sums, const double* sums_abs, double* params);

// bytes: ⌈count / (2bit ? 4 : 5)⌉. pack: KQ_INVALID_ARGUMENT naming the first trit outside {−1, 0, 1};
// unpack: KQ_INVALID_ARGUMENT naming the first byte holding a 2-bit code 3 among the first `count` trits.
int64_t packed_bytes(int64_t count, Packing packing);
Status pack_trits(const int8_t* trits, int64_t count, Packing packing, uint8_t* bytes);
Status unpack_trits(const uint8_t* bytes, int64_t count, Packing packing, int8_t* trits);

// ---- CUDA (quantize_cuda.cu; reached through run_on_cuda) ----
Status quantize_cuda(const QuantizeArgs& args);
Status dequantize_cuda(const DequantizeArgs& args);

}  // namespace kq::ternary
