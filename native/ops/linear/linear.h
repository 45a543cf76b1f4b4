// Linear int8 quantization: symmetric absmax and asymmetric zero-point, per tensor, per channel and per
// block. All three granularities are one layout, [outer, channels, inner] row-major with one group
// (scale, zero point) per channel: per tensor is [1, 1, n], per block is [1, n / block, block], and per
// channel along axis a of a shape is [prod(shape[:a]), shape[a], prod(shape[a+1:])].
//
// Convention (as in the seeds' worked example): the scale s multiplies, q = clamp(rint(x·s + z)) with
// round-half-to-even, and dequantization is x' = (q − z) / s. Both steps round exactly twice (product,
// then sum or difference, then the division), with no fused multiply-add, so every variant is bit-exact
// with the scalar reference.
#pragma once
#include <cstdint>

#include "../../core/finite.h"  // non_finite_error, used by the CPU and CUDA drivers
#include "../../core/status.h"
#include "../../core/tensor.h"

namespace kq::linear {

struct Layout {
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
  int64_t numel() const { return outer * channels * inner; }
};

enum class Scheme : int32_t { absmax = 0, zero_point = 1 };

// Integer range of the stored values: absmax uses [-127, 127] so that the grid is symmetric around 0.
struct QRange {
  int32_t qmin;
  int32_t qmax;
};
QRange qrange(Scheme scheme, bool is_signed);

// The reference's rule for a group's parameters from its observed range. The range is widened to
// contain 0 so that 0 is exact; a range of width 0 gets scale 1; a scale past FLT_MAX is clamped to it.
void params_from_range(Scheme scheme, QRange range, float min, float max, float* scale, int32_t* zero_point);

// One instruction set's kernels. Each flags NaN/Inf in its input by setting *non_finite to nonzero.
struct Kernels {
  // min and max of x[0..n), n >= 1.
  void (*minmax_run)(const float* x, int64_t n, float* min, float* max, uint32_t* non_finite);
  // mins[c] = min(mins[c], x[c]) and the same for maxs, c in [0, channels): one row of a per-column layout.
  void (*minmax_columns)(const float* x, int64_t channels, float* mins, float* maxs, uint32_t* non_finite);
  // One group: q[i] = clamp(rint(x[i]·scale + zero), qmin, qmax) stored as its low byte (int8 or uint8).
  void (*quantize_run)(const float* x, int64_t n, float scale, float zero, float qmin, float qmax, uint8_t* q,
                       uint32_t* non_finite);
  // One row of a per-column layout: element c uses scales[c] and zeros[c].
  void (*quantize_columns)(const float* x, int64_t channels, const float* scales, const float* zeros, float qmin,
                           float qmax, uint8_t* q, uint32_t* non_finite);
  // out[i] = (q[i] − zero) / scale, q read as int8 when is_signed, else uint8.
  void (*dequantize_run)(const uint8_t* q, int64_t n, bool is_signed, float scale, float zero, float* out);
  void (*dequantize_columns)(const uint8_t* q, int64_t channels, bool is_signed, const float* scales,
                             const float* zeros, float* out);
};

extern const Kernels kernels_ref;
extern const Kernels kernels_avx2;
extern const Kernels kernels_avx512;

struct QuantizeArgs {
  const float* src = nullptr;
  uint8_t* dst = nullptr;  // numel bytes, int8 or uint8 per is_signed
  Layout layout;
  Scheme scheme = Scheme::absmax;
  bool is_signed = true;
  // false: compute each group's range from src and write scales/zero_points. true: static quantization
  // with the caller's scales/zero_points (calibrated ahead of time), validated here.
  bool params_given = false;
  float* scales = nullptr;        // [channels]
  int32_t* zero_points = nullptr; // [channels]; may be null for absmax (all zero)
  Device device = Device::cpu;
};

struct DequantizeArgs {
  const uint8_t* src = nullptr;
  bool is_signed = true;
  float* dst = nullptr;
  Layout layout;
  const float* scales = nullptr;
  const int32_t* zero_points = nullptr;  // may be null: all zero
  Device device = Device::cpu;
};

Status quantize(const QuantizeArgs& args);
Status dequantize(const DequantizeArgs& args);
// Per-channel min and max (observers for static quantization use it); fails on NaN/Inf.
Status minmax(const float* src, Layout layout, float* mins, float* maxs, Device device);

// Histogram of |x| over [0, range) in `bins` equal bins, added to counts; |x| >= range lands in the last
// bin. Calibration observers build percentile and MSE clipping on it. Fails on NaN/Inf.
Status histogram_abs(const float* src, int64_t n, float range, int64_t bins, double* counts);

// The kernel table for the active SIMD level.
const Kernels& active_kernels();

// Defined in cuda.cu, only in builds with CUDA; drivers reach them through run_on_cuda.
Status quantize_cuda(const QuantizeArgs& args);
Status dequantize_cuda(const DequantizeArgs& args);
Status minmax_cuda(const float* src, Layout layout, float* mins, float* maxs);

}  // namespace kq::linear
