#include "cli/output_file.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>

#include "cli/fd_io.h"
#include "libstore/volume/volume.h"  // TempName

namespace cairn::cli {
namespace {

// --------------------------------------------------------------- temp files removed on a signal

constexpr int kTrackSlots = 64;
enum SlotState : int { kFree = 0, kFilling = 1, kLive = 2 };
struct TrackSlot {
  std::atomic<int> state{kFree};
  char path[PATH_MAX];
};
TrackSlot g_slots[kTrackSlots];
std::once_flag g_install_once;
const int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void RemoveTempsAndDie(int sig) {
  // Only async-signal-safe calls: unlink, signal, raise.
  for (auto& s : g_slots) {
    if (s.state.load(std::memory_order_acquire) == kLive) ::unlink(s.path);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void InstallHandlers() {
  for (int sig : kCleanupSignals) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    // Ignored (nohup, a background job of a script) or someone else's: leave it as it is.
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa {};
    sa.sa_handler = RemoveTempsAndDie;
    sigemptyset(&sa.sa_mask);
    for (int other : kCleanupSignals) sigaddset(&sa.sa_mask, other);
    ::sigaction(sig, &sa, nullptr);
  }
}

// --------------------------------------------------------------------------------------- helpers

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status SyncDirOf(const std::string& path) {
  const std::string dir = DirOf(path);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError(dir, errno);
  Status s;
  if (::fsync(fd) != 0) s = PosixError(dir + ": fsync", errno);
  ::close(fd);
  return s;
}

}  // namespace

int TrackTempFile(const std::string& path) {
  std::call_once(g_install_once, InstallHandlers);
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kTrackSlots; ++i) {
    int expected = kFree;
    if (g_slots[i].state.compare_exchange_strong(expected, kFilling)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(kLive, std::memory_order_release);
      return i;
    }
  }
  return -1;
}

void UntrackTempFile(int slot) {
  if (slot >= 0 && slot < kTrackSlots) g_slots[slot].state.store(kFree, std::memory_order_release);
}

Result<std::unique_ptr<OutputFile>> OutputFile::Open(const std::string& path, bool replace,
                                                     Progress* progress) {
  if (path.empty()) return InvalidArgument("empty output file name");
  std::unique_ptr<OutputFile> out(new OutputFile());
  out->path_ = path;
  out->replace_ = replace;
  struct stat lst {};
  const bool exists = ::lstat(path.c_str(), &lst) == 0;
  if (!exists && errno != ENOENT) return PosixError(path, errno);
  struct stat st = lst;
  std::string target = path;
  const bool link = exists && S_ISLNK(lst.st_mode);
  if (link) {
    // What the link points to decides, resolved by the kernel as an open would resolve it.
    int pfd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
    if (pfd < 0) {
      if (errno == ENOENT) return InvalidArgument(path + ": dangling symbolic link");
      return PosixError(path, errno);
    }
    int e = ::fstat(pfd, &st) == 0 ? 0 : errno;
    if (e == 0 && S_ISREG(st.st_mode)) {
      // Replace the file it points to, beside it, and keep the link.
      char buf[PATH_MAX];
      const std::string proc = "/proc/self/fd/" + std::to_string(pfd);
      ssize_t n = ::readlink(proc.c_str(), buf, sizeof(buf) - 1);
      if (n <= 0 || buf[0] != '/') {
        e = n < 0 ? errno : ENOENT;
      } else {
        target.assign(buf, size_t(n));
      }
    }
    ::close(pfd);
    if (e != 0) return PosixError(path + ": resolving the symbolic link", e);
  }
  if (exists && S_ISDIR(st.st_mode)) return InvalidArgument(path + ": is a directory");
  if (exists && S_ISSOCK(st.st_mode)) return InvalidArgument(path + ": is a socket");
  if (exists && !S_ISREG(st.st_mode)) {
    // A device or a FIFO: write into it. Never O_CREAT or O_TRUNC; O_NOFOLLOW unless the user
    // named a symlink to it. Opening a FIFO waits for its reader.
    const int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | (link ? 0 : O_NOFOLLOW);
    int fd;
    do {
      fd = ::open(path.c_str(), flags);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return PosixError(path, errno);
    struct stat now {};
    if (::fstat(fd, &now) != 0 || S_ISREG(now.st_mode) || S_ISDIR(now.st_mode)) {
      ::close(fd);
      return IOError(path + ": changed while it was being opened");
    }
    out->fd_ = fd;
    out->sync_in_place_ = S_ISBLK(now.st_mode);
    out->sink_ = std::make_unique<FdSink>(fd, path, progress);
    return out;
  }
  if (exists && !replace) return InvalidArgument(path + " exists (use --force to replace it)");
  // A regular file or a new name: a temp file beside it, renamed over it at the end.
  const std::string dir = DirOf(target);
  out->target_ = target;
  out->tmp_ =
      (dir == "/" ? "" : dir) + "/." + BaseOf(target).substr(0, 200) + ".cairn-" + TempName("");
  // Tracked before it exists: a signal at any moment finds it.
  out->tracked_ = TrackTempFile(out->tmp_);
  out->fd_ = ::open(out->tmp_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (out->fd_ < 0) {
    int e = errno;
    out->tmp_.clear();  // not ours: never unlink a name we did not create
    return PosixError(path, e);
  }
  // A replaced file keeps its permissions.
  if (exists) ::fchmod(out->fd_, st.st_mode & 0777);
  out->sink_ = std::make_unique<FdSink>(out->fd_, path, progress, /*writeback=*/true);
  return out;
}

OutputFile::~OutputFile() { Abort(); }

void OutputFile::Abort() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  UntrackTempFile(tracked_);
  tracked_ = -1;
}

Status OutputFile::Commit() {
  if (fd_ < 0) return Internal(path_ + ": output committed twice");
  Status s;
  if (tmp_.empty()) {
    // In place: a FIFO or a character device has nothing to flush.
    if (sync_in_place_ && fsync_ && ::fsync(fd_) != 0) s = PosixError(path_ + ": fsync", errno);
    if (::close(fd_) != 0 && s.ok()) s = PosixError(path_, errno);
    fd_ = -1;
    return s;
  }
  if (fsync_ && ::fsync(fd_) != 0) s = PosixError(path_ + ": fsync", errno);
  if (::close(fd_) != 0 && s.ok()) s = PosixError(path_, errno);
  fd_ = -1;
  if (s.ok()) {
    int rc = replace_
                 ? ::rename(tmp_.c_str(), target_.c_str())
                 : ::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && !replace_ && errno == EINVAL) {
      // A file system without RENAME_NOREPLACE: check, then rename.
      struct stat st;
      rc = ::lstat(target_.c_str(), &st) == 0 ? (errno = EEXIST, -1)
                                              : ::rename(tmp_.c_str(), target_.c_str());
    }
    if (rc != 0) {
      s = errno == EEXIST ? InvalidArgument(path_ + " exists (use --force to replace it)")
                          : PosixError(path_, errno);
    }
  }
  if (!s.ok()) {
    Abort();
    return s;
  }
  tmp_.clear();
  UntrackTempFile(tracked_);
  tracked_ = -1;
  return fsync_ ? SyncDirOf(target_) : Status::Ok();
}

}  // namespace cairn::cli
