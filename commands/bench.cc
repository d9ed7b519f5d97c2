// cairn bench: layered benchmarks (codec, hash, store, heal, s3), JSON or a table.
#include "bench/bench.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/bench_s3.h"
#include "cli/progress.h"
#include "commands/commands.h"
#include "libstore/object/set_open.h"

namespace cairn::cli {

struct BenchOptions {
  std::vector<std::string> layers;
  std::string size, ec = "4+2", dir;
  int runs = 5;
  CLI::Option* size_opt = nullptr;  // to tell "--size ''" from no --size
  CLI::Option* dir_opt = nullptr;
  // The s3 layer (bench/bench_s3.h).
  std::string endpoint, op = "mixed", duration = "5s", access_key, secret_key, region, bucket;
  int concurrency = 16;
  uint64_t count = 0;
  bool plain_http = false, no_verify_ssl = false, no_fsync = false, keep = false, warm = false;
};

const char* EnvOr(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : def;
}

// The s3 layer's options: flags, else the AWS environment variables.
Status CheckS3Bench(const BenchOptions& o, const bench::Options& bo, bench::S3Options* so) {
  so->endpoint = o.endpoint;
  so->concurrency = o.concurrency;
  so->count = o.count;
  so->op = o.op;
  ASSIGN_OR_RETURN(const int64_t ns, ParseDuration(o.duration));
  so->duration_sec = double(ns) / 1e9;
  so->access_key = !o.access_key.empty() ? o.access_key : EnvOr("AWS_ACCESS_KEY_ID", "");
  so->secret_key = !o.secret_key.empty() ? o.secret_key : EnvOr("AWS_SECRET_ACCESS_KEY", "");
  so->region = !o.region.empty() ? o.region : EnvOr("AWS_REGION", "us-east-1");
  so->plain_http = o.plain_http;
  so->verify_tls = !o.no_verify_ssl;
  so->fsync = !o.no_fsync;
  so->dir = bo.dir;
  so->bucket = o.bucket;
  so->keep = o.keep;
  so->warm = o.warm;
  if (o.size_opt != nullptr && o.size_opt->count() > 0) {
    ASSIGN_OR_RETURN(so->size, ParseSize(o.size));
  }
  return bench::CheckS3Options(*so);
}

constexpr uint64_t kMinBenchSize = uint64_t{1} << 20;

Status CheckBenchOptions(const BenchOptions& o, bench::Options* bo,
                         std::vector<std::string>* layers) {
  *layers = o.layers;
  if (layers->empty()) *layers = {"codec", "hash", "store", "heal"};
  bool memory = false, disk = false, heal = false, others = false;
  for (const auto& l : *layers) {
    if (l == "codec" || l == "hash")
      memory = true;
    else if (l == "store" || l == "heal")
      disk = true;
    else if (l == "s3")
      disk |= o.endpoint.empty();  // in-process servers on a scratch directory
    else
      return InvalidArgument("unknown bench layer '" + l +
                             "' (expected codec, hash, store, heal or s3)");
    heal |= l == "heal";
    others |= l != "s3";
  }
  // The s3 layer takes any object size (4KiB...); the others work in 1 MiB pieces.
  if (others && o.size_opt != nullptr && o.size_opt->count() > 0) {
    ASSIGN_OR_RETURN(bo->size, ParseSize(o.size));
    // Every layer works in 1 MiB blocks, stripes or objects: a smaller size would be rounded up
    // without a word, and 0 would quietly mean the default.
    if (bo->size < kMinBenchSize)
      return InvalidArgument("--size must be at least 1MiB, got '" + o.size + "'");
    // The codec and hash layers hold their data in memory (touched before timing).
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    const double ram = pages > 0 && page > 0 ? double(pages) * double(page) : 0;
    if (memory && ram > 0 && double(bo->size) * 2 > ram) {
      return InvalidArgument("--size " + o.size +
                             ": the codec and hash layers keep the data in memory, which needs "
                             "more than half of this machine's " +
                             HumanBytes(ram));
    }
  }
  ASSIGN_OR_RETURN(auto km, ParseEc(o.ec));
  bo->k = int(km.first);
  bo->m = int(km.second);
  if (heal && bo->m == 0)
    return InvalidArgument("--ec " + o.ec + ": the heal layer needs parity (M >= 1)");
  if (o.runs < 1 || o.runs > 100) return InvalidArgument("--runs must be between 1 and 100");
  bo->runs = o.runs;
  if (o.dir_opt != nullptr && o.dir_opt->count() > 0) {
    if (o.dir.empty()) return InvalidArgument("--dir: empty directory name");
    bo->dir = o.dir;
  } else {
    const char* t = std::getenv("TMPDIR");
    bo->dir = t && *t ? t : "/var/tmp";
  }
  if (disk) {
    struct stat st;
    if (::stat(bo->dir.c_str(), &st) != 0) {
      return InvalidArgument("--dir " + bo->dir + ": " + std::strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return InvalidArgument("--dir " + bo->dir + ": not a directory");
  }
  return Status::Ok();
}

Status RunBench(const BenchOptions& o, Context& ctx) {
  bench::Options bo;
  std::vector<std::string> layers;
  RETURN_IF_ERROR(CheckBenchOptions(o, &bo, &layers));
  bench::S3Options so;
  const bool s3 = std::find(layers.begin(), layers.end(), "s3") != layers.end();
  if (s3) RETURN_IF_ERROR(CheckS3Bench(o, bo, &so));
  std::vector<bench::Row> rows;
  nlohmann::json s3_json = nlohmann::json::array();
  for (const auto& l : layers) {
    std::vector<bench::Row> r;
    if (l == "s3") {
      auto figures = bench::RunS3(so);
      if (!figures.ok()) return figures.status().WithContext("layer s3");
      for (auto& j : bench::S3ToJson(*figures)) {
        j["layer"] = "s3";
        s3_json.push_back(j);
      }
      if (!ctx.json) {
        std::fputs(bench::S3ToTable(*figures).c_str(), stdout);
        std::fflush(stdout);
      }
      continue;
    }
    if (l == "codec") {
      r = bench::RunCodec(bo);
    } else if (l == "hash") {
      r = bench::RunHash(bo);
    } else {
      auto disk = l == "store" ? bench::RunStore(bo) : bench::RunHeal(bo);
      if (!disk.ok()) return disk.status().WithContext("layer " + l);
      r = std::move(*disk);
    }
    rows.insert(rows.end(), r.begin(), r.end());
    if (!ctx.json) {
      std::fputs(bench::ToTable(r).c_str(), stdout);
      std::fflush(stdout);
    }
  }
  if (ctx.json) {
    nlohmann::json all = bench::ToJson(rows);
    for (auto& j : s3_json) all.push_back(j);
    std::printf("%s\n", all.dump(2).c_str());
  }
  return Status::Ok();
}

void RegisterBench(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Measure the layers (codec, hash, store, heal, s3) against references");
  o->size_opt = sub->add_option("--size", o->size,
                                "Data size per run, at least 1MiB (layer default if unset); "
                                "the s3 layer's object size (default 4KiB)")
                    ->type_name("SIZE");
  sub->add_option("--ec", o->ec, "Erasure code for the store and heal layers (default 4+2)")
      ->type_name("K+M");
  sub->add_option("--runs", o->runs, "Runs per figure; the median is reported (default 5)")
      ->type_name("N");
  o->dir_opt = sub->add_option("--dir", o->dir,
                               "Scratch directory for disk layers (default $TMPDIR or /var/tmp)")
                   ->type_name("DIR");
  sub->add_option("--endpoint", o->endpoint,
                  "s3: the server to load (default: in-process servers, plain and 4+2)")
      ->type_name("URL");
  sub->add_option("--concurrency", o->concurrency, "s3: connections in parallel (default 16)")
      ->type_name("N");
  sub->add_option("--duration", o->duration, "s3: how long each op runs (default 5s)")
      ->type_name("D");
  sub->add_option("--count", o->count, "s3: operations per op instead of a duration")
      ->type_name("N");
  sub->add_option("--op", o->op, "s3: put, get, or mixed (a put then a get phase; default)")
      ->type_name("put|get|mixed");
  sub->add_option("--access-key", o->access_key, "s3: access key (default $AWS_ACCESS_KEY_ID)")
      ->type_name("KEY");
  sub->add_option("--secret-key", o->secret_key, "s3: secret key (default $AWS_SECRET_ACCESS_KEY)")
      ->type_name("SECRET");
  sub->add_option("--region", o->region, "s3: signing region (default $AWS_REGION or us-east-1)")
      ->type_name("REGION");
  sub->add_option("--bucket", o->bucket,
                  "s3: use this existing bucket (default: create cairn-bench-<random>)")
      ->type_name("NAME");
  sub->add_flag("--plain-http", o->plain_http,
                "s3: unsigned GET/PUT of URL/KEY, no bucket (nginx WebDAV, a discard sink)");
  sub->add_flag("--no-verify-ssl", o->no_verify_ssl, "s3: do not verify the TLS certificate");
  sub->add_flag("--no-fsync", o->no_fsync, "s3: in-process servers write without fsync");
  sub->add_flag("--keep", o->keep,
                "s3: leave the objects written (and a bucket made) in place: no DELETEs after the "
                "phases, so that a server's CPU or system calls around the run are the phases' own");
  sub->add_flag("--warm", o->warm,
                "s3: read each object once, untimed, before the timed GETs (a big PUT to cairn "
                "serve leaves its bytes out of the page cache: without --warm the first GET of "
                "each object reads the disk)");
  sub->add_option("layers", o->layers, "Layers to run (default all but s3)")
      ->type_name("codec|hash|store|heal|s3...");
  sub->callback([o, &ctx, result] { *result = RunBench(*o, ctx); });
}

}  // namespace cairn::cli
