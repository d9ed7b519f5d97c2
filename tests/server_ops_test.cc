// The S3 operations of StoreHandler through the real HTTP server in process (no auth:
// AllowAllAuthenticator), over both backends: a volume set (2+1 on memory volumes, and 4+2 on local
// directories) and a plain directory (a LocalVolume); a GET from a LocalVolume goes out with
// sendfile. Conditionals (304/412), ranges, response-* overrides, metadata and standard headers,
// DeleteObjects, CopyObject, ListObjectVersions, the ACL answers, CreateBucket's body and
// NotImplemented.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <sstream>

#include "libstore/common/base64.h"
#include "libstore/common/checksum.h"
#include "libstore/common/hash.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/object_meta.h"
#include "libstore/server/http_server.h"
#include "libstore/server/store_handler.h"
#include "tests/plain_test_util.h"
#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::server;
using namespace cairn::test;

namespace {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string H(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? "" : it->second;
  }
  bool Has(const std::string& part) const { return body.find(part) != std::string::npos; }
};

// One keep-alive connection speaking just enough HTTP/1.1 for these tests.
class Conn {
 public:
  explicit Conn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  }
  ~Conn() { ::close(fd_); }

  RawResponse Do(const std::string& method, const std::string& target, const std::string& body = "",
              const std::vector<std::string>& headers = {}) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
    for (const auto& h : headers) req += h + "\r\n";
    if (method == "PUT" || method == "POST" || !body.empty()) {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    std::string_view s = req;
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      s.remove_prefix(size_t(n));
    }
    return Read(method == "HEAD");
  }

 private:
  bool More() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    char b[65536];
    const ssize_t n = ::recv(fd_, b, sizeof(b), 0);
    if (n <= 0) return false;
    buf_.append(b, size_t(n));
    return true;
  }
  RawResponse Read(bool head) {
    RawResponse r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!More()) return r;
    }
    std::istringstream in(buf_.substr(0, end));
    buf_.erase(0, end + 4);
    std::string line;
    std::getline(in, line);
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
    if (head || r.status == 304 || r.status == 204) return r;
    const size_t len = std::stoul(r.H("content-length").empty() ? "0" : r.H("content-length"));
    while (buf_.size() < len && More()) {
    }
    r.body = buf_.substr(0, std::min(len, buf_.size()));
    buf_.erase(0, r.body.size());
    return r;
  }

  int fd_ = -1;
  std::string buf_;
};

// The server over one backend.
struct Served {
  explicit Served(const std::string& kind) {
    if (kind == "set") {
      set = std::make_unique<SetFixture>(2, 1);
      store = set->set.get();
    } else if (kind == "set-local") {
      local_set = std::make_unique<LocalSet>(4, 2, 64 << 10);
      store = local_set->set.get();
    } else {
      plain = std::make_unique<PlainFixture>("local");
      store = plain->store.get();
    }
    handler = std::make_unique<StoreHandler>(*store, false, false);
    ServerOptions o;
    o.port = 0;
    auto r = HttpServer::Start(o, &auth, handler.get());
    REQUIRE(r.ok());
    srv = std::move(r).value();
    REQUIRE(store->MakeBucket("bkt").ok());
  }
  ~Served() { srv.reset(); }
  uint16_t port() const { return srv->port(); }

  std::unique_ptr<SetFixture> set;
  std::unique_ptr<LocalSet> local_set;
  std::unique_ptr<PlainFixture> plain;
  ObjectStore* store = nullptr;
  AllowAllAuthenticator auth;
  std::unique_ptr<StoreHandler> handler;
  std::unique_ptr<HttpServer> srv;
};

std::string Md5Base64(const std::string& s) {
  Md5Stream m;
  m.Update(s.data(), s.size());
  uint8_t d[16];
  m.Final(d);
  return Base64Encode(d, 16);
}

std::string Crc32Base64(const std::string& s) {
  const uint32_t c = Crc32(0, s.data(), s.size());
  const uint8_t b[4] = {uint8_t(c >> 24), uint8_t(c >> 16), uint8_t(c >> 8), uint8_t(c)};
  return Base64Encode(b, 4);
}

std::string DeleteBody(const std::vector<std::string>& keys, bool quiet,
                       const std::string& version = "") {
  std::string b = "<Delete>";
  if (quiet) b += "<Quiet>true</Quiet>";
  for (const auto& k : keys) {
    b += "<Object><Key>" + k + "</Key>";
    if (!version.empty()) b += "<VersionId>" + version + "</VersionId>";
    b += "</Object>";
  }
  return b + "</Delete>";
}

// "set": 2+1 on memory volumes; "set-local": 4+2 on local directories, whose whole blocks go out
// with sendfile; "plain": a directory.
const char* kBackends[] = {"set", "set-local", "plain"};

}  // namespace

TEST_CASE("server ops: GET and HEAD with conditions, 304 and 412", "[server][ops]") {
  const std::string kind = GENERATE(from_range(std::begin(kBackends), std::end(kBackends)));
  Served s(kind);
  Conn c(s.port());
  INFO(kind);
  auto put = c.Do("PUT", "/bkt/doc.txt", "hello world",
                  {"Content-Type: text/x-test", "x-amz-meta-color: blue"});
  REQUIRE(put.status == 200);
  const std::string etag = put.H("etag");
  REQUIRE(etag.size() > 2);
  auto get = c.Do("GET", "/bkt/doc.txt");
  CHECK(get.status == 200);
  CHECK(get.body == "hello world");
  CHECK(get.H("etag") == etag);
  CHECK(get.H("content-type") == "text/x-test");
  CHECK(get.H("x-amz-meta-color") == "blue");
  const std::string lm = get.H("last-modified");
  CHECK(!lm.empty());

  auto nm = c.Do("GET", "/bkt/doc.txt", "", {"If-None-Match: " + etag});
  CHECK(nm.status == 304);
  CHECK(nm.H("etag") == etag);
  CHECK(nm.H("last-modified") == lm);
  CHECK(nm.body.empty());
  CHECK(c.Do("HEAD", "/bkt/doc.txt", "", {"If-None-Match: " + etag}).status == 304);
  CHECK(c.Do("GET", "/bkt/doc.txt", "", {"If-None-Match: \"other\""}).status == 200);
  CHECK(c.Do("GET", "/bkt/doc.txt", "", {"If-Match: " + etag}).status == 200);
  auto pf = c.Do("GET", "/bkt/doc.txt", "", {"If-Match: \"other\""});
  CHECK(pf.status == 412);
  CHECK(pf.Has("<Code>PreconditionFailed</Code>"));
  CHECK(c.Do("HEAD", "/bkt/doc.txt", "", {"If-Match: \"other\""}).status == 412);
  CHECK(c.Do("GET", "/bkt/doc.txt", "", {"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"})
            .status == 304);
  CHECK(c.Do("GET", "/bkt/doc.txt", "", {"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"})
            .status == 200);
  CHECK(c.Do("GET", "/bkt/doc.txt", "", {"If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT"})
            .status == 412);
  // If-Match true makes If-Unmodified-Since ignored.
  CHECK(c.Do("GET", "/bkt/doc.txt", "",
             {"If-Match: " + etag, "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT"})
            .status == 200);
  // A date that does not parse is ignored.
  CHECK(c.Do("GET", "/bkt/doc.txt", "", {"If-Modified-Since: yesterday"}).status == 200);
  auto missing = c.Do("GET", "/bkt/none");
  CHECK(missing.status == 404);
  CHECK(missing.Has("<Code>NoSuchKey</Code>"));
  CHECK(c.Do("GET", "/nob/none").Has("<Code>NoSuchBucket</Code>"));
  // A conditional PUT.
  CHECK(c.Do("PUT", "/bkt/doc.txt", "x", {"If-None-Match: *"}).status == 412);
  CHECK(c.Do("PUT", "/bkt/doc.txt", "x", {"If-Match: \"nope\""}).status == 412);
  CHECK(c.Do("PUT", "/bkt/doc.txt", "again", {"If-Match: " + etag}).status == 200);
  CHECK(c.Do("GET", "/bkt/doc.txt").body == "again");
}

TEST_CASE("server ops: ranges", "[server][ops]") {
  const std::string kind = GENERATE(from_range(std::begin(kBackends), std::end(kBackends)));
  Served s(kind);
  Conn c(s.port());
  INFO(kind);
  std::string data = RandomBytes(300000, 9);
  REQUIRE(c.Do("PUT", "/bkt/big", data).status == 200);
  auto whole = c.Do("GET", "/bkt/big");
  CHECK(whole.status == 200);
  CHECK(whole.body == data);
  auto r = c.Do("GET", "/bkt/big", "", {"Range: bytes=100-199"});
  CHECK(r.status == 206);
  CHECK(r.H("content-range") == "bytes 100-199/300000");
  CHECK(r.body == data.substr(100, 100));
  r = c.Do("GET", "/bkt/big", "", {"Range: bytes=-10"});
  CHECK(r.status == 206);
  CHECK(r.body == data.substr(data.size() - 10));
  r = c.Do("GET", "/bkt/big", "", {"Range: bytes=299990-"});
  CHECK(r.status == 206);
  CHECK(r.H("content-range") == "bytes 299990-299999/300000");
  CHECK(r.body == data.substr(299990));
  r = c.Do("GET", "/bkt/big", "", {"Range: bytes=299990-500000"});
  CHECK(r.body == data.substr(299990));
  // Several blocks from inside one to inside another (a 4+2 set reads those ahead and sends each
  // block's chunks in one call).
  r = c.Do("GET", "/bkt/big", "", {"Range: bytes=70001-270002"});
  CHECK(r.status == 206);
  CHECK(r.body == data.substr(70001, 200002));
  // Several ranges, or a bad one: ignored, the whole object.
  r = c.Do("GET", "/bkt/big", "", {"Range: bytes=0-1,5-6"});
  CHECK(r.status == 200);
  CHECK(r.body.size() == data.size());
  CHECK(c.Do("GET", "/bkt/big", "", {"Range: bytes=5-1"}).status == 200);
  r = c.Do("GET", "/bkt/big", "", {"Range: bytes=300000-"});
  CHECK(r.status == 416);
  CHECK(r.Has("<Code>InvalidRange</Code>"));
  auto h = c.Do("HEAD", "/bkt/big", "", {"Range: bytes=0-9"});
  CHECK(h.status == 206);
  CHECK(h.H("content-length") == "10");
  CHECK(h.H("content-range") == "bytes 0-9/300000");
  // Range and conditions together.
  CHECK(c.Do("GET", "/bkt/big", "", {"Range: bytes=0-9", "If-Match: \"x\""}).status == 412);
  // The connection is still usable after all of that.
  CHECK(c.Do("GET", "/bkt/big", "", {"Range: bytes=0-0"}).body == data.substr(0, 1));
}

TEST_CASE("server ops: a 4+2 GET sends blocks from the files and a rebuilt one between them",
          "[server][ops][sendfile]") {
  Served s("set-local");
  Conn c(s.port());
  const std::string data = RandomBytes(300000, 12);
  REQUIRE(c.Do("PUT", "/bkt/big", data).status == 200);
  // Bitrot in block 1 of data shard 0 (blocks of 64 KiB, chunks of 16 KiB).
  int flipped = 0;
  for (auto& v : s.local_set->vols) {
    auto raw = v->ReadFile(KeyPaths("bkt", "big").meta, 1 << 20);
    REQUIRE(raw.ok());
    auto meta = ObjectMeta::Decode(*raw);
    REQUIRE(meta.ok());
    if (meta->shard_index != 0) continue;
    FlipByte(*v, ShardFileOn(*v, "bkt", "big"), (16 << 10) + kChecksumLen + 3);
    ++flipped;
  }
  REQUIRE(flipped == 1);
  auto whole = c.Do("GET", "/bkt/big");
  CHECK(whole.status == 200);
  CHECK(whole.body == data);
  auto r = c.Do("GET", "/bkt/big", "", {"Range: bytes=60000-200000"});
  CHECK(r.status == 206);
  CHECK(r.body == data.substr(60000, 140001));
  // The connection is still in step: another request on it.
  CHECK(c.Do("HEAD", "/bkt/big").H("content-length") == "300000");
}

TEST_CASE("server ops: metadata, standard headers and response-* overrides", "[server][ops]") {
  const std::string kind = GENERATE(from_range(std::begin(kBackends), std::end(kBackends)));
  Served s(kind);
  Conn c(s.port());
  INFO(kind);
  REQUIRE(c.Do("PUT", "/bkt/page.html", "<p>",
               {"Content-Type: text/html", "Cache-Control: max-age=60",
                "Content-Disposition: attachment; filename=\"p.html\"",
                "Content-Encoding: identity", "Content-Language: fr",
                "Expires: Fri, 01 Jan 2100 00:00:00 GMT", "x-amz-meta-Owner-Name: ann"})
              .status == 200);
  auto g = c.Do("GET", "/bkt/page.html");
  CHECK(g.H("content-type") == "text/html");
  CHECK(g.H("cache-control") == "max-age=60");
  CHECK(g.H("content-disposition") == "attachment; filename=\"p.html\"");
  CHECK(g.H("content-encoding") == "identity");
  CHECK(g.H("content-language") == "fr");
  CHECK(g.H("expires") == "Fri, 01 Jan 2100 00:00:00 GMT");
  CHECK(g.H("x-amz-meta-owner-name") == "ann");
  for (const auto& [n, v] : g.headers) CHECK(n.find("cairn") == std::string::npos);
  auto h = c.Do("HEAD", "/bkt/page.html");
  CHECK(h.H("cache-control") == "max-age=60");
  // Overrides replace what is stored, on GET and HEAD.
  auto o = c.Do("GET",
                "/bkt/page.html?response-content-type=application%2Fjson&response-cache-control="
                "no-cache&response-content-disposition=inline&response-content-encoding=gzip&"
                "response-content-language=de&response-expires=0");
  CHECK(o.H("content-type") == "application/json");
  CHECK(o.H("cache-control") == "no-cache");
  CHECK(o.H("content-disposition") == "inline");
  CHECK(o.H("content-encoding") == "gzip");
  CHECK(o.H("content-language") == "de");
  CHECK(o.H("expires") == "0");
  CHECK(o.body == "<p>");
  CHECK(c.Do("HEAD", "/bkt/page.html?response-content-type=a%2Fb").H("content-type") == "a/b");
  // An override cannot add fields: a CR LF in its value is refused.
  auto inj = c.Do("GET", "/bkt/page.html?response-content-type=a%0D%0AX-Forged:%20yes");
  CHECK(inj.status == 400);
  CHECK(inj.H("x-forged").empty());
  CHECK(c.Do("GET", "/bkt/page.html?response-cache-control=a%0Ab").status == 400);
  // The reserved prefix cannot be forged.
  auto bad = c.Do("PUT", "/bkt/forged", "x", {"x-amz-meta-~cairn-cache-control: evil"});
  CHECK(bad.status == 400);
  CHECK(bad.Has("reserved"));
  // Without a type, binary/octet-stream (a set) or by extension (plain: none for this one).
  REQUIRE(c.Do("PUT", "/bkt/notype", "x").status == 200);
  CHECK(!c.Do("GET", "/bkt/notype").H("content-type").empty());
}

TEST_CASE("server ops: DeleteObjects", "[server][ops]") {
  const std::string kind = GENERATE(from_range(std::begin(kBackends), std::end(kBackends)));
  Served s(kind);
  Conn c(s.port());
  INFO(kind);
  for (const char* k : {"a", "b", "c/d", "e"})
    REQUIRE(c.Do("PUT", std::string("/bkt/") + k, k).status == 200);
  const std::string body = DeleteBody({"a", "c/d", "missing"}, false);
  // Content-MD5 or a checksum is required, and checked.
  auto r = c.Do("POST", "/bkt?delete", body);
  CHECK(r.status == 400);
  CHECK(r.Has("Content-MD5"));
  r = c.Do("POST", "/bkt?delete", body, {"Content-MD5: " + Md5Base64("other")});
  CHECK(r.status == 400);
  CHECK(r.Has("<Code>BadDigest</Code>"));
  r = c.Do("POST", "/bkt?delete", body, {"Content-MD5: nope"});
  CHECK(r.Has("<Code>InvalidDigest</Code>"));
  r = c.Do("POST", "/bkt?delete", body, {"x-amz-checksum-crc32: " + Crc32Base64("other")});
  CHECK(r.Has("<Code>BadDigest</Code>"));
  CHECK(c.Do("GET", "/bkt/a").status == 200);  // nothing deleted by the refused batches

  r = c.Do("POST", "/bkt?delete", body, {"Content-MD5: " + Md5Base64(body)});
  CHECK(r.status == 200);
  CHECK(r.Has("<Deleted><Key>a</Key></Deleted>"));
  CHECK(r.Has("<Deleted><Key>c/d</Key></Deleted>"));
  CHECK(r.Has("<Deleted><Key>missing</Key></Deleted>"));
  CHECK(c.Do("GET", "/bkt/a").status == 404);
  CHECK(c.Do("GET", "/bkt/c/d").status == 404);

  // Quiet, with a CRC32 header (botocore 1.36+), and per-key errors.
  const std::string long_key(1025, 'k');
  const std::string q = DeleteBody({"b", long_key}, true);
  r = c.Do("POST", "/bkt?delete", q,
           {"x-amz-checksum-crc32: " + Crc32Base64(q), "x-amz-sdk-checksum-algorithm: CRC32"});
  CHECK(r.status == 200);
  CHECK(!r.Has("<Deleted>"));
  CHECK(r.Has("<Error><Key>" + long_key + "</Key><Code>KeyTooLongError</Code>"));
  CHECK(c.Do("GET", "/bkt/b").status == 404);
  // A version other than null is an error for that key only.
  const std::string v = DeleteBody({"e"}, false, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY");
  r = c.Do("POST", "/bkt?delete", v, {"Content-MD5: " + Md5Base64(v)});
  CHECK(r.Has("<Error><Key>e</Key>"));
  CHECK(r.Has("<Code>InvalidArgument</Code>"));
  CHECK(c.Do("GET", "/bkt/e").status == 200);
  const std::string vn = DeleteBody({"e"}, false, "null");
  r = c.Do("POST", "/bkt?delete", vn, {"Content-MD5: " + Md5Base64(vn)});
  CHECK(r.Has("<Deleted><Key>e</Key><VersionId>null</VersionId></Deleted>"));
  // Escaped keys in the answer.
  REQUIRE(c.Do("PUT", "/bkt/x%26y", "1").status == 200);
  const std::string esc = DeleteBody({"x&amp;y"}, false);
  r = c.Do("POST", "/bkt?delete", esc, {"Content-MD5: " + Md5Base64(esc)});
  CHECK(r.Has("<Deleted><Key>x&amp;y</Key></Deleted>"));
  // Malformed XML, a missing bucket.
  const std::string junk = "<Delete><Object>";
  CHECK(c.Do("POST", "/bkt?delete", junk, {"Content-MD5: " + Md5Base64(junk)})
            .Has("<Code>MalformedXML</Code>"));
  CHECK(c.Do("POST", "/nob?delete", esc, {"Content-MD5: " + Md5Base64(esc)})
            .Has("<Code>NoSuchBucket</Code>"));
}

TEST_CASE("server ops: CopyObject", "[server][ops]") {
  const std::string kind = GENERATE(from_range(std::begin(kBackends), std::end(kBackends)));
  Served s(kind);
  Conn c(s.port());
  INFO(kind);
  REQUIRE(s.store->MakeBucket("dst").ok());
  auto put = c.Do("PUT", "/bkt/src%20file", "payload",
                  {"Content-Type: text/plain", "x-amz-meta-k: v", "Cache-Control: no-store"});
  REQUIRE(put.status == 200);
  const std::string etag = put.H("etag");
  // COPY (the default): the source's metadata, the source named percent-encoded.
  auto r = c.Do("PUT", "/dst/copy1", "", {"x-amz-copy-source: /bkt/src%20file"});
  CHECK(r.status == 200);
  CHECK(r.Has("<CopyObjectResult"));
  CHECK(r.Has("<ETag>&quot;"));
  auto g = c.Do("GET", "/dst/copy1");
  CHECK(g.body == "payload");
  CHECK(g.H("content-type") == "text/plain");
  CHECK(g.H("x-amz-meta-k") == "v");
  CHECK(g.H("cache-control") == "no-store");
  CHECK(g.H("etag") == etag);
  // REPLACE: the request's metadata.
  r = c.Do("PUT", "/dst/copy2", "",
           {"x-amz-copy-source: bkt/src%20file", "x-amz-metadata-directive: REPLACE",
            "Content-Type: text/x-new", "x-amz-meta-n: 2"});
  CHECK(r.status == 200);
  g = c.Do("GET", "/dst/copy2");
  CHECK(g.H("content-type") == "text/x-new");
  CHECK(g.H("x-amz-meta-n") == "2");
  CHECK(g.H("x-amz-meta-k").empty());
  CHECK(g.H("cache-control").empty());
  // A copy onto itself needs REPLACE.
  CHECK(c.Do("PUT", "/bkt/src%20file", "", {"x-amz-copy-source: bkt/src%20file"}).status == 400);
  r = c.Do("PUT", "/bkt/src%20file", "",
           {"x-amz-copy-source: bkt/src%20file", "x-amz-metadata-directive: REPLACE",
            "x-amz-meta-self: 1"});
  CHECK(r.status == 200);
  CHECK(c.Do("HEAD", "/bkt/src%20file").H("x-amz-meta-self") == "1");
  // Copy-source conditions: every failure is a 412.
  CHECK(c.Do("PUT", "/dst/c3", "",
             {"x-amz-copy-source: bkt/src%20file", "x-amz-copy-source-if-match: \"no\""})
            .status == 412);
  CHECK(c.Do("PUT", "/dst/c3", "",
             {"x-amz-copy-source: bkt/src%20file", "x-amz-copy-source-if-none-match: " + etag})
            .status == 412);
  CHECK(c.Do("PUT", "/dst/c3", "",
             {"x-amz-copy-source: bkt/src%20file",
              "x-amz-copy-source-if-unmodified-since: Sun, 06 Nov 1994 08:49:37 GMT"})
            .status == 412);
  CHECK(c.Do("PUT", "/dst/c3", "",
             {"x-amz-copy-source: bkt/src%20file", "x-amz-copy-source-if-match: " + etag})
            .status == 200);
  // Errors.
  CHECK(c.Do("PUT", "/dst/c4", "", {"x-amz-copy-source: bkt/none"}).Has("<Code>NoSuchKey</Code>"));
  CHECK(c.Do("PUT", "/dst/c4", "", {"x-amz-copy-source: nob/x"}).Has("<Code>NoSuchBucket</Code>"));
  CHECK(c.Do("PUT", "/nob/c4", "", {"x-amz-copy-source: bkt/src%20file"})
            .Has("<Code>NoSuchBucket</Code>"));
  CHECK(c.Do("PUT", "/dst/c4", "",
             {"x-amz-copy-source: bkt/src%20file", "x-amz-metadata-directive: MOVE"})
            .status == 400);
  CHECK(c.Do("PUT", "/dst/c4", "", {"x-amz-copy-source: bkt"}).status == 400);
  CHECK(c.Do("PUT", "/dst/c4", "", {"x-amz-copy-source: bkt/src%zz"}).status == 400);
  CHECK(c.Do("PUT", "/dst/c4", "", {"x-amz-copy-source: bkt/src%20file?versionId=7"}).status ==
        400);
  CHECK(c.Do("PUT", "/dst/c4", "", {"x-amz-copy-source: bkt/src%20file?versionId=null"}).status ==
        200);
  CHECK(c.Do("GET", "/dst/c4").body == "payload");
}

TEST_CASE("server ops: checksums stored at PUT, returned with x-amz-checksum-mode",
          "[server][ops]") {
  const std::string kind = GENERATE(from_range(std::begin(kBackends), std::end(kBackends)));
  Served s(kind);
  Conn c(s.port());
  INFO(kind);
  const std::string data = RandomBytes(200000, 4);
  auto put = c.Do("PUT", "/bkt/k", data,
                  {"x-amz-checksum-crc32: " + Crc32Base64(data), "Content-MD5: " + Md5Base64(data),
                   "x-amz-sdk-checksum-algorithm: CRC32"});
  REQUIRE(put.status == 200);
  CHECK(put.H("x-amz-checksum-crc32") == Crc32Base64(data));
  CHECK(put.H("x-amz-checksum-type") == "FULL_OBJECT");
  // Only when asked for, and only for the whole object.
  CHECK(c.Do("HEAD", "/bkt/k").H("x-amz-checksum-crc32").empty());
  auto h = c.Do("HEAD", "/bkt/k", "", {"x-amz-checksum-mode: ENABLED"});
  CHECK(h.H("x-amz-checksum-crc32") == Crc32Base64(data));
  CHECK(h.H("x-amz-checksum-type") == "FULL_OBJECT");
  auto g = c.Do("GET", "/bkt/k", "", {"x-amz-checksum-mode: ENABLED"});
  CHECK(g.body == data);
  CHECK(g.H("x-amz-checksum-crc32") == Crc32Base64(data));
  auto part = c.Do("GET", "/bkt/k", "", {"x-amz-checksum-mode: ENABLED", "Range: bytes=0-9"});
  CHECK(part.status == 206);
  CHECK(part.H("x-amz-checksum-crc32").empty());
  // Wrong values commit nothing: the checksum, then Content-MD5.
  auto bad = c.Do("PUT", "/bkt/k", "other", {"x-amz-checksum-crc32: " + Crc32Base64(data)});
  CHECK(bad.status == 400);
  CHECK(bad.Has("<Code>BadDigest</Code>"));
  bad = c.Do("PUT", "/bkt/k", "other", {"Content-MD5: " + Md5Base64(data)});
  CHECK(bad.status == 400);
  CHECK(bad.Has("<Code>BadDigest</Code>"));
  CHECK(c.Do("PUT", "/bkt/k", "other", {"Content-MD5: !!"}).Has("<Code>InvalidDigest</Code>"));
  CHECK(c.Do("PUT", "/bkt/k", "other", {"x-amz-checksum-crc32: AAAA"})
            .Has("<Code>InvalidDigest</Code>"));
  CHECK(
      c.Do("PUT", "/bkt/k", "other",
           {"x-amz-checksum-crc32: " + Crc32Base64("other"), "x-amz-sdk-checksum-algorithm: SHA1"})
          .status == 400);
  CHECK(c.Do("PUT", "/bkt/k", "other", {"x-amz-sdk-checksum-algorithm: MD4"}).status == 400);
  CHECK(c.Do("GET", "/bkt/k").body == data);
  // The algorithm alone: computed and stored.
  REQUIRE(c.Do("PUT", "/bkt/named", "abc", {"x-amz-sdk-checksum-algorithm: crc32"}).status == 200);
  CHECK(
      c.Do("HEAD", "/bkt/named", "", {"x-amz-checksum-mode: enabled"}).H("x-amz-checksum-crc32") ==
      Crc32Base64("abc"));
  // CopyObject keeps it, or computes the one asked for, and says so in its result.
  auto cp = c.Do("PUT", "/bkt/copy", "", {"x-amz-copy-source: bkt/k"});
  CHECK(cp.status == 200);
  CHECK(cp.Has("<ChecksumCRC32>" + Crc32Base64(data) + "</ChecksumCRC32>"));
  CHECK(cp.Has("<ChecksumType>FULL_OBJECT</ChecksumType>"));
  CHECK(c.Do("HEAD", "/bkt/copy", "", {"x-amz-checksum-mode: ENABLED"}).H("x-amz-checksum-crc32") ==
        Crc32Base64(data));
  cp = c.Do("PUT", "/bkt/copy", "",
            {"x-amz-copy-source: bkt/k", "x-amz-checksum-algorithm: SHA256"});
  CHECK(cp.status == 200);
  uint8_t sha[32];
  Sha256(data.data(), data.size(), sha);
  CHECK(cp.Has("<ChecksumSHA256>" + Base64Encode(sha, 32) + "</ChecksumSHA256>"));
  CHECK(
      c.Do("HEAD", "/bkt/copy", "", {"x-amz-checksum-mode: ENABLED"}).H("x-amz-checksum-sha256") ==
      Base64Encode(sha, 32));
  CHECK(c.Do("PUT", "/bkt/copy", "", {"x-amz-copy-source: bkt/k", "x-amz-checksum-algorithm: MD4"})
            .status == 400);
}

TEST_CASE("server ops: standard headers beside 2 KiB of user metadata", "[server][ops]") {
  const std::string kind = GENERATE(from_range(std::begin(kBackends), std::end(kBackends)));
  Served s(kind);
  Conn c(s.port());
  INFO(kind);
  // x-amz-meta-a: 2047 bytes of value + 1 of name = 2 KiB, with long standard headers beside.
  const std::vector<std::string> standard = {
      "Cache-Control: " + std::string(900, 'c'), "Content-Disposition: " + std::string(900, 'd'),
      "Content-Language: " + std::string(900, 'l'), "Expires: " + std::string(900, 'e')};
  auto headers = standard;
  headers.push_back("x-amz-meta-a: " + std::string(2047, 'v'));
  REQUIRE(c.Do("PUT", "/bkt/full", "x", headers).status == 200);
  auto g = c.Do("GET", "/bkt/full");
  CHECK(g.H("x-amz-meta-a") == std::string(2047, 'v'));
  CHECK(g.H("cache-control") == std::string(900, 'c'));
  CHECK(g.H("expires") == std::string(900, 'e'));
  headers.back() += "v";  // 2 KiB + 1
  auto over = c.Do("PUT", "/bkt/over", "x", headers);
  CHECK(over.status == 400);
  CHECK(c.Do("HEAD", "/bkt/over").status == 404);
}

TEST_CASE("server ops: ListObjectVersions, ACLs, CreateBucket, NotImplemented", "[server][ops]") {
  const std::string kind = GENERATE(from_range(std::begin(kBackends), std::end(kBackends)));
  Served s(kind);
  Conn c(s.port());
  INFO(kind);
  for (const char* k : {"a", "b", "d/e"})
    REQUIRE(c.Do("PUT", std::string("/bkt/") + k, k).status == 200);
  auto r = c.Do("GET", "/bkt?versions");
  CHECK(r.status == 200);
  CHECK(r.Has("<ListVersionsResult xmlns="));
  CHECK(r.Has("<Version><Key>a</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>"));
  CHECK(r.Has("<Key>d/e</Key>"));
  CHECK(r.Has("<IsTruncated>false</IsTruncated>"));
  r = c.Do("GET", "/bkt?versions&max-keys=1");
  CHECK(r.Has("<IsTruncated>true</IsTruncated>"));
  CHECK(r.Has("<NextKeyMarker>a</NextKeyMarker>"));
  CHECK(r.Has("<NextVersionIdMarker>null</NextVersionIdMarker>"));
  r = c.Do("GET", "/bkt?versions&max-keys=1&key-marker=a&version-id-marker=null");
  CHECK(r.Has("<Key>b</Key>"));
  CHECK(!r.Has("<Key>a</Key>"));
  r = c.Do("GET", "/bkt?versions&delimiter=/");
  CHECK(r.Has("<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>"));
  CHECK(c.Do("GET", "/bkt?versions&version-id-marker=null").status == 400);
  CHECK(c.Do("GET", "/nob?versions").Has("<Code>NoSuchBucket</Code>"));

  for (const char* t : {"/bkt?acl", "/bkt/a?acl"}) {
    r = c.Do("GET", t);
    INFO(t);
    CHECK(r.status == 200);
    CHECK(r.Has("<AccessControlPolicy xmlns="));
    CHECK(r.Has("<Owner><ID>cairn</ID><DisplayName>cairn</DisplayName></Owner>"));
    CHECK(
        r.Has("<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
              "xsi:type=\"CanonicalUser\"><ID>cairn</ID>"));
    CHECK(r.Has("<Permission>FULL_CONTROL</Permission></Grant></AccessControlList>"));
  }
  CHECK(c.Do("GET", "/bkt/none?acl").Has("<Code>NoSuchKey</Code>"));
  CHECK(c.Do("GET", "/nob?acl").Has("<Code>NoSuchBucket</Code>"));
  CHECK(c.Do("PUT", "/bkt?acl", "").status == 501);

  const std::string cfg =
      "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint>"
      "</CreateBucketConfiguration>";
  CHECK(c.Do("PUT", "/newb", cfg).status == 200);
  r = c.Do("PUT", "/newb", cfg);
  CHECK(r.status == 409);
  CHECK(r.Has("<Code>BucketAlreadyOwnedByYou</Code>"));
  CHECK(c.Do("PUT", "/other",
             "<CreateBucketConfiguration><LocationConstraint>eu-west-3"
             "</LocationConstraint></CreateBucketConfiguration>")
            .status == 400);
  CHECK(c.Do("PUT", "/other", "<nope").Has("<Code>MalformedXML</Code>"));
  CHECK(c.Do("HEAD", "/other").status == 404);

  for (const char* t : {"/bkt?tagging", "/bkt/a?tagging", "/bkt/a?versionId=1",
                        "/bkt/a?partNumber=1&tagging"}) {
    INFO(t);
    r = c.Do("GET", t);
    CHECK(r.status == 501);
    CHECK(r.Has("<Code>NotImplemented</Code>"));
  }
}

TEST_CASE("server ops: a read-only handler refuses every write", "[server][ops]") {
  SetFixture f(2, 1);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  StoreHandler handler(*f.set, true, false);
  AllowAllAuthenticator auth;
  ServerOptions o;
  o.port = 0;
  auto srv = HttpServer::Start(o, &auth, &handler);
  REQUIRE(srv.ok());
  Conn c((*srv)->port());
  const std::string b = DeleteBody({"a"}, false);
  CHECK(c.Do("POST", "/bkt?delete", b, {"Content-MD5: " + Md5Base64(b)}).status == 403);
  CHECK(c.Do("PUT", "/bkt/x", "1").status == 403);
  CHECK(c.Do("PUT", "/bkt/y", "", {"x-amz-copy-source: bkt/x"}).status == 403);
  CHECK(c.Do("GET", "/bkt?versions").status == 200);
  CHECK(c.Do("GET", "/bkt?acl").status == 200);
}

TEST_CASE("server ops: the region is the one serve was given", "[server][ops]") {
  for (const std::string region : {"us-east-1", "eu-west-3"}) {
    SetFixture f(2, 1);
    REQUIRE(f.set->MakeBucket("bkt").ok());
    StoreHandler handler(*f.set, false, false);
    handler.set_region(region);
    AllowAllAuthenticator auth;
    ServerOptions o;
    o.port = 0;
    auto srv = HttpServer::Start(o, &auth, &handler);
    REQUIRE(srv.ok());
    Conn c((*srv)->port());
    RawResponse loc = c.Do("GET", "/bkt?location");
    CHECK(loc.status == 200);
    // S3 says us-east-1 with an empty element.
    if (region == "us-east-1") {
      CHECK_FALSE(loc.Has("us-east-1"));
    } else {
      CHECK(loc.Has(">eu-west-3</LocationConstraint>"));
    }
    CHECK(c.Do("HEAD", "/bkt").H("x-amz-bucket-region") == region);
    const std::string here = "<CreateBucketConfiguration><LocationConstraint>" + region +
                             "</LocationConstraint></CreateBucketConfiguration>";
    CHECK(c.Do("PUT", "/new", here).status == 200);
    const std::string elsewhere =
        "<CreateBucketConfiguration><LocationConstraint>ap-south-1</LocationConstraint>"
        "</CreateBucketConfiguration>";
    RawResponse refused = c.Do("PUT", "/other", elsewhere);
    CHECK(refused.status == 400);
    CHECK(refused.Has(region));
    CHECK(f.set->BucketExists("other").code() == Code::kBucketNotFound);
  }
}

namespace {

// The text of the first <name>...</name> in xml ("" when none).
std::string XmlValue(const std::string& xml, const std::string& name) {
  const size_t b = xml.find("<" + name + ">");
  if (b == std::string::npos) return "";
  const size_t start = b + name.size() + 2;
  const size_t e = xml.find("</" + name + ">", start);
  return e == std::string::npos ? "" : xml.substr(start, e - start);
}

}  // namespace

// Multipart over HTTP on the plain backend (the volume set joins when its store implements the
// multipart calls; until then it answers NotImplemented, checked above).
TEST_CASE("server ops: multipart uploads over HTTP", "[server][ops][multipart]") {
  Served s("plain");
  Conn c(s.port());
  auto r = c.Do(
      "POST", "/bkt/dir/obj?uploads", "",
      {"Content-Type: text/x-mpu", "x-amz-meta-color: blue", "x-amz-checksum-algorithm: CRC32"});
  REQUIRE(r.status == 200);
  CHECK(r.Has("<InitiateMultipartUploadResult xmlns="));
  CHECK(r.Has("<Key>dir/obj</Key>"));
  CHECK(r.H("x-amz-checksum-algorithm") == "CRC32");
  CHECK(r.H("x-amz-checksum-type") == "COMPOSITE");
  const std::string id = XmlValue(r.body, "UploadId");
  REQUIRE(id.size() == 32);
  const std::string base = "/bkt/dir/obj?uploadId=" + id;
  const std::string p1 = RandomBytes(5 << 20, 90), p2 = "the last part";

  // UploadPart: bad numbers, a bad Content-MD5, a checksum of another algorithm, unknown ids.
  CHECK(c.Do("PUT", "/bkt/dir/obj?partNumber=0&uploadId=" + id, p2).Has("<Code>InvalidArgument"));
  CHECK(c.Do("PUT", "/bkt/dir/obj?partNumber=10001&uploadId=" + id, p2).status == 400);
  CHECK(c.Do("PUT", "/bkt/dir/obj?partNumber=x&uploadId=" + id, p2).status == 400);
  r = c.Do("PUT", "/bkt/dir/obj?partNumber=2&uploadId=" + id, p2,
           {"Content-MD5: " + Md5Base64("other")});
  CHECK(r.Has("<Code>BadDigest</Code>"));
  r = c.Do("PUT", "/bkt/dir/obj?partNumber=2&uploadId=" + id, p2,
           {"x-amz-checksum-sha1: " + Md5Base64("x").substr(0, 28)});
  CHECK(r.status == 400);
  r = c.Do("PUT", "/bkt/dir/obj?partNumber=1&uploadId=0123456789abcdef0123456789abcdef", p2);
  CHECK(r.status == 404);
  CHECK(r.Has("<Code>NoSuchUpload</Code>"));
  CHECK(c.Do("PUT", "/nob/dir/obj?partNumber=1&uploadId=" + id, p2).Has("<Code>NoSuchBucket"));

  r = c.Do("PUT", "/bkt/dir/obj?partNumber=1&uploadId=" + id, p1,
           {"Content-MD5: " + Md5Base64(p1), "x-amz-checksum-crc32: " + Crc32Base64(p1)});
  REQUIRE(r.status == 200);
  const std::string e1 = r.H("etag");
  CHECK(e1 == "\"" + Md5Hex(p1) + "\"");
  CHECK(r.H("x-amz-checksum-crc32") == Crc32Base64(p1));
  r = c.Do("PUT", "/bkt/dir/obj?partNumber=2&uploadId=" + id, p2,
           {"x-amz-checksum-crc32: " + Crc32Base64(p2)});
  REQUIRE(r.status == 200);
  const std::string e2 = r.H("etag");

  // ListParts, paged.
  r = c.Do("GET", base + "&max-parts=1");
  REQUIRE(r.status == 200);
  CHECK(r.Has("<ListPartsResult xmlns="));
  CHECK(r.Has("<IsTruncated>true</IsTruncated>"));
  CHECK(r.Has("<NextPartNumberMarker>1</NextPartNumberMarker>"));
  CHECK(r.Has("<ChecksumCRC32>" + Crc32Base64(p1) + "</ChecksumCRC32>"));
  CHECK(r.Has("<ChecksumType>COMPOSITE</ChecksumType>"));
  r = c.Do("GET", base + "&part-number-marker=1");
  CHECK(r.Has("<PartNumber>2</PartNumber>"));
  CHECK(!r.Has("<PartNumber>1</PartNumber>"));
  CHECK(r.Has("<Size>" + std::to_string(p2.size()) + "</Size>"));
  CHECK(c.Do("GET", base + "&max-parts=-1").status == 400);
  // ListMultipartUploads.
  r = c.Do("GET", "/bkt?uploads&prefix=dir/");
  REQUIRE(r.status == 200);
  CHECK(r.Has("<ListMultipartUploadsResult xmlns="));
  CHECK(r.Has("<UploadId>" + id + "</UploadId>"));
  CHECK(r.Has("<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"));
  r = c.Do("GET", "/bkt?uploads&delimiter=/");
  CHECK(r.Has("<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>"));
  CHECK(!r.Has("<UploadId>"));
  CHECK(c.Do("GET", "/bkt?uploads&prefix=zzz").Has("<IsTruncated>false</IsTruncated>"));
  CHECK(c.Do("GET", "/nob?uploads").Has("<Code>NoSuchBucket</Code>"));
  CHECK(c.Do("GET", "/bkt?uploads&encoding-type=zip").status == 400);
  CHECK(c.Do("GET", "/bkt?uploads&max-uploads=x").status == 400);
  r = c.Do("GET", "/bkt?uploads&max-uploads=0");
  CHECK(r.status == 200);
  CHECK(!r.Has("<Upload>"));
  CHECK(c.Do("GET", "/nob?uploads&max-uploads=0").status == 404);
  CHECK(c.Do("POST", "/bkt/x?uploads", "",
             {"x-amz-checksum-algorithm: CRC32", "x-amz-checksum-type: BOGUS"})
            .status == 400);
  CHECK(c.Do("POST", "/bkt/x?uploads", "", {"x-amz-meta-~cairn-x: 1"}).status == 400);

  auto part = [](int n, const std::string& etag, const std::string& sum) {
    return "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" + etag +
           "</ETag><ChecksumCRC32>" + sum + "</ChecksumCRC32></Part>";
  };
  const std::string good = "<CompleteMultipartUpload>" + part(1, e1, Crc32Base64(p1)) +
                           part(2, e2, Crc32Base64(p2)) + "</CompleteMultipartUpload>";
  // Complete's refusals, none of which makes the object.
  CHECK(c.Do("POST", base, "<nope").Has("<Code>MalformedXML</Code>"));
  CHECK(c.Do("POST", base, "<CompleteMultipartUpload></CompleteMultipartUpload>").status == 400);
  CHECK(c.Do("POST", base,
             "<CompleteMultipartUpload>" + part(2, e2, Crc32Base64(p2)) +
                 part(1, e1, Crc32Base64(p1)) + "</CompleteMultipartUpload>")
            .Has("<Code>InvalidPartOrder</Code>"));
  CHECK(c.Do("POST", base,
             "<CompleteMultipartUpload>" + part(1, e2, Crc32Base64(p1)) +
                 part(2, e2, Crc32Base64(p2)) + "</CompleteMultipartUpload>")
            .Has("<Code>InvalidPart</Code>"));
  CHECK(c.Do("POST", base,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + e1 +
                 "</ETag></Part>" + part(2, e2, Crc32Base64(p2)) + "</CompleteMultipartUpload>")
            .Has("<Code>InvalidArgument</Code>"));  // COMPOSITE needs every part's checksum
  // The object's expected checksum: the upload's type and algorithm, the composite value.
  CHECK(c.Do("POST", base, good, {"x-amz-checksum-type: FULL_OBJECT"})
            .Has("<Code>InvalidRequest</Code>"));
  CHECK(c.Do("POST", base, good, {"x-amz-checksum-crc32: " + Crc32Base64("no")})
            .Has("<Code>BadDigest</Code>"));
  CHECK(c.Do("POST", base, good, {"x-amz-checksum-crc32: " + Crc32Base64(p1 + p2)})
            .Has("<Code>BadDigest</Code>"));  // the whole object's CRC32 is not the composite
  CHECK(c.Do("POST", base, good, {"x-amz-checksum-crc32: ***"}).Has("<Code>InvalidDigest</Code>"));
  CHECK(c.Do("POST", "/bkt/dir/obj?uploadId=0123456789abcdef0123456789abcdef", good).status == 404);
  CHECK(c.Do("POST", base, good, {"x-amz-checksum-type: BOGUS"}).status == 400);
  CHECK(c.Do("POST", base, good,
             {"x-amz-checksum-sha256: " + std::string(43, 'A') + "="})
            .Has("<Code>InvalidRequest</Code>"));  // another algorithm than the upload's
  CHECK(c.Do("POST", base,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + e1 +
                 "</ETag><ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part>" +
                 part(2, e2, Crc32Base64(p2)) + "</CompleteMultipartUpload>")
            .Has("<Code>InvalidPart</Code>"));
  CHECK(c.Do("POST", base, good, {"If-None-Match: \"abc\""}).status == 501);
  CHECK(c.Do("HEAD", "/bkt/dir/obj").status == 404);

  std::string raw;  // the parts' CRC32s, big-endian
  for (const std::string* p : {&p1, &p2}) {
    const uint32_t v = Crc32(0, p->data(), p->size());
    raw += {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  }
  r = c.Do("POST", base, good,
           {"x-amz-checksum-type: COMPOSITE", "x-amz-checksum-crc32: " + Crc32Base64(raw) + "-2"});
  REQUIRE(r.status == 200);
  CHECK(r.Has("<CompleteMultipartUploadResult xmlns="));
  // The ETag and the composite CRC32, computed here from the bytes.
  Md5Stream all;
  uint8_t d[16];
  for (const std::string* p : {&p1, &p2}) {
    Md5Stream m;
    m.Update(p->data(), p->size());
    m.Final(d);
    all.Update(d, 16);
  }
  const std::string hex = all.FinalHex() + "-2";
  const std::string etag = "\"" + hex + "\"";
  CHECK(XmlValue(r.body, "ETag") == "&quot;" + hex + "&quot;");
  CHECK(XmlValue(r.body, "ChecksumCRC32") == Crc32Base64(raw) + "-2");
  CHECK(XmlValue(r.body, "ChecksumType") == "COMPOSITE");
  // A retried Complete gets the same answer.
  auto again = c.Do("POST", base, good);
  CHECK(again.status == 200);
  CHECK(XmlValue(again.body, "ETag") == "&quot;" + hex + "&quot;");

  r = c.Do("GET", "/bkt/dir/obj");
  REQUIRE(r.status == 200);
  CHECK(r.body == p1 + p2);
  CHECK(r.H("etag") == etag);
  CHECK(r.H("content-type") == "text/x-mpu");
  CHECK(r.H("x-amz-meta-color") == "blue");
  CHECK(c.Do("GET", base).Has("<Code>NoSuchUpload</Code>"));
  // The checksum on request, for the whole object only.
  r = c.Do("HEAD", "/bkt/dir/obj", "", {"x-amz-checksum-mode: ENABLED"});
  CHECK(r.H("x-amz-checksum-crc32") == Crc32Base64(raw) + "-2");
  CHECK(r.H("x-amz-checksum-type") == "COMPOSITE");
  CHECK(c.Do("HEAD", "/bkt/dir/obj").H("x-amz-checksum-crc32").empty());
  r = c.Do("GET", "/bkt/dir/obj", "", {"x-amz-checksum-mode: ENABLED", "Range: bytes=0-9"});
  CHECK(r.status == 206);
  CHECK(r.H("x-amz-checksum-crc32").empty());

  // Abort, and what follows it.
  r = c.Do("POST", "/bkt/gone?uploads", "");
  const std::string id2 = XmlValue(r.body, "UploadId");
  REQUIRE(c.Do("PUT", "/bkt/gone?partNumber=1&uploadId=" + id2, "x").status == 200);
  CHECK(c.Do("DELETE", "/bkt/gone?uploadId=" + id2).status == 204);
  CHECK(c.Do("DELETE", "/bkt/gone?uploadId=" + id2).Has("<Code>NoSuchUpload</Code>"));
  CHECK(c.Do("GET", "/bkt/gone?uploadId=" + id2).status == 404);
  CHECK(c.Do("HEAD", "/bkt/gone").status == 404);
  // Create's refusals.
  CHECK(c.Do("POST", "/bkt/x?uploads", "", {"x-amz-checksum-algorithm: MD4"}).status == 400);
  CHECK(c.Do("POST", "/bkt/x?uploads", "",
             {"x-amz-checksum-algorithm: CRC64NVME", "x-amz-checksum-type: COMPOSITE"})
            .status == 400);
  CHECK(c.Do("POST", "/bkt/x?uploads", "", {"x-amz-checksum-type: COMPOSITE"}).status == 400);
  CHECK(c.Do("POST", "/nob/x?uploads", "").Has("<Code>NoSuchBucket</Code>"));
}

TEST_CASE("server ops: a read-only handler refuses multipart writes", "[server][ops][multipart]") {
  PlainFixture f("local");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  auto up = f.store->CreateMultipartUpload("bkt", "k", {});
  REQUIRE(up.ok());
  StoreHandler handler(*f.store, true, false);
  AllowAllAuthenticator auth;
  ServerOptions o;
  o.port = 0;
  auto srv = HttpServer::Start(o, &auth, &handler);
  REQUIRE(srv.ok());
  Conn c((*srv)->port());
  const std::string q = "/bkt/k?uploadId=" + up->upload_id;
  CHECK(c.Do("POST", "/bkt/k?uploads", "").Has("<Code>AccessDenied</Code>"));
  CHECK(c.Do("PUT", "/bkt/k?partNumber=1&uploadId=" + up->upload_id, "x").status == 403);
  CHECK(c.Do("POST", q, "<CompleteMultipartUpload/>").status == 403);
  CHECK(c.Do("DELETE", q).status == 403);
  // Listing is a read.
  CHECK(c.Do("GET", q).status == 200);
  CHECK(c.Do("GET", "/bkt?uploads").status == 200);
}

TEST_CASE("server ops: GET and HEAD ?partNumber, UploadPartCopy", "[server][ops][multipart]") {
  for (const char* kind : kBackends) {
    CAPTURE(kind);
    Served s(kind);
    Conn c(s.port());
    const std::string p1 = RandomBytes(5 << 20, 95), p2 = "the second and last part";
    auto r = c.Do("POST", "/bkt/mp?uploads");
    REQUIRE(r.status == 200);
    const std::string id = XmlValue(r.body, "UploadId");
    r = c.Do("PUT", "/bkt/mp?partNumber=1&uploadId=" + id, p1);
    REQUIRE(r.status == 200);
    const std::string e1 = r.H("etag");
    r = c.Do("PUT", "/bkt/mp?partNumber=2&uploadId=" + id, p2);
    REQUIRE(r.status == 200);
    const std::string e2 = r.H("etag");
    r = c.Do("POST", "/bkt/mp?uploadId=" + id,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + e1 +
                 "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" + e2 +
                 "</ETag></Part></CompleteMultipartUpload>");
    REQUIRE(r.status == 200);
    const std::string total = std::to_string(p1.size() + p2.size());

    // GET and HEAD of each part: 206, Content-Range, x-amz-mp-parts-count.
    r = c.Do("GET", "/bkt/mp?partNumber=2");
    CHECK(r.status == 206);
    CHECK(r.body == p2);
    CHECK(r.H("content-range") == "bytes " + std::to_string(p1.size()) + "-" +
                                      std::to_string(p1.size() + p2.size() - 1) + "/" + total);
    CHECK(r.H("x-amz-mp-parts-count") == "2");
    r = c.Do("HEAD", "/bkt/mp?partNumber=1");
    CHECK(r.status == 206);
    CHECK(r.H("content-length") == std::to_string(p1.size()));
    CHECK(r.H("content-range") == "bytes 0-" + std::to_string(p1.size() - 1) + "/" + total);
    CHECK(r.H("x-amz-mp-parts-count") == "2");
    r = c.Do("GET", "/bkt/mp?partNumber=1");
    CHECK(r.status == 206);
    CHECK(r.body == p1);
    // Past the last part, malformed, with a Range, missing.
    r = c.Do("GET", "/bkt/mp?partNumber=3");
    CHECK(r.status == 416);
    CHECK(r.Has("<Code>InvalidPartNumber</Code>"));
    CHECK(c.Do("HEAD", "/bkt/mp?partNumber=3").status == 416);
    CHECK(c.Do("GET", "/bkt/mp?partNumber=0").Has("<Code>InvalidArgument</Code>"));
    CHECK(c.Do("GET", "/bkt/mp?partNumber=x").status == 400);
    r = c.Do("GET", "/bkt/mp?partNumber=1", "", {"Range: bytes=0-9"});
    CHECK(r.status == 400);
    CHECK(r.Has("<Code>InvalidRequest</Code>"));
    CHECK(c.Do("GET", "/bkt/none?partNumber=1").Has("<Code>NoSuchKey</Code>"));
    CHECK(c.Do("GET", "/bkt/mp?partNumber=1", "", {"If-Match: \"x\""}).status == 412);
    // An object of one PUT: part 1 is the whole object, a 200 without a parts count.
    REQUIRE(c.Do("PUT", "/bkt/single", "one piece").status == 200);
    r = c.Do("GET", "/bkt/single?partNumber=1");
    CHECK(r.status == 200);
    CHECK(r.body == "one piece");
    CHECK(r.H("content-range").empty());
    CHECK(r.H("x-amz-mp-parts-count").empty());
    CHECK(c.Do("GET", "/bkt/single?partNumber=2").status == 416);

    // UploadPartCopy: the whole source, a range of it, and its refusals.
    r = c.Do("POST", "/bkt/cp?uploads");
    REQUIRE(r.status == 200);
    const std::string cid = XmlValue(r.body, "UploadId");
    const std::string part1 = "/bkt/cp?partNumber=1&uploadId=" + cid;
    r = c.Do("PUT", part1, "", {"x-amz-copy-source: /bkt/mp"});
    REQUIRE(r.status == 200);
    CHECK(r.Has("<CopyPartResult xmlns="));
    CHECK(r.Has("<LastModified>"));
    const std::string ce1 = XmlValue(r.body, "ETag");
    CHECK(ce1 == "&quot;" + Md5Hex(p1 + p2) + "&quot;");
    const std::string part2 = "/bkt/cp?partNumber=2&uploadId=" + cid;
    r = c.Do("PUT", part2, "",
             {"x-amz-copy-source: bkt/mp", "x-amz-copy-source-range: bytes=10-19"});
    REQUIRE(r.status == 200);
    CHECK(XmlValue(r.body, "ETag") == "&quot;" + Md5Hex(p1.substr(10, 10)) + "&quot;");
    CHECK(c.Do("PUT", part2, "", {"x-amz-copy-source: bkt/mp", "x-amz-copy-source-range: 10-19"})
              .Has("<Code>InvalidArgument</Code>"));
    CHECK(c.Do("PUT", part2, "", {"x-amz-copy-source: bkt/mp", "x-amz-copy-source-range: bytes=9-1"})
              .Has("<Code>InvalidArgument</Code>"));
    CHECK(c.Do("PUT", part2, "",
               {"x-amz-copy-source: bkt/mp", "x-amz-copy-source-range: bytes=0-" + total})
              .Has("<Code>InvalidArgument</Code>"));
    CHECK(c.Do("PUT", part2, "", {"x-amz-copy-source: bkt/nothing"}).Has("<Code>NoSuchKey</Code>"));
    CHECK(c.Do("PUT", part2, "", {"x-amz-copy-source: nob/mp"}).Has("<Code>NoSuchBucket</Code>"));
    CHECK(c.Do("PUT", part2, "", {"x-amz-copy-source: bkt/mp", "x-amz-copy-source-if-match: \"no\""})
              .status == 412);
    CHECK(c.Do("PUT", "/bkt/cp?partNumber=2&uploadId=0123456789abcdef0123456789abcdef", "",
               {"x-amz-copy-source: bkt/mp"})
              .Has("<Code>NoSuchUpload</Code>"));
    CHECK(c.Do("PUT", "/bkt/cp?partNumber=0&uploadId=" + cid, "", {"x-amz-copy-source: bkt/mp"})
              .status == 400);
    r = c.Do("POST", "/bkt/cp?uploadId=" + cid,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + Md5Hex(p1 + p2) +
                 "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" + Md5Hex(p1.substr(10, 10)) +
                 "</ETag></Part></CompleteMultipartUpload>");
    REQUIRE(r.status == 200);
    r = c.Do("GET", "/bkt/cp");
    CHECK(r.status == 200);
    CHECK(r.body == p1 + p2 + p1.substr(10, 10));
  }
}
