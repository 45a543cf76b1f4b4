// weightsNew / weightsInfo / weightsDispose: the family-independent half of prepared-weight handles
// (weights.h). A family's prepare op fills a new handle's holder; its ops read it with prepared_weights<T>.
#include "weights.h"

#include "args.h"
#include "register.h"

namespace kq::napi {
namespace {

// Marks kquant's externals so that no other External (or a forged object) is taken for a handle.
constexpr napi_type_tag kWeightsTag = {0x6b7175616e742d77ull, 0x6569676874733031ull};

Napi::Error invalid(Napi::Env env, const std::string& message) {
  Napi::Error err = Napi::TypeError::New(env, message);
  err.Value().Set("code", Napi::String::New(env, code_name(Code::invalid_argument)));
  return err;
}

// weightsNew(kind, device) -> handle with an empty holder
Napi::Value weights_new(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw invalid(env, "Expected a string for kind");
  auto* holder = new std::shared_ptr<WeightsHolder>(std::make_shared<WeightsHolder>());
  (*holder)->kind = info[0].As<Napi::String>().Utf8Value();
  (*holder)->device = device_arg(info, 1);
  auto ext = Napi::External<std::shared_ptr<WeightsHolder>>::New(
      env, holder, [](Napi::Env, std::shared_ptr<WeightsHolder>* h) { delete h; });
  if (napi_type_tag_object(env, ext, &kWeightsTag) != napi_ok)
    throw status_error(env, error(Code::internal, "cannot tag a weights handle"));
  return ext;
}

// weightsInfo(handle) -> { kind, device, bytes, disposed }
Napi::Value weights_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<WeightsHolder> h = weights_arg(info, 0);
  Napi::Object out = Napi::Object::New(env);
  out.Set("kind", h->kind);
  out.Set("device", static_cast<int32_t>(h->device));
  out.Set("bytes", static_cast<double>(h->bytes));
  out.Set("disposed", !h->data);
  return out;
}

// weightsDispose(handle): drops the buffers (now, or when the calls using them end).
Napi::Value weights_dispose(const Napi::CallbackInfo& info) {
  const std::shared_ptr<WeightsHolder> h = weights_arg(info, 0);
  h->data.reset();
  h->bytes = 0;
  return info.Env().Undefined();
}

}  // namespace

std::shared_ptr<WeightsHolder> weights_arg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  const Napi::Value v = info[index];
  bool tagged = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kWeightsTag, &tagged);
  if (!tagged) throw invalid(env, "Expected a kquant weights handle");
  return *v.As<Napi::External<std::shared_ptr<WeightsHolder>>>().Data();
}

void check_weights(Napi::Env env, const WeightsHolder& h, const char* kind) {
  if (h.kind != kind) throw invalid(env, "Expected " + std::string(kind) + " weights but received " + h.kind + " weights");
  if (!h.data) throw invalid(env, "The " + h.kind + " weights were disposed");
}

void register_weights(Napi::Env env, Napi::Object exports) {
  export_functions(env, exports, {{"weightsNew", weights_new},
                                  {"weightsInfo", weights_info},
                                  {"weightsDispose", weights_dispose}});
}

}  // namespace kq::napi
