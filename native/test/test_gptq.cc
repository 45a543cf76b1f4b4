// GPTQ kernels: every tile-sweep table bit-identical to the scalar reference (including the zero-scale and
// clamp edges), and the solve's invariant that a diagonal Hessian propagates no error, so GPTQ equals
// round-to-nearest exactly.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../ops/gptq/gptq.h"
#include "../ops/gptq/sweep.h"
#include "check.h"

namespace kq::test {
namespace {

using namespace gptq;

struct TileData {
  std::vector<float> w, hinv, scale, zero, code, deq, err;
};

TileData random_tile(std::mt19937& gen, int64_t count, int64_t ld, int bits) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  TileData t;
  t.w.resize(count * kLanes);
  for (auto& v : t.w) v = normal(gen);
  t.hinv.assign(count * ld, 0.0f);
  for (int64_t j = 0; j < count; ++j) {
    t.hinv[j * ld + j] = 0.5f + std::fabs(normal(gen));
    for (int64_t c = j + 1; c < count; ++c) t.hinv[j * ld + c] = 0.1f * normal(gen);
  }
  const float maxq = static_cast<float>((1 << bits) - 1);
  for (int64_t l = 0; l < kLanes; ++l) {
    t.scale.push_back(l == 3 ? 0.0f : 0.05f + 0.3f * std::fabs(normal(gen)));  // lane 3: the zero-scale edge
    t.zero.push_back(std::nearbyint(maxq * std::fabs(normal(gen)) / 3.0f));
  }
  t.code.assign(count * kLanes, -1.0f);
  t.deq = t.code;
  t.err = t.code;
  return t;
}

SweepTile view(TileData& d, int64_t count, int64_t ld, int bits) {
  return {d.w.data(), count, d.hinv.data(), ld, d.scale.data(), d.zero.data(), static_cast<float>((1 << bits) - 1),
          d.code.data(), d.deq.data(), d.err.data()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void sweep_tables() {
  std::mt19937 gen(17);
  const CpuFeatures& f = cpu_features();
  struct Table { const char* name; const SweepKernels* k; bool ok; };
  const Table tables[] = {{"avx2", &sweep_avx2, f.avx2}, {"avx512", &sweep_avx512, f.avx512}};
  for (int bits : {2, 3, 4, 8})
    for (int64_t count : {1, 7, 64, 128}) {
      const int64_t ld = count + 5;
      const TileData base = random_tile(gen, count, ld, bits);
      TileData want = base;
      SweepTile wt = view(want, count, ld, bits);
      // Two segments, as a group boundary inside the block makes them.
      sweep_ref.sweep(wt, 0, count / 2);
      sweep_ref.sweep(wt, count / 2, count);
      for (const Table& t : tables) {
        if (!t.ok) continue;
        TileData got = base;
        SweepTile gt = view(got, count, ld, bits);
        t.k->sweep(gt, 0, count / 2);
        t.k->sweep(gt, count / 2, count);
        check(same_bits(got.w, want.w) && same_bits(got.code, want.code) && same_bits(got.deq, want.deq) &&
                  same_bits(got.err, want.err),
              format("gptq sweep %s bits %d count %lld", t.name, bits, (long long)count));
      }
    }
}

void diagonal_hessian_is_rtn() {
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = 37, cols = 96;
  std::vector<float> w(rows * cols), h(cols * cols, 0.0f);
  for (auto& v : w) v = normal(gen);
  for (int64_t i = 0; i < cols; ++i) h[i * cols + i] = 0.5f + std::fabs(normal(gen));
  for (int bits : {3, 4})
    for (int64_t group : {int64_t(-1), int64_t(32)})
      for (bool sym : {true, false}) {
        Options o;
        o.grid.bits = bits;
        o.grid.sym = sym;
        o.group_size = group;
        o.block_size = 40;  // blocks that cut groups
        const int64_t groups = group_count(cols, group);
        std::vector<uint8_t> codes(rows * cols), rtn_codes(rows * cols);
        std::vector<float> scales(rows * groups), zeros(rows * groups), rtn_scales(scales), rtn_zeros(zeros);
        std::vector<int32_t> g_idx(cols), rtn_g_idx(cols);
        Report report;
        const Status s = quantize(w.data(), rows, cols, h.data(), o,
                                  {codes.data(), scales.data(), zeros.data(), g_idx.data(), nullptr, nullptr}, &report);
        const Status r = quantize_rtn(w.data(), rows, cols, o.grid, group,
                                      {rtn_codes.data(), rtn_scales.data(), rtn_zeros.data(), rtn_g_idx.data(), nullptr,
                                       nullptr});
        check(s.ok() && r.ok() && codes == rtn_codes && scales == rtn_scales && g_idx == rtn_g_idx &&
                  report.gptq_error == report.rtn_error,
              format("gptq with a diagonal H equals RTN (bits %d group %lld sym %d)", bits, (long long)group, sym));
      }
}

}  // namespace

void gptq_suite() {
  const Tally before = tally();
  sweep_tables();
  diagonal_hessian_is_rtn();
  std::printf("gptq: %d passed, %d failed\n", tally().passed - before.passed, tally().failed - before.failed);
}

}  // namespace kq::test
