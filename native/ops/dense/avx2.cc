// AVX2 dense kernels: register tiles of 6×16 f32 (12 ymm accumulators, two B vectors, one broadcast of A)
// and 6×8 f64, run by the blocked loop nest of blocked.h. They use FMA, so the sums round differently from
// the reference: results agree with ref.cc within f32/f64 accumulation error, not bit for bit.
#include <immintrin.h>

#include "blocked.h"

namespace kq::dense {
namespace {

struct MicroF32 {
  using T = float;
  // KC·NR·4 = 16 KiB of B micro-panel (L1), MC·KC·4 = 144 KiB of A block (L2).
  static constexpr int64_t MR = 6, NR = 16, KC = 256, MC = MR * 24, NC = 2048;

  static void tile(int64_t kc, const float* pa, const float* pb, const float* init, int64_t ldi, float* out,
                   int64_t ldo, Apply op) {
    prefetch_tile<MR, NR>(out, ldo);
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      acc[r][0] = init ? _mm256_loadu_ps(init + r * ldi) : _mm256_setzero_ps();
      acc[r][1] = init ? _mm256_loadu_ps(init + r * ldi + 8) : _mm256_setzero_ps();
    }
    for (int64_t p = 0; p < kc; ++p, pa += MR, pb += NR) {
      const __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);
#pragma GCC unroll 6
      for (int r = 0; r < MR; ++r) {
        const __m256 av = _mm256_broadcast_ss(pa + r);
        acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
      }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      float* o = out + r * ldo;
      if (op == Apply::add) {
        acc[r][0] = _mm256_add_ps(_mm256_loadu_ps(o), acc[r][0]);
        acc[r][1] = _mm256_add_ps(_mm256_loadu_ps(o + 8), acc[r][1]);
      } else if (op == Apply::sub) {
        acc[r][0] = _mm256_sub_ps(_mm256_loadu_ps(o), acc[r][0]);
        acc[r][1] = _mm256_sub_ps(_mm256_loadu_ps(o + 8), acc[r][1]);
      }
      _mm256_storeu_ps(o, acc[r][0]);
      _mm256_storeu_ps(o + 8, acc[r][1]);
    }
  }
};

struct MicroF64 {
  using T = double;
  static constexpr int64_t MR = 6, NR = 8, KC = 128, MC = MR * 32, NC = 1024;

  static void tile(int64_t kc, const double* pa, const double* pb, const double* init, int64_t ldi, double* out,
                   int64_t ldo, Apply op) {
    prefetch_tile<MR, NR>(out, ldo);
    __m256d acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      acc[r][0] = init ? _mm256_loadu_pd(init + r * ldi) : _mm256_setzero_pd();
      acc[r][1] = init ? _mm256_loadu_pd(init + r * ldi + 4) : _mm256_setzero_pd();
    }
    for (int64_t p = 0; p < kc; ++p, pa += MR, pb += NR) {
      const __m256d b0 = _mm256_load_pd(pb), b1 = _mm256_load_pd(pb + 4);
#pragma GCC unroll 6
      for (int r = 0; r < MR; ++r) {
        const __m256d av = _mm256_broadcast_sd(pa + r);
        acc[r][0] = _mm256_fmadd_pd(av, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_pd(av, b1, acc[r][1]);
      }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      double* o = out + r * ldo;
      if (op == Apply::add) {
        acc[r][0] = _mm256_add_pd(_mm256_loadu_pd(o), acc[r][0]);
        acc[r][1] = _mm256_add_pd(_mm256_loadu_pd(o + 4), acc[r][1]);
      } else if (op == Apply::sub) {
        acc[r][0] = _mm256_sub_pd(_mm256_loadu_pd(o), acc[r][0]);
        acc[r][1] = _mm256_sub_pd(_mm256_loadu_pd(o + 4), acc[r][1]);
      }
      _mm256_storeu_pd(o, acc[r][0]);
      _mm256_storeu_pd(o + 4, acc[r][1]);
    }
  }
};

}  // namespace

const Kernels kernels_avx2 = {gemm_entry<MicroF32>, syrk_entry<MicroF32, Apply::add>, gemm_entry<MicroF64>,
                              syrk_entry<MicroF64, Apply::sub>};

}  // namespace kq::dense
