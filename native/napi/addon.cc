// Entry point of the kquant addon. Context-aware: loads in the main thread and in worker_threads alike.
#include <napi.h>

#include "async_job.h"
#include "register.h"

namespace {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  kq::napi::init_async(env);
  kq::napi::register_backend(env, exports);
  kq::napi::register_convert(env, exports);
  kq::napi::register_linear(env, exports);
  kq::napi::register_bnb(env, exports);
  kq::napi::register_int8mm(env, exports);
  kq::napi::register_ggml(env, exports);
  kq::napi::register_gptq(env, exports);
  kq::napi::register_gptq_pack(env, exports);
  kq::napi::register_weights(env, exports);
  kq::napi::register_int4(env, exports);
  kq::napi::register_ternary(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(kquant, init)
