#include "async_job.h"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
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

// Jobs in flight for one environment. Its cleanup hook waits for them: a worker thread terminated
// mid-job tears down its heap after the hooks, and the kernel must be done with the buffers by then.
struct EnvJobs {
  std::mutex mutex;
  std::condition_variable idle;
  int in_flight = 0;
};

// The job thread's use of a job's thread-safe function, shared with that function's finalizer. At
// environment teardown Node frees a thread-safe function whether or not threads still hold it; the
// finalizer waits here until the job thread is done, so the function is never touched after it is freed.
struct Handoff {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
};

struct Job {
  Napi::Promise::Deferred deferred;
  std::vector<Napi::Reference<Napi::Value>> keep_alive;
  Status status;
  std::shared_ptr<EnvJobs> env_jobs;
  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

void settle(napi_env raw_env, napi_value, void*, void* data) {
  // Environment torn down: its handles are gone with it, so the job is left unfreed rather than
  // deleting references into a dead environment.
  if (raw_env == nullptr) return;
  Napi::Env env(raw_env);
  std::unique_ptr<Job> job(static_cast<Job*>(data));
  Napi::HandleScope scope(env);
  if (job->status.ok())
    job->deferred.Resolve(env.Undefined());
  else
    job->deferred.Reject(status_error_value(env, job->status));
}

void wait_for_job_thread(napi_env, void* data, void*) {
  std::unique_ptr<std::shared_ptr<Handoff>> owned(static_cast<std::shared_ptr<Handoff>*>(data));
  Handoff& handoff = **owned;
  std::unique_lock<std::mutex> lock(handoff.mutex);
  handoff.finished.wait(lock, [&] { return handoff.done; });
}

std::shared_ptr<EnvJobs>& env_jobs(Napi::Env env) { return *env.GetInstanceData<std::shared_ptr<EnvJobs>>(); }

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
  Napi::Promise promise = job->deferred.Promise();
  job->env_jobs = env_jobs(env);

  auto handoff = std::make_shared<Handoff>();
  napi_threadsafe_function settle_fn = nullptr;
  const napi_status created = napi_create_threadsafe_function(
      env, nullptr, nullptr, Napi::String::New(env, name), 0, 1, new std::shared_ptr<Handoff>(handoff),
      wait_for_job_thread, nullptr, settle, &settle_fn);
  if (created != napi_ok) throw status_error(env, error(Code::internal, std::string(name) + ": cannot create the completion callback"));

  {
    std::lock_guard<std::mutex> lock(job->env_jobs->mutex);
    ++job->env_jobs->in_flight;
  }
  job_thread().submit([job = job.release(), work = std::move(work), settle_fn, handoff] {
    job->status = work();
    const std::shared_ptr<EnvJobs> jobs = job->env_jobs;
    // napi_closing: the environment is going away and the function may not be used again, not even released.
    if (napi_call_threadsafe_function(settle_fn, job, napi_tsfn_blocking) == napi_ok)
      napi_release_threadsafe_function(settle_fn, napi_tsfn_release);
    {
      std::lock_guard<std::mutex> lock(handoff->mutex);
      handoff->done = true;
      handoff->finished.notify_all();
    }
    std::lock_guard<std::mutex> lock(jobs->mutex);
    if (--jobs->in_flight == 0) jobs->idle.notify_all();
  });
  return promise;
}

}  // namespace kq::napi
