#include "libstore/server/local_xml.h"

#include <cstdio>
#include <ctime>

namespace cairn::server {

void XmlEscape(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&':
          *out += "&amp;";
          break;
        case '<':
          *out += "&lt;";
          break;
        case '>':
          *out += "&gt;";
          break;
        case '"':
          *out += "&quot;";
          break;
        case '\'':
          *out += "&apos;";
          break;
        default:
          if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            // XML 1.0 cannot carry these at all, not even as references: S3 keys may hold
            // them, and S3 answers with encoding-type=url for such keys. Keep them visible.
            *out += "&#xFFFD;";
          } else {
            out->push_back(char(c));
          }
      }
      ++i;
      continue;
    }
    // A whole, valid UTF-8 sequence goes through; anything else becomes U+FFFD.
    size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (c > 0xF4) n = 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
    }
    if (ok && n == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      out->append(s.substr(i, n));
      i += n;
    } else {
      *out += "&#xFFFD;";
      ++i;
    }
  }
}

XmlWriter::XmlWriter() { out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"; }

void XmlWriter::Open(std::string_view name, bool ns) {
  out_ += '<';
  out_ += name;
  if (ns) out_ += " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
  out_ += '>';
}

void XmlWriter::Close(std::string_view name) {
  out_ += "</";
  out_ += name;
  out_ += '>';
}

void XmlWriter::Element(std::string_view name, std::string_view value) {
  Open(name);
  XmlEscape(value, &out_);
  Close(name);
}

S3ErrorInfo ErrorInfoFor(Code c) {
  switch (c) {
    case Code::kOk:
      return {200, "OK"};
    case Code::kInvalidArgument:
      return {400, "InvalidArgument"};
    case Code::kNotFound:
      return {404, "NoSuchKey"};
    case Code::kAlreadyExists:
      return {409, "BucketAlreadyOwnedByYou"};
    case Code::kNotEmpty:
      return {409, "BucketNotEmpty"};
    case Code::kIOError:
      return {500, "InternalError"};
    case Code::kNoSpace:
      return {507, "InsufficientStorage"};
    case Code::kCorruption:
      return {500, "InternalError"};
    case Code::kDataLoss:
      return {500, "InternalError"};
    case Code::kQuorum:
      return {503, "ServiceUnavailable"};
    case Code::kAborted:
      return {500, "InternalError"};
    case Code::kInternal:
      return {500, "InternalError"};
    case Code::kDegraded:
      return {500, "InternalError"};
    case Code::kBucketNotFound:
      return {404, "NoSuchBucket"};
    case Code::kUploadNotFound:
      return {404, "NoSuchUpload"};
    case Code::kNotModified:
      return {304, "NotModified"};
    case Code::kPreconditionFailed:
      return {412, "PreconditionFailed"};
    case Code::kInvalidRange:
      return {416, "InvalidRange"};
    case Code::kBadDigest:
      return {400, "BadDigest"};
    case Code::kInvalidDigest:
      return {400, "InvalidDigest"};
    case Code::kContentSha256Mismatch:
      return {400, "XAmzContentSHA256Mismatch"};
    case Code::kEntityTooLarge:
      return {400, "EntityTooLarge"};
    case Code::kEntityTooSmall:
      return {400, "EntityTooSmall"};
    case Code::kInvalidPart:
      return {400, "InvalidPart"};
    case Code::kInvalidPartOrder:
      return {400, "InvalidPartOrder"};
    case Code::kKeyTooLong:
      return {400, "KeyTooLongError"};
    case Code::kInvalidBucketName:
      return {400, "InvalidBucketName"};
    case Code::kMalformedXml:
      return {400, "MalformedXML"};
    case Code::kMissingContentLength:
      return {411, "MissingContentLength"};
    case Code::kIncompleteBody:
      return {400, "IncompleteBody"};
    case Code::kRequestTimeout:
      return {400, "RequestTimeout"};
    case Code::kSlowDown:
      return {503, "SlowDown"};
    case Code::kNotImplemented:
      return {501, "NotImplemented"};
    case Code::kAccessDenied:
      return {403, "AccessDenied"};
    case Code::kSignatureMismatch:
      return {403, "SignatureDoesNotMatch"};
    case Code::kInvalidAccessKeyId:
      return {403, "InvalidAccessKeyId"};
    case Code::kRequestTimeTooSkewed:
      return {403, "RequestTimeTooSkewed"};
    case Code::kAuthHeaderMalformed:
      return {400, "AuthorizationHeaderMalformed"};
    case Code::kAuthQueryMalformed:
      return {400, "AuthorizationQueryParametersError"};
  }
  return {500, "InternalError"};
}

std::string ErrorXml(const Status& s, std::string_view resource, std::string_view request_id) {
  XmlWriter w;
  w.Open("Error");
  w.Element("Code", ErrorInfoFor(s.code()).code);
  w.Element("Message", s.message());
  w.Element("Resource", resource);
  w.Element("RequestId", request_id);
  w.Close("Error");
  return w.str();
}

std::string IsoTime(int64_t ns) {
  const time_t t = time_t(ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", int((ns / 1000000) % 1000 + 1000) % 1000);
  return buf;
}

}  // namespace cairn::server
