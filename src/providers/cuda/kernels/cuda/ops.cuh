// The CUDA kernels of devtensor's ops. NVRTC compiles them after kernel_abi.h (the argument
// blocks) and elements.cuh (the element types and per-element rules).
//
// Each op is a functor: its Block type and at(block, i), which does element i of the call (the
// i-th of the shape in row-major order). Two kernels run any op: dtk_run<Op> one call (its block
// by value), dtk_run_many<Op> several independent calls in one launch (DtkMany). The launcher
// names them by their template arguments, e.g. "dtk_run<dtk_cast_op<dtk_half, double>>". Both walk
// their elements with a grid-stride loop, so any launch shape covers them. Word-typed ops (W:
// unsigned char, unsigned short, unsigned int, unsigned long long) move elements of that size
// without looking at their values.
#ifndef DEVTENSOR_PROVIDERS_CUDA_KERNELS_CUDA_OPS_CUH_
#define DEVTENSOR_PROVIDERS_CUDA_KERNELS_CUDA_OPS_CUH_

// ---- indexing ---------------------------------------------------------------------------------------

__device__ __forceinline__ unsigned long long dtk_first_index() {
  return static_cast<unsigned long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ unsigned long long dtk_index_step() {
  return static_cast<unsigned long long>(gridDim.x) * blockDim.x;
}

// Calls at(d, coordinate) for every dimension d of `shape` (the last first) with the coordinates
// of element i in row-major order.
template <typename F>
__device__ __forceinline__ void dtk_unravel(unsigned long long i, int rank, const long long* shape,
                                            F at) {
  for (int d = rank - 1; d >= 0; --d) {
    const unsigned long long dim = static_cast<unsigned long long>(shape[d]);
    const unsigned long long next = i / dim;
    at(d, static_cast<long long>(i - next * dim));
    i = next;
  }
}

// The element offsets of element i in each of the N tensors.
template <int N>
__device__ __forceinline__ void dtk_offsets(const DtkElementwise<N>& t, unsigned long long i,
                                            long long (&offset)[N]) {
  for (int n = 0; n < N; ++n) offset[n] = 0;
  dtk_unravel(i, t.rank, t.shape, [&](int d, long long x) {
    for (int n = 0; n < N; ++n) offset[n] += x * t.strides[n][d];
  });
}

// Element `offset` of tensor `n`, as T.
template <typename T, int N>
__device__ __forceinline__ T& dtk_at(const DtkElementwise<N>& t, int n, long long offset) {
  return reinterpret_cast<T*>(t.data[n])[offset];
}

// ---- element-wise ops ----------------------------------------------------------------------------

// Cast: t[1] := t[0] converted.
template <typename To, typename From>
struct dtk_cast_op {
  using Block = DtkElementwise<2>;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    long long o[2];
    dtk_offsets(b, i, o);
    dtk_at<To>(b, 1, o[1]) = dtk_convert<To>(dtk_at<From>(b, 0, o[0]));
  }
};

// Add, Sub, Mul, Div: t[2] := t[0] op t[1].
template <typename Op, typename T>
struct dtk_binary_op {
  using Block = DtkElementwise<3>;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    long long o[3];
    dtk_offsets(b, i, o);
    dtk_at<T>(b, 2, o[2]) = Op::apply(dtk_at<T>(b, 0, o[0]), dtk_at<T>(b, 1, o[1]));
  }
};

// Where: t[3] := t[0] (a bool) ? t[1] : t[2].
template <typename W>
struct dtk_where_op {
  using Block = DtkElementwise<4>;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    long long o[4];
    dtk_offsets(b, i, o);
    const bool pick_x = dtk_at<unsigned char>(b, 0, o[0]) != 0;
    dtk_at<W>(b, 3, o[3]) = pick_x ? dtk_at<W>(b, 1, o[1]) : dtk_at<W>(b, 2, o[2]);
  }
};

// Strided copy (Expand: the input broadcast with stride 0): t[1] := t[0].
template <typename W>
struct dtk_copy_op {
  using Block = DtkElementwise<2>;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    long long o[2];
    dtk_offsets(b, i, o);
    dtk_at<W>(b, 1, o[1]) = dtk_at<W>(b, 0, o[0]);
  }
};

// Fill: every element := the low bytes of `bits`.
template <typename W>
struct dtk_fill_op {
  using Block = DtkFill;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    long long o[1];
    dtk_offsets(b.t, i, o);
    dtk_at<W>(b.t, 0, o[0]) = static_cast<W>(b.bits);
  }
};

// UpdatePositionIds (T int or long long): += increment, wrapping.
template <typename T>
struct dtk_increment_op {
  using Block = DtkIncrement;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    long long o[1];
    dtk_offsets(b.t, i, o);
    T& id = dtk_at<T>(b.t, 0, o[0]);
    id = static_cast<T>(static_cast<unsigned long long>(id) +
                        static_cast<unsigned long long>(b.increment));
  }
};

// UpdateAttentionMask (T int or long long): mask[b, j] := j < clamp(total_length) ? 1 : 0.
template <typename T>
struct dtk_attention_mask_op {
  using Block = DtkAttentionMask;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    const long long max_length = b.t.shape[1];
    long long total = *b.total_length;
    total = total < 0 ? 0 : (total > max_length ? max_length : total);
    long long o[1];
    dtk_offsets(b.t, i, o);
    const long long j = static_cast<long long>(i % static_cast<unsigned long long>(max_length));
    dtk_at<T>(b.t, 0, o[0]) = T(j < total ? 1 : 0);
  }
};

// KvCacheAppend: new_kv[b, h, s, d] to cache[b, h, position + s, d], or nothing when the position
// is out of range, which element 0 reports in *flags. The launcher runs at least element 0, so
// that an append of nothing still checks its position.
template <typename W>
struct dtk_kv_append_op {
  using Block = DtkKvAppend;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    const long long position = *b.position;
    const long long new_len = b.t.shape[2];
    if (position < 0 || new_len > b.max_len - position) {
      if (i == 0) atomicOr(b.flags, 1u);  // DT_DEVICE_ERROR_KV_POSITION
      return;
    }
    if (i >= b.t.count) return;
    long long o[2];
    dtk_offsets(b.t, i, o);
    dtk_at<W>(b.t, 1, o[1] + position * b.t.strides[1][2]) = dtk_at<W>(b.t, 0, o[0]);
  }
};

// ScatterND (output already holds data): each element of updates goes to its tuple's target, or
// nowhere when an index of the tuple is out of range, which is reported in *flags. Repeated
// tuples write the same elements from different threads: which one lands is not defined.
template <typename W>
struct dtk_scatter_nd_op {
  using Block = DtkScatterND;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    long long tuple_at = 0, from = 0, to = 0;
    dtk_unravel(i, b.tuple_rank + b.slice_rank, b.shape, [&](int d, long long x) {
      from += x * b.updates_strides[d];
      if (d < b.tuple_rank) {
        tuple_at += x * b.indices_strides[d];
      } else {
        to += x * b.output_strides[b.k + d - b.tuple_rank];
      }
    });
    for (int j = 0; j < b.k; ++j) {
      const long long index = b.indices[tuple_at + j * b.indices_strides[b.tuple_rank]];
      const long long dim = b.data_shape[j];
      if (index < -dim || index >= dim) {
        atomicOr(b.flags, 2u);  // DT_DEVICE_ERROR_SCATTER_INDEX
        return;
      }
      to += (index < 0 ? index + dim : index) * b.output_strides[j];
    }
    reinterpret_cast<W*>(b.output)[to] = reinterpret_cast<const W*>(b.updates)[from];
  }
};

// ArgMax: the index of the best of values[first, last) (`step` elements apart), starting from
// `best`, as the CPU walks them.
template <typename T>
__device__ __forceinline__ long long dtk_argmax_walk(const DtkArgMax& b, const T* values,
                                                     long long best, long long first,
                                                     long long last) {
  T best_value = values[best * b.step];
  for (long long j = first; j < last; ++j) {
    const T value = values[j * b.step];
    if (dtk_greater(value, best_value) ||
        (b.select_last_index != 0 && !dtk_greater(best_value, value))) {
      best = j;
      best_value = value;
    }
  }
  return best;
}

// ArgMax in one pass: t[1] := the index of the largest of `length` values of t[0].
template <typename T>
struct dtk_argmax_op {
  using Block = DtkArgMax;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    long long o[2];
    dtk_offsets(b.t, i, o);
    dtk_at<long long>(b.t, 1, o[1]) = dtk_argmax_walk(b, &dtk_at<T>(b.t, 0, o[0]), 0, 1, b.length);
  }
};

// ArgMax of a long axis: threads of a block each walk a stride of the run, then meet in shared
// memory. (value, index) a is better than b when its value is greater, or, neither being greater
// (equal, or both NaN), when its index comes first (last with select_last_index).
#define DTK_ARGMAX_THREADS 256

template <typename T>
__device__ __forceinline__ bool dtk_argmax_better(const DtkArgMax& b, T value, long long index,
                                                  T best, long long best_index) {
  if (best_index < 0) return true;
  if (dtk_greater(value, best)) return true;
  if (dtk_greater(best, value)) return false;
  return b.select_last_index != 0 ? index > best_index : index < best_index;
}

// Reduces each thread's (value, index) over the block; thread 0 gets the winner's index.
template <typename T>
__device__ __forceinline__ long long dtk_argmax_block(const DtkArgMax& b, T value,
                                                      long long index) {
  __shared__ T values[DTK_ARGMAX_THREADS];
  __shared__ long long indices[DTK_ARGMAX_THREADS];
  values[threadIdx.x] = value;
  indices[threadIdx.x] = index;
  __syncthreads();
  for (unsigned half = DTK_ARGMAX_THREADS / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      const unsigned other = threadIdx.x + half;
      if (indices[other] >= 0 && dtk_argmax_better(b, values[other], indices[other],
                                                   values[threadIdx.x], indices[threadIdx.x])) {
        values[threadIdx.x] = values[other];
        indices[threadIdx.x] = indices[other];
      }
    }
    __syncthreads();
  }
  return indices[0];
}

// First pass: block (c, o) finds the best of run c of output o.
template <typename T>
__global__ void dtk_argmax_runs(DtkArgMax b) {
  const unsigned long long output = blockIdx.y;
  long long o[2];
  dtk_offsets(b.t, output, o);
  const T* values = &dtk_at<T>(b.t, 0, o[0]);
  const long long first = static_cast<long long>(blockIdx.x) * b.chunk;
  const long long last = first + b.chunk < b.length ? first + b.chunk : b.length;
  T best{};
  long long best_index = -1;
  for (long long j = first + threadIdx.x; j < last; j += DTK_ARGMAX_THREADS) {
    const T value = values[j * b.step];
    if (dtk_argmax_better(b, value, j, best, best_index)) {
      best = value;
      best_index = j;
    }
  }
  const long long winner = dtk_argmax_block(b, best, best_index);
  if (threadIdx.x == 0) b.partial[output * b.chunks + blockIdx.x] = winner;
}

// Second pass: block o picks the best of output o's run winners.
template <typename T>
__global__ void dtk_argmax_finish(DtkArgMax b) {
  const unsigned long long output = blockIdx.x;
  long long o[2];
  dtk_offsets(b.t, output, o);
  const T* values = &dtk_at<T>(b.t, 0, o[0]);
  const long long* winners = b.partial + static_cast<long long>(output) * b.chunks;
  T best{};
  long long best_index = -1;
  for (long long c = threadIdx.x; c < b.chunks; c += DTK_ARGMAX_THREADS) {
    const long long j = winners[c];
    const T value = values[j * b.step];
    if (dtk_argmax_better(b, value, j, best, best_index)) {
      best = value;
      best_index = j;
    }
  }
  const long long winner = dtk_argmax_block(b, best, best_index);
  if (threadIdx.x == 0) dtk_at<long long>(b.t, 1, o[1]) = winner;
}

// ---- batched strided copies ------------------------------------------------------------------------

template <typename W>
__device__ __forceinline__ void dtk_copy_element(const DtkCopyPair& p, unsigned long long i) {
  long long from = 0, to = 0;
  dtk_unravel(i, p.rank, p.shape, [&](int d, long long x) {
    from += x * p.src_strides[d];
    to += x * p.dst_strides[d];
  });
  reinterpret_cast<W*>(p.dst)[to] = reinterpret_cast<const W*>(p.src)[from];
}

// Strided copies of up to DTK_COPY_BATCH pairs: element i is element i - first[p] of pair p,
// where first[p] <= i < first[p + 1].
struct dtk_copy_pairs_op {
  using Block = DtkCopyBatch;
  static __device__ __forceinline__ void at(const Block& b, unsigned long long i) {
    int p = 0;
    while (p + 1 < b.pairs && i >= b.first[p + 1]) ++p;
    const DtkCopyPair& pair = b.pair[p];
    const unsigned long long k = i - b.first[p];
    switch (pair.element_size) {
      case 1: dtk_copy_element<unsigned char>(pair, k); break;
      case 2: dtk_copy_element<unsigned short>(pair, k); break;
      case 4: dtk_copy_element<unsigned int>(pair, k); break;
      default: dtk_copy_element<unsigned long long>(pair, k); break;
    }
  }
};

// ---- the kernels -----------------------------------------------------------------------------------

// One call: elements [0, count) of `b`.
template <typename Op>
__global__ void dtk_run(typename Op::Block b, unsigned long long count) {
  for (unsigned long long i = dtk_first_index(); i < count; i += dtk_index_step()) Op::at(b, i);
}

// Independent calls of one op: element i of the launch is element i - first[j] of block j, where
// first[j] <= i < first[j + 1].
template <typename Op>
__global__ void dtk_run_many(DtkMany m) {
  const auto* blocks = static_cast<const typename Op::Block*>(m.blocks);
  const unsigned long long count = m.first[m.count];
  for (unsigned long long i = dtk_first_index(); i < count; i += dtk_index_step()) {
    int low = 0, high = m.count - 1;  // the last j with first[j] <= i
    while (low < high) {
      const int mid = (low + high + 1) / 2;
      if (m.first[mid] <= i) {
        low = mid;
      } else {
        high = mid - 1;
      }
    }
    Op::at(blocks[low], i - m.first[low]);
  }
}

#endif  // DEVTENSOR_PROVIDERS_CUDA_KERNELS_CUDA_OPS_CUH_
