// The K-quant scale searches of kquant_search.h, and the super-block steps of Q4_K / Q5_K and Q6_K, as
// host/device functions with internal linkage, for the reference (kquant_search.cc and ref_k456.cc) and the
// CUDA kernels (cuda.cu): one source, so both round alike as long as neither contracts to FMA
// (-ffp-contract=off on the host, -fmad=false for CUDA).
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/half.h"
#include "kquant_search.h"
#include "pack.h"

namespace kq::ggml {
namespace {

// make_qx_quants' level: nearest_int clamped to -nmax..nmax - 1.
KQ_HOST_DEVICE inline int qx_level(float v, int nmax) {
  const int l = nearest_int(v);
  return l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
}

KQ_HOST_DEVICE inline float qkx2_search(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                                        float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                                        bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(l < 0 ? 0 : (l > nmax ? nmax : l));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? fabsf(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = l < 0 ? 0 : (l > nmax ? nmax : l);
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const float fl = static_cast<float>(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

KQ_HOST_DEVICE inline float qx_search(int n, int nmax, const float* x, int8_t* L, const float* qw) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = fabsf(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = qx_level(iscale * x[i], nmax);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = qw ? qw[i] : x[i] * x[i];
    const float fl = static_cast<float>(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const float fl = static_cast<float>(qx_level(iscale * x[i], nmax));
      const float w = qw ? qw[i] : x[i] * x[i];
      sumlx += w * x[i] * fl;
      suml2 += w * fl * fl;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + qx_level(iscale * x[i], nmax));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q4_K / Q5_K: the 6-bit scale and min codes of the 8 sub-blocks (codes zeroed by the caller), d and dmin.
KQ_HOST_DEVICE inline void k45_scale_codes(const float* scales, const float* mins, uint16_t* d_out,
                                           uint16_t* dmin_out, uint8_t* codes) {
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
    set_scale_min_k4(j, ls, lm, codes);
  }
  *d_out = f32_to_f16_bits(max_scale / 63.0f);
  *dmin_out = f32_to_f16_bits(max_min / 63.0f);
}

// One Q4_K / Q5_K super-block: the eight sub-block searches, the 6-bit codes (zeroed by the caller), d / dmin
// and the levels recomputed from the stored values. L receives 256 levels in 0..nmax.
KQ_HOST_DEVICE inline void superblock_k45(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out,
                                          uint16_t* dmin_out, uint8_t* codes, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32];
  float mins[8];
  float scales[8];
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = sqrtf(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
    scales[j] = qkx2_search(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
  }
  k45_scale_codes(scales, mins, d_out, dmin_out, codes);
  const float d_all = f16_bits_to_f32(*d_out);
  const float dmin_all = f16_bits_to_f32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, codes, &sc, &m);
    const float d = d_all * sc;
    if (d == 0.0f) continue;  // NaN (inf · 0) goes on, as in ggml's `if (!d)`
    const float dm = dmin_all * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(l < 0 ? 0 : (l > nmax ? nmax : l));
    }
  }
}

// Q6_K: the 8-bit signed codes of the 16 sub-block scales and d. False (nothing written) when the largest
// |scale| is below kGroupMaxEps: the super-block is stored as all zero.
KQ_HOST_DEVICE inline bool q6_K_scale_codes(const float* scales, uint16_t* d_out, int8_t* codes) {
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const float abs_scale = fabsf(scales[ib]);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < kGroupMaxEps) return false;
  const float iscale = -128.0f / max_scale;
  *d_out = f32_to_f16_bits(1 / iscale);
  for (int ib = 0; ib < 16; ++ib) {
    const int v = nearest_int(iscale * scales[ib]);
    codes[ib] = static_cast<int8_t>(v < 127 ? v : 127);
  }
  return true;
}

}  // namespace
}  // namespace kq::ggml
