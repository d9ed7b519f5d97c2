// The HTTP/1.1 server: Boost.Beast and Asio behind this Beast-free header.
//
// Network threads (--threads) run an io_context; each connection is a coroutine on a strand of
// its own with one timer, re-armed around every read and write, that closes the socket when it
// fires (header read, keep-alive idle, and per-operation timeouts: a client that stops sending or
// reading is cut off). Every request is served on a bounded storage pool: the handler blocks on
// the store there, so a slow disk or a slow client holds one pool thread, never a network thread.
// Over plain HTTP the pool thread moves a Content-Length body and the response itself, with
// non-blocking recv/sendmsg/sendfile on the socket and poll(2) (bounded by io_timeout) when it
// is empty or full: no hand-off to the network threads per piece of body. After a response on a
// kept connection, the pool thread also takes the connection's next requests itself while they
// come back to back (a non-blocking read, or a wait of at most 5 ms; Beast parses each head) for
// at most 64 requests or 100 ms, and only while no other request waits for a pool thread: a
// small request then costs no hand-off either. Meanwhile the socket is out of Asio's epoll set,
// so those requests do not wake a network thread either. Over TLS the reads and writes run on
// the network threads and the pool thread waits for each.
//
// Limits: the request line and headers together at most header_limit bytes (431 and close), at
// most max_header_count fields (431), a request target of at most max_target_bytes (414), a body
// of at most max_body_bytes (EntityTooLarge), max_connections connections (beyond it one 503
// SlowDown answer and close; beyond a further quarter, refused at accept). A request body the
// handler did not read is read and dropped (up to discard_limit bytes) so the connection can be
// kept; a larger one closes it. Accept backs off when the process is out of descriptors.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "libstore/common/status.h"
#include "libstore/server/access_log.h"
#include "libstore/server/http.h"

namespace cairn::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 9000;      // 0: any free port (see HttpServer::port)
  int threads = 2;           // network threads
  int storage_threads = 32;  // the bounded pool handlers run on
  int max_connections = 1024;
  std::string domain;             // virtual-hosted-style: BUCKET.domain names a bucket
  std::string tls_cert, tls_key;  // both set: HTTPS only
  std::chrono::milliseconds header_timeout{10000};  // the whole header once its first byte came
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive: waiting for the next request
  std::chrono::milliseconds io_timeout{30000};      // one body read or write without progress
  std::chrono::milliseconds shutdown_grace{10000};  // in-flight requests at Stop
  size_t header_limit = 16 << 10;
  size_t max_header_count = 100;
  size_t max_target_bytes = 8 << 10;
  uint64_t max_body_bytes = uint64_t(5) << 30;
  uint64_t discard_limit = 1 << 20;
  bool handle_signals = false;      // SIGINT/SIGTERM start a graceful Stop
  AccessLog* access_log = nullptr;  // not owned; may be null
  // The body of GET /health (served as application/json); unset: "ok\n" as text/plain. Called on
  // a storage pool thread, from many at once: it must be thread-safe and must not block long.
  std::function<std::string()> health_body;
};

class HttpServer {
 public:
  // Binds, listens and starts serving. auth and handler are not owned and must outlive the server.
  // kInvalidArgument for a bad address or TLS files, kIOError when the port cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const ServerOptions& opt, Authenticator* auth,
                                                   S3Handler* handler);
  ~HttpServer();  // Stop()

  uint16_t port() const;
  bool tls() const;
  // Connections open now.
  int connections() const;
  // Times a connection's turn on a pool thread ended early because another task waited for one
  // (see Connection::ServeMore): how the fairness tests tell the hand-back from a client's timing.
  uint64_t turns_handed_back() const;

  // Graceful: stops accepting, closes idle connections, lets requests in flight finish within
  // shutdown_grace, then closes the rest and waits for their handlers to return. Idempotent;
  // thread-safe.
  void Stop();
  // Blocks until the server stopped (Stop, or a signal with handle_signals).
  void Wait();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::server
