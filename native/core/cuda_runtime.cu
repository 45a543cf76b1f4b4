#include <cuda_runtime.h>

#include <string>

#include "cuda_check.cuh"
#include "cuda_runtime.h"

namespace kq {
namespace {

CudaInfo query() {
  CudaInfo info;
  info.compiled = true;
  cudaRuntimeGetVersion(&info.runtime_version);
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    cudaDriverGetVersion(&info.driver_version);
    if (err == cudaErrorInsufficientDriver && info.driver_version == 0)
      info.reason = "no NVIDIA driver";
    else if (err == cudaErrorInsufficientDriver)
      info.reason = "NVIDIA driver " + std::to_string(info.driver_version) + " is older than CUDA runtime " +
                    std::to_string(info.runtime_version);
    else
      info.reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return info;
  }
  cudaDriverGetVersion(&info.driver_version);
  if (count == 0) {
    info.reason = "no CUDA device";
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    CudaDeviceInfo d;
    d.index = i;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.total_memory = prop.totalGlobalMem;
    d.multiprocessors = prop.multiProcessorCount;
    info.devices.push_back(d);
  }
  info.available = !info.devices.empty();
  if (!info.available) info.reason = "no CUDA device answered";
  return info;
}

}  // namespace

const CudaInfo& cuda_info() {
  static const CudaInfo info = query();
  return info;
}

Status require_cuda(const char* op) {
  const CudaInfo& info = cuda_info();
  if (info.available) return Status::success();
  return error(Code::cuda_unavailable, std::string(op) + ": CUDA unavailable: " + info.reason);
}

}  // namespace kq
