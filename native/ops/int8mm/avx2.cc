// AVX2 int8 GEMM of LLM.int8(): vpmaddwd on int8 sign-extended to int16 (16 products per instruction,
// pairs summed into int32). Integer arithmetic is exact, so the sums equal ref.cc in any order. Each A row
// is loaded once for four B rows; a tail shorter than 16 goes through a zero-padded copy.
#include <immintrin.h>

#include <cstring>

#include "int8mm.h"

namespace kq::int8mm {
namespace {

inline __m256i load16(const int8_t* p, int64_t count) {
  if (count >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  alignas(16) int8_t buf[16] = {};
  std::memcpy(buf, p, static_cast<size_t>(count));
  return _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
}

inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

void gemm_tile_avx2(const int8_t* a, int64_t rows_a, const int8_t* b, int64_t rows_b, int64_t k,
                    const int32_t* /*b_sums*/, int32_t* c, int64_t ldc) {
  for (int64_t i = 0; i < rows_a; ++i) {
    const int8_t* ar = a + i * k;
    int64_t j = 0;
    for (; j + 4 <= rows_b; j += 4) {
      const int8_t* b0 = b + j * k;
      __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t p = 0; p < k; p += 16) {
        const int64_t count = k - p;
        const __m256i va = load16(ar + p, count);
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(va, load16(b0 + p, count)));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(va, load16(b0 + k + p, count)));
        s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(va, load16(b0 + 2 * k + p, count)));
        s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(va, load16(b0 + 3 * k + p, count)));
      }
      c[i * ldc + j] = hsum(s0);
      c[i * ldc + j + 1] = hsum(s1);
      c[i * ldc + j + 2] = hsum(s2);
      c[i * ldc + j + 3] = hsum(s3);
    }
    for (; j < rows_b; ++j) {
      const int8_t* br = b + j * k;
      __m256i s = _mm256_setzero_si256();
      for (int64_t p = 0; p < k; p += 16) s = _mm256_add_epi32(s, _mm256_madd_epi16(load16(ar + p, k - p), load16(br + p, k - p)));
      c[i * ldc + j] = hsum(s);
    }
  }
}

}  // namespace

const Kernels kernels_avx2 = {gemm_tile_avx2};

}  // namespace kq::int8mm
