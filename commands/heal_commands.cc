// cairn verify (volume sets), heal, gc: finding and repairing damage in a volume set, and removing
// what no object needs.
#include <sys/stat.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/fd_io.h"
#include "cli/json_out.h"
#include "cli/progress.h"
#include "cli/text_out.h"
#include "commands/commands.h"
#include "libstore/format/key_path.h"
#include "libstore/object/heal.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

std::string Ranges(const std::vector<std::pair<uint64_t, uint64_t>>& r) {
  std::string out;
  size_t shown = 0;
  for (const auto& [a, b] : r) {
    if (++shown > 8) {
      out += ",...";
      break;
    }
    if (!out.empty()) out += ",";
    out += a == b ? std::to_string(a) : std::to_string(a) + "-" + std::to_string(b);
  }
  return out;
}

// Prints one line (or JSON line) per object that is not healthy, notes, and a progress bar.
class Printer : public ScanObserver {
 public:
  Printer(Context& ctx, const OpenedSet& set, bool heal, const char* label)
      : ctx_(ctx), set_(set), heal_(heal), progress_(label, 0, ctx.ShowProgress()) {}

  void Progress(uint64_t bytes_read) override {
    if (bytes_read <= shown_) return;  // reports from several workers may arrive out of order
    progress_.Add(bytes_read - shown_);
    shown_ = bytes_read;
  }

  void Object(const ObjectHealth& h) override {
    if (h.health == Health::kHealthy && h.action == ObjectHealth::Action::kNone) return;
    progress_.Clear();
    if (ctx_.json) {
      json problems = json::array();
      for (const auto& p : h.problems) {
        json j = {{"member", p.position + 1}, {"problem", Name(p.problem)}};
        PutText(j, "path", set_.member_paths[p.position]);
        if (p.shard_index >= 0) j["shard"] = p.shard_index + 1;
        if (!p.blocks.empty()) {
          json b = json::array();
          for (const auto& [x, y] : p.blocks) b.push_back({x, y});
          j["blocks"] = b;
        }
        problems.push_back(j);
      }
      json j = {{"type", "object"},           {"bucket", h.bucket},
                {"health", Name(h.health)},   {"recoverable", h.health != Health::kUnrecoverable},
                {"dangling", h.dangling},     {"size", h.size},
                {"version", h.version.Hex()}, {"problems", problems},
                {"bytes_read", h.bytes_read}};
      if (!h.lost_blocks.empty()) {
        json b = json::array();
        for (const auto& [x, y] : h.lost_blocks) b.push_back({x, y});
        j["lost_blocks"] = b;
      }
      if (heal_) {
        json healed = json::array();
        for (uint32_t p : h.healed) healed.push_back(p + 1);
        j["action"] = Name(h.action);
        j["healed_members"] = healed;
        j["after"] = Name(h.after);
        j["bytes_written"] = h.bytes_written;
      }
      PutText(j, "key", h.key);
      if (h.deleting) j["deleting"] = true;
      if (!h.note.empty()) PutText(j, "note", h.note);
      Line(Dump(j));
      return;
    }
    std::string what;
    using A = ObjectHealth::Action;
    if (!heal_ || h.action == A::kNone) {
      what = Name(h.health);
      if (heal_ && h.health == Health::kDegraded) what = "still degraded";
    } else if (h.action == A::kHealed && h.after != Health::kHealthy) {
      what = "healed, still degraded";
    } else {
      what = Name(h.action);
      for (char& c : what) c = c == '-' ? ' ' : c;
    }
    if (h.health == Health::kUnrecoverable)
      what += h.dangling ? " (dangling)" : " (volumes offline)";
    std::string line = what + "  " + Shown(h.bucket + "/" + h.key);
    std::string sep = ": ";
    for (const auto& p : h.problems) {
      line += sep + "member " + std::to_string(p.position + 1) + " " + Name(p.problem);
      if (!p.blocks.empty()) line += " (blocks " + Ranges(p.blocks) + ")";
      sep = "; ";
    }
    if (!h.lost_blocks.empty()) line += sep + "blocks " + Ranges(h.lost_blocks) + " lost";
    if (!h.note.empty()) line += " [" + EscapeUnprintable(h.note) + "]";
    Line(line);
  }

  void Note(const std::string& line) override {
    progress_.Clear();
    // A note may quote a member's file names, which can hold any byte.
    if (!ctx_.json) return Line(EscapeUnprintable(line));
    json j = {{"type", "note"}};
    PutText(j, "message", line);
    Line(Dump(j));
  }

  void Summary(const ScanSummary& s, bool dry_run) {
    progress_.Finish();
    if (ctx_.json) {
      json j = {{"type", "summary"},
                {"scanned", s.scanned},
                {"healthy", s.healthy},
                {"degraded", s.degraded},
                {"unrecoverable", s.unrecoverable},
                {"bytes_read", s.bytes_read},
                {"seconds", s.seconds},
                {"dangling_buckets", s.dangling_buckets},
                {"unfinished_buckets", s.unfinished_buckets}};
      if (heal_) {
        j["dry_run"] = dry_run;
        j["healed"] = s.healed;
        j["still_degraded"] = s.still_degraded;
        j["unrecoverable_after"] = s.unrecoverable_after;
        j["removed"] = s.removed;
        j["bytes_written"] = s.bytes_written;
        j["buckets_healed"] = s.buckets_healed;
        j["deletes_finished"] = s.deletes_finished;
        j["mrf_entries"] = s.mrf_entries;
        j["mrf_cleared"] = s.mrf_cleared;
        if (!s.resumed_from.empty()) j["resumed_from"] = s.resumed_from;
      }
      Line(Dump(j));
      return;
    }
    std::printf(
        "scanned %llu objects in %.1f s (%s read): %llu healthy, %llu degraded, %llu "
        "unrecoverable\n",
        static_cast<unsigned long long>(s.scanned), s.seconds,
        HumanBytes(double(s.bytes_read)).c_str(), static_cast<unsigned long long>(s.healthy),
        static_cast<unsigned long long>(s.degraded),
        static_cast<unsigned long long>(s.unrecoverable));
    if (heal_) {
      std::printf(
          "%s %llu objects (%s written); %llu still degraded, %llu unrecoverable, %llu removed\n",
          dry_run ? "would heal" : "healed", static_cast<unsigned long long>(s.healed),
          HumanBytes(double(s.bytes_written)).c_str(),
          static_cast<unsigned long long>(dry_run ? 0 : s.still_degraded),
          static_cast<unsigned long long>(dry_run ? s.unrecoverable : s.unrecoverable_after),
          static_cast<unsigned long long>(s.removed));
      if (s.deletes_finished > 0) {
        std::printf("%s %llu deletes that had not finished\n",
                    dry_run ? "would finish" : "finished",
                    static_cast<unsigned long long>(s.deletes_finished));
      }
    }
    std::fflush(stdout);
  }

 private:
  // One line of output, flushed at once: a heal that is killed (or a pipe reader that stops
  // early) still has every line printed before it, also when stdout is a file.
  static void Line(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  Context& ctx_;
  const OpenedSet& set_;
  bool heal_;
  cli::Progress progress_;
  uint64_t shown_ = 0;  // bytes the bar has been told about
};

Status ParseScope(const std::vector<std::string>& scope, SetScanOptions* o) {
  if (scope.size() > 1)
    return InvalidArgument("expected at most one BUCKET[/PREFIX], got " +
                           std::to_string(scope.size()));
  if (scope.empty()) return Status::Ok();
  const std::string& s = scope[0];
  size_t slash = s.find('/');
  o->bucket = s.substr(0, slash);
  if (slash != std::string::npos) o->prefix = s.substr(slash + 1);
  Status v = ValidateBucketName(o->bucket);
  if (!v.ok()) {
    struct stat st;
    if (::stat(s.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return InvalidArgument(
          s + " is a directory without shard files; to check a volume set, use --set " + s);
    }
    return InvalidArgument(v.message());
  }
  return Status::Ok();
}

Status ParseCommon(int jobs, const std::string& max_rate, SetScanOptions* o) {
  if (jobs < 1 || jobs > 64) return InvalidArgument("--jobs must be between 1 and 64");
  o->jobs = jobs;
  if (!max_rate.empty()) {
    ASSIGN_OR_RETURN(o->max_rate, ParseSize(max_rate));
    if (o->max_rate == 0) return InvalidArgument("--max-rate must be above 0");
  }
  return Status::Ok();
}

}  // namespace

// ------------------------------------------------------------------------------- verify (set)

void AddSetVerifyFlags(CLI::App& sub, SetVerifyCli& o) {
  sub.add_flag("--deep", o.deep, "Volume set: read every block and check its checksum");
  sub.add_option("--jobs", o.jobs, "Volume set: objects checked at once (default 4)")
      ->type_name("N");
  sub.add_option("--max-rate", o.max_rate, "Volume set: read at most this many bytes per second")
      ->type_name("SIZE");
}

Status RunSetVerify(const SetVerifyCli& v, Context& ctx) {
  SetScanOptions o;
  o.deep = v.deep;
  RETURN_IF_ERROR(ParseScope(v.scope, &o));
  RETURN_IF_ERROR(ParseCommon(v.jobs, v.max_rate, &o));
  ASSIGN_OR_RETURN(OpenedSet set, ctx.OpenVolumeSet());
  Printer out(ctx, set, false, "verify");
  ASSIGN_OR_RETURN(ScanSummary s, ScanSet(*set.set, o, out));
  out.Summary(s, false);
  return ScanVerdict(o, s);
}

// ------------------------------------------------------------------------------------------ heal

struct HealCli {
  std::vector<std::string> scope;
  bool dry_run = false, remove_dangling = false, restart = false;
  int jobs = 4;
  std::string max_rate;
};

Status RunHeal(const HealCli& c, Context& ctx) {
  SetScanOptions o;
  o.heal = true;
  o.dry_run = c.dry_run;
  o.remove_dangling = c.remove_dangling;
  o.resume = !c.restart;
  RETURN_IF_ERROR(ParseScope(c.scope, &o));
  RETURN_IF_ERROR(ParseCommon(c.jobs, c.max_rate, &o));
  ASSIGN_OR_RETURN(auto dirs, ctx.SetDirs());
  // A replaced (empty) member directory takes its old place first, so objects heal onto it.
  ASSIGN_OR_RETURN(auto repairs, PrepareMembers(dirs, c.dry_run));
  std::vector<std::string> notes;
  for (const auto& r : repairs) {
    std::string m = "member " + std::to_string(r.position + 1) + " (" + r.path + ")";
    using A = MemberRepair::Action;
    if (r.action == A::kRefused || r.action == A::kMissing) {
      ctx.Warn(m + ": " + MemberRepair::Name(r.action) + ": " + r.why);
    } else {
      notes.push_back(m + (r.action == A::kFormatted ? ": formatted as a replacement"
                                                     : ": would be formatted as a replacement"));
    }
  }
  ASSIGN_OR_RETURN(OpenedSet set, ctx.OpenVolumeSet());
  Printer out(ctx, set, true, "heal");
  for (const auto& n : notes) out.Note(n);
  ASSIGN_OR_RETURN(ScanSummary s, ScanSet(*set.set, o, out));
  out.Summary(s, c.dry_run);
  return ScanVerdict(o, s);
}

void RegisterHeal(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<HealCli>();
  CLI::App* sub = app.add_subcommand(
      "heal",
      "Rebuild missing or damaged shards and metadata, and replaced members; exit 0 all "
      "redundant, 3 some still degraded, 1 unrecoverable data found");
  sub->add_option("scope", o->scope, "BUCKET or BUCKET/PREFIX (default: the whole set)")
      ->type_name("BUCKET[/PREFIX]");
  sub->add_flag("--dry-run", o->dry_run, "Report what would be done; change nothing");
  sub->add_flag("--remove-dangling", o->remove_dangling,
                "Delete objects that can never be read again (fewer than K good shards with every "
                "member online)");
  sub->add_flag("--restart", o->restart, "Ignore the journal of an interrupted heal; start over");
  sub->add_option("--jobs", o->jobs, "Objects healed at once (default 4)")->type_name("N");
  sub->add_option("--max-rate", o->max_rate, "Read at most this many bytes per second")
      ->type_name("SIZE");
  sub->callback([o, &ctx, result] { *result = RunHeal(*o, ctx); });
}

// -------------------------------------------------------------------------------------------- gc

struct GcCli {
  bool dry_run = false;
  std::string older_than = "24h";
};

Status RunGc(const GcCli& c, Context& ctx) {
  GcOptions o;
  o.dry_run = c.dry_run;
  ASSIGN_OR_RETURN(o.older_than_ns, ParseDuration(c.older_than));
  o.released_older_than_ns = std::min(o.older_than_ns, kReleasedUploadGraceNs);
  ASSIGN_OR_RETURN(OpenedSet set, ctx.OpenVolumeSet());
  auto report = set.set->CollectGarbage(o, [&](const GcItem& i) {
    const std::string& root = set.member_paths[i.position];
    if (ctx.json) {
      json j = {{"type", "item"},
                {"what", Name(i.what)},
                {"member", i.position + 1},
                {"bytes", i.bytes},
                {"removed", !c.dry_run}};
      PutText(j, "path", root + "/" + i.path);
      std::printf("%s\n", Dump(j).c_str());
    } else {
      std::printf("%s %-12s %s (%s)\n", c.dry_run ? "would remove" : "removed", Name(i.what),
                  Shown(root + "/" + i.path).c_str(), HumanBytes(double(i.bytes)).c_str());
    }
    std::fflush(stdout);
  });
  if (!report.ok()) return report.status();
  for (const auto& e : report->notes) ctx.Warn("note: " + e);
  for (const auto& e : report->errors) ctx.Warn(e);
  if (ctx.json) {
    std::printf("%s\n", Dump(json{{"type", "summary"},
                                  {"dry_run", c.dry_run},
                                  {"items", report->items},
                                  {"bytes", report->bytes},
                                  {"errors", report->errors.size()}})
                            .c_str());
  } else {
    std::printf("gc: %s %llu items, %s%s\n", c.dry_run ? "would remove" : "removed",
                static_cast<unsigned long long>(report->items),
                HumanBytes(double(report->bytes)).c_str(),
                c.dry_run ? " would be freed" : " freed");
  }
  if (!report->errors.empty()) {
    return IOError(std::to_string(report->errors.size()) +
                   " items could not be removed (see above)");
  }
  return Status::Ok();
}

void RegisterGc(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<GcCli>();
  CLI::App* sub = app.add_subcommand(
      "gc", "Remove temp files of dead writes, orphaned shard files and stale journal entries");
  sub->add_flag("--dry-run", o->dry_run, "Report what would be removed; remove nothing");
  sub->add_option("--older-than", o->older_than,
                  "Grace period: keep anything younger (default 24h; e.g. 0, 90s, 30m, 7d)")
      ->type_name("DURATION");
  sub->callback([o, &ctx, result] { *result = RunGc(*o, ctx); });
}

}  // namespace cairn::cli
