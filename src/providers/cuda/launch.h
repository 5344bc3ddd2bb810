// Launching the CUDA kernels (kernels/cuda/ops.cuh): argument blocks filled from the tensors a
// provider receives, one launch shape for all, and, on a stream (recorded or not), the calls held
// back and scheduled like the WebGPU provider's graphs: a call runs after the calls whose bytes it
// reads or writes, and calls of one op that do not depend on each other share one launch.
#ifndef DEVTENSOR_PROVIDERS_CUDA_LAUNCH_H_
#define DEVTENSOR_PROVIDERS_CUDA_LAUNCH_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "devtensor/devtensor_provider.h"
#include "providers/cuda/kernel_names.h"
#include "providers/cuda/kernels/kernel_abi.h"

namespace devtensor::cuda {

class WorkStream;

// Byte range [first, last) of device addresses.
struct Extent {
  uintptr_t first = 0, last = 0;
  bool Overlaps(const Extent& other) const { return first < other.last && other.first < last; }
};

// Address of element [0, ..., 0] of a tensor.
inline char* ElementZero(const DtTensorRef& t) {
  return static_cast<char*>(t.handle) + t.byte_offset;
}
// The bytes a tensor's elements span; empty for an empty tensor.
Extent ExtentOf(const DtTensorRef& t);

// Product of the dimensions.
unsigned long long CountOf(const int64_t* shape, size_t rank);

// Sets the shape of an elementwise block (count, rank, shape).
template <int N>
void SetShape(DtkElementwise<N>* block, const int64_t* shape, size_t rank) {
  block->rank = int(rank);
  for (size_t d = 0; d < rank; ++d) block->shape[d] = shape[d];
  block->count = CountOf(shape, rank);
}

// Sets tensor `i` of a block: `t`'s address with its own strides (same rank as the block).
template <int N>
void SetTensor(DtkElementwise<N>* block, int i, const DtTensorRef& t) {
  block->data[i] = ElementZero(t);
  for (size_t d = 0; d < t.rank; ++d) block->strides[i][d] = t.strides[d];
}

// Sets tensor `i` of a block to `t` broadcast to the block's shape (ONNX multidirectional
// broadcasting: t's dimensions align to the right; a dimension of 1 repeats).
template <int N>
void SetBroadcast(DtkElementwise<N>* block, int i, const DtTensorRef& t) {
  block->data[i] = ElementZero(t);
  const size_t rank = size_t(block->rank), skip = rank - t.rank;
  for (size_t d = 0; d < rank; ++d) {
    block->strides[i][d] = d < skip || t.shape[d - skip] == 1 ? 0 : t.strides[d - skip];
  }
}

// One call of an op functor: `op` names it ("dtk_cast_op<float, int>"), `block` is its argument
// block's bytes, `count` the elements it covers, `reads` and `writes` the device bytes it touches.
// Or, with `kernel` set, a kernel of its own launch shape (grid x, y of blocks of `threads`) that
// takes the block alone and is never batched with others.
struct KernelCall {
  std::string op;
  std::vector<char> block;
  unsigned long long count = 0;
  std::vector<Extent> reads, writes;
  std::string kernel;
  unsigned grid_x = 0, grid_y = 1, threads = 0;

  template <typename Block>
  KernelCall(std::string op_name, const Block& b, unsigned long long elements)
      : op(std::move(op_name)), block(sizeof(Block)), count(elements) {
    std::memcpy(block.data(), &b, sizeof(Block));
  }
};

// Runs `call` on `work`: now, or, while work's stream is recorded, when the recording is
// scheduled (FlushHeldCalls). Nothing for count 0.
DtStatus* Launch(WorkStream& work, KernelCall call);

// The order in which FlushHeldCalls launches `calls`: groups of indices, a group one launch.
// A call comes after every earlier call whose bytes it reads or writes and that writes or reads
// its own (by their extents); a group holds calls of one op that do not depend on each other (a
// call with a kernel of its own goes alone); groups of one level go in the order their first calls
// were issued.
std::vector<std::vector<size_t>> ScheduleCalls(const std::vector<KernelCall>& calls);

// Issues the calls work's stream holds back (its recording's, while recorded), in an order their
// reads and writes allow, independent calls of one op in one launch. Called before anything else
// is queued on the stream, when it is synchronised, when the recording ends and when the device's
// error flags are read.
DtStatus* FlushHeldCalls(WorkStream& work);

}  // namespace devtensor::cuda

#endif  // DEVTENSOR_PROVIDERS_CUDA_LAUNCH_H_
