// Glue for the linear int8 family. Layout arguments are [outer, channels, inner] (see ops/linear/linear.h);
// lib/ops/linear.ts derives them from shape, axis and block size.
#include <limits>

#include "args.h"
#include "async_job.h"
#include "ops/linear/linear.h"
#include "register.h"

namespace kq::napi {
namespace {

constexpr int64_t kMaxDim = std::numeric_limits<int64_t>::max();

linear::Layout layout_args(const Napi::CallbackInfo& info, size_t first) {
  linear::Layout layout;
  layout.outer = int_arg(info, first, "outer", 0, kMaxDim);
  layout.channels = int_arg(info, first + 1, "channels", 0, kMaxDim);
  layout.inner = int_arg(info, first + 2, "inner", 0, kMaxDim);
  return layout;
}

bool fits(const linear::Layout& layout, int64_t length) {
  const long double n = static_cast<long double>(layout.outer) * layout.channels * layout.inner;
  return n == static_cast<long double>(length);
}

// quantize(src f32, dst i8|u8, outer, channels, inner, scheme, paramsGiven, scales f32, zeroPoints i32|null,
//          device, async)
Napi::Value quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array(info, 0, "src", napi_float32_array);
  const ArrayArg dst = typed_array_of(info, 1, "dst", {napi_int8_array, napi_uint8_array});
  const linear::Layout layout = layout_args(info, 2);
  const auto scheme = static_cast<linear::Scheme>(int_arg(info, 5, "scheme", 0, 1));
  const bool params_given = bool_arg(info, 6, "paramsGiven");
  const ArrayArg scales = typed_array(info, 7, "scales", napi_float32_array);
  const ArrayArg zero_points = typed_array_of(info, 8, "zeroPoints", {napi_int32_array}, true);
  const Device device = device_arg(info, 9);
  const bool async = bool_arg(info, 10, "async");
  require_arg(env, fits(layout, src.length), "src length does not match the layout");
  require_arg(env, dst.length == src.length, "dst must have as many elements as src");
  require_arg(env, scales.length == layout.channels, "scales must have one entry per group");
  require_arg(env, !zero_points.data || zero_points.length == layout.channels,
              "zeroPoints must have one entry per group");
  require_arg(env, scheme == linear::Scheme::absmax || zero_points.data, "zero-point quantization needs zeroPoints");
  linear::QuantizeArgs args;
  args.src = static_cast<const float*>(src.data);
  args.dst = static_cast<uint8_t*>(dst.data);
  args.layout = layout;
  args.scheme = scheme;
  args.is_signed = dst.type == napi_int8_array;
  args.params_given = params_given;
  args.scales = static_cast<float*>(scales.data);
  args.zero_points = static_cast<int32_t*>(zero_points.data);
  args.device = device;
  return run_op(env, async, "kquant.quantize", [args] { return linear::quantize(args); },
                {info[0], info[1], info[7], info[8]});
}

// dequantize(src i8|u8, dst f32, outer, channels, inner, scales f32, zeroPoints i32|null, device, async)
Napi::Value dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array_of(info, 0, "values", {napi_int8_array, napi_uint8_array});
  const ArrayArg dst = typed_array(info, 1, "dst", napi_float32_array);
  const linear::Layout layout = layout_args(info, 2);
  const ArrayArg scales = typed_array(info, 5, "scales", napi_float32_array);
  const ArrayArg zero_points = typed_array_of(info, 6, "zeroPoints", {napi_int32_array}, true);
  const Device device = device_arg(info, 7);
  const bool async = bool_arg(info, 8, "async");
  require_arg(env, fits(layout, src.length), "values length does not match the layout");
  require_arg(env, dst.length == src.length, "dst must have as many elements as values");
  require_arg(env, scales.length == layout.channels, "scales must have one entry per group");
  require_arg(env, !zero_points.data || zero_points.length == layout.channels,
              "zeroPoints must have one entry per group");
  linear::DequantizeArgs args;
  args.src = static_cast<const uint8_t*>(src.data);
  args.is_signed = src.type == napi_int8_array;
  args.dst = static_cast<float*>(dst.data);
  args.layout = layout;
  args.scales = static_cast<const float*>(scales.data);
  args.zero_points = static_cast<const int32_t*>(zero_points.data);
  args.device = device;
  return run_op(env, async, "kquant.dequantize", [args] { return linear::dequantize(args); },
                {info[0], info[1], info[5], info[6]});
}

// minmax(src f32, outer, channels, inner, mins f32, maxs f32, device, async)
Napi::Value minmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array(info, 0, "src", napi_float32_array);
  const linear::Layout layout = layout_args(info, 1);
  const ArrayArg mins = typed_array(info, 4, "mins", napi_float32_array);
  const ArrayArg maxs = typed_array(info, 5, "maxs", napi_float32_array);
  const Device device = device_arg(info, 6);
  const bool async = bool_arg(info, 7, "async");
  require_arg(env, fits(layout, src.length), "src length does not match the layout");
  require_arg(env, mins.length == layout.channels && maxs.length == layout.channels,
              "mins and maxs must have one entry per group");
  auto work = [=] {
    return linear::minmax(static_cast<const float*>(src.data), layout, static_cast<float*>(mins.data),
                          static_cast<float*>(maxs.data), device);
  };
  return run_op(env, async, "kquant.minmax", work, {info[0], info[4], info[5]});
}

// params(scheme, isSigned, mins f32, maxs f32, scales f32 out, zeroPoints i32 out): the reference rule,
// so calibration observers in TypeScript derive parameters exactly as dynamic quantization does.
Napi::Value params(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto scheme = static_cast<linear::Scheme>(int_arg(info, 0, "scheme", 0, 1));
  const bool is_signed = bool_arg(info, 1, "isSigned");
  const ArrayArg mins = typed_array(info, 2, "mins", napi_float32_array);
  const ArrayArg maxs = typed_array(info, 3, "maxs", napi_float32_array);
  const ArrayArg scales = typed_array(info, 4, "scales", napi_float32_array);
  const ArrayArg zero_points = typed_array(info, 5, "zeroPoints", napi_int32_array);
  require_arg(env, maxs.length == mins.length && scales.length == mins.length && zero_points.length == mins.length,
              "mins, maxs, scales and zeroPoints must have the same length");
  const linear::QRange range = linear::qrange(scheme, is_signed);
  for (int64_t c = 0; c < mins.length; ++c)
    linear::params_from_range(scheme, range, static_cast<const float*>(mins.data)[c],
                              static_cast<const float*>(maxs.data)[c], &static_cast<float*>(scales.data)[c],
                              &static_cast<int32_t*>(zero_points.data)[c]);
  return env.Undefined();
}

// histogramAbs(src f32, range, counts f64 (added to), async)
Napi::Value histogram_abs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array(info, 0, "src", napi_float32_array);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "Expected a number for range");
  const float range = info[1].As<Napi::Number>().FloatValue();
  const ArrayArg counts = typed_array(info, 2, "counts", napi_float64_array);
  const bool async = bool_arg(info, 3, "async");
  require_arg(env, counts.length >= 1, "counts must have at least one bin");
  auto work = [=] {
    return linear::histogram_abs(static_cast<const float*>(src.data), src.length, range, counts.length,
                                 static_cast<double*>(counts.data));
  };
  return run_op(env, async, "kquant.histogramAbs", work, {info[0], info[2]});
}

}  // namespace

void register_linear(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"linearQuantize", quantize},
                                  {"linearDequantize", dequantize},
                                  {"linearMinmax", minmax},
                                  {"linearParams", params},
                                  {"histogramAbs", histogram_abs}});
}

}  // namespace kq::napi
