// AVX2 helpers shared by the int4 (GPTQ/AWQ) and code-book tile kernels (avx2.cc, codebook_avx2.cc): a 16-row
// tile is two halves of 8 rows (the two 32-byte halves of every 64-byte chunk), one ymm lane per row.
// Include only from files compiled with -mavx2: everything here has internal linkage.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "../../core/avx2_lanes.h"
#include "int4.h"

namespace kq::int4 {
namespace {

constexpr int64_t kHalf = 8;  // rows per ymm

inline __m256i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// The 8 column partial sums of an f32 pass, added in the order of the scalar references.
inline __m256 sum8(const __m256* p) {
  return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(p[0], p[4]), _mm256_add_ps(p[1], p[5])),
                       _mm256_add_ps(_mm256_add_ps(p[2], p[6]), _mm256_add_ps(p[3], p[7])));
}

// y rows i0 .. i0+M-1 (row length n) at the half's 8 output rows from row0: acc (+ bias), partial at the edge.
template <int M>
void store_half_rows(float* y, const float* bias, int64_t n, int64_t row0, int64_t i0, const __m256* acc) {
  const int64_t count = n - row0;
  if (count <= 0) return;
  for (int i = 0; i < M; ++i) {
    __m256 out = acc[i];
    if (bias) out = _mm256_add_ps(out, load_partial(bias + row0, count));
    store_partial(y + (i0 + i) * n + row0, count, out);
  }
}

// Exact int32 dots of one 32-column block of a half tile (nibbles at `block`, chunks kChunkBytes apart) with
// M rows of int8 activations, row i at x + i·stride: vpmaddubsw (unsigned nibbles × signed activations)
// summed in int16 over the block (16 products of at most 15 · 127 fit), then vpmaddwd into int32.
template <int M>
void block_dots(const uint8_t* block, const int8_t* x, int64_t stride, __m256i* sum) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256i dot[M];
  for (int i = 0; i < M; ++i) dot[i] = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(block + c * kChunkBytes));
    const __m256i lo = _mm256_and_si256(v, low4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    for (int i = 0; i < M; ++i) {
      const int8_t* xc = x + i * stride + 8 * c;
      dot[i] = _mm256_add_epi16(dot[i], _mm256_add_epi16(_mm256_maddubs_epi16(lo, broadcast4(xc)),
                                                         _mm256_maddubs_epi16(hi, broadcast4(xc + 4))));
    }
  }
  for (int i = 0; i < M; ++i) sum[i] = _mm256_madd_epi16(dot[i], _mm256_set1_epi16(1));
}

// Four x rows per int8 pass keep accumulators and weights within the 16 ymm registers:
// Pass::run<M>(a, t, i0) computes rows i0 .. i0+M-1 of one half tile t.
template <class Pass, class Call, class Half>
void int8_row_passes(const Call& a, const Half& t) {
  for (int64_t i0 = 0; i0 < a.m; i0 += 4) {
    switch (a.m - i0 < 4 ? a.m - i0 : 4) {
      case 1: Pass::template run<1>(a, t, i0); break;
      case 2: Pass::template run<2>(a, t, i0); break;
      case 3: Pass::template run<3>(a, t, i0); break;
      default: Pass::template run<4>(a, t, i0); break;
    }
  }
}

}  // namespace
}  // namespace kq::int4
