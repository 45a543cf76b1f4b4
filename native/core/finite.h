// The error every quantizer returns for NaN/Inf input, naming the first bad element, so all families and
// devices report it alike.
#pragma once
#include <cstdint>

#include "status.h"

namespace kq {

// Scans src[0..n) on the host (an error path, after a kernel flagged something) for the first NaN/Inf.
Status non_finite_error(const float* src, int64_t n);

}  // namespace kq
