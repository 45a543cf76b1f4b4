// The scalar reference of ggml's K-quants Q4_K, Q5_K, Q6_K and the activation type Q8_K (super-blocks of 256):
// quantize_row_<type>_ref (the reference path, no importance matrix) and dequantize_row_<type>, re-implemented
// from the facts of test/fixtures/ggml/README.md 4 and 5.3 (ggml-quants.c read for the details it leaves out).
// Every float step is a separate binary32 rounding in ggml's order (the build uses -ffp-contract=off).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../../core/half.h"
#include "ggml.h"
#include "kquant_search.h"
#include "kscales.h"
#include "pack.h"

namespace kq::ggml {
namespace {

inline uint16_t fp16(float v) { return f32_to_f16_bits(v); }
inline float fp32(uint16_t h) { return f16_bits_to_f32(h); }

// Shared part of Q4_K / Q5_K: the eight sub-block searches, the 6-bit codes, d / dmin and the levels
// recomputed from the stored values. L receives 256 levels in 0..nmax.
void quantize_superblock_k45(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out, uint16_t* dmin_out,
                             uint8_t* scales_out, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32];
  float mins[8];
  float scales[8];
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep,
                                 false);
  }
  encode_k45_scales(scales, mins, d_out, dmin_out, scales_out);
  const float d_all = fp32(*d_out);
  const float dmin_all = fp32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales_out, &sc, &m);
    const float d = d_all * sc;
    if (d == 0.0f) continue;  // NaN (inf · 0) goes on, as in ggml's `if (!d)`
    const float dm = dmin_all * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(l < 0 ? 0 : (l > nmax ? nmax : l));
    }
  }
}

}  // namespace

void encode_k45_scales(const float* scales, const float* mins, uint16_t* d_out, uint16_t* dmin_out,
                       uint8_t* scales_out) {
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < 8; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  for (int j = 0; j < 8; ++j) {
    uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    set_scale_min_k4(j, ls, lm, scales_out);
  }
  *d_out = fp16(max_scale / 63.0f);
  *dmin_out = fp16(max_min / 63.0f);
}

bool encode_q6_K_scales(const float* scales, BlockQ6_K* y) {
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float abs_scale = std::fabs(scales[ib]);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(y, 0, sizeof(BlockQ6_K));
    return false;
  }
  const float iscale = -128.0f / max_scale;
  y->d = fp16(1 / iscale);
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const int v = nearest_int(iscale * scales[ib]);
    y->scales[ib] = static_cast<int8_t>(v < 127 ? v : 127);
  }
  return true;
}

void quantize_row_q4_K_ref(const float* x, BlockQ4_K* y, int64_t k) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    uint8_t scales[12] = {};
    uint16_t d, dmin;
    quantize_superblock_k45(x, 15, -1.0f, 20, &d, &dmin, scales, L);
    y[i].d = d;
    y[i].dmin = dmin;
    std::memcpy(y[i].scales, scales, 12);
    pack_q4_K_levels(L, y[i].qs);
  }
}

void quantize_row_q5_K_ref(const float* x, BlockQ5_K* y, int64_t k) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    uint8_t scales[12] = {};
    uint16_t d, dmin;
    quantize_superblock_k45(x, 31, -0.5f, 15, &d, &dmin, scales, L);
    y[i].d = d;
    y[i].dmin = dmin;
    std::memcpy(y[i].scales, scales, 12);
    pack_q5_K_levels(L, y[i].qs, y[i].qh);
  }
}

void quantize_q6_K_blocks(const float* x, BlockQ6_K* y, int64_t k, const float* qw) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    for (int ib = 0; ib < kQK_K / 16; ++ib)
      scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qw ? qw + i * kQK_K + 16 * ib : nullptr);
    if (!encode_q6_K_scales(scales, &y[i])) continue;
    const float d_all = fp32(y[i].d);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = d_all * static_cast<float>(y[i].scales[j]);
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int(x[16 * j + ii] / d);
        l = l < -32 ? -32 : (l > 31 ? 31 : l);
        L[16 * j + ii] = static_cast<int8_t>(l + 32);
      }
    }
    pack_q6_K_levels(L, y[i].ql, y[i].qh);
  }
}

void quantize_row_q6_K_ref(const float* x, BlockQ6_K* y, int64_t k) { quantize_q6_K_blocks(x, y, k, nullptr); }

void quantize_row_q8_K_ref(const float* x, BlockQ8_K* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    float max = 0;
    float amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      // ggml leaves bsums unwritten here; zeros (as in the golden files).
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      const int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_row_q4_K(const BlockQ4_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const uint8_t* q = x[i].qs;
    const float d = fp32(x[i].d);
    const float min = fp32(x[i].dmin);
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < kQK_K; j += 64, q += 32, is += 2) {
      get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

void dequantize_row_q5_K(const BlockQ5_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const float d = fp32(x[i].d);
    const float min = fp32(x[i].dmin);
    int is = 0;
    uint8_t sc, m;
    unsigned u1 = 1, u2 = 2;
    for (int j = 0; j < kQK_K; j += 64, ql += 32, is += 2, u1 <<= 2, u2 <<= 2) {
      get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

void dequantize_row_q6_K(const BlockQ6_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const float d = fp32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n = 0; n < kQK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = static_cast<int8_t>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = static_cast<int8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // (d · sc) · q, left to right: the product can exceed 24 significant bits (README 4).
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void dequantize_row_q8_K(const BlockQ8_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const float d = x[i].d;
    for (int j = 0; j < kQK_K; ++j) *y++ = d * x[i].qs[j];
  }
}

}  // namespace kq::ggml
