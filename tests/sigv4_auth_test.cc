// SigV4Authenticator in process: requests signed by our Signer (header, presigned, aws-chunked with
// and without trailers) accepted, and every bad one refused with S3's code; a body that breaks a
// promise (signed hash, Content-MD5, x-amz-checksum-* header or trailer, chunk signature, length)
// fails the PUT on both backends with the older version intact.
#include "libstore/server/sigv4_auth.h"

#include <catch2/catch.hpp>
#include <cstring>

#include "libstore/common/checksum.h"
#include "libstore/common/hash.h"
#include "libstore/s3/aws_chunked.h"
#include "libstore/s3/sigv4_canonical.h"
#include "libstore/server/store_handler.h"
#include "tests/plain_test_util.h"

using namespace cairn;
using namespace cairn::s3;
using namespace cairn::server;
using namespace cairn::test;

namespace {

constexpr std::string_view kNow = "20250301T120000Z";

int64_t EpochNs(std::string_view amz_date) {
  int64_t t = 0;
  REQUIRE(ParseAmzDate(amz_date, &t));
  return t * 1000000000;
}

struct Env {
  ManualClock clock;         // the server's
  ManualClock signer_clock;  // the client's
  CredentialTable users;
  SigV4AuthOptions opts;
  explicit Env(bool anonymous_read = false) {
    clock.Set(EpochNs(kNow));
    signer_clock.Set(EpochNs(kNow));
    REQUIRE(users.Add({"AKWRITER", "writer-secret", false}).ok());
    REQUIRE(users.Add({"AKREADER", "reader-secret", true}).ok());
    opts.clock = &clock;
    opts.credentials = &users;
    opts.anonymous_read = anonymous_read;
  }
  Signer MakeSigner(std::string key = "AKWRITER", std::string secret = "writer-secret") {
    SignerOptions so;
    so.access_key = std::move(key);
    so.secret_key = std::move(secret);
    so.clock = &signer_clock;
    return Signer(so);
  }
};

HttpRequest MakeRequest(std::string method, std::string target, Fields headers = {},
                        std::optional<uint64_t> content_length = std::nullopt) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers.emplace_back("host", "127.0.0.1:9000");
  for (auto& [n, v] : headers) {
    std::string lower = n;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(lower, v);
  }
  r.content_length = content_length;
  if (content_length) r.headers.emplace_back("content-length", std::to_string(*content_length));
  return r;
}

// Signs r as it stands with the Authorization header.
SigningContext SignRequest(const Signer& s, HttpRequest& r, std::string_view payload) {
  std::vector<HttpHeader> h;
  for (const auto& [n, v] : r.headers) h.push_back({n, v});
  auto sh = s.Sign(r.method, r.target, h, payload);
  REQUIRE(sh.ok());
  r.headers.emplace_back("x-amz-date", sh->amz_date);
  r.headers.emplace_back("x-amz-content-sha256", sh->content_sha256);
  r.headers.emplace_back("authorization", sh->authorization);
  return sh->signing;
}

std::string Sha256Of(const std::string& s) { return Sha256Hex(s.data(), s.size()); }

std::string Md5Base64(const std::string& s) {
  Md5Stream m;
  m.Update(s.data(), s.size());
  ChecksumValue v;
  v.len = 16;
  m.Final(v.bytes.data());
  return v.Base64();
}

std::string Crc32Base64(const std::string& s) {
  ChecksumStream c(ChecksumAlgorithm::kCrc32);
  c.Update(s.data(), s.size());
  return c.FinalValue().Base64();
}

// A store of either backend with bkt/k holding "older version".
struct Store {
  explicit Store(const std::string& kind) {
    if (kind == "erasure") {
      set = std::make_unique<SetFixture>(2, 1);
      store = set->set.get();
    } else {
      plain = std::make_unique<PlainFixture>("mem");
      store = plain->store.get();
    }
    REQUIRE(store->MakeBucket("bkt").ok());
    StringSource src("older version");
    REQUIRE(store->PutObject("bkt", "k", src, {}).ok());
  }
  std::string Get() {
    StringSink sink;
    auto r = store->GetObject("bkt", "k", sink, GetOptions{});
    REQUIRE(r.ok());
    return sink.out;
  }
  std::unique_ptr<SetFixture> set;
  std::unique_ptr<PlainFixture> plain;
  ObjectStore* store = nullptr;
};

struct PutResult {
  Status auth;
  Status put;
  std::vector<ChecksumValue> checksums;
  Code code() const { return auth.ok() ? put.code() : auth.code(); }
};

// Authenticates r, then PUTs its body (sent in pieces of `piece` bytes) into bkt/k.
PutResult Put(Env& env, Store& st, const HttpRequest& r, const std::string& wire,
              size_t piece = 1000) {
  SigV4Authenticator auth(env.opts);
  StringSource raw(wire, piece);
  Identity who;
  std::unique_ptr<Source> body;
  PutResult out;
  out.auth = auth.Authenticate(r, raw, &who, &body);
  if (!out.auth.ok()) return out;
  out.put = st.store->PutObject("bkt", "k", body ? *body : raw, {}).status();
  if (auto* vb = dynamic_cast<VerifiedBody*>(body.get())) {
    out.checksums = vb->checksums();
    if (out.put.ok()) CHECK(vb->verified());
  }
  return out;
}

const char* const kKinds[] = {"erasure", "plain"};

}  // namespace

TEST_CASE("sigv4 auth: header-signed PUT with every body promise", "[sigv4auth]") {
  const std::string data = RandomBytes(150000, 7);
  for (const char* kind : kKinds) {
    CAPTURE(kind);
    Env env;
    Store st(kind);
    Signer signer = env.MakeSigner();
    auto put = [&](Fields extra, std::string_view payload, const std::string& body) {
      HttpRequest r = MakeRequest("PUT", "/bkt/k", std::move(extra), body.size());
      SignRequest(signer, r, payload);
      return Put(env, st, r, body);
    };
    SECTION("signed hash: the right body commits") {
      auto r = put({}, Sha256Of(data), data);
      REQUIRE(r.code() == Code::kOk);
      CHECK(st.Get() == data);
    }
    SECTION("signed hash: another body of the same length commits nothing") {
      std::string other = data;
      other[other.size() - 1] ^= 1;
      auto r = put({}, Sha256Of(data), other);
      CHECK(r.code() == Code::kContentSha256Mismatch);
      CHECK(st.Get() == "older version");
    }
    SECTION("UNSIGNED-PAYLOAD") {
      REQUIRE(put({}, kUnsignedPayload, data).code() == Code::kOk);
      CHECK(st.Get() == data);
    }
    SECTION("Content-MD5: right, wrong, malformed") {
      REQUIRE(put({{"Content-MD5", Md5Base64(data)}}, kUnsignedPayload, data).code() == Code::kOk);
      CHECK(st.Get() == data);
      auto r = put({{"Content-MD5", Md5Base64("something else")}}, kUnsignedPayload, "abc");
      CHECK(r.code() == Code::kBadDigest);
      CHECK(st.Get() == data);
      CHECK(put({{"Content-MD5", "not base64!"}}, kUnsignedPayload, "abc").code() ==
            Code::kInvalidDigest);
      CHECK(st.Get() == data);
    }
    SECTION("x-amz-checksum-crc32 header: right, wrong, two of them") {
      auto ok = put({{"x-amz-checksum-crc32", Crc32Base64(data)}}, Sha256Of(data), data);
      REQUIRE(ok.code() == Code::kOk);
      REQUIRE(ok.checksums.size() == 1);
      CHECK(ok.checksums[0].algorithm == ChecksumAlgorithm::kCrc32);
      CHECK(ok.checksums[0].Base64() == Crc32Base64(data));
      auto bad = put({{"x-amz-checksum-crc32", Crc32Base64("x")}}, kUnsignedPayload, "abc");
      CHECK(bad.code() == Code::kBadDigest);
      CHECK(bad.put.message().find("CRC32") != std::string::npos);
      CHECK(bad.checksums.empty());
      CHECK(put({{"x-amz-checksum-crc32", Crc32Base64("abc")},
                 {"x-amz-checksum-sha1", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="}},
                kUnsignedPayload, "abc")
                .code() == Code::kInvalidArgument);
      CHECK(st.Get() == data);
    }
    SECTION("a body shorter or longer than Content-Length") {
      HttpRequest r = MakeRequest("PUT", "/bkt/k", {}, data.size());
      SignRequest(signer, r, kUnsignedPayload);
      CHECK(Put(env, st, r, data.substr(0, 1000)).code() == Code::kIncompleteBody);
      CHECK(Put(env, st, r, data + "x").code() == Code::kIncompleteBody);
      CHECK(st.Get() == "older version");
    }
  }
}

TEST_CASE("sigv4 auth: on CompleteMultipartUpload x-amz-checksum-* is not the body's",
          "[sigv4auth]") {
  // There the header is the checksum expected of the whole object (the store checks it); the
  // XML body is still checked against Content-MD5 and the signed hash.
  Env env;
  Signer signer = env.MakeSigner();
  const std::string xml = "<CompleteMultipartUpload></CompleteMultipartUpload>";
  auto read = [&](const std::string& method, const std::string& key, Fields query, Fields extra,
                  std::string_view payload) -> Status {
    std::string target = "/bkt/" + key;
    for (size_t i = 0; i < query.size(); ++i) {
      target += (i == 0 ? "?" : "&") + query[i].first + "=" + query[i].second;
    }
    HttpRequest r = MakeRequest(method, target, std::move(extra), xml.size());
    r.bucket = "bkt";
    r.key = key;
    r.query = std::move(query);
    SignRequest(signer, r, payload);
    SigV4Authenticator auth(env.opts);
    StringSource raw(xml, 7);
    Identity who;
    std::unique_ptr<Source> body;
    RETURN_IF_ERROR(auth.Authenticate(r, raw, &who, &body));
    StringSink sink;
    Source& src = body ? *body : static_cast<Source&>(raw);
    char buf[64];
    while (true) {
      ASSIGN_OR_RETURN(size_t n, src.Read(buf, sizeof buf));
      if (n == 0) break;
      sink.out.append(buf, n);
    }
    CHECK(sink.out == xml);
    return Status::Ok();
  };
  const Fields complete = {{"uploadId", "abc"}};
  const std::string whole = Crc32Base64("the object, not the XML");
  CHECK(read("POST", "k", complete, {{"x-amz-checksum-crc32", whole}}, Sha256Of(xml)).ok());
  CHECK(read("POST", "k", complete,
             {{"x-amz-checksum-crc32", whole}, {"Content-MD5", Md5Base64(xml)}}, kUnsignedPayload)
            .ok());
  CHECK(read("POST", "k", complete,
             {{"x-amz-checksum-crc32", whole}, {"Content-MD5", Md5Base64("other")}},
             kUnsignedPayload)
            .code() == Code::kBadDigest);
  CHECK(read("POST", "k", complete, {{"x-amz-checksum-crc32", whole}}, Sha256Of("other"))
            .code() == Code::kContentSha256Mismatch);
  // Any other request's body is checked against it: a POST without uploadId, a PUT with one.
  CHECK(read("POST", "k", {{"uploads", ""}}, {{"x-amz-checksum-crc32", whole}}, kUnsignedPayload)
            .code() == Code::kBadDigest);
  CHECK(read("PUT", "k", {{"partNumber", "1"}, {"uploadId", "abc"}},
             {{"x-amz-checksum-crc32", whole}}, kUnsignedPayload)
            .code() == Code::kBadDigest);
  CHECK(read("PUT", "k", {{"partNumber", "1"}, {"uploadId", "abc"}},
             {{"x-amz-checksum-crc32", Crc32Base64(xml)}}, kUnsignedPayload)
            .ok());
}

TEST_CASE("sigv4 auth: who may do what", "[sigv4auth]") {
  Env env;
  Store st("plain");
  auto run = [&](HttpRequest r, Env& e) {
    SigV4Authenticator auth(e.opts);
    StringSource raw("");
    Identity who;
    std::unique_ptr<Source> body;
    Status s = auth.Authenticate(r, raw, &who, &body);
    if (s.ok()) CHECK(body == nullptr);  // nothing to check on an empty body
    return std::make_pair(s, who);
  };
  auto signed_get = [&](const Signer& s, std::string method = "GET") {
    HttpRequest r = MakeRequest(method, "/bkt/k");
    SignRequest(s, r, kEmptySha256Hex);
    return r;
  };
  SECTION("the right user") {
    auto [s, who] = run(signed_get(env.MakeSigner()), env);
    REQUIRE(s.ok());
    CHECK(who.access_key == "AKWRITER");
    CHECK_FALSE(who.read_only);
  }
  SECTION("wrong secret, unknown key, skew") {
    CHECK(run(signed_get(env.MakeSigner("AKWRITER", "nope")), env).first.code() ==
          Code::kSignatureMismatch);
    CHECK(run(signed_get(env.MakeSigner("AKNOBODY", "x")), env).first.code() ==
          Code::kInvalidAccessKeyId);
    env.signer_clock.Advance(16ll * 60 * 1000000000);
    CHECK(run(signed_get(env.MakeSigner()), env).first.code() == Code::kRequestTimeTooSkewed);
  }
  SECTION("a signed hash on a bodiless request must be that of nothing") {
    HttpRequest r = MakeRequest("GET", "/bkt/k");
    SignRequest(env.MakeSigner(), r, Sha256Of("x"));
    CHECK(run(r, env).first.code() == Code::kContentSha256Mismatch);
  }
  SECTION("anonymous: refused, or reads only with anonymous_read") {
    CHECK(run(MakeRequest("GET", "/bkt/k"), env).first.code() == Code::kAccessDenied);
    Env anon(true);
    auto [s, who] = run(MakeRequest("GET", "/bkt?list-type=2"), anon);
    CHECK(s.ok());
    CHECK(who.access_key.empty());
    CHECK(run(MakeRequest("HEAD", "/bkt/k"), anon).first.ok());
    CHECK(run(MakeRequest("PUT", "/bkt/k"), anon).first.code() == Code::kAccessDenied);
    CHECK(run(MakeRequest("DELETE", "/bkt/k"), anon).first.code() == Code::kAccessDenied);
    // Signed requests are still verified.
    CHECK(run(signed_get(anon.MakeSigner("AKWRITER", "nope")), anon).first.code() ==
          Code::kSignatureMismatch);
  }
  SECTION("a read-only user reads but never writes") {
    Signer ro = env.MakeSigner("AKREADER", "reader-secret");
    auto [s, who] = run(signed_get(ro), env);
    CHECK(s.ok());
    CHECK(who.read_only);
    CHECK(run(signed_get(ro, "HEAD"), env).first.ok());
    CHECK(run(signed_get(ro, "DELETE"), env).first.code() == Code::kAccessDenied);
    HttpRequest put = MakeRequest("PUT", "/bkt/k", {}, 3);
    SignRequest(ro, put, kUnsignedPayload);
    CHECK(Put(env, st, put, "abc").code() == Code::kAccessDenied);
    CHECK(st.Get() == "older version");
  }
  SECTION("presigned URLs: good, expired, tampered") {
    Signer s = env.MakeSigner();
    std::vector<HttpHeader> h = {{"host", "127.0.0.1:9000"}};
    auto target = s.Presign("GET", "/bkt/k", h, 600);
    REQUIRE(target.ok());
    auto [ok, who] = run(MakeRequest("GET", *target), env);
    CHECK(ok.ok());
    CHECK(who.access_key == "AKWRITER");
    std::string tampered = *target;
    tampered.replace(tampered.find("/bkt/k"), 6, "/bkt/j");
    CHECK(run(MakeRequest("GET", tampered), env).first.code() == Code::kSignatureMismatch);
    std::string longer = *target;
    longer.replace(longer.find("X-Amz-Expires=600"), 17, "X-Amz-Expires=900");
    CHECK(run(MakeRequest("GET", longer), env).first.code() == Code::kSignatureMismatch);
    env.clock.Advance(601ll * 1000000000);
    auto expired = run(MakeRequest("GET", *target), env).first;
    CHECK(expired.code() == Code::kAccessDenied);
    CHECK(expired.message().find("expired") != std::string::npos);
  }
}

TEST_CASE("sigv4 auth: aws-chunked bodies", "[sigv4auth]") {
  const std::string data = RandomBytes(200000, 9);
  for (const char* kind : kKinds) {
    CAPTURE(kind);
    Env env;
    Store st(kind);
    Signer signer = env.MakeSigner();
    // Builds a signed aws-chunked PUT of `data` in 64 KiB chunks; `trailer` names the checksum
    // trailer (empty: none) and `value` its value.
    auto build = [&](PayloadMode mode, const std::string& trailer, const std::string& value,
                     std::string* wire) {
      Fields f = {{"Content-Encoding", "aws-chunked"},
                  {"x-amz-decoded-content-length", std::to_string(data.size())}};
      if (!trailer.empty()) f.emplace_back("x-amz-trailer", trailer);
      HttpRequest r = MakeRequest("PUT", "/bkt/k", f);
      const SigningContext c = SignRequest(signer, r, PayloadModeName(mode));
      AwsChunkedEncoder enc(mode, c);
      wire->clear();
      for (size_t at = 0; at < data.size(); at += 65536) {
        enc.AppendChunk(std::string_view(data).substr(at, 65536), wire);
      }
      std::vector<Trailer> t;
      if (!trailer.empty()) t.push_back({trailer, value});
      auto fin = enc.Final(t);
      REQUIRE(fin.ok());
      wire->append(*fin);
      r.content_length = wire->size();
      r.headers.emplace_back("content-length", std::to_string(wire->size()));
      return r;
    };
    std::string wire;
    SECTION("signed chunks") {
      HttpRequest r = build(PayloadMode::kStreamingSigned, "", "", &wire);
      for (size_t piece : {size_t(1), size_t(777), size_t(1) << 20}) {
        CAPTURE(piece);
        if (piece == 1 && std::string(kind) == "erasure") continue;  // slow, same code path
        REQUIRE(Put(env, st, r, wire, piece).code() == Code::kOk);
        CHECK(st.Get() == data);
      }
    }
    SECTION("a bad chunk signature commits nothing") {
      HttpRequest r = build(PayloadMode::kStreamingSigned, "", "", &wire);
      const size_t last = wire.rfind("chunk-signature=") + 16;
      wire[last] = wire[last] == '0' ? '1' : '0';  // the final, empty chunk's
      CHECK(Put(env, st, r, wire).code() == Code::kSignatureMismatch);
      CHECK(st.Get() == "older version");
    }
    SECTION("a truncated body commits nothing") {
      HttpRequest r = build(PayloadMode::kStreamingSigned, "", "", &wire);
      CHECK(Put(env, st, r, wire.substr(0, wire.size() - 5)).code() == Code::kIncompleteBody);
      CHECK(st.Get() == "older version");
    }
    for (PayloadMode mode :
         {PayloadMode::kStreamingSignedTrailer, PayloadMode::kStreamingUnsignedTrailer}) {
      CAPTURE(PayloadModeName(mode));
      SECTION(std::string("trailer checksum: right and wrong ") + PayloadModeName(mode)) {
        HttpRequest r = build(mode, "x-amz-checksum-crc32", Crc32Base64(data), &wire);
        auto ok = Put(env, st, r, wire);
        REQUIRE(ok.code() == Code::kOk);
        CHECK(st.Get() == data);
        REQUIRE(ok.checksums.size() == 1);
        CHECK(ok.checksums[0].Base64() == Crc32Base64(data));
        StringSource again("older version");
        REQUIRE(st.store->PutObject("bkt", "k", again, {}).ok());
        r = build(mode, "x-amz-checksum-crc32", Crc32Base64("other"), &wire);
        auto bad = Put(env, st, r, wire);
        CHECK(bad.code() == Code::kBadDigest);
        CHECK(bad.put.message().find("CRC32") != std::string::npos);
        CHECK(st.Get() == "older version");
        r = build(mode, "x-amz-checksum-crc32", "***", &wire);
        CHECK(Put(env, st, r, wire).code() == Code::kInvalidDigest);
        CHECK(st.Get() == "older version");
      }
    }
    SECTION("a tampered trailer signature commits nothing") {
      HttpRequest r = build(PayloadMode::kStreamingSignedTrailer, "x-amz-checksum-crc32",
                            Crc32Base64(data), &wire);
      const size_t at = wire.rfind("x-amz-trailer-signature:") + 24;
      wire[at] = wire[at] == '0' ? '1' : '0';
      CHECK(Put(env, st, r, wire).code() == Code::kSignatureMismatch);
      CHECK(st.Get() == "older version");
    }
  }
}

TEST_CASE("sigv4 auth: the last bytes are never handed out unverified", "[sigv4auth]") {
  Env env;
  Signer signer = env.MakeSigner();
  SigV4Authenticator auth(env.opts);
  const std::string data = "0123456789";
  HttpRequest r = MakeRequest("PUT", "/bkt/k", {{"Content-MD5", Md5Base64("other")}}, 10);
  SignRequest(signer, r, kUnsignedPayload);
  StringSource raw(data, 4);
  Identity who;
  std::unique_ptr<Source> body;
  REQUIRE(auth.Authenticate(r, raw, &who, &body).ok());
  REQUIRE(body != nullptr);
  char buf[64];
  CHECK(*body->Read(buf, sizeof(buf)) == 4);
  CHECK(*body->Read(buf, sizeof(buf)) == 4);
  // The read that reaches Content-Length checks everything first: its bytes are not handed out.
  auto last = body->Read(buf, sizeof(buf));
  CHECK(last.status().code() == Code::kBadDigest);
  CHECK(body->Read(buf, sizeof(buf)).status().code() == Code::kBadDigest);  // sticky
  auto* vb = dynamic_cast<VerifiedBody*>(body.get());
  REQUIRE(vb != nullptr);
  CHECK_FALSE(vb->verified());

  // Two bodies at once on one thread: the second gets state of its own.
  HttpRequest r2 = MakeRequest("PUT", "/bkt/k", {{"Content-MD5", Md5Base64(data)}}, 10);
  SignRequest(signer, r2, kUnsignedPayload);
  StringSource raw2(data, 3);
  std::unique_ptr<Source> body2;
  REQUIRE(auth.Authenticate(r2, raw2, &who, &body2).ok());
  std::string got;
  for (;;) {
    auto n = body2->Read(buf, sizeof(buf));
    REQUIRE(n.ok());
    if (*n == 0) break;
    got.append(buf, *n);
  }
  CHECK(got == data);
  CHECK(dynamic_cast<VerifiedBody*>(body2.get())->verified());
}

namespace {

// Keeps what a handler answered.
class CapturedResponse : public ResponseWriter {
 public:
  Status Begin(int status, const Fields& headers, uint64_t) override {
    status_ = status;
    headers_ = headers;
    begun_ = true;
    return Status::Ok();
  }
  bool begun() const override { return begun_; }
  Status Write(const void*, size_t) override { return Status::Ok(); }
  int status() const { return status_; }
  std::string H(std::string_view name) const {
    for (const auto& [n, v] : headers_) {
      if (IEquals(n, name)) return v;
    }
    return "";
  }

 private:
  int status_ = 0;
  Fields headers_;
  bool begun_ = false;
};

// Authenticates r and hands it to a StoreHandler, as the server does: the PUT's Content-MD5 and
// checksum are checked by the store (the body hands them over). *checked: the body's own record
// of checksums it verified (empty when handed over).
Status HandlePut(Env& env, Store& st, HttpRequest r, const std::string& wire, CapturedResponse* out,
                 std::vector<ChecksumValue>* checked = nullptr) {
  r.bucket = "bkt";
  r.key = "k";
  SigV4Authenticator auth(env.opts);
  StringSource raw(wire, 5000);
  Identity who;
  std::unique_ptr<Source> body;
  RETURN_IF_ERROR(auth.Authenticate(r, raw, &who, &body));
  REQUIRE(body != nullptr);
  StoreHandler handler(*st.store, false, false);
  Status s = handler.Handle(r, who, *body, *out);
  if (checked != nullptr) *checked = dynamic_cast<VerifiedBody&>(*body).checksums();
  return s;
}

}  // namespace

TEST_CASE("sigv4 auth: a handed-over body leaves Content-MD5 and the checksum to its reader",
          "[sigv4auth]") {
  Env env;
  Signer signer = env.MakeSigner();
  const std::string data = RandomBytes(100000, 12);
  HttpRequest r = MakeRequest(
      "PUT", "/bkt/k",
      {{"Content-MD5", Md5Base64("other")}, {"x-amz-checksum-crc32", Crc32Base64("other")}},
      data.size());
  SignRequest(signer, r, kUnsignedPayload);
  auto read_all = [&](bool hand_over) -> Status {
    SigV4Authenticator auth(env.opts);
    StringSource raw(data, 7000);
    Identity who;
    std::unique_ptr<Source> body;
    RETURN_IF_ERROR(auth.Authenticate(r, raw, &who, &body));
    auto& checked = dynamic_cast<CheckedBody&>(*body);
    if (hand_over) checked.HandOverDigests();
    std::string got;
    char buf[9000];
    while (true) {
      ASSIGN_OR_RETURN(size_t n, body->Read(buf, sizeof(buf)));
      if (n == 0) break;
      got.append(buf, n);
    }
    CHECK(got == data);
    CHECK_FALSE(checked.TrailingChecksum().has_value());
    return Status::Ok();
  };
  // Checked by the body itself, the wrong digests fail it; handed over, they are not computed.
  CHECK(read_all(false).code() == Code::kBadDigest);
  CHECK(read_all(true).ok());
}

TEST_CASE("sigv4 auth: a PUT through the handler is checked and stored by the store",
          "[sigv4auth]") {
  const std::string data = RandomBytes(150000, 13);
  for (const char* kind : kKinds) {
    CAPTURE(kind);
    Env env;
    Store st(kind);
    Signer signer = env.MakeSigner();
    auto signed_put = [&](Fields extra, const std::string& body) {
      HttpRequest r = MakeRequest("PUT", "/bkt/k", std::move(extra), body.size());
      SignRequest(signer, r, Sha256Of(body));
      return r;
    };
    CapturedResponse out;
    std::vector<ChecksumValue> by_body;
    // Right: committed, the checksum stored; the body verified none itself.
    REQUIRE(HandlePut(env, st,
                      signed_put({{"Content-MD5", Md5Base64(data)},
                                  {"x-amz-checksum-crc32", Crc32Base64(data)}},
                                 data),
                      data, &out, &by_body)
                .ok());
    CHECK(out.status() == 200);
    CHECK(out.H("x-amz-checksum-crc32") == Crc32Base64(data));
    CHECK(by_body.empty());
    CHECK(st.Get() == data);
    auto head = st.store->HeadObject("bkt", "k");
    REQUIRE(head.ok());
    CHECK(head->ChecksumHeaderValue() == Crc32Base64(data));
    CHECK(head->etag == Md5Hex(data));
    // Wrong Content-MD5, wrong checksum, wrong payload hash: refused, nothing committed.
    CapturedResponse bad;
    CHECK(
        HandlePut(env, st, signed_put({{"Content-MD5", Md5Base64(data)}}, "x"), "x", &bad).code() ==
        Code::kBadDigest);
    CHECK(HandlePut(env, st, signed_put({{"x-amz-checksum-crc32", Crc32Base64(data)}}, "x"), "x",
                    &bad)
              .code() == Code::kBadDigest);
    HttpRequest tampered = signed_put({{"Content-MD5", Md5Base64("y")}}, "y");
    CHECK(HandlePut(env, st, tampered, "z", &bad).code() == Code::kContentSha256Mismatch);
    CHECK(st.Get() == data);
    CHECK(st.store->HeadObject("bkt", "k")->ChecksumHeaderValue() == Crc32Base64(data));
  }
}

TEST_CASE("sigv4 auth: a trailing checksum through the handler is stored by the store",
          "[sigv4auth]") {
  const std::string data = RandomBytes(150000, 14);
  for (const char* kind : kKinds) {
    CAPTURE(kind);
    Env env;
    Store st(kind);
    Signer signer = env.MakeSigner();
    auto build = [&](const std::string& value, std::string* wire) {
      HttpRequest r = MakeRequest("PUT", "/bkt/k",
                                  {{"Content-Encoding", "aws-chunked"},
                                   {"x-amz-decoded-content-length", std::to_string(data.size())},
                                   {"x-amz-trailer", "x-amz-checksum-crc32"},
                                   {"x-amz-sdk-checksum-algorithm", "CRC32"}});
      const SigningContext c =
          SignRequest(signer, r, PayloadModeName(PayloadMode::kStreamingSignedTrailer));
      AwsChunkedEncoder enc(PayloadMode::kStreamingSignedTrailer, c);
      wire->clear();
      for (size_t at = 0; at < data.size(); at += 65536) {
        enc.AppendChunk(std::string_view(data).substr(at, 65536), wire);
      }
      const std::vector<Trailer> t = {{"x-amz-checksum-crc32", value}};
      auto fin = enc.Final(t);
      REQUIRE(fin.ok());
      wire->append(*fin);
      r.content_length = wire->size();
      r.headers.emplace_back("content-length", std::to_string(wire->size()));
      return r;
    };
    std::string wire;
    CapturedResponse out;
    std::vector<ChecksumValue> by_body;
    HttpRequest r = build(Crc32Base64(data), &wire);
    REQUIRE(HandlePut(env, st, r, wire, &out, &by_body).ok());
    CHECK(out.H("x-amz-checksum-crc32") == Crc32Base64(data));
    CHECK(by_body.empty());
    CHECK(st.Get() == data);
    CHECK(st.store->HeadObject("bkt", "k")->ChecksumHeaderValue() == Crc32Base64(data));
    StringSource again("older version");
    REQUIRE(st.store->PutObject("bkt", "k", again, {}).ok());
    r = build(Crc32Base64("other"), &wire);
    CHECK(HandlePut(env, st, r, wire, &out).code() == Code::kBadDigest);
    r = build("***", &wire);
    CHECK(HandlePut(env, st, r, wire, &out).code() == Code::kInvalidDigest);
    CHECK(st.Get() == "older version");
    CHECK(st.store->HeadObject("bkt", "k")->checksum.algorithm == ChecksumAlgorithm::kNone);
  }
}
