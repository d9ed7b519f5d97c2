#include "libstore/volume/crash_volume.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace cairn {

const char* CrashModeName(CrashMode m) {
  switch (m) {
    case CrashMode::kPowerLoss:
      return "power-loss";
    case CrashMode::kProcessKill:
      return "process-kill";
    case CrashMode::kPartial:
      return "partial";
  }
  return "?";
}

void PowerSwitch::ArmAt(uint64_t n) {
  std::lock_guard<std::mutex> l(mu_);
  calls_ = 0;
  tripped_ = false;
  trip_at_ = n;
}

void PowerSwitch::Reset() {
  std::lock_guard<std::mutex> l(mu_);
  calls_ = 0;
  tripped_ = false;
  trip_at_ = UINT64_MAX;
}

bool PowerSwitch::Enter() {
  std::lock_guard<std::mutex> l(mu_);
  const uint64_t n = calls_++;
  if (tripped_) return false;
  if (n >= trip_at_) {
    tripped_ = true;
    return false;
  }
  return true;
}

// A node of the in-memory tree. Named (not file-local) because CrashVolume::State, a class of the
// header, holds them: a field of an anonymous-namespace type there is a -Wsubobject-linkage error
// once this file is compiled inside a unity batch.
namespace crash_volume_internal {

struct Node {
  explicit Node(bool dir, int64_t t) : is_dir(dir), mtime_ns(t) {}
  const bool is_dir;
  int64_t mtime_ns;
  // Files.
  std::string data;     // what readers see
  std::string durable;  // what a power loss keeps
  // Directories.
  std::map<std::string, std::shared_ptr<Node>> live;             // what ListDir sees
  std::map<std::string, std::shared_ptr<Node>> durable_entries;  // as of the last SyncDir
};

}  // namespace crash_volume_internal

namespace {

using crash_volume_internal::Node;
using NodePtr = std::shared_ptr<Node>;

// Calls fn once for every node reachable from root through `entries` (live or durable), parents
// before children. fn may replace a directory's entries before its children are visited.
template <typename Fn>
void Walk(const NodePtr& root, bool durable, Fn&& fn) {
  std::set<const Node*> seen;
  std::vector<NodePtr> stack{root};
  while (!stack.empty()) {
    NodePtr n = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(n.get()).second) continue;
    fn(*n);
    if (!n->is_dir) continue;
    for (const auto& [name, child] : durable ? n->durable_entries : n->live) stack.push_back(child);
  }
}

}  // namespace

struct CrashVolume::State {
  State(std::string name, PowerSwitch* p) : desc("crash:" + std::move(name)), power(p) {
    root = std::make_shared<Node>(true, Tick());
  }

  const std::string desc;
  PowerSwitch* const power;
  std::mutex mu;
  NodePtr root;             // guarded by mu
  uint64_t generation = 0;  // guarded by mu; bumped by every crash, kills open files
  int64_t clock_ns = 1'700'000'000'000'000'000;  // guarded by mu; fake, monotonic

  int64_t Tick() { return clock_ns += 1000; }
  std::string Where(const std::string& path) const {
    return path.empty() ? desc : desc + "/" + path;
  }
  // Counts the call; an error when the power is off.
  Status Enter(const std::string& path) {
    if (power == nullptr || power->Enter()) return Status::Ok();
    return IOError(Where(path) + ": injected crash (power off)");
  }

  // The directory that holds path's last component, and that component. Requires mu.
  NodePtr Parent(const std::string& path, std::string* name, int* err) {
    NodePtr dir = root;
    size_t start = 0;
    while (true) {
      size_t slash = path.find('/', start);
      if (slash == std::string::npos) {
        *name = path.substr(start);
        *err = 0;
        return dir;
      }
      auto it = dir->live.find(path.substr(start, slash - start));
      if (it == dir->live.end()) {
        *err = ENOENT;
        return nullptr;
      }
      if (!it->second->is_dir) {
        *err = ENOTDIR;
        return nullptr;
      }
      dir = it->second;
      start = slash + 1;
    }
  }
  // The node at path ("" is the root), or nullptr with *err set. Requires mu.
  NodePtr Lookup(const std::string& path, int* err) {
    if (path.empty()) return root;
    std::string name;
    NodePtr dir = Parent(path, &name, err);
    if (dir == nullptr) return nullptr;
    auto it = dir->live.find(name);
    if (it == dir->live.end()) {
      *err = ENOENT;
      return nullptr;
    }
    return it->second;
  }
};

namespace {

using State = CrashVolume::State;

class CrashWritableFile final : public WritableFile {
 public:
  CrashWritableFile(std::shared_ptr<State> s, NodePtr n, std::string path, uint64_t gen)
      : s_(std::move(s)), n_(std::move(n)), path_(std::move(path)), gen_(gen) {}

  Status AppendV(const ConstBuf* bufs, int count) override {
    RETURN_IF_ERROR(s_->Enter(path_));
    std::lock_guard<std::mutex> l(s_->mu);
    RETURN_IF_ERROR(Usable());
    for (int i = 0; i < count; ++i) {
      n_->data.append(static_cast<const char*>(bufs[i].data), bufs[i].size);
    }
    n_->mtime_ns = s_->Tick();
    return Status::Ok();
  }
  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    RETURN_IF_ERROR(s_->Enter(path_));
    std::lock_guard<std::mutex> l(s_->mu);
    RETURN_IF_ERROR(Usable());
    if (offset + n > n_->data.size()) n_->data.resize(offset + n, '\0');
    std::memcpy(&n_->data[offset], data, n);
    n_->mtime_ns = s_->Tick();
    return Status::Ok();
  }
  Status Sync() override {
    RETURN_IF_ERROR(s_->Enter(path_));
    std::lock_guard<std::mutex> l(s_->mu);
    RETURN_IF_ERROR(Usable());
    n_->durable = n_->data;
    return Status::Ok();
  }
  Status Close() override {
    RETURN_IF_ERROR(s_->Enter(path_));
    std::lock_guard<std::mutex> l(s_->mu);
    RETURN_IF_ERROR(Usable());
    closed_ = true;
    return Status::Ok();
  }

 private:
  // Requires s_->mu.
  Status Usable() const {
    if (closed_) return IOError(s_->Where(path_) + ": file is closed");
    if (gen_ != s_->generation) return IOError(s_->Where(path_) + ": opened before a crash");
    return Status::Ok();
  }

  std::shared_ptr<State> s_;
  NodePtr n_;
  const std::string path_;
  const uint64_t gen_;
  bool closed_ = false;
};

class CrashReadableFile final : public ReadableFile {
 public:
  CrashReadableFile(std::shared_ptr<State> s, NodePtr n, std::string path, uint64_t gen)
      : s_(std::move(s)), n_(std::move(n)), path_(std::move(path)), gen_(gen) {}

  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    RETURN_IF_ERROR(s_->Enter(path_));
    std::lock_guard<std::mutex> l(s_->mu);
    RETURN_IF_ERROR(Usable());
    const std::string& d = n_->data;
    if (offset >= d.size()) return size_t{0};
    size_t k = std::min<uint64_t>(n, d.size() - offset);
    std::memcpy(buf, d.data() + offset, k);
    return k;
  }
  Result<uint64_t> Size() override {
    RETURN_IF_ERROR(s_->Enter(path_));
    std::lock_guard<std::mutex> l(s_->mu);
    RETURN_IF_ERROR(Usable());
    return uint64_t{n_->data.size()};
  }

 private:
  Status Usable() const {
    if (gen_ != s_->generation) return IOError(s_->Where(path_) + ": opened before a crash");
    return Status::Ok();
  }

  std::shared_ptr<State> s_;
  NodePtr n_;
  const std::string path_;
  const uint64_t gen_;
};

bool IsUnder(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

CrashVolume::CrashVolume(std::string name, PowerSwitch* power)
    : s_(std::make_shared<State>(std::move(name), power)) {}

CrashVolume::~CrashVolume() = default;

std::string CrashVolume::Describe() const { return s_->desc; }

void CrashVolume::Crash(CrashMode mode, uint64_t seed) {
  std::lock_guard<std::mutex> l(s_->mu);
  ++s_->generation;
  switch (mode) {
    case CrashMode::kProcessKill:
      Walk(s_->root, false, [](Node& n) {
        if (n.is_dir)
          n.durable_entries = n.live;
        else
          n.durable = n.data;
      });
      break;
    case CrashMode::kPowerLoss:
      Walk(s_->root, true, [](Node& n) {
        if (n.is_dir)
          n.live = n.durable_entries;
        else
          n.data = n.durable;
      });
      break;
    case CrashMode::kPartial: {
      // The choice for a directory is made before its children are visited, so the walk follows
      // whichever entries it kept; mixing live and durable trees this way never reaches a node
      // twice with two different choices (Walk visits each node once).
      std::mt19937_64 rng(seed);
      std::set<const Node*> seen;
      std::vector<NodePtr> stack{s_->root};
      while (!stack.empty()) {
        NodePtr n = std::move(stack.back());
        stack.pop_back();
        if (!seen.insert(n.get()).second) continue;
        const bool keep = rng() & 1;
        if (!n->is_dir) {
          if (keep)
            n->durable = n->data;
          else
            n->data = n->durable;
          continue;
        }
        if (keep)
          n->durable_entries = n->live;
        else
          n->live = n->durable_entries;
        for (const auto& [name, child] : n->live) stack.push_back(child);
      }
      break;
    }
  }
}

Result<std::unique_ptr<WritableFile>> CrashVolume::NewWritableFile(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  std::string name;
  int err = 0;
  NodePtr dir = s_->Parent(path, &name, &err);
  if (dir == nullptr) return PosixError(s_->Where(path), err);
  NodePtr& slot = dir->live[name];
  if (slot == nullptr) {
    slot = std::make_shared<Node>(false, s_->Tick());
    dir->mtime_ns = s_->Tick();
  } else if (slot->is_dir) {
    return PosixError(s_->Where(path), EISDIR);
  }
  slot->data.clear();  // O_TRUNC: the same inode
  slot->mtime_ns = s_->Tick();
  return std::unique_ptr<WritableFile>(new CrashWritableFile(s_, slot, path, s_->generation));
}

Result<std::unique_ptr<ReadableFile>> CrashVolume::NewReadableFile(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  int err = 0;
  NodePtr n = s_->Lookup(path, &err);
  if (n == nullptr) return PosixError(s_->Where(path), err);
  if (n->is_dir) return PosixError(s_->Where(path), EISDIR);
  return std::unique_ptr<ReadableFile>(
      new CrashReadableFile(s_, std::move(n), path, s_->generation));
}

Result<std::string> CrashVolume::ReadFile(const std::string& path, size_t max_size) {
  RETURN_IF_ERROR(s_->Enter(path));
  RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  int err = 0;
  NodePtr n = s_->Lookup(path, &err);
  if (n == nullptr) return PosixError(s_->Where(path), err);
  if (n->is_dir) return PosixError(s_->Where(path), EISDIR);
  if (n->data.size() > max_size) {
    return Corruption(s_->Where(path) + ": file larger than " + std::to_string(max_size));
  }
  return n->data;
}

Status CrashVolume::OverwriteFile(const std::string& path, std::string_view data) {
  RETURN_IF_ERROR(s_->Enter(path));
  RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  std::string name;
  int err = 0;
  NodePtr dir = s_->Parent(path, &name, &err);
  if (dir == nullptr) return PosixError(s_->Where(path), err);
  NodePtr& slot = dir->live[name];
  if (slot == nullptr) {
    slot = std::make_shared<Node>(false, s_->Tick());
    dir->mtime_ns = s_->Tick();
  } else if (slot->is_dir) {
    return PosixError(s_->Where(path), EISDIR);
  }
  slot->data.assign(data);  // rewritten in place: the same inode, no sync
  slot->mtime_ns = s_->Tick();
  return Status::Ok();
}

Status CrashVolume::Rename(const std::string& from, const std::string& to) {
  return RenameImpl(from, to, /*no_replace=*/false);
}

Status CrashVolume::RenameNoReplace(const std::string& from, const std::string& to) {
  return RenameImpl(from, to, /*no_replace=*/true);
}

Status CrashVolume::RenameImpl(const std::string& from, const std::string& to, bool no_replace) {
  RETURN_IF_ERROR(s_->Enter(from));
  RETURN_IF_ERROR(ValidateRelPath(from).WithContext(s_->desc));
  RETURN_IF_ERROR(ValidateRelPath(to).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  const std::string where = s_->Where(from) + " -> " + to;
  std::string from_name, to_name;
  int err = 0;
  NodePtr from_dir = s_->Parent(from, &from_name, &err);
  if (from_dir == nullptr) return PosixError(where, err);
  auto src = from_dir->live.find(from_name);
  if (src == from_dir->live.end()) return PosixError(where, ENOENT);
  NodePtr to_dir = s_->Parent(to, &to_name, &err);
  if (to_dir == nullptr) return PosixError(where, err);
  if (from == to) return Status::Ok();
  NodePtr node = src->second;
  if (node->is_dir && IsUnder(to, from)) return PosixError(where, EINVAL);
  auto dst = to_dir->live.find(to_name);
  if (dst != to_dir->live.end()) {
    if (no_replace) return PosixError(where, EEXIST);
    const NodePtr& d = dst->second;
    if (d == node) return Status::Ok();  // two names of one inode: rename(2) does nothing
    if (!node->is_dir && d->is_dir) return PosixError(where, EISDIR);
    if (node->is_dir && !d->is_dir) return PosixError(where, ENOTDIR);
    if (d->is_dir && !d->live.empty()) return PosixError(where, ENOTEMPTY);
  }
  from_dir->live.erase(src);
  to_dir->live[to_name] = std::move(node);
  from_dir->mtime_ns = s_->Tick();
  to_dir->mtime_ns = s_->Tick();
  return Status::Ok();
}

Status CrashVolume::Exchange(const std::string& a, const std::string& b) {
  RETURN_IF_ERROR(s_->Enter(a));
  RETURN_IF_ERROR(ValidateRelPath(a).WithContext(s_->desc));
  RETURN_IF_ERROR(ValidateRelPath(b).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  const std::string where = s_->Where(a) + " <-> " + b;
  std::string a_name, b_name;
  int err = 0;
  NodePtr a_dir = s_->Parent(a, &a_name, &err);
  if (a_dir == nullptr) return PosixError(where, err);
  NodePtr b_dir = s_->Parent(b, &b_name, &err);
  if (b_dir == nullptr) return PosixError(where, err);
  auto ia = a_dir->live.find(a_name);
  auto ib = b_dir->live.find(b_name);
  if (ia == a_dir->live.end() || ib == b_dir->live.end()) return PosixError(where, ENOENT);
  if (a == b) return Status::Ok();
  std::swap(ia->second, ib->second);
  a_dir->mtime_ns = s_->Tick();
  b_dir->mtime_ns = s_->Tick();
  return Status::Ok();
}

Status CrashVolume::Remove(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  std::string name;
  int err = 0;
  NodePtr dir = s_->Parent(path, &name, &err);
  if (dir == nullptr) return PosixError(s_->Where(path), err);
  auto it = dir->live.find(name);
  if (it == dir->live.end()) return PosixError(s_->Where(path), ENOENT);
  if (it->second->is_dir) return PosixError(s_->Where(path), EISDIR);  // what unlink(2) says
  dir->live.erase(it);
  dir->mtime_ns = s_->Tick();
  return Status::Ok();
}

Status CrashVolume::RemoveDir(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  std::string name;
  int err = 0;
  NodePtr dir = s_->Parent(path, &name, &err);
  if (dir == nullptr) return PosixError(s_->Where(path), err);
  auto it = dir->live.find(name);
  if (it == dir->live.end()) return PosixError(s_->Where(path), ENOENT);
  if (!it->second->is_dir) return PosixError(s_->Where(path), ENOTDIR);
  if (!it->second->live.empty()) return PosixError(s_->Where(path), ENOTEMPTY);
  dir->live.erase(it);
  dir->mtime_ns = s_->Tick();
  return Status::Ok();
}

Status CrashVolume::MakeDirs(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  NodePtr dir = s_->root;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    NodePtr& slot = dir->live[path.substr(start, slash - start)];
    if (slot == nullptr) {
      slot = std::make_shared<Node>(true, s_->Tick());
      dir->mtime_ns = s_->Tick();
    } else if (!slot->is_dir) {
      return PosixError(s_->Where(path), ENOTDIR);
    }
    dir = slot;
    start = slash + 1;
  }
  return Status::Ok();
}

Result<std::vector<DirEntry>> CrashVolume::ListDir(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  if (!path.empty()) RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  int err = 0;
  NodePtr n = s_->Lookup(path, &err);
  if (n == nullptr) return PosixError(s_->Where(path), err);
  if (!n->is_dir) return PosixError(s_->Where(path), ENOTDIR);
  std::vector<DirEntry> out;
  for (const auto& [name, child] : n->live) {
    out.push_back(DirEntry{name, child->is_dir ? FileKind::kDir : FileKind::kFile});
  }
  return out;
}

Result<FileInfo> CrashVolume::Stat(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  if (!path.empty()) RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  int err = 0;
  NodePtr n = s_->Lookup(path, &err);
  if (n == nullptr) return PosixError(s_->Where(path), err);
  FileInfo fi;
  fi.size = n->is_dir ? 0 : n->data.size();
  fi.mtime_ns = n->mtime_ns;
  fi.kind = n->is_dir ? FileKind::kDir : FileKind::kFile;
  return fi;
}

Status CrashVolume::SyncFile(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  int err = 0;
  NodePtr n = s_->Lookup(path, &err);
  if (n == nullptr) return PosixError(s_->Where(path), err);
  if (n->is_dir) return PosixError(s_->Where(path), EISDIR);
  n->durable = n->data;
  return Status::Ok();
}

Status CrashVolume::SyncDir(const std::string& path) {
  RETURN_IF_ERROR(s_->Enter(path));
  if (!path.empty()) RETURN_IF_ERROR(ValidateRelPath(path).WithContext(s_->desc));
  std::lock_guard<std::mutex> l(s_->mu);
  int err = 0;
  NodePtr n = s_->Lookup(path, &err);
  if (n == nullptr) return PosixError(s_->Where(path), err);
  if (!n->is_dir) return PosixError(s_->Where(path), ENOTDIR);  // open(O_DIRECTORY)
  n->durable_entries = n->live;
  return Status::Ok();
}

Status CrashVolume::SyncAll() {
  RETURN_IF_ERROR(s_->Enter(""));
  std::lock_guard<std::mutex> l(s_->mu);
  Walk(s_->root, false, [](Node& n) {
    if (n.is_dir)
      n.durable_entries = n.live;
    else
      n.durable = n.data;
  });
  return Status::Ok();
}

}  // namespace cairn
