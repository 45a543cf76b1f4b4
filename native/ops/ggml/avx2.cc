// AVX2 row kernels of the ggml family (kernels.h), bit-exact with the reference files ref*.cc: every element
// takes the reference's operations in the reference's order, one binary32 rounding each (no FMA: the build
// has -ffp-contract=off and only mul/add/sub/div intrinsics are used), and every sum keeps its element order.
// Dequantizers work 8 elements per vector. The K-quant scale searches run 8 groups at once, group g in lane g,
// so each lane repeats the scalar search exactly and its branches become per-lane blends.
// Helpers have internal linkage: a shared inline function compiled here with -mavx2 could otherwise be
// linked into the scalar code (hence local copies of half.h's conversions; pack.h's helpers are internal, and
// the scale encoders of kscales.h are scalar functions of the reference files, called from here).
#include <immintrin.h>

#include <cstring>

#include "blocks.h"
#include "kernels.h"
#include "avx2_pack.h"
#include "kscales.h"
#include "lanes_search.h"
#include "pack.h"

namespace kq::ggml {
namespace {

// ---- scalar helpers (the reference's, with internal linkage) ----

inline float fp32(uint16_t h) { return _cvtsh_ss(h); }  // exact
inline uint16_t fp16(float v) { return static_cast<uint16_t>(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT)); }

inline int nearest_int(float fval) {  // ggml's nearest_int (kquant_search.h)
  const float val = fval + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &val, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

constexpr float kGroupMaxEps = 1e-15f;

inline float e8m0_half(uint8_t e) {  // ref_misc.cc
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// ---- vector helpers ----

inline __m256 to_f32(__m256i v) { return _mm256_cvtepi32_ps(v); }  // exact for the small integers here
inline __m128i load8(const void* p) { return _mm_loadl_epi64(static_cast<const __m128i*>(p)); }
inline __m256i u8x8(const uint8_t* p) { return _mm256_cvtepu8_epi32(load8(p)); }
inline __m256i i8x8(const int8_t* p) { return _mm256_cvtepi8_epi32(load8(p)); }
inline __m256i u8x8(__m128i bytes) { return _mm256_cvtepu8_epi32(bytes); }
inline __m256i u8x8_hi(__m128i bytes) { return _mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8)); }
inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m128i low_nibbles(__m128i b) { return _mm_and_si128(b, _mm_set1_epi8(0x0f)); }
inline __m128i high_nibbles(__m128i b) { return _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f)); }

// ggml's nearest_int per lane: add 1.5·2^23, keep the low 23 bits minus 2^22 (NaN gives 0, as in scalar).
inline __m256i nearest_int8(__m256 v) {
  const __m256i bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
  return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}
inline __m256i clamp8(__m256i v, int lo, int hi) {
  return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}
inline __m256 blend(__m256 a, __m256 b, __m256 take_b) { return _mm256_blendv_ps(a, b, take_b); }
inline __m256i blendi(__m256i a, __m256i b, __m256 take_b) {
  return _mm256_blendv_epi8(a, b, _mm256_castps_si256(take_b));
}
inline __m256 gt(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
inline __m256 lt(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// The low byte of each int32 lane, in lane order.
inline uint64_t low_bytes8(__m256i v) {
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i packed =
      _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pick), _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm256_castsi256_si128(packed)));
}

// ---- dequantization ----

// y[0..16) = (float(b) + offset) · d per byte of b: the reference's int-then-convert, then one multiply.
inline void store16_scaled(float* y, __m128i bytes, __m256i offset, __m256 d) {
  _mm256_storeu_ps(y, _mm256_mul_ps(to_f32(_mm256_add_epi32(u8x8(bytes), offset)), d));
  _mm256_storeu_ps(y + 8, _mm256_mul_ps(to_f32(_mm256_add_epi32(u8x8_hi(bytes), offset)), d));
}
// y[0..16) = float(b) · d + m.
inline void store16_affine(float* y, __m128i bytes, __m256 d, __m256 m) {
  _mm256_storeu_ps(y, _mm256_add_ps(_mm256_mul_ps(to_f32(u8x8(bytes)), d), m));
  _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_mul_ps(to_f32(u8x8_hi(bytes)), d), m));
}

void dequantize_q4_0(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ4_0*>(src);
  const __m256i minus8 = _mm256_set1_epi32(-8);
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(fp32(x[i].d));
    const __m128i qs = load16(x[i].qs);
    store16_scaled(y, low_nibbles(qs), minus8, d);
    store16_scaled(y + 16, high_nibbles(qs), minus8, d);
  }
}

void dequantize_q4_1(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(fp32(x[i].d));
    const __m256 m = _mm256_set1_ps(fp32(x[i].m));
    const __m128i qs = load16(x[i].qs);
    store16_affine(y, low_nibbles(qs), d, m);
    store16_affine(y + 16, high_nibbles(qs), d, m);
  }
}

// The 5-bit levels of elements j0..j0+7 of a Q5 block: nibble | ((qh >> j) & 1) << 4.
inline __m256i q5_levels(__m256i nibbles, uint32_t qh, int j0) {
  const __m256i bit = _mm256_and_si256(
      _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int32_t>(qh)),
                        _mm256_add_epi32(_mm256_set1_epi32(j0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))),
      _mm256_set1_epi32(1));
  return _mm256_or_si256(nibbles, _mm256_slli_epi32(bit, 4));
}

template <typename Block, bool kAffine>
void dequantize_q5(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const Block*>(src);
  const __m256i minus16 = _mm256_set1_epi32(-16);
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(fp32(x[i].d));
    __m256 m = _mm256_setzero_ps();
    if constexpr (kAffine) m = _mm256_set1_ps(fp32(x[i].m));
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);  // little-endian, as the format stores it
    const __m128i qs = load16(x[i].qs);
    const __m128i halves[2] = {low_nibbles(qs), high_nibbles(qs)};
    for (int h = 0; h < 2; ++h) {
      for (int part = 0; part < 2; ++part) {
        const int j0 = 16 * h + 8 * part;
        const __m256i nib = part == 0 ? u8x8(halves[h]) : u8x8_hi(halves[h]);
        const __m256i q = q5_levels(nib, qh, j0);
        if constexpr (kAffine)
          _mm256_storeu_ps(y + j0, _mm256_add_ps(_mm256_mul_ps(to_f32(q), d), m));
        else
          _mm256_storeu_ps(y + j0, _mm256_mul_ps(to_f32(_mm256_add_epi32(q, minus16)), d));
      }
    }
  }
}

// Q8_0 and Q8_1 (whose sum field the decoder ignores): value = q · d.
template <typename Block>
void dequantize_q8(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const Block*>(src);
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(fp32(x[i].d));
    for (int j = 0; j < kQK; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(to_f32(i8x8(x[i].qs + j)), d));
  }
}

void dequantize_q8_K(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < k / kQK_K; ++i, y += kQK_K) {
    const __m256 d = _mm256_set1_ps(x[i].d);
    for (int j = 0; j < kQK_K; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(d, to_f32(i8x8(x[i].qs + j))));
  }
}

// Q2_K / Q3_K element j: 2 bits at shift 2·((j % 128) / 32) of byte (j / 128)·32 + j % 32; the loops walk j
// in order as (chunk, shift, 8-element run).
void dequantize_q2_K(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ2_K*>(src);
  const __m256i three = _mm256_set1_epi32(3);
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const float d = fp32(x[i].d);
    const float min = fp32(x[i].dmin);
    for (int c = 0; c < 2; ++c) {
      for (int s = 0; s < 4; ++s) {
        for (int l = 0; l < 32; l += 8, y += 8) {
          const uint8_t sc = x[i].scales[(128 * c + 32 * s + l) / 16];
          const __m256 dl = _mm256_set1_ps(d * static_cast<float>(sc & 0xF));
          const __m256 ml = _mm256_set1_ps(min * static_cast<float>(sc >> 4));
          const __m256i q = _mm256_and_si256(_mm256_srli_epi32(u8x8(x[i].qs + 32 * c + l), 2 * s), three);
          _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(dl, to_f32(q)), ml));
        }
      }
    }
  }
}

void dequantize_q3_K(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ3_K*>(src);
  const __m256i three = _mm256_set1_epi32(3);
  const __m256i one = _mm256_set1_epi32(1);
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const float d_all = fp32(x[i].d);
    for (int c = 0; c < 2; ++c) {
      for (int s = 0; s < 4; ++s) {
        for (int l = 0; l < 32; l += 8, y += 8) {
          const int j = 128 * c + 32 * s + l;
          const __m256 dl = _mm256_set1_ps(d_all * static_cast<float>(q3_scale_code(x[i].scales, j / 16) - 32));
          const __m256i low = _mm256_and_si256(_mm256_srli_epi32(u8x8(x[i].qs + 32 * c + l), 2 * s), three);
          const __m256i high = _mm256_and_si256(_mm256_srli_epi32(u8x8(x[i].hmask + l), j / 32), one);
          // low − (high ? 0 : 4) = low − 4 + 4·high
          const __m256i q = _mm256_add_epi32(_mm256_sub_epi32(low, _mm256_set1_epi32(4)), _mm256_slli_epi32(high, 2));
          _mm256_storeu_ps(y, _mm256_mul_ps(dl, to_f32(q)));
        }
      }
    }
  }
}

// Q4_K / Q5_K: per 64 elements two sub-blocks, value = (d·sc)·q − dmin·m.
template <bool kFifthBit>
void dequantize_k45(const uint8_t* scales, uint16_t d16, uint16_t dmin16, const uint8_t* ql, const uint8_t* qh,
                    float* y) {
  const float d = fp32(d16);
  const float min = fp32(dmin16);
  const __m256i mask4 = _mm256_set1_epi32(0xF);
  for (int n = 0; n < 4; ++n, ql += 32) {
    for (int half = 0; half < 2; ++half, y += 32) {
      uint8_t sc, m;
      get_scale_min_k4(2 * n + half, scales, &sc, &m);
      const __m256 d1 = _mm256_set1_ps(d * sc);
      const __m256 m1 = _mm256_set1_ps(min * m);
      for (int l = 0; l < 32; l += 8) {
        __m256i q = _mm256_and_si256(_mm256_srli_epi32(u8x8(ql + l), 4 * half), mask4);
        if constexpr (kFifthBit) {
          const __m256i bit = _mm256_and_si256(_mm256_srli_epi32(u8x8(qh + l), 2 * n + half), _mm256_set1_epi32(1));
          q = _mm256_add_epi32(q, _mm256_slli_epi32(bit, 4));
        }
        _mm256_storeu_ps(y + l, _mm256_sub_ps(_mm256_mul_ps(d1, to_f32(q)), m1));
      }
    }
  }
}

void dequantize_q4_K(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < k / kQK_K; ++i, y += kQK_K)
    dequantize_k45<false>(x[i].scales, x[i].d, x[i].dmin, x[i].qs, nullptr, y);
}

void dequantize_q5_K(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < k / kQK_K; ++i, y += kQK_K)
    dequantize_k45<true>(x[i].scales, x[i].d, x[i].dmin, x[i].qs, x[i].qh, y);
}

void dequantize_q6_K(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ6_K*>(src);
  const __m256i mask4 = _mm256_set1_epi32(0xF);
  const __m256i three = _mm256_set1_epi32(3);
  const __m256i minus32 = _mm256_set1_epi32(-32);
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const float d = fp32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n = 0; n < kQK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; l += 8) {
        const int is = l / 16;
        const __m256i lo = u8x8(ql + l), lo32 = u8x8(ql + l + 32), h = u8x8(qh + l);
        // quarter r: low nibble source (ql[l] or ql[l + 32], low or high nibble) and high bits at 2r.
        const __m256i nib[4] = {_mm256_and_si256(lo, mask4), _mm256_and_si256(lo32, mask4), _mm256_srli_epi32(lo, 4),
                                _mm256_srli_epi32(lo32, 4)};
        for (int r = 0; r < 4; ++r) {
          const __m256i q = _mm256_add_epi32(
              _mm256_or_si256(nib[r], _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2 * r), three), 4)),
              minus32);
          // (d · sc) · q, left to right as the reference.
          const __m256 dsc = _mm256_set1_ps(d * static_cast<float>(sc[is + 2 * r]));
          _mm256_storeu_ps(y + l + 32 * r, _mm256_mul_ps(dsc, to_f32(q)));
        }
      }
    }
  }
}

// A 16-entry int8 table looked up by the nibbles of 16 bytes; y = table value converted, times d (iq4_nl:
// d · T[q]; mxfp4: F[q] · d — the same product either way round).
inline void store16_table(float* y, __m128i nibbles, __m128i table, __m256 d) {
  const __m128i v = _mm_shuffle_epi8(table, nibbles);
  _mm256_storeu_ps(y, _mm256_mul_ps(d, to_f32(_mm256_cvtepi8_epi32(v))));
  _mm256_storeu_ps(y + 8, _mm256_mul_ps(d, to_f32(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)))));
}

void dequantize_iq4_nl(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockIQ4_NL*>(src);
  const __m128i table = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(fp32(x[i].d));
    const __m128i qs = load16(x[i].qs);
    store16_table(y, low_nibbles(qs), table, d);
    store16_table(y + 16, high_nibbles(qs), table, d);
  }
}

void dequantize_mxfp4(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockMXFP4*>(src);
  const __m128i table = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const __m256 d = _mm256_set1_ps(e8m0_half(x[i].e));
    const __m128i qs = load16(x[i].qs);
    store16_table(y, low_nibbles(qs), table, d);
    store16_table(y + 16, high_nibbles(qs), table, d);
  }
}

void dequantize_tq2_0(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockTQ2_0*>(src);
  const __m256i three = _mm256_set1_epi32(3);
  const __m256i minus1 = _mm256_set1_epi32(-1);
  for (int64_t i = 0; i < k / kQK_TQ; ++i) {
    const __m256 d = _mm256_set1_ps(fp32(x[i].d));
    for (int j = 0; j < 64; j += 32)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; m += 8, y += 8) {
          const __m256i q = _mm256_and_si256(_mm256_srli_epi32(u8x8(x[i].qs + j + m), 2 * l), three);
          _mm256_storeu_ps(y, _mm256_mul_ps(to_f32(_mm256_add_epi32(q, minus1)), d));
        }
  }
}

// Trit n of 8 packed bytes minus one: ((byte·3^n mod 256)·3 >> 8) − 1.
inline __m256i trits8(__m256i bytes, int pow3) {
  const __m256i q = _mm256_and_si256(_mm256_mullo_epi32(bytes, _mm256_set1_epi32(pow3)), _mm256_set1_epi32(0xff));
  return _mm256_sub_epi32(_mm256_srli_epi32(_mm256_mullo_epi32(q, _mm256_set1_epi32(3)), 8), _mm256_set1_epi32(1));
}

void dequantize_tq1_0(const uint8_t* src, float* y, int64_t k) {
  const auto* x = reinterpret_cast<const BlockTQ1_0*>(src);
  static constexpr int kPow3[5] = {1, 3, 9, 27, 81};
  for (int64_t i = 0; i < k / kQK_TQ; ++i) {
    const float df = fp32(x[i].d);
    const __m256 d = _mm256_set1_ps(df);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; m += 8, y += 8)
        _mm256_storeu_ps(y, _mm256_mul_ps(to_f32(trits8(u8x8(x[i].qs + m), kPow3[n])), d));
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 16; m += 8, y += 8)
        _mm256_storeu_ps(y, _mm256_mul_ps(to_f32(trits8(u8x8(x[i].qs + 32 + m), kPow3[n])), d));
    // The last 16 elements: 4 trits of the 4 qh bytes, n-major.
    for (int n = 0; n < 4; ++n)
      for (int j = 0; j < 4; ++j) {
        const uint8_t q = static_cast<uint8_t>(x[i].qh[j] * kPow3[n]);
        *y++ = static_cast<float>(((static_cast<uint16_t>(q) * 3) >> 8) - 1) * df;
      }
  }
}

// ---- quantization ----

// x − x is +0 for finite x and NaN for NaN / ±Inf: OR-ing the bits of every difference leaves 0 iff all finite.
bool has_non_finite(const float* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    acc = _mm256_or_ps(acc, _mm256_sub_ps(v, v));
  }
  bool bad = !_mm256_testz_si256(_mm256_castps_si256(acc), _mm256_castps_si256(acc));
  for (; i < n; ++i) {
    const float diff = x[i] - x[i];
    bad |= diff != diff;
  }
  return bad;
}

// x·id rounded as roundf (half away from zero), then (int8) as x86 converts: truncate to int32 (0x80000000
// when out of range or NaN), keep the low byte. v − trunc(v) is exact, so the tie test is exact.
inline __m256i roundf_i32(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 away = _mm256_cmp_ps(abs8(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));
  return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(away, step)));
}

inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

// max |x| over 32 values (max is exact, so the order does not matter).
inline float absmax32(const float* x) {
  __m256 m = abs8(_mm256_loadu_ps(x));
  for (int j = 8; j < 32; j += 8) m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(x + j)));
  return hmax8(m);
}

inline int hsum8(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline __m256i sign_extend8(__m256i v) { return _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24); }

// Q8_0 / Q8_1 levels: (int8) roundf(x·id) for 32 elements; returns their sum.
inline int round_levels32(const float* x, float id, int8_t* qs) {
  const __m256 vid = _mm256_set1_ps(id);
  __m256i sum = _mm256_setzero_si256();
  for (int j = 0; j < kQK; j += 8) {
    const __m256i q = roundf_i32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vid));
    sum = _mm256_add_epi32(sum, sign_extend8(q));
    const uint64_t bytes = low_bytes8(q);
    std::memcpy(qs + j, &bytes, 8);
  }
  return hsum8(sum);
}

void quantize_q8_0(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float d = absmax32(x) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    round_levels32(x, id, y[i].qs);
  }
}

void quantize_q8_1(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float d = absmax32(x) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    const int sum = round_levels32(x, id, y[i].qs);  // an int sum: any order gives the same
    y[i].s = fp16(static_cast<float>(sum) * d);
  }
}

void quantize_q8_K(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQK_K; j += 8) m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(x + j)));
    const float amax = hmax8(m);
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    int first = 0;  // the first element of largest magnitude, as the reference's strict comparison keeps
    while (__builtin_fabsf(x[first]) != amax) ++first;
    const float iscale = -127.0f / x[first];
    const __m256 vis = _mm256_set1_ps(iscale);
    for (int j = 0; j < kQK_K; j += 16) {
      __m256i sum = _mm256_setzero_si256();
      for (int h = 0; h < 16; h += 8) {
        const __m256i v = nearest_int8(_mm256_mul_ps(vis, _mm256_loadu_ps(x + j + h)));
        const __m256i q = _mm256_min_epi32(v, _mm256_set1_epi32(127));
        sum = _mm256_add_epi32(sum, sign_extend8(q));
        const uint64_t bytes = low_bytes8(q);
        std::memcpy(y[i].qs + j + h, &bytes, 8);
      }
      y[i].bsums[j / 16] = static_cast<int16_t>(hsum8(sum));
    }
    y[i].d = 1 / iscale;
  }
}

inline float hmin8(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

// The reference's signed_absmax: the value of largest magnitude, the first of equal magnitudes in element
// order (strictly larger replaces), +0 when all are ±0.
inline float signed_absmax32(const float* x) {
  const float amax = absmax32(x);
  if (amax == 0.0f) return 0.0f;
  int j = 0;
  while (__builtin_fabsf(x[j]) != amax) ++j;
  return x[j];
}

// The reference's min_max: the extreme values, and for a zero extreme the sign of the first zero in element
// order (a later −0 / +0 does not replace an equal one).
inline void min_max32(const float* x, float* min, float* max) {
  __m256 lo = _mm256_loadu_ps(x), hi = lo;
  for (int j = 8; j < kQK; j += 8) {
    lo = _mm256_min_ps(lo, _mm256_loadu_ps(x + j));
    hi = _mm256_max_ps(hi, _mm256_loadu_ps(x + j));
  }
  *min = hmin8(lo);
  *max = hmax8(hi);
  if (*min == 0.0f || *max == 0.0f) {
    int j = 0;
    while (x[j] != 0.0f) ++j;
    if (*min == 0.0f) *min = x[j];
    if (*max == 0.0f) *max = x[j];
  }
}

// Levels of 32 elements, v = (x − offset)·id + add truncated to int32 (x86's conversion), as bytes: the low
// byte sign-extended and clamped above at `top` (the reference's int8_t then `t < top ? t : top`), or, with
// top < 0, the low byte as it is (its uint8_t cast).
inline void levels32(const float* x, float offset, float id, float add, int top, uint8_t* levels) {
  const __m256 voff = _mm256_set1_ps(offset), vid = _mm256_set1_ps(id), vadd = _mm256_set1_ps(add);
  for (int j = 0; j < kQK; j += 8) {
    // x − 0 is x exactly (−0 included), so the types without a minimum take the same path.
    const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + j), voff);
    __m256i t = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v, vid), vadd));
    if (top >= 0) t = _mm256_min_epi32(_mm256_srai_epi32(_mm256_slli_epi32(t, 24), 24), _mm256_set1_epi32(top));
    const uint64_t bytes = low_bytes8(t);
    std::memcpy(levels + j, &bytes, 8);
  }
}

// pack.h's pack_nibbles32 in vectors: (uint8) (xi0 | xi1 << 4) per byte as the legacy quantizers pack, the
// low level unmasked, the high one's low nibble shifted up.
inline void pack_nibbles32_v(const uint8_t* levels, uint8_t* qs) {
  const __m128i hi = _mm_and_si128(load16(levels + 16), _mm_set1_epi8(0x0f));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm_or_si128(load16(levels), _mm_slli_epi16(hi, 4)));
}

// pack.h's pack_q5_32 in vectors (Q5_0 / Q5_1): low nibbles of both halves, and the fifth bits (bit 4 of
// level j) as a little-endian u32.
inline void pack_q5_32_v(const uint8_t* levels, uint8_t* qs, uint8_t* qh) {
  const __m128i m4 = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(load16(levels), m4);
  const __m128i hi = _mm_and_si128(load16(levels + 16), m4);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
  const __m256i all = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(levels));
  const uint32_t bits = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(all, 3)));
  std::memcpy(qh, &bits, 4);
}

void quantize_q4_1(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ4_1*>(dst);
  uint8_t levels[kQK];
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    float min, max;
    min_max32(x, &min, &max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    y[i].m = fp16(min);
    levels32(x, min, id, 0.5f, 15, levels);
    pack_nibbles32_v(levels, y[i].qs);
  }
}

void quantize_q5_0(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ5_0*>(dst);
  uint8_t levels[kQK];
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float d = signed_absmax32(x) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    levels32(x, 0.0f, id, 16.5f, 31, levels);
    pack_q5_32_v(levels, y[i].qs, y[i].qh);
  }
}

void quantize_q5_1(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ5_1*>(dst);
  uint8_t levels[kQK];
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    float min, max;
    min_max32(x, &min, &max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    y[i].m = fp16(min);
    levels32(x, min, id, 0.5f, -1, levels);  // no clamp, as the reference
    pack_q5_32_v(levels, y[i].qs, y[i].qh);
  }
}

void quantize_q4_0(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float max = signed_absmax32(x);
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    uint8_t levels[kQK];
    levels32(x, 0.0f, id, 8.5f, 15, levels);
    pack_nibbles32_v(levels, y[i].qs);
  }
}

// The 8-lane traits of lanes_search.h (masks are all-ones float lanes, as the compares give them).
struct Lanes {
  using F = __m256;
  using I = __m256i;
  using M = __m256;
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static M lt(F a, F b) { return ::kq::ggml::lt(a, b); }
  static M gt(F a, F b) { return ::kq::ggml::gt(a, b); }
  static M eq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M both(M a, M b) { return _mm256_and_ps(a, b); }
  static bool none(M m) { return _mm256_movemask_ps(m) == 0; }
  static F sel(F a, F b, M take_b) { return blend(a, b, take_b); }
  static I seli(I a, I b, M take_b) { return blendi(a, b, take_b); }
  static F abs(F v) { return abs8(v); }
  static F negate(F v) { return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f)); }
  static I level(F v, int lo, int hi) { return clamp8(nearest_int8(v), lo, hi); }
  static F to_f32(I v) { return ::kq::ggml::to_f32(v); }
  static I zeroi() { return _mm256_setzero_si256(); }
  static constexpr int kWidth = 8;
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F sqrt(F v) { return _mm256_sqrt_ps(v); }
  static float fp32(uint16_t h) { return ::kq::ggml::fp32(h); }
  static void store_levels(uint8_t* p, I v) {  // the low byte of each lane
    const uint64_t bytes = low_bytes8(v);
    std::memcpy(p, &bytes, 8);
  }
  static I addi(I v, int n) { return _mm256_add_epi32(v, _mm256_set1_epi32(n)); }
  static M neq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
  static M neqi(I a, I b) {
    return _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(a, b), _mm256_set1_epi32(-1)));
  }
  static M nomask() { return _mm256_setzero_ps(); }
  static M either(M a, M b) { return _mm256_or_ps(a, b); }
  static M but_not(M a, M b) { return _mm256_andnot_ps(b, a); }
};

// Element i of each of 8 groups of `stride` floats starting at x, group g in lane g.
inline __m256 gather8(const float* x, int stride) {
  const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
  return _mm256_i32gather_ps(x, index, 4);
}

// quantize_superblock_k45 of ref_k456.cc: the eight sub-block searches in lanes, then the scalar scale codes and
// the final levels from the stored scales, 8 elements at a time.
void quantize_superblock_k45(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out, uint16_t* dmin_out,
                             uint8_t* scales_out, uint8_t* L) {
  __m256 xt[32], wt[32];
  for (int l = 0; l < 32; ++l) xt[l] = gather8(x + l, 32);
  k45_weights_lanes<Lanes>(xt, wt);
  __m256i Lt[32];
  __m256 scale_v, min_v;
  qkx2_lanes<Lanes, 32>(xt, wt, nmax, rmin, 0.1f, nstep, false, Lt, &scale_v, &min_v);
  alignas(32) float scales[8], mins[8];
  _mm256_store_ps(scales, scale_v);
  _mm256_store_ps(mins, min_v);
  alignas(32) int32_t lanes[8];
  for (int l = 0; l < 32; ++l) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), Lt[l]);
    for (int j = 0; j < 8; ++j) L[32 * j + l] = static_cast<uint8_t>(lanes[j]);
  }
  finish_superblock_k45<Lanes>(x, nmax, scales, mins, d_out, dmin_out, scales_out, L);
}

// quantize_row_q4_K_ref / quantize_row_q5_K_ref (ref_k456.cc): nmax 15, rmin −1, 20 steps, or nmax 31,
// rmin −0.5, 15 steps; Q5_K also stores the fifth bits.
template <typename Block, int kNmax>
void quantize_k45(const float* x, uint8_t* dst, int64_t k) {
  constexpr bool kQ5 = kNmax == 31;
  auto* y = reinterpret_cast<Block*>(dst);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    uint8_t scales[12] = {};
    uint16_t d, dmin;
    quantize_superblock_k45(x, kNmax, kQ5 ? -0.5f : -1.0f, kQ5 ? 15 : 20, &d, &dmin, scales, L);
    y[i].d = d;
    y[i].dmin = dmin;
    std::memcpy(y[i].scales, scales, 12);
    if constexpr (kQ5)
      pack_k45_levels(L, y[i].qs, y[i].qh);
    else
      pack_k45_levels(L, y[i].qs, nullptr);
  }
}

// A signed 16-element search (lanes_search.h's qx_lanes / q3_lanes) over the 16 sub-blocks of a super-block
// in two passes of 8 lanes, sub-block 8·batch + g in lane g: stored levels into L in element order, the
// scales into scales.
template <class Search>
void search_subblocks16(const float* x, Search search, int8_t* L, float* scales) {
  alignas(32) int32_t lanes[8];
  for (int batch = 0; batch < 2; ++batch) {  // sub-blocks 8·batch .. 8·batch + 7
    __m256 xt[16];
    for (int l = 0; l < 16; ++l) xt[l] = gather8(x + 128 * batch + l, 16);
    __m256i Lt[16];
    _mm256_store_ps(scales + 8 * batch, search(xt, Lt));
    for (int l = 0; l < 16; ++l) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), Lt[l]);
      for (int g = 0; g < 8; ++g) L[128 * batch + 16 * g + l] = static_cast<int8_t>(lanes[g]);
    }
  }
}

void quantize_q6_K(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ6_K*>(dst);
  alignas(32) int8_t L[kQK_K];
  alignas(32) float scales[kQK_K / 16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    search_subblocks16(x, [](const __m256* xt, __m256i* Lt) { return qx_lanes<Lanes>(xt, 32, Lt); }, L, scales);
    if (!encode_q6_K_scales(scales, &y[i])) continue;
    const float d_all = fp32(y[i].d);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = d_all * static_cast<float>(y[i].scales[j]);
      if (d == 0.0f) continue;
      const __m256 vd = _mm256_set1_ps(d);
      for (int ii = 0; ii < 16; ii += 8) {
        const __m256i l = clamp8(nearest_int8(_mm256_div_ps(_mm256_loadu_ps(x + 16 * j + ii), vd)), -32, 31);
        const uint64_t bytes = low_bytes8(_mm256_add_epi32(l, _mm256_set1_epi32(32)));
        std::memcpy(L + 16 * j + ii, &bytes, 8);
      }
    }
    pack_q6_K_levels_256(L, y[i].ql, y[i].qh);
  }
}

// quantize_row_q2_K_ref (ref_k23.cc): the 16 sub-block searches in two passes of 8 lanes (weights |x|), the
// scalar 4-bit scale and min codes, then the levels from the stored values, 8 elements at a time.
void quantize_q2_K(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ2_K*>(dst);
  alignas(32) uint8_t L[kQK_K];
  alignas(32) float scales[kQK_K / 16], mins[kQK_K / 16];
  alignas(32) int32_t lanes[8];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    for (int batch = 0; batch < 2; ++batch) {  // sub-blocks 8·batch .. 8·batch + 7
      __m256 xt[16], wt[16];
      for (int l = 0; l < 16; ++l) {
        xt[l] = gather8(x + 128 * batch + l, 16);
        wt[l] = abs8(xt[l]);
      }
      __m256i Lt[16];
      __m256 scale_v, min_v;
      qkx2_lanes<Lanes, 16>(xt, wt, 3, -0.5f, 0.1f, 15, true, Lt, &scale_v, &min_v);
      _mm256_store_ps(scales + 8 * batch, scale_v);
      _mm256_store_ps(mins + 8 * batch, min_v);
      for (int l = 0; l < 16; ++l) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), Lt[l]);
        for (int g = 0; g < 8; ++g) L[128 * batch + 16 * g + l] = static_cast<uint8_t>(lanes[g]);
      }
    }
    encode_q2_K_scales(scales, mins, &y[i]);
    const float d_all = fp32(y[i].d);
    const float dmin_all = fp32(y[i].dmin);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = d_all * static_cast<float>(y[i].scales[j] & 0xF);
      if (!d) continue;
      const __m256 vd = _mm256_set1_ps(d);
      const __m256 dm = _mm256_set1_ps(dmin_all * static_cast<float>(y[i].scales[j] >> 4));
      for (int ii = 0; ii < 16; ii += 8) {
        const __m256 v = _mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + 16 * j + ii), dm), vd);
        const uint64_t bytes = low_bytes8(clamp8(nearest_int8(v), 0, 3));
        std::memcpy(L + 16 * j + ii, &bytes, 8);
      }
    }
    pack_2bit_256(L, y[i].qs);
  }
}

// quantize_row_q3_K_ref (ref_k23.cc): the 16 searches in two passes of 8 lanes, the scalar scale codes, then
// the levels from the stored scales, the high bits into hmask and the low two bits packed, 32 bytes at a time.
void quantize_q3_K(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockQ3_K*>(dst);
  alignas(32) int8_t L[kQK_K];
  alignas(32) float scales[kQK_K / 16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    search_subblocks16(x, [](const __m256* xt, __m256i* Lt) { return q3_lanes<Lanes>(xt, 4, Lt); }, L, scales);
    encode_q3_K_scales(scales, &y[i]);
    const float d_all = fp32(y[i].d);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = d_all * static_cast<float>(q3_scale_code(y[i].scales, j) - 32);
      if (!d) continue;
      const __m256 vd = _mm256_set1_ps(d);
      for (int ii = 0; ii < 16; ii += 8) {
        const __m256i l = clamp8(nearest_int8(_mm256_div_ps(_mm256_loadu_ps(x + 16 * j + ii), vd)), -4, 3);
        const uint64_t bytes = low_bytes8(_mm256_add_epi32(l, _mm256_set1_epi32(4)));
        std::memcpy(L + 16 * j + ii, &bytes, 8);
      }
    }
    pack_q3_K_levels_256(L, y[i].hmask, y[i].qs);
  }
}

// ---- TQ1_0, TQ2_0, MXFP4 (ref_misc.cc) ----

// max |x| over n (a multiple of 8) values.
inline float absmax_n(const float* x, int n) {
  __m256 m = _mm256_setzero_ps();
  for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(x + j)));
  return hmax8(m);
}

// The reference's trit: lroundf(x·id) + 1 (0, 1 or 2). Its lround_int gives 0 for ±Inf / NaN (x·id with an
// infinite id); finite |x·id| stays near 1 since id = 1 / max|x|, where roundf_i32 agrees with lroundf.
inline __m256i trits(const float* x, __m256 id) {
  const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), id);
  const __m256 finite = _mm256_cmp_ps(abs8(v), _mm256_set1_ps(9.2233720368547758e18f), _CMP_LT_OQ);
  return _mm256_add_epi32(blendi(_mm256_setzero_si256(), roundf_i32(v), finite), _mm256_set1_epi32(1));
}
inline int trit_scalar(float v) {
  if (!(v > -9.2233720368547758e18f && v < 9.2233720368547758e18f)) return 1;
  return static_cast<int>(static_cast<long long>(__builtin_roundf(v))) + 1;
}

// ⌈q·256 / 243⌉ of base-3 bytes q (int32 lanes): (q·256 + 242) / 243, the quotient exact in f32 below 2^16.
inline __m256i pack_trits8(__m256i q) {
  const __m256 v = to_f32(_mm256_add_epi32(_mm256_slli_epi32(q, 8), _mm256_set1_epi32(242)));
  return _mm256_cvttps_epi32(_mm256_div_ps(v, _mm256_set1_ps(243.0f)));
}

// Five trits per byte: byte m of a run takes elements m + stride·n, n = 0..4, the first most significant.
inline __m256i base3_bytes(const float* x, int stride, __m256 id) {
  __m256i q = _mm256_setzero_si256();
  for (int n = 0; n < 5; ++n)
    q = _mm256_and_si256(_mm256_add_epi32(_mm256_mullo_epi32(q, _mm256_set1_epi32(3)), trits(x + stride * n, id)),
                         _mm256_set1_epi32(0xff));
  return q;
}

void quantize_tq1_0(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockTQ1_0*>(dst);
  for (int64_t i = 0; i < k / kQK_TQ; ++i, x += kQK_TQ) {
    const float d = absmax_n(x, kQK_TQ);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    for (int m = 0; m < 32; m += 8) {  // bytes 0..31: elements m + 32n
      const uint64_t bytes = low_bytes8(pack_trits8(base3_bytes(x + m, 32, vid)));
      std::memcpy(y[i].qs + m, &bytes, 8);
    }
    for (int m = 0; m < 16; m += 8) {  // bytes 32..47: elements 160 + m + 16n
      const uint64_t bytes = low_bytes8(pack_trits8(base3_bytes(x + 160 + m, 16, vid)));
      std::memcpy(y[i].qs + 32 + m, &bytes, 8);
    }
    for (int j = 0; j < 4; ++j) {  // qh: 4 trits of elements 240 + j + 4m, shifted up one trit
      uint8_t q = 0;
      for (int m = 0; m < 4; ++m) q = static_cast<uint8_t>(q * 3 + trit_scalar(x[240 + j + 4 * m] * id));
      q = static_cast<uint8_t>(q * 3);
      y[i].qh[j] = static_cast<uint8_t>((static_cast<uint16_t>(q) * 256 + 242) / 243);
    }
  }
}

void quantize_tq2_0(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockTQ2_0*>(dst);
  const __m256i three = _mm256_set1_epi32(3);
  for (int64_t i = 0; i < k / kQK_TQ; ++i, x += kQK_TQ) {
    const float d = absmax_n(x, kQK_TQ);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    for (int j = 0; j < 64; j += 32) {  // byte j + m: elements 128·(j / 32) + m + 32n at bits 2n
      const float* xs = x + 4 * j;
      for (int m = 0; m < 32; m += 8) {
        __m256i q = _mm256_setzero_si256();
        for (int n = 0; n < 4; ++n)
          q = _mm256_add_epi32(q, _mm256_slli_epi32(_mm256_and_si256(trits(xs + m + 32 * n, vid), three), 2 * n));
        const uint64_t bytes = low_bytes8(q);
        std::memcpy(y[i].qs + j + m, &bytes, 8);
      }
    }
  }
}

// ggml's best_index_mxfp4 per lane: the first of the smallest |F[i]·e − x| (strictly smaller replaces).
inline __m256i mxfp4_index(__m256 x, __m256 e) {
  static constexpr int8_t kMXFP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  __m256i best = _mm256_setzero_si256();
  __m256 best_err = abs8(_mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(static_cast<float>(kMXFP4[0])), e), x));
  for (int i = 1; i < 16; ++i) {
    const __m256 err = abs8(_mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(static_cast<float>(kMXFP4[i])), e), x));
    const __m256 smaller = lt(err, best_err);
    best = blendi(best, _mm256_set1_epi32(i), smaller);
    best_err = blend(best_err, err, smaller);
  }
  return best;
}

void quantize_mxfp4(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockMXFP4*>(dst);
  uint8_t levels[kQK];
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float amax = absmax32(x);
    // (uint8) of floor(log2(amax)) − 2 + 127: in range for every finite nonzero amax.
    const float exponent = amax > 0.0f ? __builtin_floorf(__builtin_log2f(amax)) - 2.0f + 127.0f : 0.0f;
    const uint8_t e = static_cast<uint8_t>(static_cast<int32_t>(exponent));
    const __m256 d = _mm256_set1_ps(e8m0_half(e));
    y[i].e = e;
    for (int j = 0; j < kQK; j += 8) {
      const uint64_t bytes = low_bytes8(mxfp4_index(_mm256_loadu_ps(x + j), d));
      std::memcpy(levels + j, &bytes, 8);
    }
    pack_nibbles32_v(levels, y[i].qs);
  }
}

// ---- IQ4_NL (the reference path of ref_misc.cc's quantize_iq4_nl_blocks: ntry 0, weights x²) ----

constexpr int8_t kIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// T[index] for index lanes 0..15 of a 16-entry float table held as two vectors.
inline __m256 lookup16(__m256 lo8, __m256 hi8, __m256i index) {
  const __m256 from_lo = _mm256_permutevar8x32_ps(lo8, index);
  const __m256 from_hi = _mm256_permutevar8x32_ps(hi8, index);
  return _mm256_blendv_ps(from_lo, from_hi, _mm256_castsi256_ps(_mm256_slli_epi32(index, 28)));
}

// ggml's best_index_int8 per lane: 0 at or below T[0], 15 at or above T[15] (and for NaN, where its binary
// search ends), else the upper neighbour mu of the bracket T[mu − 1] <= v < T[mu] unless the lower one is
// strictly nearer. The bracket of an ascending table is the count of entries <= v.
struct IQ4Search {
  __m256 lo8, hi8;
  IQ4Search() {
    alignas(32) float t[16];
    for (int i = 0; i < 16; ++i) t[i] = static_cast<float>(kIQ4NL[i]);
    lo8 = _mm256_load_ps(t);
    hi8 = _mm256_load_ps(t + 8);
  }
  __m256i index(__m256 v) const {
    __m256i mu = _mm256_set1_epi32(1);
    for (int i = 1; i < 15; ++i) {
      const __m256 le = _mm256_cmp_ps(_mm256_set1_ps(static_cast<float>(kIQ4NL[i])), v, _CMP_LE_OQ);
      mu = _mm256_sub_epi32(mu, _mm256_castps_si256(le));
    }
    const __m256i below = _mm256_sub_epi32(mu, _mm256_set1_epi32(1));
    const __m256 lower_nearer =
        lt(_mm256_sub_ps(v, lookup16(lo8, hi8, below)), _mm256_sub_ps(lookup16(lo8, hi8, mu), v));
    __m256i l = blendi(mu, below, lower_nearer);
    l = blendi(l, _mm256_setzero_si256(), _mm256_cmp_ps(v, _mm256_set1_ps(-127.0f), _CMP_LE_OQ));
    const __m256 top =
        _mm256_or_ps(_mm256_cmp_ps(v, _mm256_set1_ps(113.0f), _CMP_GE_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return blendi(l, _mm256_set1_epi32(15), top);
  }
  __m256 value(__m256i l) const { return lookup16(lo8, hi8, l); }
};

// Eight blocks of 32, block g in lane g: the search's two fits, each sum in element order.
void quantize_iq4_nl_lanes(const float* x, BlockIQ4_NL* y, const IQ4Search& search) {
  __m256 xt[kQK];
  for (int j = 0; j < kQK; ++j) xt[j] = gather8(x + j, kQK);
  __m256i L[kQK];
  __m256 tiny;
  const __m256 d = iq4_nl_lanes<Lanes, IQ4Search, kQK>(xt, search, L, &tiny);
  alignas(32) float ds[8];
  alignas(32) int32_t lanes[8];
  _mm256_store_ps(ds, d);
  uint8_t levels[8][kQK];
  for (int j = 0; j < kQK; ++j) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), blendi(L[j], _mm256_set1_epi32(8), tiny));
    for (int g = 0; g < 8; ++g) levels[g][j] = static_cast<uint8_t>(lanes[g]);
  }
  for (int g = 0; g < 8; ++g) {
    y[g].d = fp16(ds[g]);
    pack_nibbles32_v(levels[g], y[g].qs);
  }
}

// Whole groups of eight blocks in lanes; the last k / 32 mod 8 blocks take the reference.
void quantize_iq4_nl(const float* x, uint8_t* dst, int64_t k) {
  auto* y = reinterpret_cast<BlockIQ4_NL*>(dst);
  const int64_t nb = k / kQK;
  const IQ4Search search;
  int64_t i = 0;
  for (; i + 8 <= nb; i += 8) quantize_iq4_nl_lanes(x + i * kQK, y + i, search);
  if (i < nb) kernels_ref.quantize[kSlotIQ4_NL](x + i * kQK, reinterpret_cast<uint8_t*>(y + i), (nb - i) * kQK);
}

// Built at compile time (constexpr: function addresses only), so no code compiled with -mavx2 runs while the
// library loads on a CPU that may lack AVX2. Every type has an AVX2 quantizer and dequantizer.
constexpr Kernels make_avx2_table() {
  Kernels table{};
  Kernels* t = &table;
  t->quantize[kSlotQ4_0] = quantize_q4_0;
  t->quantize[kSlotQ4_1] = quantize_q4_1;
  t->quantize[kSlotQ5_0] = quantize_q5_0;
  t->quantize[kSlotQ5_1] = quantize_q5_1;
  t->quantize[kSlotQ8_0] = quantize_q8_0;
  t->quantize[kSlotQ8_1] = quantize_q8_1;
  t->quantize[kSlotQ8_K] = quantize_q8_K;
  t->quantize[kSlotQ2_K] = quantize_q2_K;
  t->quantize[kSlotQ3_K] = quantize_q3_K;
  t->quantize[kSlotIQ4_NL] = quantize_iq4_nl;
  t->quantize[kSlotTQ1_0] = quantize_tq1_0;
  t->quantize[kSlotTQ2_0] = quantize_tq2_0;
  t->quantize[kSlotMXFP4] = quantize_mxfp4;
  t->quantize[kSlotQ4_K] = quantize_k45<BlockQ4_K, 15>;
  t->quantize[kSlotQ5_K] = quantize_k45<BlockQ5_K, 31>;
  t->quantize[kSlotQ6_K] = quantize_q6_K;
  t->dequantize[kSlotQ4_0] = dequantize_q4_0;
  t->dequantize[kSlotQ4_1] = dequantize_q4_1;
  t->dequantize[kSlotQ5_0] = dequantize_q5<BlockQ5_0, false>;
  t->dequantize[kSlotQ5_1] = dequantize_q5<BlockQ5_1, true>;
  t->dequantize[kSlotQ8_0] = dequantize_q8<BlockQ8_0>;
  t->dequantize[kSlotQ8_1] = dequantize_q8<BlockQ8_1>;
  t->dequantize[kSlotQ2_K] = dequantize_q2_K;
  t->dequantize[kSlotQ3_K] = dequantize_q3_K;
  t->dequantize[kSlotQ4_K] = dequantize_q4_K;
  t->dequantize[kSlotQ5_K] = dequantize_q5_K;
  t->dequantize[kSlotQ6_K] = dequantize_q6_K;
  t->dequantize[kSlotQ8_K] = dequantize_q8_K;
  t->dequantize[kSlotIQ4_NL] = dequantize_iq4_nl;
  t->dequantize[kSlotTQ1_0] = dequantize_tq1_0;
  t->dequantize[kSlotTQ2_0] = dequantize_tq2_0;
  t->dequantize[kSlotMXFP4] = dequantize_mxfp4;
  t->has_non_finite = has_non_finite;
  return table;
}

}  // namespace

constexpr Kernels kernels_avx2 = make_avx2_table();

}  // namespace kq::ggml
