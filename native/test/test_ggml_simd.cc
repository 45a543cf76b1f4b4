// ggml SIMD kernel tables (native/ops/ggml/kernels.h) against kernels_ref, every type: quantized bytes byte
// for byte and dequantized floats bit for bit (NaN as a class) on seeded random data of many scales, the
// golden-style edge cases (all-zero, −0 and constant blocks, 1e-30 and subnormal magnitudes, 6e4 and 1e6 that
// overflow fp16 scales, huge outliers), odd block counts, random block bytes (infinite and NaN fp16 scales
// included), and the non-finite scan. Then the driver at every SIMD level gives the scalar level's results.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../core/cpu_features.h"
#include "../ops/ggml/ggml.h"
#include "../ops/ggml/kernels.h"
#include "check.h"

namespace kq::test {
namespace {

using ggml::Type;

constexpr Type kAllTypes[] = {Type::q4_0, Type::q4_1, Type::q5_0, Type::q5_1, Type::q8_0, Type::q8_1,
                              Type::q2_k, Type::q3_k, Type::q4_k, Type::q5_k, Type::q6_k, Type::q8_k,
                              Type::iq4_nl, Type::tq1_0, Type::tq2_0, Type::mxfp4};

struct Table {
  const char* name;
  const ggml::Kernels* kernels;
  bool supported;
};

// One input per case: blocks of 256 elements (a multiple of every block size) filled by `fill`.
struct Case {
  std::string name;
  std::vector<float> x;
};

std::vector<Case> make_cases() {
  std::mt19937 rng(2024);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<Case> cases;
  const auto add = [&](const std::string& name, int blocks, auto value) {
    Case c{name, std::vector<float>(static_cast<size_t>(blocks) * 256)};
    for (size_t i = 0; i < c.x.size(); ++i) c.x[i] = value(i);
    cases.push_back(std::move(c));
  };
  for (float scale : {1e-30f, 1e-6f, 1.0f, 1e3f, 6e4f, 1e6f})
    add(format("normal x %g", scale), 7, [&](size_t) { return scale * normal(rng); });
  // Subnormal blocks: scales whose reciprocal overflows to inf, so x · id is ±inf or NaN (0 · inf).
  add("subnormal", 2, [&](size_t i) { return i % 5 == 0 ? 0.0f : 1e-41f * normal(rng); });
  add("uniform, one block", 1, [&](size_t) { return uniform(rng); });
  add("all zero", 3, [](size_t) { return 0.0f; });
  add("all -0", 2, [](size_t) { return -0.0f; });
  add("constant 0.75", 2, [](size_t) { return 0.75f; });
  add("constant -3", 2, [](size_t) { return -3.0f; });
  // Each 32-element run its own regime: zero, constant, positive-only, tiny, huge, with outliers.
  add("mixed runs", 13, [&](size_t i) {
    switch ((i / 32) % 8) {
      case 0: return 0.0f;
      case 1: return 1.5f;
      case 2: return std::fabs(normal(rng));
      case 3: return 1e-30f * normal(rng);
      case 4: return 7e4f * normal(rng);
      case 5: return i % 32 == 5 ? 1e6f : normal(rng);
      case 6: return -std::fabs(normal(rng)) - 10.0f;
      default: return std::round(4.0f * uniform(rng)) * 0.25f;  // many ties
    }
  });
  // Heavy tails and a fresh magnitude every 16 elements: the K-quant searches take many different branches.
  add("heavy tails", 16, [&](size_t) { return normal(rng) / (0.05f + std::fabs(uniform(rng))); });
  float run_scale = 1.0f;
  add("scale per 16", 16, [&](size_t i) {
    if (i % 16 == 0) run_scale = std::exp(6.0f * uniform(rng));
    return run_scale * normal(rng);
  });
  add("sparse", 5, [&](size_t i) { return i % 17 == 0 ? normal(rng) : 0.0f; });
  // ±0 in random order beside values of one sign per 32-run: min or max is a zero whose sign the reference
  // takes from the first zero it meets (stored in Q4_1 / Q5_1's m, and the sign of d).
  add("signed zeros", 4, [&](size_t i) {
    const float side = (i / 32) % 2 ? 0.5f : -0.5f;
    const uint32_t pick = rng() % 3;
    return pick == 0 ? 0.0f : pick == 1 ? -0.0f : side;
  });
  return cases;
}

bool same_float(float a, float b) {
  uint32_t ua, ub;
  std::memcpy(&ua, &a, 4);
  std::memcpy(&ub, &b, 4);
  return ua == ub || (std::isnan(a) && std::isnan(b));
}

std::string float_mismatch(const std::vector<float>& got, const std::vector<float>& want) {
  for (size_t i = 0; i < want.size(); ++i)
    if (!same_float(got[i], want[i])) return format("element %zu: %a vs reference %a", i, got[i], want[i]);
  return "";
}

std::string byte_mismatch(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  for (size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i]) return format("byte %zu: %02x vs reference %02x", i, got[i], want[i]);
  return "";
}

void tables_match_reference(const Table& table, const std::vector<Case>& cases) {
  std::mt19937 rng(99);
  for (Type t : kAllTypes) {
    const ggml::TypeInfo& info = *ggml::type_info(static_cast<int32_t>(t));
    const ggml::Slot slot = ggml::slot_of(t);
    for (const Case& c : cases) {
      // Types with blocks of 32 also run 3 blocks short, so their block counts are odd and not multiples of 8.
      const int64_t full = static_cast<int64_t>(c.x.size());
      std::vector<int64_t> lengths = {full};
      if (info.block_size == 32) lengths.push_back(full - 96);
      for (const int64_t n : lengths) {
        const size_t bytes = static_cast<size_t>(n / info.block_size * info.type_size);
        std::vector<uint8_t> want(bytes, 0xa5), got(bytes, 0x5a);
        ggml::kernels_ref.quantize[slot](c.x.data(), want.data(), n);
        table.kernels->quantize[slot](c.x.data(), got.data(), n);
        const std::string q = byte_mismatch(got, want);
        check(q.empty(), format("%s %s quantize on %s (%lld) = reference: %s", table.name, info.name, c.name.c_str(),
                                static_cast<long long>(n), q.c_str()));

        std::vector<float> y_want(n, -1.0f), y_got(n, 1.0f);
        ggml::kernels_ref.dequantize[slot](want.data(), y_want.data(), n);
        table.kernels->dequantize[slot](want.data(), y_got.data(), n);
        const std::string d = float_mismatch(y_got, y_want);
        check(d.empty(), format("%s %s dequantize of %s (%lld) = reference: %s", table.name, info.name, c.name.c_str(),
                                static_cast<long long>(n), d.c_str()));
      }
    }
    // Arbitrary block bytes: fp16 scales that are Inf, NaN or subnormal, every level pattern.
    for (int blocks : {1, 3, 8, 31}) {
      const int64_t n = blocks * info.block_size;
      std::vector<uint8_t> raw(static_cast<size_t>(blocks * info.type_size));
      for (uint8_t& b : raw) b = static_cast<uint8_t>(rng());
      std::vector<float> y_want(n, -1.0f), y_got(n, 1.0f);
      ggml::kernels_ref.dequantize[slot](raw.data(), y_want.data(), n);
      table.kernels->dequantize[slot](raw.data(), y_got.data(), n);
      const std::string d = float_mismatch(y_got, y_want);
      check(d.empty(), format("%s %s dequantize of %d random blocks = reference: %s", table.name, info.name, blocks,
                              d.c_str()));
    }
  }
}

// has_non_finite on every length 0..40 and a long run, with NaN / ±Inf / the largest finite value at each place.
void non_finite_scan_matches_reference(const Table& table) {
  const float specials[] = {std::nanf(""), INFINITY, -INFINITY, 3.4028235e38f, -0.0f};
  int mismatches = 0;
  for (int64_t n : {0, 1, 5, 7, 8, 9, 15, 16, 17, 31, 40, 1000}) {
    std::vector<float> x(static_cast<size_t>(n), 1.5f);
    if (table.kernels->has_non_finite(x.data(), n) != ggml::kernels_ref.has_non_finite(x.data(), n)) ++mismatches;
    for (int64_t at = 0; at < n; ++at)
      for (float special : specials) {
        x[at] = special;
        const bool want = ggml::kernels_ref.has_non_finite(x.data(), n);
        mismatches += table.kernels->has_non_finite(x.data(), n) != want;
        mismatches += want != !std::isfinite(special);
        x[at] = 1.5f;
      }
  }
  check(mismatches == 0, format("%s has_non_finite = reference on every length and position (%d mismatches)",
                                table.name, mismatches));
}

// The driver (thread pool split, active table) at each supported level against the scalar level.
void driver_matches_across_levels(const std::vector<Case>& cases) {
  const SimdLevel saved = simd_level();
  const Case& c = cases[2];  // normal x 1
  for (Type t : kAllTypes) {
    const ggml::TypeInfo& info = *ggml::type_info(static_cast<int32_t>(t));
    std::vector<float> x;
    for (int rep = 0; rep < 40; ++rep) x.insert(x.end(), c.x.begin(), c.x.end());  // 280 super-blocks
    const int64_t n = static_cast<int64_t>(x.size());
    const size_t bytes = static_cast<size_t>(n / info.block_size * info.type_size);
    std::vector<uint8_t> scalar_q(bytes);
    std::vector<float> scalar_y(n);
    set_simd_level(SimdLevel::scalar);
    ggml::quantize(static_cast<int32_t>(t), x.data(), n, scalar_q.data());
    ggml::dequantize(static_cast<int32_t>(t), scalar_q.data(), n, scalar_y.data());
    for (SimdLevel level : {SimdLevel::avx2, SimdLevel::avx512}) {
      if (static_cast<int>(level) > static_cast<int>(best_simd_level())) continue;
      set_simd_level(level);
      std::vector<uint8_t> q(bytes);
      std::vector<float> y(n);
      check(ggml::quantize(static_cast<int32_t>(t), x.data(), n, q.data()).ok() && q == scalar_q,
            format("ggml driver %s quantize at %s = scalar level", info.name, simd_level_name(level)));
      ggml::dequantize(static_cast<int32_t>(t), scalar_q.data(), n, y.data());
      check(float_mismatch(y, scalar_y).empty(),
            format("ggml driver %s dequantize at %s = scalar level", info.name, simd_level_name(level)));
    }
  }
  set_simd_level(saved);
}

}  // namespace

void ggml_simd_suite() {
  const Tally before = tally();
  const std::vector<Case> cases = make_cases();
  const Table tables[] = {{"avx2", &ggml::kernels_avx2, cpu_features().avx2},
                          {"avx512", &ggml::kernels_avx512, cpu_features().avx512}};
  for (const Table& table : tables) {
    if (!table.supported) {
      std::printf("ggml simd %s: skipped (not supported by this CPU)\n", table.name);
      continue;
    }
    tables_match_reference(table, cases);
    non_finite_scan_matches_reference(table);
  }
  driver_matches_across_levels(cases);
  const Tally& after = tally();
  std::printf("ggml simd tables: %d passed, %d failed\n", after.passed - before.passed, after.failed - before.failed);
}

}  // namespace kq::test
