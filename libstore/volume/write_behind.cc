// WriteBehind: see write_behind.h.
#include "libstore/volume/write_behind.h"

#include <fcntl.h>

#include <atomic>
#include <cerrno>

namespace cairn {

int WritebackCalls::SyncRange(int fd, uint64_t offset, uint64_t len, unsigned flags) {
  for (;;) {
    if (::sync_file_range(fd, off64_t(offset), off64_t(len), flags) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

int WritebackCalls::DropCache(int fd, uint64_t offset, uint64_t len) {
  // posix_fadvise returns the error number itself.
  return ::posix_fadvise(fd, off_t(offset), off_t(len), POSIX_FADV_DONTNEED);
}

namespace {
std::atomic<WritebackCalls*> g_test_calls{nullptr};
}  // namespace

WritebackCalls& WritebackCalls::System() {
  static WritebackCalls calls;
  WritebackCalls* t = g_test_calls.load(std::memory_order_acquire);
  return t != nullptr ? *t : calls;
}

ScopedWritebackCalls::ScopedWritebackCalls(WritebackCalls* calls) {
  g_test_calls.store(calls, std::memory_order_release);
}
ScopedWritebackCalls::~ScopedWritebackCalls() {
  g_test_calls.store(nullptr, std::memory_order_release);
}

bool WriteBehind::Check(int rc, bool waited, const char* what) {
  if (rc == 0) return true;
  off_ = true;
  // Not available for this file (kernel, file system, file type): the final flush does it all.
  if (rc == ENOSYS || rc == EINVAL || rc == ESPIPE || rc == EOPNOTSUPP) return false;
  // A wait may have reported a writeback error that the kernel will not report again to this
  // descriptor: kept for Sync. Queuing alone reports nothing it consumes: the flush will tell.
  if (waited) error_ = PosixError(what, rc);
  return false;
}

void WriteBehind::Start(int fd, uint64_t appended) {
  if (off_ || appended <= started_) return;
  // Queues the dirty range and returns (it may wait for room in the device's queue, not for the
  // writes).
  if (!Check(calls_.SyncRange(fd, started_, appended - started_, SYNC_FILE_RANGE_WRITE), false,
             "sync_file_range")) {
    return;
  }
  started_ = appended;
}

void WriteBehind::Advance(int fd, uint64_t appended, uint64_t lag) {
  Start(fd, appended);
  if (off_ || appended <= lag) return;
  constexpr uint64_t kPage = 64 << 10;  // whole pages, whatever the page size
  const uint64_t end = (appended - lag) / kPage * kPage;
  if (end <= dropped_) return;
  constexpr unsigned kWait =
      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  if (!Check(calls_.SyncRange(fd, dropped_, end - dropped_, kWait), true,
             "sync_file_range (wait)")) {
    return;
  }
  // A hint: when it fails the pages stay cached, and nothing else changes.
  calls_.DropCache(fd, dropped_, end - dropped_);
  dropped_ = end;
}

}  // namespace cairn
