// AVX2 kernels of the bnb family, 8 lanes. Bit-exact with ref.cc: the same single f32 multiply s = x · inv,
// the same strict ordered comparisons (NaN from an all-zero block fails every one and gives code 0), the
// even-index tie rule of the 8-bit search, and one multiply for dequantization; no FMA. A tail shorter
// than a vector goes through masked loads (masked-off lanes read 0.0f, which encodes as 0 · inv: exactly
// the pad nibble of an odd n) and partial stores, so every element takes the vector path.
#include <immintrin.h>

#include <cstring>

#include "../../core/avx2_lanes.h"
#include "kernels.h"
#include "thresholds.h"

namespace kq::bnb {
namespace {

inline uint64_t load_bytes(const uint8_t* p, int64_t count) {
  uint64_t bytes = 0;
  memcpy(&bytes, p, static_cast<size_t>(count < 8 ? count : 8));
  return bytes;
}

inline void store_bytes(uint8_t* p, int64_t count, uint64_t bytes) {
  memcpy(p, &bytes, static_cast<size_t>(count < 8 ? count : 8));
}

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// The low byte of each int32 lane, in lane order.
inline uint64_t low_bytes8(__m256i v) {
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i packed =
      _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pick), _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm256_castsi256_si128(packed)));
}

// Codes (int32 lanes, < 16) of elements 0..7 in a and 8..15 in b, packed two per byte, even element high.
inline uint64_t pack_nibbles(__m256i a, __m256i b) {
  // packs_epi32 interleaves 128-bit halves; permute4x64 restores element order as 16 int16 words.
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xd8);
  // Each int32 lane now holds (odd << 16) | even; its low byte becomes (even << 4) | odd.
  return low_bytes8(_mm256_or_si256(_mm256_slli_epi32(words, 4), _mm256_srli_epi32(words, 16)));
}

// The number of thresholds below v (strict, ordered: 0 for NaN) among 2^Steps − 1 ascending ones, by a
// branch-free binary search: at step w = 2^k (2^(Steps−1), .., 1) idx is a multiple of 2w and the probe
// is t[idx + w − 1], taken by vpermps from level[k] = {t[w − 1], t[3w − 1], ..} (at most 8 entries). The
// same count as comparing against every threshold, as ref.cc does, since the thresholds ascend.
template <int Steps>
struct Search {
  __m256 level[Steps];  // level[k] serves step w = 2^k
  explicit Search(const float* t) {
    for (int k = 0; k < Steps; ++k) {
      const int w = 1 << k, count = 1 << (Steps - 1 - k);
      float probes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int i = 0; i < count; ++i) probes[i] = t[i * 2 * w + w - 1];
      level[k] = _mm256_loadu_ps(probes);
    }
  }
  __m256i count_below(__m256 v) const {
    __m256i idx = _mm256_setzero_si256();
    for (int k = Steps - 1; k >= 0; --k) {
      const __m256 probe = _mm256_permutevar8x32_ps(level[k], _mm256_srli_epi32(idx, k + 1));
      const __m256i above = _mm256_castps_si256(_mm256_cmp_ps(v, probe, _CMP_GT_OQ));
      idx = _mm256_add_epi32(idx, _mm256_and_si256(above, _mm256_set1_epi32(1 << k)));
    }
    return idx;
  }
};

// FP4: the rank of |s| among the 7 magnitude thresholds, its magnitude code, and bit 3 iff s < 0.
inline __m256i fp4_codes(__m256 s, const Search<3>& f, __m256i rank_code) {
  const __m256i rank = f.count_below(abs_ps(s));
  const __m256i sign = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_LT_OQ)),
                                        _mm256_set1_epi32(8));
  return _mm256_or_si256(_mm256_permutevar8x32_epi32(rank_code, rank), sign);
}

float absmax_run_avx2(const float* x, int64_t n, uint32_t* non_finite) {
  __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256 v = load_partial(x + i, n - i);
    bad = _mm256_or_ps(bad, _mm256_sub_ps(v, v));  // x − x: +0 when finite, NaN for NaN and ±Inf
    // maxps returns its second operand when the first is NaN: a NaN element is skipped, as fmax does.
    m = _mm256_max_ps(abs_ps(v), m);
  }
  const __m256i bits = _mm256_castps_si256(bad);
  if (!_mm256_testz_si256(bits, bits)) *non_finite = 1;
  // All lanes are non-negative and not NaN, so the order of the reduction does not matter.
  __m128 r = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  r = _mm_max_ps(r, _mm_movehl_ps(r, r));
  return _mm_cvtss_f32(_mm_max_ss(r, _mm_shuffle_ps(r, r, 1)));
}

template <typename Codes>
void encode4_loop(const float* x, int64_t n, float inv, uint8_t* packed, const Codes& codes) {
  const __m256 vinv = _mm256_set1_ps(inv);
  for (int64_t i = 0; i < n; i += 2 * kLanes) {
    const int64_t count = n - i;
    const __m256i a = codes(_mm256_mul_ps(load_partial(x + i, count), vinv));
    const __m256i b = codes(_mm256_mul_ps(load_partial(x + i + kLanes, count - kLanes), vinv));
    store_bytes(packed + i / 2, (count + 1) / 2, pack_nibbles(a, b));
  }
}

void encode4_run_avx2(const float* x, int64_t n, float inv, Quant4 type, uint8_t* packed) {
  if (type == Quant4::nf4) {
    static const Search<4> t(nf4_thresholds());  // built once: small blocks call this per 32..64 elements
    encode4_loop(x, n, inv, packed, [&](__m256 s) { return t.count_below(s); });
  } else {
    static const Search<3> f(fp4_abs_thresholds());
    const __m256i rank_code = _mm256_setr_epi32(kFp4RankCode[0], kFp4RankCode[1], kFp4RankCode[2], kFp4RankCode[3],
                                                kFp4RankCode[4], kFp4RankCode[5], kFp4RankCode[6], kFp4RankCode[7]);
    encode4_loop(x, n, inv, packed, [&](__m256 s) { return fp4_codes(s, f, rank_code); });
  }
}

// table[i] for i in [0, count), count a power of two up to 128 (table padded to 8 entries): vpermps up to
// 8 entries, halves picked by blendv on the next bits of i up to 32, a gather beyond.
inline __m256 lookup(const float* table, int count, __m256i i) {
  if (count > 32) return _mm256_i32gather_ps(table, i, 4);
  auto part = [&](int c) { return _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 8 * c), i); };
  if (count <= 8) return part(0);
  // blendv reads the sign bit: bit 3 of i, then bit 4, moved there.
  const __m256 bit3 = _mm256_castsi256_ps(_mm256_slli_epi32(i, 28));
  const __m256 low = _mm256_blendv_ps(part(0), part(1), bit3);
  if (count == 16) return low;
  const __m256 high = _mm256_blendv_ps(part(2), part(3), bit3);
  return _mm256_blendv_ps(low, high, _mm256_castsi256_ps(_mm256_slli_epi32(i, 27)));
}

// j = the number of midpoints below s, by a branch-free binary search: at step w = 2^k (128, 64, .., 1)
// idx is a multiple of 2w and the probe is midpoints[idx + w − 1] = level k's entry idx >> (k + 1); the
// levels of up to 32 probes come from registers, the last two gather. The last probe that is not below s
// is midpoints[j] itself (every later step adds its w), so whether it equals s is tracked along the way:
// the tie that moves an odd j up by one.
void encode8_run_avx2(const float* x, int64_t n, float inv, const float* midpoints, uint8_t* codes) {
  alignas(32) float levels[8][128];
  for (int k = 0; k < 8; ++k) {
    const int w = 1 << k, count = 128 >> k;
    for (int i = 0; i < count; ++i) levels[k][i] = midpoints[i * 2 * w + w - 1];
    for (int i = count; i < 8; ++i) levels[k][i] = 0.0f;
  }
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i one = _mm256_set1_epi32(1);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256 s = _mm256_mul_ps(load_partial(x + i, n - i), vinv);
    __m256i idx = _mm256_setzero_si256();
    __m256 eq = _mm256_setzero_ps();
    for (int k = 7; k >= 0; --k) {
      const __m256 probe = lookup(levels[k], 128 >> k, _mm256_srli_epi32(idx, k + 1));
      // Ordered compares: a NaN s is never above a probe nor equal to one, so it ends at 0.
      const __m256 below = _mm256_cmp_ps(probe, s, _CMP_LT_OQ);
      eq = _mm256_blendv_ps(_mm256_cmp_ps(probe, s, _CMP_EQ_OQ), eq, below);
      idx = _mm256_add_epi32(idx, _mm256_and_si256(_mm256_castps_si256(below), _mm256_set1_epi32(1 << k)));
    }
    const __m256i tie = _mm256_and_si256(_mm256_castps_si256(eq), _mm256_and_si256(idx, one));
    store_bytes(codes + i, n - i, low_bytes8(_mm256_add_epi32(idx, tie)));
  }
}

// 16-entry table lookup: permutevar8x32 uses the low 3 bits, and bit 3 (moved to the sign) picks the half.
inline __m256 lookup16(__m256 lo, __m256 hi, __m256i code) {
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, code), _mm256_permutevar8x32_ps(hi, code),
                          _mm256_castsi256_ps(_mm256_slli_epi32(code, 28)));
}

void decode4_run_avx2(const uint8_t* packed, int64_t n, const float* table, float absmax, float* out) {
  const __m256 lo = _mm256_loadu_ps(table), hi = _mm256_loadu_ps(table + 8), vabs = _mm256_set1_ps(absmax);
  const __m256i first = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), second = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  const __m256i shift = _mm256_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0), nibble = _mm256_set1_epi32(0xf);
  for (int64_t i = 0; i < n; i += 2 * kLanes) {
    const int64_t count = n - i;
    const __m256i bytes =
        _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(load_bytes(packed + i / 2, (count + 1) / 2))));
    // Element 2j takes the high nibble of byte j, element 2j + 1 the low one.
    const __m256i a = _mm256_and_si256(_mm256_srlv_epi32(_mm256_permutevar8x32_epi32(bytes, first), shift), nibble);
    const __m256i b = _mm256_and_si256(_mm256_srlv_epi32(_mm256_permutevar8x32_epi32(bytes, second), shift), nibble);
    store_partial(out + i, count, _mm256_mul_ps(lookup16(lo, hi, a), vabs));
    if (count > kLanes) store_partial(out + i + kLanes, count - kLanes, _mm256_mul_ps(lookup16(lo, hi, b), vabs));
  }
}

void decode8_run_avx2(const uint8_t* codes, int64_t n, const float* code, float absmax, float* out) {
  const __m256 vabs = _mm256_set1_ps(absmax);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i q = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(load_bytes(codes + i, n - i))));
    store_partial(out + i, n - i, _mm256_mul_ps(_mm256_i32gather_ps(code, q, 4), vabs));
  }
}

}  // namespace

const Kernels kernels_avx2 = {absmax_run_avx2, encode4_run_avx2, encode8_run_avx2, decode4_run_avx2, decode8_run_avx2};

}  // namespace kq::bnb
