// RingPipeline: hands items 0, 1, 2, ... from one producer to a fixed set of consumer threads
// through a ring of `slots` buffers the caller owns (item b lives in slot b % slots). Every consumer
// sees every item, in order; the producer reuses a slot only when all consumers released it.
// So memory is bounded by the ring, and the stages (read+encode, write, hash) overlap.
//
// Thread safety: one producer thread, one thread per consumer index; all methods are safe to call
// concurrently in those roles. Abort() may be called from any of them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace cairn {

class RingPipeline {
 public:
  RingPipeline(uint64_t slots, size_t consumers) : slots_(slots), released_(consumers, 0) {}

  // Producer: waits until the slot for item b is free. False if the pipeline was aborted.
  bool WaitFree(uint64_t b) {
    std::unique_lock<std::mutex> l(mu_);
    free_cv_.wait(l, [&] { return aborted_ || b < MinReleased() + slots_; });
    return !aborted_;
  }
  // Producer: item b (the next one) is ready in its slot.
  void Publish(uint64_t b) {
    std::lock_guard<std::mutex> l(mu_);
    published_ = b + 1;
    ready_cv_.notify_all();
  }
  // Producer: no more items.
  void Finish() {
    std::lock_guard<std::mutex> l(mu_);
    finished_ = true;
    ready_cv_.notify_all();
  }
  // Anyone: stop; waiting calls return false.
  void Abort() {
    std::lock_guard<std::mutex> l(mu_);
    aborted_ = true;
    ready_cv_.notify_all();
    free_cv_.notify_all();
  }
  bool aborted() const {
    std::lock_guard<std::mutex> l(mu_);
    return aborted_;
  }
  // Consumer: waits for item b. False when the producer finished before b, or on abort.
  bool WaitReady(uint64_t b) {
    std::unique_lock<std::mutex> l(mu_);
    ready_cv_.wait(l, [&] { return aborted_ || published_ > b || finished_; });
    return !aborted_ && published_ > b;
  }
  // Consumer c: done with item b.
  void Release(size_t c, uint64_t b) {
    std::lock_guard<std::mutex> l(mu_);
    released_[c] = b + 1;
    free_cv_.notify_one();  // only the producer waits for a release
  }

 private:
  uint64_t MinReleased() const {
    uint64_t m = UINT64_MAX;
    for (uint64_t r : released_) m = r < m ? r : m;
    return released_.empty() ? published_ : m;
  }

  const uint64_t slots_;
  mutable std::mutex mu_;
  // Two, so that a release wakes only the producer and a publish only the consumers: with one
  // writer thread per shard file, one variable woke every thread of the PUT at each release.
  std::condition_variable free_cv_, ready_cv_;
  uint64_t published_ = 0;
  std::vector<uint64_t> released_;  // per consumer: items fully processed
  bool finished_ = false, aborted_ = false;
};

// Aborts a ring when it goes out of scope, however the scope ends (a thrown bad_alloc too).
// Declared after the stages' StageGroup, it runs before the group's destructor waits for them:
// stages waiting on the ring for a producer that has left then end instead of waiting forever.
class RingAbortOnExit {
 public:
  explicit RingAbortOnExit(RingPipeline& ring) : ring_(ring) {}
  RingAbortOnExit(const RingAbortOnExit&) = delete;
  RingAbortOnExit& operator=(const RingAbortOnExit&) = delete;
  ~RingAbortOnExit() { ring_.Abort(); }

 private:
  RingPipeline& ring_;
};

}  // namespace cairn
