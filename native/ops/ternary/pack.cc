// Trit packings (quantize.h): '2bit' (4 per byte, t + 1 in bits 2i) and 'base3' (TQ1_0's 5 per byte).
// Bytes are independent, so the pool splits them freely; a bad input is reported at its first position
// (the smallest index any chunk found), as a sequential scan would.
#include <algorithm>
#include <atomic>
#include <limits>
#include <string>

#include "../../core/thread_pool.h"
#include "quantize.h"

namespace kq::ternary {
namespace {

constexpr int64_t kByteGrain = 1 << 14;
constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

int per_byte(Packing packing) { return packing == Packing::two_bit ? 4 : 5; }

void keep_first(std::atomic<int64_t>* first, int64_t index) {
  int64_t seen = first->load();
  while (index < seen && !first->compare_exchange_weak(seen, index)) {
  }
}

}  // namespace

int64_t packed_bytes(int64_t count, Packing packing) { return (count + per_byte(packing) - 1) / per_byte(packing); }

Status pack_trits(const int8_t* trits, int64_t count, Packing packing, uint8_t* bytes) {
  const int per = per_byte(packing);
  std::atomic<int64_t> first_bad{std::numeric_limits<int64_t>::max()};
  parallel_for(packed_bytes(count, packing), kByteGrain, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      unsigned q = 0;
      for (int i = 0; i < per; ++i) {
        const int64_t t = j * per + i;
        const int trit = t < count ? trits[t] : 0;
        if (trit < -1 || trit > 1) keep_first(&first_bad, t);
        const unsigned code = static_cast<unsigned>(std::clamp(trit, -1, 1) + 1);
        q = packing == Packing::two_bit ? q | (code << (2 * i)) : q * 3 + code;
      }
      // base3: ⌈q·256 / 243⌉, so ((byte·3^i mod 256)·3) >> 8 reads trit i back (TQ1_0).
      bytes[j] = static_cast<uint8_t>(packing == Packing::two_bit ? q : (q * 256 + 242) / 243);
    }
  });
  const int64_t bad = first_bad.load();
  if (bad != std::numeric_limits<int64_t>::max())
    return error(Code::invalid_argument,
                 "Expected trits in {-1, 0, 1} but trits[" + std::to_string(bad) + "] is " + std::to_string(trits[bad]));
  return Status::success();
}

Status unpack_trits(const uint8_t* bytes, int64_t count, Packing packing, int8_t* trits) {
  const int per = per_byte(packing);
  std::atomic<int64_t> first_bad{std::numeric_limits<int64_t>::max()};
  parallel_for(packed_bytes(count, packing), kByteGrain, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      const unsigned byte = bytes[j];
      for (int i = 0; i < per && j * per + i < count; ++i) {
        const unsigned code =
            packing == Packing::two_bit ? (byte >> (2 * i)) & 3u : (((byte * kPow3[i]) & 0xffu) * 3u) >> 8;
        if (code > 2) keep_first(&first_bad, j * per + i);
        trits[j * per + i] = static_cast<int8_t>(static_cast<int>(code) - 1);
      }
    }
  });
  const int64_t bad = first_bad.load();
  if (bad != std::numeric_limits<int64_t>::max())
    return error(Code::invalid_argument, "Expected 2-bit codes 0..2 but byte " + std::to_string(bad / per) +
                                             " holds code " + std::to_string((bytes[bad / per] >> (2 * (bad % per))) & 3));
  return Status::success();
}

}  // namespace kq::ternary
