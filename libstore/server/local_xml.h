// A small private XML writer and Status -> S3 error table for the server's first operations.
// Kept in this one file so that libstore/s3's XML writer and error table can replace it in one
// swap; nothing outside libstore/server includes it.
#pragma once

#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn::server {

// Appends s to *out with &, <, >, " and ' escaped; what XML 1.0 cannot carry (controls other than
// tab, CR and LF, broken UTF-8) is written as U+FFFD, so the document always parses.
void XmlEscape(std::string_view s, std::string* out);

// Builds one document: the declaration, then nested elements; every value escaped.
class XmlWriter {
 public:
  XmlWriter();
  // <name> (with the S3 namespace when ns).
  void Open(std::string_view name, bool ns = false);
  void Close(std::string_view name);
  // <name>escaped value</name>
  void Element(std::string_view name, std::string_view value);
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

struct S3ErrorInfo {
  int http_status;
  const char* code;  // S3 error code, e.g. "NoSuchKey"
};
// The HTTP status and S3 code for a failure.
S3ErrorInfo ErrorInfoFor(Code c);

// The S3 <Error> document for s (Code, Message, Resource, RequestId).
std::string ErrorXml(const Status& s, std::string_view resource, std::string_view request_id);

// ISO 8601 with milliseconds in UTC, as S3 lists times: "2006-02-03T16:45:09.000Z".
std::string IsoTime(int64_t ns);

}  // namespace cairn::server
