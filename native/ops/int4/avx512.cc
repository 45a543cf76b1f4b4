// AVX-512 int4 tile kernels: the int8-activation path with vpmaddubsw (avx512_int8.h; the VNNI copy is in
// avx512_vnni.cc) and the f32 path, which dequantizes in registers: each of the 8 columns of a chunk is a
// shift and mask of the chunk's dword lanes, converted to f32 and multiplied by the broadcast activation into
// its own partial sum (column mod 8), the same partial sums and order as ref.cc.
#define KQ_I8_VNNI 0
#define KQ_I8_TARGET
#include "avx512_int8.h"

namespace kq::int4 {

void int8_tiles_avx512_vnni(const CallArgs& a, int64_t t0, int64_t t1);  // avx512_vnni.cc

namespace {

template <int M>
void f32_pass(const CallArgs& a, int64_t tile, int64_t i0) {
  const PreparedInt4& w = *a.w;
  const int64_t kp = w.blocks * kBlock;
  const __m512i low4 = _mm512_set1_epi32(0x0f);
  __m512 acc[M];
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
  const Int4Tile t(w, tile);
  for (int64_t g = 0; g < w.groups; ++g) {
    __m512 part[M][8];
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < 8; ++j) part[i][j] = _mm512_setzero_ps();
    for (int64_t b = w.group_blocks[g]; b < w.group_blocks[g + 1]; ++b) {
      const uint8_t* block = t.nib + b * kTileBlockBytes;
      for (int c = 0; c < 4; ++c) {
        const __m512i v = _mm512_load_si512(block + c * kChunkBytes);
        for (int j = 0; j < 4; ++j) {
          const __m512 qlo = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 8 * j), low4));
          const __m512 qhi = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 8 * j + 4), low4));
          for (int i = 0; i < M; ++i) {
            const float* x = a.xf + (i0 + i) * kp + b * kBlock + 8 * c;
            part[i][j] = _mm512_fmadd_ps(qlo, _mm512_set1_ps(x[j]), part[i][j]);
            part[i][4 + j] = _mm512_fmadd_ps(qhi, _mm512_set1_ps(x[4 + j]), part[i][4 + j]);
          }
        }
      }
    }
    const __m512 s = t.scale(g);
    const __m512 zs = t.zero_scale(g, s);
    for (int i = 0; i < M; ++i) {
      const __m512 sum = sum8(part[i]);
      acc[i] = _mm512_fmadd_ps(s, sum, acc[i]);
      acc[i] = _mm512_fnmadd_ps(zs, _mm512_set1_ps(a.xsum[(i0 + i) * w.groups + g]), acc[i]);
    }
  }
  store_tile_rows<M>(a.y, a.bias, w.n, tile, i0, acc);
}

// Two x rows per pass: 16 partial-sum registers plus the weights stay within the 32 zmm registers.
void f32_tiles_avx512(const CallArgs& a, int64_t t0, int64_t t1) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t i0 = 0; i0 < a.m; i0 += 2) {
      if (a.m - i0 >= 2) f32_pass<2>(a, tile, i0);
      else f32_pass<1>(a, tile, i0);
    }
}

void int8_tiles_avx512(const CallArgs& a, int64_t t0, int64_t t1) { int8_tiles_impl(a, t0, t1); }

}  // namespace

const Kernels kernels_avx512 = {int8_tiles_avx512, f32_tiles_avx512};
const Kernels kernels_avx512_vnni = {int8_tiles_avx512_vnni, f32_tiles_avx512};

}  // namespace kq::int4
