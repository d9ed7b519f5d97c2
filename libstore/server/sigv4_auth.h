// The server's Authenticator: SigV4 (s3::Verifier) over a table of users, and the body Source that
// checks, while the body streams, everything the request promised about it.
//
// Who may do what:
//  - a request without SigV4 credentials is anonymous: refused (kAccessDenied) unless the
//    authenticator allows anonymous reads, and then only GET and HEAD (objects, listings);
//  - a signed request is verified (header or presigned URL; see sigv4.h for every refusal); a
//    read-only user may only GET and HEAD, anything else is kAccessDenied.
//
// What the body is checked against (VerifiedBody): the signed payload's SHA-256
// (kContentSha256Mismatch), Content-MD5 (kBadDigest; a malformed one is kInvalidDigest before the
// body is read), one x-amz-checksum-* header or trailer (kBadDigest naming the algorithm;
// malformed: kInvalidDigest; more than one: kInvalidArgument; not on CompleteMultipartUpload,
// where that header describes the whole object and the store checks it), the announced length
// (Content-Length, or x-amz-decoded-content-length for aws-chunked: kIncompleteBody), and for the
// STREAMING-* modes every chunk and trailer signature (AwsChunkedDecoder).
//
// THE CONTRACT of VerifiedBody::Read, which a store relies on to commit nothing unverified: Read
// never returns 0 (end of stream) before every check passed, and it does not hand out the last
// bytes of a body of known length before the end was confirmed and every check passed: a failed
// check is the error of that Read, so the store's PutObject fails and commits nothing. A handler
// may take Content-MD5 and the x-amz-checksum-* over (CheckedBody::HandOverDigests, before the
// first Read) when its store checks them in its own pass before committing (PutObject does: the
// MD5 is then computed once, for the ETag and Content-MD5 alike).
//
// Allocation: a request without a body and without a digest to check gets no body Source at all.
// A body's Source is a small handle over per-thread state (digest streams, the raw-read buffer)
// that is reused by the next request on the same thread; aws-chunked bodies also construct a
// decoder. Nothing is buffered beyond one raw read (64 KiB).
//
// Thread safety: SigV4Authenticator::Authenticate may be called from any number of threads; a
// VerifiedBody is one request's and is read by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "libstore/common/checksum.h"
#include "libstore/common/clock.h"
#include "libstore/s3/sigv4.h"
#include "libstore/server/http.h"

namespace cairn::server {

struct SigV4AuthOptions {
  std::string region = "us-east-1";
  Clock* clock = Clock::Real();                       // not owned
  const s3::CredentialLookup* credentials = nullptr;  // not owned; required
  bool anonymous_read = false;                        // GET and HEAD without credentials
};

// A body Source that verifies what its request promised (see the file comment).
class VerifiedBody : public CheckedBody {
 public:
  struct State;  // per-thread, reused; defined in the .cc
  ~VerifiedBody() override;
  VerifiedBody(const VerifiedBody&) = delete;
  VerifiedBody& operator=(const VerifiedBody&) = delete;

  Result<size_t> Read(void* buf, size_t n) override;
  // CheckedBody: before the first Read, Content-MD5 and the x-amz-checksum-* header or trailer
  // become the caller's to check (the store's PutObject does, in its own pass). After a Read it
  // does nothing (this body keeps checking them).
  void HandOverDigests() override;
  std::optional<ChecksumValue> TrailingChecksum() const override;

  // True once Read returned 0: every check passed.
  bool verified() const;
  // The x-amz-checksum-* values the client sent (header or trailer), each verified against the
  // body; empty until verified(), and when handed over.
  const std::vector<ChecksumValue>& checksums() const;
  // Decoded body bytes handed out so far.
  uint64_t bytes() const;

 private:
  friend class SigV4Authenticator;
  explicit VerifiedBody(State* s, std::unique_ptr<State> owned);
  State* state_;
  std::unique_ptr<State> owned_;  // set when the thread's state was busy
};

class SigV4Authenticator : public Authenticator {
 public:
  explicit SigV4Authenticator(SigV4AuthOptions opts);
  ~SigV4Authenticator() override;

  // OK: *who is the user (or anonymous), and *body, when set, a VerifiedBody over raw that the
  // handler must read instead of raw. Errors: the Verifier's (kAccessDenied,
  // kSignatureMismatch, kInvalidAccessKeyId, kRequestTimeTooSkewed, kAuthHeaderMalformed,
  // kAuthQueryMalformed, kMissingContentLength...), kAccessDenied for anonymous or read-only
  // requests not allowed, kInvalidDigest / kInvalidArgument for malformed digest headers,
  // kContentSha256Mismatch for a bodiless request whose signed hash is not that of "".
  Status Authenticate(const HttpRequest& req, Source& raw, Identity* who,
                      std::unique_ptr<Source>* body) override;

  // GET and HEAD are reads; every other method writes (or may).
  static bool IsRead(std::string_view method);

 private:
  SigV4AuthOptions opts_;
  s3::Verifier verifier_;
};

}  // namespace cairn::server
