// AVX-512 int8 GEMM of LLM.int8(), two tables. kernels_avx512: vpmaddwd on int8 sign-extended to int16
// (32 products per instruction). kernels_avx512_vnni: vpdpbusd, which multiplies UNSIGNED by signed bytes,
// so A is offset by +128 (a XOR 0x80) and the exact result is recovered as
//   Σ a·b = Σ (a + 128)·b − 128 · Σ b,
// with Σ b per B row precomputed by the driver (b_sums). The VNNI function is compiled for avx512vnni by a
// target attribute and is only selected when CPUID reports it. Integer arithmetic is exact (the int32
// intermediate may wrap, the final value fits), so every variant equals ref.cc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "int8mm.h"

namespace kq::int8mm {
namespace {

inline __mmask32 mask32(int64_t count) {
  return count >= 32 ? static_cast<__mmask32>(0xffffffffu) : static_cast<__mmask32>((1u << count) - 1u);
}

inline __mmask64 mask64(int64_t count) {
  return count >= 64 ? ~static_cast<__mmask64>(0) : ((static_cast<__mmask64>(1) << count) - 1);
}

inline __m512i load32(const int8_t* p, __mmask32 m) { return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p)); }

void gemm_tile_avx512(const int8_t* a, int64_t rows_a, const int8_t* b, int64_t rows_b, int64_t k,
                      const int32_t* /*b_sums*/, int32_t* c, int64_t ldc) {
  for (int64_t i = 0; i < rows_a; ++i) {
    const int8_t* ar = a + i * k;
    int64_t j = 0;
    for (; j + 4 <= rows_b; j += 4) {
      const int8_t* b0 = b + j * k;
      __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t p = 0; p < k; p += 32) {
        const __mmask32 m = mask32(k - p);
        const __m512i va = load32(ar + p, m);
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(va, load32(b0 + p, m)));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(va, load32(b0 + k + p, m)));
        s2 = _mm512_add_epi32(s2, _mm512_madd_epi16(va, load32(b0 + 2 * k + p, m)));
        s3 = _mm512_add_epi32(s3, _mm512_madd_epi16(va, load32(b0 + 3 * k + p, m)));
      }
      c[i * ldc + j] = _mm512_reduce_add_epi32(s0);
      c[i * ldc + j + 1] = _mm512_reduce_add_epi32(s1);
      c[i * ldc + j + 2] = _mm512_reduce_add_epi32(s2);
      c[i * ldc + j + 3] = _mm512_reduce_add_epi32(s3);
    }
    for (; j < rows_b; ++j) {
      const int8_t* br = b + j * k;
      __m512i s = _mm512_setzero_si512();
      for (int64_t p = 0; p < k; p += 32) {
        const __mmask32 m = mask32(k - p);
        s = _mm512_add_epi32(s, _mm512_madd_epi16(load32(ar + p, m), load32(br + p, m)));
      }
      c[i * ldc + j] = _mm512_reduce_add_epi32(s);
    }
  }
}

// Σ (a+128)·b over the lanes as an int32 that may have wrapped; the caller subtracts 128·Σb modulo 2^32.
inline int32_t finish(__m512i s, int32_t b_sum) {
  const uint32_t raw = static_cast<uint32_t>(_mm512_reduce_add_epi32(s));
  return static_cast<int32_t>(raw - 128u * static_cast<uint32_t>(b_sum));
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void gemm_tile_avx512_vnni(
    const int8_t* a, int64_t rows_a, const int8_t* b, int64_t rows_b, int64_t k, const int32_t* b_sums, int32_t* c,
    int64_t ldc) {
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < rows_a; ++i) {
    const int8_t* ar = a + i * k;
    int64_t j = 0;
    for (; j + 4 <= rows_b; j += 4) {
      const int8_t* b0 = b + j * k;
      __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t p = 0; p < k; p += 64) {
        const __mmask64 m = mask64(k - p);
        // Masked-off lanes: a reads 0 (becomes 128) but b reads 0, so they add nothing.
        const __m512i ua = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, ar + p), offset);
        s0 = _mm512_dpbusd_epi32(s0, ua, _mm512_maskz_loadu_epi8(m, b0 + p));
        s1 = _mm512_dpbusd_epi32(s1, ua, _mm512_maskz_loadu_epi8(m, b0 + k + p));
        s2 = _mm512_dpbusd_epi32(s2, ua, _mm512_maskz_loadu_epi8(m, b0 + 2 * k + p));
        s3 = _mm512_dpbusd_epi32(s3, ua, _mm512_maskz_loadu_epi8(m, b0 + 3 * k + p));
      }
      c[i * ldc + j] = finish(s0, b_sums[j]);
      c[i * ldc + j + 1] = finish(s1, b_sums[j + 1]);
      c[i * ldc + j + 2] = finish(s2, b_sums[j + 2]);
      c[i * ldc + j + 3] = finish(s3, b_sums[j + 3]);
    }
    for (; j < rows_b; ++j) {
      const int8_t* br = b + j * k;
      __m512i s = _mm512_setzero_si512();
      for (int64_t p = 0; p < k; p += 64) {
        const __mmask64 m = mask64(k - p);
        const __m512i ua = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, ar + p), offset);
        s = _mm512_dpbusd_epi32(s, ua, _mm512_maskz_loadu_epi8(m, br + p));
      }
      c[i * ldc + j] = finish(s, b_sums[j]);
    }
  }
}

}  // namespace

const Kernels kernels_avx512 = {gemm_tile_avx512};
const Kernels kernels_avx512_vnni = {gemm_tile_avx512_vnni};

}  // namespace kq::int8mm
