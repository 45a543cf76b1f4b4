// Drivers of the dense kernels: dispatch, the split over the thread pool, and the blocked inverse Cholesky.
//
// Inverse Cholesky by one factorization and one triangular inverse (2n³/3 flops instead of the reference's
// ≈ 5n³/3): with J the reversal permutation (J = Jᵀ = J⁻¹), factor b = J·a·J = RᵀR with R upper. Then
// a = J Rᵀ R J, a⁻¹ = J R⁻¹ R⁻ᵀ J, and U = J R⁻ᵀ J is upper triangular (J turns lower into upper) with
// Uᵀ U = J R⁻¹ J · J R⁻ᵀ J = a⁻¹ and a positive diagonal, so it is the factor the reference computes.
// Both run blocked in a's own storage with the f64 GEMM/SYRK kernels of the active table, threaded. Unlike
// the reference, nothing is factored a second time, so an a that is positive definite in f64 never fails.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../../core/cpu_features.h"
#include "../../core/thread_pool.h"
#include "dense.h"

namespace kq::dense {

const Kernels& active_kernels() { return kernels_for_level(kernels_ref, kernels_avx2, kernels_avx512); }

namespace {

constexpr int64_t kBlock = 128;       // inverse-Cholesky block: the k of its GEMM/SYRK updates
constexpr int64_t kPanelCols = 256;   // columns (rows) per task of the kb×kb triangular products

// parts+1 cuts of [0, n) into column ranges of equal upper-triangle area (column j holds j+1 entries), on
// multiples of `align`; empty ranges are dropped.
std::vector<int64_t> balanced_columns(int64_t n, int64_t parts, int64_t align) {
  std::vector<int64_t> cuts{0};
  for (int64_t t = 1; t < parts; ++t) {
    const double x = static_cast<double>(n) * std::sqrt(static_cast<double>(t) / static_cast<double>(parts));
    const int64_t cut = std::min(n, static_cast<int64_t>(std::llround(x / static_cast<double>(align))) * align);
    if (cut > cuts.back()) cuts.push_back(cut);
  }
  if (n > cuts.back()) cuts.push_back(n);
  return cuts;
}

// Upper Cholesky of the kb×kb diagonal block d (row stride ld) whose updates from earlier blocks are done:
// -1, or the index of the first pivot that is not positive.
int64_t factor_diagonal(double* d, int64_t ld, int64_t kb) {
  for (int64_t j = 0; j < kb; ++j) {
    double* row = d + j * ld;
    for (int64_t p = 0; p < j; ++p) {
      const double f = d[p * ld + j];
      const double* above = d + p * ld;
      for (int64_t c = j; c < kb; ++c) row[c] -= f * above[c];
    }
    if (!(row[j] > 0.0)) return j;
    const double pivot = std::sqrt(row[j]);
    row[j] = pivot;
    for (int64_t c = j + 1; c < kb; ++c) row[c] /= pivot;
  }
  return -1;
}

// inv (kb×kb, row stride kBlock, lower part zero) = the inverse of the upper triangular r (row stride ld),
// row by row from the bottom: inv[i, c] = -(Σ_{i<p<=c} r[i, p]·inv[p, c]) / r[i, i].
void invert_upper(const double* r, int64_t ld, int64_t kb, double* inv) {
  std::vector<double> sum(static_cast<size_t>(kb));
  for (int64_t i = kb - 1; i >= 0; --i) {
    double* out = inv + i * kBlock;
    std::fill(out, out + kb, 0.0);
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t p = i + 1; p < kb; ++p) {
      const double f = r[i * ld + p];
      const double* below = inv + p * kBlock;
      for (int64_t c = p; c < kb; ++c) sum[c] += f * below[c];
    }
    const double diag = r[i * ld + i];
    out[i] = 1.0 / diag;
    for (int64_t c = i + 1; c < kb; ++c) out[c] = -sum[c] / diag;
  }
}

// Block row k0 (kb rows) of w, columns [c0, n): rows ← t · rows, with t a kb×kb matrix (row stride ldt),
// one GEMM per column chunk on a copy of the chunk.
void multiply_block_row(double* w, int64_t n, int64_t k0, int64_t kb, int64_t c0, const double* t, int64_t ldt,
                        const Kernels& kern) {
  const int64_t width = n - c0;
  parallel_for((width + kPanelCols - 1) / kPanelCols, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<double> old;
    for (int64_t q = t0; q < t1; ++q) {
      const int64_t col = c0 + q * kPanelCols, cw = std::min(kPanelCols, n - col);
      old.resize(static_cast<size_t>(kb * cw));
      for (int64_t i = 0; i < kb; ++i) std::copy_n(w + (k0 + i) * n + col, cw, old.data() + i * cw);
      kern.gemm_f64(kb, cw, kb, t, ldt, old.data(), cw, w + k0 * n + col, n, Accumulate::overwrite);
    }
  });
}

// Right-looking blocked upper Cholesky of w [n, n] (only the upper part is read or written). The inverses
// of the diagonal blocks go to diag_inv (block b at b·kBlock², row stride kBlock). -1, or the first pivot
// that is not positive.
int64_t factor_upper(double* w, int64_t n, double* diag_inv, const Kernels& kern) {
  std::vector<double> lower(kBlock * kBlock);
  for (int64_t k0 = 0; k0 < n; k0 += kBlock) {
    const int64_t kb = std::min(kBlock, n - k0), k1 = k0 + kb, width = n - k1;
    const int64_t failed = factor_diagonal(w + k0 * n + k0, n, kb);
    if (failed >= 0) return k0 + failed;
    double* inv = diag_inv + (k0 / kBlock) * kBlock * kBlock;
    invert_upper(w + k0 * n + k0, n, kb, inv);
    if (width == 0) break;
    // Block row: R[k, k1:] = R_kk⁻ᵀ · b[k, k1:], as one GEMM with the explicit lower R_kk⁻ᵀ.
    for (int64_t i = 0; i < kb; ++i)
      for (int64_t p = 0; p < kb; ++p) lower[i * kb + p] = inv[p * kBlock + i];
    multiply_block_row(w, n, k0, kb, k1, lower.data(), kb, kern);
    // Trailing update: b[k1:, k1:] -= R[k, k1:]ᵀ · R[k, k1:] (upper part), in column ranges of equal area.
    const std::vector<int64_t> cuts = balanced_columns(width, 2 * thread_count(), 16);
    parallel_for(static_cast<int64_t>(cuts.size()) - 1, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        kern.syrk_upper_sub_f64(width, kb, w + k0 * n + k1, n, w + k1 * n + k1, n, cuts[t], cuts[t + 1]);
    });
  }
  return -1;
}

// R (upper, from factor_upper) becomes R⁻¹ in place (the strict lower part is neither read nor written) by
// block Gauss-Jordan elimination on [R | I], one pivot block k at a time, so that the bulk of the work is
// one wide rank-kb GEMM per step (like the Cholesky's trailing update) rather than many narrow ones.
// Before step k, rows above k hold (R₁₁⁻¹ in the leading columns | R₁₁⁻¹·R₁₂ in the rest); with P = R_kk:
//   row k      ← P⁻¹ · R[k, k1:]
//   rows above ← S[:, k1:] - S[:, k]·(P⁻¹ R[k, k1:]),   then S[:, k] ← -S[:, k]·P⁻¹,   R_kk ← P⁻¹.
// Same n³/3 flops as the column-by-column inverse; the two kb×kb triangular products are done as full GEMMs.
void invert_factor(double* w, int64_t n, const double* diag_inv, const Kernels& kern) {
  std::vector<double> neg_inv(kBlock * kBlock);
  for (int64_t k0 = 0; k0 < n; k0 += kBlock) {
    const int64_t kb = std::min(kBlock, n - k0), k1 = k0 + kb, width = n - k1;
    const double* inv = diag_inv + (k0 / kBlock) * kBlock * kBlock;
    if (width > 0) multiply_block_row(w, n, k0, kb, k1, inv, kBlock, kern);
    if (k0 > 0 && width > 0) {
      // Rows [0, k0) × columns [k1, n): split the wider side, in equal pieces.
      const bool by_columns = width >= k0;
      const int64_t extent = by_columns ? width : k0;
      const int64_t pieces = std::max<int64_t>(1, std::min<int64_t>(2 * thread_count(), extent / 64));
      const int64_t step = (extent + pieces - 1) / pieces;
      parallel_for(pieces, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t b = t * step, e = std::min(extent, b + step);
          if (b >= e) continue;
          if (by_columns)
            kern.gemm_f64(k0, e - b, kb, w + k0, n, w + k0 * n + k1 + b, n, w + k1 + b, n, Accumulate::subtract);
          else
            kern.gemm_f64(e - b, width, kb, w + b * n + k0, n, w + k0 * n + k1, n, w + b * n + k1, n,
                          Accumulate::subtract);
        }
      });
    }
    if (k0 > 0) {
      for (int64_t i = 0; i < kb; ++i)
        for (int64_t c = 0; c < kb; ++c) neg_inv[i * kb + c] = -inv[i * kBlock + c];
      parallel_for((k0 + kPanelCols - 1) / kPanelCols, 1, [&](int64_t t0, int64_t t1) {
        thread_local std::vector<double> old;
        for (int64_t q = t0; q < t1; ++q) {
          const int64_t r0 = q * kPanelCols, rows = std::min(kPanelCols, k0 - r0);
          old.resize(static_cast<size_t>(rows * kb));
          for (int64_t i = 0; i < rows; ++i) std::copy_n(w + (r0 + i) * n + k0, kb, old.data() + i * kb);
          kern.gemm_f64(rows, kb, kb, old.data(), kb, neg_inv.data(), kb, w + r0 * n + k0, n, Accumulate::overwrite);
        }
      });
    }
    for (int64_t i = 0; i < kb; ++i) std::copy(inv + i * kBlock + i, inv + i * kBlock + kb, w + (k0 + i) * n + k0 + i);
  }
}

// The upper part of a (diagonal included) ← that of b = J·a·J (reversed) or of a itself, read from a's
// strict lower triangle, which the reference reads and which the factorization leaves alone, and from the
// saved diagonal. So the factorization runs in a's own storage and a's input stays available until the end.
void load_upper(double* a, int64_t n, bool reversed, const std::vector<double>& diag) {
  parallel_for(n, 64, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      double* row = a + i * n;
      if (reversed) {
        const double* src = a + (n - 1 - i) * n + (n - 1);  // b[i, j] = a[n-1-i, n-1-j]
        for (int64_t j = i + 1; j < n; ++j) row[j] = src[-j];
        row[i] = diag[n - 1 - i];
      } else {
        for (int64_t j = i + 1; j < n; ++j) row[j] = a[j * n + i];
        row[i] = diag[i];
      }
    }
  });
}

// a[i, j] ↔ a[n-1-j, n-1-i] over the upper part (the transpose across the anti-diagonal, which maps the
// upper part onto itself), then the strict lower part zeroed. Each pair is swapped by the element before
// the anti-diagonal (i + j < n - 1), in 64×64 tiles so the partner column walk stays in cache.
void anti_transpose_upper(double* a, int64_t n) {
  constexpr int64_t kTile = 64;
  parallel_for((n + kTile - 1) / kTile, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t i0 = b0 * kTile; i0 < std::min(n, b1 * kTile); i0 += kTile) {
      const int64_t i1 = std::min(n, i0 + kTile);
      for (int64_t j0 = i0; j0 < n - i0; j0 += kTile) {
        const int64_t j1 = std::min(n, j0 + kTile);
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = std::max(i, j0); j < std::min(j1, n - 1 - i); ++j)
            std::swap(a[i * n + j], a[(n - 1 - j) * n + (n - 1 - i)]);
      }
    }
  });
  parallel_for(n, 64, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) std::fill(a + i * n, a + i * n + i, 0.0);
  });
}

}  // namespace

void gemm_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc, Accumulate mode) {
  active_kernels().gemm_f32(m, n, k, a, lda, b, ldb, c, ldc, mode);
}

void syrk_upper_f32(int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc) {
  const Kernels& kern = active_kernels();
  // One range per thread: each call packs Aᵀ for its rows, so more ranges would pack it more often.
  const std::vector<int64_t> cuts = balanced_columns(n, thread_count(), 32);
  parallel_for(static_cast<int64_t>(cuts.size()) - 1, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) kern.syrk_upper_f32(n, k, a, lda, c, ldc, cuts[t], cuts[t + 1]);
  });
}

int64_t inverse_cholesky_upper_f64(double* a, int64_t n) {
  if (n <= 0) return -1;
  const Kernels& kern = active_kernels();
  std::vector<double> diag(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) diag[i] = a[i * n + i];
  std::vector<double> diag_inv(static_cast<size_t>((n + kBlock - 1) / kBlock * kBlock * kBlock));
  load_upper(a, n, true, diag);
  const int64_t failed = factor_upper(a, n, diag_inv.data(), kern);
  if (failed >= 0) {
    // The reversed order meets trailing minors of a first; the reference reports the first failing leading
    // minor, so factor a in its own order to find it (its lower part and diagonal are still intact).
    // Should rounding let that one through, the reversed failure is reported as a's row.
    load_upper(a, n, false, diag);
    const int64_t forward = factor_upper(a, n, diag_inv.data(), kern);
    return forward >= 0 ? forward : n - 1 - failed;
  }
  invert_factor(a, n, diag_inv.data(), kern);
  anti_transpose_upper(a, n);  // U[i, j] = R⁻¹[n-1-j, n-1-i]
  return -1;
}

}  // namespace kq::dense
