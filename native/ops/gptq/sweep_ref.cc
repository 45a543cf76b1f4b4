// Scalar reference of the tile sweep (sweep.h), and the dispatch.
#include "../../core/cpu_features.h"
#include "gptq.h"
#include "sweep.h"

namespace kq::gptq {
namespace {

void sweep_scalar(const SweepTile& t, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const float* hrow = t.hinv + j * t.ld;
    const float d = hrow[j];
    float e[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) {
      const float w = t.w[j * kLanes + l];
      const int q = quantize_code(w, t.scale[l], t.zero[l], static_cast<int>(t.maxq));
      const float deq = dequantize_code(q, t.scale[l], t.zero[l]);
      e[l] = (w - deq) / d;
      t.code[j * kLanes + l] = static_cast<float>(q);
      t.deq[j * kLanes + l] = deq;
      t.err[j * kLanes + l] = e[l];
    }
    for (int64_t c = j + 1; c < t.count; ++c) {
      const float h = hrow[c];
      for (int64_t l = 0; l < kLanes; ++l) t.w[c * kLanes + l] -= e[l] * h;
    }
  }
}

}  // namespace

const SweepKernels sweep_ref = {sweep_scalar};

const SweepKernels& active_sweep() { return kernels_for_level(sweep_ref, sweep_avx2, sweep_avx512); }

}  // namespace kq::gptq
