#include "host_memory/strided_copy.h"

#include <cstring>

#include "layout/layout.h"

namespace devtensor {
namespace {

template <typename Word>
void CopyElements(const uint8_t* src, int64_t src_step, uint8_t* dst, int64_t dst_step,
                  int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    Word w;
    std::memcpy(&w, src, sizeof(Word));
    std::memcpy(dst, &w, sizeof(Word));
    src += src_step;
    dst += dst_step;
  }
}

// Copies one innermost row of `count` elements with byte steps; a dense row is one memcpy.
void CopyRow(const uint8_t* src, int64_t src_step, uint8_t* dst, int64_t dst_step, int64_t count,
             size_t element_size) {
  const int64_t size = static_cast<int64_t>(element_size);
  if (src_step == size && dst_step == size) {
    std::memcpy(dst, src, static_cast<size_t>(count) * element_size);
    return;
  }
  switch (element_size) {
    case 1: return CopyElements<uint8_t>(src, src_step, dst, dst_step, count);
    case 2: return CopyElements<uint16_t>(src, src_step, dst, dst_step, count);
    case 4: return CopyElements<uint32_t>(src, src_step, dst, dst_step, count);
    case 8: return CopyElements<uint64_t>(src, src_step, dst, dst_step, count);
    default:
      for (int64_t i = 0; i < count; ++i) {
        std::memcpy(dst + i * dst_step, src + i * src_step, element_size);
      }
  }
}

void ZeroRow(uint8_t* dst, int64_t step, int64_t count, size_t element_size) {
  if (step == static_cast<int64_t>(element_size)) {
    std::memset(dst, 0, static_cast<size_t>(count) * element_size);
    return;
  }
  for (int64_t i = 0; i < count; ++i) std::memset(dst + i * step, 0, element_size);
}

// Calls row(src_offset, dst_offset) for every innermost row of a merged layout, in order.
// shape/strides are merged and in bytes; the last dimension is the row.
template <typename RowFn>
void ForEachRow(size_t rank, const int64_t* shape, const int64_t* a_strides,
                const int64_t* b_strides, RowFn&& row) {
  int64_t index[DT_MAX_RANK] = {};
  int64_t a = 0, b = 0;
  const size_t outer = rank - 1;
  while (true) {
    row(a, b);
    size_t i = outer;
    while (true) {
      if (i == 0) return;
      --i;
      if (++index[i] < shape[i]) {
        a += a_strides[i];
        b += b_strides[i];
        break;
      }
      a -= a_strides[i] * (shape[i] - 1);
      b -= b_strides[i] * (shape[i] - 1);
      index[i] = 0;
    }
  }
}

}  // namespace

void CopyStrided(const void* src, const int64_t* src_strides, void* dst,
                 const int64_t* dst_strides, const int64_t* shape, size_t rank,
                 size_t element_size) {
  size_t count = 0;
  if (!ElementCount(shape, rank, &count) || count == 0) return;
  int64_t merged_shape[DT_MAX_RANK], s[DT_MAX_RANK], d[DT_MAX_RANK];
  const int64_t* strides[2] = {src_strides, dst_strides};
  int64_t* merged[2] = {s, d};
  size_t merged_rank = MergeDimensions(shape, rank, strides, 2, merged_shape, merged);
  if (merged_rank == 0) {  // a single element
    std::memcpy(dst, src, element_size);
    return;
  }
  const int64_t size = static_cast<int64_t>(element_size);
  for (size_t i = 0; i < merged_rank; ++i) {
    s[i] *= size;
    d[i] *= size;
  }
  const auto* from = static_cast<const uint8_t*>(src);
  auto* to = static_cast<uint8_t*>(dst);
  const size_t last = merged_rank - 1;
  ForEachRow(merged_rank, merged_shape, s, d, [&](int64_t a, int64_t b) {
    CopyRow(from + a, s[last], to + b, d[last], merged_shape[last], element_size);
  });
}

void ZeroStrided(void* dst, const int64_t* strides, const int64_t* shape, size_t rank,
                 size_t element_size) {
  size_t count = 0;
  if (!ElementCount(shape, rank, &count) || count == 0) return;
  int64_t merged_shape[DT_MAX_RANK], d[DT_MAX_RANK];
  const int64_t* original[1] = {strides};
  int64_t* merged[1] = {d};
  size_t merged_rank = MergeDimensions(shape, rank, original, 1, merged_shape, merged);
  if (merged_rank == 0) {
    std::memset(dst, 0, element_size);
    return;
  }
  const int64_t size = static_cast<int64_t>(element_size);
  for (size_t i = 0; i < merged_rank; ++i) d[i] *= size;
  auto* to = static_cast<uint8_t*>(dst);
  const size_t last = merged_rank - 1;
  ForEachRow(merged_rank, merged_shape, d, d, [&](int64_t a, int64_t) {
    ZeroRow(to + a, d[last], merged_shape[last], element_size);
  });
}

}  // namespace devtensor
