// The seams of the HTTP server, without Beast: what a handler sees of a request, how it answers,
// and who authenticates. The server (http_server.h) parses with Beast and calls these from its
// storage pool threads, never from a network thread, so a handler may block on the store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libstore/common/status.h"
#include "libstore/object/object_store.h"  // Source, Sink

namespace cairn::server {

using Fields = std::vector<std::pair<std::string, std::string>>;

// One request, parsed. Header names are lower case; values as sent (Beast joins nothing).
struct HttpRequest {
  std::string method;    // "GET", "PUT", ... as sent
  std::string target;    // raw request target
  std::string raw_path;  // target's path, still percent-encoded (for SigV4's canonical URI)
  std::string path;      // percent-decoded
  Fields query;          // decoded, in order, duplicates kept
  Fields headers;        // names in lower case, in order
  std::string bucket;    // empty: the service
  std::string key;       // empty: the bucket
  std::string remote;    // "ADDRESS:PORT" of the peer
  std::string request_id;
  std::optional<uint64_t> content_length;  // absent for a chunked body or none at all
  bool chunked = false;

  // The first header of that name (lower case), or null.
  const std::string* Header(std::string_view lower_name) const;
  // The first query parameter of that name, or null.
  const std::string* Query(std::string_view name) const;
  bool HasQuery(std::string_view name) const { return Query(name) != nullptr; }
};

// How a handler answers. Begin sends the status line and headers once; the body then goes through
// Write (Sink), exactly content_length bytes. Begin adds Content-Length, x-amz-request-id, Date
// and Server itself. A handler that fails before Begin returns the status and the server sends
// the S3 error for it; a failure after Begin closes the connection (the client sees a short
// body). Not thread-safe: one request, one thread.
class ResponseWriter : public Sink {
 public:
  virtual Status Begin(int status, const Fields& headers, uint64_t content_length) = 0;
  virtual bool begun() const = 0;
  // Sink's CanSendFile and SendFile: a plain-HTTP connection sends a file range as (part of) the
  // body, after Begin; a TLS connection must copy.
  // Begin, then the whole body.
  Status Send(int status, const Fields& headers, std::string_view body) {
    RETURN_IF_ERROR(Begin(status, headers, body.size()));
    return body.empty() ? Status::Ok() : Write(body.data(), body.size());
  }
};

// Who sent a request.
struct Identity {
  std::string access_key;  // empty: anonymous
  bool read_only = false;
};

// A request body wrapped by an authenticator that checks, while it streams, what the request
// promised about it: Content-MD5, one x-amz-checksum-* header or trailer, and more (see
// sigv4_auth.h). A handler whose store computes and checks those digests in its own pass over
// the body (PutOptions::expected: the MD5 there is the one the ETag needs) takes them over, so
// that no digest is computed twice.
class CheckedBody : public Source {
 public:
  // Before the first Read: Content-MD5 and the x-amz-checksum-* value are no longer computed
  // nor compared here; the caller must check them. A trailer's value is still decoded, parsed
  // (kInvalidDigest when malformed) and required when declared, then kept for
  // TrailingChecksum(). Every other check stays.
  virtual void HandOverDigests() = 0;
  // After Read returned 0, once handed over: the value of the declared trailing x-amz-checksum-*,
  // nullopt when the request declared none.
  virtual std::optional<ChecksumValue> TrailingChecksum() const = 0;
};

// Called once per request (except GET /health), on a storage pool thread, after the headers
// arrived and before the handler. OK: the request proceeds as *who; *body may be set to a Source
// wrapping `raw` (aws-chunked decoding, a signed payload's hash checked as it streams) that the
// handler then reads instead of raw. An error is answered as an S3 error (AccessDenied,
// SignatureDoesNotMatch, ...). Thread-safe: called from many threads at once.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual Status Authenticate(const HttpRequest& req, Source& raw, Identity* who,
                              std::unique_ptr<Source>* body) = 0;
};

// Lets every request through as anonymous. Only for tests and a server started without auth on
// purpose; it checks nothing.
class AllowAllAuthenticator : public Authenticator {
 public:
  Status Authenticate(const HttpRequest&, Source&, Identity* who,
                      std::unique_ptr<Source>*) override {
    *who = Identity{};
    return Status::Ok();
  }
};

// Serves S3 requests. Called on a storage pool thread with the body to read (at most
// content_length bytes, or a chunked body; reading past its end returns 0) and the writer to
// answer with. Returning an error before Begin makes the server answer with the S3 error for it.
// Thread-safe: called from many threads at once.
class S3Handler {
 public:
  virtual ~S3Handler() = default;
  virtual Status Handle(const HttpRequest& req, const Identity& who, Source& body,
                        ResponseWriter& out) = 0;
};

}  // namespace cairn::server
