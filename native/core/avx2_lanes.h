// Masked 8-lane f32 loads and stores for the tails of AVX2 kernels. Include only from files compiled with
// -mavx2 (ops/*/avx2.cc). The helpers have internal linkage, so each file keeps its own copy: a shared
// inline copy compiled for another instruction set could otherwise be linked in its place.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace kq {
namespace {

constexpr int64_t kLanes = 8;

// Lanes [0, count) set; count may be <= 0 (none) or exceed 8 (all).
inline __m256i lane_mask(int64_t count) {
  const int32_t c = static_cast<int32_t>(count < 0 ? 0 : count < kLanes ? count : kLanes);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Masked-off lanes read as 0.0f. Full vectors take plain loads and stores: vmaskmov is slow on some CPUs.
inline __m256 load_partial(const float* p, int64_t count) {
  return count >= kLanes ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lane_mask(count));
}

inline void store_partial(float* p, int64_t count, __m256 v) {
  if (count >= kLanes) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, lane_mask(count), v);
}

}  // namespace
}  // namespace kq
