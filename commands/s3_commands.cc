// The S3 client commands: ls and rm on s3:// arguments (dispatched from object_commands.cc), cat,
// presign (cp: commands/cp.cc). Endpoint, region and credentials: Context::OpenS3 (s3_config.h).

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/fd_io.h"
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

}  // namespace cairn::cli
