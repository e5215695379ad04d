// Storage: one reference-counted buffer from the CachingAllocator. Several tensors (views)
// may share a Storage; the buffer goes back to the allocator's cache when the last one dies.
#pragma once
#include <cstddef>

#include "core/allocator.h"

namespace pmx {

class Storage {
 public:
  explicit Storage(size_t nbytes) : nbytes_(nbytes) {
    data_ = CachingAllocator::instance().allocate(nbytes, &granted_);
  }
  ~Storage() { CachingAllocator::instance().release(data_, granted_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t granted_ = 0;
};

}  // namespace pmx
