// The GPTQ solve (reference `fasterquant`, README section 3.3). Rows of W are independent given the inverse
// Hessian factor, so each thread takes a band of rows through every lazy block: the column-by-column error
// feedback inside a block is a per-row sweep, and the deferred update of the columns after the block is one
// GEMM per band. Group parameters are found from W as it stood after the previous blocks (not from the
// block's running copy), exactly as the reference reads `W[:, j:j+groupsize]`.
#include <algorithm>
#include <memory>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "../../core/cuda_runtime.h"
#include "../../core/thread_pool.h"
#include "../dense/dense.h"
#include "gptq.h"
#include "sweep.h"

namespace kq::gptq {
namespace {

Status check(const float* w, int64_t rows, int64_t cols, const float* h, const Options& o) {
  if (rows <= 0 || cols <= 0) return error(Code::shape, "rows and cols must be positive");
  KQ_RETURN_IF_ERROR(check_grid(o.grid, o.group_size));
  if (o.block_size <= 0) return error(Code::invalid_argument, "blockSize must be positive");
  if (!(o.damp >= 0.0f) || !std::isfinite(o.damp)) return error(Code::invalid_argument, "damp must be finite and >= 0");
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i]))
      return error(Code::non_finite, "weight[" + std::to_string(i / cols) + ", " + std::to_string(i % cols) +
                                         "] is not finite");
  for (int64_t i = 0; i < cols * cols; ++i)
    if (!std::isfinite(h[i]))
      return error(Code::non_finite, "hessian[" + std::to_string(i / cols) + ", " + std::to_string(i % cols) +
                                         "] is not finite");
  for (int64_t i = 0; i < cols; ++i)
    if (h[i * cols + i] < 0.0f)
      return error(Code::invalid_argument, "hessian[" + std::to_string(i) + ", " + std::to_string(i) +
                                               "] is negative; a Hessian is positive semi-definite");
  return Status::success();
}

// Large scratch buffers are written in full before they are read, so they skip std::vector's zero fill
// (hundreds of MB of page-touching at 4096 columns).
template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(n)]);
}

// Columns by descending diagonal; ties keep the lower index first.
std::vector<int32_t> column_order(const std::vector<float>& diag, bool act_order) {
  std::vector<int32_t> perm(diag.size());
  std::iota(perm.begin(), perm.end(), 0);
  if (act_order) std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return diag[a] > diag[b]; });
  return perm;
}

// The upper factor U of (P H Pᵀ + damp·I)⁻¹ in f32, stepping the damping up by 0.01 of the mean diagonal
// while the damped matrix is not positive definite (when allowed).
Status inverse_factor(const float* h, int64_t cols, const std::vector<float>& diag, const std::vector<int32_t>& perm,
                      const Options& o, std::unique_ptr<float[]>* hinv, Report* report) {
  double diag_sum = 0.0;
  for (float d : diag) diag_sum += d;
  const float mean_diag = static_cast<float>(diag_sum / static_cast<double>(cols));
  const std::unique_ptr<double[]> a = scratch<double>(cols * cols);
  for (double fraction = o.damp;; fraction += 0.01) {
    const float damp = static_cast<float>(fraction) * mean_diag;
    parallel_for(cols, 16, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t pi = perm[i];
        for (int64_t j = 0; j < cols; ++j) a[i * cols + j] = h[pi * cols + perm[j]];
        a[i * cols + i] = static_cast<double>(diag[pi] + damp);
      }
    });
    const int64_t failed = dense::inverse_cholesky_upper_f64(a.get(), cols);
    if (failed < 0) {
      report->damp = damp;
      report->damp_fraction = fraction;
      break;
    }
    if (!o.damp_auto || fraction + 0.01 >= 1.0)
      return error(Code::invalid_argument,
                   "hessian + " + std::to_string(fraction) + " x mean(diag) is not positive definite (pivot " +
                       std::to_string(failed) + ")" + (o.damp_auto ? " even with damping up to 1.0" : ""));
  }
  *hinv = scratch<float>(cols * cols);
  parallel_for(cols * cols, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) (*hinv)[i] = static_cast<float>(a[i]);
  });
  return Status::success();
}

struct Problem {
  int64_t rows, cols, groups, group_size, block;
  Grid grid;
  bool static_groups;
  const int32_t* perm;
  const float* hinv;         // [cols, cols] upper
  float* work;               // [rows, cols] W permuted, dead columns zeroed; updated in place
  const float* row_scale;    // [rows] parameters for group_size = -1
  const float* row_zero;
  const float* static_scale;  // [rows, groups] for static groups
  const float* static_zero;
  float* q;                  // [rows, cols] dequantized, original order
  const Outputs* out;
  double* row_loss;          // [rows]
};

// Quantizer parameters of one tile for the segment of columns starting at j, and where the segment ends
// (the next group boundary, a column of another static group, or the end of the block).
int64_t segment_params(const Problem& p, int64_t ra, int64_t lanes, int64_t j, int64_t i2, float* scale, float* zero) {
  if (p.group_size <= 0) return i2;
  if (p.static_groups) {
    const int64_t g = p.perm[j] / p.group_size;
    for (int64_t l = 0; l < lanes; ++l) {
      scale[l] = p.static_scale[(ra + l) * p.groups + g];
      zero[l] = p.static_zero[(ra + l) * p.groups + g];
    }
    int64_t end = j + 1;
    while (end < i2 && p.perm[end] / p.group_size == g) ++end;
    return end;
  }
  if (j % p.group_size == 0) {
    const int64_t width = std::min(p.group_size, p.cols - j);
    for (int64_t l = 0; l < lanes; ++l) {
      const int64_t r = ra + l;
      find_params(p.work + r * p.cols + j, width, p.grid, &scale[l], &zero[l]);
      p.out->scales[r * p.groups + j / p.group_size] = scale[l];
      p.out->zeros[r * p.groups + j / p.group_size] = zero[l];
    }
  }
  return std::min(i2, (j / p.group_size + 1) * p.group_size);
}

// One band of rows [r0, r1) through every block, kLanes rows at a time inside a block.
void solve_band(const Problem& p, int64_t r0, int64_t r1) {
  const SweepKernels& kern = active_sweep();
  const int64_t cols = p.cols, band = r1 - r0, tiles = (band + kLanes - 1) / kLanes;
  std::vector<float> err(static_cast<size_t>(band * p.block));
  std::vector<float> w1(static_cast<size_t>(p.block * kLanes)), code(w1.size()), deq(w1.size()), e(w1.size());
  // Per tile: the current group's parameters, kept across blocks (a group may span several); padding lanes
  // get a harmless 1/0 so they never produce NaN.
  std::vector<float> scale(static_cast<size_t>(tiles * kLanes), 1.0f), zero(scale.size(), 0.0f);
  for (int64_t r = r0; r < r1; ++r) {
    scale[r - r0] = p.row_scale[r];
    zero[r - r0] = p.row_zero[r];
  }
  for (int64_t i1 = 0; i1 < cols; i1 += p.block) {
    const int64_t i2 = std::min(cols, i1 + p.block), count = i2 - i1;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t ra = r0 + t * kLanes, lanes = std::min(kLanes, r1 - ra);
      for (int64_t i = 0; i < count; ++i)
        for (int64_t l = 0; l < kLanes; ++l) w1[i * kLanes + l] = l < lanes ? p.work[(ra + l) * cols + i1 + i] : 0.0f;
      float* tile_scale = scale.data() + t * kLanes;
      float* tile_zero = zero.data() + t * kLanes;
      const SweepTile tile{w1.data(), count, p.hinv + i1 * cols + i1, cols, tile_scale, tile_zero,
                           static_cast<float>(p.grid.maxq()), code.data(), deq.data(), e.data()};
      for (int64_t j = i1; j < i2;) {
        const int64_t end = segment_params(p, ra, lanes, j, i2, tile_scale, tile_zero);
        kern.sweep(tile, j - i1, end - i1);
        j = end;
      }
      for (int64_t l = 0; l < lanes; ++l) {
        const int64_t r = ra + l;
        double loss = 0.0;
        for (int64_t i = 0; i < count; ++i) {
          const int64_t orig = p.perm[i1 + i];
          p.out->codes[r * cols + orig] = static_cast<uint8_t>(code[i * kLanes + l]);
          p.q[r * cols + orig] = deq[i * kLanes + l];
          const float ei = e[i * kLanes + l];
          err[(r - r0) * p.block + i] = ei;
          loss += static_cast<double>(ei) * ei;
        }
        p.row_loss[r] += loss / 2.0;
      }
    }
    if (i2 < cols)
      dense::gemm_f32(band, cols - i2, count, err.data(), p.block, p.hinv + i1 * cols + i2, cols,
                      p.work + r0 * cols + i2, cols, dense::Accumulate::subtract);
  }
}

}  // namespace

Status quantize(const float* w, int64_t rows, int64_t cols, const float* h, const Options& o, const Outputs& out,
                Report* report) {
  KQ_RETURN_IF_ERROR(check(w, rows, cols, h, o));
  if (o.device == Device::cuda) KQ_RETURN_IF_ERROR(require_cuda("GPTQ solve"));  // before the CPU's share
  const int64_t groups = group_count(cols, o.group_size);
  *report = Report{};

  // Parameters for group_size = -1 come from the original W, before dead columns are zeroed (README 3.3.1).
  std::vector<float> row_scale(static_cast<size_t>(rows)), row_zero(static_cast<size_t>(rows));
  parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) find_params(w + r * cols, cols, o.grid, &row_scale[r], &row_zero[r]);
  });

  std::vector<float> diag(static_cast<size_t>(cols));
  std::vector<uint8_t> dead(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) {
    dead[i] = h[i * cols + i] == 0.0f;
    diag[i] = dead[i] ? 1.0f : h[i * cols + i];
    report->dead_columns += dead[i];
  }
  const std::vector<int32_t> perm = column_order(diag, o.act_order);

  std::unique_ptr<float[]> hinv;
  KQ_RETURN_IF_ERROR(inverse_factor(h, cols, diag, perm, o, &hinv, report));

  // Working copy: permuted columns, dead inputs zeroed.
  const std::unique_ptr<float[]> work = scratch<float>(rows * cols);
  parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < cols; ++j) work[r * cols + j] = dead[perm[j]] ? 0.0f : w[r * cols + perm[j]];
  });

  std::vector<float> static_scale, static_zero;
  if (o.static_groups && o.group_size > 0) {
    // Static groups: consecutive original columns of W after the dead columns are zeroed (GPTQModel).
    static_scale.resize(static_cast<size_t>(rows * groups));
    static_zero.resize(static_cast<size_t>(rows * groups));
    parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
      std::vector<float> slice(static_cast<size_t>(o.group_size));
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t c0 = g * o.group_size, n = std::min(o.group_size, cols - c0);
          for (int64_t c = 0; c < n; ++c) slice[c] = dead[c0 + c] ? 0.0f : w[r * cols + c0 + c];
          find_params(slice.data(), n, o.grid, &static_scale[r * groups + g], &static_zero[r * groups + g]);
          out.scales[r * groups + g] = static_scale[r * groups + g];
          out.zeros[r * groups + g] = static_zero[r * groups + g];
        }
    });
  } else if (o.group_size <= 0) {
    std::copy(row_scale.begin(), row_scale.end(), out.scales);
    std::copy(row_zero.begin(), row_zero.end(), out.zeros);
  }

  std::unique_ptr<float[]> q_local;
  float* q = out.dequant;
  if (!q) {
    q_local = scratch<float>(rows * cols);
    q = q_local.get();
  }
  std::vector<double> row_loss(static_cast<size_t>(rows), 0.0);
  const int64_t block = std::min(o.block_size, cols);
  const Problem p{rows,          cols,     groups,           o.group_size,      block,
                  o.grid,        o.static_groups && o.group_size > 0,
                  perm.data(),   hinv.get(), work.get(),   row_scale.data(),  row_zero.data(),
                  static_scale.data(), static_zero.data(), q, &out, row_loss.data()};
  const int64_t bands = std::max<int64_t>(1, std::min<int64_t>(rows, thread_count() * 4));
  if (o.device == Device::cuda && solve_cuda_supports(o, cols)) {
    const SolveProblem cuda{rows, cols, groups, o.group_size, block, o.grid, p.static_groups, perm.data(),
                            hinv.get(), work.get(), row_scale.data(), row_zero.data(), static_scale.data(),
                            static_zero.data(), out.codes, out.scales, out.zeros, q, row_loss.data()};
    KQ_RETURN_IF_ERROR(run_on_cuda("GPTQ solve", [&] { return solve_cuda(cuda); }));
  } else {
    parallel_for(rows, (rows + bands - 1) / bands, [&](int64_t r0, int64_t r1) { solve_band(p, r0, r1); });
  }
  for (double l : row_loss) report->loss += l;

  std::vector<int32_t> inverse(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) inverse[perm[j]] = static_cast<int32_t>(j);
  for (int64_t c = 0; c < cols; ++c) {
    const bool permuted_groups = o.act_order && !(o.static_groups && o.group_size > 0);
    out.g_idx[c] = static_cast<int32_t>(o.group_size <= 0 ? 0 : (permuted_groups ? inverse[c] : c) / o.group_size);
    if (out.perm) out.perm[c] = perm[c];
  }

  if (o.errors) {
    report->gptq_error = output_error(w, q, rows, cols, h);
    std::vector<uint8_t> rtn_codes(static_cast<size_t>(rows * cols));
    std::vector<float> rtn_scales(static_cast<size_t>(rows * groups)), rtn_zeros(rtn_scales.size());
    std::vector<int32_t> rtn_g_idx(static_cast<size_t>(cols));
    Outputs rtn{rtn_codes.data(), rtn_scales.data(), rtn_zeros.data(), rtn_g_idx.data(), nullptr, nullptr};
    // The RTN dequantized weight reuses the local buffer when the caller did not ask for Q.
    std::vector<float> rtn_q(out.dequant ? static_cast<size_t>(rows * cols) : 0);
    rtn.dequant = out.dequant ? rtn_q.data() : q;
    KQ_RETURN_IF_ERROR(quantize_rtn(w, rows, cols, o.grid, o.group_size, rtn));
    report->rtn_error = output_error(w, rtn.dequant, rows, cols, h);
  }
  return Status::success();
}

}  // namespace kq::gptq
