// The AVX-512 Q4_K int8-activation tile kernel and the helpers both AVX-512 code-book files use, compiled twice:
// by codebook_avx512.cc with vpmaddubsw (AVX-512BW; int16 pair sums, 16 products of at most 15 · 127 fit an
// int16 over a block) and by codebook_avx512_vnni.cc with vpdpbusd (KQ_CB_VNNI 1, every function carrying
// KQ_CB_TARGET so that only that file's copy may use VNNI). Both integer dots are exact, so the f32 steps
// after them reproduce codebook_ref.cc bit for bit. Include only from those files: internal linkage.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)  // GCC 12 warns falsely on its own AVX-512 intrinsics
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "codebook.h"

#ifndef KQ_CB_VNNI
#error "define KQ_CB_VNNI (0 or 1) and KQ_CB_TARGET before including codebook_avx512_int8.h"
#endif

namespace kq::int4 {
namespace {

KQ_CB_TARGET inline __mmask16 row_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

KQ_CB_TARGET inline __m512i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

KQ_CB_TARGET inline __m512 u8_to_f32(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// q4_k: d · sc and dmin · m of sub-block b for the tile's 16 rows.
KQ_CB_TARGET inline void q4_k_scale_min(const PreparedCodebook& w, int64_t tile, int64_t b, __m512* scale, __m512* min) {
  const int64_t s = (tile * w.supers() + b / 8) * kTileRows, at = (tile * w.blocks + b) * kTileRows;
  *scale = _mm512_mul_ps(_mm512_loadu_ps(w.super_d.data() + s), u8_to_f32(w.sub_scales.data() + at));
  *min = _mm512_mul_ps(_mm512_loadu_ps(w.super_dmin.data() + s), u8_to_f32(w.sub_mins.data() + at));
}

template <int M>
KQ_CB_TARGET void store_rows(const CodebookCall& a, int64_t tile, int64_t i0, const __m512* acc) {
  const int64_t row0 = tile * kTileRows;
  const __mmask16 mask = row_mask(a.w->n - row0);
  for (int i = 0; i < M; ++i) {
    __m512 out = acc[i];
    if (a.bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, a.bias + row0));
    _mm512_mask_storeu_ps(a.y + (i0 + i) * a.w->n + row0, mask, out);
  }
}

template <int M>
KQ_CB_TARGET void int8_pass(const CodebookCall& a, int64_t tile, int64_t i0) {
  const PreparedCodebook& w = *a.w;
  // Independent integer chains per x row, so one row alone does not wait on the dot-product latency.
  constexpr int kChains = M == 1 ? 4 : M == 2 ? 2 : 1;
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  __m512 acc[M];
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
  const uint8_t* nib = w.nibbles.get() + tile * w.blocks * kTileBlockBytes;
  for (int64_t b = 0; b < w.blocks; ++b) {
    const uint8_t* block = nib + b * kTileBlockBytes;
    __m512i dot[M][kChains];
    for (int i = 0; i < M; ++i)
      for (int h = 0; h < kChains; ++h) dot[i][h] = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      const __m512i v = _mm512_load_si512(block + c * kChunkBytes);
      const __m512i lo = _mm512_and_si512(v, low4);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      for (int i = 0; i < M; ++i) {
        const int8_t* x = a.xq + (i0 + i) * w.k + b * kBlock + 8 * c;
        __m512i& d = dot[i][c % kChains];
#if KQ_CB_VNNI
        d = _mm512_dpbusd_epi32(d, lo, broadcast4(x));
        d = _mm512_dpbusd_epi32(d, hi, broadcast4(x + 4));
#else
        d = _mm512_add_epi16(d, _mm512_add_epi16(_mm512_maddubs_epi16(lo, broadcast4(x)),
                                                 _mm512_maddubs_epi16(hi, broadcast4(x + 4))));
#endif
      }
    }
    __m512 scale, min;
    q4_k_scale_min(w, tile, b, &scale, &min);
    for (int i = 0; i < M; ++i) {
      __m512i sum = dot[i][0];
#if KQ_CB_VNNI
      for (int h = 1; h < kChains; ++h) sum = _mm512_add_epi32(sum, dot[i][h]);
#else
      for (int h = 1; h < kChains; ++h) sum = _mm512_add_epi16(sum, dot[i][h]);
      sum = _mm512_madd_epi16(sum, _mm512_set1_epi16(1));
#endif
      const __m512 f = _mm512_mul_ps(scale, _mm512_set1_ps(a.xd[(i0 + i) * w.blocks + b]));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), f, acc[i]);
      acc[i] = _mm512_fnmadd_ps(min, _mm512_set1_ps(a.xsum[(i0 + i) * w.blocks + b]), acc[i]);
    }
  }
  store_rows<M>(a, tile, i0, acc);
}

KQ_CB_TARGET void int8_tiles_impl(const CodebookCall& a, int64_t t0, int64_t t1) {
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
