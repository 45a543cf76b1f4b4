// GPTQ checkpoint packing and dequantization (pack.h). Scalar: the work is bit shuffling bound by memory, split
// over the thread pool by packing units along the packed dimension (qweight), by groups (qzeros) or by rows
// (dequantize).
#include "pack.h"

#include <algorithm>
#include <string>
#include <vector>

#include "../../core/half.h"
#include "../../core/thread_pool.h"

namespace kq::gptq {
namespace {

constexpr int kMaxUnit = 32;  // values in one packing unit (3 bits: 32 values → 3 words)

// GPTQModel's whole-word v1 constant: a 1 in every field (2/4/8 bits).
uint32_t v1_word_constant(int bits) {
  uint32_t c = 0;
  for (int s = 0; s < 32; s += bits) c |= 1u << s;
  return c;
}

// `n` values (each < 2^bits) as one little-endian bit stream over n·bits/32 words.
void pack_stream(const uint32_t* values, int64_t n, int bits, uint32_t* words) {
  std::fill(words, words + n * bits / 32, 0u);
  for (int64_t j = 0; j < n; ++j) {
    const int64_t pos = static_cast<int64_t>(bits) * j;
    const int64_t w = pos >> 5;
    const int shift = static_cast<int>(pos & 31);
    words[w] |= values[j] << shift;
    if (shift + bits > 32) words[w + 1] |= values[j] >> (32 - shift);
  }
}

void unpack_stream(const uint32_t* words, int64_t n, int bits, uint32_t* values) {
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t pos = static_cast<int64_t>(bits) * j;
    const int64_t w = pos >> 5;
    const int shift = static_cast<int>(pos & 31);
    uint32_t v = words[w] >> shift;
    if (shift + bits > 32) v |= words[w + 1] << (32 - shift);
    values[j] = v & mask;
  }
}

Status check_bits(int bits) {
  if (bits == 2 || bits == 3 || bits == 4 || bits == 8) return Status::success();
  return error(Code::invalid_argument, "bits must be 2, 3, 4 or 8 but is " + std::to_string(bits));
}

Status check_dims(int bits, int64_t packed, const char* packed_name, int64_t other, const char* other_name) {
  KQ_RETURN_IF_ERROR(check_bits(bits));
  if (packed < 1 || other < 1) {
    return error(Code::shape, std::string(packed_name) + " = " + std::to_string(packed) + " and " + other_name + " = " +
                                  std::to_string(other) + " must both be at least 1");
  }
  const int64_t unit = pack_unit(bits);
  if (packed % unit != 0) {
    return error(Code::shape, std::string(packed_name) + " = " + std::to_string(packed) + " must be a multiple of " +
                                  std::to_string(unit) + " for " + std::to_string(bits) + "-bit packing");
  }
  return Status::success();
}

Status check_format(ZeroFormat format) {
  if (format == ZeroFormat::v1 || format == ZeroFormat::v2) return Status::success();
  return error(Code::invalid_argument, "format must be 0 (v1, \"gptq\") or 1 (v2, \"gptq_v2\") but is " +
                                           std::to_string(static_cast<int32_t>(format)));
}

// Chunks of packing units sized so each task moves at least ~64 KiB of codes.
int64_t unit_grain(int64_t values_per_unit_row) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, values_per_unit_row)); }

// body(u, o, values, packed) for every u < units and o < inner, threaded over u, with scratch for one packing
// unit's values and words.
template <typename Body>
void each_unit(int64_t units, int64_t inner, int64_t grain, Body body) {
  parallel_for(units, grain, [=](int64_t u0, int64_t u1) {
    uint32_t values[kMaxUnit];
    uint32_t packed[kMaxUnit];
    for (int64_t u = u0; u < u1; ++u)
      for (int64_t o = 0; o < inner; ++o) body(u, o, values, packed);
  });
}

// The qzeros layout of one format and bit width: per group, out / unit packing units of `words` words
// (row_words in all). v1 stores zero − 1: as (z − 1) mod 8 per field for 3 bits, as whole words minus the
// constant otherwise.
struct ZeroLayout {
  int64_t unit, words, row_words;
  bool v1_fields, v1_words;
  uint32_t word_constant;

  ZeroLayout(int64_t out, int bits, ZeroFormat format)
      : unit(pack_unit(bits)),
        words(unit * bits / 32),
        row_words(packed_words(out, bits)),
        v1_fields(format == ZeroFormat::v1 && bits == 3),
        v1_words(format == ZeroFormat::v1 && bits != 3),
        word_constant(v1_word_constant(bits)) {}
};

}  // namespace

Status pack_qweight(const uint8_t* codes, int64_t out, int64_t in, int bits, int32_t* qweight) {
  KQ_RETURN_IF_ERROR(check_dims(bits, in, "in", out, "out"));
  const uint8_t maxq = static_cast<uint8_t>((1 << bits) - 1);
  const int64_t total = out * in;
  uint8_t largest = 0;
  for (int64_t k = 0; k < total; ++k) largest = std::max(largest, codes[k]);
  if (largest > maxq) {
    const int64_t k = std::find_if(codes, codes + total, [=](uint8_t c) { return c > maxq; }) - codes;
    return error(Code::invalid_argument, "codes[" + std::to_string(k / in) + ", " + std::to_string(k % in) + "] = " +
                                             std::to_string(codes[k]) + " exceeds maxq = " + std::to_string(maxq) +
                                             " for " + std::to_string(bits) + " bits");
  }
  const int64_t unit = pack_unit(bits);
  const int64_t words = unit * bits / 32;
  each_unit(in / unit, out, unit_grain(unit * out), [=](int64_t u, int64_t o, uint32_t* values, uint32_t* packed) {
    const uint8_t* src = codes + o * in + u * unit;
    for (int64_t k = 0; k < unit; ++k) values[k] = src[k];
    pack_stream(values, unit, bits, packed);
    for (int64_t w = 0; w < words; ++w) qweight[(u * words + w) * out + o] = static_cast<int32_t>(packed[w]);
  });
  return Status::success();
}

Status unpack_qweight(const int32_t* qweight, int64_t out, int64_t in, int bits, uint8_t* codes) {
  KQ_RETURN_IF_ERROR(check_dims(bits, in, "in", out, "out"));
  const int64_t unit = pack_unit(bits);
  const int64_t words = unit * bits / 32;
  each_unit(in / unit, out, unit_grain(unit * out), [=](int64_t u, int64_t o, uint32_t* values, uint32_t* packed) {
    for (int64_t w = 0; w < words; ++w) packed[w] = static_cast<uint32_t>(qweight[(u * words + w) * out + o]);
    unpack_stream(packed, unit, bits, values);
    uint8_t* dst = codes + o * in + u * unit;
    for (int64_t k = 0; k < unit; ++k) dst[k] = static_cast<uint8_t>(values[k]);
  });
  return Status::success();
}

Status pack_qzeros(const int32_t* zeros, int64_t out, int64_t groups, int bits, ZeroFormat format, int32_t* qzeros) {
  KQ_RETURN_IF_ERROR(check_dims(bits, out, "out", groups, "groups"));
  KQ_RETURN_IF_ERROR(check_format(format));
  const int32_t maxq = (1 << bits) - 1;
  for (int64_t k = 0; k < out * groups; ++k) {
    if (zeros[k] < 0 || zeros[k] > maxq) {
      return error(Code::invalid_argument, "zeros[" + std::to_string(k / groups) + ", " + std::to_string(k % groups) +
                                               "] = " + std::to_string(zeros[k]) + " is outside [0, " +
                                               std::to_string(maxq) + "] for " + std::to_string(bits) + " bits");
    }
  }
  const ZeroLayout l(out, bits, format);
  each_unit(groups, out / l.unit, unit_grain(out), [=](int64_t g, int64_t u, uint32_t* values, uint32_t* packed) {
    for (int64_t k = 0; k < l.unit; ++k) {
      const uint32_t z = static_cast<uint32_t>(zeros[(u * l.unit + k) * groups + g]);
      values[k] = l.v1_fields ? (z + 7u) & 7u : z;  // 3-bit v1: (z − 1) mod 8 per field
    }
    pack_stream(values, l.unit, bits, packed);
    for (int64_t w = 0; w < l.words; ++w) {
      const uint32_t word = l.v1_words ? packed[w] - l.word_constant : packed[w];
      qzeros[g * l.row_words + u * l.words + w] = static_cast<int32_t>(word);
    }
  });
  return Status::success();
}

Status unpack_qzeros(const int32_t* qzeros, int64_t out, int64_t groups, int bits, ZeroFormat format, int32_t* zeros) {
  KQ_RETURN_IF_ERROR(check_dims(bits, out, "out", groups, "groups"));
  KQ_RETURN_IF_ERROR(check_format(format));
  const ZeroLayout l(out, bits, format);
  each_unit(groups, out / l.unit, unit_grain(out), [=](int64_t g, int64_t u, uint32_t* values, uint32_t* packed) {
    for (int64_t w = 0; w < l.words; ++w) {
      const uint32_t word = static_cast<uint32_t>(qzeros[g * l.row_words + u * l.words + w]);
      packed[w] = l.v1_words ? word + l.word_constant : word;
    }
    unpack_stream(packed, l.unit, bits, values);
    for (int64_t k = 0; k < l.unit; ++k) {
      const uint32_t z = l.v1_fields ? (values[k] + 1u) & 7u : values[k];
      zeros[(u * l.unit + k) * groups + g] = static_cast<int32_t>(z);
    }
  });
  return Status::success();
}

Status dequantize(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales_f16, const int32_t* g_idx,
                  int64_t out, int64_t in, int64_t groups, int bits, ZeroFormat format, float* w) {
  KQ_RETURN_IF_ERROR(check_dims(bits, in, "in", out, "out"));
  for (int64_t i = 0; i < in; ++i) {
    if (g_idx[i] < 0 || g_idx[i] >= groups) {
      return error(Code::invalid_argument, "g_idx[" + std::to_string(i) + "] = " + std::to_string(g_idx[i]) +
                                               " is outside [0, " + std::to_string(groups - 1) + "] (groups)");
    }
  }
  std::vector<int32_t> zeros(static_cast<size_t>(out * groups));  // [out, groups]
  KQ_RETURN_IF_ERROR(unpack_qzeros(qzeros, out, groups, bits, format, zeros.data()));
  std::vector<float> scales(static_cast<size_t>(groups * out));  // [groups, out]
  parallel_for(groups * out, 65536, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) scales[k] = f16_bits_to_f32(scales_f16[k]);
  });
  const int64_t unit = pack_unit(bits);
  const int64_t words = unit * bits / 32;
  // qweight is [in·bits/32, out]: a tile of consecutive rows reads whole cache lines of each word row.
  constexpr int64_t kTile = 16;
  parallel_for((out + kTile - 1) / kTile, std::max<int64_t>(1, 65536 / (kTile * in)), [&](int64_t t0, int64_t t1) {
    uint32_t values[kMaxUnit];
    uint32_t packed[kMaxUnit];
    const int64_t o_end = std::min(out, t1 * kTile);
    for (int64_t o0 = t0 * kTile; o0 < o_end; o0 += kTile) {
      for (int64_t u = 0; u < in / unit; ++u) {
        for (int64_t o = o0; o < std::min(o_end, o0 + kTile); ++o) {
          for (int64_t k = 0; k < words; ++k) packed[k] = static_cast<uint32_t>(qweight[(u * words + k) * out + o]);
          unpack_stream(packed, unit, bits, values);
          for (int64_t k = 0; k < unit; ++k) {
            const int64_t i = u * unit + k;
            const int64_t g = g_idx[i];
            const int32_t diff = static_cast<int32_t>(values[k]) - zeros[o * groups + g];
            w[o * in + i] = scales[g * out + o] * static_cast<float>(diff);
          }
        }
      }
    }
  });
  return Status::success();
}

}  // namespace kq::gptq
