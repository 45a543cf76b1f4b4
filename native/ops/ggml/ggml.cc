// The CPU driver of the ggml legacy types: validates the arguments, spreads whole blocks over the thread pool
// (each block is quantized on its own, so any split gives the same bytes) and runs the active SIMD level's row
// kernel (kernels.h) on each chunk. Quantization rejects NaN/Inf (ggml itself would store garbage for them).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "../../core/cpu_features.h"
#include "../../core/cuda_runtime.h"
#include "../../core/finite.h"
#include "../../core/thread_pool.h"
#include "ggml.h"
#include "kernels.h"

namespace kq::ggml {
namespace {

constexpr TypeInfo kTypes[] = {
    {Type::q4_0, "q4_0", kQK, sizeof(BlockQ4_0)}, {Type::q4_1, "q4_1", kQK, sizeof(BlockQ4_1)},
    {Type::q5_0, "q5_0", kQK, sizeof(BlockQ5_0)}, {Type::q5_1, "q5_1", kQK, sizeof(BlockQ5_1)},
    {Type::q8_0, "q8_0", kQK, sizeof(BlockQ8_0)}, {Type::q8_1, "q8_1", kQK, sizeof(BlockQ8_1)},
    {Type::q2_k, "q2_K", kQK_K, sizeof(BlockQ2_K)}, {Type::q3_k, "q3_K", kQK_K, sizeof(BlockQ3_K)},
    {Type::q4_k, "q4_K", kQK_K, sizeof(BlockQ4_K)}, {Type::q5_k, "q5_K", kQK_K, sizeof(BlockQ5_K)},
    {Type::q6_k, "q6_K", kQK_K, sizeof(BlockQ6_K)}, {Type::q8_k, "q8_K", kQK_K, sizeof(BlockQ8_K)},
    {Type::tq1_0, "tq1_0", kQK_TQ, sizeof(BlockTQ1_0)}, {Type::tq2_0, "tq2_0", kQK_TQ, sizeof(BlockTQ2_0)},
    {Type::iq4_nl, "iq4_nl", kQK, sizeof(BlockIQ4_NL)}, {Type::mxfp4, "mxfp4", kQK, sizeof(BlockMXFP4)},
};

// Blocks per task at least, so small inputs are not scheduled block by block.
constexpr int64_t kTaskBlocks = 512;

Status check(int32_t type_id, int64_t n, const TypeInfo** info) {
  *info = type_info(type_id);
  if (*info == nullptr)
    return error(Code::invalid_argument, "ggml type id " + std::to_string(type_id) +
                                             " is not implemented (available: q4_0 2, q4_1 3, q5_0 6, q5_1 7, "
                                             "q8_0 8, q8_1 9, q2_K 10, q3_K 11, q4_K 12, q5_K 13, q6_K 14, q8_K 15, "
                                             "iq4_nl 20, tq1_0 34, tq2_0 35, mxfp4 39)");
  if (n < 0) return error(Code::shape, "n must be non-negative, got " + std::to_string(n));
  if (n % (*info)->block_size != 0)
    return error(Code::shape, std::string((*info)->name) + " needs a multiple of " +
                                  std::to_string((*info)->block_size) + " elements, got " + std::to_string(n));
  return Status::success();
}

}  // namespace

const Kernels& active_kernels() { return kernels_for_level(kernels_ref, kernels_avx2, kernels_avx512); }

const TypeInfo* type_info(int32_t id) {
  for (const TypeInfo& t : kTypes)
    if (static_cast<int32_t>(t.type) == id) return &t;
  return nullptr;
}

Status quantize(int32_t type_id, const float* src, int64_t n, uint8_t* dst, Device device) {
  const TypeInfo* info = nullptr;
  KQ_RETURN_IF_ERROR(check(type_id, n, &info));
  if (device == Device::cuda) {
    if (!cuda_quantizes(info->type))
      return error(Code::invalid_argument, std::string("ggml ") + info->name +
                                               " has no CUDA quantizer (CUDA quantizes q4_0, q8_0, q4_K, q6_K)");
    return run_on_cuda("ggml quantize", [&] { return quantize_cuda(info->type, src, n, dst); });
  }
  const int64_t bs = info->block_size;
  const int64_t ts = info->type_size;
  const Kernels& kernels = active_kernels();
  const QuantizeRowFn quantize_row = kernels.quantize[slot_of(info->type)];
  std::atomic<uint32_t> any{0};
  parallel_for(n / bs, kTaskBlocks, [&](int64_t b0, int64_t b1) {
    const float* x = src + b0 * bs;
    const int64_t k = (b1 - b0) * bs;
    if (kernels.has_non_finite(x, k)) any.store(1);
    quantize_row(x, dst + b0 * ts, k);
  });
  return any.load() ? non_finite_error(src, n) : Status::success();
}

Status quantize_chunk(int32_t type_id, const float* src, int64_t rows, int64_t row_length, const float* imatrix,
                      uint8_t* dst) {
  const TypeInfo* info = nullptr;
  if (rows < 0 || row_length < 0) return error(Code::shape, "rows and rowLength must be non-negative");
  KQ_RETURN_IF_ERROR(check(type_id, row_length, &info));
  for (int64_t j = 0; imatrix && j < row_length; ++j)
    if (!(std::isfinite(imatrix[j]) && imatrix[j] >= 0.0f))
      return error(Code::invalid_argument, "imatrix[" + std::to_string(j) + "] must be finite and >= 0");
  const int64_t row_bytes = row_length / info->block_size * info->type_size;
  const Kernels& kernels = active_kernels();
  const QuantizeRowFn quantize_row = kernels.quantize[slot_of(info->type)];
  std::atomic<uint32_t> any{0};
  parallel_for(rows, std::max<int64_t>(1, kTaskBlocks * info->block_size / std::max<int64_t>(row_length, 1)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r) {
                   const float* x = src + r * row_length;
                   if (kernels.has_non_finite(x, row_length)) any.store(1);
                   uint8_t* y = dst + r * row_bytes;
                   if (!quantize_row_chunk(info->type, x, y, row_length, imatrix))
                     quantize_row(x, y, row_length);
                 }
               });
  return any.load() ? non_finite_error(src, rows * row_length) : Status::success();
}

Status dequantize(int32_t type_id, const uint8_t* src, int64_t n, float* dst, Device device) {
  const TypeInfo* info = nullptr;
  KQ_RETURN_IF_ERROR(check(type_id, n, &info));
  if (device == Device::cuda)
    return run_on_cuda("ggml dequantize", [&] { return dequantize_cuda(info->type, src, n, dst); });
  const int64_t bs = info->block_size;
  const int64_t ts = info->type_size;
  const DequantizeRowFn dequantize_row = active_kernels().dequantize[slot_of(info->type)];
  parallel_for(n / bs, kTaskBlocks, [&](int64_t b0, int64_t b1) {
    dequantize_row(src + b0 * ts, dst + b0 * bs, (b1 - b0) * bs);
  });
  return Status::success();
}

}  // namespace kq::ggml
