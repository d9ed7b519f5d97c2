#include "libstore/common/clock.h"

#include <chrono>

namespace cairn {
namespace {

class SystemClock : public Clock {
 public:
  int64_t NowNs() override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Clock* Clock::Real() {
  static SystemClock* clock = new SystemClock;  // never destroyed: usable during exit
  return clock;
}

}  // namespace cairn
