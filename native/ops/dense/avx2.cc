// AVX2 dense kernels: register tiles of 6×16 f32 (12 ymm accumulators, two B vectors, one broadcast of A)
// and 6×8 f64, run by the blocked loop nest of blocked.h. They use FMA, so the sums round differently from
// the reference: results agree with ref.cc within f32/f64 accumulation error, not bit for bit.
#include <immintrin.h>

#include "blocked.h"

namespace kq::dense {
namespace {

struct VecF32 {
  using T = float;
  using vec = __m256;
  static constexpr int64_t W = 8;
  static vec zero() { return _mm256_setzero_ps(); }
  static vec load(const T* p) { return _mm256_load_ps(p); }
  static vec loadu(const T* p) { return _mm256_loadu_ps(p); }
  static void storeu(T* p, vec v) { _mm256_storeu_ps(p, v); }
  static vec bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
};

struct VecF64 {
  using T = double;
  using vec = __m256d;
  static constexpr int64_t W = 4;
  static vec zero() { return _mm256_setzero_pd(); }
  static vec load(const T* p) { return _mm256_load_pd(p); }
  static vec loadu(const T* p) { return _mm256_loadu_pd(p); }
  static void storeu(T* p, vec v) { _mm256_storeu_pd(p, v); }
  static vec bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_pd(a, b, c); }
  static vec add(vec a, vec b) { return _mm256_add_pd(a, b); }
  static vec sub(vec a, vec b) { return _mm256_sub_pd(a, b); }
};

// KC·NR·4 = 16 KiB of B micro-panel (L1), MC·KC·4 = 144 KiB of A block (L2).
using MicroF32 = TwoVectorTile<VecF32, 6, 256, 6 * 24, 2048>;
using MicroF64 = TwoVectorTile<VecF64, 6, 128, 6 * 32, 1024>;

}  // namespace

const Kernels kernels_avx2 = {gemm_entry<MicroF32>, syrk_entry<MicroF32, Apply::add>, gemm_entry<MicroF64>,
                              syrk_entry<MicroF64, Apply::sub>};

}  // namespace kq::dense
