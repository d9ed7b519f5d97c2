// Multipart uploads on an ErasureSet over MemVolumes: the version 3 metadata and the staging
// records (golden bytes), S3's rules, reads across part and block boundaries (degraded too),
// checksums, crash points, verify and gc of multipart objects and abandoned uploads.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "libstore/common/hash.h"
#include "libstore/format/key_path.h"
#include "libstore/format/upload_record.h"
#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

constexpr uint64_t kMiB = 1 << 20;

void MpLe(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(char(v >> (8 * i)));
}
void MpLeStr(std::string* s, const std::string& v) {
  MpLe(s, v.size(), 4);
  *s += v;
}
Uuid MpFill(uint8_t x) {
  Uuid u;
  for (auto& b : u.b) b = x;
  return u;
}

// A set with an upload of `key` in bucket "bkt".
struct Mpu {
  SetFixture f;
  std::string upload;
  explicit Mpu(uint32_t k = 4, uint32_t m = 2, const CreateMultipartOptions& o = {})
      : f(k, m, 64 << 10) {
    REQUIRE(f.set->MakeBucket("bkt").ok());
    auto u = f.set->CreateMultipartUpload("bkt", "obj", o);
    REQUIRE(u.ok());
    upload = u->upload_id;
  }
  Result<PartInfo> Part(int n, const std::string& data, const UploadPartOptions& o = {}) {
    StringSource src(data, 70000);
    return f.set->UploadPart("bkt", "obj", upload, n, src, o);
  }
  Result<ObjectInfo> Complete(const std::vector<CompletedPart>& parts,
                              const CompleteMultipartOptions& o = {}) {
    return f.set->CompleteMultipartUpload("bkt", "obj", upload, parts, o);
  }
  // Member i's files below the upload's staging directory.
  std::vector<std::string> Staged(size_t i) {
    Uuid id;
    Uuid::FromHex(upload, &id);
    return f.Files(i, UploadDir(id));
  }
};

// A part's shard file in a staging directory: named by 32 hex digits.
bool IsShardFile(const std::string& path) {
  const std::string name = path.substr(path.rfind('/') + 1);
  Uuid id;
  return name.size() == 32 && Uuid::FromHex(name, &id);
}

std::string MultipartEtag(const std::vector<std::string>& parts) {
  std::string md5s;
  for (const auto& p : parts) {
    auto d = Md5Digest(p);
    md5s.append(reinterpret_cast<const char*>(d.data()), 16);
  }
  Md5Stream m;
  m.Update(md5s.data(), md5s.size());
  return m.FinalHex() + "-" + std::to_string(parts.size());
}

}  // namespace

TEST_CASE("object metadata version 3: golden bytes of a multipart object", "[format][multipart]") {
  ObjectMeta m;
  m.key = "k";
  m.version_id = MpFill(0x11);
  m.mod_time_ns = 9;
  m.k = 1;
  m.m = 1;
  m.block_size = 4096;
  m.distribution = {1, 0};
  m.data_id = MpFill(0x22);
  ObjectPart p1, p2;
  p1.number = 1;
  p1.size = 5000;  // two blocks: 4096 + 904, each chunk framed with an 8-byte checksum
  p1.data_id = MpFill(0x33);
  p1.shard_size = 4096 + 8 + 904 + 8;
  p1.md5 = Md5Digest("a");
  p2.number = 3;
  p2.size = 10;
  p2.data_id = MpFill(0x44);
  p2.shard_size = 18;
  p2.md5 = Md5Digest("b");
  m.parts = {p1, p2};
  m.size = 5010;
  m.shard_size = p1.shard_size + p2.shard_size;
  m.etag = "e-2";
  std::string g = "CAIRNOBJ";
  MpLe(&g, 3, 4);  // version 3
  MpLe(&g, 0, 4);  // flags
  MpLeStr(&g, "k");
  g += std::string(16, '\x11');
  MpLe(&g, 9, 8);
  MpLe(&g, 5010, 8);
  MpLeStr(&g, "e-2");
  MpLeStr(&g, "");
  MpLe(&g, 0, 4);  // user metadata
  MpLe(&g, 1, 4);
  MpLe(&g, 1, 4);
  MpLe(&g, 4096, 4);
  MpLe(&g, 0, 4);  // shard index
  MpLe(&g, 2, 4);
  g += std::string("\x01\x00", 2);
  g += std::string(16, '\x22');  // data id: the upload
  MpLe(&g, m.shard_size, 8);
  MpLeStr(&g, "");  // no inline shard
  // The checksum section, always there in version 3: algorithm 0, none.
  MpLe(&g, 0, 1);
  MpLe(&g, 0, 1);
  MpLe(&g, 0, 4);
  MpLe(&g, 0, 1);
  MpLe(&g, 2, 4);  // parts
  for (const ObjectPart& p : {p1, p2}) {
    MpLe(&g, p.number, 4);
    MpLe(&g, p.size, 8);
    g.append(reinterpret_cast<const char*>(p.data_id.b), 16);
    MpLe(&g, p.shard_size, 8);
    g.append(reinterpret_cast<const char*>(p.md5.data()), 16);
    MpLe(&g, 0, 1);  // no part checksum
  }
  MpLe(&g, Xxh3_64(g.data(), g.size()), 8);
  auto enc = m.Encode();
  REQUIRE(enc.ok());
  CHECK(*enc == g);
  auto dec = ObjectMeta::Decode(g);
  REQUIRE(dec.ok());
  CHECK(dec->parts == m.parts);
  CHECK(dec->is_multipart());

  // The same object without parts is not version 3: other objects keep their bytes.
  ObjectMeta single = m;
  single.parts.clear();
  single.size = 10;
  single.shard_size = 18;
  auto enc1 = single.Encode();
  REQUIRE(enc1.ok());
  CHECK((*enc1)[8] == 1);

  // A reader that knows versions 1 and 2 only stops at the version field with a clear error;
  // this reader does the same for a version it does not know.
  std::string v4 = g;
  v4[8] = 4;
  v4.resize(v4.size() - 8);
  MpLe(&v4, Xxh3_64(v4.data(), v4.size()), 8);
  auto old = ObjectMeta::Decode(v4);
  CHECK(old.status().code() == Code::kCorruption);
  CHECK_THAT(old.status().message(), Catch::Contains("unsupported version 4"));

  // Inconsistent parts are refused both ways.
  ObjectMeta bad = m;
  bad.parts[1].number = 1;
  CHECK(bad.Encode().status().code() == Code::kInvalidArgument);
  bad = m;
  bad.size += 1;
  CHECK(bad.Encode().status().code() == Code::kInvalidArgument);
  bad = m;
  bad.parts[0].shard_size += 1;
  bad.shard_size += 1;
  CHECK(bad.Encode().status().code() == Code::kInvalidArgument);
  // Damage anywhere is caught by the checksum; a truncated parts section by the reader.
  for (size_t at : {size_t(8), g.size() - 30, g.size() - 9}) {
    std::string d = g;
    d[at] ^= 1;
    CHECK(ObjectMeta::Decode(d).status().code() == Code::kCorruption);
  }
}

TEST_CASE("upload and part records: golden bytes, round trip, damage", "[format][multipart]") {
  UploadRecord u;
  u.bucket = "bkt";
  u.key = "a/b";
  u.initiated_ns = 5;
  u.content_type = "t";
  u.user_meta = {{"x", "y"}};
  u.checksum_algorithm = ChecksumAlgorithm::kCrc32c;
  u.checksum_type = kMetaChecksumComposite;
  std::string g = "CAIRNMPU";
  MpLe(&g, 1, 4);
  MpLeStr(&g, "bkt");
  MpLeStr(&g, "a/b");
  MpLe(&g, 5, 8);
  MpLeStr(&g, "t");
  MpLe(&g, 1, 4);
  MpLeStr(&g, "x");
  MpLeStr(&g, "y");
  MpLe(&g, 2, 1);  // CRC32C
  MpLe(&g, 2, 1);  // COMPOSITE
  MpLe(&g, 0, 1);  // open
  g += std::string(16, '\0');
  MpLeStr(&g, "");
  MpLe(&g, 0, 8);
  MpLe(&g, Xxh3_64(g.data(), g.size()), 8);
  auto enc = u.Encode();
  REQUIRE(enc.ok());
  CHECK(*enc == g);
  auto dec = UploadRecord::Decode(g);
  REQUIRE(dec.ok());
  CHECK(dec->key == "a/b");
  CHECK(dec->checksum_algorithm == ChecksumAlgorithm::kCrc32c);
  std::string d = g;
  d[20] ^= 1;
  CHECK(UploadRecord::Decode(d).status().code() == Code::kCorruption);
  UploadRecord bad = u;
  bad.bucket = "..";
  CHECK(bad.Encode().status().code() == Code::kInvalidArgument);

  PartRecord p;
  p.number = 7;
  p.size = 100;
  p.data_id = MpFill(0x55);
  p.shard_size = 108;
  p.md5 = Md5Digest("x");
  p.checksum.algorithm = ChecksumAlgorithm::kCrc32;
  p.checksum.len = 4;
  p.checksum.bytes = {1, 2, 3, 4};
  p.mod_time_ns = 77;
  std::string pg = "CAIRNPRT";
  MpLe(&pg, 1, 4);
  MpLe(&pg, 7, 4);
  MpLe(&pg, 100, 8);
  pg += std::string(16, '\x55');
  MpLe(&pg, 108, 8);
  pg.append(reinterpret_cast<const char*>(p.md5.data()), 16);
  MpLe(&pg, 1, 1);
  MpLe(&pg, 4, 1);
  pg += std::string("\x01\x02\x03\x04", 4);
  MpLe(&pg, 77, 8);
  MpLe(&pg, Xxh3_64(pg.data(), pg.size()), 8);
  CHECK(p.Encode() == pg);
  auto pd = PartRecord::Decode(pg);
  REQUIRE(pd.ok());
  CHECK(pd->SameAs(p));
  pg[12] ^= 1;
  CHECK(PartRecord::Decode(pg).status().code() == Code::kCorruption);

  uint32_t num = 0;
  CHECK(ParsePartRecordName("00042.part", &num));
  CHECK(num == 42);
  CHECK_FALSE(ParsePartRecordName("00000.part", &num));
  CHECK_FALSE(ParsePartRecordName("10001.part", &num));
  CHECK_FALSE(ParsePartRecordName("0004x.part", &num));
}

TEST_CASE("multipart: complete, read whole and ranges across parts and blocks, degraded",
          "[erasure_set][multipart]") {
  Mpu u;
  const std::vector<std::string> parts = {RandomBytes(5 * kMiB, 1), RandomBytes(5 * kMiB + 123, 2),
                                          RandomBytes(777, 3)};
  const std::string all = parts[0] + parts[1] + parts[2];
  std::vector<CompletedPart> list;
  for (int i = 0; i < 3; ++i) {
    auto p = u.Part(i + 1, parts[i]);
    REQUIRE(p.ok());
    CHECK(p->etag == ToHex(Md5Digest(parts[i]).data(), 16));
    CHECK(p->size == parts[i].size());
    list.push_back({i + 1, "\"" + p->etag + "\"", ""});
  }
  // Nothing is visible before Complete.
  CHECK(u.f.Get("bkt", "obj").status().code() == Code::kNotFound);
  auto info = u.Complete(list);
  REQUIRE(info.ok());
  CHECK(info->etag == MultipartEtag(parts));
  CHECK(info->size == all.size());
  auto head = u.f.set->HeadObject("bkt", "obj");
  REQUIRE(head.ok());
  CHECK(head->etag == info->etag);
  auto got = u.f.Get("bkt", "obj");
  REQUIRE(got.ok());
  CHECK(*got == all);

  // Ranges that start, end and cross at part and block boundaries (64 KiB blocks).
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {0, 0}, {5 * kMiB - 1, 5 * kMiB}, {5 * kMiB - 10, 5 * kMiB + 70000},
      {(64 << 10) - 1, (64 << 10)}, {10 * kMiB + 100, all.size() - 1},
      {3, all.size() - 2}, {10 * kMiB + 123 - 1, 10 * kMiB + 123}};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20; ++i) {
    uint64_t a = rng() % all.size(), b = rng() % all.size();
    ranges.emplace_back(std::min(a, b), std::max(a, b));
  }
  for (auto [a, b] : ranges) {
    auto r = u.f.Get("bkt", "obj", GetRange{a, b});
    REQUIRE(r.ok());
    CHECK(*r == all.substr(a, b - a + 1));
  }
  // Read through Read() in odd pieces, too.
  {
    auto rd = u.f.set->OpenObject("bkt", "obj", {});
    REQUIRE(rd.ok());
    std::string out;
    std::vector<char> buf(99991);
    for (;;) {
      auto n = (*rd)->Read(buf.data(), buf.size());
      REQUIRE(n.ok());
      if (*n == 0) break;
      out.append(buf.data(), *n);
    }
    CHECK(out == all);
  }

  // Degraded: two members (M) offline, then two members' part files gone.
  u.f.vols[1] = nullptr;
  u.f.vols[4] = nullptr;
  u.f.Reopen();
  REQUIRE(u.f.set);
  got = u.f.Get("bkt", "obj");
  REQUIRE(got.ok());
  CHECK(*got == all);
  auto r = u.f.Get("bkt", "obj", GetRange{5 * kMiB - 10, 5 * kMiB + 10});
  REQUIRE(r.ok());
  CHECK(*r == all.substr(5 * kMiB - 10, 21));
  u.f.vols[1] = u.f.faulty[1].get();
  u.f.vols[4] = u.f.faulty[4].get();
  u.f.Reopen();
  size_t removed = 0;
  for (size_t v : {0, 5}) {
    for (const auto& path : u.Staged(v)) {
      if (IsShardFile(path)) {
        REQUIRE(u.f.mem[v]->Remove(path).ok());
        ++removed;
      }
    }
  }
  CHECK(removed == 6);  // three parts on each of two members
  got = u.f.Get("bkt", "obj");
  REQUIRE(got.ok());
  CHECK(*got == all);
  // A third member's files gone: more than M shards lost.
  for (const auto& path : u.Staged(2)) {
    if (IsShardFile(path)) {
      REQUIRE(u.f.mem[2]->Remove(path).ok());
    }
  }
  CHECK(u.f.Get("bkt", "obj").status().code() == Code::kDataLoss);
}

TEST_CASE("multipart: S3's rules on parts, order, ETags and upload ids", "[erasure_set][multipart]") {
  Mpu u;
  const std::string big = RandomBytes(5 * kMiB, 11), small = RandomBytes(1000, 12);
  auto p1 = u.Part(1, small);
  auto p2 = u.Part(2, big);
  REQUIRE(p1.ok());
  REQUIRE(p2.ok());
  // Part numbers 1..10000.
  CHECK(u.Part(0, small).status().code() == Code::kInvalidArgument);
  CHECK(u.Part(10001, small).status().code() == Code::kInvalidArgument);
  // Every part but the last at least 5 MiB.
  CHECK(u.Complete({{1, p1->etag, ""}, {2, p2->etag, ""}}).status().code() ==
        Code::kEntityTooSmall);
  // Ascending, no duplicates.
  CHECK(u.Complete({{2, p2->etag, ""}, {1, p1->etag, ""}}).status().code() ==
        Code::kInvalidPartOrder);
  CHECK(u.Complete({{2, p2->etag, ""}, {2, p2->etag, ""}}).status().code() ==
        Code::kInvalidPartOrder);
  // ETags as given; parts that exist.
  CHECK(u.Complete({{2, p1->etag, ""}}).status().code() == Code::kInvalidPart);
  CHECK(u.Complete({{3, p1->etag, ""}}).status().code() == Code::kInvalidPart);
  CHECK(u.Complete({}).status().code() == Code::kMalformedXml);
  // A part uploaded twice keeps the last, and the first one's shard files go.
  const size_t staged_before = u.Staged(0).size();
  auto again = u.Part(1, big);
  REQUIRE(again.ok());
  CHECK(u.Staged(0).size() == staged_before);
  CHECK(u.Complete({{1, p1->etag, ""}, {2, p2->etag, ""}}).status().code() == Code::kInvalidPart);
  // Unknown ids, ids of other keys.
  StringSource src(small);
  CHECK(u.f.set->UploadPart("bkt", "obj", "nothex", 1, src, {}).status().code() ==
        Code::kUploadNotFound);
  CHECK(u.f.set->UploadPart("bkt", "obj", Uuid::Random().Hex(), 1, src, {}).status().code() ==
        Code::kUploadNotFound);
  CHECK(u.f.set->UploadPart("bkt", "other", u.upload, 1, src, {}).status().code() ==
        Code::kUploadNotFound);
  CHECK(u.f.set->AbortMultipartUpload("bkt", "other", u.upload).code() == Code::kUploadNotFound);
  CHECK(u.f.set->UploadPart("nob", "obj", u.upload, 1, src, {}).status().code() ==
        Code::kBucketNotFound);

  // Complete (with a part uploaded but not listed: it is dropped).
  auto p3 = u.Part(3, small);
  REQUIRE(p3.ok());
  const std::vector<CompletedPart> list = {{1, again->etag, ""}, {2, p2->etag, ""}};
  auto done = u.Complete(list);
  REQUIRE(done.ok());
  CHECK(done->etag == MultipartEtag({big, big}));
  CHECK(*u.f.Get("bkt", "obj") == big + big);
  for (size_t v = 0; v < 6; ++v) {
    for (const auto& path : u.Staged(v)) CHECK(path.find("00003.part") == std::string::npos);
    CHECK(u.Staged(v).size() == 5);  // the record, two part records, two shard files
  }
  // A retried Complete answers the same object; anything else about the upload is NoSuchUpload.
  auto retry = u.Complete(list);
  REQUIRE(retry.ok());
  CHECK(retry->etag == done->etag);
  CHECK(u.Complete({{1, again->etag, ""}}).status().code() == Code::kUploadNotFound);
  CHECK(u.Part(4, small).status().code() == Code::kUploadNotFound);
  CHECK(u.f.set->AbortMultipartUpload("bkt", "obj", u.upload).code() == Code::kUploadNotFound);
  CHECK(u.f.set->ListParts("bkt", "obj", u.upload, {}).status().code() == Code::kUploadNotFound);
  // Once the object is replaced, a retry no longer finds it.
  REQUIRE(u.f.Put("bkt", "obj", "new").ok());
  CHECK(u.Complete(list).status().code() == Code::kUploadNotFound);
}

TEST_CASE("multipart: abort removes the staging area; concurrent uploads, last Complete wins",
          "[erasure_set][multipart]") {
  Mpu u;
  const std::string a = RandomBytes(3000, 21), b = RandomBytes(4000, 22);
  auto pa = u.Part(1, a);
  REQUIRE(pa.ok());
  auto second = u.f.set->CreateMultipartUpload("bkt", "obj", {});
  REQUIRE(second.ok());
  StringSource src(b);
  auto pb = u.f.set->UploadPart("bkt", "obj", second->upload_id, 1, src, {});
  REQUIRE(pb.ok());
  auto third = u.f.set->CreateMultipartUpload("bkt", "obj", {});
  REQUIRE(third.ok());
  REQUIRE(u.f.set->AbortMultipartUpload("bkt", "obj", third->upload_id).ok());
  Uuid tid;
  Uuid::FromHex(third->upload_id, &tid);
  for (size_t v = 0; v < 6; ++v) CHECK_FALSE(u.f.mem[v]->Stat(UploadDir(tid)).ok());
  CHECK(u.f.set->AbortMultipartUpload("bkt", "obj", third->upload_id).code() ==
        Code::kUploadNotFound);

  REQUIRE(u.Complete({{1, pa->etag, ""}}).ok());
  CHECK(*u.f.Get("bkt", "obj") == a);
  REQUIRE(u.f.set->CompleteMultipartUpload("bkt", "obj", second->upload_id, {{1, pb->etag, ""}}, {})
              .ok());
  CHECK(*u.f.Get("bkt", "obj") == b);

  // Conditions of the Complete decide against the key's current version.
  auto cond = u.f.set->CreateMultipartUpload("bkt", "obj", {});
  REQUIRE(cond.ok());
  StringSource src2(a);
  auto pc = u.f.set->UploadPart("bkt", "obj", cond->upload_id, 1, src2, {});
  REQUIRE(pc.ok());
  CompleteMultipartOptions none_match;
  none_match.if_none_match_star = true;
  CHECK(u.f.set->CompleteMultipartUpload("bkt", "obj", cond->upload_id, {{1, pc->etag, ""}},
                                         none_match)
            .status()
            .code() == Code::kPreconditionFailed);
  CHECK(*u.f.Get("bkt", "obj") == b);
}

TEST_CASE("multipart: checksums per part, COMPOSITE and FULL_OBJECT", "[erasure_set][multipart]") {
  const std::string p1 = RandomBytes(5 * kMiB, 31), p2 = RandomBytes(12345, 32);
  struct Case {
    const char* alg;
    ChecksumType type;
    ChecksumType stored;
  };
  for (const Case& c : {Case{"CRC32", ChecksumType::kNone, ChecksumType::kComposite},
                        Case{"CRC32C", ChecksumType::kFullObject, ChecksumType::kFullObject},
                        Case{"CRC64NVME", ChecksumType::kNone, ChecksumType::kFullObject},
                        Case{"SHA256", ChecksumType::kComposite, ChecksumType::kComposite},
                        Case{"SHA1", ChecksumType::kNone, ChecksumType::kComposite}}) {
    INFO(c.alg);
    CreateMultipartOptions co;
    co.checksum_algorithm = c.alg;
    co.checksum_type = c.type;
    Mpu u(4, 2, co);
    auto alg = ChecksumAlgorithmFromName(c.alg);
    REQUIRE(alg.ok());
    std::vector<PartChecksum> sums;
    std::vector<CompletedPart> list;
    int num = 1;
    for (const std::string* p : {&p1, &p2}) {
      ChecksumStream cs(*alg);
      cs.Update(p->data(), p->size());
      ChecksumValue v = cs.FinalValue();
      UploadPartOptions po;
      po.checksum_algorithm = c.alg;
      po.checksum_value = v.Base64();
      auto got = u.Part(num, *p, po);
      REQUIRE(got.ok());
      CHECK(got->checksum == v.Base64());
      sums.push_back({v, p->size()});
      list.push_back({num, got->etag, got->checksum});
      ++num;
    }
    // A part whose promised checksum is wrong is refused and keeps nothing.
    UploadPartOptions wrong;
    wrong.checksum_algorithm = c.alg;
    wrong.checksum_value = sums[1].value.Base64();
    CHECK(u.Part(3, p1, wrong).status().code() == Code::kBadDigest);
    auto listed = u.f.set->ListParts("bkt", "obj", u.upload, {});
    REQUIRE(listed.ok());
    CHECK(listed->parts.size() == 2);
    CHECK(listed->upload.checksum_type == c.stored);
    // A part checksum in Complete that does not match.
    std::vector<CompletedPart> bad = list;
    bad[0].checksum = sums[1].value.Base64();
    CHECK(u.Complete(bad).status().code() == Code::kInvalidPart);
    // The whole object's value as the client would compute it.
    std::string expect;
    if (c.stored == ChecksumType::kFullObject) {
      ChecksumStream whole(*alg);
      whole.Update(p1.data(), p1.size());
      whole.Update(p2.data(), p2.size());
      expect = whole.FinalValue().Base64();
      CompleteMultipartOptions wrong_whole;
      wrong_whole.checksum_value = sums[0].value.Base64();
      CHECK(u.Complete(list, wrong_whole).status().code() == Code::kBadDigest);
    } else {
      auto comp = CompositeChecksum(*alg, sums);
      REQUIRE(comp.ok());
      expect = *comp;
    }
    CompleteMultipartOptions o;
    if (c.stored == ChecksumType::kFullObject) o.checksum_value = expect;
    auto done = u.Complete(list, o);
    REQUIRE(done.ok());
    CHECK(done->checksum_type == c.stored);
    CHECK(done->ChecksumHeaderValue() == expect);
    auto head = u.f.set->HeadObject("bkt", "obj");
    REQUIRE(head.ok());
    CHECK(head->ChecksumHeaderValue() == expect);
  }
  // Types S3 refuses.
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  CreateMultipartOptions o;
  o.checksum_algorithm = "SHA256";
  o.checksum_type = ChecksumType::kFullObject;
  CHECK(f.set->CreateMultipartUpload("bkt", "k", o).status().code() == Code::kInvalidArgument);
  o.checksum_algorithm = "CRC64NVME";
  o.checksum_type = ChecksumType::kComposite;
  CHECK(f.set->CreateMultipartUpload("bkt", "k", o).status().code() == Code::kInvalidArgument);
  o.checksum_algorithm = "";
  CHECK(f.set->CreateMultipartUpload("bkt", "k", o).status().code() == Code::kInvalidArgument);
  o.checksum_algorithm = "MD5";
  o.checksum_type = ChecksumType::kNone;
  CHECK(f.set->CreateMultipartUpload("bkt", "k", o).status().code() == Code::kInvalidArgument);
  CHECK(f.set->CreateMultipartUpload("nob", "k", {}).status().code() == Code::kBucketNotFound);
}

TEST_CASE("multipart: ListParts and ListMultipartUploads page and roll up", "[erasure_set][multipart]") {
  Mpu u;
  for (int n : {1, 2, 5, 9}) REQUIRE(u.Part(n, RandomBytes(100 + n, uint64_t(n))).ok());
  ListPartsOptions lo;
  lo.max_parts = 3;
  auto page = u.f.set->ListParts("bkt", "obj", u.upload, lo);
  REQUIRE(page.ok());
  REQUIRE(page->parts.size() == 3);
  CHECK(page->parts[2].part_number == 5);
  CHECK(page->truncated);
  CHECK(page->next_part_number_marker == 5);
  lo.part_number_marker = 5;
  page = u.f.set->ListParts("bkt", "obj", u.upload, lo);
  REQUIRE(page.ok());
  REQUIRE(page->parts.size() == 1);
  CHECK(page->parts[0].part_number == 9);
  CHECK(page->parts[0].size == 109);
  CHECK_FALSE(page->truncated);
  lo.max_parts = 0;
  CHECK(u.f.set->ListParts("bkt", "obj", u.upload, lo).status().code() == Code::kInvalidArgument);

  REQUIRE(u.f.set->MakeBucket("ccc").ok());
  std::vector<std::string> ids;
  for (const char* key : {"a/1", "a/2", "b", "a/1", "z"}) {
    auto up = u.f.set->CreateMultipartUpload("bkt", key, {});
    REQUIRE(up.ok());
    u.f.clock.Advance(1000);
    ids.push_back(up->upload_id);
  }
  REQUIRE(u.f.set->CreateMultipartUpload("ccc", "a/3", {}).ok());  // another bucket
  ListUploadsOptions o;
  auto all = u.f.set->ListMultipartUploads("bkt", o);
  REQUIRE(all.ok());
  std::vector<std::string> keys;
  for (const auto& x : all->uploads) keys.push_back(x.key);
  CHECK(keys == std::vector<std::string>{"a/1", "a/1", "a/2", "b", "obj", "z"});
  o.delimiter = "/";
  all = u.f.set->ListMultipartUploads("bkt", o);
  REQUIRE(all.ok());
  CHECK(all->common_prefixes == std::vector<std::string>{"a/"});
  CHECK(all->uploads.size() == 3);
  // Pages of two, following the markers, visit every upload once.
  ListUploadsOptions pg;
  pg.max_uploads = 2;
  std::vector<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    auto r = u.f.set->ListMultipartUploads("bkt", pg);
    REQUIRE(r.ok());
    for (const auto& x : r->uploads) seen.push_back(x.upload_id);
    if (!r->truncated) break;
    pg.key_marker = r->next_key_marker;
    pg.upload_id_marker = r->next_upload_id_marker;
  }
  CHECK(seen.size() == 6);
  std::sort(seen.begin(), seen.end());
  CHECK(std::unique(seen.begin(), seen.end()) == seen.end());
  ListUploadsOptions pre;
  pre.prefix = "a/";
  auto r = u.f.set->ListMultipartUploads("bkt", pre);
  REQUIRE(r.ok());
  CHECK(r->uploads.size() == 3);
  // Aborted and completed uploads are not listed.
  REQUIRE(u.f.set->AbortMultipartUpload("bkt", "z", ids[4]).ok());
  r = u.f.set->ListMultipartUploads("bkt", {});
  REQUIRE(r.ok());
  CHECK(r->uploads.size() == 5);
}

// The steps that make a part durable and recorded (shard flush, record temp file written and
// flushed, record renamed, staging directory flushed), each failing on some members: on three
// (below the 4+2 write quorum) the part is refused and the previous one stays; on two the part
// is kept and reads back.
TEST_CASE("multipart: a part whose flush or record fails on some members", "[erasure_set][multipart]") {
  struct Step {
    const char* what;
    FaultOp op;
    std::string glob;
  };
  const std::string tmp = std::string(kTmpDir) + "/*";
  const Step steps[] = {{"shard flush", FaultOp::kSync, ".cairn/multipart/*"},
                        {"record write", FaultOp::kOpenWrite, tmp},
                        {"record flush", FaultOp::kSync, tmp},
                        {"record rename", FaultOp::kRename, ".cairn/multipart/*"},
                        {"directory flush", FaultOp::kSyncDir, ".cairn/multipart/*"}};
  const std::string first_data = RandomBytes(9000, 43), second_data = RandomBytes(11000, 44);
  for (const Step& st : steps) {
    for (const std::vector<size_t>& failing : {std::vector<size_t>{0, 2, 4}, {1, 5}}) {
      INFO(st.what << " failing on " << failing.size() << " members");
      Mpu u;
      auto first = u.Part(1, first_data);
      REQUIRE(first.ok());
      for (size_t v : failing) {
        FaultRule r;
        r.op = st.op;
        r.path_glob = st.glob;
        u.f.faulty[v]->AddRule(r);
      }
      auto second = u.Part(1, second_data);
      for (size_t v : failing) CHECK(u.f.faulty[v]->injected() > 0);
      for (size_t v : failing) u.f.faulty[v]->ClearRules();
      if (failing.size() == 3) {
        CHECK(second.status().code() == Code::kQuorum);
        REQUIRE(u.Complete({{1, first->etag, ""}}).ok());
        CHECK(*u.f.Get("bkt", "obj") == first_data);
      } else {
        REQUIRE(second.ok());
        REQUIRE(u.Complete({{1, second->etag, ""}}).ok());
        CHECK(*u.f.Get("bkt", "obj") == second_data);
      }
    }
  }
}

TEST_CASE("multipart: a Complete that fails below the write quorum leaves no object and can be "
          "retried; a part below quorum is not kept",
          "[erasure_set][multipart][crash]") {
  Mpu u;
  const std::string data = RandomBytes(9000, 41);
  auto p = u.Part(1, data);
  REQUIRE(p.ok());
  // Publishing the metadata fails on three members (the write quorum of 4+2 is 4).
  for (size_t v : {0, 2, 4}) {
    FaultRule r;
    r.op = FaultOp::kRename;
    r.path_glob = "bkt/obj=*";
    u.f.faulty[v]->AddRule(r);
  }
  CHECK(u.Complete({{1, p->etag, ""}}).status().code() == Code::kQuorum);
  CHECK(u.f.Get("bkt", "obj").status().code() == Code::kNotFound);
  for (size_t v : {0, 2, 4}) CHECK(u.f.faulty[v]->injected() > 0);
  for (size_t v : {0, 2, 4}) u.f.faulty[v]->ClearRules();
  // The upload is still open, its parts whole.
  auto lp = u.f.set->ListParts("bkt", "obj", u.upload, {});
  REQUIRE(lp.ok());
  CHECK(lp->parts.size() == 1);
  REQUIRE(u.Complete({{1, p->etag, ""}}).ok());
  CHECK(*u.f.Get("bkt", "obj") == data);

  // A part whose shard files fail on three members is refused and the previous part stays.
  Mpu w;
  auto first = w.Part(1, data);
  REQUIRE(first.ok());
  for (size_t v : {1, 3, 5}) {
    FaultRule r;
    r.op = FaultOp::kAppend;
    r.path_glob = ".cairn/multipart/*";
    w.f.faulty[v]->AddRule(r);
  }
  CHECK(w.Part(1, RandomBytes(9000, 42)).status().code() == Code::kQuorum);
  for (size_t v : {1, 3, 5}) w.f.faulty[v]->ClearRules();
  REQUIRE(w.Complete({{1, first->etag, ""}}).ok());
  CHECK(*w.f.Get("bkt", "obj") == data);

  // A crash after the commit, before the record was marked completed: the retry finds the object
  // its upload made.
  Mpu c;
  auto cp = c.Part(1, data);
  REQUIRE(cp.ok());
  Uuid id;
  Uuid::FromHex(c.upload, &id);
  std::vector<std::string> records;
  for (size_t v = 0; v < 6; ++v) {
    auto raw = c.f.mem[v]->ReadFile(UploadRecordPath(id), 1 << 20);
    REQUIRE(raw.ok());
    records.push_back(*raw);
  }
  auto done = c.Complete({{1, cp->etag, ""}});
  REQUIRE(done.ok());
  for (size_t v = 0; v < 6; ++v) {
    REQUIRE(c.f.mem[v]->WriteFile(UploadRecordPath(id), records[v], false).ok());
  }
  // Abort must not take the object's data; the retry answers the object.
  CHECK(c.f.set->AbortMultipartUpload("bkt", "obj", c.upload).code() == Code::kUploadNotFound);
  CHECK(*c.f.Get("bkt", "obj") == data);
  auto retry = c.Complete({{1, cp->etag, ""}});
  REQUIRE(retry.ok());
  CHECK(retry->etag == done->etag);
}

TEST_CASE("multipart: verify sees missing and corrupt part shards", "[erasure_set][multipart][heal]") {
  Mpu u;
  const std::string data = RandomBytes(5 * kMiB, 51), tail = RandomBytes(70000, 52);
  auto p1 = u.Part(1, data);
  auto p2 = u.Part(2, tail);
  REQUIRE(p1.ok());
  REQUIRE(p2.ok());
  REQUIRE(u.Complete({{1, p1->etag, ""}, {2, p2->etag, ""}}).ok());
  CheckOptions deep;
  deep.deep = true;
  auto h = u.f.set->CheckObject("bkt", "obj", deep);
  REQUIRE(h.ok());
  CHECK(h->health == Health::kHealthy);
  CHECK(h->blocks == 80 + 2);
  CHECK(h->bytes_read > 0);

  // One member's second part gone; another member's first part damaged in block 3.
  auto detail = u.f.set->StatObject("bkt", "obj");
  REQUIRE(detail.ok());
  const ObjectMeta& m = detail->meta;
  const uint32_t gone = m.distribution[0], hit = m.distribution[1];
  REQUIRE(u.f.mem[gone]->Remove(PartShardPath(m.data_id, m.parts[1].data_id)).ok());
  const std::string path = PartShardPath(m.data_id, m.parts[0].data_id);
  auto bytes = u.f.mem[hit]->ReadFile(path, 1 << 30);
  REQUIRE(bytes.ok());
  const uint64_t stride = ((64 << 10) / 4) + 8;
  REQUIRE(bytes->size() > 3 * stride + 10);
  (*bytes)[3 * stride + 10] ^= 1;
  REQUIRE(u.f.mem[hit]->WriteFile(path, *bytes, false).ok());

  h = u.f.set->CheckObject("bkt", "obj", deep);
  REQUIRE(h.ok());
  CHECK(h->health == Health::kDegraded);
  bool missing = false, corrupt = false;
  for (const auto& p : h->problems) {
    missing |= p.position == gone && p.problem == ProblemKind::kMissingShard;
    if (p.position == hit && p.problem == ProblemKind::kCorruptBlocks) {
      corrupt = true;
      CHECK(p.blocks == std::vector<std::pair<uint64_t, uint64_t>>{{3, 3}});
    }
  }
  CHECK(missing);
  CHECK(corrupt);
  // Heal rebuilds both part files (checked by a deep verify after) and a lost metadata copy.
  const uint32_t lost_meta = m.distribution[2];
  REQUIRE(u.f.mem[lost_meta]->Remove(KeyPaths("bkt", "obj").meta).ok());
  CheckOptions dry;
  dry.dry_run = true;
  auto would = u.f.set->HealObject("bkt", "obj", dry);
  REQUIRE(would.ok());
  CHECK(would->action == ObjectHealth::Action::kWouldHeal);
  CHECK_FALSE(u.f.mem[gone]->Stat(PartShardPath(m.data_id, m.parts[1].data_id)).ok());
  auto healed = u.f.set->HealObject("bkt", "obj", {});
  REQUIRE(healed.ok());
  CHECK(healed->action == ObjectHealth::Action::kHealed);
  CHECK(healed->after == Health::kHealthy);
  CHECK(std::find(healed->healed.begin(), healed->healed.end(), gone) != healed->healed.end());
  CHECK(std::find(healed->healed.begin(), healed->healed.end(), lost_meta) !=
        healed->healed.end());
  CHECK(u.f.mem[gone]->Stat(PartShardPath(m.data_id, m.parts[1].data_id)).ok());
  CHECK(u.f.mem[lost_meta]->Stat(KeyPaths("bkt", "obj").meta).ok());
  h = u.f.set->CheckObject("bkt", "obj", deep);
  REQUIRE(h.ok());
  CHECK(h->health == Health::kHealthy);
  CHECK(*u.f.Get("bkt", "obj") == data + tail);
  // With three members' part files gone (more than M), heal cannot rebuild and writes nothing.
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(u.f.mem[m.distribution[i]]->Remove(PartShardPath(m.data_id, m.parts[0].data_id)).ok());
  }
  healed = u.f.set->HealObject("bkt", "obj", {});
  REQUIRE(healed.ok());
  CHECK(healed->health == Health::kUnrecoverable);
  CHECK(healed->action == ObjectHealth::Action::kFailed);
  CHECK(u.f.Get("bkt", "obj").status().code() == Code::kDataLoss);
}

TEST_CASE("multipart: gc removes abandoned uploads and the data of replaced objects only",
          "[erasure_set][multipart][gc]") {
  Mpu u;
  const int64_t day = 24LL * 3600 * 1000000000;
  const std::string data = RandomBytes(5000, 61);
  u.f.clock.Set(u.f.clock.NowNs());
  auto live = u.f.set->CreateMultipartUpload("bkt", "live", {});
  REQUIRE(live.ok());
  auto p = u.Part(1, data);
  REQUIRE(p.ok());
  REQUIRE(u.Complete({{1, p->etag, ""}}).ok());  // a multipart object, kept
  auto abandoned = u.f.set->CreateMultipartUpload("bkt", "old", {});
  REQUIRE(abandoned.ok());
  StringSource src(data);
  REQUIRE(u.f.set->UploadPart("bkt", "old", abandoned->upload_id, 1, src, {}).ok());

  GcOptions o;
  o.older_than_ns = day;
  std::vector<GcItem> items;
  auto run = [&] {
    items.clear();
    auto r = u.f.set->CollectGarbage(o, [&](const GcItem& it) { items.push_back(it); });
    REQUIRE(r.ok());
  };
  run();
  for (const auto& it : items) CHECK(it.what != GcKind::kUpload);  // everything is young
  // Two days on: the two open uploads are abandoned, the object's data stays. (The MemVolume
  // file times are the wall clock's: the grace period is measured on the set's clock.)
  u.f.clock.Advance(2 * day);
  run();
  size_t uploads = 0;
  for (const auto& it : items) uploads += it.what == GcKind::kUpload;
  CHECK(uploads == 2 * 6);
  CHECK(*u.f.Get("bkt", "obj") == data);
  auto lst = u.f.set->ListMultipartUploads("bkt", {});
  REQUIRE(lst.ok());
  CHECK(lst->uploads.empty());
  // The object overwritten: its parts are garbage once the grace period has passed.
  REQUIRE(u.f.Put("bkt", "obj", "small").ok());
  u.f.clock.Advance(2 * day);
  run();
  uploads = 0;
  for (const auto& it : items) uploads += it.what == GcKind::kUpload;
  CHECK(uploads == 6);
  Uuid id;
  Uuid::FromHex(u.upload, &id);
  for (size_t v = 0; v < 6; ++v) CHECK_FALSE(u.f.mem[v]->Stat(UploadDir(id)).ok());
  CHECK(*u.f.Get("bkt", "obj") == "small");
}

TEST_CASE("multipart: the parts of a deleted or overwritten object go after the release grace",
          "[erasure_set][multipart][gc]") {
  Mpu u;
  const int64_t hour = 3600LL * 1000000000;
  // The set's clock where the MemVolumes' fake one starts (it ticks a microsecond per change), so
  // that the release mark's mtime reads as just now.
  const int64_t start = 1'700'000'000'000'000'000;
  u.f.clock.Set(start);
  const std::string data = RandomBytes(5000, 62);
  auto p = u.Part(1, data);
  REQUIRE(p.ok());
  REQUIRE(u.Complete({{1, p->etag, ""}}).ok());
  Uuid id;
  Uuid::FromHex(u.upload, &id);
  GcOptions o;
  o.older_than_ns = 24 * hour;
  o.released_older_than_ns = hour;
  size_t uploads = 0;
  auto run = [&] {
    uploads = 0;
    auto r = u.f.set->CollectGarbage(o, [&](const GcItem& it) { uploads += it.what == GcKind::kUpload; });
    REQUIRE(r.ok());
  };
  // Named by the object: kept however old, and never marked.
  u.f.clock.Advance(2 * hour);
  run();
  CHECK(uploads == 0);
  for (size_t v = 0; v < 6; ++v) CHECK_FALSE(u.f.mem[v]->Stat(UploadReleasedPath(id)).ok());
  // Back to the MemVolumes' time (a second on, past their ticks so far): the mark is made now.
  u.f.clock.Set(start + 1000000000);
  SECTION("deleted") { REQUIRE(u.f.set->DeleteObject("bkt", "obj").ok()); }
  SECTION("overwritten") { REQUIRE(u.f.Put("bkt", "obj", "small").ok()); }
  for (size_t v = 0; v < 6; ++v) CHECK(u.f.mem[v]->Stat(UploadReleasedPath(id)).ok());
  // Just released: a GET that opened the old version may still read the parts.
  run();
  CHECK(uploads == 0);
  for (size_t v = 0; v < 6; ++v) CHECK(u.f.mem[v]->Stat(UploadDir(id)).ok());
  // An hour and more on (far short of the 24 h grace): gone from every member.
  u.f.clock.Advance(2 * hour);
  run();
  CHECK(uploads == 6);
  for (size_t v = 0; v < 6; ++v) CHECK_FALSE(u.f.mem[v]->Stat(UploadDir(id)).ok());
}

TEST_CASE("multipart: gc takes what an abort cut short left, keeps uploads while a member is "
          "offline; stat sees each part's shard files",
          "[erasure_set][multipart][gc]") {
  Mpu u;
  const int64_t day = 24LL * 3600 * 1000000000;
  u.f.clock.Set(u.f.clock.NowNs());
  auto p = u.Part(1, RandomBytes(3000, 71));
  REQUIRE(p.ok());
  // An abort that removed the records and stopped: directories without a record.
  Uuid id;
  Uuid::FromHex(u.upload, &id);
  for (size_t v = 0; v < 6; ++v) REQUIRE(u.f.mem[v]->Remove(UploadRecordPath(id)).ok());
  CHECK(u.Part(2, "x").status().code() == Code::kUploadNotFound);
  auto other = u.f.set->CreateMultipartUpload("bkt", "other", {});
  REQUIRE(other.ok());
  u.f.clock.Advance(2 * day);
  // A member offline: the open upload stays (its copies there might name it), the directories
  // without any record go.
  u.f.vols[3] = nullptr;
  u.f.Reopen();
  REQUIRE(u.f.set);
  GcOptions o;
  o.older_than_ns = day;
  std::vector<GcItem> items;
  auto r = u.f.set->CollectGarbage(o, [&](const GcItem& it) { items.push_back(it); });
  REQUIRE(r.ok());
  size_t uploads = 0;
  for (const auto& it : items) {
    if (it.what != GcKind::kUpload) continue;
    ++uploads;
    CHECK(it.path == UploadDir(id));
    CHECK(it.bytes > 0);
  }
  CHECK(uploads == 5);  // the five online members
  CHECK_FALSE(r->notes.empty());
  CHECK(std::string(Name(GcKind::kUpload)) == "upload");
  Uuid oid;
  Uuid::FromHex(other->upload_id, &oid);
  CHECK(u.f.mem[0]->Stat(UploadDir(oid)).ok());

  // stat: a member that lost one part's shard file says so.
  u.f.vols[3] = u.f.faulty[3].get();
  u.f.Reopen();
  auto q = u.f.set->CreateMultipartUpload("bkt", "s", {});
  REQUIRE(q.ok());
  StringSource src(RandomBytes(100000, 72));
  auto qp = u.f.set->UploadPart("bkt", "s", q->upload_id, 1, src, {});
  REQUIRE(qp.ok());
  REQUIRE(u.f.set->CompleteMultipartUpload("bkt", "s", q->upload_id, {{1, qp->etag, ""}}, {}).ok());
  auto d = u.f.set->StatObject("bkt", "s");
  REQUIRE(d.ok());
  for (const auto& sh : d->shards) CHECK(sh.state == CopyState::kOk);
  const uint32_t pos = d->meta.distribution[0];
  REQUIRE(u.f.mem[pos]->Remove(PartShardPath(d->meta.data_id, d->meta.parts[0].data_id)).ok());
  d = u.f.set->StatObject("bkt", "s");
  REQUIRE(d.ok());
  CHECK(d->shards[pos].state == CopyState::kMissingShard);
}

TEST_CASE("multipart: parts of one upload and Completes of one key run concurrently",
          "[erasure_set][multipart]") {
  Mpu u;
  // Eight threads upload parts 1..16 of one upload, each part twice (the last upload of a number
  // is the part); every part lands whole.
  std::vector<std::string> bodies(17);
  for (int n = 1; n <= 16; ++n) bodies[n] = RandomBytes(2000 + n, uint64_t(100 + n));
  // Catch2's assertions are not thread-safe: the threads count failures, the test checks them.
  std::atomic<int> failed_parts{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      for (int round = 0; round < 2; ++round) {
        for (int n = 1 + t; n <= 16; n += 8) {
          StringSource src(round == 0 ? RandomBytes(1500, uint64_t(n)) : bodies[n]);
          if (!u.f.set->UploadPart("bkt", "obj", u.upload, n, src, {}).ok()) ++failed_parts;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(failed_parts == 0);
  auto lp = u.f.set->ListParts("bkt", "obj", u.upload, {});
  REQUIRE(lp.ok());
  REQUIRE(lp->parts.size() == 16);
  for (const auto& p : lp->parts) {
    CHECK(p.etag == ToHex(Md5Digest(bodies[p.part_number]).data(), 16));
  }
  // Four uploads of one key complete at once: the key ends up holding one of them, whole, and
  // each Complete either succeeded or lost to no one (all succeed: the last wins).
  std::vector<std::string> ids(4), etags(4), data(4);
  for (int i = 0; i < 4; ++i) {
    auto up = u.f.set->CreateMultipartUpload("bkt", "race", {});
    REQUIRE(up.ok());
    ids[i] = up->upload_id;
    data[i] = RandomBytes(30000 + size_t(i), uint64_t(200 + i));
    StringSource src(data[i]);
    auto p = u.f.set->UploadPart("bkt", "race", ids[i], 1, src, {});
    REQUIRE(p.ok());
    etags[i] = p->etag;
  }
  std::atomic<int> failed_completes{0};
  std::vector<std::thread> cs;
  for (int i = 0; i < 4; ++i) {
    cs.emplace_back([&, i] {
      if (!u.f.set->CompleteMultipartUpload("bkt", "race", ids[i], {{1, etags[i], ""}}, {}).ok())
        ++failed_completes;
    });
  }
  for (auto& t : cs) t.join();
  CHECK(failed_completes == 0);
  auto got = u.f.Get("bkt", "race");
  REQUIRE(got.ok());
  CHECK(std::find(data.begin(), data.end(), *got) != data.end());
}
