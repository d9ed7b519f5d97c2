#include "libstore/s3/sigv4.h"

#include <algorithm>
#include <utility>
#include <cstring>
#include <vector>

#include "libstore/common/hash.h"
#include "libstore/s3/sigv4_canonical.h"

namespace cairn::s3 {
namespace {

// Per-thread buffers for the canonical request and the string to sign: a request builds them
// without allocating once a thread has served one of its size.
struct Scratch {
  std::string canonical;
  std::string sts;
  std::string lookup;
  QueryScratch query;
};
Scratch& ThreadScratch() {
  thread_local Scratch s;
  return s;
}

void SplitTarget(std::string_view target, std::string_view* path, std::string_view* query) {
  size_t q = target.find('?');
  *path = target.substr(0, q);
  *query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// Appends "name:v1,v2\n" for every name of `signed_list`; *missing names the first absent one.
bool AppendCanonicalHeaders(std::span<const HttpHeader> headers, std::string_view signed_list,
                            std::string* out, std::string_view* missing) {
  size_t pos = 0;
  while (pos <= signed_list.size()) {
    size_t semi = signed_list.find(';', pos);
    if (semi == std::string_view::npos) semi = signed_list.size();
    std::string_view name = signed_list.substr(pos, semi - pos);
    pos = semi + 1;
    out->append(name);
    out->push_back(':');
    bool found = false;
    for (const HttpHeader& h : headers) {
      if (!IEquals(h.name, name)) continue;
      if (found) out->push_back(',');
      AppendCanonicalHeaderValue(h.value, out);
      found = true;
    }
    if (!found) {
      *missing = name;
      return false;
    }
    out->push_back('\n');
  }
  return true;
}

bool ListHas(std::string_view list, std::string_view lower_name) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t semi = list.find(';', pos);
    if (semi == std::string_view::npos) semi = list.size();
    if (IEquals(list.substr(pos, semi - pos), lower_name)) return true;
    pos = semi + 1;
  }
  return false;
}

// The canonical request of the SigV4 spec, into *out.
Status BuildCanonicalRequest(std::string_view method, std::string_view target,
                             std::span<const HttpHeader> headers, std::string_view signed_list,
                             std::string_view payload, bool presigned, Scratch* s,
                             std::string_view* missing) {
  std::string_view path, query;
  SplitTarget(target, &path, &query);
  std::string& out = s->canonical;
  out.clear();
  out.append(method);
  out.push_back('\n');
  RETURN_IF_ERROR(AppendCanonicalUri(path, &out));
  out.push_back('\n');
  RETURN_IF_ERROR(AppendCanonicalQuery(query, presigned, &s->query, &out));
  out.push_back('\n');
  if (!AppendCanonicalHeaders(headers, signed_list, &out, missing)) {
    return Status(Code::kAccessDenied,
                  "a header named in SignedHeaders is missing: " + std::string(*missing));
  }
  out.push_back('\n');
  out.append(signed_list);
  out.push_back('\n');
  out.append(payload);
  return Status::Ok();
}

// HMAC(key, "AWS4-HMAC-SHA256\n" date "\n" scope "\n" hex(SHA-256(canonical))).
void SignCanonical(const uint8_t key[32], std::string_view amz_date, std::string_view scope,
                   Scratch* s, uint8_t sig[32]) {
  std::string& sts = s->sts;
  sts.clear();
  sts.append(kSigV4Algorithm);
  sts.push_back('\n');
  sts.append(amz_date);
  sts.push_back('\n');
  sts.append(scope);
  sts.push_back('\n');
  uint8_t h[32];
  Sha256(s->canonical.data(), s->canonical.size(), h);
  static constexpr char kHex[] = "0123456789abcdef";
  for (uint8_t b : h) {
    sts.push_back(kHex[b >> 4]);
    sts.push_back(kHex[b & 15]);
  }
  HmacSha256(key, 32, sts.data(), sts.size(), sig);
}

void ToHexArray(const uint8_t* d, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 15];
  }
}

std::string Scope(std::string_view date, std::string_view region, std::string_view service) {
  std::string scope;
  scope.reserve(date.size() + region.size() + service.size() + 16);
  scope.append(date).append("/").append(region).append("/").append(service).append("/aws4_request");
  return scope;
}

bool Unsignable(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "authorization",     "user-agent", "expect",  "connection", "keep-alive",
      "transfer-encoding", "te",         "trailer", "upgrade",    "x-amzn-trace-id"};
  for (std::string_view n : kNames) {
    if (IEquals(name, n)) return true;
  }
  return IStartsWith(name, "proxy-");
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

const char* PayloadModeName(PayloadMode m) {
  switch (m) {
    case PayloadMode::kSignedHash:
      return "signed";
    case PayloadMode::kUnsigned:
      return "UNSIGNED-PAYLOAD";
    case PayloadMode::kStreamingSigned:
      return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    case PayloadMode::kStreamingUnsignedTrailer:
      return "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    case PayloadMode::kStreamingSignedTrailer:
      return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
  }
  return "?";
}

bool IsStreaming(PayloadMode m) {
  return m == PayloadMode::kStreamingSigned || m == PayloadMode::kStreamingUnsignedTrailer ||
         m == PayloadMode::kStreamingSignedTrailer;
}

Status ParsePayloadMode(std::string_view v, PayloadMode* mode, uint8_t* sha256) {
  uint8_t tmp[32];
  if (v == kUnsignedPayload) {
    *mode = PayloadMode::kUnsigned;
  } else if (v == kStreamingSignedPayload) {
    *mode = PayloadMode::kStreamingSigned;
  } else if (v == kStreamingUnsignedTrailer) {
    *mode = PayloadMode::kStreamingUnsignedTrailer;
  } else if (v == kStreamingSignedTrailer) {
    *mode = PayloadMode::kStreamingSignedTrailer;
  } else if (DecodeHex32(v, sha256 ? sha256 : tmp)) {
    *mode = PayloadMode::kSignedHash;
  } else if (v.starts_with("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")) {
    return Status(Code::kNotImplemented, "SigV4a (ECDSA) streaming payloads are not supported");
  } else {
    return InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a "
        "valid sha256 value");
  }
  return Status::Ok();
}

Status CanonicalRequest(std::string_view method, std::string_view target,
                        std::span<const HttpHeader> headers, std::string_view signed_headers,
                        std::string_view payload, bool presigned, std::string* out) {
  Scratch& s = ThreadScratch();
  std::string_view missing;
  RETURN_IF_ERROR(BuildCanonicalRequest(method, target, headers, signed_headers, payload, presigned,
                                        &s, &missing));
  *out = s.canonical;
  return Status::Ok();
}

std::string SignatureHex(const uint8_t key[32], std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  Scratch& s = ThreadScratch();
  s.canonical.assign(canonical_request);
  uint8_t sig[32];
  SignCanonical(key, amz_date, scope, &s, sig);
  std::string hex(64, '0');
  ToHexArray(sig, hex.data());
  return hex;
}

void DeriveSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                      std::string_view service, uint8_t out[32]) {
  // "AWS4" + secret, without a heap string for short secrets.
  char k0[128];
  std::string big;
  const char* kp = k0;
  size_t kl = 4 + secret.size();
  if (kl <= sizeof(k0)) {
    std::memcpy(k0, "AWS4", 4);
    std::memcpy(k0 + 4, secret.data(), secret.size());
  } else {
    big = "AWS4" + std::string(secret);
    kp = big.data();
  }
  uint8_t a[32], b[32];
  HmacSha256(kp, kl, date.data(), date.size(), a);
  HmacSha256(a, 32, region.data(), region.size(), b);
  HmacSha256(b, 32, service.data(), service.size(), a);
  HmacSha256(a, 32, "aws4_request", 12, out);
}

void SigningKeyCache::Get(std::string_view access_key, std::string_view secret,
                          std::string_view date, std::string_view region, std::string_view service,
                          uint8_t out[32]) {
  std::string& k = ThreadScratch().lookup;
  k.clear();
  k.append(access_key)
      .append("\n")
      .append(date)
      .append("\n")
      .append(region)
      .append("\n")
      .append(service);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(std::string_view(k));
    if (it != map_.end() && it->second.secret == secret) {
      ++hits_;
      std::memcpy(out, it->second.key.data(), 32);
      return;
    }
    ++misses_;
  }
  Entry e;
  e.secret = std::string(secret);
  DeriveSigningKey(secret, date, region, service, e.key.data());
  std::memcpy(out, e.key.data(), 32);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(std::string_view(k));
  if (it != map_.end()) {
    it->second = std::move(e);
    return;
  }
  if (map_.size() >= capacity_) map_.clear();
  map_.emplace(k, std::move(e));
}

size_t SigningKeyCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}
uint64_t SigningKeyCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}
uint64_t SigningKeyCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

Status CredentialTable::Add(Credential c) {
  if (c.access_key.empty() || c.secret_key.empty()) {
    return InvalidArgument("an access key and its secret must not be empty");
  }
  CredentialScope unused;
  if (!ParseCredentialScope(c.access_key + "/20000101/r/s/aws4_request", &unused) ||
      unused.access_key != c.access_key) {
    return InvalidArgument("access key '" + c.access_key + "' holds characters SigV4 cannot carry");
  }
  std::string key = c.access_key;
  if (!map_.emplace(std::move(key), std::move(c)).second) {
    return InvalidArgument("access key given twice");
  }
  return Status::Ok();
}

const Credential* CredentialTable::Find(std::string_view access_key) const {
  auto it = map_.find(access_key);
  return it == map_.end() ? nullptr : &it->second;
}

Verifier::Verifier(VerifierOptions opts)
    : opts_(std::move(opts)), cache_(opts_.key_cache ? opts_.key_cache : &own_cache_) {}

bool Verifier::HasCredentials(std::string_view target, std::span<const HttpHeader> headers) {
  for (const HttpHeader& h : headers) {
    if (IEquals(h.name, "authorization")) return true;
  }
  std::string_view path, query;
  SplitTarget(target, &path, &query);
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view k = query.substr(pos, amp - pos);
    k = k.substr(0, k.find('='));
    if (k == "X-Amz-Algorithm" || k == "X-Amz-Credential" || k == "X-Amz-Signature") return true;
    pos = amp + 1;
  }
  return false;
}

Result<AuthResult> Verifier::Verify(std::string_view method, std::string_view target,
                                    std::span<const HttpHeader> headers) const {
  std::string_view authz, amz_date_h, date_h, sha_h, decoded_h, trailer_h;
  bool have_authz = false, have_sha = false, have_decoded = false, have_body = false;
  for (const HttpHeader& h : headers) {
    if (IEquals(h.name, "authorization")) {
      if (have_authz) return Status(Code::kAuthHeaderMalformed, "more than one Authorization");
      authz = h.value, have_authz = true;
    } else if (IEquals(h.name, "x-amz-date")) {
      amz_date_h = h.value;
    } else if (IEquals(h.name, "date")) {
      date_h = h.value;
    } else if (IEquals(h.name, "x-amz-content-sha256")) {
      sha_h = h.value, have_sha = true;
    } else if (IEquals(h.name, "x-amz-decoded-content-length")) {
      decoded_h = h.value, have_decoded = true;
    } else if (IEquals(h.name, "x-amz-trailer")) {
      trailer_h = h.value;
    } else if (IEquals(h.name, "content-length")) {
      have_body = have_body || h.value.find_first_not_of('0') != std::string_view::npos;
    } else if (IEquals(h.name, "transfer-encoding")) {
      have_body = true;
    }
  }
  std::string_view path, query;
  SplitTarget(target, &path, &query);
  const bool presigned = HasCredentials(query.empty() ? "" : target, {});
  if (!have_authz && !presigned) {
    return Status(Code::kAccessDenied, "Access Denied: the request is not signed");
  }
  if (have_authz && presigned) {
    return InvalidArgument(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
        "parameter or the Authorization header should be specified");
  }
  const Code malformed = presigned ? Code::kAuthQueryMalformed : Code::kAuthHeaderMalformed;

  // Parse whichever form the request uses; views point into the header, or into `pre.storage`.
  ParsedAuthorization ah;
  ParsedPresign pre;
  CredentialScope scope;
  std::string_view signed_list;
  const uint8_t* claimed;
  std::array<char, 16> amz_date{};
  int64_t t = 0;
  if (presigned) {
    RETURN_IF_ERROR(ParsePresignQuery(query, &pre));
    scope = pre.credential;
    signed_list = pre.signed_headers;
    claimed = pre.signature.data();
    if (!ParseAmzDate(pre.amz_date, &t)) return Status(malformed, "bad X-Amz-Date");
    std::memcpy(amz_date.data(), pre.amz_date.data(), 16);
  } else {
    RETURN_IF_ERROR(ParseAuthorization(authz, &ah));
    scope = ah.credential;
    signed_list = ah.signed_headers;
    claimed = ah.signature.data();
    if (!amz_date_h.empty()) {
      if (!ParseAmzDate(amz_date_h, &t)) {
        return Status(Code::kAccessDenied,
                      "AWS authentication requires a valid Date or x-amz-date header");
      }
      std::memcpy(amz_date.data(), amz_date_h.data(), 16);
    } else {
      if (date_h.empty() || !ParseHttpDate(date_h, &t)) {
        return Status(Code::kAccessDenied,
                      "AWS authentication requires a valid Date or x-amz-date header");
      }
      amz_date = FormatAmzDate(t);
    }
  }
  if (scope.service != opts_.service) {
    return Status(malformed, "the credential scope's service must be '" + opts_.service + "'");
  }
  if (scope.region != opts_.region) {
    return Status(malformed, "the region '" + std::string(scope.region) +
                                 "' is wrong; expecting '" + opts_.region + "'");
  }
  if (scope.date != std::string_view(amz_date.data(), 8)) {
    return Status(malformed, "Invalid credential date. Date is not the same as X-Amz-Date.");
  }

  const int64_t now = opts_.clock->NowNs() / 1000000000;
  if (presigned) {
    if (t - now > kMaxClockSkewSec) return Status(Code::kAccessDenied, "Request is not valid yet");
    if (now > t + pre.expires_sec) return Status(Code::kAccessDenied, "Request has expired");
  } else if (t - now > kMaxClockSkewSec || now - t > kMaxClockSkewSec) {
    return Status(Code::kRequestTimeTooSkewed,
                  "The difference between the request time and the current time is too large");
  }

  const Credential* cred = opts_.credentials ? opts_.credentials->Find(scope.access_key) : nullptr;
  if (!cred) {
    return Status(Code::kInvalidAccessKeyId,
                  "The AWS Access Key Id you provided does not exist in our records");
  }

  AuthResult r;
  std::string_view payload;
  if (have_sha) {
    RETURN_IF_ERROR(ParsePayloadMode(sha_h, &r.payload, r.payload_sha256.data()));
    payload = sha_h;
    if (presigned && IsStreaming(r.payload)) {
      return InvalidArgument("a presigned request cannot carry an aws-chunked body");
    }
  } else if (presigned) {
    r.payload = PayloadMode::kUnsigned;
    payload = kUnsignedPayload;
  } else if (have_body) {
    // Without the header the body's hash is unknown: S3 asks for it. (curl --aws-sigv4 signs a
    // body's hash without sending it; the signature check would fail without saying why.)
    return Status(Code::kInvalidRequest,
                  "Missing required header for this request: x-amz-content-sha256");
  } else {
    r.payload = PayloadMode::kSignedHash;
    payload = kEmptySha256Hex;
    DecodeHex32(kEmptySha256Hex, r.payload_sha256.data());
  }

  for (const HttpHeader& h : headers) {
    if (IStartsWith(h.name, "x-amz-") && !ListHas(signed_list, h.name)) {
      return Status(Code::kAccessDenied,
                    "There were headers present in the request which were not signed: " +
                        Lower(h.name.substr(0, 128)));
    }
  }

  Scratch& s = ThreadScratch();
  std::string_view missing;
  RETURN_IF_ERROR(BuildCanonicalRequest(method, target, headers, signed_list, payload, presigned,
                                        &s, &missing));
  uint8_t key[32], sig[32];
  cache_->Get(scope.access_key, cred->secret_key, scope.date, scope.region, scope.service, key);
  std::string scope_str = Scope(scope.date, scope.region, scope.service);
  SignCanonical(key, std::string_view(amz_date.data(), 16), scope_str, &s, sig);
  if (!ConstantTimeEqual(sig, claimed, 32)) {
    return Status(Code::kSignatureMismatch,
                  "The request signature we calculated does not match the signature you provided");
  }

  if (IsStreaming(r.payload)) {
    if (!have_decoded || decoded_h.empty() || decoded_h.size() > 18 ||
        !std::all_of(decoded_h.begin(), decoded_h.end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return Status(Code::kMissingContentLength,
                    "an aws-chunked body needs a valid x-amz-decoded-content-length");
    }
    int64_t n = 0;
    for (char c : decoded_h) n = n * 10 + (c - '0');
    r.decoded_content_length = n;
    r.trailer = Lower(trailer_h);
  }
  r.access_key = std::string(scope.access_key);
  r.read_only = cred->read_only;
  r.presigned = presigned;
  std::memcpy(r.signing.key.data(), key, 32);
  r.signing.amz_date = amz_date;
  r.signing.scope = std::move(scope_str);
  ToHexArray(sig, r.signing.seed_signature.data());
  return r;
}

Signer::Signer(SignerOptions opts)
    : opts_(std::move(opts)), cache_(opts_.key_cache ? opts_.key_cache : &own_cache_) {}

Result<SignedHeaders> Signer::Sign(std::string_view method, std::string_view target,
                                   std::span<const HttpHeader> headers,
                                   std::string_view payload) const {
  PayloadMode mode;
  RETURN_IF_ERROR(ParsePayloadMode(payload, &mode, nullptr));
  SignedHeaders out;
  const std::array<char, 16> date = FormatAmzDate(opts_.clock->NowNs() / 1000000000);
  out.amz_date.assign(date.data(), 16);
  out.content_sha256 = std::string(payload);
  out.security_token = opts_.session_token;

  std::vector<HttpHeader> all;
  all.reserve(headers.size() + 3);
  bool host = false;
  for (const HttpHeader& h : headers) {
    if (Unsignable(h.name) || IEquals(h.name, "x-amz-date") ||
        IEquals(h.name, "x-amz-content-sha256") || IEquals(h.name, "x-amz-security-token")) {
      continue;
    }
    host = host || IEquals(h.name, "host");
    all.push_back(h);
  }
  if (!host) return InvalidArgument("a request to sign needs a Host header");
  all.push_back({"x-amz-date", out.amz_date});
  all.push_back({"x-amz-content-sha256", out.content_sha256});
  if (!opts_.session_token.empty()) all.push_back({"x-amz-security-token", opts_.session_token});

  std::vector<std::string> names;
  names.reserve(all.size());
  for (const HttpHeader& h : all) names.push_back(Lower(h.name));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string list;
  for (const std::string& n : names) list.append(list.empty() ? "" : ";").append(n);
  if (!ValidSignedHeaders(list)) return InvalidArgument("a header name cannot be signed: " + list);

  Scratch& s = ThreadScratch();
  std::string_view missing;
  RETURN_IF_ERROR(BuildCanonicalRequest(method, target, all, list, payload, false, &s, &missing));
  const std::string_view day(date.data(), 8);
  uint8_t key[32], sig[32];
  cache_->Get(opts_.access_key, opts_.secret_key, day, opts_.region, opts_.service, key);
  const std::string scope = Scope(day, opts_.region, opts_.service);
  SignCanonical(key, out.amz_date, scope, &s, sig);

  ParsedAuthorization a;
  a.credential = {opts_.access_key, day, opts_.region, opts_.service};
  a.signed_headers = list;
  std::memcpy(a.signature.data(), sig, 32);
  out.authorization = FormatAuthorization(a);
  std::memcpy(out.signing.key.data(), key, 32);
  out.signing.amz_date = date;
  out.signing.scope = scope;
  ToHexArray(sig, out.signing.seed_signature.data());
  return out;
}

Result<std::string> Signer::Presign(std::string_view method, std::string_view target,
                                    std::span<const HttpHeader> headers,
                                    int64_t expires_sec) const {
  if (expires_sec < 1 || expires_sec > kMaxPresignExpiresSec) {
    return InvalidArgument("a presigned URL expires after 1 to 604800 seconds");
  }
  std::vector<std::string> names;
  bool host = false;
  for (const HttpHeader& h : headers) {
    if (IEquals(h.name, "host")) host = true;
    if (IEquals(h.name, "host") || IStartsWith(h.name, "x-amz-")) names.push_back(Lower(h.name));
  }
  if (!host) return InvalidArgument("a request to presign needs a Host header");
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string list;
  for (const std::string& n : names) list.append(list.empty() ? "" : ";").append(n);
  if (!ValidSignedHeaders(list)) return InvalidArgument("a header name cannot be signed: " + list);

  const std::array<char, 16> date = FormatAmzDate(opts_.clock->NowNs() / 1000000000);
  const std::string_view day(date.data(), 8);
  ParsedPresign p;
  p.credential = {opts_.access_key, day, opts_.region, opts_.service};
  p.amz_date = std::string_view(date.data(), 16);
  p.expires_sec = expires_sec;
  p.signed_headers = list;
  std::string params = FormatPresignQuery(p);
  params.resize(params.rfind("&X-Amz-Signature="));  // signed below
  if (!opts_.session_token.empty()) {
    params += "&X-Amz-Security-Token=";
    AppendUriEncoded(opts_.session_token, true, &params);
  }
  std::string signed_target(target);
  signed_target += target.find('?') == std::string_view::npos ? '?' : '&';
  signed_target += params;

  Scratch& s = ThreadScratch();
  std::string_view missing;
  RETURN_IF_ERROR(BuildCanonicalRequest(method, signed_target, headers, list, kUnsignedPayload,
                                        true, &s, &missing));
  uint8_t key[32], sig[32];
  cache_->Get(opts_.access_key, opts_.secret_key, day, opts_.region, opts_.service, key);
  SignCanonical(key, p.amz_date, Scope(day, opts_.region, opts_.service), &s, sig);
  char hex[64];
  ToHexArray(sig, hex);
  signed_target += "&X-Amz-Signature=";
  signed_target.append(hex, 64);
  return signed_target;
}

}  // namespace cairn::s3
