// Threads kept for the stages of a streaming pipeline (an erasure set PUT's shard writers, its
// hasher and its checksummer), so that a PUT does not start and end up to ten threads.
//
// Why: a 4+2 PUT of a block or more runs six writer threads and a hasher. Started per PUT, that is
// ~20 us of CPU per thread start and, on a busy machine, a wait for the scheduler before each new
// thread first runs; under AddressSanitizer a thread's start and exit cost far more (its stack's
// shadow is set up and cleared). The crash tests, which PUT thousands of small multi-block objects,
// went from 24,500 to 53,000 thread starts (docs/benchmarks.md, "Kept stage threads").
//
// Every task runs at once on a thread of its own: an idle kept thread if there is one, else a new
// one. A stage loop waits on its siblings (RingPipeline), so tasks may never queue behind each
// other: a fixed-size pool would deadlock two concurrent PUTs that each got half their stages.
// Up to kMaxIdle finished threads wait for the next task; beyond that they end.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn {

// The stages of one pipeline: Run starts a task, Wait waits for all of them.
// Thread safety: Run and Wait from one thread (the pipeline's owner); tasks may run concurrently.
class StageGroup {
 public:
  StageGroup() = default;
  StageGroup(const StageGroup&) = delete;
  StageGroup& operator=(const StageGroup&) = delete;
  // Waits for the tasks still running: what they reference must outlive them.
  ~StageGroup() { Wait(); }

  // Runs task on a kept thread (or a new one) at once, never after another task. False when no
  // thread could be started for it (the system is out of threads or memory): the task does not
  // run, and the caller must stop the tasks already started (they may wait for this one).
  [[nodiscard]] bool Run(std::function<void()> task);
  // Returns once every task started by Run has returned.
  void Wait();

  // Threads kept idle at most, process-wide.
  static constexpr size_t kMaxIdle = 128;

  // Tests: the `count` Runs (or StartThreads) after the next `after` ones fail, as if no thread
  // could be started.
  static void FailRunForTest(int after, int count = 1);

 private:
  std::mutex mu_;
  std::condition_variable done_;
  size_t running_ = 0;
};

// Starts fn on a thread of its own (not a kept one: for a thread that lives as long as a command's
// engine or stream). False when no thread could be started (the system is out of threads or
// memory; StageGroup::FailRunForTest counts these starts too): *out is left as it was and fn does
// not run. A std::thread that fails to start throws; one thrown past a running, joinable
// std::thread ends the process, so callers handle false instead.
[[nodiscard]] bool StartThread(std::thread* out, std::function<void()> fn);

// Up to n threads running fn, appended to *threads: as many as the system lets start (a bound,
// not a promise; each fn shares out the work). Returns how many started (0: none could).
size_t StartThreads(std::vector<std::thread>* threads, size_t n, const std::function<void()>& fn);

}  // namespace cairn
