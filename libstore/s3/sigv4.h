// AWS Signature Version 4 for S3, both sides: a Signer for the S3 client and a Verifier for
// `cairn serve`. Both build the canonical request with the same code (sigv4_canonical.h), so what
// one signs the other accepts.
//
// What the Verifier accepts (docs/serve.md "Authentication" says the same for users):
//  - algorithm AWS4-HMAC-SHA256 only, either in the Authorization header or as a presigned URL
//    (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
//    X-Amz-Signature in the query); both at once is kInvalidArgument;
//  - credential scope <access key>/<yyyymmdd>/<region>/s3/aws4_request, whose region is the
//    server's (else kAuthHeaderMalformed / kAuthQueryMalformed, as S3 answers) and whose date is
//    the request date's day;
//  - request time from x-amz-date (or X-Amz-Date in a presigned query), else from Date (RFC 1123);
//    more than 15 minutes from the clock: kRequestTimeTooSkewed (header form), or for a presigned
//    URL dated that far in the future kAccessDenied "Request is not valid yet"; a presigned URL
//    past X-Amz-Date + X-Amz-Expires: kAccessDenied "Request has expired"; X-Amz-Expires must be
//    0..604800 seconds (kAuthQueryMalformed otherwise);
//  - signed headers, the rule applied (S3's): SignedHeaders is lowercase, strictly sorted and must
//    name `host`; every header it names must be present (kAccessDenied otherwise); every header of
//    the request whose name starts with `x-amz-` must be signed, which covers x-amz-date and
//    x-amz-content-sha256 (kAccessDenied "There were headers present in the request which were not
//    signed"); other headers (Content-Type, User-Agent, Cache-Control...) may be left unsigned:
//    clients differ on which of them they sign, and proxies add their own;
//  - x-amz-content-sha256: a 64-digit hex SHA-256 (the caller checks the body against it while
//    streaming), UNSIGNED-PAYLOAD, or one of the three STREAMING-* modes (header form only; the
//    caller decodes the body with AwsChunkedDecoder). Without the header the payload is taken to be
//    empty (its SHA-256 is the one returned, so a body that is not empty fails the caller's check).
//    A presigned URL's payload is UNSIGNED-PAYLOAD unless the header says otherwise.
// The signature is compared in constant time. Signing keys are cached per access key, day, region
// and service (SigningKeyCache).
//
// Thread safety: Signer, Verifier and SigningKeyCache may be used from any number of threads.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "libstore/common/clock.h"
#include "libstore/common/status.h"

namespace cairn::s3 {

// One request header as the HTTP layer holds it; names compare case-insensitively, and a name that
// appears more than once has its values joined with ',' in order.
struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingSignedTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kEmptySha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr int64_t kMaxPresignExpiresSec = 604800;  // 7 days
inline constexpr int64_t kMaxClockSkewSec = 15 * 60;

// How the body of a request is covered by its signature (from x-amz-content-sha256).
enum class PayloadMode {
  kSignedHash,                // a hex SHA-256 of the whole body
  kUnsigned,                  // UNSIGNED-PAYLOAD
  kStreamingSigned,           // aws-chunked, every chunk signed
  kStreamingUnsignedTrailer,  // aws-chunked, unsigned chunks, then trailing headers
  kStreamingSignedTrailer,    // aws-chunked, signed chunks, then signed trailing headers
};
const char* PayloadModeName(PayloadMode m);
bool IsStreaming(PayloadMode m);
// Classifies an x-amz-content-sha256 value; a hex hash is written to *sha256 (may be null).
// kInvalidArgument for anything else; kNotImplemented for SigV4a's ECDSA streaming modes.
Status ParsePayloadMode(std::string_view value, PayloadMode* mode, uint8_t* sha256);

// What chunk and trailer signatures are chained from: the signing key, the request time and
// scope, and the request's own (seed) signature. Fixed-size except the scope.
struct SigningContext {
  std::array<uint8_t, 32> key{};
  std::array<char, 16> amz_date{};        // yyyymmddThhmmssZ
  std::string scope;                      // yyyymmdd/region/service/aws4_request
  std::array<char, 64> seed_signature{};  // lowercase hex
  std::string_view date() const { return {amz_date.data(), amz_date.size()}; }
  std::string_view seed() const { return {seed_signature.data(), seed_signature.size()}; }
};

// Signing keys (HMAC chain over date, region, service, "aws4_request") per access key, day, region
// and service. Bounded: when it holds `capacity` keys it is emptied before the next insert (keys
// are valid for a day, so this only costs four HMACs per key afterwards). A changed secret for an
// access key is noticed (the secret is kept beside the key and compared).
class SigningKeyCache {
 public:
  explicit SigningKeyCache(size_t capacity = 1024) : capacity_(capacity) {}
  void Get(std::string_view access_key, std::string_view secret, std::string_view date,
           std::string_view region, std::string_view service, uint8_t out[32]);
  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Entry {
    std::string secret;
    std::array<uint8_t, 32> key;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> map_;
  uint64_t hits_ = 0, misses_ = 0;
};

// Derives the signing key without a cache.
void DeriveSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                      std::string_view service, uint8_t out[32]);

// The low-level steps, for tests and tools: the canonical request of the SigV4 spec (with
// `presigned`, the X-Amz-Signature query pair is left out) and the hex signature of a canonical
// request under a signing key. kAccessDenied when a signed header is missing, kInvalidArgument
// when the target is malformed.
Status CanonicalRequest(std::string_view method, std::string_view target,
                        std::span<const HttpHeader> headers, std::string_view signed_headers,
                        std::string_view payload, bool presigned, std::string* out);
std::string SignatureHex(const uint8_t key[32], std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// One user the Verifier knows.
struct Credential {
  std::string access_key;
  std::string secret_key;
  bool read_only = false;
};

// Access key -> credential. The pointer stays valid as long as the lookup object.
class CredentialLookup {
 public:
  virtual ~CredentialLookup() = default;
  // nullptr when the access key is unknown. Must be thread-safe.
  virtual const Credential* Find(std::string_view access_key) const = 0;
};

// A fixed set of users (--access-key/--secret-key, --users FILE).
class CredentialTable : public CredentialLookup {
 public:
  // kInvalidArgument for an empty key or secret or a key given twice.
  Status Add(Credential c);
  const Credential* Find(std::string_view access_key) const override;
  size_t size() const { return map_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, Credential, Hash, std::equal_to<>> map_;
};

// Who a verified request comes from and what its body must be checked against.
struct AuthResult {
  std::string access_key;
  bool read_only = false;
  bool presigned = false;
  PayloadMode payload = PayloadMode::kUnsigned;
  // kSignedHash: the SHA-256 the body must have; the caller hashes the body as it streams and
  // commits nothing on a mismatch (kContentSha256Mismatch).
  std::array<uint8_t, 32> payload_sha256{};
  // Streaming modes: x-amz-decoded-content-length (required for them, else kMissingContentLength)
  // and x-amz-trailer as sent (may be empty); -1 / empty otherwise.
  int64_t decoded_content_length = -1;
  std::string trailer;
  // Streaming signed modes: what AwsChunkedDecoder chains chunk signatures from.
  SigningContext signing;
};

struct VerifierOptions {
  std::string region = "us-east-1";
  std::string service = "s3";
  Clock* clock = Clock::Real();                   // not owned
  const CredentialLookup* credentials = nullptr;  // not owned; required
  SigningKeyCache* key_cache = nullptr;           // not owned; null: the Verifier keeps its own
};

class Verifier {
 public:
  explicit Verifier(VerifierOptions opts);

  // True when the request carries SigV4 credentials (an Authorization header or an X-Amz-*
  // presigned query); a request without them is anonymous, and only the caller knows whether
  // that is allowed (Verify refuses it with kAccessDenied).
  static bool HasCredentials(std::string_view target, std::span<const HttpHeader> headers);

  // Verifies a request: its method, raw target as received (origin form: path and query, still
  // percent-encoded) and headers. Returns who sent it, or the S3-facing error (see the file
  // comment). Allocation: the result's strings; the canonical request is built in a per-thread
  // buffer that is reused.
  Result<AuthResult> Verify(std::string_view method, std::string_view target,
                            std::span<const HttpHeader> headers) const;

 private:
  VerifierOptions opts_;
  mutable SigningKeyCache own_cache_;
  SigningKeyCache* cache_;
};

struct SignerOptions {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // sent and signed as x-amz-security-token when set
  std::string region = "us-east-1";
  std::string service = "s3";
  Clock* clock = Clock::Real();          // not owned
  SigningKeyCache* key_cache = nullptr;  // not owned; null: the Signer keeps its own
};

// What a signed request must carry: add these headers as they are.
struct SignedHeaders {
  std::string amz_date;        // x-amz-date
  std::string content_sha256;  // x-amz-content-sha256
  std::string authorization;   // Authorization
  std::string security_token;  // x-amz-security-token (empty: none)
  SigningContext signing;      // for AwsChunkedEncoder when the payload is STREAMING-*
};

class Signer {
 public:
  explicit Signer(SignerOptions opts);

  // Signs with the Authorization header. `target` is the origin-form target that will be sent
  // (path and query, percent-encoded as S3 wants: UriEncodePath / UriEncodeQuery), `headers` the
  // headers that will be sent (Host required); every one is signed except the hop-by-hop and
  // client-specific ones (authorization, user-agent, expect, connection, keep-alive,
  // transfer-encoding, te, trailer, upgrade, proxy-*, x-amzn-trace-id). `payload` is a hex SHA-256
  // of the body or one of the kUnsignedPayload / kStreaming* values. kInvalidArgument when a
  // header or the target cannot be signed (no Host, a malformed target, a bad payload value).
  Result<SignedHeaders> Sign(std::string_view method, std::string_view target,
                             std::span<const HttpHeader> headers, std::string_view payload) const;

  // A presigned target: `target` with the X-Amz-* query parameters added (only Host is signed,
  // plus any x-amz-* headers given), valid for expires_sec (1..604800, else kInvalidArgument).
  Result<std::string> Presign(std::string_view method, std::string_view target,
                              std::span<const HttpHeader> headers, int64_t expires_sec) const;

  const SignerOptions& options() const { return opts_; }

 private:
  SignerOptions opts_;
  mutable SigningKeyCache own_cache_;
  SigningKeyCache* cache_;
};

}  // namespace cairn::s3
