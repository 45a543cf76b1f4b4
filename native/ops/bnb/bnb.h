// bitsandbytes' blockwise quantizers, byte-compatible with bnb's CUDA kernels (bitsandbytes commit 95f9af3,
// 0.50.2.dev0; the format is specified in test/fixtures/bnb/README.md). Blocks are consecutive runs of
// `blocksize` elements of the flattened input; the last block may be shorter. absmax[b] = max |x| over the
// block, inv = 1.0f / absmax[b] (IEEE f32 division), and each element is scaled as s = x · inv (one f32
// rounding, no clamp). An all-zero block has inv = +inf and s = NaN, which every comparison rejects.
//
// 4-bit (NF4 / FP4): one code per element, two codes per byte with the even element in the HIGH nibble;
// an odd n pads the last low nibble with the code of 0 · inv. Dequantization: table[code] · absmax (f32).
// 8-bit blockwise: the index of the nearest entry of an ascending 256-entry code map, decided by the f32
// midpoints (c[j] + c[j+1]) · 0.5; a value exactly on a midpoint takes the EVEN index of the two, as bnb's
// CUDA binary search does. Dequantization: code[q] · absmax (f32).
#pragma once
#include <cstdint>

#include "../../core/status.h"
#include "../../core/tensor.h"

namespace kq::bnb {

enum class Quant4 : int32_t { nf4 = 0, fp4 = 1 };

// The 16 values a 4-bit code stands for (bnb's NF4 / FP4 code books), as f32.
const float* code4(Quant4 type);
// bnb's signed dynamic 8-bit map (create_dynamic_map(signed=True)), 256 ascending f32 values.
const float* dynamic_map_signed();

// 4-bit quantization of src[0..n): packed[(n + 1) / 2], absmax[ceil(n / blocksize)].
Status quantize_4bit(const float* src, int64_t n, int64_t blocksize, Quant4 type, uint8_t* packed, float* absmax,
                     Device device);
// out[0..n) = code4(type)[code] · absmax[i / blocksize].
Status dequantize_4bit(const uint8_t* packed, int64_t n, int64_t blocksize, Quant4 type, const float* absmax,
                       float* out, Device device);

// 8-bit blockwise quantization with an ascending 256-entry code map: codes[n], absmax[ceil(n / blocksize)].
Status quantize_8bit(const float* src, int64_t n, int64_t blocksize, const float* code, uint8_t* codes, float* absmax,
                     Device device);
// out[i] = code[codes[i]] · absmax[i / blocksize].
Status dequantize_8bit(const uint8_t* codes, int64_t n, int64_t blocksize, const float* code, const float* absmax,
                       float* out, Device device);

// Double quantization of a vector of block scales (QLoRA's compress_statistics): offset = f32 mean of absmax
// (computed here, unless *offset is given with offset_given), then the centered values absmax − offset are
// 8-bit quantized with `code` in blocks of nested_blocksize (256 in bnb): qabsmax[n], absmax2[ceil(n / 256)].
Status quantize_nested(const float* absmax, int64_t n, int64_t nested_blocksize, const float* code, bool offset_given,
                       float* offset, uint8_t* qabsmax, float* absmax2);
// absmax'[b] = code[qabsmax[b]] · absmax2[b / nested_blocksize] + offset, two f32 roundings (no FMA).
Status dequantize_nested(const uint8_t* qabsmax, int64_t n, int64_t nested_blocksize, const float* code,
                         const float* absmax2, float offset, float* absmax);

// Codebook indices (lib/ops/codebook.ts) packed at `bits` = 3 … 8 per element into packed_code_bytes(n, bits)
// bytes: 8 bits one byte each; 4 bits two per byte, the even element in the HIGH nibble (bnb's layout), an odd n
// padding the last low nibble with 0; 3/5/6/7 bits one little-endian bit stream, element i at stream bits
// [i·bits, (i + 1)·bits), least significant first, the unused high bits of the last byte 0. Eight elements
// always fill exactly `bits` bytes, so the driver splits the work into runs of eight.
inline int64_t packed_code_bytes(int64_t n, int bits) { return (n * bits + 7) / 8; }
// remap (256 entries, or null) replaces each index before packing; every stored index must be < 2^bits.
Status pack_codes(const uint8_t* indices, int64_t n, int bits, const uint8_t* remap, uint8_t* packed);
// The inverse; every index must be below `limit` (the codebook's length), or invalid_argument names the first.
Status unpack_codes(const uint8_t* packed, int64_t n, int bits, int64_t limit, uint8_t* indices);

// Defined in cuda.cu, only in builds with CUDA; drivers reach them through run_on_cuda.
Status quantize_4bit_cuda(const float* src, int64_t n, int64_t blocksize, Quant4 type, uint8_t* packed,
                          float* absmax);
Status dequantize_4bit_cuda(const uint8_t* packed, int64_t n, int64_t blocksize, Quant4 type, const float* absmax,
                            float* out);
Status quantize_8bit_cuda(const float* src, int64_t n, int64_t blocksize, const float* code, uint8_t* codes,
                          float* absmax);
Status dequantize_8bit_cuda(const uint8_t* codes, int64_t n, int64_t blocksize, const float* code, const float* absmax,
                            float* out);

}  // namespace kq::bnb
