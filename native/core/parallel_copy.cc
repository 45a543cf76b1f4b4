#include "parallel_copy.h"

#include <cstdint>
#include <algorithm>
#include <cstring>

#include "thread_pool.h"

namespace kq {

void parallel_copy(void* dst, const void* src, size_t bytes) {
  constexpr int64_t kChunk = 1 << 20;  // large enough that per-chunk overhead vanishes next to the copy
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    const size_t begin = static_cast<size_t>(c0) * kChunk;
    const size_t end = std::min(bytes, static_cast<size_t>(c1) * kChunk);
    std::memcpy(static_cast<char*>(dst) + begin, static_cast<const char*>(src) + begin, end - begin);
  });
}

}  // namespace kq
