// ggml block types on CUDA (ops/ggml/cuda.cu) against the scalar reference (quantize_row_ref, dequantize_row),
// which test_ggml.cc and the vitest goldens pin to ggml: dequantization of every type on random bytes (every fp16 / f32 / E8M0 scale pattern,
// NaN and Inf included) and on the GPU's own quantized bytes, bit for bit with NaN compared as a class;
// quantization of Q4_0, Q8_0, Q4_K and Q6_K byte for byte on random data mixed with the edge blocks (all
// zero, ±1e-30, subnormal, constant, one outlier, values whose fp16 scale overflows). Block counts 1, 2, 3,
// 5, 7, 33 and 1023. The refusals (a type without a CUDA quantizer; no GPU) are checked on every machine.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../core/cuda_runtime.h"
#include "../ops/ggml/ggml.h"
#include "check.h"

namespace kq::test {
namespace {

using ggml::Type;

constexpr Type kAllTypes[] = {Type::q4_0, Type::q4_1, Type::q5_0,  Type::q5_1,  Type::q8_0,   Type::q8_1,
                              Type::q2_k, Type::q3_k, Type::q4_k,  Type::q5_k,  Type::q6_k,   Type::q8_k,
                              Type::tq1_0, Type::tq2_0, Type::iq4_nl, Type::mxfp4};
constexpr Type kCudaQuantized[] = {Type::q4_0, Type::q8_0, Type::q4_k, Type::q6_k};
constexpr int64_t kBlockCounts[] = {1, 2, 3, 5, 7, 33, 1023};

int32_t id(Type t) { return static_cast<int32_t>(t); }
const ggml::TypeInfo& info(Type t) { return *ggml::type_info(id(t)); }

// Bit-equal, or both NaN (x86 and CUDA make different NaN payloads).
bool same_float(float a, float b) {
  uint32_t ua, ub;
  std::memcpy(&ua, &a, 4);
  std::memcpy(&ub, &b, 4);
  return ua == ub || (std::isnan(a) && std::isnan(b));
}

void check_floats(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  FirstMismatch mm;
  for (size_t i = 0; i < want.size(); ++i)
    if (!same_float(got[i], want[i])) mm.add(format("[%zu] got %.9g want %.9g", i, got[i], want[i]));
  check(mm.count == 0, what + ": " + mm.describe());
}

void check_bytes(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want, const std::string& what) {
  FirstMismatch mm;
  for (size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i]) mm.add(format("byte %zu got %d want %d", i, got[i], want[i]));
  check(mm.count == 0, what + ": " + mm.describe());
}

// Blocks of `size` elements: most random normal at varied magnitudes, every few an edge case.
std::vector<float> inputs(int64_t blocks, int64_t size, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(blocks * size));
  for (int64_t b = 0; b < blocks; ++b) {
    float* v = x.data() + b * size;
    switch (b % 11) {
      case 1: for (int64_t j = 0; j < size; ++j) v[j] = 0.0f; break;
      case 3: for (int64_t j = 0; j < size; ++j) v[j] = j % 2 ? 1e-30f : -1e-30f; break;
      case 5: for (int64_t j = 0; j < size; ++j) v[j] = normal(gen) * 1e-40f; break;  // subnormal
      case 6: for (int64_t j = 0; j < size; ++j) v[j] = 0.75f; break;
      case 7:
        for (int64_t j = 0; j < size; ++j) v[j] = 0.01f * normal(gen);
        v[(b * 7) % size] = -40.0f;
        break;
      case 9: for (int64_t j = 0; j < size; ++j) v[j] = normal(gen) * 3e6f; break;  // scale past fp16's 65504
      case 10: for (int64_t j = 0; j < size; ++j) v[j] = j % 3 ? 1e20f : -3e38f; break;  // x² overflows
      default: {
        const float scale = std::ldexp(1.0f, static_cast<int>(b % 17) - 8);
        for (int64_t j = 0; j < size; ++j) v[j] = scale * normal(gen);
      }
    }
  }
  return x;
}

void dequantize_matches(Type t, const std::vector<uint8_t>& bytes, int64_t n, const std::string& what) {
  std::vector<float> ref(static_cast<size_t>(n)), gpu(static_cast<size_t>(n), 1.0f);
  ggml::dequantize_row(t, bytes.data(), ref.data(), n);
  const Status sg = ggml::dequantize(id(t), bytes.data(), n, gpu.data(), Device::cuda);
  if (!check(sg.ok(), what + ": " + sg.message)) return;
  check_floats(gpu, ref, what);
}

void dequantize_random_bytes() {
  std::mt19937 gen(7);
  for (Type t : kAllTypes) {
    for (int64_t blocks : kBlockCounts) {
      std::vector<uint8_t> bytes(static_cast<size_t>(blocks * info(t).type_size));
      for (uint8_t& v : bytes) v = static_cast<uint8_t>(gen());
      dequantize_matches(t, bytes, blocks * info(t).block_size,
                         format("dequantize %s, %lld random blocks", info(t).name, static_cast<long long>(blocks)));
    }
  }
}

void quantize_matches() {
  for (Type t : kCudaQuantized) {
    for (int64_t blocks : kBlockCounts) {
      const int64_t n = blocks * info(t).block_size;
      const std::vector<float> x = inputs(blocks, info(t).block_size, static_cast<uint32_t>(blocks * 31 + id(t)));
      const size_t bytes = static_cast<size_t>(blocks * info(t).type_size);
      std::vector<uint8_t> ref(bytes), gpu(bytes, 0xAB);
      ggml::quantize_row_ref(t, x.data(), ref.data(), n);
      const Status sg = ggml::quantize(id(t), x.data(), n, gpu.data(), Device::cuda);
      const std::string what = format("quantize %s, %lld blocks", info(t).name, static_cast<long long>(blocks));
      if (!check(sg.ok(), what + ": " + sg.message)) continue;
      check_bytes(gpu, ref, what);
      dequantize_matches(t, gpu, n, "dequantize the GPU's " + what);
    }
  }
}

// NaN / Inf input: the CPU driver's KQ_NON_FINITE, naming the same element.
void quantize_non_finite() {
  for (Type t : kCudaQuantized) {
    std::vector<float> x = inputs(3, info(t).block_size, 5);
    x[x.size() / 2 + 1] = NAN;
    std::vector<uint8_t> out(static_cast<size_t>(3 * info(t).type_size));
    const Status sc = ggml::quantize(id(t), x.data(), static_cast<int64_t>(x.size()), out.data(), Device::cpu);
    const Status sg = ggml::quantize(id(t), x.data(), static_cast<int64_t>(x.size()), out.data(), Device::cuda);
    check(sg.code == Code::non_finite && sg.message == sc.message,
          format("quantize %s NaN on CUDA: %s (CPU: %s)", info(t).name, sg.message.c_str(), sc.message.c_str()));
  }
}

// On every machine: a type without a CUDA quantizer is refused by name before CUDA is asked.
void refusals() {
  for (Type t : kAllTypes) {
    if (ggml::cuda_quantizes(t)) continue;
    std::vector<float> x(static_cast<size_t>(info(t).block_size), 1.0f);
    std::vector<uint8_t> out(static_cast<size_t>(info(t).type_size));
    const Status s = ggml::quantize(id(t), x.data(), info(t).block_size, out.data(), Device::cuda);
    check(s.code == Code::invalid_argument && s.message.find(info(t).name) != std::string::npos,
          format("quantize %s on CUDA refused by name: %s", info(t).name, s.message.c_str()));
  }
}

void without_gpu() {
  std::vector<float> x(256, 0.5f), out(256, 3.0f);
  std::vector<uint8_t> bytes(144, 0);
  check(ggml::quantize(id(Type::q4_k), x.data(), 256, bytes.data(), Device::cuda).code == Code::cuda_unavailable,
        "quantize q4_K on CUDA without a GPU: cuda_unavailable");
  check(ggml::dequantize(id(Type::q4_k), bytes.data(), 256, out.data(), Device::cuda).code == Code::cuda_unavailable,
        "dequantize q4_K on CUDA without a GPU: cuda_unavailable");
  check(out[0] == 3.0f, "dequantize without a GPU leaves dst alone");
}

}  // namespace

void ggml_cuda_suite() {
  const Tally before = tally();
  refusals();
  if (!cuda_info().available) {
    without_gpu();
  } else {
    dequantize_random_bytes();
    quantize_matches();
    quantize_non_finite();
    std::vector<float> empty_out(1);
    check(ggml::dequantize(id(Type::q6_k), nullptr, 0, empty_out.data(), Device::cuda).ok(), "dequantize n = 0");
  }
  std::printf("ggml cuda%s: %d passed, %d failed\n", cuda_info().available ? "" : " (refusals only, no GPU)",
              tally().passed - before.passed, tally().failed - before.failed);
}

}  // namespace kq::test
