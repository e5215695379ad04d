// CachingAllocator: hands out 64-byte aligned buffers and keeps freed ones for reuse.
//
// Why: on these machines a fresh large allocation page-faults at ~15 us per 4 KiB page, so a
// training step that mallocs and frees its activations spends most of its time in the kernel.
// A step allocates the same sizes every time, so a free list per size class turns every
// allocation after the first step into a pointer pop. Sizes are rounded up to one of four
// classes per power of two (at most 25% slack). Buffers of 2 MiB and more also ask the kernel
// for transparent huge pages, which cuts the first-touch faults 512-fold.
//
//   auto& a = CachingAllocator::instance();
//   size_t granted;
//   void* p = a.allocate(1 << 20, &granted);
//   a.release(p, granted);          // kept for the next allocate() of that size class
//   a.stats().hits;                 // how many allocations were served from the cache
#pragma once
#include <cstddef>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace pmx {

// Thrown when the system cannot give a buffer even after the cache is emptied. A std::bad_alloc
// (callers that can do without the memory catch that), whose what() says how much was asked for:
// "std::bad_alloc" alone left a user guessing which flag made the model too big.
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(size_t nbytes);
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

struct AllocatorStats {
  size_t bytes_in_use = 0;    // handed out and not yet released
  size_t bytes_cached = 0;    // released, kept for reuse
  size_t peak_bytes_in_use = 0;
  size_t hits = 0;            // allocations served from the cache
  size_t misses = 0;          // allocations that went to the system
};

class CachingAllocator {
 public:
  static CachingAllocator& instance();

  // Returns a buffer of at least nbytes (or throws OutOfMemory); *granted receives the size
  // actually reserved, which must be passed back to release().
  void* allocate(size_t nbytes, size_t* granted);
  void release(void* ptr, size_t granted);

  // Returns every cached buffer to the system.
  void empty_cache();
  // With caching off every release frees at once (used by the allocator benchmark).
  void set_caching(bool on);
  AllocatorStats stats();
  void reset_peak();

  // The size class nbytes is rounded up to; throws OutOfMemory when that overflows size_t.
  static size_t round_size(size_t nbytes);

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_lists_;
  AllocatorStats stats_;
  bool caching_ = true;
};

}  // namespace pmx
