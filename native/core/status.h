// Status codes returned by every kernel entry point. Kernels never throw or abort: a Node service must
// survive bad input, so the N-API glue turns a Status into a KquantError with the code's stable name.
#pragma once
#include <cstdint>
#include <string>
#include <utility>

namespace kq {

// Pinned numbers: lib/errors.ts maps them to 'KQ_*' strings; keep both lists in this order.
enum class Code : int32_t {
  ok = 0,
  invalid_argument = 1,  // KQ_INVALID_ARGUMENT: a value out of its allowed range
  shape = 2,             // KQ_SHAPE: shape/axis/block size inconsistent with the data
  dtype = 3,             // KQ_DTYPE: wrong element type
  length = 4,            // KQ_LENGTH: buffer length does not match the shape
  non_finite = 5,        // KQ_NON_FINITE: NaN or Inf where finite numbers are required
  too_large = 6,         // KQ_TOO_LARGE: a size past what the op supports
  cuda_unavailable = 7,  // KQ_CUDA_UNAVAILABLE: CUDA asked for explicitly but not usable
  cuda_error = 8,        // KQ_CUDA: a CUDA runtime call failed
  out_of_memory = 9,     // KQ_OUT_OF_MEMORY: host or device allocation failed
  internal = 10,         // KQ_INTERNAL: a bug in kquant
};

struct Status {
  Code code = Code::ok;
  std::string message;

  bool ok() const { return code == Code::ok; }
  static Status success() { return {}; }
};

inline Status error(Code code, std::string message) { return Status{code, std::move(message)}; }

}  // namespace kq

// Propagates a failed Status to the caller.
#define KQ_RETURN_IF_ERROR(expr)        \
  do {                                  \
    ::kq::Status kq_status_ = (expr);   \
    if (!kq_status_.ok()) return kq_status_; \
  } while (0)
