#include "libstore/common/status.h"

#include <cstring>

namespace cairn {

const char* CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kNotEmpty: return "NotEmpty";
    case Code::kIOError: return "IOError";
    case Code::kNoSpace: return "NoSpace";
    case Code::kCorruption: return "Corruption";
    case Code::kDataLoss: return "DataLoss";
    case Code::kQuorum: return "Quorum";
    case Code::kAborted: return "Aborted";
    case Code::kInternal: return "Internal";
    case Code::kDegraded: return "Degraded";
  }
  return "Unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += msg_;
  return Status(code_, std::move(m));
}

Status PosixError(std::string_view context, int err) {
  Code code = Code::kIOError;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case ENOSPC:
    case EDQUOT: code = Code::kNoSpace; break;
    case EEXIST: code = Code::kAlreadyExists; break;
    case ENOTEMPTY: code = Code::kNotEmpty; break;
    default: break;
  }
  std::string m(context);
  m += ": ";
  m += std::strerror(err);
  return Status(code, std::move(m));
}

}  // namespace cairn
