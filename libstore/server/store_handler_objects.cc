// PutObject, GetObject/HeadObject, DeleteObject and CopyObject of StoreHandler.
#include <algorithm>
#include <cstring>
#include <optional>

#include "libstore/object/multipart.h"
#include "libstore/s3/sigv4_canonical.h"
#include "libstore/server/request_target.h"
#include "libstore/server/store_handler.h"
#include "libstore/server/store_handler_internal.h"

namespace cairn::server {

using namespace internal;

namespace {

constexpr uint64_t kMaxPutBytes = uint64_t(5) << 30;

// response-* query parameters of a GET or HEAD and the header each one overrides.
constexpr std::pair<const char*, const char*> kOverrides[] = {
    {"response-content-type", "Content-Type"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-content-encoding", "Content-Encoding"},
};

}  // namespace

namespace internal {

GetConditions ConditionsFrom(const HttpRequest& req, const std::string& prefix) {
  // The names are put together in a stack buffer: every GET asks for all four, and most of the
  // names are too long for a std::string's inline buffer.
  char buf[64];
  auto header = [&](std::string_view suffix) -> const std::string* {
    if (prefix.size() + suffix.size() > sizeof(buf)) return nullptr;  // no such header name
    std::memcpy(buf, prefix.data(), prefix.size());
    std::memcpy(buf + prefix.size(), suffix.data(), suffix.size());
    return req.Header(std::string_view(buf, prefix.size() + suffix.size()));
  };
  GetConditions c;
  if (const std::string* v = header("match")) c.if_match = *v;
  if (const std::string* v = header("none-match")) c.if_none_match = *v;
  if (const std::string* v = header("modified-since")) c.if_modified_since = ParseHttpDate(*v);
  if (const std::string* v = header("unmodified-since")) c.if_unmodified_since = ParseHttpDate(*v);
  return c;
}

Status ParseCopySource(const HttpRequest& req, std::string* bucket, std::string* key) {
  // x-amz-copy-source: "[/]BUCKET/KEY[?versionId=V]", percent-encoded.
  std::string_view raw = *req.Header("x-amz-copy-source");
  std::string_view version;
  if (const size_t q = raw.find('?'); q != std::string_view::npos) {
    std::string_view query = raw.substr(q + 1);
    raw = raw.substr(0, q);
    if (query.compare(0, 10, "versionId=") != 0) {
      return InvalidArgument("x-amz-copy-source takes only a versionId query");
    }
    version = query.substr(10);
  }
  if (!version.empty() && version != "null") {
    return InvalidArgument("this server keeps one version of each object: versionId must be null");
  }
  std::string source;
  RETURN_IF_ERROR(PercentDecode(raw, &source));
  if (!source.empty() && source[0] == '/') source.erase(0, 1);
  const size_t slash = source.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == source.size()) {
    return InvalidArgument("x-amz-copy-source must name BUCKET/KEY");
  }
  *bucket = source.substr(0, slash);
  *key = source.substr(slash + 1);
  RETURN_IF_ERROR(CheckBucketName(*bucket));
  if (key->size() > kMaxKeyBytes) return Status(Code::kKeyTooLong, "the source key is too long");
  return Status::Ok();
}

}  // namespace internal

namespace {

// The Range header as the store takes it; none for a header S3 ignores (another unit, several
// ranges, bad syntax: request_target.h's ParseRangeHeader).
std::optional<GetRange> RangeFrom(const HttpRequest& req) {
  const std::string* h = req.Header("range");
  if (h == nullptr) return std::nullopt;
  const ByteRange r = ParseRangeHeader(*h);
  switch (r.kind) {
    case ByteRange::Kind::kNone:
      return std::nullopt;
    case ByteRange::Kind::kFromTo:
      return GetRange{r.first, r.last};
    case ByteRange::Kind::kFrom:
      return GetRange{r.first};
    case ByteRange::Kind::kSuffix:
      return GetRange::Suffix(r.suffix);
  }
  return std::nullopt;
}

// Sends the head on the first byte (or at Finish for an empty body), so a GET whose first block
// cannot be read is still answered with an S3 error. A body of at most kGather bytes is gathered
// whole first and written with its head in one piece: a reader that delivers it in several pieces
// (an erasure-coded object, one data chunk at a time) then costs the server one send and the
// client one segment, not one per piece; and a failure anywhere in it is still answered with an
// S3 error.
class LazyBodySink : public Sink {
 public:
  static constexpr uint64_t kGather = 16 << 10;
  LazyBodySink(ResponseWriter& out, int status, const Fields& headers, uint64_t length)
      : out_(out), status_(status), headers_(headers), length_(length) {}
  Status Write(const void* data, size_t n) override {
    if (length_ <= kGather && !out_.begun() && held_ + n <= length_) {
      std::memcpy(held_buf_ + held_, data, n);
      held_ += n;
      return held_ == length_ ? Flush() : Status::Ok();
    }
    RETURN_IF_ERROR(Flush());
    return out_.Write(data, n);
  }
  bool CanSendFile() const override { return out_.CanSendFile(); }
  Status SendFile(int fd, uint64_t offset, uint64_t length) override {
    RETURN_IF_ERROR(Flush());
    return out_.SendFile(fd, offset, length);
  }
  // After the reader: the head (and a gathered body, whole or not) if not sent yet.
  Status Finish() { return out_.begun() ? Status::Ok() : Flush(); }

 private:
  // Begins the response if it is not begun, then writes the gathered bytes.
  Status Flush() {
    if (!out_.begun()) RETURN_IF_ERROR(out_.Begin(status_, headers_, length_));
    if (held_ == 0) return Status::Ok();
    const size_t n = held_;
    held_ = 0;
    return out_.Write(held_buf_, n);
  }

  ResponseWriter& out_;
  int status_;
  const Fields& headers_;
  uint64_t length_;
  size_t held_ = 0;
  char held_buf_[kGather];
};

// What a PUT promises about its body, into opts for the store to compute in its one pass and
// check before it commits (PutOptions::expected): Content-MD5, one x-amz-checksum-* header, or the
// algorithm of a trailing one (x-amz-trailer); x-amz-sdk-checksum-algorithm (or
// x-amz-checksum-algorithm) names the checksum to store when no value comes with it. *trailer:
// whether a trailer was declared. kInvalidDigest for a malformed value, kInvalidArgument for two
// checksums or an unknown algorithm.
Status DigestsFrom(const HttpRequest& req, PutOptions* opts, bool* trailer) {
  if (const std::string* md5 = req.Header("content-md5")) {
    ASSIGN_OR_RETURN(auto d, ParseContentMd5(*md5));
    opts->expected.content_md5 = d;
  }
  const char* const kSingle = "expecting a single x-amz-checksum- header (or trailer)";
  for (const auto& [n, v] : req.headers) {
    if (n.compare(0, 15, "x-amz-checksum-") != 0) continue;
    auto alg = ChecksumAlgorithmFromHeader(n);
    if (!alg.ok()) continue;  // x-amz-checksum-algorithm, -type, -mode
    if (opts->expected.checksum) return InvalidArgument(kSingle);
    ASSIGN_OR_RETURN(opts->expected.checksum, ParseChecksum(*alg, v));
  }
  *trailer = false;
  if (const std::string* t = req.Header("x-amz-trailer")) {
    std::string_view list = *t;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      std::string_view name = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      auto alg = ChecksumAlgorithmFromHeader(name);
      if (!alg.ok()) continue;
      if (opts->expected.checksum || *trailer) return InvalidArgument(kSingle);
      opts->checksum_algorithm = *alg;
      *trailer = true;
    }
  }
  for (const char* h : {"x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"}) {
    const std::string* a = req.Header(h);
    if (a == nullptr) continue;
    ASSIGN_OR_RETURN(ChecksumAlgorithm alg, ChecksumAlgorithmFromName(*a));
    const ChecksumAlgorithm named = opts->checksum_algorithm != ChecksumAlgorithm::kNone
                                        ? opts->checksum_algorithm
                                    : opts->expected.checksum ? opts->expected.checksum->algorithm
                                                              : alg;
    if (named != alg) {
      return InvalidArgument(std::string(h) + " is " + Name(alg) + " but the checksum sent is " +
                             Name(named));
    }
    opts->checksum_algorithm = alg;
  }
  return Status::Ok();
}

// x-amz-checksum-<algorithm> and x-amz-checksum-type of info, when it has a checksum.
void AddChecksumHeaders(Fields* h, const ObjectInfo& info) {
  if (info.checksum.algorithm == ChecksumAlgorithm::kNone) return;
  h->emplace_back(HeaderName(info.checksum.algorithm), info.ChecksumHeaderValue());
  h->emplace_back("x-amz-checksum-type", Name(info.checksum_type));
}

}  // namespace

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
  RETURN_IF_ERROR(MetaFromRequest(req, &opts.content_type, &opts.user_meta));
  if (const std::string* inm = req.Header("if-none-match")) {
    if (*inm != "*") return Status(Code::kNotImplemented, "If-None-Match on a PUT takes only *");
    opts.if_none_match_star = true;
  }
  if (const std::string* im = req.Header("if-match")) opts.if_match = *im;
  bool trailer = false;
  RETURN_IF_ERROR(DigestsFrom(req, &opts, &trailer));
  // The store computes Content-MD5 and the checksum in the pass that makes the ETag: the body
  // (when the authenticator checks digests) hands them over instead of computing them again.
  if (auto* checked = dynamic_cast<CheckedBody*>(&body)) {
    checked->HandOverDigests();
    if (trailer) {
      opts.trailing_checksum = [checked]() -> Result<std::optional<ChecksumValue>> {
        return checked->TrailingChecksum();
      };
    }
  }
  RETURN_IF_ERROR(ValidatePutOptions(opts));
  auto info = store_.PutObject(req.bucket, req.key, body, opts);
  if (!info.ok()) return ObjectError(req, info.status());
  Fields h = {{"ETag", Quoted(info->etag)}};
  AddChecksumHeaders(&h, *info);
  return out.Send(200, h, "");
}

Status StoreHandler::GetObject(const HttpRequest& req, ResponseWriter& out, bool head) {
  GetOptions opts;
  opts.conditions = ConditionsFrom(req, "if-");
  opts.range = RangeFrom(req);
  if (const std::string* pn = req.Query("partNumber")) {
    ASSIGN_OR_RETURN(opts.part_number, ParsePartNumber(*pn));
    if (req.Header("range") != nullptr) {
      return Status(Code::kInvalidRequest,
                    "Cannot specify both Range header and partNumber query parameter");
    }
  }
  ObjectInfo verdict;
  std::unique_ptr<ObjectReader> reader;
  ObjectInfo head_info;
  cairn::ByteRange range;
  Status st;
  if (head && opts.part_number == 0) {
    auto r = store_.HeadObject(req.bucket, req.key, opts, &verdict);
    if (r.ok()) {
      head_info = std::move(*r);
      auto br = ResolveRange(opts.range, head_info.size);
      if (br.ok()) {
        range = *br;
      } else {
        st = br.status();
      }
    } else {
      st = r.status();
    }
  } else {
    auto r = store_.OpenObject(req.bucket, req.key, opts, &verdict);
    if (r.ok()) {
      reader = std::move(*r);
      range = reader->range();
      if (head) head_info = reader->info();  // HEAD ?partNumber: the part's bytes, none sent
    } else {
      st = r.status();
    }
  }
  if (st.code() == Code::kNotModified) {
    // 304: the validators of the version the condition was decided on, no body.
    Fields h = {{"ETag", Quoted(verdict.etag)}, {"Last-Modified", HttpDate(verdict.mod_time_ns)}};
    return out.Begin(304, h, 0);
  }
  if (!st.ok()) return ObjectError(req, st);
  const ObjectInfo& info = head ? head_info : reader->info();
  Fields h = ObjectHeaders(info);
  // The stored checksum describes the whole object: S3 returns it when asked, never for a part.
  const std::string* mode = req.Header("x-amz-checksum-mode");
  if (mode != nullptr && s3::IEquals(*mode, "ENABLED") && !range.partial) {
    AddChecksumHeaders(&h, info);
  }
  if (opts.part_number != 0 && info.parts_count != 0) {
    h.emplace_back("x-amz-mp-parts-count", std::to_string(info.parts_count));
  }
  for (const auto& [param, header] : kOverrides) {
    if (const std::string* v = req.Query(param)) {
      // A percent-decoded CR LF would otherwise end the field and forge others in the response.
      if (HasControlChar(*v)) {
        return InvalidArgument(std::string(param) + ": a control character in the value");
      }
      SetHeader(&h, header, *v);
    }
  }
  int status = 200;
  if (range.partial) {
    status = 206;
    h.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                        std::to_string(range.first + range.length - 1) + "/" +
                                        std::to_string(info.size));
  }
  if (head || range.length == 0) return out.Begin(status, h, range.length);
  // A whole read of an object whose MD5 is not known yet (a plain file's "-1" ETag) goes through
  // the reader, which learns the MD5 as the bytes go out; sendfile would skip that.
  const bool learns_md5 = !range.partial && info.etag.size() > 2 &&
                          info.etag.compare(info.etag.size() - 2, 2, "-1") == 0;
  if (out.CanSendFile() && !learns_md5) {
    if (auto fr = reader->ZeroCopy()) {
      RETURN_IF_ERROR(out.Begin(status, h, fr->length));
      return out.SendFile(fr->fd, fr->offset, fr->length);
    }
  }
  LazyBodySink sink(out, status, h, range.length);
  Status s = reader->WriteTo(sink);
  if (!s.ok()) return out.begun() ? s : ObjectError(req, s);
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

Status StoreHandler::CopyObject(const HttpRequest& req, ResponseWriter& out) {
  std::string src_bucket, src_key;
  RETURN_IF_ERROR(ParseCopySource(req, &src_bucket, &src_key));

  CopyOptions opts;
  opts.fsync = fsync_;
  opts.max_source_size = max_copy_source_;
  opts.source_conditions = ConditionsFrom(req, "x-amz-copy-source-if-");
  const std::string* dir = req.Header("x-amz-metadata-directive");
  if (dir == nullptr || *dir == "COPY") {
    opts.directive = MetadataDirective::kCopy;
  } else if (*dir == "REPLACE") {
    opts.directive = MetadataDirective::kReplace;
    RETURN_IF_ERROR(MetaFromRequest(req, &opts.content_type, &opts.user_meta));
    PutOptions check;
    check.content_type = opts.content_type;
    check.user_meta = opts.user_meta;
    RETURN_IF_ERROR(ValidatePutOptions(check));
  } else {
    return InvalidArgument("x-amz-metadata-directive must be COPY or REPLACE");
  }
  if (const std::string* a = req.Header("x-amz-checksum-algorithm")) {
    ASSIGN_OR_RETURN(opts.checksum_algorithm, ChecksumAlgorithmFromName(*a));
  }
  if (opts.directive == MetadataDirective::kCopy && src_bucket == req.bucket &&
      src_key == req.key) {
    return InvalidArgument(
        "This copy request is illegal because it is trying to copy an object to itself without "
        "changing the object's metadata.");
  }
  RETURN_IF_ERROR(NeedBucket(req.bucket));
  auto info = store_.CopyObject(src_bucket, src_key, req.bucket, req.key, opts);
  if (!info.ok()) return CopySourceError(src_bucket, info.status());
  return SendCopyResult(out, "CopyObjectResult", info->mod_time_ns, info->etag, &*info);
}

Status StoreHandler::CopySourceError(const std::string& src_bucket, const Status& s) {
  // The copy-source conditions never answer 304.
  if (s.code() == Code::kNotModified) return Status(Code::kPreconditionFailed, s.message());
  return ObjectError(src_bucket, s);
}

namespace internal {

Status SendCopyResult(ResponseWriter& out, const char* element, int64_t mod_time_ns,
                      const std::string& etag, const ObjectInfo* with_checksum) {
  std::string xml;
  s3::XmlWriter w(&xml);
  w.Declaration();
  w.Open(element, s3::kS3Namespace);
  w.Element("LastModified", IsoTime(mod_time_ns));
  w.Element("ETag", Quoted(etag));
  if (with_checksum != nullptr && with_checksum->checksum.algorithm != ChecksumAlgorithm::kNone) {
    w.Element(std::string("Checksum") + Name(with_checksum->checksum.algorithm),
              with_checksum->ChecksumHeaderValue());
    w.Element("ChecksumType", Name(with_checksum->checksum_type));
  }
  w.Finish();
  return SendXml(out, xml, w);
}

}  // namespace internal

}  // namespace cairn::server
