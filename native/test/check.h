// Minimal checking for the native test executable: a pass/fail tally, failures printed as they happen
// (the first 100), and printf-style messages. No framework: the executable must build wherever the kernels do.
#pragma once
#include <cstdarg>
#include <cstdio>
#include <string>

namespace kq::test {

struct Tally {
  int passed = 0;
  int failed = 0;
};

inline Tally& tally() {
  static Tally t;
  return t;
}

inline bool check(bool ok, const std::string& what) {
  Tally& t = tally();
  if (ok) {
    ++t.passed;
    return true;
  }
  if (++t.failed <= 100) std::printf("  FAIL %s\n", what.c_str());
  return false;
}

inline std::string format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

// Keeps the first of many element mismatches so one check can cover a whole sweep.
struct FirstMismatch {
  int count = 0;
  std::string first;
  void add(const std::string& what) {
    if (count++ == 0) first = what;
  }
  std::string describe() const { return count ? first + format(" (%d mismatches)", count) : std::string("ok"); }
};

// Suites: the kernel and CPU driver suites run once per SIMD level (the active one); the CUDA suites compare
// Device::cuda against the CPU reference.
void core_suite();
void linear_kernel_suite();
void linear_driver_suite();
void linear_cuda_suite();
void convert_kernel_suite();
void convert_driver_suite();
void convert_cuda_suite();
void bnb_driver_suite();
void bnb_cuda_suite();
void int8mm_suite();
void int8mm_cuda_suite();
void ggml_suite();

}  // namespace kq::test
