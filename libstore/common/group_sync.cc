#include "libstore/common/group_sync.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn {
namespace {

struct FsGroup {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t started = 0;    // number of flushes started
  uint64_t finished = 0;   // number of flushes finished
  bool running = false;
  int last_errno = 0;      // errno of the last finished flush (0 = ok)
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

Status FlushInParallel(size_t n, const std::function<Status(size_t)>& flush, size_t max_threads) {
  if (n == 0) return Status::Ok();
  if (n == 1) return flush(0);
  std::vector<Status> results(n);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) results[i] = flush(i);
  };
  std::vector<std::thread> threads;
  const size_t extra = std::min(n, std::max<size_t>(max_threads, 1)) - 1;
  for (size_t t = 0; t < extra; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    if (!r.ok()) return r;
  }
  return Status::Ok();
}

}  // namespace cairn
