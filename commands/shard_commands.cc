// cairn encode, decode, verify, repair: erasure coding of plain files into shard files.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/fd_io.h"
#include "cli/progress.h"
#include "commands/commands.h"
#include "libstore/shards/shard_codec.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

std::string BaseName(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

Result<std::vector<std::string>> RelPaths(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& p : in) {
    ASSIGN_OR_RETURN(std::string r, RootRelative(p));
    if (r.empty()) return InvalidArgument("refusing to scan / for shard files");
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

// --------------------------------------------------------------------------------------- encode

struct EncodeCli {
  uint32_t k = 4, m = 2;
  std::string block_size = "1MiB", out_dir, name, file;
  bool force = false, no_fsync = false;
};

Status RunEncode(const EncodeCli& o, Context& ctx) {
  EncodeOptions eo;
  eo.k = o.k;
  eo.m = o.m;
  eo.force = o.force;
  eo.fsync = !o.no_fsync;
  ASSIGN_OR_RETURN(uint64_t bs, ParseSize(o.block_size));
  if (bs < 4096 || bs > (64u << 20)) return InvalidArgument("--block-size must be between 4KiB and 64MiB");
  eo.block_size = uint32_t(bs);
  eo.name = !o.name.empty() ? o.name : (o.file == "-" ? "stdin" : BaseName(o.file));
  std::string out_dir = o.out_dir;
  if (out_dir.empty()) {
    size_t slash = o.file.rfind('/');
    out_dir = o.file == "-" || slash == std::string::npos ? "." : (slash == 0 ? "/" : o.file.substr(0, slash));
  }
  struct stat st;
  if (::stat(out_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return InvalidArgument(out_dir + ": output directory does not exist");
  }
  ASSIGN_OR_RETURN(std::string rel_dir, RootRelative(out_dir + "/."));
  int fd = 0;
  uint64_t total = 0;
  if (o.file != "-") {
    fd = ::open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(o.file, errno);
    if (::fstat(fd, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        return InvalidArgument(o.file + ": is a directory");
      }
      total = uint64_t(st.st_size);
    }
  }
  auto root = NewLocalVolume("/");
  Progress progress("encode " + eo.name, total, ctx.ShowProgress() && total >= (8u << 20));
  FdSource src(fd, o.file == "-" ? "stdin" : o.file, &progress);
  auto res = EncodeShards(*root, rel_dir, src, eo);
  progress.Finish();
  if (fd > 0) ::close(fd);
  if (!res.ok()) {
    // Refusing to overwrite is a usage error (exit 2), like decode's refusal.
    if (res.status().code() == Code::kAlreadyExists) return InvalidArgument(res.status().message());
    return res.status();
  }
  if (ctx.json) {
    json files = json::array();
    for (const auto& f : res->files) files.push_back("/" + f);
    std::printf("%s\n", Dump(json{{"name", eo.name}, {"size", res->header.file_size},
                                  {"k", eo.k}, {"m", eo.m}, {"block_size", eo.block_size},
                                  {"set_id", res->header.set_id.Hex()},
                                  {"hash", res->header.file_hash.Hex()}, {"files", files}})
                            .c_str());
  } else {
    for (const auto& f : res->files) std::printf("/%s\n", f.c_str());
  }
  return Status::Ok();
}

void RegisterEncode(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<EncodeCli>();
  CLI::App* sub = app.add_subcommand("encode", "Erasure-code a file into K+M self-describing shard files");
  sub->add_option("-k", o->k, "Data shards (default 4)")->type_name("K");
  sub->add_option("-m", o->m, "Parity shards (default 2)")->type_name("M");
  sub->add_option("--block-size", o->block_size, "Bytes of the file per coded block (default 1MiB)")
      ->type_name("SIZE");
  sub->add_option("-o,--output", o->out_dir, "Directory for the shard files (default: the file's)")
      ->type_name("OUTDIR");
  sub->add_option("--name", o->name, "Name recorded in the shards and used for their file names")
      ->type_name("NAME");
  sub->add_flag("--force", o->force, "Replace existing shard files");
  sub->add_flag("--no-fsync", o->no_fsync, "Do not wait for the shards to reach the disk");
  sub->add_option("file", o->file, "File to encode, or - for stdin")->required()->type_name("FILE|-");
  sub->callback([o, &ctx, result] { *result = RunEncode(*o, ctx); });
}

// --------------------------------------------------------------------------------------- decode

struct DecodeCli {
  std::vector<std::string> shards;
  std::string output;
  bool force = false;
};

Status RunDecode(const DecodeCli& o, Context& ctx) {
  ASSIGN_OR_RETURN(auto paths, RelPaths(o.shards));
  auto root = NewLocalVolume("/");
  ASSIGN_OR_RETURN(ShardScan scan, ScanShards(*root, paths));
  if (!scan.mixed.empty()) return InvalidArgument("shards from different encodes given: " + scan.mixed);
  std::string out = o.output.empty() ? scan.ref.name : o.output;
  Progress progress("decode " + scan.ref.name, scan.ref.file_size,
                    ctx.ShowProgress() && scan.ref.file_size >= (8u << 20) && out != "-");
  ProgressFn pf = [&](uint64_t n) { progress.Add(n); };
  if (out == "-") {
    FdSink sink(1, "stdout");
    return DecodeShards(*root, scan, sink);
  }
  struct stat st;
  if (::stat(out.c_str(), &st) == 0 && !o.force) {
    return InvalidArgument(out + " exists (use --force to replace it)");
  }
  // A temp file beside the output, renamed only after the whole-file hash matched.
  std::string dir = ".", base = out;
  if (size_t slash = out.rfind('/'); slash != std::string::npos) {
    dir = slash == 0 ? "/" : out.substr(0, slash);
    base = out.substr(slash + 1);
  }
  std::string tmp = dir + "/." + base + ".cairn-decode-" + scan.ref.set_id.Hex().substr(0, 8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError(out, errno);
  FdSink sink(fd, out, nullptr, /*writeback=*/true);
  Status s = DecodeShards(*root, scan, sink, pf);
  progress.Finish();
  if (s.ok() && ::fsync(fd) != 0) s = PosixError(out, errno);
  if (::close(fd) != 0 && s.ok()) s = PosixError(out, errno);
  if (s.ok() && ::rename(tmp.c_str(), out.c_str()) != 0) s = PosixError(out, errno);
  if (!s.ok()) ::unlink(tmp.c_str());
  if (s.ok() && ctx.json) {
    std::printf("%s\n", Dump(json{{"output", out}, {"size", scan.ref.file_size},
                                  {"hash", scan.ref.file_hash.Hex()}}).c_str());
  }
  return s;
}

void RegisterDecode(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<DecodeCli>();
  CLI::App* sub = app.add_subcommand("decode", "Rebuild a file from any K good shard files");
  sub->add_option("-o,--output", o->output, "Output file, or - for stdout (default: the original name)")
      ->type_name("FILE|-");
  sub->add_flag("--force", o->force, "Replace an existing output file");
  sub->add_option("shards", o->shards, "Shard files, or directories holding them")
      ->required()->type_name("SHARD...|DIR");
  sub->callback([o, &ctx, result] { *result = RunDecode(*o, ctx); });
}

// --------------------------------------------------------------------------------------- verify

struct VerifyCli {
  std::vector<std::string> shards;
  SetVerifyCli set;  // flags of the volume-set verify
};

namespace {

// Prints the report and turns it into the exit status: ok, kDegraded (3) or kDataLoss (1).
Status ReportHealth(const ShardScan& scan, const VerifyReport& rep, Context& ctx) {
  const ShardHeader& h = scan.ref;
  if (ctx.json) {
    json shards = json::array();
    for (const auto& s : rep.shards) {
      json ranges = json::array();
      for (const auto& [a, b] : s.bad_ranges) ranges.push_back({a, b});
      shards.push_back({{"index", s.index + 1}, {"path", s.path.empty() ? json(nullptr) : json("/" + s.path)},
                        {"state", s.state}, {"bad_blocks", s.bad_blocks}, {"bad_ranges", ranges}});
    }
    json others = json::array();
    for (const auto& f : rep.others) {
      others.push_back({{"path", "/" + f.path}, {"state", f.role},
                        {"error", f.header_status.ok() ? json(nullptr) : json(f.header_status.message())}});
    }
    std::printf("%s\n", Dump(json{{"name", h.name}, {"size", h.file_size}, {"k", h.k}, {"m", h.m},
                                  {"set_id", h.set_id.Hex()}, {"blocks", rep.blocks},
                                  {"unrecoverable_blocks", rep.unrecoverable_blocks},
                                  {"healthy", rep.healthy()}, {"recoverable", rep.recoverable()},
                                  {"bytes_read", rep.bytes_read}, {"shards", shards},
                                  {"other_files", others}})
                            .c_str());
  } else {
    std::printf("%s: %llu bytes, %u+%u shards, set %s\n", h.name.c_str(),
                static_cast<unsigned long long>(h.file_size), h.k, h.m, h.set_id.Hex().substr(0, 8).c_str());
    for (const auto& s : rep.shards) {
      std::string detail;
      if (s.bad_blocks) {
        detail = "  " + std::to_string(s.bad_blocks) + " bad blocks, bytes";
        size_t shown = 0;
        for (const auto& [a, b] : s.bad_ranges) {
          if (++shown > 4) {
            detail += " ...";
            break;
          }
          detail += " " + std::to_string(a) + "-" + std::to_string(b);
        }
      }
      std::printf("  %3u  %-10s %s%s\n", s.index + 1, s.state.c_str(),
                  s.path.empty() ? "-" : ("/" + s.path).c_str(), detail.c_str());
    }
    for (const auto& f : rep.others) {
      std::printf("    -  %-10s /%s%s\n", f.role.c_str(), f.path.c_str(),
                  f.header_status.ok() ? "" : ("  (" + f.header_status.message() + ")").c_str());
    }
  }
  if (!rep.recoverable()) {
    return DataLoss(std::to_string(rep.unrecoverable_blocks) + " of " + std::to_string(rep.blocks) +
                    " blocks have fewer than " + std::to_string(h.k) + " good shards: unrecoverable");
  }
  if (!rep.healthy()) {
    uint32_t bad = 0;
    for (const auto& s : rep.shards) bad += s.state != "ok";
    return Status(Code::kDegraded, std::to_string(bad) + " of " + std::to_string(h.k + h.m) +
                                       " shards missing or damaged, all data recoverable (run repair)");
  }
  return Status::Ok();
}

}  // namespace

// verify works on shard files when an argument is an existing file or a directory holding shard
// files, and on the volume set otherwise (CLI.md).
static bool NamesShardFiles(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    struct stat st;
    if (::stat(a.c_str(), &st) != 0) continue;
    if (!S_ISDIR(st.st_mode)) return true;
    DIR* d = ::opendir(a.c_str());
    if (d == nullptr) continue;
    bool found = false;
    while (dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      if (name.size() > 6 && name.substr(name.size() - 6) == ".cairn") {
        found = true;
        break;
      }
    }
    ::closedir(d);
    if (found) return true;
  }
  return false;
}

Status RunVerify(const VerifyCli& o, Context& ctx) {
  if (!NamesShardFiles(o.shards)) {
    SetVerifyCli so = o.set;
    so.scope = o.shards;
    return RunSetVerify(so, ctx);
  }
  ASSIGN_OR_RETURN(auto paths, RelPaths(o.shards));
  auto root = NewLocalVolume("/");
  ASSIGN_OR_RETURN(ShardScan scan, ScanShards(*root, paths));
  ASSIGN_OR_RETURN(VerifyReport rep, VerifyShards(*root, scan));
  return ReportHealth(scan, rep, ctx);
}

void RegisterVerify(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<VerifyCli>();
  CLI::App* sub = app.add_subcommand(
      "verify", "Check a volume set, or shard files block by block; exit 0 healthy, 3 degraded, 1 unrecoverable");
  sub->add_option("target", o->shards,
                  "Shard files or directories holding them; otherwise BUCKET or BUCKET/PREFIX of the "
                  "volume set (default: all)")
      ->type_name("SHARD...|DIR|BUCKET[/PREFIX]");
  AddSetVerifyFlags(*sub, o->set);
  sub->callback([o, &ctx, result] { *result = RunVerify(*o, ctx); });
}

// --------------------------------------------------------------------------------------- repair

Status RunRepair(const std::vector<std::string>& shards, Context& ctx) {
  ASSIGN_OR_RETURN(auto paths, RelPaths(shards));
  auto root = NewLocalVolume("/");
  ASSIGN_OR_RETURN(ShardScan scan, ScanShards(*root, paths));
  ASSIGN_OR_RETURN(auto written, RepairShards(*root, scan));
  if (!ctx.json) {
    for (const auto& w : written) std::printf("repaired /%s\n", w.c_str());
  }
  // Verify what is there now, from scratch.
  std::vector<std::string> again = paths;
  for (const auto& w : written) {
    if (std::find(again.begin(), again.end(), w) == again.end()) again.push_back(w);
  }
  ASSIGN_OR_RETURN(ShardScan after, ScanShards(*root, again));
  ASSIGN_OR_RETURN(VerifyReport rep, VerifyShards(*root, after));
  return ReportHealth(after, rep, ctx);
}

void RegisterRepair(CLI::App& app, Context& ctx, Status* result) {
  auto shards = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand("repair", "Regenerate missing or damaged shard files, then verify");
  sub->add_option("shards", *shards, "Shard files, or directories holding them")
      ->required()->type_name("SHARD...|DIR");
  sub->callback([shards, &ctx, result] { *result = RunRepair(*shards, ctx); });
}

}  // namespace cairn::cli
