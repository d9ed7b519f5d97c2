#include "libstore/volume/faulty_volume.h"

#include <fnmatch.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>

namespace cairn {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool GlobMatch(const std::string& glob, std::string_view path) {
  return fnmatch(glob.c_str(), std::string(path).c_str(), 0) == 0;
}

// One call as the rules see it.
struct FaultCall {
  FaultOp op;
  std::string_view path{};
  std::string_view path2{};   // Rename's target
  bool post_read = false;     // consulted after a successful read: only kBitFlip applies
  uint64_t read_bytes = 0;    // post_read: bytes the read returned
  uint64_t append_bytes = 0;  // kAppend: bytes in this append
  uint64_t file_bytes = 0;    // kAppend: bytes appended to the file before this call
};

struct Fault {
  FaultKind kind;
  uint64_t keep = 0;  // kTornWrite / kNoSpace on appends: bytes to write before failing
  uint64_t bit = 0;   // kBitFlip: which bit of the bytes read
};

}  // namespace

class FaultyVolume::Injector {
 public:
  Injector(Volume* target, uint64_t seed) : target_(target), seed_(seed) {}

  Volume* target() const { return target_; }

  void AddRule(FaultRule r) {
    std::lock_guard<std::mutex> l(mu_);
    rules_.push_back(RuleState{std::move(r), 0, 0});
  }
  void ClearRules() {
    std::lock_guard<std::mutex> l(mu_);
    rules_.clear();
    offline_ = false;
  }
  uint64_t injected() const {
    std::lock_guard<std::mutex> l(mu_);
    return injected_;
  }
  bool offline() const {
    std::lock_guard<std::mutex> l(mu_);
    return offline_;
  }

  // The fault to inject on this call, if any. Counts the call against every matching rule.
  std::optional<Fault> Decide(const FaultCall& c) {
    std::lock_guard<std::mutex> l(mu_);
    if (offline_) {
      if (c.post_read) return std::nullopt;  // already let through by the pre-read check
      ++injected_;
      return Fault{FaultKind::kOffline};
    }
    RuleState* chosen = nullptr;
    for (auto& rs : rules_) {
      if (!Matches(rs.rule, c)) continue;
      ++rs.seen;
      if (rs.seen <= rs.rule.after_calls) continue;
      if (rs.rule.times >= 0 && rs.fired >= static_cast<uint64_t>(rs.rule.times)) continue;
      if (chosen == nullptr) chosen = &rs;
    }
    if (chosen == nullptr) return std::nullopt;
    ++chosen->fired;
    const FaultRule& r = chosen->rule;
    const uint64_t rnd = SplitMix64(seed_ ^ SplitMix64(injected_));
    ++injected_;
    Fault f{r.kind};
    switch (r.kind) {
      case FaultKind::kOffline:
        offline_ = true;
        break;
      case FaultKind::kBitFlip:
        f.bit = rnd % (c.read_bytes * 8);
        break;
      case FaultKind::kNoSpace:
      case FaultKind::kTornWrite:
        if (c.op != FaultOp::kAppend) break;
        if (r.after_bytes > 0) {
          f.keep = r.after_bytes > c.file_bytes ? r.after_bytes - c.file_bytes : 0;
        } else if (r.kind == FaultKind::kTornWrite) {
          f.keep = rnd % c.append_bytes;
        }
        break;
      case FaultKind::kIOError:
        break;
    }
    return f;
  }

  // The error a fault turns into ("DESC/path: injected ...").
  Status ErrorFor(const Fault& f, const FaultCall& c) const {
    std::string where = target_->Describe();
    if (!c.path.empty()) where += "/" + std::string(c.path);
    if (c.op == FaultOp::kRename) where += " -> " + std::string(c.path2);
    switch (f.kind) {
      case FaultKind::kNoSpace:
        return Status(Code::kNoSpace, where + ": injected no space left on device");
      case FaultKind::kTornWrite:
        return IOError(where + ": injected torn write (" + std::to_string(f.keep) + " of " +
                       std::to_string(c.append_bytes) + " bytes written)");
      case FaultKind::kOffline:
        return IOError(where + ": injected I/O error: volume offline");
      case FaultKind::kBitFlip:  // not an error; callers handle it before asking
      case FaultKind::kIOError:
        break;
    }
    return IOError(where + ": injected I/O error");
  }

  // For calls that either fail whole or go ahead.
  Status Gate(FaultOp op, std::string_view path, std::string_view path2 = {}) {
    FaultCall c{op, path, path2};
    auto f = Decide(c);
    return f ? ErrorFor(*f, c) : Status::Ok();
  }

 private:
  struct RuleState {
    FaultRule rule;
    uint64_t seen;   // matching calls so far
    uint64_t fired;  // times this rule fired
  };

  static bool Matches(const FaultRule& r, const FaultCall& c) {
    if (r.op != FaultOp::kAny && r.op != c.op) return false;
    if (!GlobMatch(r.path_glob, c.path) &&
        !(c.op == FaultOp::kRename && GlobMatch(r.path_glob, c.path2))) {
      return false;
    }
    if (r.kind == FaultKind::kBitFlip) return c.post_read && c.read_bytes > 0;
    if (c.post_read) return false;
    switch (r.kind) {
      case FaultKind::kTornWrite:
        return c.op == FaultOp::kAppend && c.append_bytes > 0 &&
               (r.after_bytes == 0 || c.file_bytes + c.append_bytes > r.after_bytes);
      case FaultKind::kNoSpace:
        return r.after_bytes == 0 ||
               (c.op == FaultOp::kAppend && c.file_bytes + c.append_bytes > r.after_bytes);
      default:
        return true;
    }
  }

  Volume* const target_;
  const uint64_t seed_;
  mutable std::mutex mu_;
  std::vector<RuleState> rules_;  // guarded by mu_
  uint64_t injected_ = 0;         // guarded by mu_
  bool offline_ = false;          // guarded by mu_
};

namespace {

class FaultyWritableFile final : public WritableFile {
 public:
  FaultyWritableFile(std::shared_ptr<FaultyVolume::Injector> inj,
                     std::unique_ptr<WritableFile> target, std::string path)
      : inj_(std::move(inj)), target_(std::move(target)), path_(std::move(path)) {}

  Status AppendV(const ConstBuf* bufs, int n) override {
    uint64_t total = 0;
    for (int i = 0; i < n; ++i) total += bufs[i].size;
    FaultCall c{FaultOp::kAppend, path_};
    c.append_bytes = total;
    c.file_bytes = written_;
    auto f = inj_->Decide(c);
    if (!f) {
      Status s = target_->AppendV(bufs, n);
      if (s.ok()) written_ += total;
      return s;
    }
    if (f->keep > 0) {
      // Write the first f->keep bytes, cutting the buffer list where they end.
      std::vector<ConstBuf> part;
      uint64_t left = f->keep;
      for (int i = 0; i < n && left > 0; ++i) {
        size_t k = static_cast<size_t>(std::min<uint64_t>(bufs[i].size, left));
        part.push_back(ConstBuf{bufs[i].data, k});
        left -= k;
      }
      RETURN_IF_ERROR(target_->AppendV(part.data(), static_cast<int>(part.size())));
      written_ += f->keep;
    }
    return inj_->ErrorFor(*f, c);
  }

  // Positional writes count as appends for the rules (op kAppend), without size conditions.
  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    RETURN_IF_ERROR(inj_->Gate(FaultOp::kAppend, path_));
    return target_->WriteAt(offset, data, n);
  }

  void StartWriteback() override { target_->StartWriteback(); }
  void BypassCache() override { target_->BypassCache(); }
  Result<FileInfo> StatOpen() override { return target_->StatOpen(); }

  Status Sync() override {
    RETURN_IF_ERROR(inj_->Gate(FaultOp::kSync, path_));
    return target_->Sync();
  }

  Status Close() override {
    Status s = inj_->Gate(FaultOp::kClose, path_);
    if (!s.ok()) {
      // Like close(2) reporting EIO: the descriptor is gone all the same.
      target_->Close().IgnoreError();
      return s;
    }
    return target_->Close();
  }

 private:
  std::shared_ptr<FaultyVolume::Injector> inj_;
  std::unique_ptr<WritableFile> target_;
  const std::string path_;
  uint64_t written_ = 0;  // bytes appended through this object
};

class FaultyReadableFile final : public ReadableFile {
 public:
  FaultyReadableFile(std::shared_ptr<FaultyVolume::Injector> inj,
                     std::unique_ptr<ReadableFile> target, std::string path)
      : inj_(std::move(inj)), target_(std::move(target)), path_(std::move(path)) {}

  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    RETURN_IF_ERROR(inj_->Gate(FaultOp::kRead, path_));
    ASSIGN_OR_RETURN(size_t got, target_->ReadAt(offset, buf, n));
    FaultCall c{FaultOp::kRead, path_};
    c.post_read = true;
    c.read_bytes = got;
    if (auto f = inj_->Decide(c); f && f->kind == FaultKind::kBitFlip) {
      static_cast<unsigned char*>(buf)[f->bit / 8] ^=
          static_cast<unsigned char>(1u << (f->bit % 8));
    }
    return got;
  }

  Result<uint64_t> Size() override {
    RETURN_IF_ERROR(inj_->Gate(FaultOp::kStat, path_));
    return target_->Size();
  }
  Result<FileInfo> StatOpen() override {
    RETURN_IF_ERROR(inj_->Gate(FaultOp::kStat, path_));
    return target_->StatOpen();
  }
  // NativeFd stays -1: every read must pass through ReadAt above.

 private:
  std::shared_ptr<FaultyVolume::Injector> inj_;
  std::unique_ptr<ReadableFile> target_;
  const std::string path_;
};

}  // namespace

FaultyVolume::FaultyVolume(Volume* target, uint64_t seed)
    : VolumeWrapper(target), inj_(std::make_shared<Injector>(target, seed)) {}

FaultyVolume::~FaultyVolume() = default;

void FaultyVolume::AddRule(FaultRule r) { inj_->AddRule(std::move(r)); }
void FaultyVolume::ClearRules() { inj_->ClearRules(); }
uint64_t FaultyVolume::injected() const { return inj_->injected(); }
bool FaultyVolume::offline() const { return inj_->offline(); }

#define CAIRN_VALIDATE(path) RETURN_IF_ERROR(ValidateRelPath(path).WithContext(Describe()))
// ListDir, Stat and SyncDir take "" for the root; the target decides whether it supports that.
#define CAIRN_VALIDATE_OR_ROOT(path) \
  if (!(path).empty()) CAIRN_VALIDATE(path)

Result<std::unique_ptr<WritableFile>> FaultyVolume::NewWritableFile(const std::string& path) {
  CAIRN_VALIDATE(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kOpenWrite, path));
  ASSIGN_OR_RETURN(auto file, target()->NewWritableFile(path));
  return std::unique_ptr<WritableFile>(new FaultyWritableFile(inj_, std::move(file), path));
}

Result<std::unique_ptr<ReadableFile>> FaultyVolume::NewReadableFile(const std::string& path) {
  CAIRN_VALIDATE(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kOpenRead, path));
  ASSIGN_OR_RETURN(auto file, target()->NewReadableFile(path));
  return std::unique_ptr<ReadableFile>(new FaultyReadableFile(inj_, std::move(file), path));
}

Result<std::string> FaultyVolume::ReadFile(const std::string& path, size_t max_size) {
  return Volume::ReadFile(path, max_size);
}

Status FaultyVolume::WriteFile(const std::string& path, std::string_view data, bool sync) {
  return Volume::WriteFile(path, data, sync);
}

Status FaultyVolume::Rename(const std::string& from, const std::string& to) {
  CAIRN_VALIDATE(from);
  CAIRN_VALIDATE(to);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kRename, from, to));
  return target()->Rename(from, to);
}

Status FaultyVolume::RenameNoReplace(const std::string& from, const std::string& to) {
  CAIRN_VALIDATE(from);
  CAIRN_VALIDATE(to);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kRename, from, to));
  return target()->RenameNoReplace(from, to);
}

Status FaultyVolume::Exchange(const std::string& a, const std::string& b) {
  CAIRN_VALIDATE(a);
  CAIRN_VALIDATE(b);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kRename, a, b));
  return target()->Exchange(a, b);
}

Status FaultyVolume::Remove(const std::string& path) {
  CAIRN_VALIDATE(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kRemove, path));
  return target()->Remove(path);
}

Status FaultyVolume::RemoveDir(const std::string& path) {
  CAIRN_VALIDATE(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kRemoveDir, path));
  return target()->RemoveDir(path);
}

Status FaultyVolume::MakeDirs(const std::string& path) {
  CAIRN_VALIDATE(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kMakeDirs, path));
  return target()->MakeDirs(path);
}

Result<std::vector<DirEntry>> FaultyVolume::ListDir(const std::string& path) {
  CAIRN_VALIDATE_OR_ROOT(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kListDir, path));
  return target()->ListDir(path);
}

Result<std::vector<StatEntry>> FaultyVolume::ListDirStat(const std::string& path) {
  CAIRN_VALIDATE_OR_ROOT(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kListDir, path));
  return target()->ListDirStat(path);
}

Result<FileInfo> FaultyVolume::Stat(const std::string& path) {
  CAIRN_VALIDATE_OR_ROOT(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kStat, path));
  return target()->Stat(path);
}

Status FaultyVolume::SyncFile(const std::string& path) {
  CAIRN_VALIDATE(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kSync, path));
  return target()->SyncFile(path);
}

Status FaultyVolume::SyncDir(const std::string& path) {
  CAIRN_VALIDATE_OR_ROOT(path);
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kSyncDir, path));
  return target()->SyncDir(path);
}

Status FaultyVolume::SyncAll() {
  RETURN_IF_ERROR(inj_->Gate(FaultOp::kSyncAll, ""));
  return target()->SyncAll();
}

#undef CAIRN_VALIDATE_OR_ROOT
#undef CAIRN_VALIDATE

}  // namespace cairn
