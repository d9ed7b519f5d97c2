// The checksums S3 clients send with a body (x-amz-checksum-crc32|crc32c|crc64nvme|sha1|sha256,
// Content-MD5, the SHA-256 of a signed payload), computed while the body streams.
//
// CRC32 (the gzip/zlib CRC) and CRC32C (Castagnoli) come from ISA-L; CRC64NVME (ISA-L 2.30 lacks
// it) is ours: carry-less multiply folding with runtime dispatch (AVX-512 VPCLMULQDQ, then
// PCLMULQDQ) and a slicing-by-8 table fallback. SHA-1/SHA-256 and MD5 come from hash.h. This
// file's .cc is the only include of ISA-L's CRC header.
//
// CRC conventions: every function takes and returns the finished CRC (init and xorout already
// applied, as zlib's crc32()), so Crc32(0, ...) starts a new one and Crc32(Crc32(0, a), b) is the
// CRC of a||b. S3 sends a CRC as its big-endian bytes in base64; SHAs as their digest in base64.
// Thread safety: the free functions are pure; a stream is used by one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "libstore/common/hash.h"
#include "libstore/common/status.h"

namespace cairn {

enum class ChecksumAlgorithm { kNone, kCrc32, kCrc32c, kCrc64Nvme, kSha1, kSha256 };
constexpr ChecksumAlgorithm kLastChecksumAlgorithm = ChecksumAlgorithm::kSha256;

// "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" (S3's names: x-amz-checksum-algorithm,
// x-amz-sdk-checksum-algorithm, ChecksumAlgorithm in XML); "NONE" for kNone.
const char* Name(ChecksumAlgorithm a);
// "x-amz-checksum-crc32" ... (lowercase); "" for kNone.
const char* HeaderName(ChecksumAlgorithm a);
// Raw digest length in bytes: 4, 4, 8, 20, 32; 0 for kNone.
size_t DigestLength(ChecksumAlgorithm a);
// From S3's name, ASCII case-insensitive ("crc32" too: x-amz-trailer lists headers in lowercase
// and some SDKs send the algorithm that way). kNone is never returned; an unknown name is
// kInvalidArgument naming it.
Result<ChecksumAlgorithm> ChecksumAlgorithmFromName(std::string_view name);
// From a header name ("x-amz-checksum-crc64nvme", case-insensitive); kInvalidArgument otherwise.
Result<ChecksumAlgorithm> ChecksumAlgorithmFromHeader(std::string_view header);

constexpr size_t kMaxChecksumLen = 32;

// A finished digest of one algorithm: its raw bytes (a CRC as big-endian bytes).
struct ChecksumValue {
  ChecksumAlgorithm algorithm = ChecksumAlgorithm::kNone;
  uint8_t len = 0;
  std::array<uint8_t, kMaxChecksumLen> bytes{};

  std::string_view raw() const { return {reinterpret_cast<const char*>(bytes.data()), len}; }
  std::string Base64() const;
  bool operator==(const ChecksumValue& o) const;
  bool operator!=(const ChecksumValue& o) const { return !(*this == o); }
};

// Parses a client's base64 value for `a` (a header or trailer value, or a part's checksum in
// XML). kInvalidDigest, naming the header, when the value is not strict base64 or not exactly
// DigestLength(a) bytes; kInvalidArgument for kNone.
Result<ChecksumValue> ParseChecksum(ChecksumAlgorithm a, std::string_view base64);
// A Content-MD5 header: kInvalidDigest unless strict base64 of exactly 16 bytes.
Result<std::array<uint8_t, 16>> ParseContentMd5(std::string_view base64);
// x-amz-content-sha256 holding a payload hash: 64 hex digits (either case). kInvalidArgument
// otherwise (S3 answers InvalidArgument for a malformed value; UNSIGNED-PAYLOAD and the
// STREAMING-* names are the caller's to recognise first).
Result<std::array<uint8_t, 32>> ParsePayloadSha256Hex(std::string_view hex);

// The CRCs, finished-value in and out (see the conventions above).
uint32_t Crc32(uint32_t crc, const void* data, size_t len);
uint32_t Crc32c(uint32_t crc, const void* data, size_t len);
uint64_t Crc64Nvme(uint64_t crc, const void* data, size_t len);

// CRC of A||B from crc(A), crc(B) and len(B), in O(log len_b) without the data. For the
// FULL_OBJECT checksum of a multipart upload built from its parts' CRCs.
uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
uint64_t Crc64NvmeCombine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

// One part of a multipart object for the two whole-object forms below.
struct PartChecksum {
  ChecksumValue value;
  uint64_t size = 0;  // bytes in the part (FULL_OBJECT only)
};
// FULL_OBJECT: the checksum of the whole object from its parts' CRCs (CRC algorithms only;
// kInvalidArgument for a SHA, kNone, or a part of another algorithm). No parts: the CRC of "".
Result<ChecksumValue> CombineFullObject(ChecksumAlgorithm a, std::span<const PartChecksum> parts);
// COMPOSITE: the checksum of the parts' raw checksums concatenated, sent as "<base64>-<N>" (any
// algorithm but kNone; kInvalidArgument for a part of another algorithm or no parts).
Result<std::string> CompositeChecksum(ChecksumAlgorithm a, std::span<const PartChecksum> parts);

// One algorithm over a stream. Construction (and Reset to another algorithm) may allocate a SHA
// context; Update and Final never allocate.
class ChecksumStream {
 public:
  explicit ChecksumStream(ChecksumAlgorithm a = ChecksumAlgorithm::kNone);
  ~ChecksumStream();
  ChecksumStream(const ChecksumStream&) = delete;
  ChecksumStream& operator=(const ChecksumStream&) = delete;

  ChecksumAlgorithm algorithm() const { return alg_; }
  size_t digest_len() const { return DigestLength(alg_); }
  // Starts over with the same algorithm / with another one.
  void Reset();
  void Reset(ChecksumAlgorithm a);
  void Update(const void* data, size_t len);
  // Writes digest_len() raw bytes (a CRC big-endian) and returns that length; Reset() before
  // reusing the stream. kNone writes nothing and returns 0.
  size_t Final(uint8_t* out);
  ChecksumValue FinalValue();

 private:
  ChecksumAlgorithm alg_;
  uint64_t crc_ = 0;
  std::unique_ptr<ShaStream> sha_;
};

// What a client promised about a body, each optional.
struct ExpectedDigests {
  std::optional<std::array<uint8_t, 16>> content_md5;  // Content-MD5
  std::optional<ChecksumValue> checksum;               // one x-amz-checksum-* (header or trailer)
  std::optional<std::array<uint8_t, 32>> payload_sha256;  // a signed x-amz-content-sha256
};

// Every digest a PUT needs, computed in one pass over the body: MD5 (Content-MD5 and the ETag),
// one x-amz-checksum-* algorithm, and the SHA-256 of a signed payload. Update feeds the streams a
// cache-sized piece at a time, so a large block is read from memory once, not once per digest.
// Reset/Update/Finish do not allocate once every stream a plan names has been used.
class BodyChecksums {
 public:
  struct Plan {
    bool md5 = false;                                       // Content-MD5 or an MD5 ETag
    ChecksumAlgorithm checksum = ChecksumAlgorithm::kNone;  // x-amz-checksum-*
    bool payload_sha256 = false;                            // a signed payload
  };
  BodyChecksums();
  explicit BodyChecksums(const Plan& plan);
  ~BodyChecksums();
  BodyChecksums(const BodyChecksums&) = delete;
  BodyChecksums& operator=(const BodyChecksums&) = delete;

  // Starts a new body with this plan.
  void Reset(const Plan& plan);
  const Plan& plan() const { return plan_; }
  void Update(const void* data, size_t len);
  // Finishes every planned digest; call once, after the last Update.
  void Finish();
  uint64_t bytes() const { return bytes_; }

  // After Finish: the digests that were planned (unplanned ones are zero / kNone).
  const std::array<uint8_t, 16>& md5() const { return md5_; }
  const ChecksumValue& checksum() const { return checksum_; }
  const std::array<uint8_t, 32>& payload_sha256() const { return sha256_; }

  // After Finish: compares with what the client promised. The payload hash first
  // (kContentSha256Mismatch), then Content-MD5 and the x-amz-checksum-* (kBadDigest), each
  // message naming what did not match. An expectation the plan did not compute (or a checksum of
  // another algorithm than planned) is kInternal: the caller planned wrong.
  Status Verify(const ExpectedDigests& expected) const;

 private:
  Plan plan_;
  bool finished_ = false;
  uint64_t bytes_ = 0;
  std::unique_ptr<Md5Stream> md5_stream_;
  ChecksumStream checksum_stream_;
  std::unique_ptr<ShaStream> sha256_stream_;
  std::array<uint8_t, 16> md5_{};
  ChecksumValue checksum_;
  std::array<uint8_t, 32> sha256_{};
};

// Exposed for tests and the benchmark: each CRC64NVME implementation, and whether this CPU runs
// it. Same conventions as Crc64Nvme.
namespace crc64nvme_internal {
uint64_t Table(uint64_t crc, const void* data, size_t len);
bool HaveClmul();
uint64_t Clmul(uint64_t crc, const void* data, size_t len);  // needs HaveClmul()
bool HaveVpclmul();
uint64_t Vpclmul(uint64_t crc, const void* data, size_t len);  // needs HaveVpclmul()
// "vpclmulqdq", "pclmulqdq" or "table": what Crc64Nvme dispatches to on this CPU.
const char* Dispatched();
}  // namespace crc64nvme_internal

}  // namespace cairn
