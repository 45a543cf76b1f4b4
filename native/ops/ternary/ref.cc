// The scalar reference of the ternary GEMV (ternary.h): for each set bit of a row's plus mask add the
// activation, for each set bit of its minus mask subtract it. The integer dot is exact, so the SIMD and CUDA
// variants, which only regroup these additions, must give the same bits through scale_dot.
#include "ternary.h"

namespace kq::ternary {
namespace {

void rows_ref(const CallArgs& a, int64_t r0, int64_t r1) {
  const PreparedTernary& w = *a.w;
  const int64_t kp = w.blocks * kBlock;
  for (int64_t row = r0; row < r1; ++row) {
    const uint64_t* masks = w.masks.data() + row * w.blocks * 2;
    for (int64_t i = 0; i < a.m; ++i) {
      const int8_t* x = a.xq + i * kp;
      int32_t dot = 0;
      for (int64_t b = 0; b < w.blocks; ++b) {
        const uint64_t plus = masks[2 * b], minus = masks[2 * b + 1];
        for (int64_t j = 0; j < kBlock; ++j) {
          if ((plus >> j) & 1u) dot += x[b * kBlock + j];
          if ((minus >> j) & 1u) dot -= x[b * kBlock + j];
        }
      }
      a.y[i * w.n + row] = scale_dot(dot, w.scales[row], a.xscale[i]);
    }
  }
}

}  // namespace

const Kernels kernels_ref = {rows_ref};

}  // namespace kq::ternary
