#include "commands/serve_backend.h"

#include <sys/stat.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <type_traits>

#include "libstore/format/volume_format.h"
#include "libstore/object/heal.h"
#include "libstore/object/set_open.h"
#include "libstore/plain/plain_dir.h"

namespace cairn::cli {
namespace {

constexpr uint64_t kDefaultRate = uint64_t(64) << 20;
constexpr auto kPassInterval = std::chrono::seconds(5);

// A thread that runs `pass` (given the stop flag) every `interval` until destroyed; a pass that
// returns bool says whether it found work, and then waits NextPassWait.
class Background {
 public:
  ~Background() { Stop(); }
  template <class F>
  void Start(F pass, std::chrono::nanoseconds interval = kPassInterval) {
    thread_ = std::thread([this, pass = std::move(pass), interval]() mutable {
      std::unique_lock<std::mutex> lk(mu_);
      std::chrono::nanoseconds wait = interval;
      while (!stop_.load()) {
        lk.unlock();
        const auto t0 = std::chrono::steady_clock::now();
        if constexpr (std::is_same_v<decltype(pass(&stop_)), bool>) {
          const bool worked = pass(&stop_);
          wait = NextPassWait(interval, wait, worked, std::chrono::steady_clock::now() - t0);
        } else {
          pass(&stop_);
        }
        lk.lock();
        cv_.wait_for(lk, wait, [&] { return stop_.load(); });
      }
    });
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

constexpr auto kExpiryInterval = std::chrono::hours(1);

// Aborts the store's uploads older than expiry_ns at once and then every hour (or every
// expiry_ns when shorter); nothing when expiry_ns is 0.
void StartUploadExpiry(Background& bg, ObjectStore& store, int64_t expiry_ns) {
  if (expiry_ns <= 0) return;
  const auto interval =
      std::min<std::chrono::nanoseconds>(kExpiryInterval, std::chrono::nanoseconds(expiry_ns));
  bg.Start(
      [&store, expiry_ns](const std::atomic<bool>*) {
        auto r = store.AbortStaleUploads(expiry_ns);
        if (!r.ok()) {
          std::fprintf(stderr, "cairn: serve: removing abandoned uploads: %s\n",
                       r.status().ToString().c_str());
        } else if (*r > 0) {
          std::fprintf(stderr, "cairn: serve: removed %llu abandoned multipart upload(s)\n",
                       static_cast<unsigned long long>(*r));
        }
      },
      interval);
}

Result<uint64_t> Rate(const std::string& flag, const std::string& value) {
  if (value.empty()) return kDefaultRate;
  auto r = ParseSize(value);
  if (!r.ok()) return r.status().WithContext(flag);
  return *r;
}

class PlainBackend : public ServeBackend {
 public:
  ObjectStore& store() override { return *store_; }
  std::string Describe() const override {
    return "a plain directory " + root_ + (read_only_ ? " (read-only)" : "");
  }
  std::string HealthJson() const override {
    nlohmann::json j = {{"status", "ok"}, {"backend", "plain"}, {"read_only", read_only_}};
    return j.dump() + "\n";
  }
  void StartBackground() override {
    StartUploadExpiry(expiry_bg_, *store_, expiry_ns_);
    if (rate_ == 0) return;
    PlainDir* store = store_.get();
    const uint64_t rate = rate_;
    bg_.Start([store, rate](const std::atomic<bool>* stop) {
      auto r = store->HashPass(rate, stop);
      if (!r.ok()) {
        std::fprintf(stderr, "cairn: serve: background hashing: %s\n",
                     r.status().ToString().c_str());
        return true;  // try again soon
      }
      return r->files_hashed > 0 || r->files_changed > 0;
    });
  }

  std::string root_;
  bool read_only_ = false;
  uint64_t rate_ = 0;
  MimeTypes mime_;
  std::unique_ptr<Volume> vol_;
  std::unique_ptr<PlainDir> store_;
  int64_t expiry_ns_ = 0;
  Background bg_;         // last: stopped before the store goes
  Background expiry_bg_;
};

class SetBackend : public ServeBackend {
 public:
  ObjectStore& store() override { return *set_.set; }
  std::string Describe() const override {
    std::string s =
        "a " + std::to_string(set_.format.k) + "+" + std::to_string(set_.format.m) + " volume set";
    const uint32_t total = set_.format.k + set_.format.m;
    const uint32_t online = set_.set->online();
    if (online < total) {
      s += " (" + std::to_string(total - online) + " of " + std::to_string(total) +
           " members offline:";
      for (uint32_t p = 0; p < total; ++p) {
        if (set_.set->volume(p) == nullptr) s += " " + Path(p);
      }
      s += ")";
    }
    return s;
  }
  std::string HealthJson() const override {
    const uint32_t total = set_.format.k + set_.format.m;
    nlohmann::json offline = nlohmann::json::array();
    for (uint32_t p = 0; p < total; ++p) {
      if (set_.set->volume(p) == nullptr) offline.push_back({{"position", p}, {"path", Path(p)}});
    }
    nlohmann::json j = {
        {"status", "ok"},
        {"backend", "volume-set"},
        {"k", set_.format.k},
        {"m", set_.format.m},
        {"members",
         {{"total", total}, {"online", set_.set->online()}, {"offline", std::move(offline)}}}};
    return j.dump() + "\n";
  }
  void StartBackground() override {
    StartUploadExpiry(expiry_bg_, *set_.set, expiry_ns_);
    if (rate_ == 0) return;
    ErasureSet* set = set_.set.get();
    const uint64_t rate = rate_;
    bg_.Start([set, rate](const std::atomic<bool>* stop) {
      HealQueuedOptions ho;
      ho.max_rate = rate;
      ho.stop = stop;
      auto r = HealQueued(*set, ho);
      if (!r.ok()) {
        std::fprintf(stderr, "cairn: serve: background healing: %s\n",
                     r.status().ToString().c_str());
      } else if (r->healed > 0) {
        std::fprintf(stderr, "cairn: serve: healed %llu object(s), %llu left degraded\n",
                     static_cast<unsigned long long>(r->healed),
                     static_cast<unsigned long long>(r->left));
      }
    });
  }

  std::string Path(uint32_t p) const {
    return p < set_.member_paths.size() ? set_.member_paths[p] : "position " + std::to_string(p);
  }

  OpenedSet set_;
  uint64_t rate_ = 0;
  int64_t expiry_ns_ = 0;
  Background bg_;  // last: stopped before the set goes
  Background expiry_bg_;
};

bool IsDirectory(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsSetMember(const std::string& dir) {
  struct stat st {};
  return ::stat((dir + "/" + kFormatPath).c_str(), &st) == 0;
}

}  // namespace

std::chrono::nanoseconds NextPassWait(std::chrono::nanoseconds base, std::chrono::nanoseconds prev,
                                      bool found_work, std::chrono::nanoseconds took) {
  std::chrono::nanoseconds wait = base;
  if (!found_work) wait = std::min(std::max(base, 2 * prev), std::max(base, kMaxIdlePassWait));
  return std::max(wait, 4 * took);
}

Result<std::unique_ptr<ServeBackend>> OpenServeBackend(const ServeOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(const uint64_t hash_rate, Rate("--hash-rate", o.hash_rate));
  ASSIGN_OR_RETURN(const uint64_t heal_rate, Rate("--heal-rate", o.heal_rate));
  auto expiry = ParseDuration(o.upload_expiry);
  if (!expiry.ok()) return expiry.status().WithContext("--upload-expiry");
  const int64_t expiry_ns = o.read_only ? 0 : *expiry;
  if (o.dirs.size() == 1 && !IsSetMember(o.dirs[0])) {
    const std::string& root = o.dirs[0];
    if (!IsDirectory(root)) return InvalidArgument(root + " is not a directory");
    auto b = std::make_unique<PlainBackend>();
    b->root_ = root;
    b->read_only_ = o.read_only;
    b->rate_ = hash_rate;
    b->expiry_ns_ = expiry_ns;
    ASSIGN_OR_RETURN(b->mime_, MimeTypes::Load("/etc/mime.types"));
    PlainDirOptions po;
    po.read_only = o.read_only;
    po.no_fsync = o.no_fsync;
    po.mime = &b->mime_;
    if (!o.state_dir.empty()) {
      po.db_path = o.state_dir + "/meta.db";
    } else if (!o.read_only) {
      po.db_path = root + "/" + kSysDir + "/meta.db";
    }  // read-only without a state directory: the hash cache lives in memory
    b->vol_ = NewLocalVolume(root);
    auto store = PlainDir::Open(b->vol_.get(), po);
    if (!store.ok()) return store.status().WithContext("serving " + root);
    b->store_ = std::move(*store);
    return std::unique_ptr<ServeBackend>(std::move(b));
  }
  if (!o.state_dir.empty()) return InvalidArgument("--state-dir is for a plain directory only");
  std::vector<std::string> dirs = o.dirs;
  if (dirs.empty()) {
    ASSIGN_OR_RETURN(dirs, ctx.SetDirs());
  }
  auto opened = OpenSet(dirs);
  if (!opened.ok()) return opened.status().WithContext("opening the volume set");
  for (const auto& w : opened->warnings) ctx.Warn("warning: " + w + " (serving degraded)");
  auto b = std::make_unique<SetBackend>();
  b->set_ = std::move(*opened);
  if (!o.read_only) b->set_.set->KeepReserves();  // members formatted before reserves existed
  b->rate_ = o.read_only ? 0 : heal_rate;
  b->expiry_ns_ = expiry_ns;
  return std::unique_ptr<ServeBackend>(std::move(b));
}

}  // namespace cairn::cli
