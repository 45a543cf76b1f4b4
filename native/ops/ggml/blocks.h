// ggml's legacy block layouts (ggml-common.h; spec: test/fixtures/ggml/README.md section 4), byte for byte.
// Every block holds 32 elements; "fp16" fields are IEEE binary16 bits (native/core/half.h converts them),
// stored little-endian as on every platform ggml writes GGUF files from. Nibble bytes: byte k holds element
// k in its low nibble and element k + 16 in its high nibble; the Q5 fifth bits form a little-endian 32-bit
// word whose bit j belongs to element j.
#pragma once
#include <cstdint>

namespace kq::ggml {

constexpr int kQK = 32;  // elements per legacy block (QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0 = QK8_1)

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

#pragma pack(pop)

}  // namespace kq::ggml
