#include "finite.h"

#include <cmath>
#include <string>

namespace kq {

Status non_finite_error(const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(src[i] - src[i]))
      return error(Code::non_finite, "src[" + std::to_string(i) + "] is " +
                                         (std::isnan(src[i]) ? "NaN" : (src[i] > 0 ? "Infinity" : "-Infinity")) +
                                         "; quantization needs finite values");
  }
  return error(Code::internal, "a kernel flagged a non-finite value that a rescan did not find");
}

}  // namespace kq
