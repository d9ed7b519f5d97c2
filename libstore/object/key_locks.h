// Per-key locking: striped reader/writer locks inside the process, plus (when a lock directory is
// given) flock(2) on one lock file per stripe so commits of one key from separate processes never
// interleave their per-volume renames.
// Thread safety: fully thread-safe.
#pragma once

#include <array>
#include <mutex>
#include <shared_mutex>
#include <string>

namespace cairn {

class KeyLocks {
 public:
  static constexpr size_t kStripes = 256;
  // One more lock, apart from every key's stripe: the one mb, rb and heal's settling of a
  // half-made bucket take (rb lists the bucket under it, and reading a key takes that key's
  // stripe, so the two must never be the same lock).
  static constexpr size_t kBucketLock = kStripes;
  explicit KeyLocks(std::string dir);  // dir may be "" (no cross-process locking)
  ~KeyLocks();
  // stripe: a key's stripe (< kStripes; larger values wrap) or kBucketLock.
  std::shared_mutex& InProcess(size_t stripe) { return mu_[Slot(stripe)]; }
  // Takes the cross-process lock of a stripe (exclusive); no-op without a directory or when the
  // lock file cannot be opened (then only in-process locking protects the key).
  void LockFile(size_t stripe);
  void UnlockFile(size_t stripe);

 private:
  static size_t Slot(size_t stripe) {
    return stripe == kBucketLock ? kBucketLock : stripe % kStripes;
  }
  int Fd(size_t slot);
  std::string dir_;
  std::array<std::shared_mutex, kStripes + 1> mu_;
  std::mutex fd_mu_;
  std::array<int, kStripes + 1> fds_;
};

// Exclusive guard for commits and deletes: in-process writer lock, then the file lock.
class KeyWriteGuard {
 public:
  KeyWriteGuard(KeyLocks& l, size_t stripe) : l_(l), stripe_(stripe) {
    l_.InProcess(stripe_).lock();
    l_.LockFile(stripe_);
  }
  ~KeyWriteGuard() {
    l_.UnlockFile(stripe_);
    l_.InProcess(stripe_).unlock();
  }
  KeyWriteGuard(const KeyWriteGuard&) = delete;
  KeyWriteGuard& operator=(const KeyWriteGuard&) = delete;

 private:
  KeyLocks& l_;
  size_t stripe_;
};

}  // namespace cairn
