// Conversions: the active kernel table and the drivers against core/half.h, on every f16/bf16 pattern and
// on f32 sweeps dense around each rounding boundary (f16 subnormals, overflow, bf16 ties). Bit-exact,
// NaN payloads included: half.h quiets NaNs the way F16C does.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/half.h"
#include "../ops/convert/convert.h"
#include "check.h"

namespace kq::test {
namespace {

using convert::Half;

const int64_t kSizes[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255, 1023, 4097};
constexpr int64_t kGuard = 64;  // elements past each output that a kernel must leave alone
constexpr uint16_t kCanary16 = 0xa5a5;
constexpr uint32_t kCanary32 = 0xa5a5a5a5u;

const char* half_name(Half kind) { return kind == Half::f16 ? "f16" : "bf16"; }

uint16_t spec_to_half(Half kind, float x) { return kind == Half::f16 ? f32_to_f16_bits(x) : f32_to_bf16_bits(x); }
float spec_from_half(Half kind, uint16_t h) { return kind == Half::f16 ? f16_bits_to_f32(h) : bf16_bits_to_f32(h); }


std::vector<float> from_bits(const std::vector<uint32_t>& u) {
  std::vector<float> x(u.size());
  for (size_t i = 0; i < u.size(); ++i) x[i] = f32_from_bits(u[i]);
  return x;
}

// Mantissas on, just off and either side of the halfway point of the `shift` dropped significand bits.
void push_boundaries(uint32_t high, uint32_t shift, std::vector<uint32_t>* u, std::mt19937& rng) {
  const uint32_t half = 1u << (shift - 1), all = (half << 1) - 1u;
  for (int i = 0; i < 48; ++i) {
    const uint32_t base = rng() & 0x007fffffu & ~all;
    for (uint32_t low : {0u, 1u, half - 1u, half, half + 1u, all}) u->push_back(high | ((base | low) & 0x007fffffu));
  }
}

std::vector<uint32_t> special_bits() {
  return {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00800000u, 0x7f7fffffu, 0xff7fffffu,
          0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fbfffffu,
          0x7fffffffu, 0xffffffffu, 0x7fa00000u, 0x7f802000u, 0x7f801fffu, 0x477ff000u, 0x477fefffu,
          0x477fffffu, 0x47800000u, 0x38800000u, 0x387fffffu, 0x33000000u, 0x33000001u, 0x32ffffffu,
          0x33800000u, 0x33c00000u, 0x3f800000u, 0xbf800000u};
}

// Every f32 exponent with random mantissas, every exponent near the f16 subnormal and overflow range with
// mantissas around each rounding point (12 to 24 dropped bits), a stride across all 2^32 patterns, and
// specials (signaling and quiet NaNs with payloads, the f16 max and overflow edges).
std::vector<float> f16_sweep(std::mt19937& rng) {
  std::vector<uint32_t> u = special_bits();
  for (uint32_t sign : {0u, 0x80000000u}) {
    for (uint32_t exp = 0; exp < 256; ++exp)
      for (int i = 0; i < 512; ++i) u.push_back(sign | exp << 23 | (rng() & 0x007fffffu));
    for (uint32_t exp = 96; exp <= 146; ++exp)
      for (uint32_t shift = 13; shift <= 24; ++shift) push_boundaries(sign | exp << 23, shift, &u, rng);
  }
  for (uint64_t b = 0; b < (1ull << 32); b += 4093) u.push_back(static_cast<uint32_t>(b));
  return from_bits(u);
}

// Random patterns plus, for every exponent and both signs, the low 16 bits on and around the tie with
// either parity of the kept bits (which decides ties to even), including subnormals, overflow and NaNs.
std::vector<float> bf16_sweep(std::mt19937& rng) {
  std::vector<uint32_t> u = special_bits();
  for (uint32_t sign : {0u, 0x80000000u})
    for (uint32_t exp = 0; exp < 256; ++exp)
      for (int i = 0; i < 256; ++i) {
        const uint32_t high = sign | exp << 23 | (rng() & 0x007f0000u);
        for (uint32_t low : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu})
          u.push_back(high | low | (i & 1u) << 16);
      }
  for (int i = 0; i < (1 << 20); ++i) u.push_back(static_cast<uint32_t>(rng()));
  return from_bits(u);
}

std::vector<uint16_t> all_patterns() {
  std::vector<uint16_t> h(65536);
  for (uint32_t i = 0; i < 65536; ++i) h[i] = static_cast<uint16_t>(i);
  return h;
}

using ToHalf = void (*)(const float*, uint16_t*, int64_t);
using FromHalf = void (*)(const uint16_t*, float*, int64_t);

ToHalf to_half_kernel(const convert::Kernels& k, Half kind) { return kind == Half::f16 ? k.f32_to_f16 : k.f32_to_bf16; }
FromHalf from_half_kernel(const convert::Kernels& k, Half kind) { return kind == Half::f16 ? k.f16_to_f32 : k.bf16_to_f32; }

void compare_to_half(Half kind, const float* src, const uint16_t* got, int64_t n, FirstMismatch* bad) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t want = spec_to_half(kind, src[i]);
    if (got[i] != want)
      bad->add(format("x=0x%08x got 0x%04x want 0x%04x", f32_bits(src[i]), got[i], want));
  }
}

void compare_from_half(Half kind, const uint16_t* src, const float* got, int64_t n, FirstMismatch* bad) {
  for (int64_t i = 0; i < n; ++i) {
    const float want = spec_from_half(kind, src[i]);
    if (f32_bits(got[i]) != f32_bits(want))
      bad->add(format("h=0x%04x got 0x%08x want 0x%08x", src[i], f32_bits(got[i]), f32_bits(want)));
  }
}

// One call over the whole sweep (from an odd offset, so loads are unaligned), then every tail length with
// guard elements that must stay untouched.
void test_to_half(const convert::Kernels& k, Half kind, const std::vector<float>& sweep) {
  const ToHalf fn = to_half_kernel(k, kind);
  FirstMismatch bad;
  std::vector<uint16_t> out(sweep.size());
  fn(sweep.data() + 1, out.data(), static_cast<int64_t>(sweep.size()) - 1);
  compare_to_half(kind, sweep.data() + 1, out.data(), static_cast<int64_t>(sweep.size()) - 1, &bad);
  check(bad.count == 0, format("f32->%s sweep of %zu: %s", half_name(kind), sweep.size(), bad.describe().c_str()));

  FirstMismatch tail_bad;
  for (int64_t n : kSizes) {
    std::vector<uint16_t> got(static_cast<size_t>(n + kGuard), kCanary16);
    fn(sweep.data() + n, got.data(), n);
    compare_to_half(kind, sweep.data() + n, got.data(), n, &tail_bad);
    for (int64_t i = n; i < n + kGuard; ++i)
      if (got[i] != kCanary16) tail_bad.add(format("n=%lld wrote past the end", static_cast<long long>(n)));
  }
  check(tail_bad.count == 0, format("f32->%s tails: %s", half_name(kind), tail_bad.describe().c_str()));
}

void test_from_half(const convert::Kernels& k, Half kind) {
  const FromHalf fn = from_half_kernel(k, kind);
  const std::vector<uint16_t> patterns = all_patterns();
  FirstMismatch bad;
  for (int64_t offset : {0, 1}) {
    std::vector<float> out(65536 - offset);
    fn(patterns.data() + offset, out.data(), 65536 - offset);
    compare_from_half(kind, patterns.data() + offset, out.data(), 65536 - offset, &bad);
  }
  check(bad.count == 0, format("%s->f32 all 65536 patterns: %s", half_name(kind), bad.describe().c_str()));

  std::mt19937 rng(7);
  FirstMismatch tail_bad;
  for (int64_t n : kSizes) {
    const int64_t start = static_cast<int64_t>(rng() % (65536 - n));
    std::vector<float> got(static_cast<size_t>(n + kGuard), f32_from_bits(kCanary32));
    fn(patterns.data() + start, got.data(), n);
    compare_from_half(kind, patterns.data() + start, got.data(), n, &tail_bad);
    for (int64_t i = n; i < n + kGuard; ++i)
      if (f32_bits(got[i]) != kCanary32) tail_bad.add(format("n=%lld wrote past the end", static_cast<long long>(n)));
  }
  check(tail_bad.count == 0, format("%s->f32 tails: %s", half_name(kind), tail_bad.describe().c_str()));
}

std::string status_text(const Status& s) {
  return s.ok() ? "ok" : format("code %d: %s", static_cast<int>(s.code), s.message.c_str());
}

// The drivers on the whole sweep (large enough to split over the thread pool) and on all 16-bit patterns.
void driver_suite(Device device, const char* label) {
  std::mt19937 rng(99);
  for (Half kind : {Half::f16, Half::bf16}) {
    const std::vector<float> sweep = kind == Half::f16 ? f16_sweep(rng) : bf16_sweep(rng);
    const int64_t n = static_cast<int64_t>(sweep.size());
    std::vector<uint16_t> half(sweep.size());
    const Status st = convert::to_half(sweep.data(), half.data(), n, kind, device);
    FirstMismatch bad;
    compare_to_half(kind, sweep.data(), half.data(), n, &bad);
    check(st.ok() && bad.count == 0, format("%s to_half %s n=%lld: status %s, %s", label, half_name(kind),
                                            static_cast<long long>(n), status_text(st).c_str(), bad.describe().c_str()));

    const std::vector<uint16_t> patterns = all_patterns();
    std::vector<float> back(patterns.size());
    const Status bs = convert::from_half(patterns.data(), back.data(), 65536, kind, device);
    FirstMismatch back_bad;
    compare_from_half(kind, patterns.data(), back.data(), 65536, &back_bad);
    check(bs.ok() && back_bad.count == 0, format("%s from_half %s: status %s, %s", label, half_name(kind),
                                                 status_text(bs).c_str(), back_bad.describe().c_str()));
  }
  const Status empty = convert::to_half(nullptr, nullptr, 0, Half::f16, device);
  check(empty.ok(), format("%s to_half n=0: %s", label, status_text(empty).c_str()));
  const Status negative = convert::from_half(nullptr, nullptr, -1, Half::bf16, device);
  check(negative.code == Code::shape, format("%s from_half n=-1 rejected: %s", label, status_text(negative).c_str()));
}

}  // namespace

void convert_kernel_suite() {
  const convert::Kernels& k = convert::active_kernels();
  std::mt19937 rng(5);
  test_to_half(k, Half::f16, f16_sweep(rng));
  test_to_half(k, Half::bf16, bf16_sweep(rng));
  test_from_half(k, Half::f16);
  test_from_half(k, Half::bf16);
}

void convert_driver_suite() {
  const std::string label = format("convert cpu/%s", simd_level_name(simd_level()));
  driver_suite(Device::cpu, label.c_str());
}

void convert_cuda_suite() {
  driver_suite(Device::cuda, "convert cuda");
}

}  // namespace kq::test
