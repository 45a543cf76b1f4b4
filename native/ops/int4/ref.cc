// The scalar reference of the int4 GEMV: the arithmetic of both paths exactly as int4.h specifies it, on
// the prepared layout. The SIMD variants perform the same operations per output row (lane), so they are
// bit-identical to these loops. fmaf is written out: this file is compiled without contraction.
#include <cmath>

#include "../../core/half.h"
#include "int4.h"
#include "ref_rows.h"

namespace kq::int4 {

void quantize_block_ref(const float* x, int8_t* xq, float* d) {
  float amax = 0.0f;
  for (int64_t j = 0; j < kBlock; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float scale = amax / 127.0f;
  const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
  // A subnormal scale has an infinite reciprocal: divide instead. The clamp only matters there, where the
  // scale has lost precision.
  const bool divide = std::isinf(inv);
  for (int64_t j = 0; j < kBlock; ++j) {
    const float q = std::nearbyint(divide ? x[j] / scale : x[j] * inv);
    xq[j] = static_cast<int8_t>(std::fmin(std::fmax(q, -127.0f), 127.0f));
  }
  *d = scale;
}

namespace {

inline const uint8_t* tile_block(const PreparedInt4& w, int64_t tile, int64_t b) {
  return w.nibbles.get() + (tile * w.blocks + b) * kTileBlockBytes;
}

// Code of prepared column p (within its block) for row r of the tile.
inline int code(const uint8_t* block, int64_t r, int64_t p) {
  const int64_t c = p / 8, j = p % 8;
  const uint8_t byte = block[c * kChunkBytes + r * 4 + (j & 3)];
  return j < 4 ? (byte & 0xf) : (byte >> 4);
}

void int8_tiles_ref(const CallArgs& a, int64_t t0, int64_t t1) {
  const PreparedInt4& w = *a.w;
  const int64_t kp = w.blocks * kBlock;
  each_output(t0, t1, a.m, w.n, a.y, a.bias, [&](int64_t tile, int64_t i, int64_t r) {
    const int8_t* xq = a.xq + i * kp;
    float acc = 0.0f;
    for (int64_t g = 0; g < w.groups; ++g) {
      const int64_t at = (tile * w.groups + g) * kTileRows + r;
      const float s = f16_bits_to_f32(w.scales[at]);
      for (int64_t b = w.group_blocks[g]; b < w.group_blocks[g + 1]; ++b) {
        const uint8_t* block = tile_block(w, tile, b);
        int32_t dot = 0;
        for (int64_t p = 0; p < kBlock; ++p) dot += code(block, r, p) * xq[b * kBlock + p];
        acc = std::fmaf(static_cast<float>(dot), s * a.xd[i * w.blocks + b], acc);
      }
      acc = std::fmaf(-(s * static_cast<float>(w.zeros[at])), a.xsum[i * w.groups + g], acc);
    }
    return acc;
  });
}

void f32_tiles_ref(const CallArgs& a, int64_t t0, int64_t t1) {
  const PreparedInt4& w = *a.w;
  const int64_t kp = w.blocks * kBlock;
  each_output(t0, t1, a.m, w.n, a.y, a.bias, [&](int64_t tile, int64_t i, int64_t r) {
    const float* x = a.xf + i * kp;
    float acc = 0.0f;
    for (int64_t g = 0; g < w.groups; ++g) {
      const int64_t at = (tile * w.groups + g) * kTileRows + r;
      const float s = f16_bits_to_f32(w.scales[at]);
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // by column mod 8
      for (int64_t b = w.group_blocks[g]; b < w.group_blocks[g + 1]; ++b) {
        const uint8_t* block = tile_block(w, tile, b);
        for (int64_t p = 0; p < kBlock; ++p)
          part[p % 8] = std::fmaf(static_cast<float>(code(block, r, p)), x[b * kBlock + p], part[p % 8]);
      }
      acc = std::fmaf(s, sum8(part), acc);
      acc = std::fmaf(-(s * static_cast<float>(w.zeros[at])), a.xsum[i * w.groups + g], acc);
    }
    return acc;
  });
}

}  // namespace

const Kernels kernels_ref = {int8_tiles_ref, f32_tiles_ref};

}  // namespace kq::int4
