// The scalar reference of the ggml legacy types: ggml's quantize_row_<type>_ref / dequantize_row_<type>,
// re-implemented from the facts of test/fixtures/ggml/README.md 5.1-5.5 (and ggml-quants.c read for the
// details the README leaves out). Every float step is a separate binary32 rounding in ggml's order.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../../core/half.h"
#include "ggml.h"
#include "kernels.h"

namespace kq::ggml {
namespace {

// ggml converts floats to its 8-bit quants with C casts ((int8_t) / (uint8_t) of a float), which x86 compilers
// emit as a truncating conversion to int32 (cvttss2si / cvttps2dq) keeping the low byte. Values out of int32
// range and NaN give the "integer indefinite" 0x80000000 there (low byte 0). With finite input that only
// happens when a subnormal scale's reciprocal overflows to inf; emulated here so it is defined, not UB.
inline int32_t trunc_i32_x86(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(v);
}
inline int8_t to_i8(float v) { return static_cast<int8_t>(static_cast<uint8_t>(trunc_i32_x86(v) & 0xff)); }
inline uint8_t to_u8(float v) { return static_cast<uint8_t>(trunc_i32_x86(v) & 0xff); }

inline uint16_t fp16(float v) { return f32_to_f16_bits(v); }
inline float fp32(uint16_t h) { return f16_bits_to_f32(h); }

// The signed value of largest magnitude; strictly larger replaces, so the first of equal magnitudes wins.
inline float signed_absmax(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

inline void min_max(const float* x, float* min, float* max) {
  *min = FLT_MAX;
  *max = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

inline float absmax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  return amax;
}

inline uint32_t load_qh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 | static_cast<uint32_t>(qh[2]) << 16 |
         static_cast<uint32_t>(qh[3]) << 24;
}

inline void store_qh(uint32_t qh, uint8_t* out) {
  for (int b = 0; b < 4; ++b) out[b] = static_cast<uint8_t>(qh >> (8 * b));
}

// The reference functions on raw bytes, for kernels_ref (the block structs are packed: any offset is fine).
template <typename Block, void (*F)(const float*, Block*, int64_t)>
void quantize_bytes(const float* x, uint8_t* y, int64_t k) {
  F(x, reinterpret_cast<Block*>(y), k);
}
template <typename Block, void (*F)(const Block*, float*, int64_t)>
void dequantize_bytes(const uint8_t* x, float* y, int64_t k) {
  F(reinterpret_cast<const Block*>(x), y, k);
}

bool has_non_finite_ref(const float* x, int64_t n) {
  bool bad = false;
  for (int64_t i = 0; i < n; ++i) bad |= std::isnan(x[i] - x[i]);
  return bad;
}

}  // namespace

Slot slot_of(Type type) {
  switch (type) {
    case Type::q4_0: return kSlotQ4_0;
    case Type::q4_1: return kSlotQ4_1;
    case Type::q5_0: return kSlotQ5_0;
    case Type::q5_1: return kSlotQ5_1;
    case Type::q8_0: return kSlotQ8_0;
    case Type::q8_1: return kSlotQ8_1;
    case Type::q2_k: return kSlotQ2_K;
    case Type::q3_k: return kSlotQ3_K;
    case Type::q4_k: return kSlotQ4_K;
    case Type::q5_k: return kSlotQ5_K;
    case Type::q6_k: return kSlotQ6_K;
    case Type::q8_k: return kSlotQ8_K;
    case Type::iq4_nl: return kSlotIQ4_NL;
    case Type::tq1_0: return kSlotTQ1_0;
    case Type::tq2_0: return kSlotTQ2_0;
    case Type::mxfp4: return kSlotMXFP4;
  }
  return kSlotQ4_0;
}

// Constant-initialised (function addresses only), so the SIMD tables may copy it during static initialisation.
const Kernels kernels_ref = {
    {quantize_bytes<BlockQ4_0, quantize_row_q4_0_ref>, quantize_bytes<BlockQ4_1, quantize_row_q4_1_ref>,
     quantize_bytes<BlockQ5_0, quantize_row_q5_0_ref>, quantize_bytes<BlockQ5_1, quantize_row_q5_1_ref>,
     quantize_bytes<BlockQ8_0, quantize_row_q8_0_ref>, quantize_bytes<BlockQ8_1, quantize_row_q8_1_ref>,
     quantize_bytes<BlockQ2_K, quantize_row_q2_K_ref>, quantize_bytes<BlockQ3_K, quantize_row_q3_K_ref>,
     quantize_bytes<BlockQ4_K, quantize_row_q4_K_ref>, quantize_bytes<BlockQ5_K, quantize_row_q5_K_ref>,
     quantize_bytes<BlockQ6_K, quantize_row_q6_K_ref>, quantize_bytes<BlockQ8_K, quantize_row_q8_K_ref>,
     quantize_bytes<BlockIQ4_NL, quantize_row_iq4_nl_ref>, quantize_bytes<BlockTQ1_0, quantize_row_tq1_0_ref>,
     quantize_bytes<BlockTQ2_0, quantize_row_tq2_0_ref>, quantize_bytes<BlockMXFP4, quantize_row_mxfp4_ref>},
    {dequantize_bytes<BlockQ4_0, dequantize_row_q4_0>, dequantize_bytes<BlockQ4_1, dequantize_row_q4_1>,
     dequantize_bytes<BlockQ5_0, dequantize_row_q5_0>, dequantize_bytes<BlockQ5_1, dequantize_row_q5_1>,
     dequantize_bytes<BlockQ8_0, dequantize_row_q8_0>, dequantize_bytes<BlockQ8_1, dequantize_row_q8_1>,
     dequantize_bytes<BlockQ2_K, dequantize_row_q2_K>, dequantize_bytes<BlockQ3_K, dequantize_row_q3_K>,
     dequantize_bytes<BlockQ4_K, dequantize_row_q4_K>, dequantize_bytes<BlockQ5_K, dequantize_row_q5_K>,
     dequantize_bytes<BlockQ6_K, dequantize_row_q6_K>, dequantize_bytes<BlockQ8_K, dequantize_row_q8_K>,
     dequantize_bytes<BlockIQ4_NL, dequantize_row_iq4_nl>, dequantize_bytes<BlockTQ1_0, dequantize_row_tq1_0>,
     dequantize_bytes<BlockTQ2_0, dequantize_row_tq2_0>, dequantize_bytes<BlockMXFP4, dequantize_row_mxfp4>},
    has_non_finite_ref,
};

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      // min(15, trunc(x·id + 8.5)): product and sum rounded separately; the sum is >= 0, so ties round up.
      const int8_t t0 = to_i8(x[j] * id + 8.5f);
      const int8_t t1 = to_i8(x[j + kQK / 2] * id + 8.5f);
      const uint8_t xi0 = static_cast<uint8_t>(t0 < 15 ? t0 : 15);
      const uint8_t xi1 = static_cast<uint8_t>(t1 < 15 ? t1 : 15);
      y[i].qs[j] = static_cast<uint8_t>(xi0 | xi1 << 4);
    }
  }
}

void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    y[i].m = fp16(min);  // an all −0.0 block stores m = −0 (0x8000)
    for (int j = 0; j < kQK / 2; ++j) {
      const int8_t t0 = to_i8((x[j] - min) * id + 0.5f);
      const int8_t t1 = to_i8((x[j + kQK / 2] - min) * id + 0.5f);
      const uint8_t xi0 = static_cast<uint8_t>(t0 < 15 ? t0 : 15);
      const uint8_t xi1 = static_cast<uint8_t>(t1 < 15 ? t1 : 15);
      y[i].qs[j] = static_cast<uint8_t>(xi0 | xi1 << 4);
    }
  }
}

void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int8_t t0 = to_i8(x[j] * id + 16.5f);
      const int8_t t1 = to_i8(x[j + kQK / 2] * id + 16.5f);
      const uint8_t xi0 = static_cast<uint8_t>(t0 < 31 ? t0 : 31);
      const uint8_t xi1 = static_cast<uint8_t>(t1 < 31 ? t1 : 31);
      y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0f) | (xi1 & 0x0f) << 4);
      qh |= static_cast<uint32_t>((xi0 & 0x10u) >> 4) << j;
      qh |= static_cast<uint32_t>((xi1 & 0x10u) >> 4) << (j + kQK / 2);
    }
    store_qh(qh, y[i].qh);
  }
}

void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    y[i].m = fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      // No clamp to 31 here (as ggml): (x − min)·id + 0.5 stays below 32 for finite input.
      const uint8_t xi0 = to_u8((x[j] - min) * id + 0.5f);
      const uint8_t xi1 = to_u8((x[j + kQK / 2] - min) * id + 0.5f);
      y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0f) | (xi1 & 0x0f) << 4);
      qh |= static_cast<uint32_t>((xi0 & 0x10u) >> 4) << j;
      qh |= static_cast<uint32_t>((xi1 & 0x10u) >> 4) << (j + kQK / 2);
    }
    store_qh(qh, y[i].qh);
  }
}

void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float d = absmax(x) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = to_i8(std::round(x[j] * id));  // roundf: half away from zero
  }
}

void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, x += kQK) {
    const float d = absmax(x) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      y[i].qs[j] = to_i8(std::round(x[j] * id));
      y[i].qs[j + kQK / 2] = to_i8(std::round(x[j + kQK / 2] * id));
      sum += y[i].qs[j];
      sum += y[i].qs[j + kQK / 2];
    }
    y[i].s = fp16(static_cast<float>(sum) * d);
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const float d = fp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0f) - 8) * d;
      y[j + kQK / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const float d = fp32(x[i].d);
    const float m = fp32(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0f) * d + m;
      y[j + kQK / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const float d = fp32(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + kQK / 2)) & 1u) << 4;
      y[j] = static_cast<float>(((x[i].qs[j] & 0x0f) | h0) - 16) * d;
      y[j + kQK / 2] = static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const float d = fp32(x[i].d);
    const float m = fp32(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + kQK / 2)) & 1u) << 4;
      y[j] = static_cast<float>((x[i].qs[j] & 0x0f) | h0) * d + m;
      y[j + kQK / 2] = static_cast<float>((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const float d = fp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / kQK; ++i, y += kQK) {
    const float d = fp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

// Raw bytes as blocks: the block structs are packed (alignment 1), so any byte offset is fine.
void quantize_row_ref(Type type, const float* x, uint8_t* y, int64_t k) {
  switch (type) {
    case Type::q4_0: return quantize_row_q4_0_ref(x, reinterpret_cast<BlockQ4_0*>(y), k);
    case Type::q4_1: return quantize_row_q4_1_ref(x, reinterpret_cast<BlockQ4_1*>(y), k);
    case Type::q5_0: return quantize_row_q5_0_ref(x, reinterpret_cast<BlockQ5_0*>(y), k);
    case Type::q5_1: return quantize_row_q5_1_ref(x, reinterpret_cast<BlockQ5_1*>(y), k);
    case Type::q8_0: return quantize_row_q8_0_ref(x, reinterpret_cast<BlockQ8_0*>(y), k);
    case Type::q8_1: return quantize_row_q8_1_ref(x, reinterpret_cast<BlockQ8_1*>(y), k);
    case Type::q2_k: return quantize_row_q2_K_ref(x, reinterpret_cast<BlockQ2_K*>(y), k);
    case Type::q3_k: return quantize_row_q3_K_ref(x, reinterpret_cast<BlockQ3_K*>(y), k);
    case Type::q4_k: return quantize_row_q4_K_ref(x, reinterpret_cast<BlockQ4_K*>(y), k);
    case Type::q5_k: return quantize_row_q5_K_ref(x, reinterpret_cast<BlockQ5_K*>(y), k);
    case Type::q6_k: return quantize_row_q6_K_ref(x, reinterpret_cast<BlockQ6_K*>(y), k);
    case Type::q8_k: return quantize_row_q8_K_ref(x, reinterpret_cast<BlockQ8_K*>(y), k);
    case Type::iq4_nl: case Type::tq1_0: case Type::tq2_0: case Type::mxfp4:
      quantize_row_misc(type, x, y, k);  // ref_misc.cc
      return;
  }
}

void dequantize_row(Type type, const uint8_t* x, float* y, int64_t k) {
  switch (type) {
    case Type::q4_0: return dequantize_row_q4_0(reinterpret_cast<const BlockQ4_0*>(x), y, k);
    case Type::q4_1: return dequantize_row_q4_1(reinterpret_cast<const BlockQ4_1*>(x), y, k);
    case Type::q5_0: return dequantize_row_q5_0(reinterpret_cast<const BlockQ5_0*>(x), y, k);
    case Type::q5_1: return dequantize_row_q5_1(reinterpret_cast<const BlockQ5_1*>(x), y, k);
    case Type::q8_0: return dequantize_row_q8_0(reinterpret_cast<const BlockQ8_0*>(x), y, k);
    case Type::q8_1: return dequantize_row_q8_1(reinterpret_cast<const BlockQ8_1*>(x), y, k);
    case Type::q2_k: return dequantize_row_q2_K(reinterpret_cast<const BlockQ2_K*>(x), y, k);
    case Type::q3_k: return dequantize_row_q3_K(reinterpret_cast<const BlockQ3_K*>(x), y, k);
    case Type::q4_k: return dequantize_row_q4_K(reinterpret_cast<const BlockQ4_K*>(x), y, k);
    case Type::q5_k: return dequantize_row_q5_K(reinterpret_cast<const BlockQ5_K*>(x), y, k);
    case Type::q6_k: return dequantize_row_q6_K(reinterpret_cast<const BlockQ6_K*>(x), y, k);
    case Type::q8_k: return dequantize_row_q8_K(reinterpret_cast<const BlockQ8_K*>(x), y, k);
    case Type::iq4_nl: case Type::tq1_0: case Type::tq2_0: case Type::mxfp4:
      dequantize_row_misc(type, x, y, k);  // ref_misc.cc
      return;
  }
}

}  // namespace kq::ggml
