#include "providers/cuda/parallel_copy.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace devtensor::cuda {
namespace {

// Below this a copy is not split: starting the workers would cost more than it saves.
constexpr size_t kSplitBytes = size_t(1) << 20;

// memcpy with non-temporal stores: the bytes go to memory without first reading the lines they
// land in into the cache (which neither the DMA nor a large copy's reader would find there).
void StreamingCopy(char* dst, const char* src, size_t bytes) {
#if defined(__SSE2__)
  const size_t head = std::min(bytes, (16 - (reinterpret_cast<uintptr_t>(dst) & 15)) & 15);
  std::memcpy(dst, src, head);
  dst += head;
  src += head;
  bytes -= head;
  for (; bytes >= 64; bytes -= 64, dst += 64, src += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 48), d);
  }
  std::memcpy(dst, src, bytes);
  _mm_sfence();  // the streamed stores are visible before the piece counts as done
#else
  std::memcpy(dst, src, bytes);
#endif
}

// Settings from the environment, read once: DEVTENSOR_CUDA_COPY_THREADS, the threads a copy
// uses, the caller's included (default: half the cores, at most 8); DEVTENSOR_CUDA_COPY_STREAMING=0
// turns the streaming stores off.
size_t CopyThreads() {
  if (const char* value = std::getenv("DEVTENSOR_CUDA_COPY_THREADS"); value != nullptr && *value) {
    return std::clamp<size_t>(size_t(std::strtoul(value, nullptr, 10)), 1, 64);
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<size_t>(cores / 2, 1, 8);
}
bool Streaming() {
  const char* value = std::getenv("DEVTENSOR_CUDA_COPY_STREAMING");
  return value == nullptr || std::strcmp(value, "0") != 0;
}

// Threads that copy pieces of one copy at a time. A copy is cut into more pieces than threads,
// taken one by one, so that a thread the system delays holds up one small piece, not a share.
class CopyPool {
 public:
  static CopyPool& Get() {
    static CopyPool* pool = new CopyPool();  // never freed: its threads live as long as the process
    return *pool;
  }

  size_t workers() const { return threads_.size(); }

  void Copy(char* dst, const char* src, size_t bytes) {
    std::lock_guard<std::mutex> one_job(job_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      dst_ = dst;
      src_ = src;
      bytes_ = bytes;
      next_ = 0;
      pieces_ = (bytes + kPieceBytes - 1) / kPieceBytes;
      left_ = pieces_;
      ++generation_;
    }
    work_.notify_all();
    std::unique_lock<std::mutex> lock(mutex_);
    CopyPieces(lock);
    done_.wait(lock, [&] { return left_ == 0; });
  }

 private:
  static constexpr size_t kPieceBytes = size_t(256) << 10;

  CopyPool() : streaming_(Streaming()) {
    for (size_t i = 1; i < CopyThreads(); ++i) {
      threads_.emplace_back([this] { Work(); });
      threads_.back().detach();
    }
  }

  // Copies pieces until none is left; `lock` holds mutex_ on entry and on return.
  void CopyPieces(std::unique_lock<std::mutex>& lock) {
    while (next_ < pieces_) {
      const size_t begin = next_++ * kPieceBytes;
      const size_t end = std::min(bytes_, begin + kPieceBytes);
      char* dst = dst_ + begin;
      const char* src = src_ + begin;
      lock.unlock();
      if (streaming_) {
        StreamingCopy(dst, src, end - begin);
      } else {
        std::memcpy(dst, src, end - begin);
      }
      lock.lock();
      if (--left_ == 0) done_.notify_all();
    }
  }

  void Work() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      work_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      CopyPieces(lock);
    }
  }

  const bool streaming_;
  std::vector<std::thread> threads_;
  std::mutex job_mutex_;
  std::mutex mutex_;
  std::condition_variable work_, done_;
  char* dst_ = nullptr;
  const char* src_ = nullptr;
  size_t bytes_ = 0, next_ = 0, pieces_ = 0, left_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace

void ParallelCopy(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;  // memcpy's pointers must be valid even for no bytes
  if (bytes < 2 * kSplitBytes) {
    std::memcpy(dst, src, bytes);
    return;
  }
  CopyPool& pool = CopyPool::Get();
  if (pool.workers() == 0) {
    std::memcpy(dst, src, bytes);
    return;
  }
  pool.Copy(static_cast<char*>(dst), static_cast<const char*>(src), bytes);
}

}  // namespace devtensor::cuda
