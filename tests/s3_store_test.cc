// S3ObjectStore beyond the conformance suites, against a `cairn serve` child (tests/remote_store.h;
// the ctest entry remote-conformance sets CAIRN_REMOTE_BIN): the multipart path of PutObject
// (bodies longer than the part size, of unknown length), its error paths (a source that fails, a
// digest that does not match, a refused condition: each leaves no object and no open upload), and
// readers that pull through Read in windows.
#include <catch2/catch.hpp>

#include "libstore/common/checksum.h"
#include "libstore/common/hash.h"
#include "tests/remote_store.h"

using namespace cairn;
using namespace cairn::test;

namespace {

constexpr uint64_t kPart = uint64_t{5} << 20;

struct Remote {
  RemoteServer server;
  std::unique_ptr<s3::S3ObjectStore> store;
  Remote() {
    s3::S3StoreOptions o;
    o.part_size = kPart;
    auto s = s3::S3ObjectStore::Create(server.Client(), o);
    REQUIRE(s.ok());
    store = std::move(s).value();
    REQUIRE(store->MakeBucket("bkt").ok());
  }
  Result<ObjectInfo> Put(const std::string& key, const std::string& data, PutOptions po = {}) {
    StringSource src(data, 100000);
    return store->PutObject("bkt", key, src, po);
  }
  Result<std::string> Get(const std::string& key) {
    StringSink sink;
    auto info = store->GetObject("bkt", key, sink);
    if (!info.ok()) return info.status();
    return sink.out;
  }
  size_t OpenUploads() {
    auto r = store->ListMultipartUploads("bkt", {});
    REQUIRE(r.ok());
    return r->uploads.size();
  }
};

}  // namespace

TEST_CASE("s3 store: part sizes outside S3's limits are refused", "[s3store]") {
  s3::S3StoreOptions o;
  o.part_size = kPart - 1;
  s3::S3ClientOptions co;
  auto client = s3::S3Client::Create(co);
  REQUIRE(client.ok());
  CHECK(s3::S3ObjectStore::Create(std::move(*client), o).status().code() == Code::kInvalidArgument);
}

TEST_CASE("s3 store: a body longer than the part size goes as a multipart upload", "[remote]") {
  Remote r;
  // Exactly one part, one part and a byte, two parts and some.
  for (uint64_t size : {kPart, kPart + 1, 2 * kPart + 12345}) {
    CAPTURE(size);
    const std::string data = RandomBytes(size_t(size), size);
    PutOptions po;
    po.checksum_algorithm = ChecksumAlgorithm::kCrc32c;
    po.user_meta = {{"color", "blue"}};
    auto put = r.Put("big", data, po);
    REQUIRE(put.ok());
    CHECK(put->size == size);
    const bool one_put = size <= kPart;
    CHECK(s3::IsMd5Etag(put->etag) == one_put);
    if (!one_put)
      CHECK(put->etag.substr(put->etag.size() - 2) == "-" + std::to_string(size / kPart + 1));
    // The whole object's CRC32C, as one PUT stores it (FULL_OBJECT, combined from the parts).
    ChecksumStream crc(ChecksumAlgorithm::kCrc32c);
    crc.Update(data.data(), data.size());
    CHECK(put->checksum == crc.FinalValue());
    CHECK(put->checksum_type == ChecksumType::kFullObject);
    auto head = r.store->HeadObject("bkt", "big");
    REQUIRE(head.ok());
    CHECK(head->user_meta == po.user_meta);
    CHECK(head->checksum == put->checksum);
    CHECK(*r.Get("big") == data);
    CHECK(r.OpenUploads() == 0);
  }
}

TEST_CASE("s3 store: a multipart PUT that fails leaves no object and no upload", "[remote]") {
  Remote r;
  REQUIRE(r.Put("k", "old").ok());
  const std::string data = RandomBytes(size_t(2 * kPart + 100), 3);
  SECTION("the source fails after the first part went") {
    FailingSource src(data, size_t(kPart + 4096));
    CHECK(r.store->PutObject("bkt", "k", src, {}).status().code() == Code::kIOError);
  }
  SECTION("Content-MD5 does not match: checked before Complete") {
    PutOptions po;
    po.expected.content_md5 = Md5Digest("another body");
    CHECK(r.Put("k", data, po).status().code() == Code::kBadDigest);
  }
  SECTION("the promised checksum does not match") {
    PutOptions po;
    ChecksumStream crc(ChecksumAlgorithm::kCrc32);
    crc.Update("x", 1);
    po.expected.checksum = crc.FinalValue();
    CHECK(r.Put("k", data, po).status().code() == Code::kBadDigest);
  }
  SECTION("If-None-Match: * on a key that exists") {
    PutOptions po;
    po.if_none_match_star = true;
    CHECK(r.Put("k", data, po).status().code() == Code::kPreconditionFailed);
  }
  CHECK(*r.Get("k") == "old");
  CHECK(r.OpenUploads() == 0);
}

TEST_CASE("s3 store: readers pull windows with Read, pinned to their version", "[remote]") {
  Remote r;
  const size_t window = s3::S3ObjectStore::kReadWindow;
  const std::string data = RandomBytes(2 * window + 777, 8);
  REQUIRE(r.Put("k", data).ok());
  cairn::GetOptions o;
  o.range = GetRange{100, 2 * window + 50};
  auto reader = r.store->OpenObject("bkt", "k", o);
  REQUIRE(reader.ok());
  CHECK((*reader)->range().partial);
  CHECK((*reader)->range().length == 2 * window - 49);
  std::string got, buf(300000, '\0');
  while (true) {
    auto n = (*reader)->Read(buf.data(), buf.size());
    REQUIRE(n.ok());
    if (*n == 0) break;
    got.append(buf.data(), *n);
  }
  CHECK(got == data.substr(100, 2 * window - 49));
  // A part read through Read, then the rest through WriteTo.
  auto again = r.store->OpenObject("bkt", "k", {});
  REQUIRE(again.ok());
  REQUIRE(*(*again)->Read(buf.data(), 10) == 10);
  StringSink rest;
  REQUIRE((*again)->WriteTo(rest).ok());
  CHECK(buf.substr(0, 10) + rest.out == data);
  // Replaced between two windows: the next window is refused, never another version's bytes.
  auto pinned = r.store->OpenObject("bkt", "k", {});
  REQUIRE(pinned.ok());
  REQUIRE((*pinned)->Read(buf.data(), buf.size()).ok());
  REQUIRE(r.Put("k", "new").ok());
  Status s;
  while (s.ok()) {
    auto n = (*pinned)->Read(buf.data(), buf.size());
    if (!n.ok())
      s = n.status();
    else
      REQUIRE(*n > 0);  // the window fetched before the PUT drains first
  }
  CHECK(s.code() == Code::kPreconditionFailed);
  CHECK(s.message().find("changed after it was opened") != std::string::npos);
}

TEST_CASE("s3 store: what S3 cannot express is refused, not faked", "[remote]") {
  Remote r;
  PutOptions fast;
  fast.etag = EtagMode::kFast;
  CHECK(r.Put("k", "x", fast).status().code() == Code::kNotImplemented);
  CHECK(r.store->HeadObject("bkt", "k").status().code() == Code::kNotFound);
  CHECK(r.store->AbortStaleUploads(0).status().code() == Code::kNotImplemented);
  // A missing key and a missing bucket, told apart after a HEAD without an error document.
  CHECK(r.store->DeleteObject("bkt", "k").code() == Code::kNotFound);
  CHECK(r.store->HeadObject("nob", "k").status().code() == Code::kBucketNotFound);
}
