// The S3 layer's one error table: every cairn::Code to the HTTP status, S3 error code and default
// message a client sees, and S3's <Error> document. The store never speaks HTTP; only this table
// does. A test walks every Code up to kLastCode, so a code added without a row fails it, and
// checks that docs/s3.md carries ErrorTableMarkdown() verbatim.
// Thread safety: pure functions over a constant table.
#pragma once

#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn::s3 {

struct S3Error {
  int http_status;      // 200 for kOk
  const char* code;     // "NoSuchKey"; "" for kOk
  const char* message;  // the default message, one sentence
};

// The row of c (a value outside the enum gets InternalError's row).
const S3Error& S3ErrorFor(Code c);

// Whether the status's own message may be shown to the client. Server-side failures (HTTP 5xx:
// I/O, corruption, quorum, broken invariants) carry paths and volume names that are for the log,
// not the network: the client gets the default message.
bool ShowsDetail(Code c);

// Appends S3's error document for `status` (an error):
//   <?xml version="1.0" encoding="UTF-8"?>
//   <Error><Code>NoSuchKey</Code><Message>...</Message><Resource>/bkt/key</Resource>
//   <RequestId>...</RequestId></Error>
// every value escaped (XmlWriter). The message is the status's own when ShowsDetail, else the
// row's default. A 304 carries no body: nothing is appended. A value that XML cannot carry (a
// resource with invalid UTF-8) is written with U+FFFD in its place.
void AppendErrorXml(const Status& status, std::string_view resource, std::string_view request_id,
                    std::string* out);
std::string ErrorXml(const Status& status, std::string_view resource, std::string_view request_id);

// The table as Markdown (| cairn code | HTTP | S3 code | default message |), one row per Code
// in enum order, for docs/s3.md.
std::string ErrorTableMarkdown();

}  // namespace cairn::s3
