// CopyObject (metadata directive, copy-source conditions, copy onto itself), the multipart seam's
// defaults, and HealQueued, the background drain of the MRF journal.
#include <atomic>
#include <catch2/catch.hpp>

#include "libstore/format/key_path.h"
#include "libstore/object/heal.h"
#include "tests/test_util.h"

namespace cairn {
namespace {

using test::RandomBytes;
using test::SetFixture;
using test::StringSource;

constexpr int64_t kCopyTestSec = 1000000000;

struct CopyFixture : SetFixture {
  CopyFixture() : SetFixture(4, 2, 64 << 10, 4 << 10) {
    clock.Set(1700000000 * kCopyTestSec);
    Status s = set->MakeBucket("src");
    s = set->MakeBucket("dst");
    s.IgnoreError();
  }
  Result<ObjectInfo> PutMeta(const std::string& key, const std::string& data) {
    PutOptions po;
    po.content_type = "image/png";
    po.user_meta = {{"owner", "ann"}};
    StringSource src(data, 7777);
    return set->PutObject("src", key, src, po);
  }
};

TEST_CASE("CopyObject: COPY keeps the source's metadata, REPLACE sets new", "[copy]") {
  CopyFixture f;
  for (size_t size : {size_t(0), size_t(1000), size_t(400001)}) {  // empty, inline, streamed
    CAPTURE(size);
    const std::string data = RandomBytes(size, size), key = "o" + std::to_string(size);
    auto src = f.PutMeta(key, data);
    REQUIRE(src.ok());
    f.clock.Advance(5 * kCopyTestSec);
    auto c = f.set->CopyObject("src", key, "dst", key, CopyOptions());
    REQUIRE(c.ok());
    CHECK(c->etag == src->etag);  // MD5 of the same bytes
    CHECK(c->mod_time_ns > src->mod_time_ns);
    CHECK(*f.Get("dst", key) == data);
    auto h = f.set->HeadObject("dst", key);
    REQUIRE(h.ok());
    CHECK(h->content_type == "image/png");
    CHECK(h->user_meta == src->user_meta);

    CopyOptions r;
    r.directive = MetadataDirective::kReplace;
    r.content_type = "text/plain";
    r.user_meta = {{"x", "1"}, {"y", "2"}};
    REQUIRE(f.set->CopyObject("src", key, "dst", key + ".2", r).ok());
    auto h2 = f.set->HeadObject("dst", key + ".2");
    REQUIRE(h2.ok());
    CHECK(h2->content_type == "text/plain");
    CHECK(h2->user_meta == r.user_meta);
    CHECK(*f.Get("dst", key + ".2") == data);
  }
}

TEST_CASE("CopyObject onto itself: refused unless REPLACE, which rewrites the metadata", "[copy]") {
  CopyFixture f;
  const std::string data = RandomBytes(300000, 3);
  auto src = f.PutMeta("self", data);
  REQUIRE(src.ok());
  CHECK(f.set->CopyObject("src", "self", "src", "self", CopyOptions()).status().code() ==
        Code::kInvalidArgument);
  CopyOptions r;
  r.directive = MetadataDirective::kReplace;
  r.content_type = "application/json";
  f.clock.Advance(kCopyTestSec);
  auto c = f.set->CopyObject("src", "self", "src", "self", r);
  REQUIRE(c.ok());
  auto h = f.set->HeadObject("src", "self");
  REQUIRE(h.ok());
  CHECK(h->content_type == "application/json");
  CHECK(h->user_meta.empty());
  CHECK(h->etag == src->etag);
  CHECK(h->mod_time_ns > src->mod_time_ns);
  CHECK(*f.Get("src", "self") == data);
}

TEST_CASE("CopyObject: copy-source conditions fail with 412, never 304", "[copy][conditions]") {
  CopyFixture f;
  auto src = f.PutMeta("k", "hello");
  REQUIRE(src.ok());
  auto code = [&](GetConditions c) {
    CopyOptions o;
    o.source_conditions = c;
    return f.set->CopyObject("src", "k", "dst", "k", o).status().code();
  };
  GetConditions c;
  c.if_match = "\"" + src->etag + "\"";
  CHECK(code(c) == Code::kOk);
  c.if_match = "\"other\"";
  CHECK(code(c) == Code::kPreconditionFailed);
  c = GetConditions();
  c.if_none_match = src->etag;
  CHECK(code(c) == Code::kPreconditionFailed);
  c = GetConditions();
  c.if_modified_since = 1700000000;
  CHECK(code(c) == Code::kPreconditionFailed);
  c.if_modified_since = 1699999999;
  CHECK(code(c) == Code::kOk);
  c = GetConditions();
  c.if_unmodified_since = 1699999999;
  CHECK(code(c) == Code::kPreconditionFailed);
  // If-Match true and If-Unmodified-Since false: copied (S3's documented pair).
  c.if_match = src->etag;
  CHECK(code(c) == Code::kOk);
  // If-None-Match false and If-Modified-Since true: 412.
  c = GetConditions();
  c.if_none_match = src->etag;
  c.if_modified_since = 1;
  CHECK(code(c) == Code::kPreconditionFailed);
  // A refused copy leaves the destination as it was.
  StringSource keep("dest");
  REQUIRE(f.set->PutObject("dst", "kept", keep, PutOptions()).ok());
  CopyOptions o;
  o.source_conditions.if_match = "\"nope\"";
  CHECK(f.set->CopyObject("src", "k", "dst", "kept", o).status().code() ==
        Code::kPreconditionFailed);
  CHECK(*f.Get("dst", "kept") == "dest");
}

TEST_CASE("CopyObject: missing source or destination", "[copy]") {
  CopyFixture f;
  REQUIRE(f.PutMeta("k", "x").ok());
  CHECK(f.set->CopyObject("nob", "k", "dst", "k", CopyOptions()).status().code() ==
        Code::kBucketNotFound);
  CHECK(f.set->CopyObject("src", "nokey", "dst", "k", CopyOptions()).status().code() ==
        Code::kNotFound);
  CHECK(f.set->CopyObject("src", "k", "nob", "k", CopyOptions()).status().code() ==
        Code::kBucketNotFound);
  CHECK(f.set->HeadObject("dst", "k").status().code() == Code::kNotFound);
}

TEST_CASE("CopyObject streams a degraded source, rebuilt block by block", "[copy]") {
  CopyFixture f;
  const std::string data = RandomBytes(500000, 9);
  REQUIRE(f.PutMeta("big", data).ok());
  auto d = f.set->StatObject("src", "big");
  REQUIRE(d.ok());
  const uint32_t pos = d->meta.distribution[1];
  const std::string shard = KeyPaths("src", "big").ShardPath(d->meta.data_id.Hex());
  REQUIRE(f.mem[pos]->Remove(shard).ok());
  REQUIRE(f.set->CopyObject("src", "big", "dst", "big", CopyOptions()).ok());
  CHECK(*f.Get("dst", "big") == data);
  CheckOptions deep;
  deep.deep = true;
  auto h = f.set->CheckObject("dst", "big", deep);
  REQUIRE(h.ok());
  CHECK(h->health == Health::kHealthy);
}

namespace {

// A store that implements only what every ObjectStore must (forwarding to another store), so the
// multipart calls are ObjectStore's defaults.
class ForwardingStore : public ObjectStore {
 public:
  explicit ForwardingStore(ObjectStore& t) : t_(t) {}
  Status MakeBucket(const std::string& b) override { return t_.MakeBucket(b); }
  Status RemoveBucket(const std::string& b, bool force) override {
    return t_.RemoveBucket(b, force);
  }
  Result<std::vector<BucketInfo>> ListBuckets() override { return t_.ListBuckets(); }
  Status BucketExists(const std::string& b) override { return t_.BucketExists(b); }
  Result<ObjectInfo> PutObject(const std::string& b, const std::string& k, Source& src,
                               const PutOptions& o) override {
    return t_.PutObject(b, k, src, o);
  }
  Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& b, const std::string& k,
                                                   const GetOptions& o,
                                                   ObjectInfo* verdict) override {
    return t_.OpenObject(b, k, o, verdict);
  }
  Result<ObjectInfo> HeadObject(const std::string& b, const std::string& k, const GetOptions& o,
                                ObjectInfo* verdict) override {
    return t_.HeadObject(b, k, o, verdict);
  }
  Status DeleteObject(const std::string& b, const std::string& k) override {
    return t_.DeleteObject(b, k);
  }
  Result<ListResult> ListObjects(const std::string& b, const ListOptions& o) override {
    return t_.ListObjects(b, o);
  }

 private:
  ObjectStore& t_;
};

}  // namespace

TEST_CASE("multipart calls answer NotImplemented until a store implements them", "[multipart]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  ForwardingStore fwd(*f.set);
  ObjectStore& s = fwd;
  CHECK(s.CreateMultipartUpload("bkt", "k", CreateMultipartOptions()).status().code() ==
        Code::kNotImplemented);
  StringSource src("x");
  CHECK(s.UploadPart("bkt", "k", "id", 1, src, UploadPartOptions()).status().code() ==
        Code::kNotImplemented);
  CHECK(s.CompleteMultipartUpload("bkt", "k", "id", {{1, "e", ""}}, CompleteMultipartOptions())
            .status()
            .code() == Code::kNotImplemented);
  CHECK(s.AbortMultipartUpload("bkt", "k", "id").code() == Code::kNotImplemented);
  CHECK(s.ListParts("bkt", "k", "id", ListPartsOptions()).status().code() == Code::kNotImplemented);
  CHECK(s.ListMultipartUploads("bkt", ListUploadsOptions()).status().code() ==
        Code::kNotImplemented);
}

TEST_CASE("HealQueued drains what degraded reads queued, throttled and stoppable", "[heal][mrf]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(300000, 2);
  std::vector<std::string> shards;
  std::vector<uint32_t> where;
  for (int i = 0; i < 3; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE(f.Put("bkt", key, data).ok());
    auto d = f.set->StatObject("bkt", key);
    REQUIRE(d.ok());
    where.push_back(d->meta.distribution[0]);
    shards.push_back(KeyPaths("bkt", key).ShardPath(d->meta.data_id.Hex()));
    REQUIRE(f.mem[where.back()]->Remove(shards.back()).ok());
    REQUIRE(*f.Get("bkt", key) == data);  // degraded: queued
  }
  REQUIRE(f.set->ListMrf()->size() == 3);

  std::atomic<bool> stop{true};
  HealQueuedOptions o;
  o.stop = &stop;
  auto none = HealQueued(*f.set, o);
  REQUIRE(none.ok());
  CHECK(none->stopped);
  CHECK(none->entries == 3);
  CHECK(none->left == 3);
  CHECK(f.set->ListMrf()->size() == 3);

  stop = false;
  o.max_rate = 4 << 20;
  auto done = HealQueued(*f.set, o);
  REQUIRE(done.ok());
  CHECK_FALSE(done->stopped);
  CHECK(done->objects == 3);
  CHECK(done->healed == 3);
  CHECK(done->cleared == 3);
  CHECK(done->left == 0);
  CHECK(done->bytes_read > 0);
  CHECK(f.set->ListMrf()->empty());
  for (int i = 0; i < 3; ++i) CHECK(f.mem[where[i]]->Stat(shards[i]).ok());  // rebuilt

  SECTION("an entry of an object deleted meanwhile is cleared") {
    REQUIRE(f.mem[where[0]]->Remove(shards[0]).ok());
    f.set->RemoveMrf("none");  // harmless
    auto r = f.set->OpenObject("bkt", "k0", GetOptions());
    REQUIRE(r.ok());
    test::StringSink sink;
    REQUIRE((*r)->WriteTo(sink).ok());
    // Once per version and process: this version was read degraded before, so nothing new
    // is queued; a new version read degraded is.
    REQUIRE(f.Put("bkt", "k0", data).ok());
    auto d = f.set->StatObject("bkt", "k0");
    REQUIRE(d.ok());
    REQUIRE(f.mem[d->meta.distribution[0]]
                ->Remove(KeyPaths("bkt", "k0").ShardPath(d->meta.data_id.Hex()))
                .ok());
    REQUIRE(*f.Get("bkt", "k0") == data);
    REQUIRE(f.set->ListMrf()->size() == 1);
    REQUIRE(f.set->DeleteObject("bkt", "k0").ok());
    auto again = HealQueued(*f.set, HealQueuedOptions());
    REQUIRE(again.ok());
    CHECK(again->cleared == 1);
    CHECK(f.set->ListMrf()->empty());
  }
}

}  // namespace
}  // namespace cairn
