// Glue for GPTQ checkpoint packing (ops/gptq/pack.h). Buffer lengths are checked against the dimensions here
// so no JS argument can make a kernel read or write out of bounds; a bad bit width or a dimension the layout
// cannot pack is left to the kernel, which rejects it (naming the argument) before touching memory.
// lib/ops/gptq-pack.ts validates fully first.
#include "args.h"
#include "async_job.h"
#include "ops/gptq/pack.h"
#include "register.h"

namespace kq::napi {
namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;

// Whether the kernel will accept `bits` and `packed` (so the word count below is the real one).
bool packable(int64_t bits, int64_t packed) {
  return (bits == 2 || bits == 3 || bits == 4 || bits == 8) && packed % gptq::pack_unit(static_cast<int>(bits)) == 0;
}

// Length checks of the packed tensors, skipped where the kernel will refuse bits or the dimension anyway.
void require_qweight(Napi::Env env, const ArrayArg& qweight, int64_t out, int64_t in, int bits) {
  require_arg(env, !packable(bits, in) || is_product(qweight.length, gptq::packed_words(in, bits), out),
              "qweight must have in * bits / 32 * out elements");
}

void require_qzeros(Napi::Env env, const ArrayArg& qzeros, int64_t out, int64_t groups, int bits) {
  require_arg(env, !packable(bits, out) || is_product(qzeros.length, groups, gptq::packed_words(out, bits)),
              "qzeros must have groups * out * bits / 32 elements");
}

struct QweightArgs {
  ArrayArg codes, qweight;
  int64_t out, in;
  int bits;
  bool async;
};

// (codes u8 [out·in], qweight i32 [in·bits/32·out], out, in, bits, async)
QweightArgs qweight_args(const Napi::CallbackInfo& info) {
  QweightArgs a;
  a.codes = typed_array(info, 0, "codes", napi_uint8_array);
  a.qweight = typed_array(info, 1, "qweight", napi_int32_array);
  a.out = int_arg(info, 2, "out", 1, kMaxDim);
  a.in = int_arg(info, 3, "in", 1, kMaxDim);
  a.bits = static_cast<int>(int_arg(info, 4, "bits", 1, 32));
  a.async = bool_arg(info, 5, "async");
  Napi::Env env = info.Env();
  require_arg(env, is_product(a.codes.length, a.out, a.in), "codes must have out * in elements");
  require_qweight(env, a.qweight, a.out, a.in, a.bits);
  return a;
}

Napi::Value pack_qweight(const Napi::CallbackInfo& info) {
  const QweightArgs a = qweight_args(info);
  auto work = [=] {
    return gptq::pack_qweight(static_cast<const uint8_t*>(a.codes.data), a.out, a.in, a.bits,
                              static_cast<int32_t*>(a.qweight.data));
  };
  return run_op(info.Env(), a.async, "kquant.gptqPackQweight", work, {info[0], info[1]});
}

Napi::Value unpack_qweight(const Napi::CallbackInfo& info) {
  const QweightArgs a = qweight_args(info);
  auto work = [=] {
    return gptq::unpack_qweight(static_cast<const int32_t*>(a.qweight.data), a.out, a.in, a.bits,
                                static_cast<uint8_t*>(a.codes.data));
  };
  return run_op(info.Env(), a.async, "kquant.gptqUnpackQweight", work, {info[0], info[1]});
}

struct QzerosArgs {
  ArrayArg zeros, qzeros;
  int64_t out, groups;
  int bits;
  gptq::ZeroFormat format;
  bool async;
};

// (zeros i32 [out·groups], qzeros i32 [groups·out·bits/32], out, groups, bits, format 0 v1 | 1 v2, async)
QzerosArgs qzeros_args(const Napi::CallbackInfo& info) {
  QzerosArgs a;
  a.zeros = typed_array(info, 0, "zeros", napi_int32_array);
  a.qzeros = typed_array(info, 1, "qzeros", napi_int32_array);
  a.out = int_arg(info, 2, "out", 1, kMaxDim);
  a.groups = int_arg(info, 3, "groups", 1, kMaxDim);
  a.bits = static_cast<int>(int_arg(info, 4, "bits", 1, 32));
  a.format = static_cast<gptq::ZeroFormat>(int_arg(info, 5, "format", 0, 1));
  a.async = bool_arg(info, 6, "async");
  Napi::Env env = info.Env();
  require_arg(env, is_product(a.zeros.length, a.out, a.groups), "zeros must have out * groups elements");
  require_qzeros(env, a.qzeros, a.out, a.groups, a.bits);
  return a;
}

Napi::Value pack_qzeros(const Napi::CallbackInfo& info) {
  const QzerosArgs a = qzeros_args(info);
  auto work = [=] {
    return gptq::pack_qzeros(static_cast<const int32_t*>(a.zeros.data), a.out, a.groups, a.bits, a.format,
                             static_cast<int32_t*>(a.qzeros.data));
  };
  return run_op(info.Env(), a.async, "kquant.gptqPackQzeros", work, {info[0], info[1]});
}

Napi::Value unpack_qzeros(const Napi::CallbackInfo& info) {
  const QzerosArgs a = qzeros_args(info);
  auto work = [=] {
    return gptq::unpack_qzeros(static_cast<const int32_t*>(a.qzeros.data), a.out, a.groups, a.bits, a.format,
                               static_cast<int32_t*>(a.zeros.data));
  };
  return run_op(info.Env(), a.async, "kquant.gptqUnpackQzeros", work, {info[0], info[1]});
}

// gptqDequantize(qweight i32 [in·bits/32·out], qzeros i32 [groups·out·bits/32], scales u16 f16 [groups·out],
//                gIdx i32 [in], w f32 [out·in], out, in, groups, bits, format 0 v1 | 1 v2, async)
Napi::Value dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArrayArg qweight = typed_array(info, 0, "qweight", napi_int32_array);
  const ArrayArg qzeros = typed_array(info, 1, "qzeros", napi_int32_array);
  const ArrayArg scales = typed_array(info, 2, "scales", napi_uint16_array);
  const ArrayArg g_idx = typed_array(info, 3, "gIdx", napi_int32_array);
  const ArrayArg w = typed_array(info, 4, "w", napi_float32_array);
  const int64_t out = int_arg(info, 5, "out", 1, kMaxDim);
  const int64_t in = int_arg(info, 6, "in", 1, kMaxDim);
  const int64_t groups = int_arg(info, 7, "groups", 1, kMaxDim);
  const int bits = static_cast<int>(int_arg(info, 8, "bits", 1, 32));
  const auto format = static_cast<gptq::ZeroFormat>(int_arg(info, 9, "format", 0, 1));
  const bool async = bool_arg(info, 10, "async");
  require_qweight(env, qweight, out, in, bits);
  require_qzeros(env, qzeros, out, groups, bits);
  require_arg(env, is_product(scales.length, groups, out), "scales must have groups * out elements");
  require_arg(env, g_idx.length == in, "gIdx must have in elements");
  require_arg(env, is_product(w.length, out, in), "w must have out * in elements");
  auto work = [=] {
    return gptq::dequantize(static_cast<const int32_t*>(qweight.data), static_cast<const int32_t*>(qzeros.data),
                            static_cast<const uint16_t*>(scales.data), static_cast<const int32_t*>(g_idx.data), out,
                            in, groups, bits, format, static_cast<float*>(w.data));
  };
  return run_op(env, async, "kquant.gptqDequantize", work, {info[0], info[1], info[2], info[3], info[4]});
}

}  // namespace

void register_gptq_pack(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"gptqPackQweight", pack_qweight},
                                  {"gptqUnpackQweight", unpack_qweight},
                                  {"gptqPackQzeros", pack_qzeros},
                                  {"gptqUnpackQzeros", unpack_qzeros},
                                  {"gptqDequantize", dequantize}});
}

}  // namespace kq::napi
