// What the SigV4 tests share: the fixed inputs of the AWS SigV4 test suite and of the S3
// documentation's examples, and a Verifier over a manual clock with both users.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/common/clock.h"
#include "libstore/s3/sigv4.h"
#include "libstore/s3/sigv4_canonical.h"

namespace cairn::s3::testing {

inline int64_t Epoch(std::string_view amz_date) {
  int64_t t = 0;
  REQUIRE(ParseAmzDate(amz_date, &t));
  return t;
}

using Headers = std::vector<HttpHeader>;

// The AWS SigV4 test suite's fixed inputs.
constexpr std::string_view kSuiteKey = "AKIDEXAMPLE";
constexpr std::string_view kSuiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kSuiteDate = "20150830T123600Z";

// The S3 documentation's.
constexpr std::string_view kDocKey = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kDocSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kDocDate = "20130524T000000Z";

struct Fixture {
  ManualClock clock;
  CredentialTable users;
  VerifierOptions opts;
  explicit Fixture(std::string_view now, std::string service = "s3") {
    clock.Set(Epoch(now) * 1000000000);
    REQUIRE(users.Add({std::string(kSuiteKey), std::string(kSuiteSecret), false}).ok());
    REQUIRE(users.Add({std::string(kDocKey), std::string(kDocSecret), true}).ok());
    opts.clock = &clock;
    opts.credentials = &users;
    opts.service = std::move(service);
  }
  Result<AuthResult> Verify(std::string_view method, std::string_view target, const Headers& h) {
    Verifier v(opts);
    return v.Verify(method, target, h);
  }
  // A Signer's options for the documentation's key pair, on this fixture's clock.
  SignerOptions DocSigner() {
    SignerOptions so;
    so.access_key = kDocKey;
    so.secret_key = kDocSecret;
    so.clock = &clock;
    return so;
  }
};

inline std::string SuiteAuth(std::string_view signed_headers, std::string_view sig) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         std::string(signed_headers) + ", Signature=" + std::string(sig);
}

inline std::string DocAuth(std::string_view signed_headers, std::string_view sig) {
  return "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
         "SignedHeaders=" +
         std::string(signed_headers) + ",Signature=" + std::string(sig);
}

}  // namespace cairn::s3::testing
