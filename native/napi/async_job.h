// Runs an op either now (the Sync twin) or on kquant's job thread with a Promise (the async form).
// Async jobs do not occupy libuv's small pool (shared with fs, dns, crypto): a job thread hands each job
// to the kernels, which spread it over kquant's own thread pool, and a thread-safe function settles the
// promise on the JS thread. The typed arrays a job reads or writes are referenced until it settles.
#pragma once
#include <napi.h>

#include <functional>
#include <vector>

#include "core/status.h"

namespace kq::napi {

using Work = std::function<Status()>;

// Sync: runs `work` and throws a coded error on failure; returns undefined.
// Async: returns a Promise that resolves to undefined or rejects with the coded error.
// `keep_alive` are the JS values (typed arrays) the work touches.
Napi::Value run_op(Napi::Env env, bool async, const char* name, Work work, const std::vector<Napi::Value>& keep_alive);

// Registers the per-environment cleanup that waits for in-flight jobs (a worker thread ending mid-job).
void init_async(Napi::Env env);

}  // namespace kq::napi
