// memcpy spread over the thread pool: the memory-bandwidth ceiling benchmarks compare ops against,
// measured with the same threads the ops use.
#pragma once
#include <cstddef>

namespace kq {

void parallel_copy(void* dst, const void* src, size_t bytes);

}  // namespace kq
