// DeleteObjects, ListObjectVersions and the ACL answers of StoreHandler.
#include "libstore/common/checksum.h"
#include "libstore/s3/errors.h"
#include "libstore/server/request_target.h"
#include "libstore/server/store_handler.h"
#include "libstore/server/store_handler_internal.h"

namespace cairn::server {

using namespace internal;

namespace {

// What DeleteObjects' body must come with, as S3 asks: Content-MD5 or one x-amz-checksum-*
// header (botocore 1.36+ sends only the latter). A body the authenticator checked while it streamed
// (a CheckedBody: the header digests and an aws-chunked trailer) is not hashed again: then only
// the presence of a digest is required here. Otherwise (no authentication) it is checked here.
Status VerifyBatchBody(const HttpRequest& req, std::string_view body, bool checked_in_stream) {
  ExpectedDigests want;
  BodyChecksums::Plan plan;
  if (const std::string* md5 = req.Header("content-md5")) {
    ASSIGN_OR_RETURN(want.content_md5, ParseContentMd5(*md5));
    plan.md5 = true;
  }
  for (const auto& [name, value] : req.headers) {
    if (name.compare(0, 15, "x-amz-checksum-") != 0) continue;
    auto alg = ChecksumAlgorithmFromHeader(name);
    if (!alg.ok()) continue;  // x-amz-checksum-type, -algorithm: not a value
    if (want.checksum) return InvalidArgument("more than one x-amz-checksum-* header");
    ASSIGN_OR_RETURN(want.checksum, ParseChecksum(*alg, value));
    plan.checksum = *alg;
  }
  if (!want.content_md5 && !want.checksum) {
    const std::string* trailer = req.Header("x-amz-trailer");
    if (trailer != nullptr && trailer->find("x-amz-checksum-") != std::string::npos) {
      return Status::Ok();
    }
    return InvalidArgument(
        "Missing required header for this request: Content-MD5 or x-amz-checksum-*");
  }
  if (checked_in_stream) return Status::Ok();
  BodyChecksums sums(plan);
  sums.Update(body.data(), body.size());
  sums.Finish();
  return sums.Verify(want);
}

}  // namespace

Status StoreHandler::DeleteObjects(const HttpRequest& req, Source& body, ResponseWriter& out) {
  const s3::XmlLimits lim;
  ASSIGN_OR_RETURN(std::string text, ReadSmallBody(body, lim.max_bytes, true));
  RETURN_IF_ERROR(VerifyBatchBody(req, text, dynamic_cast<CheckedBody*>(&body) != nullptr));
  ASSIGN_OR_RETURN(auto batch, s3::ParseDeleteObjects(text, lim));
  RETURN_IF_ERROR(NeedBucket(req.bucket));
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("DeleteResult", s3::kS3Namespace);
  for (const auto& o : batch.objects) {
    Status s;
    if (!o.version_id.empty() && o.version_id != "null") {
      s = InvalidArgument("Invalid version id specified");
    } else if (o.key.size() > kMaxKeyBytes) {
      s = Status(Code::kKeyTooLong, "the key is longer than 1024 bytes");
    } else {
      s = store_.DeleteObject(req.bucket, o.key);
      if (s.code() == Code::kNotFound) s = Status::Ok();  // deleting a missing key succeeds
    }
    if (s.ok()) {
      if (batch.quiet) continue;
      w.Open("Deleted");
      w.Element("Key", o.key);
      if (!o.version_id.empty()) w.Element("VersionId", o.version_id);
      w.Close();
    } else {
      const s3::S3Error& e = s3::S3ErrorFor(s.code());
      w.Open("Error");
      w.Element("Key", o.key);
      if (!o.version_id.empty()) w.Element("VersionId", o.version_id);
      w.Element("Code", e.code);
      w.Element("Message", s3::ShowsDetail(s.code()) && !s.message().empty()
                               ? std::string_view(s.message())
                               : std::string_view(e.message));
      w.Close();
    }
  }
  w.Finish();
  // A key that is not UTF-8 was written with U+FFFD: the document still parses, and S3 itself
  // has no way to name such a key here, so it is sent.
  return out.Send(200, {{"Content-Type", "application/xml"}}, xml);
}

Status StoreHandler::ListObjectVersions(const HttpRequest& req, ResponseWriter& out) {
  auto q = [&](const char* n) -> std::string {
    const std::string* v = req.Query(n);
    return v ? *v : std::string();
  };
  ASSIGN_OR_RETURN(ListQuery lq, ParseListQuery(req));
  ListOptions& o = lq.opts;
  const bool url = lq.url;
  const int max_keys = lq.max_keys;
  const std::string key_marker = q("key-marker");
  const std::string version_marker = q("version-id-marker");
  if (!version_marker.empty() && key_marker.empty()) {
    return InvalidArgument("A version-id marker cannot be specified without a key marker.");
  }
  if (!version_marker.empty() && version_marker != "null") {
    return InvalidArgument("Invalid version id specified");
  }
  // Each key has one version, so the version after (key-marker, "null") is the next key's.
  o.start_after = key_marker;
  ListResult r;
  RETURN_IF_ERROR(ListPage(req, lq, &r));
  auto text = [&](const std::string& s) { return url ? UrlEncodeKey(s) : s; };
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("ListVersionsResult", s3::kS3Namespace);
  w.Element("Name", req.bucket);
  w.Element("Prefix", text(o.prefix));
  w.Element("KeyMarker", text(key_marker));
  w.Element("VersionIdMarker", version_marker);
  if (r.truncated) {
    std::string last = r.objects.empty() ? std::string() : r.objects.back().key;
    if (!r.common_prefixes.empty() && r.common_prefixes.back() > last) {
      last = r.common_prefixes.back();
    }
    w.Element("NextKeyMarker", text(last));
    w.Element("NextVersionIdMarker", "null");
  }
  w.Element("MaxKeys", uint64_t(max_keys));
  if (!o.delimiter.empty()) w.Element("Delimiter", text(o.delimiter));
  if (url) w.Element("EncodingType", "url");
  w.Element("IsTruncated", r.truncated);
  for (const auto& obj : r.objects) {
    w.Open("Version");
    w.Element("Key", text(obj.key));
    w.Element("VersionId", "null");
    w.Element("IsLatest", true);
    w.Element("LastModified", IsoTime(obj.mod_time_ns));
    w.Element("ETag", Quoted(obj.etag));
    w.Element("Size", obj.size);
    WriteOwner(w);
    w.Element("StorageClass", "STANDARD");
    w.Close();
  }
  for (const auto& p : r.common_prefixes) {
    w.Open("CommonPrefixes");
    w.Element("Prefix", text(p));
    w.Close();
  }
  w.Finish();
  return SendXml(out, xml, w);
}

Status StoreHandler::GetAcl(const HttpRequest& req, ResponseWriter& out) {
  if (req.key.empty()) {
    RETURN_IF_ERROR(NeedBucket(req.bucket));
  } else {
    auto info = store_.HeadObject(req.bucket, req.key);
    if (!info.ok()) return ObjectError(req, info.status());
  }
  // Every bucket and object belongs to the one owner, who has FULL_CONTROL: what a private
  // bucket answers on S3.
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("AccessControlPolicy", s3::kS3Namespace);
  WriteOwner(w);
  w.Open("AccessControlList");
  w.Open("Grant");
  // The writer takes no attributes: the Grantee's xsi:type is written here, around its
  // escaped children (the element is closed by hand, so the writer's depth stays as it was).
  xml +=
      "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xsi:type=\"CanonicalUser\">";
  w.Element("ID", kOwnerId);
  w.Element("DisplayName", kOwnerName);
  xml += "</Grantee>";
  w.Element("Permission", "FULL_CONTROL");
  w.Finish();
  return SendXml(out, xml, w);
}

}  // namespace cairn::server
