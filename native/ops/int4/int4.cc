// The CPU driver of the int4 GEMV: gathers x once per call into the prepared column order (converting
// f16/bf16 and checking for NaN/Inf on the way), quantizes it per block for the int8 path, and spreads the
// row tiles over the pool. Each kernel call loops over every x row inside a tile, so a weight tile is read
// from memory once per call whatever m is. Tiles own disjoint outputs: any split gives the same bits.
// A weight prepared on CUDA goes to matmul_cuda (cuda.cu) instead.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../../core/cpu_features.h"
#include "../../core/cuda_runtime.h"
#include "../../core/half.h"
#include "../../core/thread_pool.h"
#include "int4.h"

namespace kq::int4 {
namespace {

inline float load_x(const void* x, XType type, int64_t i) {
  switch (type) {
    case XType::f16: return f16_bits_to_f32(static_cast<const uint16_t*>(x)[i]);
    case XType::bf16: return bf16_bits_to_f32(static_cast<const uint16_t*>(x)[i]);
    case XType::f32: break;
  }
  return static_cast<const float*>(x)[i];
}

// One x row in prepared order (padding 0); false on NaN/Inf.
bool gather_row(const PreparedInt4& w, const void* x, XType type, int64_t i, float* dst) {
  const int64_t kp = w.blocks * kBlock;
  float bad = 0.0f;
  for (int64_t p = 0; p < kp; ++p) {
    const int32_t c = w.src_col[p];
    const float v = c >= 0 ? load_x(x, type, i * w.k + c) : 0.0f;
    bad += v - v;  // NaN for NaN or ±Inf
    dst[p] = v;
  }
  return bad == 0.0f;
}

}  // namespace

const Kernels& active_kernels() {
  const Kernels& k = kernels_for_level(kernels_ref, kernels_avx2, kernels_avx512);
  if (&k == &kernels_avx512 && cpu_features().avx512_vnni) return kernels_avx512_vnni;
  return k;
}

Status matmul(const PreparedInt4& w, const MatmulArgs& args) {
  if (args.m < 0) return error(Code::shape, "m must be >= 0, got " + std::to_string(args.m));
  if (args.m == 0) return Status::success();
  const int64_t kp = w.blocks * kBlock, m = args.m;
  if (m > std::numeric_limits<int64_t>::max() / std::max(kp, w.k) / 8)
    return error(Code::too_large, "int4 matmul: m · k is too large");
  if (w.device == Device::cuda) return run_on_cuda("int4Matmul", [&] { return matmul_cuda(w, args); });
  std::vector<float> xf, xsum, y32;
  std::vector<int8_t> xq;
  std::vector<float> xd;
  try {
    const bool in_place = w.identity && args.x_type == XType::f32 && args.activations == Activations::f32;
    if (!in_place) xf.resize(static_cast<size_t>(m * kp));
    xsum.resize(static_cast<size_t>(m * w.groups));
    if (args.y_type != XType::f32) y32.resize(static_cast<size_t>(m * w.n));
    if (args.activations == Activations::int8) {
      xq.resize(static_cast<size_t>(m * kp));
      xd.resize(static_cast<size_t>(m * w.blocks));
    }
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "int4 matmul: no memory for the activations");
  }
  const float* x32 = xf.empty() ? static_cast<const float*>(args.x) : xf.data();
  bool finite = true;
  for (int64_t i = 0; i < m; ++i) {
    if (!xf.empty()) finite = gather_row(w, args.x, args.x_type, i, xf.data() + i * kp) && finite;
    else
      for (int64_t p = 0; p < kp; ++p) finite = finite && std::isfinite(x32[i * kp + p]);
  }
  if (!finite) return error(Code::non_finite, "int4 matmul: x holds NaN or Inf");

  CallArgs call;
  call.w = &w;
  call.m = m;
  call.bias = args.bias;
  call.y = y32.empty() ? static_cast<float*>(args.y) : y32.data();
  call.xsum = xsum.data();
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x32 + i * kp;
    for (int64_t g = 0; g < w.groups; ++g) {
      float s = 0.0f;
      for (int64_t b = w.group_blocks[g]; b < w.group_blocks[g + 1]; ++b) {
        if (args.activations == Activations::int8) {
          int8_t* q = xq.data() + i * kp + b * kBlock;
          float* d = xd.data() + i * w.blocks + b;
          quantize_block_ref(row + b * kBlock, q, d);
          int32_t qsum = 0;
          for (int64_t j = 0; j < kBlock; ++j) qsum += q[j];
          s += *d * static_cast<float>(qsum);
        } else {
          for (int64_t j = 0; j < kBlock; ++j) s += row[b * kBlock + j];
        }
      }
      xsum[i * w.groups + g] = s;
    }
  }
  call.xq = xq.data();
  call.xd = xd.data();
  call.xf = x32;

  const Kernels& kern = args.kernels ? *args.kernels : active_kernels();
  auto tiles_fn = args.activations == Activations::int8 ? kern.int8_tiles : kern.f32_tiles;
  parallel_for(w.tiles, 1, [&](int64_t t0, int64_t t1) { tiles_fn(call, t0, t1); });
  uint16_t* half = static_cast<uint16_t*>(args.y);
  for (size_t e = 0; e < y32.size(); ++e)
    half[e] = args.y_type == XType::f16 ? f32_to_f16_bits(y32[e]) : f32_to_bf16_bits(y32[e]);
  return Status::success();
}

}  // namespace kq::int4
