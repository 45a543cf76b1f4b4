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
  std::vector<uint8_t> q(x.size() / 32 * info(t).type_size, 0xa5);
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
  for (int32_t unknown : {0, 1, 4, 5, 10, 12, 14, 15, 20, 39, -1, 1000})
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
  check(ggml::quantize(12, x.data(), 256, q.data()).code == Code::invalid_argument,
        "quantize of an unimplemented type (q4_K) is KQ_INVALID_ARGUMENT");
  std::vector<float> out(256);
  check(ggml::dequantize(1, q.data(), 256, out.data()).code == Code::invalid_argument,
        "dequantize of an unimplemented type (f16) is KQ_INVALID_ARGUMENT");
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
  std::printf("ggml: %d passed, %d failed\n", tally().passed - before.passed, tally().failed - before.failed);
}

}  // namespace kq::test
