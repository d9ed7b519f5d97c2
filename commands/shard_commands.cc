// cairn encode, decode, verify, repair: erasure coding of plain files into shard files.
//
// The files are the user's own: they are reached through a HostVolume (symlinks followed, paths
// shown absolute), and every temp file it creates is removed if the command is interrupted.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cli/fd_io.h"
#include "cli/json_out.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "cli/text_out.h"
#include "commands/commands.h"
#include "libstore/shards/host_volume.h"
#include "libstore/shards/shard_codec.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

std::string BaseName(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// The shard commands' volume: the host's files, each temp file tracked for removal on a signal.
std::unique_ptr<HostVolume> NewShardVolume() {
  struct Tracked {
    std::mutex mu;
    std::map<std::string, int> slots;
  };
  auto tracked = std::make_shared<Tracked>();
  return std::make_unique<HostVolume>([tracked](const std::string& path, bool live) {
    std::lock_guard<std::mutex> l(tracked->mu);
    if (live) {
      tracked->slots[path] = TrackTempFile(path);
    } else if (auto it = tracked->slots.find(path); it != tracked->slots.end()) {
      UntrackTempFile(it->second);
      tracked->slots.erase(it);
    }
  });
}

// The shard files or directories the user typed, as HostVolume paths.
Result<std::vector<std::string>> HostPaths(const std::vector<std::string>& typed) {
  std::vector<std::string> out;
  for (const auto& p : typed) {
    ASSIGN_OR_RETURN(std::string r, HostPath(p));
    if (r.empty()) return InvalidArgument("refusing to scan / for shard files");
    out.push_back(std::move(r));
  }
  return out;
}

// Scans what the user named: symlinked shard files are used where they live.
Result<ShardScan> Scan(Volume& vol, const std::vector<std::string>& typed) {
  ASSIGN_OR_RETURN(auto paths, HostPaths(typed));
  ScanOptions so;
  so.resolve = HostRealPath;
  return ScanShards(vol, paths, so);
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
  if (bs < kShardMinBlockSize || bs > kShardMaxBlockSize) {
    return InvalidArgument("--block-size must be between 4KiB and 64MiB");
  }
  eo.block_size = uint32_t(bs);
  eo.name = !o.name.empty() ? o.name : (o.file == "-" ? "stdin" : BaseName(o.file));
  if (Status s = CheckBaseName(eo.name, kShardNameMax); !s.ok()) {
    return InvalidArgument("'" + eo.name + "' cannot name shard files (" + s.message() +
                           "): choose one with --name");
  }
  // -o DIR is created if missing (mkdir -p); the input's own directory exists.
  std::string out_dir = o.out_dir;
  if (out_dir.empty()) {
    size_t slash = o.file.rfind('/');
    out_dir = o.file == "-" || slash == std::string::npos ? "."
              : slash == 0                                ? "/"
                                                          : o.file.substr(0, slash);
  }
  ASSIGN_OR_RETURN(std::string dir, HostDir(out_dir, /*create=*/!o.out_dir.empty()));
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
  auto vol = NewShardVolume();
  eo.locker = vol.get();
  Progress progress("encode " + eo.name, total, ctx.ShowProgress() && total >= (8u << 20));
  FdSource src(fd, o.file == "-" ? "stdin" : o.file, &progress);
  auto res = EncodeShards(*vol, dir, src, eo);
  progress.Finish();
  if (fd > 0) ::close(fd);
  if (!res.ok()) {
    // Refusing to overwrite is a usage error (exit 2), like decode's refusal.
    if (res.status().code() == Code::kAlreadyExists) return InvalidArgument(res.status().message());
    return res.status();
  }
  if (!res->removed_temps.empty()) {
    ctx.Warn("removed " + std::to_string(res->removed_temps.size()) +
             " temp files of an interrupted encode or repair from " + HostDisplay(dir));
  }
  if (ctx.json) {
    std::vector<std::string> files;
    for (const auto& f : res->files) files.push_back(HostDisplay(f));
    json j = {{"size", res->header.file_size},
              {"k", eo.k},
              {"m", eo.m},
              {"block_size", eo.block_size},
              {"set_id", res->header.set_id.Hex()},
              {"hash", res->header.file_hash.Hex()}};
    PutText(j, "name", eo.name);
    PutTextList(j, "files", files);
    std::printf("%s\n", Dump(j).c_str());
  } else {
    for (const auto& f : res->files) std::printf("%s\n", Shown(HostDisplay(f)).c_str());
  }
  return Status::Ok();
}

void RegisterEncode(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<EncodeCli>();
  CLI::App* sub =
      app.add_subcommand("encode", "Erasure-code a file into K+M self-describing shard files");
  sub->add_option("-k", o->k, "Data shards (default 4)")->type_name("K");
  sub->add_option("-m", o->m, "Parity shards (default 2)")->type_name("M");
  sub->add_option("--block-size", o->block_size, "Bytes of the file per coded block (default 1MiB)")
      ->type_name("SIZE");
  sub->add_option("-o,--output", o->out_dir,
                  "Directory for the shard files, created if missing (default: the file's)")
      ->type_name("OUTDIR");
  sub->add_option("--name", o->name, "Name recorded in the shards and used for their file names")
      ->type_name("NAME");
  sub->add_flag("--force", o->force, "Replace existing shard files");
  sub->add_flag("--no-fsync", o->no_fsync, "Do not wait for the shards to reach the disk");
  sub->add_option("file", o->file, "File to encode, or - for stdin")
      ->required()
      ->type_name("FILE|-");
  sub->callback([o, &ctx, result] { *result = RunEncode(*o, ctx); });
}

// --------------------------------------------------------------------------------------- decode

struct DecodeCli {
  std::vector<std::string> shards;
  std::string output;
  bool force = false;
};

Status RunDecode(const DecodeCli& o, Context& ctx) {
  auto vol = NewShardVolume();
  ASSIGN_OR_RETURN(ShardScan scan, Scan(*vol, o.shards));
  ASSIGN_OR_RETURN(size_t set, OnlySet(scan));
  RETURN_IF_ERROR(ConflictError(scan, set));
  const ShardHeader& ref = scan.sets[set].ref;
  // Without -o: the header's name (a safe base name: ShardHeader::Decode checked it), in the
  // working directory, and never over an existing file unless --force.
  const std::string out = o.output.empty() ? ref.name : o.output;
  if (out == "-") {
    FdSink sink(1, "stdout");
    return DecodeShards(*vol, scan, set, sink);
  }
  Progress progress("decode " + ref.name, ref.file_size,
                    ctx.ShowProgress() && ref.file_size >= (8u << 20));
  ASSIGN_OR_RETURN(auto file,
                   OutputFile::Open(out, MayReplace(!o.output.empty(), o.force), &progress));
  Status s = DecodeShards(*vol, scan, set, file->sink());
  progress.Finish();
  if (s.ok()) s = file->Commit();
  if (s.ok() && ctx.json) {
    json j = {{"size", ref.file_size}, {"hash", ref.file_hash.Hex()}};
    PutText(j, "output", out);
    std::printf("%s\n", Dump(j).c_str());
  }
  return s;
}

void RegisterDecode(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<DecodeCli>();
  CLI::App* sub = app.add_subcommand("decode", "Rebuild a file from any K good shard files");
  sub->add_option("-o,--output", o->output,
                  "Output file, or - for stdout (default: the original name, in the working "
                  "directory)")
      ->type_name("FILE|-");
  sub->add_flag("--force", o->force,
                "Replace an existing file also when its name comes from the shards (without -o)");
  sub->add_option("shards", o->shards, "Shard files, or directories holding them")
      ->required()
      ->type_name("SHARD...|DIR");
  sub->callback([o, &ctx, result] { *result = RunDecode(*o, ctx); });
}

// --------------------------------------------------------------------------------------- verify

struct VerifyCli {
  std::vector<std::string> shards;
  SetVerifyCli set;  // flags of the volume-set verify
};

namespace {

std::string ByteRanges(const ShardHealth& s) {
  if (s.bad_blocks == 0) return "";
  std::string out = "  " + std::to_string(s.bad_blocks) + " bad blocks, bytes";
  size_t shown = 0;
  for (const auto& [a, b] : s.bad_ranges) {
    if (++shown > 4) {
      out += " ...";
      break;
    }
    out += " " + std::to_string(a) + "-" + std::to_string(b);
  }
  return out;
}

// Prints one report per encode and the unusable files, and turns the worst verdict into the exit
// status: ok, kDegraded (3), kDataLoss or kCorruption (1). `extra` goes into the JSON document.
Status ReportHealth(const ShardScan& scan, const std::vector<SetReport>& reps, Context& ctx,
                    json extra = json::object()) {
  std::vector<const ShardFileInfo*> unusable;
  for (const auto& f : scan.files) {
    if (f.role == ShardRole::kBadHeader) unusable.push_back(&f);
  }
  SetVerdict worst = SetVerdict::kHealthy;
  for (const auto& r : reps) worst = std::max(worst, r.verdict);
  if (ctx.json) {
    json encodes = json::array();
    for (const auto& r : reps) {
      const ShardSet& set = scan.sets[r.set];
      const ShardHeader& h = set.ref;
      json shards = json::array();
      for (const auto& s : r.shards) {
        json ranges = json::array();
        for (const auto& [a, b] : s.bad_ranges) ranges.push_back({a, b});
        json sj = {{"index", s.index + 1},
                   {"role", Name(s.role)},
                   {"state", Name(s.state)},
                   {"bad_blocks", s.bad_blocks},
                   {"bad_ranges", ranges}};
        if (s.path.empty()) {
          sj["path"] = nullptr;
        } else {
          PutText(sj, "path", scan.Show(s.path));
        }
        shards.push_back(std::move(sj));
      }
      std::vector<std::string> conflicts;
      for (size_t i : set.conflicts) conflicts.push_back(scan.Show(scan.files[i].path));
      json ej = {{"size", h.file_size},
                 {"k", h.k},
                 {"m", h.m},
                 {"set_id", h.set_id.Hex()},
                 {"blocks", r.blocks},
                 {"unrecoverable_blocks", r.unrecoverable_blocks},
                 {"verdict", Name(r.verdict)},
                 {"healthy", r.verdict == SetVerdict::kHealthy},
                 {"recoverable", r.verdict <= SetVerdict::kDegraded},
                 {"bytes_read", r.bytes_read},
                 {"shards", shards}};
      PutText(ej, "name", h.name);
      PutTextList(ej, "conflicts", conflicts);
      encodes.push_back(std::move(ej));
    }
    json others = json::array();
    for (const auto* f : unusable) {
      json oj = {{"state", Name(f->role)}};
      PutText(oj, "path", scan.Show(f->found));
      PutText(oj, "error", f->header_status.message());
      others.push_back(std::move(oj));
    }
    json doc = {{"verdict", Name(worst)}, {"encodes", encodes}, {"other_files", others}};
    doc.update(extra);
    std::printf("%s\n", Dump(doc).c_str());
  } else {
    for (const auto& r : reps) {
      const ShardSet& set = scan.sets[r.set];
      const ShardHeader& h = set.ref;
      std::printf("%s: %llu bytes, %u+%u shards, set %s: %s\n", Shown(h.name).c_str(),
                  static_cast<unsigned long long>(h.file_size), h.k, h.m,
                  h.set_id.Hex().substr(0, 8).c_str(), std::string(Name(r.verdict)).c_str());
      for (const auto& s : r.shards) {
        std::string state(Name(s.state));
        if (s.role == ShardRole::kCopy) state += " (copy)";
        std::printf("  %3u  %-14s %s%s\n", s.index + 1, state.c_str(),
                    s.path.empty() ? "-" : Shown(scan.Show(s.path)).c_str(), ByteRanges(s).c_str());
      }
      for (size_t i : set.conflicts) {
        std::printf("    -  %-14s %s\n", "conflict", Shown(scan.Show(scan.files[i].path)).c_str());
      }
    }
    for (const auto* f : unusable) {
      std::printf("not usable: %s  (%s)\n", Shown(scan.Show(f->found)).c_str(),
                  EscapeUnprintable(f->header_status.message()).c_str());
    }
  }
  // The worst encode's verdict is the exit status; its message says which encode.
  size_t bad = 0;
  const SetReport* pick = nullptr;
  for (const auto& r : reps) {
    if (r.verdict == SetVerdict::kHealthy) continue;
    ++bad;
    if (pick == nullptr || r.verdict > pick->verdict) pick = &r;
  }
  if (pick == nullptr) return Status::Ok();
  Status s = VerdictStatus(scan, *pick);
  if (bad > 1) {
    s = Status(s.code(), std::to_string(bad) + " of " + std::to_string(reps.size()) +
                             " encodes not healthy; the worst: " + s.message());
  }
  return s;
}

Result<std::vector<SetReport>> VerifyAll(Volume& vol, const ShardScan& scan) {
  std::vector<SetReport> reps;
  for (size_t s = 0; s < scan.sets.size(); ++s) {
    ASSIGN_OR_RETURN(SetReport r, VerifySet(vol, scan, s));
    reps.push_back(std::move(r));
  }
  return reps;
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
      if (IsShardFileName(e->d_name)) {
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
  auto vol = NewShardVolume();
  ASSIGN_OR_RETURN(ShardScan scan, Scan(*vol, o.shards));
  ASSIGN_OR_RETURN(auto reps, VerifyAll(*vol, scan));
  return ReportHealth(scan, reps, ctx);
}

void RegisterVerify(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<VerifyCli>();
  CLI::App* sub = app.add_subcommand("verify",
                                     "Check a volume set, or shard files block by block; exit 0 "
                                     "healthy, 3 degraded, 1 unrecoverable");
  sub->add_option("target", o->shards,
                  "Shard files or directories holding them; otherwise BUCKET or BUCKET/PREFIX of "
                  "the volume set (default: all)")
      ->type_name("SHARD...|DIR|BUCKET[/PREFIX]");
  AddSetVerifyFlags(*sub, o->set);
  sub->callback([o, &ctx, result] { *result = RunVerify(*o, ctx); });
}

// --------------------------------------------------------------------------------------- repair

Status RunRepair(const std::vector<std::string>& shards, Context& ctx) {
  auto vol = NewShardVolume();
  ASSIGN_OR_RETURN(auto paths, HostPaths(shards));
  ScanOptions so;
  so.resolve = HostRealPath;
  ASSIGN_OR_RETURN(ShardScan scan, ScanShards(*vol, paths, so));
  RepairOptions ro;
  ro.locker = vol.get();
  std::vector<std::string> written;
  Status failed;  // the first encode that could not be repaired
  for (size_t s = 0; s < scan.sets.size(); ++s) {
    auto w = RepairShards(*vol, scan, s, ro);
    if (!w.ok()) {
      if (failed.ok()) {
        failed = w.status();
      } else {
        ctx.Warn(w.status().message());
      }
      continue;
    }
    for (const auto& p : *w) {
      if (!ctx.json) std::printf("repaired %s\n", Shown(HostDisplay(p)).c_str());
      written.push_back(p);
    }
  }
  // Verify what is there now, from scratch.
  std::vector<std::string> again = paths;
  for (const auto& w : written) {
    if (std::find(again.begin(), again.end(), w) == again.end()) again.push_back(w);
  }
  ASSIGN_OR_RETURN(ShardScan after, ScanShards(*vol, again, so));
  ASSIGN_OR_RETURN(auto reps, VerifyAll(*vol, after));
  std::vector<std::string> repaired;
  for (const auto& w : written) repaired.push_back(HostDisplay(w));
  json extra = json::object();
  PutTextList(extra, "repaired", repaired);
  Status verdict = ReportHealth(after, reps, ctx, extra);
  return failed.ok() ? verdict : failed;
}

void RegisterRepair(CLI::App& app, Context& ctx, Status* result) {
  auto shards = std::make_shared<std::vector<std::string>>();
  CLI::App* sub =
      app.add_subcommand("repair", "Regenerate missing or damaged shard files, then verify");
  sub->add_option("shards", *shards, "Shard files, or directories holding them")
      ->required()
      ->type_name("SHARD...|DIR");
  sub->callback([shards, &ctx, result] { *result = RunRepair(*shards, ctx); });
}

}  // namespace cairn::cli
