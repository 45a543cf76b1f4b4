// The scalar reference: the specification every other variant of the linear family is tested against.
#include <cfloat>
#include <cmath>

#include "linear.h"

namespace kq::linear {

QRange qrange(Scheme scheme, bool is_signed) {
  if (scheme == Scheme::absmax) return {-127, 127};
  return is_signed ? QRange{-128, 127} : QRange{0, 255};
}

void params_from_range(Scheme scheme, QRange range, float min, float max, float* scale, int32_t* zero_point) {
  min = std::fmin(min, 0.0f);
  max = std::fmax(max, 0.0f);
  if (scheme == Scheme::absmax) {
    const float absmax = std::fmax(-min, max);
    const float s = absmax == 0.0f ? 1.0f : static_cast<float>(range.qmax) / absmax;
    *scale = std::fmin(s, FLT_MAX);
    *zero_point = 0;
    return;
  }
  const float width = max - min;
  float s = width == 0.0f ? 1.0f : static_cast<float>(range.qmax - range.qmin) / width;
  s = std::fmin(s, FLT_MAX);
  *scale = s;
  // The seeds' rule z = qmin − round(s·min); min <= 0 keeps z inside [qmin, qmax].
  const float z = static_cast<float>(range.qmin) - std::nearbyint(s * min);
  *zero_point = static_cast<int32_t>(std::fmin(std::fmax(z, static_cast<float>(range.qmin)),
                                               static_cast<float>(range.qmax)));
}

namespace {

// x − x is 0 for finite x and NaN for NaN or ±Inf: one subtraction flags both.
inline void flag_non_finite(float x, uint32_t* non_finite) {
  if (std::isnan(x - x)) *non_finite = 1;
}

inline uint8_t quantize_one(float x, float scale, float zero, float qmin, float qmax) {
  const float product = x * scale;
  const float shifted = product + zero;
  const float clamped = std::fmin(std::fmax(std::nearbyint(shifted), qmin), qmax);
  return static_cast<uint8_t>(static_cast<int32_t>(clamped));
}

inline float stored_value(uint8_t q, bool is_signed) {
  return is_signed ? static_cast<float>(static_cast<int8_t>(q)) : static_cast<float>(q);
}

void minmax_run_ref(const float* x, int64_t n, float* min, float* max, uint32_t* non_finite) {
  float lo = x[0], hi = x[0];
  for (int64_t i = 0; i < n; ++i) {
    flag_non_finite(x[i], non_finite);
    lo = std::fmin(lo, x[i]);
    hi = std::fmax(hi, x[i]);
  }
  *min = lo;
  *max = hi;
}

void minmax_columns_ref(const float* x, int64_t channels, float* mins, float* maxs, uint32_t* non_finite) {
  for (int64_t c = 0; c < channels; ++c) {
    flag_non_finite(x[c], non_finite);
    mins[c] = std::fmin(mins[c], x[c]);
    maxs[c] = std::fmax(maxs[c], x[c]);
  }
}

void quantize_run_ref(const float* x, int64_t n, float scale, float zero, float qmin, float qmax, uint8_t* q,
                      uint32_t* non_finite) {
  for (int64_t i = 0; i < n; ++i) {
    flag_non_finite(x[i], non_finite);
    q[i] = quantize_one(x[i], scale, zero, qmin, qmax);
  }
}

void quantize_columns_ref(const float* x, int64_t channels, const float* scales, const float* zeros, float qmin,
                          float qmax, uint8_t* q, uint32_t* non_finite) {
  for (int64_t c = 0; c < channels; ++c) {
    flag_non_finite(x[c], non_finite);
    q[c] = quantize_one(x[c], scales[c], zeros[c], qmin, qmax);
  }
}

void dequantize_run_ref(const uint8_t* q, int64_t n, bool is_signed, float scale, float zero, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = (stored_value(q[i], is_signed) - zero) / scale;
}

void dequantize_columns_ref(const uint8_t* q, int64_t channels, bool is_signed, const float* scales,
                            const float* zeros, float* out) {
  for (int64_t c = 0; c < channels; ++c) out[c] = (stored_value(q[c], is_signed) - zeros[c]) / scales[c];
}

}  // namespace

const Kernels kernels_ref = {minmax_run_ref,     minmax_columns_ref,  quantize_run_ref,
                             quantize_columns_ref, dequantize_run_ref, dequantize_columns_ref};

}  // namespace kq::linear
