// AVX-512 kernels of the bnb family, 16 lanes. Bit-exact with ref.cc: the same single f32 multiply
// s = x · inv, the same strict ordered comparisons (NaN from an all-zero block fails every one and gives
// code 0), the even-index tie rule of the 8-bit search, and one multiply for dequantization; no FMA. Every
// loop step is masked; masked-off lanes load 0.0f, which encodes as 0 · inv: exactly the pad nibble of an
// odd n.

// GCC 12's AVX-512 headers initialize _mm512_undefined_*() from themselves, which -Wall reports at every
// inlined intrinsic (GCC bug 105593); the warnings say nothing about this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "kernels.h"
#include "thresholds.h"

namespace kq::bnb {
namespace {

constexpr int64_t kLanes = 16;

// Lanes [0, count) set; count may be <= 0 (none) or exceed 16 (all).
inline __mmask16 lane_mask(int64_t count) {
  if (count <= 0) return 0;
  return count >= kLanes ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

inline __mmask8 byte_mask8(int64_t count) {
  if (count <= 0) return 0;
  return count >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << count) - 1u);
}

float absmax_run_avx512(const float* x, int64_t n, uint32_t* non_finite) {
  __m512 m = _mm512_setzero_ps(), bad = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m512 v = _mm512_maskz_loadu_ps(lane_mask(n - i), x + i);
    bad = _mm512_or_ps(bad, _mm512_sub_ps(v, v));  // x − x: +0 when finite, NaN for NaN and ±Inf
    // maxps returns its second operand when the first is NaN: a NaN element is skipped, as fmax does.
    m = _mm512_max_ps(_mm512_abs_ps(v), m);
  }
  const __m512i bits = _mm512_castps_si512(bad);
  if (_mm512_test_epi32_mask(bits, bits)) *non_finite = 1;
  // All lanes are non-negative and not NaN, so the order of the reduction does not matter.
  return _mm512_reduce_max_ps(m);
}

// The number of thresholds below v (strict, ordered: 0 for NaN) among 2^Steps − 1 ascending ones, by a
// branch-free binary search: at step w = 2^k (2^(Steps−1), .., 1) idx is a multiple of 2w and the probe
// is t[idx + w − 1], taken by vpermps from level[k] = {t[w − 1], t[3w − 1], ..}. The same count as
// comparing against every threshold, as ref.cc does, since the thresholds ascend.
template <int Steps>
struct Search {
  __m512 level[Steps];  // level[k] serves step w = 2^k
  explicit Search(const float* t) {
    for (int k = 0; k < Steps; ++k) {
      const int w = 1 << k, count = 1 << (Steps - 1 - k);
      float probes[16] = {};
      for (int i = 0; i < count; ++i) probes[i] = t[i * 2 * w + w - 1];
      level[k] = _mm512_loadu_ps(probes);
    }
  }
  __m512i count_below(__m512 v) const {
    __m512i idx = _mm512_setzero_si512();
    for (int k = Steps - 1; k >= 0; --k) {
      const __m512 probe = _mm512_permutexvar_ps(_mm512_srli_epi32(idx, k + 1), level[k]);
      idx = _mm512_mask_add_epi32(idx, _mm512_cmp_ps_mask(v, probe, _CMP_GT_OQ), idx, _mm512_set1_epi32(1 << k));
    }
    return idx;
  }
};

// FP4: the rank of |s| among the 7 magnitude thresholds, its magnitude code, and bit 3 iff s < 0.
inline __m512i fp4_codes(__m512 s, const Search<3>& f, __m512i rank_code) {
  const __m512i code = _mm512_permutexvar_epi32(f.count_below(_mm512_abs_ps(s)), rank_code);
  return _mm512_mask_or_epi32(code, _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_LT_OQ), code, _mm512_set1_epi32(8));
}

template <typename Codes>
void encode4_loop(const float* x, int64_t n, float inv, uint8_t* packed, const Codes& codes) {
  const __m512 vinv = _mm512_set1_ps(inv);
  for (int64_t i = 0; i < n; i += kLanes) {
    const int64_t count = n - i;
    const __m512i c = codes(_mm512_mul_ps(_mm512_maskz_loadu_ps(lane_mask(count), x + i), vinv));
    // Each int64 lane holds (odd << 32) | even; its low byte becomes (even << 4) | odd, and vpmovqb keeps it.
    const __m512i pairs = _mm512_or_si512(_mm512_slli_epi64(c, 4), _mm512_srli_epi64(c, 32));
    _mm512_mask_cvtepi64_storeu_epi8(packed + i / 2, byte_mask8((count + 1) / 2), pairs);
  }
}

void encode4_run_avx512(const float* x, int64_t n, float inv, Quant4 type, uint8_t* packed) {
  if (type == Quant4::nf4) {
    static const Search<4> t(nf4_thresholds());  // built once: small blocks call this per 32..64 elements
    encode4_loop(x, n, inv, packed, [&](__m512 s) { return t.count_below(s); });
  } else {
    static const Search<3> f(fp4_abs_thresholds());
    const __m512i rank_code = _mm512_setr_epi32(kFp4RankCode[0], kFp4RankCode[1], kFp4RankCode[2], kFp4RankCode[3],
                                                kFp4RankCode[4], kFp4RankCode[5], kFp4RankCode[6], kFp4RankCode[7],
                                                0, 0, 0, 0, 0, 0, 0, 0);
    encode4_loop(x, n, inv, packed, [&](__m512 s) { return fp4_codes(s, f, rank_code); });
  }
}

// table[i] for i in [0, count), count a power of two from 16 to 128 (table padded to 16 entries): vpermps
// for 16, vpermt2ps per 32, the 32-entry part picked by i >> 5.
inline __m512 lookup(const float* table, int count, __m512i i) {
  if (count <= 16) return _mm512_permutexvar_ps(i, _mm512_loadu_ps(table));
  __m512 r = _mm512_permutex2var_ps(_mm512_loadu_ps(table), i, _mm512_loadu_ps(table + 16));
  const __m512i part = _mm512_srli_epi32(i, 5);
  for (int c = 1; c < count / 32; ++c) {
    const __m512 v = _mm512_permutex2var_ps(_mm512_loadu_ps(table + 32 * c), i, _mm512_loadu_ps(table + 32 * c + 16));
    r = _mm512_mask_mov_ps(r, _mm512_cmpeq_epi32_mask(part, _mm512_set1_epi32(c)), v);
  }
  return r;
}

// j = the number of midpoints below s, by a branch-free binary search without gathers: at step w = 2^k
// (128, 64, .., 1) idx is a multiple of 2w and the probe is midpoints[idx + w − 1] = level k's entry
// idx >> (k + 1). The last probe that is not below s is midpoints[j] itself (every later step adds its w),
// so whether it equals s is tracked along the way: the tie that moves an odd j up by one.
void encode8_run_avx512(const float* x, int64_t n, float inv, const float* midpoints, uint8_t* codes) {
  alignas(64) float levels[8][128];
  for (int k = 0; k < 8; ++k) {
    const int w = 1 << k, count = 128 >> k;
    for (int i = 0; i < count; ++i) levels[k][i] = midpoints[i * 2 * w + w - 1];
    for (int i = count; i < 16; ++i) levels[k][i] = 0.0f;
  }
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    const __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vinv);
    __m512i idx = _mm512_setzero_si512();
    __mmask16 eq = 0;
    for (int k = 7; k >= 0; --k) {
      const __m512 probe = lookup(levels[k], 128 >> k, _mm512_srli_epi32(idx, k + 1));
      // Ordered compares: a NaN s is never above a probe nor equal to one, so it ends at 0.
      const __mmask16 below = _mm512_cmp_ps_mask(probe, s, _CMP_LT_OQ);
      eq = static_cast<__mmask16>((eq & below) | (~below & _mm512_cmp_ps_mask(probe, s, _CMP_EQ_OQ)));
      idx = _mm512_mask_add_epi32(idx, below, idx, _mm512_set1_epi32(1 << k));
    }
    const __mmask16 tie = eq & _mm512_test_epi32_mask(idx, one);
    _mm512_mask_cvtepi32_storeu_epi8(codes + i, m, _mm512_mask_add_epi32(idx, tie, idx, one));
  }
}

void decode4_run_avx512(const uint8_t* packed, int64_t n, const float* table, float absmax, float* out) {
  const __m512 lut = _mm512_loadu_ps(table), vabs = _mm512_set1_ps(absmax);
  const __m512i spread = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i shift = _mm512_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0);
  const __m512i nibble = _mm512_set1_epi32(0xf);
  for (int64_t i = 0; i < n; i += kLanes) {
    const int64_t count = n - i;
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(byte_mask8((count + 1) / 2), packed + i / 2));
    // Element 2j takes the high nibble of byte j, element 2j + 1 the low one.
    const __m512i c = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(spread, bytes), shift), nibble);
    _mm512_mask_storeu_ps(out + i, lane_mask(count), _mm512_mul_ps(_mm512_permutexvar_ps(c, lut), vabs));
  }
}

void decode8_run_avx512(const uint8_t* codes, int64_t n, const float* code, float absmax, float* out) {
  const __m512 vabs = _mm512_set1_ps(absmax);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    const __m512i q = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, codes + i));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_i32gather_ps(q, code, 4), vabs));
  }
}

}  // namespace

const Kernels kernels_avx512 = {absmax_run_avx512, encode4_run_avx512, encode8_run_avx512, decode4_run_avx512,
                                decode8_run_avx512};

}  // namespace kq::bnb
