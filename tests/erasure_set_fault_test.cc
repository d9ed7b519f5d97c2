// Fault injection through FaultyVolume: ENOSPC, I/O errors, torn writes, failed renames, bit flips.
// Each test checks that a failed PUT leaves nothing visible, keeps the previous version and leaves
// no temp files; that a PUT which lost a volume still succeeds with an MRF entry.
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "libstore/format/key_path.h"
#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

void RequireNoTemps(SetFixture& f) {
  for (size_t i = 0; i < f.mem.size(); ++i) {
    auto files = f.Files(i, ".cairn/tmp");
    INFO("volume " << i);
    CHECK(files.empty());
  }
}

FaultRule Rule(FaultOp op, const std::string& glob, FaultKind kind, uint64_t after_bytes = 0) {
  FaultRule r;
  r.op = op;
  r.path_glob = glob;
  r.kind = kind;
  r.after_bytes = after_bytes;
  return r;
}

}  // namespace

TEST_CASE("ENOSPC mid-PUT on more than M volumes: PUT fails, old version intact, no temps",
          "[fault]") {
  for (bool large : {true, false}) {
    CAPTURE(large);
    SetFixture f(4, 2, 64 << 10, 16 << 10);
    REQUIRE(f.set->MakeBucket("bkt").ok());
    std::string old = RandomBytes(large ? 400000 : 3000, 1);
    REQUIRE(f.Put("bkt", "k", old).ok());
    for (int v : {0, 2, 5}) {
      f.faulty[v]->AddRule(Rule(large ? FaultOp::kAppend : FaultOp::kOpenWrite, ".cairn/tmp/*",
                                FaultKind::kNoSpace, large ? 50000 : 0));
    }
    Status s = f.Put("bkt", "k", RandomBytes(large ? 500000 : 2000, 2));
    CHECK(s.code() == Code::kNoSpace);  // "the storage is full", not "too few volumes answered"
    CHECK(s.message().find("injected") != std::string::npos);
    uint64_t fired = 0;
    for (auto& fv : f.faulty) fired += fv->injected();
    CHECK(fired >= 3);  // the faults really happened
    for (auto& fv : f.faulty) fv->ClearRules();
    auto got = f.Get("bkt", "k");
    REQUIRE(got.ok());
    CHECK(*got == old);
    RequireNoTemps(f);
    // A new key that failed is not visible at all.
    f.faulty[1]->AddRule(Rule(FaultOp::kAny, ".cairn/tmp/*", FaultKind::kIOError));
    f.faulty[3]->AddRule(Rule(FaultOp::kAny, ".cairn/tmp/*", FaultKind::kIOError));
    f.faulty[4]->AddRule(Rule(FaultOp::kAny, ".cairn/tmp/*", FaultKind::kIOError));
    CHECK(f.Put("bkt", "new", RandomBytes(large ? 300000 : 100, 3)).code() == Code::kQuorum);
    for (auto& fv : f.faulty) fv->ClearRules();
    CHECK(f.set->HeadObject("bkt", "new").status().code() == Code::kNotFound);
    ListOptions lo;
    auto list = f.set->ListObjects("bkt", lo);
    REQUIRE(list.ok());
    CHECK(list->objects.size() == 1);
    RequireNoTemps(f);
  }
}

TEST_CASE("a delete on full volumes takes their reserve, which comes back after", "[fault]") {
  for (bool reserved : {true, false}) {
    CAPTURE(reserved);
    SetFixture f(4, 2, 64 << 10, 16 << 10);
    REQUIRE(f.set->MakeBucket("bkt").ok());
    std::string old = RandomBytes(200000, 4);
    REQUIRE(f.Put("bkt", "k", old).ok());
    f.set->KeepReserves();
    for (auto& m : f.mem) {
      if (!reserved) REQUIRE(m->Remove(kReservePath).ok());
      auto st = m->Stat(kReservePath);
      CHECK(st.ok() == reserved);
      if (reserved) CHECK(st->size == kReserveBytes);
    }
    // Every member is full: each refuses the first file written to it (the delete's marker).
    for (auto& fv : f.faulty) {
      FaultRule r = Rule(FaultOp::kOpenWrite, ".cairn/tmp/*", FaultKind::kNoSpace);
      r.times = 1;
      fv->AddRule(r);
    }
    Status s = f.set->DeleteObject("bkt", "k");
    uint64_t fired = 0;
    for (auto& fv : f.faulty) fired += fv->injected();
    CHECK(fired == 6);
    if (reserved) {
      CHECK(s.ok());
      CHECK(f.set->HeadObject("bkt", "k").status().code() == Code::kNotFound);
      for (auto& m : f.mem) {  // made again once the delete freed the object's room
        auto st = m->Stat(kReservePath);
        REQUIRE(st.ok());
        CHECK(st->size == kReserveBytes);
      }
    } else {
      CHECK(s.code() == Code::kNoSpace);
      auto got = f.Get("bkt", "k");
      REQUIRE(got.ok());
      CHECK(*got == old);
    }
    f.set.reset();  // the delete's files are spares until the set closes
    RequireNoTemps(f);
  }
}

TEST_CASE("an I/O error on M volumes: PUT succeeds, MRF records them, reads are right", "[fault]") {
  SetFixture f(4, 2, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  f.faulty[1]->AddRule(Rule(FaultOp::kAppend, "*", FaultKind::kIOError));
  f.faulty[4]->AddRule(Rule(FaultOp::kAppend, "*", FaultKind::kTornWrite));
  std::string data = RandomBytes(333333, 4);
  REQUIRE(f.Put("bkt", "k", data).ok());
  for (auto& fv : f.faulty) fv->ClearRules();
  auto mrf = f.set->ListMrf();
  REQUIRE(mrf.ok());
  REQUIRE(mrf->size() == 1);
  CHECK((*mrf)[0].key == "k");
  CHECK((*mrf)[0].positions == std::vector<uint32_t>{1, 4});
  auto d = f.set->StatObject("bkt", "k");
  REQUIRE(d.ok());
  CHECK(d->shards[1].state == CopyState::kMissing);
  CHECK(d->shards[4].state == CopyState::kMissing);
  CHECK(d->shards[0].state == CopyState::kOk);
  CHECK(*f.Get("bkt", "k") == data);  // a degraded read, recorded again for heal
  mrf = f.set->ListMrf();
  REQUIRE(mrf.ok());
  CHECK(mrf->size() == 2);
  RequireNoTemps(f);
}

TEST_CASE("renames failing during commit on too many volumes roll back", "[fault]") {
  SetFixture f(4, 2, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  for (bool large : {false, true}) {
    CAPTURE(large);
    std::string old = RandomBytes(large ? 200000 : 500, 5);
    REQUIRE(f.Put("bkt", "k", old).ok());
    // Volumes 0..2 fail the metadata rename: 3 commits < write quorum 4.
    for (int v : {0, 1, 2}) f.faulty[v]->AddRule(Rule(FaultOp::kRename, "*=", FaultKind::kIOError));
    Status s = f.Put("bkt", "k", RandomBytes(large ? 210000 : 600, 6));
    CHECK(s.code() == Code::kQuorum);
    for (auto& fv : f.faulty) fv->ClearRules();
    auto got = f.Get("bkt", "k");
    REQUIRE(got.ok());
    CHECK(*got == old);
    auto d = f.set->StatObject("bkt", "k");
    REQUIRE(d.ok());
    for (const auto& sh : d->shards) CHECK(sh.state == CopyState::kOk);
    RequireNoTemps(f);
  }
}

TEST_CASE("a failing source aborts the PUT cleanly", "[fault]") {
  SetFixture f(2, 1, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "k", "old").ok());
  for (size_t fail_at : {size_t(100), size_t(20000), size_t(300000)}) {
    FailingSource src(RandomBytes(400000, 7), fail_at);
    auto r = f.set->PutObject("bkt", "k", src, PutOptions{});
    CHECK(!r.ok());
    CHECK(*f.Get("bkt", "k") == "old");
    RequireNoTemps(f);
  }
}

TEST_CASE("bit flips on read from M volumes are caught and rebuilt", "[fault][bitrot]") {
  SetFixture f(4, 2, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  std::string big = RandomBytes(700000, 8), small = RandomBytes(5000, 9);
  REQUIRE(f.Put("bkt", "big", big).ok());
  REQUIRE(f.Put("bkt", "small", small).ok());
  // The volumes holding data shards 0 and 1: a healthy GET reads them, so a flip there must be
  // caught (a flip in a parity shard no GET reads would prove nothing).
  auto d = f.set->StatObject("bkt", "big");
  REQUIRE(d.ok());
  REQUIRE(d->meta.distribution.size() == 6);
  const uint32_t v0 = d->meta.distribution[0], v1 = d->meta.distribution[1],
                 v2 = d->meta.distribution[2];
  // Every read of shard files on two volumes returns a flipped bit.
  f.faulty[v0]->AddRule(Rule(FaultOp::kRead, "*=?*", FaultKind::kBitFlip));
  f.faulty[v1]->AddRule(Rule(FaultOp::kRead, "*=?*", FaultKind::kBitFlip));
  CHECK(*f.Get("bkt", "big") == big);
  CHECK(f.faulty[v0]->injected() > 0);
  CHECK(f.faulty[v1]->injected() > 0);
  // The rebuild was noticed: both volumes are journaled for heal.
  auto mrf = f.set->ListMrf();
  REQUIRE(mrf.ok());
  REQUIRE(mrf->size() == 1);
  CHECK((*mrf)[0].positions == std::vector<uint32_t>{std::min(v0, v1), std::max(v0, v1)});
  // A third volume flipping leaves 3 good shards of every block, fewer than K = 4, whichever
  // shards the three hold: the GET fails on block 0 with kDataLoss and writes nothing at all.
  const uint64_t before = f.faulty[v2]->injected();
  f.faulty[v2]->AddRule(Rule(FaultOp::kRead, "*=?*", FaultKind::kBitFlip));
  StringSink sink;
  auto r = f.set->GetObject("bkt", "big", sink);
  REQUIRE(!r.ok());
  CHECK(r.status().code() == Code::kDataLoss);
  CHECK(r.status().message().find("block 0") != std::string::npos);
  CHECK(sink.out.empty());
  CHECK(f.faulty[v2]->injected() > before);
  CHECK(*f.Get("bkt", "small") == small);  // inline: metadata reads are not shard reads
}

TEST_CASE("a volume going offline mid-PUT", "[fault]") {
  SetFixture f(4, 2, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  FaultRule r = Rule(FaultOp::kAppend, "*", FaultKind::kOffline);
  r.after_calls = 3;
  f.faulty[2]->AddRule(r);
  std::string data = RandomBytes(600000, 10);
  REQUIRE(f.Put("bkt", "k", data).ok());
  CHECK(f.faulty[2]->offline());
  CHECK(*f.Get("bkt", "k") == data);
  f.faulty[2]->ClearRules();
  CHECK(*f.Get("bkt", "k") == data);
  auto mrf = f.set->ListMrf();
  REQUIRE(mrf.ok());
  REQUIRE(!mrf->empty());
  CHECK((*mrf)[0].positions == std::vector<uint32_t>{2});
}

// ---------------------------------------------------------------------------------------------
// Quorum reads: a GET or HEAD reads members in the key's rotation order and stops once a read
// quorum decides the version (SetCore::ReadQuorumMeta); a GET still reads every member's copy of
// a version once per ErasureSet::kFullReadIntervalNs.

namespace {

// Counts the metadata files read (ReadFile of an object's metadata path).
class MetaReadCounter : public VolumeWrapper {
 public:
  using VolumeWrapper::VolumeWrapper;
  Result<std::string> ReadFile(const std::string& p, size_t max) override {
    reads += p.size() > 0 && p.back() == '=';
    return VolumeWrapper::ReadFile(p, max);
  }
  int reads = 0;
};

// A MetaReadCounter over each of f's volumes, put in f.vols (reopen the set over them, with a
// CloseSetFirst declared after this).
struct MetaReadCounters {
  explicit MetaReadCounters(SetFixture& f) {
    for (auto& v : f.vols) {
      counters.push_back(std::make_unique<MetaReadCounter>(v));
      v = counters.back().get();
    }
  }
  MetaReadCounter& at(uint32_t pos) { return *counters[pos]; }
  // The reads of every member since the last Take.
  int Take() {
    int n = 0;
    for (auto& c : counters) {
      n += c->reads;
      c->reads = 0;
    }
    return n;
  }
  std::vector<std::unique_ptr<MetaReadCounter>> counters;
};

ObjectMeta MetaOf(SetFixture& f, uint32_t pos, const std::string& key) {
  auto raw = f.mem[pos]->ReadFile(KeyPaths("bkt", key).meta, 1 << 20);
  REQUIRE(raw.ok());
  auto m = ObjectMeta::Decode(*raw);
  REQUIRE(m.ok());
  return *m;
}

}  // namespace

TEST_CASE("a GET reads a quorum of members, and every member once per interval", "[quorum]") {
  SetFixture f(4, 2, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(3000, 7);
  REQUIRE(f.Put("bkt", "k", data).ok());
  MetaReadCounters counters(f);
  CloseSetFirst close_first{f};
  f.Reopen();
  REQUIRE(f.set);
  auto reads = [&] { return counters.Take(); };
  const ObjectMeta m = MetaOf(f, 0, "k");
  REQUIRE(*f.Get("bkt", "k") == data);
  CHECK(reads() == 6);  // the first read of the version: every member
  REQUIRE(*f.Get("bkt", "k") == data);
  CHECK(reads() == 4);  // then the data shards' members only
  REQUIRE(*f.Get("bkt", "k") == data);
  for (uint32_t si = 0; si < 6; ++si) CHECK(counters.at(m.distribution[si]).reads == (si < 4));
  reads();
  CHECK(f.set->HeadObject("bkt", "k").ok());
  CHECK(reads() == 4);
  f.clock.Advance(ErasureSet::kFullReadIntervalNs);
  REQUIRE(*f.Get("bkt", "k") == data);
  CHECK(reads() == 6);  // due again
  REQUIRE(*f.Get("bkt", "k") == data);
  CHECK(reads() == 4);
  // A missing key: a read quorum of members says so.
  CHECK(f.set->HeadObject("bkt", "nope").status().code() == Code::kNotFound);
  CHECK(reads() == 4);
}

TEST_CASE("a new key's commit reads no member's copy; an overwrite reads every member's",
          "[commit]") {
  SetFixture f(4, 2, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  MetaReadCounters counters(f);
  CloseSetFirst close_first{f};
  f.Reopen();
  REQUIRE(f.set);
  auto reads = [&] { return counters.Take(); };
  for (bool large : {false, true}) {
    CAPTURE(large);
    // "a/k": the key's directory is made by the commit too.
    for (const std::string key : {"k", "a/k"}) {
      CAPTURE(key);
      const std::string k = key + (large ? "-large" : "");
      REQUIRE(f.Put("bkt", k, RandomBytes(large ? 200000 : 500, 1)).ok());
      CHECK(reads() == 0);  // renamed into place where absent: nothing to look at first
      const std::string data = RandomBytes(large ? 210000 : 600, 2);
      REQUIRE(f.Put("bkt", k, data).ok());
      CHECK(reads() == 6);  // the first member refused the rename: every copy read, as before
      CHECK(*f.Get("bkt", k) == data);
      reads();
    }
  }
}

TEST_CASE("a new key's commit over copies left on some members publishes the rest as overwrites",
          "[commit]") {
  SetFixture f(4, 2, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string meta = KeyPaths("bkt", "k").meta;
  const std::string aside = KeyPaths("bkt", "k").DisplacedPath();
  // Copies of an old version on members 3..5 only (below the read quorum: no object), none on
  // 0..2, which the commit reaches first.
  REQUIRE(f.Put("bkt", "k", RandomBytes(200000, 1)).ok());
  const ObjectMeta old = MetaOf(f, 0, "k");
  for (uint32_t pos : {0, 1, 2}) {
    REQUIRE(f.mem[pos]->Remove(meta).ok());
    REQUIRE(f.mem[pos]->Remove(KeyPaths("bkt", "k").ShardPath(old.data_id.Hex())).ok());
  }
  REQUIRE(f.set->HeadObject("bkt", "k").status().code() == Code::kNotFound);
  SECTION("published on every member") {
    const std::string data = RandomBytes(210000, 2);
    REQUIRE(f.Put("bkt", "k", data).ok());
    CHECK(*f.Get("bkt", "k") == data);
    const ObjectMeta now = MetaOf(f, 0, "k");
    for (uint32_t pos = 0; pos < 6; ++pos) {
      CAPTURE(pos);
      CHECK(MetaOf(f, pos, "k").version_id == now.version_id);
      CHECK(f.mem[pos]->Stat(KeyPaths("bkt", "k").ShardPath(now.data_id.Hex())).ok());
      // The old shard files went; the old copies stay beside the new ones where they were.
      CHECK(!f.mem[pos]->Stat(KeyPaths("bkt", "k").ShardPath(old.data_id.Hex())).ok());
      auto beside = f.mem[pos]->ReadFile(aside, 1 << 20);
      CHECK(beside.ok() == (pos >= 3));
      if (beside.ok()) CHECK(ObjectMeta::Decode(*beside)->version_id == old.version_id);
    }
  }
  SECTION("below the write quorum every member is put back") {
    // Members 3..5 refuse every rename of a metadata copy: 3 published < 4.
    for (uint32_t pos : {3, 4, 5}) {
      f.faulty[pos]->AddRule(Rule(FaultOp::kRename, "*=", FaultKind::kIOError));
    }
    CHECK(f.Put("bkt", "k", RandomBytes(210000, 2)).code() == Code::kQuorum);
    for (auto& fv : f.faulty) fv->ClearRules();
    for (uint32_t pos = 0; pos < 6; ++pos) {
      CAPTURE(pos);
      CHECK(f.mem[pos]->Stat(meta).ok() == (pos >= 3));
      if (pos >= 3) CHECK(MetaOf(f, pos, "k").version_id == old.version_id);
      CHECK(!f.mem[pos]->Stat(aside).ok());
    }
    RequireNoTemps(f);
  }
}

TEST_CASE("copies lost or damaged where quorum reads do not look are still queued for heal",
          "[quorum]") {
  SetFixture f(4, 2, 4096, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(9000, 8);  // three blocks, inline
  REQUIRE(f.Put("bkt", "k", data).ok());
  REQUIRE(*f.Get("bkt", "k") == data);  // every member read: healthy, nothing queued
  REQUIRE(f.set->ListMrf()->empty());
  const ObjectMeta m = MetaOf(f, 0, "k");
  const std::string path = KeyPaths("bkt", "k").meta;
  // The parity shards' members: one loses its copy, the other's copy is of an older version.
  const uint32_t p4 = m.distribution[4], p5 = m.distribution[5];
  REQUIRE(f.mem[p4]->Remove(path).ok());
  ObjectMeta stale = MetaOf(f, p5, "k");
  stale.version_id = Uuid::Random();
  stale.mod_time_ns -= 1000;
  REQUIRE(f.mem[p5]->WriteFile(path, stale.Encode().value(), false).ok());
  // Within the interval a GET reads the data shards' members only: right, not noticed yet.
  REQUIRE(*f.Get("bkt", "k") == data);
  REQUIRE(f.set->ListMrf()->empty());
  // Once the interval is over, the GET reads every member and queues the object.
  f.clock.Advance(ErasureSet::kFullReadIntervalNs);
  REQUIRE(*f.Get("bkt", "k") == data);
  auto mrf = f.set->ListMrf();
  REQUIRE(mrf.ok());
  REQUIRE(mrf->size() == 1);
  CHECK((*mrf)[0].key == "k");
  CHECK((*mrf)[0].version_id == m.version_id);
  std::vector<uint32_t> got = (*mrf)[0].positions, want{p4, p5};
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(got == want);
}

TEST_CASE("a quorum read with a bad data shard reads the other members and rebuilds it",
          "[quorum][bitrot]") {
  SetFixture f(4, 2, 4096, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(9000, 9);
  REQUIRE(f.Put("bkt", "k", data).ok());
  REQUIRE(*f.Get("bkt", "k") == data);  // every member read once: later GETs read a quorum
  const ObjectMeta m = MetaOf(f, 0, "k");
  const std::string path = KeyPaths("bkt", "k").meta;
  // Two data shards damaged in their last block (the metadata checksums stay right), so that a
  // read of the data shards' members alone cannot answer.
  for (uint32_t si : {1u, 3u}) {
    const uint32_t pos = m.distribution[si];
    ObjectMeta bad = MetaOf(f, pos, "k");
    REQUIRE(bad.inline_shard.size() > 20);
    bad.inline_shard[bad.inline_shard.size() - 12] ^= 0x40;
    REQUIRE(f.mem[pos]->WriteFile(path, bad.Encode().value(), false).ok());
  }
  REQUIRE(*f.Get("bkt", "k") == data);
  auto mrf = f.set->ListMrf();
  REQUIRE(mrf.ok());
  REQUIRE(mrf->size() == 1);
  std::vector<uint32_t> got = (*mrf)[0].positions, want{m.distribution[1], m.distribution[3]};
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(got == want);
  // A third in the same block: more than M bad, the GET fails and sends nothing wrong.
  {
    const uint32_t pos = m.distribution[0];
    ObjectMeta bad = MetaOf(f, pos, "k");
    bad.inline_shard[bad.inline_shard.size() - 12] ^= 0x40;
    REQUIRE(f.mem[pos]->WriteFile(path, bad.Encode().value(), false).ok());
  }
  StringSink sink;
  auto info = f.set->GetObject("bkt", "k", sink);
  REQUIRE(!info.ok());
  CHECK(info.status().code() == Code::kDataLoss);
  CHECK(data.compare(0, sink.out.size(), sink.out) == 0);
}

TEST_CASE("QuorumDecided stops only where every member's copies would pick the same", "[quorum]") {
  // Every state a member's copy can be in, over small sets, read in every rotation: wherever
  // QuorumDecided says stop, PickVersion over the members read gives PickVersion's answer over
  // all of them.
  std::mt19937_64 rng(42);
  for (auto [k, m] : std::vector<std::pair<uint32_t, uint32_t>>{{2, 1}, {2, 2}, {4, 2}, {3, 3}, {8, 4}}) {
    SetFixture f(k, m);
    const uint32_t n = k + m;
    std::vector<ObjectMeta> versions(3);
    for (int v = 0; v < 3; ++v) {
      versions[v].version_id = Uuid::Random();
      versions[v].mod_time_ns = 1000 * (v + 1);
      versions[v].delete_marker = v == 2;
    }
    uint64_t stops = 0;
    for (int iter = 0; iter < 4000; ++iter) {
      std::vector<MetaRead> all(n);
      // Mostly one version, so that quorums happen.
      const int main_state = int(rng() % 6);
      for (auto& r : all) {
        const int s = rng() % 3 == 0 ? int(rng() % 6) : main_state;
        if (s < 3) {
          r.present = true;
          r.meta = versions[s];
        } else if (s == 3) {
          r.error = NotFound("absent");
        } else if (s == 4) {
          r.error = Corruption("damaged");
        } else {
          r.error = IOError("offline");
        }
      }
      auto full = f.set->PickVersion(all, "x");
      const uint32_t first = uint32_t(rng() % n);
      std::vector<MetaRead> part(n);
      for (auto& r : part) r.skipped = true;
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t pos = (first + i) % n;
        part[pos] = all[pos];
        if (!f.set->QuorumDecided(part)) continue;
        ++stops;
        auto got = f.set->PickVersion(part, "x");
        CAPTURE(k, m, iter, i);
        REQUIRE(got.ok() == full.ok());
        if (full.ok()) {
          CHECK(part[*got].meta.version_id == all[*full].meta.version_id);
        } else {
          CHECK(got.status().code() == full.status().code());
        }
        break;
      }
    }
    CHECK(stops > 1000);
  }
}
