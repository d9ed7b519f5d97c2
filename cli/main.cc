// cairn: one binary, many subcommands. Parses the command line, runs the subcommand and maps its
// Status onto the exit code (0 ok, 1 operation failed, 2 usage).
#include <csignal>
#include <cstdio>

#include "cli/context.h"
#include "cli/fd_io.h"
#include "cli/text_out.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is an error we report, not a silent death
  cairn::cli::Context ctx;
  cairn::Status result;
  auto app = cairn::cli::BuildApp(ctx, &result);
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
    std::string what = cairn::cli::EscapeUnprintable(e.what());  // it may quote any argument
    std::fprintf(stderr, "cairn: %s%s%s (see 'cairn %s--help')\n", ctx.command.c_str(),
                 ctx.command.empty() ? "" : ": ", what.c_str(),
                 ctx.command.empty() ? "" : (ctx.command + " ").c_str());
    return 2;
  }
  if (result.ok()) result = cairn::cli::FlushStdout();
  if (!result.ok() && !cairn::cli::StdoutReaderGone()) cairn::cli::PrintError(ctx.command, result);
  return cairn::cli::ExitCode(result);
}
