#include <cstring>
#include <memory>

#include "libstore/plain/plain_internal.h"

namespace cairn::plain {

char* IoBuffer() {
  thread_local std::unique_ptr<char[]> buf(new char[kIoBufferSize]);
  return buf.get();
}

bool IsAbsent(const Status& s) {
  if (s.code() == Code::kNotFound || s.code() == Code::kCorruption) return true;
  if (s.code() != Code::kIOError) return false;
  // PosixError's "context: strerror" for ENOTDIR and EISDIR.
  const std::string& m = s.message();
  for (int err : {ENOTDIR, EISDIR}) {
    const char* text = std::strerror(err);
    const size_t n = std::strlen(text);
    if (m.size() >= n && m.compare(m.size() - n, n, text) == 0) return true;
  }
  return false;
}

}  // namespace cairn::plain
