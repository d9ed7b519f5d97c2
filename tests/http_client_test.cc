// The pooled HTTP client against the in-process S3 server (no auth) and against sockets that
// refuse or never answer: bodies from memory, a Source and into a Sink, keep-alive reuse, HTTP
// statuses as Status, and every transport error with its retryable() verdict.
#include "libstore/client/http_client.h"

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "libstore/server/http_server.h"
#include "libstore/server/store_handler.h"
#include "test_util.h"

using namespace cairn;
using namespace cairn::http;
using namespace std::chrono_literals;

namespace {

struct Server {
  test::SetFixture f{2, 1};
  server::StoreHandler handler{*f.set, false, false};
  server::AllowAllAuthenticator auth;
  std::unique_ptr<server::HttpServer> srv;
  Server() {
    server::ServerOptions o;
    o.port = 0;
    auto r = server::HttpServer::Start(o, &auth, &handler);
    REQUIRE(r.ok());
    srv = std::move(r).value();
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(srv->port()) + path;
  }
};

// A socket bound to a loopback port, listening (connections complete in the backlog, nothing is
// ever read or answered) or not (connections are refused).
struct DeadPort {
  int fd = -1;
  uint16_t port = 0;
  explicit DeadPort(bool listen) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    if (listen) REQUIRE(::listen(fd, 8) == 0);
  }
  ~DeadPort() { ::close(fd); }
};

class FailAfterSource : public Source {
 public:
  explicit FailAfterSource(size_t good) : good_(good) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (good_ == 0) return IOError("disk on fire");
    const size_t k = std::min(n, good_);
    std::memset(buf, 'x', k);
    good_ -= k;
    return k;
  }

 private:
  size_t good_;
};

class ShortSource : public Source {
 public:
  explicit ShortSource(size_t left) : left_(left) {}
  Result<size_t> Read(void* buf, size_t n) override {
    const size_t k = std::min(n, left_);
    std::memset(buf, 'y', k);
    left_ -= k;
    return k;
  }

 private:
  size_t left_;
};

class CollectSink : public Sink {
 public:
  Status Write(const void* d, size_t n) override {
    if (fail) return Status(Code::kNoSpace, "sink full");
    data.append(static_cast<const char*>(d), n);
    return Status::Ok();
  }
  std::string data;
  bool fail = false;
};

// Makes bucket `path` ("/name") on s through c.
void MakeBucket(HttpConnection& c, Server& s, const std::string& path) {
  Response r;
  Request mk;
  mk.method = "PUT";
  const std::string url = s.Url(path);
  mk.url = url;
  REQUIRE(c.Do(mk, &r).ok());
}

}  // namespace

TEST_CASE("http client: PUT and GET over one kept-alive connection", "[http_client]") {
  Server s;
  auto client = HttpClient::Create();
  REQUIRE(client.ok());
  auto conn = (*client)->Connect();
  REQUIRE(conn.ok());
  HttpConnection& c = **conn;
  Response r;

  Request mk;
  mk.method = "PUT";
  const std::string mk_url = s.Url("/bkt");
  mk.url = mk_url;
  REQUIRE(c.Do(mk, &r).ok());
  CHECK(r.status == 200);

  const std::string body(300000, 'q');
  Request put;
  put.method = "PUT";
  const std::string url = s.Url("/bkt/obj");
  put.url = url;
  const Header hs[] = {{"Content-Type", "text/plain"}, {"X-Extra", "1"}};
  put.headers = hs;
  put.body_data = body.data();
  put.body_size = body.size();
  REQUIRE(c.Do(put, &r).ok());
  CHECK(r.status == 200);
  CHECK_FALSE(r.Get("etag").empty());
  CHECK(r.Get("ETAG") == r.Get("ETag"));

  Request get;
  get.url = url;
  REQUIRE(c.Do(get, &r).ok());
  CHECK(r.status == 200);
  CHECK(r.body == body);
  CHECK(r.body_bytes == body.size());
  CHECK(r.Get("Content-Type") == "text/plain");

  // Into a sink, with a range.
  CollectSink sink;
  Request ranged = get;
  const Header range[] = {{"Range", "bytes=10-19"}};
  ranged.headers = range;
  ranged.sink = &sink;
  REQUIRE(c.Do(ranged, &r).ok());
  CHECK(r.status == 206);
  CHECK(sink.data == std::string(10, 'q'));
  CHECK(r.body.empty());

  Request head;
  head.method = "HEAD";
  head.url = url;
  REQUIRE(c.Do(head, &r).ok());
  CHECK(r.status == 200);
  CHECK(r.Get("Content-Length") == std::to_string(body.size()));
  CHECK(r.body_bytes == 0);

  // A PUT from a Source.
  ShortSource src(5000);
  Request put2 = put;
  put2.body_data = nullptr;
  put2.body_source = &src;
  put2.body_size = 5000;
  REQUIRE(c.Do(put2, &r).ok());
  CHECK(r.status == 200);

  Request del;
  del.method = "DELETE";
  del.url = url;
  REQUIRE(c.Do(del, &r).ok());
  CHECK(r.status == 204);
  REQUIRE(c.Do(get, &r).ok());
  CHECK(r.status == 404);
  Status st = StatusForHttp(r.status, "GET bkt/obj", r.body);
  CHECK(st.code() == Code::kNotFound);
  CHECK_FALSE(st.retryable());

  CHECK(c.requests() == 8);
  CHECK(c.connects() == 1);  // every request on the one kept-alive connection
}

// One request read whole by a raw server on a loopback socket, answered 200; what arrived and
// in how many TCP data segments (TCP_INFO).
struct RawExchange {
  std::string request;
  uint32_t data_segments = 0;
};
RawExchange OneRawExchange(const Request& proto) {
  DeadPort lp(true);
  RawExchange out;
  std::thread srv([&] {
    const int c = ::accept(lp.fd, nullptr, nullptr);
    if (c < 0) return;
    char buf[65536];
    for (;;) {
      const size_t end = out.request.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t cl = out.request.find("Content-Length: ");
        const size_t want = cl == std::string::npos ? 0 : std::stoul(out.request.substr(cl + 16));
        if (out.request.size() >= end + 4 + want) break;
      }
      const ssize_t r = ::recv(c, buf, sizeof(buf), 0);
      if (r <= 0) break;
      out.request.append(buf, size_t(r));
    }
    struct tcp_info ti {};
    socklen_t len = sizeof(ti);
    if (::getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
      out.data_segments = ti.tcpi_data_segs_in;
    }
    const char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    (void)!::send(c, kOk, sizeof(kOk) - 1, MSG_NOSIGNAL);
    char drain;
    (void)!::recv(c, &drain, 1, 0);  // until the client closes
    ::close(c);
  });
  {
    auto client = HttpClient::Create();
    REQUIRE(client.ok());
    auto conn = (*client)->Connect();
    REQUIRE(conn.ok());
    const std::string url = "http://127.0.0.1:" + std::to_string(lp.port) + "/bkt/k";
    Request q = proto;
    q.url = url;
    Response r;
    Status st = (*conn)->Do(q, &r);
    CHECK(st.ok());
    CHECK(r.status == 200);
  }
  srv.join();
  return out;
}

TEST_CASE("http client: a small body from memory goes out with the head, in one write",
          "[http_client]") {
  const std::string body(4096, 'b');
  const Header expect_none[] = {{"Expect", ""}};
  const Header typed[] = {{"Expect", ""}, {"Content-Type", "text/plain"}};
  const bool with_type = GENERATE(false, true);
  INFO("Content-Type given " << with_type);
  Request put;
  put.method = "PUT";
  put.body_data = body.data();
  put.body_size = body.size();
  if (with_type) {
    put.headers = typed;
  } else {
    put.headers = expect_none;
  }
  const RawExchange x = OneRawExchange(put);
  // One segment: head and body in one write (a write of the head, then one of the body from
  // the read callback, were two).
  CHECK(x.data_segments == 1);
  CHECK(x.request.rfind("PUT /bkt/k HTTP/1.1\r\n", 0) == 0);
  CHECK(x.request.find("Content-Length: 4096\r\n") != std::string::npos);
  // No Content-Type of curl's own (a form type for its POST bodies); the caller's as given.
  const size_t type = x.request.find("Content-Type");
  if (with_type) {
    CHECK(x.request.find("Content-Type: text/plain\r\n") == type);
    CHECK(x.request.find("Content-Type", type + 1) == std::string::npos);
  } else {
    CHECK(type == std::string::npos);
  }
  CHECK(x.request.substr(x.request.find("\r\n\r\n") + 4) == body);

  // Above kInlineBodyMax: the read callback streams it, as before; the bytes are the same.
  const std::string big(kInlineBodyMax + 1, 'c');
  Request put_big = put;
  put_big.body_data = big.data();
  put_big.body_size = big.size();
  const RawExchange y = OneRawExchange(put_big);
  CHECK(y.request.find("Content-Length: " + std::to_string(big.size()) + "\r\n") !=
        std::string::npos);
  CHECK(y.request.substr(y.request.find("\r\n\r\n") + 4) == big);
}

TEST_CASE("http client: body and sink failures fail the request with their status",
          "[http_client]") {
  Server s;
  auto client = HttpClient::Create();
  REQUIRE(client.ok());
  auto conn = (*client)->Connect();
  REQUIRE(conn.ok());
  Response r;
  Request mk;
  mk.method = "PUT";
  const std::string mk_url = s.Url("/bkb");
  mk.url = mk_url;
  REQUIRE((*conn)->Do(mk, &r).ok());

  const std::string url = s.Url("/bkb/k");
  FailAfterSource bad(1000);
  Request put;
  put.method = "PUT";
  put.url = url;
  put.body_source = &bad;
  put.body_size = 100000;
  Status st = (*conn)->Do(put, &r);
  CHECK(st.code() == Code::kIOError);
  CHECK(st.message().find("disk on fire") != std::string::npos);

  ShortSource shortsrc(10);
  put.body_source = &shortsrc;
  st = (*conn)->Do(put, &r);
  CHECK(st.code() == Code::kIncompleteBody);

  // The connection still works afterwards (a new one is made when the old one was cut).
  const std::string body = "hello";
  Request ok;
  ok.method = "PUT";
  ok.url = url;
  ok.body_data = body.data();
  ok.body_size = body.size();
  REQUIRE((*conn)->Do(ok, &r).ok());
  CHECK(r.status == 200);

  CollectSink sink;
  sink.fail = true;
  Request get;
  get.url = url;
  get.sink = &sink;
  st = (*conn)->Do(get, &r);
  CHECK(st.code() == Code::kNoSpace);

  // Malformed requests are refused before anything is sent.
  Request nourl;
  CHECK((*conn)->Do(nourl, &r).code() == Code::kInvalidArgument);
  Request badhdr;
  badhdr.url = url;
  const Header h[] = {{"X-Bad", "a\r\nInjected: 1"}};
  badhdr.headers = h;
  CHECK((*conn)->Do(badhdr, &r).code() == Code::kInvalidArgument);
  Request badmethod;
  badmethod.url = url;
  badmethod.method = "GET /x";
  CHECK((*conn)->Do(badmethod, &r).code() == Code::kInvalidArgument);
  Request nobody;
  nobody.method = "PUT";
  nobody.url = url;
  nobody.body_size = 5;
  CHECK((*conn)->Do(nobody, &r).code() == Code::kInvalidArgument);
  Request badurl;
  badurl.url = "nope://x";
  CHECK((*conn)->Do(badurl, &r).code() == Code::kInvalidArgument);
}

TEST_CASE("http client: refused, silent and timed-out peers are retryable", "[http_client]") {
  ClientOptions o;
  o.connect_timeout = 2000ms;
  auto client = HttpClient::Create(o);
  REQUIRE(client.ok());
  auto conn = (*client)->Connect();
  REQUIRE(conn.ok());
  Response r;

  {
    DeadPort closed(false);
    const std::string url = "http://127.0.0.1:" + std::to_string(closed.port) + "/x";
    Request q;
    q.url = url;
    Status st = (*conn)->Do(q, &r);
    CHECK(st.code() == Code::kIOError);
    CHECK(st.retryable());
  }
  {
    DeadPort silent(true);
    const std::string url = "http://127.0.0.1:" + std::to_string(silent.port) + "/x";
    Request q;
    q.url = url;
    q.timeout = 300ms;
    Status st = (*conn)->Do(q, &r);
    CHECK(st.code() == Code::kRequestTimeout);
    CHECK(st.retryable());
  }
}

TEST_CASE("http client: StatusForHttp maps statuses and retryability", "[http_client]") {
  CHECK(StatusForHttp(200, "x").ok());
  CHECK(StatusForHttp(206, "x").ok());
  CHECK(StatusForHttp(304, "x").ok());
  CHECK(StatusForHttp(403, "x").code() == Code::kAccessDenied);
  CHECK(StatusForHttp(412, "x").code() == Code::kPreconditionFailed);
  CHECK(StatusForHttp(416, "x").code() == Code::kInvalidRange);
  CHECK(StatusForHttp(400, "x").code() == Code::kInvalidArgument);
  CHECK_FALSE(StatusForHttp(400, "x").retryable());
  for (int code : {408, 429, 500, 502, 503, 504}) {
    INFO(code);
    CHECK(StatusForHttp(code, "x").retryable());
  }
  CHECK(StatusForHttp(503, "x").code() == Code::kSlowDown);
  const Status s = StatusForHttp(500, "PUT b/k", std::string(500, 'e'));
  CHECK(s.message().find("PUT b/k: HTTP 500: eee") == 0);
  CHECK(s.message().size() < 250);
}

TEST_CASE("http client: connections work from many threads at once", "[http_client]") {
  Server s;
  auto client = HttpClient::Create();
  REQUIRE(client.ok());
  {
    auto c = (*client)->Connect();
    REQUIRE(c.ok());
    MakeBucket(**c, s, "/ttt");
  }
  std::vector<std::thread> ts;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      auto c = (*client)->Connect();
      if (!c.ok()) return;
      Response r;
      const std::string url = s.Url("/ttt/k" + std::to_string(t));
      const std::string body(1000 + t, char('a' + t));
      for (int i = 0; i < 20; ++i) {
        Request put;
        put.method = "PUT";
        put.url = url;
        put.body_data = body.data();
        put.body_size = body.size();
        if (!(*c)->Do(put, &r).ok() || r.status != 200) return;
        Request get;
        get.url = url;
        if (!(*c)->Do(get, &r).ok() || r.body != body) return;
      }
      if ((*c)->connects() == 1) ++good;
    });
  }
  for (auto& t : ts) t.join();
  CHECK(good == 4);
}

TEST_CASE("http client: errors_to_body keeps an error answer out of the sink", "[http_client]") {
  Server s;
  auto client = HttpClient::Create();
  REQUIRE(client.ok());
  auto conn = (*client)->Connect();
  REQUIRE(conn.ok());
  MakeBucket(**conn, s, "/errs");
  Response r;
  Request put;
  put.method = "PUT";
  const std::string obj = s.Url("/errs/obj");
  put.url = obj;
  put.body_data = "abc";
  put.body_size = 3;
  REQUIRE((*conn)->Do(put, &r).ok());

  const std::string missing = s.Url("/errs/missing");
  Request get;
  get.url = missing;
  CollectSink sink;
  get.sink = &sink;
  get.errors_to_body = true;
  REQUIRE((*conn)->Do(get, &r).ok());
  CHECK(r.status == 404);
  CHECK(sink.data.empty());
  CHECK(r.body.find("<Code>NoSuchKey</Code>") != std::string::npos);
  // A success still streams into the sink, on the same connection.
  get.url = obj;
  REQUIRE((*conn)->Do(get, &r).ok());
  CHECK(r.status == 200);
  CHECK(sink.data == "abc");
  CHECK(r.body.empty());
  // Without the flag the sink takes whatever body comes, as before.
  CollectSink raw;
  Request plain;
  plain.url = missing;
  plain.sink = &raw;
  REQUIRE((*conn)->Do(plain, &r).ok());
  CHECK(r.status == 404);
  CHECK(raw.data.find("NoSuchKey") != std::string::npos);
  CHECK((*conn)->connects() == 1);
}
