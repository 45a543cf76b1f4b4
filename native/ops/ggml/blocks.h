// ggml's legacy block layouts (ggml-common.h; spec: test/fixtures/ggml/README.md section 4), byte for byte.
// Every block holds 32 elements; "fp16" fields are IEEE binary16 bits (native/core/half.h converts them),
// stored little-endian as on every platform ggml writes GGUF files from. Nibble bytes: byte k holds element
// k in its low nibble and element k + 16 in its high nibble; the Q5 fifth bits form a little-endian 32-bit
// word whose bit j belongs to element j.
#pragma once
#include <cstdint>

namespace kq::ggml {

constexpr int kQK = 32;  // elements per legacy block (QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0 = QK8_1)
constexpr int kQK_K = 256;  // elements per K-quant super-block (QK_K)

// Packed (alignment 1): blocks of 18 or 22 bytes put every other fp16 field on an odd address, and callers
// hand in byte buffers at any offset. The sizes are ggml's either way (the static_asserts).
#pragma pack(push, 1)

// 4.5 bits per weight: value = d · (q − 8).
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "block_q4_0 is 18 bytes");

// 5.0 bits per weight: value = d · q + m.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "block_q4_1 is 20 bytes");

// 5.5 bits per weight: value = d · (q − 16), q = nibble | fifth bit << 4.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "block_q5_0 is 22 bytes");

// 6.0 bits per weight: value = d · q + m, q = nibble | fifth bit << 4.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "block_q5_1 is 24 bytes");

// 8.5 bits per weight: value = d · q.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34, "block_q8_0 is 34 bytes");

// 9.0 bits per weight: value = d · q; s = fp16(d · Σq) (ggml's activation type for Q4_1 / Q5_1 dot products).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_1) == 36, "block_q8_1 is 36 bytes");

// K-quants (super-blocks of 256; README 4). Q4_K: value = (d·sc)·q − dmin·m, 6-bit sc / m per 32 elements.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144, "block_q4_K is 144 bytes");

// Q5_K: as Q4_K plus a fifth bit per element (32 bytes).
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176, "block_q5_K is 176 bytes");

// Q6_K: value = (d·sc)·(q − 32), q 6 bits (low 4 in ql, high 2 in qh), int8 sc per 16 elements.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210, "block_q6_K is 210 bytes");

// Q8_K (K-quant activation type): value = d·q with a float32 d; bsums = sums of q over groups of 16.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292, "block_q8_K is 292 bytes");

// Ternary and non-linear 4-bit types (README 4; ref_misc.cc). TQ1_0 / TQ2_0 hold 256 elements per block.
constexpr int kQK_TQ = 256;

// TQ1_0, 1.6875 bits per weight: base-3 packed trits (5 per byte in qs, 4 per byte in qh); value = d·(t − 1).
struct BlockTQ1_0 {
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;
};
static_assert(sizeof(BlockTQ1_0) == 54, "block_tq1_0 is 54 bytes");

// TQ2_0, 2.0625 bits per weight: 2-bit trits; value = d·(q − 1).
struct BlockTQ2_0 {
  uint8_t qs[kQK_TQ / 4];
  uint16_t d;
};
static_assert(sizeof(BlockTQ2_0) == 66, "block_tq2_0 is 66 bytes");

// IQ4_NL, 4.5 bits per weight: value = d·T[q], T ggml's 16-entry non-linear table.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18, "block_iq4_nl is 18 bytes");

// MXFP4, 4.25 bits per weight: E8M0 exponent e; value = F[q]·2^(e − 128), F = E2M1 values times two.
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockMXFP4) == 17, "block_mxfp4 is 17 bytes");

// Q2_K: value = d·sc·q − dmin·m; 4-bit sc (low nibble) and m (high nibble) per 16 elements, 2-bit q.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84, "block_q2_K is 84 bytes");

// Q3_K: value = d·(sc − 32)·q, q 3 bits (low 2 in qs, high bit in hmask; −4 when clear), 6-bit sc per 16.
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110, "block_q3_K is 110 bytes");

#pragma pack(pop)

}  // namespace kq::ggml
