#include "cli/context.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <new>
#include <string>
#include <system_error>

#include "cli/fd_io.h"
#include "cli/main_entry.h"
#include "cli/text_out.h"
#include "commands/commands.h"

namespace cairn::cli {

Result<std::vector<std::string>> Context::SetDirs() const {
  std::vector<std::string> dirs = set_dirs;
  if (dirs.empty()) {
    if (const char* env = std::getenv("CAIRN_SET"); env != nullptr && *env != '\0') {
      std::string s(env);
      size_t start = 0;
      while (start <= s.size()) {
        size_t c = s.find(':', start);
        if (c == std::string::npos) c = s.size();
        if (c > start) dirs.push_back(s.substr(start, c - start));
        start = c + 1;
      }
    }
  }
  if (dirs.empty()) return InvalidArgument("no volume set given: use --set DIR or set CAIRN_SET");
  return dirs;
}

Result<OpenedSet> Context::OpenVolumeSet() {
  ASSIGN_OR_RETURN(auto dirs, SetDirs());
  auto opened = OpenSet(dirs);
  if (opened.ok()) {
    for (const auto& w : opened->warnings) Warn("warning: " + w + " (working degraded)");
  }
  return opened;
}

Result<std::unique_ptr<s3::S3Client>> Context::OpenS3() {
  if (retries < 0 || retries > 100) return InvalidArgument("--retries must be between 0 and 100");
  s3::S3ClientOptions o;
  ASSIGN_OR_RETURN(o.config, s3::ResolveS3Config(s3, s3::ProcessEnv()));
  o.max_attempts = retries + 1;
  return s3::S3Client::Create(std::move(o));
}

bool Context::ShowProgress() const { return !no_progress && !json && ::isatty(2); }

void Context::Warn(const std::string& msg) const {
  if (!quiet)
    std::fprintf(stderr, "cairn: %s: %s\n", command.c_str(), EscapeUnprintable(msg).c_str());
}

Status FlushStdout() {
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int e = errno != 0 ? errno : EIO;
    if (e == EPIPE) StdoutReaderGone() = true;
    return PosixError("stdout", e);
  }
  return Status::Ok();
}

int ExitCode(const Status& s) {
  if (s.ok()) return 0;
  if (s.code() == Code::kDegraded) return 3;
  // A range past the end is a usage error of the command line, like a malformed one.
  return s.code() == Code::kInvalidArgument || s.code() == Code::kInvalidRange ? 2 : 1;
}

void PrintError(const std::string& command, const Status& s) {
  std::string msg = EscapeUnprintable(s.message());
  if (command.empty()) std::fprintf(stderr, "cairn: %s\n", msg.c_str());
  else std::fprintf(stderr, "cairn: %s: %s\n", command.c_str(), msg.c_str());
}

std::unique_ptr<CLI::App> BuildApp(Context& ctx, Status* result) {
  auto app = std::make_unique<CLI::App>(
      "cairn: erasure-coded volume sets, shard files and S3 tools in one binary", "cairn");
  app->require_subcommand(1);
  app->fallthrough();
  app->option_defaults()->always_capture_default(false);
  app->add_option("--set", ctx.set_dirs,
                  "A member directory of the volume set (repeatable; default: $CAIRN_SET)")
      ->type_name("DIR");
  app->add_flag("--json", ctx.json, "Machine-readable output (JSON)");
  app->add_flag("--no-progress", ctx.no_progress, "Never draw progress bars");
  app->add_flag("-q,--quiet", ctx.quiet, "No warnings on stderr");
  app->add_option("--endpoint-url", ctx.s3.endpoint_url,
                  "S3 endpoint (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, the profile's "
                  "endpoint_url, else AWS)")
      ->type_name("URL");
  app->add_option("--region", ctx.s3.region, "S3 region (default: $AWS_REGION, the profile's)")
      ->type_name("REGION");
  app->add_option("--profile", ctx.s3.profile,
                  "Profile of ~/.aws/credentials and ~/.aws/config (default: $AWS_PROFILE)")
      ->type_name("NAME");
  app->add_option("--ca-bundle", ctx.s3.ca_bundle, "CA certificates for HTTPS (PEM)")
      ->type_name("FILE");
  app->add_flag("--no-verify-ssl", ctx.s3.no_verify_ssl,
                "Do not verify the S3 endpoint's TLS certificate");
  app->add_option("--retries", ctx.retries,
                  "Retries of a failed S3 request that is safe to repeat (default 4)")
      ->type_name("N");
  RegisterInit(*app, ctx, result);
  RegisterBucketCommands(*app, ctx, result);
  RegisterPut(*app, ctx, result);
  RegisterGet(*app, ctx, result);
  RegisterLs(*app, ctx, result);
  RegisterStat(*app, ctx, result);
  RegisterRm(*app, ctx, result);
  RegisterEncode(*app, ctx, result);
  RegisterDecode(*app, ctx, result);
  RegisterVerify(*app, ctx, result);
  RegisterRepair(*app, ctx, result);
  RegisterHeal(*app, ctx, result);
  RegisterGc(*app, ctx, result);
  RegisterBench(*app, ctx, result);
  RegisterCompletion(*app, ctx, result);
  RegisterVersion(*app, ctx, result);
  RegisterServe(*app, ctx, result);
  RegisterCat(*app, ctx, result);
  RegisterPresign(*app, ctx, result);
  RegisterCp(*app, ctx, result);
  RegisterSync(*app, ctx, result);
  RegisterRun(*app, ctx, result);
  for (CLI::App* sub : app->get_subcommands({})) {
    sub->fallthrough();
    sub->parse_complete_callback([&ctx, sub] { ctx.command = sub->get_name(); });
  }
  return app;
}

int Main(int argc, char** argv) {
  Context ctx;
  Status result;
  auto app = BuildApp(ctx, &result);
  // Name the subcommand early, so that even a parse error says which command it is about.
  for (int i = 1; i < argc; ++i) {
    bool found = false;
    for (const CLI::App* sub : app->get_subcommands({})) found |= sub->get_name() == argv[i];
    if (found) {
      ctx.command = argv[i];
      break;
    }
  }
  try {
    app->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app->exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = EscapeUnprintable(e.what());  // it may quote any argument
    std::fprintf(stderr, "cairn: %s%s%s (see 'cairn %s--help')\n", ctx.command.c_str(),
                 ctx.command.empty() ? "" : ": ", what.c_str(),
                 ctx.command.empty() ? "" : (ctx.command + " ").c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    // The system's limits, not a bug: one line and the exit code of a failed operation.
    result = Status(Code::kIOError, "out of memory");
  } catch (const std::system_error& e) {
    result = Status(Code::kIOError, std::string("the system refused: ") + e.what());
  }
  if (result.ok()) result = FlushStdout();
  if (!result.ok() && !StdoutReaderGone()) PrintError(ctx.command, result);
  return ExitCode(result);
}

Status SplitPath(const std::string& arg, bool allow_empty_key, std::string* bucket,
                 std::string* key) {
  size_t slash = arg.find('/');
  *bucket = arg.substr(0, slash);
  *key = slash == std::string::npos ? "" : arg.substr(slash + 1);
  if (bucket->empty()) return InvalidArgument("expected BUCKET/KEY, got '" + arg + "'");
  if (key->empty() && !allow_empty_key) {
    return InvalidArgument("expected BUCKET/KEY, got '" + arg + "' (no key)");
  }
  return Status::Ok();
}

}  // namespace cairn::cli
