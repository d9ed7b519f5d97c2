// SigV4: the AWS SigV4 test suite (the cases that apply to S3: S3 does not normalise paths), the
// S3 documentation's examples (secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524), the
// signing-key cache, dates and encodings. Refusals are in sigv4_verify_test.cc.
#include "libstore/s3/sigv4.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "libstore/common/hash.h"
#include "libstore/s3/sigv4_canonical.h"
#include "tests/sigv4_test_util.h"

using namespace cairn;
using namespace cairn::s3;
using namespace cairn::s3::testing;

TEST_CASE("SigV4 test suite: requests the Verifier accepts", "[sigv4]") {
  Fixture f(kSuiteDate, "service");
  struct Case {
    const char* name;
    const char* method;
    std::string target;
    Headers extra;
    const char* signed_headers;
    const char* sig;
  };
  const std::vector<Case> cases = {
      {"get-vanilla",
       "GET",
       "/",
       {},
       "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query-order-key-case",
       "GET",
       "/?Param2=value2&Param1=value1",
       {},
       "host;x-amz-date",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-order-key",
       "GET",
       "/?Param1=value2&Param1=Value1",
       {},
       "host;x-amz-date",
       "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
      {"get-vanilla-query-order-value",
       "GET",
       "/?Param1=value2&Param1=value1",
       {},
       "host;x-amz-date",
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
      {"get-vanilla-query-order-encoded",
       "GET",
       "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
       {},
       "host;x-amz-date",
       "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
      {"get-vanilla-query-unreserved",
       "GET",
       "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {},
       "host;x-amz-date",
       "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query",
       "GET",
       "/?\xE1\x88\xB4=bar",
       {},
       "host;x-amz-date",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-vanilla-empty-query-key",
       "GET",
       "/?Param1=value1",
       {},
       "host;x-amz-date",
       "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-unreserved",
       "GET",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {},
       "host;x-amz-date",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-utf8",
       "GET",
       "/\xE1\x88\xB4",
       {},
       "host;x-amz-date",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-utf8 (sent encoded)",
       "GET",
       "/%e1%88%b4",
       {},
       "host;x-amz-date",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-space",
       "GET",
       "/example space/",
       {},
       "host;x-amz-date",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"get-special-character",
       "GET",
       "/example/$delete",
       {},
       "host;x-amz-date",
       "a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27"},
      {"get-header-key-duplicate",
       "GET",
       "/",
       {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
       "host;my-header1;x-amz-date",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-order",
       "GET",
       "/",
       {{"My-Header1", "value4"},
        {"My-Header1", "value1"},
        {"My-Header1", "value3"},
        {"My-Header1", "value2"}},
       "host;my-header1;x-amz-date",
       "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-value-trim",
       "GET",
       "/",
       {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
       "host;my-header1;my-header2;x-amz-date",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"get-header-value-multiline",
       "GET",
       "/",
       {{"My-Header1", "value1\n  value2\n     value3"}},
       "host;my-header1;x-amz-date",
       "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd"},
      {"post-vanilla",
       "POST",
       "/",
       {},
       "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-query",
       "POST",
       "/?Param1=value1",
       {},
       "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-header-key-sort",
       "POST",
       "/",
       {{"My-Header1", "value1"}},
       "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case",
       "POST",
       "/",
       {{"My-Header1", "VALUE1"}},
       "host;my-header1;x-amz-date",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const std::string authz = SuiteAuth(c.signed_headers, c.sig);
    Headers h = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
    h.insert(h.end(), c.extra.begin(), c.extra.end());
    h.push_back({"Authorization", authz});
    auto r = f.Verify(c.method, c.target, h);
    REQUIRE(r.ok());
    CHECK(r->access_key == kSuiteKey);
    CHECK_FALSE(r->read_only);
    CHECK(r->payload == PayloadMode::kSignedHash);
    CHECK(ToHex(r->payload_sha256.data(), 32) == kEmptySha256Hex);
    // Any other signature is refused.
    std::string other = SuiteAuth(c.signed_headers, std::string(64, 'a'));
    h.back().value = other;
    CHECK(f.Verify(c.method, c.target, h).status().code() == Code::kSignatureMismatch);
  }
}

TEST_CASE("SigV4 test suite: canonical requests with a body hash", "[sigv4]") {
  // post-x-www-form-urlencoded(-parameters): the body's hash is in the canonical request.
  const std::string body = "Param1=value1";
  const std::string hash = Sha256Hex(body.data(), body.size());
  uint8_t key[32];
  DeriveSigningKey(kSuiteSecret, "20150830", "us-east-1", "service", key);
  for (auto [ct, sig] : {std::pair<std::string_view, std::string_view>{
                             "application/x-www-form-urlencoded",
                             "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
                         {"application/x-www-form-urlencoded; charset=utf8",
                          "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"}}) {
    Headers h = {
        {"Content-Type", ct}, {"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
    std::string creq;
    REQUIRE(
        CanonicalRequest("POST", "/", h, "content-type;host;x-amz-date", hash, false, &creq).ok());
    CHECK(creq == "POST\n/\n\ncontent-type:" + std::string(ct) +
                      "\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                      "content-type;host;x-amz-date\n" +
                      hash);
    CHECK(SignatureHex(key, kSuiteDate, "20150830/us-east-1/service/aws4_request", creq) == sig);
  }
  // The canonical request of get-vanilla-query-order-encoded, as the suite gives it.
  std::string creq;
  Headers h = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
  REQUIRE(CanonicalRequest("GET", "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1", h,
                           "host;x-amz-date", kEmptySha256Hex, false, &creq)
              .ok());
  CHECK(creq ==
        "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
            std::string(kEmptySha256Hex));
}

TEST_CASE("S3 documentation examples verify; the Signer reproduces them", "[sigv4]") {
  Fixture f(kDocDate);
  const std::string empty(kEmptySha256Hex);
  struct Case {
    const char* name;
    const char* method;
    const char* target;
    Headers h;
    const char* signed_headers;
    const char* sig;
  };
  const std::vector<Case> cases = {
      {"GET object with a range",
       "GET",
       "/test.txt",
       {{"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", empty},
        {"x-amz-date", kDocDate}},
       "host;range;x-amz-content-sha256;x-amz-date",
       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
      {"PUT object",
       "PUT",
       "/test$file.text",
       {{"Host", "examplebucket.s3.amazonaws.com"},
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", kDocDate},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"x-amz-content-sha256",
         "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}},
       "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
       "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
      {"GET bucket lifecycle",
       "GET",
       "/?lifecycle",
       {{"Host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-date", kDocDate},
        {"x-amz-content-sha256", empty}},
       "host;x-amz-content-sha256;x-amz-date",
       "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
      {"list objects",
       "GET",
       "/?max-keys=2&prefix=J",
       {{"Host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-date", kDocDate},
        {"x-amz-content-sha256", empty}},
       "host;x-amz-content-sha256;x-amz-date",
       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
  };
  Signer signer(f.DocSigner());
  for (const Case& c : cases) {
    INFO(c.name);
    Headers h = c.h;
    const std::string authz = DocAuth(c.signed_headers, c.sig);
    h.push_back({"Authorization", authz});
    auto r = f.Verify(c.method, c.target, h);
    REQUIRE(r.ok());
    CHECK(r->access_key == kDocKey);
    CHECK(r->read_only);
    CHECK_FALSE(r->presigned);
    // The Signer signs the same headers (Date too: it is given) and reaches the same signature.
    Headers given;
    std::string_view payload;
    for (const HttpHeader& x : c.h) {
      if (IEquals(x.name, "x-amz-content-sha256"))
        payload = x.value;
      else if (!IEquals(x.name, "x-amz-date"))
        given.push_back(x);
    }
    auto s = signer.Sign(c.method, c.target, given, payload);
    REQUIRE(s.ok());
    CHECK(s->amz_date == kDocDate);
    CHECK(s->authorization ==
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=" +
              std::string(c.signed_headers) + ", Signature=" + c.sig);
  }
  // The PUT example with a Date header only (no x-amz-date): the string to sign uses the Date's
  // time; the example's signature covers x-amz-date, so drop it from both.
  {
    Headers h = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                 {"x-amz-content-sha256", empty}};
    auto s = signer.Sign("GET", "/test.txt", {h.begin(), h.begin() + 2}, empty);
    REQUIRE(s.ok());
    // The Signer always adds x-amz-date; verify a request that sends the Date header only by
    // signing its canonical request by hand.
    std::string creq;
    REQUIRE(CanonicalRequest("GET", "/test.txt", h, "date;host;x-amz-content-sha256", empty, false,
                             &creq)
                .ok());
    uint8_t key[32];
    DeriveSigningKey(kDocSecret, "20130524", "us-east-1", "s3", key);
    const std::string sig = SignatureHex(key, kDocDate, "20130524/us-east-1/s3/aws4_request", creq);
    const std::string authz = DocAuth("date;host;x-amz-content-sha256", sig);
    h.push_back({"Authorization", authz});
    CHECK(f.Verify("GET", "/test.txt", h).ok());
  }
}

TEST_CASE("S3 documentation presigned URL verifies and the Signer makes it", "[sigv4]") {
  Fixture f(kDocDate);
  const std::string url =
      "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
      "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
      "X-Amz-SignedHeaders=host&X-Amz-Signature="
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
  const Headers h = {{"Host", "examplebucket.s3.amazonaws.com"}};
  auto r = f.Verify("GET", url, h);
  REQUIRE(r.ok());
  CHECK(r->presigned);
  CHECK(r->payload == PayloadMode::kUnsigned);
  CHECK(r->access_key == kDocKey);

  Signer signer(f.DocSigner());
  auto p = signer.Presign("GET", "/test.txt", h, 86400);
  REQUIRE(p.ok());
  CHECK(*p == url);

  // Valid to the last second of its life, expired one second later.
  f.clock.Set((Epoch(kDocDate) + 86400) * 1000000000);
  CHECK(f.Verify("GET", url, h).ok());
  f.clock.Set((Epoch(kDocDate) + 86401) * 1000000000);
  auto e = f.Verify("GET", url, h);
  CHECK(e.status().code() == Code::kAccessDenied);
  CHECK(e.status().message() == "Request has expired");
  // Dated more than 15 minutes ahead of the clock: not valid yet.
  f.clock.Set((Epoch(kDocDate) - 15 * 60 - 1) * 1000000000);
  CHECK(f.Verify("GET", url, h).status().code() == Code::kAccessDenied);
  f.clock.Set((Epoch(kDocDate) - 15 * 60) * 1000000000);
  CHECK(f.Verify("GET", url, h).ok());
  f.clock.Set(Epoch(kDocDate) * 1000000000);

  // A tampered query, path, host or signature: SignatureDoesNotMatch.
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string u = url;
    u.replace(u.find(from), from.size(), to);
    return u;
  };
  CHECK(f.Verify("GET", replaced("/test.txt", "/test.txu"), h).status().code() ==
        Code::kSignatureMismatch);
  CHECK(f.Verify("GET", url + "&response-content-type=x", h).status().code() ==
        Code::kSignatureMismatch);
  CHECK(f.Verify("GET", replaced("aeeed9bb", "aeeed9bc"), h).status().code() ==
        Code::kSignatureMismatch);
  CHECK(f.Verify("PUT", url, h).status().code() == Code::kSignatureMismatch);
  CHECK(f.Verify("GET", url, Headers{{"Host", "evil.example.com"}}).status().code() ==
        Code::kSignatureMismatch);
  // A longer life than the signature said is a different request.
  CHECK(f.Verify("GET", replaced("Expires=86400", "Expires=86401"), h).status().code() ==
        Code::kSignatureMismatch);
  // More than 7 days, missing or repeated parameters, a bad algorithm: malformed.
  for (std::string bad :
       {replaced("Expires=86400", "Expires=604801"), replaced("Expires=86400", "Expires=-1"),
        replaced("Expires=86400", "Expires="), replaced("&X-Amz-SignedHeaders=host", ""),
        url + "&X-Amz-Date=20130524T000000Z", replaced("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
        replaced("Date=20130524T000000Z", "Date=20130524"),
        replaced("SignedHeaders=host", "SignedHeaders=range"), replaced("%2Fs3%2F", "%2Fs4%2F"),
        replaced("us-east-1", "eu-west-1"),
        replaced("Credential=AKIAIOSFODNN7EXAMPLE%2F20130524",
                 "Credential=AKIAIOSFODNN7EXAMPLE%2F20130525"),
        replaced("aeeed9bb", "zeeed9bb")}) {
    INFO(bad);
    CHECK(f.Verify("GET", bad, h).status().code() == Code::kAuthQueryMalformed);
  }
  // The signer refuses a life of 0 or above 7 days.
  CHECK(signer.Presign("GET", "/t", h, 604801).status().code() == Code::kInvalidArgument);
  CHECK(signer.Presign("GET", "/t", h, 0).status().code() == Code::kInvalidArgument);
  CHECK(signer.Presign("GET", "/t", h, 604800).ok());
  // Presigned requests must sign the x-amz-* headers they send, and cannot stream aws-chunked.
  Headers more = h;
  more.push_back({"x-amz-meta-a", "b"});
  CHECK(f.Verify("GET", url, more).status().code() == Code::kAccessDenied);
  auto signed_more = signer.Presign("PUT", "/k", more, 60);
  REQUIRE(signed_more.ok());
  CHECK(f.Verify("PUT", *signed_more, more).ok());
  more.push_back({"x-amz-content-sha256", kStreamingUnsignedTrailer});
  auto streaming = signer.Presign("PUT", "/k", more, 60);
  REQUIRE(streaming.ok());
  CHECK(f.Verify("PUT", *streaming, more).status().code() == Code::kInvalidArgument);
}

TEST_CASE("S3 documentation chunked uploads: the seed signatures", "[sigv4]") {
  Fixture f(kDocDate);
  Headers h = {{"Host", "s3.amazonaws.com"},
               {"x-amz-date", kDocDate},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", kStreamingSignedPayload},
               {"Content-Encoding", "aws-chunked"},
               {"x-amz-decoded-content-length", "66560"},
               {"Content-Length", "66824"}};
  std::string authz = DocAuth(
      "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
      "x-amz-decoded-content-length;x-amz-storage-class",
      "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  h.push_back({"Authorization", authz});
  auto r = f.Verify("PUT", "/examplebucket/chunkObject.txt", h);
  REQUIRE(r.ok());
  CHECK(r->payload == PayloadMode::kStreamingSigned);
  CHECK(r->decoded_content_length == 66560);
  CHECK(r->signing.seed() == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  CHECK(r->signing.date() == kDocDate);
  CHECK(r->signing.scope == "20130524/us-east-1/s3/aws4_request");

  // Streaming without x-amz-decoded-content-length: MissingContentLength.
  Headers nolen;
  for (const HttpHeader& x : h) {
    if (!IEquals(x.name, "x-amz-decoded-content-length")) nolen.push_back(x);
  }
  std::string creq;
  std::string_view sh =
      "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
      "x-amz-storage-class";
  REQUIRE(CanonicalRequest("PUT", "/examplebucket/chunkObject.txt", nolen, sh,
                           kStreamingSignedPayload, false, &creq)
              .ok());
  uint8_t key[32];
  DeriveSigningKey(kDocSecret, "20130524", "us-east-1", "s3", key);
  std::string a2 = DocAuth(sh, SignatureHex(key, kDocDate, r->signing.scope, creq));
  nolen.back().value = a2;
  CHECK(f.Verify("PUT", "/examplebucket/chunkObject.txt", nolen).status().code() ==
        Code::kMissingContentLength);

  // The trailer example's seed.
  Headers t = {{"Host", "s3.amazonaws.com"},
               {"x-amz-date", kDocDate},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", kStreamingSignedTrailer},
               {"Content-Encoding", "aws-chunked"},
               {"x-amz-decoded-content-length", "66560"},
               {"x-amz-trailer", "x-amz-checksum-crc32c"}};
  std::string tauthz = DocAuth(
      "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
      "x-amz-storage-class;x-amz-trailer",
      "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
  t.push_back({"Authorization", tauthz});
  auto tr = f.Verify("PUT", "/examplebucket/chunkObject.txt", t);
  REQUIRE(tr.ok());
  CHECK(tr->payload == PayloadMode::kStreamingSignedTrailer);
  CHECK(tr->trailer == "x-amz-checksum-crc32c");
}

TEST_CASE("SigV4 signing keys are cached per day, bounded and thread-safe", "[sigv4]") {
  SigningKeyCache cache(4);
  uint8_t a[32], b[32];
  cache.Get("k", "s", "20130524", "us-east-1", "s3", a);
  DeriveSigningKey("s", "20130524", "us-east-1", "s3", b);
  CHECK(std::memcmp(a, b, 32) == 0);
  cache.Get("k", "s", "20130524", "us-east-1", "s3", a);
  CHECK(cache.hits() == 1);
  CHECK(cache.misses() == 1);
  // Another day, region, service or key is another entry; a changed secret is noticed.
  cache.Get("k", "s", "20130525", "us-east-1", "s3", a);
  CHECK(std::memcmp(a, b, 32) != 0);
  cache.Get("k", "s2", "20130524", "us-east-1", "s3", a);
  DeriveSigningKey("s2", "20130524", "us-east-1", "s3", b);
  CHECK(std::memcmp(a, b, 32) == 0);
  CHECK(cache.misses() == 3);
  for (int i = 0; i < 10; ++i) cache.Get("k" + std::to_string(i), "s", "20130524", "r", "s3", a);
  CHECK(cache.size() <= 4);
  // A long secret (beyond the stack buffer) derives the same key as without the cache.
  const std::string long_secret(300, 'z');
  cache.Get("long", long_secret, "20130524", "r", "s3", a);
  DeriveSigningKey(long_secret, "20130524", "r", "s3", b);
  CHECK(std::memcmp(a, b, 32) == 0);
  // Many threads at once: every answer is right.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      uint8_t x[32], y[32];
      for (int i = 0; i < 500; ++i) {
        const std::string k = "key" + std::to_string((i + t) % 7);
        cache.Get(k, "secret" + k, "20130524", "us-east-1", "s3", x);
        DeriveSigningKey("secret" + k, "20130524", "us-east-1", "s3", y);
        if (std::memcmp(x, y, 32) != 0) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  // The credential table refuses empty, duplicate and unsignable keys.
  CredentialTable table;
  CHECK(table.Add({"a", "b", false}).ok());
  CHECK(table.Add({"a", "c", false}).code() == Code::kInvalidArgument);
  CHECK(table.Add({"", "c", false}).code() == Code::kInvalidArgument);
  CHECK(table.Add({"x", "", false}).code() == Code::kInvalidArgument);
  CHECK(table.Add({"a,b", "c", false}).code() == Code::kInvalidArgument);
  CHECK(table.Find("a") != nullptr);
  CHECK(table.Find("b") == nullptr);
}

TEST_CASE("SigV4 dates and encodings", "[sigv4]") {
  int64_t t;
  CHECK(ParseAmzDate("19700101T000000Z", &t));
  CHECK(t == 0);
  CHECK(ParseHttpDate("Fri, 24 May 2013 00:00:00 GMT", &t));
  CHECK(t == Epoch(kDocDate));
  for (const char* bad : {"20130229T000000Z", "20131324T000000Z", "20130524T240000Z",
                          "20130524T000000", "2013052AT000000Z", "19690101T000000Z"}) {
    CHECK_FALSE(ParseAmzDate(bad, &t));
  }
  CHECK(ParseAmzDate("20240229T235959Z", &t));
  const auto f = FormatAmzDate(t);
  CHECK(std::string(f.data(), 16) == "20240229T235959Z");
  CHECK_FALSE(ParseHttpDate("Fri, 24 Foo 2013 00:00:00 GMT", &t));
  CHECK_FALSE(ParseHttpDate("Fry, 24 May 2013 00:00:00 GMT", &t));
  CHECK(UriEncodePath("a b/c+d~") == "/a%20b/c%2Bd~");
  CHECK(UriEncodeQueryComponent("a/b c") == "a%2Fb%20c");
  std::string out;
  CHECK(AppendCanonicalUri("/a%2fb%7e+", &out).ok());
  CHECK(out == "/a%2Fb~%2B");
  out.clear();
  AppendCanonicalHeaderValue("  a \t b\r\n c  ", &out);
  CHECK(out == "a b c");
}
