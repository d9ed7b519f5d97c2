// RateLimiter: a token bucket in bytes per second, so background work (heal, verify) can run beside
// live traffic. Acquire(n) takes n bytes of budget and sleeps while the budget is in debt; the
// bucket holds at most a tenth of a second of budget, so a pause never turns into a burst.
// Thread safety: Acquire may be called from any number of threads.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

namespace cairn {

class RateLimiter {
 public:
  explicit RateLimiter(uint64_t bytes_per_second)
      : rate_(double(std::max<uint64_t>(bytes_per_second, 1))),
        burst_(std::max(rate_ / 10, 64.0 * 1024)),
        tokens_(burst_),
        last_(std::chrono::steady_clock::now()) {}

  void Acquire(uint64_t n) {
    double wait_s = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto now = std::chrono::steady_clock::now();
      tokens_ = std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
      last_ = now;
      tokens_ -= double(n);
      if (tokens_ < 0) wait_s = -tokens_ / rate_;
    }
    if (wait_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
  }

 private:
  const double rate_, burst_;
  std::mutex mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace cairn
