// What every subcommand shares: global flags, output mode, the volume set, and error reporting.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "libstore/client/s3_client.h"
#include "libstore/common/status.h"
#include "libstore/object/set_open.h"

namespace cairn::cli {

struct Context {
  std::vector<std::string> set_dirs;  // --set (repeatable) or CAIRN_SET (':'-separated)
  bool json = false;                   // --json: machine-readable output
  bool no_progress = false;            // --no-progress
  bool quiet = false;                  // -q: no warnings
  std::string command;                 // the subcommand being run, for error messages
  // S3 client flags (--endpoint-url, --region, --profile, --ca-bundle, --no-verify-ssl) and
  // --retries (attempts after the first on retryable failures).
  s3::S3Flags s3;
  int retries = 4;

  // The member directories named by --set / CAIRN_SET.
  Result<std::vector<std::string>> SetDirs() const;
  // Opens the volume set named by --set / CAIRN_SET, printing warnings about offline members.
  Result<OpenedSet> OpenVolumeSet();
  // An S3 client configured from the flags, the environment and the AWS files (s3_config.h).
  Result<std::unique_ptr<s3::S3Client>> OpenS3();
  // True when stderr is a terminal and progress bars are allowed.
  bool ShowProgress() const;
  // Prints "cairn: <command>: <msg>" on stderr unless --quiet; unprintable characters (keys may
  // hold any) are escaped as in EscapeUnprintable (cli/text_out.h), so it stays one line.
  void Warn(const std::string& msg) const;
};

// Builds the whole command tree; the callback of each subcommand stores its Status in *result.
// Used by main, by the completion generator and by tests.
std::unique_ptr<CLI::App> BuildApp(Context& ctx, Status* result);

// Exit code for a status: 0 ok, 2 usage (kInvalidArgument), 3 degraded (verify), 1 anything else.
int ExitCode(const Status& s);

// Prints "cairn: <command>: <message>" to stderr, one line: unprintable characters escaped as in
// EscapeUnprintable (cli/text_out.h).
void PrintError(const std::string& command, const Status& s);

// Flushes stdout; an error (a full disk, a closed pipe) comes back as a "stdout: ..." status, so
// that a command whose output was lost does not exit 0.
Status FlushStdout();

}  // namespace cairn::cli
