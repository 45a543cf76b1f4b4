// Glue for the ternary GEMV (ops/ternary/ternary.h). ternaryPrepare fills a weights handle (weights.h, kind
// "ternary") with the bit planes, on the job thread when async; ternaryMatmul reads it. Lengths are checked here or
// in ternary::prepare, so no JS argument can make a kernel read out of bounds; lib/ops/ternary.ts validates
// fully first.
#include "args.h"
#include "async_job.h"
#include "ops/ternary/ternary.h"
#include "register.h"
#include "weights.h"

namespace kq::napi {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;
constexpr const char* kKind = "ternary";

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
    holder->bytes = w->bytes();
    holder->data = std::move(w);
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
  require_arg(env, static_cast<long double>(m) * w->k == x.length, "x must have m * k elements");
  require_arg(env, static_cast<long double>(m) * w->n == y.length, "y must have m * n elements");
  ternary::MatmulArgs args;
  args.x = static_cast<const float*>(x.data);
  args.m = m;
  args.y = static_cast<float*>(y.data);
  // The job holds its own reference on the weights: a dispose() meanwhile frees them after the call.
  return run_op(env, async, "kquant.ternaryMatmul", [w, args] { return ternary::matmul(*w, args); }, {info[1], info[3]});
}

}  // namespace

void register_ternary(Napi::Env env, Napi::Object exports) {
  exports.Set("ternaryPrepare", Napi::Function::New(env, prepare, "ternaryPrepare"));
  exports.Set("ternaryMatmul", Napi::Function::New(env, matmul, "ternaryMatmul"));
}

}  // namespace kq::napi
