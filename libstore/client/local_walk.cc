#include "libstore/client/local_walk.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

namespace cairn::s3 {
namespace {

int64_t MtimeNs(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

const char* KindOf(mode_t m) {
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

// "PATH: skipped[ WHAT]: strerror", with the code PosixError gives errno.
Status Skipped(const std::string& path, int err, const char* what) {
  const Status e = PosixError(path, err);
  return Status(e.code(), path + ": skipped" + what + ": " + std::strerror(err));
}

}  // namespace

Result<std::unique_ptr<LocalWalker>> LocalWalker::Open(const std::string& root,
                                                       LocalWalkOptions opts) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return PosixError(root, errno);
  if (!S_ISDIR(st.st_mode)) return InvalidArgument(root + ": not a directory");
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return PosixError(root, errno);
  ::closedir(d);
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  std::unique_ptr<LocalWalker> w(new LocalWalker(std::move(r), std::move(opts)));
  w->Push("", st.st_dev, st.st_ino);
  return w;
}

void LocalWalker::Problem(const Status& s) const {
  if (opts_.on_problem) opts_.on_problem(s);
}

void LocalWalker::Push(const std::string& prefix, dev_t dev, ino_t ino) {
  Frame f;
  f.prefix = prefix;
  f.dev = dev;
  f.ino = ino;
  const std::string dir = prefix.empty() ? root_ : root_ + "/" + prefix.substr(0, prefix.size() - 1);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    Problem(Skipped(dir, errno, " directory"));
    return;
  }
  const std::string base = dir == "/" ? "/" : dir + "/";
  std::string path;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    path.assign(base).append(name);
    struct stat st;
    // Decide by what the name leads to: a symlink to a file is that file.
    if (::stat(path.c_str(), &st) != 0) {
      const int err = errno;
      struct stat lst;
      if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
        Problem(Status(Code::kNotFound, path + ": skipped: a dangling symlink"));
      } else if (err != ENOENT) {  // ENOENT: removed since readdir, nothing to report
        Problem(Skipped(path, err, ""));
      }
      errno = 0;
      continue;
    }
    Item it;
    it.name = std::string(name);
    if (S_ISDIR(st.st_mode)) {
      if (!opts_.follow_dir_symlinks) {
        struct stat lst;
        if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
          errno = 0;
          continue;
        }
      }
      bool loop = false;
      for (const Frame& up : stack_) loop = loop || (up.dev == st.st_dev && up.ino == st.st_ino);
      if (loop || (dev == st.st_dev && ino == st.st_ino)) {
        Problem(Status(Code::kInvalidArgument,
                       path + ": skipped: a symlink loop (a directory that contains itself)"));
        errno = 0;
        continue;
      }
      it.dir = true;
      it.sort_key = it.name + "/";
      // size and mtime unused for directories; dev/ino are checked again when entered
    } else if (S_ISREG(st.st_mode)) {
      it.sort_key = it.name;
      it.size = uint64_t(st.st_size);
      it.mtime_ns = MtimeNs(st);
    } else {
      Problem(Status(Code::kInvalidArgument,
                     path + ": skipped: " + KindOf(st.st_mode) + ", not a regular file"));
      errno = 0;
      continue;
    }
    f.items.push_back(std::move(it));
    errno = 0;
  }
  if (errno != 0) Problem(Skipped(dir, errno, " the rest of the directory"));
  ::closedir(d);
  // Byte order of the keys: std::string compares as unsigned bytes (char_traits<char>).
  std::sort(f.items.begin(), f.items.end(),
            [](const Item& a, const Item& b) { return a.sort_key < b.sort_key; });
  stack_.push_back(std::move(f));
}

Result<bool> LocalWalker::Next(LocalFile* out) {
  while (!stack_.empty()) {
    Frame& f = stack_.back();
    if (f.next == f.items.size()) {
      stack_.pop_back();
      continue;
    }
    Item& it = f.items[f.next++];
    if (it.dir) {
      const std::string prefix = f.prefix + it.name + "/";
      const std::string path = root_ + "/" + f.prefix + it.name;
      // Items are released as they go, so a frame holds at most its own listing.
      it.name.clear();
      it.name.shrink_to_fit();
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) {  // ENOENT: removed since it was listed
        if (errno != ENOENT) Problem(Skipped(path, errno, " directory"));
        continue;
      }
      if (!S_ISDIR(st.st_mode)) continue;  // replaced since it was listed
      bool loop = false;
      for (const Frame& up : stack_) loop = loop || (up.dev == st.st_dev && up.ino == st.st_ino);
      if (loop) {
        Problem(Status(Code::kInvalidArgument,
                       path + ": skipped: a symlink loop (a directory that contains itself)"));
        continue;
      }
      Push(prefix, st.st_dev, st.st_ino);
      continue;
    }
    out->key = f.prefix + it.name;
    out->path = root_ + "/" + out->key;
    out->size = it.size;
    out->mtime_ns = it.mtime_ns;
    return true;
  }
  return false;
}

}  // namespace cairn::s3
