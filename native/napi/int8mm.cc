// Glue for LLM.int8() (ops/int8mm/int8mm.h). Every buffer length is checked here against the dimensions,
// so no JS argument can make a kernel read or write out of bounds; lib/ops/int8.ts validates fully first.
#include <cmath>
#include <limits>

#include "args.h"
#include "async_job.h"
#include "ops/int8mm/int8mm.h"
#include "register.h"

namespace kq::napi {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 40;

// int8VectorwiseQuantize(src f32, rows, cols, threshold, q i8, rowStats f32, outlierMask u8|null, async)
Napi::Value vectorwise_quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg src = typed_array(info, 0, "src", napi_float32_array);
  const int64_t rows = int_arg(info, 1, "rows", 0, kMaxDim);
  const int64_t cols = int_arg(info, 2, "cols", 0, kMaxDim);
  if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "Expected a number for threshold");
  const float threshold = info[3].As<Napi::Number>().FloatValue();
  const ArrayArg q = typed_array(info, 4, "q", napi_int8_array);
  const ArrayArg row_stats = typed_array(info, 5, "rowStats", napi_float32_array);
  const ArrayArg mask = typed_array_of(info, 6, "outlierMask", {napi_uint8_array}, true);
  const bool async = bool_arg(info, 7, "async");
  require_arg(env, is_product(src.length, rows, cols), "src must have rows * cols elements");
  require_arg(env, q.length == src.length, "q must have as many elements as src");
  require_arg(env, row_stats.length == rows, "rowStats must have one entry per row");
  require_arg(env, !mask.data || mask.length == cols, "outlierMask must have one entry per column");
  require_arg(env, mask.data || !(threshold > 0.0f), "a threshold > 0 needs outlierMask");
  auto work = [=] {
    return int8mm::vectorwise_quantize(static_cast<const float*>(src.data), rows, cols, threshold,
                                       static_cast<int8_t*>(q.data), static_cast<float*>(row_stats.data),
                                       static_cast<uint8_t*>(mask.data));
  };
  return run_op(env, async, "kquant.int8VectorwiseQuantize", work, {info[0], info[4], info[5], info[6]});
}

// int8VectorwiseDequantize(q i8, rows, cols, rowStats f32, out f32, async)
Napi::Value vectorwise_dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg q = typed_array(info, 0, "q", napi_int8_array);
  const int64_t rows = int_arg(info, 1, "rows", 0, kMaxDim);
  const int64_t cols = int_arg(info, 2, "cols", 0, kMaxDim);
  const ArrayArg row_stats = typed_array(info, 3, "rowStats", napi_float32_array);
  const ArrayArg out = typed_array(info, 4, "out", napi_float32_array);
  const bool async = bool_arg(info, 5, "async");
  require_arg(env, is_product(q.length, rows, cols), "q must have rows * cols elements");
  require_arg(env, row_stats.length == rows, "rowStats must have one entry per row");
  require_arg(env, out.length == q.length, "out must have as many elements as q");
  auto work = [=] {
    return int8mm::vectorwise_dequantize(static_cast<const int8_t*>(q.data), rows, cols,
                                         static_cast<const float*>(row_stats.data), static_cast<float*>(out.data));
  };
  return run_op(env, async, "kquant.int8VectorwiseDequantize", work, {info[0], info[3], info[4]});
}

// int8MatmulI32(a i8 [m,k], b i8 [n,k], m, n, k, c i32 [m,n], device, async)
Napi::Value matmul_i32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg a = typed_array(info, 0, "a", napi_int8_array);
  const ArrayArg b = typed_array(info, 1, "b", napi_int8_array);
  const int64_t m = int_arg(info, 2, "m", 0, kMaxDim);
  const int64_t n = int_arg(info, 3, "n", 0, kMaxDim);
  const int64_t k = int_arg(info, 4, "k", 0, kMaxDim);
  const ArrayArg c = typed_array(info, 5, "c", napi_int32_array);
  const Device device = device_arg(info, 6);
  const bool async = bool_arg(info, 7, "async");
  require_arg(env, is_product(a.length, m, k), "a must have m * k elements");
  require_arg(env, is_product(b.length, n, k), "b must have n * k elements");
  require_arg(env, is_product(c.length, m, n), "c must have m * n elements");
  auto work = [=] {
    return int8mm::matmul_i32(static_cast<const int8_t*>(a.data), m, static_cast<const int8_t*>(b.data), n, k,
                              static_cast<int32_t*>(c.data), device);
  };
  return run_op(env, async, "kquant.int8MatmulI32", work, {info[0], info[1], info[5]});
}

// int8MatmulDequantize(acc i32 [m,n], m, n, rowStatsA f32 [m], rowStatsB f32 [n], out f32 [m,n], async)
Napi::Value matmul_dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg acc = typed_array(info, 0, "acc", napi_int32_array);
  const int64_t m = int_arg(info, 1, "m", 0, kMaxDim);
  const int64_t n = int_arg(info, 2, "n", 0, kMaxDim);
  const ArrayArg ra = typed_array(info, 3, "rowStatsA", napi_float32_array);
  const ArrayArg rb = typed_array(info, 4, "rowStatsB", napi_float32_array);
  const ArrayArg out = typed_array(info, 5, "out", napi_float32_array);
  const bool async = bool_arg(info, 6, "async");
  require_arg(env, is_product(acc.length, m, n), "acc must have m * n elements");
  require_arg(env, ra.length == m, "rowStatsA must have m entries");
  require_arg(env, rb.length == n, "rowStatsB must have n entries");
  require_arg(env, out.length == acc.length, "out must have as many elements as acc");
  auto work = [=] {
    return int8mm::matmul_dequantize(static_cast<const int32_t*>(acc.data), m, n, static_cast<const float*>(ra.data),
                                     static_cast<const float*>(rb.data), static_cast<float*>(out.data));
  };
  return run_op(env, async, "kquant.int8MatmulDequantize", work, {info[0], info[3], info[4], info[5]});
}

// int8Linear(a i8 [m,k], rowStatsA f32 [m], b i8 [n,k], rowStatsB f32 [n], m, n, k,
//            aOutliers f32 [m,o], bOutliers f32 [n,o], o, out f32 [m,n], device, async)
// (device: where the int32 GEMM runs)
Napi::Value linear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg a = typed_array(info, 0, "a", napi_int8_array);
  const ArrayArg ra = typed_array(info, 1, "rowStatsA", napi_float32_array);
  const ArrayArg b = typed_array(info, 2, "b", napi_int8_array);
  const ArrayArg rb = typed_array(info, 3, "rowStatsB", napi_float32_array);
  const int64_t m = int_arg(info, 4, "m", 0, kMaxDim);
  const int64_t n = int_arg(info, 5, "n", 0, kMaxDim);
  const int64_t k = int_arg(info, 6, "k", 0, kMaxDim);
  const ArrayArg ao = typed_array(info, 7, "aOutliers", napi_float32_array);
  const ArrayArg bo = typed_array(info, 8, "bOutliers", napi_float32_array);
  const int64_t o = int_arg(info, 9, "outliers", 0, kMaxDim);
  const ArrayArg out = typed_array(info, 10, "out", napi_float32_array);
  const Device device = device_arg(info, 11);
  const bool async = bool_arg(info, 12, "async");
  require_arg(env, is_product(a.length, m, k), "a must have m * k elements");
  require_arg(env, is_product(b.length, n, k), "b must have n * k elements");
  require_arg(env, ra.length == m, "rowStatsA must have m entries");
  require_arg(env, rb.length == n, "rowStatsB must have n entries");
  require_arg(env, is_product(ao.length, m, o), "aOutliers must have m * outliers elements");
  require_arg(env, is_product(bo.length, n, o), "bOutliers must have n * outliers elements");
  require_arg(env, is_product(out.length, m, n), "out must have m * n elements");
  int8mm::LinearArgs args;
  args.a = static_cast<const int8_t*>(a.data);
  args.row_stats_a = static_cast<const float*>(ra.data);
  args.m = m;
  args.b = static_cast<const int8_t*>(b.data);
  args.row_stats_b = static_cast<const float*>(rb.data);
  args.n = n;
  args.k = k;
  args.a_outliers = static_cast<const float*>(ao.data);
  args.b_outliers = static_cast<const float*>(bo.data);
  args.outliers = o;
  args.out = static_cast<float*>(out.data);
  args.device = device;
  return run_op(env, async, "kquant.int8Linear", [args] { return int8mm::linear(args); },
                {info[0], info[1], info[2], info[3], info[7], info[8], info[10]});
}

}  // namespace

void register_int8mm(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"int8VectorwiseQuantize", vectorwise_quantize},
                                  {"int8VectorwiseDequantize", vectorwise_dequantize},
                                  {"int8MatmulI32", matmul_i32},
                                  {"int8MatmulDequantize", matmul_dequantize},
                                  {"int8Linear", linear}});
}

}  // namespace kq::napi
