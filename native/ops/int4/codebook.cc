// The CPU driver of the code-book / Q4_K GEMV: widens x to f32 once per call (checking for NaN/Inf), makes
// the per-block activation sums the Q4_K min term needs (f32 path: Σ x; int8 path: x quantized per block of
// 32 and xd · Σ xq), and spreads the row tiles over the pool. Tiles own disjoint outputs: any split gives the
// same bits, and each tile's weights are read once per call whatever m is.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../../core/cpu_features.h"
#include "../../core/half.h"
#include "../../core/thread_pool.h"
#include "codebook.h"

namespace kq::int4 {

const CodebookKernels& active_codebook_kernels() {
  const CodebookKernels& k = kernels_for_level(codebook_kernels_ref, codebook_kernels_avx2, codebook_kernels_avx512);
  if (&k == &codebook_kernels_avx512 && cpu_features().avx512_vnni) return codebook_kernels_avx512_vnni;
  return k;
}

Status matmul_codebook(const PreparedCodebook& w, const MatmulArgs& args, const CodebookKernels* kernels) {
  if (args.m < 0) return error(Code::shape, "m must be >= 0, got " + std::to_string(args.m));
  if (args.m == 0) return Status::success();
  const bool int8 = args.activations == Activations::int8;
  if (int8 && w.format != CodebookFormat::q4_k)
    return error(Code::invalid_argument, "int8 activations need integer weight codes: nf4/fp4 run with float32 activations");
  const int64_t m = args.m;
  if (m > std::numeric_limits<int64_t>::max() / w.k / 8) return error(Code::too_large, "int4 matmul: m · k is too large");
  const bool q4_k = w.format == CodebookFormat::q4_k;
  std::vector<float> xf, xsum, y32, xd;
  std::vector<int8_t> xq;
  try {
    if (args.x_type != XType::f32) xf.resize(static_cast<size_t>(m * w.k));
    if (q4_k) xsum.resize(static_cast<size_t>(m * w.blocks));
    if (args.y_type != XType::f32) y32.resize(static_cast<size_t>(m * w.n));
    if (int8) {
      xq.resize(static_cast<size_t>(m * w.k));
      xd.resize(static_cast<size_t>(m * w.blocks));
    }
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "int4 matmul: no memory for the activations");
  }
  const uint16_t* half = static_cast<const uint16_t*>(args.x);
  for (size_t e = 0; e < xf.size(); ++e)
    xf[e] = args.x_type == XType::f16 ? f16_bits_to_f32(half[e]) : bf16_bits_to_f32(half[e]);
  const float* x32 = xf.empty() ? static_cast<const float*>(args.x) : xf.data();
  float bad = 0.0f;
  for (int64_t e = 0; e < m * w.k; ++e) bad += x32[e] - x32[e];  // NaN for NaN or ±Inf
  if (bad != 0.0f) return error(Code::non_finite, "int4 matmul: x holds NaN or Inf");

  for (int64_t i = 0; i < m && (q4_k || int8); ++i)
    for (int64_t b = 0; b < w.blocks; ++b) {
      const float* row = x32 + i * w.k + b * kBlock;
      float s = 0.0f;
      if (int8) {
        int8_t* q = xq.data() + i * w.k + b * kBlock;
        float* d = xd.data() + i * w.blocks + b;
        quantize_block_ref(row, q, d);
        int32_t qsum = 0;
        for (int64_t j = 0; j < kBlock; ++j) qsum += q[j];
        s = *d * static_cast<float>(qsum);
      } else {
        for (int64_t j = 0; j < kBlock; ++j) s += row[j];
      }
      xsum[i * w.blocks + b] = s;
    }

  CodebookCall call;
  call.w = &w;
  call.m = m;
  call.xf = x32;
  call.xq = xq.data();
  call.xd = xd.data();
  call.xsum = xsum.data();
  call.bias = args.bias;
  call.y = y32.empty() ? static_cast<float*>(args.y) : y32.data();
  const CodebookKernels& kern = kernels ? *kernels : active_codebook_kernels();
  auto tiles_fn = int8 ? kern.int8_tiles : kern.f32_tiles;
  parallel_for(w.tiles, 1, [&](int64_t t0, int64_t t1) { tiles_fn(call, t0, t1); });
  uint16_t* out = static_cast<uint16_t*>(args.y);
  for (size_t e = 0; e < y32.size(); ++e)
    out[e] = args.y_type == XType::f16 ? f32_to_f16_bits(y32[e]) : f32_to_bf16_bits(y32[e]);
  return Status::success();
}

}  // namespace kq::int4
