// Glue for GPTQ (ops/gptq/gptq.h): Hessian accumulation, the solve and round-to-nearest. Buffer lengths are
// checked against the dimensions here so no JS argument can make a kernel read or write out of bounds;
// lib/ops/gptq.ts validates fully first.
#include "args.h"
#include "async_job.h"
#include "ops/gptq/gptq.h"
#include "register.h"

namespace kq::napi {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;

// gptqHessianAdd(h f32 [cols·cols], cols, samples, x f32|u16 [tokens·cols], input 0 f32 | 1 f16 | 2 bf16,
//                tokens, count, device, async)
Napi::Value hessian_add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg h = typed_array(info, 0, "h", napi_float32_array);
  const int64_t cols = int_arg(info, 1, "cols", 1, kMaxDim);
  const double samples = number_arg(info, 2, "samples");
  const int64_t input = int_arg(info, 4, "input", 0, 2);
  const ArrayArg x = typed_array(info, 3, "x", input == 0 ? napi_float32_array : napi_uint16_array);
  const int64_t tokens = int_arg(info, 5, "tokens", 0, kMaxDim);
  const double count = number_arg(info, 6, "count");
  const Device device = device_arg(info, 7);
  const bool async = bool_arg(info, 8, "async");
  require_arg(env, is_product(h.length, cols, cols), "h must have cols * cols elements");
  require_arg(env, is_product(x.length, tokens, cols), "x must have tokens * cols elements");
  const auto type = static_cast<gptq::Input>(input);
  auto work = [=] {
    return gptq::hessian_add(static_cast<float*>(h.data), cols, samples, x.data, type, tokens, count, device);
  };
  return run_op(env, async, "kquant.gptqHessianAdd", work, {info[0], info[3]});
}

struct OutputArgs {
  ArrayArg codes, scales, zeros, g_idx, perm, dequant;
};

// codes u8 [rows·cols], scales f32 [rows·G], zeros f32 [rows·G], gIdx i32 [cols], perm i32 [cols] | null,
// dequant f32 [rows·cols] | null, starting at argument `first`.
OutputArgs output_args(const Napi::CallbackInfo& info, size_t first, int64_t rows, int64_t cols, int64_t groups) {
  Napi::Env env = info.Env();
  OutputArgs o;
  o.codes = typed_array(info, first, "codes", napi_uint8_array);
  o.scales = typed_array(info, first + 1, "scales", napi_float32_array);
  o.zeros = typed_array(info, first + 2, "zeros", napi_float32_array);
  o.g_idx = typed_array(info, first + 3, "gIdx", napi_int32_array);
  o.perm = typed_array_of(info, first + 4, "perm", {napi_int32_array}, true);
  o.dequant = typed_array_of(info, first + 5, "dequant", {napi_float32_array}, true);
  require_arg(env, is_product(o.codes.length, rows, cols), "codes must have rows * cols elements");
  require_arg(env, is_product(o.scales.length, rows, groups), "scales must have rows * groups elements");
  require_arg(env, o.zeros.length == o.scales.length, "zeros must have rows * groups elements");
  require_arg(env, o.g_idx.length == cols, "gIdx must have cols elements");
  require_arg(env, !o.perm.data || o.perm.length == cols, "perm must have cols elements");
  require_arg(env, !o.dequant.data || o.dequant.length == o.codes.length, "dequant must have rows * cols elements");
  return o;
}

gptq::Outputs outputs(const OutputArgs& o) {
  return {static_cast<uint8_t*>(o.codes.data),  static_cast<float*>(o.scales.data),
          static_cast<float*>(o.zeros.data),    static_cast<int32_t*>(o.g_idx.data),
          static_cast<int32_t*>(o.perm.data),   static_cast<float*>(o.dequant.data)};
}

gptq::Grid grid_args(const Napi::CallbackInfo& info, size_t first) {
  gptq::Grid g;
  g.bits = static_cast<int>(int_arg(info, first, "bits", 2, 8));
  g.sym = bool_arg(info, first + 1, "sym");
  g.mse = bool_arg(info, first + 2, "mse");
  return g;
}

// gptqQuantize(w f32 [rows·cols], rows, cols, h f32 [cols·cols], bits, sym, mse, groupSize, actOrder,
//              staticGroups, damp, dampAuto, blockSize, errors, codes, scales, zeros, gIdx, perm, dequant,
//              report f64 [6] = damp, dampFraction, loss, gptqError, rtnError, deadColumns, device, async)
Napi::Value quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg w = typed_array(info, 0, "w", napi_float32_array);
  const int64_t rows = int_arg(info, 1, "rows", 1, kMaxDim);
  const int64_t cols = int_arg(info, 2, "cols", 1, kMaxDim);
  const ArrayArg h = typed_array(info, 3, "h", napi_float32_array);
  gptq::Options o;
  o.grid = grid_args(info, 4);
  o.group_size = int_arg(info, 7, "groupSize", -1, kMaxDim);
  o.act_order = bool_arg(info, 8, "actOrder");
  o.static_groups = bool_arg(info, 9, "staticGroups");
  o.damp = static_cast<float>(number_arg(info, 10, "damp"));
  o.damp_auto = bool_arg(info, 11, "dampAuto");
  o.block_size = int_arg(info, 12, "blockSize", 1, kMaxDim);
  o.errors = bool_arg(info, 13, "errors");
  const OutputArgs out = output_args(info, 14, rows, cols, gptq::group_count(cols, o.group_size));
  const ArrayArg report = typed_array(info, 20, "report", napi_float64_array);
  o.device = device_arg(info, 21);
  const bool async = bool_arg(info, 22, "async");
  require_arg(env, is_product(w.length, rows, cols), "w must have rows * cols elements");
  require_arg(env, is_product(h.length, cols, cols), "h must have cols * cols elements");
  require_arg(env, report.length == 6, "report must have 6 elements");
  auto work = [=] {
    gptq::Report r;
    Status s = gptq::quantize(static_cast<const float*>(w.data), rows, cols, static_cast<const float*>(h.data), o,
                              outputs(out), &r);
    double* dst = static_cast<double*>(report.data);
    dst[0] = r.damp;
    dst[1] = r.damp_fraction;
    dst[2] = r.loss;
    dst[3] = r.gptq_error;
    dst[4] = r.rtn_error;
    dst[5] = static_cast<double>(r.dead_columns);
    return s;
  };
  return run_op(env, async, "kquant.gptqQuantize", work,
                {info[0], info[3], info[14], info[15], info[16], info[17], info[18], info[19], info[20]});
}

// gptqQuantizeRTN(w f32 [rows·cols], rows, cols, bits, sym, mse, groupSize, codes, scales, zeros, gIdx, perm,
//                 dequant, async)
Napi::Value quantize_rtn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg w = typed_array(info, 0, "w", napi_float32_array);
  const int64_t rows = int_arg(info, 1, "rows", 1, kMaxDim);
  const int64_t cols = int_arg(info, 2, "cols", 1, kMaxDim);
  const gptq::Grid grid = grid_args(info, 3);
  const int64_t group_size = int_arg(info, 6, "groupSize", -1, kMaxDim);
  const OutputArgs out = output_args(info, 7, rows, cols, gptq::group_count(cols, group_size));
  const bool async = bool_arg(info, 13, "async");
  require_arg(env, is_product(w.length, rows, cols), "w must have rows * cols elements");
  auto work = [=] {
    return gptq::quantize_rtn(static_cast<const float*>(w.data), rows, cols, grid, group_size, outputs(out));
  };
  return run_op(env, async, "kquant.gptqQuantizeRTN", work,
                {info[0], info[7], info[8], info[9], info[10], info[11], info[12]});
}

}  // namespace

void register_gptq(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"gptqHessianAdd", hessian_add},
                                  {"gptqQuantize", quantize},
                                  {"gptqQuantizeRTN", quantize_rtn}});
}

}  // namespace kq::napi
