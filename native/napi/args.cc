#include "args.h"

#include "register.h"

#include <string>

namespace kq::napi {

const char* code_name(Code code) {
  switch (code) {
    case Code::ok: return "KQ_OK";
    case Code::invalid_argument: return "KQ_INVALID_ARGUMENT";
    case Code::shape: return "KQ_SHAPE";
    case Code::dtype: return "KQ_DTYPE";
    case Code::length: return "KQ_LENGTH";
    case Code::non_finite: return "KQ_NON_FINITE";
    case Code::too_large: return "KQ_TOO_LARGE";
    case Code::cuda_unavailable: return "KQ_CUDA_UNAVAILABLE";
    case Code::cuda_error: return "KQ_CUDA";
    case Code::out_of_memory: return "KQ_OUT_OF_MEMORY";
    case Code::internal: return "KQ_INTERNAL";
  }
  return "KQ_INTERNAL";
}

Napi::Value status_error_value(Napi::Env env, const Status& status) {
  // napi_create_error sets `code` itself; plain N-API calls also work where no C++ exception may escape
  // (the thread-safe function that settles async jobs).
  napi_value code, message, err;
  napi_create_string_utf8(env, code_name(status.code), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, status.message.data(), status.message.size(), &message);
  napi_create_error(env, code, message, &err);
  return Napi::Value(env, err);
}

Napi::Error status_error(Napi::Env env, const Status& status) {
  return Napi::Error(env, status_error_value(env, status));
}

double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("Expected a number for ") + name);
  return info[index].As<Napi::Number>().DoubleValue();
}

bool is_product(int64_t length, int64_t a, int64_t b) {
  return static_cast<long double>(a) * static_cast<long double>(b) == static_cast<long double>(length);
}

void export_functions(Napi::Env env, Napi::Object exports, std::initializer_list<ExportedFunction> functions) {
  for (const ExportedFunction& f : functions) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
}

void require_arg(Napi::Env env, bool ok, const std::string& message) {
  if (ok) return;
  Napi::RangeError err = Napi::RangeError::New(env, message);
  err.Value().Set("code", Napi::String::New(env, code_name(Code::invalid_argument)));
  throw err;
}

static const char* typed_array_name(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    default: return "a typed array";
  }
}

ArrayArg typed_array_of(const Napi::CallbackInfo& info, size_t index, const char* name,
                        std::initializer_list<napi_typedarray_type> types, bool optional) {
  Napi::Env env = info.Env();
  const Napi::Value value = info[index];
  if (optional && (value.IsNull() || value.IsUndefined())) return {};
  std::string expected;
  for (napi_typedarray_type t : types) expected += std::string(expected.empty() ? "" : " or ") + typed_array_name(t);
  if (!value.IsTypedArray()) {
    Napi::TypeError err = Napi::TypeError::New(env, std::string("Expected ") + expected + " for " + name);
    err.Value().Set("code", Napi::String::New(env, code_name(Code::dtype)));
    throw err;
  }
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  bool allowed = false;
  for (napi_typedarray_type t : types) allowed = allowed || array.TypedArrayType() == t;
  if (!allowed) {
    Napi::TypeError err = Napi::TypeError::New(env, std::string("Expected ") + expected + " for " + name +
                                                        " but received " + typed_array_name(array.TypedArrayType()));
    err.Value().Set("code", Napi::String::New(env, code_name(Code::dtype)));
    throw err;
  }
  ArrayArg arg;
  arg.type = array.TypedArrayType();
  arg.length = static_cast<int64_t>(array.ElementLength());
  arg.data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return arg;
}

ArrayArg typed_array(const Napi::CallbackInfo& info, size_t index, const char* name, napi_typedarray_type type) {
  return typed_array_of(info, index, name, {type});
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  Napi::Env env = info.Env();
  const Napi::Value value = info[index];
  if (!value.IsNumber()) {
    Napi::TypeError err = Napi::TypeError::New(env, std::string("Expected an integer for ") + name);
    err.Value().Set("code", Napi::String::New(env, code_name(Code::invalid_argument)));
    throw err;
  }
  const double d = value.As<Napi::Number>().DoubleValue();
  require_arg(env, d == static_cast<double>(static_cast<int64_t>(d)) && d >= static_cast<double>(min) &&
                       d <= static_cast<double>(max),
              std::string("Expected an integer in [") + std::to_string(min) + ", " + std::to_string(max) +
                  "] for " + name);
  return static_cast<int64_t>(d);
}

bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  const Napi::Value value = info[index];
  if (!value.IsBoolean()) {
    Napi::TypeError err = Napi::TypeError::New(info.Env(), std::string("Expected a boolean for ") + name);
    err.Value().Set("code", Napi::String::New(info.Env(), code_name(Code::invalid_argument)));
    throw err;
  }
  return value.As<Napi::Boolean>().Value();
}

Device device_arg(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<Device>(int_arg(info, index, "device", 0, 1));
}

}  // namespace kq::napi
