// ggml block types on CUDA: dequantization of every type the CPU reference has, quantization of Q4_0, Q8_0,
// Q4_K and Q6_K. Host-pointer entry points, as the other families' cuda.cu: upload, run, download.
//
// Bit-exact with the reference (ref.cc, ref_k456.cc, ref_k23.cc, ref_misc.cc, kquant_search.cc): each helper
// repeats the reference's float operations in its order. The build passes -fmad=false (no contraction into
// FMA); nvcc's default -prec-div / -prec-sqrt make `/` and sqrtf correctly rounded, as on the CPU; fp16 goes
// through half.h's integer conversions. ggml's quantizers are sequential per block, so one thread owns one
// block (one 256-element super-block for the K-quants) and every sum runs in the reference's order.
// Dequantization is one thread per output element.
//
// Blocks are read and written as bytes at offsetof() of blocks.h's packed structs: their fp16 fields sit at
// odd addresses, where a device load of uint16_t would fault. The per-block code is __host__ __device__
// (KQ_HOST_DEVICE, as half.h): compiled for the host it can be compared with the reference where no GPU is
// at hand (it was, on every type, before this file first shipped).
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../core/cuda_check.cuh"
#include "../../core/half.h"
#include "blocks.h"
#include "ggml.h"
#include "kquant_search_hd.h"  // nearest_int, kGroupMaxEps, the searches
#include "pack.h"

namespace kq::ggml::cuda_impl {
namespace {

constexpr int kDequantizeThreads = 256;
// One thread per block does a whole block's search: smaller thread blocks spread few blocks over more SMs.
constexpr int kQuantizeThreads = 64;
// Grid-stride loops cover any size; more thread blocks than this only add scheduling overhead.
constexpr int64_t kMaxGrid = 1 << 16;

// ---- scalar pieces, as the reference has them ----

KQ_HOST_DEVICE inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
KQ_HOST_DEVICE inline float load_f16(const uint8_t* p) { return f16_bits_to_f32(load_u16(p)); }
KQ_HOST_DEVICE inline uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
KQ_HOST_DEVICE inline void store_u16(uint8_t* p, uint16_t h) {
  p[0] = static_cast<uint8_t>(h);
  p[1] = static_cast<uint8_t>(h >> 8);
}
KQ_HOST_DEVICE inline void store_f16(uint8_t* p, float v) {
  store_u16(p, f32_to_f16_bits(v));
}

// ref.cc's trunc_i32_x86: a float cast to an 8-bit integer as x86 does it (out of int32 range: 0x80000000).
KQ_HOST_DEVICE inline int32_t trunc_i32_x86(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(v);
}
KQ_HOST_DEVICE inline int8_t to_i8(float v) { return static_cast<int8_t>(static_cast<uint8_t>(trunc_i32_x86(v) & 0xff)); }

// roundf (half away from zero) spelled out: v − trunc(v) is exact, so the tie test is exact too.
KQ_HOST_DEVICE inline float round_half_away(float v) {
  float t = truncf(v);
  if (fabsf(v - t) >= 0.5f) t += copysignf(1.0f, v);
  return t;
}

KQ_HOST_DEVICE inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// ---- dequantization: element j of one block, the reference's expression for it ----

struct Q4_0 {
  static constexpr int kElements = kQK;
  static constexpr int64_t kBytes = sizeof(BlockQ4_0);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const uint8_t q = b[offsetof(BlockQ4_0, qs) + j % 16];
    return static_cast<float>((j < 16 ? q & 0x0f : q >> 4) - 8) * load_f16(b + offsetof(BlockQ4_0, d));
  }
  // quantize_row_q4_0_ref on one block.
  KQ_HOST_DEVICE static void quantize(const float* x, uint8_t* y) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (amax < fabsf(x[j])) {
        amax = fabsf(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(y + offsetof(BlockQ4_0, d), d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int8_t t0 = to_i8(x[j] * id + 8.5f);
      const int8_t t1 = to_i8(x[j + kQK / 2] * id + 8.5f);
      const uint8_t xi0 = static_cast<uint8_t>(t0 < 15 ? t0 : 15);
      const uint8_t xi1 = static_cast<uint8_t>(t1 < 15 ? t1 : 15);
      y[offsetof(BlockQ4_0, qs) + j] = static_cast<uint8_t>(xi0 | xi1 << 4);
    }
  }
};

struct Q4_1 {
  static constexpr int kElements = kQK;
  static constexpr int64_t kBytes = sizeof(BlockQ4_1);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const uint8_t q = b[offsetof(BlockQ4_1, qs) + j % 16];
    return static_cast<float>(j < 16 ? q & 0x0f : q >> 4) * load_f16(b + offsetof(BlockQ4_1, d)) +
           load_f16(b + offsetof(BlockQ4_1, m));
  }
};

// Q5_0 / Q5_1: the fifth bit of element j is bit j of the little-endian word qh.
KQ_HOST_DEVICE inline int q5_level(const uint8_t* qs, const uint8_t* qh, int j) {
  const uint8_t q = qs[j % 16];
  return (j < 16 ? q & 0x0f : q >> 4) | static_cast<int>((load_u32(qh) >> j) & 1u) << 4;
}

struct Q5_0 {
  static constexpr int kElements = kQK;
  static constexpr int64_t kBytes = sizeof(BlockQ5_0);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const int q = q5_level(b + offsetof(BlockQ5_0, qs), b + offsetof(BlockQ5_0, qh), j);
    return static_cast<float>(q - 16) * load_f16(b + offsetof(BlockQ5_0, d));
  }
};

struct Q5_1 {
  static constexpr int kElements = kQK;
  static constexpr int64_t kBytes = sizeof(BlockQ5_1);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const int q = q5_level(b + offsetof(BlockQ5_1, qs), b + offsetof(BlockQ5_1, qh), j);
    return static_cast<float>(q) * load_f16(b + offsetof(BlockQ5_1, d)) + load_f16(b + offsetof(BlockQ5_1, m));
  }
};

struct Q8_0 {
  static constexpr int kElements = kQK;
  static constexpr int64_t kBytes = sizeof(BlockQ8_0);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const int8_t q = static_cast<int8_t>(b[offsetof(BlockQ8_0, qs) + j]);
    return static_cast<float>(q) * load_f16(b + offsetof(BlockQ8_0, d));
  }
  // quantize_row_q8_0_ref on one block.
  KQ_HOST_DEVICE static void quantize(const float* x, uint8_t* y) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(y + offsetof(BlockQ8_0, d), d);
    for (int j = 0; j < kQK; ++j)
      y[offsetof(BlockQ8_0, qs) + j] = static_cast<uint8_t>(to_i8(round_half_away(x[j] * id)));
  }
};

struct Q8_1 {
  static constexpr int kElements = kQK;
  static constexpr int64_t kBytes = sizeof(BlockQ8_1);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const int8_t q = static_cast<int8_t>(b[offsetof(BlockQ8_1, qs) + j]);
    return static_cast<float>(q) * load_f16(b + offsetof(BlockQ8_1, d));
  }
};

// Q2_K / Q3_K: the 2-bit field of element j (two halves of 128, four bit pairs per byte).
KQ_HOST_DEVICE inline int two_bits(const uint8_t* qs, int j) { return (qs[(j / 128) * 32 + j % 32] >> (2 * ((j % 128) / 32))) & 3; }

struct Q2_K {
  static constexpr int kElements = kQK_K;
  static constexpr int64_t kBytes = sizeof(BlockQ2_K);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const uint8_t sc = b[offsetof(BlockQ2_K, scales) + j / 16];
    const float dl = load_f16(b + offsetof(BlockQ2_K, d)) * static_cast<float>(sc & 0xF);
    const float ml = load_f16(b + offsetof(BlockQ2_K, dmin)) * static_cast<float>(sc >> 4);
    return dl * static_cast<float>(two_bits(b + offsetof(BlockQ2_K, qs), j)) - ml;
  }
};

struct Q3_K {
  static constexpr int kElements = kQK_K;
  static constexpr int64_t kBytes = sizeof(BlockQ3_K);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const uint8_t* scales = b + offsetof(BlockQ3_K, scales);
    const int code = q3_scale_code(scales, j / 16);
    const float dl = load_f16(b + offsetof(BlockQ3_K, d)) * static_cast<float>(code - 32);
    const int high = (b[offsetof(BlockQ3_K, hmask) + j % 32] >> (j / 32)) & 1;
    return dl * static_cast<float>(two_bits(b + offsetof(BlockQ3_K, qs), j) - (high ? 0 : 4));
  }
};

// Q4_K / Q5_K: element j is in 64-element chunk j / 64, sub-block j / 32, at byte 32·chunk + j % 32 (low
// nibble for the chunk's first 32 elements, high nibble for the rest).
struct Q4_K {
  static constexpr int kElements = kQK_K;
  static constexpr int64_t kBytes = sizeof(BlockQ4_K);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    uint8_t sc, m;
    get_scale_min_k4(j / 32, b + offsetof(BlockQ4_K, scales), &sc, &m);
    const float d1 = load_f16(b + offsetof(BlockQ4_K, d)) * sc;
    const float m1 = load_f16(b + offsetof(BlockQ4_K, dmin)) * m;
    const uint8_t q = b[offsetof(BlockQ4_K, qs) + (j / 64) * 32 + j % 32];
    return d1 * ((j % 64) < 32 ? q & 0xF : q >> 4) - m1;
  }
  static KQ_HOST_DEVICE void quantize(const float* x, uint8_t* y);
};

struct Q5_K {
  static constexpr int kElements = kQK_K;
  static constexpr int64_t kBytes = sizeof(BlockQ5_K);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    uint8_t sc, m;
    get_scale_min_k4(j / 32, b + offsetof(BlockQ5_K, scales), &sc, &m);
    const float d1 = load_f16(b + offsetof(BlockQ5_K, d)) * sc;
    const float m1 = load_f16(b + offsetof(BlockQ5_K, dmin)) * m;
    const uint8_t ql = b[offsetof(BlockQ5_K, qs) + (j / 64) * 32 + j % 32];
    const uint8_t qh = b[offsetof(BlockQ5_K, qh) + j % 32];
    const unsigned bit = 1u << (j / 32);  // u1 = 1 << 2·chunk for the low nibbles, u2 = 2 << 2·chunk for the high
    return d1 * (((j % 64) < 32 ? ql & 0xF : ql >> 4) + (qh & bit ? 16 : 0)) - m1;
  }
};

// Q6_K: element j is in half j / 128; within it quarter t = (j % 128) / 32 takes its low four bits from ql[l]
// (t = 0, 2) or ql[l + 32] (t = 1, 3), low nibble for t < 2, and its high two bits from bits 2t of qh[l].
struct Q6_K {
  static constexpr int kElements = kQK_K;
  static constexpr int64_t kBytes = sizeof(BlockQ6_K);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const int half = j / 128, t = (j % 128) / 32, l = j % 32;
    const uint8_t ql = b[offsetof(BlockQ6_K, ql) + 64 * half + l + (t % 2) * 32];
    const uint8_t qh = b[offsetof(BlockQ6_K, qh) + 32 * half + l];
    const int q = ((t < 2 ? ql & 0xF : ql >> 4) | ((qh >> (2 * t)) & 3) << 4) - 32;
    const int8_t sc = static_cast<int8_t>(b[offsetof(BlockQ6_K, scales) + 8 * half + l / 16 + 2 * t]);
    // (d · sc) · q, left to right, as the reference.
    return load_f16(b + offsetof(BlockQ6_K, d)) * sc * q;
  }
  static KQ_HOST_DEVICE void quantize(const float* x, uint8_t* y);
};

struct Q8_K {
  static constexpr int kElements = kQK_K;
  static constexpr int64_t kBytes = sizeof(BlockQ8_K);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const float d = f32_from_bits(load_u32(b + offsetof(BlockQ8_K, d)));
    return d * static_cast<int8_t>(b[offsetof(BlockQ8_K, qs) + j]);
  }
};

// Trit n of a base-3 packed byte: ((byte·3^n mod 256)·3) >> 8.
KQ_HOST_DEVICE inline int unpack_trit(uint8_t byte, int n) {
  const uint8_t pow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = static_cast<uint8_t>(byte * pow3[n]);
  return (static_cast<uint16_t>(q) * 3) >> 8;
}

// TQ1_0: elements 0..159 are trit j / 32 of qs[j % 32], 160..239 trit (j − 160) / 16 of qs[32 + j % 16],
// 240..255 trit (j − 240) / 4 of qh[j % 4].
struct TQ1_0 {
  static constexpr int kElements = kQK_TQ;
  static constexpr int64_t kBytes = sizeof(BlockTQ1_0);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const uint8_t* qs = b + offsetof(BlockTQ1_0, qs);
    int t;
    if (j < 160)
      t = unpack_trit(qs[j % 32], j / 32);
    else if (j < 240)
      t = unpack_trit(qs[32 + (j - 160) % 16], (j - 160) / 16);
    else
      t = unpack_trit(b[offsetof(BlockTQ1_0, qh) + (j - 240) % 4], (j - 240) / 4);
    return static_cast<float>(t - 1) * load_f16(b + offsetof(BlockTQ1_0, d));
  }
};

// TQ2_0: element j is bits 2·((j % 128) / 32) of qs[32·(j / 128) + j % 32].
struct TQ2_0 {
  static constexpr int kElements = kQK_TQ;
  static constexpr int64_t kBytes = sizeof(BlockTQ2_0);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const uint8_t q = b[offsetof(BlockTQ2_0, qs) + 32 * (j / 128) + j % 32];
    return static_cast<float>(((q >> (2 * ((j % 128) / 32))) & 3) - 1) * load_f16(b + offsetof(BlockTQ2_0, d));
  }
};

struct IQ4_NL {
  static constexpr int kElements = kQK;
  static constexpr int64_t kBytes = sizeof(BlockIQ4_NL);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const int8_t values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    const uint8_t q = b[offsetof(BlockIQ4_NL, qs) + j % 16];
    return load_f16(b + offsetof(BlockIQ4_NL, d)) * static_cast<float>(values[j < 16 ? q & 0x0f : q >> 4]);
  }
};

// MXFP4: E2M1 values times two, scaled by the "half" E8M0 scale 2^(e − 128) (ggml's GGML_E8M0_TO_FP32_HALF).
struct MXFP4 {
  static constexpr int kElements = kQK;
  static constexpr int64_t kBytes = sizeof(BlockMXFP4);
  KQ_HOST_DEVICE static float element(const uint8_t* b, int j) {
    const int8_t values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    const uint8_t e = b[offsetof(BlockMXFP4, e)];
    const float d = f32_from_bits(e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23);
    const uint8_t q = b[offsetof(BlockMXFP4, qs) + j % 16];
    return static_cast<float>(values[j < 16 ? q & 0x0f : q >> 4]) * d;
  }
};

// ---- K-quants: the searches and super-block steps are kquant_search_hd.h's, shared with the reference ----

// quantize_row_q4_K_ref on one super-block (kquant_search_hd.h's superblock_k45 with nmax 15, rmin −1,
// 20 steps, then pack.h's pack_q4_K_levels).
KQ_HOST_DEVICE void Q4_K::quantize(const float* x, uint8_t* y) {
  uint8_t L[kQK_K];
  uint8_t codes[12] = {};
  uint16_t d, dmin;
  superblock_k45(x, 15, -1.0f, 20, &d, &dmin, codes, L);
  store_u16(y + offsetof(BlockQ4_K, d), d);
  store_u16(y + offsetof(BlockQ4_K, dmin), dmin);
  for (int b = 0; b < 12; ++b) y[offsetof(BlockQ4_K, scales) + b] = codes[b];
  pack_q4_K_levels(L, y + offsetof(BlockQ4_K, qs));
}

// quantize_row_q6_K_ref on one super-block (ref_k456.cc's quantize_q6_K_blocks without weights, then
// pack.h's pack_q6_K_levels).
KQ_HOST_DEVICE void Q6_K::quantize(const float* x, uint8_t* y) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int ib = 0; ib < kQK_K / 16; ++ib) scales[ib] = qx_search(16, 32, x + 16 * ib, L + 16 * ib, nullptr);
  int8_t* sc = reinterpret_cast<int8_t*>(y + offsetof(BlockQ6_K, scales));
  uint16_t d16;
  if (!q6_K_scale_codes(scales, &d16, sc)) {
    for (int b = 0; b < static_cast<int>(sizeof(BlockQ6_K)); ++b) y[b] = 0;
    return;
  }
  store_u16(y + offsetof(BlockQ6_K, d), d16);
  const float d_all = load_f16(y + offsetof(BlockQ6_K, d));
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = d_all * static_cast<float>(sc[j]);
    if (d == 0.0f) continue;
    for (int ii = 0; ii < 16; ++ii)
      L[16 * j + ii] = static_cast<int8_t>(clamp_int(nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
  }
  pack_q6_K_levels(L, y + offsetof(BlockQ6_K, ql), y + offsetof(BlockQ6_K, qh));
}

// ---- kernels and launches ----

template <class Format>
__global__ void dequantize_kernel(const uint8_t* __restrict__ src, int64_t n, float* __restrict__ dst) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride)
    dst[e] = Format::element(src + e / Format::kElements * Format::kBytes, static_cast<int>(e % Format::kElements));
}

// One thread per block; *non_finite is set where a block holds NaN/Inf (its bytes are then discarded).
template <class Format>
__global__ void quantize_kernel(const float* __restrict__ src, int64_t nblocks, uint8_t* __restrict__ dst,
                                uint32_t* non_finite) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < nblocks; b += stride) {
    const float* x = src + b * Format::kElements;
    bool bad = false;
    for (int j = 0; j < Format::kElements; ++j) bad |= isnan(x[j] - x[j]);  // NaN exactly for NaN and ±Inf
    if (bad) *non_finite = 1;
    Format::quantize(x, dst + b * Format::kBytes);
  }
}

unsigned grid_for(int64_t items, int threads) {
  const int64_t blocks = (items + threads - 1) / threads;
  return static_cast<unsigned>(blocks < kMaxGrid ? blocks : kMaxGrid);
}

template <class Format>
Status dequantize_on_device(const uint8_t* src, int64_t n, float* dst) {
  if (n == 0) return Status::success();
  DeviceBuffer d_src, d_dst;
  KQ_RETURN_IF_ERROR(d_src.upload(src, static_cast<size_t>(n / Format::kElements * Format::kBytes)));
  KQ_RETURN_IF_ERROR(d_dst.allocate(static_cast<size_t>(n) * sizeof(float)));
  dequantize_kernel<Format><<<grid_for(n, kDequantizeThreads), kDequantizeThreads>>>(d_src.as<uint8_t>(), n,
                                                                                     d_dst.as<float>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("ggml dequantize_kernel"));
  return d_dst.download(dst, static_cast<size_t>(n) * sizeof(float));
}

template <class Format>
Status quantize_on_device(const float* src, int64_t n, uint8_t* dst) {
  if (n == 0) return Status::success();
  const int64_t nblocks = n / Format::kElements;
  const size_t dst_bytes = static_cast<size_t>(nblocks * Format::kBytes);
  DeviceBuffer d_src, d_dst, flag;
  KQ_RETURN_IF_ERROR(d_src.upload(src, static_cast<size_t>(n) * sizeof(float)));
  KQ_RETURN_IF_ERROR(d_dst.allocate(dst_bytes));
  KQ_RETURN_IF_ERROR(zeroed_flag(&flag));
  quantize_kernel<Format><<<grid_for(nblocks, kQuantizeThreads), kQuantizeThreads>>>(
      d_src.as<float>(), nblocks, d_dst.as<uint8_t>(), flag.as<uint32_t>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("ggml quantize_kernel"));
  KQ_RETURN_IF_ERROR(check_flag(flag, src, n));
  return d_dst.download(dst, dst_bytes);
}

}  // namespace
}  // namespace kq::ggml::cuda_impl

namespace kq::ggml {

Status quantize_cuda(Type type, const float* src, int64_t n, uint8_t* dst) {
  using namespace cuda_impl;
  switch (type) {
    case Type::q4_0: return quantize_on_device<Q4_0>(src, n, dst);
    case Type::q8_0: return quantize_on_device<Q8_0>(src, n, dst);
    case Type::q4_k: return quantize_on_device<Q4_K>(src, n, dst);
    case Type::q6_k: return quantize_on_device<Q6_K>(src, n, dst);
    default: break;
  }
  return error(Code::internal, "quantize_cuda: ggml type id " + std::to_string(static_cast<int32_t>(type)) +
                                   " has no CUDA quantizer (the driver checks cuda_quantizes first)");
}

Status dequantize_cuda(Type type, const uint8_t* src, int64_t n, float* dst) {
  using namespace cuda_impl;
  switch (type) {
    case Type::q4_0: return dequantize_on_device<Q4_0>(src, n, dst);
    case Type::q4_1: return dequantize_on_device<Q4_1>(src, n, dst);
    case Type::q5_0: return dequantize_on_device<Q5_0>(src, n, dst);
    case Type::q5_1: return dequantize_on_device<Q5_1>(src, n, dst);
    case Type::q8_0: return dequantize_on_device<Q8_0>(src, n, dst);
    case Type::q8_1: return dequantize_on_device<Q8_1>(src, n, dst);
    case Type::q2_k: return dequantize_on_device<Q2_K>(src, n, dst);
    case Type::q3_k: return dequantize_on_device<Q3_K>(src, n, dst);
    case Type::q4_k: return dequantize_on_device<Q4_K>(src, n, dst);
    case Type::q5_k: return dequantize_on_device<Q5_K>(src, n, dst);
    case Type::q6_k: return dequantize_on_device<Q6_K>(src, n, dst);
    case Type::q8_k: return dequantize_on_device<Q8_K>(src, n, dst);
    case Type::tq1_0: return dequantize_on_device<TQ1_0>(src, n, dst);
    case Type::tq2_0: return dequantize_on_device<TQ2_0>(src, n, dst);
    case Type::iq4_nl: return dequantize_on_device<IQ4_NL>(src, n, dst);
    case Type::mxfp4: return dequantize_on_device<MXFP4>(src, n, dst);
  }
  return error(Code::internal, "dequantize_cuda: unknown ggml type id " + std::to_string(static_cast<int32_t>(type)));
}

}  // namespace kq::ggml
