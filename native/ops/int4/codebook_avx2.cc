// AVX2 code-book / Q4_K tile kernels: a 16-row tile is two halves of 8 rows (the two 32-byte halves of every
// 64-byte chunk), one ymm lane per row. f32 path: vpermps only indexes 8 entries, so a nibble looks up both
// halves of the table and bit 3 (shifted into the sign bit) blends them. int8 path (Q4_K): vpmaddubsw summed
// in int16 over a block, then vpmaddwd into int32, exact. Same operations per row as codebook_ref.cc.
#include "codebook.h"
#include "tile_avx2.h"

namespace kq::int4 {
namespace {

inline __m256 u8_to_f32(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

struct HalfTile {
  int64_t tile;
  int64_t h;     // 0 or 1
  int64_t row0;  // first output row of the half
  const uint8_t* nibbles;  // the tile's first chunk, offset to this half
};

// q4_k: d · sc and dmin · m of sub-block b for the half's 8 rows.
inline void q4_k_scale_min(const PreparedCodebook& w, const HalfTile& t, int64_t b, __m256* scale, __m256* min) {
  const int64_t s = (t.tile * w.supers() + b / 8) * kTileRows + t.h * kHalf;
  const int64_t at = (t.tile * w.blocks + b) * kTileRows + t.h * kHalf;
  *scale = _mm256_mul_ps(_mm256_loadu_ps(w.super_d.data() + s), u8_to_f32(w.sub_scales.data() + at));
  *min = _mm256_mul_ps(_mm256_loadu_ps(w.super_dmin.data() + s), u8_to_f32(w.sub_mins.data() + at));
}

// Table values of the nibbles at bit `shift` of each dword lane.
inline __m256 lookup(__m256i v, int shift, __m256 table_lo, __m256 table_hi) {
  const __m256i idx = _mm256_srli_epi32(v, shift);
  const __m256 lo = _mm256_permutevar8x32_ps(table_lo, idx);
  const __m256 hi = _mm256_permutevar8x32_ps(table_hi, idx);
  return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

template <bool Q4K>
void f32_pass(const CodebookCall& a, const HalfTile& t, int64_t i) {
  const PreparedCodebook& w = *a.w;
  const __m256 table_lo = _mm256_loadu_ps(w.table), table_hi = _mm256_loadu_ps(w.table + 8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g) {
    __m256 part[8];
    for (int j = 0; j < 8; ++j) part[j] = _mm256_setzero_ps();
    for (int64_t b = g * w.blocks_per_group; b < (g + 1) * w.blocks_per_group; ++b) {
      const uint8_t* block = t.nibbles + b * kTileBlockBytes;
      for (int c = 0; c < 4; ++c) {
        const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(block + c * kChunkBytes));
        const float* x = a.xf + i * w.k + b * kBlock + 8 * c;
        for (int j = 0; j < 4; ++j) {
          part[j] = _mm256_fmadd_ps(lookup(v, 8 * j, table_lo, table_hi), _mm256_set1_ps(x[j]), part[j]);
          part[4 + j] = _mm256_fmadd_ps(lookup(v, 8 * j + 4, table_lo, table_hi), _mm256_set1_ps(x[4 + j]), part[4 + j]);
        }
      }
    }
    const __m256 sum = sum8(part);
    if (Q4K) {
      __m256 scale, min;
      q4_k_scale_min(w, t, g, &scale, &min);
      acc = _mm256_fmadd_ps(scale, sum, acc);
      acc = _mm256_fnmadd_ps(min, _mm256_set1_ps(a.xsum[i * w.blocks + g]), acc);
    } else {
      const __m256 scale = _mm256_loadu_ps(w.absmax.data() + (t.tile * w.groups + g) * kTileRows + t.h * kHalf);
      acc = _mm256_fmadd_ps(scale, sum, acc);
    }
  }
  store_half_rows<1>(a.y, a.bias, w.n, t.row0, i, &acc);
}

struct Int8Pass {
  template <int M>
  static void run(const CodebookCall& a, const HalfTile& t, int64_t i0) {
    const PreparedCodebook& w = *a.w;
    __m256 acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < w.blocks; ++b) {
      __m256i sum[M];
      block_dots<M>(t.nibbles + b * kTileBlockBytes, a.xq + i0 * w.k + b * kBlock, w.k, sum);
      __m256 scale, min;
      q4_k_scale_min(w, t, b, &scale, &min);
      for (int i = 0; i < M; ++i) {
        const __m256 f = _mm256_mul_ps(scale, _mm256_set1_ps(a.xd[(i0 + i) * w.blocks + b]));
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[i]), f, acc[i]);
        acc[i] = _mm256_fnmadd_ps(min, _mm256_set1_ps(a.xsum[(i0 + i) * w.blocks + b]), acc[i]);
      }
    }
    store_half_rows<M>(a.y, a.bias, w.n, t.row0, i0, acc);
  }
};

template <typename Body>
void each_half(const CodebookCall& a, int64_t t0, int64_t t1, Body body) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t h = 0; h < 2; ++h) {
      const HalfTile t{tile, h, tile * kTileRows + h * kHalf, a.w->nibbles.get() + tile * a.w->blocks * kTileBlockBytes + h * 32};
      if (t.row0 < a.w->n) body(t);
    }
}

void f32_tiles_avx2(const CodebookCall& a, int64_t t0, int64_t t1) {
  const bool q4_k = a.w->format == CodebookFormat::q4_k;
  each_half(a, t0, t1, [&](const HalfTile& t) {
    for (int64_t i = 0; i < a.m; ++i) q4_k ? f32_pass<true>(a, t, i) : f32_pass<false>(a, t, i);
  });
}

void int8_tiles_avx2(const CodebookCall& a, int64_t t0, int64_t t1) {
  each_half(a, t0, t1, [&](const HalfTile& t) { int8_row_passes<Int8Pass>(a, t); });
}

}  // namespace

const CodebookKernels codebook_kernels_avx2 = {f32_tiles_avx2, int8_tiles_avx2};

}  // namespace kq::int4
