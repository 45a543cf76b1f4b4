// AVX2 kernels of the linear family, 8 lanes. Bit-exact with ref.cc: the same multiply, add, round-half-even
// and clamp, each one rounding, and a true division for dequantization. A tail shorter than a vector goes
// through masked loads and stores (bytes through a partial memcpy), so every element takes the vector path.
#include <immintrin.h>

#include <cstring>

#include "../../core/avx2_lanes.h"
#include "linear.h"

namespace kq::linear {
namespace {

// x − x is +0 for finite lanes and NaN otherwise, so OR-ing the bits gathers any NaN/Inf into nonzero bits.
inline __m256 gather_non_finite(__m256 acc, __m256 x) { return _mm256_or_ps(acc, _mm256_sub_ps(x, x)); }

inline void report_non_finite(__m256 acc, uint32_t* non_finite) {
  const __m256i bits = _mm256_castps_si256(acc);
  if (!_mm256_testz_si256(bits, bits)) *non_finite = 1;
}

inline float horizontal_min(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}

inline float horizontal_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}

inline __m256i quantize8(__m256 x, __m256 scale, __m256 zero, __m256 qmin, __m256 qmax) {
  const __m256 product = _mm256_mul_ps(x, scale);
  const __m256 shifted = _mm256_add_ps(product, zero);
  const __m256 rounded = _mm256_round_ps(shifted, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // max/min return the second operand when the first is NaN, so NaN lands on qmin as with fmax/fmin.
  return _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(rounded, qmin), qmax));
}

// The low byte of each int32 lane: one shuffle serves [-127,127], [-128,127] and [0,255] alike, where
// saturating packs would need a signed or an unsigned variant.
inline uint64_t low_bytes8(__m256i v) {
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i packed =
      _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pick), _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm256_castsi256_si128(packed)));
}

inline void store_bytes(uint64_t bytes, uint8_t* q, int64_t count) {
  if (count >= kLanes) memcpy(q, &bytes, kLanes);
  else memcpy(q, &bytes, static_cast<size_t>(count));
}

inline __m256 load_stored8(const uint8_t* q, int64_t count, bool is_signed) {
  uint64_t bytes = 0;
  if (count >= kLanes) memcpy(&bytes, q, kLanes);
  else memcpy(&bytes, q, static_cast<size_t>(count));
  const __m128i b = _mm_cvtsi64_si128(static_cast<int64_t>(bytes));
  return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
}

void minmax_run_avx2(const float* x, int64_t n, float* min, float* max, uint32_t* non_finite) {
  __m256 lo = _mm256_set1_ps(x[0]), hi = lo, bad = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m256 v = _mm256_loadu_ps(x + i);
    bad = gather_non_finite(bad, v);
    lo = _mm256_min_ps(v, lo);
    hi = _mm256_max_ps(v, hi);
  }
  if (i < n) {
    // Lanes past the end repeat x[0], which is already part of the range.
    const __m256 v = _mm256_blendv_ps(_mm256_set1_ps(x[0]), load_partial(x + i, n - i),
                                      _mm256_castsi256_ps(lane_mask(n - i)));
    bad = gather_non_finite(bad, v);
    lo = _mm256_min_ps(v, lo);
    hi = _mm256_max_ps(v, hi);
  }
  report_non_finite(bad, non_finite);
  *min = horizontal_min(lo);
  *max = horizontal_max(hi);
}

void minmax_columns_avx2(const float* x, int64_t channels, float* mins, float* maxs, uint32_t* non_finite) {
  __m256 bad = _mm256_setzero_ps();
  for (int64_t c = 0; c < channels; c += kLanes) {
    const int64_t count = channels - c;
    const __m256 v = load_partial(x + c, count);
    bad = gather_non_finite(bad, v);
    store_partial(mins + c, count, _mm256_min_ps(v, load_partial(mins + c, count)));
    store_partial(maxs + c, count, _mm256_max_ps(v, load_partial(maxs + c, count)));
  }
  report_non_finite(bad, non_finite);
}

void quantize_run_avx2(const float* x, int64_t n, float scale, float zero, float qmin, float qmax, uint8_t* q,
                       uint32_t* non_finite) {
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zero);
  const __m256 lo = _mm256_set1_ps(qmin), hi = _mm256_set1_ps(qmax);
  __m256 bad = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256 v = load_partial(x + i, n - i);
    bad = gather_non_finite(bad, v);
    store_bytes(low_bytes8(quantize8(v, vs, vz, lo, hi)), q + i, n - i);
  }
  report_non_finite(bad, non_finite);
}

void quantize_columns_avx2(const float* x, int64_t channels, const float* scales, const float* zeros, float qmin,
                           float qmax, uint8_t* q, uint32_t* non_finite) {
  const __m256 lo = _mm256_set1_ps(qmin), hi = _mm256_set1_ps(qmax);
  __m256 bad = _mm256_setzero_ps();
  for (int64_t c = 0; c < channels; c += kLanes) {
    const int64_t count = channels - c;
    const __m256 v = load_partial(x + c, count);
    bad = gather_non_finite(bad, v);
    const __m256i r = quantize8(v, load_partial(scales + c, count), load_partial(zeros + c, count), lo, hi);
    store_bytes(low_bytes8(r), q + c, count);
  }
  report_non_finite(bad, non_finite);
}

void dequantize_run_avx2(const uint8_t* q, int64_t n, bool is_signed, float scale, float zero, float* out) {
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zero);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256 x = _mm256_div_ps(_mm256_sub_ps(load_stored8(q + i, n - i, is_signed), vz), vs);
    store_partial(out + i, n - i, x);
  }
}

void dequantize_columns_avx2(const uint8_t* q, int64_t channels, bool is_signed, const float* scales,
                             const float* zeros, float* out) {
  for (int64_t c = 0; c < channels; c += kLanes) {
    const int64_t count = channels - c;
    // Masked-off scale lanes are 0 and divide to NaN or Inf, but those lanes are never stored.
    const __m256 diff = _mm256_sub_ps(load_stored8(q + c, count, is_signed), load_partial(zeros + c, count));
    store_partial(out + c, count, _mm256_div_ps(diff, load_partial(scales + c, count)));
  }
}

}  // namespace

const Kernels kernels_avx2 = {minmax_run_avx2,       minmax_columns_avx2,  quantize_run_avx2,
                              quantize_columns_avx2, dequantize_run_avx2, dequantize_columns_avx2};

}  // namespace kq::linear
