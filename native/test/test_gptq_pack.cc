// GPTQ checkpoint packing (ops/gptq/pack.h) against words built by hand from README section 4's description
// (2/4/8 bits: pf fields per word, little end first; 3 bits: the 10-1-10-1-10 scheme written out field by
// field), round trips on fresh random codes and zero points for every bit width and both zero-point formats,
// edge values (all 0, all maxq, a v1 zero point of 0 that borrows), dequantize against a plain loop over the
// unpacked values, and errors naming the argument.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../core/half.h"
#include "../ops/gptq/pack.h"
#include "check.h"

namespace kq::test {
namespace {

using gptq::ZeroFormat;

constexpr int kBits[] = {2, 3, 4, 8};
constexpr float kPoison = -12345.0f;  // marks the element past the output

// Words for one run of values along the packed dimension, written out from the README's description.
std::vector<uint32_t> reference_words(const std::vector<uint32_t>& v, int bits) {
  std::vector<uint32_t> words;
  if (bits != 3) {
    const int pf = 32 / bits;
    for (size_t i = 0; i < v.size(); i += pf) {
      uint32_t w = 0;
      for (int k = 0; k < pf; ++k) w |= v[i + k] << (bits * k);
      words.push_back(w);
    }
    return words;
  }
  for (size_t i = 0; i < v.size(); i += 32) {
    const uint32_t* x = &v[i];
    uint32_t w0 = (x[10] & 3u) << 30, w1 = (x[10] >> 2) | (x[21] & 1u) << 31, w2 = x[21] >> 1;
    for (int j = 0; j < 10; ++j) {
      w0 |= x[j] << (3 * j);
      w1 |= x[11 + j] << (3 * j + 1);
      w2 |= x[22 + j] << (3 * j + 2);
    }
    words.insert(words.end(), {w0, w1, w2});
  }
  return words;
}

uint32_t v1_constant(int bits) { return bits == 2 ? 0x55555555u : bits == 4 ? 0x11111111u : 0x01010101u; }

struct Layer {
  int64_t out, in, groups;
};

void qweight_cases(std::mt19937& gen, uint32_t seed) {
  const Layer layers[] = {{32, 32, 1}, {3, 64, 1}, {96, 160, 2}, {1, 32, 1}, {257, 96, 1}, {64, 4096, 1}};
  for (int bits : kBits)
    for (const Layer& L : layers)
      for (int fill = 0; fill < 3; ++fill) {
        const int maxq = (1 << bits) - 1;
        std::uniform_int_distribution<int> code(0, maxq);
        std::vector<uint8_t> codes(L.out * L.in);
        for (auto& c : codes) c = static_cast<uint8_t>(fill == 0 ? code(gen) : fill == 1 ? 0 : maxq);
        const int64_t rows = gptq::packed_words(L.in, bits);
        std::vector<int32_t> qweight(rows * L.out, 0x5a5a5a5a);
        const std::string what = format("gptq pack_qweight bits %d [%lld, %lld] fill %d seed %u", bits,
                                        static_cast<long long>(L.out), static_cast<long long>(L.in), fill, seed);
        const Status st = gptq::pack_qweight(codes.data(), L.out, L.in, bits, qweight.data());
        if (!check(st.ok(), what + ": " + st.message)) continue;
        FirstMismatch words;
        for (int64_t o = 0; o < L.out; ++o) {
          std::vector<uint32_t> column(codes.begin() + o * L.in, codes.begin() + (o + 1) * L.in);
          const std::vector<uint32_t> expected = reference_words(column, bits);
          for (int64_t r = 0; r < rows; ++r)
            if (static_cast<uint32_t>(qweight[r * L.out + o]) != expected[r])
              words.add(format("qweight[%lld, %lld] = %08x, expected %08x", static_cast<long long>(r),
                               static_cast<long long>(o), static_cast<uint32_t>(qweight[r * L.out + o]), expected[r]));
        }
        check(words.count == 0, what + ": " + words.describe());
        std::vector<uint8_t> back(codes.size(), 0xff);
        const Status st2 = gptq::unpack_qweight(qweight.data(), L.out, L.in, bits, back.data());
        check(st2.ok() && back == codes, what + ": unpack gives the codes back " + st2.message);
      }
}

void qzeros_cases(std::mt19937& gen, uint32_t seed) {
  const Layer layers[] = {{32, 0, 1}, {64, 0, 3}, {160, 0, 4}, {96, 0, 7}, {32, 0, 4096}};
  for (int bits : kBits)
    for (ZeroFormat fmt : {ZeroFormat::v1, ZeroFormat::v2})
      for (const Layer& L : layers)
        for (int fill = 0; fill < 4; ++fill) {
          const int maxq = (1 << bits) - 1;
          std::uniform_int_distribution<int> zero(0, maxq);
          std::vector<int32_t> zeros(L.out * L.groups);
          // fill 3: sym zero points with a few 0s, which borrow across fields in v1.
          for (auto& z : zeros) z = fill == 0 ? zero(gen) : fill == 1 ? 0 : fill == 2 ? maxq : (gen() % 5 ? (maxq + 1) / 2 : 0);
          const int64_t cols = gptq::packed_words(L.out, bits);
          std::vector<int32_t> qzeros(L.groups * cols, 0x5a5a5a5a);
          const bool v1 = fmt == ZeroFormat::v1;
          const std::string what = format("gptq pack_qzeros bits %d %s out %lld groups %lld fill %d seed %u", bits,
                                          v1 ? "v1" : "v2", static_cast<long long>(L.out),
                                          static_cast<long long>(L.groups), fill, seed);
          const Status st = gptq::pack_qzeros(zeros.data(), L.out, L.groups, bits, fmt, qzeros.data());
          if (!check(st.ok(), what + ": " + st.message)) continue;
          FirstMismatch words;
          for (int64_t g = 0; g < L.groups; ++g) {
            std::vector<uint32_t> run(L.out);
            for (int64_t o = 0; o < L.out; ++o) {
              const uint32_t z = static_cast<uint32_t>(zeros[o * L.groups + g]);
              run[o] = v1 && bits == 3 ? (z + 7) % 8 : z;
            }
            std::vector<uint32_t> expected = reference_words(run, bits);
            if (v1 && bits != 3)
              for (auto& w : expected) w -= v1_constant(bits);
            for (int64_t c = 0; c < cols; ++c)
              if (static_cast<uint32_t>(qzeros[g * cols + c]) != expected[c])
                words.add(format("qzeros[%lld, %lld] = %08x, expected %08x", static_cast<long long>(g),
                                 static_cast<long long>(c), static_cast<uint32_t>(qzeros[g * cols + c]), expected[c]));
          }
          check(words.count == 0, what + ": " + words.describe());
          std::vector<int32_t> back(zeros.size(), -1);
          const Status st2 = gptq::unpack_qzeros(qzeros.data(), L.out, L.groups, bits, fmt, back.data());
          check(st2.ok() && back == zeros, what + ": unpack gives the zero points back " + st2.message);
        }
}

// dequantize on packed tensors vs a straightforward loop over the unpacked codes and zero points, in f64 and
// rounded once to f32 (lib/ops/gptq-pack.ts's former formula), with shuffled (act-order) g_idx and both formats.
void dequantize_cases(std::mt19937& gen, uint32_t seed) {
  const Layer layers[] = {{32, 32, 1}, {64, 96, 3}, {96, 160, 5}, {33 * 32, 64, 2}};
  for (int bits : kBits)
    for (ZeroFormat fmt : {ZeroFormat::v1, ZeroFormat::v2})
      for (const Layer& L : layers) {
        const int64_t out = L.out, in = L.in, groups = L.groups;
        const int maxq = (1 << bits) - 1;
        std::uniform_int_distribution<int> level(0, maxq);
        std::normal_distribution<float> scale(0.0f, 0.02f);
        std::vector<uint8_t> codes(out * in);
        std::vector<int32_t> zeros(out * groups), g_idx(in);
        std::vector<uint16_t> scales(groups * out);
        for (auto& c : codes) c = static_cast<uint8_t>(level(gen));
        for (auto& z : zeros) z = level(gen);
        for (auto& h : scales) h = f32_to_f16_bits(scale(gen));
        for (int64_t i = 0; i < in; ++i) g_idx[i] = static_cast<int32_t>(i * groups / in);
        std::shuffle(g_idx.begin(), g_idx.end(), gen);
        std::vector<int32_t> qweight(gptq::packed_words(in, bits) * out), qzeros(groups * gptq::packed_words(out, bits));
        const std::string what = format("gptq dequantize bits %d %s out %lld in %lld groups %lld seed %u", bits,
                                        fmt == ZeroFormat::v1 ? "v1" : "v2", static_cast<long long>(out),
                                        static_cast<long long>(in), static_cast<long long>(groups), seed);
        if (!check(gptq::pack_qweight(codes.data(), out, in, bits, qweight.data()).ok() &&
                       gptq::pack_qzeros(zeros.data(), out, groups, bits, fmt, qzeros.data()).ok(),
                   what + ": packing"))
          continue;
        std::vector<float> w(out * in + 1, kPoison);
        const Status st = gptq::dequantize(qweight.data(), qzeros.data(), scales.data(), g_idx.data(), out, in, groups,
                                           bits, fmt, w.data());
        FirstMismatch bad;
        for (int64_t o = 0; o < out; ++o)
          for (int64_t i = 0; i < in; ++i) {
            const int64_t g = g_idx[i];
            const double s = f16_bits_to_f32(scales[g * out + o]);
            const float expected = static_cast<float>(s * (codes[o * in + i] - zeros[o * groups + g]));
            const float got = w[o * in + i];
            if (f32_bits(got) != f32_bits(expected))
              bad.add(format("w[%lld, %lld] = %g, expected %g", static_cast<long long>(o), static_cast<long long>(i),
                             got, expected));
          }
        check(st.ok() && bad.count == 0 && f32_bits(w.back()) == f32_bits(kPoison),
              what + ": " + st.message + bad.describe());
      }
  std::vector<int32_t> words(64 * 64), g_idx(64, 0);
  std::vector<uint16_t> scales(64 * 2);
  std::vector<float> w(64 * 64);
  g_idx[9] = 2;
  const Status st = gptq::dequantize(words.data(), words.data(), scales.data(), g_idx.data(), 64, 64, 2, 4,
                                     ZeroFormat::v1, w.data());
  check(st.code == Code::invalid_argument && st.message.find("g_idx[9] = 2") != std::string::npos,
        "gptq dequantize names a g_idx past the groups: " + st.message);
  check(gptq::dequantize(words.data(), words.data(), scales.data(), g_idx.data(), 64, 48, 2, 3, ZeroFormat::v1,
                         w.data()).code == Code::shape,
        "gptq dequantize refuses an in the packing cannot hold");
}

// Words the README names: sym 4-bit v1 is 0x77777777, v2 0x88888888; codes 0..7 pack to 0x76543210.
void known_words() {
  std::vector<int32_t> zeros(8, 8), q(1);
  gptq::pack_qzeros(zeros.data(), 8, 1, 4, ZeroFormat::v1, q.data());
  check(static_cast<uint32_t>(q[0]) == 0x77777777u, format("gptq sym 4-bit v1 word %08x", static_cast<uint32_t>(q[0])));
  gptq::pack_qzeros(zeros.data(), 8, 1, 4, ZeroFormat::v2, q.data());
  check(static_cast<uint32_t>(q[0]) == 0x88888888u, format("gptq sym 4-bit v2 word %08x", static_cast<uint32_t>(q[0])));
  // A zero point of 0 in field 0 borrows: 0x88888880 − 0x11111111 = 0x7777776f (field 1 reads 6 + 1 after adding back).
  zeros[0] = 0;
  gptq::pack_qzeros(zeros.data(), 8, 1, 4, ZeroFormat::v1, q.data());
  check(static_cast<uint32_t>(q[0]) == 0x7777776fu, format("gptq v1 borrow word %08x", static_cast<uint32_t>(q[0])));
  std::vector<uint8_t> codes(8);
  for (int k = 0; k < 8; ++k) codes[k] = static_cast<uint8_t>(k);
  gptq::pack_qweight(codes.data(), 1, 8, 4, q.data());
  check(static_cast<uint32_t>(q[0]) == 0x76543210u, format("gptq 4-bit codes 0..7 word %08x", static_cast<uint32_t>(q[0])));
}

void errors() {
  std::vector<uint8_t> codes(64 * 64, 1);
  std::vector<int32_t> words(64 * 64), zeros(64 * 2, 1);
  auto expect = [](const Status& st, Code code, const std::string& needle, const std::string& what) {
    check(st.code == code && st.message.find(needle) != std::string::npos, "gptq error " + what + ": " + st.message);
  };
  expect(gptq::pack_qweight(codes.data(), 4, 64, 5, words.data()), Code::invalid_argument, "bits", "bits 5");
  expect(gptq::pack_qweight(codes.data(), 4, 48, 3, words.data()), Code::shape, "in = 48", "3-bit in 48");
  expect(gptq::pack_qweight(codes.data(), 4, 36, 4, words.data()), Code::shape, "multiple of 8", "4-bit in 36");
  expect(gptq::unpack_qweight(words.data(), 4, 18, 8, codes.data()), Code::shape, "in = 18", "unpack 8-bit in 18");
  expect(gptq::pack_qzeros(zeros.data(), 40, 2, 3, ZeroFormat::v2, words.data()), Code::shape, "out = 40", "3-bit out 40");
  expect(gptq::pack_qzeros(zeros.data(), 32, 0, 4, ZeroFormat::v2, words.data()), Code::shape, "groups = 0", "groups 0");
  expect(gptq::pack_qzeros(zeros.data(), 32, 2, 4, static_cast<ZeroFormat>(7), words.data()), Code::invalid_argument,
         "format", "format 7");
  codes[5 * 64 + 3] = 16;
  expect(gptq::pack_qweight(codes.data(), 8, 64, 4, words.data()), Code::invalid_argument, "codes[5, 3] = 16", "code 16");
  check(gptq::pack_qweight(codes.data(), 8, 64, 8, words.data()).ok(), "gptq code 16 is fine at 8 bits");
  zeros[7 * 2 + 1] = 4;
  expect(gptq::pack_qzeros(zeros.data(), 32, 2, 2, ZeroFormat::v1, words.data()), Code::invalid_argument,
         "zeros[7, 1] = 4", "2-bit zero 4");
  zeros[7 * 2 + 1] = -1;
  expect(gptq::pack_qzeros(zeros.data(), 32, 2, 8, ZeroFormat::v2, words.data()), Code::invalid_argument,
         "zeros[7, 1] = -1", "zero -1");
}

}  // namespace

void gptq_pack_suite() {
  const Tally before = tally();
  const uint32_t seed = std::random_device{}();
  std::mt19937 gen(seed);
  qweight_cases(gen, seed);
  qzeros_cases(gen, seed);
  dequantize_cases(gen, seed);
  known_words();
  errors();
  std::printf("gptq pack: %d passed, %d failed (seed %u)\n", tally().passed - before.passed,
              tally().failed - before.failed, seed);
}

}  // namespace kq::test
