#include "libstore/s3/errors.h"

#include <array>

#include "libstore/s3/xml.h"

namespace cairn::s3 {
namespace {

constexpr size_t kCodes = static_cast<size_t>(Code::kLastCode) + 1;

struct Row {
  Code code;
  S3Error error;
};

// In enum order; the constexpr check below fails the build when a row is missing or misplaced.
constexpr Row kRows[] = {
    {Code::kOk, {200, "", ""}},
    {Code::kInvalidArgument, {400, "InvalidArgument", "Invalid Argument."}},
    {Code::kNotFound, {404, "NoSuchKey", "The specified key does not exist."}},
    {Code::kAlreadyExists,
     {409, "BucketAlreadyOwnedByYou",
      "The bucket you tried to create already exists, and you "
      "own it."}},
    {Code::kNotEmpty, {409, "BucketNotEmpty", "The bucket you tried to delete is not empty."}},
    {Code::kIOError, {500, "InternalError", "We encountered an internal error. Please try again."}},
    {Code::kNoSpace,
     {503, "ServiceUnavailable",
      "The storage is full or over quota; reduce your request rate "
      "or free space."}},
    {Code::kCorruption,
     {500, "InternalError", "We encountered an internal error. Please try again."}},
    {Code::kDataLoss,
     {500, "InternalError", "We encountered an internal error. Please try again."}},
    {Code::kQuorum,
     {503, "ServiceUnavailable", "Not enough storage volumes answered. Please try again."}},
    {Code::kAborted, {503, "ServiceUnavailable", "The request was interrupted. Please try again."}},
    {Code::kInternal,
     {500, "InternalError", "We encountered an internal error. Please try again."}},
    {Code::kDegraded,
     {500, "InternalError", "We encountered an internal error. Please try again."}},
    {Code::kBucketNotFound, {404, "NoSuchBucket", "The specified bucket does not exist."}},
    {Code::kUploadNotFound,
     {404, "NoSuchUpload",
      "The specified multipart upload does not exist: it was never started, "
      "or it was completed or aborted."}},
    {Code::kNotModified, {304, "NotModified", "Not Modified."}},
    {Code::kPreconditionFailed,
     {412, "PreconditionFailed", "At least one of the preconditions you specified did not hold."}},
    {Code::kInvalidRange, {416, "InvalidRange", "The requested range is not satisfiable."}},
    {Code::kBadDigest,
     {400, "BadDigest",
      "The Content-MD5 or checksum you specified did not match what we "
      "received."}},
    {Code::kInvalidDigest,
     {400, "InvalidDigest", "The Content-MD5 or checksum you specified is not valid."}},
    {Code::kContentSha256Mismatch,
     {400, "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not "
      "match what was computed."}},
    {Code::kEntityTooLarge,
     {400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."}},
    {Code::kEntityTooSmall,
     {400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size."}},
    {Code::kInvalidPart,
     {400, "InvalidPart",
      "One or more of the specified parts could not be found, or its ETag "
      "did not match."}},
    {Code::kInvalidPartOrder,
     {400, "InvalidPartOrder", "The list of parts was not in ascending order."}},
    {Code::kKeyTooLong, {400, "KeyTooLongError", "Your key is too long (at most 1024 bytes)."}},
    {Code::kInvalidBucketName, {400, "InvalidBucketName", "The specified bucket is not valid."}},
    {Code::kMalformedXml,
     {400, "MalformedXML",
      "The XML you provided was not well-formed or did not validate against "
      "our published schema."}},
    {Code::kMissingContentLength,
     {411, "MissingContentLength", "You must provide the Content-Length HTTP header."}},
    {Code::kIncompleteBody,
     {400, "IncompleteBody",
      "You did not provide the number of bytes specified by the "
      "Content-Length HTTP header."}},
    {Code::kRequestTimeout,
     {400, "RequestTimeout",
      "Your socket connection to the server was not read from or written "
      "to within the timeout period."}},
    {Code::kSlowDown, {503, "SlowDown", "Please reduce your request rate."}},
    {Code::kNotImplemented,
     {501, "NotImplemented",
      "A header or operation you provided implies functionality that is "
      "not implemented."}},
    {Code::kAccessDenied, {403, "AccessDenied", "Access Denied."}},
    {Code::kSignatureMismatch,
     {403, "SignatureDoesNotMatch",
      "The request signature we calculated does not match the "
      "signature you provided. Check your key and signing method."}},
    {Code::kInvalidAccessKeyId,
     {403, "InvalidAccessKeyId", "The access key ID you provided does not exist in our records."}},
    {Code::kRequestTimeTooSkewed,
     {403, "RequestTimeTooSkewed",
      "The difference between the request time and the server's "
      "time is too large."}},
    {Code::kAuthHeaderMalformed,
     {400, "AuthorizationHeaderMalformed",
      "The authorization header you provided is not "
      "valid."}},
    {Code::kAuthQueryMalformed,
     {400, "AuthorizationQueryParametersError",
      "The authorization query parameters you "
      "provided are not valid."}},
    {Code::kInvalidPartNumber, {416, "InvalidPartNumber", "The requested partnumber is not satisfiable."}},
    {Code::kInvalidRequest, {400, "InvalidRequest", "The request is not valid."}},
};

constexpr bool RowsMatchEnum() {
  if (std::size(kRows) != kCodes) return false;
  for (size_t i = 0; i < kCodes; ++i) {
    if (static_cast<size_t>(kRows[i].code) != i) return false;
  }
  return true;
}
static_assert(RowsMatchEnum(), "errors.cc: one row per cairn::Code, in enum order");

}  // namespace

const S3Error& S3ErrorFor(Code c) {
  const auto i = static_cast<size_t>(c);
  if (i >= kCodes) return kRows[static_cast<size_t>(Code::kInternal)].error;
  return kRows[i].error;
}

bool ShowsDetail(Code c) { return S3ErrorFor(c).http_status < 500; }

void AppendErrorXml(const Status& status, std::string_view resource, std::string_view request_id,
                    std::string* out) {
  const S3Error& e = S3ErrorFor(status.ok() ? Code::kInternal : status.code());
  if (e.http_status == 304) return;
  const bool detail = ShowsDetail(status.code()) && !status.message().empty();
  XmlWriter w(out);
  w.Declaration();
  w.Open("Error");
  w.Element("Code", e.code);
  w.Element("Message", detail ? std::string_view(status.message()) : std::string_view(e.message));
  w.Element("Resource", resource);
  w.Element("RequestId", request_id);
  w.Finish();
}

std::string ErrorXml(const Status& status, std::string_view resource, std::string_view request_id) {
  std::string s;
  AppendErrorXml(status, resource, request_id, &s);
  return s;
}

std::string ErrorTableMarkdown() {
  std::string s =
      "| cairn code | HTTP | S3 code | default message |\n"
      "|---|---:|---|---|\n";
  for (size_t i = 0; i < kCodes; ++i) {
    const Row& r = kRows[i];
    s += "| ";
    s += CodeName(r.code);
    s += " | " + std::to_string(r.error.http_status) + " | ";
    s += r.error.code;
    s += " | ";
    s += r.error.message;
    s += " |\n";
  }
  return s;
}

}  // namespace cairn::s3
