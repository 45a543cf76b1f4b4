// The AVX-512 Q4_K int8-activation tile kernel and the helpers both AVX-512 code-book files use, compiled twice:
// by codebook_avx512.cc with vpmaddubsw (AVX-512BW) and by codebook_avx512_vnni.cc with vpdpbusd (KQ_I8_VNNI
// 1, every function carrying KQ_I8_TARGET so that only that file's copy may use VNNI). The integer dots
// (block_dots, tile_avx512.h, shared with int4's kernel) are exact, so the f32 steps after them reproduce
// codebook_ref.cc bit for bit. Include only from those files: internal linkage.
#pragma once
#include "codebook.h"
#include "tile_avx512.h"

namespace kq::int4 {
namespace {

KQ_I8_TARGET inline __m512 u8_to_f32(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// q4_k: d · sc and dmin · m of sub-block b for the tile's 16 rows.
KQ_I8_TARGET inline void q4_k_scale_min(const PreparedCodebook& w, int64_t tile, int64_t b, __m512* scale, __m512* min) {
  const int64_t s = (tile * w.supers() + b / 8) * kTileRows, at = (tile * w.blocks + b) * kTileRows;
  *scale = _mm512_mul_ps(_mm512_loadu_ps(w.super_d.data() + s), u8_to_f32(w.sub_scales.data() + at));
  *min = _mm512_mul_ps(_mm512_loadu_ps(w.super_dmin.data() + s), u8_to_f32(w.sub_mins.data() + at));
}

struct CodebookInt8Pass {
  template <int M>
  KQ_I8_TARGET static void run(const CodebookCall& a, int64_t tile, int64_t i0) {
    const PreparedCodebook& w = *a.w;
    __m512 acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
    const uint8_t* nib = w.nibbles.get() + tile * w.blocks * kTileBlockBytes;
    for (int64_t b = 0; b < w.blocks; ++b) {
      __m512i sum[M];
      block_dots<M>(nib + b * kTileBlockBytes, a.xq + i0 * w.k + b * kBlock, w.k, sum);
      __m512 scale, min;
      q4_k_scale_min(w, tile, b, &scale, &min);
      for (int i = 0; i < M; ++i) {
        const __m512 f = _mm512_mul_ps(scale, _mm512_set1_ps(a.xd[(i0 + i) * w.blocks + b]));
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[i]), f, acc[i]);
        acc[i] = _mm512_fnmadd_ps(min, _mm512_set1_ps(a.xsum[(i0 + i) * w.blocks + b]), acc[i]);
      }
    }
    store_tile_rows<M>(a.y, a.bias, w.n, tile, i0, acc);
  }
};

KQ_I8_TARGET void int8_tiles_impl(const CodebookCall& a, int64_t t0, int64_t t1) {
  int8_row_passes<CodebookInt8Pass>(a, t0, t1);
}

}  // namespace
}  // namespace kq::int4
