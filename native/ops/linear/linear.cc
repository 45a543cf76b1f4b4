// The CPU driver of the linear family: splits a layout into contiguous runs for the active kernel table,
// spreads them over the thread pool, and derives each group's parameters with the reference rule.
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../../core/cpu_features.h"
#include "../../core/cuda_runtime.h"
#include "../../core/thread_pool.h"
#include "linear.h"

namespace kq::linear {
namespace {

// Long runs are cut into pieces so one huge group (per-tensor) still spreads over every thread.
constexpr int64_t kPiece = 1 << 16;
// Rows of a per-column layout handled per task, and the cap on partial-result memory it may use.
constexpr int64_t kPartialBudget = 1 << 22;

Status check_layout(const Layout& layout) {
  if (layout.outer < 0 || layout.channels < 0 || layout.inner < 0)
    return error(Code::shape, "layout dimensions must be non-negative");
  const int64_t limit = std::numeric_limits<int64_t>::max();
  if (layout.channels != 0 && layout.outer > limit / layout.channels)
    return error(Code::too_large, "layout element count overflows 64 bits");
  if (layout.inner != 0 && layout.outer * layout.channels > limit / layout.inner)
    return error(Code::too_large, "layout element count overflows 64 bits");
  return Status::success();
}


// Per-channel min/max over the layout with the given kernels. Returns non-finite through the flag.
void minmax_cpu(const Kernels& k, const float* src, const Layout& L, float* mins, float* maxs, uint32_t* flag) {
  const int64_t C = L.channels;
  std::fill(mins, mins + C, std::numeric_limits<float>::infinity());
  std::fill(maxs, maxs + C, -std::numeric_limits<float>::infinity());
  if (L.numel() == 0) return;
  std::vector<uint32_t> flags;

  if (L.inner == 1) {
    // Per-column: tasks take a band of rows; each band keeps its own partial min/max row.
    const int64_t bands = std::max<int64_t>(1, std::min<int64_t>({L.outer, thread_count() * 2, kPartialBudget / C}));
    const int64_t rows_per_band = (L.outer + bands - 1) / bands;
    std::vector<float> part_min(bands * C, std::numeric_limits<float>::infinity());
    std::vector<float> part_max(bands * C, -std::numeric_limits<float>::infinity());
    flags.assign(bands, 0);
    parallel_for(bands, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r1 = std::min(L.outer, (b + 1) * rows_per_band);
        for (int64_t r = b * rows_per_band; r < r1; ++r)
          k.minmax_columns(src + r * C, C, &part_min[b * C], &part_max[b * C], &flags[b]);
      }
    });
    for (int64_t b = 0; b < bands; ++b)
      for (int64_t c = 0; c < C; ++c) {
        mins[c] = std::fmin(mins[c], part_min[b * C + c]);
        maxs[c] = std::fmax(maxs[c], part_max[b * C + c]);
      }
  } else if (L.inner > kPiece) {
    // Few long runs: every (run, piece) is a task with its own partial result.
    const int64_t pieces = (L.inner + kPiece - 1) / kPiece;
    const int64_t runs = L.outer * C;
    std::vector<float> part_min(runs * pieces), part_max(runs * pieces);
    flags.assign(runs * pieces, 0);
    parallel_for(runs * pieces, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t run = t / pieces, begin = (t % pieces) * kPiece;
        const int64_t len = std::min(kPiece, L.inner - begin);
        k.minmax_run(src + run * L.inner + begin, len, &part_min[t], &part_max[t], &flags[t]);
      }
    });
    for (int64_t t = 0; t < runs * pieces; ++t) {
      const int64_t c = (t / pieces) % C;
      mins[c] = std::fmin(mins[c], part_min[t]);
      maxs[c] = std::fmax(maxs[c], part_max[t]);
    }
  } else {
    // Many short runs: a task owns whole channels, so results need no merging across threads.
    flags.assign(C, 0);
    const int64_t grain = std::max<int64_t>(1, 4096 / L.inner);
    parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t o = 0; o < L.outer; ++o) {
          float lo, hi;
          k.minmax_run(src + (o * C + c) * L.inner, L.inner, &lo, &hi, &flags[c]);
          mins[c] = std::fmin(mins[c], lo);
          maxs[c] = std::fmax(maxs[c], hi);
        }
    });
  }
  for (uint32_t f : flags) *flag |= f;
}

// Applies per-channel parameters over the layout; any split works since elements are independent.
void quantize_cpu(const Kernels& k, const QuantizeArgs& a, const float* zeros, float qmin, float qmax,
                  uint32_t* flag) {
  const Layout& L = a.layout;
  const int64_t C = L.channels;
  std::atomic<uint32_t> any{0};
  if (L.inner == 1) {
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1));
    parallel_for(L.outer, grain, [&](int64_t r0, int64_t r1) {
      uint32_t local = 0;
      for (int64_t r = r0; r < r1; ++r)
        k.quantize_columns(a.src + r * C, C, a.scales, zeros, qmin, qmax, a.dst + r * C, &local);
      if (local) any.store(1);
    });
  } else {
    const int64_t pieces = (L.inner + kPiece - 1) / kPiece;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::min(L.inner, kPiece));
    parallel_for(L.outer * C * pieces, grain, [&](int64_t t0, int64_t t1) {
      uint32_t local = 0;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t run = t / pieces, begin = (t % pieces) * kPiece;
        const int64_t len = std::min(kPiece, L.inner - begin), c = run % C;
        const int64_t offset = run * L.inner + begin;
        k.quantize_run(a.src + offset, len, a.scales[c], zeros[c], qmin, qmax, a.dst + offset, &local);
      }
      if (local) any.store(1);
    });
  }
  *flag |= any.load();
}

// Groups that are single contiguous runs short enough to stay in cache (per block, per row): range,
// parameters and codes in one pass per group instead of two passes over the whole tensor. Same kernels
// and parameter rule as the two-pass path, so the results are identical.
bool fusable(const Layout& L) { return L.outer == 1 && L.inner > 1 && L.inner <= kPiece; }

void quantize_fused_cpu(const Kernels& k, const QuantizeArgs& a, QRange range, uint32_t* flag) {
  const int64_t inner = a.layout.inner;
  const float qmin = static_cast<float>(range.qmin), qmax = static_cast<float>(range.qmax);
  std::atomic<uint32_t> any{0};
  parallel_for(a.layout.channels, std::max<int64_t>(1, 16384 / inner), [&](int64_t c0, int64_t c1) {
    uint32_t local = 0;
    for (int64_t c = c0; c < c1; ++c) {
      const float* run = a.src + c * inner;
      float lo, hi;
      int32_t zp = 0;
      k.minmax_run(run, inner, &lo, &hi, &local);
      params_from_range(a.scheme, range, lo, hi, &a.scales[c], &zp);
      if (a.zero_points) a.zero_points[c] = zp;
      k.quantize_run(run, inner, a.scales[c], static_cast<float>(zp), qmin, qmax, a.dst + c * inner, &local);
    }
    if (local) any.store(1);
  });
  *flag |= any.load();
}

void dequantize_cpu(const Kernels& k, const DequantizeArgs& a, const float* zeros) {
  const Layout& L = a.layout;
  const int64_t C = L.channels;
  if (L.inner == 1) {
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1));
    parallel_for(L.outer, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        k.dequantize_columns(a.src + r * C, C, a.is_signed, a.scales, zeros, a.dst + r * C);
    });
    return;
  }
  const int64_t pieces = (L.inner + kPiece - 1) / kPiece;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::min(L.inner, kPiece));
  parallel_for(L.outer * C * pieces, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t run = t / pieces, begin = (t % pieces) * kPiece;
      const int64_t len = std::min(kPiece, L.inner - begin), c = run % C;
      const int64_t offset = run * L.inner + begin;
      k.dequantize_run(a.src + offset, len, a.is_signed, a.scales[c], zeros[c], a.dst + offset);
    }
  });
}

// Caller-given (static) parameters must describe a valid grid: finite positive scales, zero points in range.
Status check_params(const float* scales, const int32_t* zero_points, int64_t channels, QRange range) {
  for (int64_t c = 0; c < channels; ++c) {
    if (!(std::isfinite(scales[c]) && scales[c] > 0.0f))
      return error(Code::invalid_argument, "scales[" + std::to_string(c) + "] is " + std::to_string(scales[c]) +
                                               "; scales must be finite and > 0");
    if (zero_points && (zero_points[c] < range.qmin || zero_points[c] > range.qmax))
      return error(Code::invalid_argument, "zeroPoints[" + std::to_string(c) + "] is " +
                                               std::to_string(zero_points[c]) + "; expected an integer in [" +
                                               std::to_string(range.qmin) + ", " + std::to_string(range.qmax) + "]");
  }
  return Status::success();
}

std::vector<float> zeros_as_float(const int32_t* zero_points, int64_t channels) {
  std::vector<float> zeros(channels, 0.0f);
  if (zero_points)
    for (int64_t c = 0; c < channels; ++c) zeros[c] = static_cast<float>(zero_points[c]);
  return zeros;
}

}  // namespace

const Kernels& active_kernels() { return kernels_for_level(kernels_ref, kernels_avx2, kernels_avx512); }

Status minmax(const float* src, Layout layout, float* mins, float* maxs, Device device) {
  KQ_RETURN_IF_ERROR(check_layout(layout));
  if (device == Device::cuda) return run_on_cuda("minmax", [&] { return minmax_cuda(src, layout, mins, maxs); });
  uint32_t flag = 0;
  minmax_cpu(active_kernels(), src, layout, mins, maxs, &flag);
  if (flag) return non_finite_error(src, layout.numel());
  return Status::success();
}

Status quantize(const QuantizeArgs& args) {
  KQ_RETURN_IF_ERROR(check_layout(args.layout));
  const QRange range = qrange(args.scheme, args.is_signed);
  if (args.params_given) KQ_RETURN_IF_ERROR(check_params(args.scales, args.zero_points, args.layout.channels, range));
  if (args.device == Device::cuda) return run_on_cuda("quantize", [&] { return quantize_cuda(args); });
  const Kernels& k = active_kernels();
  const int64_t C = args.layout.channels;
  uint32_t flag = 0;
  if (!args.params_given && fusable(args.layout)) {
    quantize_fused_cpu(k, args, range, &flag);
    if (flag) return non_finite_error(args.src, args.layout.numel());
    return Status::success();
  }
  if (!args.params_given) {
    std::vector<float> mins(C), maxs(C);
    minmax_cpu(k, args.src, args.layout, mins.data(), maxs.data(), &flag);
    if (flag) return non_finite_error(args.src, args.layout.numel());
    for (int64_t c = 0; c < C; ++c) {
      int32_t zp = 0;
      params_from_range(args.scheme, range, mins[c], maxs[c], &args.scales[c], &zp);
      if (args.zero_points) args.zero_points[c] = zp;
    }
  }
  const std::vector<float> zeros = zeros_as_float(args.zero_points, C);
  quantize_cpu(k, args, zeros.data(), static_cast<float>(range.qmin), static_cast<float>(range.qmax), &flag);
  if (flag) return non_finite_error(args.src, args.layout.numel());
  return Status::success();
}

Status dequantize(const DequantizeArgs& args) {
  KQ_RETURN_IF_ERROR(check_layout(args.layout));
  const QRange range = qrange(args.zero_points ? Scheme::zero_point : Scheme::absmax, args.is_signed);
  KQ_RETURN_IF_ERROR(check_params(args.scales, args.zero_points, args.layout.channels,
                                  args.zero_points ? range : QRange{-128, 255}));
  if (args.device == Device::cuda) return run_on_cuda("dequantize", [&] { return dequantize_cuda(args); });
  const std::vector<float> zeros = zeros_as_float(args.zero_points, args.layout.channels);
  dequantize_cpu(active_kernels(), args, zeros.data());
  return Status::success();
}

}  // namespace kq::linear
