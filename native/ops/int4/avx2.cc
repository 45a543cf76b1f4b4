// AVX2 int4 tile kernels on the same layout as AVX-512: a 16-row tile is two halves of 8 rows (the two
// 32-byte halves of every 64-byte chunk), one ymm lane per row. int8 path: vpmaddubsw (unsigned nibbles ×
// signed activations) summed in int16 over a block (16 products of at most 15 · 127 fit), then vpmaddwd
// into int32, exact; f32 path: shift, mask, convert, FMA into 8 partial sums. Same operations per row as
// ref.cc, so both paths are bit-identical to it.
#include "tile_avx2.h"

namespace kq::int4 {
namespace {

struct HalfTile {
  const uint8_t* nibbles;  // the tile's first chunk, offset to this half
  const uint16_t* scales;  // [groups][kTileRows], offset to this half
  const uint8_t* zeros;
  int64_t row0;            // first output row of the half
};

HalfTile half_tile(const PreparedInt4& w, int64_t tile, int64_t h) {
  return {w.nibbles.get() + tile * w.blocks * kTileBlockBytes + h * 32,
          w.scales.data() + tile * w.groups * kTileRows + h * kHalf,
          w.zeros.data() + tile * w.groups * kTileRows + h * kHalf, tile * kTileRows + h * kHalf};
}

inline __m256 scale_of(const HalfTile& t, int64_t g) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t.scales + g * kTileRows)));
}

inline __m256 zero_scale_of(const HalfTile& t, int64_t g, __m256 s) {
  const __m128i z8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(t.zeros + g * kTileRows));
  return _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(z8)));
}

struct Int8Pass {
  template <int M>
  static void run(const CallArgs& a, const HalfTile& t, int64_t i0) {
    const PreparedInt4& w = *a.w;
    const int64_t kp = w.blocks * kBlock;
    __m256 acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t g = 0; g < w.groups; ++g) {
      const __m256 s = scale_of(t, g);
      for (int64_t b = w.group_blocks[g]; b < w.group_blocks[g + 1]; ++b) {
        __m256i sum[M];
        block_dots<M>(t.nibbles + b * kTileBlockBytes, a.xq + i0 * kp + b * kBlock, kp, sum);
        for (int i = 0; i < M; ++i) {
          const __m256 f = _mm256_mul_ps(s, _mm256_set1_ps(a.xd[(i0 + i) * w.blocks + b]));
          acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[i]), f, acc[i]);
        }
      }
      const __m256 zs = zero_scale_of(t, g, s);
      for (int i = 0; i < M; ++i) acc[i] = _mm256_fnmadd_ps(zs, _mm256_set1_ps(a.xsum[(i0 + i) * w.groups + g]), acc[i]);
    }
    store_half_rows<M>(a.y, a.bias, w.n, t.row0, i0, acc);
  }
};

void f32_pass(const CallArgs& a, const HalfTile& t, int64_t i) {
  const PreparedInt4& w = *a.w;
  const int64_t kp = w.blocks * kBlock;
  const __m256i low4 = _mm256_set1_epi32(0x0f);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t g = 0; g < w.groups; ++g) {
    __m256 part[8];
    for (int j = 0; j < 8; ++j) part[j] = _mm256_setzero_ps();
    for (int64_t b = w.group_blocks[g]; b < w.group_blocks[g + 1]; ++b) {
      const uint8_t* block = t.nibbles + b * kTileBlockBytes;
      for (int c = 0; c < 4; ++c) {
        const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(block + c * kChunkBytes));
        const float* x = a.xf + i * kp + b * kBlock + 8 * c;
        for (int j = 0; j < 4; ++j) {
          const __m256 qlo = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8 * j), low4));
          const __m256 qhi = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8 * j + 4), low4));
          part[j] = _mm256_fmadd_ps(qlo, _mm256_set1_ps(x[j]), part[j]);
          part[4 + j] = _mm256_fmadd_ps(qhi, _mm256_set1_ps(x[4 + j]), part[4 + j]);
        }
      }
    }
    const __m256 s = scale_of(t, g);
    const __m256 sum = sum8(part);
    acc = _mm256_fmadd_ps(s, sum, acc);
    acc = _mm256_fnmadd_ps(zero_scale_of(t, g, s), _mm256_set1_ps(a.xsum[i * w.groups + g]), acc);
  }
  store_half_rows<1>(a.y, a.bias, w.n, t.row0, i, &acc);
}

void int8_tiles_avx2(const CallArgs& a, int64_t t0, int64_t t1) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t h = 0; h < 2; ++h) {
      const HalfTile t = half_tile(*a.w, tile, h);
      if (t.row0 < a.w->n) int8_row_passes<Int8Pass>(a, t);
    }
}

void f32_tiles_avx2(const CallArgs& a, int64_t t0, int64_t t1) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t h = 0; h < 2; ++h) {
      const HalfTile t = half_tile(*a.w, tile, h);
      if (t.row0 >= a.w->n) continue;
      for (int64_t i = 0; i < a.m; ++i) f32_pass(a, t, i);
    }
}

}  // namespace

const Kernels kernels_avx2 = {int8_tiles_avx2, f32_tiles_avx2};

}  // namespace kq::int4
