// ObjectStore::OpenObject on a volume set: the reader knows everything before the first byte,
// sends exactly the version it describes, resolves ranges as S3 does, and queues degraded reads.
#include <catch2/catch.hpp>

#include "libstore/format/key_path.h"
#include "tests/test_util.h"

namespace cairn {
namespace {

using test::RandomBytes;
using test::SetFixture;
using test::StringSink;

// Pulls the whole range through Read in pieces of `piece` bytes.
Result<std::string> Pull(ObjectReader& r, size_t piece) {
  std::string out;
  std::string buf(piece, '\0');
  while (true) {
    ASSIGN_OR_RETURN(size_t got, r.Read(buf.data(), piece));
    if (got == 0) return out;
    out.append(buf.data(), got);
  }
}

TEST_CASE("ResolveRange: first-last, first-, suffix, and what is unsatisfiable", "[reader]") {
  auto ok = [](std::optional<GetRange> r, uint64_t size, uint64_t first, uint64_t len,
               bool partial) {
    auto got = ResolveRange(r, size);
    REQUIRE(got.ok());
    CHECK(got->first == first);
    CHECK(got->length == len);
    CHECK(got->partial == partial);
  };
  ok(std::nullopt, 100, 0, 100, false);
  ok(std::nullopt, 0, 0, 0, false);
  ok(GetRange{0, 0}, 100, 0, 1, true);
  ok(GetRange{10, 19}, 100, 10, 10, true);
  ok(GetRange{10, 1000}, 100, 10, 90, true);  // clipped
  ok(GetRange{99}, 100, 99, 1, true);         // first-
  ok(GetRange{0}, 100, 0, 100, true);         // bytes=0- is a 206 of the whole object
  ok(GetRange::Suffix(10), 100, 90, 10, true);
  ok(GetRange::Suffix(1000), 100, 0, 100, true);  // shorter than the suffix: all of it
  ok(GetRange::Suffix(5), 0, 0, 0, false);        // empty object: nothing to range over
  ok(GetRange{5, 1}, 100, 0, 100, false);         // last < first: ignored
  CHECK(ResolveRange(GetRange{100}, 100).status().code() == Code::kInvalidRange);
  CHECK(ResolveRange(GetRange{100, 200}, 100).status().code() == Code::kInvalidRange);
  CHECK(ResolveRange(GetRange{0}, 0).status().code() == Code::kInvalidRange);
  CHECK(ResolveRange(GetRange{0, 0}, 0).status().code() == Code::kInvalidRange);
  CHECK(ResolveRange(GetRange::Suffix(0), 100).status().code() == Code::kInvalidRange);
}

TEST_CASE("OpenObject: info and range before the first byte, then Read or WriteTo", "[reader]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(300001, 5);  // several blocks, the last one short
  PutOptions po;
  po.content_type = "text/plain";
  po.user_meta = {{"color", "blue"}};
  test::StringSource src(data);
  auto put = f.set->PutObject("bkt", "k", src, po);
  REQUIRE(put.ok());

  auto r = f.set->OpenObject("bkt", "k", GetOptions());
  REQUIRE(r.ok());
  const ObjectInfo& info = (*r)->info();
  CHECK(info.size == data.size());
  CHECK(info.etag == put->etag);
  CHECK(info.mod_time_ns == put->mod_time_ns);
  CHECK(info.content_type == "text/plain");
  CHECK(info.user_meta == po.user_meta);
  CHECK((*r)->range().first == 0);
  CHECK((*r)->range().length == data.size());
  CHECK_FALSE((*r)->range().partial);
  CHECK_FALSE((*r)->ZeroCopy().has_value());  // a volume set has no file to send

  SECTION("pulled in odd pieces") {
    for (size_t piece : {1, 7, 4096, 65536, 100000}) {
      auto again = f.set->OpenObject("bkt", "k", GetOptions());
      REQUIRE(again.ok());
      auto got = Pull(**again, piece);
      REQUIRE(got.ok());
      CHECK(*got == data);
      std::string more(10, '\0');
      auto end = (*again)->Read(more.data(), more.size());
      REQUIRE(end.ok());
      CHECK(*end == 0);  // and stays at the end
    }
  }
  SECTION("written to a sink") {
    StringSink sink;
    REQUIRE((*r)->WriteTo(sink).ok());
    CHECK(sink.out == data);
  }
  SECTION("ranges, pulled and written, across block boundaries") {
    std::mt19937_64 rng(8);
    for (int i = 0; i < 100; ++i) {
      uint64_t a = rng() % data.size(), b = a + rng() % (data.size() - a);
      GetOptions o;
      o.range = GetRange{a, b};
      auto rr = f.set->OpenObject("bkt", "k", o);
      REQUIRE(rr.ok());
      CHECK((*rr)->range().first == a);
      CHECK((*rr)->range().length == b - a + 1);
      CHECK((*rr)->range().partial);
      if (i % 2 == 0) {
        auto got = Pull(**rr, 1 + rng() % 70000);
        REQUIRE(got.ok());
        CHECK(*got == data.substr(a, b - a + 1));
      } else {
        StringSink sink;
        REQUIRE((*rr)->WriteTo(sink).ok());
        CHECK(sink.out == data.substr(a, b - a + 1));
      }
    }
    GetOptions o;
    o.range = GetRange::Suffix(70000);
    StringSink sink;
    auto g = f.set->GetObject("bkt", "k", sink, o);
    REQUIRE(g.ok());
    CHECK(sink.out == data.substr(data.size() - 70000));
    o.range = GetRange{data.size()};
    auto past = f.set->OpenObject("bkt", "k", o);
    CHECK(past.status().code() == Code::kInvalidRange);
  }
}

TEST_CASE("OpenObject: empty and inline objects", "[reader]") {
  SetFixture f(2, 1, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "empty", "").ok());
  REQUIRE(f.Put("bkt", "small", "hello world").ok());
  auto e = f.set->OpenObject("bkt", "empty", GetOptions());
  REQUIRE(e.ok());
  CHECK((*e)->info().size == 0);
  auto got = Pull(**e, 10);
  REQUIRE(got.ok());
  CHECK(got->empty());
  GetOptions o;
  o.range = GetRange{0};
  CHECK(f.set->OpenObject("bkt", "empty", o).status().code() == Code::kInvalidRange);
  o.range = GetRange{6, 100};
  auto s = f.set->OpenObject("bkt", "small", o);
  REQUIRE(s.ok());
  auto part = Pull(**s, 3);
  REQUIRE(part.ok());
  CHECK(*part == "world");
}

TEST_CASE("OpenObject: missing bucket and missing object are told apart", "[reader]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  CHECK(f.set->OpenObject("nob", "k", GetOptions()).status().code() == Code::kBucketNotFound);
  CHECK(f.set->OpenObject("bkt", "k", GetOptions()).status().code() == Code::kNotFound);
  CHECK(f.set->HeadObject("nob", "k").status().code() == Code::kBucketNotFound);
  CHECK(f.set->HeadObject("bkt", "k").status().code() == Code::kNotFound);
}

TEST_CASE("a reader sends the version it described while the key is overwritten and deleted",
          "[reader]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string v1 = RandomBytes(500000, 1), v2 = RandomBytes(200000, 2);
  REQUIRE(f.Put("bkt", "k", v1).ok());
  auto r = f.set->OpenObject("bkt", "k", GetOptions());
  REQUIRE(r.ok());
  std::string first(1000, '\0');
  auto n = (*r)->Read(first.data(), first.size());
  REQUIRE(n.ok());
  REQUIRE(f.Put("bkt", "k", v2).ok());  // replaces the shard files the reader has open
  auto rest = Pull(**r, 50000);
  REQUIRE(rest.ok());
  CHECK(first.substr(0, *n) + *rest == v1);
  CHECK((*r)->info().size == v1.size());

  auto r2 = f.set->OpenObject("bkt", "k", GetOptions());
  REQUIRE(r2.ok());
  REQUIRE(f.set->DeleteObject("bkt", "k").ok());
  StringSink sink;
  REQUIRE((*r2)->WriteTo(sink).ok());
  CHECK(sink.out == v2);
}

TEST_CASE("a degraded read is queued in the MRF journal once, when it ends or is dropped",
          "[reader][mrf]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(300000, 3);
  REQUIRE(f.Put("bkt", "k", data).ok());
  REQUIRE(f.Put("bkt", "j", data).ok());
  auto d = f.set->StatObject("bkt", "k");
  REQUIRE(d.ok());
  // Remove the shard file of data shard 0 (a read needs it: data chunks are read first).
  const uint32_t pos = d->meta.distribution[0];
  const std::string shard = KeyPaths("bkt", "k").ShardPath(d->meta.data_id.Hex());
  REQUIRE(f.mem[pos]->Stat(shard).ok());
  REQUIRE(f.mem[pos]->Remove(shard).ok());
  REQUIRE(f.set->ListMrf()->empty());

  auto r = f.set->OpenObject("bkt", "k", GetOptions());
  REQUIRE(r.ok());
  auto got = Pull(**r, 12345);
  REQUIRE(got.ok());
  CHECK(*got == data);  // rebuilt from parity
  auto mrf = f.set->ListMrf();
  REQUIRE(mrf.ok());
  REQUIRE(mrf->size() == 1);
  CHECK((*mrf)[0].key == "k");
  CHECK((*mrf)[0].positions == std::vector<uint32_t>{pos});
  r->reset();  // dropping it after the end records nothing more
  REQUIRE(f.Get("bkt", "k").ok());
  CHECK(f.set->ListMrf()->size() == 1);  // once per version

  SECTION("a reader dropped half way records what it met") {
    auto dj = f.set->StatObject("bkt", "j");
    REQUIRE(dj.ok());
    const uint32_t pj = dj->meta.distribution[1];
    REQUIRE(f.mem[pj]->Remove(KeyPaths("bkt", "j").ShardPath(dj->meta.data_id.Hex())).ok());
    auto rj = f.set->OpenObject("bkt", "j", GetOptions());
    REQUIRE(rj.ok());
    char buf[100];
    REQUIRE((*rj)->Read(buf, sizeof(buf)).ok());
    CHECK(f.set->ListMrf()->size() == 1);
    rj->reset();
    CHECK(f.set->ListMrf()->size() == 2);
  }
}

TEST_CASE("a block that cannot be rebuilt fails the read before its bytes", "[reader]") {
  SetFixture f(2, 1, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(200000, 4);
  REQUIRE(f.Put("bkt", "k", data).ok());
  auto d = f.set->StatObject("bkt", "k");
  REQUIRE(d.ok());
  auto r = f.set->OpenObject("bkt", "k", GetOptions());
  REQUIRE(r.ok());
  const std::string shard = KeyPaths("bkt", "k").ShardPath(d->meta.data_id.Hex());
  // Two of three shards damaged in block 1 (behind the files the reader holds open).
  for (uint32_t si : {0u, 1u}) {
    const uint32_t pos = d->meta.distribution[si];
    auto raw = f.mem[pos]->ReadFile(shard, 1 << 20);
    REQUIRE(raw.ok());
    std::string bad = *raw;
    const size_t off = (32 << 10) + 8 + 100;  // inside block 1's chunk
    REQUIRE(off < bad.size());
    bad[off] ^= 1;
    REQUIRE(f.mem[pos]->WriteFile(shard, bad, false).ok());
  }
  auto r2 = f.set->OpenObject("bkt", "k", GetOptions());
  REQUIRE(r2.ok());
  StringSink sink;
  Status s = (*r2)->WriteTo(sink);
  CHECK(s.code() == Code::kDataLoss);
  CHECK(sink.out == data.substr(0, 64 << 10));  // block 0 whole, nothing of block 1
  char buf[10];
  CHECK((*r2)->Read(buf, sizeof(buf)).status().code() == Code::kDataLoss);
  r2->reset();
  r->reset();
  CHECK(f.set->ListMrf()->empty());  // data loss is verify's to report, not heal's
}

}  // namespace
}  // namespace cairn
