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
#include "kquant_search_hd.h"
#include "kscales.h"
#include "pack.h"

namespace kq::ggml {
namespace {

inline uint16_t fp16(float v) { return f32_to_f16_bits(v); }
inline float fp32(uint16_t h) { return f16_bits_to_f32(h); }

}  // namespace

void encode_k45_scales(const float* scales, const float* mins, uint16_t* d_out, uint16_t* dmin_out,
                       uint8_t* scales_out) {
  k45_scale_codes(scales, mins, d_out, dmin_out, scales_out);
}

bool encode_q6_K_scales(const float* scales, BlockQ6_K* y) {
  uint16_t d;
  if (!q6_K_scale_codes(scales, &d, y->scales)) {
    std::memset(y, 0, sizeof(BlockQ6_K));
    return false;
  }
  y->d = d;
  return true;
}

void quantize_row_q4_K_ref(const float* x, BlockQ4_K* y, int64_t k) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    uint8_t scales[12] = {};
    uint16_t d, dmin;
    superblock_k45(x, 15, -1.0f, 20, &d, &dmin, scales, L);
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
    superblock_k45(x, 31, -0.5f, 15, &d, &dmin, scales, L);
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
