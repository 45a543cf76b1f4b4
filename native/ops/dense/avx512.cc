// AVX-512 dense kernels: register tiles of 14×32 f32 (28 zmm accumulators, two B vectors, one broadcast of
// A: 31 of the 32 registers) and 14×16 f64, run by the blocked loop nest of blocked.h. They use FMA, so the
// sums round differently from the reference (one rounding per product-add instead of two, and KC-long
// partial sums): results agree with ref.cc within f32/f64 accumulation error, not bit for bit.
#include <immintrin.h>

#include "blocked.h"

namespace kq::dense {
namespace {

struct VecF32 {
  using T = float;
  using vec = __m512;
  static constexpr int64_t W = 16;
  static vec zero() { return _mm512_setzero_ps(); }
  static vec load(const T* p) { return _mm512_load_ps(p); }
  static vec loadu(const T* p) { return _mm512_loadu_ps(p); }
  static void storeu(T* p, vec v) { _mm512_storeu_ps(p, v); }
  static vec bcast(const T* p) { return _mm512_set1_ps(*p); }
  static vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
};

struct VecF64 {
  using T = double;
  using vec = __m512d;
  static constexpr int64_t W = 8;
  static vec zero() { return _mm512_setzero_pd(); }
  static vec load(const T* p) { return _mm512_load_pd(p); }
  static vec loadu(const T* p) { return _mm512_loadu_pd(p); }
  static void storeu(T* p, vec v) { _mm512_storeu_pd(p, v); }
  static vec bcast(const T* p) { return _mm512_set1_pd(*p); }
  static vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_pd(a, b, c); }
  static vec add(vec a, vec b) { return _mm512_add_pd(a, b); }
  static vec sub(vec a, vec b) { return _mm512_sub_pd(a, b); }
};

// KC·NR·4 = 32 KiB of B micro-panel, MC·KC·4 = 168 KiB of A block (L2), KC·NC·4 = 2 MiB of B block.
using MicroF32 = TwoVectorTile<VecF32, 14, 256, 14 * 12, 2048>;
// KC·NR·8 = 16 KiB of B micro-panel; the inverse Cholesky calls it with k = its block size (128).
using MicroF64 = TwoVectorTile<VecF64, 14, 128, 14 * 16, 1024>;

}  // namespace

const Kernels kernels_avx512 = {gemm_entry<MicroF32>, syrk_entry<MicroF32, Apply::add>, gemm_entry<MicroF64>,
                                syrk_entry<MicroF64, Apply::sub>};

}  // namespace kq::dense
