#include "libstore/common/status.h"

#include <cstring>

namespace cairn {

const char* CodeName(Code c) {
  switch (c) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kNotEmpty:
      return "NotEmpty";
    case Code::kIOError:
      return "IOError";
    case Code::kNoSpace:
      return "NoSpace";
    case Code::kCorruption:
      return "Corruption";
    case Code::kDataLoss:
      return "DataLoss";
    case Code::kQuorum:
      return "Quorum";
    case Code::kAborted:
      return "Aborted";
    case Code::kInternal:
      return "Internal";
    case Code::kDegraded:
      return "Degraded";
    case Code::kBucketNotFound:
      return "BucketNotFound";
    case Code::kUploadNotFound:
      return "UploadNotFound";
    case Code::kNotModified:
      return "NotModified";
    case Code::kPreconditionFailed:
      return "PreconditionFailed";
    case Code::kInvalidRange:
      return "InvalidRange";
    case Code::kBadDigest:
      return "BadDigest";
    case Code::kInvalidDigest:
      return "InvalidDigest";
    case Code::kContentSha256Mismatch:
      return "ContentSha256Mismatch";
    case Code::kEntityTooLarge:
      return "EntityTooLarge";
    case Code::kEntityTooSmall:
      return "EntityTooSmall";
    case Code::kInvalidPart:
      return "InvalidPart";
    case Code::kInvalidPartOrder:
      return "InvalidPartOrder";
    case Code::kKeyTooLong:
      return "KeyTooLong";
    case Code::kInvalidBucketName:
      return "InvalidBucketName";
    case Code::kMalformedXml:
      return "MalformedXml";
    case Code::kMissingContentLength:
      return "MissingContentLength";
    case Code::kIncompleteBody:
      return "IncompleteBody";
    case Code::kRequestTimeout:
      return "RequestTimeout";
    case Code::kSlowDown:
      return "SlowDown";
    case Code::kNotImplemented:
      return "NotImplemented";
    case Code::kAccessDenied:
      return "AccessDenied";
    case Code::kSignatureMismatch:
      return "SignatureMismatch";
    case Code::kInvalidAccessKeyId:
      return "InvalidAccessKeyId";
    case Code::kRequestTimeTooSkewed:
      return "RequestTimeTooSkewed";
    case Code::kAuthHeaderMalformed:
      return "AuthHeaderMalformed";
    case Code::kAuthQueryMalformed:
      return "AuthQueryMalformed";
    case Code::kInvalidPartNumber:
      return "InvalidPartNumber";
    case Code::kInvalidRequest:
      return "InvalidRequest";
  }
  return "Unknown";
}

ErrorClass ClassOf(Code c) {
  switch (c) {
    case Code::kOk:
    case Code::kDegraded:
    case Code::kNotModified:
    case Code::kPreconditionFailed:
      return ErrorClass::kNone;
    case Code::kNotFound:
    case Code::kBucketNotFound:
    case Code::kUploadNotFound:
      return ErrorClass::kAbsent;
    case Code::kCorruption:
    case Code::kDataLoss:
    case Code::kBadDigest:
    case Code::kContentSha256Mismatch:
      return ErrorClass::kDamaged;
    case Code::kIOError:
    case Code::kNoSpace:
    case Code::kQuorum:
    case Code::kAborted:
    case Code::kRequestTimeout:
    case Code::kSlowDown:
      return ErrorClass::kUnavailable;
    case Code::kInvalidArgument:
    case Code::kAlreadyExists:
    case Code::kNotEmpty:
    case Code::kInvalidRange:
    case Code::kInvalidDigest:
    case Code::kEntityTooLarge:
    case Code::kEntityTooSmall:
    case Code::kInvalidPart:
    case Code::kInvalidPartOrder:
    case Code::kKeyTooLong:
    case Code::kInvalidBucketName:
    case Code::kMalformedXml:
    case Code::kMissingContentLength:
    case Code::kIncompleteBody:
    case Code::kNotImplemented:
    case Code::kAccessDenied:
    case Code::kSignatureMismatch:
    case Code::kInvalidAccessKeyId:
    case Code::kRequestTimeTooSkewed:
    case Code::kAuthHeaderMalformed:
    case Code::kAuthQueryMalformed:
    case Code::kInvalidPartNumber:
    case Code::kInvalidRequest:
      return ErrorClass::kRequest;
    case Code::kInternal:
      return ErrorClass::kBug;
  }
  return ErrorClass::kBug;
}

bool RetryableByDefault(Code c) { return c == Code::kRequestTimeout || c == Code::kSlowDown; }

Status QuorumError(std::string m, const Status& cause) {
  if (cause.ok()) return QuorumError(std::move(m));
  m += ": ";
  m += cause.message();
  return Status(cause.code() == Code::kNoSpace ? Code::kNoSpace : Code::kQuorum, std::move(m));
}

Status::Status(Code code, std::string msg)
    : code_(code), retryable_(RetryableByDefault(code)), msg_(std::move(msg)) {}

Status Status::WithRetryable(bool r) const {
  Status s = *this;
  s.retryable_ = r && !ok();
  return s;
}

Status OkStatusInResult() {
  return Status(Code::kInternal, "internal error: a Result was built from an OK status");
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += msg_;
  Status s(code_, std::move(m));
  s.retryable_ = retryable_;
  return s;
}

Status PosixError(std::string_view context, int err) {
  Code code = Code::kIOError;
  switch (err) {
    case ENOENT:
      code = Code::kNotFound;
      break;
    case ENOSPC:
    case EDQUOT:
      code = Code::kNoSpace;
      break;
    case EEXIST:
      code = Code::kAlreadyExists;
      break;
    case ENOTEMPTY:
      code = Code::kNotEmpty;
      break;
    default:
      break;
  }
  bool retryable = false;
  switch (err) {
    case EINTR:
    case EAGAIN:
    case EBUSY:
    case ETIMEDOUT:
    case ECONNRESET:
    case ECONNREFUSED:
    case EPIPE:
    case ENOBUFS:
    case ENOMEM:
      retryable = true;
      break;
    default:
      break;
  }
  std::string m(context);
  m += ": ";
  m += std::strerror(err);
  return Status(code, std::move(m)).WithRetryable(retryable);
}

}  // namespace cairn
