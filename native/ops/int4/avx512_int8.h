// The AVX-512 int8-activation tile kernel, compiled twice: by avx512.cc with vpmaddubsw (AVX-512BW) and by
// avx512_vnni.cc with vpdpbusd (KQ_INT4_VNNI 1, every function carrying KQ_INT4_TARGET so that only that
// file's copy may use VNNI). Include only from those files; everything here has internal linkage.
//
// One zmm lane per output row of a 16-row tile. A 64-byte chunk holds 8 columns × 16 rows: masking the low
// nibbles gives columns 8c..8c+3 as 4 bytes per lane, shifting gives 8c+4..8c+7, and each meets the 4
// matching int8 activations broadcast to every lane. Nibbles are unsigned and activations signed, exactly
// the operand order of vpmaddubsw/vpdpbusd. The integer dot of a block is exact, so the f32 steps after it
// (int4.h) reproduce ref.cc bit for bit.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)  // GCC 12 warns falsely on its own AVX-512 intrinsics
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "int4.h"

#ifndef KQ_INT4_VNNI
#error "define KQ_INT4_VNNI (0 or 1) and KQ_INT4_TARGET before including avx512_int8.h"
#endif

namespace kq::int4 {
namespace {

KQ_INT4_TARGET inline __m512i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

KQ_INT4_TARGET inline __mmask16 row_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

// Rows i0 .. i0+M-1 of x against one tile.
template <int M>
KQ_INT4_TARGET void int8_pass(const CallArgs& a, int64_t tile, int64_t i0) {
  const PreparedInt4& w = *a.w;
  const int64_t kp = w.blocks * kBlock;
  // Independent integer chains per x row, so one row alone does not wait on the dot-product latency.
  constexpr int kChains = M == 1 ? 4 : M == 2 ? 2 : 1;
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  __m512 acc[M];
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
  const uint8_t* nib = w.nibbles.get() + tile * w.blocks * kTileBlockBytes;
  const uint16_t* scales = w.scales.data() + tile * w.groups * kTileRows;
  const uint8_t* zeros = w.zeros.data() + tile * w.groups * kTileRows;
  for (int64_t g = 0; g < w.groups; ++g) {
    const __m512 s = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + g * kTileRows)));
    for (int64_t b = w.group_blocks[g]; b < w.group_blocks[g + 1]; ++b) {
      const uint8_t* block = nib + b * kTileBlockBytes;
      __m512i dot[M][kChains];
      for (int i = 0; i < M; ++i)
        for (int h = 0; h < kChains; ++h) dot[i][h] = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        const __m512i v = _mm512_load_si512(block + c * kChunkBytes);
        const __m512i lo = _mm512_and_si512(v, low4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        for (int i = 0; i < M; ++i) {
          const int8_t* x = a.xq + (i0 + i) * kp + b * kBlock + 8 * c;
          __m512i& d = dot[i][c % kChains];
#if KQ_INT4_VNNI
          d = _mm512_dpbusd_epi32(d, lo, broadcast4(x));
          d = _mm512_dpbusd_epi32(d, hi, broadcast4(x + 4));
#else
          // int16 pair sums; 16 products of at most 15 · 127 fit an int16 over the whole block.
          d = _mm512_add_epi16(d, _mm512_add_epi16(_mm512_maddubs_epi16(lo, broadcast4(x)),
                                                   _mm512_maddubs_epi16(hi, broadcast4(x + 4))));
#endif
        }
      }
      for (int i = 0; i < M; ++i) {
        __m512i sum = dot[i][0];
        for (int h = 1; h < kChains; ++h) sum = KQ_INT4_VNNI ? _mm512_add_epi32(sum, dot[i][h]) : _mm512_add_epi16(sum, dot[i][h]);
#if !KQ_INT4_VNNI
        sum = _mm512_madd_epi16(sum, _mm512_set1_epi16(1));
#endif
        const __m512 f = _mm512_mul_ps(s, _mm512_set1_ps(a.xd[(i0 + i) * w.blocks + b]));
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), f, acc[i]);
      }
    }
    const __m128i z8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(zeros + g * kTileRows));
    const __m512 zs = _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(z8)));
    for (int i = 0; i < M; ++i) acc[i] = _mm512_fnmadd_ps(zs, _mm512_set1_ps(a.xsum[(i0 + i) * w.groups + g]), acc[i]);
  }
  const int64_t row0 = tile * kTileRows;
  const __mmask16 mask = row_mask(w.n - row0);
  for (int i = 0; i < M; ++i) {
    __m512 out = acc[i];
    if (a.bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, a.bias + row0));
    _mm512_mask_storeu_ps(a.y + (i0 + i) * w.n + row0, mask, out);
  }
}

KQ_INT4_TARGET void int8_tiles_impl(const CallArgs& a, int64_t t0, int64_t t1) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t i0 = 0; i0 < a.m; i0 += kMaxRowsPerPass) {
      switch (std::min<int64_t>(a.m - i0, kMaxRowsPerPass)) {
        case 1: int8_pass<1>(a, tile, i0); break;
        case 2: int8_pass<2>(a, tile, i0); break;
        case 3: int8_pass<3>(a, tile, i0); break;
        case 4: int8_pass<4>(a, tile, i0); break;
        case 5: int8_pass<5>(a, tile, i0); break;
        case 6: int8_pass<6>(a, tile, i0); break;
        case 7: int8_pass<7>(a, tile, i0); break;
        default: int8_pass<8>(a, tile, i0); break;
      }
    }
}

}  // namespace
}  // namespace kq::int4
