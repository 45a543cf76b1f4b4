// AVX2 BitNet quantizer rows (quantize.h): the reference's bits with f64 arithmetic 4 lanes at a time. The
// 8 sum lanes are two ymm (elements c..c+3 and c+4..c+7); the quotient and W − α are the same f64 operations
// as the reference, and RoundClip of a finite quotient q is (q > 0.5) − (q < −0.5) (0.5 rounds to the even 0,
// anything past it to at least 1, which clamps to 1). Tails go through the reference.
#include <immintrin.h>

#include "quantize.h"

namespace kq::ternary {
namespace {

inline void widen(const float* w, __m256d* lo, __m256d* hi) {
  const __m256 v = _mm256_loadu_ps(w);
  *lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
  *hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

// Four f64 trits (−1.0, 0.0, 1.0) of each half to 8 int8.
inline void store_trits(__m256d lo, __m256d hi, int8_t* trits) {
  const __m128i words = _mm_packs_epi32(_mm256_cvtpd_epi32(lo), _mm256_cvtpd_epi32(hi));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(trits), _mm_packs_epi16(words, words));
}

// Trits of the whole 8-element chunks of a row, `to_trit` turning 4 f64 elements into −1.0 / 0.0 / 1.0;
// returns the elements done (the tail is the reference's).
template <typename ToTrit>
int64_t trit_chunks(const float* w, int64_t k, int8_t* trits, ToTrit to_trit) {
  int64_t c = 0;
  for (; c + 8 <= k; c += 8) {
    __m256d lo, hi;
    widen(w + c, &lo, &hi);
    store_trits(to_trit(lo), to_trit(hi), trits + c);
  }
  return c;
}

void row_sums_avx2(const float* w, int64_t k, double* sum, double* sum_abs) {
  const __m256d sign = _mm256_set1_pd(-0.0);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, a0 = s0, a1 = s0;
  for (int64_t c = 0; c + kSumLanes <= k; c += kSumLanes) {
    __m256d lo, hi;
    widen(w + c, &lo, &hi);
    s0 = _mm256_add_pd(s0, lo);
    s1 = _mm256_add_pd(s1, hi);
    a0 = _mm256_add_pd(a0, _mm256_andnot_pd(sign, lo));
    a1 = _mm256_add_pd(a1, _mm256_andnot_pd(sign, hi));
  }
  alignas(32) double lanes[kSumLanes], lanes_abs[kSumLanes];
  _mm256_store_pd(lanes, s0);
  _mm256_store_pd(lanes + 4, s1);
  _mm256_store_pd(lanes_abs, a0);
  _mm256_store_pd(lanes_abs + 4, a1);
  finish_row_sums(lanes, lanes_abs, w, k, sum, sum_abs);
}

inline __m256d round_clip(__m256d q) {
  const __m256d one = _mm256_set1_pd(1.0);
  const __m256d up = _mm256_and_pd(_mm256_cmp_pd(q, _mm256_set1_pd(0.5), _CMP_GT_OQ), one);
  const __m256d down = _mm256_and_pd(_mm256_cmp_pd(q, _mm256_set1_pd(-0.5), _CMP_LT_OQ), one);
  return _mm256_sub_pd(up, down);
}

void ternary_row_avx2(const float* w, int64_t k, double divisor, int8_t* trits) {
  const __m256d d = _mm256_set1_pd(divisor);
  const int64_t c = trit_chunks(w, k, trits, [d](__m256d v) { return round_clip(_mm256_div_pd(v, d)); });
  quant_kernels_ref.ternary_row(w + c, k - c, divisor, trits + c);
}

inline __m256d sign_above(__m256d v, __m256d alpha) {
  const __m256d above = _mm256_cmp_pd(_mm256_sub_pd(v, alpha), _mm256_setzero_pd(), _CMP_GT_OQ);
  return _mm256_blendv_pd(_mm256_set1_pd(-1.0), _mm256_set1_pd(1.0), above);
}

void binary_row_avx2(const float* w, int64_t k, double alpha, int8_t* trits) {
  const __m256d a = _mm256_set1_pd(alpha);
  const int64_t c = trit_chunks(w, k, trits, [a](__m256d v) { return sign_above(v, a); });
  quant_kernels_ref.binary_row(w + c, k - c, alpha, trits + c);
}

void dequantize_row_avx2(const int8_t* trits, int64_t k, float scale, float* out) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t c = 0;
  for (; c + 8 <= k; c += 8) {
    const __m256i t = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(trits + c)));
    _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_cvtepi32_ps(t), s));
  }
  quant_kernels_ref.dequantize_row(trits + c, k - c, scale, out + c);
}

}  // namespace

const QuantKernels quant_kernels_avx2 = {row_sums_avx2, ternary_row_avx2, binary_row_avx2, dequantize_row_avx2};

}  // namespace kq::ternary
