// The scalar reference of the ternary GEMV (ternary.h): for each set bit of a row's plus plane add the
// activation, for each set bit of its minus plane subtract it. It reads xq, not the tables, so the tables'
// construction is checked too. The integer dot is exact, so the SIMD and CUDA variants, which only regroup
// these additions, must give the same bits through scale_dot.
#include "ternary.h"

namespace kq::ternary {
namespace {

void tiles_ref(const CallArgs& a, int64_t t0, int64_t t1) {
  const PreparedTernary& w = *a.w;
  const int64_t kp = w.quads * kQuad;
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t r = 0; r < kTileRows && tile * kTileRows + r < w.n; ++r) {
      const int64_t row = tile * kTileRows + r;
      for (int64_t i = 0; i < a.m; ++i) {
        const int8_t* x = a.xq + i * kp;
        int32_t dot = 0;
        for (int64_t q = 0; q < w.quads; ++q) {
          const uint16_t* planes = w.planes.data() + (tile * w.quads + q) * 2 * kTileRows;
          for (int64_t b = 0; b < kQuad; ++b) {
            if ((planes[r] >> b) & 1u) dot += x[q * kQuad + b];
            if ((planes[kTileRows + r] >> b) & 1u) dot -= x[q * kQuad + b];
          }
        }
        a.y[i * w.n + row] = scale_dot(dot, w.scales[row], a.xscale[i]);
      }
    }
}

}  // namespace

const Kernels kernels_ref = {tiles_ref, TableFormat::none};

}  // namespace kq::ternary
