// Glue for ggml's legacy block types (ops/ggml/ggml.h). Buffer lengths are checked here against the element
// count and the type's block layout, so no JS argument can make a kernel read or write out of bounds;
// lib/ops/ggml.ts maps type names to ggml ids.
#include <string>

#include "args.h"
#include "async_job.h"
#include "ops/ggml/ggml.h"
#include "register.h"

namespace kq::napi {
namespace {

const ggml::TypeInfo& type_arg(const Napi::CallbackInfo& info, size_t index) {
  const int64_t id = int_arg(info, index, "type", 0, 1023);
  const ggml::TypeInfo* t = ggml::type_info(static_cast<int32_t>(id));
  if (t == nullptr)
    throw status_error(info.Env(), error(Code::invalid_argument,
                                         "ggml type id " + std::to_string(id) + " is not implemented"));
  return *t;
}

// ggmlQuantize(type, src f32, dst u8, device, async): src.length a multiple of the block size,
// dst.length = src.length / blockSize · typeSize.
Napi::Value quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ggml::TypeInfo& t = type_arg(info, 0);
  const ArrayArg src = typed_array(info, 1, "src", napi_float32_array);
  const ArrayArg dst = typed_array(info, 2, "dst", napi_uint8_array);
  const Device device = device_arg(info, 3);
  const bool async = bool_arg(info, 4, "async");
  require_arg(env, src.length % t.block_size == 0, "src length must be a multiple of the block size");
  require_arg(env, dst.length == src.length / t.block_size * t.type_size, "dst must have n / blockSize blocks");
  const int32_t id = static_cast<int32_t>(t.type);
  auto work = [=] {
    return ggml::quantize(id, static_cast<const float*>(src.data), src.length, static_cast<uint8_t*>(dst.data),
                          device);
  };
  return run_op(env, async, "kquant.ggmlQuantize", work, {info[1], info[2]});
}

// ggmlQuantizeChunk(type, src f32, rows, rowLength, imatrix f32 [rowLength] | null, dst u8, async):
// ggml_quantize_chunk over whole rows.
Napi::Value quantize_chunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ggml::TypeInfo& t = type_arg(info, 0);
  const ArrayArg src = typed_array(info, 1, "src", napi_float32_array);
  const int64_t rows = int_arg(info, 2, "rows", 0, int64_t(1) << 40);
  const int64_t row_length = int_arg(info, 3, "rowLength", 1, int64_t(1) << 40);
  const ArrayArg imatrix = typed_array_of(info, 4, "imatrix", {napi_float32_array}, true);
  const ArrayArg dst = typed_array(info, 5, "dst", napi_uint8_array);
  const bool async = bool_arg(info, 6, "async");
  require_arg(env, row_length % t.block_size == 0, "rowLength must be a multiple of the block size");
  require_arg(env, static_cast<long double>(rows) * row_length == src.length, "src must have rows * rowLength elements");
  require_arg(env, !imatrix.data || imatrix.length == row_length, "imatrix must have rowLength elements");
  require_arg(env, dst.length == src.length / t.block_size * t.type_size, "dst must have n / blockSize blocks");
  const int32_t id = static_cast<int32_t>(t.type);
  auto work = [=] {
    return ggml::quantize_chunk(id, static_cast<const float*>(src.data), rows, row_length,
                                static_cast<const float*>(imatrix.data), static_cast<uint8_t*>(dst.data));
  };
  return run_op(env, async, "kquant.ggmlQuantizeChunk", work, {info[1], info[4], info[5]});
}

// ggmlDequantize(type, src u8, dst f32, device, async): dst.length a multiple of the block size,
// src.length = dst.length / blockSize · typeSize.
Napi::Value dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ggml::TypeInfo& t = type_arg(info, 0);
  const ArrayArg src = typed_array(info, 1, "src", napi_uint8_array);
  const ArrayArg dst = typed_array(info, 2, "dst", napi_float32_array);
  const Device device = device_arg(info, 3);
  const bool async = bool_arg(info, 4, "async");
  require_arg(env, dst.length % t.block_size == 0, "dst length must be a multiple of the block size");
  require_arg(env, src.length == dst.length / t.block_size * t.type_size, "src must have n / blockSize blocks");
  const int32_t id = static_cast<int32_t>(t.type);
  auto work = [=] {
    return ggml::dequantize(id, static_cast<const uint8_t*>(src.data), dst.length, static_cast<float*>(dst.data),
                            device);
  };
  return run_op(env, async, "kquant.ggmlDequantize", work, {info[1], info[2]});
}

// ggmlTypeInfo(type) -> { id, name, blockSize, typeSize }
Napi::Value type_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ggml::TypeInfo& t = type_arg(info, 0);
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", Napi::Number::New(env, static_cast<int32_t>(t.type)));
  out.Set("name", Napi::String::New(env, t.name));
  out.Set("blockSize", Napi::Number::New(env, static_cast<double>(t.block_size)));
  out.Set("typeSize", Napi::Number::New(env, static_cast<double>(t.type_size)));
  return out;
}

}  // namespace

void register_ggml(Napi::Env env, Napi::Object exports) {
  exports.Set("ggmlQuantize", Napi::Function::New(env, quantize, "ggmlQuantize"));
  exports.Set("ggmlQuantizeChunk", Napi::Function::New(env, quantize_chunk, "ggmlQuantizeChunk"));
  exports.Set("ggmlDequantize", Napi::Function::New(env, dequantize, "ggmlDequantize"));
  exports.Set("ggmlTypeInfo", Napi::Function::New(env, type_info, "ggmlTypeInfo"));
}

}  // namespace kq::napi
