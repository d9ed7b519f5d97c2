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
  }
  return "Unknown";
}

ErrorClass ClassOf(Code c) {
  switch (c) {
    case Code::kOk:
    case Code::kDegraded:
      return ErrorClass::kNone;
    case Code::kNotFound:
      return ErrorClass::kAbsent;
    case Code::kCorruption:
    case Code::kDataLoss:
      return ErrorClass::kDamaged;
    case Code::kIOError:
    case Code::kNoSpace:
    case Code::kQuorum:
    case Code::kAborted:
      return ErrorClass::kUnavailable;
    case Code::kInvalidArgument:
    case Code::kAlreadyExists:
    case Code::kNotEmpty:
      return ErrorClass::kRequest;
    case Code::kInternal:
      return ErrorClass::kBug;
  }
  return ErrorClass::kBug;
}

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
