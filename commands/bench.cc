// cairn bench: layered benchmarks (codec, hash, store, heal), JSON or a table.
#include "bench/bench.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
};

constexpr uint64_t kMinBenchSize = uint64_t{1} << 20;

Status CheckBenchOptions(const BenchOptions& o, bench::Options* bo,
                         std::vector<std::string>* layers) {
  *layers = o.layers;
  if (layers->empty()) *layers = {"codec", "hash", "store", "heal"};
  bool memory = false, disk = false, heal = false;
  for (const auto& l : *layers) {
    if (l == "codec" || l == "hash")
      memory = true;
    else if (l == "store" || l == "heal")
      disk = true;
    else
      return InvalidArgument("unknown bench layer '" + l +
                             "' (expected codec, hash, store or heal)");
    heal |= l == "heal";
  }
  if (o.size_opt != nullptr && o.size_opt->count() > 0) {
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
  std::vector<bench::Row> rows;
  for (const auto& l : layers) {
    std::vector<bench::Row> r;
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
  if (ctx.json) std::printf("%s\n", bench::ToJson(rows).dump(2).c_str());
  return Status::Ok();
}

void RegisterBench(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Measure the layers (codec, hash, store, heal) against references");
  o->size_opt = sub->add_option("--size", o->size,
                                "Data size per run, at least 1MiB (layer default if unset)")
                    ->type_name("SIZE");
  sub->add_option("--ec", o->ec, "Erasure code for the store and heal layers (default 4+2)")
      ->type_name("K+M");
  sub->add_option("--runs", o->runs, "Runs per figure; the median is reported (default 5)")
      ->type_name("N");
  o->dir_opt = sub->add_option("--dir", o->dir,
                               "Scratch directory for disk layers (default $TMPDIR or /var/tmp)")
                   ->type_name("DIR");
  sub->add_option("layers", o->layers, "Layers to run (default all)")
      ->type_name("codec|hash|store|heal...");
  sub->callback([o, &ctx, result] { *result = RunBench(*o, ctx); });
}

}  // namespace cairn::cli
