// Clock: where libstore reads the time of day, so that tests can replace it (the way leveldb's
// Env::NowMicros is replaced). Object modification times, MRF journal entries, the heal journal,
// bucket creation times and gc's grace period all read the clock of their volume set.
// Thread safety: NowNs may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace cairn {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, in nanoseconds since the Unix epoch.
  virtual int64_t NowNs() = 0;
  // The system's wall clock. Never null; lives as long as the process.
  static Clock* Real();
};

// A clock that tests set by hand. Until Set is called it follows the wall clock, so code that
// compares its times with real file times still works; Set fixes it, Advance moves it.
class ManualClock : public Clock {
 public:
  int64_t NowNs() override {
    int64_t t = now_ns_.load();
    return t != 0 ? t : Real()->NowNs();
  }
  void Set(int64_t ns) { now_ns_.store(ns); }
  void Advance(int64_t ns) { now_ns_.store(NowNs() + ns); }

 private:
  std::atomic<int64_t> now_ns_{0};
};

}  // namespace cairn
