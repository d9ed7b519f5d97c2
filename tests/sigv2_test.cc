// SigV2 presigned URLs, as boto3 (and the aws cli v1, s3cmd) make them by default: vectors made by
// boto3 1.43's generate_presigned_url, then every refusal; and through SigV4Authenticator.
#include "libstore/s3/sigv2.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "libstore/server/sigv4_auth.h"
#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::s3;

namespace {

constexpr const char* kKey = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
// boto3.client('s3', endpoint_url='http://127.0.0.1:9000', region_name='us-east-1', ...)
//   .generate_presigned_url('get_object', Params={'Bucket': 'johnsmith',
//       'Key': 'photos/puppy +é.jpg', 'ResponseContentType': 'image/jpeg'}, ExpiresIn=...)
const std::string kGet =
    "/johnsmith/photos/puppy%20%2B%C3%A9.jpg?response-content-type=image%2Fjpeg&AWSAccessKeyId="
    "AKIAIOSFODNN7EXAMPLE&Signature=g5882Y19FMREiVEee2uyW019nn4%3D&Expires=2426950906";
// ... 'put_object', Params={'Bucket': 'johnsmith', 'Key': 'up/x.bin'}
const std::string kPut =
    "/johnsmith/up/x.bin?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=eF3qzX4QJkelpu6MCiNrUbxAnXY%"
    "3D&Expires=2426950906";
constexpr int64_t kBefore = 2426950906 - 10;

struct Users {
  CredentialTable table;
  Users() {
    REQUIRE(table.Add({kKey, kSecret, false}).ok());
    REQUIRE(table.Add({"AKREADONLY", kSecret, true}).ok());
  }
};

std::vector<HttpHeader> Hosted() { return {{"host", "127.0.0.1:9000"}}; }

}  // namespace

TEST_CASE("sigv2: boto3's presigned GET and PUT verify", "[sigv2]") {
  Users u;
  CHECK(HasPresignV2(kGet.substr(kGet.find('?') + 1)));
  auto get = VerifyPresignV2("GET", kGet, Hosted(), u.table, kBefore);
  REQUIRE(get.ok());
  CHECK(get->access_key == kKey);
  CHECK(get->presigned);
  CHECK(get->payload == PayloadMode::kUnsigned);
  auto sts = StringToSignV2("GET", kGet, Hosted(), "2426950906");
  REQUIRE(sts.ok());
  // The path as sent; the sub-resource decoded; the auth parameters left out.
  CHECK(*sts ==
        "GET\n\n\n2426950906\n/johnsmith/photos/puppy%20%2B%C3%A9.jpg"
        "?response-content-type=image/jpeg");
  CHECK(VerifyPresignV2("PUT", kPut, Hosted(), u.table, kBefore).ok());
  // A Content-Type the client did not sign breaks the signature, as on S3.
  auto typed = Hosted();
  typed.push_back({"Content-Type", "text/plain"});
  CHECK(VerifyPresignV2("PUT", kPut, typed, u.table, kBefore).status().code() ==
        Code::kSignatureMismatch);
}

TEST_CASE("sigv2: every refusal with S3's code", "[sigv2]") {
  Users u;
  auto code = [&](const std::string& method, const std::string& target, int64_t now = kBefore) {
    return VerifyPresignV2(method, target, Hosted(), u.table, now).status().code();
  };
  CHECK(code("GET", kGet, 2426950906 + 1) == Code::kAccessDenied);  // expired
  CHECK(code("GET", kGet, 2426950906) == Code::kOk);                // the last valid second
  CHECK(code("DELETE", kGet) == Code::kSignatureMismatch);          // another method
  std::string other_key = kGet;
  other_key.replace(other_key.find("puppy"), 5, "kitty");
  CHECK(code("GET", other_key) == Code::kSignatureMismatch);
  std::string later = kGet;
  later.replace(later.find("Expires=2426950906"), 18, "Expires=2426950907");
  CHECK(code("GET", later) == Code::kSignatureMismatch);  // a tampered expiry
  std::string overridden = kGet;
  overridden.replace(overridden.find("image%2Fjpeg"), 12, "text%2Fhtml");
  CHECK(code("GET", overridden) == Code::kSignatureMismatch);  // a tampered sub-resource
  std::string unknown = kGet;
  unknown.replace(unknown.find("AKIAIOSFODNN7EXAMPLE"), 20, "AKIAIOSFODNN7UNKNOWN");
  CHECK(code("GET", unknown) == Code::kInvalidAccessKeyId);
  CHECK(code("GET", "/b/k?AWSAccessKeyId=" + std::string(kKey) + "&Expires=1") ==
        Code::kAuthQueryMalformed);  // no signature
  CHECK(code("GET", "/b/k?AWSAccessKeyId=A&Signature=abc%3D&Expires=soon") ==
        Code::kAuthQueryMalformed);
  CHECK(code("GET", "/b/k?AWSAccessKeyId=A&Signature=notbase64!&Expires=1") ==
        Code::kAuthQueryMalformed);
  CHECK(code("GET", kGet + "&Expires=2426950906") == Code::kAuthQueryMalformed);  // twice
  CHECK(code("GET", "/b/k?AWSAccessKeyId=A&Signature=%zz&Expires=1") == Code::kAuthQueryMalformed);
  auto both = Hosted();
  both.push_back({"Authorization", "AWS4-HMAC-SHA256 Credential=x"});
  CHECK(VerifyPresignV2("GET", kGet, both, u.table, kBefore).status().code() ==
        Code::kInvalidArgument);
  // A SigV4 presigned URL is not taken for a SigV2 one.
  CHECK_FALSE(HasPresignV2("X-Amz-Algorithm=AWS4-HMAC-SHA256&AWSAccessKeyId=A&Expires=1"));
  CHECK_FALSE(HasPresignV2("list-type=2"));
}

TEST_CASE("sigv2: SigV4Authenticator takes SigV2 presigned URLs, read-only rules included",
          "[sigv2]") {
  Users u;
  ManualClock clock;
  clock.Set(kBefore * 1000000000);
  server::SigV4AuthOptions o;
  o.clock = &clock;
  o.credentials = &u.table;
  server::SigV4Authenticator auth(o);
  auto request = [](std::string method, std::string target) {
    server::HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.emplace_back("host", "127.0.0.1:9000");
    return r;
  };
  test::StringSource raw("");
  server::Identity who;
  std::unique_ptr<Source> body;
  REQUIRE(auth.Authenticate(request("GET", kGet), raw, &who, &body).ok());
  CHECK(who.access_key == kKey);
  CHECK(auth.Authenticate(request("HEAD", kGet), raw, &who, &body).code() ==
        Code::kSignatureMismatch);
  clock.Set((2426950906 + 60) * 1000000000);
  CHECK(auth.Authenticate(request("GET", kGet), raw, &who, &body).code() == Code::kAccessDenied);
}
