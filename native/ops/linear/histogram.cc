// |x| histogram for calibration observers. Scalar only: it runs once per calibration batch, off the
// inference path, so threads are its only speed-up (each thread fills its own partial histogram).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../../core/thread_pool.h"
#include "linear.h"

namespace kq::linear {

Status histogram_abs(const float* src, int64_t n, float range, int64_t bins, double* counts) {
  if (n < 0 || bins < 1) return error(Code::invalid_argument, "histogram needs n >= 0 and bins >= 1");
  if (!(std::isfinite(range) && range > 0.0f))
    return error(Code::invalid_argument, "histogram range must be finite and > 0");
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(thread_count() * 2, n / 65536));
  std::vector<std::vector<double>> partial(tasks, std::vector<double>(bins, 0.0));
  std::vector<int64_t> first_bad(tasks, -1);
  const double per_unit = static_cast<double>(bins) / range;
  const int64_t per_task = (n + tasks - 1) / tasks;
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      std::vector<double>& h = partial[t];
      const int64_t end = std::min(n, (t + 1) * per_task);
      for (int64_t i = t * per_task; i < end; ++i) {
        const float a = std::fabs(src[i]);
        if (!std::isfinite(a)) {
          first_bad[t] = i;
          break;
        }
        h[std::min<int64_t>(bins - 1, static_cast<int64_t>(a * per_unit))] += 1.0;
      }
    }
  });
  for (int64_t t = 0; t < tasks; ++t)
    if (first_bad[t] >= 0)
      return error(Code::non_finite, "src[" + std::to_string(first_bad[t]) + "] is " +
                                         (std::isnan(src[first_bad[t]]) ? "NaN" : "infinite") +
                                         "; calibration needs finite values");
  for (int64_t t = 0; t < tasks; ++t)
    for (int64_t b = 0; b < bins; ++b) counts[b] += partial[t][b];
  return Status::success();
}

}  // namespace kq::linear
