// Buckets: the bucket record's bytes (golden), and mb / rb / listing / heal of buckets on an
// in-memory set with injected faults: a bucket exists after mb exactly when mb succeeded.
#include <algorithm>
#include <catch2/catch.hpp>

#include "libstore/common/hash.h"
#include "libstore/format/bucket_meta.h"
#include "libstore/object/key_locks.h"
#include "test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

void Le(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(char(v >> (8 * i)));
}

// Whether member i holds a directory b.
bool HasDir(SetFixture& f, size_t i, const std::string& b) {
  auto st = f.mem[i]->Stat(b);
  return st.ok() && st->is_dir();
}

}  // namespace

TEST_CASE("bucket record: golden bytes, round trip, damage detected", "[bucket][format]") {
  BucketMeta m;
  m.created_ns = 0x0102030405060708LL;
  std::string want = "CAIRNBKT";
  Le(&want, 1, 4);                   // version
  Le(&want, 0x0102030405060708, 8);  // created
  Le(&want, Xxh3_64(want.data(), want.size()), 8);
  auto got = m.Encode();
  REQUIRE(got.ok());
  REQUIRE(*got == want);
  CHECK(got->size() == kBucketMetaSize);
  auto back = BucketMeta::Decode(*got);
  REQUIRE(back.ok());
  CHECK(back->created_ns == m.created_ns);
  // Every single-bit change, every truncation and any extra byte is refused.
  for (size_t i = 0; i < got->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = *got;
      bad[i] ^= char(1 << bit);
      CHECK(BucketMeta::Decode(bad).status().code() == Code::kCorruption);
    }
    CHECK(BucketMeta::Decode(got->substr(0, i)).status().code() == Code::kCorruption);
  }
  CHECK(!BucketMeta::Decode(*got + "x").ok());
  // What an older cairn wrote (decimal text), or anyone's file, is not a record...
  CHECK(!BucketMeta::Decode("1764633600000000000").ok());
  CHECK(!BucketMeta::Decode("").ok());
  // ... but the old decimal form is still recognised as a bucket's, and said to be legacy.
  bool legacy = false;
  auto old = BucketMeta::DecodeOrLegacy("1764633600000000000", &legacy);
  REQUIRE(old.ok());
  CHECK(legacy);
  CHECK(old->created_ns == 1764633600000000000);
  old = BucketMeta::DecodeOrLegacy(*got, &legacy);
  REQUIRE(old.ok());
  CHECK(!legacy);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "12a", "99999999999999999999", "junk"}) {
    INFO(bad);
    CHECK(BucketMeta::DecodeOrLegacy(bad, &legacy).status().code() == Code::kCorruption);
  }
}

TEST_CASE("bucket record: Encode refuses what Decode refuses", "[bucket][format]") {
  BucketMeta m;
  m.created_ns = -1;
  CHECK(m.Encode().status().code() == Code::kInvalidArgument);
  // A negative time sealed by hand is refused by Decode too: the two agree.
  std::string forged = "CAIRNBKT";
  Le(&forged, 1, 4);
  Le(&forged, uint64_t(-1), 8);
  Le(&forged, Xxh3_64(forged.data(), forged.size()), 8);
  CHECK(BucketMeta::Decode(forged).status().code() == Code::kCorruption);
  for (int64_t t : {int64_t(0), int64_t(1), INT64_MAX}) {
    m.created_ns = t;
    auto e = m.Encode();
    REQUIRE(e.ok());
    auto d = BucketMeta::Decode(*e);
    REQUIRE(d.ok());
    CHECK(d->created_ns == t);
  }
}

TEST_CASE("mb writes a decodable record on every member", "[bucket]") {
  SetFixture f(2, 1);
  std::vector<std::string> warnings;
  REQUIRE(f.set->MakeBucket("bkt", &warnings).ok());
  CHECK(warnings.empty());
  for (size_t i = 0; i < 3; ++i) {
    auto raw = f.mem[i]->ReadFile("bkt/bucket.meta", 100);
    REQUIRE(raw.ok());
    CHECK(BucketMeta::Decode(*raw).ok());
  }
  auto list = f.set->ListBuckets();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].name == "bkt");
  CHECK((*list)[0].created_ns > 0);
  CHECK(f.set->MakeBucket("bkt").code() == Code::kAlreadyExists);
}

TEST_CASE("a bucket check stops at a read quorum of members that hold it", "[bucket]") {
  SetFixture f(4, 2);  // read quorum 4: members 5 and 6 are never asked when 1-4 answer yes
  REQUIRE(f.set->MakeBucket("bkt").ok());
  FaultRule stat;
  stat.op = FaultOp::kStat;
  stat.path_glob = "bkt";
  for (int i = 4; i < 6; ++i) f.faulty[i]->AddRule(stat);
  CHECK(f.set->BucketExists("bkt").ok());
  CHECK(f.Put("bkt", "k", "data").ok());
  CHECK(f.faulty[4]->injected() == 0);
  CHECK(f.faulty[5]->injected() == 0);
  // A member that cannot answer is passed over for the next one, and the check still stops at
  // the fourth yes (member 5): member 6 is not asked.
  f.faulty[4]->ClearRules();
  f.faulty[0]->AddRule(stat);
  CHECK(f.set->BucketExists("bkt").ok());
  CHECK(f.faulty[0]->injected() == 1);
  CHECK(f.faulty[5]->injected() == 0);
}

TEST_CASE("mb on a write quorum succeeds and names the members that missed it", "[bucket]") {
  SetFixture f(2, 1);  // write quorum 2
  FaultRule full;
  full.op = FaultOp::kAppend;
  full.kind = FaultKind::kNoSpace;
  f.faulty[1]->AddRule(full);
  std::vector<std::string> warnings;
  REQUIRE(f.set->MakeBucket("bkt", &warnings).ok());
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("member 2") != std::string::npos);
  CHECK(warnings[0].find("cairn heal") != std::string::npos);
  CHECK(f.set->BucketExists("bkt").ok());
  CHECK(f.Put("bkt", "k", "data").ok());
  // Heal gives the member that missed it its record once it has room.
  f.faulty[1]->ClearRules();
  auto made = f.set->HealBucket("bkt", false);
  REQUIRE(made.ok());
  CHECK(*made == std::vector<uint32_t>{1});
  auto raw = f.mem[1]->ReadFile("bkt/bucket.meta", 100);
  REQUIRE(raw.ok());
  CHECK(BucketMeta::Decode(*raw).ok());
}

TEST_CASE("mb below the write quorum fails and leaves no bucket", "[bucket]") {
  SetFixture f(1, 1);  // write quorum 2, read quorum 1: a half-made bucket would be visible
  FaultRule full;
  full.op = FaultOp::kAppend;
  full.kind = FaultKind::kNoSpace;
  f.faulty[1]->AddRule(full);
  std::vector<std::string> warnings;
  Status s = f.set->MakeBucket("bkt", &warnings);
  CHECK(s.code() == Code::kQuorum);
  CHECK(s.message().find("nothing kept") != std::string::npos);
  CHECK(s.message().find("member 2") != std::string::npos);
  CHECK(warnings.empty());
  CHECK(f.set->BucketExists("bkt").code() == Code::kBucketNotFound);
  CHECK(!HasDir(f, 0, "bkt"));
  CHECK(!HasDir(f, 1, "bkt"));
  CHECK(f.Put("bkt", "k", "data").code() == Code::kBucketNotFound);
  auto list = f.set->ListBuckets();
  REQUIRE(list.ok());
  CHECK(list->empty());
  // Nothing left in the temp directories either.
  CHECK(f.Files(0, ".cairn/tmp").empty());
  CHECK(f.Files(1, ".cairn/tmp").empty());
}

TEST_CASE("a failed mb keeps what was there before it", "[bucket]") {
  SetFixture f(2, 2);  // write quorum 3, read quorum 2
  // Member 1 already holds a directory of that name with someone's file (a dangling bucket).
  REQUIRE(f.mem[0]->MakeDirs("bkt").ok());
  REQUIRE(f.mem[0]->WriteFile("bkt/theirs", "x", false).ok());
  FaultRule broken;
  broken.op = FaultOp::kOpenWrite;
  f.faulty[1]->AddRule(broken);
  f.faulty[2]->AddRule(broken);
  CHECK(f.set->MakeBucket("bkt").code() == Code::kQuorum);
  CHECK(!HasDir(f, 1, "bkt"));
  CHECK(!HasDir(f, 2, "bkt"));
  CHECK(!HasDir(f, 3, "bkt"));
  CHECK(HasDir(f, 0, "bkt"));
  CHECK(f.mem[0]->ReadFile("bkt/theirs", 10).value() == "x");
  CHECK(f.mem[0]->Stat("bkt/bucket.meta").status().code() == Code::kNotFound);
}

TEST_CASE("listing and heal count only directories with a valid record", "[bucket]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  // Someone's directories beside the set, named like buckets, on every member.
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(f.mem[i]->MakeDirs("abc").ok());
    REQUIRE(f.mem[i]->WriteFile("abc/bucket.meta", "junk", false).ok());
    REQUIRE(f.mem[i]->MakeDirs("plain").ok());
  }
  auto list = f.set->ListBuckets();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].name == "bkt");
  auto scan = f.set->ScanBuckets();
  REQUIRE(scan.ok());
  CHECK(*scan == std::vector<std::pair<std::string, uint32_t>>{{"bkt", 3}});
  // A damaged record on one member is rewritten by heal, with the others' creation time.
  REQUIRE(f.mem[2]->WriteFile("bkt/bucket.meta", "damaged", false).ok());
  scan = f.set->ScanBuckets();
  REQUIRE(scan.ok());
  CHECK(*scan == std::vector<std::pair<std::string, uint32_t>>{{"bkt", 2}});
  auto made = f.set->HealBucket("bkt", false);
  REQUIRE(made.ok());
  CHECK(*made == std::vector<uint32_t>{2});
  CHECK(f.mem[2]->ReadFile("bkt/bucket.meta", 100).value() ==
        f.mem[0]->ReadFile("bkt/bucket.meta", 100).value());
  // The other directories were not touched.
  CHECK(f.mem[0]->ReadFile("abc/bucket.meta", 100).value() == "junk");
  CHECK(f.mem[0]->Stat("plain/bucket.meta").status().code() == Code::kNotFound);
}

TEST_CASE("a set made before bucket records existed keeps its buckets; heal rewrites them",
          "[bucket]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("old").ok());
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(f.mem[i]->WriteFile("old/bucket.meta", "1764633600000000000", false).ok());
  }
  REQUIRE(f.mem[2]->WriteFile("old/bucket.meta", "99999999999999999999", false).ok());  // overflow
  auto list = f.set->ListBuckets();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].created_ns == 1764633600000000000);
  auto made = f.set->HealBucket("old", false);
  REQUIRE(made.ok());
  CHECK(*made == std::vector<uint32_t>{0, 1, 2});
  for (size_t i = 0; i < 3; ++i) {
    auto m = BucketMeta::Decode(f.mem[i]->ReadFile("old/bucket.meta", 100).value());
    REQUIRE(m.ok());
    CHECK(m->created_ns == 1764633600000000000);
  }
  made = f.set->HealBucket("old", false);
  REQUIRE(made.ok());
  CHECK(made->empty());
}

TEST_CASE("verify's scan reports symlinks and other non-files it meets", "[bucket][foreign]") {
  // MemVolume has no symlinks: a wrapper makes some entries look like them.
  class Odd : public VolumeWrapper {
   public:
    using VolumeWrapper::VolumeWrapper;
    Result<std::vector<DirEntry>> ListDir(const std::string& p) override {
      auto r = VolumeWrapper::ListDir(p);
      if (!r.ok()) return r;
      for (auto& e : *r) {
        if (e.name.rfind("link", 0) == 0) e.kind = FileKind::kSymlink;
        if (e.name.rfind("fifo", 0) == 0) e.kind = FileKind::kOther;
      }
      return r;
    }
  };
  SetFixture f(2, 1);
  Odd odd(f.faulty[1].get());
  f.vols[1] = &odd;
  CloseSetFirst close_first{f};
  f.Reopen();
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "a/b", "x").ok());
  REQUIRE(f.mem[1]->WriteFile("link-top", "", false).ok());
  REQUIRE(f.mem[1]->WriteFile(".cairn/link-sys", "", false).ok());
  REQUIRE(f.mem[1]->WriteFile("bkt/link~", "", false).ok());
  REQUIRE(f.mem[1]->WriteFile("bkt/a~/fifo=", "", false).ok());
  REQUIRE(f.mem[1]->WriteFile("bkt/zz~", "", false).ok());  // a file where a directory would be
  std::vector<ForeignEntry> seen;
  ForeignEntryFn note = [&](const ForeignEntry& e) { seen.push_back(e); };
  auto buckets = f.set->ScanBuckets(note);
  REQUIRE(buckets.ok());
  std::vector<std::string> keys;
  REQUIRE(f.set
              ->ScanKeys(
                  "bkt", "", "",
                  [&](const std::string& k) {
                    keys.push_back(k);
                    return true;
                  },
                  note)
              .ok());
  CHECK(keys == std::vector<std::string>{"a/b"});
  std::vector<std::string> paths;
  for (const auto& e : seen) {
    CHECK(e.position == 1);
    paths.push_back(e.path + (e.kind == FileKind::kSymlink ? " symlink" : " other"));
  }
  std::sort(paths.begin(), paths.end());
  CHECK(paths == std::vector<std::string>{".cairn/link-sys symlink", "bkt/a~/fifo= other",
                                          "bkt/link~ symlink", "link-top symlink"});
  // Outside the scope (another prefix), nothing is reported from inside the bucket.
  seen.clear();
  REQUIRE(f.set
              ->ScanKeys(
                  "bkt", "q", "", [](const std::string&) { return true; }, note)
              .ok());
  CHECK(seen.empty());
}

TEST_CASE("rb lists the bucket under the bucket lock whatever stripe its keys hash to", "[bucket]") {
  // rb without --force looks for a key while it holds the bucket lock, and reading a key takes
  // that key's stripe: a key whose stripe were the bucket lock's would deadlock rb. Every stripe
  // is tried (a key for each), and the bucket lock's own stripe number too.
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  std::vector<bool> seen(KeyLocks::kStripes, false);
  for (int i = 0; i < 4000; ++i) {
    const std::string key = "k" + std::to_string(i);
    const size_t s = f.set->Stripe("bkt", key);
    if (seen[s]) continue;
    seen[s] = true;
    REQUIRE(f.Put("bkt", key, "x").ok());
    CHECK(f.set->RemoveBucket("bkt", false).code() == Code::kNotEmpty);
    REQUIRE(f.set->DeleteObject("bkt", key).ok());
  }
  CHECK(std::count(seen.begin(), seen.end(), true) == int(KeyLocks::kStripes));
  CHECK(f.set->RemoveBucket("bkt", false).ok());
}
