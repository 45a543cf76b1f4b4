// Glue for the ternary family: the BitNet quantizers, dequantizer and trit packings (ops/ternary/quantize.h)
// and the ternary GEMV (ops/ternary/ternary.h). ternaryPrepare fills a weights handle (weights.h, kind
// "ternary") with the bit planes, on the job thread when async; ternaryMatmul reads it. Lengths are checked here or
// in ternary::prepare, so no JS argument can make a kernel read out of bounds; lib/ops/ternary.ts validates
// fully first.
#include "args.h"
#include "async_job.h"
#include "ops/ternary/quantize.h"
#include "ops/ternary/ternary.h"
#include "register.h"
#include "weights.h"

namespace kq::napi {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;
constexpr const char* kKind = "ternary";

// ternaryQuantize(w f32 [n·k], n, k, scheme 0 ternary | 1 binary, perRow, trits i8 [n·k], scales f32 [1 | n],
//                 device, async)
Napi::Value quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg w = typed_array(info, 0, "w", napi_float32_array);
  ternary::QuantizeArgs args;
  args.n = int_arg(info, 1, "n", 1, kMaxDim);
  args.k = int_arg(info, 2, "k", 1, kMaxDim);
  args.scheme = static_cast<ternary::Scheme>(int_arg(info, 3, "scheme", 0, 1));
  args.per_row = bool_arg(info, 4, "perRow");
  const ArrayArg trits = typed_array(info, 5, "trits", napi_int8_array);
  const ArrayArg scales = typed_array(info, 6, "scales", napi_float32_array);
  args.device = device_arg(info, 7);
  const bool async = bool_arg(info, 8, "async");
  const long double count = static_cast<long double>(args.n) * args.k;
  require_arg(env, w.length == count && trits.length == count, "w and trits must have n * k elements");
  require_arg(env, scales.length == (args.per_row ? args.n : 1), "scales must have n (per row) or 1 elements");
  args.w = static_cast<const float*>(w.data);
  args.trits = static_cast<int8_t*>(trits.data);
  args.scales = static_cast<float*>(scales.data);
  return run_op(env, async, "kquant.quantizeTernary", [args] { return ternary::quantize(args); },
                {info[0], info[5], info[6]});
}

// ternaryDequantize(trits i8 [n·k], scales f32 [1 | n], n, k, out f32 [n·k], device, async)
Napi::Value dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg trits = typed_array(info, 0, "trits", napi_int8_array);
  const ArrayArg scales = typed_array(info, 1, "scales", napi_float32_array);
  ternary::DequantizeArgs args;
  args.n = int_arg(info, 2, "n", 1, kMaxDim);
  args.k = int_arg(info, 3, "k", 1, kMaxDim);
  const ArrayArg out = typed_array(info, 4, "out", napi_float32_array);
  args.device = device_arg(info, 5);
  const bool async = bool_arg(info, 6, "async");
  const long double count = static_cast<long double>(args.n) * args.k;
  require_arg(env, trits.length == count && out.length == count, "trits and out must have n * k elements");
  args.trits = static_cast<const int8_t*>(trits.data);
  args.scales = static_cast<const float*>(scales.data);
  args.scales_len = scales.length;
  args.out = static_cast<float*>(out.data);
  return run_op(env, async, "kquant.dequantizeTernary", [args] { return ternary::dequantize(args); },
                {info[0], info[1], info[4]});
}

// ternaryPack(trits i8, packing 0 2bit | 1 base3, bytes u8 [⌈count / per byte⌉]); synchronous (memory-bound)
Napi::Value pack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg trits = typed_array(info, 0, "trits", napi_int8_array);
  const auto packing = static_cast<ternary::Packing>(int_arg(info, 1, "packing", 0, 1));
  const ArrayArg bytes = typed_array(info, 2, "bytes", napi_uint8_array);
  require_arg(env, bytes.length == ternary::packed_bytes(trits.length, packing), "bytes has the wrong length");
  const auto* src = static_cast<const int8_t*>(trits.data);
  auto* dst = static_cast<uint8_t*>(bytes.data);
  const int64_t count = trits.length;
  return run_op(env, false, "kquant.packTrits", [=] { return ternary::pack_trits(src, count, packing, dst); }, {});
}

// ternaryUnpack(bytes u8, count, packing 0 2bit | 1 base3, trits i8 [count]); synchronous
Napi::Value unpack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg bytes = typed_array(info, 0, "bytes", napi_uint8_array);
  const int64_t count = int_arg(info, 1, "count", 0, int64_t(1) << 50);
  const auto packing = static_cast<ternary::Packing>(int_arg(info, 2, "packing", 0, 1));
  const ArrayArg trits = typed_array(info, 3, "trits", napi_int8_array);
  require_arg(env, bytes.length == ternary::packed_bytes(count, packing), "bytes has the wrong length");
  require_arg(env, trits.length == count, "trits must have count elements");
  const auto* src = static_cast<const uint8_t*>(bytes.data);
  auto* dst = static_cast<int8_t*>(trits.data);
  return run_op(env, false, "kquant.unpackTrits", [=] { return ternary::unpack_trits(src, count, packing, dst); }, {});
}

// ternaryPrepare(handle, trits i8 [n·k], scales f32 [1 | n], n, k, async)
Napi::Value prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<WeightsHolder> holder = weights_arg(info, 0);
  const ArrayArg trits = typed_array(info, 1, "trits", napi_int8_array);
  const ArrayArg scales = typed_array(info, 2, "scales", napi_float32_array);
  ternary::TritTensor t;
  t.n = int_arg(info, 3, "n", 1, kMaxDim);
  t.k = int_arg(info, 4, "k", 1, kMaxDim);
  const bool async = bool_arg(info, 5, "async");
  require_arg(env, holder->kind == kKind && !holder->data, "Expected a new ternary weights handle");
  t.trits = static_cast<const int8_t*>(trits.data);
  t.trits_len = trits.length;
  t.scales = static_cast<const float*>(scales.data);
  t.scales_len = scales.length;
  auto work = [holder, t] {
    std::shared_ptr<ternary::PreparedTernary> w;
    KQ_RETURN_IF_ERROR(ternary::prepare(t, holder->device, &w));
    hold_prepared(*holder, std::move(w));
    return Status::success();
  };
  return run_op(env, async, "kquant.ternaryPrepare", work, {info[1], info[2]});
}

// ternaryMatmul(handle, x f32 [m·k], m, y f32 [m·n], async)
Napi::Value matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<const ternary::PreparedTernary> w =
      prepared_weights<ternary::PreparedTernary>(info, 0, kKind);
  const ArrayArg x = typed_array(info, 1, "x", napi_float32_array);
  const int64_t m = int_arg(info, 2, "m", 0, kMaxDim);
  const ArrayArg y = typed_array(info, 3, "y", napi_float32_array);
  const bool async = bool_arg(info, 4, "async");
  require_arg(env, is_product(x.length, m, w->k), "x must have m * k elements");
  require_arg(env, is_product(y.length, m, w->n), "y must have m * n elements");
  ternary::MatmulArgs args;
  args.x = static_cast<const float*>(x.data);
  args.m = m;
  args.y = static_cast<float*>(y.data);
  // The job holds its own reference on the weights: a dispose() meanwhile frees them after the call.
  return run_op(env, async, "kquant.ternaryMatmul", [w, args] { return ternary::matmul(*w, args); }, {info[1], info[3]});
}

}  // namespace

void register_ternary(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"ternaryQuantize", quantize},
                                  {"ternaryDequantize", dequantize},
                                  {"ternaryPack", pack},
                                  {"ternaryUnpack", unpack},
                                  {"ternaryPrepare", prepare},
                                  {"ternaryMatmul", matmul}});
}

}  // namespace kq::napi
