// GPTQ checkpoint packing, as GPTQModel/AutoGPTQ (and transformers' "gptq" loader) lay it out
// (GPTQModel f4c327a: nn_modules/qlinear pack_original/pack_block, utils/model.py v1⇄v2; spec in
// test/fixtures/gptq/README.md section 4):
//   qweight int32 [in·bits/32, out]   codes packed along the input dimension
//   qzeros  int32 [G, out·bits/32]    zero points packed along the output dimension
// Every run of 32 values fills `bits` words as one little-endian bit stream: value j sits at stream bits
// [bits·j, bits·j + bits). For 2/4/8 bits that is pf = 32/bits whole fields per word, little end first; for
// 3 bits it is the 10-1-10-1-10 scheme (fields 10 and 21 straddle a word boundary).
// Zero points: v2 ("gptq_v2") stores them as computed; v1 ("gptq") stores zero − 1. GPTQModel makes v1 by
// subtracting 0x55555555 / 0x11111111 / 0x01010101 from the whole packed word for 2/4/8 bits (a zero point of
// 0 borrows from the next field) and, for 3 bits, by (z − 1) mod 8 per field; its reader adds back the same
// way. Both are reproduced exactly, so every zero point in [0, 2^bits − 1] round-trips.
#pragma once
#include <cstdint>

#include "../../core/status.h"

namespace kq::gptq {

// Pinned: lib/ops/gptq-pack.ts passes these numbers.
enum class ZeroFormat : int32_t { v1 = 0, v2 = 1 };

// Values per packing unit along the packed dimension: pf = 32/bits for 2/4/8 bits, 32 for 3 bits.
inline int64_t pack_unit(int bits) { return bits == 3 ? 32 : 32 / bits; }
// Words that n packed values fill (n a multiple of pack_unit).
inline int64_t packed_words(int64_t n, int bits) { return n * bits / 32; }

// codes uint8 [out, in] (original column order, each ≤ 2^bits − 1) → qweight int32 [in·bits/32, out].
// `in` must be a multiple of pack_unit(bits). Spreads over the thread pool.
Status pack_qweight(const uint8_t* codes, int64_t out, int64_t in, int bits, int32_t* qweight);
// qweight int32 [in·bits/32, out] → codes uint8 [out, in].
Status unpack_qweight(const int32_t* qweight, int64_t out, int64_t in, int bits, uint8_t* codes);

// zeros int32 [out, groups] (each in [0, 2^bits − 1]) → qzeros int32 [groups, out·bits/32].
// `out` must be a multiple of pack_unit(bits).
Status pack_qzeros(const int32_t* zeros, int64_t out, int64_t groups, int bits, ZeroFormat format, int32_t* qzeros);
// qzeros int32 [groups, out·bits/32] → zeros int32 [out, groups] (v2 meaning: the zero point itself).
Status unpack_qzeros(const int32_t* qzeros, int64_t out, int64_t groups, int bits, ZeroFormat format, int32_t* zeros);

// The f32 weight [out, in] a checkpoint layer stands for (README 4.4): w[o, i] = f32(scales[g, o]) · (q[i, o] −
// z[g, o]) with g = g_idx[i], q from qweight, z from qzeros in `format` (as unpack_qzeros), scales f16 bits
// [groups, out] and g_idx [in], each in [0, groups). The f16 scale has 11 significant bits and the difference at
// most 9, so the f32 product is exact: the value the f64 formula rounds to. Spreads rows over the thread pool.
Status dequantize(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales_f16, const int32_t* g_idx,
                  int64_t out, int64_t in, int64_t groups, int bits, ZeroFormat format, float* w);

}  // namespace kq::gptq
