#include "libstore/server/store_handler.h"

#include <cctype>

#include "libstore/format/key_path.h"
#include "libstore/server/local_xml.h"
#include "libstore/server/request_target.h"

namespace cairn::server {
namespace {

constexpr uint64_t kMaxPutBytes = uint64_t(5) << 30;

// Query parameters that name a sub-resource or an operation this handler does not do: with any
// of them present, a request is NotImplemented rather than taken for a plain GET or PUT.
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

std::string Quoted(const std::string& etag) { return "\"" + etag + "\""; }

std::string HttpDate(int64_t ns) {
  char buf[32];
  FormatHttpDate(ns / 1000000000, buf);
  return buf;
}

bool EtagMatches(const std::string& header, const std::string& etag) {
  // A list of entity tags, or '*'. Weak tags compare by their opaque part.
  size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',' || header[i] == '\t')) ++i;
    size_t j = header.find(',', i);
    if (j == std::string::npos) j = header.size();
    std::string_view t(header.data() + i, j - i);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t == "*") return true;
    if (t.substr(0, 2) == "W/") t.remove_prefix(2);
    if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
    if (!t.empty() && t == etag) return true;
    i = j + 1;
  }
  return false;
}

// S3's order: If-Match, then If-Unmodified-Since (only without If-Match), If-None-Match, then
// If-Modified-Since (only without If-None-Match). kPreconditionFailed or kNotModified.
Status CheckConditions(const HttpRequest& req, const ObjectInfo& info) {
  const int64_t mtime = info.mod_time_ns / 1000000000;
  const std::string* im = req.Header("if-match");
  const std::string* inm = req.Header("if-none-match");
  if (im != nullptr) {
    if (!EtagMatches(*im, info.etag)) return Status(Code::kPreconditionFailed, "If-Match failed");
  } else if (const std::string* ius = req.Header("if-unmodified-since")) {
    if (auto t = ParseHttpDate(*ius); t && mtime > *t) {
      return Status(Code::kPreconditionFailed, "If-Unmodified-Since failed");
    }
  }
  if (inm != nullptr) {
    if (EtagMatches(*inm, info.etag)) return Status(Code::kNotModified, "not modified");
  } else if (const std::string* ims = req.Header("if-modified-since")) {
    if (auto t = ParseHttpDate(*ims); t && mtime <= *t) {
      return Status(Code::kNotModified, "not modified");
    }
  }
  return Status::Ok();
}

Fields ObjectHeaders(const ObjectInfo& info) {
  Fields h;
  h.emplace_back("ETag", Quoted(info.etag));
  h.emplace_back("Last-Modified", HttpDate(info.mod_time_ns));
  h.emplace_back("Content-Type",
                 info.content_type.empty() ? "binary/octet-stream" : info.content_type);
  h.emplace_back("Accept-Ranges", "bytes");
  for (const auto& [k, v] : info.user_meta) h.emplace_back("x-amz-meta-" + k, v);
  return h;
}

// Sends the head on the first byte (or at Finish for an empty body), so a GET that fails before
// its first byte can still be answered with an S3 error.
class LazyBodySink : public Sink {
 public:
  LazyBodySink(ResponseWriter& out, int status, Fields headers, uint64_t length)
      : out_(out), status_(status), headers_(std::move(headers)), length_(length) {}
  Status Write(const void* data, size_t n) override {
    if (!out_.begun()) RETURN_IF_ERROR(out_.Begin(status_, headers_, length_));
    return out_.Write(data, n);
  }
  Status Finish() { return out_.begun() ? Status::Ok() : out_.Begin(status_, headers_, length_); }

 private:
  ResponseWriter& out_;
  int status_;
  Fields headers_;
  uint64_t length_;
};

Status SendXml(ResponseWriter& out, const std::string& xml) {
  return out.Send(200, {{"Content-Type", "application/xml"}}, xml);
}

Status CheckBucketName(const std::string& bucket) {
  Status s = ValidateBucketName(bucket);
  if (!s.ok()) return Status(Code::kInvalidBucketName, s.message());
  return s;
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
  if (const char* sub = Unsupported(req)) {
    return NotImplemented(std::string("the '") + sub + "' sub-resource");
  }
  if (write && read_only_) return Status(Code::kAccessDenied, "the server is read-only");
  if (req.bucket.empty()) {
    if (m == "GET") return ListBuckets(req, out);
    return NotImplemented(m + " on the service");
  }
  RETURN_IF_ERROR(CheckBucketName(req.bucket));
  if (req.key.empty()) {
    if (m == "PUT") return CreateBucket(req, out);
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
    if (req.Header("x-amz-copy-source") != nullptr) return NotImplemented("CopyObject");
    return PutObject(req, body, out);
  }
  if (m == "GET") return GetObject(req, out, false);
  if (m == "HEAD") return GetObject(req, out, true);
  if (m == "DELETE") return DeleteObject(req, out);
  return NotImplemented(m + " on an object");
}

Status StoreHandler::ObjectError(const HttpRequest& req, const Status& s) {
  if (s.code() != Code::kNotFound) return s;
  Status b = store_.BucketExists(req.bucket);
  if (b.code() == Code::kNotFound || b.code() == Code::kBucketNotFound) {
    return Status(Code::kBucketNotFound, "the bucket does not exist");
  }
  return Status(Code::kNotFound, "the key does not exist");
}

Status StoreHandler::ListBuckets(const HttpRequest&, ResponseWriter& out) {
  ASSIGN_OR_RETURN(auto buckets, store_.ListBuckets());
  XmlWriter w;
  w.Open("ListAllMyBucketsResult", true);
  w.Open("Owner");
  w.Element("ID", "cairn");
  w.Element("DisplayName", "cairn");
  w.Close("Owner");
  w.Open("Buckets");
  for (const auto& b : buckets) {
    w.Open("Bucket");
    w.Element("Name", b.name);
    w.Element("CreationDate", IsoTime(b.created_ns));
    w.Close("Bucket");
  }
  w.Close("Buckets");
  w.Close("ListAllMyBucketsResult");
  return SendXml(out, w.str());
}

Status StoreHandler::CreateBucket(const HttpRequest& req, ResponseWriter& out) {
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
  Status s = store_.BucketExists(req.bucket);
  if (s.code() == Code::kNotFound) return Status(Code::kBucketNotFound, "no such bucket");
  RETURN_IF_ERROR(s);
  return out.Send(200, {{"x-amz-bucket-region", "us-east-1"}}, "");
}

Status StoreHandler::GetBucketLocation(const HttpRequest& req, ResponseWriter& out) {
  Status s = store_.BucketExists(req.bucket);
  if (s.code() == Code::kNotFound) return Status(Code::kBucketNotFound, "no such bucket");
  RETURN_IF_ERROR(s);
  XmlWriter w;
  w.Open("LocationConstraint", true);
  w.Close("LocationConstraint");
  return SendXml(out, w.str());
}

Status StoreHandler::ListObjects(const HttpRequest& req, ResponseWriter& out, bool v2) {
  ListOptions o;
  auto q = [&](const char* n) -> std::string {
    const std::string* v = req.Query(n);
    return v ? *v : std::string();
  };
  o.prefix = q("prefix");
  o.delimiter = q("delimiter");
  const std::string enc = q("encoding-type");
  if (!enc.empty() && enc != "url") return InvalidArgument("encoding-type must be url");
  const bool url = enc == "url";
  int max_keys = 1000;
  if (const std::string* mk = req.Query("max-keys")) {
    if (mk->empty() || mk->size() > 9 || mk->find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgument("max-keys must be a non-negative integer");
    }
    max_keys = std::min(1000, std::stoi(*mk));
  }
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
  if (max_keys > 0) {
    o.max_keys = max_keys;
    auto res = store_.ListObjects(req.bucket, o);
    if (!res.ok()) {
      if (res.status().code() == Code::kNotFound) {
        return Status(Code::kBucketNotFound, "no such bucket");
      }
      return res.status();
    }
    r = std::move(*res);
  } else {
    Status b = store_.BucketExists(req.bucket);
    if (b.code() == Code::kNotFound) return Status(Code::kBucketNotFound, "no such bucket");
    RETURN_IF_ERROR(b);
  }
  auto text = [&](const std::string& s) { return url ? UrlEncodeKey(s) : s; };
  XmlWriter w;
  w.Open("ListBucketResult", true);
  w.Element("Name", req.bucket);
  w.Element("Prefix", text(o.prefix));
  if (!o.delimiter.empty()) w.Element("Delimiter", text(o.delimiter));
  w.Element("MaxKeys", std::to_string(max_keys));
  if (url) w.Element("EncodingType", "url");
  w.Element("IsTruncated", r.truncated ? "true" : "false");
  if (v2) {
    w.Element("KeyCount", std::to_string(r.objects.size() + r.common_prefixes.size()));
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
    w.Element("Size", std::to_string(obj.size));
    w.Element("StorageClass", "STANDARD");
    w.Close("Contents");
  }
  for (const auto& p : r.common_prefixes) {
    w.Open("CommonPrefixes");
    w.Element("Prefix", text(p));
    w.Close("CommonPrefixes");
  }
  w.Close("ListBucketResult");
  return SendXml(out, w.str());
}

Status StoreHandler::PutObject(const HttpRequest& req, Source& body, ResponseWriter& out) {
  const std::string* decoded = req.Header("x-amz-decoded-content-length");
  if (!req.content_length && !req.chunked && decoded == nullptr) {
    return Status(Code::kMissingContentLength, "PUT needs a Content-Length");
  }
  if (req.content_length && *req.content_length > kMaxPutBytes) {
    return Status(Code::kEntityTooLarge, "a single PUT takes at most 5 GiB");
  }
  PutOptions opts;
  opts.fsync = fsync_;
  if (const std::string* ct = req.Header("content-type")) opts.content_type = *ct;
  for (const auto& [n, v] : req.headers) {
    if (n.size() > 11 && n.compare(0, 11, "x-amz-meta-") == 0) {
      opts.user_meta.emplace_back(n.substr(11), v);
    }
  }
  RETURN_IF_ERROR(ValidatePutOptions(opts));
  auto info = store_.PutObject(req.bucket, req.key, body, opts);
  if (!info.ok()) return ObjectError(req, info.status());
  return out.Send(200, {{"ETag", Quoted(info->etag)}}, "");
}

Status StoreHandler::GetObject(const HttpRequest& req, ResponseWriter& out, bool head) {
  auto info = store_.HeadObject(req.bucket, req.key);
  if (!info.ok()) return ObjectError(req, info.status());
  Status cond = CheckConditions(req, *info);
  if (cond.code() == Code::kNotModified) {
    Fields h = {{"ETag", Quoted(info->etag)}, {"Last-Modified", HttpDate(info->mod_time_ns)}};
    return out.Begin(304, h, 0);
  }
  RETURN_IF_ERROR(cond);
  Fields h = ObjectHeaders(*info);
  ByteRange br;
  if (const std::string* r = req.Header("range")) br = ParseRangeHeader(*r);
  uint64_t first = 0, last = 0;
  int status = 200;
  if (br.kind != ByteRange::Kind::kNone) {
    if (!ResolveRange(br, info->size, &first, &last)) {
      return Status(Code::kInvalidRange, "the requested range is not satisfiable");
    }
    status = 206;
    h.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                        "/" + std::to_string(info->size));
  } else if (info->size > 0) {
    last = info->size - 1;
  }
  const uint64_t length = info->size == 0 ? 0 : last - first + 1;
  if (head || length == 0) return out.Begin(status, h, length);
  LazyBodySink sink(out, status, std::move(h), length);
  auto got = store_.GetObject(req.bucket, req.key, sink, GetRange{first, last});
  if (!got.ok()) return out.begun() ? got.status() : ObjectError(req, got.status());
  return sink.Finish();
}

Status StoreHandler::DeleteObject(const HttpRequest& req, ResponseWriter& out) {
  Status s = store_.DeleteObject(req.bucket, req.key);
  if (!s.ok()) {
    s = ObjectError(req, s);
    if (s.code() != Code::kNotFound) return s;  // S3 deletes a missing key with success
  }
  return out.Send(204, {}, "");
}

}  // namespace cairn::server
