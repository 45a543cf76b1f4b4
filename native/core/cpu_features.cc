// This file is compiled without -m flags: it only asks the CPU, it never runs vector code.
#include "cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define KQ_X86 1
#endif

namespace kq {
namespace {

#ifdef KQ_X86
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef KQ_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12);
  const bool f16c = c & (1u << 29);
  if (!osxsave) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31);
  f.avx2 = ymm_state && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vnni = f.avx512 && (c & (1u << 11));
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512_bf16 = f.avx512 && (a & (1u << 5));
#endif
  return f;
}

SimdLevel initial_level(std::string* note) {
  const SimdLevel best = best_simd_level();
  const char* env = std::getenv("KQUANT_SIMD");
  if (!env || !*env) return best;
  SimdLevel wanted;
  if (!parse_simd_level(env, &wanted)) {
    *note = std::string("KQUANT_SIMD=") + env + " is not one of scalar|avx2|avx512; using " + simd_level_name(best);
    return best;
  }
  if (static_cast<int>(wanted) > static_cast<int>(best)) {
    *note = std::string("KQUANT_SIMD=") + env + " is not supported by this CPU; using " + simd_level_name(best);
    return best;
  }
  *note = std::string("forced by KQUANT_SIMD=") + env;
  return wanted;
}

struct LevelState {
  std::string note;
  std::atomic<int> level;
  LevelState() : level(static_cast<int>(initial_level(&note))) {}
};

LevelState& state() {
  static LevelState s;
  return s;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

SimdLevel best_simd_level() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512) return SimdLevel::avx512;
  if (f.avx2) return SimdLevel::avx2;
  return SimdLevel::scalar;
}

SimdLevel simd_level() { return static_cast<SimdLevel>(state().level.load()); }

Status set_simd_level(SimdLevel level) {
  if (static_cast<int>(level) > static_cast<int>(best_simd_level()))
    return error(Code::invalid_argument, std::string("simd level '") + simd_level_name(level) +
                                             "' is not supported by this CPU (best: " +
                                             simd_level_name(best_simd_level()) + ")");
  state().level.store(static_cast<int>(level));
  return Status::success();
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::scalar: return "scalar";
    case SimdLevel::avx2: return "avx2";
    case SimdLevel::avx512: return "avx512";
  }
  return "?";
}

bool parse_simd_level(const std::string& name, SimdLevel* out) {
  if (name == "scalar") *out = SimdLevel::scalar;
  else if (name == "avx2") *out = SimdLevel::avx2;
  else if (name == "avx512") *out = SimdLevel::avx512;
  else return false;
  return true;
}

std::string simd_level_note() { return state().note; }

}  // namespace kq
