// AVX-512 code-book / Q4_K tile kernels, one zmm lane per output row of a 16-row tile. f32 path: each of the
// 8 columns of a 64-byte chunk is a shift of the chunk's dword lanes, and vpermps (permutexvar, which reads
// only the low 4 bits of each index) turns the nibble into its table value in one instruction, FMA'd into
// its column-mod-8 partial sum. int8 path (Q4_K): vpmaddubsw of unsigned nibbles × signed activations, as
// int4's int8 kernel. Same operations per row as codebook_ref.cc, so both are bit-identical to it.
#if defined(__GNUC__) && !defined(__clang__)  // GCC 12 warns falsely on its own AVX-512 intrinsics
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "codebook.h"

namespace kq::int4 {
namespace {

inline __mmask16 row_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

inline __m512i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

inline __m512 u8_to_f32(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// q4_k: d · sc and dmin · m of sub-block b for the tile's 16 rows.
inline void q4_k_scale_min(const PreparedCodebook& w, int64_t tile, int64_t b, __m512* scale, __m512* min) {
  const int64_t s = (tile * w.supers() + b / 8) * kTileRows, at = (tile * w.blocks + b) * kTileRows;
  *scale = _mm512_mul_ps(_mm512_loadu_ps(w.super_d.data() + s), u8_to_f32(w.sub_scales.data() + at));
  *min = _mm512_mul_ps(_mm512_loadu_ps(w.super_dmin.data() + s), u8_to_f32(w.sub_mins.data() + at));
}

template <int M>
void store_rows(const CodebookCall& a, int64_t tile, int64_t i0, const __m512* acc) {
  const int64_t row0 = tile * kTileRows;
  const __mmask16 mask = row_mask(a.w->n - row0);
  for (int i = 0; i < M; ++i) {
    __m512 out = acc[i];
    if (a.bias) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, a.bias + row0));
    _mm512_mask_storeu_ps(a.y + (i0 + i) * a.w->n + row0, mask, out);
  }
}

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
      const __m512* p = part[i];
      const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[4]), _mm512_add_ps(p[1], p[5])),
                                       _mm512_add_ps(_mm512_add_ps(p[2], p[6]), _mm512_add_ps(p[3], p[7])));
      acc[i] = _mm512_fmadd_ps(scale, sum, acc[i]);
      if (Q4K) acc[i] = _mm512_fnmadd_ps(min, _mm512_set1_ps(a.xsum[(i0 + i) * w.blocks + g]), acc[i]);
    }
  }
  store_rows<M>(a, tile, i0, acc);
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

template <int M>
void int8_pass(const CodebookCall& a, int64_t tile, int64_t i0) {
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
        // int16 pair sums; 16 products of at most 15 · 127 fit an int16 over the whole block.
        __m512i& d = dot[i][c % kChains];
        d = _mm512_add_epi16(d, _mm512_add_epi16(_mm512_maddubs_epi16(lo, broadcast4(x)),
                                                 _mm512_maddubs_epi16(hi, broadcast4(x + 4))));
      }
    }
    __m512 scale, min;
    q4_k_scale_min(w, tile, b, &scale, &min);
    for (int i = 0; i < M; ++i) {
      __m512i sum = dot[i][0];
      for (int h = 1; h < kChains; ++h) sum = _mm512_add_epi16(sum, dot[i][h]);
      sum = _mm512_madd_epi16(sum, _mm512_set1_epi16(1));
      const __m512 f = _mm512_mul_ps(scale, _mm512_set1_ps(a.xd[(i0 + i) * w.blocks + b]));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), f, acc[i]);
      acc[i] = _mm512_fnmadd_ps(min, _mm512_set1_ps(a.xsum[(i0 + i) * w.blocks + b]), acc[i]);
    }
  }
  store_rows<M>(a, tile, i0, acc);
}

void int8_tiles_avx512(const CodebookCall& a, int64_t t0, int64_t t1) {
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

const CodebookKernels codebook_kernels_avx512 = {f32_tiles_avx512, int8_tiles_avx512};

}  // namespace kq::int4
