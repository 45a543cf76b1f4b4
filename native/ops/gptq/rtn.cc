// Round-to-nearest: the GPTQ quantizer on the original weight, group by group, with no error feedback (the
// baseline GPTQ is measured against, and `quantizeInt4` for callers without calibration data).
#include <algorithm>
#include <cmath>
#include <string>

#include "../../core/thread_pool.h"
#include "gptq.h"

namespace kq::gptq {

Status check_grid(const Grid& grid, int64_t group_size) {
  const int bits = grid.bits;
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    return error(Code::invalid_argument, "bits must be 2, 3, 4 or 8, got " + std::to_string(bits));
  if (group_size == 0 || group_size < -1)
    return error(Code::invalid_argument, "groupSize must be -1 or positive, got " + std::to_string(group_size));
  return Status::success();
}

Status quantize_rtn(const float* w, int64_t rows, int64_t cols, const Grid& grid, int64_t group_size,
                    const Outputs& out) {
  KQ_RETURN_IF_ERROR(check_grid(grid, group_size));
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i]))
      return error(Code::non_finite,
                   "weight[" + std::to_string(i / cols) + ", " + std::to_string(i % cols) + "] is not finite");
  const int64_t width = group_size <= 0 ? cols : group_size;
  const int64_t groups = group_count(cols, group_size);
  const int maxq = grid.maxq();
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t c0 = g * width, c1 = std::min(cols, c0 + width);
        float scale, zero;
        find_params(w + r * cols + c0, c1 - c0, grid, &scale, &zero);
        out.scales[r * groups + g] = scale;
        out.zeros[r * groups + g] = zero;
        for (int64_t c = c0; c < c1; ++c) {
          const int q = quantize_code(w[r * cols + c], scale, zero, maxq);
          out.codes[r * cols + c] = static_cast<uint8_t>(q);
          if (out.dequant) out.dequant[r * cols + c] = dequantize_code(q, scale, zero);
        }
      }
  });
  for (int64_t c = 0; c < cols; ++c) {
    out.g_idx[c] = static_cast<int32_t>(group_size <= 0 ? 0 : c / group_size);
    if (out.perm) out.perm[c] = static_cast<int32_t>(c);
  }
  return Status::success();
}

}  // namespace kq::gptq
