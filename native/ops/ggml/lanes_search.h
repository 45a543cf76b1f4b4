// K-quant searches written once over a lane type, for the SIMD files: avx2.cc instantiates them with its 8-lane
// traits, avx512.cc with its 16-lane ones (struct Lanes there: F / I / M, the float, int32 and mask vectors, and
// the few operations below that differ between the two instruction sets). Float arithmetic is plain vector
// + − × ÷, one binary32 rounding each (the files build with -ffp-contract=off), in the reference's order.
// Internal linkage: each ISA file gets its own copy, and none can stand in for another's (see avx2.cc).
#pragma once
#include <cstdint>

#include "kscales.h"
#include "pack.h"

namespace kq::ggml {
namespace {

// ggml's make_qkx2_quants (kquant_search.cc) for one group per lane: xt[i] / wt[i] hold element i of every
// group, L[i] receives the levels. Every lane runs the scalar sequence; each `if` of the reference becomes a
// mask, and lanes whose branch the reference would not take keep their values.
template <class V, int N>
void qkx2_lanes(const typename V::F* xt, const typename V::F* wt, int nmax, float rmin, float rdelta, int nstep,
                bool use_mad, typename V::I* L, typename V::F* scale_out, typename V::F* the_min_out) {
  using F = typename V::F;
  using I = typename V::I;
  using M = typename V::M;
  const F zero = V::zero();
  F min = xt[0], max = xt[0];
  F sum_w = wt[0];
  F sum_x = sum_w * xt[0];
  for (int i = 1; i < N; ++i) {
    min = V::sel(min, xt[i], V::lt(xt[i], min));
    max = V::sel(max, xt[i], V::gt(xt[i], max));
    sum_w = sum_w + wt[i];
    sum_x = sum_x + wt[i] * xt[i];
  }
  min = V::sel(min, zero, V::gt(min, zero));
  const M flat = V::eq(max, min);  // the reference returns early: L = 0, scale 0
  const F flat_min = min;
  const auto error_term = [use_mad](F diff, F w) {
    diff = use_mad ? V::abs(diff) : diff * diff;
    return w * diff;
  };
  F iscale = V::set1(static_cast<float>(nmax)) / (max - min);
  F scale = V::set1(1.0f) / iscale;
  F best_error = zero;
  for (int i = 0; i < N; ++i) {
    L[i] = V::level(iscale * (xt[i] - min), 0, nmax);
    const F diff = (scale * V::to_f32(L[i]) + min) - xt[i];
    best_error = best_error + error_term(diff, wt[i]);
  }
  I Laux[N];
  for (int is = 0; is <= nstep; ++is) {
    const float numerator = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
    // min moves when a candidate wins, and the reference divides by the current max − min.
    iscale = V::set1(numerator) / (max - min);
    F sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < N; ++i) {
      Laux[i] = V::level(iscale * (xt[i] - min), 0, nmax);
      const F fl = V::to_f32(Laux[i]);
      const F wl = wt[i] * fl;
      sum_l = sum_l + wl;
      sum_l2 = sum_l2 + wl * fl;
      sum_xl = sum_xl + wl * xt[i];
    }
    const F D = sum_w * sum_l2 - sum_l * sum_l;
    F this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    F this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    const M positive = V::gt(this_min, zero);
    this_min = V::sel(this_min, zero, positive);
    this_scale = V::sel(this_scale, sum_xl / sum_l2, positive);
    F cur_error = zero;
    for (int i = 0; i < N; ++i) {
      const F diff = (this_scale * V::to_f32(Laux[i]) + this_min) - xt[i];
      cur_error = cur_error + error_term(diff, wt[i]);
    }
    const M take = V::both(V::gt(D, zero), V::lt(cur_error, best_error));
    if (V::none(take)) continue;
    for (int i = 0; i < N; ++i) L[i] = V::seli(L[i], Laux[i], take);
    best_error = V::sel(best_error, cur_error, take);
    scale = V::sel(scale, this_scale, take);
    min = V::sel(min, this_min, take);
  }
  for (int i = 0; i < N; ++i) L[i] = V::seli(L[i], V::zeroi(), flat);
  *scale_out = V::sel(scale, zero, flat);
  *the_min_out = V::negate(V::sel(min, flat_min, flat));
}

// The searches' start, lane by lane over n rows: *max = the value of largest magnitude (the first on ties, as
// the reference's `ax > amax`); returns the lanes whose largest |x| is below GROUP_MAX_EPS (1e-15).
template <class V>
typename V::M signed_max_lanes(const typename V::F* xt, int n, typename V::F* max_out) {
  using F = typename V::F;
  F max = V::zero(), amax = V::zero();
  for (int i = 0; i < n; ++i) {
    const F ax = V::abs(xt[i]);
    const typename V::M larger = V::gt(ax, amax);
    amax = V::sel(amax, ax, larger);
    max = V::sel(max, xt[i], larger);
  }
  *max_out = max;
  return V::lt(amax, V::set1(1e-15f));
}

// The signed searches' first fit over 16 rows: *max and the returned tiny lanes of signed_max_lanes, levels
// l of iscale = −nmax / max in L (unshifted), w = x², wx = w·x (the reference's w · x[i], the first product of
// w · x[i] · l), Σ w·x·l and Σ w·l² in element order.
template <class V>
typename V::M signed_first_fit(const typename V::F* xt, int nmax, typename V::F* max, typename V::I* L,
                               typename V::F* w, typename V::F* wx, typename V::F* sumlx, typename V::F* suml2) {
  using F = typename V::F;
  const typename V::M tiny = signed_max_lanes<V>(xt, 16, max);
  const F iscale = V::set1(static_cast<float>(-nmax)) / *max;
  F slx = V::zero(), sl2 = V::zero();
  for (int i = 0; i < 16; ++i) {
    L[i] = V::level(iscale * xt[i], -nmax, nmax - 1);
    w[i] = xt[i] * xt[i];
    wx[i] = w[i] * xt[i];
    const F fl = V::to_f32(L[i]);
    slx = slx + wx[i] * fl;
    sl2 = sl2 + (w[i] * fl) * fl;
  }
  *sumlx = slx;
  *suml2 = sl2;
  return tiny;
}

// ggml's make_qx_quants with rmse_type 1 and no weights (w = x²), for one group of 16 per lane. Levels are
// stored as l + nmax in L; returns the scales.
template <class V>
typename V::F qx_lanes(const typename V::F* xt, int nmax, typename V::I* L) {
  using F = typename V::F;
  using I = typename V::I;
  using M = typename V::M;
  const F zero = V::zero();
  F max, w[16], wx[16], sumlx, suml2;
  const M tiny = signed_first_fit<V>(xt, nmax, &max, L, w, wx, &sumlx, &suml2);
  for (int i = 0; i < 16; ++i) L[i] = V::addi(L[i], nmax);
  F scale = V::sel(zero, sumlx / suml2, V::neq(suml2, zero));
  F best = scale * sumlx;
  I Laux[16];
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const F iscale = V::set1(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(is))) / max;
    sumlx = suml2 = zero;
    for (int i = 0; i < 16; ++i) {
      Laux[i] = V::level(iscale * xt[i], -nmax, nmax - 1);
      const F fl = V::to_f32(Laux[i]);
      sumlx = sumlx + wx[i] * fl;
      suml2 = suml2 + (w[i] * fl) * fl;
    }
    const M better = V::both(V::gt(suml2, zero), V::gt(sumlx * sumlx, best * suml2));
    if (V::none(better)) continue;
    for (int i = 0; i < 16; ++i) L[i] = V::seli(L[i], V::addi(Laux[i], nmax), better);
    const F new_scale = sumlx / suml2;
    scale = V::sel(scale, new_scale, better);
    best = V::sel(best, new_scale * sumlx, better);
  }
  for (int i = 0; i < 16; ++i) L[i] = V::seli(L[i], V::zeroi(), tiny);
  return V::sel(scale, zero, tiny);
}

// ref_k23.cc's q3_search (make_q3_quants with its rmse refinement, w = x²) for one group of 16 per lane;
// levels l + nmax in L, returns the scales. The refinement visits the elements in order, updating each lane
// where the reference would. A lane whose pass changes nothing stays unchanged on every later pass (its state
// is the same, so are its decisions), so running passes until no lane changes equals the reference's break.
template <class V>
typename V::F q3_lanes(const typename V::F* xt, int nmax, typename V::I* L) {
  using F = typename V::F;
  using I = typename V::I;
  using M = typename V::M;
  const F zero = V::zero();
  F max, w[16], wx[16], sumlx, suml2;
  const M tiny = signed_first_fit<V>(xt, nmax, &max, L, w, wx, &sumlx, &suml2);
  for (int itry = 0; itry < 5; ++itry) {
    M changed = V::nomask();
    for (int i = 0; i < 16; ++i) {
      const F li = V::to_f32(L[i]);
      F slx = sumlx - wx[i] * li;
      const M positive = V::gt(slx, zero);
      F sl2 = suml2 - (w[i] * li) * li;
      const I new_l = V::level((xt[i] * sl2) / slx, -nmax, nmax - 1);
      const M differs = V::neqi(new_l, L[i]);
      const F fn = V::to_f32(new_l);
      slx = slx + wx[i] * fn;
      sl2 = sl2 + (w[i] * fn) * fn;
      const M better = V::gt((slx * slx) * suml2, (sumlx * sumlx) * sl2);
      const M take = V::both(V::both(positive, differs), V::both(V::gt(sl2, zero), better));
      L[i] = V::seli(L[i], new_l, take);
      sumlx = V::sel(sumlx, slx, take);
      suml2 = V::sel(suml2, sl2, take);
      changed = V::either(changed, take);
    }
    if (V::none(V::but_not(changed, tiny))) break;
  }
  for (int i = 0; i < 16; ++i) L[i] = V::seli(V::addi(L[i], nmax), V::zeroi(), tiny);
  return V::sel(sumlx / suml2, zero, tiny);
}

// ref_misc.cc's IQ4_NL search on its reference path (ntry 0, weights x²) for one block of N per lane: xt[j]
// holds element j, search.index / search.value are the ISA's table lookups. The first fit's levels go to L;
// returns the scales d, 0 in the lanes of a block below GROUP_MAX_EPS (those lanes in *tiny_out).
template <class V, class Search, int N>
typename V::F iq4_nl_lanes(const typename V::F* xt, const Search& search, typename V::I* L,
                           typename V::M* tiny_out) {
  using F = typename V::F;
  using M = typename V::M;
  F w[N];
  for (int j = 0; j < N; ++j) w[j] = xt[j] * xt[j];
  F max;
  const M tiny = signed_max_lanes<V>(xt, N, &max);
  const F zero = V::zero();
  const auto fit = [&](F id, F* sumqx, F* sumq2, bool store) {
    *sumqx = *sumq2 = zero;
    for (int j = 0; j < N; ++j) {
      const auto l = search.index(id * xt[j]);
      if (store) L[j] = l;
      const F q = search.value(l);
      const F wq = w[j] * q;
      *sumqx = *sumqx + wq * xt[j];
      *sumq2 = *sumq2 + wq * q;
    }
  };
  const F d0 = max / V::set1(-127.0f);
  F sumqx, sumq2;
  fit(V::set1(1.0f) / d0, &sumqx, &sumq2, true);
  F d = V::sel(zero, sumqx / sumq2, V::gt(sumq2, zero));
  const F best = d * sumqx;
  fit(V::set1(-127.0f) / max, &sumqx, &sumq2, false);  // itry = 0: (0 + T[0]) / max
  const M better = V::both(V::gt(sumq2, zero), V::gt(sumqx * sumqx, best * sumq2));
  d = V::sel(d, sumqx / sumq2, better);
  *tiny_out = tiny;
  return V::sel(d, zero, tiny);
}

// Q4_K / Q5_K's search weights for one sub-block of 32 per lane: av_x + |x| with av_x = sqrt(Σx² / 32).
template <class V>
void k45_weights_lanes(const typename V::F* xt, typename V::F* wt) {
  using F = typename V::F;
  F sum_x2 = V::zero();
  for (int l = 0; l < 32; ++l) sum_x2 = sum_x2 + xt[l] * xt[l];
  const F av_x = V::sqrt(sum_x2 / V::set1(32.0f));
  for (int l = 0; l < 32; ++l) wt[l] = av_x + V::abs(xt[l]);
}

// The end of ref_k456.cc's quantize_superblock_k45 for one super-block: 6-bit scale and min codes from its 8
// searches (codes zeroed by the caller), d / dmin, and the levels recomputed from the stored values, V::kWidth
// elements at a time (L holds the search levels).
template <class V>
void finish_superblock_k45(const float* x, int nmax, const float* scales, const float* mins, uint16_t* d_out,
                           uint16_t* dmin_out, uint8_t* codes, uint8_t* L) {
  using F = typename V::F;
  encode_k45_scales(scales, mins, d_out, dmin_out, codes);
  const float d_all = V::fp32(*d_out);
  const float dmin_all = V::fp32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, codes, &sc, &m);
    const float d = d_all * sc;
    if (d == 0.0f) continue;
    const F vd = V::set1(d);
    const F dm = V::set1(dmin_all * m);
    for (int ii = 0; ii < 32; ii += V::kWidth)
      V::store_levels(L + 32 * j + ii, V::level((V::load(x + 32 * j + ii) + dm) / vd, 0, nmax));
  }
}

}  // namespace
}  // namespace kq::ggml
