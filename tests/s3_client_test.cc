// The S3 client: every operation against the in-process `cairn serve` stack with SigV4 on (so the
// signer is checked by the server's verifier), presigned URLs against the S3 documentation's
// vector and the verifier, and retries, resumed downloads, MD5 checks and error messages against
// a canned-answer server that fails on purpose.
#include "libstore/client/s3_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "libstore/common/checksum.h"
#include "libstore/common/hash.h"
#include "libstore/common/stage_threads.h"
#include "libstore/server/http_server.h"
#include "libstore/server/sigv4_auth.h"
#include "libstore/server/store_handler.h"
#include "sigv4_test_util.h"
#include "test_util.h"

using namespace cairn;
using namespace cairn::s3;
using namespace std::chrono_literals;

namespace {

constexpr char kKey[] = "AKCLIENTTEST";
constexpr char kSecret[] = "client-test-secret";

class ClientBodySink : public Sink {
 public:
  Status Write(const void* d, size_t n) override {
    data.append(static_cast<const char*>(d), n);
    return Status::Ok();
  }
  std::string data;
};

// The serve stack over a 2+1 set in memory, with SigV4 required.
struct AuthServer {
  test::SetFixture f{2, 1};
  CredentialTable users;
  std::unique_ptr<server::SigV4Authenticator> auth;
  server::StoreHandler handler{*f.set, false, false};
  std::unique_ptr<server::HttpServer> srv;
  AuthServer() {
    REQUIRE(users.Add({kKey, kSecret, false}).ok());
    server::SigV4AuthOptions ao;
    ao.credentials = &users;
    auth = std::make_unique<server::SigV4Authenticator>(ao);
    server::ServerOptions o;
    o.port = 0;
    auto r = server::HttpServer::Start(o, auth.get(), &handler);
    REQUIRE(r.ok());
    srv = std::move(r).value();
  }
  S3ClientOptions Options(std::string secret = kSecret) const {
    S3ClientOptions o;
    o.config.endpoint.https = false;
    o.config.endpoint.host = "127.0.0.1:" + std::to_string(srv->port());
    o.config.endpoint.path_style = true;
    o.config.region = "us-east-1";
    o.config.access_key = kKey;
    o.config.secret_key = std::move(secret);
    o.sleep = [](std::chrono::milliseconds) {};
    return o;
  }
};

std::unique_ptr<S3Client> MakeClient(S3ClientOptions o) {
  auto c = S3Client::Create(std::move(o));
  REQUIRE(c.ok());
  return std::move(c).value();
}

std::string Md5Of(const std::string& s) {
  Md5Stream m;
  m.Update(s.data(), s.size());
  return m.FinalHex();
}

Payload Mem(const std::string& s) {
  Payload p;
  p.data = s.data();
  p.size = s.size();
  return p;
}

// Answers each request with the next canned response; records the requests. A response may be
// cut: its first `cut` bytes are sent and the connection closed.
class CannedServer {
 public:
  struct Answer {
    std::string text;
    size_t cut = std::string::npos;
  };
  CannedServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] { Loop(); });
  }
  ~CannedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  void Push(std::string text, size_t cut = std::string::npos) {
    std::lock_guard<std::mutex> l(mu_);
    answers_.push_back({std::move(text), cut});
  }
  std::vector<std::string> Requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  S3ClientOptions Options(std::vector<std::chrono::milliseconds>* sleeps) const {
    S3ClientOptions o;
    o.config.endpoint.https = false;
    o.config.endpoint.host = "127.0.0.1:" + std::to_string(port_);
    o.config.region = "us-east-1";
    o.config.access_key = kKey;
    o.config.secret_key = kSecret;
    o.jitter_seed = 7;
    o.sleep = [sleeps](std::chrono::milliseconds d) { sleeps->push_back(d); };
    return o;
  }

  static std::string Http(int status, const std::string& headers, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body;
  }
  static std::string Error(int status, const std::string& code) {
    return Http(status, "Content-Type: application/xml\r\n",
                "<?xml version=\"1.0\"?><Error><Code>" + code + "</Code><Message>canned " + code +
                    "</Message></Error>");
  }

 private:
  void Loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      Serve(c);
      ::close(c);
    }
  }
  // Serves requests on one connection until the peer closes or an answer is cut.
  void Serve(int c) {
    std::string buf;
    char tmp[65536];
    while (true) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(c, tmp, sizeof(tmp), 0);
        if (n <= 0) return;
        buf.append(tmp, size_t(n));
      }
      std::string head = buf.substr(0, end + 4);
      size_t body_len = 0;
      for (const char* name : {"Content-Length: ", "content-length: "}) {
        size_t p = head.find(name);
        if (p != std::string::npos) body_len = std::stoul(head.substr(p + 16));
      }
      while (buf.size() < end + 4 + body_len) {
        ssize_t n = ::recv(c, tmp, sizeof(tmp), 0);
        if (n <= 0) return;
        buf.append(tmp, size_t(n));
      }
      buf.erase(0, end + 4 + body_len);
      Answer a;
      {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(head);
        if (answers_.empty()) {
          a.text = Error(500, "InternalError");
        } else {
          a = answers_.front();
          answers_.pop_front();
        }
      }
      const std::string out = a.cut == std::string::npos ? a.text : a.text.substr(0, a.cut);
      if (::send(c, out.data(), out.size(), MSG_NOSIGNAL) < 0) return;
      if (a.cut != std::string::npos) return;
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::deque<Answer> answers_;
  std::vector<std::string> requests_;
};

}  // namespace

TEST_CASE("s3 client: every operation against the signed serve stack", "[s3client]") {
  AuthServer s;
  auto c = MakeClient(s.Options());
  REQUIRE(s.f.set->MakeBucket("bkt").ok());

  const std::string small = "hello, world";
  std::string big(300000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 131 % 251);

  auto etag = c->PutObject("bkt", "dir/small file+?&.txt", Mem(small));
  REQUIRE(etag.ok());
  CHECK(*etag == Md5Of(small));
  REQUIRE(c->PutObject("bkt", "dir/big", Mem(big)).ok());
  REQUIRE(c->PutObject("bkt", "top", Mem("")).ok());

  SECTION("ListBuckets") {
    auto b = c->ListBuckets();
    REQUIRE(b.ok());
    REQUIRE(b->size() == 1);
    CHECK((*b)[0].name == "bkt");
    CHECK_FALSE((*b)[0].created.empty());
  }
  SECTION("ListObjects pages, prefixes and delimiters") {
    ListParams p;
    p.max_keys = 1;
    std::vector<std::string> keys;
    int pages = 0;
    REQUIRE(c->ListObjects("bkt", p, [&](const ListPage& pg) {
               ++pages;
               for (const auto& o : pg.objects) keys.push_back(o.key);
               return Status::Ok();
             }).ok());
    CHECK(pages == 3);
    CHECK(keys == std::vector<std::string>{"dir/big", "dir/small file+?&.txt", "top"});
    p.max_keys = 1000;
    p.delimiter = "/";
    std::vector<std::string> prefixes;
    keys.clear();
    REQUIRE(c->ListObjects("bkt", p, [&](const ListPage& pg) {
               for (const auto& o : pg.objects) keys.push_back(o.key);
               prefixes.insert(prefixes.end(), pg.common_prefixes.begin(), pg.common_prefixes.end());
               return Status::Ok();
             }).ok());
    CHECK(keys == std::vector<std::string>{"top"});
    CHECK(prefixes == std::vector<std::string>{"dir/"});
    Status stop = c->ListObjects("bkt", {}, [](const ListPage&) { return Status(Code::kAborted, "stop"); });
    CHECK(stop.code() == Code::kAborted);
  }
  SECTION("Head, Get whole (verified) and ranged") {
    auto h = c->HeadObject("bkt", "dir/big");
    REQUIRE(h.ok());
    CHECK(h->size == big.size());
    ClientBodySink sink;
    auto g = c->GetObject("bkt", "dir/big", sink);
    REQUIRE(g.ok());
    CHECK(sink.data == big);
    ClientBodySink part;
    s3::GetOptions o;
    o.range = std::make_pair(uint64_t(10), uint64_t(19));
    REQUIRE(c->GetObject("bkt", "dir/big", part, o).ok());
    CHECK(part.data == big.substr(10, 10));
  }
  SECTION("missing keys and buckets name the key and the S3 error") {
    ClientBodySink sink;
    auto g = c->GetObject("bkt", "nope", sink);
    REQUIRE_FALSE(g.ok());
    CHECK(g.status().code() == Code::kNotFound);
    CHECK(g.status().message().find("GET bkt/nope: NoSuchKey") == 0);
    CHECK(sink.data.empty());  // the error document never reaches the sink
    auto l = c->ListObjects("nobucket", {}, [](const ListPage&) { return Status::Ok(); });
    CHECK(l.code() == Code::kBucketNotFound);
    CHECK(c->HeadObject("bkt", "nope").status().code() == Code::kNotFound);
  }
  SECTION("a wrong secret is SignatureDoesNotMatch, not retried") {
    auto bad = MakeClient(s.Options("wrong"));
    auto b = bad->ListBuckets();
    REQUIRE_FALSE(b.ok());
    CHECK(b.status().code() == Code::kSignatureMismatch);
    CHECK(b.status().message().find("SignatureDoesNotMatch") != std::string::npos);
    CHECK(bad->retries() == 0);
  }
  SECTION("DeleteObjects answers every key; DeleteObject; CopyObject") {
    auto cp = c->CopyObject("bkt", "dir/big", "bkt", "copy");
    REQUIRE(cp.ok());
    CHECK(*cp == Md5Of(big));
    std::vector<DeleteResult> res;
    REQUIRE(c->DeleteObjects("bkt", {"dir/big", "top", "never-existed"}, &res).ok());
    REQUIRE(res.size() == 3);
    for (const auto& r : res) CHECK(r.status.ok());
    REQUIRE(c->DeleteObject("bkt", "copy").ok());
    CHECK(c->HeadObject("bkt", "dir/big").status().code() == Code::kNotFound);
    CHECK(c->HeadObject("bkt", "copy").status().code() == Code::kNotFound);
  }
  SECTION("multipart: create, parts, complete; abort") {
    auto id = c->CreateMultipartUpload("bkt", "mp");
    REQUIRE(id.ok());
    const std::string p1(5 << 20, 'a'), p2 = "tail";
    auto e1 = c->UploadPart("bkt", "mp", *id, 1, Mem(p1));
    auto e2 = c->UploadPart("bkt", "mp", *id, 2, Mem(p2));
    REQUIRE(e1.ok());
    REQUIRE(e2.ok());
    auto done = c->CompleteMultipartUpload("bkt", "mp", *id, {{1, *e1}, {2, *e2}});
    REQUIRE(done.ok());
    CHECK(done->find("-2") != std::string::npos);
    ClientBodySink sink;
    REQUIRE(c->GetObject("bkt", "mp", sink).ok());  // a multipart ETag is not checked as an MD5
    CHECK(sink.data == p1 + p2);
    auto id2 = c->CreateMultipartUpload("bkt", "mp2");
    REQUIRE(id2.ok());
    REQUIRE(c->AbortMultipartUpload("bkt", "mp2", *id2).ok());
    CHECK(c->UploadPart("bkt", "mp2", *id2, 1, Mem(p2)).status().code() == Code::kUploadNotFound);
  }
  SECTION("PutObject from a file range") {
    char tmpl[] = "/tmp/cairn-s3client-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::unlink(tmpl);
    REQUIRE(::write(fd, big.data(), big.size()) == ssize_t(big.size()));
    Payload p;
    p.fd = fd;
    p.offset = 1000;
    p.size = 5000;
    REQUIRE(c->PutObject("bkt", "ranged", p).ok());
    ClientBodySink sink;
    REQUIRE(c->GetObject("bkt", "ranged", sink).ok());
    CHECK(sink.data == big.substr(1000, 5000));
    ::close(fd);
  }
  SECTION("presigned GET and PUT URLs pass the server's verifier") {
    auto url = c->Presign("GET", "bkt", "dir/small file+?&.txt", 60);
    REQUIRE(url.ok());
    CHECK(url->find("X-Amz-Expires=60") != std::string::npos);
    auto http = http::HttpClient::Create();
    REQUIRE(http.ok());
    auto conn = (*http)->Connect();
    REQUIRE(conn.ok());
    http::Request q;
    q.url = *url;
    http::Response r;
    REQUIRE((*conn)->Do(q, &r).ok());
    CHECK(r.status == 200);
    CHECK(r.body == small);
    auto put = c->Presign("PUT", "bkt", "via-presign", 60);
    REQUIRE(put.ok());
    http::Request pq;
    pq.method = "PUT";
    pq.url = *put;
    pq.body_data = "abc";
    pq.body_size = 3;
    REQUIRE((*conn)->Do(pq, &r).ok());
    CHECK(r.status == 200);
    // Tampering with the URL breaks it.
    std::string bad = *url;
    bad.replace(bad.find("small"), 5, "SMALL");
    q.url = bad;
    REQUIRE((*conn)->Do(q, &r).ok());
    CHECK(r.status == 403);
    CHECK_FALSE(c->Presign("GET", "bkt", "k", 0).ok());
    CHECK_FALSE(c->Presign("GET", "bkt", "k", 604801).ok());
  }
}

TEST_CASE("s3 client: presign matches the S3 documentation's example", "[s3client][sigv4]") {
  // docs.aws.amazon.com, "Authenticating Requests: Using Query Parameters": GET /test.txt of
  // examplebucket, 2013-05-24T00:00:00Z, 86400 s.
  ManualClock clock;
  clock.Set(testing::Epoch(testing::kDocDate) * 1000000000);
  S3ClientOptions o;
  o.clock = &clock;
  o.config.endpoint.host = "s3.amazonaws.com";
  o.config.endpoint.path_style = false;
  o.config.region = "us-east-1";
  o.config.access_key = std::string(testing::kDocKey);
  o.config.secret_key = std::string(testing::kDocSecret);
  auto c = MakeClient(o);
  auto url = c->Presign("GET", "examplebucket", "test.txt", 86400);
  REQUIRE(url.ok());
  CHECK(*url ==
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST_CASE("s3 client: retries with backoff, only what is safe to repeat", "[s3client]") {
  CannedServer srv;
  std::vector<std::chrono::milliseconds> sleeps;
  auto o = srv.Options(&sleeps);
  o.max_attempts = 4;
  auto c = MakeClient(o);
  const std::string ok_list =
      "<ListAllMyBucketsResult><Buckets><Bucket><Name>b1</Name><CreationDate>2026-01-01T00:00:00Z"
      "</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>";

  SECTION("5xx and SlowDown are retried, then it succeeds") {
    srv.Push(CannedServer::Error(503, "SlowDown"));
    srv.Push(CannedServer::Error(500, "InternalError"));
    srv.Push(CannedServer::Http(200, "", ok_list));
    auto b = c->ListBuckets();
    REQUIRE(b.ok());
    CHECK((*b)[0].name == "b1");
    CHECK(c->retries() == 2);
    REQUIRE(sleeps.size() == 2);
    CHECK(sleeps[0] <= 100ms);  // full jitter below base * 2^(attempt-1)
    CHECK(sleeps[1] <= 200ms);
  }
  SECTION("attempts are bounded and the last error is reported with the count") {
    ClientBodySink sink;
    for (int i = 0; i < 4; ++i) srv.Push(CannedServer::Error(500, "InternalError"));
    auto r = c->GetObject("b", "some/key", sink);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().retryable());
    CHECK(r.status().message().find("GET b/some/key: InternalError: canned InternalError") == 0);
    CHECK(r.status().message().find("(after 4 attempts)") != std::string::npos);
    CHECK(srv.Requests().size() == 4);
  }
  SECTION("4xx is not retried") {
    srv.Push(CannedServer::Error(403, "AccessDenied"));
    auto b = c->ListBuckets();
    REQUIRE_FALSE(b.ok());
    CHECK(b.status().code() == Code::kAccessDenied);
    CHECK(srv.Requests().size() == 1);
    CHECK(sleeps.empty());
  }
  SECTION("CreateMultipartUpload (POST) is repeated after a SlowDown") {
    srv.Push(CannedServer::Error(503, "SlowDown"));
    srv.Push(CannedServer::Http(200, "", "<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
                                         "</InitiateMultipartUploadResult>"));
    auto id = c->CreateMultipartUpload("b", "k");
    REQUIRE(id.ok());
    CHECK(*id == "u1");
    CHECK(srv.Requests().size() == 2);
  }
  // The ETag S3 gives two parts whose MD5s are those of "a" and "b".
  const std::string e1 = "\"" + Md5Of("a") + "\"", e2 = "\"" + Md5Of("b") + "\"";
  std::string both;
  for (const std::string& e : {e1, e2}) {
    uint8_t bin[16];
    for (int i = 0; i < 16; ++i) bin[i] = uint8_t(std::stoi(e.substr(1 + 2 * i, 2), nullptr, 16));
    both.append(reinterpret_cast<const char*>(bin), 16);
  }
  const std::string mp_etag = Md5Of(both) + "-2";
  SECTION("a Complete whose answer was lost: NoSuchUpload on the repeat, the object is ours") {
    srv.Push(CannedServer::Error(500, "InternalError"));
    srv.Push(CannedServer::Error(404, "NoSuchUpload"));
    srv.Push(CannedServer::Http(200, "ETag: \"" + mp_etag + "\"\r\n", ""));  // the HEAD
    auto done = c->CompleteMultipartUpload("b", "k", "u1", {{1, e1}, {2, e2}});
    REQUIRE(done.ok());
    CHECK(*done == mp_etag);
    REQUIRE(srv.Requests().size() == 3);
    CHECK(srv.Requests()[2].rfind("HEAD /b/k", 0) == 0);
  }
  SECTION("a Complete repeated into NoSuchUpload, and another object there: it failed") {
    srv.Push(CannedServer::Error(500, "InternalError"));
    srv.Push(CannedServer::Error(404, "NoSuchUpload"));
    srv.Push(CannedServer::Http(200, "ETag: \"" + Md5Of("other") + "\"\r\n", ""));
    auto done = c->CompleteMultipartUpload("b", "k", "u1", {{1, e1}, {2, e2}});
    REQUIRE_FALSE(done.ok());
    CHECK(done.status().code() == Code::kUploadNotFound);
  }
  SECTION("NoSuchUpload at the first attempt is not looked into") {
    srv.Push(CannedServer::Error(404, "NoSuchUpload"));
    auto done = c->CompleteMultipartUpload("b", "k", "u1", {{1, e1}, {2, e2}});
    REQUIRE_FALSE(done.ok());
    CHECK(done.status().code() == Code::kUploadNotFound);
    CHECK(srv.Requests().size() == 1);
  }
  SECTION("a reset connection is retried") {
    srv.Push(CannedServer::Http(200, "", ok_list), 5);  // cut inside the status line
    srv.Push(CannedServer::Http(200, "", ok_list));
    REQUIRE(c->ListBuckets().ok());
    CHECK(c->retries() == 1);
  }
}

TEST_CASE("s3 client: downloads are verified and resumed", "[s3client]") {
  CannedServer srv;
  std::vector<std::chrono::milliseconds> sleeps;
  auto c = MakeClient(srv.Options(&sleeps));
  const std::string body = "0123456789abcdefghij";
  const std::string md5 = Md5Of(body);

  SECTION("a body that does not match its MD5 ETag fails as corruption") {
    std::string bad = body;
    bad[3] = 'X';
    srv.Push(CannedServer::Http(200, "ETag: \"" + md5 + "\"\r\n", bad));
    ClientBodySink sink;
    auto g = c->GetObject("b", "k", sink);
    REQUIRE_FALSE(g.ok());
    CHECK(g.status().code() == Code::kCorruption);
    CHECK(g.status().message().find("GET b/k: the body's MD5") == 0);
  }
  // x-amz-checksum-*: asked for, and checked in the same pass, for every algorithm; a multipart
  // ETag leaves the checksum as the only check of the bytes.
  const std::string multipart_etag = "ETag: \"" + md5 + "-2\"\r\n";
  SECTION("a body that does not match its x-amz-checksum-* fails as corruption") {
    for (ChecksumAlgorithm a : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                                ChecksumAlgorithm::kCrc64Nvme, ChecksumAlgorithm::kSha1,
                                ChecksumAlgorithm::kSha256}) {
      CAPTURE(Name(a));
      ChecksumStream sum(a);
      sum.Update(body.data(), body.size());
      const std::string header =
          std::string(HeaderName(a)) + ": " + sum.FinalValue().Base64() + "\r\n";
      std::string bad = body;
      bad[5] = 'Y';
      srv.Push(CannedServer::Http(200, multipart_etag + header, bad));
      ClientBodySink sink;
      auto g = c->GetObject("b", "k", sink);
      REQUIRE_FALSE(g.ok());
      CHECK(g.status().code() == Code::kCorruption);
      CHECK(g.status().message().find("GET b/k: the body's " + std::string(HeaderName(a))) == 0);
      // The right bytes pass, and the answer says the checksum was checked.
      srv.Push(CannedServer::Http(200, multipart_etag + header, body));
      ClientBodySink good;
      auto ok = c->GetObject("b", "k", good);
      REQUIRE(ok.ok());
      CHECK(ok->checksum_verified);
      CHECK(ok->checksum_header == HeaderName(a));
      CHECK(good.data == body);
    }
    for (const auto& r : srv.Requests()) CHECK(r.find("x-amz-checksum-mode: ENABLED") != std::string::npos);
  }
  SECTION("an empty body is checked against its checksum too") {
    srv.Push(CannedServer::Http(200, multipart_etag + "x-amz-checksum-crc32c: AAAAAQ==\r\n", ""));
    ClientBodySink sink;
    CHECK(c->GetObject("b", "k", sink).status().code() == Code::kCorruption);
  }
  SECTION("a COMPOSITE checksum (of the parts' checksums) is not checked against the bytes") {
    srv.Push(CannedServer::Http(
        200, multipart_etag + "x-amz-checksum-crc32: AAAAAA==-2\r\nx-amz-checksum-type: COMPOSITE\r\n",
        body));
    ClientBodySink sink;
    auto g = c->GetObject("b", "k", sink);
    REQUIRE(g.ok());
    CHECK_FALSE(g->checksum_verified);
    CHECK(sink.data == body);
  }
  SECTION("a ranged GET does not ask for the checksum") {
    srv.Push(CannedServer::Http(206, "ETag: \"" + md5 + "\"\r\nContent-Range: bytes 0-3/20\r\n",
                                body.substr(0, 4)));
    ClientBodySink sink;
    s3::GetOptions go;
    go.range = std::make_pair(uint64_t{0}, uint64_t{3});
    REQUIRE(c->GetObject("b", "k", sink, go).ok());
    CHECK(srv.Requests()[0].find("x-amz-checksum-mode") == std::string::npos);
  }
  SECTION("a multipart ETag is not taken for an MD5") {
    srv.Push(CannedServer::Http(200, "ETag: \"" + md5 + "-2\"\r\n", body));
    ClientBodySink sink;
    REQUIRE(c->GetObject("b", "k", sink).ok());
    CHECK(sink.data == body);
  }
  SECTION("a body cut short resumes with a Range pinned by If-Match") {
    const std::string full = CannedServer::Http(200, "ETag: \"" + md5 + "\"\r\n", body);
    srv.Push(full, full.size() - 12);  // 8 bytes of the body arrive
    srv.Push(CannedServer::Http(206, "ETag: \"" + md5 + "\"\r\nContent-Range: bytes 8-19/20\r\n",
                                body.substr(8)));
    ClientBodySink sink;
    auto g = c->GetObject("b", "k", sink);
    REQUIRE(g.ok());
    CHECK(sink.data == body);
    auto reqs = srv.Requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[1].find("Range: bytes=8-") != std::string::npos);
    CHECK(reqs[1].find("If-Match: \"" + md5 + "\"") != std::string::npos);
  }
  SECTION("a PUT whose ETag is not the body's MD5 fails") {
    srv.Push(CannedServer::Http(200, "ETag: \"" + md5 + "\"\r\n", ""));
    auto p = c->PutObject("b", "k", Mem("other"));
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == Code::kCorruption);
    CHECK(srv.Requests()[0].find("Content-MD5: ") != std::string::npos);
  }
  SECTION("DeleteObjects checks every key of the answer") {
    srv.Push(CannedServer::Http(
        200, "",
        "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied"
        "</Code><Message>no</Message></Error></DeleteResult>"));
    std::vector<DeleteResult> res;
    REQUIRE(c->DeleteObjects("b", {"a", "b", "c"}, &res).ok());
    REQUIRE(res.size() == 3);
    CHECK(res[0].status.ok());
    CHECK(res[1].status.code() == Code::kAccessDenied);
    CHECK(res[1].status.message() == "DELETE b/b: AccessDenied: no");
    CHECK(res[2].status.message().find("does not mention it") != std::string::npos);
  }
}

TEST_CASE("s3 client: ranged downloads into a file, pinned and checked", "[s3client]") {
  CannedServer srv;
  std::vector<std::chrono::milliseconds> sleeps;
  auto c = MakeClient(srv.Options(&sleeps));
  const std::string body = "0123456789abcdefghijklmnopqrstuvwxyz";  // 36 bytes: ranges of 16
  ObjectHead head;
  head.size = body.size();
  head.etag = Md5Of(body);
  char tmpl[] = "/tmp/cairn-s3ranges-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  ::unlink(tmpl);
  auto range = [&](uint64_t off, const std::string& bytes) {
    srv.Push(CannedServer::Http(206,
                                "ETag: \"" + head.etag + "\"\r\nContent-Range: bytes " +
                                    std::to_string(off) + "-" +
                                    std::to_string(off + bytes.size() - 1) + "/36\r\n",
                                bytes));
  };
  uint64_t seen = 0;
  auto count = [&seen](uint64_t n) { seen += n; };

  SECTION("the ranges land at their offsets; the whole is checked against the MD5 ETag") {
    range(0, body.substr(0, 16));
    range(16, body.substr(16, 16));
    range(32, body.substr(32));
    REQUIRE(c->DownloadRanges("b", "k", head, fd, 16, 1, count).ok());
    std::string back(36, '\0');
    REQUIRE(::pread(fd, back.data(), back.size(), 0) == 36);
    CHECK(back == body);
    CHECK(seen == 36);
    auto reqs = srv.Requests();
    REQUIRE(reqs.size() == 3);
    CHECK(reqs[1].find("Range: bytes=16-31") != std::string::npos);
    CHECK(reqs[2].find("If-Match: \"" + head.etag + "\"") != std::string::npos);
  }
  SECTION("a range with other bytes fails the download as corruption") {
    range(0, body.substr(0, 16));
    range(16, std::string(16, '#'));
    range(32, body.substr(32));
    Status s = c->DownloadRanges("b", "k", head, fd, 16, 1, count);
    CHECK(s.code() == Code::kCorruption);
    CHECK(s.message().find("GET b/k: the body's MD5") == 0);
  }
  SECTION("a short range fails it") {
    range(0, body.substr(0, 16));
    range(16, body.substr(16, 10));
    Status s = c->DownloadRanges("b", "k", head, fd, 16, 1, count);
    CHECK(s.code() == Code::kIncompleteBody);
    CHECK(s.message().find("range at 16 brought 10 of 16 bytes") != std::string::npos);
  }
  SECTION("with no thread to start, this thread fetches every range") {
    range(0, body.substr(0, 16));
    range(16, body.substr(16, 16));
    range(32, body.substr(32));
    StageGroup::FailRunForTest(0, 2);
    Status s = c->DownloadRanges("b", "k", head, fd, 16, 3, count);
    StageGroup::FailRunForTest(-1);
    REQUIRE(s.ok());
    std::string back(36, '\0');
    REQUIRE(::pread(fd, back.data(), back.size(), 0) == 36);
    CHECK(back == body);
    CHECK(srv.Requests().size() == 3);
  }
  SECTION("an object changed meanwhile (412) fails it at once") {
    srv.Push(CannedServer::Error(412, "PreconditionFailed"));
    Status s = c->DownloadRanges("b", "k", head, fd, 16, 1, count);
    CHECK(s.code() == Code::kPreconditionFailed);
    CHECK(srv.Requests().size() == 1);
  }
  ::close(fd);
}
