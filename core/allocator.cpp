#include "core/allocator.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace pmx {

CachingAllocator& CachingAllocator::instance() {
  // Leaked on purpose: tensors in static objects may be released after main() returns.
  static CachingAllocator* allocator = new CachingAllocator();
  return *allocator;
}

OutOfMemory::OutOfMemory(size_t nbytes) {
  char text[160];
  std::snprintf(text, sizeof text,
                "out of memory: the system refused a buffer of %zu bytes (%.3g GiB) for tensor storage; "
                "use a smaller batch, sequence length or model",
                nbytes, double(nbytes) / double(size_t(1) << 30));
  message_ = text;
}

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes <= 512) return (nbytes + 63) / 64 * 64 + (nbytes == 0 ? 64 : 0);
  // Four classes per power of two: 2^k * {1, 1.25, 1.5, 1.75}.
  size_t top = size_t(1) << (63 - __builtin_clzll(nbytes));
  size_t step = top / 4;
  // Rounding up past SIZE_MAX would wrap to a tiny size class: no such buffer can exist anyway.
  if (nbytes > SIZE_MAX - (step - 1)) throw OutOfMemory(nbytes);
  return (nbytes + step - 1) / step * step;
}

static void* system_alloc(size_t nbytes) {
  constexpr size_t kHuge = size_t(2) << 20;
  size_t align = nbytes >= kHuge ? kHuge : 64;
  void* p = std::aligned_alloc(align, (nbytes + align - 1) / align * align);
  if (!p) throw OutOfMemory(nbytes);
  if (nbytes >= kHuge) madvise(p, nbytes, MADV_HUGEPAGE);
  return p;
}

void* CachingAllocator::allocate(size_t nbytes, size_t* granted) {
  size_t size = round_size(nbytes);
  *granted = size;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_lists_.find(size);
    if (it != free_lists_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      stats_.hits++;
      stats_.bytes_cached -= size;
      stats_.bytes_in_use += size;
      if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
      return p;
    }
    stats_.misses++;
    stats_.bytes_in_use += size;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }
  try {
    return system_alloc(size);
  } catch (...) {
    // Out of memory: give the cache back to the system and try once more.
    empty_cache();
    try {
      return system_alloc(size);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.bytes_in_use -= size;
      throw;
    }
  }
}

void CachingAllocator::release(void* ptr, size_t granted) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.bytes_in_use -= granted;
  if (!caching_) {
    std::free(ptr);
    return;
  }
  free_lists_[granted].push_back(ptr);
  stats_.bytes_cached += granted;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, list] : free_lists_)
    for (void* p : list) std::free(p);
  free_lists_.clear();
  stats_.bytes_cached = 0;
}

void CachingAllocator::set_caching(bool on) {
  if (!on) empty_cache();
  std::lock_guard<std::mutex> lock(mutex_);
  caching_ = on;
}

AllocatorStats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

}  // namespace pmx
