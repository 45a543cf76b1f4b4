// AVX2 ternary kernel. AVX2 has no mask registers, so each 32-bit half of a block's plus/minus masks is
// expanded to 32 byte masks (broadcast, byte shuffle, AND with the bit of each byte, compare), and
//   v = (x AND plus) − (x AND minus)
// selects +x, −x or 0 per column: no multiplication by a weight. v (in [−127, 127]) is widened by vpmaddubsw
// with the constant byte 1 (adjacent pairs summed into int16 lanes, ≤ 508 per lane per block, flushed to
// int32 every kFlushBlocks blocks). The expansion is done once per block and row and reused for up to four
// x rows. Integer sums are exact, so the result is the reference's bit for bit.
#include <immintrin.h>

#include <algorithm>

#include "ternary.h"

namespace kq::ternary {
namespace {

constexpr int64_t kFlushBlocks = 64;  // 64 · 508 = 32512 fits an int16 lane
constexpr int kMaxTokens = 4;

// 0xff in byte j where bit j of `bits` is set.
inline __m256i expand_bits(uint32_t bits) {
  const __m256i byte_of = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                           2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit_of = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(bits)), byte_of);
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit_of), bit_of);
}

template <int M>
void pass(const CallArgs& a, int64_t row, int64_t i0) {
  const PreparedTernary& w = *a.w;
  const int64_t kp = w.blocks * kBlock;
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  const uint64_t* masks = w.masks.data() + row * w.blocks * 2;
  __m256i dot[M];
  for (int i = 0; i < M; ++i) dot[i] = _mm256_setzero_si256();
  for (int64_t c0 = 0; c0 < w.blocks; c0 += kFlushBlocks) {
    const int64_t c1 = std::min(w.blocks, c0 + kFlushBlocks);
    __m256i acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm256_setzero_si256();
    for (int64_t b = c0; b < c1; ++b) {
      const uint64_t plus = masks[2 * b], minus = masks[2 * b + 1];
      for (int h = 0; h < 2; ++h) {
        const __m256i p = expand_bits(static_cast<uint32_t>(plus >> (32 * h)));
        const __m256i n = expand_bits(static_cast<uint32_t>(minus >> (32 * h)));
        for (int i = 0; i < M; ++i) {
          const __m256i x =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.xq + (i0 + i) * kp + b * kBlock + 32 * h));
          const __m256i v = _mm256_sub_epi8(_mm256_and_si256(x, p), _mm256_and_si256(x, n));
          acc[i] = _mm256_add_epi16(acc[i], _mm256_maddubs_epi16(ones8, v));
        }
      }
    }
    for (int i = 0; i < M; ++i) dot[i] = _mm256_add_epi32(dot[i], _mm256_madd_epi16(acc[i], ones16));
  }
  for (int i = 0; i < M; ++i) {
    const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(dot[i]), _mm256_extracti128_si256(dot[i], 1));
    const __m128i s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    const int32_t sum = _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 1)));
    a.y[(i0 + i) * w.n + row] = scale_dot(sum, w.scales[row], a.xscale[i0 + i]);
  }
}

void rows_avx2(const CallArgs& a, int64_t r0, int64_t r1) {
  for (int64_t row = r0; row < r1; ++row)
    for (int64_t i0 = 0; i0 < a.m; i0 += kMaxTokens) {
      switch (std::min<int64_t>(a.m - i0, kMaxTokens)) {
        case 1: pass<1>(a, row, i0); break;
        case 2: pass<2>(a, row, i0); break;
        case 3: pass<3>(a, row, i0); break;
        default: pass<4>(a, row, i0); break;
      }
    }
}

}  // namespace

const Kernels kernels_avx2 = {rows_avx2};

}  // namespace kq::ternary
