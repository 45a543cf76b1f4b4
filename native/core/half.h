// Scalar f32 <-> f16 / bf16 conversions, bit-exact IEEE 754 round-to-nearest-even. These are the
// reference the SIMD (F16C, AVX-512) and CUDA conversions are tested against, so they use integer
// arithmetic only: no dependence on the compiler's or the FPU's rounding of denormals.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define KQ_HOST_DEVICE __host__ __device__
#else
#define KQ_HOST_DEVICE
#endif

namespace kq {

KQ_HOST_DEVICE inline uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

KQ_HOST_DEVICE inline float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// NaN keeps its sign and the top mantissa bits and is forced quiet, as F16C's vcvtps2ph does.
KQ_HOST_DEVICE inline uint16_t f32_to_f16_bits(float value) {
  const uint32_t x = f32_bits(value);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // Inf or NaN
    if (abs == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x03ffu));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: Inf
  if (abs < 0x38800000u) {  // below the smallest normal f16 (2^-14): subnormal or zero
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // < 2^-25: rounds to zero
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x007fffffu) | 0x00800000u;
    const uint32_t shift = 126u - exp;  // 14..24: aligns to units of 2^-24
    const uint32_t halfway = 1u << (shift - 1);
    const uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t q = mant >> shift;
    if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even;
  // a carry out of the mantissa correctly bumps the exponent.
  const uint32_t rebased = abs - 0x38000000u;
  const uint32_t rounded = rebased + 0x0fffu + ((rebased >> 13) & 1u);
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

KQ_HOST_DEVICE inline float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x03ffu;
  if (exp == 0x1fu)  // Inf, or NaN made quiet as F16C's vcvtph2ps does
    return f32_from_bits(sign | 0x7f800000u | (mant << 13) | (mant != 0 ? 0x00400000u : 0u));
  if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return f32_from_bits(sign);
  // Subnormal f16: normalize into an f32 exponent.
  uint32_t e = 113u;
  while ((mant & 0x0400u) == 0) {
    mant <<= 1;
    --e;
  }
  return f32_from_bits(sign | (e << 23) | ((mant & 0x03ffu) << 13));
}

// bf16 is the top half of an f32; rounding to nearest even on the dropped 16 bits. NaN stays NaN (quiet).
KQ_HOST_DEVICE inline uint16_t f32_to_bf16_bits(float value) {
  const uint32_t x = f32_bits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

KQ_HOST_DEVICE inline float bf16_bits_to_f32(uint16_t b) { return f32_from_bits(static_cast<uint32_t>(b) << 16); }

}  // namespace kq
