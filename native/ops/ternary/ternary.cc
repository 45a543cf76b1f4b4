// The ternary driver: prepare builds the plus/minus planes once (every check on the trits happens here, so
// the kernels trust the prepared weight); matmul quantizes x per token with the linear family's absmax
// quantizer (linear.h: s = 127 / absmax, rint, clamp to ±127 — quantizePerToken's exact rounding), pads each
// row to whole quads, builds the per-group sum tables and spreads row tiles over the pool. Tiles own disjoint
// outputs, so any split gives the same bits. A weight prepared on CUDA runs matmul_cuda on the same xq.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "../../core/cpu_features.h"  // kernels_for_level
#include "../../core/cuda_runtime.h"
#include "../../core/thread_pool.h"
#include "../linear/linear.h"
#include "ternary.h"

namespace kq::ternary {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

Status check(const TritTensor& t) {
  if (t.n < 1 || t.k < 1) return error(Code::shape, "n and k must be >= 1, got n = " + str(t.n) + ", k = " + str(t.k));
  if (t.k > kMaxK) return error(Code::too_large, "k = " + str(t.k) + " is past the ternary GEMV's limit of " + str(kMaxK));
  if (t.n > (int64_t(1) << 31)) return error(Code::too_large, "n must be at most 2^31");
  if (!t.trits || !t.scales) return error(Code::invalid_argument, "trits and scales are required");
  if (t.trits_len != t.n * t.k)
    return error(Code::length, "trits has " + str(t.trits_len) + " elements; expected n · k = " + str(t.n * t.k));
  if (t.scales_len != 1 && t.scales_len != t.n)
    return error(Code::length, "scales has " + str(t.scales_len) + " elements; expected 1 (per tensor) or n = " + str(t.n));
  for (int64_t i = 0; i < t.scales_len; ++i)
    if (!std::isfinite(t.scales[i])) return error(Code::non_finite, "scales[" + str(i) + "] is NaN or Inf");
  for (int64_t i = 0; i < t.trits_len; ++i)
    if (t.trits[i] < -1 || t.trits[i] > 1)
      return error(Code::invalid_argument, "trits[" + str(i) + "] = " + str(t.trits[i]) + " is not -1, 0 or 1");
  return Status::success();
}

}  // namespace

int64_t PreparedTernary::bytes() const {
  return static_cast<int64_t>(planes.size() * sizeof(uint16_t) + scales.size() * sizeof(float)) + cuda_bytes;
}

const Kernels& active_kernels() { return kernels_for_level(kernels_ref, kernels_avx2, kernels_avx512); }

void build_group_table(const int8_t* xq, TableFormat format, int16_t* table) {
  int16_t sums[16];
  sums[0] = 0;
  // Each subset is a smaller one plus its lowest member: 15 additions.
  for (int p = 1; p < 16; ++p) sums[p] = static_cast<int16_t>(sums[p & (p - 1)] + xq[__builtin_ctz(p)]);
  if (format != TableFormat::split_bytes) {
    std::memcpy(table, sums, sizeof sums);
    return;
  }
  auto* bytes = reinterpret_cast<uint8_t*>(table);
  for (int p = 0; p < 16; ++p) {
    bytes[p] = static_cast<uint8_t>(static_cast<uint16_t>(sums[p]) & 0xffu);
    bytes[16 + p] = static_cast<uint8_t>(static_cast<uint16_t>(sums[p]) >> 8);
  }
}

Status prepare(const TritTensor& t, Device device, std::shared_ptr<PreparedTernary>* out) {
  if (device == Device::cuda) KQ_RETURN_IF_ERROR(require_cuda("prepareTernaryWeights"));
  KQ_RETURN_IF_ERROR(check(t));
  auto w = std::make_shared<PreparedTernary>();
  w->device = device;
  w->n = t.n;
  w->k = t.k;
  w->tiles = (t.n + kTileRows - 1) / kTileRows;
  w->quads = (t.k + kQuad - 1) / kQuad;
  try {
    w->planes.assign(static_cast<size_t>(w->tiles * w->quads * 2 * kTileRows), 0);
    w->scales.resize(static_cast<size_t>(t.n));
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "prepareTernaryWeights: no memory for the bit planes");
  }
  parallel_for(w->tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t row = t0 * kTileRows; row < std::min(t.n, t1 * kTileRows); ++row) {
      const int8_t* trits = t.trits + row * t.k;
      uint16_t* planes = w->planes.data() + (row / kTileRows) * w->quads * 2 * kTileRows + row % kTileRows;
      for (int64_t c = 0; c < t.k; ++c) {
        const auto bit = static_cast<uint16_t>(1u << (c % kQuad));
        if (trits[c] > 0) planes[(c / kQuad) * 2 * kTileRows] |= bit;
        if (trits[c] < 0) planes[(c / kQuad) * 2 * kTileRows + kTileRows] |= bit;
      }
      w->scales[row] = t.scales[t.scales_len == 1 ? 0 : row];
    }
  });
  if (device == Device::cuda)
    KQ_RETURN_IF_ERROR(run_on_cuda("prepareTernaryWeights", [&] { return upload_cuda(w.get()); }));
  *out = std::move(w);
  return Status::success();
}

Status matmul(const PreparedTernary& w, const MatmulArgs& args) {
  if (args.m < 0) return error(Code::shape, "m must be >= 0, got " + str(args.m));
  if (args.m == 0) return Status::success();
  const int64_t m = args.m, kp = w.quads * kQuad, groups = kp / kGroup;
  if (m > (int64_t(1) << 40) / kp) return error(Code::too_large, "ternary matmul: m · k is too large");
  const Kernels& kern = args.kernels ? *args.kernels : active_kernels();
  std::vector<int8_t> xq;
  std::vector<int16_t> tables;
  std::vector<float> xscale;
  try {
    xq.resize(static_cast<size_t>(m * kp));
    xscale.resize(static_cast<size_t>(m));
    if (w.device == Device::cpu && kern.tables != TableFormat::none)
      tables.resize(static_cast<size_t>(m * groups * kTableEntries));
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "ternary matmul: no memory for the activations");
  }
  // One absmax group per token ([m, k] per channel along axis 0), written straight into the padded rows
  // when k is whole quads.
  linear::QuantizeArgs q;
  q.src = args.x;
  q.layout = {1, m, w.k};
  q.scheme = linear::Scheme::absmax;
  q.scales = xscale.data();
  std::vector<int8_t> packed;
  if (kp == w.k) {
    q.dst = reinterpret_cast<uint8_t*>(xq.data());
  } else {
    try {
      packed.resize(static_cast<size_t>(m * w.k));
    } catch (const std::bad_alloc&) {
      return error(Code::out_of_memory, "ternary matmul: no memory for the activations");
    }
    q.dst = reinterpret_cast<uint8_t*>(packed.data());
  }
  KQ_RETURN_IF_ERROR(linear::quantize(q));
  for (int64_t i = 0; !packed.empty() && i < m; ++i) std::memcpy(xq.data() + i * kp, packed.data() + i * w.k, w.k);

  CallArgs call;
  call.w = &w;
  call.m = m;
  call.xq = xq.data();
  call.xscale = xscale.data();
  call.y = args.y;
  if (w.device == Device::cuda) return run_on_cuda("ternaryMatmul", [&] { return matmul_cuda(call); });
  if (!tables.empty()) {
    parallel_for(m * groups, 256, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g)
        build_group_table(xq.data() + g * kGroup, kern.tables, tables.data() + g * kTableEntries);
    });
  }
  call.tables = tables.data();
  parallel_for(w.tiles, 1, [&](int64_t t0, int64_t t1) { kern.tiles(call, t0, t1); });
  return Status::success();
}

}  // namespace kq::ternary
