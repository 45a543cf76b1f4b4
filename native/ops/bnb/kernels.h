// The per-block kernels of the bnb family. kernels_ref (ref.cc) is the specification; SIMD and CUDA
// variants must reproduce it byte for byte.
#pragma once
#include <cstdint>

#include "bnb.h"

namespace kq::bnb {

struct Kernels {
  // max |x| over x[0..n) (0 for n = 0); sets *non_finite to nonzero when x holds NaN or ±Inf.
  float (*absmax_run)(const float* x, int64_t n, uint32_t* non_finite);
  // 4-bit codes of s = x[i] · inv, two per byte with the even element in the high nibble; an odd n pads
  // the last low nibble with the code of 0 · inv.
  void (*encode4_run)(const float* x, int64_t n, float inv, Quant4 type, uint8_t* packed);
  // 8-bit codes of s = x[i] · inv: the nearest map entry as decided by the 255 f32 midpoints of an
  // ascending map, a value on a midpoint taking the even index of its two neighbours.
  void (*encode8_run)(const float* x, int64_t n, float inv, const float* midpoints, uint8_t* codes);
  // out[i] = table[code i] · absmax, codes packed as encode4_run writes them.
  void (*decode4_run)(const uint8_t* packed, int64_t n, const float* table, float absmax, float* out);
  // out[i] = code[codes[i]] · absmax.
  void (*decode8_run)(const uint8_t* codes, int64_t n, const float* code, float absmax, float* out);
};

// Codebook index packing (bnb.h pack_codes) of one run starting on an element index that is a multiple of 8,
// so it starts on a byte. Scalar only: bit shuffling bound by memory. Indices are masked to `bits`, so a bad
// one (the driver reports it) cannot write past the run's bytes.
void pack_codes_run_ref(const uint8_t* indices, int64_t n, int bits, const uint8_t* remap, uint8_t* packed);
void unpack_codes_run_ref(const uint8_t* packed, int64_t n, int bits, uint8_t* indices);

extern const Kernels kernels_ref;
extern const Kernels kernels_avx2;    // avx2.cc
extern const Kernels kernels_avx512;  // avx512.cc

}  // namespace kq::bnb
