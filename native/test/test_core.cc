// The core every family builds on: contiguous views (shape checks, 64-bit overflow), dtype sizes, and the
// thread pool's coverage (each index exactly once, nested calls inline).
#include <atomic>
#include <cstdint>
#include <vector>

#include "../core/dtype.h"
#include "../core/tensor.h"
#include "../core/thread_pool.h"
#include "check.h"

namespace kq::test {

void core_suite() {
  TensorView view;
  const int64_t shape[3] = {4, 5, 6};
  Status st = make_contiguous_view(nullptr, DType::f32, shape, 3, &view);
  check(st.ok() && view.numel() == 120 && view.strides[0] == 30 && view.strides[1] == 6 && view.strides[2] == 1 &&
            view.contiguous(),
        "contiguous view of [4, 5, 6]");
  const int64_t big[2] = {int64_t{1} << 32, int64_t{1} << 30};
  st = make_contiguous_view(nullptr, DType::u8, big, 2, &view);
  check(st.ok() && view.numel() == int64_t{1} << 62 && view.strides[0] == int64_t{1} << 30,
        "a 2^62-element shape strides in 64 bits");
  const int64_t overflow[2] = {int64_t{1} << 40, int64_t{1} << 30};
  st = make_contiguous_view(nullptr, DType::u8, overflow, 2, &view);
  check(st.code == Code::too_large, "a shape whose element count overflows 64 bits is refused");
  const int64_t negative[2] = {3, -1};
  check(make_contiguous_view(nullptr, DType::f32, negative, 2, &view).code == Code::shape, "negative dim refused");
  const int64_t many[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  check(make_contiguous_view(nullptr, DType::f32, many, 9, &view).code == Code::shape, "more than 8 dims refused");

  check(dtype_size(DType::f32) == 4 && dtype_size(DType::bf16) == 2 && dtype_size(DType::i8) == 1 &&
            dtype_size(DType::u32) == 4 && dtype_valid(6) && !dtype_valid(7) && !dtype_valid(-1),
        "dtype sizes and range");

  for (int64_t count : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{100003}}) {
    for (int64_t grain : {int64_t{1}, int64_t{64}, int64_t{1} << 20}) {
      std::vector<std::atomic<int>> hits(count);
      std::atomic<int64_t> nested{0};
      parallel_for(count, grain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        parallel_for(2, 1, [&](int64_t nb, int64_t ne) { nested.fetch_add(ne - nb); });
      });
      bool once = true;
      for (auto& h : hits) once = once && h.load() == 1;
      check(once && nested.load() > 0, format("parallel_for(%lld, grain %lld) covers each index once",
                                              static_cast<long long>(count), static_cast<long long>(grain)));
    }
  }
}

}  // namespace kq::test
