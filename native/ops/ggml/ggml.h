// ggml's legacy block quantization (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1), bit-exact with ggml's reference
// quantizers quantize_row_<type>_ref and its dequantize_row_<type> (ggml commit d99724f; the facts are in
// test/fixtures/ggml/README.md sections 4, 5.1, 5.2, 5.4 and 5.5). Rows are n elements, n a multiple of 32;
// the quantized form is n / 32 blocks back to back (blocks.h). All arithmetic is IEEE binary32 in ggml's
// source order with no FMA (the build uses -ffp-contract=off).
#pragma once
#include <cstdint>

#include "../../core/status.h"
#include "../../core/tensor.h"  // Device
#include "blocks.h"

namespace kq::ggml {

// ggml's type ids (enum ggml_type in ggml.h) for the types implemented here.
enum class Type : int32_t { q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9, q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
                            iq4_nl = 20, tq1_0 = 34, tq2_0 = 35, mxfp4 = 39 };

struct TypeInfo {
  Type type;
  const char* name;      // ggml's name: "q4_0", …
  int64_t block_size;    // elements per block
  int64_t type_size;     // bytes per block
};

// The type with ggml id `id`, or nullptr when it is not implemented here.
const TypeInfo* type_info(int32_t id);

// Scalar reference, one row of k elements (k a multiple of 32; not checked): ggml's quantize_row_*_ref and
// dequantize_row_*. Non-finite input is not checked here (the driver rejects it).
void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t k);
void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t k);
void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t k);
void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t k);
void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t k);
void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t k);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t k);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t k);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t k);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t k);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t k);
// Q8_1 has no to_float in ggml; this is value = d · q, as its dot products use it.
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t k);

// K-quants Q4_K, Q5_K, Q6_K and the activation type Q8_K (ref_k456.cc; k a multiple of 256, not checked).
void quantize_row_q4_K_ref(const float* x, BlockQ4_K* y, int64_t k);
void quantize_row_q5_K_ref(const float* x, BlockQ5_K* y, int64_t k);
void quantize_row_q6_K_ref(const float* x, BlockQ6_K* y, int64_t k);
void quantize_row_q8_K_ref(const float* x, BlockQ8_K* y, int64_t k);
void dequantize_row_q4_K(const BlockQ4_K* x, float* y, int64_t k);
void dequantize_row_q5_K(const BlockQ5_K* x, float* y, int64_t k);
void dequantize_row_q6_K(const BlockQ6_K* x, float* y, int64_t k);
void dequantize_row_q8_K(const BlockQ8_K* x, float* y, int64_t k);

// TQ1_0, TQ2_0 (k a multiple of 256), IQ4_NL and MXFP4 (k a multiple of 32) — ref_misc.cc; not checked.
// IQ4_NL: ggml leaves the nibbles of a block with max |x| < 1e-15 unspecified (README 5.6); they are 8 here.
void quantize_row_tq1_0_ref(const float* x, BlockTQ1_0* y, int64_t k);
void quantize_row_tq2_0_ref(const float* x, BlockTQ2_0* y, int64_t k);
void quantize_row_iq4_nl_ref(const float* x, BlockIQ4_NL* y, int64_t k);
void quantize_row_mxfp4_ref(const float* x, BlockMXFP4* y, int64_t k);
void dequantize_row_tq1_0(const BlockTQ1_0* x, float* y, int64_t k);
void dequantize_row_tq2_0(const BlockTQ2_0* x, float* y, int64_t k);
void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t k);
void dequantize_row_mxfp4(const BlockMXFP4* x, float* y, int64_t k);
// Raw-byte dispatch of those four types; false (nothing done) for any other type.
bool quantize_row_misc(Type type, const float* x, uint8_t* y, int64_t k);
bool dequantize_row_misc(Type type, const uint8_t* x, float* y, int64_t k);

// K-quants Q2_K and Q3_K (ref_k23.cc; k a multiple of 256, not checked).
void quantize_row_q2_K_ref(const float* x, BlockQ2_K* y, int64_t k);
void quantize_row_q3_K_ref(const float* x, BlockQ3_K* y, int64_t k);
void dequantize_row_q2_K(const BlockQ2_K* x, float* y, int64_t k);
void dequantize_row_q3_K(const BlockQ3_K* x, float* y, int64_t k);

// Block loops with optional importance weights qw (one per element of the row the blocks start; null = none):
// the reference with qw null, and the importance-matrix path of ggml_quantize_chunk otherwise. IQ4_NL also
// takes ntry (0: the reference path, 7: the chunk path).
void quantize_q6_K_blocks(const float* x, BlockQ6_K* y, int64_t k, const float* qw);
void quantize_q2_K_weighted(const float* x, BlockQ2_K* y, int64_t k, const float* qw);  // qw required
void quantize_q3_K_weighted(const float* x, BlockQ3_K* y, int64_t k, const float* qw);  // qw required
void quantize_iq4_nl_blocks(const float* x, BlockIQ4_NL* y, int64_t k, const float* qw, int ntry);

// ggml_quantize_chunk for one row of n elements where it differs from the reference (weighted.cc): with
// importance weights qw for Q4_0, Q4_1, Q5_0, Q5_1, Q2_K … Q6_K, and IQ4_NL with or without them. Returns
// false (nothing written) where the chunk path is the reference (Q8_0, TQ1_0, TQ2_0, MXFP4 ignore weights).
bool quantize_row_chunk(Type type, const float* x, uint8_t* y, int64_t n, const float* qw);

// The same per type, on raw bytes (x / y hold k / 32 blocks of the type).
void quantize_row_ref(Type type, const float* x, uint8_t* y, int64_t k);
void dequantize_row(Type type, const uint8_t* x, float* y, int64_t k);

// Drivers: validate (a known type, n >= 0 and a multiple of the block size; quantize rejects NaN/Inf with
// KQ_NON_FINITE) and spread whole blocks over the thread pool — any split gives the same bytes.
// dst holds n / 32 · type_size bytes (quantize) or n floats (dequantize).
// Device::cuda runs quantize_cuda / dequantize_cuda (same bytes and floats); quantize refuses a type without
// a CUDA quantizer (cuda_quantizes) with KQ_INVALID_ARGUMENT.
Status quantize(int32_t type_id, const float* src, int64_t n, uint8_t* dst, Device device = Device::cpu);
Status dequantize(int32_t type_id, const uint8_t* src, int64_t n, float* dst, Device device = Device::cpu);
// ggml_quantize_chunk over `rows` rows of row_length elements (a multiple of the block size), with an
// importance matrix (row_length finite weights >= 0, shared by all rows) or without (imatrix null); rows are
// spread over the thread pool.
Status quantize_chunk(int32_t type_id, const float* src, int64_t rows, int64_t row_length, const float* imatrix,
                      uint8_t* dst);

// ---- CUDA (cuda.cu) ----

// The types quantize_cuda implements (those most GGUF files hold; the others quantize on the CPU);
// dequantize_cuda implements every type.
inline bool cuda_quantizes(Type type) {
  return type == Type::q4_0 || type == Type::q8_0 || type == Type::q4_k || type == Type::q6_k;
}
// Defined in cuda.cu, only in builds with CUDA; the drivers reach them through run_on_cuda. Host pointers,
// arguments already checked by the driver; upload, run, download. Bit-exact with the reference.
Status quantize_cuda(Type type, const float* src, int64_t n, uint8_t* dst);
Status dequantize_cuda(Type type, const uint8_t* src, int64_t n, float* dst);

}  // namespace kq::ggml
