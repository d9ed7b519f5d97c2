#include "libstore/object/key_locks.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace cairn {

KeyLocks::KeyLocks(std::string dir) : dir_(std::move(dir)) { fds_.fill(-1); }

KeyLocks::~KeyLocks() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

int KeyLocks::Fd(size_t slot) {
  std::lock_guard<std::mutex> l(fd_mu_);
  int& fd = fds_[slot];
  if (fd < 0) {
    // Lock files 0..255 for the key stripes, "buckets" for the bucket lock.
    std::string path = dir_ + "/" + (slot == kBucketLock ? "buckets" : std::to_string(slot));
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);  // never via a link
  }
  return fd;
}

void KeyLocks::LockFile(size_t stripe) {
  if (dir_.empty()) return;
  int fd = Fd(Slot(stripe));
  if (fd < 0) return;
  while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
  }
}

void KeyLocks::UnlockFile(size_t stripe) {
  if (dir_.empty()) return;
  int fd = Fd(Slot(stripe));
  if (fd >= 0) ::flock(fd, LOCK_UN);
}

}  // namespace cairn
