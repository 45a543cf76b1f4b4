// The AVX-512 int8-activation tile kernel, compiled twice: by avx512.cc with vpmaddubsw (AVX-512BW) and by
// avx512_vnni.cc with vpdpbusd (KQ_I8_VNNI 1, every function carrying KQ_I8_TARGET so that only that
// file's copy may use VNNI). Include only from those files; everything here has internal linkage.
//
// One zmm lane per output row of a 16-row tile; the exact integer dots of a block come from block_dots
// (tile_avx512.h), so the f32 steps after them (int4.h) reproduce ref.cc bit for bit.
#pragma once
#include "tile_avx512.h"

namespace kq::int4 {
namespace {

// One tile's nibbles, and the f16 scales and u8 zeros of its 16 rows by group (both passes of avx512.cc).
struct Int4Tile {
  const uint8_t* nib;
  const uint16_t* scales;
  const uint8_t* zeros;

  KQ_I8_TARGET Int4Tile(const PreparedInt4& w, int64_t tile)
      : nib(w.nibbles.get() + tile * w.blocks * kTileBlockBytes),
        scales(w.scales.data() + tile * w.groups * kTileRows),
        zeros(w.zeros.data() + tile * w.groups * kTileRows) {}

  KQ_I8_TARGET __m512 scale(int64_t g) const {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + g * kTileRows)));
  }

  // s · zero of group g, s its scale.
  KQ_I8_TARGET __m512 zero_scale(int64_t g, __m512 s) const {
    const __m128i z8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(zeros + g * kTileRows));
    return _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(z8)));
  }
};

struct Int8Pass {
  // Rows i0 .. i0+M-1 of x against one tile.
  template <int M>
  KQ_I8_TARGET static void run(const CallArgs& a, int64_t tile, int64_t i0) {
    const PreparedInt4& w = *a.w;
    const int64_t kp = w.blocks * kBlock;
    __m512 acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
    const Int4Tile t(w, tile);
    for (int64_t g = 0; g < w.groups; ++g) {
      const __m512 s = t.scale(g);
      for (int64_t b = w.group_blocks[g]; b < w.group_blocks[g + 1]; ++b) {
        __m512i sum[M];
        block_dots<M>(t.nib + b * kTileBlockBytes, a.xq + i0 * kp + b * kBlock, kp, sum);
        for (int i = 0; i < M; ++i) {
          const __m512 f = _mm512_mul_ps(s, _mm512_set1_ps(a.xd[(i0 + i) * w.blocks + b]));
          acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[i]), f, acc[i]);
        }
      }
      const __m512 zs = t.zero_scale(g, s);
      for (int i = 0; i < M; ++i) acc[i] = _mm512_fnmadd_ps(zs, _mm512_set1_ps(a.xsum[(i0 + i) * w.groups + g]), acc[i]);
    }
    store_tile_rows<M>(a.y, a.bias, w.n, tile, i0, acc);
  }
};

KQ_I8_TARGET void int8_tiles_impl(const CallArgs& a, int64_t t0, int64_t t1) { int8_row_passes<Int8Pass>(a, t0, t1); }

}  // namespace
}  // namespace kq::int4
