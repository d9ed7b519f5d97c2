// SigV2 query-string authentication: the presigned URLs that boto3, the aws cli v1 (`aws s3
// presign`) and s3cmd (`signurl`) still make by default (AWSAccessKeyId, Expires, Signature =
// base64 HMAC-SHA1 of the string to sign). Only this presigned form is accepted; a SigV2
// Authorization header ("AWS key:sig") is not (those clients sign requests with SigV4).
//
// String to sign: METHOD \n Content-MD5 \n Content-Type \n Expires \n
// CanonicalizedAmzHeaders (x-amz-* lower-cased, sorted, "name:value\n") CanonicalizedResource (the
// path as sent, still percent-encoded, then the sub-resources S3 signs, sorted, values decoded).
// Thread safety: functions of their arguments.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "libstore/common/status.h"
#include "libstore/s3/sigv4.h"

namespace cairn::s3 {

// True when the raw query carries SigV2 presign parameters (AWSAccessKeyId or Signature with
// Expires), so the request must be checked by VerifyPresignV2 and by nothing else.
bool HasPresignV2(std::string_view raw_query);

// Verifies a SigV2 presigned request at time now_s (seconds since the epoch). The body is not
// signed (PayloadMode::kUnsigned). Errors as S3 gives them: kAuthQueryMalformed (a parameter
// missing, repeated or malformed), kInvalidAccessKeyId, kAccessDenied ("Request has expired"),
// kSignatureMismatch.
Result<AuthResult> VerifyPresignV2(std::string_view method, std::string_view target,
                                   std::span<const HttpHeader> headers,
                                   const CredentialLookup& credentials, int64_t now_s);

// The string to sign of a request (for tests and the signer side).
Result<std::string> StringToSignV2(std::string_view method, std::string_view target,
                                   std::span<const HttpHeader> headers, std::string_view expires);

}  // namespace cairn::s3
