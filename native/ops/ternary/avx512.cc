// AVX-512BW ternary kernel (avx512_body.h with vpmaddubsw widening) and the table entries for both AVX-512
// copies; active_kernels() takes the VNNI one where CPUID reports it.
#define KQ_TERNARY_VNNI 0
#define KQ_TERNARY_TARGET
#include "avx512_body.h"

namespace kq::ternary {

void rows_avx512_vnni(const CallArgs& a, int64_t r0, int64_t r1);  // avx512_vnni.cc

const Kernels kernels_avx512 = {rows_impl};
const Kernels kernels_avx512_vnni = {rows_avx512_vnni};

}  // namespace kq::ternary
