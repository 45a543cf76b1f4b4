// AVX-512 row kernels of the ggml family (kernels.h), bit-exact with the reference files ref*.cc under the
// same rules as avx2.cc (one binary32 rounding per reference step, no FMA, sums in element order). Entries
// without a 16-lane kernel here are the AVX2 kernels (add_avx2_kernels), which every AVX-512 CPU runs.
#include <immintrin.h>

#include <cstring>

#include "blocks.h"
#include "kernels.h"

namespace kq::ggml {
namespace {

inline float fp32(uint16_t h) { return _cvtsh_ss(h); }  // exact

// The 6-bit scale and min codes of sub-block j (pack.h's get_scale_min_k4, with internal linkage here).
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

inline __m512i u8x16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// Q4_K: per 64 elements two sub-blocks, value = (d·sc)·q − dmin·m (the product and the difference rounded
// separately, as the reference).
void dequantize_q4_K(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ4_K*>(src);
  const __m512i mask4 = _mm512_set1_epi32(0xF);
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const float d = fp32(x[i].d);
    const float min = fp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int n = 0; n < 4; ++n, q += 32) {
      for (int half = 0; half < 2; ++half, y += 32) {
        uint8_t sc, m;
        get_scale_min_k4(2 * n + half, x[i].scales, &sc, &m);
        const __m512 d1 = _mm512_set1_ps(d * sc);
        const __m512 m1 = _mm512_set1_ps(min * m);
        for (int l = 0; l < 32; l += 16) {
          const __m512i v = _mm512_and_si512(_mm512_srli_epi32(u8x16(q + l), 4 * half), mask4);
          _mm512_storeu_ps(y + l, _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(v)), m1));
        }
      }
    }
  }
}

inline int nearest_int(float fval) {  // ggml's nearest_int (kquant_search.h)
  const float val = fval + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &val, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}
inline uint16_t fp16(float v) { return static_cast<uint16_t>(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT)); }
inline __m512 abs16(__m512 v) { return _mm512_abs_ps(v); }
inline __m512i nearest_int16(__m512 v) {
  const __m512i bits = _mm512_castps_si512(_mm512_add_ps(v, _mm512_set1_ps(12582912.0f)));
  return _mm512_sub_epi32(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x00400000));
}
inline __m512i clamp16(__m512i v, int lo, int hi) {
  return _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi));
}

// ggml's make_qx_quants with rmse_type 1 and no weights (w = x²) for Q6_K's 16 sub-blocks of 16 at once,
// sub-block g in lane g (avx2.cc's qx_lanes16 with 16 lanes and mask registers). Levels l + nmax in L.
__m512 qx_lanes(const __m512* xt, int nmax, __m512i* L) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 max = zero, amax = zero;
  for (int i = 0; i < 16; ++i) {
    const __m512 ax = abs16(xt[i]);
    const __mmask16 larger = _mm512_cmp_ps_mask(ax, amax, _CMP_GT_OQ);
    amax = _mm512_mask_mov_ps(amax, larger, ax);
    max = _mm512_mask_mov_ps(max, larger, xt[i]);
  }
  const __mmask16 tiny = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(1e-15f), _CMP_LT_OQ);  // GROUP_MAX_EPS
  const auto level = [nmax](__m512 v) { return clamp16(nearest_int16(v), -nmax, nmax - 1); };
  __m512 iscale = _mm512_div_ps(_mm512_set1_ps(static_cast<float>(-nmax)), max);
  __m512 sumlx = zero, suml2 = zero;
  __m512 w[16];
  for (int i = 0; i < 16; ++i) {
    const __m512i l = level(_mm512_mul_ps(iscale, xt[i]));
    L[i] = _mm512_add_epi32(l, _mm512_set1_epi32(nmax));
    w[i] = _mm512_mul_ps(xt[i], xt[i]);
    const __m512 fl = _mm512_cvtepi32_ps(l);
    sumlx = _mm512_add_ps(sumlx, _mm512_mul_ps(_mm512_mul_ps(w[i], xt[i]), fl));
    suml2 = _mm512_add_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(w[i], fl), fl));
  }
  __m512 scale = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(suml2, zero, _CMP_NEQ_UQ), sumlx, suml2);
  __m512 best = _mm512_mul_ps(scale, sumlx);
  __m512i Laux[16];
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = _mm512_div_ps(_mm512_set1_ps(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(is))), max);
    sumlx = suml2 = zero;
    for (int i = 0; i < 16; ++i) {
      Laux[i] = level(_mm512_mul_ps(iscale, xt[i]));
      const __m512 fl = _mm512_cvtepi32_ps(Laux[i]);
      sumlx = _mm512_add_ps(sumlx, _mm512_mul_ps(_mm512_mul_ps(w[i], xt[i]), fl));
      suml2 = _mm512_add_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(w[i], fl), fl));
    }
    const __mmask16 better = _mm512_cmp_ps_mask(suml2, zero, _CMP_GT_OQ) &
                             _mm512_cmp_ps_mask(_mm512_mul_ps(sumlx, sumlx), _mm512_mul_ps(best, suml2), _CMP_GT_OQ);
    if (better == 0) continue;
    for (int i = 0; i < 16; ++i) L[i] = _mm512_mask_add_epi32(L[i], better, Laux[i], _mm512_set1_epi32(nmax));
    const __m512 new_scale = _mm512_div_ps(sumlx, suml2);
    scale = _mm512_mask_mov_ps(scale, better, new_scale);
    best = _mm512_mask_mov_ps(best, better, _mm512_mul_ps(new_scale, sumlx));
  }
  for (int i = 0; i < 16; ++i) L[i] = _mm512_maskz_mov_epi32(static_cast<__mmask16>(~tiny), L[i]);
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), scale);
}

// quantize_q6_K_blocks of ref_k456.cc without weights: the search in lanes, the rest as the reference.
void quantize_q6_K(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ6_K*>(dst);
  alignas(64) int8_t L[kQK_K];
  alignas(64) float scales[kQK_K / 16];
  alignas(64) int32_t lanes[16];
  const __m512i stride = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(16));
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    __m512 xt[16];
    for (int l = 0; l < 16; ++l) xt[l] = _mm512_i32gather_ps(stride, x + l, 4);
    __m512i Lt[16];
    _mm512_store_ps(scales, qx_lanes(xt, 32, Lt));
    for (int l = 0; l < 16; ++l) {
      _mm512_store_si512(lanes, Lt[l]);
      for (int g = 0; g < 16; ++g) L[16 * g + l] = static_cast<int8_t>(lanes[g]);
    }
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float abs_scale = __builtin_fabsf(scales[ib]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < 1e-15f) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      continue;
    }
    const float iscale = -128.0f / max_scale;
    y[i].d = fp16(1 / iscale);
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const int v = nearest_int(iscale * scales[ib]);
      y[i].scales[ib] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    const float d_all = fp32(y[i].d);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = d_all * static_cast<float>(y[i].scales[j]);
      if (d == 0.0f) continue;
      const __m512i l = clamp16(nearest_int16(_mm512_div_ps(_mm512_loadu_ps(x + 16 * j), _mm512_set1_ps(d))), -32, 31);
      _mm_store_si128(reinterpret_cast<__m128i*>(L + 16 * j), _mm512_cvtepi32_epi8(_mm512_add_epi32(l, _mm512_set1_epi32(32))));
    }
    // pack_q6_K_levels: per 128 elements, 64 bytes of low nibbles and 32 bytes of the two high bits.
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    const __m256i mask4 = _mm256_set1_epi8(0x0f);
    const __m256i mask2 = _mm256_set1_epi8(0x03);
    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      __m256i q[4];
      for (int r = 0; r < 4; ++r) q[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(L + j + 32 * r));
      const auto nib = [&](int r) { return _mm256_and_si256(q[r], mask4); };
      const auto top = [&](int r) { return _mm256_and_si256(_mm256_srli_epi16(q[r], 4), mask2); };
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ql), _mm256_or_si256(nib(0), _mm256_slli_epi16(nib(2), 4)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ql + 32), _mm256_or_si256(nib(1), _mm256_slli_epi16(nib(3), 4)));
      const __m256i high = _mm256_or_si256(_mm256_or_si256(top(0), _mm256_slli_epi16(top(1), 2)),
                                           _mm256_or_si256(_mm256_slli_epi16(top(2), 4), _mm256_slli_epi16(top(3), 6)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qh), high);
    }
  }
}

}  // namespace

const Kernels kernels_avx512 = [] {
  Kernels table = kernels_ref;
  add_avx2_kernels(&table);
  table.dequantize[kSlotQ4_K] = dequantize_q4_K;
  table.quantize[kSlotQ6_K] = quantize_q6_K;
  return table;
}();

}  // namespace kq::ggml
