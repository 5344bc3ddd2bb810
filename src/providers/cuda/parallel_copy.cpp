#include "providers/cuda/parallel_copy.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
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
constexpr size_t kSplitBytes = size_t(512) << 10;

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

class CopyPool {
 public:
  static CopyPool& Get() {
    static CopyPool* pool = new CopyPool();  // never freed: its threads live as long as the process
    return *pool;
  }

  size_t workers() const { return threads_.size(); }

  void Copy(char* dst, const char* src, size_t bytes) {
    std::lock_guard<std::mutex> one_job(job_mutex_);
    const size_t pieces = std::min(threads_.size() + 1, std::max<size_t>(1, bytes / kSplitBytes));
    // Pieces of whole cache lines, the last one taking the rest.
    const size_t piece = ((bytes / pieces) + 63) & ~size_t(63);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      dst_ = dst;
      src_ = src;
      bytes_ = bytes;
      piece_ = piece;
      next_ = 1;  // the caller does piece 0
      pieces_ = pieces;
      left_ = pieces - 1;
      ++generation_;
    }
    work_.notify_all();
    CopyPiece(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return left_ == 0; });
  }

 private:
  CopyPool() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const size_t count = std::clamp<size_t>(cores, 1, 16) - 1;
    for (size_t i = 0; i < count; ++i) {
      threads_.emplace_back([this] { Work(); });
      threads_.back().detach();
    }
  }

  void CopyPiece(size_t index) {
    const size_t begin = std::min(bytes_, index * piece_);
    const size_t end = index + 1 == pieces_ ? bytes_ : std::min(bytes_, begin + piece_);
    if (end > begin) StreamingCopy(dst_ + begin, src_ + begin, end - begin);
  }

  void Work() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      work_.wait(lock, [&] { return generation_ != seen && next_ < pieces_; });
      const size_t index = next_++;
      if (next_ >= pieces_) seen = generation_;
      lock.unlock();
      CopyPiece(index);
      lock.lock();
      if (--left_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex job_mutex_;
  std::mutex mutex_;
  std::condition_variable work_, done_;
  char* dst_ = nullptr;
  const char* src_ = nullptr;
  size_t bytes_ = 0, piece_ = 0, next_ = 0, pieces_ = 0, left_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace

void ParallelCopy(void* dst, const void* src, size_t bytes) {
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
