#include "libstore/common/group_sync.h"

#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

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

}  // namespace cairn
