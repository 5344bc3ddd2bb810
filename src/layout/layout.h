// Tensor layout arithmetic shared by the core and the host-memory kernels: shape checks with
// overflow-safe sizes, row-major strides, extents, merging of dimensions and byte runs.
//
// Every layout devtensor makes is "nested row-major": strides come from a row-major parent by
// slicing, so stride[i] >= stride[i + 1] * shape[i + 1] whenever a dimension has more than one
// element. The run iteration and overlap test rely on that order.
#ifndef DEVTENSOR_LAYOUT_LAYOUT_H_
#define DEVTENSOR_LAYOUT_LAYOUT_H_

#include <cstddef>
#include <cstdint>

#include "devtensor/devtensor.h"

namespace devtensor {

// a * b and a + b on size_t; false on overflow.
inline bool MulOverflows(size_t a, size_t b, size_t* out) { return __builtin_mul_overflow(a, b, out); }
inline bool AddOverflows(size_t a, size_t b, size_t* out) { return __builtin_add_overflow(a, b, out); }

// A tensor's placement in its storage. Strides are in elements, offset in bytes.
struct Layout {
  size_t rank = 0;
  int64_t shape[DT_MAX_RANK] = {};
  int64_t strides[DT_MAX_RANK] = {};
  size_t byte_offset = 0;
  size_t element_size = 1;
};

// Product of the dimensions, or false when a dimension is negative or the product of the non-zero
// dimensions exceeds INT64_MAX (strides in elements must stay representable).
bool ElementCount(const int64_t* shape, size_t rank, size_t* count);

// Row-major strides (in elements) for `shape`.
void ContiguousStrides(const int64_t* shape, size_t rank, int64_t* strides);

// True when the layout's elements are dense and row-major (dimensions of size 1 ignored).
bool IsContiguous(const Layout& layout);

// Bytes from the first to the last element inclusive; 0 for an empty tensor.
size_t ExtentBytes(const Layout& layout);

// The layout with dimensions of size 1 dropped and neighbours merged where, in every one of the
// `count` stride sets, the outer stride equals inner stride * inner size. Writes the merged shape
// and strides and returns the new rank. An empty or scalar layout gives rank 0 and shape {}.
size_t MergeDimensions(const int64_t* shape, size_t rank, const int64_t* const* strides,
                       size_t count, int64_t* merged_shape, int64_t* const* merged_strides);

// Walks the maximal contiguous byte runs of a layout in ascending address order.
class ByteRuns {
 public:
  explicit ByteRuns(const Layout& layout);
  // Next run [begin, end) in storage bytes; false when done.
  bool Next(size_t* begin, size_t* end);

 private:
  size_t rank_ = 0;  // outer dimensions iterated by the odometer
  int64_t shape_[DT_MAX_RANK] = {};
  int64_t strides_[DT_MAX_RANK] = {};  // in bytes
  int64_t index_[DT_MAX_RANK] = {};
  size_t run_bytes_ = 0;
  size_t next_ = 0;    // byte offset of the next run
  bool done_ = false;
};

// True when two layouts in one buffer share at least one byte.
bool LayoutsOverlap(const Layout& a, const Layout& b);

}  // namespace devtensor

#endif  // DEVTENSOR_LAYOUT_LAYOUT_H_
