// AVX-512 code-book / Q4_K tile kernels, one zmm lane per output row of a 16-row tile. f32 path: each of the
// 8 columns of a 64-byte chunk is a shift of the chunk's dword lanes, and vpermps (permutexvar, which reads
// only the low 4 bits of each index) turns the nibble into its table value in one instruction, FMA'd into
// its column-mod-8 partial sum. int8 path (Q4_K): vpmaddubsw of unsigned nibbles × signed activations, as
// int4's int8 kernel (codebook_avx512_int8.h; the VNNI copy is codebook_avx512_vnni.cc). Same operations per
// row as codebook_ref.cc, so both are bit-identical to it.
#define KQ_I8_VNNI 0
#define KQ_I8_TARGET
#include "codebook_avx512_int8.h"

namespace kq::int4 {

void int8_tiles_avx512_vnni(const CodebookCall& a, int64_t t0, int64_t t1);  // codebook_avx512_vnni.cc

namespace {

template <int M, bool Q4K>
void f32_pass(const CodebookCall& a, int64_t tile, int64_t i0) {
  const PreparedCodebook& w = *a.w;
  const __m512 table = _mm512_loadu_ps(w.table);
  __m512 acc[M];
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
  const uint8_t* nib = w.nibbles.get() + tile * w.blocks * kTileBlockBytes;
  for (int64_t g = 0; g < w.groups; ++g) {
    __m512 part[M][8];
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < 8; ++j) part[i][j] = _mm512_setzero_ps();
    for (int64_t b = g * w.blocks_per_group; b < (g + 1) * w.blocks_per_group; ++b) {
      const uint8_t* block = nib + b * kTileBlockBytes;
      for (int c = 0; c < 4; ++c) {
        const __m512i v = _mm512_load_si512(block + c * kChunkBytes);
        for (int j = 0; j < 4; ++j) {
          const __m512 qlo = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 8 * j), table);
          const __m512 qhi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 8 * j + 4), table);
          for (int i = 0; i < M; ++i) {
            const float* x = a.xf + (i0 + i) * w.k + b * kBlock + 8 * c;
            part[i][j] = _mm512_fmadd_ps(qlo, _mm512_set1_ps(x[j]), part[i][j]);
            part[i][4 + j] = _mm512_fmadd_ps(qhi, _mm512_set1_ps(x[4 + j]), part[i][4 + j]);
          }
        }
      }
    }
    __m512 scale, min;
    if (Q4K) q4_k_scale_min(w, tile, g, &scale, &min);
    else scale = _mm512_loadu_ps(w.absmax.data() + (tile * w.groups + g) * kTileRows);
    for (int i = 0; i < M; ++i) {
      const __m512 sum = sum8(part[i]);
      acc[i] = _mm512_fmadd_ps(scale, sum, acc[i]);
      if (Q4K) acc[i] = _mm512_fnmadd_ps(min, _mm512_set1_ps(a.xsum[(i0 + i) * w.blocks + g]), acc[i]);
    }
  }
  store_tile_rows<M>(a.y, a.bias, w.n, tile, i0, acc);
}

// Two x rows per pass: 16 partial-sum registers plus the weights stay within the 32 zmm registers.
template <bool Q4K>
void f32_tiles(const CodebookCall& a, int64_t t0, int64_t t1) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t i0 = 0; i0 < a.m; i0 += 2) {
      if (a.m - i0 >= 2) f32_pass<2, Q4K>(a, tile, i0);
      else f32_pass<1, Q4K>(a, tile, i0);
    }
}

void f32_tiles_avx512(const CodebookCall& a, int64_t t0, int64_t t1) {
  if (a.w->format == CodebookFormat::q4_k) f32_tiles<true>(a, t0, t1);
  else f32_tiles<false>(a, t0, t1);
}

void int8_tiles_avx512(const CodebookCall& a, int64_t t0, int64_t t1) { int8_tiles_impl(a, t0, t1); }

}  // namespace

const CodebookKernels codebook_kernels_avx512 = {f32_tiles_avx512, int8_tiles_avx512};
const CodebookKernels codebook_kernels_avx512_vnni = {f32_tiles_avx512, int8_tiles_avx512_vnni};

}  // namespace kq::int4
