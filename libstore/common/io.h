// Source and Sink: how bodies stream in and out of libstore (object stores, shard files, the CLI,
// the S3 server), without any of them depending on the others' headers.
//
// Thread safety: a Source or Sink is used by one thread at a time unless its class says more.
#pragma once

#include <cstddef>
#include <cstdint>

#include "libstore/common/status.h"

namespace cairn {

// Where a body comes from (a PUT's, an encode's). Read returns the bytes read, at most n and at
// least 1 while the stream lasts; 0 only at its end (and every later call returns 0 again). A
// failed Read aborts the operation that drives it with that status.
class Source {
 public:
  virtual ~Source() = default;
  virtual Result<size_t> Read(void* buf, size_t n) = 0;
};

// Reads from src until n bytes arrived or the source ended; returns how many arrived (less than n
// only at the end of the stream). A failed Read fails it: what arrived before is in buf.
Result<size_t> ReadFull(Source& src, void* buf, size_t n);

// Where a body goes (a GET's, a decode's). Write takes all n bytes or fails; a failed Write
// aborts the operation that drives it with that status, and nothing more is written.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Write(const void* data, size_t n) = 0;

  // Whether SendFile works on this sink (a plain-HTTP connection's; a TLS one, a file or a buffer
  // must copy).
  virtual bool CanSendFile() const { return false; }
  // Writes bytes [offset, offset + length) of the file fd, as Write would write them, with
  // sendfile(2): the bytes never pass through user space. fd is the caller's: read at that offset
  // only, never through its file position, and not closed. kNotImplemented when !CanSendFile();
  // otherwise the errors of Write, and an error when the file is shorter than the range.
  virtual Status SendFile(int /*fd*/, uint64_t /*offset*/, uint64_t /*length*/) {
    return Status(Code::kNotImplemented, "sendfile is not available on this sink");
  }
};

}  // namespace cairn
