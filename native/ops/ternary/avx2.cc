// AVX2 ternary kernel: the same table lookups as AVX-512 (ternary.h), with vpshufb, whose tables hold 16
// bytes. A tile's 32 rows are two ymm halves of 16 int16 lanes. Each group's 16 sums come split into a
// low-byte table and a high-byte table (TableFormat::split_bytes); for a lane whose nibble is n, the index
// vector n | 0x8000 picks the low byte of S[n] into the lane's low byte (0x80 zeroes the high byte) and
// (n << 8) | 0x0080 picks the high byte into the high byte, so OR-ing the two lookups gives S[n] as int16.
// The indices depend only on the planes and are reused for up to four x rows. plus lookups are added, minus
// lookups subtracted — additions only; int16 sums stay below 8 quads · 4 groups · 508 = 16256 per accumulator
// between flushes to int32, so every step is exact and the result is the reference's bit for bit.
#include <immintrin.h>

#include <algorithm>

#include "ternary.h"

namespace kq::ternary {
namespace {

constexpr int64_t kFlushQuads = 8;
constexpr int kMaxTokens = 4;
constexpr int64_t kHalf = 16;  // rows per ymm

// S[n] for every lane, given the lanes' low-byte and high-byte indices.
inline __m256i lookup(const int16_t* table, __m256i index_lo, __m256i index_hi) {
  const __m256i lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table)));
  const __m256i hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table) + 1));
  return _mm256_or_si256(_mm256_shuffle_epi8(lo, index_lo), _mm256_shuffle_epi8(hi, index_hi));
}

template <int M>
void pass(const CallArgs& a, int64_t tile, int64_t half, int64_t i0) {
  const PreparedTernary& w = *a.w;
  const int64_t groups = w.quads * (kQuad / kGroup);
  const uint16_t* planes = w.planes.data() + tile * w.quads * 2 * kTileRows + half * kHalf;
  const __m256i nibble = _mm256_set1_epi16(0x000f);
  const __m256i zero_hi = _mm256_set1_epi16(static_cast<int16_t>(0x8000));
  const __m256i zero_lo = _mm256_set1_epi16(0x0080);
  __m256i lo[M], hi[M];  // int32 sums of the half's rows 0..7 and 8..15
  for (int i = 0; i < M; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
  for (int64_t q0 = 0; q0 < w.quads; q0 += kFlushQuads) {
    const int64_t q1 = std::min(w.quads, q0 + kFlushQuads);
    __m256i plus_sum[M], minus_sum[M];
    for (int i = 0; i < M; ++i) plus_sum[i] = minus_sum[i] = _mm256_setzero_si256();
    for (int64_t q = q0; q < q1; ++q) {
      __m256i plus = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(planes + q * 2 * kTileRows));
      __m256i minus = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(planes + q * 2 * kTileRows + kTileRows));
      for (int64_t g = 0; g < kQuad / kGroup; ++g) {
        const __m256i pn = _mm256_and_si256(plus, nibble), mn = _mm256_and_si256(minus, nibble);
        const __m256i p_lo = _mm256_or_si256(pn, zero_hi), p_hi = _mm256_or_si256(_mm256_slli_epi16(pn, 8), zero_lo);
        const __m256i m_lo = _mm256_or_si256(mn, zero_hi), m_hi = _mm256_or_si256(_mm256_slli_epi16(mn, 8), zero_lo);
        for (int i = 0; i < M; ++i) {
          const int16_t* table = a.tables + ((i0 + i) * groups + q * 4 + g) * kTableEntries;
          plus_sum[i] = _mm256_add_epi16(plus_sum[i], lookup(table, p_lo, p_hi));
          minus_sum[i] = _mm256_add_epi16(minus_sum[i], lookup(table, m_lo, m_hi));
        }
        plus = _mm256_srli_epi16(plus, 4);
        minus = _mm256_srli_epi16(minus, 4);
      }
    }
    for (int i = 0; i < M; ++i) {
      const __m256i d = _mm256_sub_epi16(plus_sum[i], minus_sum[i]);  // |d| ≤ 32512
      lo[i] = _mm256_add_epi32(lo[i], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(d)));
      hi[i] = _mm256_add_epi32(hi[i], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(d, 1)));
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

const Kernels kernels_avx2 = {tiles_avx2, TableFormat::split_bytes};

}  // namespace kq::ternary
