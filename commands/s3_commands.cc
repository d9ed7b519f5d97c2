// The S3 client commands: ls and rm on s3:// arguments (dispatched from object_commands.cc), cat,
// presign and cp of one file. Endpoint, region and credentials: Context::OpenS3 (s3_config.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/fd_io.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "cli/text_out.h"
#include "commands/commands.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

// S3's "2026-12-03T07:16:08.000Z" as the volume commands print times: "2026-12-03T07:16:08Z".
std::string S3Time(const std::string& t) {
  const size_t dot = t.find('.');
  if (dot == std::string::npos) return t;
  return t.substr(0, dot) + "Z";
}

std::string Url(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + "/" + key;
}

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

bool IsS3Url(const std::string& arg) { return arg.rfind("s3://", 0) == 0; }

Status ParseS3Url(const std::string& arg, bool allow_empty, std::string* bucket, std::string* key) {
  if (!IsS3Url(arg)) return InvalidArgument("expected an s3:// URL, got '" + arg + "'");
  const std::string rest = arg.substr(5);
  const size_t slash = rest.find('/');
  *bucket = rest.substr(0, slash);
  *key = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (bucket->empty() && !key->empty())
    return InvalidArgument("expected s3://BUCKET/KEY, got '" + arg + "' (no bucket)");
  if (!allow_empty && (bucket->empty() || key->empty()))
    return InvalidArgument("expected s3://BUCKET/KEY, got '" + arg + "'");
  return Status::Ok();
}

// ------------------------------------------------------------------------------------------- ls

Status RunS3Ls(const std::string& url, bool recursive, Context& ctx) {
  std::string bucket, prefix;
  RETURN_IF_ERROR(ParseS3Url(url, true, &bucket, &prefix));
  ASSIGN_OR_RETURN(auto client, ctx.OpenS3());
  if (bucket.empty()) {
    ASSIGN_OR_RETURN(auto buckets, client->ListBuckets());
    for (const auto& b : buckets) {
      if (ctx.json) {
        json j = {{"created", S3Time(b.created)}};
        PutText(j, "bucket", b.name);
        std::printf("%s\n", Dump(j).c_str());
      } else {
        std::printf("%s  %s/\n", S3Time(b.created).c_str(), Shown(b.name).c_str());
      }
    }
    return Status::Ok();
  }
  s3::ListParams p;
  p.prefix = prefix;
  p.delimiter = recursive ? "" : "/";
  return client->ListObjects(bucket, p, [&](const s3::ListPage& page) -> Status {
    // Objects and prefixes come as two sorted lists: printed merged, in key order.
    size_t i = 0, j = 0;
    while (i < page.objects.size() || j < page.common_prefixes.size()) {
      const bool obj = j >= page.common_prefixes.size() ||
                       (i < page.objects.size() && page.objects[i].key < page.common_prefixes[j]);
      if (obj) {
        const s3::ObjectEntry& o = page.objects[i++];
        if (ctx.json) {
          json line = {{"bucket", bucket},
                       {"size", o.size},
                       {"etag", o.etag},
                       {"modified", S3Time(o.last_modified)}};
          PutText(line, "key", o.key);
          std::printf("%s\n", Dump(line).c_str());
        } else {
          std::printf("%s  %12llu  %s\n", S3Time(o.last_modified).c_str(),
                      static_cast<unsigned long long>(o.size), Shown(o.key).c_str());
        }
      } else {
        const std::string& pre = page.common_prefixes[j++];
        if (ctx.json) {
          json line = {{"bucket", bucket}};
          PutText(line, "prefix", pre);
          std::printf("%s\n", Dump(line).c_str());
        } else {
          std::printf("%20s  %12s  %s\n", "", "PRE", Shown(pre).c_str());
        }
      }
    }
    if (std::ferror(stdout)) return FlushStdout();  // nobody reads on: stop listing
    return Status::Ok();
  });
}

// ------------------------------------------------------------------------------------------- rm

// Text: nothing for one object, "deleted N objects" for -r, each failure on stderr. --json: one
// document with the counts, as rm on a volume set.
Status RunS3Rm(const std::string& url, bool recursive, Context& ctx) {
  std::string bucket, key;
  RETURN_IF_ERROR(ParseS3Url(url, recursive, &bucket, &key));
  if (bucket.empty()) return InvalidArgument("expected s3://BUCKET/PREFIX, got '" + url + "'");
  ASSIGN_OR_RETURN(auto client, ctx.OpenS3());
  if (!recursive) {
    RETURN_IF_ERROR(client->DeleteObject(bucket, key));
    if (ctx.json) {
      json j = {{"bucket", bucket}, {"deleted", 1}, {"failed", 0}};
      PutText(j, "key", key);
      std::printf("%s\n", Dump(j).c_str());
    }
    return Status::Ok();
  }
  uint64_t deleted = 0, failed = 0;
  std::vector<std::string> keys;
  std::vector<s3::DeleteResult> results;
  s3::ListParams p;
  p.prefix = key;
  // A page (at most 1,000 keys) is one DeleteObjects request; every key's answer is checked.
  Status listing = client->ListObjects(bucket, p, [&](const s3::ListPage& page) -> Status {
    keys.clear();
    for (const auto& o : page.objects) keys.push_back(o.key);
    if (keys.empty()) return Status::Ok();
    RETURN_IF_ERROR(client->DeleteObjects(bucket, keys, &results));
    for (const auto& r : results) {
      if (r.status.ok() || r.status.code() == Code::kNotFound) {
        ++deleted;
      } else {
        ++failed;
        ctx.Warn(r.status.message());
      }
    }
    return Status::Ok();
  });
  if (!listing.ok() && deleted + failed == 0) return listing;
  return ReportRemoval(bucket, key, deleted, failed, listing, ctx);
}

// ------------------------------------------------------------------------------------------ cat

void RegisterCat(CLI::App& app, Context& ctx, Status* result) {
  auto url = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "cat", "Write an S3 object to stdout (checked against its ETag when that is an MD5)");
  sub->add_option("object", *url, "The object")->required()->type_name("s3://BUCKET/KEY");
  sub->callback([url, &ctx, result] {
    *result = [&]() -> Status {
      std::string bucket, key;
      RETURN_IF_ERROR(ParseS3Url(*url, false, &bucket, &key));
      ASSIGN_OR_RETURN(auto client, ctx.OpenS3());
      FdSink sink(1, "stdout", nullptr);
      return client->GetObject(bucket, key, sink).status();
    }();
  });
}

// -------------------------------------------------------------------------------------- presign

void RegisterPresign(CLI::App& app, Context& ctx, Status* result) {
  struct Options {
    std::string url, expires = "1h";
    bool put = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("presign", "Print a presigned URL for an S3 object");
  sub->add_option("--expires", o->expires, "How long the URL is valid (up to 7d; default 1h)")
      ->type_name("DURATION");
  sub->add_flag("--put", o->put, "A URL to upload the object (PUT) instead of reading it");
  sub->add_option("object", o->url, "The object")->required()->type_name("s3://BUCKET/KEY");
  sub->callback([o, &ctx, result] {
    *result = [&]() -> Status {
      std::string bucket, key;
      RETURN_IF_ERROR(ParseS3Url(o->url, false, &bucket, &key));
      ASSIGN_OR_RETURN(int64_t ns, ParseDuration(o->expires));
      const int64_t sec = ns / 1000000000;
      if (sec < 1 || sec > 604800) {
        return InvalidArgument("--expires must be between 1s and 7d, got '" + o->expires + "'");
      }
      ASSIGN_OR_RETURN(auto client, ctx.OpenS3());
      ASSIGN_OR_RETURN(std::string signed_url,
                       client->Presign(o->put ? "PUT" : "GET", bucket, key, sec));
      if (ctx.json) {
        json j = {{"url", signed_url}, {"expires_sec", sec}, {"method", o->put ? "PUT" : "GET"}};
        std::printf("%s\n", Dump(j).c_str());
      } else {
        std::printf("%s\n", signed_url.c_str());
      }
      return Status::Ok();
    }();
  });
}

// ------------------------------------------------------------------------------------------- cp

namespace {

struct CpOptions {
  std::string src, dst, part_size = "8MiB";
  int jobs = 4;
};

constexpr uint64_t kMaxParts = 10000;

// SIGINT / SIGTERM while a multipart upload runs: no part is started after it, the upload is
// aborted (no parts left on the server) and the command fails with kAborted.
volatile sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  bool interrupted() const { return g_interrupted != 0; }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};
constexpr uint64_t kMinPart = uint64_t(5) << 20;

// Uploads fd (size bytes) as one PUT or, above part_size, as a multipart upload with `jobs` parts
// in flight; a failed multipart upload is aborted. Returns the ETag.
Result<std::string> Upload(s3::S3Client& client, int fd, uint64_t size, const std::string& bucket,
                           const std::string& key, uint64_t part_size, int jobs,
                           Progress& progress) {
  if (size <= part_size) {
    s3::Payload p;
    p.fd = fd;
    p.size = size;
    ASSIGN_OR_RETURN(std::string etag, client.PutObject(bucket, key, p));
    progress.Add(size);
    return etag;
  }
  // No object needs more than 10,000 parts: the part size grows for large files.
  part_size = std::max(part_size, (size + kMaxParts - 1) / kMaxParts);
  const uint32_t parts = uint32_t((size + part_size - 1) / part_size);
  InterruptScope interrupt;
  ASSIGN_OR_RETURN(std::string id, client.CreateMultipartUpload(bucket, key));
  std::vector<s3::CompletedUploadPart> done(parts);
  std::atomic<uint32_t> next{0};
  std::mutex mu;
  Status first;
  auto worker = [&] {
    while (true) {
      const uint32_t i = next.fetch_add(1);
      if (i >= parts) return;
      {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok() && interrupt.interrupted()) {
          first = Status(Code::kAborted, "interrupted: the multipart upload of " +
                                             Url(bucket, key) + " was aborted");
        }
        if (!first.ok()) return;
      }
      s3::Payload p;
      p.fd = fd;
      p.offset = uint64_t(i) * part_size;
      p.size = std::min<uint64_t>(part_size, size - p.offset);
      auto etag = client.UploadPart(bucket, key, id, i + 1, p);
      std::lock_guard<std::mutex> l(mu);
      if (!etag.ok()) {
        if (first.ok()) first = etag.status();
        return;
      }
      done[i] = {i + 1, *etag};
      progress.Add(p.size);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::min<int>(jobs, int(parts)); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  Result<std::string> etag = first.ok() ? client.CompleteMultipartUpload(bucket, key, id, done)
                                        : Result<std::string>(first);
  if (!etag.ok()) {
    Status a = client.AbortMultipartUpload(bucket, key, id);
    if (!a.ok()) return etag.status().WithContext("(and the upload " + id + " could not be aborted: " + a.message() + ")");
  }
  return etag;
}

Status RunCp(const CpOptions& o, Context& ctx) {
  const bool src_s3 = IsS3Url(o.src), dst_s3 = IsS3Url(o.dst);
  if (!src_s3 && !dst_s3) return InvalidArgument("cp needs an s3:// source or destination");
  if (o.jobs < 1 || o.jobs > 256) return InvalidArgument("--jobs must be between 1 and 256");
  ASSIGN_OR_RETURN(uint64_t part_size, ParseSize(o.part_size));
  if (part_size < kMinPart || part_size > (uint64_t(5) << 30)) {
    return InvalidArgument("--part-size must be between 5MiB and 5GiB, got '" + o.part_size + "'");
  }
  std::string sb, sk, db, dk;
  if (src_s3) RETURN_IF_ERROR(ParseS3Url(o.src, false, &sb, &sk));
  if (dst_s3) {
    RETURN_IF_ERROR(ParseS3Url(o.dst, true, &db, &dk));
    if (db.empty()) return InvalidArgument("expected s3://BUCKET/KEY, got '" + o.dst + "'");
    // s3://bkt/ or s3://bkt/dir/: the source's base name below it.
    if (dk.empty() || dk.back() == '/') dk += BaseName(src_s3 ? sk : o.src);
  }
  ASSIGN_OR_RETURN(auto client, ctx.OpenS3());
  std::string etag;
  uint64_t size = 0;
  std::string target;
  if (src_s3 && dst_s3) {
    ASSIGN_OR_RETURN(etag, client->CopyObject(sb, sk, db, dk));
    target = Url(db, dk);
  } else if (dst_s3) {
    const int fd = ::open(o.src.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(o.src, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      const int e = errno;
      ::close(fd);
      return S_ISDIR(st.st_mode) ? InvalidArgument(o.src + ": is a directory (recursive copies are not done yet)")
                                 : PosixError(o.src, e != 0 ? e : EINVAL);
    }
    size = uint64_t(st.st_size);
    Progress progress("cp " + BaseName(o.src), size, ctx.ShowProgress() && size >= (8u << 20));
    auto r = Upload(*client, fd, size, db, dk, part_size, o.jobs, progress);
    progress.Finish();
    ::close(fd);
    if (!r.ok()) return r.status();
    etag = *r;
    target = Url(db, dk);
  } else {
    target = o.dst;
    struct stat st;
    if ((::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) || target.back() == '/') {
      if (target.back() != '/') target += '/';
      target += BaseName(sk);
    }
    // Large objects come as parallel ranged GETs written in place; small ones as one GET. A body
    // that does not match its ETag is fetched again (into a new temp file) like any other
    // failure worth repeating; the temp file never becomes the target.
    ASSIGN_OR_RETURN(const s3::ObjectHead head, client->HeadObject(sb, sk));
    Status last;
    for (int attempt = 0; attempt <= ctx.retries; ++attempt) {
      Progress progress("cp " + BaseName(sk), head.size,
                        ctx.ShowProgress() && head.size >= (8u << 20));
      ASSIGN_OR_RETURN(auto file, OutputFile::Open(target, true, &progress));
      Result<s3::ObjectHead> got = head;
      if (head.size > part_size && file->positional_fd() >= 0) {
        Status s = client->DownloadRanges(sb, sk, head, file->positional_fd(), part_size, o.jobs,
                                          [&progress](uint64_t n) { progress.Add(n); });
        if (!s.ok()) got = s;
      } else {
        got = client->GetObject(sb, sk, file->sink());
      }
      progress.Finish();
      last = got.status();
      if (got.ok()) {
        last = file->Commit();
        if (last.ok()) {
          etag = got->etag;
          size = got->size;
        }
        break;
      }
      if (last.code() != Code::kCorruption) break;
      ctx.Warn(last.message() + ": fetching it again");
    }
    RETURN_IF_ERROR(last);
  }
  if (ctx.json) {
    json j = {{"size", size}, {"etag", etag}};
    PutText(j, "source", o.src);
    PutText(j, "target", target);
    std::printf("%s\n", Dump(j).c_str());
  } else {
    std::printf("copied %s -> %s\n", Shown(o.src).c_str(), Shown(target).c_str());
  }
  return Status::Ok();
}

}  // namespace

void RegisterCp(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<CpOptions>();
  CLI::App* sub = app.add_subcommand(
      "cp", "Copy one file to or from S3, or an object within S3 (server-side)");
  sub->add_option("--part-size", o->part_size,
                  "Multipart above this size, in parts of this size (default 8MiB)")
      ->type_name("SIZE");
  sub->add_option("--jobs", o->jobs, "Parts in flight (default 4)")->type_name("N");
  sub->add_option("source", o->src, "A local file or s3://BUCKET/KEY")->required()->type_name("SRC");
  sub->add_option("target", o->dst, "A local path or s3://BUCKET/KEY (or s3://BUCKET/PREFIX/)")
      ->required()
      ->type_name("DST");
  sub->callback([o, &ctx, result] { *result = RunCp(*o, ctx); });
}

}  // namespace cairn::cli
