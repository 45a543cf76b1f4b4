// Loop helpers shared by the scalar references (ref.cc, codebook_ref.cc). Include only from scalar files
// (compiled without -m flags or contraction): everything here has internal linkage.
#pragma once
#include <cstdint>

#include "int4.h"

namespace kq::int4 {
namespace {

// The 8 column partial sums (by column mod 8) in the order every SIMD variant adds its lanes.
inline float sum8(const float* part) {
  return ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
}

// Every output of tiles [t0, t1) for x rows [0, m): acc = row_acc(tile, i, r) for tile row r, stored (+ bias)
// as y[i·n + row] where the row exists (row < n; the tile's padding rows are computed and dropped).
template <typename RowAcc>
void each_output(int64_t t0, int64_t t1, int64_t m, int64_t n, float* y, const float* bias, RowAcc row_acc) {
  for (int64_t tile = t0; tile < t1; ++tile)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t r = 0; r < kTileRows; ++r) {
        const float acc = row_acc(tile, i, r);
        const int64_t row = tile * kTileRows + r;
        if (row < n) y[i * n + row] = bias ? acc + bias[row] : acc;
      }
}

}  // namespace
}  // namespace kq::int4
