// AVX-512 dense kernels: register tiles of 14×32 f32 (28 zmm accumulators, two B vectors, one broadcast of
// A: 31 of the 32 registers) and 14×16 f64, run by the blocked loop nest of blocked.h. They use FMA, so the
// sums round differently from the reference (one rounding per product-add instead of two, and KC-long
// partial sums): results agree with ref.cc within f32/f64 accumulation error, not bit for bit.
#include <immintrin.h>

#include "blocked.h"

namespace kq::dense {
namespace {

struct MicroF32 {
  using T = float;
  // KC·NR·4 = 32 KiB of B micro-panel, MC·KC·4 = 168 KiB of A block (L2), KC·NC·4 = 2 MiB of B block.
  static constexpr int64_t MR = 14, NR = 32, KC = 256, MC = MR * 12, NC = 2048;

  static void tile(int64_t kc, const float* pa, const float* pb, const float* init, int64_t ldi, float* out,
                   int64_t ldo, Apply op) {
    prefetch_tile<MR, NR>(out, ldo);
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      acc[r][0] = init ? _mm512_loadu_ps(init + r * ldi) : _mm512_setzero_ps();
      acc[r][1] = init ? _mm512_loadu_ps(init + r * ldi + 16) : _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < kc; ++p, pa += MR, pb += NR) {
      const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
#pragma GCC unroll 14
      for (int r = 0; r < MR; ++r) {
        const __m512 av = _mm512_set1_ps(pa[r]);
        acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
      }
    }
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      float* o = out + r * ldo;
      if (op == Apply::add) {
        acc[r][0] = _mm512_add_ps(_mm512_loadu_ps(o), acc[r][0]);
        acc[r][1] = _mm512_add_ps(_mm512_loadu_ps(o + 16), acc[r][1]);
      } else if (op == Apply::sub) {
        acc[r][0] = _mm512_sub_ps(_mm512_loadu_ps(o), acc[r][0]);
        acc[r][1] = _mm512_sub_ps(_mm512_loadu_ps(o + 16), acc[r][1]);
      }
      _mm512_storeu_ps(o, acc[r][0]);
      _mm512_storeu_ps(o + 16, acc[r][1]);
    }
  }
};

struct MicroF64 {
  using T = double;
  // KC·NR·8 = 16 KiB of B micro-panel; the inverse Cholesky calls it with k = its block size (128).
  static constexpr int64_t MR = 14, NR = 16, KC = 128, MC = MR * 16, NC = 1024;

  static void tile(int64_t kc, const double* pa, const double* pb, const double* init, int64_t ldi, double* out,
                   int64_t ldo, Apply op) {
    prefetch_tile<MR, NR>(out, ldo);
    __m512d acc[MR][2];
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      acc[r][0] = init ? _mm512_loadu_pd(init + r * ldi) : _mm512_setzero_pd();
      acc[r][1] = init ? _mm512_loadu_pd(init + r * ldi + 8) : _mm512_setzero_pd();
    }
    for (int64_t p = 0; p < kc; ++p, pa += MR, pb += NR) {
      const __m512d b0 = _mm512_load_pd(pb), b1 = _mm512_load_pd(pb + 8);
#pragma GCC unroll 14
      for (int r = 0; r < MR; ++r) {
        const __m512d av = _mm512_set1_pd(pa[r]);
        acc[r][0] = _mm512_fmadd_pd(av, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_pd(av, b1, acc[r][1]);
      }
    }
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      double* o = out + r * ldo;
      if (op == Apply::add) {
        acc[r][0] = _mm512_add_pd(_mm512_loadu_pd(o), acc[r][0]);
        acc[r][1] = _mm512_add_pd(_mm512_loadu_pd(o + 8), acc[r][1]);
      } else if (op == Apply::sub) {
        acc[r][0] = _mm512_sub_pd(_mm512_loadu_pd(o), acc[r][0]);
        acc[r][1] = _mm512_sub_pd(_mm512_loadu_pd(o + 8), acc[r][1]);
      }
      _mm512_storeu_pd(o, acc[r][0]);
      _mm512_storeu_pd(o + 8, acc[r][1]);
    }
  }
};

}  // namespace

const Kernels kernels_avx512 = {gemm_entry<MicroF32>, syrk_entry<MicroF32, Apply::add>, gemm_entry<MicroF64>,
                                syrk_entry<MicroF64, Apply::sub>};

}  // namespace kq::dense
