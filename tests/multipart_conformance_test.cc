// Multipart uploads, one suite over every ObjectStore that implements them (kBackends): S3's rules
// for parts and Complete, every error path, idempotent retries, checksums (COMPOSITE and
// FULL_OBJECT for each algorithm, checked against values computed here from the bytes), listings
// of parts and uploads, conditions, and what survives a restart. Expected values are computed
// here independently (the ETag from the parts' MD5s, the checksums with ChecksumStream over the
// bytes), never taken from the store.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <thread>

#include "libstore/common/base64.h"
#include "libstore/common/checksum.h"
#include "libstore/common/clock.h"
#include "libstore/common/hash.h"
#include "libstore/object/erasure_set.h"
#include "libstore/plain/sqlite_db.h"
#include "tests/plain_test_util.h"
#include "tests/remote_store.h"

using namespace cairn;
using namespace cairn::test;

namespace {

constexpr size_t kMiB = size_t(1) << 20;

// The backends under test: the plain directory over a MemVolume and over a local directory, and
// a 4+2 volume set over six local directories.
const char* const kBackends[] = {"plain-mem", "plain-local", "set"};

struct MpuStore {
  explicit MpuStore(const std::string& kind) {
    if (kind == "set") {
      set = std::make_unique<LocalSet>();
      store = set->set.get();
    } else if (kind == "remote") {
      server = std::make_unique<RemoteServer>();
      remote = server->Store();
      store = remote.get();
    } else {
      plain = std::make_unique<PlainFixture>(kind == "plain-local" ? "local" : "mem");
      if (plain->kind == "local") {
        // The database in the served directory, as `cairn serve` keeps it, so a restart finds it.
        plain->opts.db_path = plain->root + "/.cairn/meta.db";
        plain->Reopen();
      }
      store = plain->store.get();
    }
    REQUIRE(store->MakeBucket("bkt").ok());
  }
  // A restart: the store closed and opened again over the same directories (and database). Only
  // backends whose state outlives the process can (a MemVolume's plain store keeps its database
  // in memory, so its uploads do not survive by design).
  bool CanRestart() const { return set || (plain && plain->kind == "local"); }
  void Restart() {
    if (set) {
      set->Reopen();
      store = set->set.get();
    } else {
      plain->Reopen();
      store = plain->store.get();
    }
  }
  Result<MultipartUpload> Create(const std::string& key, CreateMultipartOptions o = {}) {
    return store->CreateMultipartUpload("bkt", key, o);
  }
  Result<PartInfo> Part(const std::string& key, const std::string& id, int n,
                        const std::string& data, UploadPartOptions o = {}) {
    StringSource src(data, 100000);
    return store->UploadPart("bkt", key, id, n, src, o);
  }
  Result<ObjectInfo> Complete(const std::string& key, const std::string& id,
                              const std::vector<CompletedPart>& parts,
                              CompleteMultipartOptions o = {}) {
    return store->CompleteMultipartUpload("bkt", key, id, parts, o);
  }
  // An upload of key made of these parts (numbered from 1), completed.
  Result<ObjectInfo> Upload(const std::string& key, const std::vector<std::string>& data) {
    ASSIGN_OR_RETURN(MultipartUpload up, Create(key));
    std::vector<CompletedPart> list;
    for (size_t i = 0; i < data.size(); ++i) {
      ASSIGN_OR_RETURN(PartInfo p, Part(key, up.upload_id, int(i + 1), data[i]));
      list.push_back({p.part_number, p.etag, p.checksum});
    }
    return Complete(key, up.upload_id, list);
  }
  Result<std::string> Get(const std::string& key) {
    StringSink sink;
    auto info = store->GetObject("bkt", key, sink);
    if (!info.ok()) return info.status();
    return sink.out;
  }
  std::unique_ptr<PlainFixture> plain;
  std::unique_ptr<LocalSet> set;
  std::unique_ptr<RemoteServer> server;
  std::unique_ptr<s3::S3ObjectStore> remote;
  ObjectStore* store = nullptr;
};

// S3's multipart ETag, from the parts' bytes.
std::string MultipartEtag(const std::vector<std::string>& parts) {
  Md5Stream all;
  for (const auto& p : parts) {
    Md5Stream m;
    m.Update(p.data(), p.size());
    uint8_t d[16];
    m.Final(d);
    all.Update(d, 16);
  }
  return all.FinalHex() + "-" + std::to_string(parts.size());
}

ChecksumValue Sum(ChecksumAlgorithm a, const std::string& s) {
  ChecksumStream c(a);
  c.Update(s.data(), s.size());
  return c.FinalValue();
}

std::string Md5B64(const std::string& s) {
  Md5Stream m;
  m.Update(s.data(), s.size());
  uint8_t d[16];
  m.Final(d);
  return Base64Encode(d, 16);
}

std::vector<CompletedPart> Listed(const std::vector<PartInfo>& parts) {
  std::vector<CompletedPart> out;
  for (const auto& p : parts) out.push_back(CompletedPart{p.part_number, p.etag, p.checksum});
  return out;
}

}  // namespace

TEST_CASE("multipart: create, upload parts, complete; the object and its ETag", "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    CreateMultipartOptions co;
    co.content_type = "video/x-test";
    co.user_meta = {{"who", "me"}};
    auto up = s.Create("dir/big", co);
    REQUIRE(up.ok());
    CHECK(up->bucket == "bkt");
    CHECK(up->key == "dir/big");
    CHECK_FALSE(up->upload_id.empty());
    const std::vector<std::string> data = {RandomBytes(5 * kMiB, 1), RandomBytes(5 * kMiB + 7, 2),
                                           RandomBytes(1000, 3)};
    std::vector<PartInfo> parts;
    for (int i = 0; i < 3; ++i) {
      auto p = s.Part("dir/big", up->upload_id, i + 1, data[size_t(i)]);
      REQUIRE(p.ok());
      CHECK(p->etag == Md5Hex(data[size_t(i)]));
      CHECK(p->size == data[size_t(i)].size());
      CHECK(p->checksum.empty());
      parts.push_back(*p);
    }
    // Nothing is visible before Complete.
    CHECK(s.store->HeadObject("bkt", "dir/big").status().code() == Code::kNotFound);
    auto listed = s.store->ListObjects("bkt", {});
    REQUIRE(listed.ok());
    CHECK(listed->objects.empty());
    CHECK(listed->common_prefixes.empty());

    auto done = s.Complete("dir/big", up->upload_id, Listed(parts));
    REQUIRE(done.ok());
    CHECK(done->etag == MultipartEtag(data));
    CHECK(done->size == data[0].size() + data[1].size() + data[2].size());
    auto got = s.Get("dir/big");
    REQUIRE(got.ok());
    CHECK(*got == data[0] + data[1] + data[2]);
    auto head = s.store->HeadObject("bkt", "dir/big");
    REQUIRE(head.ok());
    CHECK(head->etag == done->etag);
    CHECK(head->content_type == "video/x-test");
    CHECK(head->user_meta == co.user_meta);
    // A whole GET does not turn the multipart ETag into an MD5.
    CHECK(s.store->HeadObject("bkt", "dir/big")->etag == MultipartEtag(data));
    ListOptions lo;
    lo.prefix = "dir/";
    listed = s.store->ListObjects("bkt", lo);
    REQUIRE(listed.ok());
    REQUIRE(listed->objects.size() == 1);
    CHECK(listed->objects[0].etag == MultipartEtag(data));
    // The upload is gone.
    CHECK(s.store->ListParts("bkt", "dir/big", up->upload_id, {}).status().code() ==
          Code::kUploadNotFound);
    auto uploads = s.store->ListMultipartUploads("bkt", {});
    REQUIRE(uploads.ok());
    CHECK(uploads->uploads.empty());
    // A single part (also below 5 MiB: the last one may be anything).
    auto one = s.Create("small");
    REQUIRE(one.ok());
    auto p1 = s.Part("small", one->upload_id, 1, "tiny");
    REQUIRE(p1.ok());
    auto d1 = s.Complete("small", one->upload_id, {{1, p1->etag, ""}});
    REQUIRE(d1.ok());
    CHECK(d1->etag == MultipartEtag({"tiny"}));
    CHECK(*s.Get("small") == "tiny");
    // An empty part alone makes an empty object.
    auto zero = s.Create("zero");
    REQUIRE(zero.ok());
    auto p0 = s.Part("zero", zero->upload_id, 1, "");
    REQUIRE(p0.ok());
    auto d0 = s.Complete("zero", zero->upload_id, {{1, p0->etag, ""}});
    REQUIRE(d0.ok());
    CHECK(d0->size == 0);
    CHECK(*s.Get("zero") == "");
  }
}

TEST_CASE("multipart: a part uploaded twice keeps the last; ETags quoted or not", "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    auto up = s.Create("k");
    REQUIRE(up.ok());
    const std::string a = RandomBytes(5 * kMiB, 10), b = RandomBytes(5 * kMiB, 11);
    auto first = s.Part("k", up->upload_id, 1, a);
    REQUIRE(first.ok());
    auto second = s.Part("k", up->upload_id, 1, b);
    REQUIRE(second.ok());
    auto last = s.Part("k", up->upload_id, 2, "end");
    REQUIRE(last.ok());
    auto lp = s.store->ListParts("bkt", "k", up->upload_id, {});
    REQUIRE(lp.ok());
    REQUIRE(lp->parts.size() == 2);
    CHECK(lp->parts[0].etag == Md5Hex(b));
    // The first upload's ETag no longer names part 1.
    CHECK(s.Complete("k", up->upload_id, {{1, first->etag, ""}, {2, last->etag, ""}})
              .status()
              .code() == Code::kInvalidPart);
    auto done =
        s.Complete("k", up->upload_id, {{1, "\"" + second->etag + "\"", ""}, {2, last->etag, ""}});
    REQUIRE(done.ok());
    CHECK(*s.Get("k") == b + "end");
    CHECK(done->etag == MultipartEtag({b, "end"}));
  }
}

TEST_CASE("multipart: every error path of Complete, with nothing made", "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    StringSource old("old");
    REQUIRE(s.store->PutObject("bkt", "k", old, {}).ok());
    auto up = s.Create("k");
    REQUIRE(up.ok());
    const std::string big = RandomBytes(5 * kMiB, 20);
    auto p1 = s.Part("k", up->upload_id, 1, big);
    auto p2 = s.Part("k", up->upload_id, 2, "small");
    auto p3 = s.Part("k", up->upload_id, 3, "last");
    REQUIRE((p1.ok() && p2.ok() && p3.ok()));
    const std::string id = up->upload_id;
    auto code = [&](const std::vector<CompletedPart>& parts) {
      return s.Complete("k", id, parts).status().code();
    };
    CHECK(code({}) == Code::kMalformedXml);
    CHECK(code({{2, p2->etag, ""}, {1, p1->etag, ""}}) == Code::kInvalidPartOrder);
    CHECK(code({{1, p1->etag, ""}, {1, p1->etag, ""}}) == Code::kInvalidPartOrder);
    CHECK(code({{1, p1->etag, ""}, {4, p1->etag, ""}}) == Code::kInvalidPart);  // not uploaded
    CHECK(code({{1, p2->etag, ""}, {2, p2->etag, ""}}) == Code::kInvalidPart);  // wrong ETag
    // Differs over the network: S3 (and cairn serve) refuse a part number outside 1..10000 while
    // reading the request's XML, with InvalidArgument, before any store sees it.
    const Code out_of_range =
        std::string(kind) == "remote" ? Code::kInvalidArgument : Code::kInvalidPart;
    CHECK(code({{0, p1->etag, ""}}) == out_of_range);
    CHECK(code({{10001, p1->etag, ""}}) == out_of_range);
    // Part 2 is below 5 MiB and not last.
    CHECK(code({{1, p1->etag, ""}, {2, p2->etag, ""}, {3, p3->etag, ""}}) == Code::kEntityTooSmall);
    // Unknown ids, another key's id, a missing bucket.
    CHECK(
        s.Complete("k", "00000000000000000000000000000000", {{1, p1->etag, ""}}).status().code() ==
        Code::kUploadNotFound);
    CHECK(s.Complete("k", "../../etc", {{1, p1->etag, ""}}).status().code() ==
          Code::kUploadNotFound);
    CHECK(s.Complete("other", id, {{1, p1->etag, ""}}).status().code() == Code::kUploadNotFound);
    CHECK(
        s.store->CompleteMultipartUpload("nob", "k", id, {{1, p1->etag, ""}}, {}).status().code() ==
        Code::kBucketNotFound);
    // The previous object is untouched by every failure, and the upload is still open.
    CHECK(*s.Get("k") == "old");
    auto lp = s.store->ListParts("bkt", "k", id, {});
    REQUIRE(lp.ok());
    CHECK(lp->parts.size() == 3);
    // Parts may be left out: 1 and 3 make the object.
    auto done = s.Complete("k", id, {{1, p1->etag, ""}, {3, p3->etag, ""}});
    REQUIRE(done.ok());
    CHECK(*s.Get("k") == big + "last");
  }
}

TEST_CASE("multipart: Complete is idempotent for a retry; finished uploads are NoSuchUpload",
          "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    auto up = s.Create("k");
    REQUIRE(up.ok());
    auto p1 = s.Part("k", up->upload_id, 1, RandomBytes(5 * kMiB, 30));
    auto p2 = s.Part("k", up->upload_id, 2, "tail");
    REQUIRE((p1.ok() && p2.ok()));
    const std::vector<CompletedPart> list = {{1, p1->etag, ""}, {2, p2->etag, ""}};
    auto a = s.Complete("k", up->upload_id, list);
    REQUIRE(a.ok());
    auto b = s.Complete("k", up->upload_id, list);
    REQUIRE(b.ok());
    CHECK(b->etag == a->etag);
    CHECK(b->size == a->size);
    // Another list is not a retry.
    CHECK(s.Complete("k", up->upload_id, {{1, p1->etag, ""}}).status().code() ==
          Code::kUploadNotFound);
    CHECK(s.Part("k", up->upload_id, 3, "x").status().code() == Code::kUploadNotFound);
    CHECK(s.store->AbortMultipartUpload("bkt", "k", up->upload_id).code() == Code::kUploadNotFound);
    CHECK(s.store->ListParts("bkt", "k", up->upload_id, {}).status().code() ==
          Code::kUploadNotFound);
    if (s.CanRestart()) {
      s.Restart();
      auto c = s.Complete("k", up->upload_id, list);
      REQUIRE(c.ok());
      CHECK(c->etag == a->etag);
    }
  }
}

TEST_CASE("multipart: abort drops the upload and its parts", "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    auto up = s.Create("k");
    REQUIRE(up.ok());
    auto p1 = s.Part("k", up->upload_id, 1, "data");
    REQUIRE(p1.ok());
    CHECK(s.store->AbortMultipartUpload("bkt", "other", up->upload_id).code() ==
          Code::kUploadNotFound);
    CHECK(s.store->AbortMultipartUpload("nob", "k", up->upload_id).code() == Code::kBucketNotFound);
    REQUIRE(s.store->AbortMultipartUpload("bkt", "k", up->upload_id).ok());
    CHECK(s.store->AbortMultipartUpload("bkt", "k", up->upload_id).code() == Code::kUploadNotFound);
    CHECK(s.Part("k", up->upload_id, 2, "x").status().code() == Code::kUploadNotFound);
    CHECK(s.Complete("k", up->upload_id, {{1, p1->etag, ""}}).status().code() ==
          Code::kUploadNotFound);
    CHECK(s.store->HeadObject("bkt", "k").status().code() == Code::kNotFound);
    auto uploads = s.store->ListMultipartUploads("bkt", {});
    REQUIRE(uploads.ok());
    CHECK(uploads->uploads.empty());
  }
}

TEST_CASE("multipart: UploadPart refuses bad numbers, bad digests and unknown uploads",
          "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    auto up = s.Create("k");
    REQUIRE(up.ok());
    const std::string id = up->upload_id;
    CHECK(s.Part("k", id, 0, "x").status().code() == Code::kInvalidArgument);
    CHECK(s.Part("k", id, 10001, "x").status().code() == Code::kInvalidArgument);
    CHECK(s.Part("k", "ffffffffffffffffffffffffffffffff", 1, "x").status().code() ==
          Code::kUploadNotFound);
    CHECK(s.Part("k2", id, 1, "x").status().code() == Code::kUploadNotFound);
    CHECK(s.store->UploadPart("nob", "k", id, 1, *std::make_unique<StringSource>("x"), {})
              .status()
              .code() == Code::kBucketNotFound);
    UploadPartOptions md5;
    md5.content_md5 = Md5B64("other bytes");
    CHECK(s.Part("k", id, 1, "these bytes", md5).status().code() == Code::kBadDigest);
    md5.content_md5 = "not base64!";
    CHECK(s.Part("k", id, 1, "these bytes", md5).status().code() == Code::kInvalidDigest);
    UploadPartOptions sum;
    sum.checksum_algorithm = "CRC32";
    sum.checksum_value = Sum(ChecksumAlgorithm::kCrc32, "other").Base64();
    CHECK(s.Part("k", id, 1, "these bytes", sum).status().code() == Code::kBadDigest);
    UploadPartOptions nameless;  // a value without its algorithm, on an upload without one
    nameless.checksum_value = Sum(ChecksumAlgorithm::kCrc32, "these bytes").Base64();
    CHECK(s.Part("k", id, 1, "these bytes", nameless).status().code() == Code::kInvalidArgument);
    UploadPartOptions sha;
    sha.payload_sha256 = Sha256Hex("other", 5);
    CHECK(s.Part("k", id, 1, "these bytes", sha).status().code() == Code::kContentSha256Mismatch);
    FailingSource broken(RandomBytes(300000, 5), 150000);
    CHECK_FALSE(s.store->UploadPart("bkt", "k", id, 1, broken, {}).ok());
    // None of them left a part.
    auto lp = s.store->ListParts("bkt", "k", id, {});
    REQUIRE(lp.ok());
    CHECK(lp->parts.empty());
    // Matching digests are taken.
    UploadPartOptions good;
    good.content_md5 = Md5B64("these bytes");
    good.checksum_algorithm = "SHA256";
    good.checksum_value = Sum(ChecksumAlgorithm::kSha256, "these bytes").Base64();
    good.payload_sha256 = Sha256Hex("these bytes", 11);
    CHECK(s.Part("k", id, 1, "these bytes", good).ok());
    // Create's own refusals.
    CHECK(s.store->CreateMultipartUpload("nob", "k", {}).status().code() == Code::kBucketNotFound);
    CreateMultipartOptions bad;
    bad.checksum_algorithm = "MD4";
    CHECK(s.Create("k", bad).status().code() == Code::kInvalidArgument);
    CreateMultipartOptions meta;
    meta.user_meta = {{"k", std::string(3000, 'v')}};
    CHECK(s.Create("k", meta).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("multipart: checksums, COMPOSITE and FULL_OBJECT, for every algorithm", "[multipart]") {
  struct Case {
    ChecksumAlgorithm alg;
    ChecksumType asked;
    ChecksumType want;  // kNone: Create refuses
  };
  const Case cases[] = {
      {ChecksumAlgorithm::kCrc32, ChecksumType::kNone, ChecksumType::kComposite},
      {ChecksumAlgorithm::kCrc32, ChecksumType::kComposite, ChecksumType::kComposite},
      {ChecksumAlgorithm::kCrc32, ChecksumType::kFullObject, ChecksumType::kFullObject},
      {ChecksumAlgorithm::kCrc32c, ChecksumType::kNone, ChecksumType::kComposite},
      {ChecksumAlgorithm::kCrc32c, ChecksumType::kFullObject, ChecksumType::kFullObject},
      {ChecksumAlgorithm::kCrc64Nvme, ChecksumType::kNone, ChecksumType::kFullObject},
      {ChecksumAlgorithm::kCrc64Nvme, ChecksumType::kFullObject, ChecksumType::kFullObject},
      {ChecksumAlgorithm::kCrc64Nvme, ChecksumType::kComposite, ChecksumType::kNone},
      {ChecksumAlgorithm::kSha1, ChecksumType::kNone, ChecksumType::kComposite},
      {ChecksumAlgorithm::kSha1, ChecksumType::kFullObject, ChecksumType::kNone},
      {ChecksumAlgorithm::kSha256, ChecksumType::kNone, ChecksumType::kComposite},
      {ChecksumAlgorithm::kSha256, ChecksumType::kFullObject, ChecksumType::kNone},
  };
  const std::vector<std::string> data = {RandomBytes(5 * kMiB, 40), RandomBytes(5 * kMiB + 3, 41),
                                         RandomBytes(12345, 42)};
  const std::string whole = data[0] + data[1] + data[2];
  for (const char* kind : BackendsOr(kBackends)) {
    MpuStore s(kind);
    for (const Case& c : cases) {
      CAPTURE(kind, Name(c.alg), Name(c.asked));
      CreateMultipartOptions co;
      co.checksum_algorithm = Name(c.alg);
      co.checksum_type = c.asked;
      auto up = s.Create("sum", co);
      if (c.want == ChecksumType::kNone) {
        CHECK(up.status().code() == Code::kInvalidArgument);
        continue;
      }
      REQUIRE(up.ok());
      CHECK(up->checksum_algorithm == Name(c.alg));
      CHECK(up->checksum_type == c.want);
      // Another algorithm on a part is refused.
      UploadPartOptions other;
      other.checksum_algorithm = c.alg == ChecksumAlgorithm::kSha1 ? "SHA256" : "SHA1";
      CHECK(s.Part("sum", up->upload_id, 1, data[0], other).status().code() ==
            Code::kInvalidArgument);
      std::vector<PartInfo> parts;
      std::string concat;  // the parts' raw checksums
      for (size_t i = 0; i < data.size(); ++i) {
        UploadPartOptions po;
        // Part 1 names its checksum; the others let the store compute it.
        if (i == 0) {
          po.checksum_algorithm = Name(c.alg);
          po.checksum_value = Sum(c.alg, data[i]).Base64();
        }
        auto p = s.Part("sum", up->upload_id, int(i + 1), data[i], po);
        REQUIRE(p.ok());
        CHECK(p->checksum == Sum(c.alg, data[i]).Base64());
        concat += Sum(c.alg, data[i]).raw();
        parts.push_back(*p);
      }
      auto lp = s.store->ListParts("bkt", "sum", up->upload_id, {});
      REQUIRE(lp.ok());
      REQUIRE(lp->parts.size() == 3);
      CHECK(lp->parts[2].checksum == Sum(c.alg, data[2]).Base64());
      CHECK(lp->upload.checksum_type == c.want);

      std::string want_value;
      if (c.want == ChecksumType::kComposite) {
        want_value = Sum(c.alg, concat).Base64();
      } else {
        want_value = Sum(c.alg, whole).Base64();
      }
      auto list = Listed(parts);
      // A wrong part checksum is InvalidPart; a missing one only COMPOSITE requires.
      auto wrong = list;
      wrong[1].checksum = Sum(c.alg, "nope").Base64();
      CHECK(s.Complete("sum", up->upload_id, wrong).status().code() == Code::kInvalidPart);
      auto missing = list;
      missing[1].checksum.clear();
      if (c.want == ChecksumType::kComposite) {
        CHECK(s.Complete("sum", up->upload_id, missing).status().code() == Code::kInvalidArgument);
      }
      // A whole-object value that is not the object's.
      CompleteMultipartOptions bad;
      bad.checksum_algorithm = c.alg;
      bad.checksum_value = Sum(c.alg, "nope").Base64();
      CHECK(s.Complete("sum", up->upload_id, list, bad).status().code() == Code::kBadDigest);
      bad.checksum_type = c.want;
      CHECK(s.Complete("sum", up->upload_id, list, bad).status().code() == Code::kBadDigest);
      CHECK(s.store->HeadObject("bkt", "sum").status().code() == Code::kNotFound);
      // The other type's value (the composite one on a FULL_OBJECT upload, the whole object's
      // on a COMPOSITE one) is not this object's checksum.
      CompleteMultipartOptions other_value;
      other_value.checksum_algorithm = c.alg;
      other_value.checksum_value = c.want == ChecksumType::kComposite
                                       ? Sum(c.alg, whole).Base64()
                                       : Sum(c.alg, concat).Base64() + "-3";
      CHECK(s.Complete("sum", up->upload_id, list, other_value).status().code() ==
            Code::kBadDigest);
      // The right value with a wrong part count is refused too.
      CompleteMultipartOptions wrong_count;
      wrong_count.checksum_algorithm = c.alg;
      wrong_count.checksum_value = want_value + "-2";
      CHECK(s.Complete("sum", up->upload_id, list, wrong_count).status().code() ==
            Code::kBadDigest);
      // x-amz-checksum-type that is not the upload's: InvalidRequest, even with the right value.
      CompleteMultipartOptions wrong_type;
      wrong_type.checksum_algorithm = c.alg;
      wrong_type.checksum_value = want_value;
      wrong_type.checksum_type = c.want == ChecksumType::kComposite ? ChecksumType::kFullObject
                                                                    : ChecksumType::kComposite;
      CHECK(s.Complete("sum", up->upload_id, list, wrong_type).status().code() ==
            Code::kInvalidRequest);
      // A value of another algorithm than the upload's: InvalidRequest, whatever its value.
      const ChecksumAlgorithm other_alg =
          c.alg == ChecksumAlgorithm::kCrc32 ? ChecksumAlgorithm::kCrc32c : ChecksumAlgorithm::kCrc32;
      CompleteMultipartOptions wrong_alg;
      wrong_alg.checksum_algorithm = other_alg;
      wrong_alg.checksum_value = Sum(other_alg, whole).Base64();
      CHECK(s.Complete("sum", up->upload_id, list, wrong_alg).status().code() ==
            Code::kInvalidRequest);
      CHECK(s.store->HeadObject("bkt", "sum").status().code() == Code::kNotFound);

      // The upload is still open: the right value (with its type) completes it.
      CompleteMultipartOptions good;
      good.checksum_algorithm = c.alg;
      good.checksum_type = c.want;
      good.checksum_value =
          want_value + (c.want == ChecksumType::kComposite ? "-3" : std::string());
      auto done = s.Complete("sum", up->upload_id,
                             c.want == ChecksumType::kFullObject ? missing : list, good);
      INFO(done.status().message());
      REQUIRE(done.ok());
      CHECK(done->checksum.algorithm == c.alg);
      CHECK(done->checksum.Base64() == want_value);
      CHECK(done->checksum_type == c.want);
      CHECK(done->ChecksumHeaderValue() ==
            want_value + (c.want == ChecksumType::kComposite ? "-3" : ""));
      auto head = s.store->HeadObject("bkt", "sum");
      REQUIRE(head.ok());
      CHECK(head->ChecksumHeaderValue() == done->ChecksumHeaderValue());
      CHECK(head->checksum_type == c.want);
      CHECK(*s.Get("sum") == whole);
      REQUIRE(s.store->DeleteObject("bkt", "sum").ok());
    }
  }
}

TEST_CASE("multipart: the object checksum a Complete expects, with and without the type",
          "[multipart]") {
  const std::vector<std::string> data = {RandomBytes(5 * kMiB, 50), RandomBytes(777, 51)};
  const std::string whole = data[0] + data[1];
  for (const char* kind : kBackends) {
    CAPTURE(kind);
    MpuStore s(kind);
    // An upload without a checksum: a value or a type on Complete contradicts it.
    {
      auto up = s.Create("none");
      REQUIRE(up.ok());
      std::vector<PartInfo> parts;
      for (size_t i = 0; i < data.size(); ++i) {
        auto p = s.Part("none", up->upload_id, int(i + 1), data[i]);
        REQUIRE(p.ok());
        parts.push_back(*p);
      }
      CompleteMultipartOptions value;
      value.checksum_algorithm = ChecksumAlgorithm::kCrc32;
      value.checksum_value = Sum(ChecksumAlgorithm::kCrc32, whole).Base64();
      CHECK(s.Complete("none", up->upload_id, Listed(parts), value).status().code() ==
            Code::kInvalidRequest);
      CompleteMultipartOptions type;
      type.checksum_type = ChecksumType::kFullObject;
      CHECK(s.Complete("none", up->upload_id, Listed(parts), type).status().code() ==
            Code::kInvalidRequest);
      CHECK(s.store->HeadObject("bkt", "none").status().code() == Code::kNotFound);
      auto done = s.Complete("none", up->upload_id, Listed(parts));
      REQUIRE(done.ok());
      CHECK(done->checksum.algorithm == ChecksumAlgorithm::kNone);
    }
    // A FULL_OBJECT CRC32 upload completed with its value and no type (the type is optional), a
    // COMPOSITE SHA256 one with its value without the "-N" suffix.
    struct Case {
      ChecksumAlgorithm alg;
      ChecksumType type;
    };
    for (const Case c : {Case{ChecksumAlgorithm::kCrc32, ChecksumType::kFullObject},
                         Case{ChecksumAlgorithm::kSha256, ChecksumType::kComposite}}) {
      CAPTURE(Name(c.alg));
      CreateMultipartOptions co;
      co.checksum_algorithm = Name(c.alg);
      co.checksum_type = c.type;
      auto up = s.Create("k", co);
      REQUIRE(up.ok());
      std::vector<PartInfo> parts;
      std::string concat;
      for (size_t i = 0; i < data.size(); ++i) {
        auto p = s.Part("k", up->upload_id, int(i + 1), data[i]);
        REQUIRE(p.ok());
        parts.push_back(*p);
        concat += Sum(c.alg, data[i]).raw();
      }
      const std::string want = c.type == ChecksumType::kFullObject ? Sum(c.alg, whole).Base64()
                                                                   : Sum(c.alg, concat).Base64();
      CompleteMultipartOptions o;
      o.checksum_algorithm = c.alg;
      o.checksum_value = want;
      auto done = s.Complete("k", up->upload_id, Listed(parts), o);
      REQUIRE(done.ok());
      CHECK(done->checksum.Base64() == want);
      CHECK(done->checksum_type == c.type);
      CHECK(*s.Get("k") == whole);
      // A retry of the request gets the same answer.
      auto again = s.Complete("k", up->upload_id, Listed(parts), o);
      REQUIRE(again.ok());
      CHECK(again->etag == done->etag);
    }
  }
}

TEST_CASE("multipart: ListParts pages with part-number-marker and max-parts", "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    auto up = s.Create("k");
    REQUIRE(up.ok());
    for (int n : {1, 2, 3, 5, 8, 13, 10000}) {
      REQUIRE(s.Part("k", up->upload_id, n, "p" + std::to_string(n)).ok());
    }
    std::vector<int> seen;
    ListPartsOptions o;
    o.max_parts = 3;
    int pages = 0;
    for (;;) {
      auto r = s.store->ListParts("bkt", "k", up->upload_id, o);
      REQUIRE(r.ok());
      ++pages;
      CHECK(r->parts.size() <= 3);
      for (const auto& p : r->parts) {
        seen.push_back(p.part_number);
        CHECK(p.etag == Md5Hex("p" + std::to_string(p.part_number)));
        CHECK(p.size == ("p" + std::to_string(p.part_number)).size());
        CHECK(p.mod_time_ns > 0);
      }
      if (!r->truncated) break;
      CHECK(r->next_part_number_marker == r->parts.back().part_number);
      o.part_number_marker = r->next_part_number_marker;
    }
    CHECK(pages == 3);
    CHECK(seen == std::vector<int>{1, 2, 3, 5, 8, 13, 10000});
    CHECK(s.store->ListParts("nob", "k", up->upload_id, {}).status().code() ==
          Code::kBucketNotFound);
    CHECK(s.store->ListParts("bkt", "k2", up->upload_id, {}).status().code() ==
          Code::kUploadNotFound);
  }
}

TEST_CASE("multipart: ListMultipartUploads with prefix, delimiter, markers and pages",
          "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    // Two uploads of "a/x", one each of the others.
    std::map<std::string, std::vector<std::string>> ids;
    for (const char* k : {"a/x", "a/x", "a/y", "b", "c/d/e", "c/f"}) {
      auto up = s.Create(k);
      REQUIRE(up.ok());
      ids[k].push_back(up->upload_id);
    }
    auto all = s.store->ListMultipartUploads("bkt", {});
    REQUIRE(all.ok());
    REQUIRE(all->uploads.size() == 6);
    CHECK(all->uploads[0].key == "a/x");
    CHECK(all->uploads[0].upload_id == ids["a/x"][0]);  // initiation order within a key
    CHECK(all->uploads[1].upload_id == ids["a/x"][1]);
    CHECK(all->uploads[5].key == "c/f");
    CHECK_FALSE(all->truncated);

    ListUploadsOptions o;
    o.prefix = "c/";
    auto pre = s.store->ListMultipartUploads("bkt", o);
    REQUIRE(pre.ok());
    REQUIRE(pre->uploads.size() == 2);
    CHECK(pre->uploads[0].key == "c/d/e");

    o = {};
    o.delimiter = "/";
    auto del = s.store->ListMultipartUploads("bkt", o);
    REQUIRE(del.ok());
    REQUIRE(del->uploads.size() == 1);
    CHECK(del->uploads[0].key == "b");
    CHECK(del->common_prefixes == std::vector<std::string>{"a/", "c/"});

    o = {};
    o.prefix = "c/";
    o.delimiter = "/";
    del = s.store->ListMultipartUploads("bkt", o);
    REQUIRE(del.ok());
    CHECK(del->common_prefixes == std::vector<std::string>{"c/d/"});
    REQUIRE(del->uploads.size() == 1);
    CHECK(del->uploads[0].key == "c/f");

    // Pages of two, resumed with both markers: every upload once, in order.
    o = {};
    o.max_uploads = 2;
    std::vector<std::string> seen;
    for (int guard = 0; guard < 10; ++guard) {
      auto r = s.store->ListMultipartUploads("bkt", o);
      REQUIRE(r.ok());
      for (const auto& u : r->uploads) seen.push_back(u.key + "#" + u.upload_id);
      if (!r->truncated) break;
      CHECK_FALSE(r->next_key_marker.empty());
      o.key_marker = r->next_key_marker;
      o.upload_id_marker = r->next_upload_id_marker;
    }
    std::vector<std::string> want;
    for (const auto& u : all->uploads) want.push_back(u.key + "#" + u.upload_id);
    CHECK(seen == want);

    // A key marker alone skips every upload of that key.
    o = {};
    o.key_marker = "a/x";
    auto after = s.store->ListMultipartUploads("bkt", o);
    REQUIRE(after.ok());
    REQUIRE(after->uploads.size() == 4);
    CHECK(after->uploads[0].key == "a/y");
    // With an upload-id marker: that key's later uploads too.
    o.upload_id_marker = ids["a/x"][0];
    after = s.store->ListMultipartUploads("bkt", o);
    REQUIRE(after.ok());
    REQUIRE(after->uploads.size() == 5);
    CHECK(after->uploads[0].upload_id == ids["a/x"][1]);
    // Pages with a delimiter: a rolled-up prefix is one entry, and the next page starts after it.
    o = {};
    o.delimiter = "/";
    o.max_uploads = 1;
    std::vector<std::string> entries;
    for (int guard = 0; guard < 10; ++guard) {
      auto r = s.store->ListMultipartUploads("bkt", o);
      REQUIRE(r.ok());
      for (const auto& u : r->uploads) entries.push_back(u.key);
      for (const auto& p : r->common_prefixes) entries.push_back(p);
      if (!r->truncated) break;
      o.key_marker = r->next_key_marker;
      o.upload_id_marker = r->next_upload_id_marker;
    }
    CHECK(entries == std::vector<std::string>{"a/", "b", "c/"});
    CHECK(s.store->ListMultipartUploads("nob", {}).status().code() == Code::kBucketNotFound);
  }
}

TEST_CASE("multipart: Complete's conditions decide on the key's current object", "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    StringSource old("old");
    auto put = s.store->PutObject("bkt", "k", old, {});
    REQUIRE(put.ok());
    auto up = s.Create("k");
    REQUIRE(up.ok());
    auto p = s.Part("k", up->upload_id, 1, "new");
    REQUIRE(p.ok());
    CompleteMultipartOptions inm;
    inm.if_none_match_star = true;
    CHECK(s.Complete("k", up->upload_id, {{1, p->etag, ""}}, inm).status().code() ==
          Code::kPreconditionFailed);
    CompleteMultipartOptions im;
    im.if_match = "\"0123\"";
    CHECK(s.Complete("k", up->upload_id, {{1, p->etag, ""}}, im).status().code() ==
          Code::kPreconditionFailed);
    CHECK(*s.Get("k") == "old");
    im.if_match = "\"" + put->etag + "\"";
    REQUIRE(s.Complete("k", up->upload_id, {{1, p->etag, ""}}, im).ok());
    CHECK(*s.Get("k") == "new");
  }
}

TEST_CASE("multipart: concurrent parts of one upload, and two uploads of one key", "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    auto a = s.Create("k");
    auto b = s.Create("k");
    REQUIRE((a.ok() && b.ok()));
    CHECK(a->upload_id != b->upload_id);
    std::vector<std::string> data;
    for (int i = 0; i < 4; ++i) data.push_back(RandomBytes(5 * kMiB, 60 + uint64_t(i)));
    std::vector<Result<PartInfo>> got(4, Status(Code::kInternal, "not run"));
    std::vector<std::thread> th;
    for (int i = 0; i < 4; ++i) {
      th.emplace_back(
          [&, i] { got[size_t(i)] = s.Part("k", a->upload_id, i + 1, data[size_t(i)]); });
    }
    for (auto& t : th) t.join();
    std::vector<PartInfo> parts;
    for (auto& g : got) {
      REQUIRE(g.ok());
      parts.push_back(*g);
    }
    auto pb = s.Part("k", b->upload_id, 1, "from b");
    REQUIRE(pb.ok());
    REQUIRE(s.Complete("k", a->upload_id, Listed(parts)).ok());
    CHECK(*s.Get("k") == data[0] + data[1] + data[2] + data[3]);
    // The other upload of the key is still open; the last Complete wins.
    REQUIRE(s.Complete("k", b->upload_id, {{1, pb->etag, ""}}).ok());
    CHECK(*s.Get("k") == "from b");
  }
}

TEST_CASE("multipart plain: uploads survive a restart; parts never show as objects",
          "[multipart][plain]") {
  PlainFixture f("local");
  f.opts.db_path = f.root + "/.cairn/meta.db";
  f.Reopen();
  REQUIRE(f.store->MakeBucket("bkt").ok());
  CreateMultipartOptions co;
  co.checksum_algorithm = "CRC64NVME";
  co.content_type = "text/x-restart";
  auto up = f.store->CreateMultipartUpload("bkt", "dir/k", co);
  REQUIRE(up.ok());
  const std::string d1 = RandomBytes(5 * kMiB, 70), d2 = RandomBytes(3000, 71);
  StringSource s1(d1);
  auto p1 = f.store->UploadPart("bkt", "dir/k", up->upload_id, 1, s1, {});
  REQUIRE(p1.ok());
  // Staged parts are under .cairn/, not in the bucket.
  auto listed = f.store->ListObjects("bkt", {});
  REQUIRE(listed.ok());
  CHECK(listed->objects.empty());
  CHECK(listed->common_prefixes.empty());
  auto buckets = f.store->ListBuckets();
  REQUIRE(buckets.ok());
  CHECK(buckets->size() == 1);
  REQUIRE(std::filesystem::is_directory(f.root + "/.cairn/uploads/" + up->upload_id));

  f.Reopen();
  auto lp = f.store->ListParts("bkt", "dir/k", up->upload_id, {});
  REQUIRE(lp.ok());
  REQUIRE(lp->parts.size() == 1);
  CHECK(lp->parts[0].etag == p1->etag);
  CHECK(lp->upload.checksum_algorithm == "CRC64NVME");
  CHECK(lp->upload.checksum_type == ChecksumType::kFullObject);
  StringSource s2(d2);
  auto p2 = f.store->UploadPart("bkt", "dir/k", up->upload_id, 2, s2, {});
  REQUIRE(p2.ok());
  auto done = f.store->CompleteMultipartUpload("bkt", "dir/k", up->upload_id,
                                               {{1, p1->etag, ""}, {2, p2->etag, ""}}, {});
  REQUIRE(done.ok());
  // The staged parts are gone; the ETag, content type and checksum survive another restart.
  CHECK_FALSE(std::filesystem::exists(f.root + "/.cairn/uploads/" + up->upload_id));
  f.Reopen();
  auto head = f.store->HeadObject("bkt", "dir/k");
  REQUIRE(head.ok());
  CHECK(head->etag == MultipartEtag({d1, d2}));
  CHECK(head->content_type == "text/x-restart");
  CHECK(head->checksum.Base64() == Sum(ChecksumAlgorithm::kCrc64Nvme, d1 + d2).Base64());
  CHECK(head->checksum_type == ChecksumType::kFullObject);
  // A file written over it by another program is described afresh: no stale ETag or checksum.
  { std::ofstream(f.root + "/bkt/dir/k", std::ios::trunc) << "replaced"; }
  head = f.store->HeadObject("bkt", "dir/k");
  REQUIRE(head.ok());
  CHECK(head->etag != MultipartEtag({d1, d2}));
  CHECK(head->checksum.algorithm == ChecksumAlgorithm::kNone);
  // Deleting the object forgets its part layout too (the table does not grow with deleted keys).
  auto layouts = [&] {
    auto db = SqliteDb::Open(f.opts.db_path);
    REQUIRE(db.ok());
    auto q = (*db)->Prepare("SELECT count(*) FROM mpu_objects WHERE bucket='bkt'");
    REQUIRE(q.ok());
    REQUIRE(*(*q)->Step());
    return (*q)->Int(0);
  };
  CHECK(layouts() == 1);
  REQUIRE(f.store->DeleteObject("bkt", "dir/k").ok());
  CHECK(layouts() == 0);
}

TEST_CASE("multipart plain: removing a bucket drops its uploads and their parts",
          "[multipart][plain]") {
  PlainFixture f("local");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  REQUIRE(f.store->MakeBucket("keep").ok());
  auto up = f.store->CreateMultipartUpload("bkt", "k", {});
  auto other = f.store->CreateMultipartUpload("keep", "k", {});
  REQUIRE((up.ok() && other.ok()));
  StringSource s1("part");
  REQUIRE(f.store->UploadPart("bkt", "k", up->upload_id, 1, s1, {}).ok());
  REQUIRE(std::filesystem::is_directory(f.root + "/.cairn/uploads/" + up->upload_id));
  REQUIRE(f.store->RemoveBucket("bkt", true).ok());
  CHECK_FALSE(std::filesystem::exists(f.root + "/.cairn/uploads/" + up->upload_id));
  REQUIRE(f.store->MakeBucket("bkt").ok());
  auto uploads = f.store->ListMultipartUploads("bkt", {});
  REQUIRE(uploads.ok());
  CHECK(uploads->uploads.empty());
  CHECK(f.store->ListParts("bkt", "k", up->upload_id, {}).status().code() == Code::kUploadNotFound);
  // Another bucket's upload stays.
  CHECK(f.store->ListParts("keep", "k", other->upload_id, {}).ok());
}

TEST_CASE("multipart plain: a staged part changed on disk fails Complete", "[multipart][plain]") {
  PlainFixture f("local");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  auto up = f.store->CreateMultipartUpload("bkt", "k", {});
  REQUIRE(up.ok());
  StringSource s1("original bytes");
  auto p1 = f.store->UploadPart("bkt", "k", up->upload_id, 1, s1, {});
  REQUIRE(p1.ok());
  const std::string dir = f.root + "/.cairn/uploads/" + up->upload_id;
  std::vector<std::filesystem::path> staged;
  for (const auto& e : std::filesystem::directory_iterator(dir)) staged.push_back(e.path());
  REQUIRE(staged.size() == 1);
  // File times tick with the kernel's coarse clock: let one tick pass so the write shows.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::ofstream(staged[0], std::ios::trunc) << "tampered bytes";  // same size, new content
  }
  auto done = f.store->CompleteMultipartUpload("bkt", "k", up->upload_id, {{1, p1->etag, ""}}, {});
  CHECK(done.status().code() == Code::kDataLoss);
  CHECK(f.store->HeadObject("bkt", "k").status().code() == Code::kNotFound);
}

TEST_CASE("multipart plain: a failed Complete leaves the previous version and no temp file",
          "[multipart][plain]") {
  PlainFixture f("faulty");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "k", "previous").ok());
  auto up = f.store->CreateMultipartUpload("bkt", "k", {});
  REQUIRE(up.ok());
  StringSource s1(RandomBytes(5 * kMiB, 80));
  auto p1 = f.store->UploadPart("bkt", "k", up->upload_id, 1, s1, {});
  REQUIRE(p1.ok());
  StringSource s2("end");
  auto p2 = f.store->UploadPart("bkt", "k", up->upload_id, 2, s2, {});
  REQUIRE(p2.ok());
  // The rename into place fails.
  FaultRule rule;
  rule.op = FaultOp::kRename;
  rule.path_glob = "bkt/k";
  f.faulty->AddRule(rule);
  auto done = f.store->CompleteMultipartUpload("bkt", "k", up->upload_id,
                                               {{1, p1->etag, ""}, {2, p2->etag, ""}}, {});
  CHECK_FALSE(done.ok());
  CHECK(f.faulty->injected() > 0);
  f.faulty->ClearRules();
  CHECK(*f.Get("bkt", "k") == "previous");
  auto tmp = f.vol->ListDir(".cairn/tmp");
  REQUIRE(tmp.ok());
  CHECK(tmp->empty());
  // The upload is still open and completes now.
  done = f.store->CompleteMultipartUpload("bkt", "k", up->upload_id,
                                          {{1, p1->etag, ""}, {2, p2->etag, ""}}, {});
  REQUIRE(done.ok());
  CHECK(f.Get("bkt", "k")->size() == 5 * kMiB + 3);
}

namespace {

// GET ?partNumber=n of bucket "bkt": the bytes, and the reader's range and info.
struct PartRead {
  std::string bytes;
  ByteRange range;
  ObjectInfo info;
};
Result<PartRead> ReadPart(ObjectStore& st, const std::string& key, int n, GetOptions o = {}) {
  o.part_number = n;
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> r, st.OpenObject("bkt", key, o));
  PartRead out;
  out.range = r->range();
  out.info = r->info();
  StringSink sink;
  RETURN_IF_ERROR(r->WriteTo(sink));
  out.bytes = sink.out;
  return out;
}

}  // namespace

TEST_CASE("multipart: GET ?partNumber=N reads one part, also after a restart", "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    const std::vector<std::string> data = {RandomBytes(5 * kMiB, 41), RandomBytes(5 * kMiB + 7, 42),
                                           RandomBytes(1000, 43)};
    REQUIRE(s.Upload("big", data).ok());
    for (int round = 0; round < 2; ++round) {
      CAPTURE(round);
      uint64_t first = 0;
      for (int n = 1; n <= 3; ++n) {
        CAPTURE(n);
        auto got = ReadPart(*s.store, "big", n);
        REQUIRE(got.ok());
        CHECK(got->bytes == data[size_t(n - 1)]);
        CHECK(got->range.first == first);
        CHECK(got->range.length == data[size_t(n - 1)].size());
        CHECK(got->range.partial);  // several parts: a 206
        CHECK(got->info.parts_count == 3);
        CHECK(got->info.size == data[0].size() + data[1].size() + data[2].size());
        first += data[size_t(n - 1)].size();
      }
      CHECK(ReadPart(*s.store, "big", 4).status().code() == Code::kInvalidPartNumber);
      CHECK(ReadPart(*s.store, "big", 10000).status().code() == Code::kInvalidPartNumber);
      GetOptions ranged;
      ranged.range = GetRange{0, 10};
      CHECK(ReadPart(*s.store, "big", 1, ranged).status().code() == Code::kInvalidRequest);
      // Conditions are decided first, on the whole object's ETag.
      GetOptions cond;
      cond.conditions.if_match = "\"nope\"";
      CHECK(ReadPart(*s.store, "big", 1, cond).status().code() == Code::kPreconditionFailed);
      cond.conditions.if_match = MultipartEtag(data);
      CHECK(ReadPart(*s.store, "big", 2, cond).ok());
      auto head = s.store->HeadObject("bkt", "big");
      REQUIRE(head.ok());
      // Differs over the network: S3 tells the number of parts (x-amz-mp-parts-count) only to a
      // HEAD or GET with partNumber.
      GetOptions part1;
      part1.part_number = 1;
      if (std::string(kind) == "remote") head = s.store->HeadObject("bkt", "big", part1);
      REQUIRE(head.ok());
      CHECK(head->parts_count == 3);
      if (!s.CanRestart()) break;
      s.Restart();  // the layout is kept with the object
    }
    // An object of one PUT is one part: part 1 is all of it, with a 200.
    StringSource one("single object");
    REQUIRE(s.store->PutObject("bkt", "one", one, {}).ok());
    auto whole = ReadPart(*s.store, "one", 1);
    REQUIRE(whole.ok());
    CHECK(whole->bytes == "single object");
    CHECK_FALSE(whole->range.partial);
    CHECK(whole->info.parts_count == 0);
    CHECK(ReadPart(*s.store, "one", 2).status().code() == Code::kInvalidPartNumber);
    StringSource none("");
    REQUIRE(s.store->PutObject("bkt", "empty", none, {}).ok());
    auto empty = ReadPart(*s.store, "empty", 1);
    REQUIRE(empty.ok());
    CHECK(empty->bytes.empty());
    CHECK(ReadPart(*s.store, "missing", 1).status().code() == Code::kNotFound);
    // A multipart object of one part: a 200 with that part.
    REQUIRE(s.Upload("mp1", {"just one part"}).ok());
    auto mp1 = ReadPart(*s.store, "mp1", 1);
    REQUIRE(mp1.ok());
    CHECK(mp1->bytes == "just one part");
    CHECK_FALSE(mp1->range.partial);
    CHECK(mp1->info.parts_count == 1);
  }
}

TEST_CASE("multipart: UploadPartCopy copies a source or a range of it into a part",
          "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    const std::string src = RandomBytes(6 * kMiB + 5, 51);
    StringSource body(src);
    auto put = s.store->PutObject("bkt", "src", body, {});
    REQUIRE(put.ok());
    auto up = s.Create("dst");
    REQUIRE(up.ok());
    auto copy = [&](int n, std::optional<GetRange> range, const std::string& key = "src",
                    GetConditions c = {}) {
      CopyPartOptions o;
      o.range = range;
      o.source_conditions = c;
      return s.store->UploadPartCopy("bkt", key, "bkt", "dst", up->upload_id, n, o);
    };
    auto p1 = copy(1, std::nullopt);
    REQUIRE(p1.ok());
    CHECK(p1->etag == Md5Hex(src));
    CHECK(p1->size == src.size());
    CHECK(p1->mod_time_ns > 0);
    auto p2 = copy(2, GetRange{100, 100 + 5 * kMiB - 1});
    REQUIRE(p2.ok());
    CHECK(p2->etag == Md5Hex(src.substr(100, 5 * kMiB)));
    auto p3 = s.Part("dst", up->upload_id, 3, "tail");
    REQUIRE(p3.ok());

    // Errors, none of which stores a part.
    CHECK(copy(4, std::nullopt, "missing").status().code() == Code::kNotFound);
    CHECK(s.store->UploadPartCopy("nob", "src", "bkt", "dst", up->upload_id, 4, {})
              .status()
              .code() == Code::kBucketNotFound);
    CHECK(copy(4, GetRange{0, src.size()}).status().code() == Code::kInvalidArgument);
    CHECK(copy(4, GetRange{src.size(), src.size() + 5}).status().code() ==
          Code::kInvalidArgument);
    GetConditions no_match;
    no_match.if_match = "\"other\"";
    CHECK(copy(4, std::nullopt, "src", no_match).status().code() == Code::kPreconditionFailed);
    GetConditions none_match;
    none_match.if_none_match = put->etag;
    CHECK(copy(4, std::nullopt, "src", none_match).status().code() == Code::kPreconditionFailed);
    GetConditions match;
    match.if_match = "\"" + put->etag + "\"";
    CHECK(copy(0, std::nullopt, "src", match).status().code() == Code::kInvalidArgument);
    CHECK(s.store
              ->UploadPartCopy("bkt", "src", "bkt", "dst", "00000000000000000000000000000000", 4,
                               {})
              .status()
              .code() == Code::kUploadNotFound);
    auto lp = s.store->ListParts("bkt", "dst", up->upload_id, {});
    REQUIRE(lp.ok());
    CHECK(lp->parts.size() == 3);

    auto done = s.Complete("dst", up->upload_id, Listed({*p1, *p2, *p3}));
    REQUIRE(done.ok());
    const std::string want = src + src.substr(100, 5 * kMiB) + "tail";
    CHECK(*s.Get("dst") == want);
    CHECK(done->etag ==
          MultipartEtag({src, src.substr(100, 5 * kMiB), std::string("tail")}));

    // A range of a multipart source that crosses its part boundary, into an upload with a
    // checksum: the part's checksum is computed over the bytes copied.
    CreateMultipartOptions co;
    co.checksum_algorithm = "CRC32C";
    auto up2 = s.Create("dst2", co);
    REQUIRE(up2.ok());
    CopyPartOptions o;
    const uint64_t from = src.size() - 10;
    o.range = GetRange{from, from + 99};
    auto cp = s.store->UploadPartCopy("bkt", "dst", "bkt", "dst2", up2->upload_id, 1, o);
    REQUIRE(cp.ok());
    const std::string crossed = want.substr(from, 100);
    CHECK(cp->etag == Md5Hex(crossed));
    CHECK(cp->checksum == Sum(ChecksumAlgorithm::kCrc32c, crossed).Base64());
    REQUIRE(s.Complete("dst2", up2->upload_id, Listed({*cp})).ok());
    CHECK(*s.Get("dst2") == crossed);
  }
}

TEST_CASE("multipart: AbortStaleUploads removes uploads older than the expiry, only those",
          "[multipart]") {
  for (const char* kind : BackendsOr(kBackends)) {
    CAPTURE(kind);
    MpuStore s(kind);
    auto old_up = s.Create("old");
    REQUIRE(old_up.ok());
    REQUIRE(s.Part("old", old_up->upload_id, 1, "abandoned bytes").ok());
    REQUIRE(s.Upload("done", {"completed"}).ok());
    // "old" began before old_done and "young" after young_start, 600 ms later. The expiry is
    // chosen at the call so that its cutoff falls midway between them, however long the steps
    // in between took on a busy machine (a fixed 300 ms expiry once removed both uploads at
    // load 13: Part("young") and the rest had taken over 300 ms).
    const int64_t old_done = Clock::Real()->NowNs();
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    const int64_t young_start = Clock::Real()->NowNs();
    auto young = s.Create("young");
    REQUIRE(young.ok());
    REQUIRE(s.Part("young", young->upload_id, 1, "kept").ok());

    CHECK(s.store->AbortStaleUploads(-1).status().code() == Code::kInvalidArgument);
    if (std::string(kind) == "remote") {
      // Differs over the network: S3 has no call for it (a bucket lifecycle rule does it on the
      // server); the store says so (s3_store.h) and leaves every upload as it was.
      CHECK(s.store->AbortStaleUploads(int64_t(300) * 1000000).status().code() ==
            Code::kNotImplemented);
      auto all = s.store->ListMultipartUploads("bkt", {});
      REQUIRE(all.ok());
      CHECK(all->uploads.size() == 2);
      continue;
    }
    auto removed =
        s.store->AbortStaleUploads(Clock::Real()->NowNs() - (old_done + young_start) / 2);
    REQUIRE(removed.ok());
    CHECK(*removed == 1);
    CHECK(s.store->ListParts("bkt", "old", old_up->upload_id, {}).status().code() ==
          Code::kUploadNotFound);
    auto listed = s.store->ListMultipartUploads("bkt", {});
    REQUIRE(listed.ok());
    REQUIRE(listed->uploads.size() == 1);
    CHECK(listed->uploads[0].upload_id == young->upload_id);
    CHECK(*s.Get("done") == "completed");
    if (s.plain && s.plain->kind == "local") {
      CHECK_FALSE(std::filesystem::exists(s.plain->root + "/.cairn/uploads/" + old_up->upload_id));
    }
    if (s.set) {
      for (size_t i = 0; i < s.set->vols.size(); ++i) {
        auto e = s.set->vols[i]->ListDir(".cairn/multipart/" + old_up->upload_id);
        CHECK_FALSE(e.ok());
      }
    }
    // A pass with a long expiry removes nothing.
    removed = s.store->AbortStaleUploads(int64_t(3600) * 1000000000);
    REQUIRE(removed.ok());
    CHECK(*removed == 0);
    CHECK(s.store->ListParts("bkt", "young", young->upload_id, {}).ok());
  }
}

namespace {

std::string Concat(const std::vector<std::string>& parts) {
  std::string all;
  for (const auto& p : parts) all += p;
  return all;
}

// Uploads data[i] as part numbers[i] of upload id, each in a thread of its own (as a client sends
// parts in parallel); returns the parts' ETags by number.
// With declare, each part's size is declared, as `cairn serve` passes a request's Content-Length.
std::map<int, std::string> UploadParallel(PlainDir& st, const std::string& key,
                                          const std::string& id, const std::vector<int>& numbers,
                                          const std::vector<std::string>& data,
                                          bool declare = false) {
  std::vector<std::string> etags(numbers.size());
  std::vector<Status> status(numbers.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < numbers.size(); ++i) {
    threads.emplace_back([&, i] {
      StringSource src(data[i], 100000);
      UploadPartOptions o;
      if (declare) o.size = data[i].size();
      auto p = st.UploadPart("bkt", key, id, numbers[i], src, o);
      status[i] = p.status();
      if (p.ok()) etags[i] = p->etag;
    });
  }
  for (auto& t : threads) t.join();
  std::map<int, std::string> out;
  for (size_t i = 0; i < numbers.size(); ++i) {
    REQUIRE(status[i].ok());
    out[numbers[i]] = etags[i];
  }
  return out;
}

std::vector<CompletedPart> ListOf(const std::map<int, std::string>& etags,
                                  const std::vector<int>& numbers) {
  std::vector<CompletedPart> list;
  for (int n : numbers) list.push_back({n, etags.at(n), ""});
  return list;
}

}  // namespace

TEST_CASE("multipart plain: parts are assembled as they arrive and Complete takes the result",
          "[multipart][plain]") {
  for (const char* kind : {"local", "mem"}) {
    CAPTURE(kind);
    PlainFixture f(kind);
    REQUIRE(f.store->MakeBucket("bkt").ok());
    REQUIRE(f.Put("bkt", "k", "previous").ok());
    const std::vector<std::string> data = {RandomBytes(5 * kMiB, 90), RandomBytes(5 * kMiB, 91),
                                           RandomBytes(5 * kMiB, 92), RandomBytes(4321, 93)};
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    // Out of order and in parallel, the last part first.
    auto etags = UploadParallel(*f.store, "k", up->upload_id, {4, 2, 1, 3},
                                {data[3], data[1], data[0], data[2]});
    // Parts 1-3 are in their slots; part 4 too unless it came before the first part of 5 MiB
    // (which sets S): Complete then copies it.
    const auto& c = f.store->assembly_counters();
    CHECK(c.parts_assembled >= 3);
    auto assembly = f.vol->Stat(".cairn/uploads/" + up->upload_id + "/assembly");
    REQUIRE(assembly.ok());
    CHECK(assembly->size >= 15 * kMiB);
    CHECK(*f.Get("bkt", "k") == "previous");  // never visible before Complete
    auto done = f.store->CompleteMultipartUpload("bkt", "k", up->upload_id,
                                                 ListOf(etags, {1, 2, 3, 4}), {});
    REQUIRE(done.ok());
    CHECK(c.fast_completes == 1);
    CHECK(c.full_copies == 0);
    CHECK(c.parts_assembled + c.parts_copied_at_complete == 4);
    CHECK(done->etag == MultipartEtag(data));
    CHECK(*f.Get("bkt", "k") == Concat(data));
    CHECK(f.vol->Stat(".cairn/uploads/" + up->upload_id).status().code() == Code::kNotFound);
    // A retried Complete answers the same without assembling anything.
    auto again = f.store->CompleteMultipartUpload("bkt", "k", up->upload_id,
                                                  ListOf(etags, {1, 2, 3, 4}), {});
    REQUIRE(again.ok());
    CHECK(again->etag == done->etag);
    CHECK(c.fast_completes + c.full_copies == 1);

    // Through the full copy (part 2 larger than S: no uniform layout), the bytes are as right.
    auto up2 = f.store->CreateMultipartUpload("bkt", "k2", {});
    REQUIRE(up2.ok());
    auto e2 = UploadParallel(*f.store, "k2", up2->upload_id, {1}, {data[1]});
    auto e3 = UploadParallel(*f.store, "k2", up2->upload_id, {2}, {data[0] + data[3]});
    e2.insert(e3.begin(), e3.end());
    REQUIRE(f.store->CompleteMultipartUpload("bkt", "k2", up2->upload_id, ListOf(e2, {1, 2}), {})
                .ok());
    CHECK(c.full_copies == 1);
    CHECK(*f.Get("bkt", "k2") == data[1] + data[0] + data[3]);
  }
}

TEST_CASE("multipart plain: Complete copies every part when the assembly does not fit",
          "[multipart][plain]") {
  PlainFixture f("local");
  f.opts.db_path = f.root + "/.cairn/meta.db";
  f.Reopen();
  REQUIRE(f.store->MakeBucket("bkt").ok());
  const std::string a = RandomBytes(5 * kMiB, 100), b = RandomBytes(5 * kMiB, 101),
                    big = RandomBytes(6 * kMiB, 102), tail = RandomBytes(777, 103),
                    c = RandomBytes(5 * kMiB, 104);
  auto counters = [&] {
    const auto& c = f.store->assembly_counters();
    return std::make_pair(uint64_t(c.fast_completes), uint64_t(c.full_copies));
  };
  using P = std::pair<uint64_t, uint64_t>;

  SECTION("a part larger than S") {
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    auto e = UploadParallel(*f.store, "k", up->upload_id, {1}, {a});
    auto e2 = UploadParallel(*f.store, "k", up->upload_id, {2, 3}, {big, tail});
    e.insert(e2.begin(), e2.end());
    REQUIRE(f.store->CompleteMultipartUpload("bkt", "k", up->upload_id, ListOf(e, {1, 2, 3}), {})
                .ok());
    CHECK(counters() == P{0, 1});
    CHECK(*f.Get("bkt", "k") == a + big + tail);
  }
  SECTION("a part re-uploaded with other bytes after it was assembled") {
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    auto e = UploadParallel(*f.store, "k", up->upload_id, {1}, {a});  // S first: all assembled
    auto e1 = UploadParallel(*f.store, "k", up->upload_id, {2, 3}, {a, tail});
    e.insert(e1.begin(), e1.end());
    // Part 2 again: its slot is overwritten and marked for the new bytes.
    auto e2 = UploadParallel(*f.store, "k", up->upload_id, {2}, {b});
    e[2] = e2[2];
    CHECK(f.store->assembly_counters().parts_assembled == 4);
    REQUIRE(f.store->CompleteMultipartUpload("bkt", "k", up->upload_id, ListOf(e, {1, 2, 3}), {})
                .ok());
    CHECK(counters() == P{1, 0});
    CHECK(f.store->assembly_counters().parts_copied_at_complete == 0);
    CHECK(*f.Get("bkt", "k") == a + b + tail);
  }
  SECTION("a part re-uploaded too large for its slot") {
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    auto e = UploadParallel(*f.store, "k", up->upload_id, {1, 2}, {a, tail});
    auto e2 = UploadParallel(*f.store, "k", up->upload_id, {2}, {big});  // not copied: unmarked
    e[2] = e2[2];
    REQUIRE(f.store->CompleteMultipartUpload("bkt", "k", up->upload_id, ListOf(e, {1, 2}), {})
                .ok());
    CHECK(counters() == P{0, 1});
    CHECK(*f.Get("bkt", "k") == a + big);
  }
  SECTION("parts missing from the list") {
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    auto e = UploadParallel(*f.store, "k", up->upload_id, {1, 2, 3, 4}, {a, b, a, tail});
    REQUIRE(f.store->CompleteMultipartUpload("bkt", "k", up->upload_id, ListOf(e, {1, 3, 4}), {})
                .ok());
    CHECK(counters() == P{0, 1});
    CHECK(*f.Get("bkt", "k") == a + a + tail);
  }
  SECTION("the first parts only: the assembly file is longer than the object") {
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    auto e = UploadParallel(*f.store, "k", up->upload_id, {1}, {a});  // S first: all assembled
    auto e1 = UploadParallel(*f.store, "k", up->upload_id, {2, 3}, {b, tail});
    e.insert(e1.begin(), e1.end());
    REQUIRE(f.store->CompleteMultipartUpload("bkt", "k", up->upload_id, ListOf(e, {1, 2}), {})
                .ok());
    CHECK(counters() == P{0, 1});
    CHECK(*f.Get("bkt", "k") == a + b);
  }
  SECTION("a restart between parts: marks of another session are not trusted, Complete copies") {
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    auto e = UploadParallel(*f.store, "k", up->upload_id, {1, 2}, {a, b});
    f.Reopen();
    auto e2 = UploadParallel(*f.store, "k", up->upload_id, {3}, {tail});
    e.insert(e2.begin(), e2.end());
    CHECK(f.store->assembly_counters().parts_assembled == 1);  // S survived the restart
    REQUIRE(f.store->CompleteMultipartUpload("bkt", "k", up->upload_id, ListOf(e, {1, 2, 3}), {})
                .ok());
    CHECK(counters() == P{1, 0});
    CHECK(f.store->assembly_counters().parts_copied_at_complete == 2);
    CHECK(*f.Get("bkt", "k") == a + b + tail);
  }
  SECTION("a staged part changed on disk after it was assembled fails Complete") {
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    auto e = UploadParallel(*f.store, "k", up->upload_id, {1, 2}, {a, tail});
    const std::string dir = f.root + "/.cairn/uploads/" + up->upload_id;
    std::filesystem::path staged;
    for (const auto& de : std::filesystem::directory_iterator(dir)) {
      if (de.path().extension() == ".1") staged = de.path();
    }
    REQUIRE(!staged.empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    {
      std::fstream io(staged, std::ios::in | std::ios::out | std::ios::binary);
      io.seekp(100);
      io << "tampered";  // same size
    }
    auto done =
        f.store->CompleteMultipartUpload("bkt", "k", up->upload_id, ListOf(e, {1, 2}), {});
    CHECK(done.status().code() == Code::kDataLoss);
    CHECK(f.store->HeadObject("bkt", "k").status().code() == Code::kNotFound);
    CHECK(counters().first == 0);
  }
  SECTION("abort removes the assembly file") {
    auto up = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(up.ok());
    UploadParallel(*f.store, "k", up->upload_id, {1, 2}, {a, tail});
    const std::string dir = f.root + "/.cairn/uploads/" + up->upload_id;
    REQUIRE(std::filesystem::exists(dir + "/assembly"));
    REQUIRE(f.store->AbortMultipartUpload("bkt", "k", up->upload_id).ok());
    CHECK_FALSE(std::filesystem::exists(dir));
  }
  SECTION("the same part uploaded concurrently: the slot holds what the part's record says") {
    // Staged then copied, or (sizes declared) straight into the slot for the first writer and
    // staged for the others: never interleaved in the slot.
    for (int round = 0; round < 8; ++round) {
      const bool declare = round % 2 == 1;
      CAPTURE(round, declare);
      const std::string key = "race" + std::to_string(round);
      auto up = f.store->CreateMultipartUpload("bkt", key, {});
      REQUIRE(up.ok());
      UploadParallel(*f.store, key, up->upload_id, {1, 2, 2, 2, 3}, {a, a, b, c, tail}, declare);
      auto lp = f.store->ListParts("bkt", key, up->upload_id, {});
      REQUIRE(lp.ok());
      REQUIRE(lp->parts.size() == 3);
      std::map<int, std::string> e;
      for (const auto& p : lp->parts) e[p.part_number] = p.etag;
      const std::string two = e[2] == Md5Hex(a) ? a : e[2] == Md5Hex(b) ? b : c;
      REQUIRE(f.store
                  ->CompleteMultipartUpload("bkt", key, up->upload_id, ListOf(e, {1, 2, 3}), {})
                  .ok());
      CHECK(*f.Get("bkt", key) == a + two + tail);
    }
  }
}

namespace {

// UploadPart with the part's size declared, as `cairn serve` passes a request's Content-Length.
Result<PartInfo> UploadSized(ObjectStore& st, const std::string& key, const std::string& id,
                             int n, Source& src, uint64_t size, UploadPartOptions o = {}) {
  o.size = size;
  return st.UploadPart("bkt", key, id, n, src, o);
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Overwrites bytes of a file in place (same size).
void Scribble(const std::string& path, uint64_t at, const std::string& bytes) {
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  io.seekp(std::streamoff(at));
  io << bytes;
}

}  // namespace

TEST_CASE("multipart plain: parts of a declared size go straight into their slot",
          "[multipart][plain]") {
  PlainFixture f("local");
  f.opts.db_path = f.root + "/.cairn/meta.db";
  f.Reopen();
  REQUIRE(f.store->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "k", "previous").ok());
  const std::string a = RandomBytes(5 * kMiB, 200), b = RandomBytes(5 * kMiB, 201),
                    b2 = RandomBytes(5 * kMiB, 202), tail = RandomBytes(4321, 203);
  auto up = f.store->CreateMultipartUpload("bkt", "k", {});
  REQUIRE(up.ok());
  const std::string& id = up->upload_id;
  const std::string dir = f.root + "/.cairn/uploads/" + id;
  const std::string assembly = dir + "/assembly";
  auto c = [&]() -> const PlainDir::AssemblyCounters& { return f.store->assembly_counters(); };
  // Parts with their sizes declared: the first one alone (its size sets S; a smaller part that
  // came before it would be staged), then the others in parallel.
  auto slots = [&](const std::vector<int>& n, const std::vector<std::string>& d) {
    auto e = UploadParallel(*f.store, "k", id, {n[0]}, {d[0]}, true);
    if (n.size() > 1) {
      auto more = UploadParallel(*f.store, "k", id, std::vector<int>(n.begin() + 1, n.end()),
                                 std::vector<std::string>(d.begin() + 1, d.end()), true);
      e.insert(more.begin(), more.end());
    }
    return e;
  };
  auto complete = [&](const std::map<int, std::string>& e, const std::vector<int>& n) {
    return f.store->CompleteMultipartUpload("bkt", "k", id, ListOf(e, n), {});
  };

  SECTION("each byte written once: no staged file, Complete takes the assembly file") {
    // Part 1 first (its size sets S), then the others in parallel, the last one first.
    auto e = UploadParallel(*f.store, "k", id, {1}, {a}, true);
    auto e2 = UploadParallel(*f.store, "k", id, {3, 2}, {tail, b}, true);
    e.insert(e2.begin(), e2.end());
    CHECK(c().parts_in_slot == 3);
    CHECK(c().parts_assembled == 0);
    CHECK(FilesIn(dir) == std::vector<std::string>{"assembly"});
    CHECK(std::filesystem::file_size(assembly) == 2 * 5 * kMiB + tail.size());
    auto lp = f.store->ListParts("bkt", "k", id, {});
    REQUIRE(lp.ok());
    REQUIRE(lp->parts.size() == 3);
    CHECK(lp->parts[1].etag == Md5Hex(b));
    CHECK(lp->parts[2].size == tail.size());
    CHECK(*f.Get("bkt", "k") == "previous");  // never visible before Complete
    auto done = complete(e, {1, 2, 3});
    REQUIRE(done.ok());
    CHECK(done->etag == MultipartEtag({a, b, tail}));
    CHECK(c().fast_completes == 1);
    CHECK(c().full_copies == 0);
    CHECK(c().slot_parts_verified == 0);
    CHECK(*f.Get("bkt", "k") == a + b + tail);
    auto p2 = ReadPart(*f.store, "k", 2);
    REQUIRE(p2.ok());
    CHECK(p2->bytes == b);
    CHECK_FALSE(std::filesystem::exists(dir));
    auto again = complete(e, {1, 2, 3});
    REQUIRE(again.ok());
    CHECK(again->etag == done->etag);
  }
  SECTION("a part uploaded again is staged, then copied into its slot: the last one is kept") {
    auto e = slots({1, 2, 3}, {a, b, tail});
    auto e2 = UploadParallel(*f.store, "k", id, {2}, {b2}, true);
    e[2] = e2[2];
    CHECK(c().parts_in_slot == 3);
    CHECK(c().parts_assembled == 1);
    CHECK(FilesIn(dir).size() == 2);  // the assembly file and part 2's staged file
    // A third upload of part 2 failing midway: part 2 stays the second one.
    FailingSource bad(a, 3 * kMiB);
    CHECK_FALSE(UploadSized(*f.store, "k", id, 2, bad, a.size()).ok());
    auto lp = f.store->ListParts("bkt", "k", id, {});
    REQUIRE(lp.ok());
    CHECK(lp->parts[1].etag == Md5Hex(b2));
    REQUIRE(complete(e, {1, 2, 3}).ok());
    CHECK(c().fast_completes == 1);
    CHECK(*f.Get("bkt", "k") == a + b2 + tail);
  }
  SECTION("a body that fails in a free slot records nothing") {
    auto e = UploadParallel(*f.store, "k", id, {1}, {a}, true);
    {
      FailingSource cut(b, 3 * kMiB);  // the client went away
      CHECK(UploadSized(*f.store, "k", id, 2, cut, b.size()).status().code() == Code::kIOError);
    }
    {
      StringSource wrong(b);  // a Content-MD5 of other bytes
      UploadPartOptions o;
      o.content_md5 = Md5B64(a);
      CHECK(UploadSized(*f.store, "k", id, 2, wrong, b.size(), o).status().code() ==
            Code::kBadDigest);
    }
    {
      StringSource longer(tail + "x");  // more bytes than declared
      CHECK(UploadSized(*f.store, "k", id, 3, longer, tail.size()).status().code() ==
            Code::kInvalidArgument);
    }
    auto lp = f.store->ListParts("bkt", "k", id, {});
    REQUIRE(lp.ok());
    CHECK(lp->parts.size() == 1);
    CHECK(f.store
              ->CompleteMultipartUpload("bkt", "k", id, {{1, e[1], ""}, {2, Md5Hex(b), ""}}, {})
              .status()
              .code() == Code::kInvalidPart);
    // The slots were left as scribbled over; the parts uploaded now are what Complete takes.
    auto e2 = UploadParallel(*f.store, "k", id, {2, 3}, {b, tail}, true);
    e.insert(e2.begin(), e2.end());
    CHECK(c().parts_in_slot == 3);
    REQUIRE(complete(e, {1, 2, 3}).ok());
    CHECK(c().fast_completes == 1);
    CHECK(*f.Get("bkt", "k") == a + b + tail);
  }
  SECTION("after a restart the slots are read back and checked") {
    auto e = slots({1, 2}, {a, b});
    f.Reopen();
    // Part 3 cannot reopen the file (WritableFile truncates): it is staged.
    auto e3 = UploadParallel(*f.store, "k", id, {3}, {tail}, true);
    e.insert(e3.begin(), e3.end());
    CHECK(c().parts_in_slot == 0);
    CHECK(std::filesystem::file_size(assembly) == 2 * 5 * kMiB);  // not cut
    REQUIRE(complete(e, {1, 2, 3}).ok());
    CHECK(c().full_copies == 1);
    CHECK(c().slot_parts_verified == 2);
    CHECK(*f.Get("bkt", "k") == a + b + tail);
  }
  SECTION("after a restart, a slot changed on disk fails Complete") {
    auto e = slots({1, 2}, {a, tail});
    f.Reopen();
    Scribble(assembly, 5 * kMiB + 100, "tampered");
    auto done = complete(e, {1, 2});
    CHECK(done.status().code() == Code::kDataLoss);
    CHECK(*f.Get("bkt", "k") == "previous");
  }
  SECTION("the assembly file changed in this session: read back, bad bytes refused") {
    auto e = slots({1, 2}, {a, tail});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a ctime tick
    SECTION("bytes changed") {
      Scribble(assembly, 100, "tampered");
      CHECK(complete(e, {1, 2}).status().code() == Code::kDataLoss);
      CHECK(*f.Get("bkt", "k") == "previous");
      CHECK(c().fast_completes == 0);
    }
    SECTION("truncated") {
      std::filesystem::resize_file(assembly, 5 * kMiB + 10);
      CHECK(complete(e, {1, 2}).status().code() == Code::kDataLoss);
      CHECK(*f.Get("bkt", "k") == "previous");
    }
    SECTION("rewritten with the same bytes: checked, then used") {
      Scribble(assembly, 100, a.substr(100, 8));
      REQUIRE(complete(e, {1, 2}).ok());
      CHECK(c().slot_parts_verified == 2);
      CHECK(c().full_copies == 1);
      CHECK(*f.Get("bkt", "k") == a + tail);
    }
  }
  SECTION("staged and slot-held parts mixed, and a full copy of a list that skips one") {
    auto e = UploadParallel(*f.store, "k", id, {1}, {a});  // no size declared: staged
    auto e2 = UploadParallel(*f.store, "k", id, {2, 3, 4}, {b, b2, tail}, true);
    e.insert(e2.begin(), e2.end());
    CHECK(c().parts_in_slot == 3);
    REQUIRE(complete(e, {1, 3, 4}).ok());
    CHECK(c().full_copies == 1);
    CHECK(c().slot_parts_verified == 0);
    CHECK(*f.Get("bkt", "k") == a + b2 + tail);
  }
  SECTION("a Complete that renamed the file but did not record it: its retry") {
    auto e = slots({1, 2}, {a, tail});
    auto done = complete(e, {1, 2});
    REQUIRE(done.ok());
    // The database as a crash between the rename and the record leaves it: the object recorded,
    // the upload open with its slot-held parts, whose assembly file is now the object.
    f.store.reset();
    {
      auto db = SqliteDb::Open(f.opts.db_path);
      REQUIRE(db.ok());
      REQUIRE((*db)->Exec("UPDATE mpu_uploads SET state=0, completion='' WHERE upload_id='" + id +
                          "'").ok());
      const std::vector<std::string> parts = {a, tail};
      for (size_t i = 0; i < parts.size(); ++i) {
        REQUIRE((*db)->Exec("INSERT INTO mpu_parts (upload_id, part_number, file, etag, size,"
                            " mod_time_ns, checksum, ino, ctime_ns, assembled) VALUES ('" + id +
                            "', " + std::to_string(i + 1) + ", '.cairn/uploads/" + id +
                            "/assembly', '" + Md5Hex(parts[i]) + "', " +
                            std::to_string(parts[i].size()) + ", 1, x'', 0, 0, 'gone')")
                    .ok());
      }
    }
    f.Reopen();
    REQUIRE(f.store->ListParts("bkt", "k", id, {}).ok());  // open again
    SECTION("the object is the one it made: the retry answers as the Complete did") {
      auto again = complete(e, {1, 2});
      REQUIRE(again.ok());
      CHECK(again->etag == done->etag);
      CHECK(again->size == done->size);
      CHECK(*f.Get("bkt", "k") == a + tail);
      CHECK(f.store->ListParts("bkt", "k", id, {}).status().code() == Code::kUploadNotFound);
      CHECK(c().full_copies + c().fast_completes == 0);
    }
    SECTION("the object was replaced since: the parts are gone, refused") {
      REQUIRE(f.Put("bkt", "k", "newer").ok());
      CHECK(complete(e, {1, 2}).status().code() == Code::kDataLoss);
      CHECK(*f.Get("bkt", "k") == "newer");
    }
  }
  SECTION("abort and gc remove an assembly file holding parts") {
    slots({1, 2}, {a, tail});
    REQUIRE(std::filesystem::exists(assembly));
    REQUIRE(f.store->AbortMultipartUpload("bkt", "k", id).ok());
    CHECK_FALSE(std::filesystem::exists(dir));
    auto old = f.store->CreateMultipartUpload("bkt", "k", {});
    REQUIRE(old.ok());
    UploadParallel(*f.store, "k", old->upload_id, {1}, {a}, true);
    REQUIRE(std::filesystem::exists(f.root + "/.cairn/uploads/" + old->upload_id + "/assembly"));
    auto removed = f.store->AbortStaleUploads(0);
    REQUIRE(removed.ok());
    CHECK(*removed == 1);
    CHECK_FALSE(std::filesystem::exists(f.root + "/.cairn/uploads/" + old->upload_id));
  }
}
