// The BitNet quantizer and dequantizer on CUDA (quantize.h), giving the CPU's bits. Compiled, not yet run on
// a GPU. Row sums keep the defined order: 8 threads per row, thread j summing lane j (elements j, j + 8, …)
// with __dadd_rn, then thread 0 combines the lanes and the tail as the CPU does (finish order of
// quantize.h). The sums come back to the host, where row_parameters (the CPU's code) makes the scales and
// per-row parameters; the element kernel then applies them with _rn intrinsics (never contracted).
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../../core/cuda_check.cuh"
#include "quantize.h"

namespace kq::ternary {
namespace {

constexpr int kRowsPerBlock = 32;                   // 8 threads each: 256 threads per block
constexpr int kThreads = kRowsPerBlock * kSumLanes;
constexpr int kElementThreads = 256;

__global__ void __launch_bounds__(kThreads)
    row_sums_kernel(const float* __restrict__ w, int64_t n, int64_t k, double* __restrict__ sums,
                    double* __restrict__ sums_abs) {
  __shared__ double lanes[kThreads], lanes_abs[kThreads];
  const int lane = threadIdx.x % kSumLanes;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kSumLanes;
  const int64_t full = k - k % kSumLanes;
  double s = 0.0, a = 0.0;
  if (row < n) {
    for (int64_t c = lane; c < full; c += kSumLanes) {
      const double v = w[row * k + c];
      s = __dadd_rn(s, v);
      a = __dadd_rn(a, fabs(v));
    }
  }
  lanes[threadIdx.x] = s;
  lanes_abs[threadIdx.x] = a;
  __syncthreads();
  if (row >= n || lane != 0) return;
  for (int j = 1; j < kSumLanes; ++j) {
    s = __dadd_rn(s, lanes[threadIdx.x + j]);
    a = __dadd_rn(a, lanes_abs[threadIdx.x + j]);
  }
  for (int64_t c = full; c < k; ++c) {
    const double v = w[row * k + c];
    s = __dadd_rn(s, v);
    a = __dadd_rn(a, fabs(v));
  }
  sums[row] = s;
  sums_abs[row] = a;
}

// params[row]: γ + ε (ternary) or α (binary).
__global__ void trits_kernel(const float* __restrict__ w, int64_t n, int64_t k, const double* __restrict__ params,
                             bool ternary, int8_t* __restrict__ trits) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n * k;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const double v = w[i], param = params[i / k];
    if (ternary) {
      trits[i] = static_cast<int8_t>(fmin(1.0, fmax(-1.0, rint(__ddiv_rn(v, param)))));  // rint: half to even
    } else {
      trits[i] = __dsub_rn(v, param) > 0.0 ? 1 : -1;
    }
  }
}

__global__ void dequantize_kernel(const int8_t* __restrict__ trits, int64_t n, int64_t k,
                                  const float* __restrict__ scales, bool per_row, float* __restrict__ out) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n * k;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = __fmul_rn(static_cast<float>(trits[i]), scales[per_row ? i / k : 0]);
}

// Grid-stride loops: the grid is capped, so any count fits in one launch.
unsigned element_blocks(int64_t count) {
  return static_cast<unsigned>(std::min<int64_t>((count + kElementThreads - 1) / kElementThreads, 1 << 20));
}

}  // namespace

Status quantize_cuda(const QuantizeArgs& a) {
  const int64_t count = a.n * a.k;
  DeviceBuffer w, sums, sums_abs, params, trits;
  KQ_RETURN_IF_ERROR(w.upload(a.w, static_cast<size_t>(count) * sizeof(float)));
  KQ_RETURN_IF_ERROR(sums.allocate(static_cast<size_t>(a.n) * sizeof(double)));
  KQ_RETURN_IF_ERROR(sums_abs.allocate(static_cast<size_t>(a.n) * sizeof(double)));
  KQ_RETURN_IF_ERROR(trits.allocate(static_cast<size_t>(count)));
  const auto row_blocks = static_cast<unsigned>((a.n + kRowsPerBlock - 1) / kRowsPerBlock);
  row_sums_kernel<<<row_blocks, kThreads>>>(w.as<float>(), a.n, a.k, sums.as<double>(), sums_abs.as<double>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("row_sums_kernel"));
  std::vector<double> host_sums(a.n), host_abs(a.n), host_params(a.n);
  KQ_RETURN_IF_ERROR(sums.download(host_sums.data(), host_sums.size() * sizeof(double)));
  KQ_RETURN_IF_ERROR(sums_abs.download(host_abs.data(), host_abs.size() * sizeof(double)));
  KQ_RETURN_IF_ERROR(row_parameters(a, host_sums.data(), host_abs.data(), host_params.data()));
  KQ_RETURN_IF_ERROR(params.upload(host_params.data(), host_params.size() * sizeof(double)));
  trits_kernel<<<element_blocks(count), kElementThreads>>>(w.as<float>(), a.n, a.k, params.as<double>(),
                                                           a.scheme == Scheme::ternary, trits.as<int8_t>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("trits_kernel"));
  return trits.download(a.trits, static_cast<size_t>(count));
}

Status dequantize_cuda(const DequantizeArgs& a) {
  const int64_t count = a.n * a.k;
  DeviceBuffer trits, scales, out;
  KQ_RETURN_IF_ERROR(trits.upload(a.trits, static_cast<size_t>(count)));
  KQ_RETURN_IF_ERROR(scales.upload(a.scales, static_cast<size_t>(a.scales_len) * sizeof(float)));
  KQ_RETURN_IF_ERROR(out.allocate(static_cast<size_t>(count) * sizeof(float)));
  dequantize_kernel<<<element_blocks(count), kElementThreads>>>(trits.as<int8_t>(), a.n, a.k, scales.as<float>(),
                                                                a.scales_len != 1, out.as<float>());
  KQ_RETURN_IF_ERROR(cuda_check_launch("dequantize_kernel"));
  return out.download(a.out, static_cast<size_t>(count) * sizeof(float));
}

}  // namespace kq::ternary
