// Hashing: XXH3 (block checksums, fast ETags, key placement) and MD5 (S3 ETags).
// This header and hash.cc are the only places that include xxHash or OpenSSL's digest API.
// The XXH3 functions use xxHash's runtime dispatch (AVX-512/AVX2/SSE2), never -march.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace cairn {

uint64_t Xxh3_64(const void* data, size_t len);
uint64_t Xxh3_64(const void* data, size_t len, uint64_t seed);

struct Hash128 {
  uint64_t hi = 0, lo = 0;
  bool operator==(const Hash128& o) const { return hi == o.hi && lo == o.lo; }
  bool operator!=(const Hash128& o) const { return !(*this == o); }
  std::string Hex() const;  // 32 lowercase hex digits, hi first
};
Hash128 Xxh3_128(const void* data, size_t len);

// Streaming XXH3-128. Not thread-safe; one per stream.
class Xxh3_128Stream {
 public:
  Xxh3_128Stream();
  ~Xxh3_128Stream();
  Xxh3_128Stream(const Xxh3_128Stream&) = delete;
  Xxh3_128Stream& operator=(const Xxh3_128Stream&) = delete;
  void Reset();
  void Update(const void* data, size_t len);
  Hash128 Digest() const;

 private:
  void* state_;  // XXH3_state_t
};

// Streaming MD5 over OpenSSL EVP. Not thread-safe; one per stream.
class Md5Stream {
 public:
  Md5Stream();
  ~Md5Stream();
  Md5Stream(const Md5Stream&) = delete;
  Md5Stream& operator=(const Md5Stream&) = delete;
  void Reset();
  void Update(const void* data, size_t len);
  // Writes the 16-byte digest; the stream must be Reset() before reuse.
  void Final(uint8_t out[16]);
  std::string FinalHex();

 private:
  void* ctx_;  // EVP_MD_CTX
};

// Streaming SHA-1 or SHA-256 over OpenSSL EVP (x-amz-checksum-sha1|sha256, SigV4 payload hashes).
// Not thread-safe; one per stream.
class ShaStream {
 public:
  enum class Kind { kSha1, kSha256 };
  static constexpr size_t kMaxDigestLen = 32;
  explicit ShaStream(Kind kind);
  ~ShaStream();
  ShaStream(const ShaStream&) = delete;
  ShaStream& operator=(const ShaStream&) = delete;
  Kind kind() const { return kind_; }
  size_t digest_len() const { return kind_ == Kind::kSha1 ? 20 : 32; }
  void Reset();
  void Update(const void* data, size_t len);
  // Writes digest_len() bytes to out and returns that length; Reset() before reuse.
  size_t Final(uint8_t* out);

 private:
  Kind kind_;
  void* ctx_;  // EVP_MD_CTX
};

// One-shot SHA-256 of data into out[32].
void Sha256(const void* data, size_t len, uint8_t out[32]);
// Lowercase hex SHA-256 (SigV4's canonical request and empty-payload hashes).
std::string Sha256Hex(const void* data, size_t len);
// HMAC-SHA256 of data under key into out[32] (SigV4 signing keys and signatures).
void HmacSha256(const void* key, size_t key_len, const void* data, size_t len, uint8_t out[32]);
// HMAC-SHA1 of data under key into out[20] (SigV2 presigned URLs, which boto3, the aws cli v1 and
// s3cmd still make by default).
void HmacSha1(const void* key, size_t key_len, const void* data, size_t len, uint8_t out[20]);
// Compares n bytes in time that does not depend on where they differ (signature checks).
bool ConstantTimeEqual(const void* a, const void* b, size_t n);

std::string ToHex(const uint8_t* data, size_t len);

}  // namespace cairn
