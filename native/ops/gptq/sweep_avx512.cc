// AVX-512 tile sweep: one 16-lane vector per column. The same f32 operations as the scalar reference
// (division, round to nearest even, multiply and subtract rounded apart), so results are bit-identical.
// GCC 12 warns falsely (-Wmaybe-uninitialized) inside the AVX-512 intrinsic headers (BUILD-NOTES).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "sweep.h"

namespace kq::gptq {
namespace {

void sweep(const SweepTile& t, int64_t j0, int64_t j1) {
  const __m512 maxq = _mm512_set1_ps(t.maxq);
  const __m512 scale = _mm512_loadu_ps(t.scale);
  const __m512 zero = _mm512_loadu_ps(t.zero);
  for (int64_t j = j0; j < j1; ++j) {
    const float* hrow = t.hinv + j * t.ld;
    const int64_t at = j * kLanes;
    const __m512 w = _mm512_loadu_ps(t.w + at);
    __m512 q = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(w, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zero);
    q = _mm512_min_ps(_mm512_max_ps(q, _mm512_setzero_ps()), maxq);  // NaN (a zero scale) becomes 0
    const __m512 deq = _mm512_mul_ps(scale, _mm512_sub_ps(q, zero));
    const __m512 e = _mm512_div_ps(_mm512_sub_ps(w, deq), _mm512_set1_ps(hrow[j]));
    _mm512_storeu_ps(t.code + at, q);
    _mm512_storeu_ps(t.deq + at, deq);
    _mm512_storeu_ps(t.err + at, e);
    for (int64_t c = j + 1; c < t.count; ++c) {
      float* wc = t.w + c * kLanes;
      _mm512_storeu_ps(wc, _mm512_sub_ps(_mm512_loadu_ps(wc), _mm512_mul_ps(e, _mm512_set1_ps(hrow[c]))));
    }
  }
}

}  // namespace

const SweepKernels sweep_avx512 = {sweep};

}  // namespace kq::gptq
