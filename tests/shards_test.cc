// Shard files: every K-subset decodes, bitrot is located and survived, repair restores the exact
// bytes, bad input is refused clearly. Runs on a MemVolume (and a FaultyVolume for disk-full).
#include <catch2/catch.hpp>

#include "libstore/shards/shard_codec.h"
#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

struct Encoded {
  std::unique_ptr<Volume> vol = NewMemVolume("shards");
  std::vector<std::string> files;
  std::string data;
};

Encoded Encode(size_t size, uint32_t k, uint32_t m, uint32_t block = 4096, uint64_t seed = 1) {
  Encoded e;
  e.data = RandomBytes(size, seed);
  REQUIRE(e.vol->MakeDirs("out").ok());
  StringSource src(e.data, 7777);  // odd piece sizes, like a pipe
  EncodeOptions o;
  o.k = k;
  o.m = m;
  o.block_size = block;
  o.name = "file.bin";
  auto r = EncodeShards(*e.vol, "out", src, o);
  REQUIRE(r.ok());
  e.files = r->files;
  REQUIRE(e.files.size() == k + m);
  return e;
}

Result<std::string> Decode(Volume& vol, const std::vector<std::string>& paths) {
  ASSIGN_OR_RETURN(ShardScan scan, ScanShards(vol, paths));
  StringSink sink;
  RETURN_IF_ERROR(DecodeShards(vol, scan, sink));
  return sink.out;
}

void Damage(Volume& vol, const std::string& path, uint64_t offset) {
  auto d = vol.ReadFile(path, 1 << 30);
  REQUIRE(d.ok());
  REQUIRE(offset < d->size());  // the damage hits bytes that exist
  (*d)[offset] ^= 0x20;
  REQUIRE(vol.WriteFile(path, *d, false).ok());
}

}  // namespace

TEST_CASE("shard file names", "[shards]") {
  CHECK(ShardFileName("a.tar", 0, 6) == "a.tar.1-of-6.cairn");
  CHECK(ShardFileName("a.tar", 9, 14) == "a.tar.10-of-14.cairn");
  CHECK(ShardFileName("a.tar", 0, 14) == "a.tar.01-of-14.cairn");
}

TEST_CASE("every K-subset decodes byte-identical", "[shards]") {
  for (auto [k, m] : std::vector<std::pair<uint32_t, uint32_t>>{{4, 2}, {3, 3}, {10, 4}}) {
    const uint32_t n = k + m;
    Encoded e = Encode(50000, k, m);
    std::mt19937_64 rng(k * 31 + m);
    int tried = 0;
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      if (__builtin_popcount(mask) != int(k)) continue;
      // Exhaustive for 4+2 and 3+3; sampled for 10+4 (1001 subsets).
      if (n > 6 && rng() % 20 != 0) continue;
      std::vector<std::string> subset;
      for (uint32_t i = 0; i < n; ++i) {
        if (mask & (1u << i)) subset.push_back(e.files[i]);
      }
      std::shuffle(subset.begin(), subset.end(), rng);  // any order
      CAPTURE(k, m, mask);
      auto got = Decode(*e.vol, subset);
      REQUIRE(got.ok());
      REQUIRE(*got == e.data);
      ++tried;
    }
    CHECK(tried > 0);
  }
}

TEST_CASE("sizes 0, 1, block-1, block, block+1 and 33 MiB", "[shards]") {
  const uint32_t bs = 1 << 20;
  for (size_t size : {size_t(0), size_t(1), size_t(bs - 1), size_t(bs), size_t(bs + 1), size_t(33) << 20}) {
    CAPTURE(size);
    Encoded e = Encode(size, 4, 2, bs, size + 3);
    auto got = Decode(*e.vol, {"out"});
    REQUIRE(got.ok());
    REQUIRE(*got == e.data);
    // Shards 1 and 2 (two data shards) gone: still identical.
    REQUIRE(e.vol->Remove(e.files[0]).ok());
    REQUIRE(e.vol->Remove(e.files[1]).ok());
    got = Decode(*e.vol, {"out"});
    REQUIRE(got.ok());
    REQUIRE(*got == e.data);
  }
}

TEST_CASE("random block corruption in up to M shards decodes; beyond M fails", "[shards][bitrot]") {
  Encoded e = Encode(200000, 4, 2, 8192, 5);
  std::mt19937_64 rng(9);
  auto before = e.vol->ReadFile(e.files[1], 1 << 30);
  REQUIRE(before.ok());
  // Every block of shards 2 and 6 gets one flipped byte; other shards untouched.
  for (int s : {1, 5}) {
    auto size = e.vol->Stat(e.files[s]);
    REQUIRE(size.ok());
    for (uint64_t off = kShardHeaderSize; off < size->size; off += 2048 + 8) {
      Damage(*e.vol, e.files[s], off + rng() % 2048 % (size->size - off));
    }
  }
  auto got = Decode(*e.vol, {"out"});
  REQUIRE(got.ok());
  REQUIRE(*got == e.data);

  auto scan = ScanShards(*e.vol, {"out"});
  REQUIRE(scan.ok());
  auto rep = VerifyShards(*e.vol, *scan);
  REQUIRE(rep.ok());
  CHECK(rep->recoverable());
  CHECK(!rep->healthy());
  CHECK(rep->shards[1].state == "corrupt");
  CHECK(rep->shards[1].bad_blocks == rep->blocks);
  CHECK(rep->shards[0].state == "ok");
  CHECK(rep->shards[1].bad_ranges.front().first == 0);

  // Repair rewrites the two shards byte-identical to what encode wrote.
  auto fixed = RepairShards(*e.vol, *scan);
  REQUIRE(fixed.ok());
  CHECK(fixed->size() == 2);
  CHECK(*e.vol->ReadFile(e.files[1], 1 << 30) == *before);
  auto scan2 = ScanShards(*e.vol, {"out"});
  REQUIRE(scan2.ok());
  auto rep2 = VerifyShards(*e.vol, *scan2);
  REQUIRE(rep2.ok());
  CHECK(rep2->healthy());

  // Three shards damaged in the same block: unrecoverable, decode fails with DataLoss.
  for (int s : {0, 2, 3}) Damage(*e.vol, e.files[s], kShardHeaderSize + 10);
  auto bad = Decode(*e.vol, {"out"});
  CHECK(bad.status().code() == Code::kDataLoss);
  auto scan3 = ScanShards(*e.vol, {"out"});
  REQUIRE(scan3.ok());
  auto rep3 = VerifyShards(*e.vol, *scan3);
  REQUIRE(rep3.ok());
  CHECK(!rep3->recoverable());
  CHECK(RepairShards(*e.vol, *scan3).status().code() == Code::kDataLoss);
}

TEST_CASE("repair regenerates missing and truncated shards exactly", "[shards]") {
  Encoded e = Encode(123457, 3, 3, 4096, 6);
  std::vector<std::string> originals;
  for (const auto& f : e.files) originals.push_back(*e.vol->ReadFile(f, 1 << 30));
  REQUIRE(e.vol->Remove(e.files[0]).ok());
  REQUIRE(e.vol->WriteFile(e.files[4], originals[4].substr(0, originals[4].size() / 2), false).ok());  // truncated
  REQUIRE(e.vol->WriteFile(e.files[5], "", false).ok());                            // zero-length
  auto scan = ScanShards(*e.vol, {"out"});
  REQUIRE(scan.ok());
  auto rep = VerifyShards(*e.vol, *scan);
  REQUIRE(rep.ok());
  CHECK(rep->shards[0].state == "missing");
  CHECK(rep->shards[4].state == "truncated");
  CHECK(rep->shards[5].state == "missing");  // no readable header: not a member
  REQUIRE(rep->others.size() == 1);
  CHECK(rep->others[0].role == "bad-header");
  auto fixed = RepairShards(*e.vol, *scan);
  REQUIRE(fixed.ok());
  for (size_t i = 0; i < e.files.size(); ++i) {
    CAPTURE(i);
    CHECK(*e.vol->ReadFile(e.files[i], 1 << 30) == originals[i]);
  }
}

TEST_CASE("bad input: mixed encodes, duplicates, corrupt headers", "[shards]") {
  Encoded a = Encode(30000, 2, 1, 4096, 7);
  // A second encode of other data into the same volume, other names.
  REQUIRE(a.vol->MakeDirs("other").ok());
  StringSource src(RandomBytes(30000, 8));
  EncodeOptions o;
  o.k = 2;
  o.m = 1;
  o.block_size = 4096;
  o.name = "file.bin";
  auto b = EncodeShards(*a.vol, "other", src, o);
  REQUIRE(b.ok());
  auto mixed = ScanShards(*a.vol, {a.files[0], a.files[1], b->files[2]});
  REQUIRE(mixed.ok());
  CHECK(!mixed->mixed.empty());
  StringSink sink;
  CHECK(DecodeShards(*a.vol, *mixed, sink).code() == Code::kInvalidArgument);
  CHECK(RepairShards(*a.vol, *mixed).status().code() == Code::kInvalidArgument);

  // The same file given twice counts once; a copy under another name is a duplicate.
  auto twice = ScanShards(*a.vol, {a.files[0], a.files[0], a.files[1]});
  REQUIRE(twice.ok());
  CHECK(twice->mixed.empty());
  REQUIRE(a.vol->WriteFile("out/copy.cairn", *a.vol->ReadFile(a.files[0], 1 << 30), false).ok());
  auto dup = ScanShards(*a.vol, {"out"});
  REQUIRE(dup.ok());
  CHECK(dup->mixed.find("duplicate") != std::string::npos);
  REQUIRE(a.vol->Remove("out/copy.cairn").ok());

  // A corrupted header makes that shard unusable, the others still decode.
  Damage(*a.vol, a.files[0], 40);
  auto scan = ScanShards(*a.vol, {"out"});
  REQUIRE(scan.ok());
  CHECK(scan->by_index[0] == -1);
  auto got = Decode(*a.vol, {"out"});
  REQUIRE(got.ok());
  CHECK(*got == a.data);

  // Nothing readable at all.
  REQUIRE(a.vol->WriteFile("junk/x.cairn", "not a shard", false).ok() == false);
  REQUIRE(a.vol->MakeDirs("junk").ok());
  REQUIRE(a.vol->WriteFile("junk/x.cairn", "not a shard", false).ok());
  CHECK(ScanShards(*a.vol, {"junk"}).status().code() == Code::kCorruption);
  REQUIRE(a.vol->MakeDirs("empty").ok());
  CHECK(ScanShards(*a.vol, {"empty"}).status().code() == Code::kNotFound);
}

TEST_CASE("encode refuses existing shards, and leaves nothing when the disk fills", "[shards][fault]") {
  Encoded e = Encode(10000, 2, 1, 4096, 10);
  StringSource again(e.data);
  EncodeOptions o;
  o.k = 2;
  o.m = 1;
  o.block_size = 4096;
  o.name = "file.bin";
  CHECK(EncodeShards(*e.vol, "out", again, o).status().code() == Code::kAlreadyExists);

  auto mem = NewMemVolume("full");
  REQUIRE(mem->MakeDirs("out").ok());
  FaultyVolume faulty(mem.get(), 3);
  FaultRule r;
  r.op = FaultOp::kAppend;
  r.path_glob = "*3-of-3*";
  r.kind = FaultKind::kNoSpace;
  r.after_bytes = 20000;
  faulty.AddRule(r);
  StringSource big(RandomBytes(200000, 11));
  auto res = EncodeShards(faulty, "out", big, o);
  CHECK(res.status().code() == Code::kNoSpace);
  CHECK(faulty.injected() > 0);
  auto left = mem->ListDir("out");
  REQUIRE(left.ok());
  CHECK(left->empty());
}
