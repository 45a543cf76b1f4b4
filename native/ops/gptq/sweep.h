// The in-block error feedback of the GPTQ solve for a tile of kLanes rows at once, stored transposed
// ([column][lane]) so one vector holds one column of every row in the tile. For each column j of [j0, j1):
//   q = quantize(w[j]) with the lane's scale/zero, e = (w[j] − dequant(q)) / hinv[j][j],
//   w[c] -= e · hinv[j][c] for every later column c of the block (product and difference rounded apart).
// Every variant performs exactly these f32 operations per element, so all are bit-identical to sweep_ref.
#pragma once
#include <cstdint>

namespace kq::gptq {

constexpr int64_t kLanes = 16;

struct SweepTile {
  float* w;             // [count][kLanes] the block's running copy
  int64_t count;        // columns in the block
  const float* hinv;    // the block's corner of the inverse factor: row j at hinv + j·ld
  int64_t ld;
  const float* scale;   // [kLanes] quantizer of the current group
  const float* zero;    // [kLanes]
  float maxq;
  float* code;          // [count][kLanes] codes as f32 (exact small integers)
  float* deq;           // [count][kLanes] dequantized values
  float* err;           // [count][kLanes] scaled errors e
};

struct SweepKernels {
  void (*sweep)(const SweepTile& t, int64_t j0, int64_t j1);
};

extern const SweepKernels sweep_ref;
extern const SweepKernels sweep_avx2;
extern const SweepKernels sweep_avx512;
const SweepKernels& active_sweep();

}  // namespace kq::gptq
