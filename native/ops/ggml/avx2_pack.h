// pack.h's K-quant level packings in 256-bit vectors, for avx2.cc and avx512.cc (the packing is byte work;
// the AVX-512 file builds with AVX2 too). Internal linkage, as core/avx2_lanes.h: each ISA file keeps its
// own copy, never reachable from the scalar code.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace kq::ggml {
namespace {

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store32(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

// pack_q4_K_levels / pack_q5_K_levels: low nibbles per 64 elements, the first 32 in the low nibble; Q5_K's
// fifth bits of chunk n at bits 2n (first 32) and 2n + 1 (second 32) of qh (skipped when qh_out is null).
inline void pack_k45_levels(const uint8_t* L, uint8_t* qs, uint8_t* qh_out) {
  const __m256i mask4 = _mm256_set1_epi8(0x0f);
  __m256i qh = _mm256_setzero_si256();
  for (int n = 0; n < 4; ++n) {
    const __m256i lo = load32(L + 64 * n);
    const __m256i hi = load32(L + 64 * n + 32);
    const __m256i hi4 = _mm256_slli_epi16(_mm256_and_si256(hi, mask4), 4);
    store32(qs + 32 * n, _mm256_or_si256(_mm256_and_si256(lo, mask4), hi4));
    // bit 4 of a level moved to bit 2n / 2n + 1 of its byte (levels < 32, so no carries across bytes)
    const __m256i b_lo = _mm256_and_si256(_mm256_srli_epi16(lo, 4), _mm256_set1_epi8(1));
    const __m256i b_hi = _mm256_and_si256(_mm256_srli_epi16(hi, 4), _mm256_set1_epi8(1));
    qh = _mm256_or_si256(qh, _mm256_or_si256(_mm256_slli_epi16(b_lo, 2 * n), _mm256_slli_epi16(b_hi, 2 * n + 1)));
  }
  if (qh_out) store32(qh_out, qh);
}

// pack_q6_K_levels: per 128 elements, 64 bytes of low nibbles and 32 bytes of the two high bits.
inline void pack_q6_K_levels_256(const int8_t* L, uint8_t* ql, uint8_t* qh) {
  const __m256i mask4 = _mm256_set1_epi8(0x0f);
  const __m256i mask2 = _mm256_set1_epi8(0x03);
  for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
    __m256i q[4];
    for (int r = 0; r < 4; ++r) q[r] = load32(L + j + 32 * r);
    const auto nib = [&](int r) { return _mm256_and_si256(q[r], mask4); };
    const auto top = [&](int r) { return _mm256_and_si256(_mm256_srli_epi16(q[r], 4), mask2); };
    store32(ql, _mm256_or_si256(nib(0), _mm256_slli_epi16(nib(2), 4)));
    store32(ql + 32, _mm256_or_si256(nib(1), _mm256_slli_epi16(nib(3), 4)));
    store32(qh, _mm256_or_si256(_mm256_or_si256(top(0), _mm256_slli_epi16(top(1), 2)),
                                _mm256_or_si256(_mm256_slli_epi16(top(2), 4), _mm256_slli_epi16(top(3), 6))));
  }
}

// Q2_K's pack_2bit (ref_k23.cc): element 128h + 32s + l is bits 2s..2s+1 of byte 32h + l.
inline void pack_2bit_256(const uint8_t* L, uint8_t* qs) {
  for (int h = 0; h < 2; ++h) {
    __m256i packed = _mm256_setzero_si256();
    for (int sft = 0; sft < 4; ++sft)
      packed = _mm256_or_si256(packed, _mm256_slli_epi16(load32(L + 128 * h + 32 * sft), 2 * sft));
    store32(qs + 32 * h, packed);
  }
}

// Q3_K's levels 0..7: element j above 3 sets bit j / 32 of hmask[j % 32] and drops by 4; then the 2-bit
// packing of pack_2bit_256.
inline void pack_q3_K_levels_256(const int8_t* L, uint8_t* hmask_out, uint8_t* qs) {
  __m256i hmask = _mm256_setzero_si256();
  __m256i low[8];
  for (int g = 0; g < 8; ++g) {
    const __m256i v = load32(L + 32 * g);
    const __m256i high = _mm256_cmpgt_epi8(v, _mm256_set1_epi8(3));
    hmask = _mm256_or_si256(hmask, _mm256_and_si256(high, _mm256_set1_epi8(static_cast<char>(1 << g))));
    low[g] = _mm256_sub_epi8(v, _mm256_and_si256(high, _mm256_set1_epi8(4)));
  }
  store32(hmask_out, hmask);
  for (int h = 0; h < 2; ++h) {
    __m256i packed = _mm256_setzero_si256();
    for (int sft = 0; sft < 4; ++sft) packed = _mm256_or_si256(packed, _mm256_slli_epi16(low[4 * h + sft], 2 * sft));
    store32(qs + 32 * h, packed);
  }
}

}  // namespace
}  // namespace kq::ggml
