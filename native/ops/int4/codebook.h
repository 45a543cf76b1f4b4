// The fused 4-bit GEMV for weights whose dequantization is a code book or a K-quant affine map rather than
// GPTQ's f16 scale · (q − integer zero): y [m, n] = x [m, k] · dequant(W)ᵀ (+ bias), on the same 16-row tile
// nibble layout as PreparedInt4 (int4.h), columns in their natural order (k a multiple of 32, no padding).
//  * nf4 / fp4 (bitsandbytes 4-bit, test/fixtures/bnb/README.md): w[o, i] = table[q] · absmax[block of (o, i)],
//    bnb blocks of blockSize consecutive elements of the flattened [n, k] weight; prepare takes the absmax
//    already in f32 (double quantization undone once, by bnb's rule, in lib/ops/int4-codebook.ts). A group
//    is one bnb block (k a multiple of blockSize, so no block straddles two rows).
//  * q4_k (ggml block_q4_K, test/fixtures/ggml/README.md): w = (d · sc)·q − dmin·m per sub-block of 32, as
//    ggml's dequantize_row_q4_K rounds it; a group is one sub-block. Kept compact: d/dmin f32 per super-block
//    and the 6-bit sc/m as u8 per sub-block ([tile][…][kTileRows]); d · sc is formed in registers.
//
// Arithmetic (lane = output row, f32 accumulation; every variant bit-identical to codebook_ref.cc):
//  * f32 path: per group eight partial sums p[j] = fma chains of table[q]·x over the group's columns ≡ j
//    (mod 8) in column order; sum = ((p0+p4)+(p1+p5))+((p2+p6)+(p3+p7)); acc = fma(scale, sum, acc), and for
//    q4_k acc = fma(−min, xsum_g, acc) with xsum_g the sequential f32 sum of x over the sub-block. Error: f32
//    rounding only. The table lookup is vpermps (AVX-512 permutexvar; AVX2 two 8-entry permutes and a blend).
//  * int8 path (q4_k only; nf4/fp4 values are not integers): x quantized per block of 32 by
//    quantize_block_ref (int4.h), the integer dot q·xq exact, then acc = fma(f32(dot), (d·sc)·xd, acc);
//    acc = fma(−(dmin·m), xsum_b, acc) with xsum_b = xd · Σ xq. Error: |x − xd·xq| ≤ xd/2 per element.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "int4.h"

namespace kq::int4 {

enum class CodebookFormat : int32_t { nf4 = 0, fp4 = 1, q4_k = 2 };  // lib/binding.ts Int4CodebookFormat

constexpr int64_t kQ4KSuper = 256;  // elements per ggml K-quant super-block
constexpr int64_t kQ4KBytes = 144;  // bytes of one block_q4_K

// bnb 4-bit weight [n, k]: packed nibbles (even element high) and f32 absmax per block of block_size.
struct Bnb4Tensors {
  const uint8_t* packed = nullptr;
  int64_t packed_len = 0;
  const float* absmax = nullptr;
  int64_t absmax_len = 0;
  CodebookFormat format = CodebookFormat::nf4;  // nf4 or fp4
  int64_t n = 0, k = 0, block_size = 64;
};

struct PreparedCodebook {
  CodebookFormat format = CodebookFormat::nf4;
  int64_t n = 0, k = 0;
  int64_t tiles = 0;             // ceil(n / kTileRows)
  int64_t blocks = 0;            // k / kBlock
  int64_t groups = 0;            // per row: bnb blocks, or q4_k sub-blocks (= blocks)
  int64_t blocks_per_group = 0;  // block_size / kBlock, or 1
  float table[16] = {};  // value of each code: the bnb code book, or 0..15 for q4_k
  AlignedBytes nibbles;          // [tiles][blocks][4 chunks][kTileRows][4 bytes], as PreparedInt4
  std::vector<float> absmax;     // nf4/fp4: [tiles][groups][kTileRows]
  std::vector<uint8_t> sub_scales, sub_mins;  // q4_k: [tiles][blocks][kTileRows] 6-bit sc, m
  std::vector<float> super_d, super_dmin;     // q4_k: [tiles][k / 256][kTileRows]
  int64_t bytes() const;
  int64_t supers() const { return k / kQ4KSuper; }
};

struct CodebookCall {
  const PreparedCodebook* w = nullptr;
  int64_t m = 0;
  const float* xf = nullptr;    // f32 path: [m][k]
  const int8_t* xq = nullptr;   // int8 path: [m][k]
  const float* xd = nullptr;    // int8 path: [m][blocks]
  const float* xsum = nullptr;  // q4_k: [m][blocks]
  const float* bias = nullptr;  // [n] or null
  float* y = nullptr;           // [m][n]
};

struct CodebookKernels {
  void (*f32_tiles)(const CodebookCall& a, int64_t t0, int64_t t1);
  void (*int8_tiles)(const CodebookCall& a, int64_t t0, int64_t t1);  // q4_k only
};

extern const CodebookKernels codebook_kernels_ref;
extern const CodebookKernels codebook_kernels_avx2;
extern const CodebookKernels codebook_kernels_avx512;       // int8 path: vpmaddubsw
extern const CodebookKernels codebook_kernels_avx512_vnni;  // int8 path: vpdpbusd
const CodebookKernels& active_codebook_kernels();  // AVX-512 uses VNNI where the CPU has it

// Re-layout (codebook_prepare.cc). Errors: KQ_SHAPE (k not a multiple of the block size / 256), KQ_LENGTH,
// KQ_NON_FINITE (a NaN/Inf absmax, d or dmin).
Status prepare_bnb4(const Bnb4Tensors& t, std::shared_ptr<PreparedCodebook>* out);
Status prepare_q4_k(const uint8_t* bytes, int64_t bytes_len, int64_t n, int64_t k,
                    std::shared_ptr<PreparedCodebook>* out);

// y = x · dequant(W)ᵀ (+ bias) (codebook.cc); args.kernels is ignored, `kernels` null: the active table.
// KQ_INVALID_ARGUMENT for int8 activations on nf4/fp4; KQ_NON_FINITE for NaN/Inf in x.
Status matmul_codebook(const PreparedCodebook& w, const MatmulArgs& args, const CodebookKernels* kernels = nullptr);

}  // namespace kq::int4
