// Argument unpacking for the glue: typed arrays in, integers in, Status out as a JS error with a stable
// code. TypeScript validates fully first; these repeat only the cheap checks that protect memory.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace kq::napi {

// A TypedArray's memory as seen by a kernel. Holding `array` keeps the buffer alive across async work.
struct ArrayArg {
  void* data = nullptr;
  int64_t length = 0;  // elements
  napi_typedarray_type type = napi_uint8_array;
};

ArrayArg typed_array(const Napi::CallbackInfo& info, size_t index, const char* name, napi_typedarray_type type);
// Accepts any of the listed types; `null`/`undefined` gives an empty ArrayArg when optional.
ArrayArg typed_array_of(const Napi::CallbackInfo& info, size_t index, const char* name,
                        std::initializer_list<napi_typedarray_type> types, bool optional = false);
int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max);
bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
// Any JS number (TypeError otherwise).
double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
Device device_arg(const Napi::CallbackInfo& info, size_t index);

// A JS Error carrying `code` ('KQ_SHAPE', …); lib/errors.ts turns it into a KquantError.
Napi::Error status_error(Napi::Env env, const Status& status);
Napi::Value status_error_value(Napi::Env env, const Status& status);
const char* code_name(Code code);

// Whether length == a · b, computed without integer overflow.
bool is_product(int64_t length, int64_t a, int64_t b);

// Throws a RangeError naming the argument unless `ok`.
void require_arg(Napi::Env env, bool ok, const std::string& message);

}  // namespace kq::napi
