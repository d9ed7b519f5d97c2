// WriteBehind: the early writeback of a large file that is written once, front to back, and
// flushed at the end (LocalVolume's WritableFile::StartWriteback and WriteBehind).
//
// Start(appended) queues what was appended since the last call for writeback
// (sync_file_range(SYNC_FILE_RANGE_WRITE)) and returns without waiting. Advance(appended, lag)
// does that too, then waits until everything appended more than `lag` bytes ago is on the disk
// (sync_file_range WAIT_BEFORE | WRITE | WAIT_AFTER) and drops those now clean pages from the page
// cache (posix_fadvise POSIX_FADV_DONTNEED). So the file holds at most ~lag bytes of page cache
// while it is written, the pages it frees are the ones its next appends reuse (a page the VM's
// host took back after it sat free costs a fault on its first touch: writing 1 GiB into fresh
// pages cost 1.0-1.9 s of CPU here, into recycled ones 0.4 s), and the final flush has at most
// ~lag bytes left to write.
//
// Durability: nothing here replaces the final fdatasync; this only does its work earlier. A
// writeback error that the wait sees is "consumed" for this descriptor (the kernel advances the
// file's error cursor, so a later fdatasync would not report it again): it is kept in error(),
// which the file's Sync() must return (a failed queuing, which consumes nothing, just turns
// WriteBehind off: the final fdatasync reports what went wrong). A kernel or file system that cannot (ENOSYS, EINVAL,
// ESPIPE, EOPNOTSUPP) turns WriteBehind off for the file, silently: the final fdatasync then does
// all the work, as without it. POSIX_FADV_DONTNEED only ever drops clean pages, so no data is lost
// however it ends.
//
// Thread safety: none; one per file, used by the file's one writer.
#pragma once

#include <cstdint>

#include "libstore/common/status.h"

namespace cairn {

// The system calls WriteBehind makes, replaceable by a test. Each returns 0 or an errno value.
class WritebackCalls {
 public:
  virtual ~WritebackCalls() = default;
  virtual int SyncRange(int fd, uint64_t offset, uint64_t len, unsigned flags);
  virtual int DropCache(int fd, uint64_t offset, uint64_t len);
  // The kernel's, or the test's while a ScopedWritebackCalls lives.
  static WritebackCalls& System();
};

// For tests: while it lives, every WriteBehind constructed (so every LocalVolume file opened for
// writing) makes its calls through `calls`. One at a time.
class ScopedWritebackCalls {
 public:
  explicit ScopedWritebackCalls(WritebackCalls* calls);
  ~ScopedWritebackCalls();
  ScopedWritebackCalls(const ScopedWritebackCalls&) = delete;
  ScopedWritebackCalls& operator=(const ScopedWritebackCalls&) = delete;
};

class WriteBehind {
 public:
  explicit WriteBehind(WritebackCalls& calls = WritebackCalls::System()) : calls_(calls) {}

  // Queues [started, appended) for writeback; no wait.
  void Start(int fd, uint64_t appended);
  // Start, then waits for and drops the whole pages before appended - lag.
  void Advance(int fd, uint64_t appended, uint64_t lag);

  // A writeback error a wait reported (then nothing more is done): Sync must fail with it.
  const Status& error() const { return error_; }
  // Bytes from the file's start that were written back and dropped from the page cache.
  uint64_t dropped() const { return dropped_; }
  bool off() const { return off_; }

 private:
  // False (and off_, and error_ for a failed wait, set) when the call failed.
  bool Check(int rc, bool waited, const char* what);

  WritebackCalls& calls_;
  uint64_t started_ = 0;  // bytes queued for writeback
  uint64_t dropped_ = 0;  // bytes written back and dropped
  bool off_ = false;      // unsupported here, or failed: do nothing more
  Status error_;
};

}  // namespace cairn
