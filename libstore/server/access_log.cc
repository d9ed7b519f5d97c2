#include "libstore/server/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace cairn::server {
namespace {

constexpr size_t kSwapBytes = 256 << 10;
constexpr size_t kMaxPending = 16 << 20;

void AppendEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\') {
      const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
      out->append(esc, 4);
    } else {
      out->push_back(ch);
    }
  }
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a log that cannot be written is lost, the server keeps serving
    off += size_t(n);
  }
}

}  // namespace

Result<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& path) {
  if (path == "-") return std::unique_ptr<AccessLog>(new AccessLog(1, false));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError("access log " + path, errno);
  return std::unique_ptr<AccessLog>(new AccessLog(fd, true));
}

AccessLog::AccessLog(int fd, bool owns_fd) : fd_(fd), owns_fd_(owns_fd) {
  pending_.reserve(kSwapBytes * 2);
  writing_.reserve(kSwapBytes * 2);
  writer_ = std::thread([this] { WriterLoop(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  writer_.join();
  if (owns_fd_) ::close(fd_);
}

void AccessLog::Append(const AccessRecord& r) {
  char head[96];
  const time_t secs = time_t(r.time_ns / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = std::strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
  n += size_t(
      std::snprintf(head + n, sizeof(head) - n, ".%03dZ ", int((r.time_ns / 1000000) % 1000)));
  char tail[128];
  const int tn =
      std::snprintf(tail, sizeof(tail), " %d %" PRIu64 " %" PRIu64 " %" PRId64 ".%03d ", r.status,
                    r.bytes_in, r.bytes_out, r.micros / 1000, int(r.micros % 1000));
  bool wake = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (pending_.size() > kMaxPending) {
      ++dropped_;
      return;
    }
    pending_.append(head, n);
    AppendEscaped(r.remote, &pending_);
    pending_.push_back(' ');
    AppendEscaped(r.method, &pending_);
    pending_.push_back(' ');
    AppendEscaped(r.path, &pending_);
    pending_.append(tail, size_t(tn));
    AppendEscaped(r.request_id, &pending_);
    pending_.push_back('\n');
    ++appended_seq_;
    wake = pending_.size() >= kSwapBytes;
  }
  if (wake) cv_.notify_one();
}

void AccessLog::Flush() {
  std::unique_lock<std::mutex> lk(mu_);
  const uint64_t target = appended_seq_;
  cv_.notify_one();
  flushed_cv_.wait(lk, [&] { return written_seq_ >= target || stop_; });
}

uint64_t AccessLog::dropped() const {
  std::lock_guard<std::mutex> lk(mu_);
  return dropped_;
}

void AccessLog::WriterLoop() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait_for(lk, std::chrono::milliseconds(100), [&] {
      return stop_ || pending_.size() >= kSwapBytes || written_seq_ < appended_seq_;
    });
    if (dropped_ > dropped_reported_) {
      char note[80];
      const int k = std::snprintf(note, sizeof(note), "# access log: %" PRIu64 " lines dropped\n",
                                  dropped_ - dropped_reported_);
      pending_.append(note, size_t(k));
      dropped_reported_ = dropped_;
    }
    writing_.swap(pending_);
    const uint64_t seq = appended_seq_;
    const bool stop = stop_;
    lk.unlock();
    if (!writing_.empty()) WriteAll(fd_, writing_);
    writing_.clear();
    lk.lock();
    written_seq_ = seq;
    flushed_cv_.notify_all();
    if (stop && pending_.empty()) return;
  }
}

}  // namespace cairn::server
