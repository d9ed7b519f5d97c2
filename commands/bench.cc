// cairn bench: layered benchmarks (codec, hash, store), JSON or a table.
#include <cstdio>
#include <cstdlib>

#include "bench/bench.h"
#include "commands/commands.h"
#include "libstore/object/set_open.h"

namespace cairn::cli {

struct BenchOptions {
  std::vector<std::string> layers;
  std::string size, ec = "4+2", dir;
  int runs = 5;
};

Status RunBench(const BenchOptions& o, Context& ctx) {
  bench::Options bo;
  if (!o.size.empty()) {
    ASSIGN_OR_RETURN(bo.size, ParseSize(o.size));
  }
  ASSIGN_OR_RETURN(auto km, ParseEc(o.ec));
  bo.k = int(km.first);
  bo.m = int(km.second);
  if (o.runs < 1 || o.runs > 100) return InvalidArgument("--runs must be between 1 and 100");
  bo.runs = o.runs;
  bo.dir = o.dir;
  if (bo.dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    bo.dir = t && *t ? t : "/var/tmp";
  }
  std::vector<std::string> layers = o.layers;
  if (layers.empty()) layers = {"codec", "hash", "store", "heal"};
  std::vector<bench::Row> rows;
  for (const auto& l : layers) {
    std::vector<bench::Row> r;
    if (l == "codec") r = bench::RunCodec(bo);
    else if (l == "hash") r = bench::RunHash(bo);
    else if (l == "store") r = bench::RunStore(bo);
    else if (l == "heal") r = bench::RunHeal(bo);
    else return InvalidArgument("unknown bench layer '" + l + "' (expected codec, hash, store or heal)");
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
  CLI::App* sub = app.add_subcommand("bench", "Measure the layers (codec, hash, store, heal) against references");
  sub->add_option("--size", o->size, "Data size per run (layer default if unset)")->type_name("SIZE");
  sub->add_option("--ec", o->ec, "Erasure code for the store and heal layers (default 4+2)")->type_name("K+M");
  sub->add_option("--runs", o->runs, "Runs per figure; the median is reported (default 5)")->type_name("N");
  sub->add_option("--dir", o->dir, "Scratch directory for disk layers (default $TMPDIR or /var/tmp)")
      ->type_name("DIR");
  sub->add_option("layers", o->layers, "Layers to run (default all)")->type_name("codec|hash|store|heal...");
  sub->callback([o, &ctx, result] { *result = RunBench(*o, ctx); });
}

}  // namespace cairn::cli
