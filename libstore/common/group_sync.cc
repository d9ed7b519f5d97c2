#include "libstore/common/group_sync.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace cairn {
namespace {

struct FsGroup {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t started = 0;   // number of flushes started
  uint64_t finished = 0;  // number of flushes finished
  bool running = false;
  int last_errno = 0;  // errno of the last finished flush (0 = ok)
};

FsGroup& GroupFor(dev_t dev) {
  static std::mutex mu;
  static std::map<dev_t, std::unique_ptr<FsGroup>> groups;
  std::lock_guard<std::mutex> l(mu);
  auto& g = groups[dev];
  if (!g) g = std::make_unique<FsGroup>();
  return *g;
}

}  // namespace

Status GroupSyncFs(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError("fstat", errno);
  FsGroup& g = GroupFor(st.st_dev);
  std::unique_lock<std::mutex> l(g.mu);
  // A flush that started before we arrived may have missed our writes: we need one that starts
  // after now, i.e. flush number started+1 (or started+2 when one is running).
  uint64_t need = g.started + 1;
  while (true) {
    if (g.finished >= need) {
      return g.last_errno == 0 ? Status::Ok() : PosixError("syncfs", g.last_errno);
    }
    if (!g.running) {
      g.running = true;
      uint64_t mine = ++g.started;
      l.unlock();
      int rc = syncfs(fd);
      int err = rc == 0 ? 0 : errno;
      if (rc != 0 && err == ENOSYS) err = fsync(fd) == 0 ? 0 : errno;
      l.lock();
      g.running = false;
      g.finished = mine;
      g.last_errno = err;
      g.cv.notify_all();
      if (mine >= need) return err == 0 ? Status::Ok() : PosixError("syncfs", err);
      continue;
    }
    g.cv.wait(l);
  }
}

namespace {

// One FlushInParallel call: the flushes to run and how far they got.
struct FlushJob {
  size_t n = 0;
  const std::function<Status(size_t)>* flush = nullptr;
  std::vector<Status>* results = nullptr;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;  // flushes finished (guarded by mu)
  size_t refs = 0;  // pool threads that took this job and may still touch it (guarded by mu)

  // Runs flushes until none is left.
  void Work() {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      Status s = (*flush)(i);
      std::lock_guard<std::mutex> l(mu);
      (*results)[i] = std::move(s);
      if (++done == n) cv.notify_all();
    }
  }
};

// Threads kept for flushing, so that a small PUT's six flushes do not start six threads each time
// (176,000 thread starts made the crash test three times slower). Started on demand: enough for
// every offer waiting, up to kMaxThreads, so that concurrent callers' flushes all run at once
// (a flush blocks in the kernel; flushes that wait together share the device's flushes). With a
// pool of 15, 16 concurrent small PUTs on 4+2 (6 file and 12 directory flushes each) ran their
// flushes mostly one after another on their own threads. Never stopped (the process ends with
// them blocked on the queue).
class FlushPool {
 public:
  static constexpr size_t kMaxThreads = 192;

  static FlushPool& Get() {
    static FlushPool* pool = new FlushPool();  // never destroyed: its threads outlive main
    return *pool;
  }

  // Offers the job to `helpers` pool threads; the caller works on it too.
  void Offer(FlushJob* job, size_t helpers) {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < helpers; ++i) queue_.push_back(job);
    while (idle_ < queue_.size() && threads_ < kMaxThreads) {
      try {
        std::thread([this] { Loop(); }).detach();
      } catch (const std::system_error&) {
        break;  // out of threads or memory: the caller does the work itself (and withdraws)
      }
      ++threads_;
      ++idle_;
    }
    for (size_t i = 0; i < helpers; ++i) cv_.notify_one();
  }

  // Takes back the offers of job that no thread has taken yet.
  void Withdraw(FlushJob* job) {
    std::lock_guard<std::mutex> l(mu_);
    queue_.erase(std::remove(queue_.begin(), queue_.end(), job), queue_.end());
  }

 private:
  void Loop() {
    while (true) {
      FlushJob* job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [this] { return !queue_.empty(); });
        job = queue_.front();
        queue_.pop_front();
        --idle_;
        std::lock_guard<std::mutex> jl(job->mu);  // taken under mu_: Withdraw cannot miss it
        ++job->refs;
      }
      job->Work();
      {
        std::lock_guard<std::mutex> jl(job->mu);
        --job->refs;
        job->cv.notify_all();  // the last access to job: its owner may return once refs is 0
      }
      std::lock_guard<std::mutex> l(mu_);
      ++idle_;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<FlushJob*> queue_;
  size_t threads_ = 0;
  size_t idle_ = 0;  // threads waiting for an offer
};

}  // namespace

Status FlushInParallel(size_t n, const std::function<Status(size_t)>& flush, size_t max_threads) {
  if (n == 0) return Status::Ok();
  if (n == 1) return flush(0);
  std::vector<Status> results(n);
  FlushJob job;
  job.n = n;
  job.flush = &flush;
  job.results = &results;
  const size_t helpers = std::min(n, std::max<size_t>(max_threads, 1)) - 1;
  FlushPool& pool = FlushPool::Get();
  pool.Offer(&job, helpers);
  job.Work();
  pool.Withdraw(&job);
  {
    std::unique_lock<std::mutex> l(job.mu);
    job.cv.wait(l, [&] { return job.done == n && job.refs == 0; });
  }
  for (auto& r : results) {
    if (!r.ok()) return r;
  }
  return Status::Ok();
}

}  // namespace cairn
