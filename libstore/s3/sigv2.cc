#include "libstore/s3/sigv2.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "libstore/common/base64.h"
#include "libstore/common/hash.h"

namespace cairn::s3 {
namespace {

// The query parameters S3 includes in a SigV2 canonical resource, sorted.
constexpr std::string_view kSubResources[] = {"accelerate",
                                              "acl",
                                              "analytics",
                                              "cors",
                                              "delete",
                                              "encryption",
                                              "inventory",
                                              "legal-hold",
                                              "lifecycle",
                                              "location",
                                              "logging",
                                              "metrics",
                                              "notification",
                                              "object-lock",
                                              "partNumber",
                                              "policy",
                                              "replication",
                                              "requestPayment",
                                              "response-cache-control",
                                              "response-content-disposition",
                                              "response-content-encoding",
                                              "response-content-language",
                                              "response-content-type",
                                              "response-expires",
                                              "restore",
                                              "retention",
                                              "select",
                                              "select-type",
                                              "tagging",
                                              "torrent",
                                              "uploadId",
                                              "uploads",
                                              "versionId",
                                              "versioning",
                                              "versions",
                                              "website"};

bool IsSubResource(std::string_view name) {
  return std::binary_search(std::begin(kSubResources), std::end(kSubResources), name);
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a query component ('+' stays '+', as S3 reads it); false on a bad escape.
bool Decode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = Hex(in[i + 1]), lo = Hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(char(hi * 16 + lo));
    i += 2;
  }
  return true;
}

struct Pair {
  std::string name, value;
  bool has_value = false;
};

Status SplitQuery(std::string_view q, std::vector<Pair>* out) {
  while (!q.empty()) {
    const size_t amp = q.find('&');
    const std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    Pair p;
    p.has_value = eq != std::string_view::npos;
    if (!Decode(part.substr(0, eq), &p.name) ||
        (p.has_value && !Decode(part.substr(eq + 1), &p.value))) {
      return Status(Code::kAuthQueryMalformed, "invalid percent-encoding in the request query");
    }
    out->push_back(std::move(p));
  }
  return Status::Ok();
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool HasPresignV2(std::string_view raw_query) {
  std::vector<Pair> q;
  if (!SplitQuery(raw_query, &q).ok()) return false;
  bool key = false, expires = false;
  for (const auto& p : q) {
    if (p.name == "AWSAccessKeyId" || p.name == "Signature") key = true;
    if (p.name == "Expires") expires = true;
    if (p.name == "X-Amz-Algorithm") return false;  // SigV4 presign
  }
  return key && expires;
}

Result<std::string> StringToSignV2(std::string_view method, std::string_view target,
                                   std::span<const HttpHeader> headers, std::string_view expires) {
  const size_t qm = target.find('?');
  const std::string_view path = target.substr(0, qm);
  std::vector<Pair> query;
  if (qm != std::string_view::npos) RETURN_IF_ERROR(SplitQuery(target.substr(qm + 1), &query));

  std::string content_md5, content_type;
  std::vector<std::pair<std::string, std::string>> amz;
  for (const auto& h : headers) {
    const std::string name = AsciiLower(h.name);
    if (name == "content-md5")
      content_md5 = std::string(TrimBlanks(h.value));
    else if (name == "content-type")
      content_type = std::string(TrimBlanks(h.value));
    else if (name.rfind("x-amz-", 0) == 0)
      amz.emplace_back(name, std::string(TrimBlanks(h.value)));
  }
  std::stable_sort(amz.begin(), amz.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string s;
  s.reserve(128 + path.size());
  s.append(method).push_back('\n');
  s.append(content_md5).push_back('\n');
  s.append(content_type).push_back('\n');
  s.append(expires).push_back('\n');
  for (size_t i = 0; i < amz.size(); ++i) {
    if (i > 0 && amz[i].first == amz[i - 1].first) {
      s.back() = ',';  // repeated header: values joined with commas
    } else {
      s.append(amz[i].first).push_back(':');
    }
    s.append(amz[i].second).push_back('\n');
  }
  s.append(path.empty() ? std::string_view("/") : path);
  std::vector<const Pair*> sub;
  for (const auto& p : query) {
    if (IsSubResource(p.name)) sub.push_back(&p);
  }
  std::stable_sort(sub.begin(), sub.end(),
                   [](const Pair* a, const Pair* b) { return a->name < b->name; });
  for (size_t i = 0; i < sub.size(); ++i) {
    s.push_back(i == 0 ? '?' : '&');
    s.append(sub[i]->name);
    if (sub[i]->has_value) s.append("=").append(sub[i]->value);
  }
  return s;
}

Result<AuthResult> VerifyPresignV2(std::string_view method, std::string_view target,
                                   std::span<const HttpHeader> headers,
                                   const CredentialLookup& credentials, int64_t now_s) {
  const size_t qm = target.find('?');
  std::vector<Pair> query;
  if (qm != std::string_view::npos) RETURN_IF_ERROR(SplitQuery(target.substr(qm + 1), &query));
  const Pair* key = nullptr;
  const Pair* expires = nullptr;
  const Pair* signature = nullptr;
  for (const auto& p : query) {
    const Pair** slot = p.name == "AWSAccessKeyId" ? &key
                        : p.name == "Expires"      ? &expires
                        : p.name == "Signature"    ? &signature
                                                   : nullptr;
    if (slot == nullptr) continue;
    if (*slot != nullptr) {
      return Status(Code::kAuthQueryMalformed, "query parameter " + p.name + " given twice");
    }
    *slot = &p;
  }
  if (key == nullptr || expires == nullptr || signature == nullptr) {
    return Status(Code::kAuthQueryMalformed,
                  "a SigV2 presigned URL needs AWSAccessKeyId, Expires and Signature");
  }
  for (const auto& h : headers) {
    if (AsciiLower(h.name) == "authorization") {
      return InvalidArgument("only one authentication mechanism is allowed per request");
    }
  }
  const std::string& ex = expires->value;
  if (ex.empty() || ex.size() > 18 ||
      !std::all_of(ex.begin(), ex.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status(Code::kAuthQueryMalformed, "Expires must be seconds since the epoch");
  }
  uint8_t sent[20];
  auto n = Base64DecodeTo(signature->value, sent, sizeof(sent));
  if (!n.ok() || *n != sizeof(sent)) {
    return Status(Code::kAuthQueryMalformed, "Signature is not a base64 HMAC-SHA1");
  }
  const Credential* cred = credentials.Find(key->value);
  if (cred == nullptr) {
    return Status(Code::kInvalidAccessKeyId,
                  "the access key " + key->value + " does not exist in our records");
  }
  ASSIGN_OR_RETURN(std::string to_sign, StringToSignV2(method, target, headers, ex));
  uint8_t want[20];
  HmacSha1(cred->secret_key.data(), cred->secret_key.size(), to_sign.data(), to_sign.size(), want);
  if (!ConstantTimeEqual(want, sent, sizeof(want))) {
    return Status(Code::kSignatureMismatch,
                  "the request signature we calculated does not match the signature you provided");
  }
  // Checked after the signature, so that a stranger learns nothing from a tampered expiry.
  if (std::stoll(ex) < now_s) return Status(Code::kAccessDenied, "Request has expired");
  AuthResult r;
  r.access_key = cred->access_key;
  r.read_only = cred->read_only;
  r.presigned = true;
  r.payload = PayloadMode::kUnsigned;
  return r;
}

}  // namespace cairn::s3
