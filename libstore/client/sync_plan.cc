#include "libstore/client/sync_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "libstore/common/hash.h"

namespace cairn::s3 {

// ------------------------------------------------------------------------------------ streams

Result<bool> LocalStream::Next(SyncEntry* e) {
  ASSIGN_OR_RETURN(bool more, walker_->Next(&file_));
  if (!more) return false;
  e->key.swap(file_.key);
  e->path.swap(file_.path);
  e->size = file_.size;
  e->mtime_ns = file_.mtime_ns;
  e->etag.clear();
  return true;
}

RemoteStream::RemoteStream(S3Client& client, std::string bucket, std::string prefix, int max_keys)
    : client_(client), bucket_(std::move(bucket)), prefix_(std::move(prefix)), max_keys_(max_keys) {}

RemoteStream::~RemoteStream() {
  {
    std::lock_guard<std::mutex> l(mu_);
    cancel_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RemoteStream::Produce() {
  ListParams p;
  p.prefix = prefix_;
  p.max_keys = max_keys_;
  Status s = client_.ListObjects(bucket_, p, [this](const ListPage& page) -> Status {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return !has_ready_ || cancel_; });
    if (cancel_) return Status(Code::kAborted, "listing stopped");
    ready_.assign(page.objects.begin(), page.objects.end());
    has_ready_ = true;
    cv_.notify_all();
    return Status::Ok();
  });
  std::lock_guard<std::mutex> l(mu_);
  final_ = s;
  done_ = true;
  cv_.notify_all();
}

Result<bool> RemoteStream::Next(SyncEntry* e) {
  if (!started_) {
    started_ = true;
    if (!StartThread(&thread_, [this] { Produce(); })) {
      std::lock_guard<std::mutex> l(mu_);
      final_ = Status(Code::kIOError, "listing s3://" + bucket_ + "/" + prefix_ +
                                          ": cannot start a thread to list with (the system is "
                                          "out of threads or memory)");
      done_ = true;
    }
  }
  while (pos_ == page_.size()) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return has_ready_ || done_; });
    if (!has_ready_) {
      if (!final_.ok()) return final_;
      return false;
    }
    page_.swap(ready_);
    has_ready_ = false;
    pos_ = 0;
    cv_.notify_all();
  }
  ObjectEntry& o = page_[pos_++];
  if (o.key.compare(0, prefix_.size(), prefix_) != 0) {
    return Status(Code::kInternal, "ListObjects s3://" + bucket_ + "/" + prefix_ +
                                       ": the server listed '" + o.key + "' outside the prefix");
  }
  e->key.assign(o.key, prefix_.size());
  e->size = o.size;
  e->etag.swap(o.etag);
  e->path.clear();
  const auto t = ParseS3Time(o.last_modified);
  if (!t) {
    return Status(Code::kInternal, "ListObjects s3://" + bucket_ + "/" + o.key +
                                       ": unreadable LastModified '" + o.last_modified + "'");
  }
  e->mtime_ns = *t;
  return true;
}

// ------------------------------------------------------------------------------------- rules

const char* Name(ActionKind k) {
  switch (k) {
    case ActionKind::kCopy: return "copy";
    case ActionKind::kDelete: return "delete";
    case ActionKind::kRefuse: return "refuse";
  }
  return "?";
}

const char* Name(Reason r) {
  switch (r) {
    case Reason::kMissing: return "missing";
    case Reason::kSizeDiffers: return "size";
    case Reason::kNewer: return "newer";
    case Reason::kChecksumDiffers: return "checksum";
    case Reason::kNotInSource: return "not-in-source";
    case Reason::kUnsafeKey: return "unsafe-key";
  }
  return "?";
}

namespace {
int64_t Seconds(int64_t ns) { return ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000); }
}  // namespace

std::optional<Reason> CopyReason(const SyncEntry& src, const SyncEntry& dst,
                                 std::optional<bool> same) {
  if (src.size != dst.size) return Reason::kSizeDiffers;
  if (same.has_value()) {
    if (*same) return std::nullopt;
    return Reason::kChecksumDiffers;
  }
  if (Seconds(src.mtime_ns) > Seconds(dst.mtime_ns)) return Reason::kNewer;
  return std::nullopt;
}

bool IsSafeRelativePath(std::string_view key) {
  if (key.empty() || key.front() == '/' || key.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  while (true) {
    const size_t slash = key.find('/', start);
    const std::string_view seg =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

// ------------------------------------------------------------------------------------ planner

Status SyncPlanner::Pull(EntryStream& s, SyncEntry* e, bool* has, std::string* last,
                         const char* side) {
  while (true) {
    ASSIGN_OR_RETURN(*has, s.Next(e));
    if (!*has) return Status::Ok();
    if (!last->empty() && e->key <= *last) {
      return Status(Code::kInternal, std::string("the ") + side + " listing is out of key order: '" +
                                         e->key + "' after '" + *last + "'");
    }
    last->assign(e->key);
    if (o_.filter.Included(e->key)) return Status::Ok();
    ++filtered_;
  }
}

Result<bool> SyncPlanner::Next(SyncAction* a) {
  if (!started_) {
    started_ = true;
    RETURN_IF_ERROR(Pull(src_, &s_, &has_src_, &last_src_, "source"));
    RETURN_IF_ERROR(Pull(dst_, &d_, &has_dst_, &last_dst_, "destination"));
  }
  while (has_src_ || has_dst_) {
    const int cmp = !has_src_ ? 1 : !has_dst_ ? -1 : s_.key.compare(d_.key);
    if (cmp > 0) {  // only on the destination
      const bool act = o_.delete_extra;
      if (act) {
        a->kind = ActionKind::kDelete;
        a->reason = Reason::kNotInSource;
        a->dst = d_;
        a->has_dst = true;
      }
      RETURN_IF_ERROR(Pull(dst_, &d_, &has_dst_, &last_dst_, "destination"));
      if (act) return true;
      continue;
    }
    std::optional<Reason> why;
    if (o_.local_destination && !s_.key.empty() && s_.key.back() == '/') {
      why = std::nullopt;  // a folder marker: directories come with the files in them
    } else if (o_.local_destination && !IsSafeRelativePath(s_.key)) {
      why = Reason::kUnsafeKey;
    } else if (cmp < 0) {
      why = Reason::kMissing;
    } else {
      std::optional<bool> same;
      if (o_.checksum && o_.same_content && s_.size == d_.size) {
        ASSIGN_OR_RETURN(same, o_.same_content(s_, d_));
      }
      why = CopyReason(s_, d_, same);
      if (!why) ++unchanged_;
    }
    if (why) {
      a->kind = *why == Reason::kUnsafeKey ? ActionKind::kRefuse : ActionKind::kCopy;
      a->reason = *why;
      a->src = s_;
      a->has_dst = cmp == 0;
      if (cmp == 0) a->dst = d_;
    }
    RETURN_IF_ERROR(Pull(src_, &s_, &has_src_, &last_src_, "source"));
    if (cmp == 0) RETURN_IF_ERROR(Pull(dst_, &d_, &has_dst_, &last_dst_, "destination"));
    if (why) return true;
  }
  return false;
}

// ----------------------------------------------------------------------------------- helpers

std::optional<int64_t> ParseS3Time(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
      t[16] != ':' || t.back() != 'Z') {
    return std::nullopt;
  }
  auto num = [&](size_t at, size_t n, int* out) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      v = v * 10 + (t[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, s;
  if (!num(0, 4, &y) || !num(5, 2, &mo) || !num(8, 2, &d) || !num(11, 2, &h) ||
      !num(14, 2, &mi) || !num(17, 2, &s)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  int64_t frac_ns = 0;
  size_t i = 19;
  if (t[i] == '.') {
    int64_t scale = 100000000;
    for (++i; i + 1 < t.size(); ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      frac_ns += (t[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (i != t.size() - 1) return std::nullopt;
  // Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
  const int yy = y - (mo <= 2);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = int64_t(era) * 146097 + doe - 719468;
  return ((days * 24 + h) * 60 + mi) * int64_t(60) * 1000000000 + int64_t(s) * 1000000000 +
         frac_ns;
}

namespace {

// MD5 of fd's bytes [off, off + n) with pread into buf.
Status Md5Range(int fd, uint64_t off, uint64_t n, std::vector<char>& buf, Md5Stream& md5,
                const std::string& what) {
  while (n > 0) {
    const ssize_t got = ::pread(fd, buf.data(), std::min<uint64_t>(n, buf.size()), off_t(off));
    if (got < 0) {
      if (errno == EINTR) continue;
      return PosixError(what, errno);
    }
    if (got == 0) return Status(Code::kIOError, what + ": shorter than its size (changed while read)");
    md5.Update(buf.data(), size_t(got));
    off += uint64_t(got);
    n -= uint64_t(got);
  }
  return Status::Ok();
}

constexpr uint64_t kMiB = uint64_t(1) << 20;

}  // namespace

Result<std::string> MultipartEtag(int fd, uint64_t size, uint64_t part_size) {
  if (part_size == 0) return InvalidArgument("part size 0");
  std::vector<char> buf(1 << 20);
  Md5Stream part, whole;
  uint8_t d[16];
  uint32_t parts = 0;
  for (uint64_t off = 0; off < size || (size == 0 && parts == 0); off += part_size) {
    part.Reset();
    RETURN_IF_ERROR(Md5Range(fd, off, std::min(part_size, size - off), buf, part, "file"));
    part.Final(d);
    whole.Update(d, 16);
    ++parts;
    if (size == 0) break;
  }
  whole.Final(d);
  return ToHex(d, 16) + "-" + std::to_string(parts);
}

std::vector<uint64_t> CandidatePartSizes(uint64_t size, uint32_t parts) {
  std::vector<uint64_t> out;
  if (parts == 0) return out;
  const uint64_t rounded = ((size + parts - 1) / parts + kMiB - 1) / kMiB * kMiB;
  const uint64_t grown = std::max<uint64_t>(8 * kMiB, (size + 9999) / 10000);
  for (uint64_t p : {8 * kMiB, 5 * kMiB, 16 * kMiB, 64 * kMiB, grown, rounded}) {
    if (p == 0 || (size + p - 1) / p != parts) continue;
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

Result<std::optional<bool>> LocalMatchesEtag(const std::string& path, uint64_t size,
                                             const std::string& etag) {
  const size_t dash = etag.find('-');
  uint32_t parts = 0;
  if (!IsMd5Etag(etag)) {
    if (dash != 32 || !IsMd5Etag(etag.substr(0, 32))) return std::optional<bool>();
    const std::string n = etag.substr(dash + 1);
    if (n.empty() || n.size() > 5 || n.find_first_not_of("0123456789") != std::string::npos) {
      return std::optional<bool>();
    }
    parts = uint32_t(std::stoul(n));
  }
  std::vector<uint64_t> sizes;
  if (parts > 0) {
    sizes = CandidatePartSizes(size, parts);
    if (sizes.empty()) return std::optional<bool>();
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(path, errno);
  std::string lower = etag;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  Result<std::optional<bool>> out = std::optional<bool>(false);
  if (parts == 0) {
    std::vector<char> buf(1 << 20);
    Md5Stream md5;
    Status s = Md5Range(fd, 0, size, buf, md5, path);
    if (!s.ok()) {
      out = s;
    } else {
      out = std::optional<bool>(md5.FinalHex() == lower);
    }
  } else {
    for (uint64_t p : sizes) {
      auto got = MultipartEtag(fd, size, p);
      if (!got.ok()) {
        out = got.status().WithContext(path);
        break;
      }
      if (*got == lower) {
        out = std::optional<bool>(true);
        break;
      }
    }
  }
  ::close(fd);
  return out;
}

std::optional<bool> EtagsMatch(const std::string& a, const std::string& b) {
  if (!a.empty() && a == b) return true;
  if (IsMd5Etag(a) && IsMd5Etag(b)) return false;
  return std::nullopt;
}

}  // namespace cairn::s3
