// The Q4_K int8-activation tile kernel with vpdpbusd (AVX-512 VNNI): codebook_avx512_int8.h compiled with a
// target attribute that adds VNNI to this file's functions only; active_codebook_kernels() picks it when
// CPUID reports VNNI.
#define KQ_I8_VNNI 1
#define KQ_I8_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#include "codebook_avx512_int8.h"

namespace kq::int4 {

void int8_tiles_avx512_vnni(const CodebookCall& a, int64_t t0, int64_t t1) { int8_tiles_impl(a, t0, t1); }

}  // namespace kq::int4
