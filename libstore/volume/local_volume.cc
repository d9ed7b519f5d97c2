// LocalVolume: a directory on a local file system.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>  // struct open_how, RESOLVE_* (glibc has no openat2 wrapper)
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>  // renameat2
#include <cstring>
#include <mutex>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/group_sync.h"
#include "libstore/volume/volume.h"

namespace cairn {
namespace {

FileInfo InfoOf(const struct stat& st);

// Direct appends (BypassCache): O_DIRECT wants the buffer, the file offset and the length
// aligned to the device's logical block; 4 KiB (kDirectAppendAlign) covers every block size
// Linux uses.
constexpr size_t kDirectAlign = kDirectAppendAlign;
// What is not aligned waits in a stage of this size, written out whenever it fills.
constexpr size_t kDirectStage = 256 << 10;

bool Aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kDirectAlign == 0; }

class LocalWritableFile : public WritableFile {
 public:
  LocalWritableFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~LocalWritableFile() override {
    if (fd_ < 0) return;
    EndDirect().IgnoreError();  // destruction closes silently, with every byte appended
    ::close(fd_);
  }
  Status AppendV(const ConstBuf* bufs, int n) override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    uint64_t total = 0;
    for (int i = 0; i < n; ++i) total += bufs[i].size;
    for (int i = 0; i < n; ++i) {
      if (!direct_) {
        RETURN_IF_ERROR(WriteV(bufs + i, n - i));
        break;
      }
      RETURN_IF_ERROR(AppendDirect(static_cast<const char*>(bufs[i].data), bufs[i].size));
    }
    appended_ += total;
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    RETURN_IF_ERROR(EndDirect());
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
    // Direct appends are on their way to the disk already.
    if (fd_ < 0 || direct_ || appended_ <= started_) return;
    // Asynchronous: queues the dirty range for writeback and returns.
    ::sync_file_range(fd_, off64_t(started_), off64_t(appended_ - started_), SYNC_FILE_RANGE_WRITE);
    started_ = appended_;
  }
  void BypassCache() override {
    if (fd_ < 0 || direct_ || appended_ % kDirectAlign != 0) return;
    const int fl = ::fcntl(fd_, F_GETFL);
    if (fl < 0 || ::fcntl(fd_, F_SETFL, fl | O_DIRECT) != 0) return;  // buffered, as before
    direct_ = true;
    started_ = appended_;
  }
  Status Sync() override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    RETURN_IF_ERROR(EndDirect());
    if (::fdatasync(fd_) != 0) return PosixError(name_ + ": fdatasync", errno);
    return Status::Ok();
  }
  Result<uint64_t> AppendFrom(ReadableFile& src, uint64_t offset, uint64_t len) override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    RETURN_IF_ERROR(EndDirect());
    const int in = src.NativeFd();
    uint64_t done = 0;
    // copy_file_range writes at this file's position, where writev appends too.
    while (in >= 0 && done < len) {
      loff_t off = loff_t(offset + done);
      ssize_t n = ::copy_file_range(in, &off, fd_, nullptr,
                                    size_t(std::min<uint64_t>(len - done, 1u << 30)), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        // Another file system, or a kernel or file system that cannot: copy through a buffer.
        if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
        return PosixError(name_ + ": copy_file_range", errno);
      }
      if (n == 0) return done;  // src ended
      done += uint64_t(n);
      appended_ += uint64_t(n);
    }
    if (done == len) return done;
    ASSIGN_OR_RETURN(uint64_t rest, WritableFile::AppendFrom(src, offset + done, len - done));
    return done + rest;
  }
  Result<FileInfo> StatOpen() override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    RETURN_IF_ERROR(EndDirect());
    struct stat st;
    if (::fstat(fd_, &st) != 0) return PosixError(name_ + ": stat", errno);
    return InfoOf(st);
  }
  Status Close() override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    Status st = EndDirect();
    int rc = ::close(fd_);
    fd_ = -1;
    RETURN_IF_ERROR(st);
    if (rc != 0) return PosixError(name_ + ": close", errno);
    return Status::Ok();
  }

 private:
  // Writes all of bufs at the file position (buffered, or direct when they are aligned).
  Status WriteV(const ConstBuf* bufs, int n) { return WriteAllV(fd_, bufs, n, name_); }
  // Direct mode: appends n bytes, aligned runs straight from p, the rest through the stage.
  Status AppendDirect(const char* p, size_t n) {
    while (n > 0) {
      if (!direct_) {  // a direct write was refused just now: the rest goes buffered
        ConstBuf b{p, n};
        return WriteV(&b, 1);
      }
      if (stage_len_ == 0 && n >= kDirectAlign && Aligned(p)) {
        const size_t k = n - n % kDirectAlign;
        ConstBuf run{p, k};
        RETURN_IF_ERROR(WriteDirect(&run, 1));
        p += k;
        n -= k;
        continue;
      }
      // Bytes that sit at an address congruent to their file offset (the erasure set places its
      // chunks so): the stage's last page is completed from them, and that page goes out in one
      // write with the aligned run that follows it, straight from p. Only the edges are copied.
      const size_t head = (kDirectAlign - stage_len_ % kDirectAlign) % kDirectAlign;
      if (stage_len_ > 0 && n >= head + kDirectAlign && Aligned(p + head)) {
        std::memcpy(stage_.data() + stage_len_, p, head);
        const size_t k = (n - head) - (n - head) % kDirectAlign;
        ConstBuf bufs[2] = {{stage_.data(), stage_len_ + head}, {p + head, k}};
        stage_len_ = 0;
        RETURN_IF_ERROR(WriteDirect(bufs, 2));
        p += head + k;
        n -= head + k;
        continue;
      }
      if (stage_.data() == nullptr) stage_ = PooledBuffer(kDirectStage);
      const size_t k = std::min(n, kDirectStage - stage_len_);
      std::memcpy(stage_.data() + stage_len_, p, k);
      stage_len_ += k;
      p += k;
      n -= k;
      if (stage_len_ == kDirectStage) {
        stage_len_ = 0;
        ConstBuf full{stage_.data(), kDirectStage};
        RETURN_IF_ERROR(WriteDirect(&full, 1));
      }
    }
    return Status::Ok();
  }
  // Direct mode: writes bufs[0..n) (aligned addresses and lengths) in one writev where it can.
  // Where the kernel refuses them (EINVAL: an alignment this device does not take), leaves direct
  // mode and writes the rest buffered.
  Status WriteDirect(ConstBuf* bufs, int n) {
    while (n > 0) {
      iovec iov[2];
      const int cnt = std::min(n, 2);
      for (int i = 0; i < cnt; ++i) iov[i] = {const_cast<void*>(bufs[i].data), bufs[i].size};
      const ssize_t w = ::writev(fd_, iov, cnt);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EINVAL) {
        RETURN_IF_ERROR(LeaveDirect());
        return WriteV(bufs, n);
      }
      if (w < 0) return PosixError(name_ + ": write", errno);
      size_t left = size_t(w);
      while (n > 0 && left >= bufs[0].size) {
        left -= bufs[0].size;
        ++bufs;
        --n;
      }
      if (n > 0) bufs[0] = {static_cast<const char*>(bufs[0].data) + left, bufs[0].size - left};
    }
    return Status::Ok();
  }
  Status LeaveDirect() {
    direct_ = false;
    const int fl = ::fcntl(fd_, F_GETFL);
    if (fl < 0 || ::fcntl(fd_, F_SETFL, fl & ~O_DIRECT) != 0) {
      return PosixError(name_ + ": clearing O_DIRECT", errno);
    }
    return Status::Ok();
  }
  // Leaves direct mode: the stage's aligned part goes out direct, its tail buffered.
  Status EndDirect() {
    if (!direct_) return Status::Ok();
    const size_t len = stage_len_;
    stage_len_ = 0;
    const size_t k = len - len % kDirectAlign;
    const char* stage = reinterpret_cast<const char*>(stage_.data());
    ConstBuf run{stage, k};
    if (k > 0) RETURN_IF_ERROR(WriteDirect(&run, 1));
    if (direct_) RETURN_IF_ERROR(LeaveDirect());
    ConstBuf tail{stage + k, len - k};
    if (tail.size > 0) RETURN_IF_ERROR(WriteV(&tail, 1));
    stage_ = PooledBuffer();
    started_ = appended_ - tail.size;
    return Status::Ok();
  }

  int fd_;
  std::string name_;
  uint64_t appended_ = 0;  // bytes appended through this object
  uint64_t started_ = 0;   // bytes handed to StartWriteback (or written direct)
  bool direct_ = false;    // BypassCache took: the descriptor has O_DIRECT
  PooledBuffer stage_;     // direct mode: the unaligned bytes not written yet
  size_t stage_len_ = 0;
};

class LocalReadableFile : public ReadableFile {
 public:
  LocalReadableFile(int fd, std::string name, const struct stat& at_open)
      : fd_(fd), name_(std::move(name)), at_open_(at_open) {}
  ~LocalReadableFile() override { ::close(fd_); }
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
  Result<FileInfo> StatOpen() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return PosixError(name_ + ": stat", errno);
    return InfoOf(st);
  }
  Result<FileInfo> StatAtOpen() override { return InfoOf(at_open_); }
  int NativeFd() const override { return fd_; }

 private:
  int fd_;
  std::string name_;
  struct stat at_open_;  // NewReadableFile's fstat
};

// Whether openat2(2) may be tried; cleared for the whole process the first time the kernel says
// ENOSYS (older kernels, some seccomp filters), after which paths are walked with O_NOFOLLOW.
std::atomic<bool> g_have_openat2{true};

// A directory fd that is closed on destruction when owned (the root's is borrowed).
class DirFd {
 public:
  DirFd(int fd, bool owned) : fd_(fd), owned_(owned) {}
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  ~DirFd() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
  bool owned_;
};

bool IsSymlinkAt(int dirfd, const char* name) {
  struct stat st;
  return ::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

FileKind KindOf(mode_t mode) {
  if (S_ISREG(mode)) return FileKind::kFile;
  if (S_ISDIR(mode)) return FileKind::kDir;
  if (S_ISLNK(mode)) return FileKind::kSymlink;
  return FileKind::kOther;
}

int64_t MtimeNs(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

FileInfo InfoOf(const struct stat& st) {
  FileInfo fi;
  fi.size = uint64_t(st.st_size);
  fi.mtime_ns = MtimeNs(st);
  fi.kind = KindOf(st.st_mode);
  fi.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  fi.dev = uint64_t(st.st_dev);
  fi.ino = uint64_t(st.st_ino);
  return fi;
}

constexpr const char* kNotFollowed =
    "is a symbolic link; cairn never follows links inside a volume";

class LocalVolume : public Volume {
 public:
  LocalVolume(std::string root, LocalPathMode mode) : root_(std::move(root)), mode_(mode) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) root_fd_.store(fd);
  }
  ~LocalVolume() override {
    int fd = root_fd_.load();
    if (fd >= 0) ::close(fd);
    for (size_t i = 0; i < pin_count_.load(); ++i) ::close(pins_[i].fd);
  }
  std::string Describe() const override { return root_; }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    int fd = OpenFile(root, path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, 0644);
    if (fd < 0) return OpenError(root, path, -fd);
    return std::unique_ptr<WritableFile>(new LocalWritableFile(fd, Full(path)));
  }
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    int fd = OpenBeneath(root, path.c_str(), O_RDONLY | O_NONBLOCK);
    if (fd < 0) return OpenError(root, path, -fd);
    struct stat st;
    Status s;
    if (::fstat(fd, &st) != 0) {
      s = PosixError(Full(path), errno);
    } else if (S_ISDIR(st.st_mode)) {
      s = PosixError(Full(path), EISDIR);
    } else if (!S_ISREG(st.st_mode)) {
      s = NotRegular(path);
    }
    if (!s.ok()) {
      ::close(fd);
      return s;
    }
    return std::unique_ptr<ReadableFile>(new LocalReadableFile(fd, Full(path), st));
  }
  // Fewer syscalls than the generic version: open, read, close.
  Result<std::string> ReadFile(const std::string& path, size_t max_size) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    int fd = OpenBeneath(root, path.c_str(), O_RDONLY | O_NONBLOCK);
    if (fd < 0) return OpenError(root, path, -fd);
    // Most files read whole are small (metadata of small objects, format files, journal
    // entries): one read into a stack buffer saves the fstat. A read of a regular file returns
    // fewer bytes than asked only at its end; a directory fails with EISDIR, a FIFO with ESPIPE.
    char head[16384];
    ssize_t got;
    do {
      got = ::pread(fd, head, sizeof(head), 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      int e = errno;
      ::close(fd);
      return e == ESPIPE ? NotRegular(path) : PosixError(Full(path), e);
    }
    if (size_t(got) < sizeof(head)) {
      ::close(fd);
      if (size_t(got) > max_size) {
        return Corruption(Full(path) + ": file larger than " + std::to_string(max_size));
      }
      return std::string(head, size_t(got));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return PosixError(Full(path), e);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return S_ISDIR(st.st_mode) ? PosixError(Full(path), EISDIR) : NotRegular(path);
    }
    if (uint64_t(st.st_size) > max_size) {
      ::close(fd);
      return Corruption(Full(path) + ": file larger than " + std::to_string(max_size));
    }
    std::string out(size_t(st.st_size), '\0');
    size_t done = 0;
    while (done < out.size()) {
      ssize_t r = ::pread(fd, out.data() + done, out.size() - done, off_t(done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        int e = errno;
        ::close(fd);
        return PosixError(Full(path) + ": read", e);
      }
      if (r == 0) break;
      done += size_t(r);
    }
    ::close(fd);
    out.resize(done);
    return out;
  }
  Status OverwriteFile(const std::string& path, std::string_view data) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    int fd = OpenFile(root, path, O_WRONLY | O_CREAT | O_NONBLOCK, 0644);
    if (fd < 0) return OpenError(root, path, -fd);
    size_t done = 0;
    Status s;
    while (done < data.size()) {
      ssize_t w = ::pwrite(fd, data.data() + done, data.size() - done, off_t(done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        s = PosixError(Full(path) + ": write", errno);
        break;
      }
      done += size_t(w);
    }
    // Cut what an older, longer content left beyond the new one. A new file, or one no longer
    // than this, already ends here: its size (lseek to the end: no I/O) says so, and the
    // truncate, which ext4 runs in full even to the same size, is spared.
    if (s.ok()) {
      const off_t end = ::lseek(fd, 0, SEEK_END);
      if (end != off_t(data.size()) && ::ftruncate(fd, off_t(data.size())) != 0) {
        s = PosixError(Full(path) + ": truncate", errno);
      }
    }
    if (::close(fd) != 0 && s.ok()) s = PosixError(Full(path) + ": close", errno);
    return s;
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return RenameImpl(from, to, 0, "rename", " -> ");
  }
  Status RenameAndStat(const std::string& from, const std::string& to,
                       std::optional<FileInfo>* after) override {
    return RenameImpl(from, to, 0, "rename", " -> ", after);
  }
  Status RenameNoReplace(const std::string& from, const std::string& to) override {
    return RenameImpl(from, to, RENAME_NOREPLACE, "rename", " -> ");
  }
  Status Exchange(const std::string& a, const std::string& b) override {
    return RenameImpl(a, b, RENAME_EXCHANGE, "exchange", " <-> ");
  }
  Status Remove(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    PathBuf buf;
    const char* last = nullptr;
    int err = 0;
    DirFd parent = Parent(root, path, &buf, &last, &err);
    if (parent.get() < 0) return ErrorAt(root, path, err, ": remove");
    if (::unlinkat(parent.get(), last, 0) != 0) return ErrorAt(root, path, errno, ": remove");
    return Status::Ok();
  }
  Status RemoveDir(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    PathBuf buf;
    const char* last = nullptr;
    int err = 0;
    DirFd parent = Parent(root, path, &buf, &last, &err);
    if (parent.get() < 0) return ErrorAt(root, path, err, ": rmdir");
    if (::unlinkat(parent.get(), last, AT_REMOVEDIR) != 0) {
      int e = errno;
      if (e == EEXIST) e = ENOTEMPTY;
      // rmdir of a symlink says ENOTDIR; say what it is instead.
      if (e == ENOTDIR && mode_ != LocalPathMode::kFollowLinks && IsSymlinkAt(parent.get(), last)) {
        e = ELOOP;
      }
      return ErrorAt(root, path, e, ": rmdir");
    }
    return Status::Ok();
  }
  Status MakeDirs(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    // Usually the directory is there already: one open (and close) says so, whatever the depth.
    int fd = OpenBeneath(root, path.c_str(), O_PATH | O_DIRECTORY);
    if (fd >= 0) {
      ::close(fd);
      return Status::Ok();
    }
    if (fd != -ENOENT) return ErrorAt(root, path, -fd, ": mkdir");
    // Create what is missing, one component at a time from the root down, never through a link.
    PathBuf buf;
    std::memcpy(buf.data, path.data(), path.size());
    buf.data[path.size()] = '\0';
    int cur = root;
    bool owned = false;
    char* comp = buf.data;
    Status s;
    while (true) {
      char* slash = std::strchr(comp, '/');
      if (slash != nullptr) *slash = '\0';
      if (::mkdirat(cur, comp, 0755) != 0 && errno != EEXIST) {
        s = ErrorAt(root, std::string(buf.data), errno, ": mkdir");
        break;
      }
      int next = OpenStep(cur, comp, O_PATH | O_DIRECTORY);
      if (next < 0) {
        s = ErrorAt(root, std::string(buf.data), -next, ": mkdir");
        break;
      }
      if (owned) ::close(cur);
      cur = next;
      owned = true;
      if (slash == nullptr) break;
      *slash = '/';
      comp = slash + 1;
    }
    if (owned) ::close(cur);
    return s;
  }
  // The directory at path (beneath the root, no symlink followed), open for readdir; the caller
  // closes it with closedir.
  Result<DIR*> OpenDirBeneath(int root, const std::string& path) {
    if (!path.empty()) RETURN_IF_ERROR(ValidateRelPath(path));
    int fd = path.empty() ? ::openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                          : OpenBeneath(root, path.c_str(), O_RDONLY | O_DIRECTORY);
    if (path.empty() && fd < 0) fd = -errno;
    if (fd < 0) return ErrorAt(root, path, -fd, ": list");
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      int e = errno;
      ::close(fd);
      return ErrorAt(root, path, e, ": list");
    }
    return d;
  }
  Result<std::vector<DirEntry>> ListDir(const std::string& path) override {
    ASSIGN_OR_RETURN(int root, RootFd());
    ASSIGN_OR_RETURN(DIR * d, OpenDirBeneath(root, path));
    const int fd = ::dirfd(d);
    std::vector<DirEntry> out;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.' &&
          (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) {
        continue;
      }
      FileKind kind;
      switch (e->d_type) {
        case DT_REG:
          kind = FileKind::kFile;
          break;
        case DT_DIR:
          kind = FileKind::kDir;
          break;
        case DT_LNK:
          kind = FileKind::kSymlink;
          break;
        case DT_UNKNOWN: {
          struct stat st;
          kind = ::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? KindOf(st.st_mode)
                                                                         : FileKind::kOther;
          break;
        }
        default:
          kind = FileKind::kOther;
      }
      out.push_back(DirEntry{e->d_name, kind});
      errno = 0;
    }
    int e = errno;
    ::closedir(d);
    if (e != 0) return ErrorAt(root, path, e, ": list");
    return out;
  }
  // readdir, then fstatat on the open directory for each entry: one path resolution in all.
  Result<std::vector<StatEntry>> ListDirStat(const std::string& path) override {
    ASSIGN_OR_RETURN(int root, RootFd());
    ASSIGN_OR_RETURN(DIR * d, OpenDirBeneath(root, path));
    const int fd = ::dirfd(d);
    std::vector<StatEntry> out;
    errno = 0;
    int err = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.' &&
          (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) {
        errno = 0;
        continue;
      }
      struct stat st;
      if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) {  // ENOENT: removed since readdir saw it
          err = errno;
          break;
        }
      } else {
        out.push_back(StatEntry{e->d_name, InfoOf(st)});
      }
      errno = 0;
    }
    if (err == 0) err = errno;
    ::closedir(d);
    if (err != 0) return ErrorAt(root, path, err, ": list");
    return out;
  }
  Result<FileInfo> Stat(const std::string& path) override {
    struct stat st;
    if (path.empty()) {
      auto root = RootFd();
      // The root as the user named it (a file there is described, not refused).
      int rc = root.ok() ? ::fstat(*root, &st) : ::stat(root_.c_str(), &st);
      if (rc != 0) return PosixError(root_, errno);
    } else {
      RETURN_IF_ERROR(ValidateRelPath(path));
      ASSIGN_OR_RETURN(int root, RootFd());
      // A path below a directory: usually absent (a new key) or a plain entry. One O_PATH open of
      // the whole path says "absent" in one system call where the parent's open, the fstatat
      // and the close take three. Anything else it meets (a symlink on the way or at the end,
      // ENOTDIR) is looked at again the exact way below, which says what it found.
      if (const int fd = StatOpenFast(root, path); fd >= 0 || fd == -ENOENT) {
        if (fd == -ENOENT) return ErrorAt(root, path, ENOENT, "");
        const int rc = ::fstat(fd, &st);
        const int e = errno;
        ::close(fd);
        if (rc != 0) return ErrorAt(root, path, e, "");
        return InfoOf(st);
      }
      PathBuf buf;
      const char* last = nullptr;
      int err = 0;
      DirFd parent = Parent(root, path, &buf, &last, &err);
      if (parent.get() < 0) return ErrorAt(root, path, err, "");
      if (::fstatat(parent.get(), last, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrorAt(root, path, errno, "");
      }
    }
    return InfoOf(st);
  }
  Status SyncFile(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    const int fd = OpenFile(root, path, O_RDONLY);
    if (fd < 0) return OpenError(root, path, -fd);
    Status s;
    if (::fdatasync(fd) != 0) s = PosixError(Full(path) + ": fdatasync", errno);
    ::close(fd);
    return s;
  }
  Status SyncDir(const std::string& path) override {
    if (!path.empty()) RETURN_IF_ERROR(ValidateRelPath(path));
    ASSIGN_OR_RETURN(int root, RootFd());
    if (path.empty()) {
      if (::fsync(root) != 0) return PosixError(root_ + ": fsync", errno);
      return Status::Ok();
    }
    if (const int pinned = PinnedDir(path); pinned >= 0) {
      // A temp directory: every commit flushes it, through the fd it was pinned with.
      if (::fsync(pinned) != 0) return PosixError(Full(path) + ": fsync", errno);
      return Status::Ok();
    }
    int fd = OpenBeneath(root, path.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return ErrorAt(root, path, -fd, "");
    Status s;
    if (::fsync(fd) != 0) s = PosixError(Full(path) + ": fsync", errno);
    ::close(fd);
    return s;
  }
  Status SyncAll() override {
    ASSIGN_OR_RETURN(int root, RootFd());
    return GroupSyncFs(root).WithContext(root_);
  }
  void PinDir(const std::string& path) override {
    if (!ValidateRelPath(path).ok()) return;
    auto root = RootFd();
    if (!root.ok()) return;
    std::lock_guard<std::mutex> l(pin_mu_);
    const size_t n = pin_count_.load(std::memory_order_relaxed);
    if (n == kMaxPins) return;
    for (size_t i = 0; i < n; ++i) {
      if (pins_[i].path == path) return;
    }
    // Opened like any lookup: a symlink there is refused, and once pinned, replacing the
    // directory by a symlink changes nothing for this volume.
    // Readable, not O_PATH: SyncDir flushes it through this fd (no lookup per flush).
    int fd = OpenBeneath(*root, path.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    pins_[n].path = path;
    pins_[n].fd = fd;
    pin_count_.store(n + 1, std::memory_order_release);
  }
  void HoldDir(const std::string& path) override {
    if (held_.volume != nullptr) ::close(held_.fd);  // this thread's hold, of any volume: replaced
    held_.volume = nullptr;
    if (!ValidateRelPath(path).ok()) return;
    auto root = RootFd();
    if (!root.ok()) return;
    const int fd = OpenBeneath(*root, path.c_str(), O_PATH | O_DIRECTORY);
    if (fd < 0) return;
    held_.volume = this;
    held_.path = path;
    held_.fd = fd;
  }
  void ReleaseDir() override {
    if (held_.volume != this) return;
    ::close(held_.fd);
    held_.volume = nullptr;
    held_.fd = -1;
  }
  std::string SyncDomain() const override {
    struct stat st;
    auto root = RootFd();
    if (!root.ok() || ::fstat(*root, &st) != 0) return root_;
    return "dev:" + std::to_string(st.st_dev);
  }

 private:
  // A relative path copied so that it can be cut into parent and last component in place.
  struct PathBuf {
    char data[kMaxRelPathLen + 1];
  };

  // The root directory's fd, opened when the volume was made or, if the root did not exist then,
  // on first use.
  Result<int> RootFd() const {
    int fd = root_fd_.load(std::memory_order_acquire);
    if (fd >= 0) return fd;
    int nfd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (nfd < 0) return PosixError(root_, errno);
    int expected = -1;
    if (!root_fd_.compare_exchange_strong(expected, nfd, std::memory_order_acq_rel)) {
      ::close(nfd);
      return expected;
    }
    return nfd;
  }

  // One component `name` (no '/') opened relative to dirfd without following it: -ELOOP when
  // it is a symlink (O_NOFOLLOW with O_PATH or O_DIRECTORY reports ENOTDIR for one), fd or -errno.
  int OpenStep(int dirfd, const char* name, int flags, mode_t mode = 0) const {
    if (mode_ == LocalPathMode::kFollowLinks) {
      int fd = ::openat(dirfd, name, flags | O_CLOEXEC, mode);
      return fd >= 0 ? fd : -errno;
    }
    int fd = ::openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) return fd;
    int e = errno;
    if (e == ENOTDIR && IsSymlinkAt(dirfd, name)) e = ELOOP;
    return -e;
  }

  // Opens the relative path beneath the root (fd `root`) with flags, never through a symlink
  // (unless kFollowLinks). Returns the fd, or -errno: -ELOOP when a symlink is in the way.
  int OpenBeneath(int root, const char* path, int flags, mode_t mode = 0) const {
    if (mode_ == LocalPathMode::kFollowLinks) {
      int fd = ::openat(root, path, flags | O_CLOEXEC, mode);
      return fd >= 0 ? fd : -errno;
    }
    if (mode_ == LocalPathMode::kStrict && g_have_openat2.load(std::memory_order_relaxed)) {
      struct open_how how;
      std::memset(&how, 0, sizeof(how));
      how.flags = uint64_t(flags | O_CLOEXEC);
      how.mode = (flags & O_CREAT) != 0 ? mode : 0;
      how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
      for (int tries = 0;; ++tries) {
        long fd = ::syscall(SYS_openat2, root, path, &how, sizeof(how));
        if (fd >= 0) return int(fd);
        int e = errno;
        // EAGAIN: a concurrent rename raced the lookup (the kernel could not vouch for it).
        if (e == EINTR || (e == EAGAIN && tries < 16)) continue;
        if (e != ENOSYS) return -e;
        g_have_openat2.store(false, std::memory_order_relaxed);
        break;
      }
    }
    // Without openat2: one O_NOFOLLOW step per component.
    PathBuf buf;
    size_t len = std::strlen(path);
    std::memcpy(buf.data, path, len + 1);
    int cur = root;
    bool owned = false;
    char* comp = buf.data;
    int result;
    while (true) {
      char* slash = std::strchr(comp, '/');
      if (slash == nullptr) {
        result = OpenStep(cur, comp, flags, mode);
        break;
      }
      *slash = '\0';
      int next = OpenStep(cur, comp, O_PATH | O_DIRECTORY);
      if (next < 0) {
        result = next;
        break;
      }
      if (owned) ::close(cur);
      cur = next;
      owned = true;
      comp = slash + 1;
    }
    if (owned) ::close(cur);
    return result;
  }

  // Stat's fast path: an O_PATH fd of path opened whole beneath the root with openat2, never
  // through or onto a symlink; -ENOENT when absent. -EINVAL when it does not apply (no
  // openat2, a mode other than kStrict, a name at the top or in a pinned directory, which the
  // caller reaches in one step anyway); any other -errno for the caller to look at again.
  int StatOpenFast(int root, const std::string& path) const {
    if (mode_ != LocalPathMode::kStrict || !g_have_openat2.load(std::memory_order_relaxed)) {
      return -EINVAL;
    }
    const char* last = nullptr;
    if (path.find('/') == std::string::npos || PinnedParent(path, &last) >= 0) return -EINVAL;
    return OpenBeneath(root, path.c_str(), O_PATH | O_NOFOLLOW);
  }

  // Opens path with flags: one step from its directory when that one is pinned (a temp
  // directory: no lookup of the rest), else beneath the root (OpenBeneath). fd or -errno.
  int OpenFile(int root, const std::string& path, int flags, mode_t mode = 0) const {
    const char* last = nullptr;
    const int pinned = PinnedParent(path, &last);
    return pinned >= 0 ? OpenStep(pinned, last, flags, mode)
                       : OpenBeneath(root, path.c_str(), flags, mode);
  }

  // The fd of the directory path when it is pinned, else -1.
  int PinnedDir(std::string_view path) const {
    const size_t pins = pin_count_.load(std::memory_order_acquire);
    for (size_t i = 0; i < pins; ++i) {
      if (pins_[i].path == path) return pins_[i].fd;
    }
    return -1;
  }

  // The fd of the pinned directory holding path's last component (*last then points into path
  // at that component), or -1 when that directory is not pinned.
  int PinnedParent(const std::string& path, const char** last) const {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return -1;
    const int fd = PinnedDir(std::string_view(path).substr(0, slash));
    if (fd >= 0) *last = path.c_str() + slash + 1;
    return fd;
  }

  // The directory holding path's last component, opened beneath the root (the root itself for a
  // name at the top); *last points into *buf at that component. On failure the fd is -1 and *err
  // says why.
  DirFd Parent(int root, const std::string& path, PathBuf* buf, const char** last, int* err) const {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) {
      *last = path.c_str();
      return DirFd(root, false);
    }
    if (int pinned = PinnedParent(path, last); pinned >= 0) return DirFd(pinned, false);
    if (held_.volume == this && std::string_view(path).substr(0, slash) == held_.path) {
      *last = path.c_str() + slash + 1;
      return DirFd(held_.fd, false);
    }
    std::memcpy(buf->data, path.data(), path.size());
    buf->data[path.size()] = '\0';
    buf->data[slash] = '\0';
    *last = buf->data + slash + 1;
    int fd = OpenBeneath(root, buf->data, O_PATH | O_DIRECTORY);
    if (fd < 0) {
      *err = -fd;
      return DirFd(-1, false);
    }
    return DirFd(fd, true);
  }

  // after (unless null): the stat data of `to` once renamed, through the directory the rename
  // used (opened beneath the root, or pinned): one fstatat of one name, never following a
  // symlink; left unset when it fails.
  Status RenameImpl(const std::string& from, const std::string& to, unsigned flags, const char* op,
                    const char* arrow, std::optional<FileInfo>* after = nullptr) {
    RETURN_IF_ERROR(ValidateRelPath(from));
    RETURN_IF_ERROR(ValidateRelPath(to));
    ASSIGN_OR_RETURN(int root, RootFd());
    auto fail = [&](const std::string& path, int e) {
      if (e == ELOOP && mode_ != LocalPathMode::kFollowLinks) return SymlinkError(root, path);
      return PosixError(root_ + ": " + op + " " + from + arrow + to, e);
    };
    PathBuf fbuf, tbuf;
    const char *flast = nullptr, *tlast = nullptr;
    int err = 0;
    DirFd fdir = Parent(root, from, &fbuf, &flast, &err);
    if (fdir.get() < 0) return fail(from, err);
    // Both in one directory: one open serves both.
    const size_t fslash = from.rfind('/'), tslash = to.rfind('/');
    const std::string_view fparent(from.data(), fslash == std::string::npos ? 0 : fslash);
    const std::string_view tparent(to.data(), tslash == std::string::npos ? 0 : tslash);
    const bool same_dir = fslash == tslash && fparent == tparent;
    DirFd tdir = same_dir ? DirFd(fdir.get(), false) : Parent(root, to, &tbuf, &tlast, &err);
    if (same_dir) tlast = to.c_str() + (tslash == std::string::npos ? 0 : tslash + 1);
    if (tdir.get() < 0) return fail(to, err);
    if (::renameat2(fdir.get(), flast, tdir.get(), tlast, flags) != 0) return fail(from, errno);
    if (after != nullptr) {
      struct stat st;
      if (::fstatat(tdir.get(), tlast, &st, AT_SYMLINK_NOFOLLOW) == 0) *after = InfoOf(st);
    }
    return Status::Ok();
  }

  // The error for an open (or a path lookup) of path that failed with err.
  Status OpenError(int root, const std::string& path, int err) const {
    if (err == ENXIO) return NotRegular(path);  // a FIFO without a reader, a socket
    return ErrorAt(root, path, err, "");
  }

  // "<root>/<path><what>: <strerror>", or for ELOOP the symlink that was in the way.
  Status ErrorAt(int root, const std::string& path, int err, const char* what) const {
    if (err == ELOOP && mode_ != LocalPathMode::kFollowLinks) return SymlinkError(root, path);
    return PosixError(Full(path) + what, err);
  }

  // Names the first symlink on path (found again by looking, since the kernel does not say which
  // component it was); kCorruption either way.
  Status SymlinkError(int root, const std::string& path) const {
    PathBuf buf;
    std::memcpy(buf.data, path.data(), path.size());
    buf.data[path.size()] = '\0';
    int cur = root;
    bool owned = false;
    char* comp = buf.data;
    std::string found;
    while (true) {
      char* slash = std::strchr(comp, '/');
      if (slash != nullptr) *slash = '\0';
      struct stat st;
      if (::fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) break;
      if (S_ISLNK(st.st_mode)) {
        found = buf.data;
        break;
      }
      if (slash == nullptr || !S_ISDIR(st.st_mode)) break;
      int next = ::openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0) break;
      if (owned) ::close(cur);
      cur = next;
      owned = true;
      *slash = '/';
      comp = slash + 1;
    }
    if (owned) ::close(cur);
    if (found.empty()) {
      return Corruption(Full(path) + ": a component " + kNotFollowed);
    }
    return Corruption(Full(found) + ": " + kNotFollowed);
  }

  Status NotRegular(const std::string& path) const {
    return Corruption(Full(path) + ": not a regular file (a FIFO, socket or device); not opened");
  }

  std::string Full(std::string_view rel) const {
    std::string s;
    s.reserve(root_.size() + 1 + rel.size());
    s += root_;
    if (rel.empty()) return s;
    if (root_ != "/") s += '/';
    s += rel;
    return s;
  }

  std::string root_;
  const LocalPathMode mode_;
  mutable std::atomic<int> root_fd_{-1};
  // Directories pinned with PinDir: entries [0, pin_count_) are written once, before the count
  // that publishes them, and never change until the volume is destroyed.
  static constexpr size_t kMaxPins = 4;
  struct Pin {
    std::string path;
    int fd = -1;
  };
  std::mutex pin_mu_;  // serializes PinDir
  Pin pins_[kMaxPins];
  std::atomic<size_t> pin_count_{0};
  // This thread's HoldDir: of one volume at a time.
  struct Held {
    const LocalVolume* volume = nullptr;
    std::string path;
    int fd = -1;
  };
  static thread_local Held held_;
};

thread_local LocalVolume::Held LocalVolume::held_;

}  // namespace

std::unique_ptr<Volume> NewLocalVolume(const std::string& root) {
  return std::make_unique<LocalVolume>(root, LocalPathMode::kStrict);
}

std::unique_ptr<Volume> NewLocalVolume(const std::string& root, LocalPathMode mode) {
  return std::make_unique<LocalVolume>(root, mode);
}

}  // namespace cairn
