// The CPU driver of the bnb family: validates the arguments, spreads whole blocks over the thread pool
// (a block is the unit of scaling, so any split gives the same bytes) and runs the active SIMD level's kernels on each.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <string>
#include <vector>

#include "../../core/cpu_features.h"
#include "../../core/cuda_runtime.h"
#include "../../core/finite.h"
#include "../../core/thread_pool.h"
#include "bnb.h"
#include "kernels.h"

namespace kq::bnb {
namespace {

// The kernel table of the active SIMD level; every table gives the bytes of kernels_ref.
const Kernels& active_kernels() { return kernels_for_level(kernels_ref, kernels_avx2, kernels_avx512); }

// Elements per task at least, so small blocks are batched instead of scheduled one by one.
constexpr int64_t kTaskElements = 16384;

int64_t block_count(int64_t n, int64_t blocksize) { return n / blocksize + (n % blocksize != 0); }

Status check_sizes(int64_t n, int64_t blocksize, const char* blocksize_name) {
  if (n < 0) return error(Code::shape, "n must be non-negative, got " + std::to_string(n));
  if (blocksize < 1)
    return error(Code::invalid_argument,
                 std::string(blocksize_name) + " must be >= 1, got " + std::to_string(blocksize));
  return Status::success();
}

// An even block size keeps every block byte-aligned, so tasks owning whole blocks never share a byte.
// bnb's 4-bit block sizes (32 .. 4096) are all even.
Status check_4bit(int64_t n, int64_t blocksize, Quant4 type) {
  KQ_RETURN_IF_ERROR(check_sizes(n, blocksize, "blocksize"));
  if (blocksize % 2 != 0)
    return error(Code::invalid_argument, "4-bit blocksize must be even, got " + std::to_string(blocksize));
  if (type != Quant4::nf4 && type != Quant4::fp4)
    return error(Code::invalid_argument,
                 "type must be nf4 (0) or fp4 (1), got " + std::to_string(static_cast<int>(type)));
  return Status::success();
}

// The midpoints decide the nearest entry only when the map is strictly ascending.
Status midpoints_of(const float* code, std::array<float, 255>* midpoints) {
  for (int j = 0; j < 256; ++j)
    if (!std::isfinite(code[j]) || (j > 0 && !(code[j - 1] < code[j])))
      return error(Code::invalid_argument, "code must be 256 ascending finite values");
  for (int j = 0; j < 255; ++j) (*midpoints)[j] = (code[j] + code[j + 1]) * 0.5f;
  return Status::success();
}

// Calls body(block, begin, length) for every block of [0, n), whole blocks per task.
template <typename Body>
void for_blocks(int64_t n, int64_t blocksize, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, kTaskElements / blocksize);
  parallel_for(block_count(n, blocksize), grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t begin = b * blocksize;
      body(b, begin, std::min(blocksize, n - begin));
    }
  });
}

// Each block's absmax, then encode(begin, length, inv) on it; fails on NaN/Inf anywhere in src.
template <typename Encode>
Status scale_blocks(const float* src, int64_t n, int64_t blocksize, float* absmax, const Encode& encode) {
  const Kernels& k = active_kernels();
  std::atomic<uint32_t> any{0};
  for_blocks(n, blocksize, [&](int64_t b, int64_t begin, int64_t length) {
    uint32_t flag = 0;
    absmax[b] = k.absmax_run(src + begin, length, &flag);
    if (flag) any.store(1);
    // IEEE division once per block, then a multiply per element; an all-zero block gets inf (s = NaN).
    encode(begin, length, 1.0f / absmax[b]);
  });
  return any.load() ? non_finite_error(src, n) : Status::success();
}

Status check_code_bits(int64_t n, int bits) {
  if (n < 0) return error(Code::shape, "n must be non-negative, got " + std::to_string(n));
  if (bits < 3 || bits > 8) return error(Code::invalid_argument, "bits must be 3 to 8, got " + std::to_string(bits));
  return Status::success();
}

// Calls body(begin, length) over [0, n) in runs of whole groups of 8 elements: 8 elements fill exactly `bits`
// bytes, so every run starts on a byte and no two tasks share one.
template <typename Body>
void for_code_runs(int64_t n, const Body& body) {
  parallel_for((n + 7) / 8, kTaskElements / 8, [&](int64_t r0, int64_t r1) {
    const int64_t begin = r0 * 8;
    body(begin, std::min(r1 * 8, n) - begin);
  });
}

// Lowers *first to i (the first bad element over all tasks).
void note_first(std::atomic<int64_t>* first, int64_t i) {
  int64_t seen = first->load();
  while (i < seen && !first->compare_exchange_weak(seen, i)) {
  }
}

}  // namespace

Status quantize_4bit(const float* src, int64_t n, int64_t blocksize, Quant4 type, uint8_t* packed, float* absmax,
                     Device device) {
  KQ_RETURN_IF_ERROR(check_4bit(n, blocksize, type));
  if (device == Device::cuda)
    return run_on_cuda("bnb quantize_4bit",
                       [&] { return quantize_4bit_cuda(src, n, blocksize, type, packed, absmax); });
  return scale_blocks(src, n, blocksize, absmax, [&](int64_t begin, int64_t length, float inv) {
    active_kernels().encode4_run(src + begin, length, inv, type, packed + begin / 2);
  });
}

Status dequantize_4bit(const uint8_t* packed, int64_t n, int64_t blocksize, Quant4 type, const float* absmax,
                       float* out, Device device) {
  KQ_RETURN_IF_ERROR(check_4bit(n, blocksize, type));
  if (device == Device::cuda)
    return run_on_cuda("bnb dequantize_4bit",
                       [&] { return dequantize_4bit_cuda(packed, n, blocksize, type, absmax, out); });
  const float* table = code4(type);
  for_blocks(n, blocksize, [&](int64_t b, int64_t begin, int64_t length) {
    active_kernels().decode4_run(packed + begin / 2, length, table, absmax[b], out + begin);
  });
  return Status::success();
}

Status quantize_8bit(const float* src, int64_t n, int64_t blocksize, const float* code, uint8_t* codes, float* absmax,
                     Device device) {
  KQ_RETURN_IF_ERROR(check_sizes(n, blocksize, "blocksize"));
  std::array<float, 255> midpoints;
  KQ_RETURN_IF_ERROR(midpoints_of(code, &midpoints));
  if (device == Device::cuda)
    return run_on_cuda("bnb quantize_8bit",
                       [&] { return quantize_8bit_cuda(src, n, blocksize, code, codes, absmax); });
  return scale_blocks(src, n, blocksize, absmax, [&](int64_t begin, int64_t length, float inv) {
    active_kernels().encode8_run(src + begin, length, inv, midpoints.data(), codes + begin);
  });
}

Status dequantize_8bit(const uint8_t* codes, int64_t n, int64_t blocksize, const float* code, const float* absmax,
                       float* out, Device device) {
  KQ_RETURN_IF_ERROR(check_sizes(n, blocksize, "blocksize"));
  if (device == Device::cuda)
    return run_on_cuda("bnb dequantize_8bit",
                       [&] { return dequantize_8bit_cuda(codes, n, blocksize, code, absmax, out); });
  for_blocks(n, blocksize, [&](int64_t b, int64_t begin, int64_t length) {
    active_kernels().decode8_run(codes + begin, length, code, absmax[b], out + begin);
  });
  return Status::success();
}

Status pack_codes(const uint8_t* indices, int64_t n, int bits, const uint8_t* remap, uint8_t* packed) {
  KQ_RETURN_IF_ERROR(check_code_bits(n, bits));
  const uint32_t limit = 1u << bits;
  std::atomic<int64_t> first_bad{n};
  for_code_runs(n, [&](int64_t begin, int64_t length) {
    for (int64_t i = begin; i < begin + length; ++i) {
      if ((remap != nullptr ? remap[indices[i]] : indices[i]) >= limit) {
        note_first(&first_bad, i);
        break;
      }
    }
    pack_codes_run_ref(indices + begin, length, bits, remap, packed + begin / 8 * bits);
  });
  const int64_t bad = first_bad.load();
  if (bad == n) return Status::success();
  const int value = remap != nullptr ? remap[indices[bad]] : indices[bad];
  return error(Code::invalid_argument, "element " + std::to_string(bad) + " has index " + std::to_string(value) +
                                           ", which does not fit in " + std::to_string(bits) + " bits");
}

Status unpack_codes(const uint8_t* packed, int64_t n, int bits, int64_t limit, uint8_t* indices) {
  KQ_RETURN_IF_ERROR(check_code_bits(n, bits));
  std::atomic<int64_t> first_bad{n};
  for_code_runs(n, [&](int64_t begin, int64_t length) {
    unpack_codes_run_ref(packed + begin / 8 * bits, length, bits, indices + begin);
    for (int64_t i = begin; i < begin + length; ++i) {
      if (indices[i] >= limit) {
        note_first(&first_bad, i);
        break;
      }
    }
  });
  const int64_t bad = first_bad.load();
  if (bad == n) return Status::success();
  return error(Code::invalid_argument, "Expected code indices below " + std::to_string(limit) +
                                           " (the code's length) but element " + std::to_string(bad) + " holds " +
                                           std::to_string(indices[bad]));
}

Status quantize_nested(const float* absmax, int64_t n, int64_t nested_blocksize, const float* code, bool offset_given,
                       float* offset, uint8_t* qabsmax, float* absmax2) {
  KQ_RETURN_IF_ERROR(check_sizes(n, nested_blocksize, "nestedBlocksize"));
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(absmax[i])) return non_finite_error(absmax, n);
  if (offset_given && !std::isfinite(*offset)) return error(Code::invalid_argument, "offset must be finite");
  if (!offset_given) {
    // The mean in f64, rounded once to f32. torch's f32 mean (what bnb stores) sums in another order and
    // can differ in the last bit; reproducing a checkpoint exactly takes its stored offset (offset_given).
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += absmax[i];
    // No blocks, nothing to center: 0 rather than torch's NaN mean of nothing.
    *offset = n == 0 ? 0.0f : static_cast<float>(sum / static_cast<double>(n));
  }
  std::vector<float> centered(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) centered[i] = absmax[i] - *offset;
  return quantize_8bit(centered.data(), n, nested_blocksize, code, qabsmax, absmax2, Device::cpu);
}

Status dequantize_nested(const uint8_t* qabsmax, int64_t n, int64_t nested_blocksize, const float* code,
                         const float* absmax2, float offset, float* absmax) {
  KQ_RETURN_IF_ERROR(dequantize_8bit(qabsmax, n, nested_blocksize, code, absmax2, absmax, Device::cpu));
  // A separate rounding after the product, as bnb does (the build has no FMA contraction).
  for (int64_t i = 0; i < n; ++i) absmax[i] += offset;
  return Status::success();
}

}  // namespace kq::bnb
