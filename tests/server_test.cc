// The HTTP server in process on a free loopback port, driven by raw sockets so that every limit
// can be hit on purpose: oversized and slow headers, too many connections, short bodies,
// 100-continue, chunked uploads, keep-alive reuse, a slow reader beside other clients, shutdown.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "libstore/common/stage_threads.h"
#include "libstore/server/http_server.h"
#include "libstore/server/store_handler.h"
#include "test_util.h"

using namespace cairn;
using namespace cairn::server;
using namespace cairn::test;
using namespace std::chrono_literals;

namespace {

struct TestServer {
  SetFixture f{2, 1};
  StoreHandler handler{*f.set, false, false};
  AllowAllAuthenticator auth;
  std::unique_ptr<HttpServer> srv;
  explicit TestServer(ServerOptions o = {}) {
    o.port = 0;
    auto r = HttpServer::Start(o, &auth, &handler);
    REQUIRE(r.ok());
    srv = std::move(r).value();
  }
  ~TestServer() { srv.reset(); }
  uint16_t port() const { return srv->port(); }
};

class Client {
 public:
  explicit Client(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

  // False when the peer closed or reset.
  bool Send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(size_t(n));
    }
    return true;
  }
  // Up to n bytes within timeout; "" on close, timeout or error.
  std::string RecvSome(size_t n, std::chrono::milliseconds timeout = 10s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, int(timeout.count())) <= 0) return "";
    std::string b(n, '\0');
    const ssize_t got = ::recv(fd_, b.data(), n, 0);
    b.resize(got > 0 ? size_t(got) : 0);
    return b;
  }
  // True when the server closed the connection within timeout (reads and drops what comes).
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    char b[4096];
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (::poll(&p, 1, int(std::max<int64_t>(1, left.count()))) <= 0) continue;
      const ssize_t n = ::recv(fd_, b, sizeof(b), 0);
      if (n <= 0) return true;
    }
    return false;
  }

  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string Header(const std::string& n) const {
      auto it = headers.find(n);
      return it == headers.end() ? "" : it->second;
    }
  };
  // Reads one response (status 0 when the connection closed first). head: no body follows.
  Response Read(bool head = false) {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      std::string more = RecvSome(65536);
      if (more.empty()) return r;
      buf_ += more;
    }
    std::istringstream in(buf_.substr(0, end));
    buf_.erase(0, end + 4);
    std::string line;
    std::getline(in, line);
    if (line.size() < 12) return r;
    r.status = std::stoi(line.substr(9, 3));
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t c = line.find(':');
      if (c == std::string::npos) continue;
      std::string n = line.substr(0, c);
      for (char& ch : n) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      std::string v = line.substr(c + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers[n] = v;
    }
    if (head || r.status == 304 || r.status == 204 || r.status / 100 == 1) return r;
    const size_t len =
        std::stoul(r.Header("content-length").empty() ? "0" : r.Header("content-length"));
    while (buf_.size() < len) {
      std::string more = RecvSome(65536);
      if (more.empty()) break;
      buf_ += more;
    }
    r.body = buf_.substr(0, std::min(len, buf_.size()));
    buf_.erase(0, r.body.size());
    return r;
  }
  Response Request(const std::string& method, const std::string& target,
                   const std::string& body = "", const std::string& extra = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra;
    if (method == "PUT" || !body.empty())
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    if (!Send(req)) return {};
    return Read(method == "HEAD");
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Fifty GETs of /bkt/small (which holds "tiny") and fifty of /health on c, while another client
// misbehaves: how many were answered right (100 when all were).
int SmallRequests(Client& c) {
  int ok = 0;
  for (int i = 0; i < 50; ++i) {
    ok += c.Request("GET", "/bkt/small").body == "tiny";
    ok += c.Request("GET", "/health").status == 200;
  }
  return ok;
}

}  // namespace

TEST_CASE("server: health, request ids, bucket and object operations on one connection",
          "[server]") {
  TestServer ts;
  Client c(ts.port());
  auto r = c.Request("GET", "/health");
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  const std::string id1 = r.Header("x-amz-request-id");
  CHECK(id1.size() == 16);
  CHECK(c.Request("PUT", "/bkt").status == 200);
  CHECK(c.Request("PUT", "/bkt").status == 409);  // BucketAlreadyOwnedByYou
  CHECK(c.Request("HEAD", "/bkt").status == 200);
  CHECK(c.Request("HEAD", "/nope").status == 404);
  CHECK(c.Request("PUT", "/Bad_Name").status == 400);
  const std::string data = RandomBytes(200000, 7);
  r = c.Request("PUT", "/bkt/dir/obj%20one", data,
                "Content-Type: text/x-test\r\nx-amz-meta-Color: red\r\n");
  REQUIRE(r.status == 200);
  CHECK(r.Header("etag").size() == 34);
  CHECK(r.Header("x-amz-request-id") != id1);
  r = c.Request("GET", "/bkt/dir/obj%20one");
  REQUIRE(r.status == 200);
  CHECK(r.body == data);
  CHECK(r.Header("content-type") == "text/x-test");
  CHECK(r.Header("x-amz-meta-color") == "red");
  const std::string etag = r.Header("etag");
  r = c.Request("GET", "/bkt/dir/obj%20one", "", "Range: bytes=100-199\r\n");
  CHECK(r.status == 206);
  CHECK(r.body == data.substr(100, 100));
  CHECK(r.Header("content-range") == "bytes 100-199/200000");
  r = c.Request("GET", "/bkt/dir/obj%20one", "", "Range: bytes=-10\r\n");
  CHECK(r.body == data.substr(data.size() - 10));
  r = c.Request("GET", "/bkt/dir/obj%20one", "", "Range: bytes=0-1,5-6\r\n");
  CHECK(r.status == 200);  // several ranges: the whole object, as S3
  CHECK(r.body.size() == data.size());
  r = c.Request("GET", "/bkt/dir/obj%20one", "", "Range: bytes=200000-\r\n");
  CHECK(r.status == 416);
  CHECK(Contains(r.body, "<Code>InvalidRange</Code>"));
  r = c.Request("GET", "/bkt/dir/obj%20one", "", "If-None-Match: " + etag + "\r\n");
  CHECK(r.status == 304);
  r = c.Request("GET", "/bkt/dir/obj%20one", "", "If-Match: \"nope\"\r\n");
  CHECK(r.status == 412);
  r = c.Request("HEAD", "/bkt/dir/obj%20one");
  CHECK(r.status == 200);
  CHECK(r.Header("content-length") == "200000");
  CHECK(c.Request("PUT", "/bkt/a", "x").status == 200);
  r = c.Request("GET", "/bkt?list-type=2&delimiter=/");
  REQUIRE(r.status == 200);
  CHECK(Contains(r.body, "<Key>a</Key>"));
  CHECK(Contains(r.body, "<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>"));
  CHECK(Contains(r.body, "<KeyCount>2</KeyCount>"));
  r = c.Request("GET", "/bkt?list-type=2&max-keys=1");
  CHECK(Contains(r.body, "<IsTruncated>true</IsTruncated>"));
  CHECK(Contains(r.body, "<NextContinuationToken>"));
  r = c.Request("GET", "/bkt?prefix=dir/&encoding-type=url");
  CHECK(Contains(r.body, "<Key>dir/obj%20one</Key>"));
  r = c.Request("GET", "/");
  CHECK(Contains(r.body, "<Name>bkt</Name>"));
  CHECK(c.Request("DELETE", "/bkt").status == 409);  // BucketNotEmpty
  CHECK(c.Request("DELETE", "/bkt/a").status == 204);
  CHECK(c.Request("DELETE", "/bkt/a").status == 204);  // a missing key: success, as S3
  r = c.Request("GET", "/bkt/a");
  CHECK(r.status == 404);
  CHECK(Contains(r.body, "<Code>NoSuchKey</Code>"));
  r = c.Request("GET", "/nob/a");
  CHECK(Contains(r.body, "<Code>NoSuchBucket</Code>"));
  r = c.Request("GET", "/bkt/a%zz");
  CHECK(r.status == 400);
  CHECK(Contains(r.body, "<Code>InvalidArgument</Code>"));
  r = c.Request("GET", "/bkt/" + std::string(1025, 'k'));
  CHECK(Contains(r.body, "<Code>KeyTooLongError</Code>"));
  r = c.Request("GET", "/bkt?tagging");
  CHECK(r.status == 501);
  r = c.Request("POST", "/bkt/x?uploads");  // multipart (issue 10) is served now
  CHECK(r.status == 200);
  CHECK(Contains(r.body, "<UploadId>"));
  r = c.Request("PUT", "/bkt/c", "", "x-amz-copy-source: /bkt/none\r\n");
  CHECK(r.status == 404);
  CHECK(c.Request("DELETE", "/bkt/dir/obj%20one").status == 204);
  CHECK(c.Request("DELETE", "/bkt").status == 204);
  CHECK(ts.srv->connections() == 1);  // every request above went over one kept connection
}

// The server keeps a connection's request state (strings, header list) and its request parser's
// memory (an arena of a few KiB) from one request to the next for their capacity: nothing of one
// request may show in the next, whatever their sizes.
TEST_CASE("server: a connection's requests do not see each other's headers or paths",
          "[server]") {
  TestServer ts;
  Client c(ts.port());
  REQUIRE(c.Request("PUT", "/bkt").status == 200);
  REQUIRE(c.Request("PUT", "/bkt/first-key-of-the-connection", "one").status == 200);
  auto r = c.Request("GET", "/bkt/first-key-of-the-connection");
  REQUIRE(r.status == 200);
  const std::string etag = r.Header("etag");
  // A head larger than the parser's arena (4 KiB; these fields make about 9), with a condition...
  std::string many;
  for (int i = 0; i < 40; ++i) {
    many += "X-Filler-" + std::to_string(i) + ": " + std::string(200, 'f') + "\r\n";
  }
  r = c.Request("GET", "/bkt/first-key-of-the-connection", "",
                many + "If-None-Match: " + etag + "\r\n");
  CHECK(r.status == 304);
  // ... then a small one without: no condition left over.
  r = c.Request("GET", "/bkt/first-key-of-the-connection");
  CHECK(r.status == 200);
  CHECK(r.body == "one");
  // A condition in a small head, then a large head without one.
  r = c.Request("GET", "/bkt/first-key-of-the-connection", "", "If-Match: \"nope\"\r\n");
  CHECK(r.status == 412);
  r = c.Request("GET", "/bkt/first-key-of-the-connection", "", many);
  CHECK(r.status == 200);
  CHECK(r.body == "one");
  // A target that does not parse: its error names no path of an earlier request.
  r = c.Request("GET", "/bkt/a%zz");
  CHECK(r.status == 400);
  CHECK(!Contains(r.body, "first-key"));
  // A range on one request only.
  r = c.Request("GET", "/bkt/first-key-of-the-connection", "", "Range: bytes=1-1\r\n");
  CHECK(r.status == 206);
  CHECK(r.body == "n");
  r = c.Request("GET", "/bkt/first-key-of-the-connection");
  CHECK(r.status == 200);
  CHECK(r.body == "one");
  // A bucket-level request after an object one: no key left over.
  r = c.Request("HEAD", "/bkt");
  CHECK(r.status == 200);
  r = c.Request("GET", "/bkt?list-type=2");
  CHECK(r.status == 200);
  CHECK(Contains(r.body, "<Key>first-key-of-the-connection</Key>"));
  // Request ids: 16 upper-case hex digits, a new one each time.
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    r = c.Request("GET", "/health");
    const std::string id = r.Header("x-amz-request-id");
    CHECK(id.size() == 16);
    CHECK(id.find_first_not_of("0123456789ABCDEF") == std::string::npos);
    ids.insert(id);
  }
  CHECK(ids.size() == 20);
  CHECK(ts.srv->connections() == 1);
}

TEST_CASE("server: fewer network threads than asked when the system has no more, none an error",
          "[server][stage]") {
  SetFixture f{2, 1};
  StoreHandler handler{*f.set, false, false};
  AllowAllAuthenticator auth;
  ServerOptions o;
  o.port = 0;
  o.threads = 2;
  StageGroup::FailRunForTest(0, 2);
  auto none = HttpServer::Start(o, &auth, &handler);
  StageGroup::FailRunForTest(-1);
  CHECK(none.status().code() == Code::kIOError);
  CHECK_THAT(none.status().message(), Catch::Contains("cannot start a network thread"));
  // The second cannot start: the server runs on the first.
  StageGroup::FailRunForTest(1);
  auto one = HttpServer::Start(o, &auth, &handler);
  StageGroup::FailRunForTest(-1);
  REQUIRE(one.ok());
  Client c((*one)->port());
  REQUIRE(c.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(c.Read().status == 200);
  (*one)->Stop();
}

TEST_CASE("server: a request that runs out of memory drops its connection, not the server",
          "[server]") {
  // A handler that throws std::bad_alloc for the key "boom" (before it answers), and for
  // "boom-late" after its answer began; everything else goes to the store.
  struct Throwing : S3Handler {
    S3Handler* next;
    explicit Throwing(S3Handler* n) : next(n) {}
    Status Handle(const HttpRequest& req, const Identity& who, Source& body,
                  ResponseWriter& out) override {
      if (req.key == "boom") throw std::bad_alloc();
      if (req.key == "boom-late") {
        REQUIRE(out.Begin(200, {}, 10).ok());
        throw std::bad_alloc();
      }
      return next->Handle(req, who, body, out);
    }
  };
  SetFixture f{2, 1};
  REQUIRE(f.set->MakeBucket("bkt").ok());
  StoreHandler store{*f.set, false, false};
  Throwing handler(&store);
  AllowAllAuthenticator auth;
  ServerOptions o;
  o.port = 0;
  auto srv = HttpServer::Start(o, &auth, &handler);
  REQUIRE(srv.ok());
  for (const char* key : {"boom", "boom-late"}) {
    CAPTURE(key);
    Client c((*srv)->port());
    const std::string target = std::string("/bkt/") + key;
    auto r = c.Request("PUT", target, "body");
    CHECK(r.status != 200);
    CHECK(c.ClosedWithin(2s));
    // The server goes on, on this pool thread too, and the PUT committed nothing.
    Client next((*srv)->port());
    CHECK(next.Request("GET", "/health").status == 200);
    CHECK(next.Request("PUT", "/bkt/fine", "fine").status == 200);
    CHECK(next.Request("GET", "/bkt/fine").body == "fine");
    CHECK(f.set->HeadObject("bkt", key).status().code() == Code::kNotFound);
  }
  (*srv)->Stop();
}

TEST_CASE("server: header limits", "[server]") {
  TestServer ts;
  {
    Client c(ts.port());
    c.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17 << 10, 'a') + "\r\n\r\n");
    auto r = c.Read();
    CHECK(r.status == 431);
    CHECK(c.ClosedWithin(2s));
  }
  {
    Client c(ts.port());
    std::string req = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 150; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
    c.Send(req + "\r\n");
    CHECK(c.Read().status == 431);
  }
  {
    Client c(ts.port());
    c.Send("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(c.Read().status == 414);
  }
  {
    Client c(ts.port());
    c.Send("GARBAGE\r\n\r\n");
    CHECK(c.Read().status == 400);
    CHECK(c.ClosedWithin(2s));
  }
  {
    Client c(ts.port());
    c.Send("PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 6000000000\r\n\r\n");
    auto r = c.Read();
    CHECK(r.status == 400);
    CHECK(Contains(r.body, "EntityTooLarge"));
  }
}

TEST_CASE("server: a slowloris client is cut off, an idle one too", "[server]") {
  ServerOptions o;
  o.header_timeout = 400ms;
  o.idle_timeout = 600ms;
  TestServer ts(o);
  Client slow(ts.port());
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  const std::string req = "GET /health HTTP/1.1\r\nHost: localhost\r\nX-A: ";
  for (int i = 0; i < 40 && !closed; ++i) {
    closed = !slow.Send(std::string(1, i < int(req.size()) ? req[size_t(i)] : 'a')) ||
             slow.ClosedWithin(100ms);
  }
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  // Keep-alive: after one request, silence for longer than the idle timeout closes it.
  Client idle(ts.port());
  CHECK(idle.Request("GET", "/health").status == 200);
  CHECK(idle.ClosedWithin(3s));
}

TEST_CASE("server: connections beyond the limit get 503 SlowDown", "[server]") {
  ServerOptions o;
  o.max_connections = 2;
  TestServer ts(o);
  Client a(ts.port()), b(ts.port());
  CHECK(a.Request("GET", "/health").status == 200);
  CHECK(b.Request("GET", "/health").status == 200);
  Client c(ts.port());
  auto r = c.Request("GET", "/health");
  CHECK(r.status == 503);
  CHECK(Contains(r.body, "<Code>SlowDown</Code>"));
  CHECK(c.ClosedWithin(2s));
  CHECK(a.Request("GET", "/health").status == 200);
}

TEST_CASE("server: request bodies (short, 100-continue, chunked, unread)", "[server]") {
  ServerOptions o;
  o.io_timeout = 1s;
  TestServer ts(o);
  Client c(ts.port());
  REQUIRE(c.Request("PUT", "/bkt").status == 200);
  SECTION("a body shorter than its Content-Length commits nothing") {
    Client s(ts.port());
    s.Send("PUT /bkt/short HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" +
           std::string(50, 'x'));
    ::shutdown(s.fd(), SHUT_WR);
    auto r = s.Read();
    CHECK(r.status == 400);
    CHECK(Contains(r.body, "IncompleteBody"));
    CHECK(c.Request("HEAD", "/bkt/short").status == 404);
    // And one that stops sending: cut off by the per-read timeout.
    Client t(ts.port());
    t.Send("PUT /bkt/short HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" +
           std::string(50, 'x'));
    r = t.Read();
    CHECK((r.status == 400 || r.status == 0));
    CHECK(t.ClosedWithin(3s));
    CHECK(c.Request("HEAD", "/bkt/short").status == 404);
  }
  SECTION("Expect: 100-continue") {
    c.Send(
        "PUT /bkt/cont HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    auto r = c.Read();
    REQUIRE(r.status == 100);
    c.Send("hello");
    r = c.Read();
    CHECK(r.status == 200);
    CHECK(c.Request("GET", "/bkt/cont").body == "hello");
    // Refused before the body: no 100, and the connection closes (the body never came).
    Client d(ts.port());
    d.Send(
        "PUT /nob/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: "
        "100-continue\r\n\r\n");
    r = d.Read();
    CHECK(r.status == 404);
    CHECK(r.Header("connection") == "close");
    CHECK(d.ClosedWithin(2s));
  }
  SECTION("Expect: 100-continue without a body still gets its 100, before the final status") {
    // botocore sends the Expect header with an empty PUT too; a final status in place of the 100
    // makes it misread the next response on the connection (e2e client matrix, boto3).
    c.Send(
        "PUT /bkt/empty HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
    auto r = c.Read();
    REQUIRE(r.status == 100);
    r = c.Read();
    CHECK(r.status == 200);
    CHECK(r.Header("connection") != "close");
    // A refusal too: the connection stays open, so the 100 comes first there as well.
    c.Send(
        "PUT /nob/k HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
    r = c.Read();
    REQUIRE(r.status == 100);
    CHECK(c.Read().status == 404);
    auto g = c.Request("GET", "/bkt/empty");
    CHECK(g.status == 200);
    CHECK(g.body.empty());
    // Never a 1xx to an HTTP/1.0 client.
    Client d(ts.port());
    d.Send(
        "PUT /bkt/empty10 HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
    CHECK(d.Read().status == 200);
  }
  SECTION("chunked upload") {
    const std::string a = RandomBytes(70000, 1), b = RandomBytes(3, 2);
    char hex[32];
    std::snprintf(hex, sizeof(hex), "%zx", a.size());
    c.Send(
        std::string("PUT /bkt/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n") +
        hex + "\r\n" + a + "\r\n3\r\n" + b + "\r\n0\r\n\r\n");
    CHECK(c.Read().status == 200);
    CHECK(c.Request("GET", "/bkt/chunked").body == a + b);
  }
  SECTION("an unread body is dropped and the connection kept") {
    auto r = c.Request("PUT", "/nob/k", std::string(100000, 'z'));
    CHECK(r.status == 404);
    CHECK(c.Request("GET", "/health").status == 200);
  }
  SECTION("PUT without a length") {
    c.Send("PUT /bkt/nolen HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.Read();
    CHECK(r.status == 411);
  }
}

TEST_CASE("server: a slow reader does not stall other clients", "[server]") {
  ServerOptions o;
  o.storage_threads = 2;
  o.shutdown_grace = 500ms;
  TestServer ts(o);
  Client c(ts.port());
  REQUIRE(c.Request("PUT", "/bkt").status == 200);
  const std::string big = RandomBytes(4 << 20, 3);
  REQUIRE(c.Request("PUT", "/bkt/big", big).status == 200);
  REQUIRE(c.Request("PUT", "/bkt/small", "tiny").status == 200);
  // The slow reader: a small receive buffer, 1 KiB every second.
  Client slow(ts.port(), 4096);
  slow.Send("GET /bkt/big HTTP/1.1\r\nHost: x\r\n\r\n");
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      slow.RecvSome(1024, 100ms);
      std::this_thread::sleep_for(1s);
    }
  });
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  const int ok = SmallRequests(c);
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  reader.join();
  CHECK(ok == 100);
  CHECK(took < 3s);
}

TEST_CASE("server: a connection's back-to-back requests stay on the pool thread, fairly",
          "[server][keepalive]") {
  // One pool thread: a connection pipelining many requests must not keep it while another
  // connection's request waits (the pool thread serves a connection's next requests itself only
  // while no other request waits for it).
  ServerOptions o;
  o.storage_threads = 1;
  TestServer ts(o);
  Client setup(ts.port());
  REQUIRE(setup.Request("PUT", "/bkt").status == 200);
  for (int k = 0; k < 4; ++k) {
    REQUIRE(setup.Request("PUT", "/bkt/k" + std::to_string(k), "body" + std::to_string(k))
                .status == 200);
  }
  SECTION("pipelined GETs are answered in order while another connection is served") {
    constexpr int kPipelined = 3000;
    Client busy(ts.port());
    std::string reqs;
    for (int i = 0; i < kPipelined; ++i) {
      reqs += "GET /bkt/k" + std::to_string(i % 4) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    }
    std::atomic<int> answered{0};
    std::atomic<bool> in_order{true};
    std::thread reader([&] {
      for (int i = 0; i < kPipelined; ++i) {
        auto r = busy.Read();
        if (r.status != 200 || r.body != "body" + std::to_string(i % 4)) {
          in_order = false;
          return;
        }
        answered.fetch_add(1);
      }
    });
    std::thread sender([&] { busy.Send(reqs); });
    while (answered.load() < 50 && in_order.load()) std::this_thread::sleep_for(1ms);
    // While the busy connection's requests keep coming, the other one's are answered between
    // two of them, not after a turn of many.
    Client other(ts.port());
    std::vector<int> passed;
    const uint64_t handed_before = ts.srv->turns_handed_back();
    for (int i = 0; i < 20 && answered.load() < kPipelined; ++i) {
      const int before = answered.load();
      CHECK(other.Request("GET", "/bkt/k1").body == "body1");
      passed.push_back(answered.load() - before);
    }
    const int at_end = answered.load();
    const uint64_t handed = ts.srv->turns_handed_back() - handed_before;
    sender.join();
    reader.join();
    CHECK(in_order.load());
    CHECK(answered.load() == kPipelined);
    REQUIRE(passed.size() >= 5);
    CHECK(at_end < kPipelined);
    std::sort(passed.begin(), passed.end());
    INFO("the busy connection's answers during each request of the other: median "
         << passed[passed.size() / 2] << ", most " << passed.back() << "; turns handed back "
         << handed << " for " << passed.size() << " requests");
    // The mechanism itself: a request of the other connection that comes during the busy one's
    // turn ends that turn at once. One that comes between two turns, or while the busy client
    // is not reading (its answers then wait on the network thread), needs no hand-back; so
    // count the requests during which the busy connection was answered at all.
    const auto moving = std::count_if(passed.begin(), passed.end(), [](int n) { return n > 0; });
    CHECK(handed * 2 >= uint64_t(moving));
    // The answers counted during each request also hold the client's and the network thread's
    // wake-ups: 1 on an idle machine, 42 in CI under load (a turn is at most 64 requests). So
    // the count bounds how long the other waited (two turns); the hand-back check above is the
    // one that tells "at once" from "after a turn".
    CHECK(passed[passed.size() / 2] < 128);
  }
  SECTION("a head over a limit behind a served one is answered by the network thread") {
    Client c(ts.port());
    std::string many = "GET /bkt/k0 HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 150; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    c.Send("GET /bkt/k0 HTTP/1.1\r\nHost: x\r\n\r\n" + many + "\r\n");
    CHECK(c.Read().body == "body0");
    CHECK(c.Read().status == 431);
    CHECK(c.ClosedWithin(2s));
    Client d(ts.port());
    d.Send("GET /bkt/k0 HTTP/1.1\r\nHost: x\r\n\r\nGET /" + std::string(9000, 'a') +
           " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(d.Read().body == "body0");
    CHECK(d.Read().status == 414);
    Client e(ts.port());
    e.Send("GET /bkt/k0 HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n");
    CHECK(e.Read().body == "body0");
    CHECK(e.Read().status == 400);
    CHECK(e.ClosedWithin(2s));
  }
  SECTION("a head split across reads, a body after the head, and a close") {
    Client c(ts.port());
    CHECK(c.Request("GET", "/bkt/k2").body == "body2");
    // The next head in two pieces, the second after the pool thread's wait (1 ms) is over.
    c.Send("GET /bkt/k3 HTTP/1.1\r\nHo");
    std::this_thread::sleep_for(50ms);
    c.Send("st: x\r\n\r\n");
    CHECK(c.Read().body == "body3");
    // A PUT whose body comes after its head, then a GET of it, pipelined.
    c.Send("PUT /bkt/k9 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    std::this_thread::sleep_for(20ms);
    c.Send("helloGET /bkt/k9 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(c.Read().status == 200);
    CHECK(c.Read().body == "hello");
    // Connection: close on a request served in the pool thread's turn ends the connection.
    c.Send("GET /bkt/k0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(c.Read().body == "body0");
    CHECK(c.ClosedWithin(2s));
  }
  SECTION("a chunked body and a 100-continue without a body behind a served request") {
    // The pool thread reads the next heads itself with the socket out of the network threads'
    // epoll set; a chunked body goes back to the network thread (read through the strand), a
    // request that expects a 100 without a body gets it from the pool thread.
    Client c(ts.port());
    c.Send(
        "GET /bkt/k0 HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /bkt/k1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"
        "PUT /bkt/ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    CHECK(c.Read().body == "body0");
    CHECK(c.Read().status == 100);
    CHECK(c.Read().body == "body1");
    // The rest of the chunked body later: it has to be read from the socket.
    std::this_thread::sleep_for(20ms);
    c.Send("2\r\nde\r\n0\r\n\r\nGET /bkt/ch HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(c.Read().status == 200);
    CHECK(c.Read().body == "abcde");
    // The same one by one, each after the answer to the one before (the pool thread waits for
    // them on the socket).
    for (int i = 0; i < 20; ++i) CHECK(c.Request("GET", "/bkt/k3").body == "body3");
    CHECK(c.Request("PUT", "/bkt/k5", "five").status == 200);
    CHECK(c.Request("GET", "/bkt/k5").body == "five");
  }
}

TEST_CASE("server: a pipelining client that does not read does not stall others",
          "[server][keepalive]") {
  ServerOptions o;
  o.storage_threads = 2;
  o.io_timeout = 2s;
  o.shutdown_grace = 500ms;
  TestServer ts(o);
  Client c(ts.port());
  REQUIRE(c.Request("PUT", "/bkt").status == 200);
  REQUIRE(c.Request("PUT", "/bkt/obj", RandomBytes(64 << 10, 5)).status == 200);
  REQUIRE(c.Request("PUT", "/bkt/small", "tiny").status == 200);
  // Pipelines many GETs of 64 KiB and reads nothing: its responses fill the socket and its pool
  // thread waits on it (for io_timeout at most).
  Client stuck(ts.port(), 4096);
  std::string reqs;
  for (int i = 0; i < 200; ++i) reqs += "GET /bkt/obj HTTP/1.1\r\nHost: x\r\n\r\n";
  std::thread sender([&] { stuck.Send(reqs); });
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  const int ok = SmallRequests(c);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(ok == 100);
  CHECK(took < 1500ms);  // below io_timeout: not waiting for the stuck one to be cut off
  // Still not reading past io_timeout: the server gave up on it.
  std::this_thread::sleep_until(t0 + 2500ms);
  CHECK(stuck.ClosedWithin(10s));
  sender.join();
}

TEST_CASE("server: a reader that stops reading is cut off", "[server]") {
  ServerOptions o;
  o.io_timeout = 500ms;
  TestServer ts(o);
  Client c(ts.port());
  REQUIRE(c.Request("PUT", "/bkt").status == 200);
  REQUIRE(c.Request("PUT", "/bkt/big", RandomBytes(8 << 20, 4)).status == 200);
  Client stuck(ts.port(), 4096);
  stuck.Send("GET /bkt/big HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(2s);
  // The server gave up: the connection is gone (what is left in the buffers reads, then EOF).
  CHECK(stuck.ClosedWithin(5s));
  for (int i = 0; i < 200 && ts.srv->connections() != 1; ++i) std::this_thread::sleep_for(10ms);
  CHECK(ts.srv->connections() == 1);
}

TEST_CASE("server: a stop ends a request whose body stalled, and commits nothing", "[server]") {
  // The pool thread waits for the body on the socket itself (poll, io_timeout 30 s): the forced
  // stop after the grace must wake it, not the timeout.
  ServerOptions o;
  o.shutdown_grace = 200ms;
  TestServer ts(o);
  Client c(ts.port());
  REQUIRE(c.Request("PUT", "/bkt").status == 200);
  Client stalled(ts.port());
  stalled.Send("PUT /bkt/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n" +
               std::string(300000, 'x'));
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  ts.srv->Stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(stalled.ClosedWithin(1s));
  CHECK(ts.srv->connections() == 0);
  CHECK(!ts.f.set->HeadObject("bkt", "stalled").ok());
}

TEST_CASE("server: graceful stop, access log", "[server]") {
  char tmpl[] = "/tmp/cairn-access-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  ::close(fd);
  auto log = AccessLog::Open(tmpl);
  REQUIRE(log.ok());
  ServerOptions o;
  o.access_log = log->get();
  o.shutdown_grace = 2s;
  TestServer ts(o);
  Client idle(ts.port());
  Client c(ts.port());
  auto r = c.Request("GET", "/health");
  REQUIRE(r.status == 200);
  CHECK(c.Request("GET", "/nob/k").status == 404);
  const auto t0 = std::chrono::steady_clock::now();
  ts.srv->Stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);  // idle connections do not hold it up
  CHECK(idle.ClosedWithin(1s));
  CHECK(c.ClosedWithin(1s));
  (*log)->Flush();
  std::ifstream in(tmpl);
  std::string line1, line2;
  std::getline(in, line1);
  std::getline(in, line2);
  CHECK(Contains(line1, " GET /health 200 0 "));
  CHECK(Contains(line1, r.Header("x-amz-request-id")));
  CHECK(Contains(line1, "127.0.0.1:"));
  CHECK(Contains(line2, " GET /nob/k 404 "));
  ::unlink(tmpl);
}
