// LLM.int8() (bitsandbytes int8_vectorwise_quant / int8_vectorwise_dequant / int8_linear_matmul /
// int8_mm_dequant; the format is specified in test/fixtures/bnb/README.md section 4.8).
//
// Vector-wise quantization of an f32 matrix A [rows, cols] (row-major) with threshold t (0 = off):
//  * outliers are the elements with |a| >= t when t > 0; outlier columns are the columns holding any;
//  * row_stats[r] = max |a| over the row's non-outlier elements (0 if none);
//  * scale = 127 · (1 / row_stats) as two f32 roundings (reciprocal, then product);
//  * q = round_half_even(a · scale) (one f32 rounding), outlier elements 0, a zero row 0; with rows > 1
//    every outlier column is zeroed in all rows (with one row only the outlier elements are).
// Dequantization: (q · row_stats) · 0.007874015718698502f, two f32 roundings.
// Int8 matmul: C_i32[m, n] = A_i8[m, k] · B_i8[n, k]ᵀ, exact integers (every variant is bit-exact).
// Matmul dequantization: ((f32(acc) · row_stats_A[i]) · row_stats_B[j]) · kMatmulDequantScale.
#pragma once
#include <cstdint>

#include "../../core/status.h"
#include "../../core/tensor.h"  // Device

namespace kq::int8mm {

// f32 of 1/127 (bits 0x3c010204), the factor of int8_vectorwise_dequant.
constexpr float kDequantScale = 0.007874015718698502f;
// bnb's CUDA int8_mm_dequant constant (1/127² = 6.2000124e-05 is what it approximates). bnb's pure-torch
// `default` backend uses 6.200124e-05 instead (off by 1.8e-5 relative); the goldens store both, and kquant
// follows the CUDA kernel.
constexpr float kMatmulDequantScale = 6.200012e-05f;
// Longest inner dimension whose int32 dot products cannot overflow (k · 128 · 128 < 2^31).
constexpr int64_t kMaxInner = 131071;

// One instruction set's GEMM kernel.
struct Kernels {
  // c[i·ldc + j] = Σ_p a[i·k + p] · b[j·k + p] for i < rows_a, j < rows_b (A and B rows of length k).
  // b_sums[j] = Σ_p b[j·k + p] (the VNNI variant's correction term; the others ignore it).
  void (*gemm_tile)(const int8_t* a, int64_t rows_a, const int8_t* b, int64_t rows_b, int64_t k,
                    const int32_t* b_sums, int32_t* c, int64_t ldc);
};

extern const Kernels kernels_ref;
extern const Kernels kernels_avx2;
extern const Kernels kernels_avx512;       // vpmaddwd on sign-extended int16
extern const Kernels kernels_avx512_vnni;  // vpdpbusd with the +128 offset and a correction term

// The kernel table for the active SIMD level (AVX-512 uses VNNI where the CPU has it).
const Kernels& active_kernels();

// ---- the scalar specification (ref.cc), shared by the driver at every level ----

// max |a| over a row's elements with |a| < t (all when t <= 0); sets *non_finite on NaN/Inf.
float row_stat_ref(const float* a, int64_t cols, float threshold, uint32_t* non_finite);
// mask[c] = 1 where |a[c]| >= t (t > 0).
void mark_outliers_ref(const float* a, int64_t cols, float threshold, uint8_t* mask);
// One row's codes. col_mask (nullable) zeroes whole outlier columns; outlier elements are zero regardless.
void quantize_row_ref(const float* a, int64_t cols, float threshold, float row_stat, const uint8_t* col_mask,
                      int8_t* q);
void dequantize_row_ref(const int8_t* q, int64_t cols, float row_stat, float* out);
inline float mm_dequant_one(int32_t acc, float row_stat_a, float row_stat_b) {
  const float x = static_cast<float>(acc) * row_stat_a;
  const float y = x * row_stat_b;
  return y * kMatmulDequantScale;
}

// ---- drivers (int8mm.cc) ----

// q [rows·cols], row_stats [rows]; outlier_mask [cols] (may be null when threshold <= 0) gets 1 for outlier
// columns. Fails on NaN/Inf (KQ_NON_FINITE) and a negative or non-finite threshold.
Status vectorwise_quantize(const float* src, int64_t rows, int64_t cols, float threshold, int8_t* q,
                           float* row_stats, uint8_t* outlier_mask);
Status vectorwise_dequantize(const int8_t* q, int64_t rows, int64_t cols, const float* row_stats, float* out);
// c [m·n] = a [m·k] · b [n·k]ᵀ; Device::cuda runs gemm_i8_cuda (same results, exact integers).
Status matmul_i32(const int8_t* a, int64_t m, const int8_t* b, int64_t n, int64_t k, int32_t* c,
                  Device device = Device::cpu);
Status matmul_dequantize(const int32_t* acc, int64_t m, int64_t n, const float* row_stats_a,
                         const float* row_stats_b, float* out);

// LLM.int8 mixed decomposition: out[i, j] = f32( f64(mm_dequant(A_i8 · B_i8ᵀ)) + Σ_c f64(a_out[i, c]) ·
// f64(b_out[j, c]) ), the outlier part over `outliers` gathered columns in f64.
struct LinearArgs {
  const int8_t* a = nullptr;
  const float* row_stats_a = nullptr;
  int64_t m = 0;
  const int8_t* b = nullptr;
  const float* row_stats_b = nullptr;
  int64_t n = 0;
  int64_t k = 0;
  const float* a_outliers = nullptr;  // [m, outliers]
  const float* b_outliers = nullptr;  // [n, outliers]
  int64_t outliers = 0;
  float* out = nullptr;  // [m, n]
  Device device = Device::cpu;  // where the int32 GEMM runs; dequantization and outliers stay on the CPU
};
Status linear(const LinearArgs& args);

// ---- CUDA (cuda.cu) ----

// Defined in cuda.cu, only in builds with CUDA; drivers reach them through run_on_cuda. Host pointers,
// arguments already checked by matmul_i32 (k <= kMaxInner); uploads, runs a dp4a GEMM and downloads.
Status gemm_i8_cuda(const int8_t* a, int64_t m, const int8_t* b, int64_t n, int64_t k, int32_t* c);

}  // namespace kq::int8mm
