// The scalar reference of ggml's K-quants Q2_K and Q3_K (super-blocks of 256): quantize_row_<type>_ref (the
// reference path, no importance matrix) and dequantize_row_<type>, re-implemented from the facts of
// test/fixtures/ggml/README.md 4 and 5.3-5.5 (ggml-quants.c read for the details it leaves out). Every float
// step is a separate binary32 rounding in ggml's order (the build uses -ffp-contract=off).
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

inline int clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The "q3" search (make_q3_quants with rmse refinement): stored levels l + nmax in L, returns the scale.
float q3_search(int n, int nmax, const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {  // all zero: levels 0 (not nmax), scale 0
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    const float fl = static_cast<float>(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      if (slx > 0) {
        float sl2 = suml2 - w * li * li;
        const int new_l = clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (new_l != L[i]) {
          const float fn = static_cast<float>(new_l);
          slx += w * x[i] * fn;
          sl2 += w * fn * fn;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return sumlx / suml2;
}

// Two halves of 128: element 128h + 32s + l is bits 2s..2s+1 of byte 32h + l (L holds values 0..3).
template <typename T>
void pack_2bit(const T* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                            (L[j + l + 96] << 6));
}

// Q2_K's last steps: levels recomputed from the stored d, dmin and codes (a sub-block whose d' is 0 keeps the
// search levels), then packed.
void q2_K_requantize_pack(const float* x, uint8_t* L, BlockQ2_K* y) {
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = fp32(y->d) * static_cast<float>(y->scales[j] & 0xF);
    if (!d) continue;
    const float dm = fp32(y->dmin) * static_cast<float>(y->scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = static_cast<uint8_t>(clamp(nearest_int((x[16 * j + ii] + dm) / d), 0, 3));
  }
  pack_2bit(L, y->qs);
}

// Q3_K's last steps: levels recomputed from the stored d and codes, the high bits into hmask (element j: bit
// j / 32 of byte j mod 32), the low two bits packed.
void q3_K_requantize_pack(const float* x, int8_t* L, BlockQ3_K* y) {
  for (int j = 0; j < kQK_K / 16; ++j) {
    const int sc = q3_scale_code(y->scales, j) - 32;
    const float d = fp32(y->d) * static_cast<float>(sc);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii)
      L[16 * j + ii] = static_cast<int8_t>(clamp(nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
  }
  std::memset(y->hmask, 0, kQK_K / 8);
  for (int j = 0; j < kQK_K; ++j) {
    if (L[j] > 3) {
      y->hmask[j % 32] = static_cast<uint8_t>(y->hmask[j % 32] | (1 << (j / 32)));
      L[j] = static_cast<int8_t>(L[j] - 4);
    }
  }
  pack_2bit(L, y->qs);
}

}  // namespace

void encode_q2_K_scales(const float* scales, const float* mins, BlockQ2_K* y) {
  const float q4scale = 15.0f;
  float max_scale = 0;  // the min is subtracted, so scales are never negative
  float max_min = 0;
  for (int j = 0; j < kQK_K / 16; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < kQK_K / 16; ++j) y->scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    y->d = fp16(max_scale / q4scale);
  } else {
    for (int j = 0; j < kQK_K / 16; ++j) y->scales[j] = 0;
    y->d = fp16(0.0f);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < kQK_K / 16; ++j) {
      const int l = nearest_int(iscale * mins[j]);
      y->scales[j] = static_cast<uint8_t>(y->scales[j] | (l << 4));
    }
    y->dmin = fp16(max_min / q4scale);
  } else {
    y->dmin = fp16(0.0f);
  }
}

void quantize_row_q2_K_ref(const float* x, BlockQ2_K* y, int64_t k) {
  uint8_t L[kQK_K];
  uint8_t Laux[16];
  float weights[16];
  float mins[kQK_K / 16];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    for (int j = 0; j < kQK_K / 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
    }
    encode_q2_K_scales(scales, mins, &y[i]);
    q2_K_requantize_pack(x, L, &y[i]);
  }
}

void encode_q3_K_scales(const float* scales, BlockQ3_K* y) {
  float max_scale = 0;
  float amax = 0;
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float scale = std::fabs(scales[j]);
    if (scale > amax) {
      amax = scale;
      max_scale = scales[j];
    }
  }
  std::memset(y->scales, 0, 12);
  if (max_scale != 0.0f) {
    const float iscale = -32.0f / max_scale;
    for (int j = 0; j < kQK_K / 16; ++j) {
      // ggml keeps nearest_int's result in an int8_t before clamping.
      int l = static_cast<int8_t>(static_cast<uint8_t>(nearest_int(iscale * scales[j]) & 0xff));
      set_q3_scale_code(y->scales, j, clamp(l, -32, 31) + 32);
    }
    y->d = fp16(1 / iscale);
  } else {
    y->d = fp16(0.0f);
  }
}

void quantize_row_q3_K_ref(const float* x, BlockQ3_K* y, int64_t k) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    for (int j = 0; j < kQK_K / 16; ++j) scales[j] = q3_search(16, 4, x + 16 * j, L + 16 * j);
    encode_q3_K_scales(scales, &y[i]);
    q3_K_requantize_pack(x, L, &y[i]);
  }
}

void quantize_q2_K_weighted(const float* x, BlockQ2_K* y, int64_t k, const float* qw) {
  uint8_t L[kQK_K], Laux[16], Ls[kQK_K / 16], Lm[kQK_K / 16];
  float weight[16], mins[kQK_K / 16], scales[kQK_K / 16], sw[kQK_K / 16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    float sumx2 = 0;
    for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = sumx2 / kQK_K;
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float* w = qw + i * kQK_K + 16 * j;
      for (int l = 0; l < 16; ++l) weight[l] = w[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      sw[j] = 0;
      for (int l = 0; l < 16; ++l) sw[j] += weight[l];
      scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    y[i].d = fp16(make_qp_quants(kQK_K / 16, 15, scales, Ls, sw));
    y[i].dmin = fp16(make_qp_quants(kQK_K / 16, 15, mins, Lm, sw));
    for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    q2_K_requantize_pack(x, L, &y[i]);
  }
}

void quantize_q3_K_weighted(const float* x, BlockQ3_K* y, int64_t k, const float* qw) {
  int8_t L[kQK_K], Ls[kQK_K / 16];
  float weight[16], scales[kQK_K / 16], sw[kQK_K / 16];
  for (int64_t i = 0; i < k / kQK_K; ++i, x += kQK_K) {
    float sumx2 = 0;
    for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = 2 * sumx2 / kQK_K;
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float* w = qw + i * kQK_K + 16 * j;
      for (int l = 0; l < 16; ++l) weight[l] = w[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 16; ++l) sumw += weight[l];
      sw[j] = sumw;
      scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, weight);
    }
    std::memset(y[i].scales, 0, 12);
    const float d_block = make_qx_quants(kQK_K / 16, 32, scales, Ls, sw);
    for (int j = 0; j < kQK_K / 16; ++j) set_q3_scale_code(y[i].scales, j, Ls[j]);
    y[i].d = fp16(d_block);
    q3_K_requantize_pack(x, L, &y[i]);
  }
}

void dequantize_row_q2_K(const BlockQ2_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const float d = fp32(x[i].d);
    const float min = fp32(x[i].dmin);
    for (int j = 0; j < kQK_K; ++j) {
      const uint8_t sc = x[i].scales[j / 16];
      const float dl = d * static_cast<float>(sc & 0xF);
      const float ml = min * static_cast<float>(sc >> 4);
      const int q = (x[i].qs[(j / 128) * 32 + j % 32] >> (2 * ((j % 128) / 32))) & 3;
      *y++ = dl * static_cast<float>(q) - ml;
    }
  }
}

void dequantize_row_q3_K(const BlockQ3_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK_K; ++i) {
    const float d_all = fp32(x[i].d);
    for (int j = 0; j < kQK_K; ++j) {
      const float dl = d_all * static_cast<float>(q3_scale_code(x[i].scales, j / 16) - 32);
      const int low = (x[i].qs[(j / 128) * 32 + j % 32] >> (2 * ((j % 128) / 32))) & 3;
      const int high = (x[i].hmask[j % 32] >> (j / 32)) & 1;
      *y++ = dl * static_cast<float>(low - (high ? 0 : 4));
    }
  }
}

}  // namespace kq::ggml
