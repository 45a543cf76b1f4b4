// The scale searches of kquant_search.h.
#include <cmath>

#include "kquant_search.h"
#include "kquant_search_hd.h"

namespace kq::ggml {

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  return qkx2_search(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad);
}

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw) {
  return qx_search(n, nmax, x, L, qw);
}

float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* qw) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const auto error_of = [&](float iscale_try, bool cap) {
    const float scale_try = 1 / iscale_try;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale_try * x[i]);
      if (cap && l > nmax) l = nmax;
      const float diff = x[i] - scale_try * static_cast<float>(l);
      mse += qw[i] * diff * diff;
    }
    return mse;
  };
  // The first candidate's levels are not capped at nmax (as in ggml); the others are.
  float iscale = static_cast<float>(nmax) / max;
  float best_mse = error_of(iscale, false);
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * static_cast<float>(is) + static_cast<float>(nmax)) / max;
    const float mse = error_of(iscale_is, true);
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = l < nmax ? l : nmax;
    L[i] = static_cast<uint8_t>(l);
    const float fl = static_cast<float>(l);
    sumlx += qw[i] * x[i] * fl;
    suml2 += qw[i] * fl * fl;
  }
  // Coordinate passes: move one level at a time where that raises (Σw·x·l)² / Σw·l².
  for (int itry = 0; itry < 5; ++itry) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = qw[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      float sl2 = suml2 - w * li * li;
      if (slx > 0 && sl2 > 0) {
        int new_l = nearest_int(x[i] * sl2 / slx);
        new_l = new_l < nmax ? new_l : nmax;
        if (new_l != L[i]) {
          const float fl = static_cast<float>(new_l);
          slx += w * x[i] * fl;
          sl2 += w * fl * fl;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace kq::ggml
