// Helpers shared by the files of StoreHandler (store_handler.cc: routing, buckets and listings;
// store_handler_objects.cc: PUT, GET, HEAD, DELETE and COPY of one object;
// store_handler_batch.cc: DeleteObjects, ListObjectVersions and the ACL answers). Not for use
// outside libstore/server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/object/object_store.h"
#include "libstore/s3/xml.h"
#include "libstore/server/http.h"

namespace cairn::server::internal {

// The one owner every bucket and object has (cairn has no per-user ownership): ListBuckets'
// Owner, fetch-owner, ListObjectVersions and the ACL answers all name it.
inline constexpr std::string_view kOwnerId = "cairn";
inline constexpr std::string_view kOwnerName = "cairn";

// The standard headers of a PUT (Cache-Control, Content-Disposition, Content-Encoding,
// Content-Language, Expires) are kept as system metadata, since PutOptions has no field for them:
// user_meta entries named kSystemMetaPrefix ("~cairn-", object_store.h) then the header's
// lower-case name. They are never shown as x-amz-meta-*, do not count toward the 2 KiB of user
// metadata, and a client's own x-amz-meta-~cairn-* is refused with InvalidArgument so that nobody
// can forge one.
// The standard headers kept that way, lower case, in the order they are returned.
inline constexpr const char* kStandardHeaders[] = {
    "cache-control", "content-disposition", "content-encoding", "content-language", "expires"};
// Their names as S3 returns them.
inline constexpr const char* kStandardHeaderNames[] = {
    "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"};

std::string Quoted(std::string_view etag);
// IMF-fixdate of a time in nanoseconds since the epoch.
std::string HttpDate(int64_t ns);
// ISO 8601 with milliseconds in UTC, as S3 lists times: "2006-02-03T16:45:09.000Z".
std::string IsoTime(int64_t ns);

// Content type, x-amz-meta-* and the standard headers of the request into *content_type and
// *meta (standard headers under kSystemMetaPrefix). kInvalidArgument for an x-amz-meta- name
// that uses the reserved prefix.
Status MetaFromRequest(const HttpRequest& req, std::string* content_type,
                       std::vector<std::pair<std::string, std::string>>* meta);

// The headers of a GET or HEAD answer describing info: ETag, Last-Modified, Content-Type,
// Accept-Ranges, the standard headers kept at PUT, then x-amz-meta-* (the reserved ones never).
Fields ObjectHeaders(const ObjectInfo& info);

// Sets (replacing or appending, case-insensitively) header `name` to value.
void SetHeader(Fields* h, std::string_view name, std::string value);

// A 200 with an XML body; kInternal when the writer could not carry a value (not sent then).
Status SendXml(ResponseWriter& out, const std::string& xml, const s3::XmlWriter& w);

// Reads the whole body up to max bytes; kMalformedXml (xml) or kEntityTooLarge beyond.
Result<std::string> ReadSmallBody(Source& body, size_t max, bool xml);

// kInvalidBucketName for a name S3 refuses.
Status CheckBucketName(const std::string& bucket);

// The value of query parameter `name`, or "" when the request has none.
std::string QueryValue(const HttpRequest& req, const char* name);

// Each common prefix of a listing page as <CommonPrefixes><Prefix>p</Prefix></CommonPrefixes>,
// URL-encoded when url (encoding-type=url).
void WriteCommonPrefixes(s3::XmlWriter& w, const std::vector<std::string>& prefixes, bool url);

// The conditions of a request, from the four headers named with `prefix` ("if-" for a GET,
// "x-amz-copy-source-if-" for a copy's source). A date that does not parse is ignored, as S3
// does.
GetConditions ConditionsFrom(const HttpRequest& req, const std::string& prefix);

// x-amz-copy-source ("[/]BUCKET/KEY[?versionId=null]", percent-encoded) into *bucket and *key;
// kInvalidArgument, kInvalidBucketName or kKeyTooLong for one S3 refuses.
Status ParseCopySource(const HttpRequest& req, std::string* bucket, std::string* key);

// A copy's answer: <element> (CopyObjectResult, CopyPartResult) with LastModified and ETag, and
// the checksum of with_checksum when given and it has one.
Status SendCopyResult(ResponseWriter& out, const char* element, int64_t mod_time_ns,
                      const std::string& etag, const ObjectInfo* with_checksum);

// Writes the canonical owner (<Owner><ID/><DisplayName/></Owner>) with name as element.
void WriteOwner(s3::XmlWriter& w, const char* element = "Owner");

}  // namespace cairn::server::internal
