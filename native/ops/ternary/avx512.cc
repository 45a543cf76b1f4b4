// AVX-512BW ternary kernel: table lookups instead of per-weight work. A tile's 32 rows are the 32 int16
// lanes of a zmm; a quad's plus (minus) plane holds each row's four 4-bit nibbles, one per group of 4
// columns. For group g the plane shifted right by 4g has the nibble in the low bits of every lane, and vpermw
// gathers S[nibble] = the sum of the activations the nibble selects (vpermw reads 5 index bits: the 16 sums
// are broadcast to both halves of the zmm, so the bit above the nibble does not matter). plus lookups are
// added, minus lookups subtracted — additions only. int16 sums stay below 8 quads · 4 groups · 508 = 16256 per accumulator between
// flushes to int32, so every step is exact and the result is the reference's bit for bit. Four x rows share
// each plane load and shift.
#if defined(__GNUC__) && !defined(__clang__)  // GCC 12 warns falsely on its own AVX-512 intrinsics
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>

#include "ternary.h"

namespace kq::ternary {
namespace {

constexpr int64_t kFlushQuads = 8;
constexpr int kMaxTokens = 4;

template <int M>
void pass(const CallArgs& a, int64_t tile, int64_t i0) {
  const PreparedTernary& w = *a.w;
  const int64_t groups = w.quads * (kQuad / kGroup);
  const uint16_t* planes = w.planes.data() + tile * w.quads * 2 * kTileRows;
  __m512i lo[M], hi[M];  // int32 sums of rows 0..15 and 16..31
  for (int i = 0; i < M; ++i) lo[i] = hi[i] = _mm512_setzero_si512();
  for (int64_t q0 = 0; q0 < w.quads; q0 += kFlushQuads) {
    const int64_t q1 = std::min(w.quads, q0 + kFlushQuads);
    __m512i plus_sum[M], minus_sum[M];
    for (int i = 0; i < M; ++i) plus_sum[i] = minus_sum[i] = _mm512_setzero_si512();
    for (int64_t q = q0; q < q1; ++q) {
      __m512i plus = _mm512_loadu_si512(planes + q * 2 * kTileRows);
      __m512i minus = _mm512_loadu_si512(planes + q * 2 * kTileRows + kTileRows);
      for (int64_t g = 0; g < kQuad / kGroup; ++g) {
        for (int i = 0; i < M; ++i) {
          const __m512i table = _mm512_broadcast_i64x4(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.tables + ((i0 + i) * groups + q * 4 + g) * kTableEntries)));
          plus_sum[i] = _mm512_add_epi16(plus_sum[i], _mm512_permutexvar_epi16(plus, table));
          minus_sum[i] = _mm512_add_epi16(minus_sum[i], _mm512_permutexvar_epi16(minus, table));
        }
        plus = _mm512_srli_epi16(plus, 4);
        minus = _mm512_srli_epi16(minus, 4);
      }
    }
    for (int i = 0; i < M; ++i) {
      const __m512i d = _mm512_sub_epi16(plus_sum[i], minus_sum[i]);  // |d| ≤ 32512
      lo[i] = _mm512_add_epi32(lo[i], _mm512_cvtepi16_epi32(_mm512_castsi512_si256(d)));
      hi[i] = _mm512_add_epi32(hi[i], _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(d, 1)));
    }
  }
  const int64_t row0 = tile * kTileRows;
  const int64_t count = std::min<int64_t>(kTileRows, w.n - row0);
  for (int i = 0; i < M; ++i) {
    alignas(64) int32_t dot[kTileRows];
    _mm512_store_si512(dot, lo[i]);
    _mm512_store_si512(dot + 16, hi[i]);
    for (int64_t r = 0; r < count; ++r)
      a.y[(i0 + i) * w.n + row0 + r] = scale_dot(dot[r], w.scales[row0 + r], a.xscale[i0 + i]);
  }
}

void tiles_avx512(const CallArgs& a, int64_t t0, int64_t t1) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t i0 = 0; i0 < a.m; i0 += kMaxTokens) {
      switch (std::min<int64_t>(a.m - i0, kMaxTokens)) {
        case 1: pass<1>(a, tile, i0); break;
        case 2: pass<2>(a, tile, i0); break;
        case 3: pass<3>(a, tile, i0); break;
        default: pass<4>(a, tile, i0); break;
      }
    }
}

}  // namespace

const Kernels kernels_avx512 = {tiles_avx512, TableFormat::int16};

}  // namespace kq::ternary
