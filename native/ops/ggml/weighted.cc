// ggml_quantize_chunk's importance-matrix paths (README 5.2, 5.3, 5.6; ggml-quants.c quantize_row_*_impl at
// commit d99724f read for the details): the same block layouts, with the scale searches weighted by the
// caller's per-column importance (an imatrix) times sqrt(σ² + x²). Without an imatrix the chunk path equals the
// reference for every type here except IQ4_NL, whose chunk path searches 15 scales.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "../../core/half.h"
#include "ggml.h"
#include "kquant_search.h"
#include "pack.h"

namespace kq::ggml {
namespace {

inline uint16_t fp16(float v) { return f32_to_f16_bits(v); }
inline float fp32(uint16_t h) { return f16_bits_to_f32(h); }

// Mean of x² over a whole row (the legacy types' σ²), in ggml's summation order.
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

void block_weights(const float* xb, const float* qw, float sigma2, int n, float* weight) {
  for (int j = 0; j < n; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// Q4_0 / Q5_0: the signed "qx" search per block (nmax 8 / 16).
template <typename Block>
void legacy_symmetric(const float* x, Block* y, int64_t n, const float* qw, int nmax) {
  const float sigma2 = row_sigma2(x, n);
  float weight[kQK];
  int8_t L[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    block_weights(xb, qw + kQK * ib, sigma2, kQK, weight);
    y[ib].d = fp16(make_qx_quants(kQK, nmax, xb, L, weight));
    if constexpr (std::is_same_v<Block, BlockQ5_0>)
      pack_q5_32(reinterpret_cast<const uint8_t*>(L), y[ib].qs, y[ib].qh);
    else
      pack_nibbles32(reinterpret_cast<const uint8_t*>(L), y[ib].qs);
  }
}

// Q4_1 / Q5_1: the min/scale search with ggml's "qkx3" settings per block (nmax 15 / 31).
template <typename Block>
void legacy_affine(const float* x, Block* y, int64_t n, const float* qw, int nmax) {
  const float sigma2 = row_sigma2(x, n);
  float weight[kQK];
  uint8_t L[kQK], Laux[kQK];
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    block_weights(xb, qw + kQK * ib, sigma2, kQK, weight);
    float min;
    const float d = make_qkx2_quants(kQK, nmax, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp16(d);
    y[ib].m = fp16(-min);
    if constexpr (std::is_same_v<Block, BlockQ5_1>)
      pack_q5_32(L, y[ib].qs, y[ib].qh);
    else
      pack_nibbles32(L, y[ib].qs);
  }
}

// Q4_K / Q5_K: per 32-element sub-block the qkx3 search with importance weights, then the super-block scales
// chosen by make_qp_quants weighted by each sub-block's total weight (instead of max/63), then the levels
// recomputed from the stored values.
void k45_superblock(const float* x, const float* qw, int nmax, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales,
                    uint8_t* L) {
  float sum_x2 = 0;
  for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / kQK_K;
  float weights[32], sw[8], mins[8], sub_scales[8];
  uint8_t Laux[32], Ls[8], Lm[8];
  for (int j = 0; j < 8; ++j) {
    block_weights(x + 32 * j, qw + 32 * j, sigma2, 32, weights);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    sub_scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(8, 63, sub_scales, Ls, sw);
  const float m_block = make_qp_quants(8, 63, mins, Lm, sw);
  std::memset(scales, 0, 12);
  for (int j = 0; j < 8; ++j) set_scale_min_k4(j, Ls[j], Lm[j], scales);
  *d_out = fp16(d_block);
  *dmin_out = fp16(m_block);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, &sc, &m);
    const float d = fp32(*d_out) * sc;
    if (d == 0.0f) continue;
    const float dm = fp32(*dmin_out) * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(l < 0 ? 0 : (l > nmax ? nmax : l));
    }
  }
}

void q4_K_weighted(const float* x, BlockQ4_K* y, int64_t n, const float* qw) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    k45_superblock(x + i * kQK_K, qw + i * kQK_K, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    pack_q4_K_levels(L, y[i].qs);
  }
}

void q5_K_weighted(const float* x, BlockQ5_K* y, int64_t n, const float* qw) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    k45_superblock(x + i * kQK_K, qw + i * kQK_K, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
    pack_q5_K_levels(L, y[i].qs, y[i].qh);
  }
}

}  // namespace

bool quantize_row_chunk(Type type, const float* x, uint8_t* y, int64_t n, const float* qw) {
  if (type == Type::iq4_nl) {
    quantize_iq4_nl_blocks(x, reinterpret_cast<BlockIQ4_NL*>(y), n, qw, 7);
    return true;
  }
  if (!qw) return false;
  switch (type) {
    case Type::q4_0: legacy_symmetric(x, reinterpret_cast<BlockQ4_0*>(y), n, qw, 8); return true;
    case Type::q5_0: legacy_symmetric(x, reinterpret_cast<BlockQ5_0*>(y), n, qw, 16); return true;
    case Type::q4_1: legacy_affine(x, reinterpret_cast<BlockQ4_1*>(y), n, qw, 15); return true;
    case Type::q5_1: legacy_affine(x, reinterpret_cast<BlockQ5_1*>(y), n, qw, 31); return true;
    case Type::q2_k: quantize_q2_K_weighted(x, reinterpret_cast<BlockQ2_K*>(y), n, qw); return true;
    case Type::q3_k: quantize_q3_K_weighted(x, reinterpret_cast<BlockQ3_K*>(y), n, qw); return true;
    case Type::q4_k: q4_K_weighted(x, reinterpret_cast<BlockQ4_K*>(y), n, qw); return true;
    case Type::q5_k: q5_K_weighted(x, reinterpret_cast<BlockQ5_K*>(y), n, qw); return true;
    case Type::q6_k: quantize_q6_K_blocks(x, reinterpret_cast<BlockQ6_K*>(y), n, qw); return true;
    default: return false;
  }
}

}  // namespace kq::ggml
