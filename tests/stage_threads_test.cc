// StageGroup: every task runs at once, on threads kept from one group to the next.
#include "libstore/common/stage_threads.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "tests/test_util.h"

using namespace cairn;
using cairn::test::LiveThreadIds;

namespace {

// Runs n tasks in one group, each waiting until all n have started (so they only finish if they
// all run at once); returns the thread ids they ran on (fewer than n when a task did not start).
std::set<long> RunTogether(size_t n) {
  std::mutex mu;
  std::condition_variable cv;
  size_t started = 0;
  std::set<long> ids;
  StageGroup group;
  for (size_t i = 0; i < n; ++i) {
    const bool ran = group.Run([&] {
      std::unique_lock<std::mutex> l(mu);
      ids.insert(long(syscall(SYS_gettid)));
      if (++started == n) cv.notify_all();
      cv.wait(l, [&] { return started == n; });
    });
    if (!ran) {
      // The others wait for one task fewer.
      std::lock_guard<std::mutex> l(mu);
      if (started == --n) cv.notify_all();
    }
  }
  group.Wait();
  return ids;
}

}  // namespace

TEST_CASE("stage threads: every task runs at once, each on a thread of its own", "[stage]") {
  // More tasks than any fixed pool a machine would size: none may wait for another to end.
  CHECK(RunTogether(40).size() == 40);
  // Two groups at once, each holding its threads until all of its tasks run.
  std::set<long> a, b;
  std::thread other([&] { a = RunTogether(12); });
  b = RunTogether(12);
  other.join();
  CHECK(a.size() == 12);
  CHECK(b.size() == 12);
}

TEST_CASE("stage threads: a group's threads are kept for the next group", "[stage]") {
  RunTogether(8);
  // Once Wait returned, the threads are idle again: the next group starts none.
  const std::set<long> before = LiveThreadIds();
  for (long id : RunTogether(8)) {
    CAPTURE(id);
    CHECK(before.count(id) == 1);
  }
  // The destructor waits too.
  std::atomic<int> ran{0};
  {
    StageGroup group;
    for (int i = 0; i < 5; ++i) CHECK(group.Run([&] { ++ran; }));
  }
  CHECK(ran == 5);
}

TEST_CASE("stage threads: a task that cannot start is refused, and the group still ends",
          "[stage]") {
  std::atomic<int> ran{0};
  StageGroup group;
  StageGroup::FailRunForTest(1);  // the second Run fails
  CHECK(group.Run([&] { ++ran; }));
  CHECK_FALSE(group.Run([&] { ran += 100; }));
  CHECK(group.Run([&] { ++ran; }));
  group.Wait();
  CHECK(ran == 2);
}

TEST_CASE("stage threads: StartThread, and failures in a row", "[stage]") {
  std::atomic<int> ran{0};
  std::thread t;
  REQUIRE(StartThread(&t, [&] { ++ran; }));
  t.join();
  CHECK(ran == 1);
  // The seam counts StartThread and Run alike: after one start, two fail, then they work again.
  StageGroup::FailRunForTest(1, 2);
  std::thread a, b, c;
  REQUIRE(StartThread(&a, [&] { ++ran; }));
  CHECK_FALSE(StartThread(&b, [&] { ran += 100; }));
  CHECK_FALSE(b.joinable());  // left as it was
  StageGroup group;
  CHECK_FALSE(group.Run([&] { ran += 100; }));
  REQUIRE(StartThread(&c, [&] { ++ran; }));
  CHECK(group.Run([&] { ++ran; }));
  a.join();
  c.join();
  group.Wait();
  CHECK(ran == 4);
}
