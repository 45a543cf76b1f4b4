// Checked CUDA calls that return a Status instead of aborting (a Node service must outlive a failed
// launch or an out-of-memory), and an owning device buffer. Included only by .cu files.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "finite.h"
#include "status.h"

namespace kq {

inline Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::success();
  cudaGetLastError();  // clear the sticky-free error so the next call starts clean
  const Code code = err == cudaErrorMemoryAllocation ? Code::out_of_memory : Code::cuda_error;
  return error(code, std::string(what) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

#define KQ_CUDA_TRY(call) KQ_RETURN_IF_ERROR(::kq::cuda_status((call), #call))

// Device memory freed on scope exit, so every early error return releases what was allocated.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }

  Status allocate(size_t bytes) {
    if (bytes == 0) bytes = 1;
    const cudaError_t err = cudaMalloc(&ptr_, bytes);
    if (err != cudaSuccess) {
      ptr_ = nullptr;
      return cuda_status(err, ("cudaMalloc of " + std::to_string(bytes) + " bytes").c_str());
    }
    bytes_ = bytes;
    return Status::success();
  }

  Status upload(const void* host, size_t bytes) {
    KQ_RETURN_IF_ERROR(allocate(bytes));
    return cuda_status(cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy host->device");
  }

  Status download(void* host, size_t bytes) const {
    return cuda_status(cudaMemcpy(host, ptr_, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy device->host");
  }

  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Launch errors surface at the next sync; checking both places names the failing kernel.
inline Status cuda_check_launch(const char* kernel) {
  KQ_RETURN_IF_ERROR(cuda_status(cudaGetLastError(), kernel));
  return cuda_status(cudaDeviceSynchronize(), kernel);
}

// A device word kernels set to nonzero when they meet NaN/Inf (x − x is NaN exactly then).
inline Status zeroed_flag(DeviceBuffer* flag) {
  KQ_RETURN_IF_ERROR(flag->allocate(sizeof(uint32_t)));
  KQ_CUDA_TRY(cudaMemset(flag->as<uint32_t>(), 0, sizeof(uint32_t)));
  return Status::success();
}

// The CPU drivers' error for a flagged input, naming the first bad element of the host copy.
inline Status check_flag(const DeviceBuffer& flag, const float* host_src, int64_t n) {
  uint32_t set = 0;
  KQ_RETURN_IF_ERROR(flag.download(&set, sizeof set));
  return set ? non_finite_error(host_src, n) : Status::success();
}

}  // namespace kq
