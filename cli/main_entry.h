// The cairn command line as a function, declared apart from cli/context.h so that cli/main.cc
// includes no CLI11.
#pragma once

namespace cairn::cli {

// Builds the command tree (BuildApp), parses argv, runs the subcommand and prints its error, if
// any, on stderr; returns the process's exit code (ExitCode: 0 ok, 1 failed, 2 usage, 3 degraded).
// Expects SIGPIPE ignored, so that a closed stdout is an error it reports.
int Main(int argc, char** argv);

}  // namespace cairn::cli
