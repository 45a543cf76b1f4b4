// bnb's code books and decision points as f32 constants, written as bit patterns so that they are exact
// whatever the compiler does with decimal literals.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "bnb.h"
#include "thresholds.h"

namespace kq::bnb {
namespace {

// get_4bit_type("nf4"): ascending, code 7 is 0.
constexpr uint32_t kNf4CodeBits[16] = {0xbf800000, 0xbf3239b1, 0xbf066b30, 0xbeca32a0, 0xbe91a24d, 0xbe3d353f,
                                       0xbdba7871, 0x00000000, 0x3da2faff, 0x3e24cae3, 0x3e7c04dd, 0x3ead033a,
                                       0x3ee1a4b8, 0x3f1007ab, 0x3f3913b3, 0x3f800000};
// FP4 (bit 3 = sign). Code 8 is -0.0 as the CUDA dequantizer produces it (bnb's Python table has +0.0).
constexpr uint32_t kFp4CodeBits[16] = {0x00000000, 0x3baaaaab, 0x3f2aaaab, 0x3f800000, 0x3eaaaaab, 0x3f000000,
                                       0x3e2aaaab, 0x3e800000, 0x80000000, 0xbbaaaaab, 0xbf2aaaab, 0xbf800000,
                                       0xbeaaaaab, 0xbf000000, 0xbe2aaaab, 0xbe800000};
// The positive half (entries 128..254) of create_dynamic_map(signed=True) as torch 1.13.1 computes it with
// its AVX2 linspace (other dispatch paths differ by 1-2 ulp in a few entries; checkpoints carry their own
// map). Entries 0..126 are the negated mirror, 127 is 0 and 255 is 1.0.
constexpr uint32_t kDynamicPositiveBits[127] = {
    0x3513a3b7, 0x365a1a94, 0x370205ff, 0x37b24206, 0x38378034, 0x388aefb3, 0x38ba1f4b, 0x3923d70b,
    0x398ce705, 0x39c7e283, 0x3a016f01, 0x3a1eecc1, 0x3a3c6a80, 0x3a59e83e, 0x3a7765ff, 0x3aa7ef9d,
    0x3af1a9fc, 0x3b1db22d, 0x3b428f5c, 0x3b676c8a, 0x3b8624dd, 0x3b989374, 0x3bab020d, 0x3bbd70a4,
    0x3bcfdf3b, 0x3be24dd3, 0x3bf4bc6a, 0x3c039581, 0x3c0ccccd, 0x3c160418, 0x3c1f3b64, 0x3c3ae148,
    0x3c68f5c3, 0x3c8b851f, 0x3ca28f5c, 0x3cb9999a, 0x3cd0a3d7, 0x3ce7ae13, 0x3cfeb852, 0x3d0ae147,
    0x3d166667, 0x3d21eb85, 0x3d2d70a3, 0x3d38f5c3, 0x3d447ae1, 0x3d500000, 0x3d5b851f, 0x3d670a3d,
    0x3d728f5d, 0x3d7e147a, 0x3d84cccd, 0x3d8a8f5d, 0x3d9051eb, 0x3d96147b, 0x3d9bd70a, 0x3da1999a,
    0x3da75c28, 0x3dad1eb8, 0x3db2e148, 0x3db8a3d7, 0x3dbe6667, 0x3dc428f5, 0x3dc9eb85, 0x3ddb3334,
    0x3df80000, 0x3e0a6666, 0x3e18cccd, 0x3e273333, 0x3e359999, 0x3e440000, 0x3e526666, 0x3e60cccd,
    0x3e6f3334, 0x3e7d999a, 0x3e860000, 0x3e8d3334, 0x3e946666, 0x3e9b999a, 0x3ea2cccc, 0x3eaa0000,
    0x3eb13332, 0x3eb86666, 0x3ebf999a, 0x3ec6cccc, 0x3ece0000, 0x3ed53332, 0x3edc6666, 0x3ee3999a,
    0x3eeacccc, 0x3ef20000, 0x3ef93334, 0x3f003333, 0x3f03cccd, 0x3f076666, 0x3f0b0000, 0x3f0e999a,
    0x3f123334, 0x3f15cccd, 0x3f196666, 0x3f1d0000, 0x3f20999a, 0x3f243333, 0x3f27cccd, 0x3f2b6667,
    0x3f2f0000, 0x3f32999a, 0x3f363334, 0x3f39cccd, 0x3f3d6667, 0x3f410000, 0x3f44999a, 0x3f483333,
    0x3f4bcccc, 0x3f4f6666, 0x3f530000, 0x3f569999, 0x3f5a3333, 0x3f5dcccc, 0x3f616666, 0x3f650000,
    0x3f68999a, 0x3f6c3333, 0x3f6fcccc, 0x3f736666, 0x3f770000, 0x3f7a9999, 0x3f7e3333};

template <size_t N>
std::array<float, N> floats(const uint32_t (&bits)[N]) {
  std::array<float, N> out;
  std::memcpy(out.data(), bits, sizeof bits);
  return out;
}

std::array<float, 256> dynamic_map() {
  const std::array<float, 127> positive = floats(kDynamicPositiveBits);
  std::array<float, 256> map;
  for (int i = 0; i < 127; ++i) {
    map[128 + i] = positive[i];
    map[126 - i] = -positive[i];
  }
  map[127] = 0.0f;
  map[255] = 1.0f;
  return map;
}

}  // namespace

const float* code4(Quant4 type) {
  static const std::array<float, 16> nf4 = floats(kNf4CodeBits);
  static const std::array<float, 16> fp4 = floats(kFp4CodeBits);
  return type == Quant4::fp4 ? fp4.data() : nf4.data();
}

const float* dynamic_map_signed() {
  static const std::array<float, 256> map = dynamic_map();
  return map.data();
}

const float* nf4_thresholds() {
  static const std::array<float, 15> t = floats(kNf4ThresholdBits);
  return t.data();
}

const float* fp4_abs_thresholds() {
  static const std::array<float, 7> t = floats(kFp4AbsThresholdBits);
  return t.data();
}

}  // namespace kq::bnb
