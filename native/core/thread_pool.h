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

// Threads a parallel_for uses now: the pool size unless set_thread_limit lowered it.
int thread_count();
// Threads the pool was created with (cores, or KQUANT_THREADS).
int thread_pool_size();
// Uses only the first `threads` (1 … pool size) from the next parallel_for on; benchmarks measure one thread
// and all in one process this way, and services can leave cores to other work.
void set_thread_limit(int threads);

}  // namespace kq
