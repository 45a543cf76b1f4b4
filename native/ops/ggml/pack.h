// Level packing shared by the reference and the importance-matrix quantizers (layouts: README section 4), the
// SIMD files (scale codes) and the CUDA kernels (the KQ_HOST_DEVICE ones: integer work, no rounding). Internal
// linkage, as core/avx2_lanes.h: a copy compiled with -mavx2/-mavx512 can never stand in for the scalar one.
#pragma once
#include <cstdint>
#include <cstring>

#ifndef KQ_HOST_DEVICE  // as core/half.h defines it
#if defined(__CUDACC__)
#define KQ_HOST_DEVICE __host__ __device__
#else
#define KQ_HOST_DEVICE
#endif
#endif

namespace kq::ggml {
namespace {

// 32 levels 0..15 as 16 bytes: element j in the low nibble of byte j, element j + 16 in the high one.
inline void pack_nibbles32(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
}

// 32 levels 0..31 as Q5_0/Q5_1 store them: low nibbles as above, the fifth bits in a little-endian u32.
inline void pack_q5_32(const uint8_t* L, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((L[j] & 0x0f) | ((L[j + 16] & 0x0f) << 4));
    qh |= static_cast<uint32_t>((L[j] & 0x10u) >> 4) << j;
    qh |= static_cast<uint32_t>((L[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  for (int b = 0; b < 4; ++b) qh_bytes[b] = static_cast<uint8_t>(qh >> (8 * b));
}

// The 6-bit scale and min codes of sub-block j in Q4_K / Q5_K's 12-byte field (ggml's get_scale_min_k4 and
// the packing its quantizers write, in sub-block order 0..7).
KQ_HOST_DEVICE inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}
KQ_HOST_DEVICE inline void set_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* q) {
  if (j < 4) {
    q[j] = ls;
    q[j + 4] = lm;
  } else {
    q[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    q[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
    q[j] |= static_cast<uint8_t>((lm >> 4) << 6);
  }
}

// Q3_K's 6-bit code of scale j (README 4), unsigned 0..63.
KQ_HOST_DEVICE inline int q3_scale_code(const uint8_t* scales, int j) {
  const int low = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | high << 4;
}

// Stores the 6-bit code l (0..63) of scale j: low nibble in bytes 0..7, top two bits in bytes 8..11.
inline void set_q3_scale_code(uint8_t* scales, int j, int l) {
  if (j < 8)
    scales[j] = static_cast<uint8_t>(l & 0xF);
  else
    scales[j - 8] = static_cast<uint8_t>(scales[j - 8] | ((l & 0xF) << 4));
  l >>= 4;
  scales[j % 4 + 8] = static_cast<uint8_t>(scales[j % 4 + 8] | (l << (2 * (j / 4))));
}

// 256 Q4_K levels 0..15: each 64-element chunk as 32 bytes, the first 32 in low nibbles.
KQ_HOST_DEVICE inline void pack_q4_K_levels(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 256; j += 64, qs += 32)
    for (int l = 0; l < 32; ++l) qs[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
}

// 256 Q5_K levels 0..31: low nibbles as Q4_K, the fifth bits in 32 bytes, two bit planes per 64 elements.
inline void pack_q5_K_levels(const uint8_t* L, uint8_t* ql, uint8_t* qh_out) {
  uint8_t qh[32] = {};
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < 256; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
  }
  std::memcpy(qh_out, qh, sizeof qh);
}

// 256 Q6_K levels 0..63: per 128 elements 64 bytes of low nibbles and 32 bytes of the two high bits.
KQ_HOST_DEVICE inline void pack_q6_K_levels(const int8_t* L, uint8_t* ql, uint8_t* qh) {
  for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l] & 0xF;
      const uint8_t q2 = L[j + l + 32] & 0xF;
      const uint8_t q3 = L[j + l + 64] & 0xF;
      const uint8_t q4 = L[j + l + 96] & 0xF;
      ql[l] = static_cast<uint8_t>(q1 | (q3 << 4));
      ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
      qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                   ((L[j + l + 96] >> 4) << 6));
    }
  }
}

}  // namespace
}  // namespace kq::ggml
