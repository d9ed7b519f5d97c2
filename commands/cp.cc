// cairn cp [-r] SRC... DST over the transfer engine (libstore/client/transfer.h): local files,
// directories and wildcards to S3, S3 keys, prefixes and wildcards to local files, S3 to S3
// (server-side). Sources are listed or walked as a stream into the engine's bounded queue.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cancel.h"
#include "cli/json_out.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "cli/text_out.h"
#include "commands/commands.h"
#include "commands/cp_sources.h"
#include "libstore/client/transfer.h"
#include "libstore/plain/mime_types.h"

namespace cairn::cli {
namespace {

using nlohmann::json;


struct CpOptions {
  std::vector<std::string> args;  // SRC... DST
  bool recursive = false;
  std::string part_size = "8MiB";
  int jobs = 32;
  bool no_fsync = false;
  s3::KeyFilter filter;  // --exclude / --include, matched against the key or path below the root
};


std::string Url(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + "/" + key;
}

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string Source(const s3::TransferTask& t) {
  return t.kind == s3::TransferKind::kUpload ? t.local : Url(t.src_bucket, t.src_key);
}
std::string Target(const s3::TransferTask& t) {
  return t.kind == s3::TransferKind::kDownload ? t.local : Url(t.dst_bucket, t.dst_key);
}

// Per-object output, failures and the summary; one call at a time (the engine serializes its
// results; failures found before the engine take the same lock).
class Reporter {
 public:
  Reporter(Context& ctx) : ctx_(ctx), progress_("cp", ctx.ShowProgress()) {}

  void Result(const s3::TransferResult& r) {
    Emit(Source(r.task), Target(r.task), r.status, r.bytes, r.etag);
  }
  // A source that failed before it reached the engine (nothing matched, a refused key...).
  void Fail(const std::string& source, const std::string& target, const Status& s) {
    early_failed_.fetch_add(1);
    Emit(source, target, s, 0, "");
  }
  void Draw(const s3::TransferStats& st) {
    std::lock_guard<std::mutex> l(mu_);
    progress_.Update(st.bytes, st.bytes_total, st.done, st.submitted + early_failed_,
                     st.failed + early_failed_);
  }
  void ClearProgress() {
    std::lock_guard<std::mutex> l(mu_);
    progress_.Clear();
  }
  // The command's status: OK; the one failure when one object was tried; else a summary error
  // after every failure was listed. The summary line goes to stderr unless -q.
  Status Summary(const s3::TransferStats& st, double secs) {
    std::lock_guard<std::mutex> l(mu_);
    progress_.Clear();
    const uint64_t failed = st.failed + early_failed_;
    const uint64_t total = st.submitted + early_failed_;
    if (!st.durable.ok()) {
      // Every object may have arrived, but not durably: the command failed.
      if (!held_.ok() && !held_printed_) Print(held_);
      held_printed_ = true;
      Print(st.durable);
      ++failures_;
    }
    if (failed == 1 && total == 1 && st.cancelled == 0 && st.durable.ok()) {
      // An object that failed is an operation that failed (exit 1), whatever the reason.
      if (held_.code() == Code::kInvalidArgument) return Status(Code::kIOError, held_.message());
      return held_;
    }
    if (!held_.ok() && !held_printed_) Print(held_);
    char line[256];
    std::snprintf(line, sizeof line, "%llu of %llu objects copied, %s in %.1f s (%s/s)",
                  static_cast<unsigned long long>(st.done), static_cast<unsigned long long>(total),
                  HumanBytes(double(st.bytes)).c_str(), secs,
                  HumanBytes(secs > 0 ? double(st.bytes) / secs : 0).c_str());
    std::string text = line;
    if (failed > 0) text += ", " + std::to_string(failed) + " failed";
    if (CancelScope::cancelled()) {
      text = "interrupted: " + text;
      if (st.cancelled > 0) text += ", " + std::to_string(st.cancelled) + " not started";
    }
    if (!st.durable.ok()) text += ", not made durable (see above)";
    if (failed > 0 || CancelScope::cancelled() || !st.durable.ok()) {
      return Status(Code::kAborted, text);
    }
    if (!ctx_.quiet) std::fprintf(stderr, "%s\n", text.c_str());
    return Status::Ok();
  }

 private:
  void Emit(const std::string& source, const std::string& target, const Status& s,
            uint64_t bytes, const std::string& etag) {
    std::lock_guard<std::mutex> l(mu_);
    if (ctx_.json) {
      json j = {{"size", bytes}, {"status", s.ok() ? "ok" : "failed"}};
      PutText(j, "source", source);
      PutText(j, "target", target);
      if (s.ok()) j["etag"] = etag;
      else PutText(j, "error", s.message());
      std::printf("%s\n", Dump(j).c_str());
    }
    if (s.ok()) return;
    // The first failure is held back: when it is the only object it becomes the command's
    // error (one line, as for any command); otherwise it is listed with the others.
    if (++failures_ == 1) {
      held_ = s;
      return;
    }
    if (!held_printed_) Print(held_);
    held_printed_ = true;
    Print(s);
  }
  void Print(const Status& s) {
    progress_.Clear();
    std::fflush(stdout);
    ctx_.Warn(s.message());
  }

  Context& ctx_;
  std::mutex mu_;
  TransferProgress progress_;
  std::atomic<uint64_t> early_failed_{0};
  uint64_t failures_ = 0;
  Status held_;
  bool held_printed_ = false;
};

// A download to the one file the user named goes through OutputFile, the rule every command
// writes a named file by (docs/commands.md, "Output files"): devices and FIFOs such as
// /dev/stdout written in place, a symlink's file replaced beside it, permission bits kept.
class NamedFileTarget : public s3::DownloadTarget {
 public:
  explicit NamedFileTarget(std::unique_ptr<OutputFile> f) : f_(std::move(f)) {}
  Sink& sink() override { return f_->sink(); }
  int positional_fd() const override { return f_->positional_fd(); }
  Status Commit() override { return f_->Commit(); }

 private:
  std::unique_ptr<OutputFile> f_;
};

// durable is null under --no-fsync (TransferOptions::fsync_downloads false).
Result<std::unique_ptr<s3::DownloadTarget>> OpenNamedFile(const s3::TransferTask& t,
                                                          s3::DirSync* durable) {
  ASSIGN_OR_RETURN(auto f, OutputFile::Open(t.local, /*replace=*/true));
  f->set_fsync(durable != nullptr);
  return std::unique_ptr<s3::DownloadTarget>(new NamedFileTarget(std::move(f)));
}

struct Plan {
  bool dst_s3 = false, into = false;
  std::string dst;          // local target (a file, or the directory with into)
  std::string db, dk;       // S3 target (dk the key, or the prefix ending in '/' with into)
  s3::TransferEngine* engine = nullptr;
  Reporter* out = nullptr;
  const s3::KeyFilter* filter = nullptr;
  MimeTypes mime;  // uploads get a Content-Type from the file's extension, as the aws cli does
};

// Queues one object; `rel` names it below DST when copying into a directory or prefix, and is
// what --exclude / --include match (an object they leave out is skipped, not counted).
Status Queue(Plan& p, s3::TransferTask t, const std::string& rel) {
  if (p.filter != nullptr && !p.filter->Included(rel)) return Status::Ok();
  if (p.dst_s3) {
    t.dst_bucket = p.db;
    t.dst_key = p.into ? p.dk + rel : p.dk;
    if (t.kind == s3::TransferKind::kUpload) {
      const std::string_view type = p.mime.TypeOf(t.dst_key);
      if (type != kDefaultContentType) t.content_type = type;
    }
    if (t.kind == s3::TransferKind::kDownload) t.kind = s3::TransferKind::kCopy;
  } else {
    if (p.into) {
      Status s = CheckRelativeKey(rel);
      if (!s.ok()) {
        p.out->Fail(Source(t), p.dst, s.WithContext(Source(t)));
        return Status::Ok();
      }
      t.local = p.dst.back() == '/' ? p.dst + rel : p.dst + "/" + rel;
    } else {
      t.local = p.dst;
    }
  }
  return p.engine->Submit(std::move(t));
}

Status QueueLocal(Plan& p, const std::string& src, bool recursive) {
  auto submit = [&](LocalEntry&& e) -> Status {
    if (!e.error.ok()) {
      p.out->Fail(e.path, p.dst_s3 ? Url(p.db, p.dk + e.rel) : p.dst, e.error);
      return Status::Ok();
    }
    s3::TransferTask t;
    t.kind = s3::TransferKind::kUpload;
    t.local = e.path;
    t.size = e.size;
    return Queue(p, std::move(t), e.rel);
  };
  if (HasWildcard(src)) {
    const std::string base = WildcardBase(src);
    const std::string rest = src.substr(base.size());
    int depth = -1;
    if (rest.find("**") == std::string::npos) {
      depth = 0;
      for (char c : rest) depth += c == '/';
    }
    uint64_t matched = 0;
    Status s = WalkLocal(base.empty() ? "." : base, depth, [&](LocalEntry&& e) -> Status {
      if (!WildcardMatch(rest, e.rel)) return Status::Ok();
      ++matched;
      return submit(std::move(e));
    });
    if (!s.ok() && s.code() != Code::kAborted) p.out->Fail(src, p.dst, s);
    else if (s.ok() && matched == 0) p.out->Fail(src, p.dst, NotFound(src + ": no file matches"));
    return s.code() == Code::kAborted ? s : Status::Ok();
  }
  struct stat st;
  if (::stat(src.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (!recursive) {
      p.out->Fail(src, p.dst, InvalidArgument(src + ": is a directory (use -r)"));
      return Status::Ok();
    }
    Status s = WalkLocal(src, -1, submit);
    if (!s.ok() && s.code() != Code::kAborted) p.out->Fail(src, p.dst, s);
    return s.code() == Code::kAborted ? s : Status::Ok();
  }
  // A file (or a name that does not exist: the engine reports it).
  s3::TransferTask t;
  t.kind = s3::TransferKind::kUpload;
  t.local = src;
  return Queue(p, std::move(t), BaseName(src));
}

Status QueueS3(Plan& p, s3::S3Client& client, const std::string& bucket, const std::string& key,
               bool recursive) {
  const bool wild = HasWildcard(key);
  if (!wild && !recursive) {
    // One named object: one GET or CopyObject, no HEAD or listing first.
    if (key.empty() || key.back() == '/') {
      p.out->Fail(Url(bucket, key), p.dst,
                  InvalidArgument(Url(bucket, key) + ": a prefix, not an object (use -r)"));
      return Status::Ok();
    }
    s3::TransferTask t;
    t.kind = s3::TransferKind::kDownload;
    t.src_bucket = bucket;
    t.src_key = key;
    return Queue(p, std::move(t), BaseName(key));
  }
  s3::ListParams lp;
  std::string base;
  if (wild) {
    lp.prefix = key.substr(0, key.find_first_of("*?"));
    base = WildcardBase(key);
    // No '/' after the first wildcard: matches lie at one level, so the listing stops at '/'
    // (s3://b/logs/*.gz does not list everything below logs/).
    if (key.find('/', lp.prefix.size()) == std::string::npos) lp.delimiter = "/";
  } else {
    lp.prefix = key.empty() || key.back() == '/' ? key : key + "/";
    base = lp.prefix;
  }
  uint64_t matched = 0;
  Status stop;
  Status s = client.ListObjects(bucket, lp, [&](const s3::ListPage& page) -> Status {
    for (const s3::ObjectEntry& o : page.objects) {
      if (wild && !WildcardMatch(key, o.key)) continue;
      ++matched;
      // A zero-byte key ending in '/' is a "folder" marker of consoles: nothing to copy.
      if (!o.key.empty() && o.key.back() == '/' && o.size == 0) continue;
      s3::TransferTask t;
      t.kind = s3::TransferKind::kDownload;
      t.src_bucket = bucket;
      t.src_key = o.key;
      t.size = o.size;
      t.etag = o.etag;
      stop = Queue(p, std::move(t), o.key.substr(base.size()));
      if (!stop.ok()) return stop;
    }
    return Status::Ok();
  });
  if (!stop.ok()) return stop;  // interrupted
  if (!s.ok()) p.out->Fail(Url(bucket, key), p.dst, s);
  else if (matched == 0 && !wild && !key.empty() && key.back() != '/') {
    // -r of a name with nothing below it: the object of that name (cp -r of a file).
    s3::TransferTask t;
    t.kind = s3::TransferKind::kDownload;
    t.src_bucket = bucket;
    t.src_key = key;
    return Queue(p, std::move(t), BaseName(key));
  } else if (matched == 0) {
    p.out->Fail(Url(bucket, key), p.dst, NotFound(Url(bucket, key) + ": no object matches"));
  }
  return Status::Ok();
}

Status RunCp(const CpOptions& o, Context& ctx) {
  if (o.args.size() < 2) return InvalidArgument("cp needs a source and a destination");
  if (o.jobs < 1 || o.jobs > 1024) return InvalidArgument("--jobs must be between 1 and 1024");
  ASSIGN_OR_RETURN(uint64_t part_size, ParsePartSize(o.part_size));
  const std::vector<std::string> srcs(o.args.begin(), o.args.end() - 1);
  Plan p;
  p.dst = o.args.back();
  p.dst_s3 = IsS3Url(p.dst);
  bool any_wild = false;
  for (const auto& s : srcs) {
    if (IsS3Url(s)) {
      std::string b, k;
      RETURN_IF_ERROR(ParseS3Url(s, true, &b, &k));
      if (b.empty() || HasWildcard(b)) return InvalidArgument("expected s3://BUCKET/KEY, got '" + s + "'");
      if (k.empty() && !o.recursive) return InvalidArgument("'" + s + "' is a bucket: use -r");
    } else if (!p.dst_s3) {
      return InvalidArgument("cp needs an s3:// source or destination ('" + s + "' and '" +
                             p.dst + "' are both local)");
    }
    any_wild |= HasWildcard(s);
  }
  p.into = srcs.size() > 1 || o.recursive || any_wild;
  if (!o.filter.empty()) p.filter = &o.filter;
  if (p.dst_s3) {
    RETURN_IF_ERROR(ParseS3Url(p.dst, true, &p.db, &p.dk));
    if (p.db.empty()) return InvalidArgument("expected s3://BUCKET[/KEY], got '" + p.dst + "'");
    if (p.dk.empty() || p.dk.back() == '/') p.into = true;
    if (p.into && !p.dk.empty() && p.dk.back() != '/') p.dk += '/';
  } else {
    struct stat st;
    const bool is_dir = ::stat(p.dst.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (is_dir || p.dst.back() == '/') p.into = true;
    if (p.into && !is_dir && ::stat(p.dst.c_str(), &st) == 0) {
      return InvalidArgument(p.dst + ": not a directory (copying many objects into it)");
    }
  }
  ASSIGN_OR_RETURN(auto client, ctx.OpenS3());
  if (p.dst_s3) {
    auto mime = MimeTypes::Load("/etc/mime.types");  // missing: no types, not an error
    if (mime.ok()) p.mime = std::move(mime).value();
  }

  CancelScope cancel_scope;
  Reporter out(ctx);
  p.out = &out;
  s3::TransferOptions to;
  to.jobs = o.jobs;
  to.part_size = part_size;
  to.object_attempts = std::max(1, ctx.retries + 1);
  to.cancel = &CancelScope::flag();
  to.fsync_downloads = !o.no_fsync;
  to.on_result = [&out](const s3::TransferResult& r) { out.Result(r); };
  if (!p.dst_s3 && !p.into) to.open_download = OpenNamedFile;
  ASSIGN_OR_RETURN(auto engine, s3::TransferEngine::Create(*client, to));
  p.engine = engine.get();
  const auto start = std::chrono::steady_clock::now();

  // The progress line: redrawn from the counters while the sources are listed and copied.
  std::mutex pm;
  std::condition_variable pcv;
  bool stop_progress = false;
  std::thread progress;
  if (ctx.ShowProgress()) {
    progress = std::thread([&] {
      std::unique_lock<std::mutex> l(pm);
      while (!pcv.wait_for(l, std::chrono::milliseconds(200), [&] { return stop_progress; })) {
        out.Draw(engine->stats());
      }
    });
  }
  for (const auto& s : srcs) {
    Status st;
    if (IsS3Url(s)) {
      std::string b, k;
      RETURN_IF_ERROR(ParseS3Url(s, true, &b, &k));
      st = QueueS3(p, *client, b, k, o.recursive);
    } else {
      st = QueueLocal(p, s, o.recursive);
    }
    if (!st.ok()) break;  // interrupted: Submit refuses more
  }
  const s3::TransferStats stats = engine->Finish();
  if (progress.joinable()) {
    {
      std::lock_guard<std::mutex> l(pm);
      stop_progress = true;
    }
    pcv.notify_all();
    progress.join();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out.Summary(stats, secs);
}

}  // namespace

void RegisterCp(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<CpOptions>();
  CLI::App* sub = app.add_subcommand(
      "cp", "Copy files to and from S3, or objects within S3 (server-side): one, many, -r, wildcards");
  sub->add_flag("-r,--recursive", o->recursive,
                "Copy directories and prefixes: everything below them, keys relative to them");
  sub->add_option("--part-size", o->part_size,
                  "Multipart (and parallel ranges) above this size, in parts of this size "
                  "(default 8MiB; grown so no object needs more than 10,000 parts)")
      ->type_name("SIZE");
  sub->add_option("--jobs", o->jobs, "Requests in flight: objects, or parts of large ones (default 32)")
      ->type_name("N");
  sub->add_flag("--no-fsync", o->no_fsync,
                "Do not wait for downloads to reach the disk (scratch use: a crash may leave "
                "empty or torn files)");
  auto filters = std::make_shared<FilterFlags>();
  filters->Bind(sub);
  sub->add_option("paths", o->args,
                  "SRC... DST: local paths, s3://BUCKET/KEY, s3://BUCKET/PREFIX/; sources may hold "
                  "wildcards (* and ? within a path segment, ** across)")
      ->required()
      ->type_name("SRC... DST");
  sub->callback([o, filters, &ctx, result] {
    o->filter = s3::KeyFilter(filters->Rules());
    *result = RunCp(*o, ctx);
  });
}

}  // namespace cairn::cli
