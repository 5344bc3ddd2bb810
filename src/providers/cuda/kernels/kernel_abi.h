// The argument blocks of the CUDA kernels. Each op is a functor (kernels/cuda/ops.cuh) run by one
// of two kernels: dtk_run<Op> takes one block by value (cuLaunchKernel copies it into the launch,
// so a captured graph keeps its own copy and needs no host memory at replay); dtk_run_many<Op>
// takes DtkMany, blocks of independent calls of one op in device memory, run by one launch. The
// same header is compiled by the host launcher and by NVRTC with the kernel sources
// (kernels/cuda/*.cuh), so it holds only fundamental types and no includes.
//
// Every pointer is a device address of element [0, ..., 0] of its tensor (storage + byte
// offset); strides are in elements. Kernels walk `count` elements with a grid-stride loop, so any
// launch shape covers them.
#ifndef DEVTENSOR_PROVIDERS_CUDA_KERNELS_KERNEL_ABI_H_
#define DEVTENSOR_PROVIDERS_CUDA_KERNELS_KERNEL_ABI_H_

#define DTK_MAX_RANK 8
// Pairs one strided-copy launch carries (DtkCopyBatch); a larger batch takes several launches.
#define DTK_COPY_BATCH 8

// N tensors walked together over one shape: element i of the shape (row-major order) is at
// data[t] + (sum over d of index[d] * strides[t][d]) * element size. An input broadcast along a
// dimension has stride 0 there.
template <int N>
struct DtkElementwise {
  unsigned long long count;              // elements of the shape
  int rank;                              // 0 to DTK_MAX_RANK
  long long shape[DTK_MAX_RANK];
  char* data[N];
  long long strides[N][DTK_MAX_RANK];
};

// Fill: every element of t[0] := the low element-size bytes of `bits` (little-endian).
struct DtkFill {
  DtkElementwise<1> t;
  unsigned long long bits;
};

// UpdatePositionIds: every element of t[0] += increment, wrapping.
struct DtkIncrement {
  DtkElementwise<1> t;
  long long increment;
};

// UpdateAttentionMask: t[0] is the mask, rank 2 [batch, max_length]; element (b, j) := j <
// clamp(*total_length, 0, max_length) ? 1 : 0.
struct DtkAttentionMask {
  DtkElementwise<1> t;
  const int* total_length;
};

// KvCacheAppend: t[0] is new_kv [batch, heads, new_len, head_dim], t[1] the cache at position 0
// with the cache's strides (rank 4, t's shape is new_kv's). With p = *position: when p < 0 or
// new_len > max_len - p, nothing is written and bit 0 (DT_DEVICE_ERROR_KV_POSITION) is or-ed
// into *flags; else new_kv[b, h, s, d] is written to t[1] + (p + s) * strides[1][2] + ...
struct DtkKvAppend {
  DtkElementwise<2> t;
  long long max_len;
  const int* position;
  unsigned int* flags;
};

// ScatterND, after output holds data (the launcher copies it first unless they are one view):
// `count` elements of updates, of shape [tuple_shape..., slice_shape...] (tuple_rank +
// slice_rank dims, in `shape`). For tuple t, indices[t, 0..k) names the target's first k
// coordinates (negative ones count from the end of data_shape); an index outside
// [-data_shape[j], data_shape[j]) skips that tuple's update and or-s bit 1
// (DT_DEVICE_ERROR_SCATTER_INDEX) into *flags.
struct DtkScatterND {
  unsigned long long count;
  int tuple_rank;
  int slice_rank;
  int k;
  long long shape[DTK_MAX_RANK];            // updates' shape: tuple dims, then slice dims
  const long long* indices;
  long long indices_strides[DTK_MAX_RANK];  // tuple_rank + 1 dims (the last walks the k values)
  const char* updates;
  long long updates_strides[DTK_MAX_RANK];
  char* output;
  long long output_strides[DTK_MAX_RANK];   // data's rank = k + slice_rank dims
  long long data_shape[DTK_MAX_RANK];
  unsigned int* flags;
};

// ArgMax: t's shape is data's with the reduced axis set to 1; t[0] is data, t[1] the int64
// output with stride 0 on that axis. Each element walks `length` values `step` elements apart
// and writes the index of the largest (ties: the first, or the last with select_last_index),
// comparing as the CPU reference does (a NaN is larger than every number).
//
// A long axis is split into `chunks` runs of `chunk` values: dtk_argmax_runs (a thread block per
// run of each output: grid (chunks, outputs)) writes the index of the best of run c of output o to
// partial[o * chunks + c], then dtk_argmax_finish (a thread block per output) picks the best of
// the runs' winners. Ties between equal values go to the smaller index (the larger with
// select_last_index), as the CPU's walk in order decides them.
struct DtkArgMax {
  DtkElementwise<2> t;
  long long length;
  long long step;
  int select_last_index;
  long long chunk;
  long long chunks;
  long long* partial;
};

// Strided copies, up to DTK_COPY_BATCH pairs of any element size in one launch. Elements
// [first[p], first[p + 1]) of the launch belong to pair p; count = first[pairs].
struct DtkCopyPair {
  const char* src;
  char* dst;
  int rank;
  int element_size;  // 1, 2, 4 or 8
  long long shape[DTK_MAX_RANK];
  long long src_strides[DTK_MAX_RANK];
  long long dst_strides[DTK_MAX_RANK];
};
struct DtkCopyBatch {
  int pairs;
  unsigned long long first[DTK_COPY_BATCH + 1];
  DtkCopyPair pair[DTK_COPY_BATCH];
};

// Many calls of one op in one launch: `count` blocks of the op's type at `blocks`; block j covers
// elements [first[j], first[j + 1]) of the launch.
struct DtkMany {
  const void* blocks;
  const unsigned long long* first;
  int count;
};

#endif  // DEVTENSOR_PROVIDERS_CUDA_KERNELS_KERNEL_ABI_H_
