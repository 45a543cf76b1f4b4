// AVX-512 helpers shared by the int4 (GPTQ/AWQ) and code-book tile kernels: one zmm lane per output row of a
// 16-row tile. Included by avx512_int8.h and codebook_avx512_int8.h, which are compiled with and without VNNI
// (KQ_I8_VNNI 0 or 1, every function carrying KQ_I8_TARGET so that only the VNNI file's copy may use VNNI).
// Include only from files compiled with -mavx512*: everything here has internal linkage.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)  // GCC 12 warns falsely on its own AVX-512 intrinsics
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "int4.h"

#ifndef KQ_I8_VNNI
#error "define KQ_I8_VNNI (0 or 1) and KQ_I8_TARGET before including tile_avx512.h"
#endif

namespace kq::int4 {
namespace {

KQ_I8_TARGET inline __m512i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

KQ_I8_TARGET inline __mmask16 row_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

// The 8 column partial sums of an f32 pass, added in the order of the scalar references.
KQ_I8_TARGET inline __m512 sum8(const __m512* p) {
  return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[4]), _mm512_add_ps(p[1], p[5])),
                       _mm512_add_ps(_mm512_add_ps(p[2], p[6]), _mm512_add_ps(p[3], p[7])));
}

// y rows i0 .. i0+M-1 (row length n) at the tile's 16 output rows: acc (+ bias), masked at the edge.
template <int M>
KQ_I8_TARGET void store_tile_rows(float* y, const float* bias, int64_t n, int64_t tile, int64_t i0, const __m512* acc) {
  const int64_t row0 = tile * kTileRows;
  const __mmask16 mask = row_mask(n - row0);
  for (int i = 0; i < M; ++i) {
    __m512 out = acc[i];
    if (bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, bias + row0));
    _mm512_mask_storeu_ps(y + (i0 + i) * n + row0, mask, out);
  }
}

// Exact int32 dots of one 32-column block of a tile (kTileBlockBytes of nibbles) with M rows of int8
// activations, row i at x + i·stride. A 64-byte chunk holds 8 columns × 16 rows: masking the low nibbles
// gives columns 8c..8c+3 as 4 bytes per lane, shifting gives 8c+4..8c+7, and each meets the 4 matching
// activations broadcast to every lane (unsigned nibbles × signed activations, the operand order of
// vpmaddubsw/vpdpbusd; int16 pair sums: 16 products of at most 15 · 127 fit an int16 over the block).
template <int M>
KQ_I8_TARGET void block_dots(const uint8_t* block, const int8_t* x, int64_t stride, __m512i* sum) {
  // Independent integer chains per x row, so one row alone does not wait on the dot-product latency.
  constexpr int kChains = M == 1 ? 4 : M == 2 ? 2 : 1;
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  __m512i dot[M][kChains];
  for (int i = 0; i < M; ++i)
    for (int h = 0; h < kChains; ++h) dot[i][h] = _mm512_setzero_si512();
  for (int c = 0; c < 4; ++c) {
    const __m512i v = _mm512_load_si512(block + c * kChunkBytes);
    const __m512i lo = _mm512_and_si512(v, low4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    for (int i = 0; i < M; ++i) {
      const int8_t* xc = x + i * stride + 8 * c;
      __m512i& d = dot[i][c % kChains];
#if KQ_I8_VNNI
      d = _mm512_dpbusd_epi32(d, lo, broadcast4(xc));
      d = _mm512_dpbusd_epi32(d, hi, broadcast4(xc + 4));
#else
      d = _mm512_add_epi16(d, _mm512_add_epi16(_mm512_maddubs_epi16(lo, broadcast4(xc)),
                                               _mm512_maddubs_epi16(hi, broadcast4(xc + 4))));
#endif
    }
  }
  for (int i = 0; i < M; ++i) {
    sum[i] = dot[i][0];
#if KQ_I8_VNNI
    for (int h = 1; h < kChains; ++h) sum[i] = _mm512_add_epi32(sum[i], dot[i][h]);
#else
    for (int h = 1; h < kChains; ++h) sum[i] = _mm512_add_epi16(sum[i], dot[i][h]);
    sum[i] = _mm512_madd_epi16(sum[i], _mm512_set1_epi16(1));
#endif
  }
}

// Tiles [t0, t1) for every x row of the call, in passes of up to kMaxRowsPerPass rows:
// Pass::run<M>(a, tile, i0) computes rows i0 .. i0+M-1 of one tile.
template <class Pass, class Call>
KQ_I8_TARGET void int8_row_passes(const Call& a, int64_t t0, int64_t t1) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t i0 = 0; i0 < a.m; i0 += kMaxRowsPerPass) {
      switch (std::min<int64_t>(a.m - i0, kMaxRowsPerPass)) {
        case 1: Pass::template run<1>(a, tile, i0); break;
        case 2: Pass::template run<2>(a, tile, i0); break;
        case 3: Pass::template run<3>(a, tile, i0); break;
        case 4: Pass::template run<4>(a, tile, i0); break;
        case 5: Pass::template run<5>(a, tile, i0); break;
        case 6: Pass::template run<6>(a, tile, i0); break;
        case 7: Pass::template run<7>(a, tile, i0); break;
        default: Pass::template run<8>(a, tile, i0); break;
      }
    }
}

}  // namespace
}  // namespace kq::int4
