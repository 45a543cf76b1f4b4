// Random GPTQ checkpoint tensors for the int4 tests (test_int4.cc, test_int4_cuda.cc): codes, zeros and scales
// at random, packed as test/fixtures/gptq/README.md section 4.2/4.4 says (v1: word − 0x11111111). Internal
// linkage: each test file keeps its own copy.
#pragma once
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "../core/half.h"
#include "../ops/int4/int4.h"

namespace kq::test {
namespace {

struct Ckpt {
  int64_t n, k, groups, group_size;
  std::vector<uint8_t> codes;   // [n, k]
  std::vector<uint8_t> zero;    // [groups, n]
  std::vector<uint16_t> scales;  // [groups, n]
  std::vector<int32_t> g_idx;   // [k]
  std::vector<int32_t> qweight, qzeros;
  int4::Format format;
  bool sym;

  int4::CheckpointTensors tensors(bool with_g_idx = true) const {
    int4::CheckpointTensors t;
    t.qweight = qweight.data();
    t.qweight_len = static_cast<int64_t>(qweight.size());
    if (!sym) {
      t.qzeros = qzeros.data();
      t.qzeros_len = static_cast<int64_t>(qzeros.size());
    }
    t.scales = scales.data();
    t.scales_len = static_cast<int64_t>(scales.size());
    if (with_g_idx) {
      t.g_idx = g_idx.data();
      t.g_idx_len = k;
    }
    t.n = n;
    t.k = k;
    t.groups = groups;
    t.group_size = group_size;
    t.format = format;
    return t;
  }
};

Ckpt make_ckpt(std::mt19937& gen, int64_t n, int64_t k, int64_t group_size, bool sym, bool act_order, int4::Format format) {
  Ckpt c{n, k, group_size == -1 ? 1 : (k + group_size - 1) / group_size, group_size};
  c.format = format;
  c.sym = sym;
  std::uniform_int_distribution<int> nib(0, 15);
  std::uniform_real_distribution<float> sc(0.002f, 0.05f);
  c.codes.resize(n * k);
  for (auto& v : c.codes) v = static_cast<uint8_t>(nib(gen));
  c.zero.resize(c.groups * n);
  for (auto& v : c.zero) v = static_cast<uint8_t>(sym ? 8 : nib(gen));
  c.scales.resize(c.groups * n);
  for (auto& v : c.scales) v = f32_to_f16_bits(sc(gen));
  c.g_idx.resize(k);
  for (int64_t i = 0; i < k; ++i) c.g_idx[i] = group_size == -1 ? 0 : static_cast<int32_t>(i / group_size);
  if (act_order) std::shuffle(c.g_idx.begin(), c.g_idx.end(), gen);
  c.qweight.assign((k / 8) * n, 0);
  for (int64_t o = 0; o < n; ++o)
    for (int64_t i = 0; i < k; ++i)
      c.qweight[(i / 8) * n + o] |= static_cast<int32_t>(static_cast<uint32_t>(c.codes[o * k + i]) << (4 * (i % 8)));
  if (!sym) {
    c.qzeros.assign(c.groups * (n / 8), 0);
    for (int64_t g = 0; g < c.groups; ++g)
      for (int64_t w = 0; w < n / 8; ++w) {
        uint32_t word = 0;
        for (int64_t f = 0; f < 8; ++f) word |= static_cast<uint32_t>(c.zero[g * n + w * 8 + f]) << (4 * f);
        if (format == int4::Format::gptq) word -= 0x11111111u;
        c.qzeros[g * (n / 8) + w] = static_cast<int32_t>(word);
      }
  }
  return c;
}

}  // namespace
}  // namespace kq::test
