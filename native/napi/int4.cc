// Glue for the int4 GEMV (ops/int4/int4.h). int4Prepare fills a weights handle (weights.h) with the prepared
// layout, on the job thread when async; int4Matmul reads it. Buffer lengths are checked against the shapes
// here or in int4::prepare, so no JS argument can make a kernel read out of bounds; lib/ops/int4.ts validates
// fully first.
#include "args.h"
#include "async_job.h"
#include "core/cuda_runtime.h"
#include "ops/int4/codebook.h"
#include "ops/int4/int4.h"
#include "register.h"
#include "weights.h"

namespace kq::napi {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;
constexpr const char* kKind = "int4";
constexpr const char* kCodebookKind = "int4_codebook";  // nf4 / fp4 / q4_k (ops/int4/codebook.h)

// int4Prepare(handle, qweight i32, qzeros i32|null, scales u16, gIdx i32|null, n, k, groups, groupSize,
//             format, async)
Napi::Value prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<WeightsHolder> holder = weights_arg(info, 0);
  const ArrayArg qweight = typed_array(info, 1, "qweight", napi_int32_array);
  const ArrayArg qzeros = typed_array_of(info, 2, "qzeros", {napi_int32_array}, true);
  const ArrayArg scales = typed_array(info, 3, "scales", napi_uint16_array);
  const ArrayArg g_idx = typed_array_of(info, 4, "gIdx", {napi_int32_array}, true);
  int4::CheckpointTensors t;
  t.n = int_arg(info, 5, "n", 1, kMaxDim);
  t.k = int_arg(info, 6, "k", 1, kMaxDim);
  t.groups = int_arg(info, 7, "groups", 1, kMaxDim);
  t.group_size = int_arg(info, 8, "groupSize", -1, kMaxDim);
  t.format = static_cast<int4::Format>(int_arg(info, 9, "format", 0, 1));
  const bool async = bool_arg(info, 10, "async");
  require_arg(env, holder->kind == kKind && !holder->data, "Expected a new int4 weights handle");
  t.qweight = static_cast<const int32_t*>(qweight.data);
  t.qweight_len = qweight.length;
  t.qzeros = static_cast<const int32_t*>(qzeros.data);
  t.qzeros_len = qzeros.length;
  t.scales = static_cast<const uint16_t*>(scales.data);
  t.scales_len = scales.length;
  t.g_idx = static_cast<const int32_t*>(g_idx.data);
  t.g_idx_len = g_idx.length;
  auto work = [holder, t] {
    std::shared_ptr<int4::PreparedInt4> w;
    KQ_RETURN_IF_ERROR(int4::prepare(t, holder->device, &w));
    hold_prepared(*holder, std::move(w));
    return Status::success();
  };
  return run_op(env, async, "kquant.int4Prepare", work, {info[1], info[2], info[3], info[4]});
}

// (…, x f32|u16, xType, m, bias f32|null, y f32|u16, yType, activations, async) from info[1] on: the call
// arguments both matmuls share, checked against the prepared weights' k and n.
int4::MatmulArgs matmul_args(const Napi::CallbackInfo& info, int64_t k, int64_t n, bool* async) {
  Napi::Env env = info.Env();
  const ArrayArg x = typed_array_of(info, 1, "x", {napi_float32_array, napi_uint16_array});
  const auto x_type = static_cast<int4::XType>(int_arg(info, 2, "xType", 0, 2));
  const int64_t m = int_arg(info, 3, "m", 0, kMaxDim);
  const ArrayArg bias = typed_array_of(info, 4, "bias", {napi_float32_array}, true);
  const ArrayArg y = typed_array_of(info, 5, "y", {napi_float32_array, napi_uint16_array});
  const auto y_type = static_cast<int4::XType>(int_arg(info, 6, "yType", 0, 2));
  const auto activations = static_cast<int4::Activations>(int_arg(info, 7, "activations", 0, 1));
  *async = bool_arg(info, 8, "async");
  require_arg(env, (x.type == napi_float32_array) == (x_type == int4::XType::f32),
              "x must be a Float32Array for xType f32 and a Uint16Array for f16/bf16");
  require_arg(env, (y.type == napi_float32_array) == (y_type == int4::XType::f32),
              "y must be a Float32Array for yType f32 and a Uint16Array for f16/bf16");
  require_arg(env, is_product(x.length, m, k), "x must have m * k elements");
  require_arg(env, is_product(y.length, m, n), "y must have m * n elements");
  require_arg(env, !bias.data || bias.length == n, "bias must have n elements");
  int4::MatmulArgs args;
  args.x = x.data;
  args.x_type = x_type;
  args.m = m;
  args.bias = static_cast<const float*>(bias.data);
  args.y = y.data;
  args.y_type = y_type;
  args.activations = activations;
  return args;
}

// int4Matmul(handle, x f32|u16, xType, m, bias f32|null, y f32|u16, yType, activations, async)
Napi::Value matmul(const Napi::CallbackInfo& info) {
  const std::shared_ptr<const int4::PreparedInt4> w = prepared_weights<int4::PreparedInt4>(info, 0, kKind);
  bool async = false;
  const int4::MatmulArgs args = matmul_args(info, w->k, w->n, &async);
  // The job holds its own reference on the weights: a dispose() meanwhile frees them after the call.
  return run_op(info.Env(), async, "kquant.int4Matmul", [w, args] { return int4::matmul(*w, args); },
                {info[1], info[4], info[5]});
}

// int4CudaCopyBandwidth(bytes) -> GB/s of a device-to-device copy (the CUDA bench ceiling); synchronous.
Napi::Value cuda_copy_bandwidth(const Napi::CallbackInfo& info) {
  const int64_t bytes = int_arg(info, 0, "bytes", 1, int64_t(1) << 40);
  double gbps = 0.0;
  const Status st = run_on_cuda("int4CudaCopyBandwidth", [&] { return int4::copy_bandwidth_cuda(bytes, &gbps); });
  if (!st.ok()) throw status_error(info.Env(), st);
  return Napi::Number::New(info.Env(), gbps);
}

// int4CodebookPrepare(handle, format 0 nf4 | 1 fp4 | 2 q4_k, packed u8, absmax f32|null, n, k, blockSize, async):
// nf4/fp4 take bnb's packed nibbles and the f32 absmax per block; q4_k takes the block_q4_K rows in packed.
Napi::Value codebook_prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<WeightsHolder> holder = weights_arg(info, 0);
  const auto format = static_cast<int4::CodebookFormat>(int_arg(info, 1, "format", 0, 2));
  const ArrayArg packed = typed_array(info, 2, "packed", napi_uint8_array);
  const ArrayArg absmax = typed_array_of(info, 3, "absmax", {napi_float32_array}, true);
  const int64_t n = int_arg(info, 4, "n", 1, kMaxDim);
  const int64_t k = int_arg(info, 5, "k", 1, kMaxDim);
  const int64_t block_size = int_arg(info, 6, "blockSize", 1, kMaxDim);
  const bool async = bool_arg(info, 7, "async");
  require_arg(env, holder->kind == kCodebookKind && !holder->data, "Expected a new int4_codebook weights handle");
  require_arg(env, (format == int4::CodebookFormat::q4_k) == !absmax.data, "absmax is required for nf4/fp4 and absent for q4_k");
  auto work = [holder, format, packed, absmax, n, k, block_size] {
    std::shared_ptr<int4::PreparedCodebook> w;
    if (format == int4::CodebookFormat::q4_k) {
      KQ_RETURN_IF_ERROR(int4::prepare_q4_k(static_cast<const uint8_t*>(packed.data), packed.length, n, k, &w));
    } else {
      int4::Bnb4Tensors t;
      t.packed = static_cast<const uint8_t*>(packed.data);
      t.packed_len = packed.length;
      t.absmax = static_cast<const float*>(absmax.data);
      t.absmax_len = absmax.length;
      t.format = format;
      t.n = n;
      t.k = k;
      t.block_size = block_size;
      KQ_RETURN_IF_ERROR(int4::prepare_bnb4(t, &w));
    }
    hold_prepared(*holder, std::move(w));
    return Status::success();
  };
  return run_op(env, async, "kquant.int4CodebookPrepare", work, {info[2], info[3]});
}

// int4CodebookMatmul(handle, x f32|u16, xType, m, bias f32|null, y f32|u16, yType, activations, async)
Napi::Value codebook_matmul(const Napi::CallbackInfo& info) {
  const std::shared_ptr<const int4::PreparedCodebook> w =
      prepared_weights<int4::PreparedCodebook>(info, 0, kCodebookKind);
  bool async = false;
  const int4::MatmulArgs args = matmul_args(info, w->k, w->n, &async);
  return run_op(info.Env(), async, "kquant.int4CodebookMatmul",
                [w, args] { return int4::matmul_codebook(*w, args); }, {info[1], info[4], info[5]});
}

}  // namespace

void register_int4(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"int4Prepare", prepare},
                                  {"int4Matmul", matmul},
                                  {"int4CodebookPrepare", codebook_prepare},
                                  {"int4CodebookMatmul", codebook_matmul},
                                  {"int4CudaCopyBandwidth", cuda_copy_bandwidth}});
}

}  // namespace kq::napi
