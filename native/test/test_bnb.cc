// bnb family: the properties the golden vectors pin down, checked without them (tests do not read
// fixtures): code books, nibble order, all-zero blocks, threshold and midpoint ties, odd-n padding,
// round-trip error bounds, nested scales, non-finite input, bad arguments, and that the driver's split
// over threads gives the bytes a serial block-by-block pass gives.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../core/cuda_runtime.h"
#include "../core/cpu_features.h"
#include "../ops/bnb/bnb.h"
#include "../ops/bnb/kernels.h"
#include "../ops/bnb/thresholds.h"
#include "check.h"

namespace kq::test {
namespace {

using bnb::Quant4;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr uint8_t kCanary = 0xa5;
constexpr int64_t kGuard = 16;

const char* type_name(Quant4 type) { return type == Quant4::nf4 ? "nf4" : "fp4"; }

float up(float x) { return std::nextafter(x, kInf); }
float down(float x) { return std::nextafter(x, -kInf); }

int64_t blocks(int64_t n, int64_t blocksize) { return (n + blocksize - 1) / blocksize; }

struct Packed4 {
  std::vector<uint8_t> packed;
  std::vector<float> absmax;
  Status status;
};

Packed4 quantize4(const std::vector<float>& x, int64_t blocksize, Quant4 type, Device device = Device::cpu) {
  const int64_t n = static_cast<int64_t>(x.size());
  Packed4 r;
  r.packed.assign((n + 1) / 2 + kGuard, kCanary);
  r.absmax.assign(blocks(n, blocksize), -1.0f);
  r.status = bnb::quantize_4bit(x.data(), n, blocksize, type, r.packed.data(), r.absmax.data(), device);
  return r;
}

bool guard_intact(const std::vector<uint8_t>& buf, size_t used) {
  return std::all_of(buf.begin() + used, buf.end(), [](uint8_t b) { return b == kCanary; });
}

std::vector<float> normal(int64_t n, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

// The largest |s − table value| an encoder with (near-)midpoint decisions allows for s in [-1, 1].
float half_gap_bound(const float* table, int count) {
  std::vector<float> sorted(table, table + count);
  std::sort(sorted.begin(), sorted.end());
  float bound = std::max(sorted.front() + 1.0f, 1.0f - sorted.back());
  for (int i = 1; i < count; ++i) bound = std::max(bound, (sorted[i] - sorted[i - 1]) * 0.5f);
  return bound;
}

void codebook_checks() {
  const float* nf4 = bnb::code4(Quant4::nf4);
  const float* fp4 = bnb::code4(Quant4::fp4);
  const float* t = bnb::nf4_thresholds();
  bool ok = nf4[0] == -1.0f && nf4[7] == 0.0f && nf4[15] == 1.0f;
  for (int k = 0; k < 15; ++k) ok = ok && nf4[k] < t[k] && t[k] < nf4[k + 1];
  check(ok, "nf4 code book ascending from -1 to 1, each threshold between its codes");
  bool near_mid = true;
  for (int k = 0; k < 15; ++k) {
    const float mid = (nf4[k] + nf4[k + 1]) * 0.5f;
    near_mid = near_mid && (t[k] == mid || up(t[k]) == mid || down(t[k]) == mid);
  }
  check(near_mid, "nf4 thresholds are within 1 ulp of the f32 midpoints");
  ok = fp4[3] == 1.0f && fp4[11] == -1.0f && fp4[0] == 0.0f && !std::signbit(fp4[0]) && std::signbit(fp4[8]);
  for (int c = 0; c < 8; ++c) ok = ok && fp4[c + 8] == -fp4[c];
  const float* f = bnb::fp4_abs_thresholds();
  for (int j = 0; j < 7; ++j)
    ok = ok && fp4[bnb::kFp4RankCode[j]] < f[j] && f[j] < fp4[bnb::kFp4RankCode[j + 1]];
  check(ok, "fp4 code book: sign bit 3, code 8 is -0, thresholds between magnitudes in rank order");
  const float* map = bnb::dynamic_map_signed();
  ok = map[127] == 0.0f && map[255] == 1.0f && map[0] == -0.99296875f &&
       std::fabs(map[128] - 5.5e-7f) < 1e-12f;  // torch's linspace puts it 1 ulp above 5.5e-7f
  for (int j = 1; j < 256; ++j) ok = ok && map[j - 1] < map[j];
  for (int i = 0; i < 127; ++i) ok = ok && map[126 - i] == -map[128 + i];
  check(ok, "dynamic map: 256 ascending values, symmetric, 0 at 127 and 1 at 255");
}

void packing_checks() {
  // inv = 1 (absmax 1): 1 → top code, -1 → bottom, 0 → zero code, 0.5 → NF4 12 / FP4 5.
  const std::vector<float> x = {1.0f, -1.0f, 0.0f, 0.5f};
  Packed4 r = quantize4(x, 4, Quant4::nf4);
  check(r.status.ok() && r.packed[0] == 0xf0 && r.packed[1] == 0x7c && r.absmax[0] == 1.0f &&
            guard_intact(r.packed, 2),
        format("nf4 nibbles: even element high (got %02x %02x)", r.packed[0], r.packed[1]));
  r = quantize4(x, 4, Quant4::fp4);
  check(r.status.ok() && r.packed[0] == 0x3b && r.packed[1] == 0x05,
        format("fp4 nibbles: even element high, sign bit 3 (got %02x %02x)", r.packed[0], r.packed[1]));

  for (Quant4 type : {Quant4::nf4, Quant4::fp4}) {
    // An all-zero block scales to NaN and takes code 0 in both nibbles; the block after is unaffected.
    r = quantize4({0.0f, -0.0f, 0.0f, 0.0f, 1.0f, 0.0f}, 4, type);
    const uint8_t zero = type == Quant4::nf4 ? 0x7 : 0x0;
    check(r.status.ok() && r.packed[0] == 0 && r.packed[1] == 0 && r.absmax[0] == 0.0f &&
              r.packed[2] == (type == Quant4::nf4 ? 0xf7 : 0x30),
          format("%s: all-zero block gives code 0", type_name(type)));
    // Odd n: the pad nibble is the code of 0 · inv of the last block, or 0 when that block is all zero.
    r = quantize4({0.5f, 0.25f, -0.5f, 1.0f, 0.3f}, 4, type);
    check(r.status.ok() && r.packed[2] == ((type == Quant4::nf4 ? 0xf0 : 0x30) | zero) && guard_intact(r.packed, 3),
          format("%s: odd n pads the last low nibble with the code of 0 (got %02x)", type_name(type), r.packed[2]));
    r = quantize4({0.5f, 0.25f, -0.5f, 1.0f, 0.0f}, 4, type);
    check(r.status.ok() && r.packed[2] == 0x00 && r.absmax[1] == 0.0f,
          format("%s: odd n with an all-zero last block pads with 0 (got %02x)", type_name(type), r.packed[2]));
    std::vector<float> out(6, kNaN);
    const Status st = bnb::dequantize_4bit(r.packed.data(), 5, 4, type, r.absmax.data(), out.data(), Device::cpu);
    check(st.ok() && out[4] == 0.0f && out[3] == 1.0f && std::isnan(out[5]),
          format("%s: odd-n dequantization writes exactly n values", type_name(type)));
  }
}

// Each threshold exactly (lower code), one ulp above (upper code) and below, with absmax 1 so s = x.
void threshold_checks() {
  const float* t = bnb::nf4_thresholds();
  FirstMismatch nf4;
  for (int k = 0; k < 15; ++k) {
    Packed4 r = quantize4({1.0f, t[k], up(t[k]), down(t[k])}, 4, Quant4::nf4);
    const int on = r.packed[0] & 0xf, above = r.packed[1] >> 4, below = r.packed[1] & 0xf;
    if (!r.status.ok() || on != k || above != k + 1 || below != k)
      nf4.add(format("T%d: on %d above %d below %d", k, on, above, below));
  }
  check(nf4.count == 0, "nf4: a value on a threshold takes the lower code: " + nf4.describe());

  const float* f = bnb::fp4_abs_thresholds();
  FirstMismatch fp4;
  for (int j = 0; j < 7; ++j) {
    Packed4 r = quantize4({1.0f, f[j], up(f[j]), -f[j], -up(f[j]), -1e-30f}, 6, Quant4::fp4);
    const int lower = bnb::kFp4RankCode[j], upper = bnb::kFp4RankCode[j + 1];
    const int on = r.packed[0] & 0xf, above = r.packed[1] >> 4, neg_on = r.packed[1] & 0xf;
    const int neg_above = r.packed[2] >> 4, tiny = r.packed[2] & 0xf;
    if (!r.status.ok() || on != lower || above != upper || neg_on != (lower | 8) || neg_above != (upper | 8) ||
        tiny != 8)
      fp4.add(format("F%d: on %d above %d -on %d -above %d tiny %d", j, on, above, neg_on, neg_above, tiny));
  }
  check(fp4.count == 0, "fp4: |s| on a threshold takes the lower magnitude, sign = (s < 0): " + fp4.describe());
}

// Blocks of 256 with absmax 1: every midpoint of the dynamic map exactly, then one ulp either side.
void midpoint_checks() {
  const float* map = bnb::dynamic_map_signed();
  std::vector<float> x;
  for (int pass = 0; pass < 3; ++pass) {
    x.push_back(1.0f);
    for (int j = 0; j < 255; ++j) {
      const float m = (map[j] + map[j + 1]) * 0.5f;
      x.push_back(pass == 0 ? m : pass == 1 ? up(m) : down(m));
    }
  }
  std::vector<uint8_t> codes(x.size());
  std::vector<float> absmax(3);
  const Status st = bnb::quantize_8bit(x.data(), static_cast<int64_t>(x.size()), 256, map, codes.data(),
                                       absmax.data(), Device::cpu);
  FirstMismatch bad;
  for (int pass = 0; pass < 3; ++pass)
    for (int j = 0; j < 255; ++j) {
      const int expected = pass == 0 ? (j % 2 == 0 ? j : j + 1) : pass == 1 ? j + 1 : j;
      const int got = codes[pass * 256 + 1 + j];
      if (got != expected) bad.add(format("pass %d midpoint %d: code %d, expected %d", pass, j, got, expected));
    }
  check(st.ok() && codes[0] == 255 && bad.count == 0,
        "8-bit: a value on a midpoint takes the even index, one ulp off the nearer side: " + bad.describe());

  std::vector<float> zeros(5, 0.0f), out(5, 1.0f);
  std::vector<uint8_t> zcodes(5, 9);
  float zmax = -1.0f;
  bool ok = bnb::quantize_8bit(zeros.data(), 5, 8, map, zcodes.data(), &zmax, Device::cpu).ok();
  ok = ok && bnb::dequantize_8bit(zcodes.data(), 5, 8, map, &zmax, out.data(), Device::cpu).ok();
  check(ok && zmax == 0.0f && std::all_of(zcodes.begin(), zcodes.end(), [](uint8_t c) { return c == 0; }) &&
            std::all_of(out.begin(), out.end(), [](float v) { return v == 0.0f; }),
        "8-bit: an all-zero block gives index 0 and dequantizes to 0");
}

void round_trip_checks() {
  const int64_t n = 4097;
  const std::vector<float> x = normal(n, 0.02f, 7);
  for (Quant4 type : {Quant4::nf4, Quant4::fp4})
    for (int64_t bs : {int64_t{2}, int64_t{64}, int64_t{4096}}) {
      const Packed4 r = quantize4(x, bs, type);
      std::vector<float> out(n);
      const Status st = bnb::dequantize_4bit(r.packed.data(), n, bs, type, r.absmax.data(), out.data(), Device::cpu);
      const float bound = half_gap_bound(bnb::code4(type), 16) * 1.00001f;
      FirstMismatch bad;
      for (int64_t i = 0; i < n; ++i) {
        const float a = r.absmax[i / bs];
        if (!(std::fabs(x[i] - out[i]) <= bound * a + 1e-30f))
          bad.add(format("element %lld", static_cast<long long>(i)));
      }
      check(r.status.ok() && st.ok() && bad.count == 0,
            format("%s bs %lld: round-trip error within half a code gap: ", type_name(type),
                   static_cast<long long>(bs)) + bad.describe());
    }
  const float* map = bnb::dynamic_map_signed();
  for (int64_t bs : {int64_t{1}, int64_t{64}, int64_t{4096}}) {
    std::vector<uint8_t> codes(n);
    std::vector<float> absmax(blocks(n, bs)), out(n);
    Status st = bnb::quantize_8bit(x.data(), n, bs, map, codes.data(), absmax.data(), Device::cpu);
    if (st.ok()) st = bnb::dequantize_8bit(codes.data(), n, bs, map, absmax.data(), out.data(), Device::cpu);
    const float bound = half_gap_bound(map, 256) * 1.00001f;
    FirstMismatch bad;
    for (int64_t i = 0; i < n; ++i)
      if (!(std::fabs(x[i] - out[i]) <= bound * absmax[i / bs] + 1e-30f))
        bad.add(format("element %lld", static_cast<long long>(i)));
    check(st.ok() && bad.count == 0,
          format("8-bit bs %lld: round-trip error within half a code gap: ", static_cast<long long>(bs)) +
              bad.describe());
  }
}

void nested_checks() {
  const float* map = bnb::dynamic_map_signed();
  const int64_t n = 1000;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(0.01f, 0.1f);
  std::vector<float> absmax(n);
  for (float& a : absmax) a = dist(rng);
  double sum = 0.0;
  for (float a : absmax) sum += a;

  std::vector<uint8_t> q(n);
  std::vector<float> absmax2(blocks(n, 256)), back(n);
  float offset = 0.0f;
  Status st = bnb::quantize_nested(absmax.data(), n, 256, map, false, &offset, q.data(), absmax2.data());
  check(st.ok() && offset == static_cast<float>(sum / n), "nested: offset is the mean, summed in f64");
  if (st.ok()) st = bnb::dequantize_nested(q.data(), n, 256, map, absmax2.data(), offset, back.data());
  const float bound = half_gap_bound(map, 256) * 1.00001f;
  FirstMismatch bad, formula;
  for (int64_t i = 0; i < n; ++i) {
    const float centered = absmax[i] - offset;
    const float scale = absmax2[i / 256];
    if (!(std::fabs((back[i] - offset) - centered) <= bound * scale + 1e-6f * std::fabs(offset)))
      bad.add(format("block %lld", static_cast<long long>(i)));
    const float product = map[q[i]] * scale;
    if (back[i] != product + offset) formula.add(format("block %lld", static_cast<long long>(i)));
  }
  check(st.ok() && bad.count == 0, "nested: scales round-trip within half a code gap: " + bad.describe());
  check(formula.count == 0, "nested: absmax' = code[q] · absmax2, then + offset: " + formula.describe());

  float given = 0.05f;
  std::vector<uint8_t> q2(n);
  std::vector<float> absmax2b(absmax2.size());
  st = bnb::quantize_nested(absmax.data(), n, 256, map, true, &given, q2.data(), absmax2b.data());
  std::vector<float> centered(n);
  for (int64_t i = 0; i < n; ++i) centered[i] = absmax[i] - 0.05f;
  std::vector<uint8_t> q3(n);
  std::vector<float> absmax2c(absmax2.size());
  const Status st3 = bnb::quantize_8bit(centered.data(), n, 256, map, q3.data(), absmax2c.data(), Device::cpu);
  check(st.ok() && st3.ok() && given == 0.05f && q2 == q3 && absmax2b == absmax2c,
        "nested with a given offset: the 8-bit quantization of absmax − offset");
  float bad_offset = kNaN;
  check(bnb::quantize_nested(absmax.data(), n, 256, map, true, &bad_offset, q2.data(), absmax2b.data()).code ==
            Code::invalid_argument,
        "nested: a NaN given offset is refused");
}

void non_finite_checks() {
  const float* map = bnb::dynamic_map_signed();
  const struct {
    float value;
    const char* name;
  } cases[] = {{kNaN, "NaN"}, {kInf, "Infinity"}, {-kInf, "-Infinity"}};
  for (const auto& c : cases) {
    std::vector<float> x = normal(300, 1.0f, 1);
    x[137] = c.value;
    const std::string message = format("src[137] is %s; quantization needs finite values", c.name);
    for (Quant4 type : {Quant4::nf4, Quant4::fp4}) {
      const Packed4 r = quantize4(x, 64, type);
      check(r.status.code == Code::non_finite && r.status.message == message,
            format("%s: %s refused (%s)", type_name(type), c.name, r.status.message.c_str()));
    }
    std::vector<uint8_t> codes(300);
    std::vector<float> absmax(blocks(300, 64));
    const Status st = bnb::quantize_8bit(x.data(), 300, 64, map, codes.data(), absmax.data(), Device::cpu);
    check(st.code == Code::non_finite && st.message == message, format("8-bit: %s refused", c.name));
    float offset = 0.0f;
    std::vector<float> absmax2(2);
    const Status nested = bnb::quantize_nested(x.data(), 300, 256, map, false, &offset, codes.data(), absmax2.data());
    check(nested.code == Code::non_finite && nested.message == message, format("nested: %s refused", c.name));
  }
}

void argument_checks() {
  const float* map = bnb::dynamic_map_signed();
  std::vector<float> x = normal(64, 1.0f, 2), absmax(64), out(64);
  std::vector<uint8_t> bytes(64);
  float code[256];
  std::memcpy(code, map, sizeof code);
  std::swap(code[10], code[11]);
  Status st = bnb::quantize_8bit(x.data(), 64, 64, code, bytes.data(), absmax.data(), Device::cpu);
  check(st.code == Code::invalid_argument && st.message == "code must be 256 ascending finite values",
        "8-bit: a non-ascending code map is refused");
  std::memcpy(code, map, sizeof code);
  code[255] = kInf;
  st = bnb::quantize_8bit(x.data(), 64, 64, code, bytes.data(), absmax.data(), Device::cpu);
  check(st.code == Code::invalid_argument, "8-bit: a non-finite code map is refused");
  code[255] = code[254];
  st = bnb::quantize_8bit(x.data(), 64, 64, code, bytes.data(), absmax.data(), Device::cpu);
  check(st.code == Code::invalid_argument, "8-bit: a code map with a repeated value is refused");

  check(bnb::quantize_4bit(x.data(), 64, 3, Quant4::nf4, bytes.data(), absmax.data(), Device::cpu).code ==
            Code::invalid_argument,
        "4-bit: an odd blocksize is refused");
  check(bnb::dequantize_4bit(bytes.data(), 64, 0, Quant4::nf4, absmax.data(), out.data(), Device::cpu).code ==
            Code::invalid_argument,
        "4-bit: blocksize 0 is refused");
  check(bnb::quantize_4bit(x.data(), 64, 64, static_cast<Quant4>(2), bytes.data(), absmax.data(), Device::cpu).code ==
            Code::invalid_argument,
        "4-bit: an unknown type is refused");
  check(bnb::quantize_8bit(x.data(), -1, 64, map, bytes.data(), absmax.data(), Device::cpu).code == Code::shape,
        "8-bit: a negative n is refused");
  check(bnb::dequantize_8bit(bytes.data(), 64, 0, map, absmax.data(), out.data(), Device::cpu).code ==
            Code::invalid_argument,
        "8-bit: blocksize 0 is refused");
  if (!cuda_info().available)
    check(bnb::quantize_4bit(x.data(), 64, 64, Quant4::nf4, bytes.data(), absmax.data(), Device::cuda).code ==
                  Code::cuda_unavailable &&
              bnb::quantize_8bit(x.data(), 64, 64, map, bytes.data(), absmax.data(), Device::cuda).code ==
                  Code::cuda_unavailable,
          "bnb on CUDA reports that it is unavailable");
  check(bnb::quantize_4bit(nullptr, 0, 64, Quant4::fp4, nullptr, nullptr, Device::cpu).ok() &&
            bnb::quantize_8bit(nullptr, 0, 64, map, nullptr, nullptr, Device::cpu).ok(),
        "n = 0 is a valid empty tensor");
}

// Codebook index packing against bytes built bit by bit from bnb.h's description, round trips for every width
// on random indices (sizes that cut runs of 8 and split over tasks), the remap, and the errors.
std::vector<uint8_t> reference_code_bytes(const std::vector<uint8_t>& v, int bits) {
  std::vector<uint8_t> bytes((v.size() * bits + 7) / 8, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    if (bits == 4) {
      bytes[i / 2] |= static_cast<uint8_t>(v[i] << (i % 2 == 0 ? 4 : 0));
      continue;
    }
    for (int b = 0; b < bits; ++b) {
      const size_t k = i * bits + b;
      bytes[k / 8] |= static_cast<uint8_t>(((v[i] >> b) & 1) << (k % 8));
    }
  }
  return bytes;
}

void code_packing_checks() {
  std::mt19937 rng(7);
  for (int bits = 3; bits <= 8; ++bits)
    for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{17}, int64_t{1000},
                      int64_t{100003}}) {
      const std::string what = format("codes %d bits n %lld", bits, static_cast<long long>(n));
      std::vector<uint8_t> indices(n);
      for (uint8_t& v : indices) v = static_cast<uint8_t>(rng() & ((1u << bits) - 1));
      const std::vector<uint8_t> expected = reference_code_bytes(indices, bits);
      const int64_t bytes = bnb::packed_code_bytes(n, bits);
      std::vector<uint8_t> packed(bytes + kGuard, kCanary);
      Status st = bnb::pack_codes(indices.data(), n, bits, nullptr, packed.data());
      check(st.ok() && static_cast<int64_t>(expected.size()) == bytes &&
                std::equal(expected.begin(), expected.end(), packed.begin()) && guard_intact(packed, bytes),
            what + ": packed bytes " + st.message);
      std::vector<uint8_t> back(n + kGuard, kCanary);
      st = bnb::unpack_codes(packed.data(), n, bits, 1 << bits, back.data());
      check(st.ok() && std::equal(indices.begin(), indices.end(), back.begin()) && guard_intact(back, n),
            what + ": round trip " + st.message);

      // A remap equals packing the mapped indices.
      uint8_t remap[256];
      for (int j = 0; j < 256; ++j) remap[j] = static_cast<uint8_t>((j * 5 + 3) & ((1 << bits) - 1));
      std::vector<uint8_t> mapped(n);
      for (int64_t i = 0; i < n; ++i) mapped[i] = remap[indices[i]];
      std::vector<uint8_t> remapped(bytes);
      st = bnb::pack_codes(indices.data(), n, bits, remap, remapped.data());
      check(st.ok() && remapped == reference_code_bytes(mapped, bits), what + ": remap " + st.message);
    }

  std::vector<uint8_t> indices(64, 1), packed(64);
  indices[37] = 8;
  Status st = bnb::pack_codes(indices.data(), 64, 3, nullptr, packed.data());
  check(st.code == Code::invalid_argument && st.message.find("element 37 has index 8") != std::string::npos,
        "pack_codes names an index past the width: " + st.message);
  check(bnb::pack_codes(indices.data(), 64, 4, nullptr, packed.data()).ok(), "index 8 fits in 4 bits");
  std::vector<uint8_t> back(64);
  st = bnb::unpack_codes(packed.data(), 64, 4, 5, back.data());
  check(st.code == Code::invalid_argument && st.message.find("below 5") != std::string::npos &&
            st.message.find("element 37 holds 8") != std::string::npos,
        "unpack_codes names the first index past the code's length: " + st.message);
  check(bnb::pack_codes(indices.data(), 64, 2, nullptr, packed.data()).code == Code::invalid_argument &&
            bnb::unpack_codes(packed.data(), 64, 9, 256, back.data()).code == Code::invalid_argument,
        "code packing refuses bits outside 3 to 8");
}

// The driver against a serial block-by-block pass of kernels_ref, on sizes that cut blocks across tasks.
void split_checks() {
  const bnb::Kernels& k = bnb::kernels_ref;
  const float* map = bnb::dynamic_map_signed();
  float midpoints[255];
  for (int j = 0; j < 255; ++j) midpoints[j] = (map[j] + map[j + 1]) * 0.5f;
  const int64_t n = 200003;
  std::vector<float> x = normal(n, 0.05f, 11);
  for (int64_t i = 640; i < 704; ++i) x[i] = 0.0f;  // an all-zero 64-block
  for (int64_t bs : {int64_t{2}, int64_t{64}, int64_t{4096}}) {
    const int64_t nb = blocks(n, bs);
    for (Quant4 type : {Quant4::nf4, Quant4::fp4}) {
      const Packed4 r = quantize4(x, bs, type);
      std::vector<uint8_t> packed((n + 1) / 2);
      std::vector<float> absmax(nb);
      for (int64_t b = 0; b < nb; ++b) {
        uint32_t flag = 0;
        const int64_t len = std::min(bs, n - b * bs);
        absmax[b] = k.absmax_run(&x[b * bs], len, &flag);
        k.encode4_run(&x[b * bs], len, 1.0f / absmax[b], type, &packed[b * bs / 2]);
      }
      check(r.status.ok() && std::equal(packed.begin(), packed.end(), r.packed.begin()) && r.absmax == absmax &&
                guard_intact(r.packed, packed.size()),
            format("%s bs %lld: threaded bytes equal the serial pass", type_name(type), static_cast<long long>(bs)));
    }
    std::vector<uint8_t> codes(n + kGuard, kCanary), serial(n);
    std::vector<float> absmax(nb), serial_absmax(nb);
    const Status st = bnb::quantize_8bit(x.data(), n, bs, map, codes.data(), absmax.data(), Device::cpu);
    for (int64_t b = 0; b < nb; ++b) {
      uint32_t flag = 0;
      const int64_t len = std::min(bs, n - b * bs);
      serial_absmax[b] = k.absmax_run(&x[b * bs], len, &flag);
      k.encode8_run(&x[b * bs], len, 1.0f / serial_absmax[b], midpoints, &serial[b * bs]);
    }
    check(st.ok() && std::equal(serial.begin(), serial.end(), codes.begin()) && absmax == serial_absmax &&
              guard_intact(codes, n),
          format("8-bit bs %lld: threaded codes equal the serial pass", static_cast<long long>(bs)));
  }
}

// ---- Device::cuda against the CPU reference ----

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

const char* status_text(const Status& st) { return st.ok() ? "ok" : st.message.c_str(); }

// Normal weights with exact zeros, subnormals, outliers and an all-zero leading block of 64.
std::vector<float> cuda_input(int64_t n, uint32_t seed) {
  std::vector<float> x = normal(n, 0.05f, seed);
  std::mt19937 rng(seed + 1);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t r = rng() % 32;
    if (r == 0) x[i] = 0.0f;
    if (r == 1) x[i] *= 1e-37f;  // subnormal: bnb's fast-math build would flush it, we must not
    if (r == 2) x[i] *= 1000.0f;
  }
  if (n >= 128)
    for (int64_t i = 0; i < 64; ++i) x[i] = 0.0f;
  return x;
}

// Values on and one ulp either side of every NF4 / FP4 threshold and 8-bit midpoint, in blocks of
// `blocksize` that each start with 1.0 (absmax 1, so s = x exactly).
std::vector<float> probe_input(int64_t blocksize) {
  std::vector<float> probes;
  auto add = [&](float v) {
    for (float p : {v, up(v), down(v)}) {
      probes.push_back(p);
      probes.push_back(-p);
    }
  };
  for (int k = 0; k < 15; ++k) add(bnb::nf4_thresholds()[k]);
  for (int j = 0; j < 7; ++j) add(bnb::fp4_abs_thresholds()[j]);
  const float* map = bnb::dynamic_map_signed();
  for (int j = 0; j < 255; ++j) add((map[j] + map[j + 1]) * 0.5f);
  add(1e-30f);
  std::vector<float> x;
  for (size_t p = 0; p < probes.size();) {
    x.push_back(1.0f);
    for (int64_t i = 1; i < blocksize && p < probes.size(); ++i) x.push_back(std::max(-1.0f, probes[p++]));
  }
  return x;
}

void cuda_compare4(const std::vector<float>& x, int64_t bs, Quant4 type, const std::string& what) {
  const int64_t n = static_cast<int64_t>(x.size());
  const Packed4 cpu = quantize4(x, bs, type, Device::cpu);
  const Packed4 gpu = quantize4(x, bs, type, Device::cuda);
  check(cpu.status.ok() && gpu.status.ok() && gpu.packed == cpu.packed && same_bits(gpu.absmax, cpu.absmax),
        format("%s %s bs %lld: cuda quantize_4bit equals cpu (%s)", what.c_str(), type_name(type),
               static_cast<long long>(bs), status_text(gpu.status)));
  std::vector<float> out_cpu(n + kGuard, kNaN), out_gpu(n + kGuard, kNaN);
  const Status sc =
      bnb::dequantize_4bit(cpu.packed.data(), n, bs, type, cpu.absmax.data(), out_cpu.data(), Device::cpu);
  const Status sg =
      bnb::dequantize_4bit(cpu.packed.data(), n, bs, type, cpu.absmax.data(), out_gpu.data(), Device::cuda);
  check(sc.ok() && sg.ok() && same_bits(out_gpu, out_cpu),
        format("%s %s bs %lld: cuda dequantize_4bit equals cpu (%s)", what.c_str(), type_name(type),
               static_cast<long long>(bs), status_text(sg)));
}

void cuda_compare8(const std::vector<float>& x, int64_t bs, const std::string& what) {
  const float* map = bnb::dynamic_map_signed();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> codes_cpu(n + kGuard, kCanary), codes_gpu(n + kGuard, kCanary);
  std::vector<float> absmax_cpu(blocks(n, bs), -1.0f), absmax_gpu(blocks(n, bs), -1.0f);
  const Status qc = bnb::quantize_8bit(x.data(), n, bs, map, codes_cpu.data(), absmax_cpu.data(), Device::cpu);
  const Status qg = bnb::quantize_8bit(x.data(), n, bs, map, codes_gpu.data(), absmax_gpu.data(), Device::cuda);
  check(qc.ok() && qg.ok() && codes_gpu == codes_cpu && same_bits(absmax_gpu, absmax_cpu),
        format("%s bs %lld: cuda quantize_8bit equals cpu (%s)", what.c_str(), static_cast<long long>(bs),
               status_text(qg)));
  std::vector<float> out_cpu(n + kGuard, kNaN), out_gpu(n + kGuard, kNaN);
  const Status dc = bnb::dequantize_8bit(codes_cpu.data(), n, bs, map, absmax_cpu.data(), out_cpu.data(), Device::cpu);
  const Status dg =
      bnb::dequantize_8bit(codes_cpu.data(), n, bs, map, absmax_cpu.data(), out_gpu.data(), Device::cuda);
  check(dc.ok() && dg.ok() && same_bits(out_gpu, out_cpu),
        format("%s bs %lld: cuda dequantize_8bit equals cpu (%s)", what.c_str(), static_cast<long long>(bs),
               status_text(dg)));
}

void cuda_non_finite_checks() {
  const float* map = bnb::dynamic_map_signed();
  for (int64_t where : {int64_t{137}, int64_t{299999}}) {
    std::vector<float> x = normal(300000, 1.0f, 5);
    x[where] = where % 2 ? -kInf : kNaN;
    const std::string message = format("src[%lld] is %s; quantization needs finite values",
                                       static_cast<long long>(where), where % 2 ? "-Infinity" : "NaN");
    for (Quant4 type : {Quant4::nf4, Quant4::fp4}) {
      const Packed4 r = quantize4(x, 64, type, Device::cuda);
      check(r.status.code == Code::non_finite && r.status.message == message,
            format("cuda %s: %s", type_name(type), status_text(r.status)));
    }
    std::vector<uint8_t> codes(x.size());
    std::vector<float> absmax(blocks(300000, 4096));
    const Status st = bnb::quantize_8bit(x.data(), 300000, 4096, map, codes.data(), absmax.data(), Device::cuda);
    check(st.code == Code::non_finite && st.message == message, format("cuda 8-bit: %s", status_text(st)));
  }
  check(bnb::quantize_4bit(nullptr, 0, 64, Quant4::nf4, nullptr, nullptr, Device::cuda).ok() &&
            bnb::quantize_8bit(nullptr, 0, 64, map, nullptr, nullptr, Device::cuda).ok() &&
            bnb::dequantize_4bit(nullptr, 0, 64, Quant4::nf4, nullptr, nullptr, Device::cuda).ok() &&
            bnb::dequantize_8bit(nullptr, 0, 64, map, nullptr, nullptr, Device::cuda).ok(),
        "cuda: n = 0 is a valid empty tensor");
}

// The active level's kernel table against kernels_ref, byte for byte, with canaries past every output.
// Inputs: random normals, all-zero runs (inv = +inf, s = NaN), values exactly on and one ulp around every
// NF4/FP4 threshold and 8-bit midpoint (with inv = 1 so s = x), subnormals (whose 1 / absmax overflows to
// +inf), ±0, tiny negatives, huge values, and NaN/±Inf for the absmax scan.
const int64_t kParitySizes[] = {0,  1,  2,  3,  5,   7,   8,   9,    15,  16, 17, 31,
                                32, 33, 47, 63, 64, 65, 127, 255, 256, 1023, 4097};

enum class ParityFill { normal, zeros, thresholds, midpoints, subnormal, mixed };
const ParityFill kParityFills[] = {ParityFill::normal,    ParityFill::zeros,     ParityFill::thresholds,
                                   ParityFill::midpoints, ParityFill::subnormal, ParityFill::mixed};

const char* parity_fill_name(ParityFill f) {
  switch (f) {
    case ParityFill::normal: return "normal";
    case ParityFill::zeros: return "zeros";
    case ParityFill::thresholds: return "thresholds";
    case ParityFill::midpoints: return "midpoints";
    case ParityFill::subnormal: return "subnormal";
    case ParityFill::mixed: return "mixed";
  }
  return "?";
}

std::vector<float> parity_input(int64_t n, ParityFill fill, std::mt19937& rng) {
  const float* nf4 = bnb::nf4_thresholds();
  const float* fp4 = bnb::fp4_abs_thresholds();
  const float* map = bnb::dynamic_map_signed();
  std::normal_distribution<float> dist(0.0f, 0.3f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) {
    const uint32_t r = rng();
    const int nudge = static_cast<int>(r % 3);  // on, one ulp above, one ulp below
    float t = 0.0f;
    switch (fill) {
      case ParityFill::normal: t = dist(rng); break;
      case ParityFill::zeros: t = r % 8 == 0 ? -0.0f : 0.0f; break;
      case ParityFill::thresholds:
        t = (r >> 2) % 2 ? nf4[(r >> 3) % 15] : ((r >> 7) % 2 ? -fp4[(r >> 3) % 7] : fp4[(r >> 3) % 7]);
        break;
      case ParityFill::midpoints: {
        const int j = static_cast<int>((r >> 2) % 255);
        t = (map[j] + map[j + 1]) * 0.5f;
        break;
      }
      case ParityFill::subnormal: {
        uint32_t bits = (r >> 2) & 0x7fffff;
        bits |= (r >> 31) << 31;
        std::memcpy(&t, &bits, sizeof t);
        break;
      }
      case ParityFill::mixed: {
        static const float values[] = {0.0f, -0.0f, 1.0f, -1.0f, -1e-30f, 1e-30f, 1e-45f, -1e-45f,
                                       3e38f, -3e38f, 0.5f, -0.5f, 1e-38f, -2.5e-3f, 2.6041700e-3f, 0.0859375f};
        t = r % 2 ? values[(r >> 1) % 16] : dist(rng);
        break;
      }
    }
    v = nudge == 1 && fill != ParityFill::zeros ? up(t) : nudge == 2 && fill != ParityFill::zeros ? down(t) : t;
  }
  return x;
}

template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

void kernel_parity_checks() {
  const bnb::Kernels& ref = bnb::kernels_ref;
  const bnb::Kernels& k = kernels_for_level(bnb::kernels_ref, bnb::kernels_avx2, bnb::kernels_avx512);
  const char* level = simd_level_name(simd_level());
  const float* map = bnb::dynamic_map_signed();
  float midpoints[255];
  for (int j = 0; j < 255; ++j) midpoints[j] = (map[j] + map[j + 1]) * 0.5f;
  std::mt19937 rng(1234);
  FirstMismatch absmax_bad, enc4_bad, enc8_bad, dec4_bad, dec8_bad;
  for (ParityFill fill : kParityFills)
    for (int64_t n : kParitySizes) {
      const std::vector<float> x = parity_input(n, fill, rng);
      const std::string where = format("%s n %lld", parity_fill_name(fill), static_cast<long long>(n));
      uint32_t flag_ref = 0, flag = 0;
      const float a_ref = ref.absmax_run(x.data(), n, &flag_ref);
      const float a = k.absmax_run(x.data(), n, &flag);
      if (std::memcmp(&a_ref, &a, sizeof a) != 0 || flag != flag_ref)
        absmax_bad.add(format("%s: %a vs ref %a", where.c_str(), a, a_ref));
      // The block's own scale, 1 (s = x, so thresholds and midpoints are hit exactly), +inf (an all-zero
      // block) and a huge one (products overflow to ±inf).
      const float invs[] = {1.0f / a_ref, 1.0f, kInf, 1e30f};
      for (float inv : invs) {
        for (Quant4 type : {Quant4::nf4, Quant4::fp4}) {
          std::vector<uint8_t> p_ref((n + 1) / 2 + kGuard, kCanary), p(p_ref.size(), kCanary);
          ref.encode4_run(x.data(), n, inv, type, p_ref.data());
          k.encode4_run(x.data(), n, inv, type, p.data());
          if (!same_bytes(p, p_ref)) enc4_bad.add(format("%s %s inv %a", type_name(type), where.c_str(), inv));
        }
        std::vector<uint8_t> c_ref(n + kGuard, kCanary), c(c_ref.size(), kCanary);
        ref.encode8_run(x.data(), n, inv, midpoints, c_ref.data());
        k.encode8_run(x.data(), n, inv, midpoints, c.data());
        if (!same_bytes(c, c_ref)) enc8_bad.add(format("%s inv %a", where.c_str(), inv));
      }
    }
  // Non-finite values anywhere in a run: the flag and the max of the finite rest agree.
  for (int64_t n : kParitySizes) {
    if (n == 0) continue;
    for (float bad : {kNaN, kInf, -kInf, -kNaN}) {
      std::vector<float> x = normal(n, 1.0f, static_cast<uint32_t>(n));
      x[static_cast<size_t>(rng() % n)] = bad;
      uint32_t flag_ref = 0, flag = 0;
      const float a_ref = ref.absmax_run(x.data(), n, &flag_ref);
      const float a = k.absmax_run(x.data(), n, &flag);
      if (std::memcmp(&a_ref, &a, sizeof a) != 0 || flag != flag_ref || flag != 1)
        absmax_bad.add(format("n %lld with %a: %a vs ref %a", static_cast<long long>(n), bad, a, a_ref));
    }
  }
  // Decoders: every byte value, odd n, absmax ordinary, zero, subnormal and huge.
  std::uniform_int_distribution<int> byte(0, 255);
  for (int64_t n : kParitySizes) {
    std::vector<uint8_t> bytes(n + kGuard);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(byte(rng));
    for (float absmax : {0.731f, 0.0f, 1e-40f, 3e38f}) {
      for (Quant4 type : {Quant4::nf4, Quant4::fp4}) {
        std::vector<float> o_ref(n + kGuard, kNaN), o(o_ref.size(), kNaN);
        ref.decode4_run(bytes.data(), n, bnb::code4(type), absmax, o_ref.data());
        k.decode4_run(bytes.data(), n, bnb::code4(type), absmax, o.data());
        if (!same_bytes(o, o_ref))
          dec4_bad.add(format("%s n %lld absmax %a", type_name(type), static_cast<long long>(n), absmax));
      }
      std::vector<float> o_ref(n + kGuard, kNaN), o(o_ref.size(), kNaN);
      ref.decode8_run(bytes.data(), n, map, absmax, o_ref.data());
      k.decode8_run(bytes.data(), n, map, absmax, o.data());
      if (!same_bytes(o, o_ref)) dec8_bad.add(format("n %lld absmax %a", static_cast<long long>(n), absmax));
    }
  }
  check(absmax_bad.count == 0, format("bnb kernels/%s: absmax_run equals ref: ", level) + absmax_bad.describe());
  check(enc4_bad.count == 0, format("bnb kernels/%s: encode4_run equals ref: ", level) + enc4_bad.describe());
  check(enc8_bad.count == 0, format("bnb kernels/%s: encode8_run equals ref: ", level) + enc8_bad.describe());
  check(dec4_bad.count == 0, format("bnb kernels/%s: decode4_run equals ref: ", level) + dec4_bad.describe());
  check(dec8_bad.count == 0, format("bnb kernels/%s: decode8_run equals ref: ", level) + dec8_bad.describe());
}

}  // namespace

void bnb_driver_suite() {
  kernel_parity_checks();
  codebook_checks();
  packing_checks();
  threshold_checks();
  midpoint_checks();
  round_trip_checks();
  nested_checks();
  non_finite_checks();
  argument_checks();
  split_checks();
  code_packing_checks();
}

void bnb_cuda_suite() {
  for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{65}, int64_t{4097}, int64_t{200003}, int64_t{1 << 20}})
    for (int64_t bs : {int64_t{2}, int64_t{6}, int64_t{32}, int64_t{64}, int64_t{4096}, int64_t{1 << 16}}) {
      const std::vector<float> x = cuda_input(n, static_cast<uint32_t>(n + bs));
      const std::string what = format("n %lld", static_cast<long long>(n));
      for (Quant4 type : {Quant4::nf4, Quant4::fp4}) cuda_compare4(x, bs, type, what);
      cuda_compare8(x, bs == 2 ? 1 : bs == 6 ? 3 : bs, what);
    }
  for (Quant4 type : {Quant4::nf4, Quant4::fp4}) {
    cuda_compare4(probe_input(64), 64, type, "probes");
    cuda_compare4(probe_input(4096), 4096, type, "probes");
  }
  cuda_compare8(probe_input(256), 256, "probes");
  cuda_compare8(probe_input(4096), 4096, "probes");
  cuda_non_finite_checks();
}

}  // namespace kq::test
