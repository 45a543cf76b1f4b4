// The one-time re-layout of GPTQ checkpoint tensors into PreparedInt4 (layout in int4.h): every check on
// the tensors happens here, so the per-call kernels trust the prepared weight completely.
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>

#include "../../core/cuda_runtime.h"
#include "../../core/thread_pool.h"
#include "int4.h"

namespace kq::int4 {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

Status check_length(int64_t got, int64_t want, const char* name, const std::string& shape) {
  if (got == want) return Status::success();
  return error(Code::length, std::string(name) + " has " + str(got) + " elements; expected " + str(want) + " (" +
                                 shape + ")");
}

Status check_tensors(const CheckpointTensors& t) {
  if (t.n < 1 || t.k < 1) return error(Code::shape, "n and k must be >= 1, got n = " + str(t.n) + ", k = " + str(t.k));
  if (t.k % 8 != 0) return error(Code::shape, "k = " + str(t.k) + " must be a multiple of 8 (8 codes per qweight word)");
  if (t.n > std::numeric_limits<int32_t>::max() || t.k > std::numeric_limits<int32_t>::max())
    return error(Code::too_large, "n and k must be below 2^31");
  if (t.groups < 1 || t.groups > t.k) return error(Code::shape, "scales must have between 1 and k rows, got " + str(t.groups));
  if (!t.qweight || !t.scales) return error(Code::invalid_argument, "qweight and scales are required");
  KQ_RETURN_IF_ERROR(check_length(t.qweight_len, (t.k / 8) * t.n, "qweight", "[k/8, n]"));
  KQ_RETURN_IF_ERROR(check_length(t.scales_len, t.groups * t.n, "scales", "[groups, n]"));
  if (t.qzeros) {
    if (t.n % 8 != 0)
      return error(Code::shape, "n = " + str(t.n) + " must be a multiple of 8 when qzeros packs 8 zeros per word");
    KQ_RETURN_IF_ERROR(check_length(t.qzeros_len, t.groups * (t.n / 8), "qzeros", "[groups, n/8]"));
  }
  if (t.g_idx) {
    KQ_RETURN_IF_ERROR(check_length(t.g_idx_len, t.k, "g_idx", "[k]"));
    for (int64_t c = 0; c < t.k; ++c)
      if (t.g_idx[c] < 0 || t.g_idx[c] >= t.groups)
        return error(Code::invalid_argument, "g_idx[" + str(c) + "] = " + str(t.g_idx[c]) + " is outside [0, " +
                                                 str(t.groups) + ")");
  } else {
    if (t.group_size != -1 && t.group_size < 1)
      return error(Code::shape, "group size must be -1 or >= 1, got " + str(t.group_size));
    const int64_t want = t.group_size == -1 ? 1 : (t.k + t.group_size - 1) / t.group_size;
    if (t.groups != want)
      return error(Code::shape, "scales has " + str(t.groups) + " groups; group size " + str(t.group_size) +
                                    " over k = " + str(t.k) + " needs " + str(want));
  }
  for (int64_t i = 0; i < t.scales_len; ++i)
    if ((t.scales[i] & 0x7c00u) == 0x7c00u)
      return error(Code::non_finite, "scales[" + str(i / t.n) + ", " + str(i % t.n) + "] is NaN or Inf (f16 bits " +
                                         str(t.scales[i]) + ")");
  return Status::success();
}

int32_t group_of(const CheckpointTensors& t, int64_t c) {
  if (t.g_idx) return t.g_idx[c];
  return t.group_size == -1 ? 0 : static_cast<int32_t>(c / t.group_size);
}

// Column order: stable sort by group; each group padded to whole blocks.
void order_columns(const CheckpointTensors& t, PreparedInt4& w) {
  std::vector<int64_t> count(t.groups, 0);
  for (int64_t c = 0; c < t.k; ++c) ++count[group_of(t, c)];
  w.group_blocks.assign(t.groups + 1, 0);
  for (int64_t g = 0; g < t.groups; ++g)
    w.group_blocks[g + 1] = w.group_blocks[g] + static_cast<int32_t>((count[g] + kBlock - 1) / kBlock);
  w.blocks = w.group_blocks[t.groups];
  w.src_col.assign(w.blocks * kBlock, -1);
  std::vector<int64_t> next(t.groups);
  for (int64_t g = 0; g < t.groups; ++g) next[g] = int64_t(w.group_blocks[g]) * kBlock;
  for (int64_t c = 0; c < t.k; ++c) w.src_col[next[group_of(t, c)]++] = static_cast<int32_t>(c);
  w.identity = w.blocks * kBlock == t.k;
  for (int64_t p = 0; w.identity && p < t.k; ++p) w.identity = w.src_col[p] == p;
}

inline uint8_t code_at(const CheckpointTensors& t, int64_t row, int64_t col) {
  const uint32_t word = static_cast<uint32_t>(t.qweight[(col / 8) * t.n + row]);
  return static_cast<uint8_t>((word >> (4 * (col % 8))) & 0xfu);
}

// GPTQModel v1 stores zero − 1 by subtracting 0x11111111 from the whole word; adding it back (mod 2^32)
// restores the fields, borrows included (README 4.4).
inline uint8_t zero_at(const CheckpointTensors& t, int64_t g, int64_t row) {
  if (!t.qzeros) return 8;
  uint32_t word = static_cast<uint32_t>(t.qzeros[g * (t.n / 8) + row / 8]);
  if (t.format == Format::gptq) word += 0x11111111u;
  return static_cast<uint8_t>((word >> (4 * (row % 8))) & 0xfu);
}

void fill_tiles(const CheckpointTensors& t, PreparedInt4& w) {
  const int64_t per_tile = w.blocks * kTileBlockBytes;
  parallel_for(w.tiles, std::max<int64_t>(1, 4096 / std::max<int64_t>(w.blocks, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t tile = t0; tile < t1; ++tile) {
      uint8_t* dst = w.nibbles.get() + tile * per_tile;
      for (int64_t b = 0; b < w.blocks; ++b)
        for (int64_t c = 0; c < 4; ++c)
          for (int64_t r = 0; r < kTileRows; ++r) {
            const int64_t row = tile * kTileRows + r;
            for (int64_t j = 0; j < 4; ++j) {
              const int32_t lo_col = w.src_col[b * kBlock + 8 * c + j];
              const int32_t hi_col = w.src_col[b * kBlock + 8 * c + 4 + j];
              uint8_t byte = 0;
              if (row < t.n) {
                if (lo_col >= 0) byte |= code_at(t, row, lo_col);
                if (hi_col >= 0) byte |= static_cast<uint8_t>(code_at(t, row, hi_col) << 4);
              }
              dst[(b * 4 + c) * kChunkBytes + r * 4 + j] = byte;
            }
          }
      for (int64_t g = 0; g < t.groups; ++g)
        for (int64_t r = 0; r < kTileRows; ++r) {
          const int64_t row = tile * kTileRows + r, at = (tile * t.groups + g) * kTileRows + r;
          w.scales[at] = row < t.n ? t.scales[g * t.n + row] : 0;
          w.zeros[at] = row < t.n ? zero_at(t, g, row) : 0;
        }
    }
  });
}

}  // namespace

void AlignedFree::operator()(void* p) const { std::free(p); }

int64_t PreparedInt4::bytes() const {
  if (device == Device::cuda) return cuda_bytes + static_cast<int64_t>((src_col.size() + group_blocks.size()) * 4);
  return tiles * blocks * kTileBlockBytes + static_cast<int64_t>(scales.size() * 2 + zeros.size() +
                                                                 (src_col.size() + group_blocks.size()) * 4);
}

Status prepare(const CheckpointTensors& t, Device device, std::shared_ptr<PreparedInt4>* out) {
  // Fail fast without a GPU; with one, the CPU layout below is the source of the device layout.
  if (device == Device::cuda) KQ_RETURN_IF_ERROR(require_cuda("prepareInt4Weights"));
  KQ_RETURN_IF_ERROR(check_tensors(t));
  auto w = std::make_shared<PreparedInt4>();
  w->device = device;
  w->n = t.n;
  w->k = t.k;
  w->groups = t.groups;
  w->group_size = t.group_size;
  w->tiles = (t.n + kTileRows - 1) / kTileRows;
  try {
    order_columns(t, *w);
    const size_t nibble_bytes = static_cast<size_t>(w->tiles * w->blocks * kTileBlockBytes);
    void* mem = std::aligned_alloc(64, (nibble_bytes + 63) / 64 * 64);
    if (!mem) throw std::bad_alloc();
    w->nibbles.reset(static_cast<uint8_t*>(mem));
    w->scales.resize(static_cast<size_t>(w->tiles * t.groups * kTileRows));
    w->zeros.resize(w->scales.size());
  } catch (const std::bad_alloc&) {
    return error(Code::out_of_memory, "prepareInt4Weights: no memory for the prepared weight");
  }
  fill_tiles(t, *w);
  if (device == Device::cuda)
    KQ_RETURN_IF_ERROR(run_on_cuda("prepareInt4Weights", [&] { return upload_cuda(w.get()); }));
  *out = std::move(w);
  return Status::success();
}

}  // namespace kq::int4
