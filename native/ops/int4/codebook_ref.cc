// The scalar reference of the code-book / Q4_K GEMV: both paths exactly as codebook.h specifies them, on the
// prepared layout. The SIMD variants perform the same operations per output row (lane), so they are
// bit-identical to these loops. fmaf is written out: this file is compiled without contraction.
#include <cmath>

#include "codebook.h"
#include "ref_rows.h"

namespace kq::int4 {
namespace {

// Code of column p (within block b) for row r of the tile.
inline int code(const PreparedCodebook& w, int64_t tile, int64_t b, int64_t r, int64_t p) {
  const uint8_t* block = w.nibbles.get() + (tile * w.blocks + b) * kTileBlockBytes;
  const uint8_t byte = block[(p / 8) * kChunkBytes + r * 4 + (p % 8 & 3)];
  return p % 8 < 4 ? (byte & 0xf) : (byte >> 4);
}

// q4_k: (d · sc, dmin · m) of sub-block b for row r, as dequantize_row_q4_K rounds them.
inline void q4_k_scale_min(const PreparedCodebook& w, int64_t tile, int64_t b, int64_t r, float* scale, float* min) {
  const int64_t s = (tile * w.supers() + b / 8) * kTileRows + r, at = (tile * w.blocks + b) * kTileRows + r;
  *scale = w.super_d[s] * static_cast<float>(w.sub_scales[at]);
  *min = w.super_dmin[s] * static_cast<float>(w.sub_mins[at]);
}

void f32_tiles_ref(const CodebookCall& a, int64_t t0, int64_t t1) {
  const PreparedCodebook& w = *a.w;
  const bool q4_k = w.format == CodebookFormat::q4_k;
  each_output(t0, t1, a.m, w.n, a.y, a.bias, [&](int64_t tile, int64_t i, int64_t r) {
    const float* x = a.xf + i * w.k;
    float acc = 0.0f;
    for (int64_t g = 0; g < w.groups; ++g) {
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // by column mod 8
      for (int64_t b = g * w.blocks_per_group; b < (g + 1) * w.blocks_per_group; ++b)
        for (int64_t p = 0; p < kBlock; ++p)
          part[p % 8] = std::fmaf(w.table[code(w, tile, b, r, p)], x[b * kBlock + p], part[p % 8]);
      const float sum = sum8(part);
      if (q4_k) {
        float scale, min;
        q4_k_scale_min(w, tile, g, r, &scale, &min);
        acc = std::fmaf(scale, sum, acc);
        acc = std::fmaf(-min, a.xsum[i * w.blocks + g], acc);
      } else {
        acc = std::fmaf(w.absmax[(tile * w.groups + g) * kTileRows + r], sum, acc);
      }
    }
    return acc;
  });
}

void int8_tiles_ref(const CodebookCall& a, int64_t t0, int64_t t1) {
  const PreparedCodebook& w = *a.w;
  each_output(t0, t1, a.m, w.n, a.y, a.bias, [&](int64_t tile, int64_t i, int64_t r) {
    const int8_t* xq = a.xq + i * w.k;
    float acc = 0.0f;
    for (int64_t b = 0; b < w.blocks; ++b) {
      int32_t dot = 0;
      for (int64_t p = 0; p < kBlock; ++p) dot += code(w, tile, b, r, p) * xq[b * kBlock + p];
      float scale, min;
      q4_k_scale_min(w, tile, b, r, &scale, &min);
      acc = std::fmaf(static_cast<float>(dot), scale * a.xd[i * w.blocks + b], acc);
      acc = std::fmaf(-min, a.xsum[i * w.blocks + b], acc);
    }
    return acc;
  });
}

}  // namespace

const CodebookKernels codebook_kernels_ref = {f32_tiles_ref, int8_tiles_ref};

}  // namespace kq::int4
