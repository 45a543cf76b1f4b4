// The scalar reference of ggml's ternary and non-linear 4-bit types: TQ1_0, TQ2_0 (BitNet b1.58), IQ4_NL and
// MXFP4 — ggml's quantize_row_<type>_ref / dequantize_row_<type>, re-implemented from the facts of
// test/fixtures/ggml/README.md sections 4, 5.1, 5.4 and 5.6 (ggml-quants.c read for the details the README
// leaves out). Every float step is a separate binary32 rounding in ggml's order (the build has no FMA).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../../core/half.h"
#include "ggml.h"
#include "kquant_search.h"

namespace kq::ggml {
namespace {

inline uint16_t fp16(float v) { return f32_to_f16_bits(v); }
inline float fp32(uint16_t h) { return f16_bits_to_f32(h); }

// lroundf (half away from zero) as x86 glibc gives it, narrowed to int as ggml's `int xi = lroundf(...)` does:
// NaN and values out of long range give LONG_MIN, whose low 32 bits are 0. With finite input that only happens
// when a subnormal amax's reciprocal overflows to inf; emulated so it is defined, not UB.
inline int lround_int(float v) {
  if (!(v > -9.2233720368547758e18f && v < 9.2233720368547758e18f)) return 0;
  return static_cast<int>(static_cast<long long>(std::round(v)));
}

// (uint8_t) of a float on x86: truncating conversion to int32 (0x80000000 when out of range), low byte kept.
inline uint8_t to_u8(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return 0;
  return static_cast<uint8_t>(static_cast<int32_t>(v) & 0xff);
}

// max |x| over n values (ggml's MAX macro: amax > |v| ? amax : |v|).
inline float absmax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  return amax;
}

// Ternary level 0/1/2 of x·id (−1/0/+1 plus one).
inline int trit(float x, float id) { return lround_int(x * id) + 1; }

// A byte of base-3 trits scaled to ⌈q·256/243⌉ (ggml's ceiling division).
inline uint8_t pack_trits(uint8_t q) { return static_cast<uint8_t>((static_cast<uint16_t>(q) * 256 + 242) / 243); }

// Trit n of a packed byte: ((byte·3^n mod 256)·3) >> 8.
inline int unpack_trit(uint8_t byte, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = static_cast<uint8_t>(byte * kPow3[n]);
  return (static_cast<uint16_t>(q) * 3) >> 8;
}

constexpr int8_t kIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
constexpr int8_t kMXFP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// ggml's best_index_int8: binary search of the sorted table, the upper neighbour on equal distances.
inline int best_index_int8(const int8_t* val, float x) {
  if (x <= val[0]) return 0;
  if (x >= val[15]) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav])
      mu = mav;
    else
      ml = mav;
  }
  return x - static_cast<float>(val[mu - 1]) < static_cast<float>(val[mu]) - x ? mu - 1 : mu;
}

// E8M0 exponent e as the "half" scale 2^(e − 128) (ggml's GGML_E8M0_TO_FP32_HALF).
inline float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// ggml's best_index_mxfp4: linear scan, the first (lowest index) of equal errors.
inline int best_index_mxfp4(float x, float e) {
  int best = 0;
  float best_err = std::fabs(static_cast<float>(kMXFP4[0]) * e - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(static_cast<float>(kMXFP4[i]) * e - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

}  // namespace

void quantize_row_tq1_0_ref(const float* x, BlockTQ1_0* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_TQ; ++i) {
    const float d = absmax(x, kQK_TQ);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    // 5 trits per byte: bytes 0..31 take elements 32n + m, bytes 32..47 take 160 + 16n + m.
    for (int m = 0; m < 32; ++m) {
      uint8_t q = 0;
      for (int n = 0; n < 5; ++n) q = static_cast<uint8_t>(q * 3 + trit(x[m + n * 32], id));
      y[i].qs[m] = pack_trits(q);
    }
    x += 160;
    for (int m = 0; m < 16; ++m) {
      uint8_t q = 0;
      for (int n = 0; n < 5; ++n) q = static_cast<uint8_t>(q * 3 + trit(x[m + n * 16], id));
      y[i].qs[32 + m] = pack_trits(q);
    }
    x += 80;
    // 4 trits per byte, shifted up one trit so the first is the most significant.
    for (int j = 0; j < 4; ++j) {
      uint8_t q = 0;
      for (int m = 0; m < 4; ++m) q = static_cast<uint8_t>(q * 3 + trit(x[j + m * 4], id));
      y[i].qh[j] = pack_trits(static_cast<uint8_t>(q * 3));
    }
    x += 16;
  }
}

void dequantize_row_tq1_0(const BlockTQ1_0* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_TQ; ++i) {
    const float d = fp32(x[i].d);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(unpack_trit(x[i].qs[m], n) - 1) * d;
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 16; ++m) *y++ = static_cast<float>(unpack_trit(x[i].qs[32 + m], n) - 1) * d;
    for (int n = 0; n < 4; ++n)
      for (int j = 0; j < 4; ++j) *y++ = static_cast<float>(unpack_trit(x[i].qh[j], n) - 1) * d;
  }
}

void quantize_row_tq2_0_ref(const float* x, BlockTQ2_0* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_TQ; ++i) {
    const float d = absmax(x, kQK_TQ);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    for (int j = 0; j < 64; j += 32) {
      for (int m = 0; m < 32; ++m) {
        uint8_t q = 0;
        for (int n = 0; n < 4; ++n) q = static_cast<uint8_t>(q + ((trit(x[m + n * 32], id) & 3) << (2 * n)));
        y[i].qs[j + m] = q;
      }
      x += 128;
    }
  }
}

void dequantize_row_tq2_0(const BlockTQ2_0* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_TQ; ++i) {
    const float d = fp32(x[i].d);
    for (int j = 0; j < 64; j += 32)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((x[i].qs[j + m] >> (2 * l)) & 3) - 1) * d;
  }
}

void quantize_iq4_nl_blocks(const float* x, BlockIQ4_NL* y, int64_t k, const float* qw, int ntry) {
  // With ntry = 0 (the reference path) ggml keeps the levels of the previous block for a near-zero block (and
  // reads uninitialised memory for the first block of a call; README 5.6), so those nibbles are unspecified:
  // here they are index 8, what the chunk path (ntry 7) stores, so the bytes never depend on how blocks split.
  uint8_t L[kQK];
  float weight[kQK];
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    float sigma2 = 0.0f;
    for (int j = 0; j < kQK; ++j) sigma2 += x[j] * x[j];
    sigma2 *= 2.0f / kQK;
    for (int j = 0; j < kQK; ++j)
      weight[j] = qw ? qw[i * kQK + j] * std::sqrt(sigma2 + x[j] * x[j]) : x[j] * x[j];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    // Σw·q·x and Σw·q² of the levels an inverse scale picks (L written when asked).
    const auto fit = [&](float id, float* sumqx, float* sumq2, bool store) {
      *sumqx = *sumq2 = 0.0f;
      for (int j = 0; j < kQK; ++j) {
        const int l = best_index_int8(kIQ4NL, id * x[j]);
        if (store) L[j] = static_cast<uint8_t>(l);
        const float q = static_cast<float>(kIQ4NL[l]);
        *sumqx += weight[j] * q * x[j];
        *sumq2 += weight[j] * q * q;
      }
    };
    float d = 0.0f;
    if (amax < kGroupMaxEps) {
      std::memset(L, 8, sizeof L);
    } else {
      const float d0 = ntry > 0 ? -max / static_cast<float>(kIQ4NL[0]) : max / static_cast<float>(kIQ4NL[0]);
      float sumqx, sumq2;
      fit(1.0f / d0, &sumqx, &sumq2, true);
      d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
      float best = d * sumqx;
      for (int itry = -ntry; itry <= ntry; ++itry) {
        fit(static_cast<float>(itry + kIQ4NL[0]) / max, &sumqx, &sumq2, false);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
          d = sumqx / sumq2;
          best = d * sumqx;
        }
      }
    }
    y[i].d = fp16(d);
    if (ntry > 0) {
      // The chunk path re-derives every level from the chosen float scale.
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      for (int j = 0; j < kQK; ++j) L[j] = static_cast<uint8_t>(best_index_int8(kIQ4NL, id * x[j]));
    }
    for (int j = 0; j < kQK / 2; ++j) y[i].qs[j] = static_cast<uint8_t>(L[j] | L[j + kQK / 2] << 4);
  }
}

void quantize_row_iq4_nl_ref(const float* x, BlockIQ4_NL* y, int64_t k) { quantize_iq4_nl_blocks(x, y, k, nullptr, 0); }

void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const float d = fp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * static_cast<float>(kIQ4NL[x[i].qs[j] & 0x0f]);
      y[j + kQK / 2] = d * static_cast<float>(kIQ4NL[x[i].qs[j] >> 4]);
    }
  }
}

void quantize_row_mxfp4_ref(const float* x, BlockMXFP4* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j)
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
    const uint8_t e = amax > 0.0f ? to_u8(std::floor(std::log2(amax)) - 2.0f + 127.0f) : 0;
    const float d = e8m0_half(e);
    y[i].e = e;
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = best_index_mxfp4(x[j], d);
      const int x1 = best_index_mxfp4(x[j + kQK / 2], d);
      y[i].qs[j] = static_cast<uint8_t>(x0 | x1 << 4);
    }
  }
}

void dequantize_row_mxfp4(const BlockMXFP4* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const float d = e8m0_half(x[i].e);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>(kMXFP4[x[i].qs[j] & 0x0f]) * d;
      y[j + kQK / 2] = static_cast<float>(kMXFP4[x[i].qs[j] >> 4]) * d;
    }
  }
}

bool quantize_row_misc(Type type, const float* x, uint8_t* y, int64_t k) {
  switch (type) {
    case Type::tq1_0: quantize_row_tq1_0_ref(x, reinterpret_cast<BlockTQ1_0*>(y), k); return true;
    case Type::tq2_0: quantize_row_tq2_0_ref(x, reinterpret_cast<BlockTQ2_0*>(y), k); return true;
    case Type::iq4_nl: quantize_row_iq4_nl_ref(x, reinterpret_cast<BlockIQ4_NL*>(y), k); return true;
    case Type::mxfp4: quantize_row_mxfp4_ref(x, reinterpret_cast<BlockMXFP4*>(y), k); return true;
    default: return false;
  }
}

bool dequantize_row_misc(Type type, const uint8_t* x, float* y, int64_t k) {
  switch (type) {
    case Type::tq1_0: dequantize_row_tq1_0(reinterpret_cast<const BlockTQ1_0*>(x), y, k); return true;
    case Type::tq2_0: dequantize_row_tq2_0(reinterpret_cast<const BlockTQ2_0*>(x), y, k); return true;
    case Type::iq4_nl: dequantize_row_iq4_nl(reinterpret_cast<const BlockIQ4_NL*>(x), y, k); return true;
    case Type::mxfp4: dequantize_row_mxfp4(reinterpret_cast<const BlockMXFP4*>(x), y, k); return true;
    default: return false;
  }
}

}  // namespace kq::ggml
