// CUDA kernels of the linear family. The entry points take host pointers (as the CPU driver does): they
// upload, run and download. Every step rounds exactly as ref.cc does (explicit _rn intrinsics, no FMA),
// so results are bit-identical to the CPU reference; group parameters come from the same host
// params_from_range, fed by a device min/max.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "../../core/cuda_check.cuh"
#include "linear.h"

namespace kq::linear {
namespace {

constexpr int kThreads = 256;
// Grid-stride loops cover any size; more blocks than this only add scheduling overhead.
constexpr int64_t kMaxBlocks = 1 << 16;
// Lanes a min/max pass aims to keep busy (a few waves of an H100), and the fewest elements per lane worth a
// partial result: below that the partials cost more traffic than they save.
constexpr int64_t kTargetLanes = 1 << 20;
constexpr int64_t kMinPerLane = 16;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

unsigned blocks_for(int64_t threads) { return static_cast<unsigned>(std::min(ceil_div(threads, kThreads), kMaxBlocks)); }

// A byte count that wraps size_t would make cudaMalloc succeed with a tiny buffer.
Status check_bytes(int64_t n) {
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / sizeof(float))
    return error(Code::too_large, "tensor of " + std::to_string(n) + " elements is too large for CUDA");
  return Status::success();
}

// How one min/max pass cuts each channel into slices, each reduced by a group of lanes to one partial.
struct SlicePlan {
  int group;           // lanes per slice: a power of two <= 32, so groups tile a warp and reduce by shuffles
  int64_t rows;        // rows of `outer` per slice
  int64_t piece;       // elements of `inner` per slice, a multiple of `group`
  int64_t row_chunks;  // slices per channel = row_chunks * pieces
  int64_t pieces;
};

// Enough slices that about kTargetLanes lanes work, split along inner first (contiguous reads), then rows.
SlicePlan plan_slices(const Layout& L) {
  SlicePlan p{};
  p.group = 1;
  while (p.group < 32 && p.group < L.inner) p.group *= 2;
  const int64_t wanted = ceil_div(ceil_div(kTargetLanes, p.group), L.channels);
  const int64_t affordable = std::max<int64_t>(1, L.outer * L.inner / (p.group * kMinPerLane));
  const int64_t slices = std::min(wanted, affordable);
  p.pieces = std::min(slices, std::max<int64_t>(1, L.inner / (p.group * kMinPerLane)));
  p.piece = ceil_div(ceil_div(L.inner, p.pieces), p.group) * p.group;
  p.pieces = ceil_div(L.inner, p.piece);
  p.rows = ceil_div(L.outer, std::min(L.outer, ceil_div(slices, p.pieces)));
  p.row_chunks = ceil_div(L.outer, p.rows);
  return p;
}

// One pass: slice s of channel c reduces to lo_out/hi_out[c * slices + s], which is itself the layout
// [1, channels, slices] for the next pass. hi_in == nullptr means the input is plain data (lo_in = hi_in).
// Tasks are numbered slice-major so neighbouring groups read neighbouring channels (coalesced when inner is
// short or 1). The loop bound is uniform per warp so every lane reaches the full-mask shuffles.
__global__ void minmax_slices(const float* __restrict__ lo_in, const float* __restrict__ hi_in, Layout L,
                              SlicePlan p, int64_t tasks, float* __restrict__ lo_out, float* __restrict__ hi_out,
                              uint32_t* non_finite) {
  const int lane = threadIdx.x % 32;
  const int sub = lane % p.group;
  const int64_t groups_per_warp = 32 / p.group;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
  const int64_t slices = p.row_chunks * p.pieces;
  bool bad = false;
  for (int64_t base = warp * groups_per_warp; base < tasks; base += warps * groups_per_warp) {
    const int64_t task = base + lane / p.group;
    const int64_t s = slices == 1 ? 0 : task / L.channels;
    const int64_t c = task - s * L.channels;
    float lo = INFINITY, hi = -INFINITY;
    if (task < tasks) {
      const int64_t chunk = s / p.pieces, piece = s - chunk * p.pieces;
      const int64_t o1 = min(L.outer, (chunk + 1) * p.rows);
      const int64_t i0 = piece * p.piece, i1 = min(L.inner, i0 + p.piece);
      for (int64_t o = chunk * p.rows; o < o1; ++o) {
        const int64_t row = (o * L.channels + c) * L.inner;
        for (int64_t i = i0 + sub; i < i1; i += p.group) {
          const float v = lo_in[row + i];
          bad |= isnan(v - v);  // x − x is NaN exactly for NaN and ±Inf
          lo = fminf(lo, v);
          hi = fmaxf(hi, hi_in ? hi_in[row + i] : v);
        }
      }
    }
    for (int offset = p.group / 2; offset > 0; offset /= 2) {
      lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, offset));
      hi = fmaxf(hi, __shfl_xor_sync(0xffffffffu, hi, offset));
    }
    if (sub == 0 && task < tasks) {
      lo_out[c * slices + s] = lo;
      hi_out[c * slices + s] = hi;
    }
  }
  if (bad) *non_finite = 1;
}

// Per-channel min/max of device data x (numel > 0) into device arrays mins/maxs, in passes of partials
// until one slice per channel is left. min and max are exact, so the reduction order cannot change results.
Status minmax_device(const float* x, Layout L, float* mins, float* maxs, uint32_t* non_finite) {
  if (L.channels == 1) L = Layout{1, 1, L.numel()};  // one group: a single long run reduces best
  const int64_t C = L.channels;
  std::deque<DeviceBuffer> partials;  // each pass's output must outlive the pass that reads it
  const float* lo = x;
  const float* hi = nullptr;
  for (;;) {
    const SlicePlan p = plan_slices(L);
    const int64_t slices = p.row_chunks * p.pieces;
    float* lo_out = mins;
    float* hi_out = maxs;
    if (slices > 1) {
      const size_t bytes = static_cast<size_t>(C * slices) * sizeof(float);
      KQ_RETURN_IF_ERROR(partials.emplace_back().allocate(bytes));
      KQ_RETURN_IF_ERROR(partials.emplace_back().allocate(bytes));
      lo_out = partials[partials.size() - 2].as<float>();
      hi_out = partials.back().as<float>();
    }
    const int64_t tasks = C * slices;
    minmax_slices<<<blocks_for(ceil_div(tasks, 32 / p.group) * 32), kThreads>>>(lo, hi, L, p, tasks, lo_out, hi_out,
                                                                               non_finite);
    KQ_RETURN_IF_ERROR(cuda_check_launch("minmax_slices"));
    if (slices == 1) return Status::success();
    lo = lo_out;
    hi = hi_out;
    L = Layout{1, C, slices};
  }
}

// Per-channel min/max of uploaded data into host mins/maxs; host_src locates a NaN/Inf for the message.
Status minmax_to_host(const float* x, const float* host_src, const Layout& L, float* mins, float* maxs) {
  const size_t bytes = static_cast<size_t>(L.channels) * sizeof(float);
  DeviceBuffer d_mins, d_maxs, flag;
  KQ_RETURN_IF_ERROR(d_mins.allocate(bytes));
  KQ_RETURN_IF_ERROR(d_maxs.allocate(bytes));
  KQ_RETURN_IF_ERROR(zeroed_flag(&flag));
  KQ_RETURN_IF_ERROR(minmax_device(x, L, d_mins.as<float>(), d_maxs.as<float>(), flag.as<uint32_t>()));
  KQ_RETURN_IF_ERROR(check_flag(flag, host_src, L.numel()));
  KQ_RETURN_IF_ERROR(d_mins.download(mins, bytes));
  return d_maxs.download(maxs, bytes);
}

// The channel of element k of a layout, carried along a grid-stride loop: k advances by a fixed stride, so
// the position advances by whole runs plus a remainder, with no 64-bit division per element.
struct ChannelWalk {
  int64_t i, c;    // position in the current run, channel of the run
  int64_t di, dc;  // the stride as (stride % inner) elements plus (stride / inner) % channels channels
  int64_t inner, channels;

  __device__ ChannelWalk(int64_t k, int64_t stride, int64_t inner_, int64_t channels_)
      : i(k % inner_), c(k / inner_ % channels_), di(stride % inner_), dc(stride / inner_ % channels_),
        inner(inner_), channels(channels_) {}

  __device__ void advance() {
    i += di;
    c += dc;
    if (i >= inner) {
      i -= inner;
      ++c;
    }
    if (c >= channels) c -= channels;  // c <= 2·channels − 1 here
  }
};

__device__ uint8_t quantize_one(float x, float scale, float zero, float qmin, float qmax) {
  const float shifted = __fadd_rn(__fmul_rn(x, scale), zero);
  const float clamped = fminf(fmaxf(rintf(shifted), qmin), qmax);  // rintf: round half to even
  return static_cast<uint8_t>(static_cast<int32_t>(clamped));
}

__global__ void quantize_kernel(const float* __restrict__ x, int64_t n, int64_t inner, int64_t channels,
                                const float* __restrict__ scales, const float* __restrict__ zeros, float qmin,
                                float qmax, uint8_t* __restrict__ q, uint32_t* non_finite) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= n) return;
  bool bad = false;
  for (ChannelWalk at(k, stride, inner, channels); k < n; k += stride, at.advance()) {
    const float v = x[k];
    bad |= isnan(v - v);
    q[k] = quantize_one(v, scales[at.c], zeros[at.c], qmin, qmax);
  }
  if (bad) *non_finite = 1;
}

__global__ void dequantize_kernel(const uint8_t* __restrict__ q, int64_t n, int64_t inner, int64_t channels,
                                  bool is_signed, const float* __restrict__ scales, const float* __restrict__ zeros,
                                  float* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= n) return;
  for (ChannelWalk at(k, stride, inner, channels); k < n; k += stride, at.advance()) {
    const float stored = is_signed ? static_cast<float>(static_cast<int8_t>(q[k])) : static_cast<float>(q[k]);
    out[k] = __fdiv_rn(__fsub_rn(stored, zeros[at.c]), scales[at.c]);
  }
}

// Scales and float zero points (all zero when zero_points is null) on the device.
Status upload_params(const float* scales, const int32_t* zero_points, int64_t channels, DeviceBuffer* d_scales,
                     DeviceBuffer* d_zeros) {
  std::vector<float> zeros(channels, 0.0f);
  if (zero_points)
    for (int64_t c = 0; c < channels; ++c) zeros[c] = static_cast<float>(zero_points[c]);
  const size_t bytes = static_cast<size_t>(channels) * sizeof(float);
  KQ_RETURN_IF_ERROR(d_scales->upload(scales, bytes));
  return d_zeros->upload(zeros.data(), bytes);
}

}  // namespace

Status minmax_cuda(const float* src, Layout layout, float* mins, float* maxs) {
  const int64_t n = layout.numel();
  // As on the CPU, an empty layout leaves each channel at the identity of min/max.
  std::fill(mins, mins + layout.channels, std::numeric_limits<float>::infinity());
  std::fill(maxs, maxs + layout.channels, -std::numeric_limits<float>::infinity());
  if (n == 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(n));
  DeviceBuffer x;
  KQ_RETURN_IF_ERROR(x.upload(src, static_cast<size_t>(n) * sizeof(float)));
  return minmax_to_host(x.as<float>(), src, layout, mins, maxs);
}

Status quantize_cuda(const QuantizeArgs& args) {
  const Layout& L = args.layout;
  const int64_t n = L.numel(), C = L.channels;
  const QRange range = qrange(args.scheme, args.is_signed);
  KQ_RETURN_IF_ERROR(check_bytes(n));
  DeviceBuffer x;
  if (n > 0) KQ_RETURN_IF_ERROR(x.upload(args.src, static_cast<size_t>(n) * sizeof(float)));
  if (!args.params_given) {
    // Parameters come from the host rule itself, so they match the CPU's exactly; an empty layout gives
    // each channel the range [+Inf, −Inf], as on the CPU.
    std::vector<float> mins(C, std::numeric_limits<float>::infinity());
    std::vector<float> maxs(C, -std::numeric_limits<float>::infinity());
    if (n > 0) KQ_RETURN_IF_ERROR(minmax_to_host(x.as<float>(), args.src, L, mins.data(), maxs.data()));
    for (int64_t c = 0; c < C; ++c) {
      int32_t zp = 0;
      params_from_range(args.scheme, range, mins[c], maxs[c], &args.scales[c], &zp);
      if (args.zero_points) args.zero_points[c] = zp;
    }
  }
  if (n == 0) return Status::success();

  DeviceBuffer scales, zeros, q, flag;
  KQ_RETURN_IF_ERROR(upload_params(args.scales, args.zero_points, C, &scales, &zeros));
  KQ_RETURN_IF_ERROR(q.allocate(static_cast<size_t>(n)));
  KQ_RETURN_IF_ERROR(zeroed_flag(&flag));
  quantize_kernel<<<blocks_for(n), kThreads>>>(x.as<float>(), n, L.inner, C, scales.as<float>(), zeros.as<float>(),
                                               static_cast<float>(range.qmin), static_cast<float>(range.qmax),
                                               q.as<uint8_t>(), flag.as<uint32_t>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("quantize_kernel"));
  KQ_RETURN_IF_ERROR(check_flag(flag, args.src, n));
  return q.download(args.dst, static_cast<size_t>(n));
}

Status dequantize_cuda(const DequantizeArgs& args) {
  const Layout& L = args.layout;
  const int64_t n = L.numel();
  if (n == 0) return Status::success();
  KQ_RETURN_IF_ERROR(check_bytes(n));
  DeviceBuffer q, scales, zeros, out;
  KQ_RETURN_IF_ERROR(q.upload(args.src, static_cast<size_t>(n)));
  KQ_RETURN_IF_ERROR(upload_params(args.scales, args.zero_points, L.channels, &scales, &zeros));
  KQ_RETURN_IF_ERROR(out.allocate(static_cast<size_t>(n) * sizeof(float)));
  dequantize_kernel<<<blocks_for(n), kThreads>>>(q.as<uint8_t>(), n, L.inner, L.channels, args.is_signed,
                                                 scales.as<float>(), zeros.as<float>(), out.as<float>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("dequantize_kernel"));
  return out.download(args.dst, static_cast<size_t>(n) * sizeof(float));
}

}  // namespace kq::linear
