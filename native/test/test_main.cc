// The native test executable: every kernel table the CPU supports against the scalar reference, the CPU
// drivers at each SIMD level, and the CUDA drivers when a device is present. Exit status 0 iff all passed.
#include <cstdio>

#include "../core/cpu_features.h"
#include "../core/cuda_runtime.h"
#include "../core/thread_pool.h"
#include "check.h"

namespace kq::test {
void gptq_pack_suite();  // test_gptq_pack.cc
void gptq_cuda_suite();  // test_gptq_cuda.cc: CPU vs CUDA, or the errors without a GPU
void gptq_suite();  // test_gptq.cc: compares every sweep table itself
void dense_suite();  // test_dense.cc: the active kernel table and the drivers, per SIMD level
void int4_suite();  // test_int4.cc: compares every kernel table itself
void ternary_suite();  // test_ternary.cc: every kernel table vs the reference and f64; CUDA or its refusal
void int4_codebook_suite();  // test_int4_codebook.cc: NF4/FP4/Q4_K, every kernel table vs the reference
void int4_cuda_suite();  // test_int4_cuda.cc: CUDA vs f64 and the CPU reference (GPU only)
void ggml_cuda_suite();  // test_ggml_cuda.cc: CUDA vs the CPU reference, or the refusals without a GPU
void ggml_simd_suite();  // test_ggml_simd.cc: compares every ggml kernel table itself
}  // namespace kq::test

namespace {

void run_level(kq::SimdLevel level) {
  const char* name = kq::simd_level_name(level);
  if (static_cast<int>(level) > static_cast<int>(kq::best_simd_level())) {
    std::printf("simd %s: skipped (not supported by this CPU)\n", name);
    return;
  }
  const kq::Status st = kq::set_simd_level(level);
  if (!kq::test::check(st.ok(), std::string("set_simd_level: ") + st.message)) return;
  const kq::test::Tally before = kq::test::tally();
  kq::test::linear_kernel_suite();
  kq::test::linear_driver_suite();
  kq::test::convert_kernel_suite();
  kq::test::convert_driver_suite();
  kq::test::bnb_driver_suite();
  kq::test::int8mm_suite();
  kq::test::dense_suite();
  const kq::test::Tally& after = kq::test::tally();
  std::printf("simd %s: %d passed, %d failed\n", name, after.passed - before.passed, after.failed - before.failed);
}

void run_cuda() {
  const kq::CudaInfo& info = kq::cuda_info();
  if (!info.available) {
    std::printf("cuda: skipped (%s)\n", info.reason.c_str());
    return;
  }
  kq::set_simd_level(kq::best_simd_level());
  const kq::test::Tally before = kq::test::tally();
  kq::test::linear_cuda_suite();
  kq::test::convert_cuda_suite();
  kq::test::bnb_cuda_suite();
  kq::test::int8mm_cuda_suite();
  kq::test::int4_cuda_suite();
  const kq::test::Tally& after = kq::test::tally();
  std::printf("cuda (%s): %d passed, %d failed\n", info.devices.empty() ? "?" : info.devices[0].name.c_str(),
              after.passed - before.passed, after.failed - before.failed);
}

}  // namespace

int main() {
  std::printf("threads: %d, best simd: %s\n", kq::thread_count(), kq::simd_level_name(kq::best_simd_level()));
  kq::test::core_suite();
  kq::test::ggml_suite();  // scalar only: one run, not per SIMD level
  kq::test::ggml_simd_suite();
  kq::test::gptq_pack_suite();  // bit shuffling: scalar only
  kq::test::gptq_suite();
  kq::test::int4_suite();  // names each kernel table: one run
  kq::test::ternary_suite();  // names each kernel table: one run
  kq::test::int4_codebook_suite();
  for (kq::SimdLevel level : {kq::SimdLevel::scalar, kq::SimdLevel::avx2, kq::SimdLevel::avx512}) run_level(level);
  run_cuda();
  kq::test::gptq_cuda_suite();
  kq::test::ggml_cuda_suite();
  const kq::test::Tally& t = kq::test::tally();
  std::printf("%d passed, %d failed\n", t.passed, t.failed);
  return t.failed == 0 ? 0 : 1;
}
