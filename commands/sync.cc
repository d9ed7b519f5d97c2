// cairn sync [--delete] [--dry-run] [--checksum] [--exclude P] [--include P] [--jobs N] SRC DST:
// local directory -> s3://BUCKET/PREFIX/, s3:// -> local directory, s3:// -> s3:// (server-side
// copies). The plan (libstore/client/sync_plan.h) streams both sides in key order; a fixed pool of
// --jobs threads, fed through a bounded queue, carries out its actions. docs/commands.md, "sync".
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/json_out.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "cli/text_out.h"
#include "commands/commands.h"
#include "libstore/client/sync_plan.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using s3::ActionKind;
using s3::SyncAction;

constexpr uint64_t kMinPart = uint64_t(5) << 20;
constexpr uint64_t kMaxParts = 10000;
constexpr size_t kDeleteBatch = 1000;  // keys in one DeleteObjects request

// SIGINT / SIGTERM: no new action starts; what runs finishes (a multipart upload stops at its
// next part and is aborted); the summary says what was done.
volatile sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

class StopScope {
 public:
  StopScope() {
    g_stop = 0;
    struct sigaction sa {};
    sa.sa_handler = OnStop;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopScope(const StopScope&) = delete;
  StopScope& operator=(const StopScope&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

enum class Direction { kUpload, kDownload, kCopy };
const char* Name(Direction d) {
  switch (d) {
    case Direction::kUpload: return "upload";
    case Direction::kDownload: return "download";
    case Direction::kCopy: return "copy";
  }
  return "?";
}

// One side of the sync: a local directory or s3://bucket/prefix ("" or ending in '/').
struct Side {
  bool s3 = false;
  std::string dir;  // local: the directory, no trailing '/'
  std::string bucket, prefix;
  std::string Where(const std::string& rel) const {
    return s3 ? "s3://" + bucket + "/" + prefix + rel : dir + "/" + rel;
  }
};

Status ParseSide(const std::string& arg, Side* side) {
  if (IsS3Url(arg)) {
    side->s3 = true;
    RETURN_IF_ERROR(ParseS3Url(arg, true, &side->bucket, &side->prefix));
    if (side->bucket.empty()) return InvalidArgument("expected s3://BUCKET[/PREFIX], got '" + arg + "'");
    // s3://bkt/dir is the "directory" dir/, as the aws cli takes it.
    if (!side->prefix.empty() && side->prefix.back() != '/') side->prefix += '/';
    return Status::Ok();
  }
  if (arg.empty()) return InvalidArgument("an empty local path");
  side->dir = arg;
  while (side->dir.size() > 1 && side->dir.back() == '/') side->dir.pop_back();
  return Status::Ok();
}

struct SyncOptions {
  std::string src, dst, part_size = "8MiB";
  bool delete_extra = false, dry_run = false, checksum = false;
  int jobs = 16;
  std::vector<s3::FilterRule> filters;  // in command-line order
};

// A unit of work for the pool: one action, or a batch of S3 deletions.
struct Task {
  SyncAction action;
  std::vector<std::string> delete_keys;  // relative keys, a batch for DeleteObjects
};

class Executor {
 public:
  Executor(s3::S3Client& client, const Side& src, const Side& dst, Direction dir,
           const SyncOptions& o, uint64_t part_size, Context& ctx)
      : client_(client), src_(src), dst_(dst), dir_(dir), o_(o), part_size_(part_size),
        ctx_(ctx), progress_("sync", 0, ctx.ShowProgress()) {}

  void Start() {
    for (int i = 0; i < o_.jobs; ++i) threads_.emplace_back([this] { Work(); });
  }
  // Blocks while the queue is full (2 x jobs tasks): the plan runs ahead of the transfers by at
  // most that much.
  void Submit(Task t) {
    std::unique_lock<std::mutex> l(qmu_);
    qcv_.wait(l, [this] { return queue_.size() < size_t(2 * o_.jobs); });
    queue_.push_back(std::move(t));
    qcv_.notify_all();
  }
  void Finish() {
    {
      std::lock_guard<std::mutex> l(qmu_);
      closed_ = true;
    }
    qcv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    progress_.Finish();
  }
  // Runs a task on the calling thread (--dry-run, refusals).
  void RunHere(Task t) { Run(t); }

  uint64_t copied = 0, copied_bytes = 0, deleted = 0, failed = 0;

 private:
  void Work() {
    while (true) {
      Task t;
      {
        std::unique_lock<std::mutex> l(qmu_);
        qcv_.wait(l, [this] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        t = std::move(queue_.front());
        queue_.pop_front();
        qcv_.notify_all();
      }
      if (g_stop) continue;  // drain without starting anything
      Run(t);
    }
  }

  void Run(Task& t) {
    if (!t.delete_keys.empty()) {
      DeleteBatch(t.delete_keys);
      return;
    }
    SyncAction& a = t.action;
    if (a.kind == ActionKind::kRefuse) {
      Report("refuse", a, src_.Where(a.src.key), "",
             Status(Code::kInvalidArgument,
                    "not a safe relative path: it would be written outside " + dst_.dir));
      return;
    }
    if (a.kind == ActionKind::kDelete) {
      Status s;
      if (!o_.dry_run) {
        if (::unlink(a.dst.path.c_str()) != 0 && errno != ENOENT) s = PosixError(a.dst.path, errno);
      }
      Report("delete", a, "", dst_.Where(a.dst.key), s);
      return;
    }
    Status s;
    if (!o_.dry_run) {
      switch (dir_) {
        case Direction::kUpload: s = Upload(a.src); break;
        case Direction::kDownload: s = Download(a.src); break;
        case Direction::kCopy:
          s = client_.CopyObject(src_.bucket, src_.prefix + a.src.key, dst_.bucket,
                                 dst_.prefix + a.src.key)
                  .status();
          break;
      }
    }
    Report(Name(dir_), a, src_.Where(a.src.key), dst_.Where(a.src.key), s);
  }

  void DeleteBatch(const std::vector<std::string>& rel) {
    std::vector<std::string> keys;
    keys.reserve(rel.size());
    for (const auto& k : rel) keys.push_back(dst_.prefix + k);
    std::vector<s3::DeleteResult> results;
    Status whole = o_.dry_run ? Status::Ok() : client_.DeleteObjects(dst_.bucket, keys, &results);
    SyncAction a;
    a.kind = ActionKind::kDelete;
    a.reason = s3::Reason::kNotInSource;
    for (size_t i = 0; i < rel.size(); ++i) {
      a.dst.key = rel[i];
      Status s = whole;
      if (!o_.dry_run && whole.ok()) {
        s = i < results.size() ? results[i].status
                               : Status(Code::kInternal, "DeleteObjects gave no answer for it");
        if (s.code() == Code::kNotFound) s = Status::Ok();
      }
      Report("delete", a, "", dst_.Where(rel[i]), s);
    }
  }

  Status Upload(const s3::SyncEntry& e) {
    const int fd = ::open(e.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(e.path, errno);
    struct stat st;
    Status s;
    if (::fstat(fd, &st) != 0) {
      s = PosixError(e.path, errno);
    } else {
      s = PutFile(fd, uint64_t(st.st_size), dst_.prefix + e.key);
    }
    ::close(fd);
    return s;
  }

  // One PUT, or above the part size a multipart upload of sequential parts (the pool's other
  // threads carry the other files); a failed or interrupted one is aborted.
  Status PutFile(int fd, uint64_t size, const std::string& key) {
    s3::Payload p;
    p.fd = fd;
    if (size <= part_size_) {
      p.size = size;
      return client_.PutObject(dst_.bucket, key, p).status();
    }
    const uint64_t part = std::max(part_size_, (size + kMaxParts - 1) / kMaxParts);
    ASSIGN_OR_RETURN(std::string id, client_.CreateMultipartUpload(dst_.bucket, key));
    std::vector<s3::CompletedUploadPart> done;
    Status s;
    for (uint64_t off = 0; off < size && s.ok(); off += part) {
      if (g_stop) {
        s = Status(Code::kAborted, "interrupted: the multipart upload was aborted");
        break;
      }
      p.offset = off;
      p.size = std::min(part, size - off);
      const uint32_t n = uint32_t(done.size() + 1);
      auto etag = client_.UploadPart(dst_.bucket, key, id, n, p);
      if (!etag.ok()) {
        s = etag.status();
      } else {
        done.push_back({n, *etag});
      }
    }
    if (s.ok()) s = client_.CompleteMultipartUpload(dst_.bucket, key, id, done).status();
    if (!s.ok()) {
      Status a = client_.AbortMultipartUpload(dst_.bucket, key, id);
      if (!a.ok()) return s.WithContext("(and the upload " + id + " could not be aborted: " + a.message() + ")");
    }
    return s;
  }

  // Creates the directories of rel below the destination root, refusing to go through anything
  // that is not a real directory (a symlink could lead outside the root).
  Status MakeParents(const std::string& rel) {
    std::string path = dst_.dir;
    size_t start = 0;
    while (true) {
      const size_t slash = rel.find('/', start);
      if (slash == std::string::npos) return Status::Ok();
      path += "/" + rel.substr(start, slash - start);
      start = slash + 1;
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) continue;
        return Status(Code::kAlreadyExists,
                      path + ": not a directory (a file or symlink is in the way)");
      }
      if (errno != ENOENT) return PosixError(path, errno);
      if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) return PosixError(path, errno);
    }
  }

  Status Download(const s3::SyncEntry& e) {
    RETURN_IF_ERROR(MakeParents(e.key));
    const std::string target = dst_.dir + "/" + e.key;
    const std::string key = src_.prefix + e.key;
    Status last;
    // A body that does not match its ETag is fetched again, like cp does.
    for (int attempt = 0; attempt <= ctx_.retries; ++attempt) {
      ASSIGN_OR_RETURN(auto file, OutputFile::Open(target, true));
      if (e.size > part_size_ && file->positional_fd() >= 0) {
        s3::ObjectHead head;
        head.size = e.size;
        head.etag = e.etag;
        last = client_.DownloadRanges(src_.bucket, key, head, file->positional_fd(), part_size_, 4,
                                      {});
      } else {
        last = client_.GetObject(src_.bucket, key, file->sink()).status();
      }
      if (last.ok()) {
        last = file->Commit();
        break;
      }
      if (last.code() != Code::kCorruption) break;
      ctx_.Warn(last.message() + ": fetching it again");
    }
    RETURN_IF_ERROR(last);
    // The object's LastModified becomes the file's mtime, so the next sync finds it unchanged.
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_NOW;
    ts[1].tv_sec = time_t(e.mtime_ns / 1000000000);
    ts[1].tv_nsec = long(e.mtime_ns % 1000000000);
    if (::utimensat(AT_FDCWD, target.c_str(), ts, 0) != 0) return PosixError(target, errno);
    return Status::Ok();
  }

  void Report(const char* what, const SyncAction& a, const std::string& from,
              const std::string& to, const Status& s) {
    std::lock_guard<std::mutex> l(out_mu_);
    progress_.Clear();
    const bool copy = a.kind == ActionKind::kCopy;
    if (!s.ok()) {
      ++failed;
      ctx_.Warn(std::string(what) + " " + (from.empty() ? to : to.empty() ? from : from + " -> " + to) +
                ": " + s.message());
    } else if (copy) {
      ++copied;
      copied_bytes += a.src.size;
      progress_.Add(a.src.size);
    } else {
      ++deleted;
    }
    if (ctx_.json) {
      json j = {{"action", what}, {"reason", s3::Name(a.reason)}, {"ok", s.ok()}};
      if (o_.dry_run) j["dry_run"] = true;
      if (copy || a.kind == ActionKind::kRefuse) j["size"] = a.src.size;
      if (!from.empty()) PutText(j, "source", from);
      if (!to.empty()) PutText(j, "target", to);
      if (!s.ok()) PutText(j, "error", s.message());
      std::printf("%s\n", Dump(j).c_str());
    } else if (s.ok()) {
      std::printf("%s%s: %s\n", o_.dry_run ? "(dry run) " : "", what,
                  (to.empty() ? Shown(from) : from.empty() ? Shown(to) : Shown(from) + " -> " + Shown(to)).c_str());
    }
  }

  s3::S3Client& client_;
  const Side& src_;
  const Side& dst_;
  const Direction dir_;
  const SyncOptions& o_;
  const uint64_t part_size_;
  Context& ctx_;
  std::mutex qmu_, out_mu_;
  std::condition_variable qcv_;
  std::deque<Task> queue_;
  bool closed_ = false;
  std::vector<std::thread> threads_;
  Progress progress_;
};

Status RunSync(const SyncOptions& o, Context& ctx) {
  Side src, dst;
  RETURN_IF_ERROR(ParseSide(o.src, &src));
  RETURN_IF_ERROR(ParseSide(o.dst, &dst));
  if (!src.s3 && !dst.s3) return InvalidArgument("sync needs an s3:// source or destination");
  if (o.jobs < 1 || o.jobs > 256) return InvalidArgument("--jobs must be between 1 and 256");
  ASSIGN_OR_RETURN(uint64_t part_size, ParseSize(o.part_size));
  if (part_size < kMinPart || part_size > (uint64_t(5) << 30)) {
    return InvalidArgument("--part-size must be between 5MiB and 5GiB, got '" + o.part_size + "'");
  }
  const Direction dir = !src.s3 ? Direction::kUpload : !dst.s3 ? Direction::kDownload : Direction::kCopy;
  if (dir == Direction::kCopy && src.bucket == dst.bucket &&
      (src.prefix.rfind(dst.prefix, 0) == 0 || dst.prefix.rfind(src.prefix, 0) == 0)) {
    return InvalidArgument("sync from " + o.src + " to " + o.dst + ": one is inside the other");
  }
  ASSIGN_OR_RETURN(auto client, ctx.OpenS3());

  auto warn = [&ctx](const Status& s) { ctx.Warn(s.message()); };
  uint64_t walk_problems = 0;
  std::unique_ptr<s3::EntryStream> src_stream, dst_stream;
  if (src.s3) {
    src_stream = std::make_unique<s3::RemoteStream>(*client, src.bucket, src.prefix);
  } else {
    s3::LocalWalkOptions wo;
    wo.follow_dir_symlinks = true;
    wo.on_problem = [&](const Status& s) {
      ++walk_problems;
      warn(s);
    };
    ASSIGN_OR_RETURN(auto w, s3::LocalWalker::Open(src.dir, wo));
    src_stream = std::make_unique<s3::LocalStream>(std::move(w));
  }
  if (dst.s3) {
    dst_stream = std::make_unique<s3::RemoteStream>(*client, dst.bucket, dst.prefix);
  } else {
    struct stat st;
    if (::stat(dst.dir.c_str(), &st) != 0 && errno == ENOENT) {
      dst_stream = std::make_unique<s3::EmptyStream>();
      if (!o.dry_run) {
        // mkdir -p of the root (its parents are the user's to have made: only the last level).
        if (::mkdir(dst.dir.c_str(), 0777) != 0 && errno != EEXIST) return PosixError(dst.dir, errno);
      }
    } else {
      // The destination's symlinked directories are not entered: --delete stays inside it.
      s3::LocalWalkOptions wo;
      wo.follow_dir_symlinks = false;
      wo.on_problem = warn;
      ASSIGN_OR_RETURN(auto w, s3::LocalWalker::Open(dst.dir, wo));
      dst_stream = std::make_unique<s3::LocalStream>(std::move(w));
    }
  }

  s3::PlanOptions po;
  po.delete_extra = o.delete_extra;
  po.checksum = o.checksum;
  po.local_destination = !dst.s3;
  po.filter = s3::KeyFilter(o.filters);
  if (o.checksum) {
    po.same_content = [dir](const s3::SyncEntry& s,
                            const s3::SyncEntry& d) -> Result<std::optional<bool>> {
      switch (dir) {
        case Direction::kUpload: return s3::LocalMatchesEtag(s.path, s.size, d.etag);
        case Direction::kDownload: return s3::LocalMatchesEtag(d.path, d.size, s.etag);
        case Direction::kCopy: return s3::EtagsMatch(s.etag, d.etag);
      }
      return std::optional<bool>();
    };
  }
  s3::SyncPlanner planner(*src_stream, *dst_stream, std::move(po));

  StopScope stop;
  Executor ex(*client, src, dst, dir, o, part_size, ctx);
  if (!o.dry_run) ex.Start();
  Status plan_status;
  Task deletes;
  auto flush_deletes = [&] {
    if (deletes.delete_keys.empty()) return;
    if (o.dry_run) {
      ex.RunHere(std::move(deletes));
    } else {
      ex.Submit(std::move(deletes));
    }
    deletes = Task();
  };
  uint64_t planned = 0;
  while (!g_stop) {
    Task t;
    auto more = planner.Next(&t.action);
    if (!more.ok()) {
      plan_status = more.status();
      break;
    }
    if (!*more) break;
    ++planned;
    if (t.action.kind == ActionKind::kDelete && dst.s3) {
      deletes.delete_keys.push_back(t.action.dst.key);
      if (deletes.delete_keys.size() == kDeleteBatch) flush_deletes();
      continue;
    }
    if (o.dry_run || t.action.kind == ActionKind::kRefuse) {
      ex.RunHere(std::move(t));
    } else {
      ex.Submit(std::move(t));
    }
  }
  if (!g_stop && plan_status.ok()) flush_deletes();
  ex.Finish();
  const bool interrupted = g_stop != 0;
  RETURN_IF_ERROR(FlushStdout());

  const uint64_t failed = ex.failed + walk_problems;
  if (!ctx.quiet) {
    std::fprintf(stderr, "cairn: sync: %s%llu %s (%s), %llu %s, %llu unchanged, %llu failed%s\n",
                 o.dry_run ? "dry run: " : "", static_cast<unsigned long long>(ex.copied),
                 o.dry_run ? "to copy" : "copied", HumanBytes(double(ex.copied_bytes)).c_str(),
                 static_cast<unsigned long long>(ex.deleted), o.dry_run ? "to delete" : "deleted",
                 static_cast<unsigned long long>(planner.unchanged()),
                 static_cast<unsigned long long>(failed),
                 interrupted ? " (interrupted: the rest was not done)" : "");
  }
  if (interrupted) return Status(Code::kAborted, "interrupted");
  if (!plan_status.ok()) return plan_status;
  if (failed > 0) {
    return Status(Code::kIOError, std::to_string(failed) + " of " +
                                      std::to_string(planned + walk_problems) +
                                      " entries failed (listed above)");
  }
  return Status::Ok();
}

}  // namespace

void RegisterSync(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<SyncOptions>();
  CLI::App* sub = app.add_subcommand(
      "sync", "Copy what is missing or differs from SRC to DST (local dir <-> s3://, s3:// -> s3://)");
  sub->add_flag("--delete", o->delete_extra, "Delete what DST has and SRC has not (filters apply)");
  sub->add_flag("--dry-run", o->dry_run, "Print what would be done; change nothing");
  sub->add_flag("--checksum", o->checksum,
                "Compare MD5s (ETags) instead of modification times where the ETag allows it");
  auto* ex = sub->add_option("--exclude", "Leave out keys matching this glob (repeatable)")
                 ->type_name("PATTERN");
  auto* in = sub->add_option("--include", "Take keys matching this glob even if excluded before; "
                                          "the last matching flag wins (repeatable)")
                 ->type_name("PATTERN");
  ex->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->expected(1);
  in->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->expected(1);
  sub->add_option("--jobs", o->jobs, "Objects in flight (default 16)")->type_name("N");
  sub->add_option("--part-size", o->part_size,
                  "Multipart above this size, in parts of this size (default 8MiB)")
      ->type_name("SIZE");
  sub->add_option("source", o->src, "A local directory or s3://BUCKET[/PREFIX]")
      ->required()
      ->type_name("SRC");
  sub->add_option("target", o->dst, "A local directory or s3://BUCKET[/PREFIX]")
      ->required()
      ->type_name("DST");
  sub->callback([o, sub, ex, in, &ctx, result] {
    // The filters in the order they were given: CLI11 keeps each option's values apart, and the
    // parse order says how they interleave.
    o->filters.clear();
    size_t ei = 0, ii = 0;
    for (const CLI::Option* opt : sub->parse_order()) {
      if (opt == ex && ei < ex->results().size()) {
        o->filters.push_back({s3::FilterKind::kExclude, ex->results()[ei++]});
      } else if (opt == in && ii < in->results().size()) {
        o->filters.push_back({s3::FilterKind::kInclude, in->results()[ii++]});
      }
    }
    *result = RunSync(*o, ctx);
  });
}

}  // namespace cairn::cli
