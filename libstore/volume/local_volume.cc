// LocalVolume: a directory on a local file system.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>  // renameat2

#include <algorithm>

#include "libstore/common/group_sync.h"
#include "libstore/volume/volume.h"

namespace cairn {
namespace {

class LocalWritableFile : public WritableFile {
 public:
  LocalWritableFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~LocalWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status AppendV(const ConstBuf* bufs, int n) override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    // writev takes at most IOV_MAX buffers and may write short: loop until all is written.
    iovec iov[64];
    int i = 0;
    size_t skip = 0;  // bytes of bufs[i] already written
    while (i < n) {
      int cnt = 0;
      for (int j = i; j < n && cnt < 64; ++j, ++cnt) {
        size_t off = (j == i) ? skip : 0;
        iov[cnt].iov_base = const_cast<char*>(static_cast<const char*>(bufs[j].data) + off);
        iov[cnt].iov_len = bufs[j].size - off;
      }
      ssize_t w = ::writev(fd_, iov, cnt);
      if (w < 0) {
        if (errno == EINTR) continue;
        return PosixError(name_ + ": write", errno);
      }
      appended_ += uint64_t(w);
      size_t left = size_t(w);
      while (i < n && left >= bufs[i].size - skip) {
        left -= bufs[i].size - skip;
        skip = 0;
        ++i;
      }
      skip += left;
    }
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    if (fd_ < 0) return IOError(name_ + ": file is closed");
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(fd_, static_cast<const char*>(data) + done, n - done, off_t(offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return PosixError(name_ + ": write", errno);
      done += size_t(w);
    }
    return Status::Ok();
  }
  void StartWriteback() override {
    if (fd_ < 0 || appended_ <= started_) return;
    // Asynchronous: queues the dirty range for writeback and returns.
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
  uint64_t appended_ = 0;  // bytes appended through this object
  uint64_t started_ = 0;   // bytes handed to StartWriteback
};

class LocalReadableFile : public ReadableFile {
 public:
  LocalReadableFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
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

 private:
  int fd_;
  std::string name_;
};

class LocalVolume : public Volume {
 public:
  explicit LocalVolume(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }
  std::string Describe() const override { return root_; }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    std::string full = Full(path);
    int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return PosixError(full, errno);
    return std::unique_ptr<WritableFile>(new LocalWritableFile(fd, std::move(full)));
  }
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    std::string full = Full(path);
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return PosixError(full, errno);
    struct stat st;
    int e = ::fstat(fd, &st) != 0 ? errno : (S_ISDIR(st.st_mode) ? EISDIR : 0);
    if (e != 0) {
      ::close(fd);
      return PosixError(full, e);
    }
    return std::unique_ptr<ReadableFile>(new LocalReadableFile(fd, std::move(full)));
  }
  // Fewer syscalls than the generic version: open, fstat, read, close.
  Result<std::string> ReadFile(const std::string& path, size_t max_size) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    std::string full = Full(path);
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return PosixError(full, errno);
    // Most files read whole are small (metadata of small objects, format files, journal
    // entries): one read into a stack buffer saves the fstat. A read of a regular file returns
    // fewer bytes than asked only at its end; a directory fails with EISDIR.
    char head[16384];
    ssize_t got;
    do {
      got = ::pread(fd, head, sizeof(head), 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      int e = errno;
      ::close(fd);
      return PosixError(full, e);
    }
    if (size_t(got) < sizeof(head)) {
      ::close(fd);
      if (size_t(got) > max_size) {
        return Corruption(full + ": file larger than " + std::to_string(max_size));
      }
      return std::string(head, size_t(got));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return PosixError(full, e);
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return PosixError(full, EISDIR);
    }
    if (uint64_t(st.st_size) > max_size) {
      ::close(fd);
      return Corruption(full + ": file larger than " + std::to_string(max_size));
    }
    std::string out(size_t(st.st_size), '\0');
    size_t done = 0;
    while (done < out.size()) {
      ssize_t r = ::pread(fd, out.data() + done, out.size() - done, off_t(done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        int e = errno;
        ::close(fd);
        return PosixError(full + ": read", e);
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
    std::string full = Full(path);
    int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return PosixError(full, errno);
    size_t done = 0;
    Status s;
    while (done < data.size()) {
      ssize_t w = ::pwrite(fd, data.data() + done, data.size() - done, off_t(done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        s = PosixError(full + ": write", errno);
        break;
      }
      done += size_t(w);
    }
    if (s.ok() && ::ftruncate(fd, off_t(data.size())) != 0) s = PosixError(full + ": truncate", errno);
    if (::close(fd) != 0 && s.ok()) s = PosixError(full + ": close", errno);
    return s;
  }
  Status Rename(const std::string& from, const std::string& to) override {
    RETURN_IF_ERROR(ValidateRelPath(from));
    RETURN_IF_ERROR(ValidateRelPath(to));
    if (::rename(Full(from).c_str(), Full(to).c_str()) != 0) {
      return PosixError(root_ + ": rename " + from + " -> " + to, errno);
    }
    return Status::Ok();
  }
  Status Exchange(const std::string& a, const std::string& b) override {
    RETURN_IF_ERROR(ValidateRelPath(a));
    RETURN_IF_ERROR(ValidateRelPath(b));
    if (::renameat2(AT_FDCWD, Full(a).c_str(), AT_FDCWD, Full(b).c_str(), RENAME_EXCHANGE) != 0) {
      return PosixError(root_ + ": exchange " + a + " <-> " + b, errno);
    }
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    std::string full = Full(path);
    if (::unlink(full.c_str()) != 0) return PosixError(full + ": remove", errno);
    return Status::Ok();
  }
  Status RemoveDir(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    std::string full = Full(path);
    if (::rmdir(full.c_str()) != 0) {
      int e = errno == EEXIST ? ENOTEMPTY : errno;
      return PosixError(full + ": rmdir", e);
    }
    return Status::Ok();
  }
  Status MakeDirs(const std::string& path) override {
    RETURN_IF_ERROR(ValidateRelPath(path));
    std::string full = Full(path);
    if (::mkdir(full.c_str(), 0755) == 0) return Status::Ok();
    if (errno == EEXIST) return IsDir(full);
    if (errno != ENOENT) return PosixError(full + ": mkdir", errno);
    // Create parents one by one, from the root down.
    for (size_t pos = path.find('/'); ; pos = path.find('/', pos + 1)) {
      std::string sub = Full(path.substr(0, pos));
      if (::mkdir(sub.c_str(), 0755) != 0 && errno != EEXIST) return PosixError(sub + ": mkdir", errno);
      if (pos == std::string::npos) break;
    }
    return IsDir(full);
  }
  Result<std::vector<DirEntry>> ListDir(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string full, FullOrRoot(path));
    DIR* d = ::opendir(full.c_str());
    if (d == nullptr) return PosixError(full + ": list", errno);
    std::vector<DirEntry> out;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) {
        continue;
      }
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      out.push_back(DirEntry{e->d_name, is_dir});
    }
    int e = errno;
    ::closedir(d);
    if (e != 0) return PosixError(full + ": list", e);
    return out;
  }
  Result<FileInfo> Stat(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string full, FullOrRoot(path));
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) return PosixError(full, errno);
    FileInfo fi;
    fi.size = uint64_t(st.st_size);
    fi.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    fi.is_dir = S_ISDIR(st.st_mode);
    return fi;
  }
  Status SyncDir(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string full, FullOrRoot(path));
    int fd = ::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(full, errno);
    Status s;
    if (::fsync(fd) != 0) s = PosixError(full + ": fsync", errno);
    ::close(fd);
    return s;
  }
  Status SyncAll() override {
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(root_, errno);
    Status s = GroupSyncFs(fd).WithContext(root_);
    ::close(fd);
    return s;
  }
  std::string SyncDomain() const override {
    struct stat st;
    if (::stat(root_.c_str(), &st) != 0) return root_;
    return "dev:" + std::to_string(st.st_dev);
  }

 private:
  // "" is the root itself (ListDir, Stat, SyncDir accept it); anything else must be valid.
  Result<std::string> FullOrRoot(const std::string& path) const {
    if (path.empty()) return root_;
    RETURN_IF_ERROR(ValidateRelPath(path));
    return Full(path);
  }
  std::string Full(std::string_view rel) const {
    std::string s;
    s.reserve(root_.size() + 1 + rel.size());
    s += root_;
    s += '/';
    s += rel;
    return s;
  }
  static Status IsDir(const std::string& full) {
    struct stat st;
    if (::stat(full.c_str(), &st) != 0) return PosixError(full, errno);
    if (!S_ISDIR(st.st_mode)) return PosixError(full, ENOTDIR);
    return Status::Ok();
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<Volume> NewLocalVolume(const std::string& root) {
  return std::make_unique<LocalVolume>(root);
}

}  // namespace cairn
