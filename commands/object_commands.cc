// cairn put, get, ls, stat, rm: objects in a volume set.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "cli/fd_io.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "cli/text_out.h"
#include "commands/commands.h"
#include "libstore/client/s3_store.h"
#include "libstore/format/encoding.h"
#include "libstore/format/key_path.h"
#include "libstore/format/shard_file.h"  // CheckBaseName

namespace cairn::cli {
namespace {

using nlohmann::json;

std::string TimeString(int64_t ns) {
  time_t t = time_t(ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json InfoJson(const ObjectInfo& i) {
  json j = {{"bucket", i.bucket},
            {"size", i.size},
            {"etag", i.etag},
            {"modified", TimeString(i.mod_time_ns)}};
  PutText(j, "key", i.key);
  if (!i.content_type.empty()) PutText(j, "content_type", i.content_type);
  PutMeta(j, i.user_meta);
  if (i.checksum.algorithm != ChecksumAlgorithm::kNone) {
    j["checksum"] = {{"algorithm", Name(i.checksum.algorithm)},
                     {"value", i.ChecksumHeaderValue()},
                     {"type", Name(i.checksum_type)}};
  }
  return j;
}

// The store an object command works on: the volume set of --set / CAIRN_SET, or for an s3://
// URL the S3 endpoint (S3ObjectStore, configured as every s3:// command is).
struct OpenedStore {
  std::optional<OpenedSet> set;
  std::unique_ptr<s3::S3ObjectStore> remote;
  ObjectStore* store = nullptr;
};

// Splits the object argument (BUCKET/KEY or s3://BUCKET/KEY), checked as its store names objects:
// cairn's bucket and key rules for a volume set; any non-empty bucket and key for S3 (the server
// decides).
Status SplitObject(const std::string& arg, std::string* bucket, std::string* key) {
  if (IsS3Url(arg)) return ParseS3Url(arg, false, bucket, key);
  RETURN_IF_ERROR(SplitPath(arg, false, bucket, key));
  RETURN_IF_ERROR(ValidateBucketName(*bucket));
  return ValidateKey(*key);
}

Result<OpenedStore> OpenStore(const std::string& arg, Context& ctx) {
  OpenedStore o;
  if (IsS3Url(arg)) {
    ASSIGN_OR_RETURN(auto client, ctx.OpenS3());
    ASSIGN_OR_RETURN(o.remote, s3::S3ObjectStore::Create(std::move(client)));
    o.store = o.remote.get();
  } else {
    ASSIGN_OR_RETURN(o.set, ctx.OpenVolumeSet());
    o.store = o.set->set.get();
  }
  return o;
}

// stat's lines for what every store tells (the volume set adds its layout and health).
void PrintInfo(const std::string& bucket, const std::string& key, const ObjectInfo& info) {
  std::printf("%s\n", Shown(bucket + "/" + key).c_str());
  std::printf("  size          %llu (%s)\n", static_cast<unsigned long long>(info.size),
              HumanBytes(double(info.size)).c_str());
  std::printf("  etag          %s\n", Shown(info.etag).c_str());
  std::printf("  modified      %s\n", TimeString(info.mod_time_ns).c_str());
  if (!info.content_type.empty()) {
    std::printf("  content-type  %s\n", Shown(info.content_type).c_str());
  }
  for (const auto& [k, v] : info.user_meta) {
    std::printf("  meta          %s\n", Shown(k + "=" + v).c_str());
  }
  if (info.checksum.algorithm != ChecksumAlgorithm::kNone) {
    std::printf("  checksum      %s %s (%s)\n", Name(info.checksum.algorithm),
                info.ChecksumHeaderValue().c_str(), Name(info.checksum_type));
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------ put

struct PutOptions2 {
  std::string file, target, content_type, etag = "md5", checksum;
  std::vector<std::string> meta;
  bool no_fsync = false;
};

Status RunPut(const PutOptions2& o, Context& ctx) {
  std::string bucket, key;
  RETURN_IF_ERROR(SplitObject(o.target, &bucket, &key));
  PutOptions po;
  po.content_type = o.content_type;
  po.fsync = !o.no_fsync;
  if (o.etag == "md5") po.etag = EtagMode::kMd5;
  else if (o.etag == "fast") po.etag = EtagMode::kFast;
  else return InvalidArgument("--etag must be md5 or fast, got '" + o.etag + "'");
  if (!o.checksum.empty()) {
    auto a = ChecksumAlgorithmFromName(o.checksum);
    if (!a.ok()) {
      return InvalidArgument("--checksum must be crc32, crc32c, crc64nvme, sha1 or sha256, got '" +
                             Cut(o.checksum) + "'");
    }
    po.checksum_algorithm = *a;
  }
  RETURN_IF_ERROR(ValidateFieldValue("--content-type", o.content_type));
  RETURN_IF_ERROR(ParseMeta(o.meta, &po.user_meta));
  // Refused here, before the input is opened: the store never commits what it cannot read back.
  RETURN_IF_ERROR(ValidatePutOptions(po));
  int fd = 0;
  uint64_t total = 0;
  if (o.file != "-") {
    fd = ::open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(o.file, errno);
    struct stat st;
    if (::fstat(fd, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        return InvalidArgument(o.file + ": is a directory");
      }
      total = uint64_t(st.st_size);
    }
  }
  auto opened = OpenStore(o.target, ctx);
  if (!opened.ok()) {
    if (fd > 0) ::close(fd);
    return opened.status();
  }
  Progress progress("put " + key, total, ctx.ShowProgress() && total >= (8u << 20));
  FdSource src(fd, o.file == "-" ? "stdin" : o.file, &progress);
  auto info = opened->store->PutObject(bucket, key, src, po);
  progress.Finish();
  if (fd > 0) ::close(fd);
  if (!info.ok()) return info.status();
  // Members that were online but failed the write (offline ones were warned about when the set
  // was opened): one warning line, as for a degraded read.
  std::string failed, why;
  uint32_t missed_failed = 0;
  for (const auto& w : info->missed) {
    if (w.offline) continue;
    ++missed_failed;
    failed += (failed.empty() ? "" : ", ") + std::to_string(w.position + 1) + " (" +
              opened->set->member_paths[w.position] + ")";
    if (why.empty()) why = w.why;
  }
  if (missed_failed > 0) {  // only a volume set misses members
    const size_t n = opened->set->member_paths.size();
    ctx.Warn("warning: " + bucket + "/" + key + ": written to " +
             std::to_string(n - info->missed.size()) + " of " + std::to_string(n) +
             " members; member" + (missed_failed > 1 ? "s " : " ") + failed + " failed: " + why +
             " (queued for heal)");
  }
  if (ctx.json) {
    json j = InfoJson(*info);
    json missed = json::array();
    for (const auto& w : info->missed) missed.push_back(w.position + 1);
    if (!info->missed.empty()) j["missed_members"] = missed;
    std::printf("%s\n", Dump(j).c_str());
  }
  return Status::Ok();
}

void RegisterPut(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<PutOptions2>();
  CLI::App* sub = app.add_subcommand("put", "Store a file (or stdin) as an object");
  sub->add_option("--content-type", o->content_type, "Content-Type to record")->type_name("TYPE");
  sub->add_option("--meta", o->meta, "User metadata (repeatable)")->type_name("KEY=VALUE");
  sub->add_option("--etag", o->etag, "ETag: md5 (S3 compatible, default) or fast (XXH3-128)")
      ->type_name("md5|fast");
  sub->add_option("--checksum", o->checksum,
                  "Also compute and store this checksum (S3's x-amz-checksum-*)")
      ->type_name("crc32|crc32c|crc64nvme|sha1|sha256");
  sub->add_flag("--no-fsync", o->no_fsync, "Do not wait for the data to reach the disk (scratch use)");
  sub->add_option("file", o->file, "File to store, or - for stdin")->required()->type_name("FILE|-");
  sub->add_option("target", o->target, "Where to store it (or s3://BUCKET/KEY)")
      ->required()
      ->type_name("BUCKET/KEY");
  sub->callback([o, &ctx, result] { *result = RunPut(*o, ctx); });
}

// ------------------------------------------------------------------------------------------ get

struct GetOptions {
  std::string source, output, range;
  bool force = false;
};

Status RunGet(const GetOptions& o, Context& ctx) {
  std::string bucket, key;
  RETURN_IF_ERROR(SplitObject(o.source, &bucket, &key));
  cairn::GetOptions get;
  if (!o.range.empty()) {
    GetRange range;
    RETURN_IF_ERROR(ParseRange(o.range, &range));
    get.range = range;
  }
  std::string out = o.output;
  const bool typed = !out.empty();
  if (!typed) {
    if (!::isatty(1)) {
      out = "-";
    } else {
      // The key's last segment, in the working directory: a name that comes from data must be a
      // plain file name, and never replaces a file unless --force.
      size_t slash = key.rfind('/');
      out = key.substr(slash == std::string::npos ? 0 : slash + 1);
      if (Status s = CheckBaseName(out); !s.ok()) {
        return InvalidArgument("the key's last segment cannot name a file here (" + s.message() +
                               "): name an output FILE");
      }
    }
  }
  ASSIGN_OR_RETURN(OpenedStore opened, OpenStore(o.source, ctx));
  // One metadata read: the reader knows the size before the first byte and sends that version
  // (over S3: a HEAD, then GETs pinned to that version's ETag).
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> reader,
                   opened.store->OpenObject(bucket, key, get));
  if (out == "-") {
    FdSink sink(1, "stdout", nullptr);
    return reader->WriteTo(sink);
  }
  const uint64_t size = reader->range().length;
  Progress progress("get " + key, size, ctx.ShowProgress() && size >= (8u << 20));
  // A regular file is written to a temp file and renamed: a failed get never leaves half a file.
  ASSIGN_OR_RETURN(auto file, OutputFile::Open(out, MayReplace(typed, o.force), &progress));
  Status s = reader->WriteTo(file->sink());
  progress.Finish();
  if (s.ok()) s = file->Commit();
  return s;
}

void RegisterGet(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<GetOptions>();
  CLI::App* sub = app.add_subcommand("get", "Read an object to a file or stdout");
  sub->add_option("--range", o->range,
                  "Only bytes FIRST to LAST (inclusive), or -N: the last N bytes")
      ->type_name("FIRST-LAST|-N");
  sub->add_flag("--force", o->force,
                "Replace an existing file also when its name comes from the key (no FILE given)");
  sub->add_option("source", o->source, "The object (or s3://BUCKET/KEY)")
      ->required()
      ->type_name("BUCKET/KEY");
  sub->add_option("output", o->output,
                  "Output file, - for stdout (default: stdout if not a terminal, else ./KEY's basename)")
      ->type_name("FILE|-");
  sub->callback([o, &ctx, result] { *result = RunGet(*o, ctx); });
}

// ------------------------------------------------------------------------------------------- ls

struct LsOptions {
  std::string path;
  bool recursive = false;
};

Status RunLs(const LsOptions& o, Context& ctx) {
  if (IsS3Url(o.path)) return RunS3Ls(o.path, o.recursive, ctx);
  ASSIGN_OR_RETURN(OpenedSet set, ctx.OpenVolumeSet());
  if (o.path.empty()) {
    ASSIGN_OR_RETURN(auto buckets, set.set->ListBuckets());
    for (const auto& b : buckets) {
      if (ctx.json) {
        json j = {{"created", TimeString(b.created_ns)}};
        PutText(j, "bucket", b.name);
        std::printf("%s\n", Dump(j).c_str());
      } else {
        std::printf("%s  %s/\n", TimeString(b.created_ns).c_str(), Shown(b.name).c_str());
      }
    }
    return Status::Ok();
  }
  std::string bucket, prefix;
  RETURN_IF_ERROR(SplitPath(o.path, true, &bucket, &prefix));
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  ListOptions lo;
  lo.prefix = prefix;
  lo.delimiter = o.recursive ? "" : "/";
  lo.max_keys = 1000;
  while (true) {
    ASSIGN_OR_RETURN(ListResult page, set.set->ListObjects(bucket, lo));
    // Objects and prefixes come back as two sorted lists: print them merged, in key order.
    size_t i = 0, j = 0;
    while (i < page.objects.size() || j < page.common_prefixes.size()) {
      bool obj = j >= page.common_prefixes.size() ||
                 (i < page.objects.size() && page.objects[i].key < page.common_prefixes[j]);
      if (obj) {
        const ObjectInfo& oi = page.objects[i++];
        if (ctx.json) {
          std::printf("%s\n", Dump(InfoJson(oi)).c_str());
        } else {
          std::printf("%s  %12llu  %s\n", TimeString(oi.mod_time_ns).c_str(),
                      static_cast<unsigned long long>(oi.size), Shown(oi.key).c_str());
        }
      } else {
        const std::string& p = page.common_prefixes[j++];
        if (ctx.json) {
          json line = {{"bucket", bucket}};
          PutText(line, "prefix", p);
          std::printf("%s\n", Dump(line).c_str());
        } else {
          std::printf("%20s  %12s  %s\n", "", "PRE", Shown(p).c_str());
        }
      }
    }
    if (std::ferror(stdout)) return FlushStdout();  // nobody reads on: stop listing
    if (!page.truncated) break;
    lo.continuation_token = page.next_token;
  }
  return Status::Ok();
}

void RegisterLs(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<LsOptions>();
  CLI::App* sub = app.add_subcommand("ls", "List buckets, or the objects of a bucket");
  sub->add_flag("-r,--recursive", o->recursive, "List every key below the prefix (no '/' roll-up)");
  sub->add_option("path", o->path, "Bucket and optional key prefix (or s3://[BUCKET[/PREFIX]])")
      ->type_name("BUCKET[/PREFIX]");
  sub->callback([o, &ctx, result] { *result = RunLs(*o, ctx); });
}

// ----------------------------------------------------------------------------------------- stat

Status RunStat(const std::string& path, Context& ctx) {
  std::string bucket, key;
  RETURN_IF_ERROR(SplitObject(path, &bucket, &key));
  if (IsS3Url(path)) {
    // What S3 tells of an object (HEAD): no layout or shard health to show.
    ASSIGN_OR_RETURN(OpenedStore opened, OpenStore(path, ctx));
    ASSIGN_OR_RETURN(ObjectInfo info, opened.store->HeadObject(bucket, key));
    if (ctx.json) {
      std::printf("%s\n", Dump(InfoJson(info)).c_str());
    } else {
      PrintInfo(bucket, key, info);
    }
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(OpenedSet set, ctx.OpenVolumeSet());
  ASSIGN_OR_RETURN(ObjectDetail d, set.set->StatObject(bucket, key));
  int healthy = 0;
  for (const auto& s : d.shards) healthy += s.state == CopyState::kOk;
  auto volume = [&](const ShardState& s) -> const std::string& {
    return s.state == CopyState::kOffline ? set.member_paths[s.position] : s.volume;
  };
  if (ctx.json) {
    json j = InfoJson(d.info);
    j["ec"] = {{"k", d.meta.k}, {"m", d.meta.m}, {"block_size", d.meta.block_size},
               {"inline", d.meta.is_inline()}};
    j["version_id"] = d.meta.version_id.Hex();
    j["healthy_shards"] = healthy;
    json vols = json::array();
    for (const auto& s : d.shards) {
      json v = {{"position", s.position + 1},
                {"state", Name(s.state)},
                {"shard", s.shard_index < 0 ? json(nullptr) : json(s.shard_index + 1)},
                {"shard_bytes", s.shard_bytes}};
      PutText(v, "volume", volume(s));
      vols.push_back(std::move(v));
    }
    j["volumes"] = vols;
    std::printf("%s\n", Dump(j).c_str());
    return Status::Ok();
  }
  PrintInfo(bucket, key, d.info);
  std::printf("  layout        %u+%u, %s blocks, %s\n", d.meta.k, d.meta.m,
              HumanBytes(d.meta.block_size).c_str(),
              d.meta.is_inline() ? "inline in metadata" : "one shard file per volume");
  std::printf("  health        %d of %zu shards ok%s\n", healthy, d.shards.size(),
              healthy == int(d.shards.size()) ? "" : " (degraded)");
  std::printf("  volumes\n");
  for (const auto& s : d.shards) {
    std::printf("    %2u  %-13s shard %-3s %s\n", s.position + 1, Name(s.state),
                s.shard_index < 0 ? "-" : std::to_string(s.shard_index + 1).c_str(),
                Shown(volume(s)).c_str());
  }
  return Status::Ok();
}

void RegisterStat(CLI::App& app, Context& ctx, Status* result) {
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("stat", "Show an object's size, ETag, EC layout and shard health");
  sub->add_option("object", *path, "The object (or s3://BUCKET/KEY)")
      ->required()
      ->type_name("BUCKET/KEY");
  sub->callback([path, &ctx, result] { *result = RunStat(*path, ctx); });
}

// ------------------------------------------------------------------------------------------- rm

struct RmOptions {
  std::string path;
  bool recursive = false;
};

// Text: nothing for one object (as rm), "deleted N objects" for -r whether or not stdout is a
// terminal, each failure on stderr. --json: one document with the counts, also when some failed.
Status RunRm(const RmOptions& o, Context& ctx) {
  if (IsS3Url(o.path)) return RunS3Rm(o.path, o.recursive, ctx);
  std::string bucket, key;
  RETURN_IF_ERROR(SplitPath(o.path, o.recursive, &bucket, &key));
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  if (!o.recursive) RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(OpenedSet set, ctx.OpenVolumeSet());
  if (!o.recursive) {
    RETURN_IF_ERROR(set.set->DeleteObject(bucket, key));
    if (ctx.json) {
      json j = {{"bucket", bucket}, {"deleted", 1}, {"failed", 0}};
      PutText(j, "key", key);
      std::printf("%s\n", Dump(j).c_str());
    }
    return Status::Ok();
  }
  ListOptions lo;
  lo.prefix = key;
  uint64_t deleted = 0, failed = 0;
  Status listing;
  while (true) {
    auto page = set.set->ListObjects(bucket, lo);
    if (!page.ok()) {
      if (deleted + failed == 0) return page.status();
      listing = page.status();  // report what was done before the listing failed
      break;
    }
    // A page at a time, so the deletes of a page share their flushes.
    std::vector<std::string> keys;
    for (const auto& oi : page->objects) keys.push_back(oi.key);
    const std::vector<Status> done = set.set->DeleteObjects(bucket, keys);
    for (size_t i = 0; i < keys.size(); ++i) {
      const Status& s = done[i];
      if (s.ok()) {
        ++deleted;
      } else if (s.code() != Code::kNotFound) {  // gone meanwhile: someone else removed it
        ++failed;
        std::string msg = s.message(), name = bucket + "/" + keys[i];
        ctx.Warn(msg.rfind(name, 0) == 0 ? msg : name + ": " + msg);
      }
    }
    if (!page->truncated) break;
    lo.continuation_token = page->next_token;
  }
  return ReportRemoval(bucket, key, deleted, failed, listing, ctx);
}

Status ReportRemoval(const std::string& bucket, const std::string& prefix, uint64_t deleted,
                     uint64_t failed, const Status& listing, Context& ctx) {
  if (ctx.json) {
    json j = {{"bucket", bucket}, {"deleted", deleted}, {"failed", failed}};
    PutText(j, "prefix", prefix);
    std::printf("%s\n", Dump(j).c_str());
  } else {
    std::printf("deleted %llu object%s%s\n", static_cast<unsigned long long>(deleted),
                deleted == 1 ? "" : "s",
                failed == 0 ? "" : (", " + std::to_string(failed) + " failed").c_str());
  }
  if (!listing.ok()) return listing;
  if (failed > 0) {
    return IOError(std::to_string(failed) + " object" + (failed == 1 ? "" : "s") +
                   " could not be deleted (see above)");
  }
  return Status::Ok();
}

void RegisterRm(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<RmOptions>();
  CLI::App* sub = app.add_subcommand("rm", "Remove an object, or every object below a prefix (-r)");
  sub->add_flag("-r,--recursive", o->recursive, "Remove every object whose key starts with PREFIX");
  sub->add_option("path", o->path, "The object, or BUCKET/PREFIX with -r (or s3://BUCKET/KEY)")
      ->required()
      ->type_name("BUCKET/KEY");
  sub->callback([o, &ctx, result] { *result = RunRm(*o, ctx); });
}

}  // namespace cairn::cli
