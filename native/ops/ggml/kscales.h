// The scalar scale encoders of the K-quants: from a super-block's sub-block searches (scales, and mins where
// the type has them) to its stored codes, d and dmin, as ggml's reference quantizers. Defined in the scalar
// reference files (ref_k23.cc, ref_k456.cc) with external linkage and called from the reference and from the
// SIMD files: scalar code runs on every CPU, and no inline copy compiled with -mavx2/-mavx512 can be shared.
#pragma once
#include <cstdint>

#include "blocks.h"

namespace kq::ggml {

// Q2_K (no importance matrix): 4-bit scale and min codes of the 16 sub-blocks, d and dmin.
void encode_q2_K_scales(const float* scales, const float* mins, BlockQ2_K* y);

// Q3_K (no importance matrix): 6-bit signed scale codes of the 16 sub-blocks and d.
void encode_q3_K_scales(const float* scales, BlockQ3_K* y);

// Q4_K / Q5_K: 6-bit scale and min codes of the 8 sub-blocks (set_scale_min_k4), d and dmin.
void encode_k45_scales(const float* scales, const float* mins, uint16_t* d_out, uint16_t* dmin_out,
                       uint8_t* scales_out);

// Q6_K: 8-bit signed scale codes of the 16 sub-blocks and d. A super-block whose largest |scale| is below
// kGroupMaxEps is written as all zero and false is returned (no levels to recompute).
bool encode_q6_K_scales(const float* scales, BlockQ6_K* y);

}  // namespace kq::ggml
