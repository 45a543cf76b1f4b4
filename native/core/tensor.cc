#include "tensor.h"

#include <limits>
#include <string>

namespace kq {

Status make_contiguous_view(void* data, DType dtype, const int64_t* shape, int ndim, TensorView* out) {
  if (ndim < 0 || ndim > kMaxDims)
    return error(Code::shape, "shape has " + std::to_string(ndim) + " dims; at most " +
                                  std::to_string(kMaxDims) + " are supported");
  TensorView view;
  view.data = data;
  view.dtype = dtype;
  view.ndim = ndim;
  int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    if (shape[d] < 0) return error(Code::shape, "shape[" + std::to_string(d) + "] is negative");
    view.shape[d] = shape[d];
    view.strides[d] = stride;
    if (shape[d] != 0 && stride > std::numeric_limits<int64_t>::max() / shape[d])
      return error(Code::too_large, "shape's element count overflows 64 bits");
    stride *= shape[d];
  }
  *out = view;
  return Status::success();
}

}  // namespace kq
