// Pieces of ggml's reference quantizers shared by several block types (README 5.1 and 5.3): its rounding
// to the nearest integer and the "qkx2" min/scale search of the K-quants with a minimum (Q2_K, Q4_K, Q5_K).
#pragma once
#include <cstdint>
#include <cstring>

#include "../../core/half.h"  // KQ_HOST_DEVICE, f32_bits

namespace kq::ggml {

// GROUP_MAX_EPS: groups whose largest magnitude is below it quantize to zero.
constexpr float kGroupMaxEps = 1e-15f;

// ggml's nearest_int: add 1.5·2^23 in float and read the low 23 bits minus 2^22. Round half to even for
// |v| < 2^22; NaN gives 0 (its payload bits are 0x400000); larger values wrap as in ggml (its assert is off).
// Internal linkage, host and device (the CUDA kernels share it).
namespace {
KQ_HOST_DEVICE inline int nearest_int(float fval) {
  const float val = fval + 12582912.0f;
  return static_cast<int>(f32_bits(val) & 0x007fffffu) - 0x00400000;
}
}  // namespace

// "qkx2": min/scale search over n values with weights (README 5.3). Returns the scale, *the_min = −min ≥ 0.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// "qx": signed scale search (README 5.3), rmse_type 1: weights qw, or x² when qw is null. Stored levels
// l + nmax in L; returns the scale (0 for a group whose largest |x| is below kGroupMaxEps).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw);

// ggml's make_qp_quants: the importance-weighted choice of non-negative super-block scales (levels 0..nmax
// of x ≥ 0 with weights qw): nine candidate inverse scales, then up to five coordinate passes.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* qw);

}  // namespace kq::ggml
