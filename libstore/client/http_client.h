// A small pooled HTTP/1.1 client on libcurl: the only code in cairn that includes curl. It knows
// HTTP only (no S3): the S3 client (issue 11) and `cairn bench s3` sign requests themselves and
// add the headers here.
//
// Design: one HttpClient holds what connections share (a curl share handle for DNS answers and TLS
// sessions, and the TLS/timeout settings); each HttpConnection is one reused curl easy handle that
// keeps its own keep-alive connection, used by one thread at a time. A caller that wants N
// requests in flight runs N threads with a connection each (the S3 client's --jobs, the bench's
// --concurrency). Blocking calls on threads were chosen over a multi handle because every caller
// is a blocking ObjectStore-style call that streams a body from a Source or into a Sink, which a
// multi handle would force through callbacks on one event thread; a thread per connection also
// spreads TLS and copying over cores. Connections (sockets) are not shared between easy handles:
// libcurl's shared connection cache serializes every request on one lock.
//
// Allocation: an HttpConnection reuses its request header list storage, its response header
// buffer and its response body string across requests; after the first few requests of a given
// shape a request allocates nothing in this layer (libcurl itself allocates a little per request).
//
// Errors: a transport failure is a Status; connection refused/reset, timeouts, a response cut
// short and send/receive errors are marked retryable(). Any HTTP status that arrived is OK at
// this layer (Response::status); StatusForHttp turns a status into a Status with retryable() set
// for 5xx, 429 and 408, so callers do not guess.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libstore/common/io.h"
#include "libstore/common/status.h"

namespace cairn::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

struct ClientOptions {
  bool verify_tls = true;  // false: --no-verify-ssl (peer and host name not checked)
  std::string ca_bundle;   // empty: the system CAs
  std::chrono::milliseconds connect_timeout{10000};
  // Default for Request::timeout when that is zero (0 here too: no limit on the whole request).
  std::chrono::milliseconds request_timeout{0};
  // A transfer slower than low_speed_bytes per second for low_speed_time is cut off (a stalled
  // peer); 0 disables.
  uint32_t low_speed_bytes = 1;
  std::chrono::seconds low_speed_time{30};
  std::string user_agent = "cairn";
};

// A body from memory up to this size is sent with the request's head in one write (the bytes
// are the same as a larger body's; only the number of writes differs).
inline constexpr uint64_t kInlineBodyMax = 32 << 10;

// One request. Everything it points to must stay valid for the call.
struct Request {
  std::string_view method = "GET";  // GET, PUT, POST, DELETE, HEAD, ...
  std::string_view url;             // absolute: http(s)://host[:port]/path?query
  std::span<const Header> headers;  // sent as given (besides Host, User-Agent, Content-Length)
  // The body: body_source when set (exactly body_size bytes read from it, sent with a
  // Content-Length), else body_data/body_size from memory. A PUT or POST without a body sends
  // Content-Length: 0.
  const void* body_data = nullptr;
  uint64_t body_size = 0;
  Source* body_source = nullptr;
  // Where the response body goes: into sink when set (Response::body stays empty), else into
  // Response::body. A HEAD has none.
  Sink* sink = nullptr;
  // With a sink: the body of an answer whose status is 300 or above (an S3 error document) goes
  // into Response::body instead of the sink, so a failed GET never writes its error into a file.
  bool errors_to_body = false;
  std::chrono::milliseconds timeout{0};  // the whole request; 0: ClientOptions::request_timeout
};

// A response; reused across requests by the caller (clear() keeps capacity).
struct Response {
  int status = 0;
  // Headers of the final response (a 100 Continue's are dropped), names as sent; views into
  // raw_headers, valid until the next request on the connection that filled it. Filled when the
  // body starts, so a Request::sink may read them (and status is still 0 then) during its writes.
  std::vector<http::Header> headers;
  std::string raw_headers;
  std::string body;         // when Request::sink was null
  uint64_t body_bytes = 0;  // bytes of body received (into body or the sink)
  // The first header of that name (ASCII case-insensitive), or empty.
  std::string_view Get(std::string_view name) const;
  void clear();
};

// Maps an HTTP status to a Status: 2xx and 304 OK; 404 kNotFound; 403 kAccessDenied; 412
// kPreconditionFailed; 416 kInvalidRange; 408 kRequestTimeout, 429 and 503 kSlowDown (retryable);
// other 5xx kIOError marked retryable; other 4xx kInvalidArgument. `context` (e.g. "PUT
// bucket/key") and up to 200 bytes of `detail` (a response body) go into the message.
Status StatusForHttp(int status, std::string_view context, std::string_view detail = {});

class HttpClient;

// One reused easy handle and its keep-alive connection. Not thread-safe: one thread at a time.
class HttpConnection {
 public:
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends req and fills *resp (cleared first). OK whenever a complete response arrived, whatever
  // its status; see the file comment for errors. On a failure resp->status and headers hold what
  // arrived before it (0 and none when nothing did). A failing body_source or sink fails the request
  // with the status it returned. kInvalidArgument for a malformed request (no URL, a header name
  // or value with CR/LF).
  Status Do(const Request& req, Response* resp);

  // Requests sent and connections opened (a new TCP connection counts once); for tests and
  // benchmarks that check keep-alive.
  uint64_t requests() const { return requests_; }
  uint64_t connects() const { return connects_; }

 private:
  friend class HttpClient;
  struct Impl;
  explicit HttpConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  uint64_t requests_ = 0, connects_ = 0;
};

// What connections share. Thread-safe; must outlive its connections.
class HttpClient {
 public:
  // kInternal when libcurl cannot be initialised.
  static Result<std::unique_ptr<HttpClient>> Create(ClientOptions opts = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // A new connection (its socket opens on first use). kInternal when curl cannot make a handle.
  Result<std::unique_ptr<HttpConnection>> Connect();
  const ClientOptions& options() const { return opts_; }

  struct Shared;

 private:
  HttpClient(ClientOptions opts, std::unique_ptr<Shared> shared);
  ClientOptions opts_;
  std::unique_ptr<Shared> shared_;
};

}  // namespace cairn::http
