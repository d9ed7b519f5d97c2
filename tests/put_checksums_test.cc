// What a PUT's client promised (Content-MD5, x-amz-checksum-*, a signed payload's SHA-256, a
// trailer's checksum) is computed while the body streams and checked before the commit: a
// mismatch commits nothing and leaves the older version as it was.
#include <catch2/catch.hpp>

#include "libstore/common/hash.h"
#include "tests/test_util.h"

namespace cairn {
namespace {

using test::RandomBytes;
using test::SetFixture;
using test::StringSource;

ChecksumValue Sum(ChecksumAlgorithm a, const std::string& data) {
  ChecksumStream s(a);
  s.Update(data.data(), data.size());
  return s.FinalValue();
}

std::array<uint8_t, 16> Md5Of(const std::string& data) {
  BodyChecksums::Plan p;
  p.md5 = true;
  BodyChecksums b(p);
  b.Update(data.data(), data.size());
  b.Finish();
  return b.md5();
}

std::array<uint8_t, 32> Sha256Of(const std::string& data) {
  std::array<uint8_t, 32> out;
  Sha256(data.data(), data.size(), out.data());
  return out;
}

// A source that remembers whether it reported its end, as a streaming decoder has then read its
// trailer.
class EndingSource : public Source {
 public:
  explicit EndingSource(std::string s) : s_(std::move(s)) {}
  Result<size_t> Read(void* buf, size_t n) override {
    size_t c = std::min(n, s_.size() - off_);
    std::memcpy(buf, s_.data() + off_, c);
    off_ += c;
    if (c == 0) ended = true;
    return c;
  }
  bool ended = false;

 private:
  std::string s_;
  size_t off_ = 0;
};

Result<ObjectInfo> PutWith(SetFixture& f, const std::string& key, const std::string& data,
                           const PutOptions& po) {
  StringSource src(data, 7777);
  return f.set->PutObject("bkt", key, src, po);
}

// The temp files of every member (a commit leaves spares behind for the next write to reuse, so
// a failed PUT is checked to have added none, not that there are none).
std::vector<std::vector<std::string>> Temps(SetFixture& f) {
  std::vector<std::vector<std::string>> out;
  for (size_t i = 0; i < f.mem.size(); ++i) {
    auto files = f.Files(i, ".cairn/tmp");
    std::sort(files.begin(), files.end());
    out.push_back(std::move(files));
  }
  return out;
}

}  // namespace

TEST_CASE("PUT checks what the client promised; a mismatch keeps the older version", "[putsums]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  // Inline, one block, several blocks with a short last one, an exact number of blocks.
  const size_t size =
      GENERATE(size_t(0), size_t(1000), size_t(64 << 10), size_t(300000), size_t(256 << 10));
  const std::string old_body = "the older version";
  REQUIRE(f.Put("bkt", "k", old_body).ok());
  const std::string data = RandomBytes(size, size + 1);
  const std::string other = data + "x";
  INFO("size " << size);

  auto temps = Temps(f);
  auto still_old = [&] {
    auto got = f.Get("bkt", "k");
    REQUIRE(got.ok());
    CHECK(*got == old_body);
    CHECK(Temps(f) == temps);
  };

  SECTION("every promise kept: committed") {
    PutOptions po;
    po.expected.content_md5 = Md5Of(data);
    po.expected.checksum = Sum(ChecksumAlgorithm::kCrc32, data);
    po.expected.payload_sha256 = Sha256Of(data);
    auto info = PutWith(f, "k", data, po);
    REQUIRE(info.ok());
    CHECK(info->etag == ToHex(Md5Of(data).data(), 16));
    CHECK(*f.Get("bkt", "k") == data);
  }
  SECTION("a wrong Content-MD5: BadDigest") {
    PutOptions po;
    po.expected.content_md5 = Md5Of(other);
    CHECK(PutWith(f, "k", data, po).status().code() == Code::kBadDigest);
    still_old();
  }
  SECTION("a wrong Content-MD5 with a fast ETag: still checked") {
    PutOptions po;
    po.etag = EtagMode::kFast;
    po.expected.content_md5 = Md5Of(other);
    CHECK(PutWith(f, "k", data, po).status().code() == Code::kBadDigest);
    still_old();
    po.expected.content_md5 = Md5Of(data);
    auto info = PutWith(f, "k", data, po);
    REQUIRE(info.ok());
    CHECK(info->etag[0] == 'x');
  }
  SECTION("a wrong x-amz-checksum-*: BadDigest, each algorithm") {
    for (auto a :
         {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
          ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
      INFO(Name(a));
      PutOptions po;
      po.expected.checksum = Sum(a, other);
      auto r = PutWith(f, "k", data, po);
      CHECK(r.status().code() == Code::kBadDigest);
      CHECK(r.status().message().find(Name(a)) != std::string::npos);
      still_old();
      po.expected.checksum = Sum(a, data);
      CHECK(PutWith(f, "k2", data, po).ok());
      temps = Temps(f);
    }
  }
  SECTION("a wrong payload SHA-256: XAmzContentSHA256Mismatch, before the other checks") {
    PutOptions po;
    po.expected.payload_sha256 = Sha256Of(other);
    po.expected.content_md5 = Md5Of(other);
    CHECK(PutWith(f, "k", data, po).status().code() == Code::kContentSha256Mismatch);
    still_old();
  }
  SECTION("Content-MD5 is checked before the checksum") {
    PutOptions po;
    po.expected.content_md5 = Md5Of(other);
    po.expected.checksum = Sum(ChecksumAlgorithm::kCrc32, other);
    auto r = PutWith(f, "k", data, po);
    CHECK(r.status().code() == Code::kBadDigest);
    CHECK(r.status().message().find("Content-MD5") != std::string::npos);
    still_old();
  }
  SECTION("a trailer's checksum, given after the body ended") {
    EndingSource src(data);
    PutOptions po;
    po.checksum_algorithm = ChecksumAlgorithm::kCrc64Nvme;
    int calls = 0;
    bool ended_first = false;
    std::optional<ChecksumValue> late = Sum(ChecksumAlgorithm::kCrc64Nvme, other);
    po.trailing_checksum = [&]() -> Result<std::optional<ChecksumValue>> {
      ++calls;
      ended_first = src.ended;
      return late;
    };
    CHECK(f.set->PutObject("bkt", "k", src, po).status().code() == Code::kBadDigest);
    CHECK(calls == 1);
    CHECK(ended_first);
    still_old();

    EndingSource src2(data);
    late = Sum(ChecksumAlgorithm::kCrc64Nvme, data);
    po.trailing_checksum = [&]() -> Result<std::optional<ChecksumValue>> { return late; };
    REQUIRE(f.set->PutObject("bkt", "k", src2, po).ok());
    CHECK(*f.Get("bkt", "k") == data);
  }
  SECTION("a trailer that fails, or holds another algorithm: nothing committed") {
    PutOptions po;
    po.checksum_algorithm = ChecksumAlgorithm::kCrc32;
    po.trailing_checksum = []() -> Result<std::optional<ChecksumValue>> {
      return Status(Code::kIncompleteBody, "injected: the trailer was cut off");
    };
    CHECK(PutWith(f, "k", data, po).status().code() == Code::kIncompleteBody);
    still_old();
    po.trailing_checksum = [&]() -> Result<std::optional<ChecksumValue>> {
      return std::optional<ChecksumValue>(Sum(ChecksumAlgorithm::kCrc32c, data));
    };
    CHECK(PutWith(f, "k", data, po).status().code() == Code::kInvalidArgument);
    still_old();
  }
  SECTION("no trailer value: the checksum is computed and the PUT goes on") {
    PutOptions po;
    po.checksum_algorithm = ChecksumAlgorithm::kCrc32;
    po.trailing_checksum = []() -> Result<std::optional<ChecksumValue>> {
      return std::optional<ChecksumValue>();
    };
    REQUIRE(PutWith(f, "k", data, po).ok());
    CHECK(*f.Get("bkt", "k") == data);
  }
}

TEST_CASE("PutOptions' checksum fields must agree", "[putsums]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  PutOptions po;
  po.checksum_algorithm = ChecksumAlgorithm::kCrc32;
  po.expected.checksum = Sum(ChecksumAlgorithm::kSha1, "x");
  CHECK(ValidatePutOptions(po).code() == Code::kInvalidArgument);
  CHECK(PutWith(f, "k", "x", po).status().code() == Code::kInvalidArgument);
  po.checksum_algorithm = ChecksumAlgorithm::kSha1;
  CHECK(ValidatePutOptions(po).ok());
  po.trailing_checksum = []() -> Result<std::optional<ChecksumValue>> {
    return std::optional<ChecksumValue>();
  };
  CHECK(ValidatePutOptions(po).code() == Code::kInvalidArgument);  // a value twice
  po.expected.checksum.reset();
  CHECK(ValidatePutOptions(po).ok());
  po.checksum_algorithm = ChecksumAlgorithm::kNone;
  CHECK(ValidatePutOptions(po).code() == Code::kInvalidArgument);  // a trailer of what?
  PutOptions bad;
  bad.expected.checksum = ChecksumValue();  // kNone, unfinished
  CHECK(ValidatePutOptions(bad).code() == Code::kInvalidArgument);
}

TEST_CASE("VerifyBody takes each digest from the side that computed it", "[putsums]") {
  const std::string data = "hello";
  BodyChecksums::Plan pa, pb;
  pa.md5 = true;
  pb.checksum = ChecksumAlgorithm::kCrc32c;
  pb.payload_sha256 = true;
  BodyChecksums a(pa), b(pb);
  a.Update(data.data(), data.size());
  b.Update(data.data(), data.size());
  a.Finish();
  b.Finish();
  ExpectedDigests e;
  e.content_md5 = Md5Of(data);
  e.checksum = Sum(ChecksumAlgorithm::kCrc32c, data);
  e.payload_sha256 = Sha256Of(data);
  CHECK(VerifyBody(e, a, &b).ok());
  CHECK(VerifyBody(e, b, &a).ok());
  CHECK(VerifyBody(e, a, nullptr).code() == Code::kInternal);  // a computed no checksum
  e.checksum = Sum(ChecksumAlgorithm::kCrc32c, "hellO");
  CHECK(VerifyBody(e, a, &b).code() == Code::kBadDigest);
  e.payload_sha256 = Sha256Of("hellO");
  CHECK(VerifyBody(e, a, &b).code() == Code::kContentSha256Mismatch);
}

}  // namespace cairn

namespace cairn {

TEST_CASE("the checksum a client sent or asked for is stored and returned", "[putsums]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const size_t size = GENERATE(size_t(0), size_t(1000), size_t(300000));
  const std::string data = RandomBytes(size, 7 + size);
  INFO("size " << size);

  auto check_everywhere = [&](const std::string& key, const ChecksumValue& want) {
    auto head = f.set->HeadObject("bkt", key);
    REQUIRE(head.ok());
    CHECK(head->checksum == want);
    CHECK(head->checksum_type == ChecksumType::kFullObject);
    CHECK(head->ChecksumHeaderValue() == want.Base64());
    auto r = f.set->OpenObject("bkt", key, GetOptions());
    REQUIRE(r.ok());
    CHECK((*r)->info().checksum == want);
    ListOptions lo;
    lo.prefix = key;
    auto l = f.set->ListObjects("bkt", lo);
    REQUIRE(l.ok());
    REQUIRE(l->objects.size() == 1);
    CHECK(l->objects[0].checksum == want);
    CHECK(l->objects[0].checksum_type == ChecksumType::kFullObject);
  };

  SECTION("a value sent") {
    PutOptions po;
    po.expected.checksum = Sum(ChecksumAlgorithm::kSha256, data);
    auto info = PutWith(f, "k", data, po);
    REQUIRE(info.ok());
    CHECK(info->checksum == *po.expected.checksum);
    check_everywhere("k", *po.expected.checksum);
  }
  SECTION("only an algorithm asked for: computed and stored") {
    for (auto a : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                   ChecksumAlgorithm::kCrc64Nvme, ChecksumAlgorithm::kSha1}) {
      INFO(Name(a));
      PutOptions po;
      po.checksum_algorithm = a;
      auto info = PutWith(f, "k", data, po);
      REQUIRE(info.ok());
      CHECK(info->checksum == Sum(a, data));
      check_everywhere("k", Sum(a, data));
    }
  }
  SECTION("a trailer's value") {
    PutOptions po;
    po.checksum_algorithm = ChecksumAlgorithm::kCrc32;
    po.trailing_checksum = [&]() -> Result<std::optional<ChecksumValue>> {
      return std::optional<ChecksumValue>(Sum(ChecksumAlgorithm::kCrc32, data));
    };
    REQUIRE(PutWith(f, "k", data, po).ok());
    check_everywhere("k", Sum(ChecksumAlgorithm::kCrc32, data));
  }
  SECTION("none asked for: none stored, and a new version drops the old one's") {
    PutOptions po;
    po.checksum_algorithm = ChecksumAlgorithm::kCrc32;
    REQUIRE(PutWith(f, "k", data, po).ok());
    REQUIRE(f.Put("bkt", "k", data).ok());
    auto head = f.set->HeadObject("bkt", "k");
    REQUIRE(head.ok());
    CHECK(head->checksum.algorithm == ChecksumAlgorithm::kNone);
    CHECK(head->checksum_type == ChecksumType::kNone);
    CHECK(head->ChecksumHeaderValue().empty());
  }
  SECTION("heal keeps it") {
    PutOptions po;
    po.checksum_algorithm = ChecksumAlgorithm::kCrc32c;
    REQUIRE(PutWith(f, "k", data, po).ok());
    auto d = f.set->StatObject("bkt", "k");
    REQUIRE(d.ok());
    CHECK(d->meta.checksum == Sum(ChecksumAlgorithm::kCrc32c, data));
  }
}

TEST_CASE("CopyObject carries the source's checksum or computes the one asked for", "[putsums]") {
  SetFixture f(2, 1, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(200000, 99);
  PutOptions po;
  po.checksum_algorithm = ChecksumAlgorithm::kCrc64Nvme;
  REQUIRE(PutWith(f, "src", data, po).ok());
  REQUIRE(f.Put("bkt", "plain", data).ok());

  SECTION("COPY keeps the algorithm and value") {
    CopyOptions co;
    auto info = f.set->CopyObject("bkt", "src", "bkt", "dst", co);
    REQUIRE(info.ok());
    CHECK(info->checksum == Sum(ChecksumAlgorithm::kCrc64Nvme, data));
    CHECK(f.set->HeadObject("bkt", "dst")->checksum == Sum(ChecksumAlgorithm::kCrc64Nvme, data));
  }
  SECTION("REPLACE keeps it too, unless another algorithm is asked for") {
    CopyOptions co;
    co.directive = MetadataDirective::kReplace;
    co.content_type = "text/x";
    auto info = f.set->CopyObject("bkt", "src", "bkt", "src", co);
    REQUIRE(info.ok());
    CHECK(info->checksum == Sum(ChecksumAlgorithm::kCrc64Nvme, data));
    co.checksum_algorithm = ChecksumAlgorithm::kSha1;
    info = f.set->CopyObject("bkt", "src", "bkt", "dst", co);
    REQUIRE(info.ok());
    CHECK(info->checksum == Sum(ChecksumAlgorithm::kSha1, data));
    CHECK(f.set->HeadObject("bkt", "dst")->checksum == Sum(ChecksumAlgorithm::kSha1, data));
  }
  SECTION("a source without one: none, or the one asked for") {
    CopyOptions co;
    auto info = f.set->CopyObject("bkt", "plain", "bkt", "dst", co);
    REQUIRE(info.ok());
    CHECK(info->checksum.algorithm == ChecksumAlgorithm::kNone);
    co.checksum_algorithm = ChecksumAlgorithm::kCrc32;
    info = f.set->CopyObject("bkt", "plain", "bkt", "dst", co);
    REQUIRE(info.ok());
    CHECK(info->checksum == Sum(ChecksumAlgorithm::kCrc32, data));
  }
}

}  // namespace cairn
