#include "libstore/common/checksum.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <cstring>

#include "libstore/common/base64.h"

namespace cairn {
namespace {

struct AlgorithmInfo {
  ChecksumAlgorithm alg;
  const char* name;
  const char* header;
  size_t len;
};
constexpr AlgorithmInfo kAlgorithms[] = {
    {ChecksumAlgorithm::kNone, "NONE", "", 0},
    {ChecksumAlgorithm::kCrc32, "CRC32", "x-amz-checksum-crc32", 4},
    {ChecksumAlgorithm::kCrc32c, "CRC32C", "x-amz-checksum-crc32c", 4},
    {ChecksumAlgorithm::kCrc64Nvme, "CRC64NVME", "x-amz-checksum-crc64nvme", 8},
    {ChecksumAlgorithm::kSha1, "SHA1", "x-amz-checksum-sha1", 20},
    {ChecksumAlgorithm::kSha256, "SHA256", "x-amz-checksum-sha256", 32},
};
const AlgorithmInfo& Info(ChecksumAlgorithm a) { return kAlgorithms[static_cast<int>(a)]; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Polynomial arithmetic modulo a reflected CRC polynomial of `width` bits (bit width-1 is x^0),
// for combining CRCs as zlib's crc32_combine does.
struct CrcPoly {
  uint64_t poly;
  int width;
  uint64_t one() const { return uint64_t{1} << (width - 1); }
};
constexpr CrcPoly kCrc32Poly{0xEDB88320ULL, 32};
constexpr CrcPoly kCrc32cPoly{0x82F63B78ULL, 32};
constexpr CrcPoly kCrc64NvmePoly{0x9A6C9329AC4BC9B5ULL, 64};

uint64_t MulModP(const CrcPoly& p, uint64_t a, uint64_t b) {
  uint64_t r = 0;
  for (uint64_t m = p.one(); m != 0; m >>= 1) {
    if (a & m) r ^= b;
    b = (b & 1) ? (b >> 1) ^ p.poly : b >> 1;
  }
  return r;
}

// x^(8n) mod P by squaring: x^(2^k) for k = 3, 4, ... multiplied in for each set bit of n.
uint64_t XPow8n(const CrcPoly& p, uint64_t n) {
  uint64_t sq = p.one() >> 1;  // x^1
  for (int k = 0; k < 3; ++k) sq = MulModP(p, sq, sq);
  uint64_t r = p.one();
  for (; n != 0; n >>= 1) {
    if (n & 1) r = MulModP(p, r, sq);
    sq = MulModP(p, sq, sq);
  }
  return r;
}

uint64_t Combine(const CrcPoly& p, uint64_t crc_a, uint64_t crc_b, uint64_t len_b) {
  // With init == xorout the two cancel: crc(A||B) = crc(A) * x^(8 len B) + crc(B).
  return MulModP(p, XPow8n(p, len_b), crc_a) ^ crc_b;
}

void PutBigEndian(uint64_t v, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
}
uint64_t GetBigEndian(const uint8_t* in, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | in[i];
  return v;
}

bool IsCrc(ChecksumAlgorithm a) {
  return a == ChecksumAlgorithm::kCrc32 || a == ChecksumAlgorithm::kCrc32c ||
         a == ChecksumAlgorithm::kCrc64Nvme;
}

// Pieces Update hands to each stream in turn: small enough that the later streams read it from
// L2, large enough that the per-call overhead is nothing.
constexpr size_t kPiece = size_t{64} << 10;

}  // namespace

const char* Name(ChecksumAlgorithm a) { return Info(a).name; }
const char* HeaderName(ChecksumAlgorithm a) { return Info(a).header; }
size_t DigestLength(ChecksumAlgorithm a) { return Info(a).len; }

Result<ChecksumAlgorithm> ChecksumAlgorithmFromName(std::string_view name) {
  for (const auto& i : kAlgorithms) {
    if (i.alg != ChecksumAlgorithm::kNone && EqualsIgnoreCase(name, i.name)) return i.alg;
  }
  return InvalidArgument("unknown checksum algorithm '" + std::string(name) +
                         "' (expected CRC32, CRC32C, CRC64NVME, SHA1 or SHA256)");
}

Result<ChecksumAlgorithm> ChecksumAlgorithmFromHeader(std::string_view header) {
  for (const auto& i : kAlgorithms) {
    if (i.alg != ChecksumAlgorithm::kNone && EqualsIgnoreCase(header, i.header)) return i.alg;
  }
  return InvalidArgument("'" + std::string(header) + "' is not an x-amz-checksum-* header");
}

std::string ChecksumValue::Base64() const { return Base64Encode(bytes.data(), len); }

bool ChecksumValue::operator==(const ChecksumValue& o) const {
  return algorithm == o.algorithm && len == o.len &&
         std::memcmp(bytes.data(), o.bytes.data(), len) == 0;
}

Result<ChecksumValue> ParseChecksum(ChecksumAlgorithm a, std::string_view base64) {
  if (a == ChecksumAlgorithm::kNone) return InvalidArgument("no checksum algorithm to parse for");
  ChecksumValue v;
  v.algorithm = a;
  auto n = Base64DecodeTo(base64, v.bytes.data(), v.bytes.size());
  if (!n.ok() || *n != DigestLength(a)) {
    return Status(Code::kInvalidDigest,
                  std::string("the value of ") + HeaderName(a) + " is not the base64 of a " +
                      std::to_string(DigestLength(a)) + "-byte " + Name(a) + " checksum");
  }
  v.len = static_cast<uint8_t>(*n);
  return v;
}

Result<std::array<uint8_t, 16>> ParseContentMd5(std::string_view base64) {
  std::array<uint8_t, 16> d{};
  uint8_t buf[18];
  auto n = Base64DecodeTo(base64, buf, sizeof buf);
  if (!n.ok() || *n != 16) {
    return Status(Code::kInvalidDigest,
                  "the Content-MD5 you specified is not the base64 of a 16-byte MD5");
  }
  std::memcpy(d.data(), buf, 16);
  return d;
}

Result<std::array<uint8_t, 32>> ParsePayloadSha256Hex(std::string_view hex) {
  std::array<uint8_t, 32> d{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  bool ok = hex.size() == 64;
  for (size_t i = 0; ok && i < 32; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    d[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (!ok) {
    return InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value or 64 hex digits");
  }
  return d;
}

uint32_t Crc32(uint32_t crc, const void* data, size_t len) {
  // ISA-L's gzip CRC applies init and xorout itself (zlib's convention).
  return crc32_gzip_refl(crc, static_cast<const unsigned char*>(data), len);
}

uint32_t Crc32c(uint32_t crc, const void* data, size_t len) {
  // crc32_iscsi works on the raw register (no inversion) and takes an int length.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t r = ~crc;
  constexpr size_t kMax = size_t{1} << 30;
  while (len > 0) {
    size_t n = std::min(len, kMax);
    r = crc32_iscsi(p, static_cast<int>(n), r);
    p += n, len -= n;
  }
  return ~r;
}

uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(Combine(kCrc32Poly, crc_a, crc_b, len_b));
}
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(Combine(kCrc32cPoly, crc_a, crc_b, len_b));
}
uint64_t Crc64NvmeCombine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b) {
  return Combine(kCrc64NvmePoly, crc_a, crc_b, len_b);
}

Result<ChecksumValue> CombineFullObject(ChecksumAlgorithm a, std::span<const PartChecksum> parts) {
  if (!IsCrc(a)) {
    return InvalidArgument(std::string("a FULL_OBJECT checksum needs a CRC algorithm, not ") +
                           Name(a));
  }
  const CrcPoly& p = a == ChecksumAlgorithm::kCrc32    ? kCrc32Poly
                     : a == ChecksumAlgorithm::kCrc32c ? kCrc32cPoly
                                                       : kCrc64NvmePoly;
  const size_t n = DigestLength(a);
  uint64_t crc = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const ChecksumValue& v = parts[i].value;
    if (v.algorithm != a || v.len != n) {
      return InvalidArgument("part " + std::to_string(i + 1) + " has a " + Name(v.algorithm) +
                             " checksum, not " + Name(a));
    }
    crc = Combine(p, crc, GetBigEndian(v.bytes.data(), n), parts[i].size);
  }
  ChecksumValue out;
  out.algorithm = a;
  out.len = static_cast<uint8_t>(n);
  PutBigEndian(crc, n, out.bytes.data());
  return out;
}

Result<std::string> CompositeChecksum(ChecksumAlgorithm a, std::span<const PartChecksum> parts) {
  if (a == ChecksumAlgorithm::kNone)
    return InvalidArgument("a COMPOSITE checksum needs an algorithm");
  if (parts.empty()) return InvalidArgument("a COMPOSITE checksum needs at least one part");
  ChecksumStream s(a);
  for (size_t i = 0; i < parts.size(); ++i) {
    const ChecksumValue& v = parts[i].value;
    if (v.algorithm != a || v.len != DigestLength(a)) {
      return InvalidArgument("part " + std::to_string(i + 1) + " has a " + Name(v.algorithm) +
                             " checksum, not " + Name(a));
    }
    s.Update(v.bytes.data(), v.len);
  }
  return s.FinalValue().Base64() + "-" + std::to_string(parts.size());
}

ChecksumStream::ChecksumStream(ChecksumAlgorithm a) : alg_(ChecksumAlgorithm::kNone) { Reset(a); }
ChecksumStream::~ChecksumStream() = default;

void ChecksumStream::Reset() { Reset(alg_); }

void ChecksumStream::Reset(ChecksumAlgorithm a) {
  alg_ = a;
  crc_ = 0;
  if (a == ChecksumAlgorithm::kSha1 || a == ChecksumAlgorithm::kSha256) {
    auto kind = a == ChecksumAlgorithm::kSha1 ? ShaStream::Kind::kSha1 : ShaStream::Kind::kSha256;
    if (sha_ == nullptr || sha_->kind() != kind) {
      sha_ = std::make_unique<ShaStream>(kind);
    } else {
      sha_->Reset();
    }
  }
}

void ChecksumStream::Update(const void* data, size_t len) {
  switch (alg_) {
    case ChecksumAlgorithm::kNone:
      break;
    case ChecksumAlgorithm::kCrc32:
      crc_ = Crc32(static_cast<uint32_t>(crc_), data, len);
      break;
    case ChecksumAlgorithm::kCrc32c:
      crc_ = Crc32c(static_cast<uint32_t>(crc_), data, len);
      break;
    case ChecksumAlgorithm::kCrc64Nvme:
      crc_ = Crc64Nvme(crc_, data, len);
      break;
    case ChecksumAlgorithm::kSha1:
    case ChecksumAlgorithm::kSha256:
      sha_->Update(data, len);
      break;
  }
}

size_t ChecksumStream::Final(uint8_t* out) {
  const size_t n = DigestLength(alg_);
  if (IsCrc(alg_)) {
    PutBigEndian(crc_, n, out);
  } else if (n != 0) {
    sha_->Final(out);
  }
  return n;
}

ChecksumValue ChecksumStream::FinalValue() {
  ChecksumValue v;
  v.algorithm = alg_;
  v.len = static_cast<uint8_t>(Final(v.bytes.data()));
  return v;
}

BodyChecksums::BodyChecksums() = default;
BodyChecksums::BodyChecksums(const Plan& plan) { Reset(plan); }
BodyChecksums::~BodyChecksums() = default;

void BodyChecksums::Reset(const Plan& plan) {
  plan_ = plan;
  finished_ = false;
  bytes_ = 0;
  md5_ = {};
  checksum_ = {};
  sha256_ = {};
  if (plan.md5) {
    if (md5_stream_ == nullptr) {
      md5_stream_ = std::make_unique<Md5Stream>();
    } else {
      md5_stream_->Reset();
    }
  }
  if (plan.payload_sha256) {
    if (sha256_stream_ == nullptr) {
      sha256_stream_ = std::make_unique<ShaStream>(ShaStream::Kind::kSha256);
    } else {
      sha256_stream_->Reset();
    }
  }
  checksum_stream_.Reset(plan.checksum);
}

void BodyChecksums::Update(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  bytes_ += len;
  while (len > 0) {
    const size_t n = std::min(len, kPiece);
    if (plan_.md5) md5_stream_->Update(p, n);
    if (plan_.checksum != ChecksumAlgorithm::kNone) checksum_stream_.Update(p, n);
    if (plan_.payload_sha256) sha256_stream_->Update(p, n);
    p += n, len -= n;
  }
}

void BodyChecksums::Finish() {
  if (finished_) return;
  finished_ = true;
  if (plan_.md5) md5_stream_->Final(md5_.data());
  checksum_ = checksum_stream_.FinalValue();
  if (plan_.payload_sha256) sha256_stream_->Final(sha256_.data());
}

Status BodyChecksums::Verify(const ExpectedDigests& expected) const {
  if (!finished_) return Internal("BodyChecksums::Verify before Finish");
  if (expected.payload_sha256) {
    if (!plan_.payload_sha256) return Internal("payload SHA-256 expected but not computed");
    if (!ConstantTimeEqual(expected.payload_sha256->data(), sha256_.data(), 32)) {
      return Status(Code::kContentSha256Mismatch,
                    "the x-amz-content-sha256 you specified did not match what we received "
                    "(computed " +
                        ToHex(sha256_.data(), 32) + ")");
    }
  }
  if (expected.content_md5) {
    if (!plan_.md5) return Internal("Content-MD5 expected but MD5 not computed");
    if (*expected.content_md5 != md5_) {
      return Status(Code::kBadDigest,
                    "the Content-MD5 you specified did not match what we received (computed " +
                        Base64Encode(md5_.data(), 16) + ")");
    }
  }
  if (expected.checksum) {
    if (expected.checksum->algorithm != plan_.checksum ||
        plan_.checksum == ChecksumAlgorithm::kNone) {
      return Internal(std::string(Name(expected.checksum->algorithm)) + " expected but " +
                      Name(plan_.checksum) + " computed");
    }
    if (*expected.checksum != checksum_) {
      return Status(Code::kBadDigest, std::string("the ") + Name(plan_.checksum) +
                                          " you specified did not match the calculated checksum "
                                          "(computed " +
                                          checksum_.Base64() + ")");
    }
  }
  return Status::Ok();
}

}  // namespace cairn
