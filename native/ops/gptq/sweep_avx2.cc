// AVX2 tile sweep: two 8-lane vectors per column. Division, rounding to nearest even and the separate
// multiply and subtract are the scalar reference's f32 operations, so results are bit-identical.
#include <immintrin.h>

#include "sweep.h"

namespace kq::gptq {
namespace {

inline __m256 quantize8(__m256 w, __m256 scale, __m256 zero, __m256 maxq) {
  __m256 q = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(w, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zero);
  q = _mm256_max_ps(q, _mm256_setzero_ps());  // NaN (a zero scale) becomes 0, as the reference's clamp
  return _mm256_min_ps(q, maxq);
}

void sweep(const SweepTile& t, int64_t j0, int64_t j1) {
  const __m256 maxq = _mm256_set1_ps(t.maxq);
  __m256 scale[2], zero[2];
  for (int v = 0; v < 2; ++v) {
    scale[v] = _mm256_loadu_ps(t.scale + 8 * v);
    zero[v] = _mm256_loadu_ps(t.zero + 8 * v);
  }
  for (int64_t j = j0; j < j1; ++j) {
    const float* hrow = t.hinv + j * t.ld;
    const __m256 d = _mm256_set1_ps(hrow[j]);
    __m256 e[2];
    for (int v = 0; v < 2; ++v) {
      const int64_t at = j * kLanes + 8 * v;
      const __m256 w = _mm256_loadu_ps(t.w + at);
      const __m256 q = quantize8(w, scale[v], zero[v], maxq);
      const __m256 deq = _mm256_mul_ps(scale[v], _mm256_sub_ps(q, zero[v]));
      e[v] = _mm256_div_ps(_mm256_sub_ps(w, deq), d);
      _mm256_storeu_ps(t.code + at, q);
      _mm256_storeu_ps(t.deq + at, deq);
      _mm256_storeu_ps(t.err + at, e[v]);
    }
    for (int64_t c = j + 1; c < t.count; ++c) {
      const __m256 h = _mm256_set1_ps(hrow[c]);
      float* wc = t.w + c * kLanes;
      _mm256_storeu_ps(wc, _mm256_sub_ps(_mm256_loadu_ps(wc), _mm256_mul_ps(e[0], h)));
      _mm256_storeu_ps(wc + 8, _mm256_sub_ps(_mm256_loadu_ps(wc + 8), _mm256_mul_ps(e[1], h)));
    }
  }
}

}  // namespace

const SweepKernels sweep_avx2 = {sweep};

}  // namespace kq::gptq
