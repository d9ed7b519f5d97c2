#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "libstore/s3/errors.h"
#include "libstore/s3/xml.h"

using namespace cairn;
using namespace cairn::s3;

TEST_CASE("every Code has an S3 error row", "[s3errors]") {
  for (int i = 0; i <= static_cast<int>(Code::kLastCode); ++i) {
    const Code c = static_cast<Code>(i);
    const S3Error& e = S3ErrorFor(c);
    INFO(CodeName(c));
    if (c == Code::kOk) {
      CHECK(e.http_status == 200);
      continue;
    }
    CHECK(e.http_status >= 300);
    CHECK(e.http_status < 600);
    CHECK(std::string(e.code).size() > 0);
    CHECK(std::string(e.message).size() > 0);
    // A server-side failure is 5xx and hides its detail; a client's mistake shows it.
    const ErrorClass k = ClassOf(c);
    if (k == ErrorClass::kBug) CHECK(e.http_status == 500);
    CHECK(ShowsDetail(c) == (e.http_status < 500));
  }
  // Outside the enum: InternalError.
  CHECK(std::string(S3ErrorFor(static_cast<Code>(1000)).code) == "InternalError");
}

TEST_CASE("the S3 codes and statuses clients depend on", "[s3errors]") {
  const std::pair<Code, std::pair<int, const char*>> want[] = {
      {Code::kNotFound, {404, "NoSuchKey"}},
      {Code::kBucketNotFound, {404, "NoSuchBucket"}},
      {Code::kUploadNotFound, {404, "NoSuchUpload"}},
      {Code::kAlreadyExists, {409, "BucketAlreadyOwnedByYou"}},
      {Code::kNotEmpty, {409, "BucketNotEmpty"}},
      {Code::kNotModified, {304, "NotModified"}},
      {Code::kPreconditionFailed, {412, "PreconditionFailed"}},
      {Code::kInvalidRange, {416, "InvalidRange"}},
      {Code::kBadDigest, {400, "BadDigest"}},
      {Code::kInvalidDigest, {400, "InvalidDigest"}},
      {Code::kContentSha256Mismatch, {400, "XAmzContentSHA256Mismatch"}},
      {Code::kEntityTooLarge, {400, "EntityTooLarge"}},
      {Code::kEntityTooSmall, {400, "EntityTooSmall"}},
      {Code::kInvalidPart, {400, "InvalidPart"}},
      {Code::kInvalidPartOrder, {400, "InvalidPartOrder"}},
      {Code::kKeyTooLong, {400, "KeyTooLongError"}},
      {Code::kInvalidBucketName, {400, "InvalidBucketName"}},
      {Code::kMalformedXml, {400, "MalformedXML"}},
      {Code::kMissingContentLength, {411, "MissingContentLength"}},
      {Code::kIncompleteBody, {400, "IncompleteBody"}},
      {Code::kRequestTimeout, {400, "RequestTimeout"}},
      {Code::kSlowDown, {503, "SlowDown"}},
      {Code::kNotImplemented, {501, "NotImplemented"}},
      {Code::kAccessDenied, {403, "AccessDenied"}},
      {Code::kSignatureMismatch, {403, "SignatureDoesNotMatch"}},
      {Code::kInvalidAccessKeyId, {403, "InvalidAccessKeyId"}},
      {Code::kRequestTimeTooSkewed, {403, "RequestTimeTooSkewed"}},
      {Code::kAuthHeaderMalformed, {400, "AuthorizationHeaderMalformed"}},
      {Code::kAuthQueryMalformed, {400, "AuthorizationQueryParametersError"}},
      {Code::kInvalidArgument, {400, "InvalidArgument"}},
      {Code::kInvalidPartNumber, {416, "InvalidPartNumber"}},
      {Code::kInvalidRequest, {400, "InvalidRequest"}},
      {Code::kIOError, {500, "InternalError"}},
      {Code::kInternal, {500, "InternalError"}},
      {Code::kCorruption, {500, "InternalError"}},
      {Code::kNoSpace, {503, "ServiceUnavailable"}},
      {Code::kQuorum, {503, "ServiceUnavailable"}},
  };
  for (const auto& [c, w] : want) {
    INFO(CodeName(c));
    CHECK(S3ErrorFor(c).http_status == w.first);
    CHECK(std::string(S3ErrorFor(c).code) == w.second);
  }
}

TEST_CASE("ErrorXml writes S3's Error document, escaped", "[s3errors]") {
  const std::string doc = ErrorXml(Status(Code::kNotFound, "no key <a&b>"), "/bkt/a&b", "r1");
  CHECK(doc ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Error><Code>NoSuchKey</Code><Message>no key &lt;a&amp;b&gt;</Message>"
        "<Resource>/bkt/a&amp;b</Resource><RequestId>r1</RequestId></Error>");
  // A server-side failure hides its detail (paths) behind the default message.
  const std::string io = ErrorXml(IOError("/srv/disk3/.cairn/x: EIO"), "/b/k", "r2");
  CHECK(io.find("InternalError") != std::string::npos);
  CHECK(io.find("/srv/disk3") == std::string::npos);
  CHECK(io.find(S3ErrorFor(Code::kIOError).message) != std::string::npos);
  // An empty message falls back to the default; 304 has no body.
  CHECK(ErrorXml(Status(Code::kAccessDenied, ""), "/", "r").find("Access Denied.") !=
        std::string::npos);
  CHECK(ErrorXml(Status(Code::kNotModified, "same"), "/b/k", "r").empty());
  // Control characters and NUL in the resource are references, not raw bytes.
  const std::string ctl = ErrorXml(Status(Code::kNotFound, "x"), std::string("/b/k\0\x01", 6), "r");
  CHECK(ctl.find("<Resource>/b/k&#x0;&#x1;</Resource>") != std::string::npos);
  // Appending reuses the caller's string.
  std::string out = "prefix";
  AppendErrorXml(Status(Code::kSlowDown, "busy"), "/", "r", &out);
  CHECK(out.rfind("prefix<?xml", 0) == 0);
}

TEST_CASE("docs/s3.md carries the error table as the code has it", "[s3errors]") {
  std::ifstream f(std::string(CAIRN_SOURCE_DIR) + "/docs/s3.md");
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string table = ErrorTableMarkdown();
  INFO("regenerate the table in docs/s3.md from ErrorTableMarkdown():\n" << table);
  CHECK(ss.str().find(table) != std::string::npos);
  // One line per code plus the two header lines.
  CHECK(std::count(table.begin(), table.end(), '\n') == static_cast<int>(Code::kLastCode) + 3);
}
