// Crash tests: every durable operation of a volume set, cut off at every Volume call in turn.
//
// Each scenario builds a set on CrashVolumes (libstore/volume/crash_volume.h) sharing one power
// switch, runs its setup and lets it settle, then runs the operation under test with the switch
// armed at call N, for N = 0, 1, 2, ... up to the number of calls an uninterrupted run makes (the
// last N crashes right after the operation returned). The machine then crashes in each mode (power
// loss: only what was synced survives; process kill: everything survives; partial: a seeded mix),
// the set is opened again over what survived, and the invariants are checked:
// - every object reads as its old or its new version, byte-identical, or is absent only if that
//   version never committed; an operation that returned OK is durable (only the new state);
// - the same after heal; and verify (deep) then finds nothing: heal fixed whatever it found;
// - gc with no grace period leaves no temp file behind, and everything still reads.
// Failures are collected per scenario and printed together, each with its crash point and mode.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libstore/erasure/stripe.h"
#include "libstore/format/bucket_meta.h"
#include "libstore/format/framing.h"
#include "libstore/format/key_path.h"
#include "libstore/format/mrf_entry.h"
#include "libstore/format/object_meta.h"
#include "libstore/format/upload_record.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/heal.h"
#include "libstore/object/set_open.h"
#include "libstore/shards/shard_codec.h"
#include "libstore/volume/crash_volume.h"
#include "tests/test_util.h"

namespace cairn {
namespace {

using test::RandomBytes;
using test::StringSink;
using test::StringSource;

constexpr const char* kAbsent = "<absent>";
constexpr CrashMode kModes[] = {CrashMode::kPowerLoss, CrashMode::kProcessKill,
                                CrashMode::kPartial};

// A short description of a body for failure messages.
std::string Describe(const std::string& body) {
  if (body.rfind("<", 0) == 0) return body;
  static const char kHex[] = "0123456789abcdef";
  std::string out = std::to_string(body.size()) + " bytes ";
  for (size_t i = 0; i < body.size() && i < 4; ++i) {
    out += kHex[uint8_t(body[i]) >> 4];
    out += kHex[uint8_t(body[i]) & 15];
  }
  return out;
}

class Silent : public ScanObserver {
 public:
  explicit Silent(bool heal) : heal_(heal) {}
  void Object(const ObjectHealth& h) override {
    if (h.health == Health::kHealthy && (!heal_ || h.after == Health::kHealthy)) return;
    std::string line = h.bucket + "/" + h.key + " " + Name(h.health);
    if (heal_) line += std::string(" -> ") + Name(h.after);
    for (const auto& p : h.problems)
      line += " " + std::to_string(p.position) + ":" + Name(p.problem);
    if (!h.note.empty()) line += " (" + h.note + ")";
    lines.push_back(line);
  }
  void Note(const std::string& line) override { lines.push_back(line); }
  std::vector<std::string> lines;

 private:
  bool heal_;
};

struct Layout {
  uint32_t k = 2, m = 1;
  uint32_t block_size = 4096;
  uint32_t inline_limit = 1024;
};

// N CrashVolumes sharing a power switch, formatted as one set, and the set opened over them.
class Machine {
 public:
  explicit Machine(const Layout& l) {
    params_.k = l.k;
    params_.m = l.m;
    params_.block_size = l.block_size;
    params_.inline_limit = l.inline_limit;
    format_.set_id = Uuid::Random();
    format_.k = l.k;
    format_.m = l.m;
    format_.block_size = l.block_size;
    format_.inline_limit = l.inline_limit;
    for (uint32_t i = 0; i < l.k + l.m; ++i) {
      format_.members.push_back({Uuid::Random(), "/crash/v" + std::to_string(i)});
    }
    for (uint32_t i = 0; i < l.k + l.m; ++i) {
      vols_.push_back(std::make_unique<CrashVolume>("v" + std::to_string(i), &power));
      Status s = FormatMember(*vols_[i], format_, i);
      REQUIRE(s.ok());
    }
    Open();
  }

  PowerSwitch power;
  // Files the test damaged on purpose ("member/path"): not torn by a crash.
  std::set<std::string> damaged;
  ErasureSet& set() { return *set_; }
  CrashVolume& vol(uint32_t i) { return *vols_[i]; }
  uint32_t n() const { return uint32_t(vols_.size()); }
  const VolumeFormat& format() const { return format_; }

  // Members given here are offline (nullptr) in the set until the next Open.
  void Open(const std::vector<uint32_t>& offline = {}) {
    set_.reset();
    std::vector<Volume*> v;
    for (auto& p : vols_) v.push_back(p.get());
    for (uint32_t i : offline) v[i] = nullptr;
    auto r = ErasureSet::Open(v, params_);
    REQUIRE(r.ok());
    set_ = std::move(r).value();
  }
  // Replaces member i by an empty, freshly formatted volume (a replaced disk).
  void Replace(uint32_t i) {
    set_.reset();
    vols_[i] = std::make_unique<CrashVolume>("v" + std::to_string(i) + "'", &power);
    REQUIRE(FormatMember(*vols_[i], format_, i).ok());
    Open();
  }
  // Everything durable, as after a clean shutdown.
  void Settle() {
    for (auto& v : vols_) REQUIRE(v->SyncAll().ok());
  }
  // The process dies now (nothing it does from here on reaches a volume), the machine crashes,
  // and the set is opened again over what survived.
  void Crash(CrashMode mode, uint64_t seed) {
    power.ArmAt(0);
    set_.reset();  // its destructor's clean-up fails: the process is gone
    for (auto& v : vols_) v->Crash(mode, seed++);
    power.Reset();
    Open();
  }

  Status Put(const std::string& bucket, const std::string& key, const std::string& body) {
    StringSource src(body, 1000);
    PutOptions po;
    po.fsync = true;
    return set_->PutObject(bucket, key, src, po).status();
  }
  // The object's body, kAbsent, or "<error: ...>".
  std::string Get(const std::string& bucket, const std::string& key) {
    StringSink sink;
    auto r = set_->GetObject(bucket, key, sink);
    if (r.ok()) return sink.out;
    // An object in a bucket that is gone is absent too.
    if (r.status().code() == Code::kNotFound || r.status().code() == Code::kBucketNotFound)
      return kAbsent;
    return "<error: " + r.status().ToString() + ">";
  }
  // "yes", "no" or "<error: ...>".
  std::string Bucket(const std::string& bucket) {
    Status s = set_->BucketExists(bucket);
    if (s.ok()) return "yes";
    if (s.code() == Code::kBucketNotFound) return "no";
    return "<error: " + s.ToString() + ">";
  }
  Result<ScanSummary> Scan(bool heal, Silent* obs, const std::string& bucket = "") {
    SetScanOptions o;
    o.heal = heal;
    o.deep = true;
    o.jobs = 1;
    o.bucket = bucket;
    o.journal_every_ms = 0;  // journal after every object: more crash points in the journal
    return ScanSet(*set_, o, *obs);
  }
  Result<GcReport> Gc() {
    GcOptions o;
    o.older_than_ns = 0;
    return set_->CollectGarbage(o, nullptr);
  }
  // Paths of every file below dir on member i.
  std::vector<std::string> Files(uint32_t i, const std::string& dir) {
    std::vector<std::string> out;
    auto entries = vols_[i]->ListDir(dir);
    if (!entries.ok()) return out;
    for (const auto& e : *entries) {
      std::string p = dir.empty() ? e.name : dir + "/" + e.name;
      if (e.is_dir()) {
        auto sub = Files(i, p);
        out.insert(out.end(), sub.begin(), sub.end());
      } else {
        out.push_back(p);
      }
    }
    return out;
  }

 private:
  SetParams params_;
  VolumeFormat format_;
  std::vector<std::unique_ptr<CrashVolume>> vols_;
  std::unique_ptr<ErasureSet> set_;
};

// What one object may look like after the crash: its body before the operation and after it
// (kAbsent: no such object).
struct ObjectExpect {
  std::string bucket, key;
  std::string before, after;
};
struct BucketExpect {
  std::string bucket;
  bool before = false, after = false;
};

struct Scenario {
  std::string name;
  Layout layout;
  std::function<void(Machine&)> setup;
  // The operation under test. Whatever it returns while the power is on counts as returned.
  std::function<Status(Machine&)> op;
  std::vector<ObjectExpect> objects;
  std::vector<BucketExpect> buckets;
  // More checks right after the crash (before heal): a failure description or "".
  std::function<std::string(Machine&, bool returned_ok)> extra;
};

// The framed blocks of one shard of a version, from any readable file: all whole and checksummed.
bool ShardIsWhole(ReadableFile& f, const ObjectMeta& meta) {
  auto size = f.Size();
  if (!size.ok() || *size != meta.shard_size) return false;
  StripeLayout lay{meta.size, meta.block_size, meta.k};
  std::string buf(lay.full_chunk_len() + kChecksumLen, '\0');
  for (uint64_t b = 0; b < lay.num_blocks(); ++b) {
    ChunkRead r = ReadFramed(f, lay.shard_offset(b), lay.chunk_len(b), 0,
                             reinterpret_cast<uint8_t*>(buf.data()));
    if (r.state != ChunkState::kGood) return false;
  }
  return true;
}

// A crash may leave a write half done across members, but never a torn file: each of these is
// renamed into place only once its bytes are durable, so each is whole or absent. Checks every
// metadata copy (it decodes), the shard file each names (there, its full length, every block
// checksummed), inline shards, bucket records, MRF entries and format files. Returns what is torn.
std::string TornFile(Machine& m) {
  for (uint32_t i = 0; i < m.n(); ++i) {
    CrashVolume& v = m.vol(i);
    const std::string on = " on member " + std::to_string(i);
    auto format = v.ReadFile(kFormatPath, kMaxFormatFileSize);
    if (!format.ok() || !VolumeFormat::Decode(*format).ok()) return std::string(kFormatPath) + on;
    auto mrf = v.ListDir(kMrfDir);
    for (const auto& e : mrf.ok() ? *mrf : std::vector<DirEntry>{}) {
      auto raw = v.ReadFile(std::string(kMrfDir) + "/" + e.name, 1 << 16);
      if (!raw.ok() || !MrfEntry::Decode(*raw).ok()) return "MRF entry " + e.name + on;
    }
    std::vector<std::string> dirs;
    auto top = v.ListDir("");
    for (const auto& e : top.ok() ? *top : std::vector<DirEntry>{}) {
      if (!e.is_dir() || e.name == kSysDir) continue;
      dirs.push_back(e.name);
      auto record = v.ReadFile(BucketMetaPath(e.name), 64);
      if (record.ok() && !BucketMeta::Decode(*record).ok()) return BucketMetaPath(e.name) + on;
    }
    while (!dirs.empty()) {
      const std::string dir = dirs.back();
      dirs.pop_back();
      auto entries = v.ListDir(dir);
      for (const auto& e : entries.ok() ? *entries : std::vector<DirEntry>{}) {
        const std::string path = dir + "/" + e.name;
        if (e.is_dir()) {
          dirs.push_back(path);
          continue;
        }
        if (e.name.back() != '=') continue;  // shard files are checked from their metadata
        auto raw = v.ReadFile(path, kMaxMetaFileSize);
        auto meta = raw.ok() ? ObjectMeta::Decode(*raw) : Result<ObjectMeta>(raw.status());
        if (!meta.ok()) return "metadata " + path + on + ": " + meta.status().ToString();
        if (meta->is_inline()) {
          StringFile f(meta->inline_shard);
          if (!ShardIsWhole(f, *meta)) return "the inline shard of " + path + on;
          continue;
        }
        if (meta->is_multipart()) {
          // Each part's shard file, in the upload's staging directory, as a shard of its size.
          for (const ObjectPart& p : meta->parts) {
            ObjectMeta part = *meta;
            part.size = p.size;
            part.shard_size = p.shard_size;
            auto f = v.NewReadableFile(PartShardPath(meta->data_id, p.data_id));
            if (!f.ok() || !ShardIsWhole(**f, part)) {
              return "part " + std::to_string(p.number) + " named by " + path + on;
            }
          }
          continue;
        }
        const std::string shard = path + meta->data_id.Hex();
        if (m.damaged.count(std::to_string(i) + "/" + shard)) continue;
        auto f = v.NewReadableFile(shard);
        if (!f.ok() || !ShardIsWhole(**f, *meta)) return "the shard named by " + path + on;
      }
    }
  }
  return "";
}

// Failures of one scenario. fatal: a torn file, wrong bytes, an object absent that must be
// there, an operation that returned OK but did not last, work lost by heal or gc, temp files
// left by gc. gaps: a half-done operation that reads fail on, or that heal does not finish
// (verify after heal not clean): the commit protocol's business, not durability's. Both fail.
struct Failures {
  std::vector<std::string> fatal, gaps;
};

// Checks the invariants on a machine that just crashed.
void CheckAfterCrash(Machine& m, const Scenario& sc, bool returned_ok, const std::string& where,
                     Failures* out) {
  auto fatal = [&](const std::string& what) { out->fatal.push_back(where + ": " + what); };
  auto gap = [&](const std::string& what) { out->gaps.push_back(where + ": " + what); };
  if (std::string torn = TornFile(m); !torn.empty()) fatal("a torn file: " + torn);
  // Reads every object; readable[i] is whether object i read as one of its versions.
  auto check_objects = [&](const char* phase, std::vector<bool>* readable) {
    readable->assign(sc.objects.size(), false);
    for (size_t i = 0; i < sc.objects.size(); ++i) {
      const ObjectExpect& o = sc.objects[i];
      const std::string got = m.Get(o.bucket, o.key);
      const std::string what =
          std::string(phase) + ": " + o.bucket + "/" + o.key + " reads as " + Describe(got) +
          ", want " + Describe(o.after) +
          (returned_ok ? " (the operation returned OK)" : " or " + Describe(o.before));
      if (got == o.after || (!returned_ok && got == o.before)) {
        (*readable)[i] = true;
      } else if (got.rfind("<error", 0) == 0 && !returned_ok) {
        gap(what);  // a write cut off half way, not yet settled
      } else {
        fatal(what);
      }
    }
    for (const auto& b : sc.buckets) {
      const std::string got = m.Bucket(b.bucket);
      const std::string want = b.after ? "yes" : "no", old = b.before ? "yes" : "no";
      if (got == want || (!returned_ok && got == old)) continue;
      const std::string what = std::string(phase) + ": bucket " + b.bucket + " exists: " + got +
                               ", want " + want +
                               (returned_ok ? " (the operation returned OK)" : " or " + old);
      if (got.rfind("<error", 0) == 0 && !returned_ok)
        gap(what);
      else
        fatal(what);
    }
  };
  // Whatever read before must still read.
  auto no_worse = [&](const char* who, const std::vector<bool>& before,
                      const std::vector<bool>& after) {
    for (size_t i = 0; i < before.size(); ++i) {
      if (before[i] && !after[i]) {
        fatal(std::string(who) + " lost " + sc.objects[i].bucket + "/" + sc.objects[i].key);
      }
    }
  };
  std::vector<bool> crashed, healed, collected;
  check_objects("after the crash", &crashed);
  if (sc.extra) {
    std::string e = sc.extra(m, returned_ok);
    if (!e.empty()) fatal(e);
  }
  Silent heal_obs(true);
  auto heal = m.Scan(true, &heal_obs);
  if (!heal.ok()) {
    fatal("heal failed: " + heal.status().ToString());
    return;
  }
  Silent verify_obs(false);
  auto verify = m.Scan(false, &verify_obs);
  if (!verify.ok()) {
    fatal("verify failed: " + verify.status().ToString());
  } else if (verify->degraded + verify->unrecoverable + verify->dangling_buckets +
                 verify->unfinished_buckets >
             0) {
    std::string lines;
    for (const auto& l : verify_obs.lines) lines += "; " + l;
    gap("verify after heal is not clean" + lines);
  }
  check_objects("after heal", &healed);
  no_worse("heal", crashed, healed);
  auto gc = m.Gc();
  if (!gc.ok()) {
    fatal("gc failed: " + gc.status().ToString());
    return;
  }
  for (uint32_t i = 0; i < m.n(); ++i) {
    auto left = m.Files(i, kTmpDir);
    if (!left.empty()) fatal("gc left " + left.front() + " on member " + std::to_string(i));
    // Once heal settled every object, no copy a commit moved aside is needed, and gc takes them.
    for (const auto& f : m.Files(i, "")) {
      if (f.size() > 5 && f.compare(f.size() - 5, 5, ObjectPaths::kDisplacedSuffix) == 0) {
        fatal("gc left the displaced copy " + f + " on member " + std::to_string(i));
      }
    }
  }
  check_objects("after gc", &collected);
  no_worse("gc", healed, collected);
}

// Runs the scenario cut off at every call, in every mode.
Failures RunScenario(const Scenario& sc, uint64_t* points = nullptr) {
  uint64_t total = 0;
  {
    Machine m(sc.layout);
    if (sc.setup) sc.setup(m);
    m.Settle();
    m.power.Reset();
    Status s = sc.op(m);
    INFO(sc.name << ": the uninterrupted operation: " << s.ToString());
    REQUIRE(s.ok());
    total = m.power.calls();
  }
  Failures failures;
  for (uint64_t n = 0; n <= total; ++n) {
    for (CrashMode mode : kModes) {
      Machine m(sc.layout);
      if (sc.setup) sc.setup(m);
      m.Settle();
      m.power.ArmAt(n);
      Status s = sc.op(m);
      const bool returned_ok = s.ok() && !m.power.tripped();
      const uint64_t seed = n * 7919 + 1;
      m.Crash(mode, seed);
      const std::string where =
          sc.name + ", crash at call " + std::to_string(n) + " of " + std::to_string(total) + ", " +
          CrashModeName(mode) +
          (mode == CrashMode::kPartial ? " seed " + std::to_string(seed) : "");
      CheckAfterCrash(m, sc, returned_ok, where, &failures);
    }
  }
  if (points) *points = total + 1;
  return failures;
}

void Log(const std::vector<std::string>& lines, const char* kind) {
  const char* log = std::getenv("CAIRN_CRASH_LOG");
  if (log == nullptr || lines.empty()) return;
  if (FILE* f = std::fopen(log, "a")) {
    for (const auto& l : lines) std::fprintf(f, "%s: %s\n", kind, l.c_str());
    std::fclose(f);
  }
}

std::string FirstLines(const std::vector<std::string>& lines) {
  std::string text;
  for (size_t i = 0; i < lines.size() && i < 20; ++i) text += lines[i] + "\n";
  if (lines.size() > 20) text += "... and " + std::to_string(lines.size() - 20) + " more\n";
  return text;
}

// Every failure fails the test; each, one a line, also goes to the file CAIRN_CRASH_LOG names.
void RequireNoFailures(const Failures& f) {
  std::vector<std::string> all = f.fatal;
  all.insert(all.end(), f.gaps.begin(), f.gaps.end());
  Log(f.fatal, "fatal");
  Log(f.gaps, "gap");
  INFO(FirstLines(all));
  CHECK(all.empty());
}

// ------------------------------------------------------------------------------------------------

const std::string kSmallOld = RandomBytes(100, 1);
const std::string kSmallNew = RandomBytes(300, 2);
const std::string kBigOld = RandomBytes(9000, 3);   // 3 blocks of 4 KiB
const std::string kBigNew = RandomBytes(13000, 4);  // 4 blocks

Scenario PutScenario(const std::string& name, const Layout& l, const std::string& key,
                     const std::string& old_body, const std::string& new_body) {
  Scenario sc;
  sc.name = name;
  sc.layout = l;
  sc.setup = [=](Machine& m) {
    REQUIRE(m.set().MakeBucket("bkt").ok());
    REQUIRE(m.Put("bkt", "other", kSmallOld).ok());
    if (old_body != kAbsent) {
      // Twice, so the set holds a spare temp file (the old metadata swapped out) that the
      // operation reuses.
      REQUIRE(m.Put("bkt", key, RandomBytes(old_body.size(), 99)).ok());
      REQUIRE(m.Put("bkt", key, old_body).ok());
    }
  };
  sc.op = [=](Machine& m) { return m.Put("bkt", key, new_body); };
  sc.objects = {{"bkt", key, old_body, new_body}, {"bkt", "other", kSmallOld, kSmallOld}};
  return sc;
}

TEST_CASE("crash: put of a new object (inline and not)", "[crash]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    for (const auto& body : {kSmallNew, kBigNew}) {
      uint64_t points = 0;
      std::string name = "put new " + std::to_string(body.size()) + " bytes, " +
                         std::to_string(l.k) + "+" + std::to_string(l.m);
      RequireNoFailures(RunScenario(PutScenario(name, l, "dir/new", kAbsent, body), &points));
      CHECK(points > 10);
    }
  }
}

TEST_CASE("crash: put over an existing object (inline and not)", "[crash]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    const std::string ec = ", " + std::to_string(l.k) + "+" + std::to_string(l.m);
    RequireNoFailures(
        RunScenario(PutScenario("overwrite inline" + ec, l, "o", kSmallOld, kSmallNew)));
    RequireNoFailures(RunScenario(PutScenario("overwrite big" + ec, l, "o", kBigOld, kBigNew)));
    RequireNoFailures(RunScenario(PutScenario("inline over big" + ec, l, "o", kBigOld, kSmallNew)));
    RequireNoFailures(RunScenario(PutScenario("big over inline" + ec, l, "o", kSmallOld, kBigNew)));
  }
}

// A multipart Complete over an existing object: the upload (one part, the last part may be of any
// size) is made by the setup; the operation only commits the metadata naming it.
Scenario CompleteScenario(const Layout& l, const std::string& old_body) {
  Scenario sc;
  sc.name = "multipart complete over " + std::to_string(old_body.size()) + " bytes, " +
            std::to_string(l.k) + "+" + std::to_string(l.m);
  sc.layout = l;
  auto upload = std::make_shared<std::string>();
  auto etag = std::make_shared<std::string>();
  sc.setup = [=](Machine& m) {
    REQUIRE(m.set().MakeBucket("bkt").ok());
    REQUIRE(m.Put("bkt", "other", kSmallOld).ok());
    REQUIRE(m.Put("bkt", "o", old_body).ok());
    auto u = m.set().CreateMultipartUpload("bkt", "o", {});
    REQUIRE(u.ok());
    *upload = u->upload_id;
    StringSource src(kBigNew, 1000);
    auto p = m.set().UploadPart("bkt", "o", *upload, 1, src, {});
    REQUIRE(p.ok());
    *etag = p->etag;
  };
  sc.op = [=](Machine& m) {
    return m.set().CompleteMultipartUpload("bkt", "o", *upload, {{1, *etag, ""}}, {}).status();
  };
  sc.objects = {{"bkt", "o", old_body, kBigNew}, {"bkt", "other", kSmallOld, kSmallOld}};
  return sc;
}

TEST_CASE("crash: multipart complete", "[crash][multipart]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    RequireNoFailures(RunScenario(CompleteScenario(l, kSmallOld)));
    RequireNoFailures(RunScenario(CompleteScenario(l, kBigOld)));
  }
}

// An UploadPart, of a new part and over one uploaded before. After the crash the part is whole or
// absent (or, when replaced and not yet answered, the previous one): its record never names shard
// data that the crash could take. Checked by completing the upload with what ListParts reports
// and reading the object back.
Scenario UploadPartScenario(const Layout& l, bool replace) {
  Scenario sc;
  sc.name = std::string("multipart upload part") + (replace ? " over a previous one" : "") + ", " +
            std::to_string(l.k) + "+" + std::to_string(l.m);
  sc.layout = l;
  auto upload = std::make_shared<std::string>();
  sc.setup = [=](Machine& m) {
    REQUIRE(m.set().MakeBucket("bkt").ok());
    auto u = m.set().CreateMultipartUpload("bkt", "o", {});
    REQUIRE(u.ok());
    *upload = u->upload_id;
    if (replace) {
      StringSource src(kBigOld, 1000);
      REQUIRE(m.set().UploadPart("bkt", "o", *upload, 1, src, {}).ok());
    }
  };
  sc.op = [=](Machine& m) {
    StringSource src(kBigNew, 1000);
    return m.set().UploadPart("bkt", "o", *upload, 1, src, {}).status();
  };
  sc.extra = [=](Machine& m, bool returned_ok) -> std::string {
    auto listed = m.set().ListParts("bkt", "o", *upload, {});
    if (!listed.ok()) return "ListParts after the crash: " + listed.status().ToString();
    if (listed->parts.empty()) {
      return returned_ok || replace ? "part 1 is not listed after the crash" : "";
    }
    const std::string etag = listed->parts[0].etag;
    auto done = m.set().CompleteMultipartUpload("bkt", "o", *upload, {{1, etag, ""}}, {});
    if (!done.ok()) return "Complete with the listed part 1: " + done.status().ToString();
    const std::string got = m.Get("bkt", "o");
    if (got == kBigNew || (!returned_ok && replace && got == kBigOld)) return "";
    return "the object made of the listed part 1 reads as " + Describe(got) + ", want " +
           Describe(kBigNew) + (returned_ok ? " (UploadPart returned OK)" : "");
  };
  return sc;
}

TEST_CASE("crash: multipart upload part", "[crash][multipart]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    RequireNoFailures(RunScenario(UploadPartScenario(l, false)));
    RequireNoFailures(RunScenario(UploadPartScenario(l, true)));
  }
}

// A PUT over a multipart object: until the PUT commits, gc (run after each crash) must keep the
// multipart object's data; after, it takes it.
TEST_CASE("crash: put over a multipart object", "[crash][multipart]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    Scenario sc;
    sc.name = "put over multipart, " + std::to_string(l.k) + "+" + std::to_string(l.m);
    sc.layout = l;
    sc.setup = [](Machine& m) {
      REQUIRE(m.set().MakeBucket("bkt").ok());
      auto u = m.set().CreateMultipartUpload("bkt", "o", {});
      REQUIRE(u.ok());
      StringSource src(kBigOld, 1000);
      auto p = m.set().UploadPart("bkt", "o", u->upload_id, 1, src, {});
      REQUIRE(p.ok());
      REQUIRE(m.set().CompleteMultipartUpload("bkt", "o", u->upload_id, {{1, p->etag, ""}}, {})
                  .ok());
    };
    sc.op = [](Machine& m) { return m.Put("bkt", "o", kBigNew); };
    sc.objects = {{"bkt", "o", kBigOld, kBigNew}};
    RequireNoFailures(RunScenario(sc));
  }
}

Scenario RmScenario(const Layout& l, const std::string& body) {
  Scenario sc;
  sc.name = "rm of " + std::to_string(body.size()) + " bytes, " + std::to_string(l.k) + "+" +
            std::to_string(l.m);
  sc.layout = l;
  sc.setup = [=](Machine& m) {
    REQUIRE(m.set().MakeBucket("bkt").ok());
    REQUIRE(m.Put("bkt", "a/other", kSmallOld).ok());
    REQUIRE(m.Put("bkt", "a/b/c/obj", body).ok());  // its key directories go with it
  };
  sc.op = [](Machine& m) { return m.set().DeleteObject("bkt", "a/b/c/obj"); };
  sc.objects = {{"bkt", "a/b/c/obj", body, kAbsent}, {"bkt", "a/other", kSmallOld, kSmallOld}};
  return sc;
}

TEST_CASE("crash: rm", "[crash]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    RequireNoFailures(RunScenario(RmScenario(l, kSmallOld)));
    RequireNoFailures(RunScenario(RmScenario(l, kBigOld)));
  }
}

// Every member's bucket.meta holds a creation time (what ListBuckets reports).
std::string BucketMetaEverywhere(Machine& m, const std::string& bucket) {
  for (uint32_t i = 0; i < m.n(); ++i) {
    auto raw = m.vol(i).ReadFile(BucketMetaPath(bucket), 64);
    Status s = raw.ok() ? BucketMeta::Decode(*raw).status() : raw.status();
    if (!s.ok()) {
      return "member " + std::to_string(i) + " has no valid " + BucketMetaPath(bucket) + " (" +
             s.ToString() + ")";
    }
  }
  return "";
}

TEST_CASE("crash: mb and rb", "[crash]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    const std::string ec = std::to_string(l.k) + "+" + std::to_string(l.m);
    Scenario mb;
    mb.name = "mb, " + ec;
    mb.layout = l;
    mb.setup = [](Machine& m) { REQUIRE(m.set().MakeBucket("old").ok()); };
    mb.op = [](Machine& m) { return m.set().MakeBucket("new"); };
    mb.buckets = {{"new", false, true}, {"old", true, true}};
    mb.extra = [](Machine& m, bool returned_ok) {
      return returned_ok ? BucketMetaEverywhere(m, "new") : std::string();
    };
    RequireNoFailures(RunScenario(mb));

    Scenario rb;
    rb.name = "rb --force, " + ec;
    rb.layout = l;
    rb.setup = [](Machine& m) {
      REQUIRE(m.set().MakeBucket("keep").ok());
      REQUIRE(m.set().MakeBucket("gone").ok());
      REQUIRE(m.Put("keep", "x", kSmallOld).ok());
      REQUIRE(m.Put("gone", "x", kSmallOld).ok());
      REQUIRE(m.Put("gone", "d/y", kBigOld).ok());
    };
    rb.op = [](Machine& m) { return m.set().RemoveBucket("gone", true); };
    rb.buckets = {{"gone", true, false}, {"keep", true, true}};
    rb.objects = {{"keep", "x", kSmallOld, kSmallOld},
                  {"gone", "x", kSmallOld, kAbsent},
                  {"gone", "d/y", kBigOld, kAbsent}};
    RequireNoFailures(RunScenario(rb));
  }
}

// The objects every heal scenario starts from.
void PutMany(Machine& m) {
  REQUIRE(m.set().MakeBucket("bkt").ok());
  REQUIRE(m.Put("bkt", "small", kSmallOld).ok());
  REQUIRE(m.Put("bkt", "big", kBigOld).ok());
  REQUIRE(m.Put("bkt", "d/e/small", kSmallNew).ok());
  REQUIRE(m.Put("bkt", "d/e/big", kBigNew).ok());
}
std::vector<ObjectExpect> Many() {
  return {{"bkt", "small", kSmallOld, kSmallOld},
          {"bkt", "big", kBigOld, kBigOld},
          {"bkt", "d/e/small", kSmallNew, kSmallNew},
          {"bkt", "d/e/big", kBigNew, kBigNew}};
}

// After a heal that returned OK, nothing is left for the next heal to do.
std::string HealWasDurable(Machine& m, bool returned_ok) {
  if (!returned_ok) return "";
  Silent obs(false);
  auto v = m.Scan(false, &obs);
  if (!v.ok()) return "verify: " + v.status().ToString();
  if (v->degraded + v->unrecoverable + v->dangling_buckets + v->unfinished_buckets == 0) return "";
  std::string lines;
  for (const auto& l : obs.lines) lines += "; " + l;
  return "the heal returned OK, yet verify finds" + lines;
}

TEST_CASE("crash: heal of a replaced member", "[crash]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    Scenario sc;
    sc.name = "heal of a replaced member, " + std::to_string(l.k) + "+" + std::to_string(l.m);
    sc.layout = l;
    sc.setup = [](Machine& m) {
      PutMany(m);
      m.Replace(1);
    };
    sc.op = [](Machine& m) {
      Silent obs(true);
      auto r = m.Scan(true, &obs);
      SetScanOptions o;
      o.heal = true;
      return r.ok() ? ScanVerdict(o, *r) : r.status();
    };
    sc.objects = Many();
    sc.extra = HealWasDurable;
    RequireNoFailures(RunScenario(sc));
  }
}

// Flips one byte of a file on member i, durably.
void Damage(Machine& m, uint32_t i, const std::string& path, size_t offset) {
  CrashVolume& v = m.vol(i);
  m.damaged.insert(std::to_string(i) + "/" + path);
  auto raw = v.ReadFile(path, 1 << 20);
  REQUIRE(raw.ok());
  REQUIRE(offset < raw->size());
  (*raw)[offset] ^= 0x5a;
  REQUIRE(v.OverwriteFile(path, *raw).ok());
  REQUIRE(v.SyncAll().ok());
}

// The path of bucket/key's shard file on member i.
std::string ShardOf(Machine& m, uint32_t i, const std::string& bucket, const std::string& key) {
  const ObjectPaths p = KeyPaths(bucket, key);
  auto raw = m.vol(i).ReadFile(p.meta, 1 << 20);
  REQUIRE(raw.ok());
  auto meta = ObjectMeta::Decode(*raw);
  REQUIRE(meta.ok());
  return p.ShardPath(meta->data_id.Hex());
}

TEST_CASE("crash: heal of a corrupt shard and a lost metadata copy", "[crash]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    Scenario sc;
    sc.name = "heal of damage, " + std::to_string(l.k) + "+" + std::to_string(l.m);
    sc.layout = l;
    sc.setup = [](Machine& m) {
      PutMany(m);
      Damage(m, 0, ShardOf(m, 0, "bkt", "d/e/big"), 100);
      REQUIRE(m.vol(1).Remove(KeyPaths("bkt", "small").meta).ok());
      REQUIRE(m.vol(1).SyncAll().ok());
    };
    sc.op = [](Machine& m) {
      CheckOptions co;
      Status s;
      for (const char* key : {"d/e/big", "small"}) {
        auto h = m.set().HealObject("bkt", key, co);
        if (!h.ok()) return h.status();
        if (h->action != ObjectHealth::Action::kHealed)
          s = IOError(std::string(key) + ": not healed");
      }
      return s;
    };
    sc.objects = Many();
    sc.extra = HealWasDurable;
    RequireNoFailures(RunScenario(sc));
  }
}

TEST_CASE("crash: heal finishing a delete that missed a member", "[crash]") {
  // The delete reached every member but one (offline): its markers stay, and the member that
  // missed it still holds the old version. Heal removes that copy and then the markers: a crash
  // anywhere must not bring the object back, and once heal returned OK it must stay finished.
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    for (const auto& body : {kSmallOld, kBigOld}) {
      Scenario sc;
      sc.name = "heal finishing a delete of " + std::to_string(body.size()) + " bytes, " +
                std::to_string(l.k) + "+" + std::to_string(l.m);
      sc.layout = l;
      sc.setup = [body](Machine& m) {
        REQUIRE(m.set().MakeBucket("bkt").ok());
        REQUIRE(m.Put("bkt", "a/keep", kSmallNew).ok());
        REQUIRE(m.Put("bkt", "a/b/gone", body).ok());
        m.Open({1});
        REQUIRE(m.set().DeleteObject("bkt", "a/b/gone").ok());
        m.Open();
      };
      sc.op = [](Machine& m) {
        auto h = m.set().HealObject("bkt", "a/b/gone", CheckOptions());
        if (!h.ok()) return h.status();
        if (h->action != ObjectHealth::Action::kFinishedDelete || h->after != Health::kHealthy) {
          return IOError(std::string("not finished: ") + Name(h->after));
        }
        return Status::Ok();
      };
      sc.objects = {{"bkt", "a/b/gone", kAbsent, kAbsent}, {"bkt", "a/keep", kSmallNew, kSmallNew}};
      sc.extra = HealWasDurable;
      RequireNoFailures(RunScenario(sc));
    }
  }
}

TEST_CASE("crash: a put that misses a member is journaled (MRF)", "[crash]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    for (const auto& body : {kSmallNew, kBigNew}) {
      Scenario sc = PutScenario("put with a member offline, " + std::to_string(body.size()) +
                                    " bytes, " + std::to_string(l.k) + "+" + std::to_string(l.m),
                                l, "k", kBigOld, body);
      auto base = sc.setup;
      sc.setup = [base](Machine& m) {
        base(m);
        m.Open({2});
      };
      sc.extra = [](Machine& m, bool returned_ok) -> std::string {
        if (!returned_ok) return "";
        auto mrf = m.set().ListMrf();
        if (!mrf.ok()) return "ListMrf: " + mrf.status().ToString();
        for (const auto& e : *mrf) {
          if (e.bucket == "bkt" && e.key == "k" && e.positions == std::vector<uint32_t>{2}) {
            return "";
          }
        }
        return "the put returned OK but its MRF entry is gone";
      };
      RequireNoFailures(RunScenario(sc));
    }
  }
}

TEST_CASE("crash: gc cut off anywhere removes nothing an object needs", "[crash]") {
  for (const Layout& l : {Layout{2, 1}, Layout{4, 2}}) {
    Scenario sc;
    sc.name = "gc, " + std::to_string(l.k) + "+" + std::to_string(l.m);
    sc.layout = l;
    sc.setup = [](Machine& m) {
      PutMany(m);
      for (uint32_t i = 0; i < m.n(); ++i) {
        CrashVolume& v = m.vol(i);
        // A dead write's temp files, an orphan shard, an empty key directory, a trash directory.
        REQUIRE(v.WriteFile(TempName(kTmpDir, ".shard"), "x", false).ok());
        REQUIRE(
            v.WriteFile(KeyPaths("bkt", "big").ShardPath(Uuid::Random().Hex()), "y", false).ok());
        REQUIRE(v.MakeDirs("bkt/empty~/dir~").ok());
        REQUIRE(v.MakeDirs(TempName(kTmpDir, ".rb") + "/b~").ok());
      }
    };
    sc.op = [](Machine& m) { return m.Gc().status(); };
    sc.objects = Many();
    RequireNoFailures(RunScenario(sc));
  }
}

// Cuts the power when the n-th object is reported (after that object is committed, before the
// journal records it).
class PowerCut : public ScanObserver {
 public:
  PowerCut(PowerSwitch* power, int n) : power_(power), n_(n) {}
  void Object(const ObjectHealth&) override {
    if (++seen_ == n_) power_->ArmAt(0);
  }

 private:
  PowerSwitch* power_;
  int n_, seen_ = 0;
};

TEST_CASE("crash: the heal journal is durable, and so is its removal", "[crash]") {
  Machine m(Layout{2, 1});
  PutMany(m);
  for (int i = 0; i < 6; ++i) REQUIRE(m.Put("bkt", "more/" + std::to_string(i), kBigOld).ok());
  m.Replace(1);
  m.Settle();
  SECTION("a heal cut off by a power loss resumes from its last journal entry") {
    PowerCut cut(&m.power, 5);
    SetScanOptions o;
    o.heal = true;
    o.jobs = 1;
    o.journal_every_ms = 0;
    auto first = ScanSet(m.set(), o, cut);
    REQUIRE(m.power.tripped());
    m.Crash(CrashMode::kPowerLoss, 1);
    Silent obs(true);
    auto again = m.Scan(true, &obs);
    REQUIRE(again.ok());
    CHECK(again->resumed_from != "");
    Silent verify(false);
    auto v = m.Scan(false, &verify);
    REQUIRE(v.ok());
    CHECK(v->degraded + v->unrecoverable == 0);
  }
  SECTION("a heal that finished leaves no journal behind, even after a power loss") {
    Silent obs(true);
    auto done = m.Scan(true, &obs);
    REQUIRE(done.ok());
    m.Crash(CrashMode::kPowerLoss, 1);
    Silent obs2(true);
    auto again = m.Scan(true, &obs2);
    REQUIRE(again.ok());
    // A journal back from the dead would make this heal skip every object before its mark.
    CHECK(again->resumed_from == "");
    CHECK(again->scanned == 10);
  }
}

// ------------------------------------------------------------------------------------------------
// Shard files (encode, repair): the same model, one volume.

const std::string kFileBody = RandomBytes(10000, 7);  // 3 blocks of 4 KiB, the last one short

EncodeOptions ShardOptions() {
  EncodeOptions o;
  o.k = 2;
  o.m = 1;
  o.block_size = 4096;
  o.name = "f.bin";
  return o;
}

// The shard files under their final names in dir.
std::vector<std::string> ShardFiles(CrashVolume& v, const std::string& dir) {
  std::vector<std::string> out;
  auto entries = v.ListDir(dir);
  for (const auto& e : entries.ok() ? *entries : std::vector<DirEntry>{}) {
    if (!e.is_dir() && e.name[0] != '.') out.push_back(dir + "/" + e.name);
  }
  return out;
}

// What a crash left of an encode in "out": every shard file under its final name is whole, and
// whatever is there decodes to the file or says it cannot. complete: all K+M must be there.
std::string CheckShards(CrashVolume& v, bool complete, const std::set<std::string>& damaged = {}) {
  auto files = ShardFiles(v, "out");
  if (files.empty()) return complete ? "no shard files" : "";
  auto scan = ScanShards(v, files);
  if (!scan.ok()) return "scan: " + scan.status().ToString();
  for (const auto& f : scan->files) {
    if (f.role == ShardRole::kBadHeader && !damaged.count(f.path)) {
      return f.path + " has no usable header (" + f.header_status.ToString() + "): torn";
    }
  }
  auto set = OnlySet(*scan);
  if (!set.ok()) return "sets: " + set.status().ToString();
  auto report = VerifySet(v, *scan, *set);
  if (!report.ok()) return "verify: " + report.status().ToString();
  for (const auto& sh : report->shards) {
    if (sh.state == ShardFileState::kMissing && !complete) continue;
    if (sh.state != ShardFileState::kOk && !damaged.count(sh.path)) {
      return sh.path + " is " + std::string(Name(sh.state)) + ": torn";
    }
  }
  StringSink sink;
  Status d = DecodeShards(v, *scan, *set, sink);
  if (d.ok() && sink.out != kFileBody) return "decoded to other bytes";
  const bool recoverable = report->verdict <= SetVerdict::kDegraded;
  if (!d.ok() && (complete || recoverable)) return "decode: " + d.ToString();
  return "";
}

TEST_CASE("crash: encode", "[crash]") {
  auto run = [](CrashVolume& v) {
    StringSource src(kFileBody, 3000);
    return EncodeShards(v, "out", src, ShardOptions()).status();
  };
  uint64_t total = 0;
  {
    PowerSwitch power;
    CrashVolume v("enc", &power);
    REQUIRE(v.MakeDirs("out").ok());
    REQUIRE(v.SyncAll().ok());
    power.ArmAt(UINT64_MAX);
    REQUIRE(run(v).ok());
    total = power.calls();
  }
  Failures failures;
  for (uint64_t n = 0; n <= total; ++n) {
    for (CrashMode mode : kModes) {
      PowerSwitch power;
      CrashVolume v("enc", &power);
      REQUIRE(v.MakeDirs("out").ok());
      REQUIRE(v.SyncAll().ok());
      power.ArmAt(n);
      Status s = run(v);
      const bool returned_ok = s.ok() && !power.tripped();
      power.ArmAt(0);
      v.Crash(mode, n);
      power.Reset();
      std::string e = CheckShards(v, returned_ok);
      if (!e.empty()) {
        failures.fatal.push_back("encode, crash at call " + std::to_string(n) + " of " +
                                 std::to_string(total) + ", " + CrashModeName(mode) + ": " + e);
      }
    }
  }
  RequireNoFailures(failures);
}

TEST_CASE("crash: repair", "[crash]") {
  // A missing shard (repair creates it) or a shard with a flipped byte (repair renames a new one
  // over it).
  for (bool missing : {true, false}) {
    auto setup = [missing](CrashVolume& v) {
      REQUIRE(v.MakeDirs("out").ok());
      StringSource src(kFileBody);
      auto enc = EncodeShards(v, "out", src, ShardOptions());
      REQUIRE(enc.ok());
      std::string damaged;
      if (missing) {
        REQUIRE(v.Remove(enc->files[2]).ok());
      } else {
        damaged = enc->files[1];
        auto raw = v.ReadFile(damaged, 1 << 20);
        REQUIRE(raw.ok());
        (*raw)[raw->size() - 20] ^= 1;
        REQUIRE(v.OverwriteFile(damaged, *raw).ok());
      }
      REQUIRE(v.SyncAll().ok());
      return damaged;
    };
    auto run = [](CrashVolume& v) {
      auto scan = ScanShards(v, {"out"});
      if (!scan.ok()) return scan.status();
      auto set = OnlySet(*scan);
      if (!set.ok()) return set.status();
      return RepairShards(v, *scan, *set).status();
    };
    uint64_t total = 0;
    {
      PowerSwitch power;
      CrashVolume v("rep", &power);
      setup(v);
      power.ArmAt(UINT64_MAX);
      Status s = run(v);
      INFO(s.ToString());
      REQUIRE(s.ok());
      total = power.calls();
      REQUIRE(CheckShards(v, true) == "");
    }
    Failures failures;
    for (uint64_t n = 0; n <= total; ++n) {
      for (CrashMode mode : kModes) {
        PowerSwitch power;
        CrashVolume v("rep", &power);
        const std::string damaged = setup(v);
        power.ArmAt(n);
        Status s = run(v);
        const bool returned_ok = s.ok() && !power.tripped();
        power.ArmAt(0);
        v.Crash(mode, n);
        power.Reset();
        // Until repair renamed its copy over it, the damaged shard is as the test left it.
        std::string e = CheckShards(
            v, returned_ok, returned_ok ? std::set<std::string>{} : std::set<std::string>{damaged});
        if (!e.empty()) {
          failures.fatal.push_back(std::string("repair of a ") + (missing ? "missing" : "corrupt") +
                                   " shard, crash at call " + std::to_string(n) + " of " +
                                   std::to_string(total) + ", " + CrashModeName(mode) + ": " + e);
        }
      }
    }
    RequireNoFailures(failures);
  }
}

TEST_CASE("crash: format files", "[crash]") {
  VolumeFormat f;
  f.set_id = Uuid::Random();
  f.k = 2;
  f.m = 1;
  f.block_size = 4096;
  f.inline_limit = 1024;
  for (int i = 0; i < 3; ++i) f.members.push_back({Uuid::Random(), "/m" + std::to_string(i)});
  uint64_t total = 0;
  {
    PowerSwitch power;
    CrashVolume v("fmt", &power);
    REQUIRE(FormatMember(v, f, 1).ok());
    total = power.calls();
  }
  Failures failures;
  for (uint64_t n = 0; n <= total; ++n) {
    for (CrashMode mode : kModes) {
      PowerSwitch power;
      CrashVolume v("fmt", &power);
      power.ArmAt(n);
      Status s = FormatMember(v, f, 1);
      const bool returned_ok = s.ok() && !power.tripped();
      power.ArmAt(0);
      v.Crash(mode, n);
      power.Reset();
      const std::string where =
          "format, crash at call " + std::to_string(n) + ", " + CrashModeName(mode);
      auto raw = v.ReadFile(kFormatPath, kMaxFormatFileSize);
      if (!raw.ok()) {
        if (returned_ok || raw.status().code() != Code::kNotFound) {
          failures.fatal.push_back(where + ": no format file: " + raw.status().ToString());
        }
        continue;
      }
      auto got = VolumeFormat::Decode(*raw);
      if (!got.ok()) {
        failures.fatal.push_back(where + ": a torn format file: " + got.status().ToString());
        continue;
      }
      if (got->set_id != f.set_id || got->position != 1 ||
          got->volume_id != f.members[1].volume_id) {
        failures.fatal.push_back(where + ": the format file names another member");
      }
      for (const char* dir : {kTmpDir, kMrfDir}) {
        auto st = v.Stat(dir);
        if (!st.ok() || !st->is_dir())
          failures.fatal.push_back(where + ": a format file but no " + dir);
      }
    }
  }
  RequireNoFailures(failures);
}

}  // namespace
}  // namespace cairn
