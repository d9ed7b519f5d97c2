// A process-wide pool of large, page-aligned buffers. Freshly allocated pages cost ~13 us each to
// touch in this kind of VM, so hot paths borrow buffers here and give them back, never allocating
// per block or per request. Buffers are not zeroed on reuse.
// Thread safety: fully thread-safe. The pool keeps at most a bounded number of idle bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace cairn {

class PooledBuffer {
 public:
  PooledBuffer() = default;
  explicit PooledBuffer(size_t size);  // borrows a buffer of at least size bytes
  ~PooledBuffer();
  PooledBuffer(PooledBuffer&& o) noexcept : data_(o.data_), cap_(o.cap_) { o.data_ = nullptr; o.cap_ = 0; }
  PooledBuffer& operator=(PooledBuffer&& o) noexcept;
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;
  uint8_t* data() const { return data_; }
  size_t capacity() const { return cap_; }

 private:
  uint8_t* data_ = nullptr;
  size_t cap_ = 0;
};

}  // namespace cairn
