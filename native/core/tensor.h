// A strided view of memory that kquant does not own. Ops take views so that JS TypedArrays, plain C++
// buffers and (later) device buffers all reach kernels the same way; indexing is 64-bit throughout so
// tensors past 2^31 elements are addressed correctly.
#pragma once
#include <cstdint>

#include "dtype.h"
#include "status.h"

namespace kq {

enum class Device : int32_t { cpu = 0, cuda = 1 };

constexpr int kMaxDims = 8;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};  // in elements, not bytes

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    return n;
  }

  bool contiguous() const {
    int64_t expected = 1;
    for (int d = ndim - 1; d >= 0; --d) {
      if (shape[d] != 1 && strides[d] != expected) return false;
      expected *= shape[d];
    }
    return true;
  }

  template <typename T>
  T* as() const { return static_cast<T*>(data); }
};

// A contiguous row-major view; fails on negative dims, too many dims or element counts that overflow.
Status make_contiguous_view(void* data, DType dtype, const int64_t* shape, int ndim, TensorView* out);

}  // namespace kq
