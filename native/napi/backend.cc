// backend(): what the running process can use — SIMD level, threads, CUDA and its devices.
#include <string>

#include "args.h"
#include "core/cpu_features.h"
#include "core/cuda_runtime.h"
#include "core/parallel_copy.h"
#include "core/thread_pool.h"
#include "register.h"

namespace kq::napi {
namespace {

Napi::Value backend_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("simd", simd_level_name(simd_level()));
  out.Set("simdBest", simd_level_name(best_simd_level()));
  out.Set("simdNote", simd_level_note());
  out.Set("threads", thread_count());
  out.Set("threadsMax", thread_pool_size());
  const CpuFeatures& f = cpu_features();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("avx2", f.avx2);
  cpu.Set("avx512", f.avx512);
  cpu.Set("avx512vnni", f.avx512_vnni);
  cpu.Set("avx512bf16", f.avx512_bf16);
  out.Set("cpu", cpu);

  const CudaInfo& c = cuda_info();
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", c.compiled);
  cuda.Set("available", c.available);
  cuda.Set("reason", c.reason);
  cuda.Set("runtimeVersion", c.runtime_version);
  cuda.Set("driverVersion", c.driver_version);
  Napi::Array devices = Napi::Array::New(env, c.devices.size());
  for (size_t i = 0; i < c.devices.size(); ++i) {
    const CudaDeviceInfo& d = c.devices[i];
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("index", d.index);
    dev.Set("name", d.name);
    dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    dev.Set("totalMemory", static_cast<double>(d.total_memory));
    dev.Set("multiprocessors", d.multiprocessors);
    devices.Set(static_cast<uint32_t>(i), dev);
  }
  cuda.Set("devices", devices);
  out.Set("cuda", cuda);
  return out;
}

Napi::Value set_threads(const Napi::CallbackInfo& info) {
  set_thread_limit(static_cast<int>(int_arg(info, 0, "threads", 1, thread_pool_size())));
  return info.Env().Undefined();
}

Napi::Value set_simd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "Expected 'scalar', 'avx2' or 'avx512' for level");
  SimdLevel level;
  require_arg(env, parse_simd_level(info[0].As<Napi::String>().Utf8Value(), &level),
              "Expected 'scalar', 'avx2' or 'avx512' for level");
  const Status status = set_simd_level(level);
  if (!status.ok()) throw status_error(env, status);
  return env.Undefined();
}

// copy(src u8, dst u8): the thread pool's memcpy, for benchmarks' bandwidth ceiling.
Napi::Value copy(const Napi::CallbackInfo& info) {
  const ArrayArg src = typed_array(info, 0, "src", napi_uint8_array);
  const ArrayArg dst = typed_array(info, 1, "dst", napi_uint8_array);
  require_arg(info.Env(), src.length == dst.length, "dst must have as many bytes as src");
  parallel_copy(dst.data, src.data, static_cast<size_t>(src.length));
  return info.Env().Undefined();
}

}  // namespace

void register_backend(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"backendInfo", backend_info},
                                  {"setSimd", set_simd},
                                  {"setThreads", set_threads},
                                  {"copy", copy}});
}

}  // namespace kq::napi
