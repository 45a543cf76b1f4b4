// AVX-512 BitNet quantizer rows (quantize.h): the 8 sum lanes are one zmm of f64; quotients and W − α are the
// reference's f64 operations 8 at a time, turned into int8 trits by mask moves (RoundClip of a finite q is
// (q > 0.5) − (q < −0.5), as in quantize_avx2.cc). Tails use masked loads and stores: masked-off lanes read
// 0 and are never written.
// GCC 12 warns falsely inside the AVX-512 intrinsic headers (BUILD-NOTES).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "quantize.h"

namespace kq::ternary {
namespace {

inline __mmask8 tail_mask8(int64_t left) { return static_cast<__mmask8>(left >= 8 ? 0xff : (1u << left) - 1); }

inline __m512d widen(const float* w, __mmask8 mask) { return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, w)); }

void row_sums_avx512(const float* w, int64_t k, double* sum, double* sum_abs) {
  __m512d s = _mm512_setzero_pd(), a = s;
  for (int64_t c = 0; c + kSumLanes <= k; c += kSumLanes) {
    const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(w + c));
    s = _mm512_add_pd(s, v);
    a = _mm512_add_pd(a, _mm512_abs_pd(v));
  }
  alignas(64) double lanes[kSumLanes], lanes_abs[kSumLanes];
  _mm512_store_pd(lanes, s);
  _mm512_store_pd(lanes_abs, a);
  finish_row_sums(lanes, lanes_abs, w, k, sum, sum_abs);
}

void ternary_row_avx512(const float* w, int64_t k, double divisor, int8_t* trits) {
  const __m512d d = _mm512_set1_pd(divisor), half = _mm512_set1_pd(0.5), minus_half = _mm512_set1_pd(-0.5);
  const __m128i one = _mm_set1_epi8(1), minus_one = _mm_set1_epi8(-1);
  for (int64_t c = 0; c < k; c += 8) {
    const __mmask8 mask = tail_mask8(k - c);
    const __m512d q = _mm512_div_pd(widen(w + c, mask), d);
    const __m128i up = _mm_maskz_mov_epi8(_mm512_cmp_pd_mask(q, half, _CMP_GT_OQ), one);
    const __m128i t = _mm_mask_mov_epi8(up, _mm512_cmp_pd_mask(q, minus_half, _CMP_LT_OQ), minus_one);
    _mm_mask_storeu_epi8(trits + c, mask, t);
  }
}

void binary_row_avx512(const float* w, int64_t k, double alpha, int8_t* trits) {
  const __m512d a = _mm512_set1_pd(alpha);
  const __m128i one = _mm_set1_epi8(1), minus_one = _mm_set1_epi8(-1);
  for (int64_t c = 0; c < k; c += 8) {
    const __mmask8 mask = tail_mask8(k - c);
    const __m512d diff = _mm512_sub_pd(widen(w + c, mask), a);
    const __m128i t = _mm_mask_mov_epi8(minus_one, _mm512_cmp_pd_mask(diff, _mm512_setzero_pd(), _CMP_GT_OQ), one);
    _mm_mask_storeu_epi8(trits + c, mask, t);
  }
}

void dequantize_row_avx512(const int8_t* trits, int64_t k, float scale, float* out) {
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t c = 0; c < k; c += 16) {
    const __mmask16 mask = static_cast<__mmask16>(k - c >= 16 ? 0xffff : (1u << (k - c)) - 1);
    const __m512i t = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, trits + c));
    _mm512_mask_storeu_ps(out + c, mask, _mm512_mul_ps(_mm512_cvtepi32_ps(t), s));
  }
}

}  // namespace

const QuantKernels quant_kernels_avx512 = {row_sums_avx512, ternary_row_avx512, binary_row_avx512,
                                           dequantize_row_avx512};

}  // namespace kq::ternary
