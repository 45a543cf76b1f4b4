// AVX2 + F16C conversions, 8 lanes, bit-exact with core/half.h. f16 uses the F16C instructions, which round
// to nearest even and keep subnormals exact; bf16 is the integer rounding of half.h done lane-wise
// (vcvtneps2bf16 is not used: it flushes subnormals). A tail shorter than a vector goes through a masked
// load or store, or a partial memcpy for 16-bit data.
#include <immintrin.h>

#include <cstring>

#include "../../core/avx2_lanes.h"
#include "convert.h"

namespace kq::convert {
namespace {

inline __m128i load_u16(const uint16_t* p, int64_t count) {
  if (count >= kLanes) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m128i v = _mm_setzero_si128();
  memcpy(&v, p, static_cast<size_t>(count) * sizeof(uint16_t));
  return v;
}

inline void store_u16(uint16_t* p, int64_t count, __m128i v) {
  if (count >= kLanes) _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
  else memcpy(p, &v, static_cast<size_t>(count) * sizeof(uint16_t));
}

// half.h's f32_to_bf16_bits per lane: round the dropped 16 bits to nearest even; NaN keeps its sign and
// top bits and is made quiet.
inline __m128i f32_to_bf16_8(__m256 value) {
  const __m256i x = _mm256_castps_si256(value);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x0040));
  const __m256i abs = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
  const __m256i is_nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
  const __m256i bits = _mm256_blendv_epi8(rounded, quiet, is_nan);
  // Every lane is in [0, 0xffff], so the unsigned saturating pack is exact; the permute undoes its lane split.
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(bits, bits), 0x08);
  return _mm256_castsi256_si128(packed);
}

void f32_to_f16_avx2(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes)
    store_u16(dst + i, n - i, _mm256_cvtps_ph(load_partial(src + i, n - i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

void f16_to_f32_avx2(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) store_partial(dst + i, n - i, _mm256_cvtph_ps(load_u16(src + i, n - i)));
}

void f32_to_bf16_avx2(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) store_u16(dst + i, n - i, f32_to_bf16_8(load_partial(src + i, n - i)));
}

void bf16_to_f32_avx2(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i bits = _mm256_slli_epi32(_mm256_cvtepu16_epi32(load_u16(src + i, n - i)), 16);
    store_partial(dst + i, n - i, _mm256_castsi256_ps(bits));
  }
}

}  // namespace

const Kernels kernels_avx2 = {f32_to_f16_avx2, f16_to_f32_avx2, f32_to_bf16_avx2, bf16_to_f32_avx2};

}  // namespace kq::convert
