// Glue for f32 <-> f16/bf16 conversion: (src, dst, kind, device, async).
#include "args.h"
#include "async_job.h"
#include "ops/convert/convert.h"
#include "register.h"

namespace kq::napi {
namespace {

Napi::Value to_half(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array(info, 0, "src", napi_float32_array);
  const ArrayArg dst = typed_array(info, 1, "dst", napi_uint16_array);
  const auto kind = static_cast<convert::Half>(int_arg(info, 2, "kind", 0, 1));
  const Device device = device_arg(info, 3);
  const bool async = bool_arg(info, 4, "async");
  require_arg(env, src.length == dst.length, "dst must have as many elements as src");
  auto work = [=] {
    return convert::to_half(static_cast<const float*>(src.data), static_cast<uint16_t*>(dst.data), src.length,
                            kind, device);
  };
  return run_op(env, async, "kquant.toHalf", work, {info[0], info[1]});
}

Napi::Value from_half(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array(info, 0, "src", napi_uint16_array);
  const ArrayArg dst = typed_array(info, 1, "dst", napi_float32_array);
  const auto kind = static_cast<convert::Half>(int_arg(info, 2, "kind", 0, 1));
  const Device device = device_arg(info, 3);
  const bool async = bool_arg(info, 4, "async");
  require_arg(env, src.length == dst.length, "dst must have as many elements as src");
  auto work = [=] {
    return convert::from_half(static_cast<const uint16_t*>(src.data), static_cast<float*>(dst.data), src.length,
                              kind, device);
  };
  return run_op(env, async, "kquant.fromHalf", work, {info[0], info[1]});
}

}  // namespace

void register_convert(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"toHalf", to_half},
                                  {"fromHalf", from_half}});
}

}  // namespace kq::napi
