// Copies and clears of strided tensors in host-addressable memory: a utility of the core, the ops
// and every provider whose bytes the CPU can touch (the CPU provider, host-side paths of device
// providers, test providers).
#ifndef DEVTENSOR_HOST_MEMORY_STRIDED_COPY_H_
#define DEVTENSOR_HOST_MEMORY_STRIDED_COPY_H_

#include <cstddef>
#include <cstdint>

namespace devtensor {

// Copies a tensor of `shape` from `src` to `dst`; strides in elements, addresses of element
// [0, ..., 0]. The two sides must not overlap. Contiguous runs go through memcpy.
void CopyStrided(const void* src, const int64_t* src_strides, void* dst,
                 const int64_t* dst_strides, const int64_t* shape, size_t rank,
                 size_t element_size);

// Sets every element of a tensor of `shape` at `dst` to zero bytes; gaps are untouched.
void ZeroStrided(void* dst, const int64_t* strides, const int64_t* shape, size_t rank,
                 size_t element_size);

}  // namespace devtensor

#endif  // DEVTENSOR_HOST_MEMORY_STRIDED_COPY_H_
