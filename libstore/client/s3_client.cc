#include "libstore/client/s3_client.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <unordered_map>

#include "libstore/common/base64.h"
#include "libstore/common/checksum.h"
#include "libstore/common/hash.h"
#include "libstore/common/stage_threads.h"
#include "libstore/s3/errors.h"
#include "libstore/s3/sigv4_canonical.h"
#include "libstore/s3/xml.h"

namespace cairn::s3 {

namespace {

constexpr size_t kHashBuffer = size_t{1} << 20;
// Listing pages of 1,000 keys of up to 1,024 bytes each, escaped: well above the request limit.
const XmlLimits kResponseLimits{size_t{64} << 20, 8};

std::string LowerHex(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'F') ? char(c - 'A' + 'a') : c;
  return out;
}

std::string Unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

// Reads [offset, offset + size) of fd with pread; re-created for every attempt.
class PreadSource : public Source {
 public:
  PreadSource(int fd, uint64_t offset, uint64_t size) : fd_(fd), pos_(offset), end_(offset + size) {}
  Result<size_t> Read(void* buf, size_t n) override {
    n = size_t(std::min<uint64_t>(n, end_ - pos_));
    if (n == 0) return size_t{0};
    while (true) {
      ssize_t r = ::pread(fd_, buf, n, off_t(pos_));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return PosixError("reading the upload body", errno);
      if (r == 0) return Status(Code::kIncompleteBody, "the file shrank while it was uploaded");
      pos_ += uint64_t(r);
      return size_t(r);
    }
  }

 private:
  int fd_;
  uint64_t pos_, end_;
};

// MD5 (always) and SHA-256 (when sha256 is not null) of a payload, in one pass.
Status HashPayload(const Payload& p, uint8_t md5[16], std::string* sha256) {
  Md5Stream m;
  ShaStream s(ShaStream::Kind::kSha256);
  if (p.fd < 0) {
    m.Update(p.data, p.size);
    if (sha256 != nullptr) s.Update(p.data, p.size);
  } else {
    std::vector<uint8_t> buf(std::min<uint64_t>(kHashBuffer, std::max<uint64_t>(p.size, 1)));
    PreadSource src(p.fd, p.offset, p.size);
    uint64_t left = p.size;
    while (left > 0) {
      ASSIGN_OR_RETURN(size_t n, src.Read(buf.data(), buf.size()));
      m.Update(buf.data(), n);
      if (sha256 != nullptr) s.Update(buf.data(), n);
      left -= n;
    }
  }
  m.Final(md5);
  if (sha256 != nullptr) {
    uint8_t d[32];
    s.Final(d);
    *sha256 = ToHex(d, 32);
  }
  return Status::Ok();
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(char(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string Describe(std::string_view op, const std::string& bucket, const std::string& key) {
  std::string s(op);
  if (bucket.empty()) return s;  // ListBuckets
  s += ' ';
  s += bucket;
  if (!key.empty()) s += "/" + key;
  return s;
}

// Hashes what passes through and counts it; a GET's sink. With `answer` (the response being
// received, whose headers are in when the body starts), it also computes the full-object
// x-amz-checksum-* the first answer carries, to check it at the end.
class CountingSink : public Sink {
 public:
  CountingSink(Sink& inner, bool hash, const http::Response* answer = nullptr)
      : inner_(inner), hash_(hash), answer_(answer) {}
  Status Write(const void* data, size_t n) override {
    if (delivered_ == 0 && answer_ != nullptr && checksum_header_.empty()) PickChecksum();
    if (hash_) md5_.Update(data, n);
    if (checksum_.algorithm() != ChecksumAlgorithm::kNone) checksum_.Update(data, n);
    RETURN_IF_ERROR(inner_.Write(data, n));
    delivered_ += n;
    return Status::Ok();
  }
  uint64_t delivered() const { return delivered_; }
  std::string Md5Hex() { return md5_.FinalHex(); }
  // The checksum header of the first answer (also of an empty body) and its value; "" for none.
  void PickChecksum() {
    for (const auto& h : answer_->headers) {
      if (h.name.size() <= 15 || !IEquals(h.name.substr(0, 15), "x-amz-checksum-")) continue;
      auto a = ChecksumAlgorithmFromHeader(h.name);
      if (!a.ok()) continue;  // -type, -mode
      checksum_header_ = std::string(h.name);
      checksum_value_ = std::string(h.value);
      // A COMPOSITE value ("<base64>-N") is a checksum of the parts' checksums: the bytes alone
      // cannot give it (the part sizes are not known here), so only full-object values are
      // computed and checked.
      if (checksum_value_.find('-') == std::string::npos) checksum_.Reset(*a);
      return;
    }
    checksum_header_ = "-";  // looked: none
  }
  // After the body: kCorruption when a full-object checksum was sent and the bytes differ.
  // *checked: whether there was one to check.
  Status VerifyChecksum(const std::string& what, bool* checked) {
    *checked = false;
    if (answer_ != nullptr && checksum_header_.empty()) PickChecksum();
    if (checksum_.algorithm() == ChecksumAlgorithm::kNone) return Status::Ok();
    const std::string got = checksum_.FinalValue().Base64();
    if (got != checksum_value_) {
      return Corruption(what + ": the body's " + checksum_header_ + " " + got +
                        " does not match the server's " + checksum_value_ +
                        " (corrupted in transit)");
    }
    *checked = true;
    return Status::Ok();
  }
  const std::string& checksum_header() const { return checksum_header_; }
  const std::string& checksum_value() const { return checksum_value_; }

 private:
  Sink& inner_;
  bool hash_;
  const http::Response* answer_;
  Md5Stream md5_;
  ChecksumStream checksum_;
  std::string checksum_header_, checksum_value_;
  uint64_t delivered_ = 0;
};

// Writes a ranged GET's body at its offsets of fd; on_bytes is called under a shared lock.
class PwriteSink : public Sink {
 public:
  PwriteSink(int fd, uint64_t offset, std::mutex& mu, const std::function<void(uint64_t)>& on_bytes)
      : fd_(fd), pos_(offset), mu_(mu), on_bytes_(on_bytes) {}
  Status Write(const void* data, size_t n) override {
    const char* d = static_cast<const char*>(data);
    const size_t total = n;
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, d, n, off_t(pos_));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return PosixError("writing the download", errno);
      d += w;
      n -= size_t(w);
      pos_ += uint64_t(w);
    }
    if (on_bytes_) {
      std::lock_guard<std::mutex> l(mu_);
      on_bytes_(total);
    }
    return Status::Ok();
  }

 private:
  int fd_;
  uint64_t pos_;
  std::mutex& mu_;
  const std::function<void(uint64_t)>& on_bytes_;
};

}  // namespace

namespace {

// Feeds bytes [off, off + len) of fd to md5, through buf.
Status Md5OfRange(int fd, uint64_t off, uint64_t len, Md5Stream& md5, std::vector<char>& buf,
                  const std::string& what) {
  for (const uint64_t end = off + len; off < end;) {
    const ssize_t r =
        ::pread(fd, buf.data(), size_t(std::min<uint64_t>(buf.size(), end - off)), off_t(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return PosixError(what + ": reading the download back", r == 0 ? EIO : errno);
    md5.Update(buf.data(), size_t(r));
    off += uint64_t(r);
  }
  return Status::Ok();
}

// The multipart ETag of fd's bytes cut into parts of these sizes: the MD5 of their binary MD5s.
Result<std::string> MultipartEtagOf(int fd, const std::vector<uint64_t>& sizes,
                                    std::vector<char>& buf, const std::string& what) {
  Md5Stream outer, part;
  uint64_t off = 0;
  for (uint64_t len : sizes) {
    part.Reset();
    RETURN_IF_ERROR(Md5OfRange(fd, off, len, part, buf, what));
    uint8_t bin[16];
    part.Final(bin);
    outer.Update(bin, sizeof bin);
    off += len;
  }
  return outer.FinalHex() + "-" + std::to_string(sizes.size());
}

}  // namespace

Status S3Client::DownloadRanges(const std::string& bucket, const std::string& key,
                                const ObjectHead& head, int fd, uint64_t part_size, int jobs,
                                const std::function<void(uint64_t)>& on_bytes) {
  const std::string what = Describe("GET", bucket, key);
  if (part_size == 0 || jobs < 1) return InvalidArgument(what + ": no part size or jobs");
  if (::ftruncate(fd, off_t(head.size)) != 0) return PosixError(what + ": sizing the file", errno);
  const uint64_t parts = (head.size + part_size - 1) / part_size;
  std::atomic<uint64_t> next{0};
  std::mutex mu;
  Status first;
  auto worker = [&] {
    while (true) {
      const uint64_t i = next.fetch_add(1);
      if (i >= parts) return;
      {
        std::lock_guard<std::mutex> l(mu);
        if (!first.ok()) return;
      }
      const uint64_t off = i * part_size, len = std::min(part_size, head.size - off);
      GetOptions go;
      go.range = std::make_pair(off, off + len - 1);
      if (!head.etag.empty()) go.if_match = "\"" + head.etag + "\"";
      PwriteSink sink(fd, off, mu, on_bytes);
      auto got = GetObject(bucket, key, sink, go);
      Status s = got.status();
      if (s.ok() && got->size != len) {
        s = Status(Code::kIncompleteBody, what + ": the range at " + std::to_string(off) +
                                              " brought " + std::to_string(got->size) + " of " +
                                              std::to_string(len) + " bytes");
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok()) first = s;
        return;
      }
    }
  };
  {
    // The ranges are shared out through `next`: this thread takes its share, and with fewer
    // threads than asked (the system cannot start more) the ones running take the rest.
    StageGroup others;
    const int n = int(std::min<uint64_t>(uint64_t(jobs), parts));
    for (int t = 1; t < n && others.Run(worker); ++t) {
    }
    worker();
  }
  RETURN_IF_ERROR(first);
  return VerifyDownload(bucket, key, head, fd);
}

Status S3Client::VerifyDownload(const std::string& bucket, const std::string& key,
                                const ObjectHead& head, int fd) {
  const std::string what = Describe("GET", bucket, key);
  if (!IsMd5Etag(head.etag)) return VerifyMultipartEtag(bucket, key, head, fd, what);
  // The ranges arrived out of order: the MD5 is taken from the file.
  Md5Stream md5;
  std::vector<char> buf(kHashBuffer);
  RETURN_IF_ERROR(Md5OfRange(fd, 0, head.size, md5, buf, what));
  const std::string got = md5.FinalHex();
  if (got != LowerHex(head.etag)) {
    return Corruption(what + ": the body's MD5 " + got + " does not match the ETag " + head.etag +
                      " (corrupted in transit)");
  }
  return Status::Ok();
}


// The first row of the shared table that names the S3 code.
Code CodeOfS3Error(std::string_view s3code) {
  if (s3code == "NoSuchKey") return Code::kNotFound;
  for (int c = 1; c <= int(Code::kLastCode); ++c) {
    if (s3code == S3ErrorFor(Code(c)).code) return Code(c);
  }
  return Code::kIOError;
}

bool IsMd5Etag(std::string_view etag) {
  if (etag.size() != 32) return false;
  for (char c : etag) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// The 16 bytes of a 32-digit hex MD5 (IsMd5Etag(hex) must hold).
void Md5Bytes(std::string_view hex, uint8_t out[16]) {
  auto nib = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return uint8_t(c - '0');
    return uint8_t((c | 0x20) - 'a' + 10);
  };
  for (size_t i = 0; i < 16; ++i) out[i] = uint8_t(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
}

namespace {

// ErrorFromResponse; exact_codes: RawRequest::exact_codes.
Status ErrorFromAnswer(int http_status, std::string_view body, std::string_view context,
                      bool exact_codes) {
  const Status by_http = http::StatusForHttp(http_status, context);
  auto doc = ParseXmlTree(body, "Error", kResponseLimits);
  if (!doc.ok() || doc->ChildText("Code").empty()) {
    if (http_status >= 200 && http_status < 300) {
      return IOError(std::string(context) + ": an answer S3 does not give (HTTP " +
                     std::to_string(http_status) + ")");
    }
    return by_http;
  }
  const std::string s3code(doc->ChildText("Code"));
  Code code = CodeOfS3Error(s3code);
  // The server refused what it was sent: for the user an operation that failed (exit 1), not a
  // usage error of the command line.
  if (!exact_codes && (code == Code::kInvalidArgument || code == Code::kInvalidRange)) {
    code = Code::kIOError;
  }
  std::string msg(context);
  msg += ": " + s3code;
  if (!doc->ChildText("Message").empty()) msg += ": " + std::string(doc->ChildText("Message"));
  const bool retry = by_http.retryable() || RetryableByDefault(code) || s3code == "SlowDown" ||
                     s3code == "InternalError" || s3code == "RequestTimeout";
  return Status(code, std::move(msg)).WithRetryable(retry);
}

}  // namespace

Status ErrorFromResponse(int http_status, std::string_view body, std::string_view context) {
  return ErrorFromAnswer(http_status, body, context, false);
}

// One logical request (sent once, or again on a retryable failure).
struct S3Client::Call {
  std::string_view method;
  std::string op;  // for messages: "GET", "ListObjectsV2"...
  std::string bucket, key;
  std::string query;  // encoded, without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  const Payload* body = nullptr;
  std::string payload_hash;  // hex SHA-256 or UNSIGNED-PAYLOAD; empty: the empty body's
  Sink* sink = nullptr;
  bool idempotent = true;
  bool exact_codes = false;  // RawRequest::exact_codes
  int attempts = 0;  // set by Execute: how many times it was sent
  // Called before a retry with the failed attempt's response; false: do not retry.
  std::function<bool(const http::Response&)> before_retry;
  std::string context() const { return Describe(op, bucket, key); }
};

S3Client::S3Client(S3ClientOptions opts) : opts_(std::move(opts)) {
  rng_.seed(opts_.jitter_seed != 0 ? opts_.jitter_seed : std::random_device()());
  if (!opts_.sleep) opts_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

S3Client::~S3Client() = default;

Result<std::unique_ptr<S3Client>> S3Client::Create(S3ClientOptions opts) {
  if (opts.max_attempts < 1) return InvalidArgument("the number of attempts must be at least 1");
  std::unique_ptr<S3Client> c(new S3Client(std::move(opts)));
  http::ClientOptions co;
  co.verify_tls = c->opts_.config.verify_tls;
  co.ca_bundle = c->opts_.config.ca_bundle;
  co.user_agent = "cairn";
  ASSIGN_OR_RETURN(c->http_, http::HttpClient::Create(co));
  SignerOptions so;
  so.access_key = c->opts_.config.access_key;
  so.secret_key = c->opts_.config.secret_key;
  so.session_token = c->opts_.config.session_token;
  so.region = c->opts_.config.region;
  so.clock = c->opts_.clock;
  so.key_cache = &c->key_cache_;
  c->signer_ = std::make_unique<Signer>(so);
  return c;
}

uint64_t S3Client::retries() const {
  std::lock_guard<std::mutex> l(mu_);
  return retries_;
}

Result<std::unique_ptr<http::HttpConnection>> S3Client::Lease() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return http_->Connect();
}

void S3Client::Return(std::unique_ptr<http::HttpConnection> c) {
  std::lock_guard<std::mutex> l(mu_);
  idle_.push_back(std::move(c));
}

std::chrono::milliseconds S3Client::Backoff(int attempt) {
  // Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
  const int shift = std::min(attempt - 1, 20);
  const int64_t ceiling =
      std::min<int64_t>(opts_.backoff_cap.count(), opts_.backoff_base.count() << shift);
  std::lock_guard<std::mutex> l(mu_);
  std::uniform_int_distribution<int64_t> d(0, std::max<int64_t>(ceiling, 0));
  return std::chrono::milliseconds(d(rng_));
}

Status S3Client::Attempt(Call& call, http::HttpConnection& conn, http::Response* resp) {
  const S3Endpoint& ep = opts_.config.endpoint;
  const bool virtual_host = !ep.path_style && !call.bucket.empty() &&
                            call.bucket.find('.') == std::string::npos;
  std::string host = virtual_host ? call.bucket + "." + ep.host : ep.host;
  // "/bucket/key" (path style) or "/key" (virtual-hosted); "/bucket" for bucket requests.
  std::string target = ep.path;
  target.push_back('/');
  if (!virtual_host && !call.bucket.empty()) {
    AppendUriEncoded(call.bucket, true, &target);
    if (!call.key.empty()) target.push_back('/');
  }
  AppendUriEncoded(call.key, false, &target);
  if (!call.query.empty()) target += "?" + call.query;
  const std::string url = (ep.https ? "https://" : "http://") + host + target;

  std::vector<HttpHeader> to_sign;
  to_sign.reserve(call.headers.size() + 1);
  to_sign.push_back({"host", host});
  for (const auto& [n, v] : call.headers) to_sign.push_back({n, v});
  std::vector<http::Header> hs;
  hs.reserve(call.headers.size() + 6);
  hs.push_back({"Host", host});
  hs.push_back({"Expect", ""});  // no 100-continue round trip
  for (const auto& [n, v] : call.headers) hs.push_back({n, v});
  std::optional<SignedHeaders> sh;
  if (opts_.config.has_credentials()) {
    const std::string_view payload =
        call.payload_hash.empty() ? kEmptySha256Hex : std::string_view(call.payload_hash);
    auto r = signer_->Sign(call.method, target, to_sign, payload);
    if (!r.ok()) return r.status().WithContext(call.context());
    sh = std::move(r).value();
    hs.push_back({"x-amz-date", sh->amz_date});
    hs.push_back({"x-amz-content-sha256", sh->content_sha256});
    hs.push_back({"Authorization", sh->authorization});
    if (!sh->security_token.empty()) hs.push_back({"x-amz-security-token", sh->security_token});
  }
  http::Request q;
  q.method = call.method;
  q.url = url;
  q.headers = hs;
  q.sink = call.sink;
  q.errors_to_body = true;
  std::optional<PreadSource> src;
  if (call.body != nullptr) {
    q.body_size = call.body->size;
    if (call.body->fd >= 0) {
      src.emplace(call.body->fd, call.body->offset, call.body->size);
      q.body_source = &*src;
    } else {
      q.body_data = call.body->data;
    }
  }
  Status s = conn.Do(q, resp);
  if (!s.ok()) return s.WithContext(call.context());
  if (resp->status >= 200 && resp->status < 300) return Status::Ok();
  return ErrorFromAnswer(resp->status, resp->body, call.context(), call.exact_codes);
}

Status S3Client::Execute(Call& call, http::Response* resp) {
  Status last;
  int attempt = 1;
  for (;; ++attempt) {
    ASSIGN_OR_RETURN(auto conn, Lease());
    call.attempts = attempt;
    last = Attempt(call, *conn, resp);
    Return(std::move(conn));
    if (last.ok()) return last;
    if (!last.retryable() || !call.idempotent || attempt >= opts_.max_attempts) break;
    if (call.before_retry && !call.before_retry(*resp)) break;
    opts_.sleep(Backoff(attempt));
    std::lock_guard<std::mutex> l(mu_);
    ++retries_;
  }
  if (attempt == 1) return last;
  return Status(last.code(), last.message() + " (after " + std::to_string(attempt) + " attempts)")
      .WithRetryable(last.retryable());
}

Status S3Client::VerifyMultipartEtag(const std::string& bucket, const std::string& key,
                                     const ObjectHead& head, int fd, const std::string& what) {
  const std::string etag = LowerHex(head.etag);
  const size_t dash = etag.find('-');
  if (dash != 32 || !IsMd5Etag(etag.substr(0, 32)) || dash + 1 >= etag.size()) {
    return Status::Ok();  // neither an MD5 nor a multipart ETag: nothing to check against
  }
  const std::string count_text = etag.substr(dash + 1);
  if (count_text.find_first_not_of("0123456789") != std::string::npos || count_text.size() > 5) {
    return Status::Ok();
  }
  const uint64_t count = std::strtoull(count_text.c_str(), nullptr, 10);
  if (count == 0 || count > 10000) return Status::Ok();
  // The size of part n, from HEAD ?partNumber=n (pinned to the same object); 0: not told.
  auto part_size = [&](uint64_t n, bool* counted) -> uint64_t {
    Call c;
    c.method = "HEAD";
    c.op = "HEAD";
    c.bucket = bucket;
    c.key = key;
    c.query = "partNumber=" + std::to_string(n);
    c.headers.push_back({"If-Match", "\"" + head.etag + "\""});
    http::Response resp;
    if (!Execute(c, &resp).ok()) return 0;
    *counted = std::strtoull(std::string(resp.Get("x-amz-mp-parts-count")).c_str(), nullptr,
                             10) == count;
    return std::strtoull(std::string(resp.Get("Content-Length")).c_str(), nullptr, 10);
  };
  bool counted = false;
  const uint64_t first = part_size(1, &counted);
  if (!counted || first == 0) return Status::Ok();  // the server does not say: unchecked
  std::vector<char> buf(kHashBuffer);
  std::vector<uint64_t> sizes;
  // Most uploaders cut equal parts: try that first (one HEAD), then ask for every part's size.
  if (first * (count - 1) < head.size && head.size - first * (count - 1) <= first) {
    sizes.assign(count - 1, first);
    sizes.push_back(head.size - first * (count - 1));
    ASSIGN_OR_RETURN(std::string got, MultipartEtagOf(fd, sizes, buf, what));
    if (got == etag) return Status::Ok();
  }
  sizes.assign(1, first);
  uint64_t total = first;
  for (uint64_t n = 2; n <= count; ++n) {
    bool ok = false;
    const uint64_t len = part_size(n, &ok);
    if (!ok || len == 0) return Status::Ok();
    sizes.push_back(len);
    total += len;
  }
  if (total == head.size) {
    ASSIGN_OR_RETURN(std::string got, MultipartEtagOf(fd, sizes, buf, what));
    if (got == etag) return Status::Ok();
  }
  return Corruption(what + ": the body does not match the multipart ETag " + head.etag +
                    " (corrupted in transit)");
}

Status S3Client::AttachBody(Call& c, const Payload& body, uint8_t md5[16]) {
  c.body = &body;
  const bool sign_body = !opts_.config.endpoint.https;
  RETURN_IF_ERROR(HashPayload(body, md5, sign_body ? &c.payload_hash : nullptr)
                      .WithContext(c.context()));
  if (!sign_body) c.payload_hash = std::string(kUnsignedPayload);
  c.headers.push_back({"Content-MD5", Base64Encode(md5, 16)});
  return Status::Ok();
}

// ---- operations ---------------------------------------------------------------------------

Result<std::vector<BucketEntry>> S3Client::ListBuckets() {
  Call c;
  c.method = "GET";
  c.op = "ListBuckets";
  http::Response resp;
  RETURN_IF_ERROR(Execute(c, &resp));
  auto doc = ParseXmlTree(resp.body, "ListAllMyBucketsResult", kResponseLimits);
  if (!doc.ok()) return doc.status().WithContext(c.context());
  std::vector<BucketEntry> out;
  if (const XmlElement* bs = doc->Child("Buckets")) {
    for (const auto& b : bs->children) {
      if (b.name != "Bucket") continue;
      out.push_back({std::string(b.ChildText("Name")), std::string(b.ChildText("CreationDate"))});
    }
  }
  return out;
}

Status S3Client::ListObjects(const std::string& bucket, const ListParams& p,
                             const std::function<Status(const ListPage&)>& on_page) {
  ListParams q = p;
  q.continuation_token.clear();
  ListPage page;
  while (true) {
    RETURN_IF_ERROR(ListObjectsPage(bucket, q, &page));
    RETURN_IF_ERROR(on_page(page));
    if (!page.truncated) return Status::Ok();
    q.continuation_token = std::move(page.next_token);
  }
}

Status S3Client::ListObjectsPage(const std::string& bucket, const ListParams& p, ListPage* page) {
  const std::string& token = p.continuation_token;
  http::Response resp;
  Call c;
  c.method = "GET";
  c.op = "ListObjectsV2";
  c.bucket = bucket;
  // Parameters in sorted order (the signer sorts anyway); keys come back URL-encoded so that
  // any byte survives the XML.
  std::string& q = c.query;
  if (!token.empty()) q += "continuation-token=" + UriEncodeQueryComponent(token) + "&";
  if (!p.delimiter.empty()) q += "delimiter=" + UriEncodeQueryComponent(p.delimiter) + "&";
  q += "encoding-type=url&list-type=2";
  q += "&max-keys=" + std::to_string(p.max_keys);
  if (!p.prefix.empty()) q += "&prefix=" + UriEncodeQueryComponent(p.prefix);
  if (!p.start_after.empty() && token.empty())
    q += "&start-after=" + UriEncodeQueryComponent(p.start_after);
  RETURN_IF_ERROR(Execute(c, &resp));
  auto doc = ParseXmlTree(resp.body, "ListBucketResult", kResponseLimits);
  if (!doc.ok()) return doc.status().WithContext(c.context());
  const bool url = doc->ChildText("EncodingType") == "url";
  auto text = [url](std::string_view s) { return url ? PercentDecode(s) : std::string(s); };
  page->objects.clear();
  page->common_prefixes.clear();
  for (const auto& e : doc->children) {
    if (e.name == "Contents") {
      ObjectEntry o;
      o.key = text(e.ChildText("Key"));
      o.etag = Unquote(e.ChildText("ETag"));
      o.last_modified = e.ChildText("LastModified");
      o.storage_class = e.ChildText("StorageClass");
      const std::string_view size = e.ChildText("Size");
      o.size = std::strtoull(std::string(size).c_str(), nullptr, 10);
      page->objects.push_back(std::move(o));
    } else if (e.name == "CommonPrefixes") {
      page->common_prefixes.push_back(text(e.ChildText("Prefix")));
    }
  }
  page->truncated = doc->ChildText("IsTruncated") == "true";
  page->next_token.clear();
  if (!page->truncated) return Status::Ok();
  page->next_token = std::string(doc->ChildText("NextContinuationToken"));
  if (page->next_token.empty() || page->next_token == token) {
    return IOError(c.context() + ": a truncated listing without a new continuation token");
  }
  return Status::Ok();
}

Status S3Client::Send(const RawRequest& r, http::Response* resp) {
  Call c;
  c.method = r.method;
  c.op = r.op;
  c.bucket = r.bucket;
  c.key = r.key;
  c.query = r.query;
  c.headers = r.headers;
  c.sink = r.sink;
  c.idempotent = r.idempotent;
  c.exact_codes = r.exact_codes;
  if (r.body != nullptr) {
    bool has_md5 = false;
    for (const auto& h : r.headers) has_md5 |= IEquals(h.first, "content-md5");
    uint8_t md5[16];
    RETURN_IF_ERROR(AttachBody(c, *r.body, md5));
    if (has_md5) c.headers.pop_back();  // the caller's own Content-MD5 (AttachBody added one last)
  }
  return Execute(c, resp);
}

Result<ObjectHead> S3Client::HeadObject(const std::string& bucket, const std::string& key) {
  Call c;
  c.method = "HEAD";
  c.op = "HEAD";
  c.bucket = bucket;
  c.key = key;
  http::Response resp;
  RETURN_IF_ERROR(Execute(c, &resp));
  ObjectHead h;
  h.size = std::strtoull(std::string(resp.Get("Content-Length")).c_str(), nullptr, 10);
  h.etag = Unquote(resp.Get("ETag"));
  h.last_modified = resp.Get("Last-Modified");
  h.content_type = resp.Get("Content-Type");
  return h;
}

Result<ObjectHead> S3Client::GetObject(const std::string& bucket, const std::string& key,
                                       Sink& sink, const GetOptions& o) {
  http::Response resp;
  const bool whole = !o.range;
  const bool check_sum = o.verify_checksum && whole;
  CountingSink counting(sink, o.verify_md5 && whole, check_sum ? &resp : nullptr);
  Call c;
  c.method = "GET";
  c.op = "GET";
  c.bucket = bucket;
  c.key = key;
  c.sink = &counting;
  if (check_sum) c.headers.push_back({"x-amz-checksum-mode", "ENABLED"});
  auto range = [&](uint64_t first) {
    std::string r = "bytes=" + std::to_string(first) + "-";
    if (o.range) r += std::to_string(o.range->second);
    return r;
  };
  if (o.range) c.headers.push_back({"Range", range(o.range->first)});
  std::string pinned_etag = o.if_match;
  if (!pinned_etag.empty()) c.headers.push_back({"If-Match", pinned_etag});
  uint64_t resumed_at = 0;
  c.before_retry = [&](const http::Response& failed) {
    if (counting.delivered() == 0) return true;  // nothing written: send it again as it was
    // Resume after what the sink has, from the same object.
    if (pinned_etag.empty()) pinned_etag = std::string(failed.Get("ETag"));
    if (pinned_etag.empty()) return false;
    c.headers.clear();
    c.headers.push_back({"If-Match", pinned_etag});
    resumed_at = counting.delivered();
    c.headers.push_back({"Range", range((o.range ? o.range->first : 0) + resumed_at)});
    return true;
  };
  RETURN_IF_ERROR(Execute(c, &resp));
  if (resumed_at > 0 && resp.status != 206) {
    return IOError(c.context() + ": the resumed download was answered with HTTP " +
                   std::to_string(resp.status) + " instead of 206");
  }
  ObjectHead h;
  h.size = counting.delivered();
  h.etag = Unquote(resp.Get("ETag"));
  h.last_modified = resp.Get("Last-Modified");
  h.content_type = resp.Get("Content-Type");
  h.total_size = h.size;
  if (const std::string_view cr = resp.Get("Content-Range"); resp.status == 206 && !cr.empty()) {
    const size_t slash = cr.rfind('/');
    if (slash != std::string_view::npos && slash + 1 < cr.size() && cr[slash + 1] != '*') {
      h.total_size = std::strtoull(std::string(cr.substr(slash + 1)).c_str(), nullptr, 10);
    }
  }
  if (whole) {
    const std::string_view len = resp.Get("Content-Length");
    const uint64_t expect =
        resumed_at + (len.empty() ? counting.delivered() - resumed_at
                                  : std::strtoull(std::string(len).c_str(), nullptr, 10));
    if (expect != counting.delivered()) {
      return Status(Code::kIncompleteBody, c.context() + ": received " +
                                               std::to_string(counting.delivered()) + " of " +
                                               std::to_string(expect) + " bytes");
    }
    if (o.verify_md5 && IsMd5Etag(h.etag)) {
      const std::string got = counting.Md5Hex();
      if (got != h.etag && got != LowerHex(h.etag)) {
        return Corruption(c.context() + ": the body's MD5 " + got +
                          " does not match the ETag " + h.etag + " (corrupted in transit)");
      }
    }
    if (check_sum) {
      RETURN_IF_ERROR(counting.VerifyChecksum(c.context(), &h.checksum_verified));
      if (counting.checksum_header() != "-") {
        h.checksum_header = counting.checksum_header();
        h.checksum_value = counting.checksum_value();
      }
    }
  }
  return h;
}

Result<std::string> S3Client::PutObject(const std::string& bucket, const std::string& key,
                                        const Payload& body) {
  Call c;
  c.method = "PUT";
  c.op = "PUT";
  c.bucket = bucket;
  c.key = key;
  uint8_t md5[16];
  RETURN_IF_ERROR(AttachBody(c, body, md5));
  if (!body.content_type.empty()) c.headers.push_back({"Content-Type", body.content_type});
  http::Response resp;
  RETURN_IF_ERROR(Execute(c, &resp));
  std::string etag = Unquote(resp.Get("ETag"));
  const std::string want = ToHex(md5, 16);
  if (IsMd5Etag(etag) && LowerHex(etag) != want) {
    return Corruption(c.context() + ": the server's ETag " + etag + " is not the body's MD5 " + want);
  }
  return etag;
}

Status S3Client::DeleteObject(const std::string& bucket, const std::string& key) {
  Call c;
  c.method = "DELETE";
  c.op = "DELETE";
  c.bucket = bucket;
  c.key = key;
  http::Response resp;
  return Execute(c, &resp);
}

Status S3Client::DeleteObjects(const std::string& bucket, const std::vector<std::string>& keys,
                               std::vector<DeleteResult>* results) {
  results->clear();
  std::string xml;
  http::Response resp;
  for (size_t start = 0; start < keys.size(); start += kMaxDeleteObjects) {
    const size_t end = std::min(keys.size(), start + kMaxDeleteObjects);
    xml.clear();
    XmlWriter w(&xml);
    w.Declaration();
    w.Open("Delete", kS3Namespace);
    w.Element("Quiet", false);  // every key is answered, so none can go unchecked
    for (size_t i = start; i < end; ++i) {
      w.Open("Object");
      w.Element("Key", keys[i]);
      w.Close();
    }
    w.Finish();
    Call c;
    c.method = "POST";
    c.op = "DeleteObjects";
    c.bucket = bucket;
    c.query = "delete=";
    if (!w.status().ok()) return w.status().WithContext(c.context());
    Payload body;
    body.data = xml.data();
    body.size = xml.size();
    c.body = &body;
    uint8_t md5[16];
    RETURN_IF_ERROR(HashPayload(body, md5, &c.payload_hash));
    c.headers.push_back({"Content-MD5", Base64Encode(md5, 16)});
    c.headers.push_back({"Content-Type", "application/xml"});
    // Deleting a key twice leaves the same state: safe to repeat.
    RETURN_IF_ERROR(Execute(c, &resp));
    auto doc = ParseXmlTree(resp.body, "DeleteResult", kResponseLimits);
    if (!doc.ok()) return doc.status().WithContext(c.context());
    std::unordered_map<std::string, Status> answered;
    for (const auto& e : doc->children) {
      if (e.name == "Deleted") {
        answered.emplace(std::string(e.ChildText("Key")), Status::Ok());
      } else if (e.name == "Error") {
        const std::string k(e.ChildText("Key"));
        const std::string code(e.ChildText("Code"));
        Code cc = CodeOfS3Error(code);
        if (cc == Code::kInvalidArgument) cc = Code::kIOError;
        answered.emplace(k, Status(cc, Describe("DELETE", bucket, k) + ": " + code + ": " +
                                           std::string(e.ChildText("Message"))));
      }
    }
    for (size_t i = start; i < end; ++i) {
      auto it = answered.find(keys[i]);
      if (it == answered.end()) {
        results->push_back({keys[i], IOError(Describe("DELETE", bucket, keys[i]) +
                                             ": the DeleteObjects answer does not mention it")});
      } else {
        results->push_back({keys[i], it->second});
      }
    }
  }
  return Status::Ok();
}

Result<std::string> S3Client::CopyObject(const std::string& src_bucket, const std::string& src_key,
                                         const std::string& dst_bucket, const std::string& dst_key) {
  Call c;
  c.method = "PUT";
  c.op = "COPY";
  c.bucket = dst_bucket;
  c.key = dst_key;
  c.headers.push_back({"x-amz-copy-source", CopySource(src_bucket, src_key)});
  http::Response resp;
  RETURN_IF_ERROR(Execute(c, &resp));
  // S3 may answer 200 and still fail the copy: the document says.
  auto doc = ParseXmlTree(resp.body, "CopyObjectResult", kResponseLimits);
  if (!doc.ok()) return ErrorFromResponse(resp.status, resp.body, c.context());
  return Unquote(doc->ChildText("ETag"));
}

Result<std::string> S3Client::CreateMultipartUpload(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& content_type) {
  Call c;
  c.method = "POST";
  c.op = "CreateMultipartUpload";
  c.bucket = bucket;
  c.key = key;
  c.query = "uploads=";
  // Repeated when the answer is lost, as the AWS SDKs do: at worst the first attempt left an
  // empty upload open, which the server's expiry of abandoned uploads removes.
  if (!content_type.empty()) c.headers.push_back({"Content-Type", content_type});
  http::Response resp;
  RETURN_IF_ERROR(Execute(c, &resp));
  auto doc = ParseXmlTree(resp.body, "InitiateMultipartUploadResult", kResponseLimits);
  if (!doc.ok()) return doc.status().WithContext(c.context());
  std::string id(doc->ChildText("UploadId"));
  if (id.empty()) return IOError(c.context() + ": no UploadId in the answer");
  return id;
}

Result<std::string> S3Client::UploadPart(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, uint32_t part_number,
                                         const Payload& body) {
  Call c;
  c.method = "PUT";
  c.op = "UploadPart " + std::to_string(part_number) + " of";
  c.bucket = bucket;
  c.key = key;
  c.query = "partNumber=" + std::to_string(part_number) +
            "&uploadId=" + UriEncodeQueryComponent(upload_id);
  uint8_t md5[16];
  RETURN_IF_ERROR(AttachBody(c, body, md5));
  http::Response resp;
  RETURN_IF_ERROR(Execute(c, &resp));
  std::string etag(resp.Get("ETag"));
  if (etag.empty()) return IOError(c.context() + ": no ETag in the answer");
  const std::string bare = Unquote(etag);
  if (IsMd5Etag(bare) && LowerHex(bare) != ToHex(md5, 16)) {
    return Corruption(c.context() + ": the server's ETag " + bare + " is not the part's MD5");
  }
  return etag;
}

Result<std::string> S3Client::UploadPartCopy(const std::string& src_bucket,
                                             const std::string& src_key,
                                             const std::string& dst_bucket,
                                             const std::string& dst_key,
                                             const std::string& upload_id, uint32_t part_number,
                                             uint64_t first, uint64_t last,
                                             const std::string& src_etag) {
  Call c;
  c.method = "PUT";
  c.op = "UploadPartCopy " + std::to_string(part_number) + " of";
  c.bucket = dst_bucket;
  c.key = dst_key;
  c.query = "partNumber=" + std::to_string(part_number) +
            "&uploadId=" + UriEncodeQueryComponent(upload_id);
  c.headers.push_back({"x-amz-copy-source", CopySource(src_bucket, src_key)});
  c.headers.push_back({"x-amz-copy-source-range",
                       "bytes=" + std::to_string(first) + "-" + std::to_string(last)});
  if (!src_etag.empty()) c.headers.push_back({"x-amz-copy-source-if-match", "\"" + src_etag + "\""});
  http::Response resp;
  RETURN_IF_ERROR(Execute(c, &resp));
  auto doc = ParseXmlTree(resp.body, "CopyPartResult", kResponseLimits);
  if (!doc.ok()) return ErrorFromResponse(resp.status, resp.body, c.context());
  std::string etag(doc->ChildText("ETag"));
  if (etag.empty()) return IOError(c.context() + ": no ETag in the answer");
  if (etag.front() != '"') etag = "\"" + etag + "\"";
  return etag;
}

Result<std::string> S3Client::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    const std::vector<CompletedUploadPart>& parts) {
  std::string xml;
  XmlWriter w(&xml);
  w.Declaration();
  w.Open("CompleteMultipartUpload", kS3Namespace);
  for (const auto& p : parts) {
    w.Open("Part");
    w.Element("PartNumber", uint64_t(p.number));
    w.Element("ETag", p.etag);
    w.Close();
  }
  w.Finish();
  Call c;
  c.method = "POST";
  c.op = "CompleteMultipartUpload";
  c.bucket = bucket;
  c.key = key;
  c.query = "uploadId=" + UriEncodeQueryComponent(upload_id);
  // Repeated on a retryable failure: S3 (and cairn serve) answer a repeat of a Complete that
  // succeeded as they answered it. A server that no longer knows the upload then says
  // NoSuchUpload: the object is checked below.
  RETURN_IF_ERROR(w.status().WithContext(c.context()));
  Payload body;
  body.data = xml.data();
  body.size = xml.size();
  c.body = &body;
  uint8_t md5[16];
  RETURN_IF_ERROR(HashPayload(body, md5, &c.payload_hash));
  c.headers.push_back({"Content-Type", "application/xml"});
  http::Response resp;
  Status st = Execute(c, &resp);
  if (st.code() == Code::kUploadNotFound && c.attempts > 1) {
    // An earlier attempt may have completed the upload and lost its answer: the object is ours
    // when its ETag is the one these parts make (the MD5 of their binary MD5s, "-N").
    Md5Stream md5;
    for (const auto& p : parts) {
      const std::string hex = Unquote(p.etag);
      uint8_t bin[16];
      if (!IsMd5Etag(hex)) return st;
      Md5Bytes(hex, bin);
      md5.Update(bin, sizeof bin);
    }
    const std::string want = md5.FinalHex() + "-" + std::to_string(parts.size());
    auto head = HeadObject(bucket, key);
    if (head.ok() && LowerHex(head->etag) == want) return head->etag;
    return st;
  }
  RETURN_IF_ERROR(st);
  auto doc = ParseXmlTree(resp.body, "CompleteMultipartUploadResult", kResponseLimits);
  if (!doc.ok()) return ErrorFromResponse(resp.status, resp.body, c.context());
  return Unquote(doc->ChildText("ETag"));
}

Status S3Client::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  Call c;
  c.method = "DELETE";
  c.op = "AbortMultipartUpload";
  c.bucket = bucket;
  c.key = key;
  c.query = "uploadId=" + UriEncodeQueryComponent(upload_id);
  http::Response resp;
  return Execute(c, &resp);
}

Result<std::string> S3Client::Presign(std::string_view method, const std::string& bucket,
                                      const std::string& key, int64_t expires_sec) {
  if (!opts_.config.has_credentials()) {
    return InvalidArgument("presign needs credentials (AWS_ACCESS_KEY_ID or a profile)");
  }
  const S3Endpoint& ep = opts_.config.endpoint;
  const bool virtual_host = !ep.path_style && bucket.find('.') == std::string::npos;
  const std::string host = virtual_host ? bucket + "." + ep.host : ep.host;
  std::string target = ep.path + "/";
  if (!virtual_host) {
    AppendUriEncoded(bucket, true, &target);
    target.push_back('/');
  }
  AppendUriEncoded(key, false, &target);
  const HttpHeader hs[] = {{"host", host}};
  auto r = signer_->Presign(method, target, hs, expires_sec);
  if (!r.ok()) return r.status().WithContext("presign " + bucket + "/" + key);
  return (ep.https ? "https://" : "http://") + host + *r;
}

std::string CopySource(const std::string& bucket, const std::string& key) {
  std::string source = "/";
  AppendUriEncoded(bucket, true, &source);
  source.push_back('/');
  AppendUriEncoded(key, false, &source);
  return source;
}

}  // namespace cairn::s3
