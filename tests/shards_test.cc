// Shard files: golden bytes of the header and of the checksum seed, every field of a header
// checked, every K-subset decodes, bitrot is located and survived, repair restores the exact bytes,
// one classification of mixed input (several encodes, copies, conflicts, crafted headers) shared by
// verify, decode and repair, and the temp files of dead encodes. Runs on a MemVolume (a
// FaultyVolume for disk-full), and on a HostVolume in a scratch directory for what only the host
// has (symlinks, locks).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>

#include "libstore/common/stage_threads.h"
#include "libstore/format/framing.h"
#include "libstore/shards/host_volume.h"
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

Result<EncodeResult> EncodeInto(Volume& vol, const std::string& dir, const std::string& data,
                                uint32_t k, uint32_t m, uint32_t block = 4096,
                                const std::string& name = "file.bin") {
  StringSource src(data, 7777);  // odd piece sizes, like a pipe
  EncodeOptions o;
  o.k = k;
  o.m = m;
  o.block_size = block;
  o.name = name;
  return EncodeShards(vol, dir, src, o);
}

Encoded Encode(size_t size, uint32_t k, uint32_t m, uint32_t block = 4096, uint64_t seed = 1) {
  Encoded e;
  e.data = RandomBytes(size, seed);
  REQUIRE(e.vol->MakeDirs("out").ok());
  auto r = EncodeInto(*e.vol, "out", e.data, k, m, block);
  REQUIRE(r.ok());
  e.files = r->files;
  REQUIRE(e.files.size() == k + m);
  return e;
}

Result<std::string> Decode(Volume& vol, const std::vector<std::string>& paths) {
  ASSIGN_OR_RETURN(ShardScan scan, ScanShards(vol, paths));
  ASSIGN_OR_RETURN(size_t set, OnlySet(scan));
  StringSink sink;
  RETURN_IF_ERROR(DecodeShards(vol, scan, set, sink));
  return sink.out;
}

Result<SetReport> Verify(Volume& vol, const std::vector<std::string>& paths) {
  ASSIGN_OR_RETURN(ShardScan scan, ScanShards(vol, paths));
  ASSIGN_OR_RETURN(size_t set, OnlySet(scan));
  return VerifySet(vol, scan, set);
}

std::string Read(Volume& vol, const std::string& path) {
  auto d = vol.ReadFile(path, 1 << 30);
  REQUIRE(d.ok());
  return *d;
}

void Damage(Volume& vol, const std::string& path, uint64_t offset) {
  std::string d = Read(vol, path);
  REQUIRE(offset < d.size());  // the damage hits bytes that exist
  d[offset] ^= 0x20;
  REQUIRE(vol.WriteFile(path, d, false).ok());
}

void Le(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(char(v >> (8 * i)));
}
void PutLe(std::string* s, size_t off, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) (*s)[off + i] = char(v >> (8 * i));
}
// Recomputes the header checksum after a field was changed: what a crafted header looks like.
void Reseal(std::string* h) { PutLe(h, 504, Xxh3_64(h->data(), 504), 8); }
std::string WithName(std::string h, std::string_view name) {
  PutLe(&h, 72, name.size(), 2);
  std::fill(h.begin() + 74, h.begin() + 504, '\0');
  std::copy(name.begin(), name.end(), h.begin() + 74);
  Reseal(&h);
  return h;
}
// Rewrites the header of a shard file in place.
void Craft(Volume& vol, const std::string& path, const std::function<void(std::string*)>& edit) {
  std::string d = Read(vol, path);
  std::string h = d.substr(0, kShardHeaderSize);
  edit(&h);
  Reseal(&h);
  REQUIRE(vol.WriteFile(path, h + d.substr(kShardHeaderSize), false).ok());
}

Uuid Fill(uint8_t x) {
  Uuid u;
  for (auto& b : u.b) b = x;
  return u;
}

ShardHeader SampleHeader() {
  ShardHeader h;
  h.set_id = Fill(0x5a);
  h.index = 2;
  h.k = 4;
  h.m = 2;
  h.block_size = 1 << 20;
  h.file_size = 123456789;
  h.file_hash.hi = 0x0102030405060708;
  h.file_hash.lo = 0x1112131415161718;
  h.name = "a.tar";
  h.complete = true;
  return h;
}

// Locks for MemVolume tests: `held` are other processes' locks.
class FakeLocker : public FileLocker {
 public:
  explicit FakeLocker(Volume& vol) : vol_(vol) {}
  std::set<std::string> held, mine;
  Result<std::unique_ptr<FileLock>> TryLock(const std::string& path) override {
    RETURN_IF_ERROR(vol_.Stat(path).status());
    if (held.count(path) || mine.count(path)) return IOError(path + ": locked");
    struct Lock : FileLock {
      FakeLocker* owner;
      std::string path;
      ~Lock() override { owner->mine.erase(path); }
    };
    auto l = std::make_unique<Lock>();
    l->owner = this;
    l->path = path;
    mine.insert(path);
    return std::unique_ptr<FileLock>(std::move(l));
  }

 private:
  Volume& vol_;
};

}  // namespace

// ------------------------------------------------------------------------------- format (golden)

TEST_CASE("shard file names", "[shards]") {
  CHECK(ShardFileName("a.tar", 0, 6) == "a.tar.1-of-6.cairn");
  CHECK(ShardFileName("a.tar", 9, 14) == "a.tar.10-of-14.cairn");
  CHECK(ShardFileName("a.tar", 0, 14) == "a.tar.01-of-14.cairn");
  // The longest name leaves room for the longest suffix in a 255-byte file name.
  CHECK(ShardFileName(std::string(kShardNameMax, 'x'), 31, 32).size() == 255);
}

TEST_CASE("shard header: golden bytes, round trip, damage detected", "[shards][format]") {
  // docs/format.md, "Shard files", field by field.
  std::string want = "CAIRNSHD";
  Le(&want, 1, 4);                   // version
  Le(&want, 1, 4);                   // flags: complete
  want += std::string(16, '\x5a');   // set id
  Le(&want, 2, 4);                   // index
  Le(&want, 4, 4);                   // K
  Le(&want, 2, 4);                   // M
  Le(&want, 1 << 20, 4);             // block size
  Le(&want, 123456789, 8);           // file size
  Le(&want, 0x0102030405060708, 8);  // file hash, high 64 bits
  Le(&want, 0x1112131415161718, 8);  // file hash, low 64 bits
  Le(&want, 5, 2);                   // name length
  want += "a.tar";
  want.resize(504, '\0');  // padding
  Le(&want, Xxh3_64(want.data(), 504), 8);
  REQUIRE(want.size() == kShardHeaderSize);

  const ShardHeader h = SampleHeader();
  const std::string got = h.Encode();
  REQUIRE(got == want);
  auto back = ShardHeader::Decode(got);
  REQUIRE(back.ok());
  CHECK(back->SameEncode(h));
  CHECK(back->index == 2);
  CHECK(back->Encode() == got);
  // Every single-bit change and every truncation is refused.
  for (size_t i = 0; i < got.size(); ++i) {
    std::string bad = got;
    bad[i] ^= 0x01;
    CHECK(ShardHeader::Decode(bad).status().code() == Code::kCorruption);
    CHECK(!ShardHeader::Decode(got.substr(0, i)).ok());
  }
  // An incomplete header decodes (the flag tells), with flags 0.
  ShardHeader partial = h;
  partial.complete = false;
  std::string p = partial.Encode();
  CHECK(p.substr(12, 4) == std::string(4, '\0'));
  auto pb = ShardHeader::Decode(p);
  REQUIRE(pb.ok());
  CHECK(!pb->complete);
}

TEST_CASE("shard block checksum: golden seed", "[shards][format]") {
  // seed = XXH3-64(set id ‖ index as u32 ‖ block as u64), then XXH3-64(chunk, seed).
  const Uuid id = Fill(0xc3);
  std::string key(16, '\xc3');
  Le(&key, 5, 4);
  Le(&key, 0x0102030405060708, 8);
  REQUIRE(key.size() == 28);
  const uint64_t seed = Xxh3_64(key.data(), key.size());
  CHECK(ShardBlockSeed(id, 5, 0x0102030405060708) == seed);
  const std::string chunk = "some chunk of a shard";
  CHECK(ShardBlockSum(id, 5, 0x0102030405060708, chunk.data(), chunk.size()) ==
        Xxh3_64(chunk.data(), chunk.size(), seed));
  CHECK(ShardBlockSum(id, 5, 0x0102030405060708, chunk.data(), chunk.size()) ==
        ChunkSum(chunk.data(), chunk.size(), seed));
  // Another shard, block or encode gives another checksum.
  CHECK(ShardBlockSeed(id, 6, 0x0102030405060708) != seed);
  CHECK(ShardBlockSeed(id, 5, 0x0102030405060709) != seed);
  CHECK(ShardBlockSeed(Fill(0xc4), 5, 0x0102030405060708) != seed);
}

TEST_CASE("an encoded shard file is its header, then framed chunks", "[shards][format]") {
  Encoded e = Encode(10000, 2, 1, 4096, 3);
  const std::string f = Read(*e.vol, e.files[1]);
  auto h = ShardHeader::Decode(f);
  REQUIRE(h.ok());
  CHECK(h->index == 1);
  CHECK(h->file_size == 10000);
  CHECK(f.size() == h->expected_size());
  // Blocks of 4096 bytes: chunks of 2048, 2048, then ceil(1808 / 2) = 904, each + 8 bytes.
  CHECK(f.size() == kShardHeaderSize + 2 * (2048 + 8) + 904 + 8);
  const std::string data = e.data;
  for (uint64_t b = 0; b < 3; ++b) {
    const uint64_t len = StripeLayout::ChunkLen(b < 2 ? 4096 : 1808, 2);
    const uint64_t off = kShardHeaderSize + b * (2048 + 8);
    // Shard 2 (index 1) holds the second half of each block.
    CHECK(f.substr(off, std::min<uint64_t>(len, data.size() - b * 4096 - len)) ==
          data.substr(b * 4096 + len, std::min<uint64_t>(len, data.size() - b * 4096 - len)));
    uint64_t sum = 0;
    for (int i = 0; i < 8; ++i) sum |= uint64_t(uint8_t(f[off + len + i])) << (8 * i);
    CHECK(sum == ShardBlockSum(h->set_id, 1, b, f.data() + off, len));
  }
}

// -------------------------------------------------------------------------- header validation

TEST_CASE("a header encode cannot write is refused", "[shards][format]") {
  const std::string good = SampleHeader().Encode();
  auto with = [&](size_t off, uint64_t v, int bytes) {
    std::string h = good;
    PutLe(&h, off, v, bytes);
    Reseal(&h);
    return h;
  };
  struct Case {
    const char* what;
    std::string bytes;
  };
  std::vector<Case> bad = {
      {"K+M overflowing 32 bits",
       [&] {
         std::string h = with(36, 4294967294u, 4);
         PutLe(&h, 40, 3, 4);
         Reseal(&h);
         return h;
       }()},
      {"K = 0", with(36, 0, 4)},
      {"K+M = 33", with(40, 29, 4)},
      {"index = K+M", with(32, 6, 4)},
      {"block size 4095", with(44, 4095, 4)},
      {"block size 64 MiB + 1", with(44, (64u << 20) + 1, 4)},
      {"size 2^64-1", with(48, UINT64_MAX, 8)},
      {"size 2^63", with(48, uint64_t(1) << 63, 8)},
      {"shards longer than an off_t",
       [&] {
         std::string h = with(48, uint64_t(INT64_MAX), 8);
         PutLe(&h, 44, 4096, 4);  // tiny blocks: more checksum bytes than the file's
         PutLe(&h, 36, 1, 4);
         PutLe(&h, 40, 0, 4);
         PutLe(&h, 32, 0, 4);
         Reseal(&h);
         return h;
       }()},
      {"unknown flag", with(12, 3, 4)},
      {"version 2", with(8, 2, 4)},
      {"name length 241", with(72, 241, 2)},
      {"padding not zero", with(300, 1, 1)},
      {"empty name", WithName(good, "")},
      {"name .", WithName(good, ".")},
      {"name ..", WithName(good, "..")},
      {"name ../../X", WithName(good, "../../X")},
      {"absolute name", WithName(good, "/etc/passwd")},
      {"name with /", WithName(good, "a/b")},
      {"name with NUL", WithName(good, std::string_view("a\0b", 3))},
      {"name with newline", WithName(good, "a\nb")},
      {"name with ESC", WithName(good, "a\x1b[2Jb")},
      {"name with DEL", WithName(good, "a\x7f")},
  };
  for (const auto& c : bad) {
    CAPTURE(c.what);
    CHECK(ShardHeader::Decode(c.bytes).status().code() == Code::kCorruption);
  }
  for (std::string_view ok :
       {std::string_view("..a"), std::string_view("a.."), std::string_view(".hidden"),
        std::string_view("caf\xc3\xa9"), std::string_view("-rf"), std::string_view("a b")}) {
    CAPTURE(ok);
    CHECK(ShardHeader::Decode(WithName(good, ok)).ok());
  }
  CHECK(ShardHeader::Decode(WithName(good, std::string(kShardNameMax, 'n'))).ok());
  // The largest file whose shards still fit in an off_t decodes.
  std::string big = with(48, uint64_t(INT64_MAX), 8);
  PutLe(&big, 36, 16, 4);
  PutLe(&big, 40, 16, 4);
  PutLe(&big, 44, 64u << 20, 4);
  Reseal(&big);
  auto hb = ShardHeader::Decode(big);
  REQUIRE(hb.ok());
  CHECK(hb->expected_size() <= uint64_t(INT64_MAX));
}

TEST_CASE("encode refuses what decode would refuse", "[shards]") {
  auto vol = NewMemVolume();
  REQUIRE(vol->MakeDirs("out").ok());
  for (const std::string& name :
       {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
        std::string("a\nb"), std::string(kShardNameMax + 1, 'x')}) {
    CAPTURE(name);
    CHECK(EncodeInto(*vol, "out", "data", 2, 1, 4096, name).status().code() ==
          Code::kInvalidArgument);
  }
  CHECK(EncodeInto(*vol, "out", "data", 4294967294u, 3).status().code() == Code::kInvalidArgument);
  CHECK(EncodeInto(*vol, "out", "data", 0, 2).status().code() == Code::kInvalidArgument);
  CHECK(EncodeInto(*vol, "out", "data", 2, 1, 4095).status().code() == Code::kInvalidArgument);
  auto left = vol->ListDir("out");
  REQUIRE(left.ok());
  CHECK(left->empty());
}

// ------------------------------------------------------------------------- decode, verify, repair

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
  for (size_t size :
       {size_t(0), size_t(1), size_t(bs - 1), size_t(bs), size_t(bs + 1), size_t(33) << 20}) {
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
  const std::string before = Read(*e.vol, e.files[1]);
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
  auto rep = VerifySet(*e.vol, *scan, 0);
  REQUIRE(rep.ok());
  CHECK(rep->verdict == SetVerdict::kDegraded);
  CHECK(rep->shards[1].state == ShardFileState::kCorrupt);
  CHECK(rep->shards[1].bad_blocks == rep->blocks);
  CHECK(rep->shards[0].state == ShardFileState::kOk);
  CHECK(rep->shards[1].bad_ranges.front().first == 0);
  CHECK(rep->shards[1].bad_ranges.back().second == e.data.size() - 1);
  CHECK(VerdictStatus(*scan, *rep).code() == Code::kDegraded);

  // Repair rewrites the two shards byte-identical to what encode wrote.
  auto fixed = RepairShards(*e.vol, *scan, 0);
  REQUIRE(fixed.ok());
  CHECK(fixed->size() == 2);
  CHECK(Read(*e.vol, e.files[1]) == before);
  auto rep2 = Verify(*e.vol, {"out"});
  REQUIRE(rep2.ok());
  CHECK(rep2->verdict == SetVerdict::kHealthy);

  // Three shards damaged in the same block: unrecoverable, decode fails with DataLoss.
  for (int s : {0, 2, 3}) Damage(*e.vol, e.files[s], kShardHeaderSize + 10);
  CHECK(Decode(*e.vol, {"out"}).status().code() == Code::kDataLoss);
  auto scan3 = ScanShards(*e.vol, {"out"});
  REQUIRE(scan3.ok());
  auto rep3 = VerifySet(*e.vol, *scan3, 0);
  REQUIRE(rep3.ok());
  CHECK(rep3->verdict == SetVerdict::kUnrecoverable);
  CHECK(rep3->unrecoverable_blocks == 1);
  CHECK(VerdictStatus(*scan3, *rep3).code() == Code::kDataLoss);
  CHECK(RepairShards(*e.vol, *scan3, 0).status().code() == Code::kDataLoss);
}

TEST_CASE("repair regenerates missing and truncated shards exactly", "[shards]") {
  Encoded e = Encode(123457, 3, 3, 4096, 6);
  std::vector<std::string> originals;
  for (const auto& f : e.files) originals.push_back(Read(*e.vol, f));
  REQUIRE(e.vol->Remove(e.files[0]).ok());
  REQUIRE(e.vol->WriteFile(e.files[4], originals[4].substr(0, originals[4].size() / 2), false)
              .ok());                                     // truncated
  REQUIRE(e.vol->WriteFile(e.files[5], "", false).ok());  // zero-length
  auto scan = ScanShards(*e.vol, {"out"});
  REQUIRE(scan.ok());
  auto rep = VerifySet(*e.vol, *scan, 0);
  REQUIRE(rep.ok());
  CHECK(rep->shards[0].state == ShardFileState::kMissing);
  CHECK(rep->shards[4].state == ShardFileState::kTruncated);
  CHECK(rep->shards[5].state == ShardFileState::kMissing);  // no readable header: not a member
  auto zero = std::find_if(scan->files.begin(), scan->files.end(),
                           [&](const ShardFileInfo& f) { return f.path == e.files[5]; });
  REQUIRE(zero != scan->files.end());
  CHECK(zero->role == ShardRole::kBadHeader);
  CHECK(Name(zero->role) == "bad-header");
  auto fixed = RepairShards(*e.vol, *scan, 0);
  REQUIRE(fixed.ok());
  for (size_t i = 0; i < e.files.size(); ++i) {
    CAPTURE(i);
    CHECK(Read(*e.vol, e.files[i]) == originals[i]);
  }
}

// ------------------------------------------------------------------------------ classification

TEST_CASE("several encodes in one directory are judged one by one", "[shards][classify]") {
  auto vol = NewMemVolume();
  REQUIRE(vol->MakeDirs("dir").ok());
  const std::string a = RandomBytes(30000, 20), b = RandomBytes(20000, 21);
  auto ea = EncodeInto(*vol, "dir", a, 4, 2, 4096, "orig.bin");
  auto eb = EncodeInto(*vol, "dir", b, 4, 2, 4096, "other.bin");
  REQUIRE(ea.ok());
  REQUIRE(eb.ok());
  for (int i : {0, 1, 2}) REQUIRE(vol->Remove(ea->files[i]).ok());
  auto scan = ScanShards(*vol, {"dir"});
  REQUIRE(scan.ok());
  REQUIRE(scan->sets.size() == 2);
  // Sorted by name: orig.bin, then other.bin.
  CHECK(scan->sets[0].ref.name == "orig.bin");
  CHECK(scan->sets[1].ref.name == "other.bin");
  for (const auto& f : scan->files) CHECK(f.role == ShardRole::kMember);
  auto r0 = VerifySet(*vol, *scan, 1);
  auto r1 = VerifySet(*vol, *scan, 0);
  REQUIRE(r0.ok());
  REQUIRE(r1.ok());
  CHECK(r0->verdict == SetVerdict::kHealthy);
  CHECK(r1->verdict == SetVerdict::kUnrecoverable);
  CHECK(std::max(r0->verdict, r1->verdict) == SetVerdict::kUnrecoverable);
  // decode needs one encode; repair works per encode.
  CHECK(OnlySet(*scan).status().code() == Code::kInvalidArgument);
  CHECK(OnlySet(*scan).status().message().find("orig.bin") != std::string::npos);
  StringSink sink;
  REQUIRE(DecodeShards(*vol, *scan, 1, sink).ok());
  CHECK(sink.out == b);
  CHECK(RepairShards(*vol, *scan, 0).status().code() == Code::kDataLoss);
}

TEST_CASE("an identical copy of a shard is usable, block by block", "[shards][classify]") {
  Encoded e = Encode(50000, 2, 1, 4096, 22);
  const std::string one = Read(*e.vol, e.files[0]);
  REQUIRE(e.vol->WriteFile("out/copy.cairn", one, false).ok());
  auto scan = ScanShards(*e.vol, {"out"});
  REQUIRE(scan.ok());
  REQUIRE(scan->sets.size() == 1);
  const ShardSet& set = scan->sets[0];
  REQUIRE(set.copies[0].size() == 2);
  // The file with the canonical name is the member.
  CHECK(scan->files[set.copies[0][0]].path == e.files[0]);
  CHECK(scan->files[set.copies[0][1]].role == ShardRole::kCopy);
  auto rep = VerifySet(*e.vol, *scan, 0);
  REQUIRE(rep.ok());
  CHECK(rep->verdict == SetVerdict::kHealthy);
  CHECK(rep->shards.size() == 4);

  // Shard 2 gone, shard 1 and its copy each lose a different block: together they still decode.
  REQUIRE(e.vol->Remove(e.files[1]).ok());
  Damage(*e.vol, e.files[0], kShardHeaderSize + 5);
  Damage(*e.vol, "out/copy.cairn", kShardHeaderSize + 3 * (2048 + 8) + 5);
  auto got = Decode(*e.vol, {"out"});
  REQUIRE(got.ok());
  CHECK(*got == e.data);
  auto scan2 = ScanShards(*e.vol, {"out"});
  REQUIRE(scan2.ok());
  auto rep2 = VerifySet(*e.vol, *scan2, 0);
  REQUIRE(rep2.ok());
  CHECK(rep2->verdict == SetVerdict::kDegraded);
  CHECK(rep2->unrecoverable_blocks == 0);
  // Repair rewrites both copies and the missing shard.
  auto fixed = RepairShards(*e.vol, *scan2, 0);
  REQUIRE(fixed.ok());
  CHECK(fixed->size() == 3);
  CHECK(Read(*e.vol, e.files[0]) == one);
  CHECK(Read(*e.vol, "out/copy.cairn") == one);
  auto rep3 = Verify(*e.vol, {"out"});
  REQUIRE(rep3.ok());
  CHECK(rep3->verdict == SetVerdict::kHealthy);

  // The same file named twice counts once.
  auto twice = ScanShards(*e.vol, {e.files[0], e.files[0], "out"});
  REQUIRE(twice.ok());
  CHECK(twice->files.size() == 4);
}

TEST_CASE("conflicting headers in one encode: verify, decode and repair refuse alike",
          "[shards][classify]") {
  Encoded e = Encode(30000, 2, 1, 4096, 23);
  REQUIRE(e.vol->WriteFile("out/odd.cairn", Read(*e.vol, e.files[0]), false).ok());
  Craft(*e.vol, "out/odd.cairn", [](std::string* h) {
    std::string renamed = WithName(*h, "renamed.bin");
    *h = renamed;
  });
  std::vector<std::string> before;
  for (const auto& f : e.files) before.push_back(Read(*e.vol, f));
  auto scan = ScanShards(*e.vol, {"out"});
  REQUIRE(scan.ok());
  REQUIRE(scan->sets.size() == 1);
  const ShardSet& set = scan->sets[0];
  CHECK(set.ref.name == "file.bin");  // the headers most shards agree on
  REQUIRE(set.conflicts.size() == 1);
  CHECK(scan->files[set.conflicts[0]].role == ShardRole::kConflict);
  auto rep = VerifySet(*e.vol, *scan, 0);
  REQUIRE(rep.ok());
  CHECK(rep->verdict == SetVerdict::kConflicting);
  Status vs = VerdictStatus(*scan, *rep);
  CHECK(vs.code() == Code::kCorruption);
  CHECK(vs.message().find("odd.cairn") != std::string::npos);
  CHECK(vs.message().find("renamed.bin") != std::string::npos);
  StringSink sink;
  CHECK(DecodeShards(*e.vol, *scan, 0, sink).code() == Code::kCorruption);
  CHECK(sink.out.empty());
  CHECK(RepairShards(*e.vol, *scan, 0).status().code() == Code::kCorruption);
  for (size_t i = 0; i < e.files.size(); ++i) CHECK(Read(*e.vol, e.files[i]) == before[i]);
}

TEST_CASE("crafted sizes: contradicted headers are unusable, implausible ones unrecoverable",
          "[shards][classify]") {
  SECTION("every header claims 0 bytes: nothing usable, nothing cut away") {
    Encoded e = Encode(30000, 2, 1, 4096, 24);
    for (const auto& f : e.files) Craft(*e.vol, f, [](std::string* h) { PutLe(h, 48, 0, 8); });
    std::vector<std::string> before;
    for (const auto& f : e.files) before.push_back(Read(*e.vol, f));
    auto scan = ScanShards(*e.vol, {"out"});
    CHECK(scan.status().code() == Code::kCorruption);
    CHECK(scan.status().message().find("longer than its header says") != std::string::npos);
    for (size_t i = 0; i < e.files.size(); ++i) CHECK(Read(*e.vol, e.files[i]) == before[i]);
  }
  SECTION("one header claims 0 bytes: that file is unusable, the others repair it") {
    Encoded e = Encode(30000, 2, 1, 4096, 25);
    const std::string good = Read(*e.vol, e.files[1]);
    Craft(*e.vol, e.files[1], [](std::string* h) { PutLe(h, 48, 0, 8); });
    auto scan = ScanShards(*e.vol, {"out"});
    REQUIRE(scan.ok());
    CHECK(scan->files[1].role == ShardRole::kBadHeader);
    auto rep = VerifySet(*e.vol, *scan, 0);
    REQUIRE(rep.ok());
    CHECK(rep->verdict == SetVerdict::kDegraded);
    REQUIRE(RepairShards(*e.vol, *scan, 0).ok());
    CHECK(Read(*e.vol, e.files[1]) == good);
  }
  SECTION("every header claims 2^60 bytes: unrecoverable at once, nothing changed") {
    Encoded e = Encode(30000, 2, 1, 4096, 26);
    for (const auto& f : e.files) {
      Craft(*e.vol, f, [](std::string* h) { PutLe(h, 48, uint64_t(1) << 60, 8); });
    }
    std::vector<std::string> before;
    for (const auto& f : e.files) before.push_back(Read(*e.vol, f));
    auto scan = ScanShards(*e.vol, {"out"});
    REQUIRE(scan.ok());
    auto rep = VerifySet(*e.vol, *scan, 0);  // bounded by the real 15 KB per file
    REQUIRE(rep.ok());
    CHECK(rep->verdict == SetVerdict::kUnrecoverable);
    CHECK(rep->blocks == (uint64_t(1) << 60) / 4096);
    CHECK(rep->unrecoverable_blocks >= rep->blocks - 8);
    CHECK(rep->shards[0].state == ShardFileState::kTruncated);
    CHECK(RepairShards(*e.vol, *scan, 0).status().code() == Code::kDataLoss);
    for (size_t i = 0; i < e.files.size(); ++i) CHECK(Read(*e.vol, e.files[i]) == before[i]);
    StringSink sink;
    CHECK(DecodeShards(*e.vol, *scan, 0, sink).code() == Code::kDataLoss);
  }
}

TEST_CASE("repair never replaces another encode's shard at a missing shard's name",
          "[shards][classify]") {
  auto vol = NewMemVolume();
  REQUIRE(vol->MakeDirs("a").ok());
  REQUIRE(vol->MakeDirs("b").ok());
  auto ea = EncodeInto(*vol, "a", RandomBytes(20000, 27), 2, 1);
  auto eb = EncodeInto(*vol, "b", RandomBytes(20000, 28), 2, 1);  // same name "file.bin"
  REQUIRE(ea.ok());
  REQUIRE(eb.ok());
  const std::string theirs = Read(*vol, eb->files[2]);
  REQUIRE(vol->WriteFile(ea->files[2], theirs, false).ok());
  auto scan = ScanShards(*vol, {"a"});
  REQUIRE(scan.ok());
  REQUIRE(scan->sets.size() == 2);
  size_t mine = scan->sets[0].ref.set_id == ea->header.set_id ? 0 : 1;
  auto r = RepairShards(*vol, *scan, mine);
  CHECK(r.status().code() == Code::kAlreadyExists);
  CHECK(Read(*vol, ea->files[2]) == theirs);
  // A file at that name that is no shard at all (a corrupt header) is replaced.
  REQUIRE(vol->WriteFile(ea->files[2], "garbage that is no shard", false).ok());
  auto scan2 = ScanShards(*vol, {"a"});
  REQUIRE(scan2.ok());
  REQUIRE(scan2->sets.size() == 1);
  REQUIRE(RepairShards(*vol, *scan2, 0).ok());
  auto rep = Verify(*vol, {"a"});
  REQUIRE(rep.ok());
  CHECK(rep->verdict == SetVerdict::kHealthy);
}

// ---------------------------------------------------------------------------------- temp files

TEST_CASE("temp names, and a dead encode's temp files removed by the next one", "[shards][temp]") {
  const std::string t = ShardTempName("d/x.1-of-3.cairn");
  CHECK(t.rfind("d/.x.1-of-3.cairn.part-", 0) == 0);
  CHECK(IsShardTempName(t.substr(2)));
  CHECK(!IsShardTempName("x.1-of-3.cairn"));
  CHECK(!IsShardTempName(".x.part-123"));
  CHECK(!IsShardTempName(".x.part-" + std::string(32, 'g')));
  // A long final name is cut so that the temp name is a valid file name.
  const std::string long_final = std::string(kShardNameMax, 'y') + ".32-of-32.cairn";
  CHECK(ShardTempName(long_final).size() <= 255);
  CHECK(IsShardTempName(ShardTempName(long_final)));

  auto vol = NewMemVolume();
  REQUIRE(vol->MakeDirs("out").ok());
  FakeLocker locker(*vol);
  const std::string dead = ShardTempName("out/old.1-of-3.cairn");
  const std::string live = ShardTempName("out/busy.1-of-3.cairn");
  REQUIRE(vol->WriteFile(dead, "half a shard", false).ok());
  REQUIRE(vol->WriteFile(live, "half a shard", false).ok());
  REQUIRE(vol->WriteFile("out/.keep.part-me", "not ours", false).ok());
  locker.held.insert(live);  // its encode still runs
  StringSource src(RandomBytes(10000, 29));
  EncodeOptions o;
  o.k = 2;
  o.m = 1;
  o.block_size = 4096;
  o.name = "new.bin";
  o.locker = &locker;
  auto r = EncodeShards(*vol, "out", src, o);
  REQUIRE(r.ok());
  CHECK(r->removed_temps == std::vector<std::string>{dead});
  CHECK(!vol->Stat(dead).ok());
  CHECK(vol->Stat(live).ok());
  CHECK(vol->Stat("out/.keep.part-me").ok());
  CHECK(locker.mine.empty());  // the encode's own locks are released
}

TEST_CASE("encode leaves nothing when the disk fills; refuses existing shards", "[shards][fault]") {
  Encoded e = Encode(10000, 2, 1, 4096, 10);
  CHECK(EncodeInto(*e.vol, "out", e.data, 2, 1).status().code() == Code::kAlreadyExists);

  auto mem = NewMemVolume("full");
  REQUIRE(mem->MakeDirs("out").ok());
  FaultyVolume faulty(mem.get(), 3);
  FaultRule r;
  r.op = FaultOp::kAppend;
  r.path_glob = "*3-of-3*";
  r.kind = FaultKind::kNoSpace;
  r.after_bytes = 20000;
  faulty.AddRule(r);
  auto res = EncodeInto(faulty, "out", RandomBytes(200000, 11), 2, 1);
  CHECK(res.status().code() == Code::kNoSpace);
  CHECK(faulty.injected() > 0);
  auto left = mem->ListDir("out");
  REQUIRE(left.ok());
  CHECK(left->empty());
}

TEST_CASE("encode and verify when the system cannot start a thread", "[shards][stage]") {
  // Encode's two writers: the first cannot start, or the second (the first already waiting for
  // blocks). The encode fails with a clear error, leaves nothing, and the next one works.
  const std::string data = RandomBytes(100000, 12);
  for (int after : {0, 1}) {
    CAPTURE(after);
    auto mem = NewMemVolume("threads");
    REQUIRE(mem->MakeDirs("out").ok());
    StageGroup::FailRunForTest(after);
    auto res = EncodeInto(*mem, "out", data, 2, 1);
    StageGroup::FailRunForTest(-1);
    CHECK(res.status().code() == Code::kIOError);
    CHECK_THAT(res.status().message(), Catch::Contains("cannot start a thread"));
    auto left = mem->ListDir("out");
    REQUIRE(left.ok());
    CHECK(left->empty());
    REQUIRE(EncodeInto(*mem, "out", data, 2, 1).ok());
  }
  // Verify checks half the shards on a second thread; without one, all on the caller's.
  Encoded e = Encode(50000, 4, 2, 4096, 13);
  Damage(*e.vol, e.files[1], kShardHeaderSize + 100);
  auto normal = Verify(*e.vol, e.files);
  REQUIRE(normal.ok());
  StageGroup::FailRunForTest(0);
  auto alone = Verify(*e.vol, e.files);
  StageGroup::FailRunForTest(-1);
  REQUIRE(alone.ok());
  CHECK(alone->verdict == normal->verdict);
  CHECK(alone->bytes_read == normal->bytes_read);
  REQUIRE(alone->shards.size() == normal->shards.size());
  for (size_t i = 0; i < alone->shards.size(); ++i) {
    CAPTURE(i);
    CHECK(alone->shards[i].bad_blocks == normal->shards[i].bad_blocks);
  }
  CHECK(normal->shards[1].bad_blocks == 1);
}

// -------------------------------------------------------------------------------- HostVolume

namespace {

struct ScratchDir {
  std::string path;
  ScratchDir() {
    char tmpl[] = "/tmp/cairn-shards-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~ScratchDir() { REQUIRE(std::system(("rm -rf '" + path + "'").c_str()) == 0); }
};

}  // namespace

TEST_CASE("HostVolume: the user's symlinks are followed, created files are new", "[shards][host]") {
  ScratchDir d;
  std::vector<std::string> seen;
  HostVolume vol([&](const std::string& p, bool live) { seen.push_back((live ? "+" : "-") + p); });
  auto dir = HostDir(d.path + "/a//b/../c/", /*create=*/true);
  REQUIRE(dir.ok());
  CHECK(HostDisplay(*dir) == d.path + "/a/c");
  auto enc = EncodeInto(vol, *dir, RandomBytes(9000, 30), 2, 1);
  REQUIRE(enc.ok());
  CHECK(seen.size() == 6);  // three temp files created, then renamed away
  CHECK(HostDisplay(enc->files[0]) == d.path + "/a/c/file.bin.1-of-3.cairn");
  // Symlinks to the shards, and to their directory.
  REQUIRE(::symlink((d.path + "/a/c/file.bin.1-of-3.cairn").c_str(),
                    (d.path + "/l1.cairn").c_str()) == 0);
  REQUIRE(::symlink((d.path + "/a/c").c_str(), (d.path + "/ldir").c_str()) == 0);
  auto l1 = HostPath(d.path + "/l1.cairn");
  REQUIRE(l1.ok());
  CHECK(HostDisplay(*l1) == d.path + "/l1.cairn");  // the last component as typed
  auto real = HostRealPath(*l1);
  REQUIRE(real.ok());
  CHECK(*real == enc->files[0]);
  auto ldir = HostPath(d.path + "/ldir");
  REQUIRE(ldir.ok());
  ScanOptions so;
  so.resolve = HostRealPath;
  auto scan = ScanShards(vol, {*ldir, *l1}, so);
  REQUIRE(scan.ok());
  CHECK(scan->files.size() == 3);  // the symlink and the file it points to are one file
  CHECK(scan->sets.size() == 1);
  // A created file is new: an existing name or a planted symlink is refused, never followed.
  REQUIRE(::symlink((d.path + "/victim").c_str(), (d.path + "/a/c/planted").c_str()) == 0);
  CHECK(vol.NewWritableFile(*dir + "/planted").status().code() != Code::kOk);
  CHECK(::access((d.path + "/victim").c_str(), F_OK) != 0);
  CHECK(vol.NewWritableFile(enc->files[0]).status().code() == Code::kAlreadyExists);
  // A FIFO is not opened as a shard (that would wait for a writer).
  REQUIRE(::mkfifo((d.path + "/a/c/fifo.cairn").c_str(), 0600) == 0);
  CHECK(!vol.NewReadableFile(*dir + "/fifo.cairn").ok());
  // Paths in messages: absolute, no "//".
  auto missing = HostPath(d.path + "//nope/x.cairn");
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message().find("//") == std::string::npos);
  CHECK(TidyPath("/a//b/./c/") == "/a/b/c");
}

TEST_CASE("HostVolume locks: one holder at a time, released with the lock", "[shards][host]") {
  ScratchDir d;
  HostVolume vol;
  auto dir = HostDir(d.path, false);
  REQUIRE(dir.ok());
  const std::string f = *dir + "/x";
  REQUIRE(vol.WriteFile(f, "x", false).ok());
  auto a = vol.TryLock(f);
  REQUIRE(a.ok());
  CHECK(!vol.TryLock(f).ok());  // flock conflicts between open files, even in one process
  a->reset();
  CHECK(vol.TryLock(f).ok());
}
