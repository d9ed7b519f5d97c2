// Parsing of what an HTTP request names, without Beast: the request target (path and query), the
// bucket and key it addresses (path-style or virtual-hosted-style), the Range header and HTTP
// dates. Every function is pure and total: any input bytes give a value or an error status, never
// a crash (tests/fuzz/request_target_fuzz.cc and http_headers_fuzz.cc check it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libstore/common/status.h"

namespace cairn::server {

// S3's limit on an object key, in bytes.
constexpr size_t kMaxKeyBytes = 1024;

struct Target {
  std::string raw_path;  // the path as sent (still percent-encoded), for SigV4 and the access log
  std::string path;      // percent-decoded
  // Query parameters in the order sent, names and values percent-decoded. A name without '='
  // has an empty value; duplicate names are all kept. '+' stays '+' (S3 does not read it as a
  // space).
  std::vector<std::pair<std::string, std::string>> query;
};

// Percent-decodes s onto *out. A '%' not followed by two hex digits is kInvalidArgument (S3:
// InvalidArgument); so is a decoded NUL byte.
Status PercentDecode(std::string_view s, std::string* out);

// Splits an origin-form target ("/path?query"). The path must start with '/'; the target may hold
// no fragment ('#'), control characters or spaces. kInvalidArgument otherwise.
Result<Target> ParseTarget(std::string_view raw);

// The bucket and key a request addresses. With a domain, a Host of "BUCKET.DOMAIN" (port ignored,
// case-insensitive) names the bucket and the whole path is the key; any other host (including the
// domain itself) is path-style: "/BUCKET/KEY". Errors: kInvalidBucketName for a bucket name that
// holds '/' once decoded or is empty while a key is given, kKeyTooLong for a key above
// kMaxKeyBytes, kInvalidArgument for a bad escape.
struct Address {
  std::string bucket;  // empty: the service (ListBuckets)
  std::string key;     // empty: the bucket itself
};
Result<Address> ResolveAddress(std::string_view raw_path, std::string_view host,
                               std::string_view domain);

// A Range header, as S3 reads it: one "bytes=" range of the forms FIRST-LAST, FIRST- and -SUFFIX.
// A header that is not exactly one such range (another unit, bad syntax, LAST < FIRST, several
// ranges) is ignored, as S3 does: the whole object is sent with 200.
struct ByteRange {
  enum class Kind { kNone, kFromTo, kFrom, kSuffix };
  Kind kind = Kind::kNone;
  uint64_t first = 0;   // kFromTo, kFrom
  uint64_t last = 0;    // kFromTo (inclusive)
  uint64_t suffix = 0;  // kSuffix: the last `suffix` bytes
};
ByteRange ParseRangeHeader(std::string_view value);

// The inclusive bytes [*first, *last] a range selects in an object of `size` bytes; false when it
// is unsatisfiable (S3: 416 InvalidRange): FIRST at or past the end, a suffix of 0, or any range
// of an empty object. kNone selects the whole object (false only when it is empty: then nothing
// is sent, with 200). A LAST past the end and a suffix longer than the object are clipped.
bool ResolveRange(const ByteRange& r, uint64_t size, uint64_t* first, uint64_t* last);

// An HTTP-date in any of RFC 7231's three formats (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT",
// RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6 08:49:37 1994"), as seconds since
// the epoch; nullopt when it is none of them (a conditional header with a bad date is ignored).
// Two-digit RFC 850 years are taken as 1970-2069.
std::optional<int64_t> ParseHttpDate(std::string_view s);

// IMF-fixdate of a time in seconds since the epoch, into buf (at least 30 bytes); returns its
// length (29).
size_t FormatHttpDate(int64_t seconds, char* buf);

}  // namespace cairn::server
