// Each family's glue adds its functions to the addon's exports.
#pragma once
#include <napi.h>

#include <initializer_list>

namespace kq::napi {

struct ExportedFunction {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};

// exports[name] = a JS function named `name` calling fn, for each entry (args.cc).
void export_functions(Napi::Env env, Napi::Object exports, std::initializer_list<ExportedFunction> functions);

void register_backend(Napi::Env env, Napi::Object exports);
void register_convert(Napi::Env env, Napi::Object exports);
void register_linear(Napi::Env env, Napi::Object exports);
void register_bnb(Napi::Env env, Napi::Object exports);
void register_int8mm(Napi::Env env, Napi::Object exports);
void register_ggml(Napi::Env env, Napi::Object exports);
void register_gptq(Napi::Env env, Napi::Object exports);
void register_gptq_pack(Napi::Env env, Napi::Object exports);
void register_weights(Napi::Env env, Napi::Object exports);
void register_int4(Napi::Env env, Napi::Object exports);
void register_ternary(Napi::Env env, Napi::Object exports);

}  // namespace kq::napi
