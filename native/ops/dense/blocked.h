// The cache-blocked GEMM/SYRK loop nest shared by avx2.cc and avx512.cc, after GotoBLAS/BLIS (Goto & van de
// Geijn, "Anatomy of high-performance matrix multiplication", 2008): a KC×NC block of B is packed into
// NR-wide micro-panels (kept in L2/L3), an MC×KC block of A into MR-tall micro-panels (L2), and a register
// tile of MR×NR accumulators runs over one A and one B micro-panel, the B micro-panel staying in L1 while
// the A micro-panels of the block pass over it. Packing pads the edges with zeros, so the micro-kernel
// always computes a full tile; edge tiles (and tiles crossing SYRK's diagonal) go through a small buffer.
//
// Each file that includes this is compiled for its own instruction set, so everything here has internal
// linkage: a shared inline copy built with -mavx512f could otherwise be linked into the AVX2 path.
#pragma once
#include <algorithm>
#include <immintrin.h>

#include <cstdint>

#include "dense.h"

namespace kq::dense {
namespace {

// How a finished tile sum meets its output.
enum class Apply { set, add, sub };

// Keep-everything value of the `diagonal` argument of Blocked::run.
constexpr int64_t kNoDiagonal = INT64_MAX / 4;

// A thread's grow-only scratch. Not std::vector: a std:: template instantiated in an ISA file is a weak symbol
// the linker may hand to scalar code (BUILD-NOTES); a class in this anonymous namespace stays in its file.
template <typename T>
struct Scratch {
  T* data = nullptr;
  size_t size = 0;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { delete[] data; }
  void release() {
    delete[] data;
    data = nullptr;
    size = 0;
  }
  // `count` elements aligned to 64 bytes (contents unspecified).
  T* get(int64_t count) {
    const size_t need = static_cast<size_t>(count) + 64 / sizeof(T);
    if (size < need) {
      release();
      data = new T[need];
      size = need;
    }
    const uintptr_t p = reinterpret_cast<uintptr_t>(data);
    return reinterpret_cast<T*>((p + 63) & ~static_cast<uintptr_t>(63));
  }
};

// Asks for the MR×NR output tile's cache lines ahead of the k loop: it is read and written only at the end,
// where a miss per row would otherwise stall the kernel (the C tiles of a large update are rarely cached).
template <int64_t MR, int64_t NR, typename T>
void prefetch_tile(const T* out, int64_t ldo) {
  for (int64_t r = 0; r < MR; ++r)
    for (int64_t q = 0; q < NR; q += 64 / static_cast<int64_t>(sizeof(T)))
      _mm_prefetch(reinterpret_cast<const char*>(out + r * ldo + q), _MM_HINT_T0);
}

// The register tile both instruction sets use: MR rows × two vectors of V::W lanes (NR = 2·W), one
// broadcast of A per row and k step, fused multiply-add. V supplies the vector type and its operations
// (T, vec, W, zero, load (aligned), loadu, storeu, bcast, fmadd, add, sub).
template <class V, int64_t MR_, int64_t KC_, int64_t MC_, int64_t NC_>
struct TwoVectorTile {
  using T = typename V::T;
  using vec = typename V::vec;
  static constexpr int64_t W = V::W;
  static constexpr int64_t MR = MR_, NR = 2 * W, KC = KC_, MC = MC_, NC = NC_;

  static void tile(int64_t kc, const T* pa, const T* pb, const T* init, int64_t ldi, T* out, int64_t ldo,
                   Apply op) {
    prefetch_tile<MR, NR>(out, ldo);
    vec acc[MR][2];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      acc[r][0] = init ? V::loadu(init + r * ldi) : V::zero();
      acc[r][1] = init ? V::loadu(init + r * ldi + W) : V::zero();
    }
    for (int64_t p = 0; p < kc; ++p, pa += MR, pb += NR) {
      const vec b0 = V::load(pb), b1 = V::load(pb + W);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        const vec av = V::bcast(pa + r);
        acc[r][0] = V::fmadd(av, b0, acc[r][0]);
        acc[r][1] = V::fmadd(av, b1, acc[r][1]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      T* o = out + r * ldo;
      if (op == Apply::add) {
        acc[r][0] = V::add(V::loadu(o), acc[r][0]);
        acc[r][1] = V::add(V::loadu(o + W), acc[r][1]);
      } else if (op == Apply::sub) {
        acc[r][0] = V::sub(V::loadu(o), acc[r][0]);
        acc[r][1] = V::sub(V::loadu(o + W), acc[r][1]);
      }
      V::storeu(o, acc[r][0]);
      V::storeu(o + W, acc[r][1]);
    }
  }
};

// Micro supplies the element type T, the tile MR×NR, the block sizes KC, MC (a multiple of MR), NC, and
//   static void tile(int64_t kc, const T* pa, const T* pb, const T* init, int64_t ldi, T* out, int64_t ldo,
//                    Apply op);
// which forms acc[r][q] = (init ? init[r*ldi + q] : 0) + Σ_{p<kc} pa[p*MR + r]·pb[p*NR + q] and then applies
// out[r*ldo + q] (op)= acc over the full tile.
template <class Micro>
struct Blocked {
  using T = typename Micro::T;
  static constexpr int64_t MR = Micro::MR, NR = Micro::NR, KC = Micro::KC, MC = Micro::MC, NC = Micro::NC;

  // A(i, p) = a[i*lda + p], or a[p*lda + i] when a_transposed (SYRK's Aᵀ); rows past `rows` read as zero.
  static void pack_a(int64_t rows, int64_t kc, const T* a, int64_t lda, bool a_transposed, T* dst) {
    for (int64_t i0 = 0; i0 < rows; i0 += MR, dst += MR * kc) {
      const int64_t r = std::min(MR, rows - i0);
      if (a_transposed) {
        for (int64_t p = 0; p < kc; ++p) {
          const T* src = a + p * lda + i0;
          T* out = dst + p * MR;
          for (int64_t i = 0; i < r; ++i) out[i] = src[i];
          for (int64_t i = r; i < MR; ++i) out[i] = T(0);
        }
      } else {
        for (int64_t i = 0; i < r; ++i) {
          const T* src = a + (i0 + i) * lda;
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
        }
        for (int64_t i = r; i < MR; ++i)
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = T(0);
      }
    }
  }

  // B(p, j) = b[p*ldb + j]; columns past `cols` read as zero.
  static void pack_b(int64_t kc, int64_t cols, const T* b, int64_t ldb, T* dst) {
    for (int64_t j0 = 0; j0 < cols; j0 += NR, dst += NR * kc) {
      const int64_t w = std::min(NR, cols - j0);
      for (int64_t p = 0; p < kc; ++p) {
        const T* src = b + p * ldb + j0;
        T* out = dst + p * NR;
        for (int64_t q = 0; q < w; ++q) out[q] = src[q];
        for (int64_t q = w; q < NR; ++q) out[q] = T(0);
      }
    }
  }

  static void apply(T& out, T v, Apply op) {
    if (op == Apply::set) out = v;
    else if (op == Apply::add) out += v;
    else out -= v;
  }

  // c[i, j] (op)= Σ_{p<k} A(i, p)·b[p*ldb + j] for i < m, j < n, only where i <= j + diagonal (kNoDiagonal:
  // everywhere). Each output's whole sum is formed before it meets c: with more than KC terms the partial
  // sums wait in a staging buffer (or, for Apply::set, in c itself, which held nothing to meet).
  static void run(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, bool a_transposed, const T* b,
                  int64_t ldb, T* c, int64_t ldc, Apply op, int64_t diagonal) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
      if (op == Apply::set)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = std::max<int64_t>(0, i - diagonal); j < n; ++j) c[i * ldc + j] = T(0);
      return;
    }
    thread_local Scratch<T> a_store, b_store, stage_store;
    const bool staged = k > KC && op != Apply::set;
    T* pa = a_store.get(MC * KC);
    for (int64_t jc = 0; jc < n; jc += NC) {
      const int64_t nc = std::min(NC, n - jc);
      const int64_t nc_padded = (nc + NR - 1) / NR * NR;
      const int64_t m_used = std::min(m, jc + nc + diagonal);  // rows that reach this column block
      if (m_used <= 0) continue;
      T* pb = b_store.get(KC * nc_padded);
      T* stage = staged ? stage_store.get((m_used + MR - 1) / MR * MR * nc_padded) : nullptr;
      for (int64_t pc = 0; pc < k; pc += KC) {
        const int64_t kc = std::min(KC, k - pc);
        const bool first = pc == 0, last = pc + kc == k;
        pack_b(kc, nc, b + pc * ldb + jc, ldb, pb);
        for (int64_t ic = 0; ic < m_used; ic += MC) {
          const int64_t mc = std::min(MC, m_used - ic);
          pack_a(mc, kc, a_transposed ? a + pc * lda + ic : a + ic * lda + pc, lda, a_transposed, pa);
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int64_t cols = std::min(NR, nc - jr), j0 = jc + jr;
            const T* pbj = pb + jr * kc;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const int64_t i0 = ic + ir;
              if (i0 > j0 + cols - 1 + diagonal) break;  // this and later rows lie below the diagonal
              const T* pai = pa + ir * kc;
              T* stage_tile = staged ? stage + i0 * nc_padded + jr : nullptr;
              if (staged && !last) {
                Micro::tile(kc, pai, pbj, first ? nullptr : stage_tile, nc_padded, stage_tile, nc_padded, Apply::set);
                continue;
              }
              const T* init = staged && !first ? stage_tile : nullptr;
              const Apply tile_op = staged || first ? op : Apply::add;  // unstaged later blocks only for set
              const int64_t rows = std::min(MR, mc - ir);
              if (rows == MR && cols == NR && i0 + MR - 1 <= j0 + diagonal) {
                Micro::tile(kc, pai, pbj, init, nc_padded, c + i0 * ldc + j0, ldc, tile_op);
                continue;
              }
              alignas(64) T tmp[MR * NR];
              Micro::tile(kc, pai, pbj, init, nc_padded, tmp, NR, Apply::set);
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t q = std::max<int64_t>(0, i0 + r - j0 - diagonal); q < cols; ++q)
                  apply(c[(i0 + r) * ldc + j0 + q], tmp[r * NR + q], tile_op);
            }
          }
        }
      }
    }
    // The staging buffer grows with m (m × NC); a thread keeps it between calls only while it is small.
    if (stage_store.size * sizeof(T) > (size_t{64} << 20)) stage_store.release();
  }
};

// Kernels-table entries over one micro-kernel.
template <class Micro>
void gemm_entry(int64_t m, int64_t n, int64_t k, const typename Micro::T* a, int64_t lda, const typename Micro::T* b,
                int64_t ldb, typename Micro::T* c, int64_t ldc, Accumulate mode) {
  Blocked<Micro>::run(m, n, k, a, lda, false, b, ldb, c, ldc, mode == Accumulate::overwrite ? Apply::set : Apply::sub,
                      kNoDiagonal);
}

// Columns [j0, j1) of the upper triangle: rows 0..j1 of Aᵀ against columns j0..j1 of A, kept where i <= j.
template <class Micro, Apply op>
void syrk_entry(int64_t n, int64_t k, const typename Micro::T* a, int64_t lda, typename Micro::T* c, int64_t ldc,
                int64_t j0, int64_t j1) {
  (void)n;
  if (j1 <= j0) return;
  Blocked<Micro>::run(j1, j1 - j0, k, a, lda, true, a + j0, lda, c + j0, ldc, op, j0);
}

}  // namespace
}  // namespace kq::dense
