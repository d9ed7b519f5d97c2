// The pieces of SigV4 that the Signer and the Verifier share: S3's URI encoding, the canonical
// URI, query and header value, the request dates, and the parsers of the Authorization header and
// of a presigned query (with formatters that write back what they parsed, for tests and fuzzing).
//
// URI rules (S3's, which differ from other services): the path is not normalised (no `.`/`..`
// removal, no slash merging) and not encoded twice. Each byte of the raw path or query component
// becomes: itself when unreserved (A-Z a-z 0-9 - . _ ~) or, in a path, '/'; else %XX with upper
// hex digits. A %XX escape already present is decoded first, then written back by the same rule,
// so `%7e` and `~` sign alike, and `%2F` stays `%2F` (a slash inside a key is not a separator).
// A '+' is a literal plus (%2B), never a space. A '%' not followed by two hex digits is refused.
// Query pairs are sorted by encoded key, then encoded value; a key without '=' gets an empty value.
//
// Thread safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/common/status.h"

namespace cairn::s3 {

// Appends s percent-encoded by S3's rule (above) to *out; '/' is kept unless encode_slash.
void AppendUriEncoded(std::string_view s, bool encode_slash, std::string* out);
// A key or bucket/key path as the client sends it: "/" + encoded (slashes kept).
std::string UriEncodePath(std::string_view path);
// A query component (key or value) as the client sends it (slashes encoded).
std::string UriEncodeQueryComponent(std::string_view s);

// The canonical URI of a raw (still encoded) path; "" becomes "/". kInvalidArgument on a bad
// escape.
Status AppendCanonicalUri(std::string_view raw_path, std::string* out);

// The canonical query of a raw query (without '?'). With drop_signature the X-Amz-Signature pair
// is left out (presigned URLs). `scratch` is reused between calls to avoid allocation.
struct QueryScratch {
  std::string text;
  std::vector<std::array<uint32_t, 4>> pairs;  // key offset, key length, value offset, value length
};
Status AppendCanonicalQuery(std::string_view raw_query, bool drop_signature, QueryScratch* scratch,
                            std::string* out);

// A header value as SigV4 signs it: leading and trailing whitespace removed, every run of
// whitespace (space, tab, CR, LF) inside collapsed to one space.
void AppendCanonicalHeaderValue(std::string_view value, std::string* out);

// ASCII case-insensitive equality, and lower-casing.
bool IEquals(std::string_view a, std::string_view b);
bool IStartsWith(std::string_view s, std::string_view prefix);

// yyyymmddThhmmssZ -> seconds since the epoch; false when malformed or out of range.
bool ParseAmzDate(std::string_view s, int64_t* epoch_sec);
// RFC 1123 "Fri, 24 May 2013 00:00:00 GMT" -> seconds since the epoch.
bool ParseHttpDate(std::string_view s, int64_t* epoch_sec);
// seconds since the epoch -> yyyymmddThhmmssZ.
std::array<char, 16> FormatAmzDate(int64_t epoch_sec);

// Hex: 64 digits (either case) -> 32 bytes; false when not exactly that.
bool DecodeHex32(std::string_view hex, uint8_t out[32]);

// access/yyyymmdd/region/service/aws4_request. The access key is everything before the last four
// parts (not empty, no control characters); date is 8 digits; region and service not empty.
struct CredentialScope {
  std::string_view access_key, date, region, service;
};
bool ParseCredentialScope(std::string_view s, CredentialScope* out);

// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." (components in any order,
// separated by ',' and optional spaces, each exactly once). Views point into the input.
struct ParsedAuthorization {
  CredentialScope credential;
  std::string_view signed_headers;  // ';'-separated, lowercase, strictly sorted, names host
  std::array<uint8_t, 32> signature{};
};
// kAuthHeaderMalformed with a message saying what is wrong.
Status ParseAuthorization(std::string_view header, ParsedAuthorization* out);
std::string FormatAuthorization(const ParsedAuthorization& a);

// The X-Amz-* parameters of a presigned query (values percent-decoded into `storage`). The views
// point into `storage` once parsed: a copy of the struct still points into the original.
struct ParsedPresign {
  std::string storage;  // holds the decoded values the views below point into
  CredentialScope credential;
  std::string_view amz_date, signed_headers;
  int64_t expires_sec = 0;
  std::array<uint8_t, 32> signature{};
};
// kAuthQueryMalformed when a parameter is missing, repeated or malformed, the algorithm is not
// AWS4-HMAC-SHA256, or X-Amz-Expires is not in 0..604800.
Status ParsePresignQuery(std::string_view raw_query, ParsedPresign* out);
std::string FormatPresignQuery(const ParsedPresign& p);

// Checks a SignedHeaders list: lowercase names of token characters, ';'-separated, strictly
// ascending, `host` among them.
bool ValidSignedHeaders(std::string_view list);

}  // namespace cairn::s3
