#include "libstore/common/stage_threads.h"

#include <deque>
#include <system_error>
#include <thread>
#include <utility>

namespace cairn {
namespace {

// The process-wide kept threads. Never destroyed: idle threads wait on it while the process ends.
class StageThreads {
 public:
  static StageThreads& Get() {
    static StageThreads* threads = new StageThreads();
    return *threads;
  }

  // Runs task, then done (once this thread is idle again or on its way out). False when no
  // thread could be started for it: then neither runs.
  bool Start(std::function<void()> task, std::function<void()> done) {
    std::lock_guard<std::mutex> l(mu_);
    if (FailNowLocked()) return false;
    // Every queued task has an idle thread of its own (one that waits, or one starting): none
    // waits for another task to end.
    if (idle_ <= queue_.size()) {
      try {
        std::thread([this] { Loop(); }).detach();
      } catch (const std::system_error&) {
        return false;  // EAGAIN: out of threads (a pids limit, RLIMIT_NPROC) or memory
      }
      ++idle_;
    }
    queue_.push_back({std::move(task), std::move(done)});
    cv_.notify_one();
    return true;
  }

  void FailAfter(int after, int count) {
    std::lock_guard<std::mutex> l(mu_);
    fail_after_ = after;
    fail_count_ = count;
  }

  // FailRunForTest's count, for a start that does not use the kept threads (StartThread).
  bool FailNow() {
    std::lock_guard<std::mutex> l(mu_);
    return FailNowLocked();
  }

 private:
  struct Item {
    std::function<void()> task, done;
  };

  void Loop() {
    while (true) {
      Item item;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [this] { return !queue_.empty(); });
        item = std::move(queue_.front());
        queue_.pop_front();
        --idle_;
      }
      item.task();
      item.task = nullptr;  // what it holds goes before its group hears it ended
      bool keep;
      {
        std::lock_guard<std::mutex> l(mu_);
        keep = idle_ < StageGroup::kMaxIdle;
        if (keep) ++idle_;
      }
      // Only now: a group whose Wait returned finds its threads idle for its next tasks.
      item.done();
      if (!keep) return;
    }
  }

  bool FailNowLocked() {
    if (fail_after_ < 0) return false;
    if (fail_after_ > 0) {
      --fail_after_;
      return false;
    }
    if (--fail_count_ <= 0) fail_after_ = -1;
    return true;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  size_t idle_ = 0;  // threads waiting for a task or about to
  int fail_after_ = -1;  // FailRunForTest: starts left before one fails (-1: none fails)
  int fail_count_ = 0;   // FailRunForTest: how many fail in a row from there
};

}  // namespace

bool StageGroup::Run(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> l(mu_);
    ++running_;
  }
  auto done = [this] {
    std::lock_guard<std::mutex> l(mu_);
    if (--running_ == 0) done_.notify_all();
  };
  if (StageThreads::Get().Start(std::move(task), done)) return true;
  done();
  return false;
}

void StageGroup::FailRunForTest(int after, int count) {
  StageThreads::Get().FailAfter(after, count);
}

bool StartThread(std::thread* out, std::function<void()> fn) {
  if (StageThreads::Get().FailNow()) return false;
  try {
    *out = std::thread(std::move(fn));
  } catch (const std::system_error&) {
    return false;  // EAGAIN: out of threads (a pids limit, RLIMIT_NPROC) or memory
  }
  return true;
}

size_t StartThreads(std::vector<std::thread>* threads, size_t n, const std::function<void()>& fn) {
  threads->reserve(threads->size() + n);  // push_back below cannot throw
  size_t started = 0;
  for (; started < n; ++started) {
    std::thread t;
    if (!StartThread(&t, fn)) break;
    threads->push_back(std::move(t));
  }
  return started;
}

void StageGroup::Wait() {
  std::unique_lock<std::mutex> l(mu_);
  done_.wait(l, [this] { return running_ == 0; });
}

}  // namespace cairn
