// One persistent pool of worker threads for the whole process, sized to the cores (KQUANT_THREADS
// overrides). Kernels split work with parallel_for; the calling thread takes part, so a pool of N
// threads has N-1 workers. Concurrent callers (async jobs, worker_threads) take turns: each op already
// uses every core, so running two at once would only thrash caches.
#pragma once
#include <cstdint>
#include <functional>

namespace kq {

// Calls body(begin, end) over [0, count) in chunks of at least `grain` items, on all pool threads.
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

int thread_count();

}  // namespace kq
