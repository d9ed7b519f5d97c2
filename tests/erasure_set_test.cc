// ErasureSet over MemVolumes: round trips, ranges, degraded reads, keys, buckets, concurrency.
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <thread>

#include "libstore/common/hash.h"
#include "libstore/common/stage_threads.h"
#include "libstore/format/key_path.h"
#include "libstore/format/object_meta.h"
#include "tests/plain_test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

// The shard file of an object on one volume.
std::string ShardFile(SetFixture& f, size_t vol, const std::string& bucket, const std::string& key) {
  return ShardFileOn(*f.mem[vol], bucket, key);
}

// Files on one volume that belong to the key (metadata and shard).
size_t KeyFiles(SetFixture& f, size_t vol, const std::string& bucket, const std::string& key) {
  ObjectPaths p = KeyPaths(bucket, key);
  size_t n = 0;
  for (const auto& file : f.Files(vol, p.dir)) n += file.rfind(p.meta, 0) == 0;
  return n;
}

// Puts a BypassCounter over each of f's volumes (in effect once f reopens its set).
std::vector<std::unique_ptr<BypassCounter>> CountBypasses(SetFixture& f) {
  std::vector<std::unique_ptr<BypassCounter>> counters;
  for (auto& v : f.vols) {
    counters.push_back(std::make_unique<BypassCounter>(v));
    v = counters.back().get();
  }
  return counters;
}

}  // namespace

TEST_CASE("round trips are byte-identical for every size and layout", "[erasure_set]") {
  const uint32_t bs = 64 << 10;
  for (auto [k, m] : std::vector<std::pair<uint32_t, uint32_t>>{{1, 0}, {2, 1}, {4, 2}, {8, 4}}) {
    SetFixture f(k, m, bs);
    REQUIRE(f.set);
    REQUIRE(f.set->MakeBucket("bkt").ok());
    for (size_t size : {size_t(0), size_t(1), size_t(bs - 1), size_t(bs), size_t(bs + 1),
                        size_t(16 << 10), size_t((16 << 10) + 1), size_t(1 << 20) + 7}) {
      CAPTURE(k, m, size);
      std::string data = RandomBytes(size, size * 31 + k);
      REQUIRE(f.Put("bkt", "obj", data).ok());
      auto got = f.Get("bkt", "obj");
      REQUIRE(got.ok());
      REQUIRE(*got == data);
      auto head = f.set->HeadObject("bkt", "obj");
      REQUIRE(head.ok());
      CHECK(head->size == size);
      CHECK(head->etag == Md5Hex(data));
    }
  }
}

TEST_CASE("a body of a block or more is written past the page cache", "[erasure_set][direct]") {
  SetFixture f(4, 2);  // blocks of 64 KiB, inline up to 16 KiB
  auto counters = CountBypasses(f);
  CloseSetFirst close{f};
  f.Reopen();
  REQUIRE(f.set->MakeBucket("bkt").ok());
  auto sum = [&](int BypassCounter::*field) {
    int n = 0;
    for (const auto& c : counters) n += (*c).*field;
    return n;
  };
  auto hints = [&] { return sum(&BypassCounter::hints); };
  for (const size_t size : {size_t(10 << 10), size_t(40 << 10), size_t((64 << 10) - 1)}) {
    CAPTURE(size);
    const std::string data = RandomBytes(size, size);
    REQUIRE(f.Put("bkt", "small", data).ok());
    CHECK(f.Get("bkt", "small").value() == data);
    CHECK(hints() == 0);
  }
  const std::string big = RandomBytes((1 << 20) + 12345, 5);
  REQUIRE(f.Put("bkt", "big", big).ok());
  CHECK(hints() == 6);  // each member's shard file
  CHECK(f.Get("bkt", "big").value() == big);
  // Every chunk of a full block (16 KiB here) is handed over at an address congruent to its
  // offset in the shard file, so a direct append copies none of it; the last block's chunks are
  // shorter than an alignment unit and not counted.
  CHECK(sum(&BypassCounter::congruent) == 16 * 6);
  CHECK(sum(&BypassCounter::incongruent) == 0);
  // Without fsync too: each shard file has a writer thread of its own, so no direct append waits
  // for another member's disk.
  StringSource src(big, 100000);
  PutOptions po;
  po.fsync = false;
  REQUIRE(f.set->PutObject("bkt", "big-nf", src, po).ok());
  CHECK(hints() == 12);
  CHECK(f.Get("bkt", "big-nf").value() == big);
  CHECK(sum(&BypassCounter::congruent) == 2 * 16 * 6);
  CHECK(sum(&BypassCounter::incongruent) == 0);
}

TEST_CASE("a PUT's writer threads are kept for the next PUT", "[erasure_set][stage]") {
  SetFixture f(4, 2);
  auto counters = CountBypasses(f);
  CloseSetFirst close{f};
  f.Reopen();
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string big = RandomBytes((256 << 10) + 5, 6);  // 5 blocks
  REQUIRE(f.Put("bkt", "a", big).ok());
  // The next PUT's shard files are written by threads that existed before it: none started.
  const std::set<long> before = LiveThreadIds();
  for (auto& c : counters) c->append_threads.clear();
  REQUIRE(f.Put("bkt", "b", big).ok());
  std::set<long> writers;
  for (auto& c : counters) {
    REQUIRE(c->append_threads.size() == 1);  // one writer per shard file
    writers.insert(*c->append_threads.begin());
  }
  CHECK(writers.size() == 6);
  for (long id : writers) {
    CAPTURE(id);
    CHECK(before.count(id) == 1);
  }
  CHECK(f.Get("bkt", "b").value() == big);
}

TEST_CASE("a PUT that cannot start its stage threads fails as SlowDown and leaves nothing",
          "[erasure_set][stage]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string old_body = RandomBytes(100000, 7), big = RandomBytes((256 << 10) + 5, 8);
  REQUIRE(f.Put("bkt", "k", old_body).ok());
  // 5 blocks: six writers and a hasher. The first stage fails, then the fourth (three writers
  // already running and waiting for blocks), then the last (the hasher).
  for (int after : {0, 3, 6}) {
    CAPTURE(after);
    StageGroup::FailRunForTest(after);
    Status s = f.Put("bkt", "k", big);
    CHECK(s.code() == Code::kSlowDown);
    CHECK(f.Get("bkt", "k").value() == old_body);  // the older copy stays
    for (size_t i = 0; i < f.mem.size(); ++i) CHECK(f.Files(i, ".cairn/tmp").empty());
  }
  // Nothing is left waiting: the next PUT runs.
  REQUIRE(f.Put("bkt", "k", big).ok());
  CHECK(f.Get("bkt", "k").value() == big);
}

TEST_CASE("fast etag is XXH3-128 and differs from md5", "[erasure_set]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  std::string data = RandomBytes(200000, 5);
  REQUIRE(f.Put("bkt", "x", data, EtagMode::kFast).ok());
  auto head = f.set->HeadObject("bkt", "x");
  REQUIRE(head.ok());
  CHECK(head->etag == "x" + Xxh3_128(data.data(), data.size()).Hex());
}

TEST_CASE("range reads return exactly the bytes asked for", "[erasure_set]") {
  SetFixture f(4, 2, 64 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  std::string data = RandomBytes(300000, 9);
  REQUIRE(f.Put("bkt", "r", data).ok());
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    uint64_t a = rng() % data.size();
    uint64_t b = a + rng() % (data.size() - a);
    auto got = f.Get("bkt", "r", GetRange{a, b});
    REQUIRE(got.ok());
    REQUIRE(*got == data.substr(a, b - a + 1));
  }
  auto tail = f.Get("bkt", "r", GetRange{299990, UINT64_MAX});
  REQUIRE(tail.ok());
  CHECK(*tail == data.substr(299990));
  auto past = f.Get("bkt", "r", GetRange{300000, UINT64_MAX});
  CHECK(past.status().code() == Code::kInvalidRange);
}

TEST_CASE("any M volumes offline: every object still reads back", "[erasure_set][degraded]") {
  for (auto [k, m] : std::vector<std::pair<uint32_t, uint32_t>>{{2, 1}, {4, 2}, {8, 4}}) {
    SetFixture f(k, m, 64 << 10);
    REQUIRE(f.set->MakeBucket("bkt").ok());
    std::vector<std::string> datas;
    for (int i = 0; i < 6; ++i) {
      datas.push_back(RandomBytes(i % 2 ? 5000 : 200000 + i, 77 + i));
      REQUIRE(f.Put("bkt", "o" + std::to_string(i), datas.back()).ok());
    }
    std::mt19937_64 rng(k * 100 + m);
    const uint32_t n = k + m;
    // Exhaustive over pairs for small sets, sampled for 8+4.
    int patterns = n <= 6 ? 64 : 20;
    for (int p = 0; p < patterns; ++p) {
      std::vector<Volume*> vols = f.vols;
      std::vector<uint32_t> idx(n);
      for (uint32_t i = 0; i < n; ++i) idx[i] = i;
      std::shuffle(idx.begin(), idx.end(), rng);
      for (uint32_t j = 0; j < m; ++j) vols[idx[j]] = nullptr;
      auto set = ErasureSet::Open(vols, f.params);
      REQUIRE(set.ok());
      for (int i = 0; i < 6; ++i) {
        StringSink sink;
        auto info = (*set)->GetObject("bkt", "o" + std::to_string(i), sink);
        REQUIRE(info.ok());
        REQUIRE(sink.out == datas[i]);
      }
    }
    // M+1 offline: below read quorum, the set does not open.
    std::vector<Volume*> vols = f.vols;
    for (uint32_t j = 0; j <= m; ++j) vols[j] = nullptr;
    CHECK(!ErasureSet::Open(vols, f.params).ok());
  }
}

TEST_CASE("any M corrupt shards: reads are identical; M+1: DataLoss and no bad bytes", "[erasure_set][bitrot]") {
  for (auto [k, m] : std::vector<std::pair<uint32_t, uint32_t>>{{2, 1}, {4, 2}, {8, 4}}) {
    const uint32_t n = k + m;
    std::mt19937_64 rng(k + 10 * m);
    for (bool inline_obj : {false, true}) {
      CAPTURE(k, m, inline_obj);
      SetFixture f(k, m, 64 << 10);
      REQUIRE(f.set->MakeBucket("bkt").ok());
      std::string data = RandomBytes(inline_obj ? 9000 : 300000, 4);
      REQUIRE(f.Put("bkt", "c", data).ok());
      std::vector<uint32_t> idx(n);
      for (uint32_t i = 0; i < n; ++i) idx[i] = i;
      std::shuffle(idx.begin(), idx.end(), rng);
      for (uint32_t j = 0; j < m; ++j) {
        std::string path = inline_obj ? KeyPaths("bkt", "c").meta : ShardFile(f, idx[j], "bkt", "c");
        REQUIRE(!path.empty());
        auto size = f.mem[idx[j]]->Stat(path);
        REQUIRE(size.ok());
        if (inline_obj) {
          // Damage the inline shard bytes but keep the metadata checksum valid: rewrite the meta.
          auto raw = f.mem[idx[j]]->ReadFile(path, 1 << 20);
          REQUIRE(raw.ok());
          auto meta = ObjectMeta::Decode(*raw);
          REQUIRE(meta.ok());
          REQUIRE(!meta->inline_shard.empty());
          meta->inline_shard[rng() % meta->inline_shard.size()] ^= 1;
          REQUIRE(f.mem[idx[j]]->WriteFile(path, meta->Encode().value(), false).ok());
        } else {
          // One flipped byte in every block of this shard.
          for (uint64_t off = 0; off < size->size; off += (64 << 10) / k + 8) {
            FlipByte(*f.mem[idx[j]], path, off + rng() % ((64 << 10) / k) % (size->size - off));
          }
        }
      }
      auto got = f.Get("bkt", "c");
      REQUIRE(got.ok());
      REQUIRE(*got == data);

      // One more shard lost: the GET fails and writes no byte of a bad block.
      std::string meta_path = KeyPaths("bkt", "c").meta;
      REQUIRE(f.mem[idx[m]]->Remove(inline_obj ? meta_path : ShardFile(f, idx[m], "bkt", "c")).ok());
      StringSink sink;
      auto info = f.set->GetObject("bkt", "c", sink);
      REQUIRE(!info.ok());
      CHECK(info.status().code() == Code::kDataLoss);
      CHECK(sink.out.size() <= data.size());
      CHECK(data.compare(0, sink.out.size(), sink.out) == 0);
      if (!inline_obj) CHECK(sink.out.empty());  // every block was damaged
    }
  }
}

TEST_CASE("keys a, a/ and a/b are three objects", "[erasure_set][keys]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "a", "A").ok());
  REQUIRE(f.Put("bkt", "a/", "SLASH").ok());
  REQUIRE(f.Put("bkt", "a/b", "B").ok());
  CHECK(*f.Get("bkt", "a") == "A");
  CHECK(*f.Get("bkt", "a/") == "SLASH");
  CHECK(*f.Get("bkt", "a/b") == "B");
  REQUIRE(f.set->DeleteObject("bkt", "a").ok());
  CHECK(f.Get("bkt", "a").status().code() == Code::kNotFound);
  CHECK(*f.Get("bkt", "a/") == "SLASH");
  CHECK(*f.Get("bkt", "a/b") == "B");
  REQUIRE(f.set->DeleteObject("bkt", "a/b").ok());
  CHECK(*f.Get("bkt", "a/") == "SLASH");
  REQUIRE(f.set->DeleteObject("bkt", "a/").ok());
  CHECK(f.set->DeleteObject("bkt", "a/").code() == Code::kNotFound);
  // Nothing is left on any volume but the bucket's own files.
  for (size_t i = 0; i < f.mem.size(); ++i) {
    auto files = f.Files(i, "bkt");
    CHECK(files == std::vector<std::string>{"bkt/bucket.meta"});
  }
}

TEST_CASE("odd keys: dots, percent, control bytes, long segments, 1024 bytes", "[erasure_set][keys]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  std::vector<std::string> keys = {"..", ".", "../x", "a/../b", "%2F", "100%", "tab\there", "~", "+",
                                   "a~", "a+", "meta", "s.0", "ü/ñ", std::string(300, 'L'),
                                   std::string(1024, 'k'), std::string(600, '%'),
                                   "x/" + std::string(250, 'y') + "/z"};
  for (const auto& k : keys) {
    CAPTURE(k);
    REQUIRE(f.Put("bkt", k, "v:" + k).ok());
  }
  for (const auto& k : keys) {
    CAPTURE(k);
    auto got = f.Get("bkt", k);
    REQUIRE(got.ok());
    CHECK(*got == "v:" + k);
  }
  CHECK(f.Put("bkt", std::string(1025, 'k'), "x").code() == Code::kInvalidArgument);
  CHECK(f.Put("bkt", std::string("a\0b", 3), "x").code() == Code::kInvalidArgument);
  CHECK(f.Put("bkt", "", "x").code() == Code::kInvalidArgument);
}

TEST_CASE("buckets: names, create, remove", "[erasure_set][buckets]") {
  SetFixture f(2, 1);
  for (const std::string& bad : std::vector<std::string>{"ab", "Abc", "a_b", "-ab", "ab-", "a..b", "192.168.1.1", "xn--abc",
                          std::string(64, 'a'), ".cairn"}) {
    CAPTURE(bad);
    CHECK(f.set->MakeBucket(bad).code() == Code::kInvalidArgument);
  }
  REQUIRE(f.set->MakeBucket("photos").ok());
  CHECK(f.set->MakeBucket("photos").code() == Code::kAlreadyExists);
  CHECK(f.Put("nobucket", "k", "x").code() == Code::kBucketNotFound);
  REQUIRE(f.Put("photos", "k", "x").ok());
  CHECK(f.set->RemoveBucket("photos", false).code() == Code::kNotEmpty);
  CHECK(*f.Get("photos", "k") == "x");
  auto list = f.set->ListBuckets();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].name == "photos");
  REQUIRE(f.set->RemoveBucket("photos", true).ok());
  CHECK(f.set->BucketExists("photos").code() == Code::kBucketNotFound);
  REQUIRE(f.set->MakeBucket("photos").ok());
  CHECK(f.Get("photos", "k").status().code() == Code::kNotFound);
}

TEST_CASE("overwrite replaces the version and drops the old shard file", "[erasure_set]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "o", RandomBytes(300000, 1)).ok());
  std::string v2 = RandomBytes(250000, 2);
  REQUIRE(f.Put("bkt", "o", v2).ok());
  CHECK(*f.Get("bkt", "o") == v2);
  // The metadata, the shard, and the previous metadata copy kept beside it (o=.prev).
  for (size_t i = 0; i < f.mem.size(); ++i) CHECK(KeyFiles(f, i, "bkt", "o") == 3);
  // Large -> inline: the shard file goes away too.
  REQUIRE(f.Put("bkt", "o", "small").ok());
  CHECK(*f.Get("bkt", "o") == "small");
  for (size_t i = 0; i < f.mem.size(); ++i) CHECK(KeyFiles(f, i, "bkt", "o") == 2);
  // A delete takes every file of the key.
  REQUIRE(f.set->DeleteObject("bkt", "o").ok());
  for (size_t i = 0; i < f.mem.size(); ++i) CHECK(KeyFiles(f, i, "bkt", "o") == 0);
}

TEST_CASE("concurrent PUT and GET of one key never expose a torn object", "[erasure_set][concurrency]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  // Each version is one repeated byte, of a size that depends on the version: a torn read would
  // mix bytes or sizes.
  auto version = [](int v) { return std::string(size_t(1000 + (v % 7) * 50000), char('a' + v % 26)); };
  REQUIRE(f.Put("bkt", "hot", version(0)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0};
  std::vector<std::thread> ts;
  for (int w = 0; w < 2; ++w) {
    ts.emplace_back([&, w] {
      for (int i = 1; i < 40; ++i) {
        if (!f.Put("bkt", "hot", version(i * 2 + w)).ok()) ++bad;
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    ts.emplace_back([&] {
      while (!stop) {
        auto got = f.Get("bkt", "hot");
        if (!got.ok()) {
          ++bad;
          continue;
        }
        ++reads;
        // The bytes and the size must both match one version written.
        bool ok = false;
        for (int v = 0; v < 200 && !ok; ++v) ok = version(v) == *got;
        if (!ok) ++bad;
      }
    });
  }
  ts[0].join();
  ts[1].join();
  stop = true;
  for (size_t i = 2; i < ts.size(); ++i) ts[i].join();
  CHECK(bad == 0);
  CHECK(reads > 0);
}

namespace {

// A body that must never be read: PUT has to refuse its options first.
class UntouchableSource : public Source {
 public:
  Result<size_t> Read(void*, size_t) override {
    ++reads;
    return IOError("the body was read");
  }
  int reads = 0;
};

// A scratch directory for cross-process lock files, removed at the end.
struct LockDir {
  LockDir() {
    char t[] = "/tmp/cairn-locks-XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    path = t;
  }
  ~LockDir() { std::filesystem::remove_all(path); }
  std::string path;
};

}  // namespace

TEST_CASE("PUT refuses metadata past its limits before reading the body; the object stays",
          "[erasure_set][meta]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string v1 = RandomBytes(3000, 1);
  REQUIRE(f.Put("bkt", "k", v1).ok());
  struct Case {
    const char* what;
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> meta;
  };
  const std::vector<Case> bad = {
      {"a value past the decoder's limit", "", {{"n", std::string(8193, 'a')}}},
      {"2 KiB + 1 in total", "", {{"n", std::string(1024, 'a')}, {"m", std::string(1023, 'b')}}},
      {"more entries than the format holds", "",
       [] {
         std::vector<std::pair<std::string, std::string>> m;
         for (int i = 0; i < 1025; ++i)
           m.emplace_back(std::string(1, char('a' + i % 26)) + std::string(1, char('a' + i / 26)),
                          "");
         return m;
       }()},
      {"a key past the decoder's limit", "", {{std::string(1025, 'k'), "v"}}},
      {"an empty key", "", {{"", "v"}}},
      {"a space in a key", "", {{"bad key", "v"}}},
      {"a key given twice, in two cases", "", {{"Color", "red"}, {"color", "blue"}}},
      {"a line break in a value", "", {{"k", "a\r\nX-Evil: 1"}}},
      {"a long content type", std::string(257, 't'), {}},
      {"a content type past the decoder's limit", std::string(1025, 't'), {}},
      {"a control character in the content type", "text/plain\n", {}},
  };
  for (const auto& c : bad) {
    INFO(c.what);
    PutOptions po;
    po.content_type = c.content_type;
    po.user_meta = c.meta;
    UntouchableSource src;
    auto r = f.set->PutObject("bkt", "k", src, po);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(src.reads == 0);
    auto got = f.Get("bkt", "k");
    REQUIRE(got.ok());
    CHECK(*got == v1);
  }
  // At the limits: accepted, and read back as written.
  PutOptions po;
  po.content_type = std::string(256, 't');
  po.user_meta = {{"n", std::string(1024, 'a')}, {"m", std::string(1021, 'b')}, {"x", ""}};
  StringSource src("v2");
  REQUIRE(f.set->PutObject("bkt", "k", src, po).ok());
  auto head = f.set->HeadObject("bkt", "k");
  REQUIRE(head.ok());
  CHECK(head->content_type == po.content_type);
  CHECK(head->user_meta == po.user_meta);
  CHECK(*f.Get("bkt", "k") == "v2");
  auto list = f.set->ListObjects("bkt", ListOptions());
  REQUIRE(list.ok());
  CHECK(list->objects.size() == 1);
  CHECK(f.set->DeleteObject("bkt", "k").ok());
}

TEST_CASE("readers racing writers of other processes always get a committed version",
          "[erasure_set][concurrency]") {
  // Three ErasureSets over the same members, each with its own in-process locks but one lock
  // directory: what three processes would see. Inline and streamed versions alternate, so both
  // commit paths race the readers.
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  LockDir locks;
  auto open = [&] {
    auto r = ErasureSet::Open(f.vols, f.params, locks.path, &f.clock);
    REQUIRE(r.ok());
    return std::move(r).value();
  };
  auto w1 = open(), w2 = open(), reader = open();
  REQUIRE(f.set->MakeBucket("bkt").ok());
  auto version = [](int v) {
    return std::string(size_t(v % 2 == 0 ? 1000 + v : 70000 + v), char('a' + v % 26));
  };
  REQUIRE(f.Put("bkt", "hot", version(0)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> write_errors{0}, read_errors{0}, wrong{0}, reads{0}, listed_missing{0};
  std::string first_error;
  std::mutex mu;
  std::set<int> seen;
  std::vector<std::thread> ts;
  for (ErasureSet* w : {w1.get(), w2.get()}) {
    ts.emplace_back([&, w] {
      for (int i = 1; i < 200; ++i) {
        StringSource src(version(i));
        PutOptions po;
        po.fsync = false;
        if (!w->PutObject("bkt", "hot", src, po).ok()) ++write_errors;
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    ts.emplace_back([&, r] {
      while (!stop) {
        if (r == 1) {
          auto list = reader->ListObjects("bkt", ListOptions());
          if (!list.ok() || list->objects.size() != 1) ++listed_missing;
          continue;
        }
        StringSink sink;
        auto info = reader->GetObject("bkt", "hot", sink);
        if (!info.ok()) {
          ++read_errors;
          std::lock_guard<std::mutex> l(mu);
          if (first_error.empty()) first_error = info.status().message();
          continue;
        }
        ++reads;
        int which = -1;
        for (int v = 0; v < 200 && which < 0; ++v) {
          if (version(v) == sink.out) which = v;
        }
        if (which < 0) ++wrong;
        std::lock_guard<std::mutex> l(mu);
        seen.insert(which);
      }
    });
  }
  ts[0].join();
  ts[1].join();
  stop = true;
  for (size_t i = 2; i < ts.size(); ++i) ts[i].join();
  INFO(first_error);
  CHECK(write_errors == 0);
  CHECK(read_errors == 0);
  CHECK(wrong == 0);
  CHECK(listed_missing == 0);
  CHECK(reads > 0);
  CHECK(seen.size() > 1);  // the readers did race the writers
}

TEST_CASE("a PUT that a reachable member misses names it and queues the object for heal",
          "[erasure_set][fault]") {
  for (size_t size : {size_t(1000), size_t(300000)}) {
    CAPTURE(size);
    SetFixture f(4, 2);
    REQUIRE(f.set->MakeBucket("bkt").ok());
    FaultRule full;
    full.op = FaultOp::kOpenWrite;
    full.kind = FaultKind::kNoSpace;
    f.faulty[3]->AddRule(full);
    const std::string body = RandomBytes(size, 3);
    StringSource src(body);
    auto info = f.set->PutObject("bkt", "k", src, PutOptions());
    REQUIRE(info.ok());
    REQUIRE(info->missed.size() == 1);
    CHECK(info->missed[0].position == 3);
    CHECK(!info->missed[0].offline);
    CHECK(info->missed[0].why.find("injected") != std::string::npos);
    auto mrf = f.set->ListMrf();
    REQUIRE(mrf.ok());
    REQUIRE(mrf->size() == 1);
    CHECK((*mrf)[0].key == "k");
    CHECK((*mrf)[0].positions == std::vector<uint32_t>{3});
    CHECK(*f.Get("bkt", "k") == body);
    // A full write reports nothing missed.
    f.faulty[3]->ClearRules();
    StringSource again(body);
    info = f.set->PutObject("bkt", "k", again, PutOptions());
    REQUIRE(info.ok());
    CHECK(info->missed.empty());
    // An offline member is named as such.
    f.vols[5] = nullptr;
    f.Reopen();
    StringSource third(body);
    info = f.set->PutObject("bkt", "k", third, PutOptions());
    REQUIRE(info.ok());
    REQUIRE(info->missed.size() == 1);
    CHECK(info->missed[0].position == 5);
    CHECK(info->missed[0].offline);
  }
}

TEST_CASE("DELETE commits a delete marker and leaves nothing once every member took it",
          "[erasure_set][delete]") {
  for (size_t size : {size_t(10), size_t(300000)}) {
    CAPTURE(size);
    SetFixture f(4, 2);
    REQUIRE(f.set->MakeBucket("bkt").ok());
    REQUIRE(f.Put("bkt", "d/k", RandomBytes(size, 4)).ok());
    REQUIRE(f.set->DeleteObject("bkt", "d/k").ok());
    CHECK(f.Get("bkt", "d/k").status().code() == Code::kNotFound);
    CHECK(f.set->DeleteObject("bkt", "d/k").code() == Code::kNotFound);
    for (size_t i = 0; i < f.mem.size(); ++i) {
      CHECK(f.Files(i, "bkt") == std::vector<std::string>{"bkt/bucket.meta"});
    }
    // The same key again, and a PUT over a leftover marker.
    REQUIRE(f.Put("bkt", "d/k", "again").ok());
    CHECK(*f.Get("bkt", "d/k") == "again");
  }
}

TEST_CASE("DeleteObjects deletes many keys with shared flushes, one status per key",
          "[erasure_set][delete]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) {
    keys.push_back("p/" + std::to_string(i));
    REQUIRE(f.Put("bkt", keys.back(), RandomBytes(i % 3 == 0 ? 200000 : 100, uint64_t(i))).ok());
  }
  REQUIRE(f.Put("bkt", "keep", "kept").ok());
  // Two flushes for the whole batch, counted on one member: every marker file's own data, then
  // the directories once each (bkt/p and .cairn/tmp), not once per key; never a SyncAll.
  struct Counting : VolumeWrapper {
    using VolumeWrapper::VolumeWrapper;
    std::atomic<int> files{0}, dirs{0}, all{0};
    Status SyncFile(const std::string& p) override {
      ++files;
      return VolumeWrapper::SyncFile(p);
    }
    Status SyncDir(const std::string& p) override {
      ++dirs;
      return VolumeWrapper::SyncDir(p);
    }
    Status SyncAll() override {
      ++all;
      return VolumeWrapper::SyncAll();
    }
  };
  Counting counting(f.faulty[0].get());
  f.vols[0] = &counting;
  CloseSetFirst close_first{f};
  f.Reopen();
  std::vector<std::string> ask = keys;
  ask.push_back("p/none");
  ask.push_back("p/3");  // twice
  auto st = f.set->DeleteObjects("bkt", ask);
  REQUIRE(st.size() == ask.size());
  for (size_t i = 0; i < keys.size(); ++i) CHECK(st[i].ok());
  CHECK(st[keys.size()].code() == Code::kNotFound);
  CHECK(st[keys.size() + 1].ok());  // looked up before either was published: both delete it
  CHECK(counting.files <= int(keys.size()) + 1);  // p/3 was asked twice
  CHECK(counting.dirs == 2);
  CHECK(counting.all == 0);
  for (const auto& k : keys) CHECK(f.Get("bkt", k).status().code() == Code::kNotFound);
  CHECK(*f.Get("bkt", "keep") == "kept");
  for (size_t i = 0; i < f.mem.size(); ++i) {
    auto files = f.Files(i, "bkt");
    std::sort(files.begin(), files.end());
    CHECK(files == std::vector<std::string>{"bkt/bucket.meta", "bkt/keep="});
  }
  CHECK(f.set->DeleteObjects("nosuchbucket", {"x"}).front().code() == Code::kBucketNotFound);
  CHECK(f.set->DeleteObjects("bkt", {""}).front().code() == Code::kInvalidArgument);
}

TEST_CASE("a delete whose last flush fails reports it and leaves markers for heal",
          "[erasure_set][delete]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "k", RandomBytes(200000, 9)).ok());
  // The first flush (the staged markers' data) passes, the second (the renames: directories)
  // fails.
  FaultRule r;
  r.op = FaultOp::kSyncDir;
  r.times = 1;
  for (auto& fv : f.faulty) fv->AddRule(r);
  CHECK(f.set->DeleteObject("bkt", "k").code() == Code::kIOError);
  for (auto& fv : f.faulty) fv->ClearRules();
  // The markers were published on every member: the object reads as deleted, and nothing of it
  // was removed yet.
  CHECK(f.Get("bkt", "k").status().code() == Code::kNotFound);
  auto h = f.set->HealObject("bkt", "k", CheckOptions());
  REQUIRE(h.ok());
  CHECK(h->deleting);
  CHECK(h->action == ObjectHealth::Action::kFinishedDelete);
  CHECK(h->after == Health::kHealthy);
  CHECK(f.set->HealObject("bkt", "k", CheckOptions()).status().code() == Code::kNotFound);
}

TEST_CASE("a DELETE keeps its files as spares; the next new key reuses them", "[erasure_set]") {
  SetFixture f(4, 2);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  auto temps = [&](size_t i) {
    auto v = f.Files(i, ".cairn/tmp");
    return std::set<std::string>(v.begin(), v.end());
  };
  REQUIRE(f.Put("bkt", "a", "first small object").ok());
  std::vector<std::set<std::string>> before(6);
  for (size_t i = 0; i < 6; ++i) before[i] = temps(i);
  REQUIRE(f.set->DeleteObject("bkt", "a").ok());
  CHECK(f.Get("bkt", "a").status().code() == Code::kNotFound);
  std::vector<std::set<std::string>> after_delete(6);
  for (size_t i = 0; i < 6; ++i) {
    after_delete[i] = temps(i);
    // No spare yet, so the marker was a new file; it and the deleted version's copy are now
    // spares, and the key's files are gone.
    CHECK(before[i].empty());
    CHECK(after_delete[i].size() == 2);
    CHECK(f.Files(i, "bkt") == std::vector<std::string>{"bkt/bucket.meta"});
  }
  // A new key's PUT writes its metadata into a spare: no new file in the temp directory, one less.
  REQUIRE(f.Put("bkt", "b", "second small object").ok());
  for (size_t i = 0; i < 6; ++i) {
    const auto now = temps(i);
    CHECK(now.size() + 1 == after_delete[i].size());
    for (const auto& p : now) CHECK(after_delete[i].count(p) == 1);
  }
  auto got = f.Get("bkt", "b");
  REQUIRE(got.ok());
  CHECK(*got == "second small object");
}

TEST_CASE("spares above kMaxSpareBytes are removed, not kept", "[erasure_set]") {
  // k=2 and a 128 KiB inline limit: a 100 KiB object's metadata file holds a 50 KiB shard.
  SetFixture f(2, 1, 1 << 20, 128 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "big", RandomBytes(100 << 10, 5)).ok());
  REQUIRE(f.Put("bkt", "big", RandomBytes(100 << 10, 6)).ok());  // swaps the old copy out
  REQUIRE(f.set->DeleteObject("bkt", "big").ok());
  for (size_t i = 0; i < 3; ++i) {
    const auto files = f.Files(i, ".cairn/tmp");
    CHECK(!files.empty());  // the marker's file, small, is kept
    for (const auto& p : files) {
      auto st = f.mem[i]->Stat(p);
      REQUIRE(st.ok());
      CHECK(st->size <= ErasureSet::kMaxSpareBytes);
    }
  }
}

namespace {

// A sink that takes file ranges, as a plain-HTTP connection does, and counts how each byte came:
// read back from a file range (SendFile) or copied (Write).
class FileRangeSink : public Sink {
 public:
  Status Write(const void* d, size_t n) override {
    out.append(static_cast<const char*>(d), n);
    copied += n;
    return Status::Ok();
  }
  bool CanSendFile() const override { return true; }
  Status SendFile(int fd, uint64_t offset, uint64_t length) override {
    std::string b(length, '\0');
    if (::pread(fd, b.data(), length, off_t(offset)) != ssize_t(length)) {
      return Status(Code::kIOError, "short pread");
    }
    out += b;
    from_files += length;
    return Status::Ok();
  }
  std::string out;
  uint64_t copied = 0, from_files = 0;
};

Result<std::string> GetVia(ErasureSet& set, FileRangeSink& sink, std::optional<GetRange> r) {
  GetOptions o;
  o.range = r;
  auto info = set.GetObject("bkt", "obj", sink, o);
  if (!info.ok()) return info.status();
  return sink.out;
}

}  // namespace

TEST_CASE("a GET to a sink that takes file ranges sends whole blocks from the shard files, a "
          "rebuilt one from memory", "[erasure_set][sendfile]") {
  constexpr uint32_t kBlock = 64 << 10, kChunk = kBlock / 4;
  LocalSet ls(4, 2, kBlock);
  REQUIRE(ls.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(5 * kBlock + 1234, 77);
  StringSource src(data, 100000);
  REQUIRE(ls.set->PutObject("bkt", "obj", src, PutOptions{}).ok());
  {
    FileRangeSink sink;
    auto got = GetVia(*ls.set, sink, std::nullopt);
    REQUIRE(got.ok());
    CHECK(*got == data);
    CHECK(sink.from_files == data.size());
    CHECK(sink.copied == 0);
  }
  // Bitrot in block 1 of data shard 0: that block is rebuilt from parity and copied, the others
  // still go from the files.
  bool flipped = false;
  for (auto& v : ls.vols) {
    auto raw = v->ReadFile(KeyPaths("bkt", "obj").meta, 1 << 20);
    REQUIRE(raw.ok());
    auto meta = ObjectMeta::Decode(*raw);
    REQUIRE(meta.ok());
    if (meta->shard_index != 0) continue;
    const std::string shard = ShardFileOn(*v, "bkt", "obj");
    REQUIRE(!shard.empty());
    FlipByte(*v, shard, (kChunk + kChecksumLen) + 5);
    flipped = true;
  }
  REQUIRE(flipped);
  {
    FileRangeSink sink;
    auto got = GetVia(*ls.set, sink, std::nullopt);
    REQUIRE(got.ok());
    CHECK(*got == data);
    CHECK(sink.copied == kBlock);
    CHECK(sink.from_files == data.size() - kBlock);
  }
  {
    // From inside block 0 to inside block 3: the rebuilt block 1 whole, copied.
    FileRangeSink sink;
    auto got = GetVia(*ls.set, sink, GetRange{kBlock - 10, 3 * kBlock + 10});
    REQUIRE(got.ok());
    CHECK(*got == data.substr(kBlock - 10, 2 * kBlock + 21));
    CHECK(sink.copied == kBlock);
  }
  {
    // A sink that cannot take file ranges gets every byte copied, the same bytes.
    StringSink sink;
    GetOptions o;
    REQUIRE(ls.set->GetObject("bkt", "obj", sink, o).ok());
    CHECK(sink.out == data);
  }
}
