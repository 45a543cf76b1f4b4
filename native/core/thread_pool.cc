#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace kq {
namespace {

int configured_threads() {
  if (const char* env = std::getenv("KQUANT_THREADS")) {
    const int requested = std::atoi(env);
    if (requested >= 1) return std::min(requested, 1024);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Set on pool threads and on a caller while it takes part, so a nested parallel_for runs inline instead
// of waiting on the pool it is already part of.
thread_local bool inside_pool = false;

class ThreadPool {
 public:
  explicit ThreadPool(int threads) : size_(threads), limit_(threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }

  // The pool lives until process exit; joining at static destruction would race with Node's own
  // teardown, so threads are detached and simply stop with the process.
  ~ThreadPool() {
    for (auto& t : workers_) t.detach();
  }

  int size() const { return size_; }
  int limit() const { return limit_.load(); }
  void set_limit(int threads) { limit_.store(std::max(1, std::min(threads, size_))); }

  void run(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
    if (count <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int64_t chunks = (count + grain - 1) / grain;
    const int threads = limit_.load();
    if (threads == 1 || chunks == 1 || inside_pool) {
      body(0, count);
      return;
    }
    std::lock_guard<std::mutex> caller_turn(caller_mutex_);
    // Chunks several times the thread count balance uneven work without much scheduling overhead.
    const int64_t target_chunks = std::min<int64_t>(chunks, static_cast<int64_t>(threads) * 4);
    const int64_t chunk = (count + target_chunks - 1) / target_chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      count_ = count;
      chunk_ = chunk;
      next_.store(0);
      participants_ = threads;
      active_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    inside_pool = true;
    work();
    inside_pool = false;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return active_ == 0; });
    body_ = nullptr;
  }

 private:
  void work() {
    for (;;) {
      const int64_t begin = next_.fetch_add(chunk_);
      if (begin >= count_) return;
      (*body_)(begin, std::min(begin + chunk_, count_));
    }
  }

  // Worker `index` (1-based; the caller is 0) sits out runs limited to fewer threads.
  void worker_loop(int index) {
    inside_pool = true;
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
      }
      if (index < participants_) work();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_ == 0) done_.notify_one();
    }
  }

  const int size_;
  std::atomic<int> limit_;
  int participants_ = 1;  // written under mutex_ before a run's generation is published
  std::vector<std::thread> workers_;
  std::mutex caller_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t count_ = 0;
  int64_t chunk_ = 1;
  std::atomic<int64_t> next_{0};
  int active_ = 0;
  uint64_t generation_ = 0;
};

ThreadPool& pool() {
  // Leaked on purpose: see ~ThreadPool.
  static ThreadPool* instance = new ThreadPool(configured_threads());
  return *instance;
}

}  // namespace

void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  pool().run(count, grain, body);
}

int thread_count() { return pool().limit(); }

int thread_pool_size() { return pool().size(); }

void set_thread_limit(int threads) { pool().set_limit(threads); }

}  // namespace kq
