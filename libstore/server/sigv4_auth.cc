#include "libstore/server/sigv4_auth.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "libstore/s3/aws_chunked.h"
#include "libstore/s3/sigv2.h"

namespace cairn::server {

namespace {

constexpr size_t kRawBuf = 64 << 10;

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status TooLong(const char* what) {
  return Status(Code::kIncompleteBody, std::string("the body is longer than its ") + what);
}

}  // namespace

struct VerifiedBody::State {
  bool in_use = false;
  Source* raw = nullptr;
  bool streaming = false;
  int64_t announced = -1;  // Content-Length, or x-amz-decoded-content-length when streaming
  uint64_t bytes = 0;      // decoded bytes handed out
  BodyChecksums sums;
  ExpectedDigests expected;
  ChecksumAlgorithm trailer_alg = ChecksumAlgorithm::kNone;
  std::optional<s3::AwsChunkedDecoder> dec;
  std::unique_ptr<char[]> in{new char[kRawBuf]};
  std::string_view in_pending;    // raw bytes not yet given to the decoder (a span of in)
  std::string_view data_pending;  // decoded bytes not yet handed out (a span of in)
  bool done = false;
  Status error;
  std::vector<ChecksumValue> checksums;
  bool handed_over = false;  // Content-MD5 and x-amz-checksum-* are the handler's (HandOverDigests)
  std::optional<ChecksumValue> trailer_value;  // handed over: the trailer's checksum

  State() { checksums.reserve(1); }

  Status Fail(Status st) {
    error = st;
    return st;
  }

  // The whole body arrived (raw ended): every check, in S3's order.
  Status Finish() {
    if (streaming) {
      RETURN_IF_ERROR(dec->Finish());
      if (trailer_alg != ChecksumAlgorithm::kNone) {
        const std::string_view want = HeaderName(trailer_alg);
        for (const s3::Trailer& t : dec->trailers()) {
          if (t.name != want) continue;
          ASSIGN_OR_RETURN(ChecksumValue v, ParseChecksum(trailer_alg, t.value));
          (handed_over ? trailer_value : expected.checksum) = v;
        }
        if (!expected.checksum && !trailer_value) {
          return Status(Code::kInvalidArgument, "the trailer " + std::string(want) + " is missing");
        }
      }
    } else if (announced >= 0 && bytes != uint64_t(announced)) {
      return Status(Code::kIncompleteBody, "the body ended after " + std::to_string(bytes) +
                                               " of its " + std::to_string(announced) + " bytes");
    }
    sums.Finish();
    RETURN_IF_ERROR(sums.Verify(expected));
    if (expected.checksum) checksums.push_back(*expected.checksum);
    done = true;
    return Status::Ok();
  }

  // Streaming: every decoded byte was handed out; reads the rest of the body (the final chunk and
  // the trailers), which must decode to nothing more, then Finish.
  Status DrainAndFinish() {
    for (;;) {
      while (!in_pending.empty()) {
        size_t used = 0;
        std::string_view data;
        RETURN_IF_ERROR(dec->Next(in_pending, &used, &data));
        in_pending.remove_prefix(used);
        if (!data.empty()) return TooLong("x-amz-decoded-content-length");
      }
      ASSIGN_OR_RETURN(size_t got, raw->Read(in.get(), kRawBuf));
      if (got == 0) return Finish();
      in_pending = {in.get(), got};
    }
  }

  Result<size_t> ReadPlain(void* buf, size_t n) {
    auto got = raw->Read(buf, n);
    if (!got.ok()) return Fail(got.status());
    if (*got == 0) {
      Status st = Finish();
      if (!st.ok()) return Fail(st);
      return size_t(0);
    }
    sums.Update(buf, *got);
    bytes += *got;
    if (announced >= 0 && bytes >= uint64_t(announced)) {
      if (bytes > uint64_t(announced)) return Fail(TooLong("Content-Length"));
      // The last bytes: confirm the end and check everything before handing them out.
      char probe;
      auto more = raw->Read(&probe, 1);
      if (!more.ok()) return Fail(more.status());
      if (*more != 0) return Fail(TooLong("Content-Length"));
      Status st = Finish();
      if (!st.ok()) return Fail(st);
    }
    return *got;
  }

  Result<size_t> ReadStreaming(void* buf, size_t n) {
    for (;;) {
      if (!data_pending.empty()) {
        if (bytes + data_pending.size() > uint64_t(announced)) {
          return Fail(TooLong("x-amz-decoded-content-length"));
        }
        const size_t k = std::min(n, data_pending.size());
        std::memcpy(buf, data_pending.data(), k);
        sums.Update(buf, k);
        data_pending.remove_prefix(k);
        bytes += k;
        if (data_pending.empty() && bytes == uint64_t(announced)) {
          Status st = DrainAndFinish();
          if (!st.ok()) return Fail(st);
        }
        return k;
      }
      if (!in_pending.empty()) {
        size_t used = 0;
        std::string_view data;
        Status st = dec->Next(in_pending, &used, &data);
        if (!st.ok()) return Fail(st);
        in_pending.remove_prefix(used);
        data_pending = data;
        continue;
      }
      auto got = raw->Read(in.get(), kRawBuf);
      if (!got.ok()) return Fail(got.status());
      if (*got == 0) {
        Status st = Finish();
        if (!st.ok()) return Fail(st);
        return size_t(0);
      }
      in_pending = {in.get(), *got};
    }
  }
};

VerifiedBody::VerifiedBody(State* s, std::unique_ptr<State> owned)
    : state_(s), owned_(std::move(owned)) {}

VerifiedBody::~VerifiedBody() {
  state_->raw = nullptr;
  state_->in_use = false;
}

Result<size_t> VerifiedBody::Read(void* buf, size_t n) {
  State& s = *state_;
  if (!s.error.ok()) return s.error;
  if (s.done) return size_t(0);
  if (n == 0) return s.Fail(InvalidArgument("a body read of 0 bytes"));
  return s.streaming ? s.ReadStreaming(buf, n) : s.ReadPlain(buf, n);
}

void VerifiedBody::HandOverDigests() {
  State& s = *state_;
  // Once bytes were read the streams hold them: both then check (never neither).
  if (s.bytes != 0 || s.done || !s.error.ok()) return;
  BodyChecksums::Plan plan = s.sums.plan();
  plan.md5 = false;
  plan.checksum = ChecksumAlgorithm::kNone;
  s.sums.Reset(plan);
  s.expected.content_md5.reset();
  s.expected.checksum.reset();
  s.handed_over = true;
}

std::optional<ChecksumValue> VerifiedBody::TrailingChecksum() const {
  return state_->trailer_value;
}

bool VerifiedBody::verified() const { return state_->done && state_->error.ok(); }

const std::vector<ChecksumValue>& VerifiedBody::checksums() const { return state_->checksums; }

uint64_t VerifiedBody::bytes() const { return state_->bytes; }

SigV4Authenticator::SigV4Authenticator(SigV4AuthOptions opts)
    : opts_(std::move(opts)), verifier_([this] {
        s3::VerifierOptions v;
        v.region = opts_.region;
        v.clock = opts_.clock;
        v.credentials = opts_.credentials;
        return v;
      }()) {}

SigV4Authenticator::~SigV4Authenticator() = default;

bool SigV4Authenticator::IsRead(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

Status SigV4Authenticator::Authenticate(const HttpRequest& req, Source& raw, Identity* who,
                                        std::unique_ptr<Source>* body) {
  thread_local std::vector<s3::HttpHeader> headers;
  headers.clear();
  for (const auto& [n, v] : req.headers) headers.push_back({n, v});
  const bool read = IsRead(req.method);
  const size_t qm = req.target.find('?');
  const bool v2 =
      qm != std::string::npos && s3::HasPresignV2(std::string_view(req.target).substr(qm + 1));
  if (!v2 && !s3::Verifier::HasCredentials(req.target, headers)) {
    if (!opts_.anonymous_read) {
      return Status(Code::kAccessDenied,
                    "anonymous access is not allowed: sign the request with SigV4");
    }
    if (!read) {
      return Status(Code::kAccessDenied, "anonymous requests may only read (GET and HEAD)");
    }
    *who = Identity{};
    return Status::Ok();
  }
  // SigV2 presigned URLs (boto3's, the aws cli v1's and s3cmd's default): the URL carries
  // everything, the body is unsigned.
  ASSIGN_OR_RETURN(s3::AuthResult ar,
                   v2 ? s3::VerifyPresignV2(req.method, req.target, headers, *opts_.credentials,
                                            opts_.clock->NowNs() / 1000000000)
                      : verifier_.Verify(req.method, req.target, headers));
  if (ar.read_only && !read) {
    return Status(Code::kAccessDenied, "the access key " + ar.access_key + " is read-only");
  }

  // What the request promises about its body.
  BodyChecksums::Plan plan;
  ExpectedDigests expected;
  if (const std::string* md5 = req.Header("content-md5")) {
    ASSIGN_OR_RETURN(auto d, ParseContentMd5(*md5));
    expected.content_md5 = d;
    plan.md5 = true;
  }
  const char* const kSingle = "expecting a single x-amz-checksum- header (or trailer)";
  // On CompleteMultipartUpload (POST on a key ?uploadId) an x-amz-checksum-<alg> header is the
  // checksum the client expects of the whole object, not one of the XML body: the handler hands
  // it to the store.
  const bool complete = req.method == "POST" && !req.key.empty() && req.HasQuery("uploadId");
  for (const auto& [n, v] : req.headers) {
    if (complete || !StartsWith(n, "x-amz-checksum-")) continue;
    auto alg = ChecksumAlgorithmFromHeader(n);
    if (!alg.ok()) continue;  // x-amz-checksum-algorithm, -type, -mode
    if (plan.checksum != ChecksumAlgorithm::kNone) return InvalidArgument(kSingle);
    ASSIGN_OR_RETURN(ChecksumValue cv, ParseChecksum(*alg, v));
    plan.checksum = *alg;
    expected.checksum = cv;
  }
  ChecksumAlgorithm trailer_alg = ChecksumAlgorithm::kNone;
  const bool streaming = s3::IsStreaming(ar.payload);
  if (streaming) {
    std::string_view list = ar.trailer;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      const std::string_view name = TrimBlanks(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      auto alg = ChecksumAlgorithmFromHeader(name);
      if (!alg.ok()) continue;
      if (plan.checksum != ChecksumAlgorithm::kNone) return InvalidArgument(kSingle);
      plan.checksum = trailer_alg = *alg;
    }
  }
  if (ar.payload == s3::PayloadMode::kSignedHash) {
    plan.payload_sha256 = true;
    expected.payload_sha256 = ar.payload_sha256;
  }

  who->access_key = std::move(ar.access_key);
  who->read_only = ar.read_only;

  const bool has_body = req.chunked || req.content_length.value_or(0) > 0;
  if (!streaming && !has_body && !plan.md5 && plan.checksum == ChecksumAlgorithm::kNone) {
    // Nothing to stream: the signed hash, if any, must be that of "".
    if (plan.payload_sha256) {
      static const std::array<uint8_t, 32> kEmpty = *ParsePayloadSha256Hex(s3::kEmptySha256Hex);
      if (kEmpty != ar.payload_sha256) {
        return Status(Code::kContentSha256Mismatch,
                      "the request has no body but x-amz-content-sha256 is not the hash of one");
      }
    }
    return Status::Ok();
  }

  thread_local std::unique_ptr<VerifiedBody::State> tls;
  std::unique_ptr<VerifiedBody::State> owned;
  VerifiedBody::State* s;
  if (tls == nullptr) tls = std::make_unique<VerifiedBody::State>();
  if (!tls->in_use) {
    s = tls.get();
  } else {
    owned = std::make_unique<VerifiedBody::State>();
    s = owned.get();
  }
  s->in_use = true;
  s->raw = &raw;
  s->streaming = streaming;
  s->bytes = 0;
  s->sums.Reset(plan);
  s->expected = expected;
  s->trailer_alg = trailer_alg;
  s->in_pending = {};
  s->data_pending = {};
  s->done = false;
  s->error = Status::Ok();
  s->checksums.clear();
  s->handed_over = false;
  s->trailer_value.reset();
  if (streaming) {
    s->announced = ar.decoded_content_length;
    s3::AwsChunkedDecoder::Options o;
    o.mode = ar.payload;
    o.signing = std::move(ar.signing);
    o.decoded_length = ar.decoded_content_length;
    o.declared_trailers = std::move(ar.trailer);
    s->dec.emplace(std::move(o));
  } else {
    s->announced = req.content_length ? int64_t(*req.content_length) : -1;
    s->dec.reset();
  }
  body->reset(new VerifiedBody(s, std::move(owned)));
  return Status::Ok();
}

}  // namespace cairn::server
