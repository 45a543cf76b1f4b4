// Code-book / Q4_K GEMV (ops/int4/codebook.h): every kernel table this CPU runs is bit-identical to the scalar
// reference (NF4, FP4 at several bnb block sizes; Q4_K on both activation paths; odd n, m past a pass, bias),
// the reference matches an f64 product with the weight dequantized by bnb's / ggml's own dequantizers within
// the paths' bounds, and bad input gives the documented errors.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../ops/bnb/bnb.h"
#include "../ops/ggml/ggml.h"
#include "../ops/int4/codebook.h"
#include "check.h"

namespace kq::test {
namespace {

using namespace int4;

struct Layer {
  std::shared_ptr<PreparedCodebook> w;
  std::vector<float> dequant;  // [n, k], from the format's own dequantizer
};

Layer make_bnb(std::mt19937& gen, int64_t n, int64_t k, int64_t block_size, CodebookFormat format) {
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> src(n * k);
  for (auto& v : src) v = normal(gen);
  const auto type = format == CodebookFormat::nf4 ? bnb::Quant4::nf4 : bnb::Quant4::fp4;
  std::vector<uint8_t> packed(n * k / 2);
  std::vector<float> absmax(n * k / block_size);
  Layer l;
  l.dequant.resize(n * k);
  check(bnb::quantize_4bit(src.data(), n * k, block_size, type, packed.data(), absmax.data(), Device::cpu).ok() &&
            bnb::dequantize_4bit(packed.data(), n * k, block_size, type, absmax.data(), l.dequant.data(), Device::cpu).ok(),
        "bnb quantize/dequantize");
  Bnb4Tensors t{packed.data(), static_cast<int64_t>(packed.size()), absmax.data(), static_cast<int64_t>(absmax.size()),
                format, n, k, block_size};
  const Status st = prepare_bnb4(t, &l.w);
  check(st.ok(), "prepare_bnb4: " + st.message);
  return l;
}

Layer make_q4_k(std::mt19937& gen, int64_t n, int64_t k) {
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> src(n * k);
  for (auto& v : src) v = normal(gen);
  std::vector<uint8_t> bytes(n * k / kQ4KSuper * kQ4KBytes);
  auto* blocks = reinterpret_cast<ggml::BlockQ4_K*>(bytes.data());
  Layer l;
  l.dequant.resize(n * k);
  for (int64_t o = 0; o < n; ++o) {
    ggml::quantize_row_q4_K_ref(src.data() + o * k, blocks + o * (k / kQ4KSuper), k);
    ggml::dequantize_row_q4_K(blocks + o * (k / kQ4KSuper), l.dequant.data() + o * k, k);
  }
  const Status st = prepare_q4_k(bytes.data(), static_cast<int64_t>(bytes.size()), n, k, &l.w);
  check(st.ok(), "prepare_q4_k: " + st.message);
  return l;
}

// The reference against f64 of x · dequant(W)ᵀ + bias: f32 accumulation, ≤ 4e-5 · mag with mag = Σ (|w| +
// max|w| of the block)·|x| (the block maximum covers Q4_K's separately summed d·sc·q and dmin·m terms), and
// for the int8 path the activation rounding: Σ w·Δx with |Δx| ≤ block absmax(x) / 254 per element.
void check_vs_f64(const Layer& l, const std::vector<float>& x, int64_t m, const std::vector<float>& bias,
                  const std::vector<float>& y, bool int8, const char* what) {
  const int64_t n = l.w->n, k = l.w->k;
  FirstMismatch far;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t o = 0; o < n; ++o) {
      double s = bias[o], mag = 0.0, magx = 0.0;
      for (int64_t b = 0; b < k / kBlock; ++b) {
        double amax = 0.0, wmax = 0.0;
        for (int64_t p = b * kBlock; p < (b + 1) * kBlock; ++p) {
          amax = std::max(amax, std::fabs(double(x[i * k + p])));
          wmax = std::max(wmax, std::fabs(double(l.dequant[o * k + p])));
        }
        for (int64_t p = b * kBlock; p < (b + 1) * kBlock; ++p) {
          const double wv = l.dequant[o * k + p];
          s += wv * x[i * k + p];
          mag += (std::fabs(wv) + wmax) * std::fabs(double(x[i * k + p]));
          magx += std::fabs(wv) * amax / 254;
        }
      }
      const double bound = 4e-5 * mag + (int8 ? magx : 0.0) + 1e-7;
      const float got = y[i * n + o];
      if (std::fabs(got - s) > bound) far.add(format("[%lld, %lld] %g vs f64 %g", (long long)i, (long long)o, got, s));
    }
  check(far.count == 0, format("%s ref vs f64: %s", what, far.describe().c_str()));
}

struct Table {
  const char* name;
  const CodebookKernels* kernels;
  bool ok;
};

void tables_vs_ref() {
  std::mt19937 gen(53);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const CpuFeatures& f = cpu_features();
  const Table tables[] = {{"avx2", &codebook_kernels_avx2, f.avx2},
                          {"avx512", &codebook_kernels_avx512, f.avx512},
                          {"avx512_vnni", &codebook_kernels_avx512_vnni, f.avx512 && f.avx512_vnni}};
  struct Case { CodebookFormat format; int64_t n, k, block_size, m; };
  const Case cases[] = {{CodebookFormat::nf4, 17, 128, 64, 1},   {CodebookFormat::nf4, 40, 256, 32, 3},
                        {CodebookFormat::fp4, 9, 192, 64, 8},    {CodebookFormat::fp4, 33, 256, 128, 2},
                        {CodebookFormat::nf4, 16, 512, 512, 11}, {CodebookFormat::q4_k, 19, 256, 256, 1},
                        {CodebookFormat::q4_k, 40, 512, 256, 9}, {CodebookFormat::q4_k, 7, 768, 256, 3}};
  for (const Case& cs : cases) {
    const bool q4_k = cs.format == CodebookFormat::q4_k;
    const Layer l = q4_k ? make_q4_k(gen, cs.n, cs.k) : make_bnb(gen, cs.n, cs.k, cs.block_size, cs.format);
    if (!l.w) continue;
    std::vector<float> x(cs.m * cs.k), bias(cs.n);
    for (auto& v : x) v = normal(gen);
    for (auto& v : bias) v = normal(gen);
    const char* name = q4_k ? "q4_k" : cs.format == CodebookFormat::nf4 ? "nf4" : "fp4";
    for (Activations act : {Activations::f32, Activations::int8}) {
      const bool int8 = act == Activations::int8;
      MatmulArgs args;
      args.x = x.data();
      args.m = cs.m;
      args.bias = bias.data();
      args.activations = act;
      std::vector<float> want(cs.m * cs.n, -1.0f), got(cs.m * cs.n);
      args.y = want.data();
      const Status st = matmul_codebook(*l.w, args, &codebook_kernels_ref);
      if (!q4_k && int8) {
        check(st.code == Code::invalid_argument, format("%s refuses int8 activations", name));
        continue;
      }
      if (!check(st.ok(), "codebook ref matmul: " + st.message)) continue;
      const std::string what = format("%s %s n=%lld k=%lld bs=%lld m=%lld", name, int8 ? "int8" : "f32", (long long)cs.n,
                                      (long long)cs.k, (long long)cs.block_size, (long long)cs.m);
      check_vs_f64(l, x, cs.m, bias, want, int8, what.c_str());
      for (const Table& t : tables) {
        if (!t.ok) continue;
        std::fill(got.begin(), got.end(), -2.0f);
        args.y = got.data();
        check(matmul_codebook(*l.w, args, t.kernels).ok(), "codebook matmul");
        check(std::memcmp(got.data(), want.data(), got.size() * 4) == 0,
              format("%s %s bit-identical to ref", t.name, what.c_str()));
      }
    }
  }
}

void errors() {
  std::vector<uint8_t> packed(16 * 128 / 2);
  std::vector<float> absmax(16 * 2, 1.0f);
  std::shared_ptr<PreparedCodebook> w;
  Bnb4Tensors t{packed.data(), static_cast<int64_t>(packed.size()), absmax.data(), static_cast<int64_t>(absmax.size()),
                CodebookFormat::nf4, 16, 128, 64};
  check(prepare_bnb4(t, &w).ok(), "prepare_bnb4 accepts a good weight");
  Bnb4Tensors bad = t;
  bad.k = 96;  // not a multiple of the block size
  check(prepare_bnb4(bad, &w).code == Code::shape, "prepare_bnb4: k off the block size is KQ_SHAPE");
  bad = t;
  bad.packed_len -= 1;
  check(prepare_bnb4(bad, &w).code == Code::length, "prepare_bnb4: short packed is KQ_LENGTH");
  bad = t;
  bad.absmax_len -= 1;
  check(prepare_bnb4(bad, &w).code == Code::length, "prepare_bnb4: short absmax is KQ_LENGTH");
  absmax[3] = NAN;
  check(prepare_bnb4(t, &w).code == Code::non_finite, "prepare_bnb4: NaN absmax is KQ_NON_FINITE");
  std::vector<uint8_t> q4k(3 * kQ4KBytes, 0);
  check(prepare_q4_k(q4k.data(), static_cast<int64_t>(q4k.size()), 3, 256, &w).ok(), "prepare_q4_k accepts zeros");
  check(prepare_q4_k(q4k.data(), static_cast<int64_t>(q4k.size()), 3, 128, &w).code == Code::shape,
        "prepare_q4_k: k off 256 is KQ_SHAPE");
  check(prepare_q4_k(q4k.data(), static_cast<int64_t>(q4k.size()) - 1, 3, 256, &w).code == Code::length,
        "prepare_q4_k: short bytes is KQ_LENGTH");
  q4k[kQ4KBytes + 1] = 0x7c;  // row 1's d = +Inf
  check(prepare_q4_k(q4k.data(), static_cast<int64_t>(q4k.size()), 3, 256, &w).code == Code::non_finite,
        "prepare_q4_k: Inf d is KQ_NON_FINITE");
  q4k[kQ4KBytes + 1] = 0;
  check(prepare_q4_k(q4k.data(), static_cast<int64_t>(q4k.size()), 3, 256, &w).ok(), "prepare_q4_k again");
  std::vector<float> x(256, 1.0f), y(3);
  x[7] = INFINITY;
  MatmulArgs args;
  args.x = x.data();
  args.m = 1;
  args.y = y.data();
  check(matmul_codebook(*w, args).code == Code::non_finite, "codebook matmul: Inf x is KQ_NON_FINITE");
}

}  // namespace

void int4_codebook_suite() {
  const Tally before = tally();
  tables_vs_ref();
  errors();
  std::printf("int4 codebook: %d passed, %d failed\n", tally().passed - before.passed, tally().failed - before.failed);
}

}  // namespace kq::test
