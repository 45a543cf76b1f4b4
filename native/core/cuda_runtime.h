// CUDA availability as a run-time answer. This header has no CUDA includes so N-API glue and CPU code can
// ask about CUDA in builds with or without it: cuda_runtime.cu implements it when the build found nvcc,
// cuda_stub.cc otherwise.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "status.h"

namespace kq {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int major = 0;
  int minor = 0;
  uint64_t total_memory = 0;
  int multiprocessors = 0;
};

struct CudaInfo {
  bool compiled = false;   // kquant was built with CUDA kernels
  bool available = false;  // compiled, a driver answered and at least one device exists
  std::string reason;      // why not available (empty when available)
  int runtime_version = 0;
  int driver_version = 0;
  std::vector<CudaDeviceInfo> devices;
};

// Queried once; later calls return the cached answer.
const CudaInfo& cuda_info();

// OK when CUDA can run kernels, otherwise a cuda_unavailable Status carrying the reason.
Status require_cuda(const char* op);

// A driver's CUDA branch: runs `cuda_variant` when kquant was built with CUDA and a device answers,
// otherwise returns why not. Without CUDA the lambda is never called, so it is never emitted and the
// CUDA symbols it names need not exist.
template <typename CudaVariant>
Status run_on_cuda(const char* op, CudaVariant&& cuda_variant) {
  KQ_RETURN_IF_ERROR(require_cuda(op));
#ifdef KQ_WITH_CUDA
  return cuda_variant();
#else
  (void)cuda_variant;
  return error(Code::internal, std::string(op) + ": CUDA reported available in a build without CUDA");
#endif
}

}  // namespace kq
