// GPTQ on CUDA (native/ops/gptq/cuda.cu) against the CPU path on random data: H within f32 rounding of a
// different summation order, the solve's codes nearly all equal, its loss and output error within 1e-3.
// Without a GPU, Device::cuda must answer cuda_unavailable and leave H as it was.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "../core/cuda_runtime.h"
#include "../core/half.h"
#include "../ops/gptq/gptq.h"
#include "check.h"

namespace kq::test {
namespace {

using gptq::Input;

// |H_gpu − H_cpu| <= this · sqrt(H_ii·H_jj): Σ|x_i·x_j| is at most sqrt(H_ii·H_jj) (Cauchy–Schwarz), and two
// f32 summation orders over ~100 tokens differ by a few ulp of it in practice (the worst case is n·eps).
constexpr double kHessianTolerance = 2e-5;
// Codes can flip where w/scale lies within the GEMM's rounding difference of a boundary (cuda.cu's header).
constexpr double kCodesEqual = 0.999;
constexpr double kErrorTolerance = 1e-3;

// Correlated activations (shared factors, a few ×20 channels, one dead channel) so H is far from diagonal
// and the error feedback matters.
std::vector<float> activations(int64_t tokens, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  const int64_t factors = std::max<int64_t>(2, cols / 8);
  std::vector<float> load(static_cast<size_t>(factors * cols)), z(static_cast<size_t>(factors));
  for (float& v : load) v = normal(gen) / std::sqrt(static_cast<float>(factors));
  std::vector<float> x(static_cast<size_t>(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t) {
    for (float& v : z) v = normal(gen);
    for (int64_t c = 0; c < cols; ++c) {
      float v = 0.5f * normal(gen);
      for (int64_t f = 0; f < factors; ++f) v += z[f] * load[f * cols + c];
      x[t * cols + c] = c == 7 ? 0.0f : v * (c % 37 == 5 ? 20.0f : 1.0f);
    }
  }
  return x;
}

// x as the bits hessian_add reads for `type`.
std::vector<uint16_t> halves(const std::vector<float>& x, Input type) {
  std::vector<uint16_t> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = type == Input::f16 ? f32_to_f16_bits(x[i]) : f32_to_bf16_bits(x[i]);
  return out;
}

Status add(std::vector<float>* h, int64_t cols, double samples, const std::vector<float>& x, Input type,
           double count, Device device) {
  const int64_t tokens = static_cast<int64_t>(x.size()) / cols;
  if (type == Input::f32) return gptq::hessian_add(h->data(), cols, samples, x.data(), type, tokens, count, device);
  const std::vector<uint16_t> bits = halves(x, type);
  return gptq::hessian_add(h->data(), cols, samples, bits.data(), type, tokens, count, device);
}

void no_gpu() {
  const int64_t cols = 5;
  std::vector<float> h(cols * cols, 1.0f);
  const std::vector<float> x = activations(3, cols, 1), before = h;
  check(add(&h, cols, 4, x, Input::f32, 3, Device::cuda).code == Code::cuda_unavailable && h == before,
        "gptq hessian_add cuda without a GPU is cuda_unavailable and leaves H as it was");
  std::vector<float> w(2 * cols, 0.5f), dq(2 * cols), scales(2), zeros(2);
  std::vector<uint8_t> codes(2 * cols);
  std::vector<int32_t> g_idx(cols);
  for (int64_t i = 0; i < cols; ++i) h[i * cols + i] = 2.0f;
  gptq::Options o;
  o.device = Device::cuda;
  gptq::Report report;
  const gptq::Outputs out{codes.data(), scales.data(), zeros.data(), g_idx.data(), nullptr, dq.data()};
  check(gptq::quantize(w.data(), 2, cols, h.data(), o, out, &report).code == Code::cuda_unavailable,
        "gptq quantize cuda without a GPU is cuda_unavailable");
  std::printf("gptq cuda: skipped (%s)\n", cuda_info().reason.c_str());
}

void hessian_matches() {
  for (int64_t cols : {1, 37, 64, 200, 300})
    for (Input type : {Input::f32, Input::f16, Input::bf16}) {
      // Two batches, the second counted as one sample: exercises the keep factor on a non-zero H.
      const std::vector<float> x1 = activations(97, cols, 10 + static_cast<uint32_t>(cols));
      const std::vector<float> x2 = activations(130, cols, 20 + static_cast<uint32_t>(cols));
      std::vector<float> cpu(cols * cols, 0.0f), gpu(cols * cols, 0.0f);
      Status sc = add(&cpu, cols, 0, x1, type, 97, Device::cpu);
      if (sc.ok()) sc = add(&cpu, cols, 97, x2, type, 1, Device::cpu);
      Status sg = add(&gpu, cols, 0, x1, type, 97, Device::cuda);
      if (sg.ok()) sg = add(&gpu, cols, 97, x2, type, 1, Device::cuda);
      FirstMismatch mismatch;
      for (int64_t i = 0; i < cols && sc.ok() && sg.ok(); ++i)
        for (int64_t j = 0; j < cols; ++j) {
          const double want = cpu[i * cols + j], got = gpu[i * cols + j];
          const double bound = kHessianTolerance * std::sqrt(double(cpu[i * cols + i]) * cpu[j * cols + j]);
          if (!(std::fabs(got - want) <= bound) || got != gpu[j * cols + i])
            mismatch.add(format("H[%lld, %lld] = %.9g, cpu %.9g", (long long)i, (long long)j, got, want));
        }
      check(sc.ok() && sg.ok() && mismatch.count == 0,
            format("gptq cuda hessian cols %lld input %d matches cpu (%s; %s)", (long long)cols, int(type),
                   sg.message.c_str(), mismatch.describe().c_str()));
    }
}

struct SolveCase {
  int64_t rows, cols;
  int bits;
  bool sym;
  int64_t group_size;
  bool act_order, static_groups, mse;
  int64_t block;
};

struct Solved {
  std::vector<uint8_t> codes;
  std::vector<float> scales, zeros, dq;
  std::vector<int32_t> g_idx, perm;
  gptq::Report report;
  Status status;
};

gptq::Options options(const SolveCase& c, Device device) {
  gptq::Options o;
  o.grid.bits = c.bits;
  o.grid.sym = c.sym;
  o.grid.mse = c.mse;
  o.group_size = c.group_size;
  o.act_order = c.act_order;
  o.static_groups = c.static_groups;
  o.block_size = c.block;
  o.device = device;
  return o;
}

Solved solve(const SolveCase& c, const std::vector<float>& w, const std::vector<float>& h, Device device) {
  const int64_t groups = gptq::group_count(c.cols, c.group_size);
  Solved s;
  s.codes.resize(c.rows * c.cols);
  s.dq.resize(c.rows * c.cols);
  s.scales.resize(c.rows * groups);
  s.zeros.resize(c.rows * groups);
  s.g_idx.resize(c.cols);
  s.perm.resize(c.cols);
  const gptq::Options o = options(c, device);
  const gptq::Outputs out{s.codes.data(), s.scales.data(), s.zeros.data(), s.g_idx.data(), s.perm.data(), s.dq.data()};
  s.status = gptq::quantize(w.data(), c.rows, c.cols, h.data(), o, out, &s.report);
  return s;
}

bool within(double got, double want, double tolerance) { return std::fabs(got - want) <= tolerance * std::fabs(want); }

void solve_matches() {
  // Groups crossing lazy blocks (300 columns, blocks of 128 / 100 / 32), act-order with dynamic and static
  // groups, 2/3/4/8 bits, per-row parameters, the MSE search on static groups (CUDA) and in dynamic groups
  // (the CPU fallback: then everything is equal), a 513-column layer with one-column tail blocks.
  const SolveCase cases[] = {
      {67, 300, 4, true, 128, false, false, false, 128},  {67, 300, 3, false, 64, true, false, false, 128},
      {67, 300, 4, true, -1, false, false, false, 128},   {67, 300, 8, false, 32, true, true, true, 128},
      {67, 300, 2, false, 50, false, false, false, 100},  {67, 300, 4, true, 128, false, false, false, 32},
      {67, 300, 4, false, 128, false, false, true, 128},  {129, 513, 4, true, 128, true, false, false, 128},
      {3, 40, 4, false, -1, false, false, false, 128},
  };
  for (const SolveCase& c : cases) {
    std::vector<float> h(c.cols * c.cols, 0.0f);
    const std::vector<float> x = activations(4 * c.cols, c.cols, 30 + static_cast<uint32_t>(c.cols));
    if (!check(add(&h, c.cols, 0, x, Input::f32, 4 * c.cols, Device::cpu).ok(), "gptq cuda: CPU Hessian")) return;
    std::mt19937 gen(static_cast<uint32_t>(c.rows * 7 + c.bits));
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> w(c.rows * c.cols);
    for (float& v : w) v = normal(gen);
    const Solved cpu = solve(c, w, h, Device::cpu), gpu = solve(c, w, h, Device::cuda);
    int64_t equal = 0;
    for (size_t i = 0; i < cpu.codes.size(); ++i) equal += cpu.codes[i] == gpu.codes[i];
    const double fraction = double(equal) / double(cpu.codes.size());
    bool scales_close = true;
    for (size_t i = 0; i < cpu.scales.size(); ++i)
      scales_close = scales_close && within(gpu.scales[i], cpu.scales[i], kErrorTolerance) &&
                     std::fabs(gpu.zeros[i] - cpu.zeros[i]) <= 1.0f;
    const bool fallback = !gptq::solve_cuda_supports(options(c, Device::cuda), c.cols);
    const bool ok = cpu.status.ok() && gpu.status.ok() && fraction >= kCodesEqual && scales_close &&
                    gpu.g_idx == cpu.g_idx && gpu.perm == cpu.perm &&
                    within(gpu.report.loss, cpu.report.loss, kErrorTolerance) &&
                    within(gpu.report.gptq_error, cpu.report.gptq_error, kErrorTolerance) &&
                    within(gpu.report.rtn_error, cpu.report.rtn_error, kErrorTolerance) && (!fallback || gpu.codes == cpu.codes);
    check(ok, format("gptq cuda solve %lldx%lld bits %d sym %d group %lld act %d static %d mse %d block %lld: "
                     "codes equal %.5f, loss %.6g vs %.6g, error %.6g vs %.6g (%s)",
                     (long long)c.rows, (long long)c.cols, c.bits, int(c.sym), (long long)c.group_size,
                     int(c.act_order), int(c.static_groups), int(c.mse), (long long)c.block, fraction,
                     gpu.report.loss, cpu.report.loss, gpu.report.gptq_error, cpu.report.gptq_error,
                     gpu.status.message.c_str()));
  }
}

}  // namespace

void gptq_cuda_suite() {
  if (!cuda_info().available) return no_gpu();
  const Tally before = tally();
  hessian_matches();
  solve_matches();
  std::printf("gptq cuda: %d passed, %d failed\n", tally().passed - before.passed, tally().failed - before.failed);
}

}  // namespace kq::test
