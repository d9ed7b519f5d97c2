#include "libstore/volume/kill_point.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace cairn {
namespace {

enum class KillOp { kRename, kRemove, kWrite, kSyncDir, kSyncAll, kAny };

struct KillPoint {
  bool armed = false;
  KillOp op = KillOp::kAny;
  uint64_t at = 0;  // the call number that dies, from 1
  std::atomic<uint64_t> seen{0};
};

// Parsed once; never freed (it lives as long as the process).
KillPoint* Parse() {
  auto* kp = new KillPoint;
  const char* env = std::getenv("CAIRN_TEST_KILL_AT");
  if (env == nullptr || *env == '\0') return kp;
  const std::string s = env;
  const size_t colon = s.find(':');
  const std::string name = s.substr(0, colon);
  static const std::pair<const char*, KillOp> kOps[] = {
      {"rename", KillOp::kRename},   {"remove", KillOp::kRemove},   {"write", KillOp::kWrite},
      {"syncdir", KillOp::kSyncDir}, {"syncall", KillOp::kSyncAll}, {"any", KillOp::kAny}};
  bool known = false;
  for (const auto& [n, op] : kOps) {
    if (name == n) {
      kp->op = op;
      known = true;
    }
  }
  char* end = nullptr;
  const unsigned long long at =
      colon == std::string::npos ? 0 : std::strtoull(s.c_str() + colon + 1, &end, 10);
  if (!known || at == 0 || end == nullptr || *end != '\0') {
    std::fprintf(stderr,
                 "cairn: ignoring CAIRN_TEST_KILL_AT=%s (want OP:N, OP one of rename, "
                 "remove, write, syncdir, syncall, any)\n",
                 env);
    return kp;
  }
  kp->at = at;
  kp->armed = true;
  return kp;
}

KillPoint& Point() {
  static KillPoint* kp = Parse();
  return *kp;
}

void Reach(KillOp op) {
  KillPoint& kp = Point();
  if (kp.op != KillOp::kAny && kp.op != op) return;
  if (kp.seen.fetch_add(1) + 1 == kp.at) ::raise(SIGKILL);
}

class KillPointVolume final : public VolumeWrapper {
 public:
  explicit KillPointVolume(std::unique_ptr<Volume> v)
      : VolumeWrapper(v.get()), owned_(std::move(v)) {}

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    Reach(KillOp::kWrite);
    return VolumeWrapper::NewWritableFile(p);
  }
  Status WriteFile(const std::string& p, std::string_view d, bool sync) override {
    Reach(KillOp::kWrite);
    return VolumeWrapper::WriteFile(p, d, sync);
  }
  Status OverwriteFile(const std::string& p, std::string_view d) override {
    Reach(KillOp::kWrite);
    return VolumeWrapper::OverwriteFile(p, d);
  }
  Status Rename(const std::string& f, const std::string& t) override {
    Reach(KillOp::kRename);
    return VolumeWrapper::Rename(f, t);
  }
  Status RenameNoReplace(const std::string& f, const std::string& t) override {
    Reach(KillOp::kRename);
    return VolumeWrapper::RenameNoReplace(f, t);
  }
  Status Exchange(const std::string& a, const std::string& b) override {
    Reach(KillOp::kRename);
    return VolumeWrapper::Exchange(a, b);
  }
  Status Remove(const std::string& p) override {
    Reach(KillOp::kRemove);
    return VolumeWrapper::Remove(p);
  }
  Status RemoveDir(const std::string& p) override {
    Reach(KillOp::kRemove);
    return VolumeWrapper::RemoveDir(p);
  }
  Status SyncDir(const std::string& p) override {
    Reach(KillOp::kSyncDir);
    return VolumeWrapper::SyncDir(p);
  }
  Status SyncAll() override {
    Reach(KillOp::kSyncAll);
    return VolumeWrapper::SyncAll();
  }

 private:
  std::unique_ptr<Volume> owned_;
};

}  // namespace

std::unique_ptr<Volume> WithKillPoint(std::unique_ptr<Volume> v) {
  if (!Point().armed) return v;
  return std::make_unique<KillPointVolume>(std::move(v));
}

}  // namespace cairn
