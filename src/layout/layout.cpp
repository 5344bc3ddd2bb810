#include "layout/layout.h"

#include <algorithm>

namespace devtensor {

bool ElementCount(const int64_t* shape, size_t rank, size_t* count) {
  // The product of the non-zero dimensions must fit even when another dimension is 0: row-major
  // strides are built from it.
  size_t total = 1;
  bool empty = false;
  for (size_t i = 0; i < rank; ++i) {
    if (shape[i] < 0) return false;
    if (shape[i] == 0) {
      empty = true;
      continue;
    }
    if (MulOverflows(total, static_cast<size_t>(shape[i]), &total)) return false;
  }
  if (total > static_cast<size_t>(INT64_MAX)) return false;
  *count = empty ? 0 : total;
  return true;
}

void ContiguousStrides(const int64_t* shape, size_t rank, int64_t* strides) {
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
}

bool IsContiguous(const Layout& layout) {
  // An empty tensor has no element out of place, whichever dimension is 0.
  for (size_t i = 0; i < layout.rank; ++i) {
    if (layout.shape[i] == 0) return true;
  }
  int64_t expected = 1;
  for (size_t i = layout.rank; i-- > 0;) {
    if (layout.shape[i] == 1) continue;
    if (layout.strides[i] != expected) return false;
    expected *= layout.shape[i];
  }
  return true;
}

size_t ExtentBytes(const Layout& layout) {
  size_t last = 0;  // element offset of the last element
  for (size_t i = 0; i < layout.rank; ++i) {
    if (layout.shape[i] == 0) return 0;
    last += static_cast<size_t>(layout.shape[i] - 1) * static_cast<size_t>(layout.strides[i]);
  }
  return (last + 1) * layout.element_size;
}

size_t MergeDimensions(const int64_t* shape, size_t rank, const int64_t* const* strides,
                       size_t count, int64_t* merged_shape, int64_t* const* merged_strides) {
  // Empty: nothing to merge, and the strides of an empty layout may be huge. Callers check the
  // element count first.
  for (size_t i = 0; i < rank; ++i) {
    if (shape[i] == 0) return 0;
  }
  size_t out = 0;
  for (size_t i = 0; i < rank; ++i) {
    if (shape[i] == 1) continue;
    bool joins = out > 0;
    for (size_t k = 0; joins && k < count; ++k) {
      int64_t span = 0;  // a product that overflows equals no stride
      joins = !__builtin_mul_overflow(strides[k][i], shape[i], &span) &&
              merged_strides[k][out - 1] == span;
    }
    if (joins) {
      merged_shape[out - 1] *= shape[i];
      for (size_t k = 0; k < count; ++k) merged_strides[k][out - 1] = strides[k][i];
    } else {
      merged_shape[out] = shape[i];
      for (size_t k = 0; k < count; ++k) merged_strides[k][out] = strides[k][i];
      ++out;
    }
  }
  return out;
}

ByteRuns::ByteRuns(const Layout& layout) {
  size_t elements = 0;
  if (!ElementCount(layout.shape, layout.rank, &elements) || elements == 0) {
    done_ = true;
    return;
  }
  int64_t* merged[1] = {strides_};
  const int64_t* original[1] = {layout.strides};
  rank_ = MergeDimensions(layout.shape, layout.rank, original, 1, shape_, merged);
  const int64_t element = static_cast<int64_t>(layout.element_size);
  run_bytes_ = layout.element_size;
  if (rank_ > 0 && strides_[rank_ - 1] == 1) {
    run_bytes_ = static_cast<size_t>(shape_[rank_ - 1]) * layout.element_size;
    --rank_;
  }
  for (size_t i = 0; i < rank_; ++i) strides_[i] *= element;
  next_ = layout.byte_offset;
}

bool ByteRuns::Next(size_t* begin, size_t* end) {
  if (done_) return false;
  *begin = next_;
  *end = next_ + run_bytes_;
  // Advance the odometer over the outer dimensions.
  size_t i = rank_;
  while (i > 0) {
    --i;
    if (++index_[i] < shape_[i]) {
      next_ += static_cast<size_t>(strides_[i]);
      return true;
    }
    next_ -= static_cast<size_t>(strides_[i] * (shape_[i] - 1));
    index_[i] = 0;
  }
  done_ = true;
  return true;
}

bool LayoutsOverlap(const Layout& a, const Layout& b) {
  const size_t a_extent = ExtentBytes(a), b_extent = ExtentBytes(b);
  if (a_extent == 0 || b_extent == 0) return false;
  if (a.byte_offset + a_extent <= b.byte_offset || b.byte_offset + b_extent <= a.byte_offset) {
    return false;
  }
  if (IsContiguous(a) && IsContiguous(b)) return true;
  // Both run sequences ascend (nested row-major layouts), so one merge pass decides.
  ByteRuns ra(a), rb(b);
  size_t a0, a1, b0, b1;
  bool has_a = ra.Next(&a0, &a1), has_b = rb.Next(&b0, &b1);
  while (has_a && has_b) {
    if (a1 <= b0) {
      has_a = ra.Next(&a0, &a1);
    } else if (b1 <= a0) {
      has_b = rb.Next(&b0, &b1);
    } else {
      return true;
    }
  }
  return false;
}

}  // namespace devtensor
