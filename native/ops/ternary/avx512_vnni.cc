// The ternary kernel with vpdpbusd (AVX-512 VNNI) widening: avx512_body.h under a target attribute that adds
// VNNI to this file's functions only.
#define KQ_TERNARY_VNNI 1
#define KQ_TERNARY_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#include "avx512_body.h"

namespace kq::ternary {

void rows_avx512_vnni(const CallArgs& a, int64_t r0, int64_t r1) { rows_impl(a, r0, r1); }

}  // namespace kq::ternary
