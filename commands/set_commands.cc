// cairn init, mb, rb: formatting a volume set and managing buckets.
#include <cstdio>

#include "cli/json_out.h"
#include "commands/commands.h"
#include "libstore/format/key_path.h"
#include "libstore/object/set_open.h"

namespace cairn::cli {

struct InitOptions {
  std::vector<std::string> dirs;
  std::string ec;
  std::string block_size = "1MiB";
  std::string inline_limit = "128KiB";
  bool force = false;
};

Status RunInit(const InitOptions& o, Context& ctx) {
  if (o.dirs.empty()) return InvalidArgument("init needs at least one directory");
  SetParams p;
  uint32_t n = uint32_t(o.dirs.size());
  if (o.ec.empty()) {
    p.m = DefaultParity(n);
    p.k = n - p.m;
  } else {
    ASSIGN_OR_RETURN(auto km, ParseEc(o.ec));
    p.k = km.first;
    p.m = km.second;
  }
  ASSIGN_OR_RETURN(uint64_t bs, ParseSize(o.block_size));
  ASSIGN_OR_RETURN(uint64_t il, ParseSize(o.inline_limit));
  if (bs > (64u << 20)) return InvalidArgument("--block-size must be at most 64 MiB");
  if (il > (1u << 20)) return InvalidArgument("--inline-limit must be at most 1 MiB");
  p.block_size = uint32_t(bs);
  p.inline_limit = uint32_t(il);
  RETURN_IF_ERROR(InitSet(o.dirs, p, o.force));
  if (ctx.json) {
    std::printf("{\"k\":%u,\"m\":%u,\"block_size\":%u,\"inline_limit\":%u,\"members\":%zu}\n", p.k,
                p.m, p.block_size, p.inline_limit, o.dirs.size());
  } else {
    std::printf("formatted %zu directories as one volume set: %u data + %u parity, %u KiB blocks\n",
                o.dirs.size(), p.k, p.m, p.block_size / 1024);
  }
  return Status::Ok();
}

void RegisterInit(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<InitOptions>();
  CLI::App* sub = app.add_subcommand("init", "Format N empty directories (one per disk) as one volume set");
  sub->add_option("--ec", o->ec, "Data+parity shards, e.g. 4+2 (default by member count)")->type_name("K+M");
  sub->add_option("--block-size", o->block_size, "Bytes of data per erasure-coded block (default 1MiB)")
      ->type_name("SIZE");
  sub->add_option("--inline-limit", o->inline_limit,
                  "Objects up to this size live inside their metadata (default 128KiB)")
      ->type_name("SIZE");
  sub->add_flag("--force", o->force, "Format directories that are not empty or belong to a set");
  sub->add_option("dirs", o->dirs, "Member directories, in set order")->required()->type_name("DIR...");
  sub->callback([o, &ctx, result] { *result = RunInit(*o, ctx); });
}

struct BucketOptions {
  std::string bucket;
  bool force = false;
};

// mb and rb print nothing as text (as mkdir and rmdir), and with --json one document saying what
// was done: {"bucket":B,"made":true} and {"bucket":B,"removed":true,"force":F}.
Status RunMb(const BucketOptions& o, Context& ctx) {
  RETURN_IF_ERROR(ValidateBucketName(o.bucket));
  ASSIGN_OR_RETURN(OpenedSet s, ctx.OpenVolumeSet());
  std::vector<std::string> warnings;
  RETURN_IF_ERROR(s.set->MakeBucket(o.bucket, &warnings));
  for (const auto& w : warnings) ctx.Warn("warning: " + w);
  if (ctx.json) std::printf("%s\n", Dump({{"bucket", o.bucket}, {"made", true}}).c_str());
  return Status::Ok();
}

Status RunRb(const BucketOptions& o, Context& ctx) {
  RETURN_IF_ERROR(ValidateBucketName(o.bucket));
  ASSIGN_OR_RETURN(OpenedSet s, ctx.OpenVolumeSet());
  RETURN_IF_ERROR(s.set->RemoveBucket(o.bucket, o.force));
  if (ctx.json) {
    std::printf("%s\n",
                Dump({{"bucket", o.bucket}, {"removed", true}, {"force", o.force}}).c_str());
  }
  return Status::Ok();
}

void RegisterBucketCommands(CLI::App& app, Context& ctx, Status* result) {
  auto mb = std::make_shared<BucketOptions>();
  CLI::App* sub = app.add_subcommand("mb", "Make a bucket");
  sub->add_option("bucket", mb->bucket, "Bucket name (S3 rules)")->required()->type_name("BUCKET");
  sub->callback([mb, &ctx, result] { *result = RunMb(*mb, ctx); });

  auto rb = std::make_shared<BucketOptions>();
  sub = app.add_subcommand("rb", "Remove a bucket");
  sub->add_flag("--force", rb->force, "Remove the bucket's objects too");
  sub->add_option("bucket", rb->bucket, "Bucket name")->required()->type_name("BUCKET");
  sub->callback([rb, &ctx, result] { *result = RunRb(*rb, ctx); });
}

}  // namespace cairn::cli
