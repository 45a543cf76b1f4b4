// Prepared weights as JS handles, for every op family that re-lays (and later uploads) a weight once and then
// moves only activations per call. A handle is an External holding a shared Holder: the family's prepared
// object (PreparedInt4, …) as a shared_ptr, the device its buffers live on and its kind. Jobs copy the
// shared_ptr, so dispose() during a call frees the buffers only when that call ends. A CUDA family keeps its
// device buffers inside its prepared object and frees them in its destructor; nothing here changes.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "core/tensor.h"

namespace kq::napi {

struct WeightsHolder {
  std::string kind;                  // "int4", "int4_codebook", …: a handle of one kind is refused by the others
  Device device = Device::cpu;
  std::shared_ptr<const void> data;  // null until prepared, and after dispose
  int64_t bytes = 0;                 // memory held by data
};

// The holder behind a handle argument; TypeError unless info[index] is a kquant weights handle.
std::shared_ptr<WeightsHolder> weights_arg(const Napi::CallbackInfo& info, size_t index);

// Throws (KQ_INVALID_ARGUMENT) unless the handle is of this kind and holds prepared, undisposed weights.
void check_weights(Napi::Env env, const WeightsHolder& h, const char* kind);

// The prepared object of a live handle of this kind.
template <typename T>
std::shared_ptr<const T> prepared_weights(const Napi::CallbackInfo& info, size_t index, const char* kind) {
  const std::shared_ptr<WeightsHolder> h = weights_arg(info, index);
  check_weights(info.Env(), *h, kind);
  return std::static_pointer_cast<const T>(h->data);
}

// Stores freshly prepared weights (any type with bytes()) in a new handle's holder.
template <typename T>
void hold_prepared(WeightsHolder& h, std::shared_ptr<T> w) {
  h.bytes = w->bytes();
  h.data = std::move(w);
}

}  // namespace kq::napi
