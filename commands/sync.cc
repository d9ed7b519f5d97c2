// cairn sync [--delete] [--dry-run] [--checksum] [--exclude P] [--include P] [--jobs N] SRC DST:
// local directory -> s3://BUCKET/PREFIX/, s3:// -> local directory, s3:// -> s3:// (server-side
// copies). The plan (libstore/client/sync_plan.h) streams both sides in key order; a fixed pool of
// --jobs threads, fed through a bounded queue, carries out its actions. docs/commands.md, "sync".
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "cli/cancel.h"
#include "cli/json_out.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "cli/text_out.h"
#include "commands/commands.h"
#include "commands/cp_sources.h"
#include "libstore/client/sync_plan.h"
#include "libstore/client/transfer.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using s3::ActionKind;
using s3::SyncAction;

constexpr size_t kDeleteBatch = 1000;  // keys in one DeleteObjects request


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
  bool delete_extra = false, dry_run = false, checksum = false, no_fsync = false;
  int jobs = 32;
  std::vector<s3::FilterRule> filters;  // in command-line order
};

// Creates the directories of rel below root, refusing to go through anything that is not a real
// directory (a symlink there could lead outside the root). The parent of each directory made is
// owed an fsync (durable, when not null).
Status MakeParents(const std::string& root, const std::string& rel, s3::DirSync* durable) {
  std::string path = root;
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
                    path + ": not a directory (a file or a symlink is in the way)");
    }
    if (errno != ENOENT) return PosixError(path, errno);
    if (::mkdir(path.c_str(), 0777) != 0) {
      if (errno != EEXIST) return PosixError(path, errno);
    } else if (durable != nullptr) {
      durable->Add(path.substr(0, path.rfind('/')));
    }
  }
}

// Carries out the plan's actions: copies through the transfer engine (libstore/client/
// transfer.h), deletions of objects in DeleteObjects batches and of files with unlink on the
// planning thread; prints one line (or JSON line) per action.
class Executor {
 public:
  // removed: owed the fsync of each local directory a file was deleted from (null: none).
  Executor(s3::S3Client& client, const Side& src, const Side& dst, Direction dir,
           const SyncOptions& o, Context& ctx, s3::DirSync* removed)
      : client_(client), src_(src), dst_(dst), dir_(dir), o_(o), ctx_(ctx), removed_(removed),
        progress_("sync", ctx.ShowProgress()) {}

  Status Start(uint64_t part_size) {
    if (o_.dry_run) return Status::Ok();
    s3::TransferOptions to;
    to.jobs = o_.jobs;
    to.part_size = part_size;
    to.object_attempts = std::max(1, std::min(ctx_.retries + 1, 5));
    to.cancel = &CancelScope::flag();
    to.on_result = [this](const s3::TransferResult& r) { OnResult(r); };
    if (!dst_.s3) {
      const std::string root = dst_.dir;
      to.fsync_downloads = !o_.no_fsync;
      to.open_download = [root](const s3::TransferTask& t, s3::DirSync* durable)
          -> Result<std::unique_ptr<s3::DownloadTarget>> {
        RETURN_IF_ERROR(MakeParents(root, t.local.substr(root.size() + 1), durable));
        return s3::OpenLocalDownload(t.local, durable);
      };
    }
    ASSIGN_OR_RETURN(engine_, s3::TransferEngine::Create(client_, std::move(to)));
    return Status::Ok();
  }

  // Carries out (or with --dry-run prints) one action. Only kAborted (the stop flag) fails.
  Status Do(const SyncAction& a) {
    if (a.kind == ActionKind::kRefuse) {
      Report("refuse", a.reason, a.src.size, src_.Where(a.src.key), "",
             Status(Code::kInvalidArgument,
                    "not a safe relative path: it would be written outside " + dst_.dir));
      return Status::Ok();
    }
    if (a.kind == ActionKind::kDelete) {
      if (dst_.s3) {
        deletes_.push_back(a.dst.key);
        if (deletes_.size() == kDeleteBatch) FlushDeletes();
        return Status::Ok();
      }
      Status s;
      if (!o_.dry_run) {
        if (::unlink(a.dst.path.c_str()) == 0) {
          const size_t slash = a.dst.path.rfind('/');
          if (removed_ != nullptr) {
            removed_->Add(slash == std::string::npos ? "" : a.dst.path.substr(0, slash));
          }
        } else if (errno != ENOENT) {
          s = PosixError(a.dst.path, errno);
        }
      }
      Report("delete", a.reason, 0, "", dst_.Where(a.dst.key), s);
      return Status::Ok();
    }
    if (o_.dry_run) {
      Report(Name(dir_), a.reason, a.src.size, src_.Where(a.src.key), dst_.Where(a.src.key),
             Status::Ok());
      return Status::Ok();
    }
    s3::TransferTask t;
    switch (dir_) {
      case Direction::kUpload:
        t.kind = s3::TransferKind::kUpload;
        t.local = a.src.path;
        t.size = a.src.size;  // for progress; the size at open is what is sent
        break;
      case Direction::kDownload:
        t.kind = s3::TransferKind::kDownload;
        t.local = dst_.dir + "/" + a.src.key;
        break;
      case Direction::kCopy:
        t.kind = s3::TransferKind::kCopy;
        break;
    }
    if (src_.s3) {
      t.src_bucket = src_.bucket;
      t.src_key = src_.prefix + a.src.key;
      t.size = a.src.size;
      t.etag = a.src.etag;
    }
    if (dst_.s3) {
      t.dst_bucket = dst_.bucket;
      t.dst_key = dst_.prefix + a.src.key;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      t.tag = next_tag_++;
      pending_[t.tag] = {a.reason, a.src.mtime_ns};
    }
    Status s = engine_->Submit(std::move(t));
    if (!s.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      pending_.erase(next_tag_ - 1);
    }
    return s;
  }

  void Finish() {
    if (!CancelScope::cancelled()) FlushDeletes();
    if (engine_) stats_ = engine_->Finish();
    std::lock_guard<std::mutex> l(mu_);
    progress_.Clear();
  }

  uint64_t copied = 0, copied_bytes = 0, deleted = 0, failed = 0;
  uint64_t not_started() const { return stats_.cancelled; }
  // OK, or why the downloads were not made durable (a directory fsync failed).
  const Status& durable() const { return stats_.durable; }

 private:
  struct Pending {
    s3::Reason reason;
    int64_t mtime_ns;
  };

  void OnResult(const s3::TransferResult& r) {
    Pending p{};
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = pending_.find(r.task.tag);
      if (it != pending_.end()) {
        p = it->second;
        pending_.erase(it);
      }
    }
    Status s = r.status;
    if (s.ok() && r.task.kind == s3::TransferKind::kDownload) {
      // The object's LastModified becomes the file's mtime: the next sync finds it unchanged.
      struct timespec ts[2];
      ts[0].tv_sec = 0;
      ts[0].tv_nsec = UTIME_NOW;
      ts[1].tv_sec = time_t(p.mtime_ns / 1000000000);
      ts[1].tv_nsec = long(p.mtime_ns % 1000000000);
      if (::utimensat(AT_FDCWD, r.task.local.c_str(), ts, 0) != 0) {
        s = PosixError(r.task.local, errno).WithContext("setting its mtime");
      }
    }
    const std::string from = src_.s3 ? "s3://" + r.task.src_bucket + "/" + r.task.src_key : r.task.local;
    const std::string to = dst_.s3 ? "s3://" + r.task.dst_bucket + "/" + r.task.dst_key : r.task.local;
    Report(Name(dir_), p.reason, r.status.ok() ? r.bytes : r.task.size.value_or(r.bytes), from, to, s,
           r.etag);
    if (engine_) {
      const s3::TransferStats st = engine_->stats();
      std::lock_guard<std::mutex> l(mu_);
      progress_.Update(st.bytes, st.bytes_total, st.done + st.failed, st.submitted, st.failed);
    }
  }

  void FlushDeletes() {
    if (deletes_.empty()) return;
    std::vector<std::string> keys;
    keys.reserve(deletes_.size());
    for (const auto& k : deletes_) keys.push_back(dst_.prefix + k);
    std::vector<s3::DeleteResult> results;
    const Status whole =
        o_.dry_run ? Status::Ok() : client_.DeleteObjects(dst_.bucket, keys, &results);
    for (size_t i = 0; i < deletes_.size(); ++i) {
      Status s = whole;
      if (!o_.dry_run && whole.ok()) {
        s = i < results.size() ? results[i].status
                               : Status(Code::kInternal, "DeleteObjects gave no answer for it");
        if (s.code() == Code::kNotFound) s = Status::Ok();
      }
      Report("delete", s3::Reason::kNotInSource, 0, "", dst_.Where(deletes_[i]), s);
    }
    deletes_.clear();
  }

  void Report(const char* what, s3::Reason reason, uint64_t size, const std::string& from,
              const std::string& to, const Status& s, const std::string& etag = "") {
    std::lock_guard<std::mutex> l(mu_);
    progress_.Clear();
    const bool del = std::string_view(what) == "delete";
    const std::string shown =
        to.empty() ? Shown(from) : from.empty() ? Shown(to) : Shown(from) + " -> " + Shown(to);
    if (!s.ok()) {
      ++failed;
      ctx_.Warn(std::string(what) + " " + shown + ": " + s.message());
    } else if (del) {
      ++deleted;
    } else {
      ++copied;
      copied_bytes += size;
    }
    if (ctx_.json) {
      json j = {{"action", what}, {"reason", s3::Name(reason)},
                {"status", s.ok() ? "ok" : "failed"}};
      if (s.ok() && !etag.empty()) j["etag"] = etag;
      if (o_.dry_run) j["dry_run"] = true;
      if (!del) j["size"] = size;
      if (!from.empty()) PutText(j, "source", from);
      if (!to.empty()) PutText(j, "target", to);
      if (!s.ok()) PutText(j, "error", s.message());
      std::printf("%s\n", Dump(j).c_str());
    } else if (s.ok()) {
      std::printf("%s%s: %s\n", o_.dry_run ? "(dry run) " : "", what, shown.c_str());
    }
  }

  s3::S3Client& client_;
  const Side& src_;
  const Side& dst_;
  const Direction dir_;
  const SyncOptions& o_;
  Context& ctx_;
  s3::DirSync* removed_;
  std::unique_ptr<s3::TransferEngine> engine_;
  s3::TransferStats stats_;
  std::mutex mu_;  // output, counters, progress and pending_
  std::unordered_map<uint64_t, Pending> pending_;  // tasks in the engine: at most its queue + jobs
  uint64_t next_tag_ = 0;
  std::vector<std::string> deletes_;  // the next DeleteObjects batch (planning thread only)
  TransferProgress progress_;
};

Status RunSync(const SyncOptions& o, Context& ctx) {
  Side src, dst;
  RETURN_IF_ERROR(ParseSide(o.src, &src));
  RETURN_IF_ERROR(ParseSide(o.dst, &dst));
  if (!src.s3 && !dst.s3) return InvalidArgument("sync needs an s3:// source or destination");
  if (o.jobs < 1 || o.jobs > 1024) return InvalidArgument("--jobs must be between 1 and 1024");
  ASSIGN_OR_RETURN(uint64_t part_size, ParsePartSize(o.part_size));
  const Direction dir = !src.s3 ? Direction::kUpload : !dst.s3 ? Direction::kDownload : Direction::kCopy;
  if (dir == Direction::kCopy && src.bucket == dst.bucket &&
      (src.prefix.rfind(dst.prefix, 0) == 0 || dst.prefix.rfind(src.prefix, 0) == 0)) {
    return InvalidArgument("sync from " + o.src + " to " + o.dst + ": one is inside the other");
  }
  ASSIGN_OR_RETURN(auto client, ctx.OpenS3());

  auto warn = [&ctx](const Status& s) { ctx.Warn(s.message()); };
  uint64_t walk_problems = 0;
  std::unique_ptr<s3::EntryStream> src_stream, dst_stream;
  // The parent of a destination directory sync makes, and the directories --delete removed
  // files from (a removal that a crash undid would come back as a file the source lacks).
  s3::DirSync root_sync;
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
        if (::mkdir(dst.dir.c_str(), 0777) == 0) {
          // Its new name is synced with the downloads (after them: Flush below).
          const size_t slash = dst.dir.rfind('/');
          if (!o.no_fsync) {
            root_sync.Add(slash == std::string::npos ? ""
                          : slash == 0               ? "/"
                                                     : dst.dir.substr(0, slash));
          }
        } else if (errno != EEXIST) {
          return PosixError(dst.dir, errno);
        }
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

  CancelScope stop;
  Executor ex(*client, src, dst, dir, o, ctx, o.no_fsync ? nullptr : &root_sync);
  RETURN_IF_ERROR(ex.Start(part_size));
  Status plan_status;
  uint64_t planned = 0;
  SyncAction a;
  while (!CancelScope::cancelled()) {
    auto more = planner.Next(&a);
    if (!more.ok()) {
      plan_status = more.status();
      break;
    }
    if (!*more) break;
    ++planned;
    if (!ex.Do(a).ok()) break;  // stopped
  }
  ex.Finish();
  Status durable = ex.durable();
  Status root_synced = root_sync.Flush();
  if (durable.ok() && !root_synced.ok()) durable = root_synced;
  const bool interrupted = CancelScope::cancelled();
  RETURN_IF_ERROR(FlushStdout());

  const uint64_t failed = ex.failed + walk_problems;
  if (!durable.ok() && failed > 0) ctx.Warn(durable.message());
  // A plan that failed before its first action (a missing bucket, say): its error says it all.
  const bool nothing_done = !plan_status.ok() && planned == 0 && failed == 0;
  if (!ctx.quiet && !nothing_done) {
    std::string line = std::string(o.dry_run ? "dry run: " : "") + std::to_string(ex.copied) +
                       (o.dry_run ? " to copy (" : " copied (") +
                       HumanBytes(double(ex.copied_bytes)) + "), " + std::to_string(ex.deleted) +
                       (o.dry_run ? " to delete, " : " deleted, ") +
                       std::to_string(planner.unchanged()) + " unchanged, " +
                       std::to_string(failed) + " failed";
    if (interrupted) {
      line += "; interrupted: " + std::to_string(ex.not_started()) +
              " queued not started, the rest not planned";
    }
    std::fprintf(stderr, "cairn: sync: %s\n", line.c_str());
  }
  if (interrupted) return Status(Code::kAborted, "interrupted");
  if (!plan_status.ok()) return plan_status;
  if (failed > 0) {
    return Status(Code::kIOError, std::to_string(failed) + " of " +
                                      std::to_string(planned + walk_problems) +
                                      " entries failed (listed above)");
  }
  if (!durable.ok()) return Status(Code::kIOError, durable.message());
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
  auto filters = std::make_shared<FilterFlags>();
  filters->Bind(sub);
  sub->add_option("--jobs", o->jobs, "Requests in flight: objects, or parts of large ones (default 32)")->type_name("N");
  sub->add_flag("--no-fsync", o->no_fsync,
                "Do not wait for downloads to reach the disk (scratch use: a crash may leave "
                "empty or torn files)");
  sub->add_option("--part-size", o->part_size,
                  "Multipart above this size, in parts of this size (default 8MiB)")
      ->type_name("SIZE");
  sub->add_option("source", o->src, "A local directory or s3://BUCKET[/PREFIX]")
      ->required()
      ->type_name("SRC");
  sub->add_option("target", o->dst, "A local directory or s3://BUCKET[/PREFIX]")
      ->required()
      ->type_name("DST");
  sub->callback([o, filters, &ctx, result] {
    o->filters = filters->Rules();
    *result = RunSync(*o, ctx);
  });
}

}  // namespace cairn::cli
