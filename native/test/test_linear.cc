// Linear family: every kernel of the active table against kernels_ref byte for byte (with guard bytes past
// each output to catch over-long tail stores), and the drivers (quantize, dequantize, minmax) against a
// per-element computation with kernels_ref and params_from_range.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../core/cpu_features.h"
#include "../ops/linear/linear.h"
#include "check.h"

namespace kq::test {
namespace {

using linear::Kernels;
using linear::kernels_ref;
using linear::Layout;
using linear::QRange;
using linear::Scheme;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const int64_t kSizes[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255, 256, 1023, 4097};
constexpr int64_t kGuard = 64;  // elements past each output that a kernel must leave alone
constexpr uint8_t kCanary = 0xa5;
constexpr float kCanaryF = 12345.0f;
// Powers of two make the tie inputs exact; the rest are ordinary, huge (products overflow) and subnormal.
const float kScales[] = {1.0f, 0.25f, 4.0f, 3.0f, 17.397f, 1e-3f, 1e20f, 3e38f, 1e-40f};

struct RangeCase {
  const char* name;
  Scheme scheme;
  bool is_signed;
  QRange range() const { return linear::qrange(scheme, is_signed); }
};
const RangeCase kRanges[] = {{"absmax", Scheme::absmax, true},
                             {"int8", Scheme::zero_point, true},
                             {"uint8", Scheme::zero_point, false}};

enum class Fill { uniform, ties, saturate, tiny, mixed };
const Fill kFills[] = {Fill::uniform, Fill::ties, Fill::saturate, Fill::tiny, Fill::mixed};

const char* fill_name(Fill f) {
  switch (f) {
    case Fill::uniform: return "uniform";
    case Fill::ties: return "ties";
    case Fill::saturate: return "saturate";
    case Fill::tiny: return "tiny";
    case Fill::mixed: return "mixed";
  }
  return "?";
}

float special(std::mt19937& rng) {
  static const float values[] = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 1e-45f, -1e-45f,
                                 0.5f, -0.5f, 1.5f, -2.5f, 127.5f, -127.5f, -128.5f, 255.5f};
  return values[rng() % (sizeof values / sizeof values[0])];
}

// Inputs for a group quantized with (scale, zero). Fill::ties puts x·scale + zero exactly on k + 0.5 when
// scale is a power of two, and within a rounding of it otherwise. Always finite: values that a subnormal
// scale would push past FLT_MAX are capped there.
std::vector<float> make_input(int64_t n, Fill fill, float scale, float zero, std::mt19937& rng) {
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::uniform_int_distribution<int> k(-300, 300);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) {
    switch (fill) {
      case Fill::uniform: v = unit(rng) * 140.0f / scale; break;
      case Fill::ties: v = (static_cast<float>(k(rng)) + 0.5f - zero) / scale; break;
      case Fill::saturate: v = unit(rng) * 1e30f; break;
      case Fill::tiny: v = unit(rng) * 1e-38f; break;
      case Fill::mixed: v = rng() % 2 ? special(rng) : unit(rng) * 300.0f; break;
    }
    if (std::isinf(v)) v = std::copysign(FLT_MAX, v);
  }
  return x;
}

float random_zero(const RangeCase& rc, std::mt19937& rng) {
  if (rc.scheme == Scheme::absmax) return 0.0f;
  const QRange r = rc.range();
  const int32_t picks[] = {r.qmin, r.qmax, (r.qmin + r.qmax) / 2, r.qmin + 3};
  return static_cast<float>(picks[rng() % 4]);
}

// Misaligns every other input by one element so unaligned loads are exercised too.
std::vector<float> with_offset(const std::vector<float>& x, int64_t offset) {
  std::vector<float> y(static_cast<size_t>(offset), 0.0f);
  y.insert(y.end(), x.begin(), x.end());
  return y;
}

std::vector<uint8_t> quantize_run(const Kernels& k, const float* x, int64_t n, float scale, float zero,
                                  QRange r, uint32_t* flag) {
  std::vector<uint8_t> q(static_cast<size_t>(n + kGuard), kCanary);
  k.quantize_run(x, n, scale, zero, static_cast<float>(r.qmin), static_cast<float>(r.qmax), q.data(), flag);
  return q;
}

std::vector<uint8_t> quantize_columns(const Kernels& k, const float* x, int64_t n, const float* scales,
                                      const float* zeros, QRange r, uint32_t* flag) {
  std::vector<uint8_t> q(static_cast<size_t>(n + kGuard), kCanary);
  k.quantize_columns(x, n, scales, zeros, static_cast<float>(r.qmin), static_cast<float>(r.qmax), q.data(), flag);
  return q;
}

void test_quantize_run(const Kernels& k, std::mt19937& rng) {
  for (const RangeCase& rc : kRanges)
    for (Fill fill : kFills) {
      FirstMismatch bad;
      for (int64_t n : kSizes)
        for (float scale : kScales) {
          const float zero = random_zero(rc, rng);
          const std::vector<float> x = with_offset(make_input(n, fill, scale, zero, rng), n & 1);
          const float* src = x.data() + (n & 1);
          uint32_t ref_flag = 0, flag = 0;
          const auto want = quantize_run(kernels_ref, src, n, scale, zero, rc.range(), &ref_flag);
          const auto got = quantize_run(k, src, n, scale, zero, rc.range(), &flag);
          if (got != want || flag != 0 || ref_flag != 0)
            bad.add(format("n=%lld scale=%g zero=%g flag=%u", static_cast<long long>(n), scale, zero, flag));
        }
      check(bad.count == 0, format("quantize_run %s %s: %s", rc.name, fill_name(fill), bad.describe().c_str()));
    }
}

void test_quantize_columns(const Kernels& k, std::mt19937& rng) {
  for (const RangeCase& rc : kRanges)
    for (Fill fill : kFills) {
      FirstMismatch bad;
      for (int64_t n : kSizes) {
        std::vector<float> scales(static_cast<size_t>(n)), zeros(static_cast<size_t>(n));
        for (int64_t c = 0; c < n; ++c) {
          scales[c] = kScales[rng() % (sizeof kScales / sizeof kScales[0])];
          zeros[c] = random_zero(rc, rng);
        }
        // Each element is drawn for its own channel's parameters, so ties stay ties.
        std::vector<float> x(static_cast<size_t>(n));
        for (int64_t c = 0; c < n; ++c) x[c] = make_input(1, fill, scales[c], zeros[c], rng)[0];
        uint32_t ref_flag = 0, flag = 0;
        const auto want = quantize_columns(kernels_ref, x.data(), n, scales.data(), zeros.data(), rc.range(), &ref_flag);
        const auto got = quantize_columns(k, x.data(), n, scales.data(), zeros.data(), rc.range(), &flag);
        if (got != want || flag != 0 || ref_flag != 0)
          bad.add(format("n=%lld flag=%u", static_cast<long long>(n), flag));
      }
      check(bad.count == 0, format("quantize_columns %s %s: %s", rc.name, fill_name(fill), bad.describe().c_str()));
    }
}

void test_minmax_run(const Kernels& k, std::mt19937& rng) {
  for (Fill fill : kFills) {
    FirstMismatch bad;
    for (int64_t n : kSizes)
      for (int rep = 0; rep < 4; ++rep) {
        const std::vector<float> x = with_offset(make_input(n, fill, 1.0f, 0.0f, rng), n & 1);
        const float* src = x.data() + (n & 1);
        float want_lo, want_hi, lo, hi;
        uint32_t ref_flag = 0, flag = 0;
        kernels_ref.minmax_run(src, n, &want_lo, &want_hi, &ref_flag);
        k.minmax_run(src, n, &lo, &hi, &flag);
        // == rather than bits: fmin/fmax may pick either zero when -0 meets +0.
        if (!(lo == want_lo && hi == want_hi) || flag != 0 || ref_flag != 0)
          bad.add(format("n=%lld min %g vs %g, max %g vs %g", static_cast<long long>(n), lo, want_lo, hi, want_hi));
      }
    check(bad.count == 0, format("minmax_run %s: %s", fill_name(fill), bad.describe().c_str()));
  }
}

// Running mins/maxs that start at ±Inf or at earlier values, as the driver's bands do.
void fill_running(std::vector<float>* mins, std::vector<float>* maxs, int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> unit(-100.0f, 100.0f);
  mins->assign(static_cast<size_t>(n + kGuard), kCanaryF);
  maxs->assign(static_cast<size_t>(n + kGuard), kCanaryF);
  for (int64_t c = 0; c < n; ++c) {
    (*mins)[c] = rng() % 3 ? unit(rng) : kInf;
    (*maxs)[c] = rng() % 3 ? unit(rng) : -kInf;
  }
}

bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i])) return false;
  return true;
}

void test_minmax_columns(const Kernels& k, std::mt19937& rng) {
  for (Fill fill : kFills) {
    FirstMismatch bad;
    for (int64_t n : kSizes) {
      const std::vector<float> x = make_input(n, fill, 1.0f, 0.0f, rng);
      std::vector<float> want_lo, want_hi;
      fill_running(&want_lo, &want_hi, n, rng);
      std::vector<float> lo = want_lo, hi = want_hi;
      uint32_t ref_flag = 0, flag = 0;
      kernels_ref.minmax_columns(x.data(), n, want_lo.data(), want_hi.data(), &ref_flag);
      k.minmax_columns(x.data(), n, lo.data(), hi.data(), &flag);
      if (!same_floats(lo, want_lo) || !same_floats(hi, want_hi) || flag != 0 || ref_flag != 0)
        bad.add(format("n=%lld", static_cast<long long>(n)));
    }
    check(bad.count == 0, format("minmax_columns %s: %s", fill_name(fill), bad.describe().c_str()));
  }
}

std::vector<uint8_t> random_bytes(int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> q(static_cast<size_t>(n));
  for (uint8_t& b : q) b = static_cast<uint8_t>(rng());
  return q;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void test_dequantize(const Kernels& k, std::mt19937& rng) {
  for (const RangeCase& rc : kRanges) {
    FirstMismatch run_bad, col_bad;
    for (int64_t n : kSizes) {
      const std::vector<uint8_t> q = random_bytes(n + 1, rng);
      const uint8_t* src = q.data() + (n & 1);
      for (float scale : kScales) {
        const float zero = random_zero(rc, rng);
        std::vector<float> want(static_cast<size_t>(n + kGuard), kCanaryF), got = want;
        kernels_ref.dequantize_run(src, n, rc.is_signed, scale, zero, want.data());
        k.dequantize_run(src, n, rc.is_signed, scale, zero, got.data());
        if (!same_bits(got, want)) run_bad.add(format("n=%lld scale=%g zero=%g", static_cast<long long>(n), scale, zero));
      }
      std::vector<float> scales(static_cast<size_t>(n)), zeros(static_cast<size_t>(n));
      for (int64_t c = 0; c < n; ++c) {
        scales[c] = kScales[rng() % (sizeof kScales / sizeof kScales[0])];
        zeros[c] = random_zero(rc, rng);
      }
      std::vector<float> want(static_cast<size_t>(n + kGuard), kCanaryF), got = want;
      kernels_ref.dequantize_columns(src, n, rc.is_signed, scales.data(), zeros.data(), want.data());
      k.dequantize_columns(src, n, rc.is_signed, scales.data(), zeros.data(), got.data());
      if (!same_bits(got, want)) col_bad.add(format("n=%lld", static_cast<long long>(n)));
    }
    check(run_bad.count == 0, format("dequantize_run %s: %s", rc.name, run_bad.describe().c_str()));
    check(col_bad.count == 0, format("dequantize_columns %s: %s", rc.name, col_bad.describe().c_str()));
  }
}

// NaN/Inf anywhere (first, last, inside) must set the flag in every kernel that reads floats; quantized
// outputs must still match the reference (NaN lands on qmin there).
void test_non_finite(const Kernels& k, std::mt19937& rng) {
  const float poison[] = {kNaN, -kNaN, kInf, -kInf};
  const QRange r = kRanges[1].range();
  FirstMismatch bad;
  for (int64_t n : kSizes)
    for (float p : poison) {
      const int64_t where[] = {0, n - 1, static_cast<int64_t>(rng() % n)};
      for (int64_t at : where) {
        std::vector<float> x = make_input(n, Fill::uniform, 1.0f, 0.0f, rng);
        x[at] = p;
        const std::vector<float> scales(static_cast<size_t>(n), 2.0f), zeros(static_cast<size_t>(n), -3.0f);
        uint32_t f[8] = {};
        const auto want_run = quantize_run(kernels_ref, x.data(), n, 2.0f, -3.0f, r, &f[0]);
        const auto got_run = quantize_run(k, x.data(), n, 2.0f, -3.0f, r, &f[1]);
        const auto want_col = quantize_columns(kernels_ref, x.data(), n, scales.data(), zeros.data(), r, &f[2]);
        const auto got_col = quantize_columns(k, x.data(), n, scales.data(), zeros.data(), r, &f[3]);
        float lo, hi;
        kernels_ref.minmax_run(x.data(), n, &lo, &hi, &f[4]);
        k.minmax_run(x.data(), n, &lo, &hi, &f[5]);
        std::vector<float> mins, maxs;
        fill_running(&mins, &maxs, n, rng);
        kernels_ref.minmax_columns(x.data(), n, mins.data(), maxs.data(), &f[6]);
        k.minmax_columns(x.data(), n, mins.data(), maxs.data(), &f[7]);
        bool all_set = true;
        for (uint32_t v : f) all_set = all_set && v != 0;
        if (!all_set || got_run != want_run || got_col != want_col)
          bad.add(format("n=%lld at=%lld value=%g flags=%u%u%u%u%u%u%u%u", static_cast<long long>(n),
                         static_cast<long long>(at), p, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]));
      }
    }
  check(bad.count == 0, "non-finite flagged by every kernel: " + bad.describe());

  // A flag already set stays set: kernels only ever set it.
  const std::vector<float> x = make_input(33, Fill::uniform, 1.0f, 0.0f, rng);
  uint32_t flag = 7;
  float lo, hi;
  k.minmax_run(x.data(), 33, &lo, &hi, &flag);
  quantize_run(k, x.data(), 33, 1.0f, 0.0f, r, &flag);
  check(flag == 7, format("finite input leaves a set flag alone (flag=%u)", flag));
}

// ---- Drivers ----

struct LayoutCase {
  const char* name;
  Layout layout;
};
const LayoutCase kLayouts[] = {
    {"tensor[1,1,1]", {1, 1, 1}},           {"tensor[1,1,7]", {1, 1, 7}},
    {"tensor[1,1,4097]", {1, 1, 4097}},     {"tensor[1,1,200003] (pieces)", {1, 1, 200003}},
    {"block[1,64,32]", {1, 64, 32}},        {"block[1,33,17]", {1, 33, 17}},
    {"block[1,1000,64]", {1, 1000, 64}},    {"columns[1000,37,1]", {1000, 37, 1}},
    {"columns[3,64,1]", {3, 64, 1}},        {"columns[1,5,1]", {1, 5, 1}},
    {"columns[4097,3,1]", {4097, 3, 1}},    {"channels[4,5,33]", {4, 5, 33}},
    {"channels[7,16,128]", {7, 16, 128}},   {"channels[2,3,70001] (pieces)", {2, 3, 70001}},
};

int64_t channel_of(const Layout& L, int64_t i) { return (i / L.inner) % L.channels; }

// Per-channel magnitudes differ by orders; channel 1 is all zeros (scale 1), and ties sit on the grid.
std::vector<float> driver_input(const Layout& L, std::mt19937& rng) {
  const float magnitudes[] = {1e-3f, 1.0f, 50.0f, 1e4f, 0.3f};
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(L.numel()));
  for (int64_t i = 0; i < L.numel(); ++i) {
    const int64_t c = channel_of(L, i);
    if (c == 1 && L.channels > 2) x[i] = 0.0f;
    else if (rng() % 16 == 0) x[i] = static_cast<float>(static_cast<int>(rng() % 64) - 32) + 0.5f;
    else x[i] = unit(rng) * magnitudes[c % 5];
  }
  return x;
}

struct Expected {
  std::vector<float> mins, maxs, scales;
  std::vector<int32_t> zero_points;
  std::vector<uint8_t> q;
  std::vector<float> dequantized;
};

void expected_minmax(const std::vector<float>& x, const Layout& L, Expected* e) {
  e->mins.assign(static_cast<size_t>(L.channels), kInf);
  e->maxs.assign(static_cast<size_t>(L.channels), -kInf);
  for (int64_t i = 0; i < L.numel(); ++i) {
    const int64_t c = channel_of(L, i);
    e->mins[c] = std::fmin(e->mins[c], x[i]);
    e->maxs[c] = std::fmax(e->maxs[c], x[i]);
  }
}

// q and its dequantization from the parameters already in e, one element at a time through kernels_ref.
void expected_values(const std::vector<float>& x, const Layout& L, const RangeCase& rc, Expected* e) {
  const QRange r = rc.range();
  e->q.assign(static_cast<size_t>(L.numel()), 0);
  e->dequantized.assign(static_cast<size_t>(L.numel()), 0.0f);
  uint32_t flag = 0;
  for (int64_t i = 0; i < L.numel(); ++i) {
    const int64_t c = channel_of(L, i);
    const float zero = static_cast<float>(e->zero_points[c]);
    kernels_ref.quantize_run(&x[i], 1, e->scales[c], zero, static_cast<float>(r.qmin), static_cast<float>(r.qmax),
                             &e->q[i], &flag);
    kernels_ref.dequantize_run(&e->q[i], 1, rc.is_signed, e->scales[c], zero, &e->dequantized[i]);
  }
}

Expected expected_dynamic(const std::vector<float>& x, const Layout& L, const RangeCase& rc) {
  Expected e;
  expected_minmax(x, L, &e);
  e.scales.resize(static_cast<size_t>(L.channels));
  e.zero_points.resize(static_cast<size_t>(L.channels));
  for (int64_t c = 0; c < L.channels; ++c)
    linear::params_from_range(rc.scheme, rc.range(), e.mins[c], e.maxs[c], &e.scales[c], &e.zero_points[c]);
  expected_values(x, L, rc, &e);
  return e;
}

std::string status_text(const Status& s) { return s.ok() ? "ok" : format("code %d: %s", static_cast<int>(s.code), s.message.c_str()); }

linear::QuantizeArgs quantize_args(const std::vector<float>& x, const Layout& L, const RangeCase& rc, Device device,
                                   std::vector<uint8_t>* q, std::vector<float>* scales, std::vector<int32_t>* zps) {
  linear::QuantizeArgs a;
  a.src = x.data();
  a.dst = q->data();
  a.layout = L;
  a.scheme = rc.scheme;
  a.is_signed = rc.is_signed;
  a.scales = scales->data();
  a.zero_points = rc.scheme == Scheme::absmax ? nullptr : zps->data();
  a.device = device;
  return a;
}

void check_dynamic(const std::vector<float>& x, const LayoutCase& lc, const RangeCase& rc, Device device,
                   const std::string& where) {
  const Layout& L = lc.layout;
  const Expected e = expected_dynamic(x, L, rc);
  std::vector<uint8_t> q(static_cast<size_t>(L.numel()), kCanary);
  std::vector<float> scales(static_cast<size_t>(L.channels), -1.0f);
  std::vector<int32_t> zps(static_cast<size_t>(L.channels), 0);
  const Status st = linear::quantize(quantize_args(x, L, rc, device, &q, &scales, &zps));
  const bool params_ok = same_bits(scales, e.scales) && zps == e.zero_points;
  check(st.ok() && params_ok && q == e.q, format("%s quantize: status %s, params %s, q %s", where.c_str(),
                                                 status_text(st).c_str(), params_ok ? "ok" : "differ",
                                                 q == e.q ? "ok" : "differ"));

  linear::DequantizeArgs d;
  std::vector<float> out(static_cast<size_t>(L.numel()), kCanaryF);
  d.src = e.q.data();
  d.is_signed = rc.is_signed;
  d.dst = out.data();
  d.layout = L;
  d.scales = e.scales.data();
  d.zero_points = rc.scheme == Scheme::absmax ? nullptr : e.zero_points.data();
  d.device = device;
  const Status ds = linear::dequantize(d);
  check(ds.ok() && same_bits(out, e.dequantized),
        format("%s dequantize: status %s", where.c_str(), status_text(ds).c_str()));

  std::vector<float> mins(static_cast<size_t>(L.channels)), maxs(static_cast<size_t>(L.channels));
  const Status ms = linear::minmax(x.data(), L, mins.data(), maxs.data(), device);
  check(ms.ok() && same_floats(mins, e.mins) && same_floats(maxs, e.maxs),
        format("%s minmax: status %s", where.c_str(), status_text(ms).c_str()));
}

// Static quantization with caller parameters unlike the observed range, so clamping happens too.
void check_static(const std::vector<float>& x, const LayoutCase& lc, const RangeCase& rc, Device device,
                  const std::string& where, std::mt19937& rng) {
  const Layout& L = lc.layout;
  const QRange r = rc.range();
  Expected e = expected_dynamic(x, L, rc);
  for (int64_t c = 0; c < L.channels; ++c) {
    e.scales[c] *= 1.75f;
    if (rc.scheme == Scheme::zero_point) e.zero_points[c] = r.qmin + static_cast<int32_t>(rng() % (r.qmax - r.qmin + 1));
  }
  expected_values(x, L, rc, &e);
  std::vector<uint8_t> q(static_cast<size_t>(L.numel()), kCanary);
  std::vector<float> scales = e.scales;
  std::vector<int32_t> zps = e.zero_points;
  linear::QuantizeArgs a = quantize_args(x, L, rc, device, &q, &scales, &zps);
  a.params_given = true;
  const Status st = linear::quantize(a);
  check(st.ok() && q == e.q, format("%s static quantize: status %s", where.c_str(), status_text(st).c_str()));

  scales[0] = 0.0f;
  const Status bad_scale = linear::quantize(a);
  check(bad_scale.code == Code::invalid_argument,
        format("%s static scale 0 rejected: %s", where.c_str(), status_text(bad_scale).c_str()));
}

void check_non_finite(std::vector<float> x, const LayoutCase& lc, const RangeCase& rc, Device device,
                      const std::string& where, std::mt19937& rng) {
  const Layout& L = lc.layout;
  x[rng() % x.size()] = rng() % 2 ? kNaN : -kInf;
  std::vector<uint8_t> q(static_cast<size_t>(L.numel()));
  std::vector<float> scales(static_cast<size_t>(L.channels));
  std::vector<int32_t> zps(static_cast<size_t>(L.channels));
  const Status st = linear::quantize(quantize_args(x, L, rc, device, &q, &scales, &zps));
  std::vector<float> mins(static_cast<size_t>(L.channels)), maxs(static_cast<size_t>(L.channels));
  const Status ms = linear::minmax(x.data(), L, mins.data(), maxs.data(), device);
  check(st.code == Code::non_finite && ms.code == Code::non_finite,
        format("%s NaN/Inf rejected: quantize %s, minmax %s", where.c_str(), status_text(st).c_str(),
               status_text(ms).c_str()));
}

void driver_suite(Device device, const char* label) {
  std::mt19937 rng(1234);
  for (const LayoutCase& lc : kLayouts)
    for (const RangeCase& rc : kRanges) {
      const std::string where = format("%s %s %s", label, lc.name, rc.name);
      const std::vector<float> x = driver_input(lc.layout, rng);
      check_dynamic(x, lc, rc, device, where);
      check_static(x, lc, rc, device, where, rng);
      check_non_finite(x, lc, rc, device, where, rng);
    }
}

}  // namespace

void linear_kernel_suite() {
  const Kernels& k = linear::active_kernels();
  std::mt19937 rng(42);
  test_quantize_run(k, rng);
  test_quantize_columns(k, rng);
  test_minmax_run(k, rng);
  test_minmax_columns(k, rng);
  test_dequantize(k, rng);
  test_non_finite(k, rng);
}

void linear_driver_suite() { driver_suite(Device::cpu, format("linear cpu/%s", simd_level_name(simd_level())).c_str()); }

void linear_cuda_suite() { driver_suite(Device::cuda, "linear cuda"); }

}  // namespace kq::test
