// Linked into builds without a CUDA compiler (binding.gyp, CMake without nvcc).
#include <string>

#include "cuda_runtime.h"

namespace kq {

const CudaInfo& cuda_info() {
  static const CudaInfo info = [] {
    CudaInfo i;
    i.reason = "kquant was built without CUDA (no nvcc at build time)";
    return i;
  }();
  return info;
}

Status require_cuda(const char* op) {
  return error(Code::cuda_unavailable, std::string(op) + ": CUDA unavailable: " + cuda_info().reason);
}

}  // namespace kq
