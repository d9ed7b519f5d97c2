// verify and heal of volume sets: faults injected by editing the member volumes' files (wiped
// members, flipped bits, truncated shards, lost metadata) and through FaultyVolume; verify must
// find exactly the damaged objects, heal must repair every recoverable one and leave the rest as
// they were, and every object must read back byte-identical.
#include "libstore/object/heal.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "libstore/common/stage_threads.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/bucket_meta.h"
#include "libstore/format/heal_journal.h"
#include "libstore/format/key_path.h"
#include "libstore/format/object_meta.h"
#include "libstore/format/volume_format.h"
#include "tests/plain_test_util.h"

namespace cairn {
namespace {

using test::FlipByte;
using test::SetFixture;

struct Collect : ScanObserver {
  std::map<std::string, ObjectHealth> objects;  // bucket/key -> what was reported
  std::vector<std::string> notes;
  void Object(const ObjectHealth& h) override { objects[h.bucket + "/" + h.key] = h; }
  void Note(const std::string& n) override { notes.push_back(n); }
  std::set<std::string> Unhealthy() const {
    std::set<std::string> out;
    for (const auto& [k, h] : objects) {
      if (h.health != Health::kHealthy) out.insert(k);
    }
    return out;
  }
};

ScanSummary Verify(SetFixture& f, bool deep, Collect* c = nullptr) {
  Collect local;
  SetScanOptions o;
  o.deep = deep;
  auto r = ScanSet(*f.set, o, c ? *c : local);
  REQUIRE(r.ok());
  return *r;
}

ScanSummary Heal(SetFixture& f, Collect* c = nullptr, bool remove_dangling = false, bool dry_run = false) {
  Collect local;
  SetScanOptions o;
  o.heal = true;
  o.remove_dangling = remove_dangling;
  o.dry_run = dry_run;
  auto r = ScanSet(*f.set, o, c ? *c : local);
  REQUIRE(r.ok());
  return *r;
}

// The metadata copy of bucket/key on volume i.
ObjectMeta MetaOn(SetFixture& f, size_t i, const std::string& bucket, const std::string& key) {
  auto raw = f.mem[i]->ReadFile(KeyPaths(bucket, key).meta, kMaxMetaFileSize);
  REQUIRE(raw.ok());
  auto m = ObjectMeta::Decode(*raw);
  REQUIRE(m.ok());
  return *m;
}

std::string ShardOn(SetFixture& f, size_t i, const std::string& bucket, const std::string& key) {
  return KeyPaths(bucket, key).ShardPath(MetaOn(f, i, bucket, key).data_id.Hex());
}

void Truncate(Volume& v, const std::string& path, uint64_t len) {
  auto raw = v.ReadFile(path, 1 << 30);
  REQUIRE(raw.ok());
  raw->resize(len);
  REQUIRE(v.WriteFile(path, *raw, false).ok());
}

// Removes everything on a member but its working directories, as a replaced empty disk would be
// once heal has formatted it.
void Wipe(SetFixture& f, size_t i) {
  auto entries = f.mem[i]->ListDir("");
  REQUIRE(entries.ok());
  for (const auto& e : *entries) REQUIRE(f.mem[i]->RemoveAll(e.name).ok());
  REQUIRE(f.mem[i]->MakeDirs(kTmpDir).ok());
  REQUIRE(f.mem[i]->MakeDirs(kMrfDir).ok());
}

std::map<std::string, std::string> Fill(SetFixture& f, int large, int small, uint64_t seed) {
  std::map<std::string, std::string> data;
  REQUIRE(f.set->MakeBucket("bkt").ok());
  for (int i = 0; i < large; ++i) {
    std::string key = "big/" + std::to_string(i);
    data[key] = test::RandomBytes(100000 + size_t(i) * 37777, seed + uint64_t(i));
  }
  for (int i = 0; i < small; ++i) {
    std::string key = "small/" + std::to_string(i);
    data[key] = test::RandomBytes(size_t(i) * 97, seed + 1000 + uint64_t(i));
  }
  for (const auto& [k, v] : data) REQUIRE(f.Put("bkt", k, v).ok());
  return data;
}

void ExpectAllRead(SetFixture& f, const std::map<std::string, std::string>& data) {
  for (const auto& [k, v] : data) {
    auto got = f.Get("bkt", k);
    INFO(k);
    REQUIRE(got.ok());
    REQUIRE(*got == v);
  }
}

uint64_t ShardFileCount(SetFixture& f, size_t i) {
  uint64_t n = 0;
  for (const auto& p : f.Files(i, "bkt")) n += p.back() != '=' && p.find("bucket.meta") == std::string::npos;
  return n;
}

TEST_CASE("verify: a healthy set is healthy, quick and deep", "[heal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 4, 5, 1);
  for (bool deep : {false, true}) {
    Collect c;
    auto s = Verify(f, deep, &c);
    CHECK(s.scanned == data.size());
    CHECK(s.healthy == data.size());
    CHECK(c.Unhealthy().empty());
    CHECK(ScanVerdict(SetScanOptions{}, s).ok());
    if (deep) CHECK(s.bytes_read > 0);
  }
  auto h = Heal(f);
  CHECK(h.healed == 0);
  CHECK(h.bytes_written == 0);
}

TEST_CASE("heal: a wiped member gets every shard and metadata copy back", "[heal]") {
  for (auto [k, m] : {std::pair{4u, 2u}, std::pair{8u, 4u}}) {
    SetFixture f(k, m);
    auto data = Fill(f, 5, 6, 7);
    const size_t victim = 1;
    const uint64_t shards_before = ShardFileCount(f, victim);
    REQUIRE(shards_before == 5);
    Wipe(f, victim);
    Collect c;
    auto v = Verify(f, false, &c);
    CHECK(v.degraded == data.size());
    CHECK(ScanVerdict(SetScanOptions{}, v).code() == Code::kDegraded);
    for (const auto& [key, h] : c.objects) {
      REQUIRE(h.problems.size() == 1);
      CHECK(h.problems[0].position == victim);
      CHECK(h.problems[0].problem == ProblemKind::kMissingMeta);
    }
    auto h = Heal(f);
    CHECK(h.healed == data.size());
    CHECK(h.still_degraded == 0);
    CHECK(h.buckets_healed == 1);
    SetScanOptions ho;
    ho.heal = true;
    CHECK(ScanVerdict(ho, h).ok());
    CHECK(ShardFileCount(f, victim) == shards_before);
    auto after = Verify(f, true);
    CHECK(after.healthy == data.size());
    ExpectAllRead(f, data);
    // Reads must not need the rebuilt member's neighbours: take M others offline.
    for (uint32_t i = 0; i < m; ++i) f.vols[(victim + 1 + i) % (k + m)] = nullptr;
    f.Reopen();
    REQUIRE(f.set);
    ExpectAllRead(f, data);
  }
}

TEST_CASE("verify --deep finds flipped bits block by block; heal rewrites them", "[heal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 4, 3, 11);
  // big/1: one block of one shard; big/2: blocks in two shards; small/2 (inline): a metadata copy.
  const std::string s1 = ShardOn(f, 0, "bkt", "big/1");
  FlipByte(*f.mem[0], s1, 5);
  const std::string s2a = ShardOn(f, 2, "bkt", "big/2");
  const std::string s2b = ShardOn(f, 5, "bkt", "big/2");
  const uint64_t stride = (64 << 10) / 4 + kChecksumLen;
  FlipByte(*f.mem[2], s2a, stride + 3);  // block 1
  FlipByte(*f.mem[5], s2b, 2 * stride + 9);  // block 2
  FlipByte(*f.mem[3], KeyPaths("bkt", "small/2").meta, 40);

  Collect quick;
  auto q = Verify(f, false, &quick);
  // Quick sees only the metadata copy (its checksum); shard bits need a deep read.
  CHECK(quick.Unhealthy() == std::set<std::string>{"bkt/small/2"});
  CHECK(q.degraded == 1);

  Collect deep;
  Verify(f, true, &deep);
  CHECK(deep.Unhealthy() == std::set<std::string>{"bkt/big/1", "bkt/big/2", "bkt/small/2"});
  const auto& h1 = deep.objects["bkt/big/1"];
  REQUIRE(h1.problems.size() == 1);
  CHECK(h1.problems[0].position == 0);
  CHECK(h1.problems[0].problem == ProblemKind::kCorruptBlocks);
  CHECK(h1.problems[0].blocks == std::vector<std::pair<uint64_t, uint64_t>>{{0, 0}});
  const auto& h2 = deep.objects["bkt/big/2"];
  REQUIRE(h2.problems.size() == 2);
  CHECK(h2.problems[0].position == 2);
  CHECK(h2.problems[0].blocks == std::vector<std::pair<uint64_t, uint64_t>>{{1, 1}});
  CHECK(h2.problems[1].position == 5);
  CHECK(h2.problems[1].blocks == std::vector<std::pair<uint64_t, uint64_t>>{{2, 2}});
  CHECK(deep.objects["bkt/small/2"].problems.at(0).problem == ProblemKind::kCorruptMeta);

  Collect hc;
  auto h = Heal(f, &hc);
  CHECK(h.healed == 3);
  CHECK(hc.objects["bkt/big/2"].healed == std::vector<uint32_t>{2, 5});
  CHECK(Verify(f, true).healthy == data.size());
  ExpectAllRead(f, data);
}

TEST_CASE("heal: truncated and too long shards, lost metadata copies, stale copies", "[heal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 4, 2, 21);
  Truncate(*f.mem[1], ShardOn(f, 1, "bkt", "big/0"), 100);
  {
    const std::string p = ShardOn(f, 4, "bkt", "big/1");
    auto raw = f.mem[4]->ReadFile(p, 1 << 30);
    REQUIRE(f.mem[4]->WriteFile(p, *raw + "junk", false).ok());
  }
  REQUIRE(f.mem[0]->Remove(KeyPaths("bkt", "big/2").meta).ok());
  REQUIRE(f.mem[3]->Remove(KeyPaths("bkt", "small/1").meta).ok());
  REQUIRE(f.mem[4]->Remove(KeyPaths("bkt", "small/1").meta).ok());
  // A stale copy: volume 2 keeps an older version of big/3.
  const std::string old_meta = *f.mem[2]->ReadFile(KeyPaths("bkt", "big/3").meta, kMaxMetaFileSize);
  const std::string old_shard_path = ShardOn(f, 2, "bkt", "big/3");
  const std::string old_shard = *f.mem[2]->ReadFile(old_shard_path, 1 << 30);
  data["big/3"] = test::RandomBytes(150000, 99);
  REQUIRE(f.Put("bkt", "big/3", data["big/3"]).ok());
  REQUIRE(f.mem[2]->Remove(ShardOn(f, 2, "bkt", "big/3")).ok());
  REQUIRE(f.mem[2]->WriteFile(KeyPaths("bkt", "big/3").meta, old_meta, false).ok());
  REQUIRE(f.mem[2]->WriteFile(old_shard_path, old_shard, false).ok());

  Collect c;
  Verify(f, false, &c);
  CHECK(c.Unhealthy() == std::set<std::string>{"bkt/big/0", "bkt/big/1", "bkt/big/2", "bkt/big/3", "bkt/small/1"});
  CHECK(c.objects["bkt/big/0"].problems.at(0).problem == ProblemKind::kShortShard);
  CHECK(c.objects["bkt/big/1"].problems.at(0).problem == ProblemKind::kLongShard);
  CHECK(c.objects["bkt/big/2"].problems.at(0).problem == ProblemKind::kMissingMeta);
  CHECK(c.objects["bkt/big/3"].problems.at(0).problem == ProblemKind::kStaleMeta);
  CHECK(c.objects["bkt/small/1"].problems.size() == 2);

  auto h = Heal(f);
  CHECK(h.healed == 5);
  CHECK(Verify(f, true).healthy == data.size());
  ExpectAllRead(f, data);
  // The stale copy's shard file went with it.
  CHECK(f.mem[2]->Stat(old_shard_path).status().code() == Code::kNotFound);
  CHECK(f.mem[1]->Stat(ShardOn(f, 1, "bkt", "big/0"))->size == MetaOn(f, 1, "bkt", "big/0").shard_size);
}

TEST_CASE("heal: metadata lost below quorum comes back when the shards are there", "[heal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 1, 0, 31);
  for (size_t i : {0, 1, 2}) REQUIRE(f.mem[i]->Remove(KeyPaths("bkt", "big/0").meta).ok());
  CHECK(f.Get("bkt", "big/0").status().code() != Code::kOk);
  Collect c;
  auto v = Verify(f, false, &c);
  CHECK(v.degraded == 1);
  CHECK(v.unrecoverable == 0);
  Heal(f);
  ExpectAllRead(f, data);
  CHECK(Verify(f, true).healthy == 1);
}

TEST_CASE("heal: damage beyond parity is reported and left as it was", "[heal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 3, 2, 41);
  // big/0: block 0 bad in three shards. small/0: three metadata copies corrupt and nothing to
  // rebuild them from. (Three copies missing instead would be the remains of a write that never
  // committed: see "heal: a write that never committed ...".)
  std::map<std::string, std::string> before;
  for (size_t i : {0, 2, 4}) {
    const std::string p = ShardOn(f, i, "bkt", "big/0");
    FlipByte(*f.mem[i], p, 1);
    before[std::to_string(i) + p] = *f.mem[i]->ReadFile(p, 1 << 30);
  }
  for (size_t i : {1, 3, 5}) FlipByte(*f.mem[i], KeyPaths("bkt", "small/0").meta, 40);
  // One more, healable fault elsewhere.
  FlipByte(*f.mem[1], ShardOn(f, 1, "bkt", "big/1"), 7);

  Collect v;
  auto vs = Verify(f, true, &v);
  CHECK(vs.unrecoverable == 2);
  CHECK(vs.degraded == 1);
  CHECK(ScanVerdict(SetScanOptions{}, vs).code() == Code::kDataLoss);
  CHECK(v.objects["bkt/big/0"].dangling);
  CHECK(v.objects["bkt/big/0"].lost_blocks == std::vector<std::pair<uint64_t, uint64_t>>{{0, 0}});
  CHECK(v.objects["bkt/small/0"].dangling);

  Collect hc;
  auto h = Heal(f, &hc);
  CHECK(h.unrecoverable_after == 2);
  CHECK(h.healed == 1);
  SetScanOptions ho;
  ho.heal = true;
  CHECK(ScanVerdict(ho, h).code() == Code::kDataLoss);
  for (size_t i : {0, 2, 4}) {
    const std::string p = ShardOn(f, i, "bkt", "big/0");
    CHECK(*f.mem[i]->ReadFile(p, 1 << 30) == before[std::to_string(i) + p]);
  }
  CHECK(f.mem[0]->Stat(KeyPaths("bkt", "small/0").meta).ok());
  CHECK(f.mem[1]->Stat(KeyPaths("bkt", "small/0").meta).ok());
  CHECK(f.Get("bkt", "big/1").ok());

  // Dry run of --remove-dangling removes nothing; the real one removes exactly the two.
  Heal(f, nullptr, true, true);
  CHECK(f.mem[0]->Stat(KeyPaths("bkt", "small/0").meta).ok());
  auto r = Heal(f, nullptr, true);
  CHECK(r.removed == 2);
  for (size_t i = 0; i < 6; ++i) {
    CHECK(f.mem[i]->Stat(KeyPaths("bkt", "small/0").meta).status().code() == Code::kNotFound);
    CHECK(f.mem[i]->Stat(KeyPaths("bkt", "big/0").meta).status().code() == Code::kNotFound);
  }
  auto after = Verify(f, true);
  CHECK(after.scanned == data.size() - 2);
  CHECK(after.healthy == after.scanned);
}

TEST_CASE("heal: --remove-dangling never removes what an unreadable member may still hold", "[heal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 0, 2, 45);
  // small/1 keeps three metadata copies of the four a read needs; member 0's copy is gone... or is
  // it? Member 0 answers with an I/O error, so it may still hold one.
  for (size_t i : {0, 1, 2}) REQUIRE(f.mem[i]->Remove(KeyPaths("bkt", "small/1").meta).ok());
  FaultRule rule;
  rule.op = FaultOp::kOpenRead;
  rule.path_glob = "*small~/1=";
  f.faulty[0]->AddRule(rule);
  Collect c;
  auto r = Heal(f, &c, true);
  CHECK(r.removed == 0);
  CHECK(r.unrecoverable_after == 1);
  CHECK_FALSE(c.objects["bkt/small/1"].dangling);
  for (size_t i : {3, 4, 5}) CHECK(f.mem[i]->Stat(KeyPaths("bkt", "small/1").meta).ok());
  // Once member 0 answers (it has no copy), the object is dangling and goes.
  f.faulty[0]->ClearRules();
  r = Heal(f, nullptr, true);
  CHECK(r.removed == 1);
  for (size_t i = 0; i < 6; ++i) {
    CHECK(f.mem[i]->Stat(KeyPaths("bkt", "small/1").meta).status().code() == Code::kNotFound);
  }
  CHECK(f.Get("bkt", "small/0").ok());
}

TEST_CASE("heal: an offline member keeps objects degraded; the MRF journal heals them later", "[heal]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  f.vols[3] = nullptr;
  f.Reopen();
  std::string body = test::RandomBytes(200000, 5);
  REQUIRE(f.Put("bkt", "k", body).ok());
  auto mrf = f.set->ListMrf();
  REQUIRE(mrf.ok());
  REQUIRE(mrf->size() == 1);
  // Still offline: heal cannot finish and says so; the journal entry stays.
  auto h1 = Heal(f);
  CHECK(h1.still_degraded == 1);
  SetScanOptions ho;
  ho.heal = true;
  CHECK(ScanVerdict(ho, h1).code() == Code::kDegraded);
  CHECK(f.set->ListMrf()->size() == 1);
  // Back online: the journal is drained first and the entry cleared.
  f.vols[3] = f.faulty[3].get();
  f.Reopen();
  Collect c;
  auto h2 = Heal(f, &c);
  CHECK(h2.mrf_entries == 1);
  CHECK(h2.mrf_cleared == 1);
  CHECK(h2.healed == 1);
  CHECK(f.set->ListMrf()->empty());
  CHECK(Verify(f, true).healthy == 1);
}

TEST_CASE("heal: an object overwritten while it is healed is left to its writer", "[heal]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "k", test::RandomBytes(200000, 1)).ok());
  Wipe(f, 0);
  REQUIRE(f.mem[0]->MakeDirs("bkt").ok());
  // The first flush heal asks for (its new files, before renaming them) runs a PUT of the same
  // key.
  struct Hook : VolumeWrapper {
    using VolumeWrapper::VolumeWrapper;
    std::function<void()> fn;
    std::mutex mu;  // the flushes of a commit run in parallel: one of them takes fn
    Status SyncFile(const std::string& p) override {
      std::function<void()> f2;
      {
        std::lock_guard<std::mutex> l(mu);
        f2.swap(fn);
      }
      if (f2) f2();
      return VolumeWrapper::SyncFile(p);
    }
  };
  Hook hook(f.faulty[0].get());
  f.vols[0] = &hook;
  test::CloseSetFirst close_first{f};
  f.Reopen();
  const std::string newer = test::RandomBytes(300000, 2);
  bool put_ok = false;  // asserted here: the hook runs on a flush thread
  hook.fn = [&] { put_ok = f.Put("bkt", "k", newer).ok(); };
  CheckOptions o;
  auto h = f.set->HealObject("bkt", "k", o);
  REQUIRE(put_ok);
  REQUIRE(h.ok());
  CHECK(h->action == ObjectHealth::Action::kChanged);
  auto got = f.Get("bkt", "k");
  REQUIRE(got.ok());
  CHECK(*got == newer);
  CHECK(Verify(f, true).healthy == 1);
}

TEST_CASE("heal: write failures leave the object degraded, never worse", "[heal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 2, 1, 51);
  // Two members wiped; member 2 is full, member 4 takes its shards.
  for (size_t i : {2, 4}) {
    Wipe(f, i);
    REQUIRE(f.mem[i]->MakeDirs("bkt").ok());
    REQUIRE(f.mem[i]->WriteFile("bkt/bucket.meta", "1", false).ok());
  }
  FaultRule rule;
  rule.op = FaultOp::kAppend;
  rule.kind = FaultKind::kNoSpace;
  f.faulty[2]->AddRule(rule);
  Collect c;
  auto h = Heal(f, &c);
  CHECK(h.still_degraded == data.size());
  CHECK(h.healed == data.size());  // each object got member 4's copy
  for (const auto& [key, oh] : c.objects) {
    INFO(key);
    CHECK(oh.healed == std::vector<uint32_t>{4});
    CHECK(oh.after == Health::kDegraded);
    CHECK(oh.note.find("v2") != std::string::npos);
  }
  SetScanOptions ho;
  ho.heal = true;
  CHECK(ScanVerdict(ho, h).code() == Code::kDegraded);
  ExpectAllRead(f, data);
  // No temp files left behind on the failing member, and nothing half-written under a real name.
  CHECK(f.Files(2, ".cairn/tmp").empty());
  CHECK(ShardFileCount(f, 2) == 0);
  Collect v;
  Verify(f, true, &v);
  for (const auto& [key, oh] : v.objects) {
    REQUIRE(oh.problems.size() == 1);
    CHECK(oh.problems[0].position == 2);
  }
  f.faulty[2]->ClearRules();
  CHECK(Heal(f).healed == data.size());
  CHECK(Verify(f, true).healthy == data.size());
}

TEST_CASE("verify and heal: random faults up to M per object, 4+2 and 8+4", "[heal]") {
  for (auto [k, m] : {std::pair{4u, 2u}, std::pair{8u, 4u}}) {
    for (uint64_t seed : {1, 2, 3}) {
      SetFixture f(k, m);
      auto data = Fill(f, 6, 8, seed * 100);
      std::mt19937_64 rng(seed);
      std::set<std::string> damaged;
      for (const auto& [key, body] : data) {
        if (rng() % 3 == 0) continue;  // a third stay untouched
        std::vector<size_t> pos(k + m);
        for (size_t i = 0; i < pos.size(); ++i) pos[i] = i;
        std::shuffle(pos.begin(), pos.end(), rng);
        const uint32_t faults = 1 + uint32_t(rng() % m);
        const bool is_inline = MetaOn(f, 0, "bkt", key).is_inline();
        for (uint32_t j = 0; j < faults; ++j) {
          size_t i = pos[j];
          const std::string meta = KeyPaths("bkt", key).meta;
          switch (is_inline ? rng() % 2 : rng() % 4) {
            case 0: REQUIRE(f.mem[i]->Remove(meta).ok()); break;
            case 1: FlipByte(*f.mem[i], meta, 20 + rng() % 20); break;
            case 2: {
              const std::string p = ShardOn(f, i, "bkt", key);
              FlipByte(*f.mem[i], p, rng() % f.mem[i]->Stat(p)->size);
              break;
            }
            default: Truncate(*f.mem[i], ShardOn(f, i, "bkt", key), rng() % 1000); break;
          }
        }
        damaged.insert("bkt/" + key);
      }
      Collect v;
      Verify(f, true, &v);
      INFO("k=" << k << " seed=" << seed);
      CHECK(v.Unhealthy() == damaged);
      auto h = Heal(f);
      CHECK(h.healed == damaged.size());
      CHECK(h.still_degraded == 0);
      CHECK(Verify(f, true).healthy == data.size());
      ExpectAllRead(f, data);
    }
  }
}

TEST_CASE("heal: scope limits the work to a bucket or prefix", "[heal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 3, 3, 61);
  Wipe(f, 4);
  SetScanOptions o;
  o.heal = true;
  o.bucket = "bkt";
  o.prefix = "small/";
  Collect c;
  auto r = ScanSet(*f.set, o, c);
  REQUIRE(r.ok());
  CHECK(r->scanned == 3);
  Collect v;
  Verify(f, false, &v);
  CHECK(v.Unhealthy() == std::set<std::string>{"bkt/big/0", "bkt/big/1", "bkt/big/2"});
  o.bucket = "nosuchbucket";
  CHECK(ScanSet(*f.set, o, c).status().code() == Code::kBucketNotFound);
}

TEST_CASE("heal: max-rate throttles reads", "[heal]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "k", test::RandomBytes(600000, 3)).ok());
  SetScanOptions o;
  o.deep = true;
  o.max_rate = 2 << 20;  // 2 MiB/s; the object's shards hold ~0.9 MiB
  Collect c;
  auto start = std::chrono::steady_clock::now();
  auto r = ScanSet(*f.set, o, c);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(r.ok());
  CHECK(secs >= 0.9 * (double(r->bytes_read) - 0.2 * 1024 * 1024) / (2 << 20));
}

// Every file of the set's buckets on every member, but bucket.meta.
std::vector<std::string> KeyFilesLeft(SetFixture& f) {
  std::vector<std::string> out;
  for (size_t i = 0; i < f.mem.size(); ++i) {
    for (const auto& p : f.Files(i, "bkt")) {
      if (p != "bkt/bucket.meta") out.push_back(std::to_string(i) + ":" + p);
    }
  }
  return out;
}

SetScanOptions HealOptions() {
  SetScanOptions o;
  o.heal = true;
  return o;
}

TEST_CASE("heal with fewer scan threads than asked, or none", "[heal][stage]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 2, 4, 131);
  // One member's metadata copies gone: work for heal.
  for (const auto& [key, body] : data) {
    REQUIRE(f.mem[1]->Remove(KeyPaths("bkt", key).meta).ok());
  }
  SetScanOptions o = HealOptions();
  o.jobs = 4;
  // None of the four workers can start: SlowDown, nothing healed, nothing ended.
  StageGroup::FailRunForTest(0, 4);
  Collect none;
  auto r0 = ScanSet(*f.set, o, none);
  StageGroup::FailRunForTest(-1);
  CHECK(r0.status().code() == Code::kSlowDown);
  // One of four starts: it heals everything.
  StageGroup::FailRunForTest(1, 3);
  Collect one;
  auto r1 = ScanSet(*f.set, o, one);
  StageGroup::FailRunForTest(-1);
  REQUIRE(r1.ok());
  CHECK(r1->scanned == data.size());
  CHECK(r1->healed == data.size());
  CHECK(Verify(f, true).healthy == data.size());
  ExpectAllRead(f, data);
}

TEST_CASE("heal: a delete that failed after some members is finished, not taken for loss",
          "[heal][delete]") {
  for (const char* key : {"small/1", "big/1"}) {
    CAPTURE(key);
    SetFixture f(4, 2);
    auto data = Fill(f, 2, 2, 71);
    // The delete's removals fail on members 3, 4 and 5 (what a kill after three members
    // leaves, too): before delete markers, the object was left on 3 of 6 members, which verify
    // called unrecoverable ("dangling") and heal could not fix.
    for (size_t i : {3, 4, 5}) {
      FaultRule r;
      r.op = FaultOp::kRemove;
      r.path_glob = "bkt/*";
      f.faulty[i]->AddRule(r);
      // The marker is moved into the spare pool rather than removed: that fails too. The first
      // matching call, the publish's exchange over the key's metadata file, passes.
      FaultRule mv;
      mv.op = FaultOp::kRename;
      mv.path_glob = "bkt/*/1=";  // the key's metadata file, not the "=.prev" copy beside it
      mv.after_calls = 1;
      f.faulty[i]->AddRule(mv);
    }
    Status del = f.set->DeleteObject("bkt", key);
    for (size_t i : {3, 4, 5}) f.faulty[i]->ClearRules();
    CHECK(del.ok());
    data.erase(key);
    CHECK(f.Get("bkt", key).status().code() == Code::kNotFound);
    auto list = f.set->ListObjects("bkt", ListOptions());
    REQUIRE(list.ok());
    CHECK(list->objects.size() == data.size());

    Collect v;
    auto vs = Verify(f, true, &v);
    CHECK(vs.unrecoverable == 0);
    CHECK(vs.degraded == 1);
    const ObjectHealth& h = v.objects.at(std::string("bkt/") + key);
    CHECK(h.deleting);
    CHECK(!h.dangling);
    REQUIRE(h.problems.size() == 3);
    for (const auto& p : h.problems) CHECK(p.problem == ProblemKind::kDeleteMarker);
    CHECK(ScanVerdict(SetScanOptions{}, vs).code() == Code::kDegraded);

    Collect c;
    auto hs = Heal(f, &c);
    CHECK(hs.deletes_finished == 1);
    CHECK(c.objects.at(std::string("bkt/") + key).action == ObjectHealth::Action::kFinishedDelete);
    CHECK(ScanVerdict(HealOptions(), hs).ok());
    auto after = Verify(f, true);
    CHECK(after.scanned == data.size());
    CHECK(after.healthy == data.size());
    ExpectAllRead(f, data);
    // What the failed removals left of the deleted version's shards, gc takes.
    GcOptions go;
    go.older_than_ns = 0;
    f.clock.Advance(1);
    REQUIRE(f.set->CollectGarbage(go, nullptr).ok());
    for (const auto& file : KeyFilesLeft(f)) {
      CHECK(file.find(key) == std::string::npos);
    }
  }
}

TEST_CASE("heal: a delete stopped mid-commit below its quorum is rolled back", "[heal][delete]") {
  // A crash while the markers were being swapped in: the members that took one cannot be put
  // back (they go offline at the rollback), the others refused the marker.
  for (uint32_t took : {1u, 3u}) {
    CAPTURE(took);
    SetFixture f(4, 2);
    auto data = Fill(f, 1, 0, 81);
    const std::string key = "big/0";
    for (uint32_t i = 0; i < 6; ++i) {
      FaultRule r;
      r.op = FaultOp::kRename;
      r.path_glob = "*big~/0=";
      r.kind = i < took ? FaultKind::kOffline : FaultKind::kIOError;
      r.after_calls = i < took ? 1 : 0;
      f.faulty[i]->AddRule(r);
    }
    CHECK(f.set->DeleteObject("bkt", key).code() == Code::kQuorum);
    for (auto& fv : f.faulty) fv->ClearRules();
    uint32_t markers = 0;
    for (uint32_t i = 0; i < 6; ++i) markers += MetaOn(f, i, "bkt", key).is_delete_marker();
    REQUIRE(markers == took);

    Collect v;
    auto vs = Verify(f, true, &v);
    CHECK(vs.unrecoverable == 0);
    CHECK(vs.degraded == 1);
    auto hs = Heal(f);
    CHECK(ScanVerdict(HealOptions(), hs).ok());
    if (took == 3) {
      // Markers on 3 and the object on 3 of 6: the members that took a marker keep the copy it
      // displaced, so the object still has all 6 and reads; the delete never committed, and
      // heal puts the object back where the markers are.
      CHECK(!v.objects.at("bkt/" + key).deleting);
      CHECK(v.objects.at("bkt/" + key).problems.size() == 3);
      CHECK(hs.deletes_finished == 0);
      CHECK(hs.healed == 1);
      ExpectAllRead(f, data);
      CHECK(Verify(f, true).healthy == 1);
    } else {
      // One marker against 5 copies of the object: the delete never committed; heal restores.
      CHECK(!v.objects.at("bkt/" + key).deleting);
      CHECK(v.objects.at("bkt/" + key).problems.at(0).problem == ProblemKind::kDeleteMarker);
      CHECK(hs.healed == 1);
      ExpectAllRead(f, data);
      CHECK(Verify(f, true).healthy == 1);
    }
  }
}

TEST_CASE("heal: a delete that missed an offline member keeps its markers until heal finishes it",
          "[heal][delete]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 1, 1, 91);
  f.vols[2] = nullptr;
  f.Reopen();
  REQUIRE(f.set->DeleteObject("bkt", "big/0").ok());
  REQUIRE(f.set->DeleteObject("bkt", "small/0").ok());
  CHECK(f.set->ListMrf()->size() == 2);
  // Still offline: the markers stay, heal says the deletes are not finished.
  auto h1 = Heal(f);
  CHECK(ScanVerdict(HealOptions(), h1).code() == Code::kDegraded);
  f.vols[2] = f.faulty[2].get();
  f.Reopen();
  // Back: its copies are what a delete left, not objects short of copies.
  Collect v;
  auto vs = Verify(f, false, &v);
  CHECK(vs.unrecoverable == 0);
  CHECK(vs.degraded == 2);
  CHECK(f.Get("bkt", "big/0").status().code() == Code::kNotFound);
  auto h2 = Heal(f);
  CHECK(h2.mrf_cleared == 2);
  CHECK(ScanVerdict(HealOptions(), h2).ok());
  CHECK(Verify(f, true).scanned == 0);
  CHECK(KeyFilesLeft(f).empty());
}

TEST_CASE("verify and heal report objects in key order, and a resumed heal counts each once",
          "[heal][journal]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 6, 30, 111);
  std::vector<std::string> keys;  // in key order (std::map orders by bytes, like the scan)
  for (const auto& [k, v] : data) keys.push_back("bkt/" + k);
  // Objects from the 25th on, every fourth, lost member 1's metadata copy; the others are healthy.
  // (Objects that need writing wait in a batch until the end, and hold the watermark back.)
  std::set<std::string> damaged;
  for (size_t i = 24; i < keys.size(); i += 4) {
    REQUIRE(f.mem[1]->Remove(KeyPaths("bkt", keys[i].substr(4)).meta).ok());
    damaged.insert(keys[i]);
  }
  // Member 0 keeps every heal journal written, and is slow to open the 21st object's metadata,
  // so the workers finish the objects after it before it.
  const std::string slow = KeyPaths("bkt", keys[20].substr(4)).meta;
  struct Recorder : VolumeWrapper {
    Recorder(Volume* v, std::string s) : VolumeWrapper(v), slow(std::move(s)) {}
    const std::string slow;
    std::mutex mu;
    std::vector<std::string> journals;
    Status Rename(const std::string& from, const std::string& to) override {
      if (to == kHealJournalPath) {
        auto raw = ReadFile(from, kMaxHealJournalSize);
        std::lock_guard<std::mutex> l(mu);
        if (raw.ok()) journals.push_back(*raw);
      }
      return VolumeWrapper::Rename(from, to);
    }
    Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& p) override {
      if (p == slow) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return VolumeWrapper::NewReadableFile(p);
    }
  };
  Recorder rec(f.faulty[0].get(), slow);
  f.vols[0] = &rec;
  test::CloseSetFirst close_first{f};
  f.Reopen();
  // The observer moves the set's clock past the journal interval at every object, so the heal
  // journals its watermark after each one.
  struct Ticking : Collect {
    SetFixture* f = nullptr;
    std::vector<std::string> order;
    void Object(const ObjectHealth& h) override {
      Collect::Object(h);
      order.push_back(h.bucket + "/" + h.key);
      f->clock.Advance(3'000'000'000);
    }
  };
  SetScanOptions vo;
  vo.jobs = 4;
  vo.deep = true;
  Ticking v;
  v.f = &f;
  REQUIRE(ScanSet(*f.set, vo, v).ok());
  CHECK(v.order == keys);

  SetScanOptions ho = HealOptions();
  ho.jobs = 4;
  Ticking c;
  c.f = &f;
  auto h = ScanSet(*f.set, ho, c);
  REQUIRE(h.ok());
  CHECK(h->scanned == keys.size());
  CHECK(h->healed == damaged.size());
  CHECK(c.order == keys);
  // Every journal counts exactly the objects up to its watermark. How many there are depends on
  // the workers' timing (a worker skips its save while another one is saving: 4 of 30 in a
  // sanitizer run beside three other tests, one under ThreadSanitizer). The first object's save
  // always happens, and before the end (the damaged objects hold the watermark back until the
  // last batch): one short of the end is required below.
  REQUIRE(!rec.journals.empty());
  std::string middle;
  uint64_t middle_upto = 0;
  for (const auto& raw : rec.journals) {
    auto j = HealJournal::Decode(raw);
    REQUIRE(j.ok());
    auto at = std::find(keys.begin(), keys.end(), j->bucket + "/" + j->key);
    REQUIRE(at != keys.end());
    const uint64_t upto = uint64_t(at - keys.begin()) + 1;
    uint64_t healed_upto = 0;
    for (auto it = keys.begin(); it != at + 1; ++it) healed_upto += damaged.count(*it);
    CHECK(j->counts.scanned == upto);
    CHECK(j->counts.healed == healed_upto);
    if (upto < keys.size() && upto > middle_upto) {
      middle = raw;
      middle_upto = upto;
    }
  }
  // Resumed from a journal of part of the way: the summary counts every object once. The first
  // heal repaired everything, so the objects past the journal's mark are damaged again for the
  // resumed one to find (which of the journals is the last one short of the end depends on the
  // workers' timing).
  REQUIRE(!middle.empty());
  for (size_t i = middle_upto; i < keys.size(); ++i) {
    if (damaged.count(keys[i]) != 0) {
      REQUIRE(f.mem[1]->Remove(KeyPaths("bkt", keys[i].substr(4)).meta).ok());
    }
  }
  for (uint32_t i = 0; i < 6; ++i) {
    REQUIRE(f.mem[i]->MakeDirs(kHealDir).ok());
    REQUIRE(f.mem[i]->WriteFile(kHealJournalPath, middle, false).ok());
  }
  Collect again;
  auto r = ScanSet(*f.set, ho, again);
  REQUIRE(r.ok());
  CHECK(!r->resumed_from.empty());
  CHECK(r->scanned == keys.size());
  CHECK(r->healed == damaged.size());  // the journal's count and what was healed after its mark
  CHECK(again.objects.size() == keys.size() - middle_upto);
}


// ------------------------------------------------------------------------------------------------
// Commits cut off half way (docs/crash-safety.md, "A commit cut off half way").

TEST_CASE("heal: an overwrite that swapped on 3 of 6 members reads and heals as the old version",
          "[heal][commit]") {
  for (const bool big : {false, true}) {
    CAPTURE(big);
    SetFixture f(4, 2);
    auto data = Fill(f, big ? 1 : 0, big ? 0 : 1, 131);
    const std::string key = big ? "big/0" : "small/0";
    const std::string glob = big ? "*big~/0=" : "*small~/0=";
    // Members 0-2 swap the new copy in, then go offline before they can be put back; 3-5
    // refuse the swap. What is left is what a crash after three swaps leaves. Member 0, the
    // first the commit reaches, is first asked to rename where there is no copy (refused).
    for (uint32_t i = 0; i < 6; ++i) {
      FaultRule r;
      r.op = FaultOp::kRename;
      r.path_glob = glob;
      r.kind = i < 3 ? FaultKind::kOffline : FaultKind::kIOError;
      r.after_calls = i == 0 ? 2 : i < 3 ? 1 : 0;
      f.faulty[i]->AddRule(r);
    }
    CHECK(f.Put("bkt", key, test::RandomBytes(big ? 70000 : 500, 7)).code() == Code::kQuorum);
    for (auto& fv : f.faulty) fv->ClearRules();
    std::set<std::string> versions;
    for (uint32_t i = 0; i < 6; ++i) versions.insert(MetaOn(f, i, "bkt", key).version_id.Hex());
    REQUIRE(versions.size() == 2);  // 3 and 3: neither on the read quorum of 4
    // Read from the copies the swaps displaced, which gc keeps while they are needed.
    ExpectAllRead(f, data);
    GcOptions go;
    go.older_than_ns = 0;
    f.clock.Set(f.clock.NowNs() + 1);
    REQUIRE(f.set->CollectGarbage(go, nullptr).ok());
    int displaced = 0;
    for (const auto& file : KeyFilesLeft(f)) displaced += file.find("=.prev") != std::string::npos;
    CHECK(displaced == 3);
    ExpectAllRead(f, data);
    auto st = f.set->StatObject("bkt", key);
    REQUIRE(st.ok());
    int stale = 0;
    for (const auto& s : st->shards) stale += s.state == CopyState::kStale;
    CHECK(stale == 3);
    Collect v;
    auto vs = Verify(f, true, &v);
    CHECK(vs.degraded == 1);
    CHECK(vs.unrecoverable == 0);
    auto hs = Heal(f);
    CHECK(hs.healed == 1);
    CHECK(ScanVerdict(HealOptions(), hs).ok());
    ExpectAllRead(f, data);
    CHECK(Verify(f, true).healthy == 1);
    if (big) {
      // The new version's shard files went with it: one shard file per member.
      int shards = 0;
      for (const auto& file : KeyFilesLeft(f)) shards += file.back() != '=' && file.back() != 'v';
      CHECK(shards == 6);
    }
  }
}

// Members 0-2 take the put's new copy and go offline before they can be put back; 3-5 refuse it:
// what a crash after three members' swaps leaves. The key has copies: member 0, the first the
// commit reaches, is first asked to rename where there is no copy (refused).
Status PutCutOffAtThree(SetFixture& f, const std::string& key, const std::string& body) {
  for (uint32_t i = 0; i < 6; ++i) {
    FaultRule r;
    r.op = FaultOp::kRename;
    r.path_glob = "*" + KeyPaths("bkt", key).meta.substr(4);  // after "bkt/"
    r.kind = i < 3 ? FaultKind::kOffline : FaultKind::kIOError;
    r.after_calls = i == 0 ? 2 : i < 3 ? 1 : 0;
    f.faulty[i]->AddRule(r);
  }
  Status s = f.Put("bkt", key, body);
  for (auto& fv : f.faulty) fv->ClearRules();
  return s;
}

TEST_CASE("heal: a put over an overwrite that was cut off, itself cut off, keeps the old version",
          "[heal][commit]") {
  SetFixture f(4, 2);
  auto data = Fill(f, 0, 1, 161);
  // The first cut-off overwrite leaves the object's version on 3 members' files and displaced
  // beside the other 3; the second, over it, swaps on those other 3 only. Each member must still
  // show the object's version, now beside the second write's copy where that one took.
  REQUIRE(PutCutOffAtThree(f, "small/0", "first, never committed").code() == Code::kQuorum);
  ExpectAllRead(f, data);
  // Rotate the fault onto the members that hold the displaced copies: 0-2 again (see above).
  REQUIRE(PutCutOffAtThree(f, "small/0", "second, never committed").code() == Code::kQuorum);
  std::set<std::string> versions;
  for (uint32_t i = 0; i < 6; ++i) versions.insert(MetaOn(f, i, "bkt", "small/0").version_id.Hex());
  CHECK(versions.size() == 2);
  ExpectAllRead(f, data);
  auto hs = Heal(f);
  CHECK(ScanVerdict(HealOptions(), hs).ok());
  ExpectAllRead(f, data);
  CHECK(Verify(f, true).healthy == 1);
  // A third put, uncut, wins; nothing of the cut-off ones is left once gc ran.
  REQUIRE(f.Put("bkt", "small/0", "third").ok());
  CHECK(*f.Get("bkt", "small/0") == "third");
  GcOptions go;
  go.older_than_ns = 0;
  f.clock.Set(f.clock.NowNs() + 1);
  REQUIRE(f.set->CollectGarbage(go, nullptr).ok());
  for (const auto& file : KeyFilesLeft(f)) CHECK(file.find(".prev") == std::string::npos);
}

TEST_CASE("heal: a write that never committed is removed; one lost with replaced disks is not",
          "[heal][commit]") {
  for (const bool replaced : {false, true}) {
    CAPTURE(replaced);
    SetFixture f(4, 2);
    auto data = Fill(f, 0, 2, 141);
    f.clock.Set(2'000'000'000'000'000'000);
    REQUIRE(f.Put("bkt", "w", "written where only 3 of 6 members kept it").ok());
    // The copies on members 3-5 are missing: a write cut off after 3 members, or (replaced)
    // disks replaced since, which heal formats with a replacement record.
    for (size_t i : {3, 4, 5}) {
      REQUIRE(f.mem[i]->Remove(KeyPaths("bkt", "w").meta).ok());
      if (replaced) {
        REQUIRE(f.mem[i]
                    ->WriteFile(kReplacedPath, EncodeReplacedRecord(2'000'000'000'000'000'001),
                                true)
                    .ok());
      }
    }
    f.Reopen();
    Collect v;
    auto vs = Verify(f, true, &v);
    if (!replaced) {
      CHECK(f.Get("bkt", "w").status().code() == Code::kNotFound);
      CHECK(v.objects.at("bkt/w").uncommitted);
      CHECK(vs.degraded == 1);
      CHECK(vs.unrecoverable == 0);
      CHECK(ScanVerdict(SetScanOptions{}, vs).code() == Code::kDegraded);
      // Dry run: counted as would be removed, nothing removed.
      CHECK(Heal(f, nullptr, false, true).removed == 1);
      CHECK(f.mem[0]->Stat(KeyPaths("bkt", "w").meta).ok());
      auto hs = Heal(f);
      CHECK(hs.removed == 1);
      CHECK(ScanVerdict(HealOptions(), hs).ok());
      for (size_t i = 0; i < 6; ++i) {
        CHECK(f.mem[i]->Stat(KeyPaths("bkt", "w").meta).status().code() == Code::kNotFound);
      }
      CHECK(Verify(f, true).healthy == 2);
    } else {
      // Copies lost with the old disks: data loss, reported and left alone.
      CHECK(f.Get("bkt", "w").status().code() == Code::kDataLoss);
      CHECK(!v.objects.at("bkt/w").uncommitted);
      CHECK(vs.unrecoverable == 1);
      auto hs = Heal(f);
      CHECK(hs.removed == 0);
      CHECK(f.mem[0]->Stat(KeyPaths("bkt", "w").meta).ok());
    }
    ExpectAllRead(f, data);
  }
}

TEST_CASE("heal: a bucket on too few members to have been made is removed", "[heal][commit]") {
  for (const bool replaced : {false, true}) {
    CAPTURE(replaced);
    SetFixture f(4, 2);
    auto data = Fill(f, 0, 1, 151);
    // "half" on 3 members with an object in it: an mb cut off, or (replaced) a bucket whose
    // other copies went with replaced disks.
    REQUIRE(f.set->MakeBucket("half").ok());
    REQUIRE(f.Put("half", "x", "in a half-made bucket").ok());
    for (size_t i : {3, 4, 5}) {
      REQUIRE(f.mem[i]->RemoveAll("half").ok());
      if (replaced) {
        REQUIRE(f.mem[i]->WriteFile(kReplacedPath, EncodeReplacedRecord(f.clock.NowNs() + 1),
                                    true)
                    .ok());
      }
    }
    f.Reopen();
    Collect v;
    auto vs = Verify(f, true, &v);
    CHECK(f.set->BucketExists("half").code() == Code::kBucketNotFound);
    auto hs = Heal(f);
    if (!replaced) {
      CHECK(vs.unfinished_buckets == 1);
      CHECK(ScanVerdict(SetScanOptions{}, vs).code() == Code::kDegraded);
      CHECK(hs.unfinished_buckets == 1);
      CHECK(ScanVerdict(HealOptions(), hs).ok());
      for (size_t i = 0; i < 6; ++i) CHECK(f.Files(i, "half").empty());
      CHECK(f.mem[0]->Stat("half").status().code() == Code::kNotFound);
      CHECK(f.set->MakeBucket("half").ok());  // the name is free again
    } else {
      CHECK(vs.dangling_buckets == 1);
      CHECK(hs.dangling_buckets == 1);
      CHECK(ScanVerdict(HealOptions(), hs).code() == Code::kDataLoss);
      CHECK(f.mem[0]->Stat(BucketMetaPath("half")).ok());
    }
    ExpectAllRead(f, data);
  }
}

}  // namespace
}  // namespace cairn
