#include "libstore/common/checksum.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "libstore/common/base64.h"

using namespace cairn;

namespace {

// Bit-at-a-time reference for the reflected CRCs (init and xorout all ones), written from the
// definition, to check the fast paths against.
uint64_t ReferenceCrc(uint64_t poly, int width, const std::string& s) {
  const uint64_t mask = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  uint64_t c = mask;
  for (unsigned char b : s) {
    c ^= b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) ? poly : 0);
  }
  return c ^ mask;
}
constexpr uint64_t kNvme = 0x9A6C9329AC4BC9B5ULL;

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string OneShot(ChecksumAlgorithm a, const std::string& s) {
  ChecksumStream st(a);
  st.Update(s.data(), s.size());
  return st.FinalValue().Base64();
}

const ChecksumAlgorithm kAll[] = {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                                  ChecksumAlgorithm::kCrc64Nvme, ChecksumAlgorithm::kSha1,
                                  ChecksumAlgorithm::kSha256};

}  // namespace

TEST_CASE("every checksum matches its published check value", "[checksum]") {
  const std::string check = "123456789";
  CHECK(Crc32(0, check.data(), check.size()) == 0xCBF43926u);
  CHECK(Crc32c(0, check.data(), check.size()) == 0xE3069283u);
  CHECK(Crc64Nvme(0, check.data(), check.size()) == 0xAE8B14860A799888ULL);
  CHECK(crc64nvme_internal::Table(0, check.data(), check.size()) == 0xAE8B14860A799888ULL);
  // S3's form: the big-endian bytes in base64 (values checked with Python's zlib/hashlib and a
  // bitwise CRC-64 written from the definition).
  CHECK(OneShot(ChecksumAlgorithm::kCrc32, check) == "y/Q5Jg==");
  CHECK(OneShot(ChecksumAlgorithm::kCrc32c, check) == "4waSgw==");
  CHECK(OneShot(ChecksumAlgorithm::kCrc64Nvme, check) == "rosUhgp5mIg=");
  const std::string hw = "hello world";
  CHECK(OneShot(ChecksumAlgorithm::kCrc32, hw) == "DUoRhQ==");
  CHECK(OneShot(ChecksumAlgorithm::kCrc32c, hw) == "yZRlqg==");
  CHECK(OneShot(ChecksumAlgorithm::kCrc64Nvme, hw) == "jSnVw/bqjr4=");
  CHECK(OneShot(ChecksumAlgorithm::kSha1, hw) == "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
  CHECK(OneShot(ChecksumAlgorithm::kSha256, hw) == "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
  CHECK(OneShot(ChecksumAlgorithm::kCrc32, "") == "AAAAAA==");
  CHECK(OneShot(ChecksumAlgorithm::kCrc64Nvme, "") == "AAAAAAAAAAA=");
  ChecksumStream none;
  uint8_t out[kMaxChecksumLen];
  none.Update("x", 1);
  CHECK(none.Final(out) == 0);
}

TEST_CASE("every CRC64NVME path equals the bitwise definition at every length and offset",
          "[checksum]") {
  std::mt19937_64 rng(91);
  const std::string buf = RandomBytes(rng, 5000);
  INFO("dispatched to " << crc64nvme_internal::Dispatched());
  for (size_t len = 0; len <= 2200; len += (len < 600 ? 1 : 37)) {
    const size_t off = rng() % 64;
    const std::string s = buf.substr(off, len);
    const uint64_t want = ReferenceCrc(kNvme, 64, s);
    const uint64_t prev = rng();  // as if continuing another stream
    const std::string both = "prefix" + s;
    INFO("len " << len << " offset " << off);
    REQUIRE(crc64nvme_internal::Table(0, s.data(), len) == want);
    REQUIRE(Crc64Nvme(0, s.data(), len) == want);
    REQUIRE(Crc64Nvme(Crc64Nvme(0, "prefix", 6), s.data(), len) == ReferenceCrc(kNvme, 64, both));
    if (crc64nvme_internal::HaveClmul()) {
      REQUIRE(crc64nvme_internal::Clmul(0, s.data(), len) == want);
      REQUIRE(crc64nvme_internal::Clmul(prev, s.data(), len) ==
              crc64nvme_internal::Table(prev, s.data(), len));
    }
    if (crc64nvme_internal::HaveVpclmul()) {
      REQUIRE(crc64nvme_internal::Vpclmul(0, s.data(), len) == want);
      REQUIRE(crc64nvme_internal::Vpclmul(prev, s.data(), len) ==
              crc64nvme_internal::Table(prev, s.data(), len));
    }
  }
  // The ISA-L CRC32s agree with the definition too (a wrong init/xorout convention shows here).
  for (size_t len : {0, 1, 7, 64, 1000}) {
    const std::string s = buf.substr(3, len);
    CHECK(Crc32(0, s.data(), len) == ReferenceCrc(0xEDB88320, 32, s));
    CHECK(Crc32c(0, s.data(), len) == ReferenceCrc(0x82F63B78, 32, s));
  }
}

TEST_CASE("streaming in random splits equals one shot, for every algorithm", "[checksum]") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    const std::string s = RandomBytes(rng, rng() % 300000);
    for (ChecksumAlgorithm a : kAll) {
      ChecksumStream st(a);
      size_t off = 0;
      while (off < s.size()) {
        size_t n = std::min<size_t>(s.size() - off, rng() % 3 == 0 ? rng() % 16 : rng() % 70000);
        st.Update(s.data() + off, n);
        off += n;
      }
      INFO(Name(a) << " size " << s.size());
      CHECK(st.FinalValue().Base64() == OneShot(a, s));
      // Reset and reuse gives the same again.
      st.Reset();
      st.Update(s.data(), s.size());
      CHECK(st.FinalValue().Base64() == OneShot(a, s));
    }
  }
  // Switching a stream's algorithm.
  ChecksumStream st(ChecksumAlgorithm::kSha1);
  st.Reset(ChecksumAlgorithm::kSha256);
  st.Update("hello world", 11);
  CHECK(st.digest_len() == 32);
  CHECK(st.FinalValue().Base64() == OneShot(ChecksumAlgorithm::kSha256, "hello world"));
}

TEST_CASE("CRC combine equals the CRC of the concatenation", "[checksum]") {
  std::mt19937_64 rng(13);
  for (int round = 0; round < 200; ++round) {
    // Lengths from 0 up, including ones far beyond any buffer (combine never sees the data).
    const std::string a = RandomBytes(rng, rng() % 2000);
    const std::string b = RandomBytes(rng, round % 10 == 0 ? 0 : rng() % 5000);
    const std::string ab = a + b;
    INFO("len a " << a.size() << " len b " << b.size());
    CHECK(Crc32Combine(Crc32(0, a.data(), a.size()), Crc32(0, b.data(), b.size()), b.size()) ==
          Crc32(0, ab.data(), ab.size()));
    CHECK(Crc32cCombine(Crc32c(0, a.data(), a.size()), Crc32c(0, b.data(), b.size()), b.size()) ==
          Crc32c(0, ab.data(), ab.size()));
    CHECK(Crc64NvmeCombine(Crc64Nvme(0, a.data(), a.size()), Crc64Nvme(0, b.data(), b.size()),
                           b.size()) == Crc64Nvme(0, ab.data(), ab.size()));
  }
  // A big part: 3 MiB of zeros combined by length.
  const std::string z(3 << 20, '\0');
  CHECK(Crc64NvmeCombine(Crc64Nvme(0, "x", 1), Crc64Nvme(0, z.data(), z.size()), z.size()) ==
        Crc64Nvme(Crc64Nvme(0, "x", 1), z.data(), z.size()));
}

TEST_CASE("FULL_OBJECT and COMPOSITE checksums from parts", "[checksum]") {
  std::mt19937_64 rng(5);
  std::vector<std::string> data;
  std::string whole;
  for (int i = 0; i < 5; ++i) {
    data.push_back(RandomBytes(rng, rng() % 100000));
    whole += data.back();
  }
  for (ChecksumAlgorithm a : kAll) {
    std::vector<PartChecksum> parts;
    std::string concat;
    for (const auto& d : data) {
      ChecksumStream st(a);
      st.Update(d.data(), d.size());
      parts.push_back({st.FinalValue(), d.size()});
      concat += std::string(parts.back().value.raw());
    }
    INFO(Name(a));
    auto comp = CompositeChecksum(a, parts);
    REQUIRE(comp.ok());
    CHECK(*comp == OneShot(a, concat) + "-5");
    auto full = CombineFullObject(a, parts);
    if (a == ChecksumAlgorithm::kSha1 || a == ChecksumAlgorithm::kSha256) {
      CHECK(full.status().code() == Code::kInvalidArgument);
    } else {
      REQUIRE(full.ok());
      CHECK(full->Base64() == OneShot(a, whole));
    }
  }
  // Parts of another algorithm, no parts, kNone.
  std::vector<PartChecksum> mixed(2);
  ChecksumStream st(ChecksumAlgorithm::kCrc32);
  mixed[0].value = st.FinalValue();
  st.Reset(ChecksumAlgorithm::kCrc32c);
  mixed[1].value = st.FinalValue();
  CHECK(CombineFullObject(ChecksumAlgorithm::kCrc32, mixed).status().code() ==
        Code::kInvalidArgument);
  CHECK(CompositeChecksum(ChecksumAlgorithm::kCrc32, mixed).status().code() ==
        Code::kInvalidArgument);
  CHECK(CompositeChecksum(ChecksumAlgorithm::kCrc32, {}).status().code() == Code::kInvalidArgument);
  CHECK(CompositeChecksum(ChecksumAlgorithm::kNone, mixed).status().code() ==
        Code::kInvalidArgument);
  auto empty = CombineFullObject(ChecksumAlgorithm::kCrc64Nvme, {});
  REQUIRE(empty.ok());
  CHECK(empty->Base64() == "AAAAAAAAAAA=");
}

TEST_CASE("algorithm names, header names and digest lengths", "[checksum]") {
  for (ChecksumAlgorithm a : kAll) {
    auto byname = ChecksumAlgorithmFromName(Name(a));
    REQUIRE(byname.ok());
    CHECK(*byname == a);
    auto byheader = ChecksumAlgorithmFromHeader(HeaderName(a));
    REQUIRE(byheader.ok());
    CHECK(*byheader == a);
    ChecksumStream st(a);
    CHECK(st.digest_len() == DigestLength(a));
  }
  CHECK(*ChecksumAlgorithmFromName("crc64nvme") == ChecksumAlgorithm::kCrc64Nvme);
  CHECK(*ChecksumAlgorithmFromHeader("X-Amz-Checksum-CRC32C") == ChecksumAlgorithm::kCrc32c);
  CHECK(std::string(Name(ChecksumAlgorithm::kCrc64Nvme)) == "CRC64NVME");
  CHECK(DigestLength(ChecksumAlgorithm::kCrc64Nvme) == 8);
  CHECK(DigestLength(ChecksumAlgorithm::kNone) == 0);
  for (const char* bad : {"", "NONE", "CRC", "MD5", "crc32 ", "SHA-256"}) {
    CHECK(ChecksumAlgorithmFromName(bad).status().code() == Code::kInvalidArgument);
  }
  for (const char* bad :
       {"", "x-amz-checksum-", "x-amz-checksum-md5", "x-amz-checksum-algorithm", "content-md5"}) {
    CHECK(ChecksumAlgorithmFromHeader(bad).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("parsing a client's digests: kInvalidDigest on malformed values", "[checksum]") {
  auto v = ParseChecksum(ChecksumAlgorithm::kCrc32, "DUoRhQ==");
  REQUIRE(v.ok());
  CHECK(v->len == 4);
  CHECK(v->Base64() == "DUoRhQ==");
  for (const char* bad : {"", "DUoRhQ", "DUoRhQ=", "DUoRhQ==\n", "DUoRhQAA",
                          "DUoRhR==", "AAAAAAAAAAA=", "!!!!!!!!"}) {
    auto r = ParseChecksum(ChecksumAlgorithm::kCrc32, bad);
    INFO(bad);
    CHECK(r.status().code() == Code::kInvalidDigest);
    CHECK(r.status().message().find("x-amz-checksum-crc32") != std::string::npos);
  }
  CHECK(ParseChecksum(ChecksumAlgorithm::kNone, "").status().code() == Code::kInvalidArgument);
  // 33 bytes of SHA-256: too long even for the buffer.
  std::string long_b64 = Base64Encode(std::string(33, 'a'));
  CHECK(ParseChecksum(ChecksumAlgorithm::kSha256, long_b64).status().code() ==
        Code::kInvalidDigest);

  auto md5 = ParseContentMd5("XrY7u+Ae7tCTyyK7j1rNww==");
  REQUIRE(md5.ok());
  CHECK(ToHex(md5->data(), 16) == "5eb63bbbe01eeed093cb22bb8f5acdc3");
  for (const char* bad :
       {"", "XrY7u+Ae7tCTyyK7j1rNww", "XrY7u+Ae7tCTyyK7j1rN", "5eb63bbbe01eeed093cb22bb8f5acdc3"}) {
    CHECK(ParseContentMd5(bad).status().code() == Code::kInvalidDigest);
  }
  const std::string hex = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
  auto sha = ParsePayloadSha256Hex(hex);
  REQUIRE(sha.ok());
  CHECK(ToHex(sha->data(), 32) == hex);
  std::string upper = hex;
  for (auto& c : upper) c = static_cast<char>(std::toupper(c));
  CHECK(ParsePayloadSha256Hex(upper).ok());
  for (std::string bad :
       {std::string("UNSIGNED-PAYLOAD"), hex.substr(1), hex + "0", hex.substr(0, 63) + "g"}) {
    CHECK(ParsePayloadSha256Hex(bad).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("BodyChecksums computes every planned digest in one pass and verifies them",
          "[checksum]") {
  std::mt19937_64 rng(3);
  const std::string body = RandomBytes(rng, 1 << 20);
  BodyChecksums::Plan plan;
  plan.md5 = true;
  plan.checksum = ChecksumAlgorithm::kCrc64Nvme;
  plan.payload_sha256 = true;
  BodyChecksums bc(plan);
  for (size_t off = 0; off < body.size(); off += 100003) {
    bc.Update(body.data() + off, std::min<size_t>(100003, body.size() - off));
  }
  bc.Finish();
  CHECK(bc.bytes() == body.size());

  ExpectedDigests good;
  Md5Stream m;
  m.Update(body.data(), body.size());
  std::array<uint8_t, 16> md5;
  m.Final(md5.data());
  good.content_md5 = md5;
  good.checksum =
      *ParseChecksum(ChecksumAlgorithm::kCrc64Nvme, OneShot(ChecksumAlgorithm::kCrc64Nvme, body));
  std::array<uint8_t, 32> sha;
  Sha256(body.data(), body.size(), sha.data());
  good.payload_sha256 = sha;
  CHECK(bc.md5() == md5);
  CHECK(bc.payload_sha256() == sha);
  CHECK(bc.Verify(good).ok());
  CHECK(bc.Verify(ExpectedDigests{}).ok());

  ExpectedDigests bad = good;
  (*bad.content_md5)[0] ^= 1;
  Status st = bc.Verify(bad);
  CHECK(st.code() == Code::kBadDigest);
  CHECK(st.message().find("Content-MD5") != std::string::npos);

  bad = good;
  bad.checksum->bytes[7] ^= 1;
  st = bc.Verify(bad);
  CHECK(st.code() == Code::kBadDigest);
  CHECK(st.message().find("CRC64NVME") != std::string::npos);

  bad = good;
  (*bad.payload_sha256)[31] ^= 1;
  st = bc.Verify(bad);
  CHECK(st.code() == Code::kContentSha256Mismatch);
  CHECK(st.message().find("x-amz-content-sha256") != std::string::npos);

  // An expectation of another algorithm than planned, or one not planned at all: a bug.
  bad = good;
  bad.checksum = *ParseChecksum(ChecksumAlgorithm::kCrc32, "DUoRhQ==");
  CHECK(bc.Verify(bad).code() == Code::kInternal);
  BodyChecksums only_crc(BodyChecksums::Plan{false, ChecksumAlgorithm::kCrc32, false});
  only_crc.Update("hello world", 11);
  CHECK(only_crc.Verify(good).code() == Code::kInternal);  // before Finish
  only_crc.Finish();
  CHECK(only_crc.Verify(ExpectedDigests{good.content_md5, {}, {}}).code() == Code::kInternal);
  CHECK(only_crc.Verify(ExpectedDigests{{}, {}, good.payload_sha256}).code() == Code::kInternal);
  CHECK(only_crc.checksum().Base64() == "DUoRhQ==");

  // Reset to another plan reuses the object.
  only_crc.Reset(plan);
  only_crc.Update(body.data(), body.size());
  only_crc.Finish();
  CHECK(only_crc.Verify(good).ok());
}
