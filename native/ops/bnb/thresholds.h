// The decision points of bnb's CUDA 4-bit encoders, as f32 bit patterns so that every variant (scalar,
// SIMD, CUDA) compares against the very same floats. bnb writes them as decimal literals computed in
// f64; four NF4 ones (T0, T8, T12, T14) and most FP4 ones are not the f32 midpoints of adjacent code
// values, and matching CUDA's bytes needs exactly these (test/fixtures/bnb/README.md 4.2, 4.3).
#pragma once
#include <cstdint>

namespace kq::bnb {

// NF4: code = number of k with s > T_k (strict, so a value on a threshold takes the lower code).
inline constexpr uint32_t kNf4ThresholdBits[15] = {
    0xbf591cd9, 0xbf1c5270, 0xbeeb8480, 0xbeadea76, 0xbe703cec, 0xbe0d38bc, 0xbd3a7871, 0x3d22faff,
    0x3df64863, 0x3e5067e0, 0x3e9582d4, 0x3ec753f9, 0x3f006d03, 0x3f248daf, 0x3f5c89d9};

// FP4: rank k = number of j with |s| > F_j (strict); the code's magnitude bits are kFp4RankCode[k] and
// bit 3 is set iff s < 0 (so -0.0 and NaN are positive).
inline constexpr uint32_t kFp4AbsThresholdBits[7] = {0x3b2aaab9, 0x3db00000, 0x3e555555, 0x3e955555,
                                                     0x3ed55556, 0x3f155550, 0x3f555555};
inline constexpr uint8_t kFp4RankCode[8] = {0, 1, 6, 7, 4, 5, 2, 3};

// The same constants as floats (codebooks.cc).
const float* nf4_thresholds();
const float* fp4_abs_thresholds();

}  // namespace kq::bnb
