// Ternary GEMV: every kernel table this CPU runs gives the scalar reference's bits (odd n and k, k past the
// int16 flush intervals, m = 1 … 17, saturated sums), the driver matches an f64 evaluation of
// dequant(W)·dequant(x) with x quantized per token as linear.h specifies, bad inputs give the documented
// codes, and CUDA matches the reference bit for bit on a GPU or refuses with KQ_CUDA_UNAVAILABLE without one.
// The BitNet quantizers (quantize.h): every SIMD table gives the reference's trits, scales and dequantized bits
// on random data of odd sizes, ties round to even, the reference matches a plain f64 evaluation, and both trit
// packings round trip and report the first bad input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/cuda_runtime.h"
#include "../ops/ternary/quantize.h"
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


// ---- quantizers ----

struct Quantized {
  std::vector<int8_t> trits;
  std::vector<float> scales;
  Status status;
};

Quantized quantize_with(const std::vector<float>& w, int64_t n, int64_t k, Scheme scheme, bool per_row,
                        const QuantKernels* kernels, Device device = Device::cpu) {
  Quantized q{std::vector<int8_t>(n * k, 9), std::vector<float>(per_row ? n : 1, -1.0f), {}};
  QuantizeArgs a;
  a.w = w.data();
  a.n = n;
  a.k = k;
  a.scheme = scheme;
  a.per_row = per_row;
  a.trits = q.trits.data();
  a.scales = q.scales.data();
  a.device = device;
  a.kernels = kernels;
  q.status = quantize(a);
  return q;
}

std::vector<float> dequantize_with(const Quantized& q, int64_t n, int64_t k, const QuantKernels* kernels,
                                   Status* st, Device device = Device::cpu) {
  std::vector<float> out(n * k, -7.0f);
  DequantizeArgs a;
  a.trits = q.trits.data();
  a.n = n;
  a.k = k;
  a.scales = q.scales.data();
  a.scales_len = static_cast<int64_t>(q.scales.size());
  a.out = out.data();
  a.device = device;
  a.kernels = kernels;
  *st = dequantize(a);
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The reference against the papers' formulas in plain f64 (sequential sums: the order differs, so the scale
// within 2^-40 relative; the trits from the stored scale exactly).
void quantizer_reference() {
  std::mt19937 gen(31);
  std::normal_distribution<float> normal(0.1f, 0.5f);
  const int64_t n = 13, k = 77;
  std::vector<float> w(n * k);
  for (auto& v : w) v = normal(gen);
  for (const bool per_row : {false, true}) {
    const Quantized t = quantize_with(w, n, k, Scheme::ternary, per_row, &quant_kernels_ref);
    const Quantized b = quantize_with(w, n, k, Scheme::binary, per_row, &quant_kernels_ref);
    if (!check(t.status.ok() && b.status.ok(), "ternary quantize ref: " + t.status.message + b.status.message)) continue;
    const int64_t groups = per_row ? n : 1, per = n * k / groups;
    FirstMismatch bad;
    for (int64_t g = 0; g < groups; ++g) {
      double sum = 0, sum_abs = 0;
      for (int64_t i = g * per; i < (g + 1) * per; ++i) {
        sum += w[i];
        sum_abs += std::fabs(static_cast<double>(w[i]));
      }
      const double gamma = sum_abs / per, alpha = sum / per;
      if (std::fabs(t.scales[g] - gamma) > gamma * 0x1p-23 || b.scales[g] != t.scales[g])
        bad.add(format("scale %lld: %.9g vs f64 %.17g", (long long)g, t.scales[g], gamma));
      for (int64_t i = g * per; i < (g + 1) * per; ++i) {
        const double r = std::nearbyint(w[i] / (static_cast<double>(t.scales[g]) + 1e-5));
        if (t.trits[i] != std::max(-1.0, std::min(1.0, r))) bad.add(format("ternary trit %lld", (long long)i));
        if (b.trits[i] != (w[i] > alpha ? 1 : -1)) bad.add(format("binary trit %lld", (long long)i));
      }
    }
    check(bad.count == 0, std::string("ternary quantize ref vs f64 formulas") + (per_row ? " per row: " : ": ") + bad.describe());
  }
  // Ties round to even (0.5 → 0, 1.5 → 2 → clip 1), Sign(0) = −1: the row kernels of every table.
  const std::vector<float> ties = {0.5f, -0.5f, 1.5f, -1.5f, 0.25f, 2.5f, -0.75f, 0.0f, 0.5f, -0.5f, 1.0f};
  const std::vector<int8_t> want_t = {0, 0, 1, -1, 0, 1, -1, 0, 0, 0, 1};
  const std::vector<int8_t> want_b = {-1, -1, 1, -1, -1, 1, -1, -1, -1, -1, 1};
  const CpuFeatures& f = cpu_features();
  const struct { const char* name; const QuantKernels* kernels; bool ok; } tables[] = {
      {"ref", &quant_kernels_ref, true}, {"avx2", &quant_kernels_avx2, f.avx2}, {"avx512", &quant_kernels_avx512, f.avx512}};
  for (const auto& table : tables) {
    if (!table.ok) continue;
    std::vector<int8_t> got(ties.size());
    table.kernels->ternary_row(ties.data(), static_cast<int64_t>(ties.size()), 1.0, got.data());
    check(got == want_t, format("ternary %s: RoundClip ties to even", table.name));
    table.kernels->binary_row(ties.data(), static_cast<int64_t>(ties.size()), 0.5, got.data());
    check(got == want_b, format("ternary %s: Sign(w - alpha) with Sign(0) = -1", table.name));
  }
}

void quantizer_tables() {
  std::mt19937 gen(1234);
  std::normal_distribution<float> normal(0.02f, 1.0f);
  const CpuFeatures& f = cpu_features();
  const struct { const char* name; const QuantKernels* kernels; bool ok; } tables[] = {
      {"avx2", &quant_kernels_avx2, f.avx2}, {"avx512", &quant_kernels_avx512, f.avx512}};
  const int64_t ks[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 63, 129, 1023};
  const int64_t ns[] = {1, 3, 7, 33};
  for (const int64_t n : ns)
    for (const int64_t k : ks) {
      std::vector<float> w(n * k);
      // Magnitudes spread over 2^±30 on every other shape: f64 sums of similar f32 values are exact in any
      // order, so only a wide spread shows a change of summation order.
      std::uniform_int_distribution<int> exponent(-30, 30);
      for (auto& v : w) v = normal(gen) * (k % 2 ? std::ldexp(1.0f, exponent(gen)) : 1.0f);
      // The f64 row sums themselves, bit for bit: their order rarely shows in f32 scales, so check it here.
      for (const auto& table : tables) {
        if (!table.ok) continue;
        bool same = true;
        for (int64_t row = 0; row < n; ++row) {
          double sums[4];
          quant_kernels_ref.row_sums(w.data() + row * k, k, &sums[0], &sums[1]);
          table.kernels->row_sums(w.data() + row * k, k, &sums[2], &sums[3]);
          same = same && std::memcmp(sums, sums + 2, 2 * sizeof(double)) == 0;
        }
        check(same, format("ternary %s row sums == ref bits, n=%lld k=%lld", table.name, (long long)n, (long long)k));
      }
      for (const Scheme scheme : {Scheme::ternary, Scheme::binary})
        for (const bool per_row : {false, true}) {
          const Quantized ref = quantize_with(w, n, k, scheme, per_row, &quant_kernels_ref);
          Status ds;
          const std::vector<float> back = dequantize_with(ref, n, k, &quant_kernels_ref, &ds);
          if (!check(ref.status.ok() && ds.ok(), "ternary quantize ref " + ref.status.message + ds.message)) continue;
          for (const auto& table : tables) {
            if (!table.ok) continue;
            const Quantized got = quantize_with(w, n, k, scheme, per_row, table.kernels);
            const std::string what = format("ternary %s %s %s n=%lld k=%lld", table.name,
                                            scheme == Scheme::ternary ? "ternary" : "binary",
                                            per_row ? "per-row" : "per-tensor", (long long)n, (long long)k);
            check(got.status.ok() && got.trits == ref.trits, what + ": trits == ref");
            check(std::memcmp(got.scales.data(), ref.scales.data(), ref.scales.size() * 4) == 0, what + ": scales == ref");
            check(same_bits(dequantize_with(ref, n, k, table.kernels, &ds), back) && ds.ok(), what + ": dequantize == ref");
          }
        }
    }
}

void quantizer_errors_and_cuda() {
  std::vector<float> w(4 * 6, 0.5f);
  w[9] = NAN;
  Quantized q = quantize_with(w, 4, 6, Scheme::ternary, false, nullptr);
  check(q.status.code == Code::non_finite && q.status.message.find("weight[9] is NaN") != std::string::npos,
        "ternary quantize: NaN named: " + q.status.message);
  w[9] = 0.5f;
  w[2] = -INFINITY;
  q = quantize_with(w, 4, 6, Scheme::binary, true, nullptr);
  check(q.status.code == Code::non_finite && q.status.message.find("weight[2] is -Infinity") != std::string::npos,
        "ternary binary: -Inf named: " + q.status.message);
  check(quantize_with(w, 0, 6, Scheme::ternary, false, nullptr).status.code == Code::shape, "ternary quantize: n = 0");

  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 19, k = 301;
  std::vector<float> x(n * k);
  for (auto& v : x) v = normal(gen);
  for (const Scheme scheme : {Scheme::ternary, Scheme::binary})
    for (const bool per_row : {false, true}) {
      const Quantized cpu = quantize_with(x, n, k, scheme, per_row, &quant_kernels_ref);
      const Quantized gpu = quantize_with(x, n, k, scheme, per_row, nullptr, Device::cuda);
      Status a, b;
      const std::vector<float> back_cpu = dequantize_with(cpu, n, k, &quant_kernels_ref, &a);
      const std::vector<float> back_gpu = dequantize_with(cpu, n, k, nullptr, &b, Device::cuda);
      if (!cuda_info().available) {
        check(gpu.status.code == Code::cuda_unavailable && b.code == Code::cuda_unavailable,
              "ternary quantize/dequantize: device cuda without a GPU gives KQ_CUDA_UNAVAILABLE");
        continue;
      }
      check(gpu.status.ok() && gpu.trits == cpu.trits &&
                std::memcmp(gpu.scales.data(), cpu.scales.data(), cpu.scales.size() * 4) == 0,
            format("ternary cuda quantize == ref (scheme %d, per_row %d): %s", int(scheme), int(per_row),
                   gpu.status.message.c_str()));
      check(b.ok() && same_bits(back_gpu, back_cpu), "ternary cuda dequantize == ref: " + b.message);
    }
}

// ---- packings ----

void packings() {
  std::mt19937 gen(77);
  std::uniform_int_distribution<int> trit(-1, 1);
  for (const Packing packing : {Packing::two_bit, Packing::base3}) {
    const char* name = packing == Packing::two_bit ? "2bit" : "base3";
    for (const int64_t count : {0, 1, 4, 5, 7, 1001, 300007}) {
      std::vector<int8_t> t(count), back(count, 9);
      for (auto& v : t) v = static_cast<int8_t>(trit(gen));
      std::vector<uint8_t> bytes(packed_bytes(count, packing));
      const Status ps = pack_trits(t.data(), count, packing, bytes.data());
      const Status us = unpack_trits(bytes.data(), count, packing, back.data());
      check(ps.ok() && us.ok() && back == t, format("ternary %s round trip, %lld trits", name, (long long)count));
    }
    // Two bad trits in different chunks: the first is named.
    std::vector<int8_t> t(300000, 0);
    t[250000] = 5;
    t[123457] = -2;
    std::vector<uint8_t> bytes(packed_bytes(static_cast<int64_t>(t.size()), packing));
    const Status st = pack_trits(t.data(), static_cast<int64_t>(t.size()), packing, bytes.data());
    check(st.code == Code::invalid_argument && st.message.find("trits[123457] is -2") != std::string::npos,
          std::string("ternary pack names the first bad trit: ") + st.message);
  }
  // 2bit: trit 4j + i in bits 2i as t + 1; base3: the 243 groups give 243 distinct bytes that read back.
  const int8_t five[5] = {-1, 0, 1, 1, 1};
  uint8_t two[2];
  check(pack_trits(five, 5, Packing::two_bit, two).ok() && two[0] == (0 | 1 << 2 | 2 << 4 | 2 << 6) && two[1] == (2 | 1 << 2 | 1 << 4 | 1 << 6),
        "ternary 2bit layout");
  std::vector<int8_t> all(243 * 5), back(243 * 5);
  for (int q = 0; q < 243; ++q)
    for (int i = 0, p = 81; i < 5; ++i, p /= 3) all[q * 5 + i] = static_cast<int8_t>(q / p % 3 - 1);
  std::vector<uint8_t> b3(243);
  check(pack_trits(all.data(), 243 * 5, Packing::base3, b3.data()).ok(), "ternary base3 pack");
  std::vector<bool> seen(256, false);
  int distinct = 0;
  for (const uint8_t v : b3) {
    distinct += seen[v] ? 0 : 1;
    seen[v] = true;
  }
  check(distinct == 243 && unpack_trits(b3.data(), 243 * 5, Packing::base3, back.data()).ok() && back == all,
        "ternary base3: 243 distinct bytes that unpack to their trits");
  // A 2-bit code 3 among the first `count` trits is refused; in the padding past count it is not read.
  std::vector<uint8_t> codes(1000, 0x55);
  codes[700] = 0x55 | (3 << 4);
  std::vector<int8_t> out(4000);
  const Status bad = unpack_trits(codes.data(), 4000, Packing::two_bit, out.data());
  check(bad.code == Code::invalid_argument && bad.message.find("byte 700 holds code 3") != std::string::npos,
        "ternary unpack names the byte with code 3: " + bad.message);
  const uint8_t tail = 0x55 | (3 << 6);
  int8_t three[3];
  check(unpack_trits(&tail, 3, Packing::two_bit, three).ok() && three[0] == 0 && three[2] == 0,
        "ternary unpack ignores the padding past count");
}

}  // namespace

void ternary_suite() {
  const Tally before = tally();
  tables_and_f64();
  errors();
  cuda();
  quantizer_reference();
  quantizer_tables();
  quantizer_errors_and_cuda();
  packings();
  std::printf("ternary: %d passed, %d failed\n", tally().passed - before.passed, tally().failed - before.failed);
}

}  // namespace kq::test
