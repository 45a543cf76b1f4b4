// The reference `Quantizer.find_params` for one row slice (perchannel, weight=True), in f32 step by step so
// the scales and zero points match the reference's bits.
#include <cmath>

#include "gptq.h"

namespace kq::gptq {
namespace {

// Reference constants of the MSE search (quant.py defaults).
constexpr int kMseGrid = 100;
constexpr float kMseMaxShrink = 0.8f;
constexpr float kMseNorm = 2.4f;

// Adjusts xmin/xmax in place as the reference does (the MSE search starts from the adjusted range).
void min_max_params(float& xmin, float& xmax, const Grid& grid, float* scale, float* zero) {
  const int maxq = grid.maxq();
  if (grid.sym) {
    xmax = std::fmax(std::fabs(xmin), xmax);
    if (xmin < 0.0f) xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f) {
    xmin = -1.0f;
    xmax = 1.0f;
  }
  *scale = (xmax - xmin) / static_cast<float>(maxq);
  *zero = grid.sym ? static_cast<float>(maxq + 1) / 2.0f : std::nearbyint(-xmin / *scale);
}

// Σ |dequant(quant(x)) − x|^2.4 in f32, the reference's score of one candidate range.
float shrink_error(const float* x, int64_t n, float scale, float zero, int maxq) {
  float err = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float d = dequantize_code(quantize_code(x[i], scale, zero, maxq), scale, zero) - x[i];
    err += std::pow(std::fabs(d), kMseNorm);
  }
  return err;
}

}  // namespace

void find_params(const float* x, int64_t n, const Grid& grid, float* scale, float* zero) {
  float xmin = 0.0f, xmax = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    xmin = std::fmin(xmin, x[i]);
    xmax = std::fmax(xmax, x[i]);
  }
  min_max_params(xmin, xmax, grid, scale, zero);
  if (!grid.mse) return;
  const int maxq = grid.maxq();
  float best = INFINITY;
  const int steps = static_cast<int>(kMseMaxShrink * kMseGrid);
  for (int i = 0; i < steps; ++i) {
    const float p = static_cast<float>(1.0 - static_cast<double>(i) / kMseGrid);
    const float xmin1 = p * xmin, xmax1 = p * xmax;
    const float scale1 = (xmax1 - xmin1) / static_cast<float>(maxq);
    const float zero1 = grid.sym ? *zero : std::nearbyint(-xmin1 / scale1);
    const float err = shrink_error(x, n, scale1, zero1, maxq);
    if (err < best) {
      best = err;
      *scale = scale1;
      *zero = zero1;
    }
  }
}

}  // namespace kq::gptq
