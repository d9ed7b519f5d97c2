// Sources and sinks over file descriptors for the commands (stdin/stdout and local files). The JSON
// the commands print (Dump, PutText) is in cli/json_out.h, included here for them.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "cli/json_out.h"
#include "cli/progress.h"
#include "libstore/common/io.h"

namespace cairn::cli {

// Set once a write to stdout met a closed pipe (EPIPE): the reader stopped reading (`cairn ls |
// head`). main then exits 1 without a message, as a shell says nothing of a process killed by
// SIGPIPE.
inline bool& StdoutReaderGone() {
  static bool gone = false;
  return gone;
}

class FdSource : public Source {
 public:
  FdSource(int fd, std::string name, Progress* p = nullptr) : fd_(fd), name_(std::move(name)), p_(p) {}
  Result<size_t> Read(void* buf, size_t n) override {
    while (true) {
      ssize_t r = ::read(fd_, buf, n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return PosixError(name_, errno);
      if (p_) p_->Add(uint64_t(r));
      return size_t(r);
    }
  }

 private:
  int fd_;
  std::string name_;
  Progress* p_;
};

class FdSink : public Sink {
 public:
  // writeback: the file will be fsynced at the end, so start writing it to disk as it grows.
  FdSink(int fd, std::string name, Progress* p = nullptr, bool writeback = false)
      : fd_(fd), name_(std::move(name)), p_(p), writeback_(writeback) {}
  Status Write(const void* data, size_t n) override {
    const char* d = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, d, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        if (errno == EPIPE && fd_ == 1) StdoutReaderGone() = true;
        return PosixError(name_, errno);
      }
      d += w;
      n -= size_t(w);
      written_ += uint64_t(w);
      if (p_) p_->Add(uint64_t(w));
    }
    if (writeback_ && written_ - started_ >= (8u << 20)) {
      ::sync_file_range(fd_, off64_t(started_), off64_t(written_ - started_), SYNC_FILE_RANGE_WRITE);
      started_ = written_;
    }
    return Status::Ok();
  }

 private:
  int fd_;
  std::string name_;
  Progress* p_;
  bool writeback_;
  uint64_t written_ = 0, started_ = 0;
};

}  // namespace cairn::cli
