// Glue for bitsandbytes' blockwise formats (ops/bnb/bnb.h). Every buffer length is checked here against
// n and the block size, so no JS argument can make a kernel read or write out of bounds; lib/ops/bnb.ts
// enforces bnb's allowed block sizes.
#include <cstring>
#include <limits>

#include "args.h"
#include "async_job.h"
#include "ops/bnb/bnb.h"
#include "register.h"

namespace kq::napi {
namespace {

constexpr int64_t kMaxBlocksize = std::numeric_limits<int64_t>::max();

int64_t blocks(int64_t n, int64_t blocksize) { return n / blocksize + (n % blocksize != 0); }

const float* code_arg(const Napi::CallbackInfo& info, size_t index) {
  const ArrayArg code = typed_array(info, index, "code", napi_float32_array);
  require_arg(info.Env(), code.length == 256, "code must have 256 entries");
  return static_cast<const float*>(code.data);
}

Napi::Float32Array float_array(Napi::Env env, const float* values, size_t count) {
  Napi::Float32Array array = Napi::Float32Array::New(env, count);
  std::memcpy(array.Data(), values, count * sizeof(float));
  return array;
}

// bnbQuantize4bit(src f32, blocksize, type, packed u8, absmax f32, device, async)
Napi::Value quantize_4bit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array(info, 0, "src", napi_float32_array);
  const int64_t n = src.length;
  const int64_t blocksize = int_arg(info, 1, "blocksize", 1, kMaxBlocksize);
  const auto type = static_cast<bnb::Quant4>(int_arg(info, 2, "type", 0, 1));
  const ArrayArg packed = typed_array(info, 3, "packed", napi_uint8_array);
  const ArrayArg absmax = typed_array(info, 4, "absmax", napi_float32_array);
  const Device device = device_arg(info, 5);
  const bool async = bool_arg(info, 6, "async");
  require_arg(env, packed.length == (n + 1) / 2, "packed must have (n + 1) / 2 bytes");
  require_arg(env, absmax.length == blocks(n, blocksize), "absmax must have one entry per block");
  auto work = [=] {
    return bnb::quantize_4bit(static_cast<const float*>(src.data), n, blocksize, type,
                              static_cast<uint8_t*>(packed.data), static_cast<float*>(absmax.data), device);
  };
  return run_op(env, async, "kquant.bnbQuantize4bit", work, {info[0], info[3], info[4]});
}

// bnbDequantize4bit(packed u8, n, blocksize, type, absmax f32, out f32, device, async)
Napi::Value dequantize_4bit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg packed = typed_array(info, 0, "packed", napi_uint8_array);
  const int64_t n = int_arg(info, 1, "n", 0, 2 * packed.length);
  const int64_t blocksize = int_arg(info, 2, "blocksize", 1, kMaxBlocksize);
  const auto type = static_cast<bnb::Quant4>(int_arg(info, 3, "type", 0, 1));
  const ArrayArg absmax = typed_array(info, 4, "absmax", napi_float32_array);
  const ArrayArg out = typed_array(info, 5, "out", napi_float32_array);
  const Device device = device_arg(info, 6);
  const bool async = bool_arg(info, 7, "async");
  require_arg(env, packed.length == (n + 1) / 2, "packed must have (n + 1) / 2 bytes");
  require_arg(env, absmax.length == blocks(n, blocksize), "absmax must have one entry per block");
  require_arg(env, out.length == n, "out must have n elements");
  auto work = [=] {
    return bnb::dequantize_4bit(static_cast<const uint8_t*>(packed.data), n, blocksize, type,
                                static_cast<const float*>(absmax.data), static_cast<float*>(out.data), device);
  };
  return run_op(env, async, "kquant.bnbDequantize4bit", work, {info[0], info[4], info[5]});
}

// bnbQuantize8bit(src f32, blocksize, code f32[256], codes u8, absmax f32, device, async)
Napi::Value quantize_8bit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array(info, 0, "src", napi_float32_array);
  const int64_t blocksize = int_arg(info, 1, "blocksize", 1, kMaxBlocksize);
  const float* code = code_arg(info, 2);
  const ArrayArg codes = typed_array(info, 3, "codes", napi_uint8_array);
  const ArrayArg absmax = typed_array(info, 4, "absmax", napi_float32_array);
  const Device device = device_arg(info, 5);
  const bool async = bool_arg(info, 6, "async");
  require_arg(env, codes.length == src.length, "codes must have as many elements as src");
  require_arg(env, absmax.length == blocks(src.length, blocksize), "absmax must have one entry per block");
  auto work = [=] {
    return bnb::quantize_8bit(static_cast<const float*>(src.data), src.length, blocksize, code,
                              static_cast<uint8_t*>(codes.data), static_cast<float*>(absmax.data), device);
  };
  return run_op(env, async, "kquant.bnbQuantize8bit", work, {info[0], info[2], info[3], info[4]});
}

// bnbDequantize8bit(codes u8, blocksize, code f32[256], absmax f32, out f32, device, async)
Napi::Value dequantize_8bit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg codes = typed_array(info, 0, "codes", napi_uint8_array);
  const int64_t blocksize = int_arg(info, 1, "blocksize", 1, kMaxBlocksize);
  const float* code = code_arg(info, 2);
  const ArrayArg absmax = typed_array(info, 3, "absmax", napi_float32_array);
  const ArrayArg out = typed_array(info, 4, "out", napi_float32_array);
  const Device device = device_arg(info, 5);
  const bool async = bool_arg(info, 6, "async");
  require_arg(env, absmax.length == blocks(codes.length, blocksize), "absmax must have one entry per block");
  require_arg(env, out.length == codes.length, "out must have as many elements as codes");
  auto work = [=] {
    return bnb::dequantize_8bit(static_cast<const uint8_t*>(codes.data), codes.length, blocksize, code,
                                static_cast<const float*>(absmax.data), static_cast<float*>(out.data), device);
  };
  return run_op(env, async, "kquant.bnbDequantize8bit", work, {info[0], info[2], info[3], info[4]});
}

// bnbQuantizeNested(absmax f32, nestedBlocksize, code f32[256], offsetGiven, offset f32[1] (in/out),
//                   qabsmax u8, absmax2 f32): sync only, the block scales are small.
Napi::Value quantize_nested(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg absmax = typed_array(info, 0, "absmax", napi_float32_array);
  const int64_t nested_blocksize = int_arg(info, 1, "nestedBlocksize", 1, kMaxBlocksize);
  const float* code = code_arg(info, 2);
  const bool offset_given = bool_arg(info, 3, "offsetGiven");
  const ArrayArg offset = typed_array(info, 4, "offset", napi_float32_array);
  const ArrayArg qabsmax = typed_array(info, 5, "qabsmax", napi_uint8_array);
  const ArrayArg absmax2 = typed_array(info, 6, "absmax2", napi_float32_array);
  require_arg(env, offset.length == 1, "offset must have one element");
  require_arg(env, qabsmax.length == absmax.length, "qabsmax must have as many elements as absmax");
  require_arg(env, absmax2.length == blocks(absmax.length, nested_blocksize),
              "absmax2 must have one entry per nested block");
  auto work = [=] {
    return bnb::quantize_nested(static_cast<const float*>(absmax.data), absmax.length, nested_blocksize, code,
                                offset_given, static_cast<float*>(offset.data), static_cast<uint8_t*>(qabsmax.data),
                                static_cast<float*>(absmax2.data));
  };
  return run_op(env, false, "kquant.bnbQuantizeNested", work, {});
}

// bnbDequantizeNested(qabsmax u8, nestedBlocksize, code f32[256], absmax2 f32, offset, out f32): sync only.
Napi::Value dequantize_nested(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg qabsmax = typed_array(info, 0, "qabsmax", napi_uint8_array);
  const int64_t nested_blocksize = int_arg(info, 1, "nestedBlocksize", 1, kMaxBlocksize);
  const float* code = code_arg(info, 2);
  const ArrayArg absmax2 = typed_array(info, 3, "absmax2", napi_float32_array);
  if (!info[4].IsNumber()) throw Napi::TypeError::New(env, "Expected a number for offset");
  const float offset = info[4].As<Napi::Number>().FloatValue();
  const ArrayArg out = typed_array(info, 5, "out", napi_float32_array);
  require_arg(env, absmax2.length == blocks(qabsmax.length, nested_blocksize),
              "absmax2 must have one entry per nested block");
  require_arg(env, out.length == qabsmax.length, "out must have as many elements as qabsmax");
  auto work = [=] {
    return bnb::dequantize_nested(static_cast<const uint8_t*>(qabsmax.data), qabsmax.length, nested_blocksize, code,
                                  static_cast<const float*>(absmax2.data), offset, static_cast<float*>(out.data));
  };
  return run_op(env, false, "kquant.bnbDequantizeNested", work, {});
}

// bnbPackCodes(indices u8 [n], bits, remap u8[256] | null, packed u8, async)
Napi::Value pack_codes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg indices = typed_array(info, 0, "indices", napi_uint8_array);
  const int bits = static_cast<int>(int_arg(info, 1, "bits", 3, 8));
  const ArrayArg remap = typed_array_of(info, 2, "remap", {napi_uint8_array}, true);
  const ArrayArg packed = typed_array(info, 3, "packed", napi_uint8_array);
  const bool async = bool_arg(info, 4, "async");
  const bool has_remap = !info[2].IsNull() && !info[2].IsUndefined();
  require_arg(env, !has_remap || remap.length == 256, "remap must have 256 entries");
  require_arg(env, packed.length == bnb::packed_code_bytes(indices.length, bits),
              "packed must have ceil(n * bits / 8) bytes for the n indices");
  auto work = [=] {
    return bnb::pack_codes(static_cast<const uint8_t*>(indices.data), indices.length, bits,
                           has_remap ? static_cast<const uint8_t*>(remap.data) : nullptr,
                           static_cast<uint8_t*>(packed.data));
  };
  return run_op(env, async, "kquant.bnbPackCodes", work, {info[0], info[2], info[3]});
}

// bnbUnpackCodes(packed u8, bits, limit, indices u8 [n], async)
Napi::Value unpack_codes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg packed = typed_array(info, 0, "packed", napi_uint8_array);
  const int bits = static_cast<int>(int_arg(info, 1, "bits", 3, 8));
  const int64_t limit = int_arg(info, 2, "limit", 1, 256);
  const ArrayArg indices = typed_array(info, 3, "indices", napi_uint8_array);
  const bool async = bool_arg(info, 4, "async");
  require_arg(env, packed.length == bnb::packed_code_bytes(indices.length, bits),
              "packed must have ceil(n * bits / 8) bytes for the n indices");
  auto work = [=] {
    return bnb::unpack_codes(static_cast<const uint8_t*>(packed.data), indices.length, bits, limit,
                             static_cast<uint8_t*>(indices.data));
  };
  return run_op(env, async, "kquant.bnbUnpackCodes", work, {info[0], info[3]});
}

// bnbCode4(type) -> Float32Array(16)
Napi::Value code4(const Napi::CallbackInfo& info) {
  const auto type = static_cast<bnb::Quant4>(int_arg(info, 0, "type", 0, 1));
  return float_array(info.Env(), bnb::code4(type), 16);
}

// bnbDynamicMap() -> Float32Array(256)
Napi::Value dynamic_map(const Napi::CallbackInfo& info) {
  return float_array(info.Env(), bnb::dynamic_map_signed(), 256);
}

}  // namespace

void register_bnb(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"bnbQuantize4bit", quantize_4bit},
                                  {"bnbDequantize4bit", dequantize_4bit},
                                  {"bnbQuantize8bit", quantize_8bit},
                                  {"bnbDequantize8bit", dequantize_8bit},
                                  {"bnbQuantizeNested", quantize_nested},
                                  {"bnbDequantizeNested", dequantize_nested},
                                  {"bnbPackCodes", pack_codes},
                                  {"bnbUnpackCodes", unpack_codes},
                                  {"bnbCode4", code4},
                                  {"bnbDynamicMap", dynamic_map}});
}

}  // namespace kq::napi
