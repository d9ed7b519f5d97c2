#include "libstore/common/buffer_pool.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace cairn {
namespace {

constexpr size_t kMaxIdleBytes = size_t(256) << 20;

struct Pool {
  std::mutex mu;
  std::multimap<size_t, uint8_t*> idle;  // capacity -> buffer
  size_t idle_bytes = 0;
};

Pool& GetPool() {
  static Pool* p = new Pool;  // never destroyed: buffers may be returned during exit
  return *p;
}

size_t RoundUp(size_t n) {
  // Size classes: powers of two from 64 KiB, so buffers are reused across nearby sizes.
  size_t c = size_t(64) << 10;
  while (c < n) c <<= 1;
  return c;
}

}  // namespace

PooledBuffer::PooledBuffer(size_t size) {
  size_t want = RoundUp(size == 0 ? 1 : size);
  Pool& p = GetPool();
  {
    std::lock_guard<std::mutex> l(p.mu);
    auto it = p.idle.find(want);
    if (it != p.idle.end()) {
      data_ = it->second;
      cap_ = it->first;
      p.idle.erase(it);
      p.idle_bytes -= cap_;
      return;
    }
  }
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, want) != 0) throw std::bad_alloc();
  data_ = static_cast<uint8_t*>(mem);
  cap_ = want;
}

PooledBuffer::~PooledBuffer() {
  if (data_ == nullptr) return;
  Pool& p = GetPool();
  {
    std::lock_guard<std::mutex> l(p.mu);
    if (p.idle_bytes + cap_ <= kMaxIdleBytes) {
      p.idle.emplace(cap_, data_);
      p.idle_bytes += cap_;
      return;
    }
  }
  std::free(data_);
}

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& o) noexcept {
  if (this != &o) {
    PooledBuffer tmp(std::move(*this));
    data_ = o.data_;
    cap_ = o.cap_;
    o.data_ = nullptr;
    o.cap_ = 0;
  }
  return *this;
}

}  // namespace cairn
