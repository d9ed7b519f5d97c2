// cairn: one binary, many subcommands. Parses the command line, runs the subcommand and maps its
// Status onto the exit code (0 ok, 1 operation failed, 2 usage): cli::Main (cli/main_entry.h), in
// the CLI library, so that this file does not include CLI11 (a header-only library that took 10
// CPU-s to compile here alone, in each of CI's two builds).
#include <csignal>

#include "cli/main_entry.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is an error we report, not a silent death
  return cairn::cli::Main(argc, argv);
}
