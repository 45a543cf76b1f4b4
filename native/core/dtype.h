// Element types shared by every op family. The numbers cross the N-API boundary (lib/binding.ts DType);
// the static_asserts pin them so a reorder breaks the build instead of the data.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kq {

enum class DType : int32_t { f32 = 0, f16 = 1, bf16 = 2, i8 = 3, u8 = 4, i32 = 5, u32 = 6 };

static_assert(static_cast<int>(DType::f32) == 0 && static_cast<int>(DType::f16) == 1 &&
                  static_cast<int>(DType::bf16) == 2 && static_cast<int>(DType::i8) == 3 &&
                  static_cast<int>(DType::u8) == 4 && static_cast<int>(DType::i32) == 5 &&
                  static_cast<int>(DType::u32) == 6,
              "DType numbers are part of the JS boundary");

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: case DType::u32: return 4;
    case DType::f16: case DType::bf16: return 2;
    case DType::i8: case DType::u8: return 1;
  }
  return 0;
}

constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
    case DType::i32: return "i32";
    case DType::u32: return "u32";
  }
  return "?";
}

constexpr bool dtype_valid(int32_t v) { return v >= 0 && v <= 6; }

}  // namespace kq
