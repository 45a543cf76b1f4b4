// int4 on CUDA (ops/int4/cuda.cu) against an f64 dequantization of the checkpoint tensors and against the CPU
// reference, on random GPTQ tensors: every m class (GEMV m = 1…4, tensor-core GEMM beyond: 5, 8, 16, 33, 128),
// n off the 128-row slice and k off the 64-column k-tile, every group size, sym/asym, act-order, v1/v2, bias;
// f16/bf16 x and y; repeatability; the documented refusals. Runs only where a GPU answers (test_main.cc).
//
// Bounds per output, with W = Σ |s·(q − z)·x| and M = Σ s·(q + z)·|x| (f32 accumulation, as test_int4.cc):
//  * GEMV: |y − y64| ≤ 2e-5·M (f32 rounding only);
//  * GEMM: |y − y64| ≤ 1e-3·W + 2^-24·Σ|s·(q − z)| + 2e-5·M (x and s·(q − z) each rounded to f16, 2·2^-11 =
//    9.8e-4 relative on every product; f16 subnormal x adds at most 2^-25 absolute per element).
// A wrong fragment layout moves outputs by about the size of y itself, far past these bounds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../core/cuda_runtime.h"
#include "../core/half.h"
#include "../ops/int4/int4.h"
#include "check.h"
#include "int4_ckpt.h"

namespace kq::test {
namespace {

using namespace int4;

constexpr double kGemvBound = 2e-5;
constexpr double kGemmF16Bound = 1e-3;

// f64 y and the bound of the path that m selects.
void reference(const Ckpt& l, const std::vector<float>& x, int64_t m, const std::vector<float>& bias,
               std::vector<double>* y, std::vector<double>* bound) {
  y->assign(m * l.n, 0.0);
  bound->assign(m * l.n, 0.0);
  const bool gemm = m > 4;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t o = 0; o < l.n; ++o) {
      double s = bias.empty() ? 0.0 : bias[o], wx = 0.0, mag = 0.0, wsum = 0.0;
      for (int64_t p = 0; p < l.k; ++p) {
        const int64_t g = l.g_idx[p];
        const double scale = f16_bits_to_f32(l.scales[g * l.n + o]);
        const double q = l.codes[o * l.k + p], z = l.zero[g * l.n + o];
        const double xv = x[i * l.k + p];
        s += xv * scale * (q - z);
        wx += std::fabs(xv * scale * (q - z));
        mag += scale * (q + z) * std::fabs(xv);
        wsum += std::fabs(scale * (q - z));
      }
      (*y)[i * l.n + o] = s;
      (*bound)[i * l.n + o] = (gemm ? kGemmF16Bound * wx + std::ldexp(wsum, -24) : 0.0) + kGemvBound * mag + 1e-6;
    }
}

std::vector<float> cpu_reference(const PreparedInt4& w, const std::vector<float>& x, int64_t m,
                                 const std::vector<float>& bias) {
  std::vector<float> y(m * w.n);
  MatmulArgs args;
  args.x = x.data();
  args.m = m;
  args.bias = bias.empty() ? nullptr : bias.data();
  args.y = y.data();
  args.activations = Activations::f32;
  args.kernels = &kernels_ref;
  check(matmul(w, args).ok(), "int4 cpu reference");
  return y;
}

void layers_vs_reference() {
  std::mt19937 gen(71);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Case { int64_t n, k, group_size; bool sym, act; Format format; };
  const Case cases[] = {{8, 8, -1, true, false, Format::gptq},        {40, 200, 32, false, false, Format::gptq},
                        {17, 136, 32, true, true, Format::gptq},      {72, 328, 64, true, true, Format::gptq_v2},
                        {136, 520, 128, false, true, Format::gptq},   {56, 136, -1, false, false, Format::gptq_v2},
                        {257, 1032, 128, true, false, Format::gptq},  {1024, 4096, 128, false, true, Format::gptq}};
  const int64_t ms[] = {1, 2, 3, 4, 5, 8, 16, 33, 128};
  for (const Case& cs : cases) {
    const Ckpt l = make_ckpt(gen, cs.n, cs.k, cs.group_size, cs.sym, cs.act, cs.format);
    std::shared_ptr<PreparedInt4> wc, wg;
    const Status sc = prepare(l.tensors(true), Device::cpu, &wc);
    const Status sg = prepare(l.tensors(true), Device::cuda, &wg);
    if (!check(sc.ok() && sg.ok(), "int4 cuda prepare: " + sc.message + sg.message)) continue;
    check(wg->device == Device::cuda && !wg->nibbles && wg->cuda_bytes > 0 && wg->bytes() > wg->cuda_bytes,
          "int4 cuda weight lives on the device");
    for (int64_t m : ms) {
      if (cs.n * cs.k > 1 << 20 && m > 16 && m != 128) continue;  // the big layer: m = 1…16 and 128 only
      std::vector<float> x(m * cs.k), bias;
      for (auto& v : x) v = normal(gen);
      if (m % 2) {
        bias.resize(cs.n);
        for (auto& v : bias) v = normal(gen);
      }
      std::vector<double> want, bound;
      reference(l, x, m, bias, &want, &bound);
      const std::vector<float> cpu = cpu_reference(*wc, x, m, bias);
      std::vector<float> got(m * cs.n, -1.0f), again(m * cs.n, -2.0f);
      MatmulArgs args;
      args.x = x.data();
      args.m = m;
      args.bias = bias.empty() ? nullptr : bias.data();
      args.y = got.data();
      const Status st = matmul(*wg, args);
      if (!check(st.ok(), "int4 cuda matmul: " + st.message)) continue;
      args.y = again.data();
      check(matmul(*wg, args).ok() && std::memcmp(got.data(), again.data(), got.size() * 4) == 0,
            format("int4 cuda n=%lld k=%lld m=%lld repeats bit for bit", (long long)cs.n, (long long)cs.k, (long long)m));
      FirstMismatch far, vs_cpu;
      for (int64_t e = 0; e < m * cs.n; ++e) {
        if (!(std::fabs(got[e] - want[e]) <= bound[e]))
          far.add(format("[%lld] %g vs f64 %g (bound %g)", (long long)e, got[e], want[e], bound[e]));
        if (!(std::fabs(got[e] - cpu[e]) <= 2 * bound[e]))  // both within bound[e] of f64
          vs_cpu.add(format("[%lld] %g vs cpu %g", (long long)e, got[e], cpu[e]));
      }
      const std::string what = format("n=%lld k=%lld g=%lld %s%s m=%lld", (long long)cs.n, (long long)cs.k,
                                      (long long)cs.group_size, cs.sym ? "sym" : "asym", cs.act ? " act" : "", (long long)m);
      check(far.count == 0, "int4 cuda vs f64 " + what + ": " + far.describe());
      check(vs_cpu.count == 0, "int4 cuda vs cpu reference " + what + ": " + vs_cpu.describe());
    }
  }
}

// f16/bf16 x give the f32 result of their widening, bit for bit; f16/bf16 y are that result rounded.
void half_inputs_outputs() {
  std::mt19937 gen(73);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const Ckpt l = make_ckpt(gen, 48, 256, 64, false, true, Format::gptq_v2);
  std::shared_ptr<PreparedInt4> w;
  if (!check(prepare(l.tensors(true), Device::cuda, &w).ok(), "int4 cuda prepare")) return;
  for (int64_t m : {int64_t(2), int64_t(24)}) {
    for (XType type : {XType::f16, XType::bf16}) {
      std::vector<uint16_t> xh(m * l.k);
      std::vector<float> xf(xh.size());
      for (size_t i = 0; i < xh.size(); ++i) {
        xh[i] = type == XType::f16 ? f32_to_f16_bits(normal(gen)) : f32_to_bf16_bits(normal(gen));
        xf[i] = type == XType::f16 ? f16_bits_to_f32(xh[i]) : bf16_bits_to_f32(xh[i]);
      }
      std::vector<float> want(m * l.n), got(m * l.n);
      MatmulArgs args;
      args.x = xf.data();
      args.m = m;
      args.y = want.data();
      check(matmul(*w, args).ok(), "int4 cuda f32 x");
      args.x = xh.data();
      args.x_type = type;
      args.y = got.data();
      check(matmul(*w, args).ok() && got == want, format("int4 cuda half x (m=%lld) equals its f32 widening", (long long)m));
      std::vector<uint16_t> yh(m * l.n);
      args.y = yh.data();
      args.y_type = type;
      check(matmul(*w, args).ok(), "int4 cuda half y");
      FirstMismatch rounding;
      for (size_t e = 0; e < yh.size(); ++e)
        if (yh[e] != (type == XType::f16 ? f32_to_f16_bits(want[e]) : f32_to_bf16_bits(want[e])))
          rounding.add(format("[%zu]", e));
      check(rounding.count == 0, format("int4 cuda half y (m=%lld) rounds the f32 result: ", (long long)m) +
                                     rounding.describe());
    }
  }
}

void refusals() {
  std::mt19937 gen(79);
  Ckpt l = make_ckpt(gen, 16, 64, 32, true, false, Format::gptq);
  std::shared_ptr<PreparedInt4> w;
  if (!check(prepare(l.tensors(true), Device::cuda, &w).ok(), "int4 cuda prepare")) return;
  std::vector<float> x(8 * 64, 0.5f), y(8 * 16);
  MatmulArgs args;
  args.x = x.data();
  args.y = y.data();
  for (int64_t m : {int64_t(1), int64_t(8)}) {
    args.m = m;
    x[3] = std::nanf("");
    check(matmul(*w, args).code == Code::non_finite, "int4 cuda NaN x is non_finite");
    x[3] = 70000.0f;  // beyond f16: fine for the f32 GEMV, refused by the f16 GEMM
    check(matmul(*w, args).code == (m > 4 ? Code::invalid_argument : Code::ok), "int4 cuda x beyond f16");
    x[3] = 0.5f;
  }
  l.scales[0] = 0x6c00;  // 4096: 15·s overflows f16
  check(prepare(l.tensors(true), Device::cuda, &w).ok(), "int4 cuda prepare with a large scale");
  args.m = 1;
  check(matmul(*w, args).ok(), "int4 cuda GEMV takes a large scale");
  args.m = 8;
  check(matmul(*w, args).code == Code::invalid_argument, "int4 cuda GEMM refuses a large scale");
}

}  // namespace

void int4_cuda_suite() {
  layers_vs_reference();
  half_inputs_outputs();
  refusals();
}

}  // namespace kq::test
