// The one-time re-layout of bnb 4-bit and ggml Q4_K weights into PreparedCodebook (codebook.h): every check
// on the input happens here, so the per-call kernels trust the prepared weight completely.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "../../core/half.h"
#include "../../core/thread_pool.h"
#include "../bnb/bnb.h"
#include "../ggml/blocks.h"
#include "../ggml/pack.h"
#include "codebook.h"

namespace kq::int4 {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

Status check_dims(int64_t n, int64_t k, int64_t unit, const char* unit_name) {
  if (n < 1 || k < 1) return error(Code::shape, "n and k must be >= 1, got n = " + str(n) + ", k = " + str(k));
  if (n > std::numeric_limits<int32_t>::max() || k > std::numeric_limits<int32_t>::max())
    return error(Code::too_large, "n and k must be below 2^31");
  if (k % unit != 0) return error(Code::shape, "k = " + str(k) + " must be a multiple of " + str(unit) + " (" + unit_name + ")");
  return Status::success();
}

// The prepared object with its nibble buffer; the family-specific vectors are sized by the caller.
Status allocate(int64_t n, int64_t k, CodebookFormat format, std::shared_ptr<PreparedCodebook>* out) {
  auto w = std::make_shared<PreparedCodebook>();
  w->format = format;
  w->n = n;
  w->k = k;
  w->tiles = (n + kTileRows - 1) / kTileRows;
  w->blocks = k / kBlock;
  const size_t bytes = static_cast<size_t>(w->tiles * w->blocks * kTileBlockBytes);
  void* mem = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!mem) return error(Code::out_of_memory, "no memory for the prepared weight");
  w->nibbles.reset(static_cast<uint8_t*>(mem));
  *out = std::move(w);
  return Status::success();
}

// Writes every tile's nibbles from code(row, col) (rows past n get code 0), tiles spread over the pool.
template <typename CodeAt, typename PerTile>
void fill_tiles(PreparedCodebook& w, CodeAt code_at, PerTile per_tile) {
  parallel_for(w.tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t tile = t0; tile < t1; ++tile) {
      uint8_t* dst = w.nibbles.get() + tile * w.blocks * kTileBlockBytes;
      for (int64_t b = 0; b < w.blocks; ++b)
        for (int64_t c = 0; c < 4; ++c)
          for (int64_t r = 0; r < kTileRows; ++r) {
            const int64_t row = tile * kTileRows + r;
            for (int64_t j = 0; j < 4; ++j) {
              const int64_t col = b * kBlock + 8 * c + j;
              const uint8_t byte = row < w.n ? static_cast<uint8_t>(code_at(row, col) | (code_at(row, col + 4) << 4)) : 0;
              dst[(b * 4 + c) * kChunkBytes + r * 4 + j] = byte;
            }
          }
      per_tile(tile);
    }
  });
}

}  // namespace

int64_t PreparedCodebook::bytes() const {
  return tiles * blocks * kTileBlockBytes + static_cast<int64_t>(absmax.size() * 4 + sub_scales.size() + sub_mins.size() +
                                                                (super_d.size() + super_dmin.size()) * 4);
}

Status prepare_bnb4(const Bnb4Tensors& t, std::shared_ptr<PreparedCodebook>* out) {
  if (t.format != CodebookFormat::nf4 && t.format != CodebookFormat::fp4)
    return error(Code::invalid_argument, "bnb 4-bit weights are nf4 or fp4");
  if (t.block_size < kBlock || t.block_size % kBlock != 0)
    return error(Code::shape, "blockSize must be a multiple of 32, got " + str(t.block_size));
  KQ_RETURN_IF_ERROR(check_dims(t.n, t.k, t.block_size, "the bnb block size: a block may not straddle two rows"));
  if (!t.packed || !t.absmax) return error(Code::invalid_argument, "packed and absmax are required");
  const int64_t groups = t.k / t.block_size;
  if (t.packed_len != t.n * t.k / 2)
    return error(Code::length, "packed has " + str(t.packed_len) + " bytes; expected n · k / 2 = " + str(t.n * t.k / 2));
  if (t.absmax_len != t.n * groups)
    return error(Code::length, "absmax has " + str(t.absmax_len) + " elements; expected one per block, " + str(t.n * groups));
  for (int64_t i = 0; i < t.absmax_len; ++i)
    if (!std::isfinite(t.absmax[i])) return error(Code::non_finite, "absmax[" + str(i) + "] is NaN or Inf");

  std::shared_ptr<PreparedCodebook> w;
  try {
    KQ_RETURN_IF_ERROR(allocate(t.n, t.k, t.format, &w));
    w->absmax.assign(static_cast<size_t>(w->tiles * groups * kTileRows), 0.0f);
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "no memory for the prepared weight");
  }
  w->groups = groups;
  w->blocks_per_group = t.block_size / kBlock;
  std::memcpy(w->table, bnb::code4(t.format == CodebookFormat::nf4 ? bnb::Quant4::nf4 : bnb::Quant4::fp4), sizeof w->table);
  // Element e = row · k + col sits in byte e / 2, the even one in the high nibble (k is even).
  auto code_at = [&](int64_t row, int64_t col) {
    const uint8_t byte = t.packed[(row * t.k + col) / 2];
    return (col & 1) ? (byte & 0xf) : (byte >> 4);
  };
  auto per_tile = [&](int64_t tile) {
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t r = 0; r < kTileRows; ++r) {
        const int64_t row = tile * kTileRows + r;
        if (row < t.n) w->absmax[(tile * groups + g) * kTileRows + r] = t.absmax[row * groups + g];
      }
  };
  fill_tiles(*w, code_at, per_tile);
  *out = std::move(w);
  return Status::success();
}

Status prepare_q4_k(const uint8_t* bytes, int64_t bytes_len, int64_t n, int64_t k,
                    std::shared_ptr<PreparedCodebook>* out) {
  KQ_RETURN_IF_ERROR(check_dims(n, k, kQ4KSuper, "the Q4_K super-block"));
  if (!bytes) return error(Code::invalid_argument, "bytes are required");
  const int64_t supers = k / kQ4KSuper;
  if (bytes_len != n * supers * kQ4KBytes)
    return error(Code::length, "bytes has " + str(bytes_len) + " bytes; expected " + str(n * supers * kQ4KBytes) + " (" +
                                   str(n) + " rows of " + str(supers) + " Q4_K blocks)");
  auto block_at = [&](int64_t row, int64_t s) {
    ggml::BlockQ4_K b;
    std::memcpy(&b, bytes + (row * supers + s) * kQ4KBytes, sizeof b);
    return b;
  };
  for (int64_t i = 0; i < n * supers; ++i) {
    const ggml::BlockQ4_K b = block_at(i / supers, i % supers);
    if ((b.d & 0x7c00u) == 0x7c00u || (b.dmin & 0x7c00u) == 0x7c00u)
      return error(Code::non_finite, "Q4_K block " + str(i % supers) + " of row " + str(i / supers) + " has a NaN or Inf d or dmin");
  }

  std::shared_ptr<PreparedCodebook> w;
  try {
    KQ_RETURN_IF_ERROR(allocate(n, k, CodebookFormat::q4_k, &w));
    w->sub_scales.assign(static_cast<size_t>(w->tiles * w->blocks * kTileRows), 0);
    w->sub_mins.assign(w->sub_scales.size(), 0);
    w->super_d.assign(static_cast<size_t>(w->tiles * supers * kTileRows), 0.0f);
    w->super_dmin.assign(w->super_d.size(), 0.0f);
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "no memory for the prepared weight");
  }
  w->groups = w->blocks;
  w->blocks_per_group = 1;
  for (int q = 0; q < 16; ++q) w->table[q] = static_cast<float>(q);
  // Within a super-block, each 64 elements share 32 bytes of qs: the first 32 in low nibbles.
  auto code_at = [&](int64_t row, int64_t col) {
    const int64_t j = col % kQ4KSuper;
    const uint8_t byte = bytes[(row * supers + col / kQ4KSuper) * kQ4KBytes + 16 + (j / 64) * 32 + j % 32];
    return (j % 64) < 32 ? (byte & 0xf) : (byte >> 4);
  };
  auto per_tile = [&](int64_t tile) {
    for (int64_t r = 0; r < kTileRows; ++r) {
      const int64_t row = tile * kTileRows + r;
      if (row >= n) continue;
      for (int64_t s = 0; s < supers; ++s) {
        const ggml::BlockQ4_K b = block_at(row, s);
        w->super_d[(tile * supers + s) * kTileRows + r] = f16_bits_to_f32(b.d);
        w->super_dmin[(tile * supers + s) * kTileRows + r] = f16_bits_to_f32(b.dmin);
        for (int j = 0; j < 8; ++j) {
          uint8_t sc, m;
          ggml::get_scale_min_k4(j, b.scales, &sc, &m);
          const int64_t at = (tile * w->blocks + s * 8 + j) * kTileRows + r;
          w->sub_scales[at] = sc;
          w->sub_mins[at] = m;
        }
      }
    }
  };
  fill_tiles(*w, code_at, per_tile);
  *out = std::move(w);
  return Status::success();
}

}  // namespace kq::int4
