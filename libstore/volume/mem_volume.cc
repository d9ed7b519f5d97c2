// MemVolume: an in-memory directory tree that behaves like LocalVolume on a POSIX file system, so
// tests of the layers above can run on memory and get the same errors (same errno -> same Code).
//
// The tree is a map from full relative path to inode. Directories are explicit entries; the root
// is the entry "" (ListDir, Stat and SyncDir accept "" for the root, as LocalVolume does). An inode
// is shared by the map and by open file objects, so (as with a real file) an open writer keeps
// writing to the same inode after a rename or remove, an open reader sees appends as they happen,
// and NewWritableFile on an existing file truncates that same inode (O_TRUNC). Everything,
// including file contents, is guarded by one mutex per volume.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "libstore/volume/volume.h"

namespace cairn {
namespace {

struct Inode {
  bool is_dir = false;
  std::string data;  // files only
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;  // set with mtime_ns, and on rename (as Linux does)
  uint64_t ino = 0;      // unique within the volume, never reused
};

// Shared by the volume and every file it hands out, so files may outlive the volume object.
struct MemState {
  explicit MemState(std::string n) : desc("mem:" + std::move(n)) {
    auto root = NewInode(true);
    nodes.emplace("", std::move(root));
  }

  const std::string desc;  // "mem:NAME"
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Inode>> nodes;  // guarded by mu
  int64_t clock_ns = 1'700'000'000'000'000'000;         // guarded by mu; fake, monotonic

  std::string Where(const std::string& path) const {
    return path.empty() ? desc : desc + "/" + path;
  }
  int64_t Tick() { return clock_ns += 1000; }
  uint64_t next_ino = 1;  // guarded by mu
  // A fresh inode with its times set now. Requires mu (or construction).
  std::shared_ptr<Inode> NewInode(bool is_dir) {
    auto ino = std::make_shared<Inode>();
    ino->is_dir = is_dir;
    ino->ino = next_ino++;
    Touch(*ino);
    return ino;
  }
  // Data changed: mtime and ctime move. Requires mu.
  void Touch(Inode& ino) { ino.mtime_ns = ino.ctime_ns = Tick(); }
  // The stat data of an inode. Requires mu.
  FileInfo Info(const Inode& ino) const {
    FileInfo fi;
    fi.size = ino.is_dir ? 0 : ino.data.size();
    fi.mtime_ns = ino.mtime_ns;
    fi.ctime_ns = ino.ctime_ns;
    fi.kind = ino.is_dir ? FileKind::kDir : FileKind::kFile;
    fi.dev = 1;
    fi.ino = ino.ino;
    return fi;
  }
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(std::shared_ptr<MemState> s, std::shared_ptr<Inode> ino, std::string path)
      : s_(std::move(s)), ino_(std::move(ino)), path_(std::move(path)) {}

  Status AppendV(const ConstBuf* bufs, int n) override {
    if (closed_) return Closed();
    std::lock_guard<std::mutex> l(s_->mu);
    for (int i = 0; i < n; ++i) {
      ino_->data.append(static_cast<const char*>(bufs[i].data), bufs[i].size);
    }
    s_->Touch(*ino_);
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    if (closed_) return Closed();
    std::lock_guard<std::mutex> l(s_->mu);
    if (offset + n > ino_->data.size()) ino_->data.resize(offset + n, '\0');
    std::memcpy(&ino_->data[offset], data, n);
    s_->Touch(*ino_);
    return Status::Ok();
  }
  Status Sync() override { return closed_ ? Closed() : Status::Ok(); }
  Status Close() override {
    if (closed_) return Closed();
    closed_ = true;
    return Status::Ok();
  }

 private:
  Status Closed() const { return IOError(s_->Where(path_) + ": file is closed"); }

  std::shared_ptr<MemState> s_;
  std::shared_ptr<Inode> ino_;
  const std::string path_;
  bool closed_ = false;
};

class MemReadableFile final : public ReadableFile {
 public:
  MemReadableFile(std::shared_ptr<MemState> s, std::shared_ptr<Inode> ino)
      : s_(std::move(s)), ino_(std::move(ino)) {}

  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    std::lock_guard<std::mutex> l(s_->mu);
    const std::string& d = ino_->data;
    if (offset >= d.size()) return size_t{0};
    size_t k = std::min<uint64_t>(n, d.size() - offset);
    std::memcpy(buf, d.data() + offset, k);
    return k;
  }
  Result<uint64_t> Size() override {
    std::lock_guard<std::mutex> l(s_->mu);
    return uint64_t{ino_->data.size()};
  }
  Result<FileInfo> StatOpen() override {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->Info(*ino_);
  }

 private:
  std::shared_ptr<MemState> s_;
  std::shared_ptr<Inode> ino_;
};

class MemVolume final : public Volume {
 public:
  explicit MemVolume(const std::string& name) : s_(std::make_shared<MemState>(name)) {}

  std::string Describe() const override { return s_->desc; }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    RETURN_IF_ERROR(Validate(path));
    std::lock_guard<std::mutex> l(s_->mu);
    if (int err = CheckParents(path)) return PosixError(s_->Where(path), err);
    auto& slot = s_->nodes[path];
    if (slot == nullptr) {
      slot = s_->NewInode(false);
      TouchParent(path);
    } else if (slot->is_dir) {
      return PosixError(s_->Where(path), EISDIR);
    }
    slot->data.clear();  // O_TRUNC: the same inode, seen by anyone who has it open
    s_->Touch(*slot);
    return std::unique_ptr<WritableFile>(new MemWritableFile(s_, slot, path));
  }

  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    RETURN_IF_ERROR(Validate(path));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ino = Lookup(path, &err);
    if (ino == nullptr) return PosixError(s_->Where(path), err);
    if (ino->is_dir) return PosixError(s_->Where(path), EISDIR);
    return std::unique_ptr<ReadableFile>(new MemReadableFile(s_, std::move(ino)));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    return RenameImpl(from, to, /*no_replace=*/false);
  }
  Status RenameNoReplace(const std::string& from, const std::string& to) override {
    return RenameImpl(from, to, /*no_replace=*/true);
  }
  // Rename, or with no_replace RenameNoReplace (EEXIST when `to` exists).
  Status RenameImpl(const std::string& from, const std::string& to, bool no_replace) {
    RETURN_IF_ERROR(Validate(from));
    RETURN_IF_ERROR(Validate(to));
    std::lock_guard<std::mutex> l(s_->mu);
    const std::string where = s_->Where(from) + " -> " + to;
    int err = 0;
    auto src = Lookup(from, &err);
    if (src == nullptr) return PosixError(where, err);
    if ((err = CheckParents(to)) != 0) return PosixError(where, err);
    if (from == to) return Status::Ok();  // rename(2): same link, nothing to do
    if (src->is_dir && IsUnder(to, from)) return PosixError(where, EINVAL);
    auto it = s_->nodes.find(to);
    if (it != s_->nodes.end()) {
      if (no_replace) return PosixError(where, EEXIST);
      const auto& dst = it->second;
      if (!src->is_dir && dst->is_dir) return PosixError(where, EISDIR);
      if (src->is_dir && !dst->is_dir) return PosixError(where, ENOTDIR);
      if (dst->is_dir && HasChildren(to)) return PosixError(where, ENOTEMPTY);
      s_->nodes.erase(it);
    }
    if (src->is_dir) {
      // Move the subtree: every key "from/..." becomes "to/...".
      const std::string prefix = from + "/";
      std::vector<std::pair<std::string, std::shared_ptr<Inode>>> moved;
      for (auto c = s_->nodes.lower_bound(prefix);
           c != s_->nodes.end() && c->first.compare(0, prefix.size(), prefix) == 0;) {
        moved.emplace_back(to + "/" + c->first.substr(prefix.size()), std::move(c->second));
        c = s_->nodes.erase(c);
      }
      for (auto& m : moved) s_->nodes.emplace(std::move(m.first), std::move(m.second));
    }
    s_->nodes.erase(from);
    src->ctime_ns = s_->Tick();
    s_->nodes[to] = std::move(src);
    TouchParent(from);
    TouchParent(to);
    return Status::Ok();
  }

  Status Exchange(const std::string& a, const std::string& b) override {
    RETURN_IF_ERROR(Validate(a));
    RETURN_IF_ERROR(Validate(b));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ia = Lookup(a, &err);
    if (ia == nullptr) return PosixError(s_->Where(a) + " <-> " + b, err);
    auto ib = Lookup(b, &err);
    if (ib == nullptr) return PosixError(s_->Where(a) + " <-> " + b, err);
    if (a == b) return Status::Ok();
    ia->ctime_ns = ib->ctime_ns = s_->Tick();
    s_->nodes[a] = std::move(ib);
    s_->nodes[b] = std::move(ia);
    TouchParent(a);
    TouchParent(b);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    RETURN_IF_ERROR(Validate(path));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ino = Lookup(path, &err);
    if (ino == nullptr) return PosixError(s_->Where(path), err);
    if (ino->is_dir) return PosixError(s_->Where(path), EISDIR);  // what Linux unlink(2) says
    s_->nodes.erase(path);
    TouchParent(path);
    return Status::Ok();
  }

  Status RemoveDir(const std::string& path) override {
    RETURN_IF_ERROR(Validate(path));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ino = Lookup(path, &err);
    if (ino == nullptr) return PosixError(s_->Where(path), err);
    if (!ino->is_dir) return PosixError(s_->Where(path), ENOTDIR);
    if (HasChildren(path)) return PosixError(s_->Where(path), ENOTEMPTY);
    s_->nodes.erase(path);
    TouchParent(path);
    return Status::Ok();
  }

  Status MakeDirs(const std::string& path) override {
    RETURN_IF_ERROR(Validate(path));
    std::lock_guard<std::mutex> l(s_->mu);
    // A file anywhere on the way is ENOTDIR (what LocalVolume reports).
    size_t pos = 0;
    while (true) {
      size_t slash = path.find('/', pos);
      bool last = slash == std::string::npos;
      std::string prefix = last ? path : path.substr(0, slash);
      auto& slot = s_->nodes[prefix];
      if (slot == nullptr) {
        slot = s_->NewInode(true);
        TouchParent(prefix);
      } else if (!slot->is_dir) {
        return PosixError(s_->Where(path), ENOTDIR);
      }
      if (last) return Status::Ok();
      pos = slash + 1;
    }
  }

  Result<std::vector<DirEntry>> ListDir(const std::string& path) override {
    RETURN_IF_ERROR(ValidateOrRoot(path));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ino = Lookup(path, &err);
    if (ino == nullptr) return PosixError(s_->Where(path), err);
    if (!ino->is_dir) return PosixError(s_->Where(path), ENOTDIR);
    const std::string prefix = path.empty() ? path : path + "/";
    std::vector<DirEntry> out;
    for (auto it = s_->nodes.lower_bound(prefix);
         it != s_->nodes.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      std::string rest = it->first.substr(prefix.size());
      if (rest.empty() || rest.find('/') != std::string::npos) continue;  // the root, a grandchild
      out.push_back(
          DirEntry{std::move(rest), it->second->is_dir ? FileKind::kDir : FileKind::kFile});
    }
    return out;
  }

  Result<FileInfo> Stat(const std::string& path) override {
    RETURN_IF_ERROR(ValidateOrRoot(path));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ino = Lookup(path, &err);
    if (ino == nullptr) return PosixError(s_->Where(path), err);
    return s_->Info(*ino);
  }

  Result<std::vector<StatEntry>> ListDirStat(const std::string& path) override {
    RETURN_IF_ERROR(ValidateOrRoot(path));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ino = Lookup(path, &err);
    if (ino == nullptr) return PosixError(s_->Where(path), err);
    if (!ino->is_dir) return PosixError(s_->Where(path), ENOTDIR);
    const std::string prefix = path.empty() ? path : path + "/";
    std::vector<StatEntry> out;
    for (auto it = s_->nodes.lower_bound(prefix);
         it != s_->nodes.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      std::string_view rest = std::string_view(it->first).substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash != std::string_view::npos) {
        // A grandchild: jump past the child's whole subtree ('0' follows '/').
        it = s_->nodes.lower_bound(prefix + std::string(rest.substr(0, slash)) + "0");
        continue;
      }
      if (!rest.empty()) out.push_back(StatEntry{std::string(rest), s_->Info(*it->second)});
      ++it;
    }
    return out;
  }

  Status SyncFile(const std::string& path) override {
    RETURN_IF_ERROR(Validate(path));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ino = Lookup(path, &err);
    if (ino == nullptr) return PosixError(s_->Where(path), err);
    if (ino->is_dir) return PosixError(s_->Where(path), EISDIR);
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    RETURN_IF_ERROR(ValidateOrRoot(path));
    std::lock_guard<std::mutex> l(s_->mu);
    int err = 0;
    auto ino = Lookup(path, &err);
    if (ino == nullptr) return PosixError(s_->Where(path), err);
    if (!ino->is_dir) return PosixError(s_->Where(path), ENOTDIR);  // open(O_DIRECTORY)
    return Status::Ok();
  }

 private:
  Status Validate(const std::string& path) const {
    return ValidateRelPath(path).WithContext(s_->desc);
  }
  Status ValidateOrRoot(const std::string& path) const {
    return path.empty() ? Status::Ok() : Validate(path);
  }

  static bool IsUnder(const std::string& path, const std::string& dir) {
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           path[dir.size()] == '/';
  }

  // 0 if every ancestor of path exists and is a directory, else the errno a path walk gives.
  // Requires s_->mu.
  int CheckParents(const std::string& path) const {
    for (size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1)) {
      auto it = s_->nodes.find(path.substr(0, pos));
      if (it == s_->nodes.end()) return ENOENT;
      if (!it->second->is_dir) return ENOTDIR;
    }
    return 0;
  }

  // The inode at path, or nullptr with *err set. Requires s_->mu.
  std::shared_ptr<Inode> Lookup(const std::string& path, int* err) const {
    if ((*err = CheckParents(path)) != 0) return nullptr;
    auto it = s_->nodes.find(path);
    if (it == s_->nodes.end()) {
      *err = ENOENT;
      return nullptr;
    }
    return it->second;
  }

  // Requires s_->mu.
  bool HasChildren(const std::string& dir) const {
    const std::string prefix = dir + "/";
    auto it = s_->nodes.lower_bound(prefix);
    return it != s_->nodes.end() && it->first.compare(0, prefix.size(), prefix) == 0;
  }

  // A directory's mtime changes when an entry is added, removed or renamed. Requires s_->mu.
  void TouchParent(const std::string& path) {
    size_t slash = path.rfind('/');
    auto it = s_->nodes.find(slash == std::string::npos ? std::string() : path.substr(0, slash));
    if (it != s_->nodes.end()) s_->Touch(*it->second);
  }

  std::shared_ptr<MemState> s_;
};

}  // namespace

std::unique_ptr<Volume> NewMemVolume(const std::string& name) {
  return std::make_unique<MemVolume>(name);
}

}  // namespace cairn
