// The scalar reference of the bnb family: the formulas of README sections 4.1-4.7, one element at a time.
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "thresholds.h"

namespace kq::bnb {
namespace {

// Both encoders count strict comparisons, so NaN (an all-zero block) compares false everywhere: code 0.
inline uint8_t nf4_code(float s, const float* thresholds) {
  uint8_t code = 0;
  for (int k = 0; k < 15; ++k) code += s > thresholds[k];
  return code;
}

inline uint8_t fp4_code(float s, const float* abs_thresholds) {
  const float magnitude = std::fabs(s);
  int rank = 0;
  for (int j = 0; j < 7; ++j) rank += magnitude > abs_thresholds[j];
  return static_cast<uint8_t>(kFp4RankCode[rank] | (s < 0.0f ? 8 : 0));
}

template <typename Encode>
void pack_codes(const float* x, int64_t n, float inv, uint8_t* packed, Encode encode) {
  int64_t i = 0;
  for (; i + 1 < n; i += 2) packed[i / 2] = static_cast<uint8_t>(encode(x[i] * inv) << 4 | encode(x[i + 1] * inv));
  if (i < n) packed[i / 2] = static_cast<uint8_t>(encode(x[i] * inv) << 4 | encode(0.0f * inv));
}

float absmax_run_ref(const float* x, int64_t n, uint32_t* non_finite) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i] - x[i])) *non_finite = 1;  // x − x is NaN exactly for NaN and ±Inf
    m = std::fmax(m, std::fabs(x[i]));
  }
  return m;
}

void encode4_run_ref(const float* x, int64_t n, float inv, Quant4 type, uint8_t* packed) {
  if (type == Quant4::nf4) {
    const float* t = nf4_thresholds();
    pack_codes(x, n, inv, packed, [t](float s) { return nf4_code(s, t); });
  } else {
    const float* t = fp4_abs_thresholds();
    pack_codes(x, n, inv, packed, [t](float s) { return fp4_code(s, t); });
  }
}

void encode8_run_ref(const float* x, int64_t n, float inv, const float* midpoints, uint8_t* codes) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = x[i] * inv;
    // j = number of midpoints below s: the lower neighbour when s sits on midpoint j. NaN gives 0.
    int64_t j = std::lower_bound(midpoints, midpoints + 255, s) - midpoints;
    if (j < 255 && midpoints[j] == s && j % 2 == 1) ++j;
    codes[i] = static_cast<uint8_t>(j);
  }
}

void decode4_run_ref(const uint8_t* packed, int64_t n, const float* table, float absmax, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t byte = packed[i / 2];
    out[i] = table[i % 2 == 0 ? byte >> 4 : byte & 0xf] * absmax;
  }
}

void decode8_run_ref(const uint8_t* codes, int64_t n, const float* code, float absmax, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = code[codes[i]] * absmax;
}

}  // namespace

void pack_codes_run_ref(const uint8_t* indices, int64_t n, int bits, const uint8_t* remap, uint8_t* packed) {
  const uint32_t mask = (1u << bits) - 1u;
  auto index = [=](int64_t i) -> uint32_t { return (remap != nullptr ? remap[indices[i]] : indices[i]) & mask; };
  if (bits == 8) {
    for (int64_t i = 0; i < n; ++i) packed[i] = static_cast<uint8_t>(index(i));
    return;
  }
  if (bits == 4) {
    for (int64_t i = 0; i < n; i += 2) packed[i / 2] = static_cast<uint8_t>(index(i) << 4 | (i + 1 < n ? index(i + 1) : 0));
    return;
  }
  std::fill(packed, packed + packed_code_bytes(n, bits), uint8_t{0});
  for (int64_t i = 0, bit = 0; i < n; ++i, bit += bits) {
    const uint32_t word = index(i) << (bit & 7);  // at most 7 + 7 bits: spans two bytes
    packed[bit >> 3] |= static_cast<uint8_t>(word);
    if (word > 0xff) packed[(bit >> 3) + 1] |= static_cast<uint8_t>(word >> 8);
  }
}

void unpack_codes_run_ref(const uint8_t* packed, int64_t n, int bits, uint8_t* indices) {
  if (bits == 8) {
    std::copy(packed, packed + n, indices);
    return;
  }
  if (bits == 4) {
    for (int64_t i = 0; i < n; ++i) indices[i] = static_cast<uint8_t>(i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 0xf);
    return;
  }
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t i = 0, bit = 0; i < n; ++i, bit += bits) {
    const int64_t byte = bit >> 3;
    const int shift = static_cast<int>(bit & 7);
    // The next byte only when the element reaches into it: it then lies inside the stream.
    const uint32_t word = packed[byte] | (shift + bits > 8 ? static_cast<uint32_t>(packed[byte + 1]) << 8 : 0u);
    indices[i] = static_cast<uint8_t>((word >> shift) & mask);
  }
}

const Kernels kernels_ref = {absmax_run_ref, encode4_run_ref, encode8_run_ref, decode4_run_ref, decode8_run_ref};

}  // namespace kq::bnb
