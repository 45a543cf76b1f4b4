// The AVX-512 ternary kernel, compiled twice: by avx512.cc (KQ_TERNARY_VNNI 0: AVX-512BW, vpmaddubsw) and by
// avx512_vnni.cc (KQ_TERNARY_VNNI 1: vpdpbusd, every function carrying KQ_TERNARY_TARGET so only that copy
// may use VNNI). Include only from those files; everything here has internal linkage.
//
// A block's 64 activations are one zmm; the row's two 64-bit masks go straight into mask registers:
//   v = maskz_mov(plus, x)            x where the trit is +1, else 0
//   v = mask_sub(v, minus, 0, x)      −x where the trit is −1 (plus and minus never share a bit)
// so v holds t·x with no multiplication, in [−127, 127]. v is then summed into wider lanes by multiplying
// it with the constant byte 1: vpdpbusd adds 4 bytes into each int32 lane; vpmaddubsw adds byte pairs into
// int16 lanes (≤ 254 per block), flushed to int32 every kFlushBlocks blocks before they could overflow.
// Four output rows × up to four x rows run at once: 16 independent accumulator chains.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)  // GCC 12 warns falsely on its own AVX-512 intrinsics
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>

#include "ternary.h"

#ifndef KQ_TERNARY_VNNI
#error "define KQ_TERNARY_VNNI (0 or 1) and KQ_TERNARY_TARGET before including avx512_body.h"
#endif

namespace kq::ternary {
namespace {

constexpr int64_t kFlushBlocks = 128;  // 128 · 254 = 32512 fits an int16 lane
constexpr int kMaxTokens = 4;

template <int R, int M>
KQ_TERNARY_TARGET void pass(const CallArgs& a, int64_t row0, int64_t i0) {
  const PreparedTernary& w = *a.w;
  const int64_t kp = w.blocks * kBlock;
  const __m512i ones8 = _mm512_set1_epi8(1);
  const __m512i zero = _mm512_setzero_si512();
  int32_t dot[R][M] = {};
  for (int64_t c0 = 0; c0 < w.blocks; c0 += kFlushBlocks) {
    const int64_t c1 = std::min(w.blocks, c0 + kFlushBlocks);
    __m512i acc[R][M];
    for (int r = 0; r < R; ++r)
      for (int i = 0; i < M; ++i) acc[r][i] = zero;
    for (int64_t b = c0; b < c1; ++b) {
      __mmask64 plus[R], minus[R];
      for (int r = 0; r < R; ++r) {
        const uint64_t* masks = w.masks.data() + ((row0 + r) * w.blocks + b) * 2;
        plus[r] = _cvtu64_mask64(masks[0]);
        minus[r] = _cvtu64_mask64(masks[1]);
      }
      for (int i = 0; i < M; ++i) {
        const __m512i x = _mm512_loadu_si512(a.xq + (i0 + i) * kp + b * kBlock);
        for (int r = 0; r < R; ++r) {
          __m512i v = _mm512_maskz_mov_epi8(plus[r], x);
          v = _mm512_mask_sub_epi8(v, minus[r], zero, x);
#if KQ_TERNARY_VNNI
          acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], ones8, v);
#else
          acc[r][i] = _mm512_add_epi16(acc[r][i], _mm512_maddubs_epi16(ones8, v));
#endif
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int i = 0; i < M; ++i) {
#if KQ_TERNARY_VNNI
        dot[r][i] += _mm512_reduce_add_epi32(acc[r][i]);
#else
        dot[r][i] += _mm512_reduce_add_epi32(_mm512_madd_epi16(acc[r][i], _mm512_set1_epi16(1)));
#endif
      }
  }
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < M; ++i)
      a.y[(i0 + i) * w.n + row0 + r] = scale_dot(dot[r][i], w.scales[row0 + r], a.xscale[i0 + i]);
}

template <int R>
KQ_TERNARY_TARGET void rows_of(const CallArgs& a, int64_t row0) {
  for (int64_t i0 = 0; i0 < a.m; i0 += kMaxTokens) {
    switch (std::min<int64_t>(a.m - i0, kMaxTokens)) {
      case 1: pass<R, 1>(a, row0, i0); break;
      case 2: pass<R, 2>(a, row0, i0); break;
      case 3: pass<R, 3>(a, row0, i0); break;
      default: pass<R, 4>(a, row0, i0); break;
    }
  }
}

KQ_TERNARY_TARGET void rows_impl(const CallArgs& a, int64_t r0, int64_t r1) {
  int64_t row = r0;
  for (; row + 4 <= r1; row += 4) rows_of<4>(a, row);
  for (; row < r1; ++row) rows_of<1>(a, row);
}

}  // namespace
}  // namespace kq::ternary
