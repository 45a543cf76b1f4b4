// ggml legacy types: properties checked by hand, without the golden vectors (tests do not read fixtures):
// block sizes and type ids, hand-worked blocks (Q4_0 add-then-truncate rounding and clamp, Q8_0 roundf ties,
// Q5 fifth bits), all-zero and −0 blocks (README 5.4), fp16 scale overflow (5.5), round-trip error bounds,
// non-finite input, bad arguments, and that the driver's split over threads gives the serial bytes.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../core/half.h"
#include "../ops/ggml/blocks.h"
#include "../ops/ggml/ggml.h"
#include "check.h"

namespace kq::test {
namespace {

using ggml::Type;

constexpr Type kTypes[] = {Type::q4_0, Type::q4_1, Type::q5_0, Type::q5_1, Type::q8_0, Type::q8_1};

int32_t id(Type t) { return static_cast<int32_t>(t); }
const ggml::TypeInfo& info(Type t) { return *ggml::type_info(id(t)); }

std::vector<uint8_t> quantize(Type t, const std::vector<float>& x, Status* st = nullptr) {
  std::vector<uint8_t> q(x.size() / info(t).block_size * info(t).type_size, 0xa5);
  const Status s = ggml::quantize(id(t), x.data(), static_cast<int64_t>(x.size()), q.data());
  if (st) *st = s;
  return q;
}

std::vector<float> dequantize(Type t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(n, -1.0f);
  ggml::dequantize(id(t), q.data(), n, y.data());
  return y;
}

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

void type_table() {
  const struct {
    Type t;
    int32_t id;
    int64_t bytes;
    const char* name;
  } expected[] = {{Type::q4_0, 2, 18, "q4_0"}, {Type::q4_1, 3, 20, "q4_1"}, {Type::q5_0, 6, 22, "q5_0"},
                  {Type::q5_1, 7, 24, "q5_1"}, {Type::q8_0, 8, 34, "q8_0"}, {Type::q8_1, 9, 36, "q8_1"}};
  for (const auto& e : expected) {
    const ggml::TypeInfo* t = ggml::type_info(e.id);
    if (!check(t != nullptr, format("ggml type_info(%d) known", e.id))) continue;
    check(t->type == e.t && t->block_size == 32 && t->type_size == e.bytes && std::string(t->name) == e.name,
          format("ggml %s: 32 elements, %lld bytes", e.name, static_cast<long long>(e.bytes)));
  }
  for (int32_t unknown : {0, 1, 4, 5, -1, 1000})
    check(ggml::type_info(unknown) == nullptr, format("ggml type_info(%d) not implemented", unknown));
}

void hand_worked() {
  // Q4_0, x_j = j − 16: the first largest |x| is −16 at j = 0, d = −16 / −8 = 2, id = 0.5,
  // q_j = min(15, trunc(0.5 (j − 16) + 8.5)) = min(15, trunc(j / 2 + 0.5)).
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  std::vector<uint8_t> q = quantize(Type::q4_0, x);
  check(u16(q.data()) == 0x4000, format("q4_0 ramp d = fp16(2) (got 0x%04x)", u16(q.data())));
  bool nibbles_ok = true;
  for (int j = 0; j < 16; ++j) {
    const int lo = std::min(15, static_cast<int>(j * 0.5 + 0.5));
    const int hi = std::min(15, static_cast<int>((j + 16) * 0.5 + 0.5));
    nibbles_ok &= q[2 + j] == (lo | hi << 4);
  }
  check(nibbles_ok && q[2] == 0x80 && q[3] == 0x91 && q[17] == 0xf8,
        "q4_0 ramp nibbles: ties round up (0.5 -> 1 is 1.0 -> 1), +16 clamps to 15");
  std::vector<float> y = dequantize(Type::q4_0, q, 32);
  check(y[0] == -16.0f && y[1] == -14.0f && y[31] == 14.0f, "q4_0 ramp dequantizes to 2 (q - 8)");

  // Q8_0 with amax 127: d = 1, roundf rounds ties away from zero.
  std::vector<float> z(32, 0.0f);
  z[0] = 127.0f;
  z[1] = 2.5f;
  z[2] = -2.5f;
  z[3] = 0.49999997f;
  z[4] = -126.5f;
  q = quantize(Type::q8_0, z);
  const int8_t* qs = reinterpret_cast<const int8_t*>(q.data() + 2);
  check(u16(q.data()) == 0x3c00 && qs[0] == 127 && qs[1] == 3 && qs[2] == -3 && qs[3] == 0 && qs[4] == -127,
        "q8_0 d = 1, roundf ties away from zero");
  // Q8_1 adds s = fp16(d · Σq).
  q = quantize(Type::q8_1, z);
  check(u16(q.data()) == 0x3c00 && u16(q.data() + 2) == f32_to_f16_bits(127.0f + 3 - 3 + 0 - 127),
        "q8_1 s = fp16(d * sum q)");

  // Q5_0, x_j = j − 16: d = 1, q_j = min(31, trunc(j − 16 + 16.5)) = j, so the fifth bits are j >= 16.
  q = quantize(Type::q5_0, x);
  uint32_t qh;
  std::memcpy(&qh, q.data() + 2, 4);
  check(u16(q.data()) == 0x3c00 && qh == 0xffff0000u && q[6] == 0x00 && q[7] == 0x11 && q[21] == 0xff,
        format("q5_0 ramp: d = 1, q = j, fifth bits 0xffff0000 (got 0x%08x)", qh));
  // Q5_1 of 0..31: d = 31 / 31 = 1, m = 0, q_j = j.
  std::vector<float> r(32);
  for (int j = 0; j < 32; ++j) r[j] = static_cast<float>(j);
  q = quantize(Type::q5_1, r);
  std::memcpy(&qh, q.data() + 4, 4);
  check(u16(q.data()) == 0x3c00 && u16(q.data() + 2) == 0 && qh == 0xffff0000u && q[8] == 0x00 && q[23] == 0xff,
        "q5_1 of 0..31: d = 1, m = 0, q = j");
  y = dequantize(Type::q5_1, q, 32);
  check(y == r, "q5_1 of 0..31 round-trips exactly");
  // Q4_1 of 0..15 (twice): d = 1, m = 0.
  for (int j = 0; j < 32; ++j) r[j] = static_cast<float>(j % 16);
  q = quantize(Type::q4_1, r);
  check(u16(q.data()) == 0x3c00 && u16(q.data() + 2) == 0 && q[4] == 0x00 && q[5] == 0x11 && q[19] == 0xff,
        "q4_1 of 0..15: d = 1, m = 0, q = j");
}

void zero_blocks() {
  for (float zero : {0.0f, -0.0f}) {
    const std::vector<float> x(64, zero);
    const char* sign = std::signbit(zero) ? "-0" : "+0";
    std::vector<uint8_t> q = quantize(Type::q4_0, x);
    bool ok = true;
    for (int b = 0; b < 2; ++b) {
      ok &= u16(&q[b * 18]) == 0x8000;  // 0 / −8 = −0
      for (int j = 2; j < 18; ++j) ok &= q[b * 18 + j] == 0x88;
    }
    check(ok, format("q4_0 %s blocks: d = -0 (0x8000), quants 8", sign));
    q = quantize(Type::q5_0, x);
    ok = true;
    for (int b = 0; b < 2; ++b) {
      ok &= u16(&q[b * 22]) == 0x8000;
      for (int j = 2; j < 6; ++j) ok &= q[b * 22 + j] == 0xff;
      for (int j = 6; j < 22; ++j) ok &= q[b * 22 + j] == 0x00;
    }
    check(ok, format("q5_0 %s blocks: d = -0, quants 16 (fifth bits set)", sign));
    for (Type t : {Type::q4_1, Type::q5_1}) {
      q = quantize(t, x);
      const int64_t ts = info(t).type_size;
      ok = true;
      for (int b = 0; b < 2; ++b) {
        ok &= u16(&q[b * ts]) == 0 && u16(&q[b * ts + 2]) == (std::signbit(zero) ? 0x8000 : 0);
        for (int64_t j = 4; j < ts; ++j) ok &= q[b * ts + j] == 0;
      }
      check(ok, format("%s %s blocks: d = 0, m = the block's zero, quants 0", info(t).name, sign));
    }
    q = quantize(Type::q8_0, x);
    ok = true;
    for (uint8_t byte : q) ok &= byte == 0;
    check(ok, format("q8_0 %s blocks: all bytes 0", sign));
    for (Type t : kTypes) {
      const std::vector<float> y = dequantize(t, quantize(t, x), 64);
      bool zeros = true;
      for (float v : y) zeros &= v == 0.0f;
      check(zeros, format("%s %s blocks dequantize to zeros", info(t).name, sign));
    }
  }
}

void scale_overflow() {
  // max |x| = 1e6: Q4_0 d = −125000 overflows fp16 to −inf; quants use the float d, so the element at the
  // max gets q = 0 (−inf · −8 = +inf) and a zero element q = 8 (−inf · 0 = NaN).
  std::vector<float> x(32, 0.0f);
  x[3] = 1e6f;
  x[4] = -5e5f;
  std::vector<uint8_t> q = quantize(Type::q4_0, x);
  check(u16(q.data()) == 0xfc00, "q4_0 d = -125000 stores -inf");
  std::vector<float> y = dequantize(Type::q4_0, q, 32);
  check(std::isinf(y[3]) && y[3] > 0 && std::isinf(y[4]) && y[4] < 0 && std::isnan(y[0]),
        "q4_0 overflowed scale dequantizes to +-inf and NaN where q = 8");
  x[3] = 1e7f;
  x[4] = 0.0f;
  q = quantize(Type::q8_0, x);
  y = dequantize(Type::q8_0, q, 32);
  check(u16(q.data()) == 0x7c00 && std::isinf(y[3]) && std::isnan(y[0]),
        "q8_0 d = 1e7 / 127 stores +inf; dequantized inf and NaN (inf * 0)");
}

void round_trip() {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float spread : {1.0f, 1e-3f, 300.0f}) {
    const int64_t n = 32 * 333;
    std::vector<float> x(n);
    for (float& v : x) v = normal(rng) * spread;
    for (Type t : kTypes) {
      const std::vector<float> y = dequantize(t, quantize(t, x), n);
      FirstMismatch bad;
      for (int64_t b = 0; b < n / 32; ++b) {
        float lo = x[b * 32], hi = x[b * 32], amax = 0.0f;
        for (int j = 0; j < 32; ++j) {
          lo = std::min(lo, x[b * 32 + j]);
          hi = std::max(hi, x[b * 32 + j]);
          amax = std::max(amax, std::fabs(x[b * 32 + j]));
        }
        // One step (the far end of a symmetric type clamps to 7 or 15 steps), half a step elsewhere, plus the
        // fp16 rounding of the stored scale and min (relative 2^-11, times the largest level; absolute 2^-25
        // per level once the scale is an fp16 subnormal).
        float bound;
        switch (t) {
          case Type::q4_0: bound = amax / 8.0f + amax * 0x1p-10f; break;
          case Type::q5_0: bound = amax / 16.0f + amax * 0x1p-10f; break;
          case Type::q4_1: bound = 0.5f * (hi - lo) / 15.0f + (hi - lo + std::fabs(lo)) * 0x1p-10f; break;
          case Type::q5_1: bound = 0.5f * (hi - lo) / 31.0f + (hi - lo + std::fabs(lo)) * 0x1p-10f; break;
          default: bound = 0.5f * amax / 127.0f + amax * 0x1p-10f; break;
        }
        bound += 128.0f * 0x1p-25f;
        for (int j = 0; j < 32; ++j) {
          const int64_t i = b * 32 + j;
          if (!(std::fabs(y[i] - x[i]) <= bound))
            bad.add(format("x[%lld] = %g -> %g, bound %g", static_cast<long long>(i), x[i], y[i], bound));
        }
      }
      check(bad.count == 0, format("%s round trip (spread %g): %s", info(t).name, spread, bad.describe().c_str()));
    }
  }
}

void errors_and_split() {
  std::vector<float> x(32 * 1000);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  for (Type t : kTypes) {
    // The threaded driver against one serial call of the reference over all rows.
    std::vector<uint8_t> serial(x.size() / 32 * info(t).type_size);
    ggml::quantize_row_ref(t, x.data(), serial.data(), static_cast<int64_t>(x.size()));
    check(quantize(t, x) == serial, format("%s driver split = serial reference bytes", info(t).name));
    std::vector<float> y_serial(x.size());
    ggml::dequantize_row(t, serial.data(), y_serial.data(), static_cast<int64_t>(x.size()));
    check(dequantize(t, serial, static_cast<int64_t>(x.size())) == y_serial,
          format("%s dequantize split = serial", info(t).name));

    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
      std::vector<float> z = x;
      z[12345] = bad;
      Status st;
      quantize(t, z, &st);
      check(st.code == Code::non_finite && st.message.find("12345") != std::string::npos,
            format("%s rejects %g with KQ_NON_FINITE naming the index (%s)", info(t).name, bad, st.message.c_str()));
    }
    std::vector<uint8_t> q(64);
    check(ggml::quantize(id(t), x.data(), 33, q.data()).code == Code::shape,
          format("%s n = 33 is KQ_SHAPE", info(t).name));
    std::vector<float> out(64);
    check(ggml::dequantize(id(t), q.data(), 31, out.data()).code == Code::shape,
          format("%s dequantize n = 31 is KQ_SHAPE", info(t).name));
    check(ggml::quantize(id(t), x.data(), 0, q.data()).ok(), format("%s n = 0 is fine", info(t).name));
  }
  std::vector<uint8_t> q(1024);
  check(ggml::quantize(16, x.data(), 256, q.data()).code == Code::invalid_argument,
        "quantize of an unimplemented type (iq2_xxs) is KQ_INVALID_ARGUMENT");
  std::vector<float> out(256);
  check(ggml::dequantize(1, q.data(), 256, out.data()).code == Code::invalid_argument,
        "dequantize of an unimplemented type (f16) is KQ_INVALID_ARGUMENT");
}

// K-quants Q4_K, Q5_K, Q6_K, Q8_K (ref_k456.cc): type table, hand-decoded fields, zero super-blocks, split.
void k456_properties() {
  const struct {
    Type t;
    int32_t id;
    int64_t bytes;
  } kq[] = {{Type::q4_k, 12, 144}, {Type::q5_k, 13, 176}, {Type::q6_k, 14, 210}, {Type::q8_k, 15, 292}};
  std::vector<float> x(256 * 300);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  // quantize() above sizes its buffer for 32-element blocks; keep the n / 256 blocks it wrote.
  const auto quantize_k = [](Type t, const std::vector<float>& v) {
    std::vector<uint8_t> q = quantize(t, v);
    q.resize(v.size() / 256 * info(t).type_size);
    return q;
  };
  for (const auto& e : kq) {
    const ggml::TypeInfo* t = ggml::type_info(e.id);
    if (!check(t != nullptr && t->type == e.t && t->block_size == 256 && t->type_size == e.bytes,
               format("ggml type %d: 256 elements, %lld bytes", e.id, static_cast<long long>(e.bytes))))
      continue;
    // All-zero super-blocks are all-zero bytes (README 5.4) and decode to zeros.
    std::vector<float> z(512, 0.0f);
    const std::vector<uint8_t> qz = quantize_k(e.t, z);
    bool all_zero = true;
    for (uint8_t b : qz) all_zero &= b == 0;
    check(all_zero && dequantize(e.t, qz, 512) == z, format("%s zero super-blocks are zero bytes", t->name));
    // Driver split = one serial reference call.
    std::vector<uint8_t> serial(x.size() / 256 * t->type_size);
    ggml::quantize_row_ref(e.t, x.data(), serial.data(), static_cast<int64_t>(x.size()));
    const std::vector<uint8_t> q = quantize_k(e.t, x);
    check(q == serial, format("%s driver split = serial reference bytes", t->name));
    std::vector<uint8_t> qq(2 * t->type_size);
    check(ggml::quantize(e.id, x.data(), 128, qq.data()).code == Code::shape, format("%s n = 128 is KQ_SHAPE", t->name));
    // Round trip: relative RMS error.
    const std::vector<float> y = dequantize(e.t, q, static_cast<int64_t>(x.size()));
    double e2 = 0, x2 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      e2 += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      x2 += double(x[i]) * x[i];
    }
    const double limit = e.id == 12 ? 0.12 : e.id == 13 ? 0.06 : e.id == 14 ? 0.03 : 0.01;
    check(std::sqrt(e2 / x2) < limit, format("%s relative RMS error %g < %g", t->name, std::sqrt(e2 / x2), limit));
  }
  // Q8_K by hand: one super-block of x_j = j − 100 (max |x| = 155 at j = 255): d = 155/127 as float32,
  // q_j = round(−127·x_j/155) with ties to even (so q_255 = −127), bsums over groups of 16.
  std::vector<float> r(256);
  for (int j = 0; j < 256; ++j) r[j] = static_cast<float>(j - 100);
  const std::vector<uint8_t> q8 = quantize_k(Type::q8_k, r);
  ggml::BlockQ8_K b;
  std::memcpy(&b, q8.data(), sizeof b);
  const float iscale = -127.0f / 155.0f;
  bool ok = b.d == 1 / iscale && b.qs[255] == -127 && b.qs[100] == 0;
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
    ok &= b.bsums[g] == sum;
  }
  check(ok, "q8_K hand-worked block: d, extreme quants and bsums");
  // Q6_K: every level within −32..31 and scales' sign pattern: the largest |scale| is coded −128 (README 5.3).
  const std::vector<uint8_t> q6 = quantize_k(Type::q6_k, r);
  ggml::BlockQ6_K b6;
  std::memcpy(&b6, q6.data(), sizeof b6);
  bool has_m128 = false;
  for (int8_t s : b6.scales) has_m128 |= s == -128;
  check(has_m128, "q6_K: the sub-block with the largest scale gets code -128");
}

// K-quants Q2_K and Q3_K (ref_k23.cc): type table, hand-worked super-blocks, zero and fp16-overflow
// super-blocks (README 5.4, 5.5), round-trip error, driver split.
void k23_properties() {
  const struct {
    Type t;
    int32_t id;
    int64_t bytes;
    const char* name;
  } kq[] = {{Type::q2_k, 10, 84, "q2_K"}, {Type::q3_k, 11, 110, "q3_K"}};
  std::vector<float> x(256 * 300);
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  for (const auto& e : kq) {
    const ggml::TypeInfo* t = ggml::type_info(e.id);
    if (!check(t != nullptr && t->type == e.t && t->block_size == 256 && t->type_size == e.bytes &&
                   std::string(t->name) == e.name,
               format("ggml %s: id %d, 256 elements, %lld bytes", e.name, e.id, static_cast<long long>(e.bytes))))
      continue;
    for (float zero : {0.0f, -0.0f}) {
      const std::vector<float> z(512, zero);
      const std::vector<uint8_t> qz = quantize(e.t, z);
      bool all_zero = true;
      for (uint8_t b : qz) all_zero &= b == 0;
      const std::vector<float> yz = dequantize(e.t, qz, 512);
      bool zeros = true;
      for (float v : yz) zeros &= v == 0.0f;
      check(all_zero && zeros, format("%s %s super-blocks are zero bytes and decode to zeros", e.name,
                                      std::signbit(zero) ? "-0" : "+0"));
    }
    std::vector<uint8_t> serial(x.size() / 256 * t->type_size);
    ggml::quantize_row_ref(e.t, x.data(), serial.data(), static_cast<int64_t>(x.size()));
    const std::vector<uint8_t> q = quantize(e.t, x);
    check(q == serial, format("%s driver split = serial reference bytes", e.name));
    std::vector<uint8_t> qq(2 * t->type_size);
    check(ggml::quantize(e.id, x.data(), 128, qq.data()).code == Code::shape, format("%s n = 128 is KQ_SHAPE", e.name));
    const std::vector<float> y = dequantize(e.t, q, static_cast<int64_t>(x.size()));
    double e2 = 0, x2 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      e2 += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      x2 += double(x[i]) * x[i];
    }
    const double limit = e.id == 10 ? 0.34 : 0.19;  // measured 0.296 / 0.150
    check(std::sqrt(e2 / x2) < limit, format("%s relative RMS error %g < %g", e.name, std::sqrt(e2 / x2), limit));
  }
  // Q2_K of x_j = j mod 4: every sub-block fits exactly with scale 1, min 0: scale codes 15, min codes 0,
  // d = fp16(1/15), dmin = 0, and byte 32h + l holds (l mod 4) in all four bit pairs.
  std::vector<float> r(256);
  for (int j = 0; j < 256; ++j) r[j] = static_cast<float>(j % 4);
  std::vector<uint8_t> q = quantize(Type::q2_k, r);
  ggml::BlockQ2_K b2;
  std::memcpy(&b2, q.data(), sizeof b2);
  bool ok = b2.d == f32_to_f16_bits(1.0f / 15.0f) && b2.dmin == 0;
  for (int j = 0; j < 16; ++j) ok &= b2.scales[j] == 0x0f;
  for (int j = 0; j < 64; ++j) ok &= b2.qs[j] == (j % 4) * 0x55;
  std::vector<float> y = dequantize(Type::q2_k, q, 256);
  for (int j = 0; j < 256; ++j) ok &= std::fabs(y[j] - r[j]) < 2e-3f;
  check(ok, "q2_K hand-worked super-block (j mod 4): codes, d, dmin, packed quants, round trip");
  // Q3_K of x_j = (j mod 8) − 4: levels = x, every scale 1, so the largest (first) gives iscale = −32, all codes
  // are −32 + 32 = 0, d = fp16(−1/32); high bit set where x ≥ 0; decodes exactly.
  for (int j = 0; j < 256; ++j) r[j] = static_cast<float>(j % 8 - 4);
  q = quantize(Type::q3_k, r);
  ggml::BlockQ3_K b3;
  std::memcpy(&b3, q.data(), sizeof b3);
  ok = b3.d == 0xa800;
  for (int j = 0; j < 12; ++j) ok &= b3.scales[j] == 0;
  for (int j = 0; j < 32; ++j) ok &= b3.hmask[j] == (j % 8 >= 4 ? 0xff : 0x00);
  for (int j = 0; j < 64; ++j) ok &= b3.qs[j] == (j % 4) * 0x55;
  ok &= dequantize(Type::q3_k, q, 256) == r;
  check(ok, "q3_K hand-worked super-block ((j mod 8) - 4): codes 0, d = -1/32, hmask, exact round trip");
  // Q2_K fp16 overflow (README 5.5): x_j = 1e6·(j mod 4) gives d = fp16(1e6/15) = +inf; the requantization
  // divides by inf (levels 0) and dequantization gives inf·0 = NaN everywhere.
  for (int j = 0; j < 256; ++j) r[j] = 1e6f * static_cast<float>(j % 4);
  q = quantize(Type::q2_k, r);
  std::memcpy(&b2, q.data(), sizeof b2);
  ok = b2.d == 0x7c00;
  for (int j = 0; j < 64; ++j) ok &= b2.qs[j] == 0;
  y = dequantize(Type::q2_k, q, 256);
  for (float v : y) ok &= std::isnan(v);
  check(ok, "q2_K overflowed d stores +inf, levels 0, dequantizes to NaN");
}

// TQ1_0, TQ2_0, IQ4_NL, MXFP4 (ref_misc.cc): type table, zero blocks (README 5.4), every TQ1_0 byte value
// decodes to the trits it encodes, fp16 overflow of the ternary scale, round-trip bounds, driver split.
void misc_properties() {
  const struct {
    Type t;
    int32_t id;
    int64_t block, bytes;
    const char* name;
  } mt[] = {{Type::tq1_0, 34, 256, 54, "tq1_0"}, {Type::tq2_0, 35, 256, 66, "tq2_0"},
            {Type::iq4_nl, 20, 32, 18, "iq4_nl"}, {Type::mxfp4, 39, 32, 17, "mxfp4"}};
  for (const auto& e : mt) {
    const ggml::TypeInfo* t = ggml::type_info(e.id);
    check(t != nullptr && t->type == e.t && t->block_size == e.block && t->type_size == e.bytes &&
              std::string(t->name) == e.name,
          format("ggml %s: id %d, %lld elements, %lld bytes", e.name, e.id, static_cast<long long>(e.block),
                 static_cast<long long>(e.bytes)));
  }
  // Zero blocks: TQ d = 0 with every trit 1; IQ4_NL d = 0 with index 8; MXFP4 all zero.
  {
    std::vector<float> z(256, -0.0f);
    const std::vector<uint8_t> q1 = quantize(Type::tq1_0, z), q2 = quantize(Type::tq2_0, z);
    bool ok = u16(&q1[52]) == 0 && u16(&q2[64]) == 0;
    for (int i = 0; i < 48; ++i) ok &= q1[i] == 0x80;
    for (int i = 48; i < 52; ++i) ok &= q1[i] == 0x7f;
    for (int i = 0; i < 64; ++i) ok &= q2[i] == 0x55;
    check(ok, "tq1_0 / tq2_0 zero block: d = 0, bytes 0x80 / 0x7f and 0x55");
    const std::vector<uint8_t> qi = quantize(Type::iq4_nl, std::vector<float>(32, 1e-16f));
    const std::vector<uint8_t> qm = quantize(Type::mxfp4, std::vector<float>(32, 0.0f));
    ok = u16(qi.data()) == 0;
    for (int i = 2; i < 18; ++i) ok &= qi[i] == 0x88;
    for (uint8_t b : qm) ok &= b == 0;
    check(ok, "iq4_nl near-zero block: d = 0, index 8; mxfp4 zero block: all bytes 0");
  }
  // TQ1_0's base-3 packing round-trips every 5-trit (and shifted 4-trit) value, elements placed per README 4.
  {
    std::vector<float> x(256);
    bool ok = true;
    for (int v = 0; v < 243; ++v) {
      int t[5];
      for (int n = 4, r = v; n >= 0; --n, r /= 3) t[n] = r % 3;
      for (int i = 0; i < 256; ++i) x[i] = 0.0f;
      x[255] = 1.0f;  // amax 1 (element 255 is trit 3 of tail byte 3)
      for (int n = 0; n < 5; ++n) x[32 * n + 7] = static_cast<float>(t[n] - 1);
      for (int n = 0; n < 5; ++n) x[160 + 16 * n + 5] = static_cast<float>(t[n] - 1);
      for (int n = 0; n < 3; ++n) x[240 + 4 * n + 1] = static_cast<float>(t[n] - 1);
      const std::vector<float> y = dequantize(Type::tq1_0, quantize(Type::tq1_0, x), 256);
      for (int i = 0; i < 256; ++i) ok &= y[i] == x[i];
      ok &= quantize(Type::tq2_0, x) == quantize(Type::tq2_0, x);
      const std::vector<float> y2 = dequantize(Type::tq2_0, quantize(Type::tq2_0, x), 256);
      for (int i = 0; i < 256; ++i) ok &= y2[i] == x[i];
    }
    check(ok, "tq1_0 / tq2_0: every trit pattern in every byte position round-trips exactly");
  }
  // fp16 overflow of the ternary scale: d = inf; dequantization gives ±inf, NaN for trit 0 (inf·0).
  {
    std::vector<float> x(256, 0.0f);
    x[0] = 1e6f;
    x[1] = -1e6f;
    const std::vector<float> y = dequantize(Type::tq2_0, quantize(Type::tq2_0, x), 256);
    check(y[0] == INFINITY && y[1] == -INFINITY && std::isnan(y[2]), "tq2_0 fp16-overflowing scale: +inf, -inf, NaN");
  }
  // Round trip on N(0, 1): TQ per-element error <= amax/2 (+ fp16 rounding); IQ4_NL / MXFP4 relative RMS bounds.
  {
    std::vector<float> x(256 * 64);
    std::mt19937 rng(39);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) v = normal(rng);
    for (Type t : {Type::tq1_0, Type::tq2_0}) {
      const std::vector<float> y = dequantize(t, quantize(t, x), static_cast<int64_t>(x.size()));
      bool ok = true;
      for (size_t b = 0; b < x.size(); b += 256) {
        float amax = 0.0f;
        for (int j = 0; j < 256; ++j) amax = amax > std::fabs(x[b + j]) ? amax : std::fabs(x[b + j]);
        for (int j = 0; j < 256; ++j) ok &= std::fabs(y[b + j] - x[b + j]) <= amax * (0.5f + 1.0f / 1024);
      }
      check(ok, format("%s round trip within amax/2", info(t).name));
    }
    for (Type t : {Type::iq4_nl, Type::mxfp4}) {
      const std::vector<float> y = dequantize(t, quantize(t, x), static_cast<int64_t>(x.size()));
      double e2 = 0, x2 = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        e2 += (y[i] - x[i]) * (y[i] - x[i]);
        x2 += x[i] * x[i];
      }
      const double limit = t == Type::iq4_nl ? 0.12 : 0.2;
      check(std::sqrt(e2 / x2) < limit, format("%s round trip: relative RMS %.4f < %.2f", info(t).name, std::sqrt(e2 / x2), limit));
    }
    // The driver's split over threads gives the serial bytes.
    std::vector<float> big(256 * 5000);
    for (float& v : big) v = normal(rng);
    for (Type t : {Type::tq1_0, Type::tq2_0, Type::iq4_nl, Type::mxfp4}) {
      // (quantize() sizes its output for 32-element blocks; only the first n / block_size blocks are written.)
      const int64_t per_row = 256 / info(t).block_size * info(t).type_size;
      const std::vector<uint8_t> full = quantize(t, big);
      const std::vector<uint8_t> whole(full.begin(), full.begin() + 5000 * per_row);
      std::vector<uint8_t> serial(whole.size());
      for (size_t r = 0; r < 5000; ++r) ggml::quantize_row_misc(t, big.data() + r * 256, serial.data() + r * per_row, 256);
      check(whole == serial, format("%s: threaded driver equals the serial reference", info(t).name));
    }
  }
}

}  // namespace

void ggml_suite() {
  const Tally before = tally();
  type_table();
  hand_worked();
  zero_blocks();
  scale_overflow();
  round_trip();
  errors_and_split();
  k23_properties();
  k456_properties();
  misc_properties();
  std::printf("ggml: %d passed, %d failed\n", tally().passed - before.passed, tally().failed - before.failed);
}

}  // namespace kq::test
