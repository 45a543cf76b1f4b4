// LLM.int8(): every GEMM kernel table this CPU runs against the scalar reference on random and extreme
// (all -128 / 127) data with odd sizes, the vector-wise quantizer's outlier and zero-row rules, and errors.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/cuda_runtime.h"
#include "../ops/int8mm/int8mm.h"
#include "check.h"

namespace kq::test {
namespace {

using namespace int8mm;

std::vector<int32_t> sums_of(const std::vector<int8_t>& b, int64_t n, int64_t k) {
  std::vector<int32_t> s(n, 0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) s[j] += b[j * k + p];
  return s;
}

void gemm_tables() {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> byte(-128, 127);
  struct Table { const char* name; const Kernels* k; bool ok; };
  const CpuFeatures& f = cpu_features();
  const Table tables[] = {{"avx2", &kernels_avx2, f.avx2},
                          {"avx512", &kernels_avx512, f.avx512},
                          {"avx512_vnni", &kernels_avx512_vnni, f.avx512 && f.avx512_vnni}};
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {5, 9, 63}, {4, 8, 64}, {7, 13, 129}, {2, 6, 1000}};
  for (const auto& shape : shapes)
    for (int fill = 0; fill < 3; ++fill) {
      const int64_t m = shape[0], n = shape[1], k = shape[2];
      std::vector<int8_t> a(m * k), b(n * k);
      for (auto& v : a) v = static_cast<int8_t>(fill == 0 ? byte(gen) : fill == 1 ? -128 : 127);
      for (auto& v : b) v = static_cast<int8_t>(fill == 0 ? byte(gen) : -128);
      const std::vector<int32_t> sums = sums_of(b, n, k);
      std::vector<int32_t> want(m * n), got(m * n);
      kernels_ref.gemm_tile(a.data(), m, b.data(), n, k, sums.data(), want.data(), n);
      for (const Table& t : tables) {
        if (!t.ok) continue;
        std::fill(got.begin(), got.end(), -1);
        t.k->gemm_tile(a.data(), m, b.data(), n, k, sums.data(), got.data(), n);
        check(got == want, format("int8mm %s gemm_tile %lldx%lldx%lld fill %d", t.name, (long long)m, (long long)n,
                                  (long long)k, fill));
      }
    }
}

void driver() {
  // Driver (threads, tiles, active table) against a serial reference GEMM.
  std::mt19937 gen(11);
  std::uniform_int_distribution<int> byte(-127, 127);
  const int64_t m = 37, n = 70, k = 300;
  std::vector<int8_t> a(m * k), b(n * k);
  for (auto& v : a) v = static_cast<int8_t>(byte(gen));
  for (auto& v : b) v = static_cast<int8_t>(byte(gen));
  std::vector<int32_t> want(m * n), got(m * n);
  kernels_ref.gemm_tile(a.data(), m, b.data(), n, k, nullptr, want.data(), n);
  check(matmul_i32(a.data(), m, b.data(), n, k, got.data()).ok() && got == want, "int8mm matmul_i32 driver");
  check(matmul_i32(a.data(), 1, b.data(), 1, kMaxInner + 1, got.data()).code == Code::too_large,
        "int8mm matmul_i32 k too large");
  if (!cuda_info().available)
    check(matmul_i32(a.data(), m, b.data(), n, k, got.data(), Device::cuda).code == Code::cuda_unavailable,
          "int8mm matmul_i32 cuda without a GPU is cuda_unavailable");

  // Vector-wise quantization: outlier column zeroed in all rows, row stats exclude outliers, zero row.
  const int64_t rows = 3, cols = 4;
  const float x[rows * cols] = {1.0f, -6.0f, 0.5f, 2.0f,   //
                                0.25f, 1.0f, -0.5f, 0.0f,  //
                                0.0f, 0.0f, 0.0f, 0.0f};
  std::vector<int8_t> q(rows * cols);
  std::vector<float> rs(rows);
  std::vector<uint8_t> mask(cols);
  check(vectorwise_quantize(x, rows, cols, 6.0f, q.data(), rs.data(), mask.data()).ok(), "int8mm vq ok");
  check(mask == std::vector<uint8_t>{0, 1, 0, 0}, "int8mm vq outlier mask");
  check(rs[0] == 2.0f && rs[1] == 1.0f && rs[2] == 0.0f, "int8mm vq row stats");
  check(q == std::vector<int8_t>{64, 0, 32, 127, 32, 0, -64, 0, 0, 0, 0, 0},
        format("int8mm vq codes %d %d %d %d", q[0], q[1], q[2], q[3]));
  const float bad[2] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  check(vectorwise_quantize(bad, 1, 2, 0.0f, q.data(), rs.data(), nullptr).code == Code::non_finite,
        "int8mm vq non-finite");
  check(vectorwise_quantize(x, 1, 2, -1.0f, q.data(), rs.data(), mask.data()).code == Code::invalid_argument,
        "int8mm vq negative threshold");
  // Dequantization rounds twice: (q · s) then · f32(1/127).
  const int8_t dq[1] = {127};
  const float s[1] = {3.0f};
  float out[1];
  check(vectorwise_dequantize(dq, 1, 1, s, out).ok() && out[0] == (127.0f * 3.0f) * kDequantScale,
        "int8mm dequant two roundings");
}

// ---- Device::cuda against the CPU GEMM ----

void cuda_gemm() {
  std::mt19937 gen(23);
  std::uniform_int_distribution<int> byte(-128, 127);
  // Odd sizes (tails in every tile dimension and in the 32-byte k step), k % 4 == 0 (word loads) and not,
  // exact tile multiples, one row, and a k long enough for large sums.
  const int64_t shapes[][3] = {{1, 1, 1},     {3, 5, 7},     {65, 63, 33},   {64, 64, 32},    {127, 129, 257},
                               {1, 300, 129}, {300, 1, 130}, {100, 70, 64},  {2, 200, 1000},  {67, 131, 4099},
                               {129, 65, 4096}, {5, 7, 1}, {33, 17, 2}, {17, 33, 3}};
  for (const auto& shape : shapes)
    for (int fill = 0; fill < 4; ++fill) {
      const int64_t m = shape[0], n = shape[1], k = shape[2];
      std::vector<int8_t> a(m * k), b(n * k);
      // random; all -128 × all -128 (the largest positive products); 127 × -128 (the most negative);
      // 127 × 127.
      for (auto& v : a) v = static_cast<int8_t>(fill == 0 ? byte(gen) : fill == 1 ? -128 : 127);
      for (auto& v : b) v = static_cast<int8_t>(fill == 0 ? byte(gen) : fill == 3 ? 127 : -128);
      std::vector<int32_t> want(m * n, -1), got(m * n, -1);
      const Status sc = matmul_i32(a.data(), m, b.data(), n, k, want.data(), Device::cpu);
      const Status sg = matmul_i32(a.data(), m, b.data(), n, k, got.data(), Device::cuda);
      check(sc.ok() && sg.ok() && got == want,
            format("int8mm cuda gemm %lldx%lldx%lld fill %d equals cpu (%s)", (long long)m, (long long)n,
                   (long long)k, fill, sg.message.c_str()));
    }
  // k = 0 gives zeros; m = 0 or n = 0 writes nothing.
  std::vector<int8_t> none(1);
  std::vector<int32_t> got(6, -1);
  check(matmul_i32(none.data(), 2, none.data(), 3, 0, got.data(), Device::cuda).ok() &&
            got == std::vector<int32_t>(6, 0),
        "int8mm cuda gemm k = 0 is zeros");
  std::fill(got.begin(), got.end(), -1);
  check(matmul_i32(none.data(), 0, none.data(), 3, 1, got.data(), Device::cuda).ok() && got[0] == -1,
        "int8mm cuda gemm m = 0 writes nothing");
  check(matmul_i32(none.data(), 1, none.data(), 1, kMaxInner + 1, got.data(), Device::cuda).code == Code::too_large,
        "int8mm cuda gemm k too large");

  // linear() with the GEMM on CUDA: same f32 results as on the CPU.
  const int64_t m = 19, n = 45, k = 77, o = 2;
  std::vector<int8_t> a(m * k), b(n * k);
  for (auto& v : a) v = static_cast<int8_t>(byte(gen));
  for (auto& v : b) v = static_cast<int8_t>(byte(gen));
  std::vector<float> ra(m), rb(n), ao(m * o), bo(n * o), out_cpu(m * n), out_gpu(m * n);
  std::uniform_real_distribution<float> real(0.0f, 4.0f);
  for (auto& v : ra) v = real(gen);
  for (auto& v : rb) v = real(gen);
  for (auto& v : ao) v = real(gen) - 2.0f;
  for (auto& v : bo) v = real(gen) - 2.0f;
  LinearArgs args;
  args.a = a.data();
  args.row_stats_a = ra.data();
  args.m = m;
  args.b = b.data();
  args.row_stats_b = rb.data();
  args.n = n;
  args.k = k;
  args.a_outliers = ao.data();
  args.b_outliers = bo.data();
  args.outliers = o;
  args.out = out_cpu.data();
  const Status lc = linear(args);
  args.out = out_gpu.data();
  args.device = Device::cuda;
  const Status lg = linear(args);
  check(lc.ok() && lg.ok() && out_cpu == out_gpu, format("int8mm cuda linear equals cpu (%s)", lg.message.c_str()));
}

}  // namespace

void int8mm_suite() {
  gemm_tables();
  driver();
}

void int8mm_cuda_suite() { cuda_gemm(); }

}  // namespace kq::test
