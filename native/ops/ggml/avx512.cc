// AVX-512 row kernels of the ggml family (kernels.h), bit-exact with the reference files ref*.cc under the
// same rules as avx2.cc (one binary32 rounding per reference step, no FMA, sums in element order). Here are the
// quantizers whose searches fill 16 lanes (Q2_K, Q3_K, Q6_K: one super-block per pass; Q4_K, Q5_K: two;
// IQ4_NL: 16 blocks), ~1.3x their AVX2 twins on a Zen 4 core, and a 16-wide Q4_K dequantizer. Every other entry is the
// AVX2 kernel (kernels_avx2): 16-wide dequantizers gained only a few percent there (store-bound).
// Scalar helpers are local copies with internal linkage, as in avx2.cc.
// GCC 12 warns falsely inside the AVX-512 intrinsic headers (BUILD-NOTES).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>
#include <utility>

#include "blocks.h"
#include "kernels.h"
#include "avx2_pack.h"
#include "kscales.h"
#include "lanes_search.h"
#include "pack.h"

namespace kq::ggml {
namespace {

inline float fp32(uint16_t h) { return _cvtsh_ss(h); }  // exact

inline __m512i u8x16(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

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

// The 16-lane traits of lanes_search.h (masks are mask registers).
struct Lanes {
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M both(M a, M b) { return static_cast<M>(a & b); }
  static bool none(M m) { return m == 0; }
  static F sel(F a, F b, M take_b) { return _mm512_mask_mov_ps(a, take_b, b); }
  static I seli(I a, I b, M take_b) { return _mm512_mask_mov_epi32(a, take_b, b); }
  static F abs(F v) { return _mm512_abs_ps(v); }
  static F negate(F v) { return _mm512_xor_ps(v, _mm512_set1_ps(-0.0f)); }
  static I level(F v, int lo, int hi) { return clamp16(nearest_int16(v), lo, hi); }
  static F to_f32(I v) { return _mm512_cvtepi32_ps(v); }
  static I zeroi() { return _mm512_setzero_si512(); }
  static constexpr int kWidth = 16;
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F sqrt(F v) { return _mm512_sqrt_ps(v); }
  static float fp32(uint16_t h) { return ::kq::ggml::fp32(h); }
  static void store_levels(uint8_t* p, I v) {  // the low byte of each lane
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
  }
  static I addi(I v, int n) { return _mm512_add_epi32(v, _mm512_set1_epi32(n)); }
  static M neq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
  static M neqi(I a, I b) { return _mm512_cmpneq_epi32_mask(a, b); }
  static M nomask() { return 0; }
  static M either(M a, M b) { return static_cast<M>(a | b); }
  static M but_not(M a, M b) { return static_cast<M>(a & ~b); }
};

// A signed 16-element search (lanes_search.h's qx_lanes / q3_lanes) over the 16 sub-blocks of a super-block
// in one pass, sub-block g in lane g: stored levels into L in element order, the scales into scales (64-byte aligned).
template <class Search>
void search_subblocks16(const float* x, Search search, int8_t* L, float* scales) {
  alignas(64) int32_t lanes[16];
  const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(16));
  __m512 xt[16];
  for (int l = 0; l < 16; ++l) xt[l] = _mm512_i32gather_ps(index, x + l, 4);
  __m512i Lt[16];
  _mm512_store_ps(scales, search(xt, Lt));
  for (int l = 0; l < 16; ++l) {
    _mm512_store_si512(lanes, Lt[l]);
    for (int g = 0; g < 16; ++g) L[16 * g + l] = static_cast<int8_t>(lanes[g]);
  }
}

// quantize_q6_K_blocks of ref_k456.cc without weights: the search in lanes, the rest as the reference.
void quantize_q6_K(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ6_K*>(dst);
  alignas(64) int8_t L[kQK_K];
  alignas(64) float scales[kQK_K / 16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    search_subblocks16(x, [](const __m512* xt, __m512i* Lt) { return qx_lanes<Lanes>(xt, 32, Lt); }, L, scales);
    if (!encode_q6_K_scales(scales, &y[i])) continue;
    const float d_all = fp32(y[i].d);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = d_all * static_cast<float>(y[i].scales[j]);
      if (d == 0.0f) continue;
      const __m512i l = clamp16(nearest_int16(_mm512_div_ps(_mm512_loadu_ps(x + 16 * j), _mm512_set1_ps(d))), -32, 31);
      const __m128i bytes = _mm512_cvtepi32_epi8(_mm512_add_epi32(l, _mm512_set1_epi32(32)));
      _mm_store_si128(reinterpret_cast<__m128i*>(L + 16 * j), bytes);
    }
    pack_q6_K_levels_256(L, y[i].ql, y[i].qh);
  }
}

// Q4_K / Q5_K: two super-blocks per pass, sub-block g of the pair in lane g (an odd last super-block fills
// both halves and keeps one).
template <typename Block, int kNmax>
void quantize_k45(const float* x, uint8_t* dst, int64_t k) {
  constexpr bool kQ5 = kNmax == 31;
  const float rmin = kQ5 ? -0.5f : -1.0f;
  const int nstep = kQ5 ? 15 : 20;
  auto* y = reinterpret_cast<Block*>(dst);
  const int64_t nb = k / kQK_K;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  alignas(64) uint8_t L[2 * kQK_K];
  alignas(64) float scales[16], mins[16];
  alignas(64) int32_t lanes[16];
  for (int64_t i = 0; i < nb; i += 2, x += 2 * kQK_K) {
    const int count = i + 1 < nb ? 2 : 1;
    const __m512i group = count == 2 ? lane : _mm512_and_si512(lane, _mm512_set1_epi32(7));
    const __m512i index = _mm512_mullo_epi32(group, _mm512_set1_epi32(32));
    __m512 xt[32], wt[32];
    for (int l = 0; l < 32; ++l) xt[l] = _mm512_i32gather_ps(index, x + l, 4);
    k45_weights_lanes<Lanes>(xt, wt);
    __m512i Lt[32];
    __m512 scale_v, min_v;
    qkx2_lanes<Lanes, 32>(xt, wt, kNmax, rmin, 0.1f, nstep, false, Lt, &scale_v, &min_v);
    _mm512_store_ps(scales, scale_v);
    _mm512_store_ps(mins, min_v);
    for (int l = 0; l < 32; ++l) {
      _mm512_store_si512(lanes, Lt[l]);
      for (int g = 0; g < 8 * count; ++g) L[32 * g + l] = static_cast<uint8_t>(lanes[g]);
    }
    for (int h = 0; h < count; ++h) {
      Block& b = y[i + h];
      uint8_t packed_scales[12] = {};
      uint16_t d, dmin;
      finish_superblock_k45<Lanes>(x + kQK_K * h, kNmax, scales + 8 * h, mins + 8 * h, &d, &dmin, packed_scales,
                            L + kQK_K * h);
      b.d = d;
      b.dmin = dmin;
      std::memcpy(b.scales, packed_scales, 12);
      if constexpr (kQ5)
        pack_k45_levels(L + kQK_K * h, b.qs, b.qh);
      else
        pack_k45_levels(L + kQK_K * h, b.qs, nullptr);
    }
  }
}

// quantize_row_q2_K_ref (ref_k23.cc): the 16 sub-block searches of a super-block in one pass (weights |x|,
// mean absolute error), the scalar 4-bit scale and min codes, then the levels from the stored values.
void quantize_q2_K(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ2_K*>(dst);
  alignas(64) uint8_t L[kQK_K];
  alignas(64) float scales[16], mins[16];
  alignas(64) int32_t lanes[16];
  const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(16));
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    __m512 xt[16], wt[16];
    for (int l = 0; l < 16; ++l) {
      xt[l] = _mm512_i32gather_ps(index, x + l, 4);
      wt[l] = abs16(xt[l]);
    }
    __m512i Lt[16];
    __m512 scale_v, min_v;
    qkx2_lanes<Lanes, 16>(xt, wt, 3, -0.5f, 0.1f, 15, true, Lt, &scale_v, &min_v);
    _mm512_store_ps(scales, scale_v);
    _mm512_store_ps(mins, min_v);
    for (int l = 0; l < 16; ++l) {
      _mm512_store_si512(lanes, Lt[l]);
      for (int g = 0; g < 16; ++g) L[16 * g + l] = static_cast<uint8_t>(lanes[g]);
    }
    encode_q2_K_scales(scales, mins, &y[i]);
    const float d_all = fp32(y[i].d);
    const float dmin_all = fp32(y[i].dmin);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(y[i].scales[j] & 0xF);
      if (!d) continue;
      const __m512 dm = _mm512_set1_ps(dmin_all * static_cast<float>(y[i].scales[j] >> 4));
      const __m512 v = _mm512_div_ps(_mm512_add_ps(_mm512_loadu_ps(x + 16 * j), dm), _mm512_set1_ps(d));
      _mm_store_si128(reinterpret_cast<__m128i*>(L + 16 * j), _mm512_cvtepi32_epi8(clamp16(nearest_int16(v), 0, 3)));
    }
    pack_2bit_256(L, y[i].qs);
  }
}

// ---- Q3_K ----

// quantize_row_q3_K_ref (ref_k23.cc): the 16 searches in one pass, the scalar scale codes, then the levels
// from the stored scales, the high bits into hmask and the low two bits packed.
void quantize_q3_K(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ3_K*>(dst);
  alignas(64) int8_t L[kQK_K];
  alignas(64) float scales[16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    search_subblocks16(x, [](const __m512* xt, __m512i* Lt) { return q3_lanes<Lanes>(xt, 4, Lt); }, L, scales);
    encode_q3_K_scales(scales, &y[i]);
    const float d_all = fp32(y[i].d);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(q3_scale_code(y[i].scales, j) - 32);
      if (!d) continue;
      const __m512i l = clamp16(nearest_int16(_mm512_div_ps(_mm512_loadu_ps(x + 16 * j), _mm512_set1_ps(d))), -4, 3);
      const __m128i bytes = _mm512_cvtepi32_epi8(_mm512_add_epi32(l, _mm512_set1_epi32(4)));
      _mm_store_si128(reinterpret_cast<__m128i*>(L + 16 * j), bytes);
    }
    pack_q3_K_levels_256(L, y[i].hmask, y[i].qs);
  }
}

// ---- IQ4_NL (the reference path of ref_misc.cc's quantize_iq4_nl_blocks: ntry 0, weights x²) ----

constexpr int8_t kIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// ggml's best_index_int8 per lane (avx2.cc's IQ4Search with the table in one register): 0 at or below T[0],
// 15 at or above T[15] or for NaN, else the upper neighbour mu of T[mu − 1] <= v < T[mu] unless the lower one
// is strictly nearer.
struct IQ4Search {
  __m512 table;
  IQ4Search() {
    alignas(64) float t[16];
    for (int i = 0; i < 16; ++i) t[i] = static_cast<float>(kIQ4NL[i]);
    table = _mm512_load_ps(t);
  }
  __m512i index(__m512 v) const {
    __m512i mu = _mm512_set1_epi32(1);
    for (int i = 1; i < 15; ++i)
      mu = _mm512_mask_add_epi32(mu, _mm512_cmp_ps_mask(_mm512_set1_ps(static_cast<float>(kIQ4NL[i])), v, _CMP_LE_OQ),
                                 mu, _mm512_set1_epi32(1));
    const __m512i below = _mm512_sub_epi32(mu, _mm512_set1_epi32(1));
    const __mmask16 lower_nearer = _mm512_cmp_ps_mask(_mm512_sub_ps(v, value(below)), _mm512_sub_ps(value(mu), v),
                                                      _CMP_LT_OQ);
    __m512i l = _mm512_mask_mov_epi32(mu, lower_nearer, below);
    l = _mm512_mask_mov_epi32(l, _mm512_cmp_ps_mask(v, _mm512_set1_ps(-127.0f), _CMP_LE_OQ), _mm512_setzero_si512());
    const __mmask16 top =
        _mm512_cmp_ps_mask(v, _mm512_set1_ps(113.0f), _CMP_GE_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_mov_epi32(l, top, _mm512_set1_epi32(15));
  }
  __m512 value(__m512i l) const { return _mm512_permutexvar_ps(l, table); }
};

// Sixteen blocks of 32, block g in lane g: the search's two fits, each sum in element order.
void quantize_iq4_nl_lanes(const float* x, BlockIQ4_NL* y, const IQ4Search& search) {
  const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(kQK));
  __m512 xt[kQK];
  for (int j = 0; j < kQK; ++j) xt[j] = _mm512_i32gather_ps(index, x + j, 4);
  __m512i L[kQK];
  __mmask16 tiny;
  const __m512 d = iq4_nl_lanes<Lanes, IQ4Search, kQK>(xt, search, L, &tiny);
  alignas(64) float ds[16];
  _mm512_store_ps(ds, d);
  alignas(16) uint8_t levels[kQK][16];  // levels[j][g]: element j of block g
  for (int j = 0; j < kQK; ++j)
    _mm_store_si128(reinterpret_cast<__m128i*>(levels[j]),
                    _mm512_cvtepi32_epi8(_mm512_mask_mov_epi32(L[j], tiny, _mm512_set1_epi32(8))));
  for (int g = 0; g < 16; ++g) {
    y[g].d = fp16(ds[g]);
    for (int j = 0; j < kQK / 2; ++j) y[g].qs[j] = static_cast<uint8_t>(levels[j][g] | levels[j + kQK / 2][g] << 4);
  }
}

// Whole groups of sixteen blocks in lanes; the rest take the AVX2 kernel (eights) and the reference.
void quantize_iq4_nl(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockIQ4_NL*>(dst);
  const int64_t nb = k / kQK;
  const IQ4Search search;
  int64_t i = 0;
  for (; i + 16 <= nb; i += 16) quantize_iq4_nl_lanes(x + i * kQK, y + i, search);
  if (i < nb) kernels_avx2.quantize[kSlotIQ4_NL](x + i * kQK, reinterpret_cast<uint8_t*>(y + i), (nb - i) * kQK);
}

// The AVX2 kernel of a slot, reached through kernels_avx2 at call time: referring to it keeps this table a
// compile-time constant (the AVX2 functions have internal linkage in avx2.cc).
template <Slot S>
void avx2_quantize(const float* x, uint8_t* y, int64_t k) {
  kernels_avx2.quantize[S](x, y, k);
}
template <Slot S>
void avx2_dequantize(const uint8_t* x, float* y, int64_t k) {
  kernels_avx2.dequantize[S](x, y, k);
}
bool avx2_has_non_finite(const float* x, int64_t n) { return kernels_avx2.has_non_finite(x, n); }

template <int... S>
constexpr void use_avx2(Kernels* t, std::integer_sequence<int, S...>) {
  ((t->quantize[S] = avx2_quantize<static_cast<Slot>(S)>), ...);
  ((t->dequantize[S] = avx2_dequantize<static_cast<Slot>(S)>), ...);
}

// Built at compile time (constexpr: function addresses only), so no code compiled with -mavx512f runs while the
// library loads on a CPU that may lack AVX-512.
constexpr Kernels make_avx512_table() {
  Kernels table{};
  use_avx2(&table, std::make_integer_sequence<int, kSlotCount>{});
  table.has_non_finite = avx2_has_non_finite;
  table.dequantize[kSlotQ4_K] = dequantize_q4_K;
  table.quantize[kSlotQ2_K] = quantize_q2_K;
  table.quantize[kSlotQ3_K] = quantize_q3_K;
  table.quantize[kSlotQ4_K] = quantize_k45<BlockQ4_K, 15>;
  table.quantize[kSlotQ5_K] = quantize_k45<BlockQ5_K, 31>;
  table.quantize[kSlotQ6_K] = quantize_q6_K;
  table.quantize[kSlotIQ4_NL] = quantize_iq4_nl;
  return table;
}

}  // namespace

constexpr Kernels kernels_avx512 = make_avx512_table();

}  // namespace kq::ggml
