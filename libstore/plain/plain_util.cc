#include <algorithm>
#include <cstring>
#include <memory>

#include "libstore/common/hash.h"
#include "libstore/plain/plain_internal.h"

namespace cairn::plain {

char* IoBuffer() {
  thread_local std::unique_ptr<char[]> buf(new char[kIoBufferSize]);
  return buf.get();
}

Digests Digests::Of(const BodyChecksums& sums) {
  Digests d;
  if (sums.plan().md5) d.md5_hex = ToHex(sums.md5().data(), sums.md5().size());
  if (sums.plan().checksum != ChecksumAlgorithm::kNone) {
    d.checksum = sums.checksum();
    d.checksum_type = ChecksumType::kFullObject;
  }
  return d;
}

void Digests::ApplyTo(ObjectInfo* info) const {
  info->checksum = checksum;
  info->checksum_type = checksum_type;
  info->checksum_parts = checksum_parts;
}

Status ReadThrough(ReadableFile& f, uint64_t size, BodyChecksums& sums, WritableFile* out,
                   const std::string& what) {
  char* buf = IoBuffer();
  for (uint64_t off = 0; off < size;) {
    const size_t want = size_t(std::min<uint64_t>(size - off, kIoBufferSize));
    ASSIGN_OR_RETURN(size_t got, f.ReadAt(off, buf, want));
    if (got == 0) {
      return Status(Code::kIOError, what + ": the file shrank while it was read").WithRetryable();
    }
    sums.Update(buf, got);
    if (out != nullptr) RETURN_IF_ERROR(out->Append(buf, got));
    off += got;
  }
  return Status::Ok();
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
