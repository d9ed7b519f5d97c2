#include "libstore/client/s3_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "libstore/common/hash.h"
#include "libstore/object/multipart.h"
#include "libstore/s3/sigv4_canonical.h"
#include "libstore/s3/xml.h"
#include "libstore/server/request_target.h"

namespace cairn::s3 {

namespace {

const XmlLimits kAnswerLimits{size_t{64} << 20, 8};
// The standard headers a store keeps as "~cairn-<header>" entries (as cairn serve does).
constexpr const char* kStandardHeaders[] = {"cache-control", "content-disposition",
                                            "content-encoding", "content-language", "expires"};

std::string Quote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') return std::string(etag);
  return "\"" + std::string(etag) + "\"";
}

std::string UnquoteEtag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An HTTP date header in ns; fallback when absent or malformed.
int64_t NsOfHttpDate(std::string_view s, int64_t fallback) {
  int64_t sec = 0;
  if (s.empty() || !ParseHttpDate(s, &sec)) return fallback;
  return sec * 1000000000;
}

// S3's ISO 8601 times ("2006-02-03T16:45:09.000Z", milliseconds optional) in ns; 0 when malformed.
int64_t NsOfIso(std::string_view s) {
  struct tm tm {};
  int ms = 0;
  const std::string z(s);
  if (std::sscanf(z.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return 0;
  }
  const size_t dot = z.find('.');
  if (dot != std::string::npos) {
    int digits = 0;
    for (size_t i = dot + 1; i < z.size() && z[i] >= '0' && z[i] <= '9' && digits < 3; ++i) {
      ms = ms * 10 + (z[i] - '0');
      ++digits;
    }
    while (digits++ < 3) ms *= 10;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return int64_t(timegm(&tm)) * 1000000000 + int64_t(ms) * 1000000;
}

std::string HttpDateOf(int64_t sec) {
  char buf[64];
  const size_t n = server::FormatHttpDate(sec, buf);
  return std::string(buf, n);
}

using Headers = std::vector<std::pair<std::string, std::string>>;

void AddConditions(const GetConditions& c, const std::string& prefix, Headers* h) {
  if (c.if_match) h->push_back({prefix + "match", *c.if_match});
  if (c.if_none_match) h->push_back({prefix + "none-match", *c.if_none_match});
  if (c.if_modified_since)
    h->push_back({prefix + "modified-since", HttpDateOf(*c.if_modified_since)});
  if (c.if_unmodified_since) {
    h->push_back({prefix + "unmodified-since", HttpDateOf(*c.if_unmodified_since)});
  }
}

// Content-Type, the standard headers ("~cairn-<header>" entries) and x-amz-meta-*.
void AddMeta(const std::string& content_type,
             const std::vector<std::pair<std::string, std::string>>& meta, Headers* h) {
  if (!content_type.empty()) h->push_back({"Content-Type", content_type});
  for (const auto& [k, v] : meta) {
    if (IsSystemMetaKey(k)) {
      h->push_back({k.substr(kSystemMetaPrefix.size()), v});
    } else {
      h->push_back({"x-amz-meta-" + k, v});
    }
  }
}

Result<ChecksumType> ChecksumTypeOf(std::string_view name) {
  if (name.empty()) return ChecksumType::kNone;
  if (name == "COMPOSITE") return ChecksumType::kComposite;
  if (name == "FULL_OBJECT") return ChecksumType::kFullObject;
  return IOError("an unknown checksum type '" + std::string(name) + "' in the answer");
}

// A checksum as S3 sends it ("<base64>" or "<base64>-N" for COMPOSITE) into info.
void SetChecksum(ChecksumAlgorithm a, std::string_view value, ObjectInfo* info) {
  const size_t dash = value.find('-');
  auto v = ParseChecksum(a, value.substr(0, dash));
  if (!v.ok()) return;  // not a value we can read: the object is shown without one
  info->checksum = *v;
  if (dash != std::string_view::npos) {
    info->checksum_type = ChecksumType::kComposite;
    info->checksum_parts =
        uint32_t(std::strtoul(std::string(value.substr(dash + 1)).c_str(), nullptr, 10));
  } else if (info->checksum_type == ChecksumType::kNone) {
    info->checksum_type = ChecksumType::kFullObject;
  }
}

// The object's info from a HEAD or PUT answer's headers.
void InfoFromHeaders(const http::Response& r, ObjectInfo* info) {
  info->etag = UnquoteEtag(r.Get("ETag"));
  info->mod_time_ns = NsOfHttpDate(r.Get("Last-Modified"), info->mod_time_ns);
  const std::string_view type = r.Get("Content-Type");
  if (!type.empty()) info->content_type = std::string(type);
  std::vector<std::pair<std::string, std::string>> standard, user;
  std::string_view checksum_value;
  ChecksumAlgorithm alg = ChecksumAlgorithm::kNone;
  for (const auto& h : r.headers) {
    std::string name(h.name);
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (name.size() > 11 && name.compare(0, 11, "x-amz-meta-") == 0) {
      user.emplace_back(name.substr(11), std::string(h.value));
    } else if (name == "x-amz-checksum-type") {
      if (auto t = ChecksumTypeOf(h.value); t.ok()) info->checksum_type = *t;
    } else if (name == "x-amz-mp-parts-count") {
      info->parts_count = uint32_t(std::strtoul(std::string(h.value).c_str(), nullptr, 10));
    } else if (name.compare(0, 15, "x-amz-checksum-") == 0) {
      if (auto a = ChecksumAlgorithmFromHeader(name); a.ok()) {
        alg = *a;
        checksum_value = h.value;
      }
    } else {
      for (const char* s : kStandardHeaders) {
        if (name == s)
          standard.emplace_back(std::string(kSystemMetaPrefix) + s, std::string(h.value));
      }
    }
  }
  if (alg != ChecksumAlgorithm::kNone) SetChecksum(alg, checksum_value, info);
  // The user's entries, then the standard headers (HTTP keeps no order between the two).
  info->user_meta = std::move(user);
  for (auto& m : standard) info->user_meta.push_back(std::move(m));
}

// Checksum<ALG> and ChecksumType elements of an answer document into info.
void ChecksumFromXml(const XmlElement& doc, ObjectInfo* info) {
  if (auto t = ChecksumTypeOf(doc.ChildText("ChecksumType")); t.ok()) info->checksum_type = *t;
  for (ChecksumAlgorithm a :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
        ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
    const std::string_view v = doc.ChildText(ChecksumElementName(a));
    if (!v.empty()) SetChecksum(a, v, info);
  }
}

std::string PartChecksumFromXml(const XmlElement& e) {
  for (ChecksumAlgorithm a :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
        ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
    const std::string_view v = e.ChildText(ChecksumElementName(a));
    if (!v.empty()) return std::string(v);
  }
  return {};
}

// "bytes first-last/size" into *range and *size.
bool ParseContentRange(std::string_view s, ByteRange* range, uint64_t* size) {
  unsigned long long a = 0, b = 0, n = 0;
  if (std::sscanf(std::string(s).c_str(), "bytes %llu-%llu/%llu", &a, &b, &n) != 3 || b < a) {
    return false;
  }
  *range = ByteRange{a, b - a + 1, true};
  *size = n;
  return true;
}

std::string Query(std::initializer_list<std::pair<const char*, std::string>> params) {
  std::string q;
  for (const auto& [n, v] : params) {
    if (!q.empty()) q.push_back('&');
    q += n;
    q.push_back('=');
    q += UriEncodeQueryComponent(v);
  }
  return q;
}

class AppendSink : public Sink {
 public:
  explicit AppendSink(std::string* out) : out_(out) {}
  Status Write(const void* d, size_t n) override {
    out_->append(static_cast<const char*>(d), n);
    return Status::Ok();
  }

 private:
  std::string* out_;
};

// Counts what passes to the inner sink.
class TallySink : public Sink {
 public:
  explicit TallySink(Sink& inner) : inner_(inner) {}
  Status Write(const void* d, size_t n) override {
    RETURN_IF_ERROR(inner_.Write(d, n));
    bytes += n;
    return Status::Ok();
  }
  uint64_t bytes = 0;

 private:
  Sink& inner_;
};

Status ChangedWhileOpen(const Status& s, const std::string& what) {
  if (s.code() != Code::kPreconditionFailed) return s;
  return Status(Code::kPreconditionFailed, what + ": the object changed after it was opened");
}

// A reader of one version: GETs pinned to its ETag.
class S3Reader : public ObjectReader {
 public:
  S3Reader(S3Client& client, ObjectInfo info, ByteRange range)
      : ObjectReader(std::move(info), range), client_(client) {}

  Result<size_t> Read(void* buf, size_t n) override {
    if (pos_ == range_.length || n == 0) return size_t{0};
    if (off_ == window_.size()) {
      const uint64_t len = std::min<uint64_t>(S3ObjectStore::kReadWindow, range_.length - pos_);
      window_.clear();
      off_ = 0;
      AppendSink sink(&window_);
      GetOptions go;
      go.range = std::make_pair(range_.first + pos_, range_.first + pos_ + len - 1);
      go.if_match = Quote(info_.etag);
      auto got = client_.GetObject(info_.bucket, info_.key, sink, go);
      if (!got.ok()) return ChangedWhileOpen(got.status(), What());
      if (window_.size() != len) {
        return Status(Code::kIncompleteBody, What() + ": a range brought " +
                                                 std::to_string(window_.size()) + " of " +
                                                 std::to_string(len) + " bytes");
      }
    }
    const size_t c = std::min(n, window_.size() - off_);
    std::memcpy(buf, window_.data() + off_, c);
    off_ += c;
    pos_ += c;
    return c;
  }

  Status WriteTo(Sink& sink) override {
    if (pos_ > 0) return ObjectReader::WriteTo(sink);  // part was read already: go on with Read
    if (range_.length == 0) return Status::Ok();
    GetOptions go;
    // A whole object is fetched without a Range, so it is checked against its MD5 ETag or its
    // x-amz-checksum-*.
    if (range_.partial) go.range = std::make_pair(range_.first, range_.first + range_.length - 1);
    go.if_match = Quote(info_.etag);
    TallySink tally(sink);
    auto got = client_.GetObject(info_.bucket, info_.key, tally, go);
    if (!got.ok()) return ChangedWhileOpen(got.status(), What());
    if (tally.bytes != range_.length) {
      return Status(Code::kIncompleteBody, What() + ": received " + std::to_string(tally.bytes) +
                                               " of " + std::to_string(range_.length) + " bytes");
    }
    pos_ = range_.length;
    return Status::Ok();
  }

 private:
  std::string What() const { return "GET " + info_.bucket + "/" + info_.key; }
  S3Client& client_;
  uint64_t pos_ = 0;
  std::string window_;
  size_t off_ = 0;
};

}  // namespace

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Create(std::unique_ptr<S3Client> client,
                                                             S3StoreOptions opts) {
  if (opts.part_size < kMinPartSize || opts.part_size > kMaxPartSize) {
    return InvalidArgument("the part size must be between 5 MiB and 5 GiB");
  }
  return std::unique_ptr<S3ObjectStore>(new S3ObjectStore(std::move(client), opts));
}

namespace {

// A request of this store: the server's error codes kept as they map to cairn Codes.
RawRequest Request(std::string_view method, std::string op, const std::string& bucket,
                   const std::string& key = {}) {
  RawRequest r;
  r.method = method;
  r.op = std::move(op);
  r.bucket = bucket;
  r.key = key;
  r.exact_codes = true;
  return r;
}

}  // namespace

// ---- buckets ---------------------------------------------------------------------------------

Status S3ObjectStore::MakeBucket(const std::string& bucket) {
  RawRequest r = Request("PUT", "CreateBucket", bucket);
  http::Response resp;
  Status s = client_->Send(r, &resp);
  // S3's two answers for a bucket that exists (ours or another account's): one code here.
  if (s.code() == Code::kAlreadyExists ||
      s.message().find("BucketAlreadyOwnedByYou") != std::string::npos) {
    return AlreadyExists(s.message());
  }
  return s;
}

Status S3ObjectStore::BucketExists(const std::string& bucket) {
  RawRequest r = Request("HEAD", "HEAD", bucket);
  http::Response resp;
  Status s = client_->Send(r, &resp);
  if (s.code() == Code::kNotFound) return BucketNotFound("HEAD " + bucket + ": no such bucket");
  return s;
}

Result<std::vector<BucketInfo>> S3ObjectStore::ListBuckets() {
  ASSIGN_OR_RETURN(auto list, client_->ListBuckets());
  std::vector<BucketInfo> out;
  out.reserve(list.size());
  for (const auto& b : list) out.push_back({b.name, NsOfIso(b.created)});
  std::sort(out.begin(), out.end(),
            [](const BucketInfo& a, const BucketInfo& b) { return a.name < b.name; });
  return out;
}

Status S3ObjectStore::RemoveBucket(const std::string& bucket, bool force) {
  if (force) {
    ListParams p;
    ListPage page;
    std::vector<std::string> keys;
    std::vector<DeleteResult> results;
    do {
      RETURN_IF_ERROR(client_->ListObjectsPage(bucket, p, &page));
      keys.clear();
      for (const auto& o : page.objects) keys.push_back(o.key);
      RETURN_IF_ERROR(client_->DeleteObjects(bucket, keys, &results));
      for (const auto& d : results) {
        if (!d.status.ok() && d.status.code() != Code::kNotFound) return d.status;
      }
      p.continuation_token = page.next_token;
    } while (page.truncated);
    ListUploadsOptions lo;
    while (true) {
      ASSIGN_OR_RETURN(ListUploadsResult ups, ListMultipartUploads(bucket, lo));
      for (const auto& u : ups.uploads) {
        Status s = AbortMultipartUpload(bucket, u.key, u.upload_id);
        if (!s.ok() && s.code() != Code::kUploadNotFound) return s;
      }
      if (!ups.truncated) break;
      lo.key_marker = ups.next_key_marker;
      lo.upload_id_marker = ups.next_upload_id_marker;
    }
  }
  RawRequest r = Request("DELETE", "DeleteBucket", bucket);
  http::Response resp;
  return client_->Send(r, &resp);
}

// ---- objects ---------------------------------------------------------------------------------

Result<ObjectInfo> S3ObjectStore::PutObject(const std::string& bucket, const std::string& key,
                                            Source& src, const PutOptions& opts) {
  RETURN_IF_ERROR(ValidatePutOptions(opts));
  if (opts.etag == EtagMode::kFast) {
    return Status(Code::kNotImplemented, "PUT " + bucket + "/" + key +
                                             ": an S3 server makes the ETag (fast ETags are "
                                             "cairn's own stores')");
  }
  const ChecksumAlgorithm alg = StoredChecksumAlgorithm(opts);
  if (opts.expected.checksum && opts.checksum_algorithm != ChecksumAlgorithm::kNone &&
      opts.expected.checksum->algorithm != opts.checksum_algorithm) {
    return InvalidArgument("the checksum sent is not of the algorithm asked for");
  }
  // Up to part_size + 1 bytes: whether the body fits one PUT.
  std::string buf;
  size_t have = 0;
  bool ended = false;
  while (!ended && have <= opts_.part_size) {
    if (have == buf.size()) {
      buf.resize(size_t(std::min<uint64_t>(opts_.part_size + 1,
                                           std::max<uint64_t>(64 << 10, uint64_t(have) * 2))));
    }
    ASSIGN_OR_RETURN(size_t n, src.Read(buf.data() + have, buf.size() - have));
    if (n == 0) ended = true;
    have += n;
  }
  if (!ended) {
    buf.resize(have);
    return PutMultipart(bucket, key, src, opts, buf);
  }
  BodyChecksums sums(ChecksumPlan(opts));
  sums.Update(buf.data(), have);
  sums.Finish();
  ASSIGN_OR_RETURN(ExpectedDigests expected, FinalExpectations(opts));
  RETURN_IF_ERROR(VerifyBody(expected, sums, nullptr));

  Payload body;
  body.data = buf.data();
  body.size = have;
  RawRequest r = Request("PUT", "PUT", bucket, key);
  r.body = &body;
  AddMeta(opts.content_type, opts.user_meta, &r.headers);
  if (opts.if_none_match_star) r.headers.push_back({"If-None-Match", "*"});
  if (opts.if_match) r.headers.push_back({"If-Match", *opts.if_match});
  if (alg != ChecksumAlgorithm::kNone) {
    // The value computed here (checked against a promised one above): the server checks it too.
    r.headers.push_back({HeaderName(alg), sums.checksum().Base64()});
  }
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  ObjectInfo info;
  info.bucket = bucket;
  info.key = key;
  info.size = have;
  info.mod_time_ns = NsOfHttpDate(resp.Get("Date"), NowNs());
  InfoFromHeaders(resp, &info);
  if (IsMd5Etag(info.etag) && info.etag != ToHex(sums.md5().data(), 16)) {
    return Corruption("PUT " + bucket + "/" + key + ": the server's ETag " + info.etag +
                      " is not the body's MD5");
  }
  // The answer has no Last-Modified: the version's own time (and the rest) from a HEAD.
  info.mod_time_ns = 0;
  CompleteInfo(&info);
  if (info.mod_time_ns == 0) info.mod_time_ns = NsOfHttpDate(resp.Get("Date"), NowNs());
  return info;
}

Result<ObjectInfo> S3ObjectStore::PutMultipart(const std::string& bucket, const std::string& key,
                                               Source& src, const PutOptions& opts,
                                               std::string& buf) {
  const ChecksumAlgorithm alg = StoredChecksumAlgorithm(opts);
  CreateMultipartOptions co;
  co.content_type = opts.content_type;
  co.user_meta = opts.user_meta;
  if (alg != ChecksumAlgorithm::kNone) {
    co.checksum_algorithm = Name(alg);
    // A CRC combines into the whole object's value (FULL_OBJECT, as one PUT stores it); S3 keeps
    // SHA-1 and SHA-256 of parts only as COMPOSITE.
    co.checksum_type = (alg == ChecksumAlgorithm::kSha1 || alg == ChecksumAlgorithm::kSha256)
                           ? ChecksumType::kComposite
                           : ChecksumType::kFullObject;
  }
  ASSIGN_OR_RETURN(MultipartUpload up, CreateMultipartUpload(bucket, key, co));
  BodyChecksums sums(ChecksumPlan(opts));
  ChecksumStream part_sum(alg);
  std::vector<cairn::CompletedPart> parts;
  auto run = [&]() -> Result<ObjectInfo> {
    size_t have = buf.size();
    buf.resize(size_t(opts_.part_size + 1));
    bool ended = false;
    for (int n = 1;; ++n) {
      while (!ended && have <= opts_.part_size) {
        ASSIGN_OR_RETURN(size_t got, src.Read(buf.data() + have, buf.size() - have));
        if (got == 0) ended = true;
        have += got;
      }
      const size_t len = size_t(std::min<uint64_t>(have, opts_.part_size));
      const bool last = ended && have <= opts_.part_size;
      if (n > 10000)
        return InvalidArgument("PUT " + bucket + "/" + key + ": more than 10,000 parts");
      sums.Update(buf.data(), len);
      UploadPartOptions po;
      if (alg != ChecksumAlgorithm::kNone) {
        part_sum.Reset();
        part_sum.Update(buf.data(), len);
        po.checksum_algorithm = Name(alg);
        po.checksum_value = part_sum.FinalValue().Base64();
      }
      ASSIGN_OR_RETURN(PartInfo p, SendPart(bucket, key, up.upload_id, n, buf.data(), len, po));
      parts.push_back({p.part_number, p.etag, p.checksum});
      std::memmove(buf.data(), buf.data() + len, have - len);
      have -= len;
      if (last) break;
    }
    sums.Finish();
    ASSIGN_OR_RETURN(ExpectedDigests expected, FinalExpectations(opts));
    RETURN_IF_ERROR(VerifyBody(expected, sums, nullptr));
    CompleteMultipartOptions cm;
    cm.if_none_match_star = opts.if_none_match_star;
    cm.if_match = opts.if_match;
    if (co.checksum_type == ChecksumType::kFullObject) cm.checksum_value = sums.checksum().Base64();
    return CompleteMultipartUpload(bucket, key, up.upload_id, parts, cm);
  };
  auto done = run();
  if (!done.ok()) (void)AbortMultipartUpload(bucket, key, up.upload_id);
  return done;
}

Result<ObjectInfo> S3ObjectStore::Head(const std::string& bucket, const std::string& key,
                                       const cairn::GetOptions& opts, ObjectInfo* verdict,
                                       ByteRange* range_out) {
  if (opts.part_number != 0 && opts.range) {
    return Status(Code::kInvalidRequest,
                  "Cannot specify both Range header and partNumber query parameter");
  }
  RawRequest r = Request("HEAD", "HEAD", bucket, key);
  AddConditions(opts.conditions, "If-", &r.headers);
  r.headers.push_back({"x-amz-checksum-mode", "ENABLED"});
  if (opts.part_number != 0) r.query = "partNumber=" + std::to_string(opts.part_number);
  http::Response resp;
  Status s = client_->Send(r, &resp);
  ObjectInfo info;
  info.bucket = bucket;
  info.key = key;
  if (s.ok() && resp.status == 304) {
    s = Status(Code::kNotModified, "HEAD " + bucket + "/" + key + ": not modified");
  }
  if (!s.ok()) {
    if (s.code() == Code::kNotModified || s.code() == Code::kPreconditionFailed) {
      if (verdict != nullptr) {
        // A 304 or 412 answer names the version (ETag, Last-Modified) but not its size or
        // metadata: those come from a HEAD without conditions, when it finds the same version.
        InfoFromHeaders(resp, &info);
        auto now = Head(bucket, key, {}, nullptr, nullptr);
        if (now.ok() && (info.etag.empty() || now->etag == info.etag)) info = std::move(*now);
        *verdict = std::move(info);
      }
      return s;
    }
    if (s.code() == Code::kNotFound) {
      // A HEAD answer has no error document: whether the bucket is missing takes one more.
      Status b = BucketExists(bucket);
      if (b.code() == Code::kBucketNotFound) {
        return BucketNotFound("HEAD " + bucket + "/" + key +
                              ": NoSuchBucket: The specified bucket does not exist.");
      }
      return NotFound("HEAD " + bucket + "/" + key +
                      ": NoSuchKey: The specified key does not exist.");
    }
    if (s.code() == Code::kInvalidRange && opts.part_number != 0) {
      return Status(Code::kInvalidPartNumber, "HEAD " + bucket + "/" + key + "?partNumber=" +
                                                  std::to_string(opts.part_number) +
                                                  ": the object has fewer parts");
    }
    return s;
  }
  InfoFromHeaders(resp, &info);
  info.size = std::strtoull(std::string(resp.Get("Content-Length")).c_str(), nullptr, 10);
  ByteRange range{0, info.size, false};
  uint64_t total = 0;
  if (ParseContentRange(resp.Get("Content-Range"), &range, &total)) info.size = total;
  if (range_out != nullptr) *range_out = range;
  return info;
}

Result<std::unique_ptr<ObjectReader>> S3ObjectStore::OpenObject(const std::string& bucket,
                                                                const std::string& key,
                                                                const cairn::GetOptions& opts,
                                                                ObjectInfo* verdict) {
  ByteRange part;
  ASSIGN_OR_RETURN(ObjectInfo info, Head(bucket, key, opts, verdict, &part));
  ByteRange range = part;
  if (opts.part_number == 0) {
    ASSIGN_OR_RETURN(range, ResolveRange(opts.range, info.size));
  }
  return std::unique_ptr<ObjectReader>(new S3Reader(*client_, std::move(info), range));
}

Result<ObjectInfo> S3ObjectStore::HeadObject(const std::string& bucket, const std::string& key,
                                             const cairn::GetOptions& opts, ObjectInfo* verdict) {
  return Head(bucket, key, opts, verdict, nullptr);
}

Status S3ObjectStore::DeleteObject(const std::string& bucket, const std::string& key) {
  // S3 deletes a missing key with success: the HEAD says whether there was one (see the header).
  RETURN_IF_ERROR(Head(bucket, key, {}, nullptr, nullptr).status());
  return client_->DeleteObject(bucket, key);
}

Result<ListResult> S3ObjectStore::ListObjects(const std::string& bucket, const ListOptions& opts) {
  ListParams p;
  p.prefix = opts.prefix;
  p.delimiter = opts.delimiter;
  p.start_after = opts.start_after;
  p.max_keys = opts.max_keys;
  p.continuation_token = opts.continuation_token;
  ListPage page;
  Status s = client_->ListObjectsPage(bucket, p, &page);
  // The typed listing reports a refused request (a bad continuation token: InvalidArgument) as
  // kIOError, for the command line; the store's callers get the code.
  if (s.code() == Code::kIOError && s.message().find("InvalidArgument") != std::string::npos) {
    return InvalidArgument(s.message());
  }
  RETURN_IF_ERROR(s);
  ListResult out;
  out.objects.reserve(page.objects.size());
  for (auto& o : page.objects) {
    ObjectInfo i;
    i.bucket = bucket;
    i.key = std::move(o.key);
    i.size = o.size;
    i.etag = std::move(o.etag);
    i.mod_time_ns = NsOfIso(o.last_modified);
    out.objects.push_back(std::move(i));
  }
  out.common_prefixes = std::move(page.common_prefixes);
  out.truncated = page.truncated;
  out.next_token = std::move(page.next_token);
  return out;
}

void S3ObjectStore::CompleteInfo(ObjectInfo* info) {
  cairn::GetOptions go;
  go.conditions.if_match = Quote(info->etag);
  auto h = Head(info->bucket, info->key, go, nullptr, nullptr);
  if (!h.ok()) return;
  const ChecksumValue sum = info->checksum;
  const ChecksumType type = info->checksum_type;
  const uint32_t parts = info->checksum_parts;
  *info = std::move(*h);
  if (info->checksum.algorithm == ChecksumAlgorithm::kNone &&
      sum.algorithm != ChecksumAlgorithm::kNone) {
    info->checksum = sum;
    info->checksum_type = type;
    info->checksum_parts = parts;
  }
}

Result<ObjectInfo> S3ObjectStore::CopyObject(const std::string& src_bucket,
                                             const std::string& src_key,
                                             const std::string& dst_bucket,
                                             const std::string& dst_key, const CopyOptions& opts) {
  if (opts.etag == EtagMode::kFast) {
    return Status(Code::kNotImplemented, "COPY: an S3 server makes the ETag");
  }
  RawRequest r = Request("PUT", "COPY", dst_bucket, dst_key);
  r.headers.push_back({"x-amz-copy-source", CopySource(src_bucket, src_key)});
  if (opts.directive == MetadataDirective::kReplace) {
    PutOptions check;
    check.content_type = opts.content_type;
    check.user_meta = opts.user_meta;
    RETURN_IF_ERROR(ValidatePutOptions(check));
    r.headers.push_back({"x-amz-metadata-directive", "REPLACE"});
    AddMeta(opts.content_type, opts.user_meta, &r.headers);
  } else {
    r.headers.push_back({"x-amz-metadata-directive", "COPY"});
  }
  AddConditions(opts.source_conditions, "x-amz-copy-source-if-", &r.headers);
  if (opts.checksum_algorithm != ChecksumAlgorithm::kNone) {
    r.headers.push_back({"x-amz-checksum-algorithm", Name(opts.checksum_algorithm)});
  }
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  // S3 may answer 200 and still fail the copy: the document says.
  auto doc = ParseXmlTree(resp.body, "CopyObjectResult", kAnswerLimits);
  if (!doc.ok())
    return ErrorFromResponse(resp.status, resp.body, "COPY " + dst_bucket + "/" + dst_key);
  ObjectInfo info;
  info.bucket = dst_bucket;
  info.key = dst_key;
  info.etag = UnquoteEtag(doc->ChildText("ETag"));
  info.mod_time_ns = NsOfIso(doc->ChildText("LastModified"));
  ChecksumFromXml(*doc, &info);
  CompleteInfo(&info);
  return info;
}

// ---- multipart -------------------------------------------------------------------------------

Result<MultipartUpload> S3ObjectStore::CreateMultipartUpload(const std::string& bucket,
                                                             const std::string& key,
                                                             const CreateMultipartOptions& opts) {
  PutOptions check;
  check.content_type = opts.content_type;
  check.user_meta = opts.user_meta;
  RETURN_IF_ERROR(ValidatePutOptions(check));
  RawRequest r = Request("POST", "CreateMultipartUpload", bucket, key);
  r.query = "uploads=";
  AddMeta(opts.content_type, opts.user_meta, &r.headers);
  if (!opts.checksum_algorithm.empty()) {
    r.headers.push_back({"x-amz-checksum-algorithm", opts.checksum_algorithm});
  }
  if (opts.checksum_type != ChecksumType::kNone) {
    r.headers.push_back({"x-amz-checksum-type", Name(opts.checksum_type)});
  }
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  auto doc = ParseXmlTree(resp.body, "InitiateMultipartUploadResult", kAnswerLimits);
  if (!doc.ok()) return doc.status().WithContext("CreateMultipartUpload " + bucket + "/" + key);
  MultipartUpload up;
  up.bucket = bucket;
  up.key = key;
  up.upload_id = std::string(doc->ChildText("UploadId"));
  if (up.upload_id.empty()) return IOError("CreateMultipartUpload: no UploadId in the answer");
  up.initiated_ns = NsOfHttpDate(resp.Get("Date"), NowNs());
  ChecksumAlgorithm alg = ChecksumAlgorithm::kNone;
  if (!opts.checksum_algorithm.empty()) {
    ASSIGN_OR_RETURN(alg, ChecksumAlgorithmFromName(opts.checksum_algorithm));
    up.checksum_algorithm = Name(alg);
    ASSIGN_OR_RETURN(up.checksum_type, ChecksumTypeOf(resp.Get("x-amz-checksum-type")));
    if (up.checksum_type == ChecksumType::kNone) {
      ASSIGN_OR_RETURN(up.checksum_type, MultipartChecksumType(alg, opts.checksum_type));
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  upload_algorithms_[up.upload_id] = alg;
  return up;
}

Result<ChecksumAlgorithm> S3ObjectStore::UploadAlgorithm(const std::string& bucket,
                                                         const std::string& key,
                                                         const std::string& upload_id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = upload_algorithms_.find(upload_id);
    if (it != upload_algorithms_.end()) return it->second;
  }
  ListPartsOptions o;
  o.max_parts = 1;
  ASSIGN_OR_RETURN(ListPartsResult r, ListParts(bucket, key, upload_id, o));
  ChecksumAlgorithm alg = ChecksumAlgorithm::kNone;
  if (!r.upload.checksum_algorithm.empty()) {
    ASSIGN_OR_RETURN(alg, ChecksumAlgorithmFromName(r.upload.checksum_algorithm));
  }
  std::lock_guard<std::mutex> l(mu_);
  upload_algorithms_[upload_id] = alg;
  return alg;
}

Result<PartInfo> S3ObjectStore::SendPart(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, int part_number,
                                         const void* data, size_t len,
                                         const UploadPartOptions& opts) {
  if (opts.checksum_algorithm.empty() && !opts.checksum_value.empty()) {
    return InvalidArgument("UploadPart " + bucket + "/" + key +
                           ": a checksum value without its algorithm");
  }
  if (!opts.payload_sha256.empty()) {
    ASSIGN_OR_RETURN(auto want, ParsePayloadSha256Hex(opts.payload_sha256));
    ShaStream sha(ShaStream::Kind::kSha256);
    sha.Update(data, len);
    uint8_t got[32];
    sha.Final(got);
    if (std::memcmp(got, want.data(), 32) != 0) {
      return Status(Code::kContentSha256Mismatch,
                    "UploadPart: the part's SHA-256 is not the x-amz-content-sha256 promised");
    }
  }
  Payload body;
  body.data = data;
  body.size = len;
  RawRequest r = Request("PUT", "UploadPart " + std::to_string(part_number) + " of", bucket, key);
  r.query = "partNumber=" + std::to_string(part_number) +
            "&uploadId=" + UriEncodeQueryComponent(upload_id);
  r.body = &body;
  if (!opts.content_md5.empty()) r.headers.push_back({"Content-MD5", opts.content_md5});
  if (!opts.checksum_algorithm.empty()) {
    ASSIGN_OR_RETURN(ChecksumAlgorithm a, ChecksumAlgorithmFromName(opts.checksum_algorithm));
    if (!opts.checksum_value.empty()) {
      r.headers.push_back({HeaderName(a), opts.checksum_value});
    } else {
      r.headers.push_back({"x-amz-sdk-checksum-algorithm", Name(a)});
    }
  }
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  PartInfo p;
  p.part_number = part_number;
  p.etag = UnquoteEtag(resp.Get("ETag"));
  if (p.etag.empty()) return IOError(r.op + " " + bucket + "/" + key + ": no ETag in the answer");
  p.size = len;
  p.mod_time_ns = NsOfHttpDate(resp.Get("Date"), NowNs());
  ObjectInfo sums;
  InfoFromHeaders(resp, &sums);
  if (sums.checksum.algorithm != ChecksumAlgorithm::kNone) p.checksum = sums.checksum.Base64();
  return p;
}

Result<PartInfo> S3ObjectStore::UploadPart(const std::string& bucket, const std::string& key,
                                           const std::string& upload_id, int part_number,
                                           Source& src, const UploadPartOptions& opts) {
  std::string data;
  char chunk[64 << 10];
  while (true) {
    ASSIGN_OR_RETURN(size_t n, src.Read(chunk, sizeof chunk));
    if (n == 0) break;
    if (data.size() + n > kMaxPartSize) {
      return Status(Code::kEntityTooLarge, "UploadPart: a part takes at most 5 GiB");
    }
    data.append(chunk, n);
  }
  if (!opts.checksum_algorithm.empty() || !opts.checksum_value.empty()) {
    return SendPart(bucket, key, upload_id, part_number, data.data(), data.size(), opts);
  }
  // No checksum named: one of the upload's algorithm is computed here and sent, as the AWS SDKs
  // do (the server checks it, and Complete needs every part's).
  ASSIGN_OR_RETURN(ChecksumAlgorithm alg, UploadAlgorithm(bucket, key, upload_id));
  if (alg == ChecksumAlgorithm::kNone) {
    return SendPart(bucket, key, upload_id, part_number, data.data(), data.size(), opts);
  }
  UploadPartOptions with = opts;
  ChecksumStream sum(alg);
  sum.Update(data.data(), data.size());
  with.checksum_algorithm = Name(alg);
  with.checksum_value = sum.FinalValue().Base64();
  return SendPart(bucket, key, upload_id, part_number, data.data(), data.size(), with);
}

Result<ObjectInfo> S3ObjectStore::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    const std::vector<cairn::CompletedPart>& parts, const CompleteMultipartOptions& opts) {
  bool sums = !opts.checksum_value.empty();
  for (const auto& p : parts) sums |= !p.checksum.empty();
  ChecksumAlgorithm alg = ChecksumAlgorithm::kNone;
  if (sums) {
    ASSIGN_OR_RETURN(alg, UploadAlgorithm(bucket, key, upload_id));
  }
  std::string xml;
  XmlWriter w(&xml);
  w.Declaration();
  w.Open("CompleteMultipartUpload", kS3Namespace);
  for (const auto& p : parts) {
    w.Open("Part");
    w.Element("PartNumber", uint64_t(p.part_number));
    w.Element("ETag", Quote(p.etag));
    if (!p.checksum.empty() && alg != ChecksumAlgorithm::kNone) {
      w.Element(ChecksumElementName(alg), p.checksum);
    }
    w.Close();
  }
  w.Finish();
  const std::string what = "CompleteMultipartUpload " + bucket + "/" + key;
  RETURN_IF_ERROR(w.status().WithContext(what));
  Payload body;
  body.data = xml.data();
  body.size = xml.size();
  RawRequest r = Request("POST", "CompleteMultipartUpload", bucket, key);
  r.query = "uploadId=" + UriEncodeQueryComponent(upload_id);
  r.body = &body;
  r.headers.push_back({"Content-Type", "application/xml"});
  if (opts.if_none_match_star) r.headers.push_back({"If-None-Match", "*"});
  if (opts.if_match) r.headers.push_back({"If-Match", *opts.if_match});
  // The whole object's checksum the caller expects, and its type: the server checks them against
  // what the parts make (FULL_OBJECT, or COMPOSITE with "-N") before it publishes anything.
  if (!opts.checksum_value.empty()) {
    const ChecksumAlgorithm named =
        opts.checksum_algorithm != ChecksumAlgorithm::kNone ? opts.checksum_algorithm : alg;
    if (named == ChecksumAlgorithm::kNone) {
      return Status(Code::kInvalidRequest,
                    what + ": a checksum value for an upload created without a checksum");
    }
    r.headers.push_back({HeaderName(named), opts.checksum_value});
  }
  if (opts.checksum_type != ChecksumType::kNone) {
    r.headers.push_back({"x-amz-checksum-type", Name(opts.checksum_type)});
  }
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  auto doc = ParseXmlTree(resp.body, "CompleteMultipartUploadResult", kAnswerLimits);
  if (!doc.ok()) {
    Status s = ErrorFromResponse(resp.status, resp.body, what);
    return s.ok() ? doc.status().WithContext(what) : s;
  }
  ObjectInfo info;
  info.bucket = bucket;
  info.key = key;
  info.etag = UnquoteEtag(doc->ChildText("ETag"));
  info.mod_time_ns = NsOfHttpDate(resp.Get("Date"), NowNs());
  ChecksumFromXml(*doc, &info);
  CompleteInfo(&info);
  info.parts_count = uint32_t(parts.size());
  std::lock_guard<std::mutex> l(mu_);
  upload_algorithms_.erase(upload_id);
  return info;
}

Status S3ObjectStore::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                           const std::string& upload_id) {
  RawRequest r = Request("DELETE", "AbortMultipartUpload", bucket, key);
  r.query = "uploadId=" + UriEncodeQueryComponent(upload_id);
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  std::lock_guard<std::mutex> l(mu_);
  upload_algorithms_.erase(upload_id);
  return Status::Ok();
}

Result<PartInfo> S3ObjectStore::UploadPartCopy(const std::string& src_bucket,
                                               const std::string& src_key,
                                               const std::string& bucket, const std::string& key,
                                               const std::string& upload_id, int part_number,
                                               const CopyPartOptions& opts) {
  RawRequest r = Request("PUT", "UploadPartCopy " + std::to_string(part_number) + " of", bucket, key);
  r.query = "partNumber=" + std::to_string(part_number) +
            "&uploadId=" + UriEncodeQueryComponent(upload_id);
  r.headers.push_back({"x-amz-copy-source", CopySource(src_bucket, src_key)});
  if (opts.range) {
    r.headers.push_back({"x-amz-copy-source-range", "bytes=" + std::to_string(opts.range->first) +
                                                        "-" + std::to_string(opts.range->last)});
  }
  AddConditions(opts.source_conditions, "x-amz-copy-source-if-", &r.headers);
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  auto doc = ParseXmlTree(resp.body, "CopyPartResult", kAnswerLimits);
  if (!doc.ok()) return ErrorFromResponse(resp.status, resp.body, r.op + " " + bucket + "/" + key);
  PartInfo p;
  p.part_number = part_number;
  p.etag = UnquoteEtag(doc->ChildText("ETag"));
  p.mod_time_ns = NsOfIso(doc->ChildText("LastModified"));
  p.checksum = PartChecksumFromXml(*doc);
  if (opts.range) {
    p.size = opts.range->last - opts.range->first + 1;
  } else {
    // The answer does not say how many bytes were copied: the source's size, from a HEAD.
    auto h = Head(src_bucket, src_key, {}, nullptr, nullptr);
    if (h.ok()) p.size = h->size;
  }
  if (p.checksum.empty()) {
    // An answer without the part's checksum (cairn serve sends none): ListParts has it.
    ASSIGN_OR_RETURN(ChecksumAlgorithm alg, UploadAlgorithm(bucket, key, upload_id));
    if (alg != ChecksumAlgorithm::kNone) {
      ListPartsOptions lo;
      lo.max_parts = 1;
      lo.part_number_marker = part_number - 1;
      ASSIGN_OR_RETURN(ListPartsResult lp, ListParts(bucket, key, upload_id, lo));
      if (!lp.parts.empty() && lp.parts[0].part_number == part_number) {
        p.checksum = lp.parts[0].checksum;
      }
    }
  }
  return p;
}

Result<uint64_t> S3ObjectStore::AbortStaleUploads(int64_t older_than_ns) {
  if (older_than_ns < 0) return InvalidArgument("older_than_ns must not be negative");
  return Status(Code::kNotImplemented,
                "S3 has no call that removes stale uploads: a bucket lifecycle rule "
                "(AbortIncompleteMultipartUpload) does it on the server");
}

Result<ListPartsResult> S3ObjectStore::ListParts(const std::string& bucket, const std::string& key,
                                                 const std::string& upload_id,
                                                 const ListPartsOptions& opts) {
  RawRequest r;
  r.op = "ListParts";
  r.bucket = bucket;
  r.key = key;
  r.query = Query({{"max-parts", std::to_string(opts.max_parts)},
                   {"part-number-marker", std::to_string(opts.part_number_marker)},
                   {"uploadId", upload_id}});
  r.exact_codes = true;
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  auto doc = ParseXmlTree(resp.body, "ListPartsResult", kAnswerLimits);
  if (!doc.ok()) return doc.status().WithContext("ListParts " + bucket + "/" + key);
  ListPartsResult out;
  out.upload.bucket = bucket;
  out.upload.key = key;
  out.upload.upload_id = upload_id;
  out.upload.checksum_algorithm = std::string(doc->ChildText("ChecksumAlgorithm"));
  ASSIGN_OR_RETURN(out.upload.checksum_type, ChecksumTypeOf(doc->ChildText("ChecksumType")));
  out.truncated = doc->ChildText("IsTruncated") == "true";
  out.next_part_number_marker =
      int(std::strtol(std::string(doc->ChildText("NextPartNumberMarker")).c_str(), nullptr, 10));
  for (const auto& e : doc->children) {
    if (e.name != "Part") continue;
    PartInfo p;
    p.part_number = int(std::strtol(std::string(e.ChildText("PartNumber")).c_str(), nullptr, 10));
    p.etag = UnquoteEtag(e.ChildText("ETag"));
    p.size = std::strtoull(std::string(e.ChildText("Size")).c_str(), nullptr, 10);
    p.mod_time_ns = NsOfIso(e.ChildText("LastModified"));
    p.checksum = PartChecksumFromXml(e);
    out.parts.push_back(std::move(p));
  }
  return out;
}

Result<ListUploadsResult> S3ObjectStore::ListMultipartUploads(const std::string& bucket,
                                                              const ListUploadsOptions& opts) {
  RawRequest r;
  r.op = "ListMultipartUploads";
  r.bucket = bucket;
  std::string& q = r.query;
  if (!opts.delimiter.empty()) q += "delimiter=" + UriEncodeQueryComponent(opts.delimiter) + "&";
  q += "encoding-type=url";
  if (!opts.key_marker.empty()) q += "&key-marker=" + UriEncodeQueryComponent(opts.key_marker);
  q += "&max-uploads=" + std::to_string(opts.max_uploads);
  if (!opts.prefix.empty()) q += "&prefix=" + UriEncodeQueryComponent(opts.prefix);
  if (!opts.upload_id_marker.empty()) {
    q += "&upload-id-marker=" + UriEncodeQueryComponent(opts.upload_id_marker);
  }
  q += "&uploads=";
  r.exact_codes = true;
  http::Response resp;
  RETURN_IF_ERROR(client_->Send(r, &resp));
  auto doc = ParseXmlTree(resp.body, "ListMultipartUploadsResult", kAnswerLimits);
  if (!doc.ok()) return doc.status().WithContext("ListMultipartUploads " + bucket);
  const bool url = doc->ChildText("EncodingType") == "url";
  auto text = [url](std::string_view s) -> Result<std::string> {
    if (!url) return std::string(s);
    std::string out;
    RETURN_IF_ERROR(server::PercentDecode(s, &out));
    return out;
  };
  ListUploadsResult out;
  out.truncated = doc->ChildText("IsTruncated") == "true";
  ASSIGN_OR_RETURN(out.next_key_marker, text(doc->ChildText("NextKeyMarker")));
  out.next_upload_id_marker = std::string(doc->ChildText("NextUploadIdMarker"));
  for (const auto& e : doc->children) {
    if (e.name == "Upload") {
      MultipartUpload u;
      u.bucket = bucket;
      ASSIGN_OR_RETURN(u.key, text(e.ChildText("Key")));
      u.upload_id = std::string(e.ChildText("UploadId"));
      u.initiated_ns = NsOfIso(e.ChildText("Initiated"));
      u.checksum_algorithm = std::string(e.ChildText("ChecksumAlgorithm"));
      ASSIGN_OR_RETURN(u.checksum_type, ChecksumTypeOf(e.ChildText("ChecksumType")));
      out.uploads.push_back(std::move(u));
    } else if (e.name == "CommonPrefixes") {
      ASSIGN_OR_RETURN(std::string p, text(e.ChildText("Prefix")));
      out.common_prefixes.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace cairn::s3
