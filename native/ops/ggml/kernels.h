// The per-type row kernels of the ggml family, one table per instruction set. kernels_ref (ref.cc) is the
// specification: its entries are the reference functions of ggml.h. The AVX2 / AVX-512 tables must give the
// same bytes (quantize) and the same float bits (dequantize) on any input; an entry a table does not speed up
// is the reference function itself.
#pragma once
#include <cstdint>

#include "ggml.h"

namespace kq::ggml {

// One row of k elements (k a multiple of the type's block size): k / block_size blocks in or out.
using QuantizeRowFn = void (*)(const float* x, uint8_t* y, int64_t k);
using DequantizeRowFn = void (*)(const uint8_t* x, float* y, int64_t k);

// Dense table index of each implemented type (ggml's ids are sparse).
enum Slot : int {
  kSlotQ4_0, kSlotQ4_1, kSlotQ5_0, kSlotQ5_1, kSlotQ8_0, kSlotQ8_1, kSlotQ2_K, kSlotQ3_K, kSlotQ4_K, kSlotQ5_K,
  kSlotQ6_K, kSlotQ8_K, kSlotIQ4_NL, kSlotTQ1_0, kSlotTQ2_0, kSlotMXFP4, kSlotCount
};
Slot slot_of(Type type);  // ref.cc

struct Kernels {
  QuantizeRowFn quantize[kSlotCount];
  DequantizeRowFn dequantize[kSlotCount];
  // Whether x[0..n) holds NaN or ±Inf (the drivers reject such input; x − x is NaN exactly for those).
  bool (*has_non_finite)(const float* x, int64_t n);
};

// Each table is a compile-time constant: loading the library runs no code built for an instruction set the CPU
// may lack.
extern const Kernels kernels_ref;
extern const Kernels kernels_avx2;    // avx2.cc
extern const Kernels kernels_avx512;  // avx512.cc

// The table of the active SIMD level.
const Kernels& active_kernels();

}  // namespace kq::ggml
