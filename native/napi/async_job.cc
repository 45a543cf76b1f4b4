#include "async_job.h"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "args.h"

namespace kq::napi {
namespace {

// One job thread for the process: jobs run one after another, each already using every core.
class JobThread {
 public:
  void submit(std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_) {
      std::thread([this] { loop(); }).detach();
      started_ = true;
    }
    queue_.push_back(std::move(job));
    ready_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool started_ = false;
};

JobThread& job_thread() {
  static JobThread* instance = new JobThread();  // lives as long as the process, like the pool
  return *instance;
}

// Jobs in flight for one environment; its teardown waits for them so buffers outlive the kernels.
struct EnvJobs {
  std::mutex mutex;
  std::condition_variable idle;
  int in_flight = 0;
};

struct Job {
  Napi::Promise::Deferred deferred;
  std::vector<Napi::Reference<Napi::Value>> keep_alive;
  Status status;
  std::shared_ptr<EnvJobs> env_jobs;
  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

void settle(Napi::Env env, Napi::Function, void*, Job* job) {
  // Environment torn down: its handles are gone with it, so the job is left unfreed rather than
  // deleting references into a dead environment.
  if (env == nullptr) return;
  std::unique_ptr<Job> owned(job);
  Napi::HandleScope scope(env);
  if (owned->status.ok())
    owned->deferred.Resolve(env.Undefined());
  else
    owned->deferred.Reject(status_error_value(env, owned->status));
}

using SettleFn = Napi::TypedThreadSafeFunction<void, Job, settle>;

std::shared_ptr<EnvJobs>& env_jobs(Napi::Env env) {
  auto* slot = env.GetInstanceData<std::shared_ptr<EnvJobs>>();
  return *slot;
}

}  // namespace

void init_async(Napi::Env env) {
  auto jobs = std::make_shared<EnvJobs>();
  env.SetInstanceData(new std::shared_ptr<EnvJobs>(jobs));
  // The hook owns its own handle on the counter: instance data may be finalized before hooks run.
  napi_add_env_cleanup_hook(
      env,
      [](void* data) {
        std::unique_ptr<std::shared_ptr<EnvJobs>> hook_jobs(static_cast<std::shared_ptr<EnvJobs>*>(data));
        EnvJobs& j = **hook_jobs;
        std::unique_lock<std::mutex> lock(j.mutex);
        j.idle.wait(lock, [&] { return j.in_flight == 0; });
      },
      new std::shared_ptr<EnvJobs>(jobs));
}

Napi::Value run_op(Napi::Env env, bool async, const char* name, Work work,
                   const std::vector<Napi::Value>& keep_alive) {
  if (!async) {
    const Status status = work();
    if (!status.ok()) throw status_error(env, status);
    return env.Undefined();
  }
  auto job = std::make_unique<Job>(env);
  // Only objects can be referenced (an absent optional argument arrives as null).
  for (const Napi::Value& v : keep_alive)
    if (v.IsObject()) job->keep_alive.push_back(Napi::Persistent(v));
  job->env_jobs = env_jobs(env);
  Napi::Promise promise = job->deferred.Promise();
  SettleFn settle_fn = SettleFn::New(env, name, 0, 1);
  {
    std::lock_guard<std::mutex> lock(job->env_jobs->mutex);
    ++job->env_jobs->in_flight;
  }
  job_thread().submit([job = job.release(), work = std::move(work), settle_fn]() mutable {
    job->status = work();
    std::shared_ptr<EnvJobs> jobs = job->env_jobs;
    // If the environment is closing the call fails; the job's handles die with the environment.
    settle_fn.BlockingCall(job);
    settle_fn.Release();
    std::lock_guard<std::mutex> lock(jobs->mutex);
    if (--jobs->in_flight == 0) jobs->idle.notify_all();
  });
  return promise;
}

}  // namespace kq::napi
