#include "libstore/server/store_handler.h"

#include <cctype>
#include <ctime>

#include "libstore/format/key_path.h"
#include "libstore/server/request_target.h"
#include "libstore/server/store_handler_internal.h"

namespace cairn::server {
namespace internal {

std::string Quoted(std::string_view etag) {
  std::string s;
  s.reserve(etag.size() + 2);
  s += '"';
  s += etag;
  s += '"';
  return s;
}

std::string HttpDate(int64_t ns) {
  char buf[32];
  FormatHttpDate(ns / 1000000000, buf);
  return buf;
}

std::string IsoTime(int64_t ns) {
  const time_t secs = static_cast<time_t>(ns / 1000000000);
  const int ms = static_cast<int>((ns % 1000000000) / 1000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms < 0 ? 0 : ms);
  return buf;
}

Status MetaFromRequest(const HttpRequest& req, std::string* content_type,
                       std::vector<std::pair<std::string, std::string>>* meta) {
  if (const std::string* ct = req.Header("content-type")) *content_type = *ct;
  for (const char* h : kStandardHeaders) {
    if (const std::string* v = req.Header(h)) {
      meta->emplace_back(std::string(kSystemMetaPrefix) + h, *v);
    }
  }
  for (const auto& [n, v] : req.headers) {
    if (n.size() > 11 && n.compare(0, 11, "x-amz-meta-") == 0) {
      std::string key = n.substr(11);
      if (key.compare(0, kSystemMetaPrefix.size(), kSystemMetaPrefix) == 0) {
        return InvalidArgument("metadata names starting with x-amz-meta-" +
                               std::string(kSystemMetaPrefix) + " are reserved");
      }
      meta->emplace_back(std::move(key), v);
    }
  }
  return Status::Ok();
}

Fields ObjectHeaders(const ObjectInfo& info) {
  Fields h;
  h.reserve(6 + info.user_meta.size());
  h.emplace_back("ETag", Quoted(info.etag));
  h.emplace_back("Last-Modified", HttpDate(info.mod_time_ns));
  h.emplace_back("Content-Type",
                 info.content_type.empty() ? "binary/octet-stream" : info.content_type);
  h.emplace_back("Accept-Ranges", "bytes");
  for (size_t i = 0; i < std::size(kStandardHeaders) && !info.user_meta.empty(); ++i) {
    const std::string want = std::string(kSystemMetaPrefix) + kStandardHeaders[i];
    for (const auto& [k, v] : info.user_meta) {
      if (k == want) h.emplace_back(kStandardHeaderNames[i], v);
    }
  }
  for (const auto& [k, v] : info.user_meta) {
    if (k.compare(0, kSystemMetaPrefix.size(), kSystemMetaPrefix) == 0) continue;
    h.emplace_back("x-amz-meta-" + k, v);
  }
  return h;
}

void SetHeader(Fields* h, std::string_view name, std::string value) {
  auto iequal = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i]))) {
        return false;
      }
    }
    return true;
  };
  for (auto& [n, v] : *h) {
    if (iequal(n, name)) {
      v = std::move(value);
      return;
    }
  }
  h->emplace_back(std::string(name), std::move(value));
}

Status SendXml(ResponseWriter& out, const std::string& xml, const s3::XmlWriter& w) {
  if (!w.status().ok()) {
    // A value XML cannot carry (a key that is not UTF-8): say so rather than send U+FFFD.
    return InvalidArgument(w.status().message() + " (list with encoding-type=url)");
  }
  return out.Send(200, {{"Content-Type", "application/xml"}}, xml);
}

Result<std::string> ReadSmallBody(Source& body, size_t max, bool xml) {
  std::string s;
  char buf[16 << 10];
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, body.Read(buf, sizeof(buf)));
    if (n == 0) break;
    if (s.size() + n > max) {
      if (xml) return Status(Code::kMalformedXml, "the XML body is larger than the server takes");
      return Status(Code::kEntityTooLarge, "the body is larger than this operation takes");
    }
    s.append(buf, n);
  }
  return s;
}

Status CheckBucketName(const std::string& bucket) {
  Status s = ValidateBucketName(bucket);
  if (!s.ok()) return Status(Code::kInvalidBucketName, s.message());
  return s;
}

std::string QueryValue(const HttpRequest& req, const char* name) {
  const std::string* v = req.Query(name);
  return v ? *v : std::string();
}

void WriteCommonPrefixes(s3::XmlWriter& w, const std::vector<std::string>& prefixes, bool url) {
  for (const auto& p : prefixes) {
    w.Open("CommonPrefixes");
    w.Element("Prefix", url ? UrlEncodeKey(p) : p);
    w.Close();
  }
}

void WriteOwner(s3::XmlWriter& w, const char* element) {
  w.Open(element);
  w.Element("ID", kOwnerId);
  w.Element("DisplayName", kOwnerName);
  w.Close();
}

}  // namespace internal

using namespace internal;

namespace {

// Query parameters that name a sub-resource or an operation this handler does not do: with any
// of them present, a request is NotImplemented rather than taken for a plain GET or PUT. (acl,
// delete and versions are routed before this check, for the methods that have them.)
constexpr const char* kSubresources[] = {"acl",
                                         "cors",
                                         "delete",
                                         "encryption",
                                         "lifecycle",
                                         "logging",
                                         "notification",
                                         "object-lock",
                                         "partNumber",
                                         "policy",
                                         "replication",
                                         "requestPayment",
                                         "restore",
                                         "retention",
                                         "legal-hold",
                                         "select",
                                         "tagging",
                                         "torrent",
                                         "uploadId",
                                         "uploads",
                                         "versioning",
                                         "versions",
                                         "website",
                                         "accelerate",
                                         "analytics",
                                         "inventory",
                                         "metrics",
                                         "ownershipControls",
                                         "publicAccessBlock",
                                         "intelligent-tiering",
                                         "attributes",
                                         "versionId"};

const char* Unsupported(const HttpRequest& req) {
  for (const char* s : kSubresources) {
    if (req.HasQuery(s)) return s;
  }
  return nullptr;
}

Status NotImplemented(std::string what) {
  return Status(Code::kNotImplemented, what + " is not implemented");
}

// Only one recognised sub-resource (and nothing else of kSubresources) on the request.
bool Only(const HttpRequest& req, const char* sub) {
  if (!req.HasQuery(sub)) return false;
  for (const char* s : kSubresources) {
    if (std::string_view(s) != sub && req.HasQuery(s)) return false;
  }
  return true;
}

// UploadPart's pair of query parameters, and nothing else of kSubresources.
bool OnlyPartUpload(const HttpRequest& req) {
  if (!req.HasQuery("partNumber") || !req.HasQuery("uploadId")) return false;
  for (const char* s : kSubresources) {
    if (std::string_view(s) != "partNumber" && std::string_view(s) != "uploadId" &&
        req.HasQuery(s)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string UrlEncodeKey(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Status StoreHandler::Handle(const HttpRequest& req, const Identity& /*who*/, Source& body,
                            ResponseWriter& out) {
  const std::string& m = req.method;
  const bool write = m == "PUT" || m == "POST" || m == "DELETE";
  const bool object = !req.key.empty();
  // Sub-resources this handler answers, each alone on its request.
  if (!req.bucket.empty()) {
    if (m == "GET" && Only(req, "acl")) {
      RETURN_IF_ERROR(CheckBucketName(req.bucket));
      return GetAcl(req, out);
    }
    if (!object && m == "POST" && Only(req, "delete")) {
      if (read_only_) return Status(Code::kAccessDenied, "the server is read-only");
      RETURN_IF_ERROR(CheckBucketName(req.bucket));
      return DeleteObjects(req, body, out);
    }
    if (!object && m == "GET" && Only(req, "versions")) {
      RETURN_IF_ERROR(CheckBucketName(req.bucket));
      return ListObjectVersions(req, out);
    }
    if (!object && m == "GET" && Only(req, "uploads")) {
      RETURN_IF_ERROR(CheckBucketName(req.bucket));
      return ListMultipartUploads(req, out);
    }
    // Multipart: POST ?uploads; PUT ?partNumber&uploadId; POST, DELETE, GET ?uploadId.
    const bool create = m == "POST" && Only(req, "uploads");
    const bool part = m == "PUT" && OnlyPartUpload(req);
    const bool on_upload = (m == "POST" || m == "DELETE" || m == "GET") && Only(req, "uploadId");
    if (object && (create || part || on_upload)) {
      if (m != "GET" && read_only_) return Status(Code::kAccessDenied, "the server is read-only");
      RETURN_IF_ERROR(CheckBucketName(req.bucket));
      if (create) return CreateMultipartUpload(req, out);
      if (part) return UploadPart(req, body, out);
      if (m == "POST") return CompleteMultipartUpload(req, body, out);
      if (m == "DELETE") return AbortMultipartUpload(req, out);
      return ListParts(req, out);
    }
  }
  // GET / HEAD ?partNumber=N: one part of an object.
  if (object && (m == "GET" || m == "HEAD") && Only(req, "partNumber")) {
    RETURN_IF_ERROR(CheckBucketName(req.bucket));
    return GetObject(req, out, m == "HEAD");
  }
  if (const char* sub = Unsupported(req)) {
    return NotImplemented(std::string("the '") + sub + "' sub-resource");
  }
  if (write && read_only_) return Status(Code::kAccessDenied, "the server is read-only");
  if (req.bucket.empty()) {
    if (m == "GET") return ListBuckets(req, out);
    return NotImplemented(m + " on the service");
  }
  RETURN_IF_ERROR(CheckBucketName(req.bucket));
  if (!object) {
    if (m == "PUT") return CreateBucket(req, body, out);
    if (m == "DELETE") return DeleteBucket(req, out);
    if (m == "HEAD") return HeadBucket(req, out);
    if (m == "GET") {
      if (req.HasQuery("location")) return GetBucketLocation(req, out);
      const std::string* lt = req.Query("list-type");
      if (lt != nullptr && *lt != "2") return Status(Code::kInvalidArgument, "list-type must be 2");
      return ListObjects(req, out, lt != nullptr);
    }
    return NotImplemented(m + " on a bucket");
  }
  if (m == "PUT") {
    if (req.Header("x-amz-copy-source") != nullptr) return CopyObject(req, out);
    return PutObject(req, body, out);
  }
  if (m == "GET") return GetObject(req, out, false);
  if (m == "HEAD") return GetObject(req, out, true);
  if (m == "DELETE") return DeleteObject(req, out);
  return NotImplemented(m + " on an object");
}

Status StoreHandler::NeedBucket(const std::string& bucket) {
  Status b = store_.BucketExists(bucket);
  if (b.code() == Code::kNotFound || b.code() == Code::kBucketNotFound) {
    return Status(Code::kBucketNotFound, "the bucket does not exist");
  }
  return b;
}

Status StoreHandler::ObjectError(const std::string& bucket, const Status& s) {
  if (s.code() != Code::kNotFound) return s;
  Status b = NeedBucket(bucket);
  if (!b.ok()) return b;
  return Status(Code::kNotFound, "the key does not exist");
}

Status StoreHandler::ObjectError(const HttpRequest& req, const Status& s) {
  return ObjectError(req.bucket, s);
}

Status StoreHandler::ListBuckets(const HttpRequest&, ResponseWriter& out) {
  ASSIGN_OR_RETURN(auto buckets, store_.ListBuckets());
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("ListAllMyBucketsResult", s3::kS3Namespace);
  WriteOwner(w);
  w.Open("Buckets");
  for (const auto& b : buckets) {
    w.Open("Bucket");
    w.Element("Name", b.name);
    w.Element("CreationDate", IsoTime(b.created_ns));
    w.Close();
  }
  w.Finish();
  return SendXml(out, xml, w);
}

Status StoreHandler::CreateBucket(const HttpRequest& req, Source& body, ResponseWriter& out) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallBody(body, s3::XmlLimits{}.max_bytes, true));
  ASSIGN_OR_RETURN(auto config, s3::ParseCreateBucketConfiguration(text));
  const std::string& where = config.location_constraint;
  // us-east-1 is S3's empty location; any other must be this server's one region.
  if (!where.empty() && where != region_) {
    return InvalidArgument("this server has one location, " + region_ +
                           "; got LocationConstraint '" + where + "'");
  }
  Status s = store_.MakeBucket(req.bucket);
  if (s.code() == Code::kAlreadyExists) {
    return Status(Code::kAlreadyExists, "you already own bucket " + req.bucket);
  }
  RETURN_IF_ERROR(s);
  return out.Send(200, {{"Location", "/" + req.bucket}}, "");
}

Status StoreHandler::DeleteBucket(const HttpRequest& req, ResponseWriter& out) {
  Status s = store_.RemoveBucket(req.bucket, false);
  if (s.code() == Code::kNotFound) return Status(Code::kBucketNotFound, "no such bucket");
  if (s.code() == Code::kNotEmpty) return Status(Code::kNotEmpty, "the bucket is not empty");
  RETURN_IF_ERROR(s);
  return out.Send(204, {}, "");
}

Status StoreHandler::HeadBucket(const HttpRequest& req, ResponseWriter& out) {
  RETURN_IF_ERROR(NeedBucket(req.bucket));
  return out.Send(200, {{"x-amz-bucket-region", region_}}, "");
}

Status StoreHandler::GetBucketLocation(const HttpRequest& req, ResponseWriter& out) {
  RETURN_IF_ERROR(NeedBucket(req.bucket));
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  // S3 answers an empty element for us-east-1.
  if (region_ == "us-east-1") {
    w.Open("LocationConstraint", s3::kS3Namespace);
    w.Finish();
  } else {
    xml += "<LocationConstraint xmlns=\"";
    xml += s3::kS3Namespace;
    xml += "\">";
    if (!s3::XmlWriter::AppendEscaped(region_, &xml)) return InvalidArgument("bad region");
    xml += "</LocationConstraint>";
  }
  return SendXml(out, xml, w);
}

Result<StoreHandler::ListQuery> StoreHandler::ParseListQuery(const HttpRequest& req,
                                                             const char* max_name) {
  ListQuery lq;
  lq.opts.prefix = QueryValue(req, "prefix");
  lq.opts.delimiter = QueryValue(req, "delimiter");
  const std::string enc = QueryValue(req, "encoding-type");
  if (!enc.empty() && enc != "url") return InvalidArgument("encoding-type must be url");
  lq.url = enc == "url";
  if (const std::string* mk = req.Query(max_name)) {
    if (mk->empty() || mk->size() > 9 || mk->find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgument(std::string(max_name) + " must be a non-negative integer");
    }
    lq.max_keys = std::min(1000, std::stoi(*mk));
  }
  return lq;
}

Status StoreHandler::ListPage(const HttpRequest& req, ListQuery& lq, ListResult* r) {
  if (lq.max_keys == 0) return NeedBucket(req.bucket);
  lq.opts.max_keys = lq.max_keys;
  auto res = store_.ListObjects(req.bucket, lq.opts);
  if (!res.ok()) return ObjectError(req, res.status());
  *r = std::move(*res);
  return Status::Ok();
}

Status StoreHandler::ListObjects(const HttpRequest& req, ResponseWriter& out, bool v2) {
  ASSIGN_OR_RETURN(ListQuery lq, ParseListQuery(req));
  ListOptions& o = lq.opts;
  const bool url = lq.url;
  const int max_keys = lq.max_keys;
  auto q = [&](const char* n) { return QueryValue(req, n); };
  const bool fetch_owner = v2 && q("fetch-owner") == "true";
  std::string token, start_after, marker;
  if (v2) {
    token = q("continuation-token");
    start_after = q("start-after");
    o.continuation_token = token;
    o.start_after = start_after;
  } else {
    marker = q("marker");
    o.start_after = marker;
  }
  ListResult r;
  RETURN_IF_ERROR(ListPage(req, lq, &r));
  auto text = [&](const std::string& s) { return url ? UrlEncodeKey(s) : s; };
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open("ListBucketResult", s3::kS3Namespace);
  w.Element("Name", req.bucket);
  w.Element("Prefix", text(o.prefix));
  if (!o.delimiter.empty()) w.Element("Delimiter", text(o.delimiter));
  w.Element("MaxKeys", uint64_t(max_keys));
  if (url) w.Element("EncodingType", "url");
  w.Element("IsTruncated", r.truncated);
  if (v2) {
    w.Element("KeyCount", uint64_t(r.objects.size() + r.common_prefixes.size()));
    if (!token.empty()) w.Element("ContinuationToken", token);
    if (!start_after.empty()) w.Element("StartAfter", text(start_after));
    if (r.truncated) w.Element("NextContinuationToken", r.next_token);
  } else {
    w.Element("Marker", text(marker));
    if (r.truncated && !o.delimiter.empty()) {
      // v1 gives NextMarker only with a delimiter: the last key or prefix of the page.
      std::string last = r.objects.empty() ? std::string() : r.objects.back().key;
      if (!r.common_prefixes.empty() && r.common_prefixes.back() > last) {
        last = r.common_prefixes.back();
      }
      w.Element("NextMarker", text(last));
    }
  }
  for (const auto& obj : r.objects) {
    w.Open("Contents");
    w.Element("Key", text(obj.key));
    w.Element("LastModified", IsoTime(obj.mod_time_ns));
    w.Element("ETag", Quoted(obj.etag));
    w.Element("Size", obj.size);
    if (!v2 || fetch_owner) WriteOwner(w);
    w.Element("StorageClass", "STANDARD");
    w.Close();
  }
  WriteCommonPrefixes(w, r.common_prefixes, url);
  w.Finish();
  return SendXml(out, xml, w);
}

}  // namespace cairn::server
