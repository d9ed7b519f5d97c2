// The access log: one line per request, written by a thread of its own so that a request never
// waits for the log's disk. Lines are formatted straight into a reused buffer (no allocation per
// request once it has grown); the writer swaps buffers and writes what accumulated every 100 ms or
// sooner when a buffer passes 256 KiB. If the writer falls 16 MiB behind, lines are dropped and
// counted rather than growing memory; the count is written as a line when it catches up.
//
// Line format (space-separated; the path has spaces, quotes, backslashes and unprintable bytes
// written as \xHH so a line is always one line):
//   2026-12-02T10:00:00.123Z 127.0.0.1:51234 GET /bkt/key 200 0 1024 3.215 4E1F0A2B3C4D5E6F
//   time remote method path status bytes-in bytes-out milliseconds request-id
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "libstore/common/status.h"

namespace cairn::server {

struct AccessRecord {
  int64_t time_ns = 0;  // when the request arrived (wall clock)
  std::string_view remote, method, path;
  int status = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  int64_t micros = 0;  // from the request's first header byte to the response's last byte
  std::string_view request_id;
};

class AccessLog {
 public:
  // "-" is stdout; anything else is a file opened for appending (created 0644).
  static Result<std::unique_ptr<AccessLog>> Open(const std::string& path);
  // Flushes what is buffered and stops the writer.
  ~AccessLog();

  // Thread-safe; never blocks on I/O.
  void Append(const AccessRecord& r);
  // Writes everything appended so far before returning (tests, shutdown).
  void Flush();
  uint64_t dropped() const;

 private:
  AccessLog(int fd, bool owns_fd);
  void WriterLoop();

  const int fd_;
  const bool owns_fd_;
  mutable std::mutex mu_;
  std::condition_variable cv_, flushed_cv_;
  std::string pending_, writing_;
  uint64_t dropped_ = 0, dropped_reported_ = 0;
  uint64_t appended_seq_ = 0, written_seq_ = 0;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace cairn::server
