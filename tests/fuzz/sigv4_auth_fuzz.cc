// The SigV4 parsers on what a client sends: the Authorization header and a presigned URL's query,
// then the whole Verifier on the same bytes as a request target and header. Nothing crashes; a
// refusal carries the code of its form; anything accepted formats back to text that parses to the
// same fields (so what the server logs and compares is what it parsed).
// Input: the first byte picks the form (even: Authorization header, odd: presigned query); the
// rest is the header value or the query.
// Coverage: libstore/s3/sigv4_canonical.cc cairn::s3::ParseAuthorization(
// Coverage: libstore/s3/sigv4_canonical.cc cairn::s3::ParsePresignQuery(
// Coverage: libstore/s3/sigv4.cc cairn::s3::Verifier::Verify(
#include "libstore/s3/sigv4.h"
#include "libstore/s3/sigv4_canonical.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace cairn;
using namespace cairn::s3;

bool SameScope(const CredentialScope& a, const CredentialScope& b) {
  return a.access_key == b.access_key && a.date == b.date && a.region == b.region &&
         a.service == b.service;
}

void CheckHeader(std::string_view s) {
  ParsedAuthorization a;
  Status st = ParseAuthorization(s, &a);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == Code::kAuthHeaderMalformed);
    return;
  }
  FUZZ_CHECK(ValidSignedHeaders(a.signed_headers));
  const std::string again = FormatAuthorization(a);
  ParsedAuthorization b;
  FUZZ_CHECK(ParseAuthorization(again, &b).ok());
  FUZZ_CHECK(SameScope(a.credential, b.credential));
  FUZZ_CHECK(a.signed_headers == b.signed_headers);
  FUZZ_CHECK(a.signature == b.signature);
  FUZZ_CHECK(FormatAuthorization(b) == again);
}

void CheckQuery(std::string_view s) {
  ParsedPresign p;
  Status st = ParsePresignQuery(s, &p);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == Code::kAuthQueryMalformed);
    return;
  }
  FUZZ_CHECK(p.expires_sec >= 0 && p.expires_sec <= kMaxPresignExpiresSec);
  int64_t t;
  FUZZ_CHECK(ParseAmzDate(p.amz_date, &t));
  const std::string again = FormatPresignQuery(p);
  ParsedPresign q;
  FUZZ_CHECK(ParsePresignQuery(again, &q).ok());
  FUZZ_CHECK(SameScope(p.credential, q.credential));
  FUZZ_CHECK(p.amz_date == q.amz_date && p.signed_headers == q.signed_headers);
  FUZZ_CHECK(p.expires_sec == q.expires_sec && p.signature == q.signature);
  FUZZ_CHECK(FormatPresignQuery(q) == again);
}

bool AuthCode(Code c) {
  switch (c) {
    case Code::kOk:
    case Code::kInvalidArgument:
    case Code::kNotImplemented:
    case Code::kAccessDenied:
    case Code::kSignatureMismatch:
    case Code::kInvalidAccessKeyId:
    case Code::kRequestTimeTooSkewed:
    case Code::kAuthHeaderMalformed:
    case Code::kAuthQueryMalformed:
    case Code::kMissingContentLength:
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view s(reinterpret_cast<const char*>(data) + 1, size - 1);
  static ManualClock clock;
  static CredentialTable* users = [] {
    auto* t = new CredentialTable;
    (void)t->Add({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", false});
    clock.Set(int64_t(1369353600) * 1000000000);  // 20130524T000000Z
    return t;
  }();
  VerifierOptions vo;
  vo.clock = &clock;
  vo.credentials = users;
  static Verifier* verifier = new Verifier(vo);
  const HttpHeader date{"x-amz-date", "20130524T000000Z"};
  const HttpHeader host{"Host", "examplebucket.s3.amazonaws.com"};
  if (data[0] % 2 == 0) {
    CheckHeader(s);
    const HttpHeader h[] = {host, date, {"Authorization", s}};
    auto r = verifier->Verify("GET", "/test.txt", h);
    FUZZ_CHECK(AuthCode(r.status().code()));
  } else {
    CheckQuery(s);
    const std::string target = "/test.txt?" + std::string(s);
    const HttpHeader h[] = {host};
    auto r = verifier->Verify("GET", target, h);
    FUZZ_CHECK(AuthCode(r.status().code()));
  }
  return 0;
}
