// Hessian accumulation as the reference's `add_batch` does it (running average over samples, inputs
// pre-scaled by sqrt(2/N) so H = 2/N · Σ x xᵀ), on the dense SYRK of the upper triangle.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../../core/cuda_runtime.h"
#include "../../core/half.h"
#include "../../core/thread_pool.h"
#include "../dense/dense.h"
#include "gptq.h"

namespace kq::gptq {
namespace {

// Tokens converted per SYRK call: bounds the f32 staging buffer to 64 MiB.
constexpr int64_t kStageBytes = int64_t(1) << 26;

float widen(const void* x, Input type, int64_t i) {
  switch (type) {
    case Input::f16: return f16_bits_to_f32(static_cast<const uint16_t*>(x)[i]);
    case Input::bf16: return bf16_bits_to_f32(static_cast<const uint16_t*>(x)[i]);
    case Input::f32: break;
  }
  return static_cast<const float*>(x)[i];
}

// Index of the first NaN/Inf in x, or -1 (scanned before H is touched, so a bad batch leaves H as it was).
int64_t first_non_finite(const void* x, Input type, int64_t n) {
  std::atomic<int64_t> first{n};
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      if (!std::isfinite(widen(x, type, i))) {
        int64_t seen = first.load();
        while (i < seen && !first.compare_exchange_weak(seen, i)) {
        }
        return;
      }
  });
  return first.load() == n ? -1 : first.load();
}

// Lower triangle from the upper one, in tiles so the strided reads stay in cache.
void mirror_upper(float* h, int64_t cols) {
  constexpr int64_t kTile = 64;
  const int64_t tiles = (cols + kTile - 1) / kTile;
  parallel_for(tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t tr = t0; tr < t1; ++tr)
      for (int64_t tc = 0; tc <= tr; ++tc)
        for (int64_t r = tr * kTile; r < std::min(cols, (tr + 1) * kTile); ++r)
          for (int64_t c = tc * kTile; c < std::min(r, (tc + 1) * kTile); ++c) h[r * cols + c] = h[c * cols + r];
  });
}

}  // namespace

Status hessian_add(float* h, int64_t cols, double samples, const void* x, Input type, int64_t tokens, double count,
                   Device device) {
  if (cols <= 0 || tokens < 0) return error(Code::shape, "cols must be positive and tokens non-negative");
  if (!(count > 0.0) || !std::isfinite(count) || !(samples >= 0.0))
    return error(Code::invalid_argument, "samples must be finite and > 0");
  const int64_t bad = first_non_finite(x, type, tokens * cols);
  if (bad >= 0)
    return error(Code::non_finite, "x[" + std::to_string(bad / cols) + ", " + std::to_string(bad % cols) +
                                       "] is not finite; the Hessian needs finite activations");
  if (device == Device::cuda)
    return run_on_cuda("GPTQ Hessian", [&] { return hessian_add_cuda(h, cols, samples, x, type, tokens, count); });
  const double total = samples + count;
  const float keep = static_cast<float>(samples / total);
  const float input_scale = static_cast<float>(std::sqrt(2.0 / total));
  parallel_for(cols, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = r; c < cols; ++c) h[r * cols + c] *= keep;
  });
  const int64_t chunk = std::max<int64_t>(1, std::min(tokens, kStageBytes / (cols * int64_t(sizeof(float)))));
  // Every element is written before the SYRK reads it, so the staging buffer skips the zero fill.
  const std::unique_ptr<float[]> stage(new float[static_cast<size_t>(chunk * cols)]);
  for (int64_t t0 = 0; t0 < tokens; t0 += chunk) {
    const int64_t n = std::min(chunk, tokens - t0);
    parallel_for(n * cols, 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) stage[i] = input_scale * widen(x, type, t0 * cols + i);
    });
    dense::syrk_upper_f32(cols, n, stage.get(), cols, h, cols);
  }
  mirror_upper(h, cols);
  return Status::success();
}

}  // namespace kq::gptq
