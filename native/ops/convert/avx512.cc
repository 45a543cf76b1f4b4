// AVX-512 conversions, 16 lanes, bit-exact with core/half.h. f16 uses vcvtps2ph/vcvtph2ps, which round to
// nearest even and keep subnormals exact; bf16 is the integer rounding of half.h done lane-wise
// (vcvtneps2bf16 is not used: it flushes subnormals). Every loop step is masked, so a tail takes the same
// path as the body.

// GCC 12's AVX-512 headers initialize _mm512_undefined_*() from themselves, which -Wall reports at every
// inlined intrinsic (GCC bug 105593); the warnings say nothing about this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "convert.h"

namespace kq::convert {
namespace {

constexpr int64_t kLanes = 16;

inline __mmask16 lane_mask(int64_t count) {
  return count >= kLanes ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

// half.h's f32_to_bf16_bits per lane: round the dropped 16 bits to nearest even; NaN keeps its sign and
// top bits and is made quiet.
inline __m512i f32_to_bf16_16(__m512 value) {
  const __m512i x = _mm512_castps_si512(value);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x0040));
  const __m512i abs = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_blend_epi32(is_nan, rounded, quiet);
}

void f32_to_f16_avx512(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(dst + i, m, h);
  }
}

void f16_to_f32_avx512(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}

void f32_to_bf16_avx512(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    // vpmovdw truncates each lane to its low 16 bits, which hold the whole bf16 pattern.
    _mm512_mask_cvtepi32_storeu_epi16(dst + i, m, f32_to_bf16_16(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

void bf16_to_f32_avx512(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = lane_mask(n - i);
    const __m512i bits = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i)), 16);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_castsi512_ps(bits));
  }
}

}  // namespace

const Kernels kernels_avx512 = {f32_to_f16_avx512, f16_to_f32_avx512, f32_to_bf16_avx512, bf16_to_f32_avx512};

}  // namespace kq::convert
