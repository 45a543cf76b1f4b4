// Ternary GEMV: every kernel table this CPU runs gives the scalar reference's bits (odd n and k, k past the
// int16 flush intervals, m = 1 … 17, saturated sums), the driver matches an f64 evaluation of
// dequant(W)·dequant(x) with x quantized per token as linear.h specifies, bad inputs give the documented
// codes, and CUDA matches the reference bit for bit on a GPU or refuses with KQ_CUDA_UNAVAILABLE without one.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/cuda_runtime.h"
#include "../ops/ternary/ternary.h"
#include "check.h"

namespace kq::test {
namespace {

using namespace ternary;

struct Weight {
  int64_t n, k;
  std::vector<int8_t> trits;
  std::vector<float> scales;
  TritTensor tensor() const {
    return {trits.data(), static_cast<int64_t>(trits.size()), scales.data(), static_cast<int64_t>(scales.size()), n, k};
  }
};

Weight random_weight(std::mt19937& gen, int64_t n, int64_t k, bool per_row) {
  Weight w{n, k, std::vector<int8_t>(n * k), std::vector<float>(per_row ? n : 1)};
  std::uniform_int_distribution<int> trit(-1, 1);
  std::uniform_real_distribution<float> scale(0.01f, 2.0f);
  for (auto& t : w.trits) t = static_cast<int8_t>(trit(gen));
  for (auto& s : w.scales) s = scale(gen);
  return w;
}

std::vector<float> run(const PreparedTernary& w, const std::vector<float>& x, int64_t m, const Kernels* kernels,
                       Status* st) {
  std::vector<float> y(m * w.n, -1.0f);
  MatmulArgs args;
  args.x = x.data();
  args.m = m;
  args.y = y.data();
  args.kernels = kernels;
  *st = matmul(w, args);
  return y;
}

// The f64 product of dequant(W) and dequant(x): x quantized per token as linear.h does it (f32 scale
// 127 / absmax, round half to even of the f32 product, clamp ±127), then Σ t·q exactly and · γ / s in f64.
std::vector<double> reference(const Weight& w, const std::vector<float>& x, int64_t m) {
  std::vector<double> y(m * w.n);
  std::vector<float> q(w.k);
  for (int64_t i = 0; i < m; ++i) {
    float amax = 0.0f;
    for (int64_t c = 0; c < w.k; ++c) amax = std::max(amax, std::fabs(x[i * w.k + c]));
    const float s = amax == 0.0f ? 1.0f : 127.0f / amax;
    for (int64_t c = 0; c < w.k; ++c) q[c] = std::fmin(std::fmax(std::nearbyint(x[i * w.k + c] * s), -127.0f), 127.0f);
    for (int64_t o = 0; o < w.n; ++o) {
      int64_t dot = 0;
      for (int64_t c = 0; c < w.k; ++c) dot += w.trits[o * w.k + c] * static_cast<int64_t>(q[c]);
      y[i * w.n + o] = static_cast<double>(dot) * w.scales[w.scales.size() == 1 ? 0 : o] / s;
    }
  }
  return y;
}

struct Table {
  const char* name;
  const Kernels* kernels;
  bool ok;
};

void tables_and_f64() {
  std::mt19937 gen(2024);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const CpuFeatures& f = cpu_features();
  const Table tables[] = {{"avx2", &kernels_avx2, f.avx2}, {"avx512", &kernels_avx512, f.avx512}};
  struct Case { int64_t n, k, m; bool per_row; };
  const Case cases[] = {{1, 1, 1, false},   {3, 7, 2, true},    {5, 64, 3, false},  {17, 65, 8, true},
                        {33, 200, 16, true}, {7, 1023, 5, false}, {6, 8300, 17, true}, {9, 16500, 1, false}};
  for (const Case& cs : cases) {
    const Weight wt = random_weight(gen, cs.n, cs.k, cs.per_row);
    std::shared_ptr<PreparedTernary> w;
    const Status st = prepare(wt.tensor(), Device::cpu, &w);
    if (!check(st.ok(), "ternary prepare: " + st.message)) continue;
    std::vector<float> x(cs.m * cs.k);
    for (auto& v : x) v = normal(gen);
    Status rs;
    const std::vector<float> ref = run(*w, x, cs.m, &kernels_ref, &rs);
    check(rs.ok(), "ternary ref matmul: " + rs.message);
    const std::vector<double> want = reference(wt, x, cs.m);
    FirstMismatch f64;
    for (size_t e = 0; e < ref.size(); ++e)
      if (!(std::fabs(ref[e] - want[e]) <= std::fabs(want[e]) * 0x1p-22 + 1e-30))
        f64.add(format("[%zu] %.9g vs f64 %.17g", e, ref[e], want[e]));
    check(f64.count == 0, format("ternary ref vs f64 n=%lld k=%lld m=%lld: ", (long long)cs.n, (long long)cs.k,
                                 (long long)cs.m) + f64.describe());
    for (const Table& t : tables) {
      if (!t.ok) continue;
      const std::vector<float> got = run(*w, x, cs.m, t.kernels, &rs);
      check(rs.ok() && std::memcmp(got.data(), ref.data(), ref.size() * 4) == 0,
            format("ternary %s bits == ref n=%lld k=%lld m=%lld", t.name, (long long)cs.n, (long long)cs.k,
                   (long long)cs.m));
    }
  }
  // Saturated sums: every trit +1 (or −1) against x whose every element quantizes to 127, k past several int16
  // flush intervals of the AVX2 (16 quads) and AVX-512 (8 quads) kernels.
  for (const int8_t sign : {int8_t(1), int8_t(-1)}) {
    const int64_t n = 37, k = 8192 * 2 + 16 * 3 + 5, m = 5;
    Weight wt{n, k, std::vector<int8_t>(n * k, sign), {1.0f}};
    std::shared_ptr<PreparedTernary> w;
    if (!check(prepare(wt.tensor(), Device::cpu, &w).ok(), "ternary prepare saturated")) continue;
    const std::vector<float> x(m * k, 3.0f);
    Status rs;
    const std::vector<float> ref = run(*w, x, m, &kernels_ref, &rs);
    const float want = static_cast<float>(sign * 127 * k) / (127.0f / 3.0f);
    check(rs.ok() && ref[0] == want, format("ternary saturated ref %.9g == %.9g", ref[0], want));
    for (const Table& t : tables) {
      if (!t.ok) continue;
      const std::vector<float> got = run(*w, x, m, t.kernels, &rs);
      check(rs.ok() && got == ref, format("ternary %s saturated == ref (sign %d)", t.name, sign));
    }
  }
}

void errors() {
  std::mt19937 gen(7);
  Weight wt = random_weight(gen, 4, 10, false);
  std::shared_ptr<PreparedTernary> w;
  wt.trits[3] = 2;
  check(prepare(wt.tensor(), Device::cpu, &w).code == Code::invalid_argument, "ternary: a trit of 2 is refused");
  wt.trits[3] = 0;
  TritTensor t = wt.tensor();
  t.scales_len = 3;
  check(prepare(t, Device::cpu, &w).code == Code::length, "ternary: 3 scales for n = 4 is refused");
  t = wt.tensor();
  t.trits_len = 39;
  check(prepare(t, Device::cpu, &w).code == Code::length, "ternary: 39 trits for 4 x 10 is refused");
  wt.scales[0] = NAN;
  check(prepare(wt.tensor(), Device::cpu, &w).code == Code::non_finite, "ternary: a NaN scale is refused");
  wt.scales[0] = 1.0f;
  if (!check(prepare(wt.tensor(), Device::cpu, &w).ok(), "ternary prepare")) return;
  std::vector<float> x(2 * 10, 1.0f);
  x[13] = INFINITY;
  Status st;
  run(*w, x, 2, nullptr, &st);
  check(st.code == Code::non_finite, "ternary: Inf in x gives KQ_NON_FINITE");
}

// With a GPU: the CUDA result equals the reference's bits for m = 1 … 16 and past one launch; without one,
// device cuda is refused at prepare.
void cuda() {
  std::mt19937 gen(99);
  const Weight wt = random_weight(gen, 37, 1000, true);
  std::shared_ptr<PreparedTernary> wc, w;
  const Status st = prepare(wt.tensor(), Device::cuda, &wc);
  if (!cuda_info().available) {
    check(st.code == Code::cuda_unavailable, "ternary: device cuda without a GPU gives KQ_CUDA_UNAVAILABLE");
    return;
  }
  if (!check(st.ok(), "ternary cuda prepare: " + st.message)) return;
  if (!check(prepare(wt.tensor(), Device::cpu, &w).ok(), "ternary prepare")) return;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const int64_t m : {1, 2, 3, 8, 16, 21}) {
    std::vector<float> x(m * wt.k);
    for (auto& v : x) v = normal(gen);
    Status a, b;
    const std::vector<float> ref = run(*w, x, m, &kernels_ref, &a);
    const std::vector<float> got = run(*wc, x, m, nullptr, &b);
    check(a.ok() && b.ok() && got == ref, format("ternary cuda bits == ref, m = %lld: %s", (long long)m, b.message.c_str()));
  }
}

}  // namespace

void ternary_suite() {
  const Tally before = tally();
  tables_and_f64();
  errors();
  cuda();
  std::printf("ternary: %d passed, %d failed\n", tally().passed - before.passed, tally().failed - before.failed);
}

}  // namespace kq::test
