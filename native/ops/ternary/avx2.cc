// AVX2 ternary kernel. AVX2 has no 16-bit permute for table lookups, so it selects activations by the bits:
// a tile's 32 rows are two ymm halves of 16 int16 lanes; for column b of a quad, comparing (plane AND 1<<b)
// with 1<<b gives 0xffff in the lanes whose trit is set, which AND-selects the broadcast activation, added for
// the plus plane and subtracted for the minus plane — no multiplication. int16 sums move by at most 16 · 127
// = 2032 per quad and are flushed to int32 every kFlushQuads quads (≤ 32512), so every step is exact and the
// result is the reference's bit for bit. The lane masks of a column are reused for up to four x rows.
#include <immintrin.h>

#include <algorithm>

#include "ternary.h"

namespace kq::ternary {
namespace {

constexpr int64_t kFlushQuads = 16;
constexpr int kMaxTokens = 4;
constexpr int64_t kHalf = 16;  // rows per ymm

template <int M>
void pass(const CallArgs& a, int64_t tile, int64_t half, int64_t i0) {
  const PreparedTernary& w = *a.w;
  const int64_t kp = w.quads * kQuad;
  const uint16_t* planes = w.planes.data() + tile * w.quads * 2 * kTileRows + half * kHalf;
  __m256i lo[M], hi[M];  // int32 sums of the half's rows 0..7 and 8..15
  for (int i = 0; i < M; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  for (int64_t q0 = 0; q0 < w.quads; q0 += kFlushQuads) {
    const int64_t q1 = std::min(w.quads, q0 + kFlushQuads);
    __m256i acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm256_setzero_si256();
    for (int64_t q = q0; q < q1; ++q) {
      const __m256i plus = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(planes + q * 2 * kTileRows));
      const __m256i minus = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(planes + q * 2 * kTileRows + kTileRows));
      for (int b = 0; b < kQuad; ++b) {
        const __m256i bit = _mm256_set1_epi16(static_cast<int16_t>(1u << b));
        const __m256i p = _mm256_cmpeq_epi16(_mm256_and_si256(plus, bit), bit);
        const __m256i n = _mm256_cmpeq_epi16(_mm256_and_si256(minus, bit), bit);
        for (int i = 0; i < M; ++i) {
          const __m256i x = _mm256_set1_epi16(a.xq[(i0 + i) * kp + q * kQuad + b]);
          acc[i] = _mm256_sub_epi16(_mm256_add_epi16(acc[i], _mm256_and_si256(p, x)), _mm256_and_si256(n, x));
        }
      }
    }
    for (int i = 0; i < M; ++i) {
      lo[i] = _mm256_add_epi32(lo[i], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc[i])));
      hi[i] = _mm256_add_epi32(hi[i], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc[i], 1)));
    }
  }
  const int64_t row0 = tile * kTileRows + half * kHalf;
  const int64_t count = std::min<int64_t>(kHalf, w.n - row0);
  for (int i = 0; i < M; ++i) {
    alignas(32) int32_t dot[kHalf];
    _mm256_store_si256(reinterpret_cast<__m256i*>(dot), lo[i]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(dot + 8), hi[i]);
    for (int64_t r = 0; r < count; ++r)
      a.y[(i0 + i) * w.n + row0 + r] = scale_dot(dot[r], w.scales[row0 + r], a.xscale[i0 + i]);
  }
}

void tiles_avx2(const CallArgs& a, int64_t t0, int64_t t1) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t half = 0; half < 2; ++half) {
      if (tile * kTileRows + half * kHalf >= a.w->n) continue;
      for (int64_t i0 = 0; i0 < a.m; i0 += kMaxTokens) {
        switch (std::min<int64_t>(a.m - i0, kMaxTokens)) {
          case 1: pass<1>(a, tile, half, i0); break;
          case 2: pass<2>(a, tile, half, i0); break;
          case 3: pass<3>(a, tile, half, i0); break;
          default: pass<4>(a, tile, half, i0); break;
        }
      }
    }
}

}  // namespace

const Kernels kernels_avx2 = {tiles_avx2};

}  // namespace kq::ternary
