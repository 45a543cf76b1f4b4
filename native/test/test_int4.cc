// int4 GEMV: every kernel table this CPU runs is bit-identical to the scalar reference on random GPTQ
// tensors (both activation paths, odd n and k, act-order, v1/v2 zeros, bias, m past a pass), the driver
// matches an f64 dequantization of the checkpoint tensors within the paths' error bounds, and bad tensors
// give the documented errors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/cuda_runtime.h"
#include "../core/half.h"
#include "../ops/int4/int4.h"
#include "check.h"
#include "int4_ckpt.h"

namespace kq::test {
namespace {

using namespace int4;

// f64 of x · dequant(W)ᵀ + bias, and two error scales: mag = Σ s·(q + z)·|x| (f32 rounding, zero term
// included) and magx = Σ s·(q + z)·max|x_row| (the int8 path's activation rounding, ≤ max|x|/254 each).
void reference(const Ckpt& c, const std::vector<float>& x, int64_t m, const std::vector<float>& bias,
               std::vector<double>* y, std::vector<double>* mag, std::vector<double>* magx) {
  y->assign(m * c.n, 0.0);
  mag->assign(m * c.n, 0.0);
  magx->assign(m * c.n, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    double xmax = 0.0;
    for (int64_t p = 0; p < c.k; ++p) xmax = std::max(xmax, std::fabs(static_cast<double>(x[i * c.k + p])));
    for (int64_t o = 0; o < c.n; ++o) {
      double s = bias.empty() ? 0.0 : bias[o], a = 0.0, ax = 0.0;
      for (int64_t p = 0; p < c.k; ++p) {
        const int64_t g = c.g_idx[p];
        const double scale = f16_bits_to_f32(c.scales[g * c.n + o]);
        const double q = c.codes[o * c.k + p], z = c.zero[g * c.n + o];
        s += static_cast<double>(x[i * c.k + p]) * scale * (q - z);
        a += scale * (q + z) * std::fabs(static_cast<double>(x[i * c.k + p]));
        ax += scale * (q + z) * xmax;
      }
      (*y)[i * c.n + o] = s;
      (*mag)[i * c.n + o] = a;
      (*magx)[i * c.n + o] = ax;
    }
  }
}

struct Table {
  const char* name;
  const Kernels* kernels;
  bool ok;
};

void tables_vs_ref() {
  std::mt19937 gen(41);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const CpuFeatures& f = cpu_features();
  const Table tables[] = {{"avx2", &kernels_avx2, f.avx2},
                          {"avx512", &kernels_avx512, f.avx512},
                          {"avx512_vnni", &kernels_avx512_vnni, f.avx512 && f.avx512_vnni}};
  struct Case { int64_t n, k, group_size, m; bool sym, act; Format format; };
  const Case cases[] = {{8, 8, -1, 1, true, false, Format::gptq},      {40, 96, 32, 3, false, false, Format::gptq},
                        {24, 200, 64, 9, false, true, Format::gptq_v2}, {64, 256, 128, 2, true, true, Format::gptq},
                        {17, 136, 32, 5, true, false, Format::gptq},    {48, 384, -1, 8, false, false, Format::gptq_v2},
                        {16, 520, 128, 17, false, true, Format::gptq}};
  for (const Case& cs : cases) {
    const Ckpt c = make_ckpt(gen, cs.n, cs.k, cs.group_size, cs.sym, cs.act, cs.format);
    std::shared_ptr<PreparedInt4> w;
    const Status st = prepare(c.tensors(true), Device::cpu, &w);
    if (!check(st.ok(), "int4 prepare: " + st.message)) continue;
    std::vector<float> x(cs.m * cs.k), bias(cs.n);
    for (auto& v : x) v = normal(gen);
    for (auto& v : bias) v = normal(gen);
    std::vector<double> want64, mag, magx;
    reference(c, x, cs.m, bias, &want64, &mag, &magx);
    for (Activations act : {Activations::int8, Activations::f32}) {
      const char* path = act == Activations::int8 ? "int8" : "f32";
      MatmulArgs args;
      args.x = x.data();
      args.m = cs.m;
      args.bias = bias.data();
      args.activations = act;
      args.kernels = &kernels_ref;
      std::vector<float> want(cs.m * cs.n, -1.0f), got(cs.m * cs.n);
      args.y = want.data();
      check(matmul(*w, args).ok(), "int4 ref matmul");
      // The reference against f64: f32 accumulation, plus for the int8 path the activation rounding
      // |x − d·xq| ≤ d/2 = block absmax / 254.
      FirstMismatch far;
      for (int64_t e = 0; e < cs.m * cs.n; ++e) {
        const double bound = 2e-5 * mag[e] + (act == Activations::int8 ? magx[e] / 254 : 0.0) + 1e-6;
        if (std::fabs(want[e] - want64[e]) > bound && far.count++ == 0)
          far.first = format("[%lld] %g vs f64 %g", (long long)e, want[e], want64[e]);
      }
      check(far.count == 0, format("int4 %s ref vs f64 n=%lld k=%lld: %s", path, (long long)cs.n, (long long)cs.k,
                                   far.describe().c_str()));
      for (const Table& t : tables) {
        if (!t.ok) continue;
        std::fill(got.begin(), got.end(), -2.0f);
        args.kernels = t.kernels;
        args.y = got.data();
        check(matmul(*w, args).ok(), "int4 matmul");
        check(std::memcmp(got.data(), want.data(), got.size() * 4) == 0,
              format("int4 %s %s n=%lld k=%lld g=%lld m=%lld bit-identical to ref", t.name, path, (long long)cs.n,
                     (long long)cs.k, (long long)cs.group_size, (long long)cs.m));
      }
    }
  }
}

void driver_inputs() {
  std::mt19937 gen(43);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const Ckpt c = make_ckpt(gen, 32, 64, 32, false, false, Format::gptq);
  std::shared_ptr<PreparedInt4> w;
  check(prepare(c.tensors(false), Device::cpu, &w).ok() && w->identity, "int4 prepare without g_idx is identity");
  // f16 and bf16 x give the same result as their f32 widening; no bias.
  std::vector<float> x(2 * 64);
  std::vector<uint16_t> h(x.size()), bh(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    h[i] = f32_to_f16_bits(normal(gen));
    bh[i] = f32_to_bf16_bits(normal(gen));
  }
  for (XType type : {XType::f16, XType::bf16}) {
    for (size_t i = 0; i < x.size(); ++i) x[i] = type == XType::f16 ? f16_bits_to_f32(h[i]) : bf16_bits_to_f32(bh[i]);
    std::vector<float> want(2 * 32), got(2 * 32);
    MatmulArgs args;
    args.x = x.data();
    args.m = 2;
    args.y = want.data();
    check(matmul(*w, args).ok(), "int4 f32 x");
    args.x = type == XType::f16 ? static_cast<const void*>(h.data()) : bh.data();
    args.x_type = type;
    args.y = got.data();
    check(matmul(*w, args).ok() && got == want, "int4 half x equals its f32 widening");
    // Half output: the f32 result rounded to nearest even.
    std::vector<uint16_t> half(2 * 32);
    args.y = half.data();
    args.y_type = type;
    FirstMismatch rounding;
    check(matmul(*w, args).ok(), "int4 half y");
    for (size_t e = 0; e < half.size(); ++e)
      if (half[e] != (type == XType::f16 ? f32_to_f16_bits(want[e]) : f32_to_bf16_bits(want[e])))
        rounding.add(format("[%zu]", e));
    check(rounding.count == 0, "int4 half y rounds the f32 result: " + rounding.describe());
  }
  // Tiny activations (a subnormal block scale, whose reciprocal overflows) stay finite and close.
  std::vector<float> tiny(2 * 64), y_tiny(2 * 32);
  for (size_t i = 0; i < tiny.size(); ++i) tiny[i] = normal(gen) * 1e-39f;
  MatmulArgs small;
  small.x = tiny.data();
  small.m = 2;
  small.y = y_tiny.data();
  std::vector<double> want64, mag, magx;
  reference(c, tiny, 2, {}, &want64, &mag, &magx);
  bool close = matmul(*w, small).ok();
  for (size_t e = 0; e < y_tiny.size(); ++e) close = close && std::fabs(y_tiny[e] - want64[e]) <= magx[e] / 100 + 1e-44;
  check(close, "int4 int8 path on subnormal activations");
  x[5] = std::nanf("");
  MatmulArgs bad;
  std::vector<float> y(2 * 32);
  bad.x = x.data();
  bad.m = 2;
  bad.y = y.data();
  check(matmul(*w, bad).code == Code::non_finite, "int4 NaN in x is non_finite");
}

void errors() {
  std::mt19937 gen(47);
  Ckpt c = make_ckpt(gen, 16, 64, 32, false, true, Format::gptq_v2);
  std::shared_ptr<PreparedInt4> w;
  CheckpointTensors t = c.tensors(true);
  t.k = 60;
  check(prepare(t, Device::cpu, &w).code == Code::shape, "int4 k not a multiple of 8");
  t = c.tensors(true);
  --t.qweight_len;
  check(prepare(t, Device::cpu, &w).code == Code::length, "int4 qweight length");
  t = c.tensors(true);
  t.qzeros_len = 3;
  check(prepare(t, Device::cpu, &w).code == Code::length, "int4 qzeros length");
  t = c.tensors(false);
  t.group_size = 16;
  check(prepare(t, Device::cpu, &w).code == Code::shape, "int4 groups do not match the group size");
  c.g_idx[7] = 2;
  check(prepare(c.tensors(true), Device::cpu, &w).code == Code::invalid_argument, "int4 g_idx out of range");
  c.g_idx[7] = 0;
  c.scales[5] = 0x7c00;
  check(prepare(c.tensors(true), Device::cpu, &w).code == Code::non_finite, "int4 Inf scale");
  c.scales[5] = 0x3c00;
  t = c.tensors(true);
  t.n = 12;
  t.qweight_len = 8 * 12;
  t.scales_len = 2 * 12;
  check(prepare(t, Device::cpu, &w).code == Code::shape, "int4 n not a multiple of 8 with qzeros");
  if (!cuda_info().available)
    check(prepare(c.tensors(true), Device::cuda, &w).code == Code::cuda_unavailable, "int4 cuda without a GPU");
}

}  // namespace

void int4_suite() {
  tables_vs_ref();
  driver_inputs();
  errors();
}

}  // namespace kq::test
