// Fault injection through FaultyVolume: ENOSPC, I/O errors, torn writes, failed renames, bit flips.
// Each test checks that a failed PUT leaves nothing visible, keeps the previous version and leaves
// no temp files; that a PUT which lost a volume still succeeds with an MRF entry.
#include <catch2/catch.hpp>

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
    CHECK(!s.ok());
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
    CHECK(!f.Put("bkt", "new", RandomBytes(large ? 300000 : 100, 3)).ok());
    for (auto& fv : f.faulty) fv->ClearRules();
    CHECK(f.set->HeadObject("bkt", "new").status().code() == Code::kNotFound);
    ListOptions lo;
    auto list = f.set->ListObjects("bkt", lo);
    REQUIRE(list.ok());
    CHECK(list->objects.size() == 1);
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
