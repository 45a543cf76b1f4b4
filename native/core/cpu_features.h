// CPU SIMD level, detected once by CPUID and chosen for every op family. KQUANT_SIMD=scalar|avx2|avx512
// in the environment picks a lower level at load; set_simd_level changes it at run time (tests run every
// variant on the same inputs this way). A level the CPU lacks is never selected.
#pragma once
#include <string>

#include "status.h"

namespace kq {

enum class SimdLevel : int { scalar = 0, avx2 = 1, avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;      // with FMA and F16C, as the AVX2 files are compiled
  bool avx512 = false;    // F, BW, VL, DQ with the OS saving zmm state
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
};

const CpuFeatures& cpu_features();
SimdLevel best_simd_level();
SimdLevel simd_level();
Status set_simd_level(SimdLevel level);
const char* simd_level_name(SimdLevel level);
bool parse_simd_level(const std::string& name, SimdLevel* out);
// Why the level differs from the best one (the environment forced it), or empty.
std::string simd_level_note();

// A family's kernel table for the active level; every family keeps one table per instruction set.
template <typename Table>
const Table& kernels_for_level(const Table& scalar, const Table& avx2, const Table& avx512) {
  switch (simd_level()) {
    case SimdLevel::avx512: return avx512;
    case SimdLevel::avx2: return avx2;
    case SimdLevel::scalar: break;
  }
  return scalar;
}

}  // namespace kq
