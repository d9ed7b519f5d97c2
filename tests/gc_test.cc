// ErasureSet::CollectGarbage over MemVolumes: temp files and bucket trash, orphan shards, empty key
// directories, stale and unreadable MRF entries; the grace period, dry runs, errors; and that
// nothing a live object needs is touched. MemVolume's clock is fake (it starts in 2023 and ticks
// per change), so "now" is either far past the wall clock, or set from a file's own mtime to put
// the cutoff between two files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>

#include "libstore/format/key_path.h"
#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

constexpr int64_t kHourNs = 3600LL * 1000000000;

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// gc's options and the time it runs at: the set's clock reads now_ns during the run.
struct GcAt : GcOptions {
  int64_t now_ns = 0;
};

// Two days from now: everything written so far (and every MRF entry) is past the default 24 h.
GcAt Later(bool dry_run = false) {
  GcAt o;
  o.now_ns = WallNs() + 48 * kHourNs;
  o.dry_run = dry_run;
  return o;
}

struct GcRunResult {
  GcReport report;
  std::vector<GcItem> items;  // in the order fn saw them

  std::vector<GcItem> Of(const std::string& what) const {
    std::vector<GcItem> out;
    for (const auto& it : items) {
      if (Name(it.what) == what) out.push_back(it);
    }
    return out;
  }
  bool Reported(const std::string& path) const {
    return std::any_of(items.begin(), items.end(),
                       [&](const GcItem& it) { return it.path == path; });
  }
};

GcRunResult RunGc(SetFixture& f, const GcAt& o) {
  GcRunResult out;
  f.clock.Set(o.now_ns);
  auto r = f.set->CollectGarbage(o, [&](const GcItem& it) { out.items.push_back(it); });
  f.clock.Set(0);  // back to the wall clock
  REQUIRE(r.ok());
  out.report = std::move(r).value();
  return out;
}

using ItemKey = std::tuple<uint32_t, std::string, std::string, uint64_t>;
std::vector<ItemKey> Sorted(const std::vector<GcItem>& items) {
  std::vector<ItemKey> out;
  for (const auto& it : items) out.emplace_back(it.position, it.path, Name(it.what), it.bytes);
  std::sort(out.begin(), out.end());
  return out;
}

bool Exists(SetFixture& f, size_t vol, const std::string& path) {
  return f.mem[vol]->Stat(path).ok();
}

uint64_t SizeOf(SetFixture& f, size_t vol, const std::string& path) {
  auto st = f.mem[vol]->Stat(path);
  REQUIRE(st.ok());
  return st->size;
}

// Every file and directory on a volume with its size and content ("d" for directories), sorted.
std::vector<std::string> Tree(SetFixture& f, size_t vol, const std::string& dir = "") {
  std::vector<std::string> out;
  auto entries = f.mem[vol]->ListDir(dir);
  if (!entries.ok()) return out;
  for (const auto& e : *entries) {
    std::string p = dir.empty() ? e.name : dir + "/" + e.name;
    if (e.is_dir()) {
      out.push_back(p + " d");
      auto sub = Tree(f, vol, p);
      out.insert(out.end(), sub.begin(), sub.end());
    } else {
      auto data = f.mem[vol]->ReadFile(p, 64 << 20);
      out.push_back(p + " " + (data.ok() ? *data : "?"));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The shard file that an object's metadata copy on one volume names; "" if inline or absent.
std::string ShardOf(SetFixture& f, size_t vol, const std::string& bucket, const std::string& key) {
  const std::string meta = KeyPaths(bucket, key).meta;
  auto raw = f.mem[vol]->ReadFile(meta, kMaxMetaFileSize);
  if (!raw.ok()) return "";
  auto m = ObjectMeta::Decode(*raw);
  if (!m.ok() || m->is_inline()) return "";
  return meta + m->data_id.Hex();
}

// A PUT while volume `off` is offline: it succeeds and journals the volume it missed.
void PutMissing(SetFixture& f, size_t off, const std::string& bucket, const std::string& key,
                const std::string& data) {
  f.vols[off] = nullptr;
  f.Reopen();
  REQUIRE(f.set);
  REQUIRE(f.Put(bucket, key, data).ok());
  f.vols[off] = f.faulty[off].get();
  f.Reopen();
  REQUIRE(f.set);
}

// The MRF entry id of each key.
std::map<std::string, std::string> MrfIds(SetFixture& f) {
  auto list = f.set->ListMrf();
  REQUIRE(list.ok());
  std::map<std::string, std::string> out;
  for (const auto& e : *list) out[e.key] = e.id;
  return out;
}

FaultRule Fail(FaultOp op, const std::string& glob) {
  FaultRule r;
  r.op = op;
  r.path_glob = glob;
  r.kind = FaultKind::kIOError;
  return r;
}

}  // namespace

TEST_CASE("gc removes temp files past the grace period and keeps younger ones", "[gc]") {
  SetFixture f(4, 2);
  Volume& v = *f.mem[1];
  REQUIRE(v.WriteFile(".cairn/tmp/old.meta", std::string(100, 'o'), false).ok());
  REQUIRE(v.WriteFile(".cairn/tmp/young.shard", std::string(50, 'y'), false).ok());
  auto young = v.Stat(".cairn/tmp/young.shard");
  REQUIRE(young.ok());
  REQUIRE(v.Stat(".cairn/tmp/old.meta")->mtime_ns < young->mtime_ns);

  // The cutoff is young's mtime: young is not older than the grace period, old is.
  GcAt o;
  o.older_than_ns = kHourNs;
  o.now_ns = young->mtime_ns + kHourNs;
  auto r = RunGc(f, o);
  CHECK(!Exists(f, 1, ".cairn/tmp/old.meta"));
  CHECK(Exists(f, 1, ".cairn/tmp/young.shard"));
  CHECK(Sorted(r.items) == std::vector<ItemKey>{{1, ".cairn/tmp/old.meta", "temp", 100}});
  CHECK(r.report.items == 1);
  CHECK(r.report.bytes == 100);
  CHECK(r.report.errors.empty());

  // A nanosecond later young is past it too.
  o.now_ns += 1;
  r = RunGc(f, o);
  CHECK(!Exists(f, 1, ".cairn/tmp/young.shard"));
  CHECK(Sorted(r.items) == std::vector<ItemKey>{{1, ".cairn/tmp/young.shard", "temp", 50}});
  CHECK(f.Files(1, ".cairn/tmp").empty());
}

TEST_CASE("gc removes the trash of a bucket removal that crashed, bytes summed", "[gc]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("doomed").ok());
  REQUIRE(f.Put("doomed", "big", RandomBytes(200000, 1)).ok());
  REQUIRE(f.Put("doomed", "d/small", RandomBytes(3000, 2)).ok());
  // On volume 3 nothing inside the trash can be removed, as if the process died after the rename.
  f.faulty[3]->AddRule(Fail(FaultOp::kRemove, ".cairn/tmp/*.rb/*"));
  REQUIRE(f.set->RemoveBucket("doomed", true).ok());  // 5 of 6 volumes is a write quorum
  REQUIRE(f.faulty[3]->injected() > 0);
  f.faulty[3]->ClearRules();

  auto tmp = f.mem[3]->ListDir(".cairn/tmp");
  REQUIRE(tmp.ok());
  REQUIRE(tmp->size() == 1);
  REQUIRE((*tmp)[0].is_dir());
  const std::string& name = (*tmp)[0].name;
  REQUIRE(name.size() > 3);
  REQUIRE(name.compare(name.size() - 3, 3, ".rb") == 0);
  const std::string trash = std::string(".cairn/tmp/") + (*tmp)[0].name;
  uint64_t bytes = 0;
  auto files = f.Files(3, trash);
  for (const auto& p : files) bytes += SizeOf(f, 3, p);
  REQUIRE(files.size() >= 4);  // bucket.meta, two metadata files, a shard
  REQUIRE(bytes > 200000 / 4);

  auto r = RunGc(f, Later());
  CHECK(!Exists(f, 3, trash));
  CHECK(Sorted(r.items) == std::vector<ItemKey>{{3, trash, "temp", bytes}});
  CHECK(r.report.bytes == bytes);
  CHECK(r.report.errors.empty());
}

TEST_CASE("gc removes orphan shards and keeps a shard whose object has metadata elsewhere",
          "[gc]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string kept = RandomBytes(150000, 2);
  // Two lost objects, one with a key of chunked, escaped segments (gc rebuilds the key from the
  // directory names to lock it).
  const std::vector<std::string> lost_keys = {
      "dir/lost", "deep/" + std::string(250, 'q') + "/%\t" + std::string(300, 'r')};
  for (const auto& key : lost_keys) REQUIRE(f.Put("bkt", key, RandomBytes(200000, 1)).ok());
  REQUIRE(f.Put("bkt", "kept", kept).ok());

  // Every metadata copy of the lost objects removed by hand: their shards are orphans.
  std::vector<ItemKey> lost;
  for (const auto& key : lost_keys) {
    for (uint32_t i = 0; i < 6; ++i) {
      std::string shard = ShardOf(f, i, "bkt", key);
      REQUIRE(!shard.empty());
      lost.emplace_back(i, shard, "orphan-shard", SizeOf(f, i, shard));
      REQUIRE(f.mem[i]->Remove(KeyPaths("bkt", key).meta).ok());
    }
  }
  std::sort(lost.begin(), lost.end());
  // kept loses only volume 0's copy: heal can re-attach volume 0's shard, so it must stay.
  const std::string kept_shard = ShardOf(f, 0, "bkt", "kept");
  REQUIRE(!kept_shard.empty());
  REQUIRE(f.mem[0]->Remove(KeyPaths("bkt", "kept").meta).ok());
  // A shard file beside kept whose data id no copy names, written last.
  const std::string stray = KeyPaths("bkt", "kept").meta + Uuid::Random().Hex();
  REQUIRE(f.mem[2]->WriteFile(stray, std::string(777, 's'), false).ok());

  // Cutoff at the stray's mtime: the older orphans go, the stray is still in its grace period.
  GcAt o;
  o.now_ns = f.mem[2]->Stat(stray)->mtime_ns + o.older_than_ns;
  auto r = RunGc(f, o);
  CHECK(Sorted(r.Of("orphan-shard")) == lost);
  for (const auto& [pos, path, what, bytes] : lost) CHECK(!Exists(f, pos, path));
  CHECK(Exists(f, 2, stray));
  CHECK(Exists(f, 0, kept_shard));
  CHECK(r.report.errors.empty());

  r = RunGc(f, Later());
  CHECK(Sorted(r.Of("orphan-shard")) == std::vector<ItemKey>{{2, stray, "orphan-shard", 777}});
  CHECK(!Exists(f, 2, stray));
  CHECK(Exists(f, 0, kept_shard));
  auto got = f.Get("bkt", "kept");
  REQUIRE(got.ok());
  CHECK(*got == kept);
}

TEST_CASE("gc keeps shards without metadata while a member is offline, and says so", "[gc]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "obj", RandomBytes(200000, 3)).ok());
  std::vector<std::string> shards;
  for (uint32_t i = 0; i < 6; ++i) {
    shards.push_back(ShardOf(f, i, "bkt", "obj"));
    REQUIRE(!shards.back().empty());
  }
  // Volume 5 goes offline holding its copy; the online copies are lost: only volume 5's
  // metadata would still name the shards.
  for (uint32_t i = 0; i < 5; ++i) REQUIRE(f.mem[i]->Remove(KeyPaths("bkt", "obj").meta).ok());
  f.vols[5] = nullptr;
  f.Reopen();
  REQUIRE(f.set);
  auto r = RunGc(f, Later());
  CHECK(r.Of("orphan-shard").empty());
  for (uint32_t i = 0; i < 5; ++i) CHECK(Exists(f, i, shards[i]));
  REQUIRE(r.report.notes.size() == 1);
  CHECK(r.report.notes[0].find("offline") != std::string::npos);
  // Every member back: nothing names them on the online members... nor on member 5, once its
  // copy is gone too; then they are orphans.
  REQUIRE(f.mem[5]->Remove(KeyPaths("bkt", "obj").meta).ok());
  f.vols[5] = f.faulty[5].get();
  f.Reopen();
  r = RunGc(f, Later());
  CHECK(r.Of("orphan-shard").size() == 6);
  CHECK(r.report.notes.empty());
}

TEST_CASE("gc keeps a shard while a metadata copy that might name it cannot be read", "[gc]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "o", RandomBytes(200000, 3)).ok());
  const std::string meta = KeyPaths("bkt", "o").meta;
  std::vector<std::string> shards;
  for (uint32_t i = 0; i < 6; ++i) {
    shards.push_back(ShardOf(f, i, "bkt", "o"));
    REQUIRE(!shards.back().empty());
  }
  for (uint32_t i = 0; i < 5; ++i) REQUIRE(f.mem[i]->Remove(meta).ok());
  f.faulty[5]->AddRule(Fail(FaultOp::kOpenRead, meta));

  auto r = RunGc(f, Later());
  REQUIRE(f.faulty[5]->injected() > 0);
  CHECK(r.Of("orphan-shard").empty());
  for (uint32_t i = 0; i < 6; ++i) CHECK(Exists(f, i, shards[i]));
  REQUIRE(r.report.errors.size() == 6);  // one per shard it could not judge
  for (const auto& e : r.report.errors) {
    CHECK(e.rfind("mem:v5/" + meta + ": ", 0) == 0);
    CHECK(e.find("injected") != std::string::npos);
  }

  // Readable again and gone: now they are orphans.
  f.faulty[5]->ClearRules();
  REQUIRE(f.mem[5]->Remove(meta).ok());
  r = RunGc(f, Later());
  CHECK(r.Of("orphan-shard").size() == 6);
  for (uint32_t i = 0; i < 6; ++i) CHECK(!Exists(f, i, shards[i]));
}

TEST_CASE("gc leaves live objects byte-identical, and spares it took are made again", "[gc]") {
  SetFixture f(4, 2);  // block 64 KiB, inline limit 16 KiB
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.set->MakeBucket("other").ok());
  std::vector<std::pair<std::string, std::string>> objects;  // "bucket/key" -> data
  const std::vector<std::string> keys = {"a", "a/", "a/b", "x/y/z", "%", std::string(300, 'L'),
                                         "deep/" + std::string(250, 'd') + "/k"};
  const std::vector<size_t> sizes = {0, 1000, 16 << 10, (16 << 10) + 1, 200000, 1 << 20};
  int seed = 0;
  for (const std::string bucket : {"bkt", "other"}) {
    for (size_t i = 0; i < keys.size(); ++i) {
      ++seed;
      std::string data = RandomBytes(sizes[(i + seed) % sizes.size()], seed);
      REQUIRE(f.Put(bucket, keys[i], data).ok());
      objects.emplace_back(bucket + "/" + keys[i], std::move(data));
    }
  }
  // Overwrites: the previous metadata files become spares in .cairn/tmp.
  for (size_t i = 0; i < 4; ++i) {
    objects[i].second = RandomBytes(100000 + i, 100 + i);
    REQUIRE(f.Put("bkt", keys[i], objects[i].second).ok());
  }
  std::vector<std::vector<std::string>> before;
  for (size_t i = 0; i < 6; ++i) {
    auto files = f.Files(i, "bkt");
    auto other = f.Files(i, "other");
    files.insert(files.end(), other.begin(), other.end());
    before.push_back(files);
  }

  auto r = RunGc(f, Later());
  REQUIRE(!r.items.empty());  // the spares, and the previous copies beside the overwritten keys
  for (const auto& it : r.items) {
    if (it.what == GcKind::kDisplaced) {
      CHECK(it.path.size() > 5);
      CHECK(it.path.substr(it.path.size() - 6) == "=.prev");
      continue;
    }
    CHECK(it.what == GcKind::kTemp);
    CHECK(it.path.rfind(".cairn/tmp/", 0) == 0);
  }
  CHECK(r.Of("displaced-copy").size() == 4 * 6);
  CHECK(r.report.errors.empty());
  for (size_t i = 0; i < 6; ++i) {
    auto files = f.Files(i, "bkt");
    auto other = f.Files(i, "other");
    files.insert(files.end(), other.begin(), other.end());
    std::vector<std::string> want;
    for (const auto& p : before[i]) {
      if (p.size() < 6 || p.substr(p.size() - 6) != "=.prev") want.push_back(p);
    }
    CHECK(files == want);
  }
  auto get = [&](const std::string& bk) {
    size_t slash = bk.find('/');
    return f.Get(bk.substr(0, slash), bk.substr(slash + 1));
  };
  for (const auto& [bk, data] : objects) {
    CAPTURE(bk);
    auto got = get(bk);
    REQUIRE(got.ok());
    CHECK(*got == data);
  }

  // The set still hands out the spares gc removed; OverwriteFile makes them again.
  for (size_t i = 0; i < 4; ++i) {
    objects[i].second = RandomBytes(2000 + i, 200 + i);
    REQUIRE(f.Put("bkt", keys[i], objects[i].second).ok());
    auto got = get(objects[i].first);
    REQUIRE(got.ok());
    CHECK(*got == objects[i].second);
  }
}

TEST_CASE("gc removes empty key directories bottom-up, never a bucket", "[gc]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.set->MakeBucket("empty").ok());
  REQUIRE(f.Put("bkt", "live/obj", "x").ok());
  // A chain of empty key directories (a crash between MakeDirs and the renames leaves one), a
  // directory that is not a key directory, and last a young empty key directory.
  const std::string chain = "bkt/a~/b~/" + std::string(200, 'c') + "+";
  REQUIRE(f.mem[0]->MakeDirs(chain).ok());
  REQUIRE(f.mem[0]->MakeDirs("bkt/junk").ok());
  REQUIRE(f.mem[0]->MakeDirs("bkt/young~").ok());

  GcAt o;
  o.now_ns = f.mem[0]->Stat("bkt/young~")->mtime_ns + o.older_than_ns;
  auto r = RunGc(f, o);
  std::vector<std::string> dirs;
  for (const auto& it : r.Of("empty-dir")) {
    CHECK(it.position == 0);
    CHECK(it.bytes == 0);
    dirs.push_back(it.path);
  }
  CHECK(dirs == std::vector<std::string>{chain, "bkt/a~/b~", "bkt/a~"});  // deepest first
  CHECK(!Exists(f, 0, "bkt/a~"));
  CHECK(Exists(f, 0, "bkt/young~"));
  CHECK(Exists(f, 0, "bkt/junk"));
  CHECK(Exists(f, 0, "bkt/live~"));

  r = RunGc(f, Later());
  CHECK(Sorted(r.Of("empty-dir")) == std::vector<ItemKey>{{0, "bkt/young~", "empty-dir", 0}});
  CHECK(Exists(f, 0, "bkt/junk"));
  for (size_t i = 0; i < 3; ++i) {
    for (const std::string b : {"bkt", "empty"}) {
      CHECK(Exists(f, i, b));
      CHECK(Exists(f, i, b + "/bucket.meta"));
    }
  }
  CHECK(*f.Get("bkt", "live/obj") == "x");
}

TEST_CASE("gc drops journal entries of versions that are gone and keeps current ones", "[gc]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  PutMissing(f, 5, "bkt", "deleted", RandomBytes(100000, 1));
  PutMissing(f, 5, "bkt", "overwritten", RandomBytes(100000, 2));
  PutMissing(f, 5, "bkt", "current", RandomBytes(100000, 3));
  auto ids = MrfIds(f);
  REQUIRE(ids.size() == 3);
  REQUIRE(f.set->DeleteObject("bkt", "deleted").ok());
  REQUIRE(f.Put("bkt", "overwritten", "new").ok());
  REQUIRE(MrfIds(f).size() == 3);  // all online: no new entry

  // Entries written just now are within the grace period.
  GcAt o;
  o.now_ns = WallNs();
  auto r = RunGc(f, o);
  CHECK(r.Of("stale-mrf").empty());
  CHECK(MrfIds(f).size() == 3);

  // An entry that does not decode, on volume 2 only.
  REQUIRE(f.mem[2]->WriteFile(".cairn/mrf/garbage", "not an entry", false).ok());
  const std::string dead = ".cairn/mrf/" + ids["deleted"];
  const std::string old = ".cairn/mrf/" + ids["overwritten"];
  // Each entry is on the five volumes that took the PUT, once per volume.
  const uint64_t dead_bytes = 5 * SizeOf(f, 0, dead), old_bytes = 5 * SizeOf(f, 0, old);
  r = RunGc(f, Later());
  CHECK(Sorted(r.Of("stale-mrf")) ==
        std::vector<ItemKey>{{0, dead, "stale-mrf", dead_bytes}, {0, old, "stale-mrf", old_bytes}});
  CHECK(Sorted(r.Of("bad-mrf")) == std::vector<ItemKey>{{2, ".cairn/mrf/garbage", "bad-mrf", 12}});
  CHECK(r.report.errors.empty());
  auto left = MrfIds(f);
  CHECK(left == std::map<std::string, std::string>{{"current", ids["current"]}});
  for (size_t i = 0; i < 6; ++i) {
    auto files = f.Files(i, ".cairn/mrf");
    CAPTURE(i);
    if (i == 5) {
      CHECK(files.empty());
    } else {
      CHECK(files == std::vector<std::string>{".cairn/mrf/" + ids["current"]});
    }
  }
}

TEST_CASE("gc dry run removes nothing and reports what a real run removes", "[gc]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  // One of everything: a temp file, a trash directory, an orphan shard and the directory it
  // leaves empty, a stale and an unreadable journal entry; and live objects beside them.
  REQUIRE(f.mem[0]->WriteFile(".cairn/tmp/dead.shard", std::string(1234, 't'), false).ok());
  const std::string trash = ".cairn/tmp/rb-" + Uuid::Random().Hex();
  REQUIRE(f.mem[1]->MakeDirs(trash + "/k~").ok());
  REQUIRE(f.mem[1]->WriteFile(trash + "/bucket.meta", "123", false).ok());
  REQUIRE(f.mem[1]->WriteFile(trash + "/k~/x=", std::string(500, 'm'), false).ok());
  REQUIRE(f.Put("bkt", "gone/o", RandomBytes(100000, 1)).ok());
  for (size_t i = 0; i < 6; ++i) REQUIRE(f.mem[i]->Remove(KeyPaths("bkt", "gone/o").meta).ok());
  PutMissing(f, 4, "bkt", "stale", RandomBytes(50000, 2));
  REQUIRE(f.Put("bkt", "stale", RandomBytes(60000, 3)).ok());
  REQUIRE(f.mem[3]->WriteFile(".cairn/mrf/junk", "junk", false).ok());
  REQUIRE(f.Put("bkt", "live", RandomBytes(90000, 4)).ok());

  std::vector<std::vector<std::string>> before;
  for (size_t i = 0; i < 6; ++i) before.push_back(Tree(f, i));
  auto dry = RunGc(f, Later(true));
  for (size_t i = 0; i < 6; ++i) CHECK(Tree(f, i) == before[i]);

  auto real = RunGc(f, Later());
  CHECK(Sorted(dry.items) == Sorted(real.items));
  CHECK(dry.report.items == real.report.items);
  CHECK(dry.report.bytes == real.report.bytes);
  CHECK(real.report.items == real.items.size());
  CHECK(dry.report.errors.empty());
  CHECK(real.report.errors.empty());
  for (const char* what : {"temp", "orphan-shard", "empty-dir", "stale-mrf", "bad-mrf"}) {
    CAPTURE(what);
    CHECK(!real.Of(what).empty());
  }
  CHECK(real.Reported(trash));
  CHECK(!Exists(f, 1, trash));
  CHECK(Exists(f, 0, "bkt/live="));
  // The real run did remove what the dry run reported.
  for (const auto& it : dry.items) {
    CAPTURE(it.path);
    CHECK(!Exists(f, it.position, it.path));
  }
}

TEST_CASE("gc reports what it cannot remove, one line each, and carries on", "[gc]") {
  SetFixture f(4, 2);
  REQUIRE(f.mem[1]->WriteFile(".cairn/tmp/a", "aaaa", false).ok());
  REQUIRE(f.mem[2]->WriteFile(".cairn/tmp/b", "bbbbbb", false).ok());
  f.faulty[1]->AddRule(Fail(FaultOp::kRemove, ".cairn/tmp/*"));
  auto r = RunGc(f, Later());
  REQUIRE(f.faulty[1]->injected() == 1);
  REQUIRE(r.report.errors.size() == 1);
  CHECK(r.report.errors[0].rfind("mem:v1/.cairn/tmp/a: ", 0) == 0);
  CHECK(r.report.errors[0].find("injected") != std::string::npos);
  CHECK(Exists(f, 1, ".cairn/tmp/a"));
  CHECK(!Exists(f, 2, ".cairn/tmp/b"));
  CHECK(Sorted(r.items) == std::vector<ItemKey>{{2, ".cairn/tmp/b", "temp", 6}});

  GcOptions bad;
  bad.older_than_ns = -1;
  CHECK(f.set->CollectGarbage(bad, nullptr).status().code() == Code::kInvalidArgument);
}
