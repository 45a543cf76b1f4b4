// AVX-512 kernels of the linear family, 16 lanes. Bit-exact with ref.cc: the same multiply, add,
// round-half-even and clamp, each one rounding, and a true division for dequantization. Every loop step is
// masked, so a tail takes the same path as the body.

// GCC 12's AVX-512 headers initialize _mm512_undefined_*() from themselves, which -Wall reports at every
// inlined intrinsic (GCC bug 105593); the warnings say nothing about this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "linear.h"

namespace kq::linear {
namespace {

constexpr int64_t kLanes = 16;

// Lanes [0, count) set; count may exceed 16 (all set).
inline __mmask16 lane_mask(int64_t count) {
  return count >= kLanes ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

// x − x is +0 for finite lanes and NaN otherwise, so OR-ing the bits gathers any NaN/Inf into nonzero bits.
// Masked-off lanes load as 0.0f and never count.
inline __m512 gather_non_finite(__m512 acc, __m512 x) { return _mm512_or_ps(acc, _mm512_sub_ps(x, x)); }

inline void report_non_finite(__m512 acc, uint32_t* non_finite) {
  const __m512i bits = _mm512_castps_si512(acc);
  if (_mm512_test_epi32_mask(bits, bits)) *non_finite = 1;
}

inline __m512i quantize16(__m512 x, __m512 scale, __m512 zero, __m512 qmin, __m512 qmax) {
  const __m512 product = _mm512_mul_ps(x, scale);
  const __m512 shifted = _mm512_add_ps(product, zero);
  const __m512 rounded = _mm512_roundscale_ps(shifted, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // max/min return the second operand when the first is NaN, so NaN lands on qmin as with fmax/fmin.
  return _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(rounded, qmin), qmax));
}

inline __m512 load_stored16(const uint8_t* q, __mmask16 m, bool is_signed) {
  const __m128i b = _mm_maskz_loadu_epi8(m, q);
  return _mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b));
}

void minmax_run_avx512(const float* x, int64_t n, float* min, float* max, uint32_t* non_finite) {
  __m512 lo = _mm512_set1_ps(x[0]), hi = lo, bad = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    bad = gather_non_finite(bad, v);
    lo = _mm512_mask_min_ps(lo, m, v, lo);
    hi = _mm512_mask_max_ps(hi, m, v, hi);
  }
  report_non_finite(bad, non_finite);
  *min = _mm512_reduce_min_ps(lo);
  *max = _mm512_reduce_max_ps(hi);
}

void minmax_columns_avx512(const float* x, int64_t channels, float* mins, float* maxs, uint32_t* non_finite) {
  __m512 bad = _mm512_setzero_ps();
  for (int64_t c = 0; c < channels; c += kLanes) {
    const __mmask16 m = lane_mask(channels - c);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + c);
    bad = gather_non_finite(bad, v);
    _mm512_mask_storeu_ps(mins + c, m, _mm512_min_ps(v, _mm512_maskz_loadu_ps(m, mins + c)));
    _mm512_mask_storeu_ps(maxs + c, m, _mm512_max_ps(v, _mm512_maskz_loadu_ps(m, maxs + c)));
  }
  report_non_finite(bad, non_finite);
}

void quantize_run_avx512(const float* x, int64_t n, float scale, float zero, float qmin, float qmax, uint8_t* q,
                         uint32_t* non_finite) {
  const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps(zero);
  const __m512 lo = _mm512_set1_ps(qmin), hi = _mm512_set1_ps(qmax);
  __m512 bad = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    bad = gather_non_finite(bad, v);
    // vpmovdb truncates: the low byte of each lane, right for signed and unsigned ranges alike.
    _mm512_mask_cvtepi32_storeu_epi8(q + i, m, quantize16(v, vs, vz, lo, hi));
  }
  report_non_finite(bad, non_finite);
}

void quantize_columns_avx512(const float* x, int64_t channels, const float* scales, const float* zeros, float qmin,
                             float qmax, uint8_t* q, uint32_t* non_finite) {
  const __m512 lo = _mm512_set1_ps(qmin), hi = _mm512_set1_ps(qmax);
  __m512 bad = _mm512_setzero_ps();
  for (int64_t c = 0; c < channels; c += kLanes) {
    const __mmask16 m = lane_mask(channels - c);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + c);
    bad = gather_non_finite(bad, v);
    const __m512i r =
        quantize16(v, _mm512_maskz_loadu_ps(m, scales + c), _mm512_maskz_loadu_ps(m, zeros + c), lo, hi);
    _mm512_mask_cvtepi32_storeu_epi8(q + c, m, r);
  }
  report_non_finite(bad, non_finite);
}

void dequantize_run_avx512(const uint8_t* q, int64_t n, bool is_signed, float scale, float zero, float* out) {
  const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps(zero);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_div_ps(_mm512_sub_ps(load_stored16(q + i, m, is_signed), vz), vs));
  }
}

void dequantize_columns_avx512(const uint8_t* q, int64_t channels, bool is_signed, const float* scales,
                               const float* zeros, float* out) {
  for (int64_t c = 0; c < channels; c += kLanes) {
    const __mmask16 m = lane_mask(channels - c);
    const __m512 diff = _mm512_sub_ps(load_stored16(q + c, m, is_signed), _mm512_maskz_loadu_ps(m, zeros + c));
    // Masked division: the zero scales of masked-off lanes are never divided by.
    _mm512_mask_storeu_ps(out + c, m, _mm512_maskz_div_ps(m, diff, _mm512_maskz_loadu_ps(m, scales + c)));
  }
}

}  // namespace

const Kernels kernels_avx512 = {minmax_run_avx512,       minmax_columns_avx512,  quantize_run_avx512,
                                quantize_columns_avx512, dequantize_run_avx512, dequantize_columns_avx512};

}  // namespace kq::linear
