#include "libstore/client/transfer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <random>

#include "libstore/common/hash.h"
#include "libstore/common/stage_threads.h"
#include "libstore/object/multipart.h"

namespace cairn::s3 {

namespace {

// Largest object CopyObject copies in one request (S3's limit); above, UploadPartCopy parts.
constexpr uint64_t kMaxSingleCopy = uint64_t(5) << 30;
// Server-side copy parts: no bytes pass through the client, so larger parts mean fewer requests.
constexpr uint64_t kMinCopyPart = uint64_t(256) << 20;
// Uploads up to this size are read into the worker's reused buffer and sent from memory (one
// read of the file); larger ones are read with pread for hashing and again for sending.
constexpr size_t kSmallUpload = size_t(1) << 20;

std::string Url(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + "/" + key;
}

Status Interrupted(const std::string& what) {
  return Status(Code::kAborted, "interrupted: " + what);
}

// Writes with write(2) to an fd it does not own.
class FdWriteSink : public Sink {
 public:
  explicit FdWriteSink(int fd, const std::string& path) : fd_(fd), path_(path) {}
  Status Write(const void* data, size_t n) override {
    const char* d = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, d, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return PosixError(path_, errno);
      d += w;
      n -= size_t(w);
    }
    return Status::Ok();
  }

 private:
  int fd_;
  const std::string& path_;
};

// The default download target: a temp file beside the target, renamed over it by Commit.
class LocalDownload : public DownloadTarget {
 public:
  LocalDownload(std::string path, std::string dir, std::string tmp, int fd, DirSync* durable)
      : path_(std::move(path)),
        dir_(std::move(dir)),
        tmp_(std::move(tmp)),
        fd_(fd),
        durable_(durable),
        sink_(fd_, path_) {}
  ~LocalDownload() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  Sink& sink() override { return sink_; }
  int positional_fd() const override { return fd_; }
  Status Commit() override {
    Status s;
    // The data first: a crash after the rename must not show an empty or torn file under the
    // name (nor have replaced an older good copy with one).
    if (durable_ != nullptr && ::fsync(fd_) != 0) s = PosixError(path_ + ": fsync", errno);
    if (::close(fd_) != 0 && s.ok()) s = PosixError(path_ + ": close", errno);
    fd_ = -1;
    if (s.ok() && ::rename(tmp_.c_str(), path_.c_str()) != 0) s = PosixError(path_, errno);
    committed_ = s.ok();
    if (committed_ && durable_ != nullptr) durable_->Add(dir_);
    return s;
  }

 private:
  std::string path_, dir_, tmp_;
  int fd_;
  DirSync* durable_;
  bool committed_ = false;
  FdWriteSink sink_;
};

// The directory holding `path` ("" for a bare name: the working directory; "/" for "/x").
std::string ParentOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Creates every missing directory of `dir` (like mkdir -p); the parent of each one made is owed
// an fsync (durable, when not null), or the new directory may vanish in a crash.
Status MakeDirs(const std::string& dir, DirSync* durable) {
  if (dir.empty()) return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    return S_ISDIR(st.st_mode) ? Status::Ok()
                               : Status(Code::kInvalidArgument, dir + ": not a directory");
  }
  const size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash), durable));
  }
  if (::mkdir(dir.c_str(), 0777) != 0) {
    if (errno != EEXIST) return PosixError(dir, errno);
  } else if (durable != nullptr) {
    durable->Add(ParentOf(dir));
  }
  return Status::Ok();
}

std::string RandomHex() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < 32; i += 16) {
    uint64_t v = rng();
    for (size_t j = 0; j < 16; ++j, v >>= 4) out[i + j] = kHex[v & 15];
  }
  return out;
}

// Passes bytes on, counts them into the engine's counter and stops the transfer once the
// cancel flag is set (a long GET is not waited for).
class CountingCancelSink : public Sink {
 public:
  CountingCancelSink(Sink& inner, std::atomic<uint64_t>& bytes, const std::atomic<bool>* cancel,
                     const std::string& what)
      : inner_(inner), bytes_(bytes), cancel_(cancel), what_(what) {}
  Status Write(const void* data, size_t n) override {
    if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) return Interrupted(what_);
    RETURN_IF_ERROR(inner_.Write(data, n));
    bytes_.fetch_add(n, std::memory_order_relaxed);
    return Status::Ok();
  }

 private:
  Sink& inner_;
  std::atomic<uint64_t>& bytes_;
  const std::atomic<bool>* cancel_;
  const std::string& what_;
};

// Writes one ranged GET's body at its offsets.
class PositionalSink : public Sink {
 public:
  PositionalSink(int fd, uint64_t offset, const std::string& path)
      : fd_(fd), pos_(offset), path_(path) {}
  Status Write(const void* data, size_t n) override {
    const char* d = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, d, n, off_t(pos_));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return PosixError(path_, errno);
      d += w;
      n -= size_t(w);
      pos_ += uint64_t(w);
    }
    return Status::Ok();
  }

 private:
  int fd_;
  uint64_t pos_;
  const std::string& path_;
};

// Hashes what passes through (one range of a download, in order).
class Md5Sink : public Sink {
 public:
  explicit Md5Sink(Sink& inner) : inner_(inner) {}
  Status Write(const void* data, size_t n) override {
    md5_.Update(data, n);
    return inner_.Write(data, n);
  }
  void Final(std::array<uint8_t, 16>& out) { md5_.Final(out.data()); }

 private:
  Sink& inner_;
  Md5Stream md5_;
};

// The number of parts a multipart ETag ("<md5>-N") names; 0 for any other ETag.
uint32_t EtagParts(const std::string& etag) {
  const size_t dash = etag.find('-');
  if (dash != 32 || !IsMd5Etag(etag.substr(0, 32)) || dash + 1 >= etag.size() ||
      etag.size() - dash - 1 > 5 ||
      etag.find_first_not_of("0123456789", dash + 1) != std::string::npos) {
    return 0;
  }
  return uint32_t(std::strtoul(etag.c_str() + dash + 1, nullptr, 10));
}

// Reads exactly n bytes at offset 0 of fd into buf.
Status ReadWhole(int fd, char* buf, size_t n, const std::string& path) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, buf + got, n - got, off_t(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return PosixError(path, errno);
    if (r == 0) return Status(Code::kIncompleteBody, path + ": the file shrank while it was read");
    got += size_t(r);
  }
  return Status::Ok();
}

}  // namespace

const char* Name(TransferKind k) {
  switch (k) {
    case TransferKind::kUpload: return "upload";
    case TransferKind::kDownload: return "download";
    case TransferKind::kCopy: return "copy";
    case TransferKind::kDelete: return "delete";
  }
  return "?";
}

void DirSync::Add(std::string dir) {
  std::unordered_set<std::string> full;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (dir == last_) return;
    last_ = dir;
    pending_.insert(std::move(dir));
    if (pending_.size() < limit_) return;
    full.swap(pending_);
    last_.clear();
  }
  std::lock_guard<std::mutex> f(flush_mu_);
  SyncLocked(full);
}

Status DirSync::Flush() {
  std::unordered_set<std::string> dirs;
  {
    std::lock_guard<std::mutex> l(mu_);
    dirs.swap(pending_);
    last_.clear();
  }
  std::lock_guard<std::mutex> f(flush_mu_);
  SyncLocked(dirs);
  Status s = std::move(held_);
  held_ = Status::Ok();
  return s;
}

void DirSync::SyncLocked(const std::unordered_set<std::string>& dirs) {
  for (const std::string& d : dirs) {
    const std::string name = d.empty() ? "." : d;
    const int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    Status s;
    if (fd < 0) {
      s = PosixError(name + ": opening the directory to fsync it", errno);
    } else {
      if (::fsync(fd) != 0) s = PosixError(name + ": fsync", errno);
      ::close(fd);
    }
    if (s.ok()) {
      synced_.fetch_add(1, std::memory_order_relaxed);
    } else if (held_.ok()) {
      held_ = s;
    }
  }
}

Result<std::unique_ptr<DownloadTarget>> OpenLocalDownload(const std::string& path,
                                                          DirSync* durable) {
  if (path.empty()) return InvalidArgument("an empty download path");
  const std::string dir = ParentOf(path);
  const std::string name = path.substr(path.find_last_of('/') + 1);  // npos + 1 == 0
  if (name.empty() || name == "." || name == "..") {
    return InvalidArgument(path + ": not a file name");
  }
  RETURN_IF_ERROR(MakeDirs(dir, durable));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // Never renamed over a device, a FIFO or a socket (nor a directory).
    return InvalidArgument(path + (S_ISDIR(st.st_mode) ? ": is a directory"
                                                       : ": exists and is not a regular file"));
  }
  // ".<name>.cairn-<hex>": the name cut so that the temp name fits in NAME_MAX (255).
  std::string tmp = (dir.empty() ? "" : dir + "/") + "." + name.substr(0, 200) + ".cairn-" +
                    RandomHex();
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) return PosixError(path + ": creating a temp file", errno);
  return std::unique_ptr<DownloadTarget>(
      new LocalDownload(path, dir, std::move(tmp), fd, durable));
}

namespace {

// The target of a download: the options' opener, else a local temp file; their renames owe the
// receiving directories an fsync unless the downloads are not to be flushed.
Result<std::unique_ptr<DownloadTarget>> OpenTarget(const TransferOptions& opts, DirSync& dirs,
                                                   const TransferTask& task) {
  DirSync* durable = opts.fsync_downloads ? &dirs : nullptr;
  if (opts.open_download) return opts.open_download(task, durable);
  return OpenLocalDownload(task.local, durable);
}

}  // namespace

// One multipart object in flight: an upload, a ranged download or a multipart copy. Parts are
// handed out under the engine's mutex (next); results are gathered under mu.
struct TransferEngine::Multi {
  TransferTask task;
  std::string what;  // "s3://bkt/key" (the object written, or read for downloads)
  int fd = -1;       // upload: the source file (owned)
  std::unique_ptr<DownloadTarget> target;  // download
  ObjectHead head;                         // download: size and ETag the ranges are pinned to
  uint64_t size = 0, part_size = 0;
  uint32_t parts = 0;
  std::string upload_id;
  int attempt = 1;
  uint32_t next = 0;  // under the engine's mu_
  std::mutex mu;
  uint32_t finished = 0;  // under mu
  Status first;           // under mu
  std::vector<CompletedUploadPart> done;
  // Download of a multipart-ETag object in as many ranges as it has parts: each range's MD5 as
  // it arrived (under mu). When they make the ETag, the parts were cut where ours are and the
  // bytes are as sent: the file need not be read back. Otherwise VerifyDownload decides.
  std::vector<std::array<uint8_t, 16>> md5s;
  ~Multi() {
    if (fd >= 0) ::close(fd);
  }
};

uint64_t TransferEngine::PartSizeFor(uint64_t size, uint64_t part_size) {
  return std::max(part_size, (size + kMaxPartNumber - 1) / kMaxPartNumber);
}

Result<std::unique_ptr<TransferEngine>> TransferEngine::Create(S3Client& client,
                                                               TransferOptions opts) {
  if (opts.jobs < 1 || opts.jobs > 1024) return InvalidArgument("jobs must be between 1 and 1024");
  if (opts.part_size < kMinPartSize || opts.part_size > kMaxPartSize) {
    return InvalidArgument("the part size must be between 5MiB and 5GiB");
  }
  if (opts.object_attempts < 1) return InvalidArgument("object_attempts must be at least 1");
  if (opts.multipart_copy_above > kMaxSingleCopy || opts.multipart_copy_above < kMinPartSize) {
    return InvalidArgument("multipart_copy_above must be between 5MiB and 5GiB");
  }
  if (opts.queue_limit == 0) opts.queue_limit = size_t(opts.jobs) * 4;
  std::unique_ptr<TransferEngine> e(new TransferEngine(client, std::move(opts)));
  // As many workers as asked, or as the system lets start (--jobs is a bound, not a promise).
  TransferEngine* p = e.get();
  if (StartThreads(&e->workers_, size_t(e->opts_.jobs), [p] { p->Worker(); }) == 0) {
    return Status(
        Code::kIOError,
        "cannot start a thread to transfer with (the system is out of threads or memory)");
  }
  return e;
}

TransferEngine::TransferEngine(S3Client& client, TransferOptions opts)
    : client_(client), opts_(std::move(opts)) {}

TransferEngine::~TransferEngine() { Finish(); }

bool TransferEngine::Cancelled() const {
  return opts_.cancel != nullptr && opts_.cancel->load(std::memory_order_relaxed);
}

Status TransferEngine::Submit(TransferTask task) {
  std::unique_lock<std::mutex> l(mu_);
  space_cv_.wait(l, [&] { return queue_.size() < opts_.queue_limit || closing_ || Cancelled(); });
  if (closing_) return InvalidArgument("the transfer engine is finished");
  if (Cancelled()) return Status(Code::kAborted, "interrupted");
  if (task.size) bytes_total_.fetch_add(*task.size, std::memory_order_relaxed);
  submitted_.fetch_add(1, std::memory_order_relaxed);
  queue_.push_back(std::move(task));
  l.unlock();
  work_cv_.notify_one();
  return Status::Ok();
}

void TransferEngine::AddExpectedBytes(uint64_t n) {
  bytes_total_.fetch_add(n, std::memory_order_relaxed);
}

TransferStats TransferEngine::stats() const {
  TransferStats s;
  s.submitted = submitted_.load();
  s.done = done_.load();
  s.failed = failed_.load();
  s.cancelled = cancelled_.load();
  s.bytes = bytes_.load();
  s.bytes_total = bytes_total_.load();
  s.retries = client_.retries();
  s.dirs_synced = dir_sync_.synced();
  std::lock_guard<std::mutex> l(mu_);
  s.durable = durable_;
  return s;
}

TransferStats TransferEngine::Finish() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  // Every rename is done: the directories they went into (downloads only; nothing was added
  // without fsync_downloads).
  Status d = dir_sync_.Flush();
  if (!d.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    if (durable_.ok()) durable_ = d.WithContext("the downloads were not made durable");
  }
  return stats();
}

void TransferEngine::Worker() {
  std::vector<char> buf;  // this worker's upload buffer, reused for every small file
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    work_cv_.wait(l, [&] {
      return !multis_.empty() || !queue_.empty() || (closing_ && busy_ == 0);
    });
    if (!multis_.empty()) {
      // Parts of objects already started go first: objects finish sooner, and fewer are open.
      std::shared_ptr<Multi> m = multis_.front();
      const uint32_t index = m->next++;
      if (m->next >= m->parts) multis_.pop_front();
      ++busy_;
      l.unlock();
      RunPart(m, index);
      m.reset();
      l.lock();
      --busy_;
    } else if (!queue_.empty()) {
      TransferTask task = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      l.unlock();
      space_cv_.notify_one();
      if (Cancelled()) {
        cancelled_.fetch_add(1, std::memory_order_relaxed);
      } else {
        RunTask(task, buf);
      }
      l.lock();
      --busy_;
    } else {
      // closing_ and nothing runs: nothing can add work any more.
      l.unlock();
      work_cv_.notify_all();
      return;
    }
    if (closing_ && busy_ == 0 && queue_.empty() && multis_.empty()) work_cv_.notify_all();
  }
}

void TransferEngine::Report(const TransferTask& task, Status status, uint64_t bytes,
                            std::string etag) {
  (status.ok() ? done_ : failed_).fetch_add(1, std::memory_order_relaxed);
  if (!opts_.on_result) return;
  TransferResult r{task, std::move(status), bytes, std::move(etag)};
  std::lock_guard<std::mutex> l(report_mu_);
  opts_.on_result(r);
}

void TransferEngine::RunTask(TransferTask& task, std::vector<char>& buf) {
  uint64_t bytes = 0;
  std::string etag;
  Status s;
  bool handed = false;
  switch (task.kind) {
    case TransferKind::kUpload: s = Upload(task, buf, &bytes, &etag, &handed); break;
    case TransferKind::kDownload: s = Download(task, &bytes, &etag, &handed); break;
    case TransferKind::kCopy: s = Copy(task, &etag, &handed); break;
    case TransferKind::kDelete: s = client_.DeleteObject(task.dst_bucket, task.dst_key); break;
  }
  if (handed) return;  // a multipart object: FinishMulti reports it
  if (s.ok() && task.kind == TransferKind::kCopy && task.size) bytes = *task.size;
  Report(task, std::move(s), bytes, std::move(etag));
}

Status TransferEngine::Upload(TransferTask& task, std::vector<char>& buf, uint64_t* bytes,
                              std::string* etag, bool* handed) {
  const int fd = ::open(task.local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(task.local, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return PosixError(task.local, e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(Code::kInvalidArgument,
                  task.local + (S_ISDIR(st.st_mode) ? ": is a directory" : ": not a regular file"));
  }
  const uint64_t size = uint64_t(st.st_size);
  if (!task.size) bytes_total_.fetch_add(size, std::memory_order_relaxed);
  if (size <= opts_.part_size) {
    Payload p;
    p.size = size;
    p.content_type = task.content_type;
    Status s;
    if (size <= kSmallUpload) {
      if (buf.size() < size) buf.resize(std::max<size_t>(size_t(size), 64 << 10));
      s = ReadWhole(fd, buf.data(), size_t(size), task.local);
      p.data = buf.data();
    } else {
      p.fd = fd;
    }
    Result<std::string> r = s.ok() ? client_.PutObject(task.dst_bucket, task.dst_key, p)
                                   : Result<std::string>(s);
    ::close(fd);
    if (!r.ok()) return r.status();
    *etag = std::move(r).value();
    *bytes = size;
    bytes_.fetch_add(size, std::memory_order_relaxed);
    return Status::Ok();
  }
  auto m = std::make_shared<Multi>();
  m->fd = fd;
  m->size = size;
  m->part_size = PartSizeFor(size, opts_.part_size);
  m->parts = uint32_t((size + m->part_size - 1) / m->part_size);
  m->what = Url(task.dst_bucket, task.dst_key);
  auto id = client_.CreateMultipartUpload(task.dst_bucket, task.dst_key, task.content_type);
  if (!id.ok()) return id.status();
  m->upload_id = std::move(id).value();
  m->done.resize(m->parts);
  m->task = std::move(task);
  Start(std::move(m));
  *handed = true;
  return Status::Ok();
}

Status TransferEngine::Download(TransferTask& task, uint64_t* bytes, std::string* etag,
                                bool* handed) {
  const std::string what = Url(task.src_bucket, task.src_key);
  auto open = [&] { return OpenTarget(opts_, dir_sync_, task); };
  // Parallel ranges of the object: the first `have` parts are in the file already.
  auto ranged = [&](std::unique_ptr<DownloadTarget> target, uint64_t size, std::string etag,
                    int attempt, uint32_t have, const std::array<uint8_t, 16>* first_md5) -> Status {
    auto m = std::make_shared<Multi>();
    m->size = size;
    m->head.size = size;
    m->head.etag = std::move(etag);
    m->part_size = PartSizeFor(m->size, opts_.part_size);
    m->parts = uint32_t((m->size + m->part_size - 1) / m->part_size);
    m->what = what;
    m->attempt = attempt;
    m->next = m->finished = m->part_size == opts_.part_size ? have : 0;
    if (EtagParts(m->head.etag) == m->parts) {
      m->md5s.resize(m->parts);
      if (m->next == 1 && first_md5 != nullptr) m->md5s[0] = *first_md5;
    }
    if (::ftruncate(target->positional_fd(), off_t(m->size)) != 0) {
      return PosixError(task.local + ": sizing the file", errno);
    }
    m->target = std::move(target);
    m->task = std::move(task);
    Start(std::move(m));
    *handed = true;
    return Status::Ok();
  };
  Status last;
  for (int attempt = 1; attempt <= opts_.object_attempts; ++attempt) {
    if (Cancelled()) return Interrupted("the download of " + what + " was stopped");
    ASSIGN_OR_RETURN(std::unique_ptr<DownloadTarget> target, open());
    const int fd = target->positional_fd();
    if (task.size && *task.size > opts_.part_size && fd >= 0 && !task.etag.empty()) {
      return ranged(std::move(target), *task.size, task.etag, attempt, 0, nullptr);
    }
    // Without an ETag to pin the ranges to (and check against), large objects are probed too.
    if ((!task.size || (*task.size > opts_.part_size && task.etag.empty())) && fd >= 0) {
      // Size unknown (a named object): the first part's range, whose answer tells the size. A
      // small object is then whole in one GET; a large one goes on in parallel ranges.
      GetOptions go;
      go.range = std::make_pair(uint64_t(0), opts_.part_size - 1);
      PositionalSink pos(fd, 0, task.local);
      Md5Sink hashed(pos);
      CountingCancelSink sink(hashed, bytes_, opts_.cancel, what);
      auto got = client_.GetObject(task.src_bucket, task.src_key, sink, go);
      if (got.ok() && got->total_size > got->size) {
        bytes_total_.fetch_add(got->total_size, std::memory_order_relaxed);
        std::array<uint8_t, 16> first{};
        hashed.Final(first);
        return ranged(std::move(target), got->total_size, got->etag, attempt, 1, &first);
      }
      if (got.ok()) {
        ObjectHead whole = *got;
        whole.size = whole.total_size;
        Status v = client_.VerifyDownload(task.src_bucket, task.src_key, whole, fd);
        if (v.ok()) {
          RETURN_IF_ERROR(target->Commit());
          *bytes = whole.size;
          *etag = whole.etag;
          return Status::Ok();
        }
        got = v;
      }
      last = got.status();
      if (Cancelled()) return Interrupted("the download of " + what + " was stopped");
      if (last.code() == Code::kCorruption) continue;
      // An empty object has no byte 0: S3 answers 416 InvalidRange; a plain GET follows.
      if (last.code() != Code::kInvalidRange &&
          last.message().find(": InvalidRange") == std::string::npos) {
        return last;
      }
      ASSIGN_OR_RETURN(target, open());
    }
    CountingCancelSink sink(target->sink(), bytes_, opts_.cancel, what);
    auto got = client_.GetObject(task.src_bucket, task.src_key, sink);
    if (got.ok() && !IsMd5Etag(got->etag) && target->positional_fd() >= 0) {
      // GetObject checks an MD5 ETag; a multipart one ("-N") is checked from the file.
      Status v = client_.VerifyDownload(task.src_bucket, task.src_key, *got,
                                        target->positional_fd());
      if (!v.ok()) got = v;
    }
    if (got.ok()) {
      RETURN_IF_ERROR(target->Commit());
      *bytes = got->size;
      *etag = got->etag;
      return Status::Ok();
    }
    last = got.status();
    if (Cancelled()) return Interrupted("the download of " + what + " was stopped");
    if (last.code() != Code::kCorruption) return last;
  }
  return last;
}

Status TransferEngine::Copy(TransferTask& task, std::string* etag, bool* handed) {
  if (!task.size || *task.size <= opts_.multipart_copy_above) {
    auto r = client_.CopyObject(task.src_bucket, task.src_key, task.dst_bucket, task.dst_key);
    if (r.ok()) {
      *etag = std::move(r).value();
      bytes_.fetch_add(task.size.value_or(0), std::memory_order_relaxed);
      return Status::Ok();
    }
    // A named source's size is not known before it is copied, and S3 refuses one CopyObject of
    // more than 5 GiB (InvalidRequest): its size, asked now, decides as a listing's would have.
    if (task.size || r.status().code() != Code::kInvalidRequest) return r.status();
    auto head = client_.HeadObject(task.src_bucket, task.src_key);
    if (!head.ok() || head->size <= kMinPartSize) return r.status();
    task.size = head->size;
    task.etag = head->etag;
  }
  auto m = std::make_shared<Multi>();
  m->size = *task.size;
  m->part_size = PartSizeFor(
      m->size, std::max(opts_.part_size, std::min(kMinCopyPart, opts_.multipart_copy_above)));
  m->parts = uint32_t((m->size + m->part_size - 1) / m->part_size);
  m->what = Url(task.dst_bucket, task.dst_key);
  ASSIGN_OR_RETURN(m->upload_id, client_.CreateMultipartUpload(task.dst_bucket, task.dst_key));
  m->done.resize(m->parts);
  m->task = std::move(task);
  Start(std::move(m));
  *handed = true;
  return Status::Ok();
}

void TransferEngine::Start(std::shared_ptr<Multi> m) {
  {
    std::lock_guard<std::mutex> l(mu_);
    multis_.push_back(std::move(m));
  }
  work_cv_.notify_all();
}

void TransferEngine::RunPart(const std::shared_ptr<Multi>& m, uint32_t index) {
  bool skip;
  {
    std::lock_guard<std::mutex> l(m->mu);
    if (m->first.ok() && Cancelled()) {
      m->first = Interrupted(m->task.kind == TransferKind::kDownload
                               ? "the download of " + m->what + " was stopped"
                               : "the multipart upload of " + m->what + " was aborted");
    }
    skip = !m->first.ok();
  }
  Status s;
  if (!skip) {
    const uint64_t off = uint64_t(index) * m->part_size;
    const uint64_t len = std::min(m->part_size, m->size - off);
    const TransferTask& t = m->task;
    std::string etag;
    if (t.kind == TransferKind::kUpload) {
      Payload p;
      p.fd = m->fd;
      p.offset = off;
      p.size = len;
      auto r = client_.UploadPart(t.dst_bucket, t.dst_key, m->upload_id, index + 1, p);
      s = r.status();
      if (r.ok()) {
        etag = std::move(r).value();
        bytes_.fetch_add(len, std::memory_order_relaxed);
      }
    } else if (t.kind == TransferKind::kCopy) {
      auto r = client_.UploadPartCopy(t.src_bucket, t.src_key, t.dst_bucket, t.dst_key,
                                      m->upload_id, index + 1, off, off + len - 1, t.etag);
      s = r.status();
      if (r.ok()) {
        etag = std::move(r).value();
        bytes_.fetch_add(len, std::memory_order_relaxed);
      }
    } else {
      GetOptions go;
      go.range = std::make_pair(off, off + len - 1);
      if (!m->head.etag.empty()) go.if_match = "\"" + m->head.etag + "\"";
      PositionalSink pos(m->target->positional_fd(), off, t.local);
      Md5Sink hashed(pos);
      CountingCancelSink sink(hashed, bytes_, opts_.cancel, m->what);
      auto r = client_.GetObject(t.src_bucket, t.src_key, sink, go);
      s = r.status();
      if (s.ok() && !m->md5s.empty()) {
        std::array<uint8_t, 16> d;
        hashed.Final(d);
        std::lock_guard<std::mutex> l(m->mu);
        m->md5s[index] = d;
      }
      if (s.ok() && r->size != len) {
        s = Status(Code::kIncompleteBody, "GET " + t.src_bucket + "/" + t.src_key +
                                              ": the range at " + std::to_string(off) +
                                              " brought " + std::to_string(r->size) + " of " +
                                              std::to_string(len) + " bytes");
      }
    }
    std::lock_guard<std::mutex> l(m->mu);
    if (s.ok() && !m->done.empty()) m->done[index] = {index + 1, std::move(etag)};
    if (!s.ok() && m->first.ok()) m->first = s;
  }
  bool last;
  {
    std::lock_guard<std::mutex> l(m->mu);
    last = ++m->finished == m->parts;
  }
  if (last) FinishMulti(m);
}

void TransferEngine::FinishMulti(const std::shared_ptr<Multi>& m) {
  TransferTask& t = m->task;
  Status s = m->first;
  std::string etag;
  if (t.kind == TransferKind::kDownload) {
    const int fd = m->target->positional_fd();
    bool streamed = false;
    if (s.ok() && !m->md5s.empty()) {
      Md5Stream outer;
      for (const auto& d : m->md5s) outer.Update(d.data(), d.size());
      std::string etag_lower = m->head.etag;
      for (char& ch : etag_lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      streamed = outer.FinalHex() + "-" + std::to_string(m->md5s.size()) == etag_lower;
    }
    if (s.ok() && !streamed) s = client_.VerifyDownload(t.src_bucket, t.src_key, m->head, fd);
    if (s.code() == Code::kCorruption && m->attempt < opts_.object_attempts && !Cancelled()) {
      // Fetched again, into a new temp file (the old one is removed with its target).
      auto again = OpenTarget(opts_, dir_sync_, t);
      if (again.ok() && ::ftruncate((*again)->positional_fd(), off_t(m->size)) == 0) {
        auto n = std::make_shared<Multi>();
        n->task = std::move(t);
        n->what = m->what;
        n->head = m->head;
        n->size = m->size;
        n->part_size = m->part_size;
        n->parts = m->parts;
        n->attempt = m->attempt + 1;
        n->target = std::move(again).value();
        m->target.reset();
        Start(std::move(n));
        return;
      }
      if (!again.ok()) s = again.status();
    }
    if (s.ok()) s = m->target->Commit();
    m->target.reset();  // removes the temp file when not committed
    etag = m->head.etag;
  } else {
    if (s.ok()) {
      auto r = client_.CompleteMultipartUpload(t.dst_bucket, t.dst_key, m->upload_id, m->done);
      s = r.status();
      if (r.ok()) etag = std::move(r).value();
    }
    if (!s.ok()) {
      Status a = client_.AbortMultipartUpload(t.dst_bucket, t.dst_key, m->upload_id);
      if (!a.ok()) {
        s = s.WithContext("(and the upload " + m->upload_id +
                          " could not be aborted: " + a.message() + ")");
      }
    }
  }
  Report(t, std::move(s), m->size, std::move(etag));
}

}  // namespace cairn::s3
