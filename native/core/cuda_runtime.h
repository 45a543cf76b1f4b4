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

}  // namespace kq
