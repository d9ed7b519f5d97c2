// Multipart uploads of StoreHandler: CreateMultipartUpload (POST ?uploads), UploadPart (PUT
// ?partNumber&uploadId), CompleteMultipartUpload (POST ?uploadId), AbortMultipartUpload (DELETE
// ?uploadId), ListParts (GET ?uploadId) and ListMultipartUploads (GET on a bucket ?uploads).
// UploadPartCopy (UploadPart with x-amz-copy-source, optionally x-amz-copy-source-range).
#include <algorithm>
#include <charconv>

#include "libstore/object/multipart.h"
#include "libstore/server/request_target.h"
#include "libstore/server/store_handler.h"
#include "libstore/server/store_handler_internal.h"

namespace cairn::server {

using namespace internal;

namespace {


// A non-negative decimal query value of at most 9 digits; kInvalidArgument naming it otherwise.
Result<int> QueryInt(const HttpRequest& req, const char* name, int dflt) {
  const std::string* v = req.Query(name);
  if (v == nullptr) return dflt;
  if (v->empty() || v->size() > 9 || v->find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(std::string(name) + " must be a non-negative integer");
  }
  return std::stoi(*v);
}

Result<ChecksumType> ChecksumTypeFrom(const std::string& v) {
  if (v == "COMPOSITE") return ChecksumType::kComposite;
  if (v == "FULL_OBJECT") return ChecksumType::kFullObject;
  return InvalidArgument("x-amz-checksum-type must be COMPOSITE or FULL_OBJECT, not '" +
                         v.substr(0, 40) + "'");
}

// The one x-amz-checksum-<algorithm> header with a value: *alg and *value, or none.
Status ChecksumHeader(const HttpRequest& req, ChecksumAlgorithm* alg, std::string* value) {
  *alg = ChecksumAlgorithm::kNone;
  for (const auto& [n, v] : req.headers) {
    if (n.compare(0, 15, "x-amz-checksum-") != 0) continue;
    auto a = ChecksumAlgorithmFromHeader(n);
    if (!a.ok()) continue;  // -algorithm, -type, -mode
    if (*alg != ChecksumAlgorithm::kNone) {
      return InvalidArgument("expecting a single x-amz-checksum- header");
    }
    *alg = *a;
    *value = v;
  }
  return Status::Ok();
}

// "<value>" with "-N" for a composite checksum.
std::string ChecksumText(const ObjectInfo& info) { return info.ChecksumHeaderValue(); }

void WriteInitiatorAndOwner(s3::XmlWriter& w) {
  WriteOwner(w, "Initiator");
  WriteOwner(w);
}

}  // namespace

Status StoreHandler::CreateMultipartUpload(const HttpRequest& req, ResponseWriter& out) {
  CreateMultipartOptions o;
  o.fsync = fsync_;
  RETURN_IF_ERROR(MetaFromRequest(req, &o.content_type, &o.user_meta));
  PutOptions check;
  check.content_type = o.content_type;
  check.user_meta = o.user_meta;
  RETURN_IF_ERROR(ValidatePutOptions(check));
  ChecksumAlgorithm alg = ChecksumAlgorithm::kNone;
  if (const std::string* a = req.Header("x-amz-checksum-algorithm")) {
    ASSIGN_OR_RETURN(alg, ChecksumAlgorithmFromName(*a));
    o.checksum_algorithm = Name(alg);
  }
  ChecksumType type = ChecksumType::kNone;
  if (const std::string* t = req.Header("x-amz-checksum-type")) {
    ASSIGN_OR_RETURN(type, ChecksumTypeFrom(*t));
  }
  ASSIGN_OR_RETURN(o.checksum_type, MultipartChecksumType(alg, type));
  auto up = store_.CreateMultipartUpload(req.bucket, req.key, o);
  if (!up.ok()) return ObjectError(req, up.status());
  Fields h = {{"Content-Type", "application/xml"}};
  if (!up->checksum_algorithm.empty()) {
    h.emplace_back("x-amz-checksum-algorithm", up->checksum_algorithm);
    h.emplace_back("x-amz-checksum-type", Name(up->checksum_type));
  }
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("InitiateMultipartUploadResult", s3::kS3Namespace);
  w.Element("Bucket", req.bucket);
  w.Element("Key", req.key);
  w.Element("UploadId", up->upload_id);
  w.Finish();
  if (!w.status().ok()) return InvalidArgument(w.status().message());
  return out.Send(200, h, xml);
}

Status StoreHandler::UploadPartCopy(const HttpRequest& req, int part_number,
                                    ResponseWriter& out) {
  std::string src_bucket, src_key;
  RETURN_IF_ERROR(ParseCopySource(req, &src_bucket, &src_key));
  CopyPartOptions o;
  o.fsync = fsync_;
  o.source_conditions = ConditionsFrom(req, "x-amz-copy-source-if-");
  if (const std::string* r = req.Header("x-amz-copy-source-range")) {
    // Only "bytes=first-last", both given, first <= last.
    const ByteRange br = ParseRangeHeader(*r);
    if (br.kind != ByteRange::Kind::kFromTo || br.last < br.first) {
      return InvalidArgument(
          "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "
          "last are the zero-based offsets of the first and last bytes to copy");
    }
    o.range = GetRange{br.first, br.last};
  }
  RETURN_IF_ERROR(NeedBucket(req.bucket));
  auto part = store_.UploadPartCopy(src_bucket, src_key, req.bucket, req.key,
                                    *req.Query("uploadId"), part_number, o);
  // Errors of the source name the source (NoSuchKey for it, NoSuchBucket for its bucket); the
  // destination bucket was checked above, and its upload answers NoSuchUpload.
  if (!part.ok()) return CopySourceError(src_bucket, part.status());
  return SendCopyResult(out, "CopyPartResult", part->mod_time_ns, part->etag, nullptr);
}

Status StoreHandler::UploadPart(const HttpRequest& req, Source& body, ResponseWriter& out) {
  ASSIGN_OR_RETURN(const int part_number, ParsePartNumber(*req.Query("partNumber")));
  if (req.Header("x-amz-copy-source") != nullptr) return UploadPartCopy(req, part_number, out);
  const std::string* decoded = req.Header("x-amz-decoded-content-length");
  if (!req.content_length && !req.chunked && decoded == nullptr) {
    return Status(Code::kMissingContentLength, "UploadPart needs a Content-Length");
  }
  if (req.content_length && *req.content_length > kMaxPartSize) {
    return Status(Code::kEntityTooLarge, "a part holds at most 5 GiB");
  }
  // The body Source (the authenticator's VerifiedBody) already checks everything the request
  // promised as it streams (Content-MD5, x-amz-checksum-* header or trailer, the signed payload's
  // SHA-256) and fails its last Read on a mismatch, so the store keeps nothing unverified. The
  // store is told the Content-MD5 and checksum too (it computes both anyway, for the ETag and the
  // part's checksum), so a store behind another authenticator checks them as well; the payload
  // hash is not passed, as computing it again would be a third digest over every byte.
  UploadPartOptions o;
  o.fsync = fsync_;
  // The declared size (the store may place the part by it): of the decoded body when it is
  // aws-chunked, else the Content-Length of a body that is not chunked.
  const std::string* sha = req.Header("x-amz-content-sha256");
  const std::string* enc = req.Header("content-encoding");
  const bool streaming = (sha != nullptr && sha->rfind("STREAMING-", 0) == 0) ||
                         (enc != nullptr && enc->find("aws-chunked") != std::string::npos);
  if (streaming && decoded != nullptr && !decoded->empty()) {
    uint64_t n = 0;
    const char* end = decoded->data() + decoded->size();
    auto [at, ec] = std::from_chars(decoded->data(), end, n);
    if (ec == std::errc() && at == end) o.size = n;
  } else if (!streaming && req.content_length && !req.chunked) {
    o.size = *req.content_length;
  }
  if (const std::string* md5 = req.Header("content-md5")) o.content_md5 = *md5;
  ChecksumAlgorithm alg;
  std::string value;
  RETURN_IF_ERROR(ChecksumHeader(req, &alg, &value));
  if (alg == ChecksumAlgorithm::kNone) {
    if (const std::string* a = req.Header("x-amz-sdk-checksum-algorithm")) {
      ASSIGN_OR_RETURN(alg, ChecksumAlgorithmFromName(*a));
    } else if (const std::string* t = req.Header("x-amz-trailer")) {
      auto a = ChecksumAlgorithmFromHeader(*t);
      if (a.ok()) alg = *a;
    }
  }
  if (alg != ChecksumAlgorithm::kNone) o.checksum_algorithm = Name(alg);
  o.checksum_value = value;
  auto part = store_.UploadPart(req.bucket, req.key, *req.Query("uploadId"), part_number, body, o);
  if (!part.ok()) return ObjectError(req, part.status());
  Fields h = {{"ETag", Quoted(part->etag)}};
  if (alg != ChecksumAlgorithm::kNone && !part->checksum.empty()) {
    h.emplace_back(HeaderName(alg), part->checksum);
  }
  return out.Send(200, h, "");
}

Status StoreHandler::CompleteMultipartUpload(const HttpRequest& req, Source& body,
                                             ResponseWriter& out) {
  const std::string& id = *req.Query("uploadId");
  const s3::XmlLimits lim;
  ASSIGN_OR_RETURN(std::string text, ReadSmallBody(body, lim.max_bytes, true));
  ASSIGN_OR_RETURN(auto parsed, s3::ParseCompleteMultipartUpload(text, lim));
  CompleteMultipartOptions o;
  o.fsync = fsync_;
  if (const std::string* inm = req.Header("if-none-match")) {
    if (*inm != "*") return Status(Code::kNotImplemented, "If-None-Match takes only *");
    o.if_none_match_star = true;
  }
  if (const std::string* im = req.Header("if-match")) o.if_match = *im;
  // x-amz-checksum-<alg> here is the checksum the client expects of the whole object (the
  // authenticator does not check the XML body against it), x-amz-checksum-type the upload's type;
  // the store decides both against the upload before it publishes anything.
  RETURN_IF_ERROR(ChecksumHeader(req, &o.checksum_algorithm, &o.checksum_value));
  if (o.checksum_algorithm != ChecksumAlgorithm::kNone) {
    // Well-formed base64 of the algorithm's length (a COMPOSITE value may end in "-N").
    const std::string_view v = o.checksum_value;
    RETURN_IF_ERROR(ParseChecksum(o.checksum_algorithm, v.substr(0, v.rfind('-'))).status());
  }
  if (const std::string* t = req.Header("x-amz-checksum-type")) {
    ASSIGN_OR_RETURN(o.checksum_type, ChecksumTypeFrom(*t));
  }

  // The upload's algorithm, to check the parts' checksums in the list against: they must be of
  // it. An upload that is not open (a retried Complete of one that succeeded) is the store's to
  // answer.
  ChecksumAlgorithm alg = ChecksumAlgorithm::kNone;
  bool known = false;
  ListPartsOptions probe;
  probe.max_parts = 1;
  auto lp = store_.ListParts(req.bucket, req.key, id, probe);
  if (lp.ok()) {
    known = true;
    if (!lp->upload.checksum_algorithm.empty()) {
      ASSIGN_OR_RETURN(alg, ChecksumAlgorithmFromName(lp->upload.checksum_algorithm));
    }
  } else if (lp.status().code() != Code::kUploadNotFound) {
    return ObjectError(req, lp.status());
  }
  std::vector<CompletedPart> parts;
  parts.reserve(parsed.parts.size());
  for (const auto& p : parsed.parts) {
    CompletedPart cp;
    cp.part_number = int(p.part_number);
    cp.etag = p.etag;
    if (p.checksum) {
      if (known && alg != ChecksumAlgorithm::kNone && p.checksum->algorithm != alg) {
        return Status(Code::kInvalidPart, "part " + std::to_string(p.part_number) + " has a " +
                                              Name(p.checksum->algorithm) +
                                              " checksum; the upload's is " + Name(alg));
      }
      cp.checksum = p.checksum->Base64();
    }
    parts.push_back(std::move(cp));
  }
  auto info = store_.CompleteMultipartUpload(req.bucket, req.key, id, parts, o);
  if (!info.ok()) return ObjectError(req, info.status());
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("CompleteMultipartUploadResult", s3::kS3Namespace);
  w.Element("Location", "/" + req.bucket + "/" + UrlEncodeKey(req.key));
  w.Element("Bucket", req.bucket);
  w.Element("Key", req.key);
  w.Element("ETag", Quoted(info->etag));
  if (info->checksum.algorithm != ChecksumAlgorithm::kNone) {
    w.Element(s3::ChecksumElementName(info->checksum.algorithm), ChecksumText(*info));
    w.Element("ChecksumType", Name(info->checksum_type));
  }
  w.Finish();
  if (!w.status().ok()) return InvalidArgument(w.status().message());
  return out.Send(200, {{"Content-Type", "application/xml"}}, xml);
}

Status StoreHandler::AbortMultipartUpload(const HttpRequest& req, ResponseWriter& out) {
  Status s = store_.AbortMultipartUpload(req.bucket, req.key, *req.Query("uploadId"));
  if (!s.ok()) return ObjectError(req, s);
  return out.Send(204, {}, "");
}

Status StoreHandler::ListParts(const HttpRequest& req, ResponseWriter& out) {
  ListPartsOptions o;
  ASSIGN_OR_RETURN(int max, QueryInt(req, "max-parts", 1000));
  ASSIGN_OR_RETURN(o.part_number_marker, QueryInt(req, "part-number-marker", 0));
  o.max_parts = std::clamp(max, 1, 1000);
  auto r = store_.ListParts(req.bucket, req.key, *req.Query("uploadId"), o);
  if (!r.ok()) return ObjectError(req, r.status());
  ChecksumAlgorithm alg = ChecksumAlgorithm::kNone;
  if (!r->upload.checksum_algorithm.empty()) {
    ASSIGN_OR_RETURN(alg, ChecksumAlgorithmFromName(r->upload.checksum_algorithm));
  }
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("ListPartsResult", s3::kS3Namespace);
  w.Element("Bucket", req.bucket);
  w.Element("Key", req.key);
  w.Element("UploadId", r->upload.upload_id);
  WriteInitiatorAndOwner(w);
  w.Element("StorageClass", "STANDARD");
  w.Element("PartNumberMarker", uint64_t(o.part_number_marker));
  if (r->truncated) w.Element("NextPartNumberMarker", uint64_t(r->next_part_number_marker));
  w.Element("MaxParts", uint64_t(o.max_parts));
  w.Element("IsTruncated", r->truncated);
  if (alg != ChecksumAlgorithm::kNone) {
    w.Element("ChecksumAlgorithm", Name(alg));
    w.Element("ChecksumType", Name(r->upload.checksum_type));
  }
  for (const PartInfo& p : r->parts) {
    w.Open("Part");
    w.Element("PartNumber", uint64_t(p.part_number));
    w.Element("LastModified", IsoTime(p.mod_time_ns));
    w.Element("ETag", Quoted(p.etag));
    w.Element("Size", p.size);
    if (alg != ChecksumAlgorithm::kNone && !p.checksum.empty()) {
      w.Element(s3::ChecksumElementName(alg), p.checksum);
    }
    w.Close();
  }
  w.Finish();
  return SendXml(out, xml, w);
}

Status StoreHandler::ListMultipartUploads(const HttpRequest& req, ResponseWriter& out) {
  ASSIGN_OR_RETURN(ListQuery lq, ParseListQuery(req, "max-uploads"));
  ListUploadsOptions o;
  o.prefix = lq.opts.prefix;
  o.delimiter = lq.opts.delimiter;
  o.key_marker = QueryValue(req, "key-marker");
  o.upload_id_marker = QueryValue(req, "upload-id-marker");
  const bool url = lq.url;
  const int max = lq.max_keys;
  // S3 ignores an upload-id-marker without a key-marker.
  if (o.key_marker.empty()) o.upload_id_marker.clear();
  ListUploadsResult r;
  if (max == 0) {
    RETURN_IF_ERROR(NeedBucket(req.bucket));
  } else {
    o.max_uploads = max;
    auto res = store_.ListMultipartUploads(req.bucket, o);
    if (!res.ok()) return ObjectError(req, res.status());
    r = std::move(*res);
  }
  auto text = [&](const std::string& s) { return url ? UrlEncodeKey(s) : s; };
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("ListMultipartUploadsResult", s3::kS3Namespace);
  w.Element("Bucket", req.bucket);
  w.Element("KeyMarker", text(o.key_marker));
  w.Element("UploadIdMarker", o.upload_id_marker);
  if (r.truncated) {
    w.Element("NextKeyMarker", text(r.next_key_marker));
    w.Element("NextUploadIdMarker", r.next_upload_id_marker);
  }
  if (!o.delimiter.empty()) w.Element("Delimiter", text(o.delimiter));
  w.Element("Prefix", text(o.prefix));
  if (url) w.Element("EncodingType", "url");
  w.Element("MaxUploads", uint64_t(max));
  w.Element("IsTruncated", r.truncated);
  for (const MultipartUpload& u : r.uploads) {
    w.Open("Upload");
    w.Element("Key", text(u.key));
    w.Element("UploadId", u.upload_id);
    WriteInitiatorAndOwner(w);
    w.Element("StorageClass", "STANDARD");
    w.Element("Initiated", IsoTime(u.initiated_ns));
    if (!u.checksum_algorithm.empty()) {
      w.Element("ChecksumAlgorithm", u.checksum_algorithm);
      w.Element("ChecksumType", Name(u.checksum_type));
    }
    w.Close();
  }
  WriteCommonPrefixes(w, r.common_prefixes, url);
  w.Finish();
  return SendXml(out, xml, w);
}

}  // namespace cairn::server
