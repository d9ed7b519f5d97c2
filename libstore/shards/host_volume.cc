#include "libstore/shards/host_volume.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>  // renameat2
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "libstore/common/group_sync.h"

namespace cairn {
namespace {

std::string Full(const std::string& path) { return "/" + path; }

class HostWritableFile : public WritableFile {
 public:
  HostWritableFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~HostWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status AppendV(const ConstBuf* bufs, int n) override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    uint64_t total = 0;
    for (int i = 0; i < n; ++i) total += bufs[i].size;
    RETURN_IF_ERROR(WriteAllV(fd_, bufs, n, name_));
    appended_ += total;
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    size_t done = 0;
    while (done < n) {
      ssize_t w =
          ::pwrite(fd_, static_cast<const char*>(data) + done, n - done, off_t(offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return PosixError(name_ + ": write", errno);
      done += size_t(w);
    }
    return Status::Ok();
  }
  void StartWriteback() override {
    if (fd_ < 0 || appended_ <= started_) return;
    ::sync_file_range(fd_, off64_t(started_), off64_t(appended_ - started_), SYNC_FILE_RANGE_WRITE);
    started_ = appended_;
  }
  Status Sync() override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    if (::fdatasync(fd_) != 0) return PosixError(name_ + ": fdatasync", errno);
    return Status::Ok();
  }
  Status Close() override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return PosixError(name_ + ": close", errno);
    return Status::Ok();
  }

 private:
  int fd_;
  std::string name_;
  uint64_t appended_ = 0, started_ = 0;
};

class HostReadableFile : public ReadableFile {
 public:
  HostReadableFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~HostReadableFile() override { ::close(fd_); }
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, static_cast<char*>(buf) + done, n - done, off_t(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError(name_ + ": read", errno);
      }
      if (r == 0) break;
      done += size_t(r);
    }
    return done;
  }
  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return PosixError(name_ + ": stat", errno);
    return uint64_t(st.st_size);
  }

 private:
  int fd_;
  std::string name_;
};

class HostFileLock : public FileLock {
 public:
  explicit HostFileLock(int fd) : fd_(fd) {}
  ~HostFileLock() override { ::close(fd_); }  // closing the last descriptor releases the flock

 private:
  int fd_;
};

// "" (the root) or a valid relative path.
Status CheckPath(const std::string& path) {
  return path.empty() ? Status::Ok() : ValidateRelPath(path);
}

}  // namespace

std::string HostDisplay(const std::string& path) { return "/" + path; }

void HostVolume::Gone(const std::string& path) {
  if (observer_) observer_(Full(path), false);
}

Result<std::unique_ptr<WritableFile>> HostVolume::NewWritableFile(const std::string& path) {
  RETURN_IF_ERROR(ValidateRelPath(path));
  std::string full = Full(path);
  // Reported before it exists, so no moment passes where the file exists unreported.
  if (observer_) observer_(full, true);
  int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  struct stat st;
  int e = fd < 0 ? errno : ::fstat(fd, &st) != 0 ? errno : 0;
  if (e != 0) {
    if (fd >= 0) {
      ::close(fd);
      ::unlink(full.c_str());
    }
    Gone(path);
    return PosixError(full, e);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    devices_.emplace(st.st_dev, ParentDir(path));
  }
  return std::unique_ptr<WritableFile>(new HostWritableFile(fd, std::move(full)));
}

Result<std::unique_ptr<ReadableFile>> HostVolume::NewReadableFile(const std::string& path) {
  RETURN_IF_ERROR(ValidateRelPath(path));
  std::string full = Full(path);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return PosixError(full, errno);
  struct stat st;
  int e = ::fstat(fd, &st) != 0 ? errno : 0;
  if (e == 0 && S_ISDIR(st.st_mode)) e = EISDIR;
  if (e != 0) {
    ::close(fd);
    return PosixError(full, e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(full + ": not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return std::unique_ptr<ReadableFile>(new HostReadableFile(fd, std::move(full)));
}

Status HostVolume::Rename(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(ValidateRelPath(from));
  RETURN_IF_ERROR(ValidateRelPath(to));
  if (::rename(Full(from).c_str(), Full(to).c_str()) != 0) {
    return PosixError("rename " + Full(from) + " to " + Full(to), errno);
  }
  Gone(from);
  return Status::Ok();
}

Status HostVolume::Exchange(const std::string& a, const std::string& b) {
  RETURN_IF_ERROR(ValidateRelPath(a));
  RETURN_IF_ERROR(ValidateRelPath(b));
  if (::renameat2(AT_FDCWD, Full(a).c_str(), AT_FDCWD, Full(b).c_str(), RENAME_EXCHANGE) != 0) {
    return PosixError("exchange " + Full(a) + " and " + Full(b), errno);
  }
  return Status::Ok();
}

Status HostVolume::Remove(const std::string& path) {
  RETURN_IF_ERROR(ValidateRelPath(path));
  if (::unlink(Full(path).c_str()) != 0) return PosixError(Full(path) + ": remove", errno);
  Gone(path);
  return Status::Ok();
}

Status HostVolume::RemoveDir(const std::string& path) {
  RETURN_IF_ERROR(ValidateRelPath(path));
  if (::rmdir(Full(path).c_str()) != 0) {
    return PosixError(Full(path) + ": rmdir", errno == EEXIST ? ENOTEMPTY : errno);
  }
  return Status::Ok();
}

Status HostVolume::MakeDirs(const std::string& path) {
  RETURN_IF_ERROR(CheckPath(path));
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    std::string dir = Full(path.substr(0, pos));
    if (::mkdir(dir.c_str(), 0777) == 0) continue;
    int e = errno;
    struct stat st;
    if (e == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    return PosixError(dir + ": mkdir", e == EEXIST ? ENOTDIR : e);
  }
  return Status::Ok();
}

namespace {

FileKind KindOfMode(mode_t mode) {
  if (S_ISREG(mode)) return FileKind::kFile;
  if (S_ISDIR(mode)) return FileKind::kDir;
  if (S_ISLNK(mode)) return FileKind::kSymlink;
  return FileKind::kOther;
}

}  // namespace

Result<std::vector<DirEntry>> HostVolume::ListDir(const std::string& path) {
  RETURN_IF_ERROR(CheckPath(path));
  std::string full = Full(path);
  DIR* d = ::opendir(full.c_str());
  if (d == nullptr) return PosixError(full, errno);
  std::vector<DirEntry> out;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view name(e->d_name);
    if (name == "." || name == "..") continue;
    // The user's own paths: a link counts as what it points to (a dangling one as a file, which
    // fails when opened).
    FileKind kind = e->d_type == DT_DIR   ? FileKind::kDir
                    : e->d_type == DT_REG ? FileKind::kFile
                                          : FileKind::kOther;
    if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
      struct stat st;
      kind =
          ::fstatat(::dirfd(d), e->d_name, &st, 0) != 0 ? FileKind::kFile : KindOfMode(st.st_mode);
    }
    out.push_back(DirEntry{std::string(name), kind});
    errno = 0;
  }
  int e = errno;
  ::closedir(d);
  if (e != 0) return PosixError(full, e);
  return out;
}

Result<FileInfo> HostVolume::Stat(const std::string& path) {
  RETURN_IF_ERROR(CheckPath(path));
  struct stat st;
  if (::stat(Full(path).c_str(), &st) != 0) return PosixError(Full(path), errno);
  FileInfo fi;
  fi.size = uint64_t(st.st_size);
  fi.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  fi.kind = KindOfMode(st.st_mode);
  return fi;
}

Status HostVolume::SyncDir(const std::string& path) {
  RETURN_IF_ERROR(CheckPath(path));
  std::string full = Full(path);
  int fd = ::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError(full, errno);
  Status s;
  if (::fsync(fd) != 0) s = PosixError(full + ": fsync", errno);
  ::close(fd);
  return s;
}

Status HostVolume::SyncAll() {
  std::map<dev_t, std::string> devices;
  {
    std::lock_guard<std::mutex> l(mu_);
    devices = devices_;
  }
  for (const auto& [dev, dir] : devices) {
    std::string full = Full(dir);
    int fd = ::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(full, errno);
    Status s = GroupSyncFs(fd).WithContext(full);
    ::close(fd);
    RETURN_IF_ERROR(s);
  }
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> HostVolume::TryLock(const std::string& path) {
  RETURN_IF_ERROR(ValidateRelPath(path));
  std::string full = Full(path);
  int fd = ::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return PosixError(full, errno);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    ::close(fd);
    return PosixError(full + (e == EWOULDBLOCK ? ": locked by another process" : ": lock"), e);
  }
  return std::unique_ptr<FileLock>(new HostFileLock(fd));
}

std::string TidyPath(const std::string& typed) {
  std::string in = typed;
  if (in.empty() || in[0] != '/') {
    char cwd[PATH_MAX];
    in = (::getcwd(cwd, sizeof(cwd)) != nullptr ? std::string(cwd) : std::string(".")) + "/" + in;
  }
  std::string out;
  for (size_t pos = 0; pos < in.size();) {
    size_t end = in.find('/', pos);
    if (end == std::string::npos) end = in.size();
    std::string_view comp(in.data() + pos, end - pos);
    if (!comp.empty() && comp != ".") {
      out += '/';
      out += comp;
    }
    pos = end + 1;
  }
  return out.empty() ? "/" : out;
}

namespace {

// realpath(3) of an existing path, as a HostVolume path.
Result<std::string> Real(const std::string& abs, const std::string& shown) {
  char buf[PATH_MAX];
  if (::realpath(abs.c_str(), buf) == nullptr) return PosixError(shown, errno);
  return std::string(buf + 1);
}

}  // namespace

Result<std::string> HostPath(const std::string& typed) {
  if (typed.empty()) return InvalidArgument("empty path");
  const std::string tidy = TidyPath(typed);
  size_t slash = tidy.rfind('/');
  std::string dir = slash == 0 ? "/" : tidy.substr(0, slash);
  std::string base = tidy.substr(slash + 1);
  if (base.empty() || base == "..") return Real(tidy, tidy);  // "/" or ".../.."
  ASSIGN_OR_RETURN(std::string real_dir, Real(dir, dir));
  return real_dir.empty() ? base : real_dir + "/" + base;
}

Result<std::string> HostRealPath(const std::string& path) { return Real(Full(path), Full(path)); }

Result<std::string> HostDir(const std::string& typed, bool create) {
  if (typed.empty()) return InvalidArgument("empty path");
  const std::string tidy = TidyPath(typed);
  if (create) {
    // mkdir -p with the OS's own resolution of each component (symlinks and ".." included).
    for (size_t pos = 0; pos != std::string::npos;) {
      pos = tidy.find('/', pos + 1);
      std::string dir = tidy.substr(0, pos);
      if (::mkdir(dir.c_str(), 0777) == 0) continue;
      int e = errno;
      struct stat st;
      if (e == EEXIST && ::stat(dir.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) continue;
        return InvalidArgument(dir + ": not a directory");
      }
      if (e == ENOTDIR) return InvalidArgument(dir + ": a parent is not a directory");
      return PosixError(dir + ": mkdir", e);
    }
  }
  struct stat st;
  if (::stat(tidy.c_str(), &st) != 0) {
    if (errno == ENOTDIR) return InvalidArgument(tidy + ": a parent is not a directory");
    return PosixError(tidy, errno);
  }
  if (!S_ISDIR(st.st_mode)) return InvalidArgument(tidy + ": not a directory");
  return Real(tidy, tidy);
}

}  // namespace cairn
