// Every subcommand: Register* binds flags and sets the callback; the Run* functions return a
// Status so they can be tested without parsing. Registered explicitly in cli/context.cc.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "cli/parse.h"

namespace cairn::cli {

void RegisterInit(CLI::App& app, Context& ctx, Status* result);
void RegisterBucketCommands(CLI::App& app, Context& ctx, Status* result);  // mb, rb
void RegisterPut(CLI::App& app, Context& ctx, Status* result);
void RegisterGet(CLI::App& app, Context& ctx, Status* result);
void RegisterLs(CLI::App& app, Context& ctx, Status* result);
void RegisterStat(CLI::App& app, Context& ctx, Status* result);
void RegisterRm(CLI::App& app, Context& ctx, Status* result);
void RegisterEncode(CLI::App& app, Context& ctx, Status* result);
void RegisterDecode(CLI::App& app, Context& ctx, Status* result);
void RegisterVerify(CLI::App& app, Context& ctx, Status* result);
void RegisterRepair(CLI::App& app, Context& ctx, Status* result);
void RegisterHeal(CLI::App& app, Context& ctx, Status* result);
void RegisterGc(CLI::App& app, Context& ctx, Status* result);
void RegisterBench(CLI::App& app, Context& ctx, Status* result);
void RegisterCompletion(CLI::App& app, Context& ctx, Status* result);
void RegisterVersion(CLI::App& app, Context& ctx, Status* result);
void RegisterServe(CLI::App& app, Context& ctx, Status* result);
void RegisterCat(CLI::App& app, Context& ctx, Status* result);      // s3://
void RegisterPresign(CLI::App& app, Context& ctx, Status* result);  // s3://
void RegisterCp(CLI::App& app, Context& ctx, Status* result);       // local <-> s3://
void RegisterSync(CLI::App& app, Context& ctx, Status* result);     // local <-> s3:// trees
void RegisterRun(CLI::App& app, Context& ctx, Status* result);      // commands from a file
// A line of `cairn run` split into words as a POSIX shell would, without expansions: blanks
// separate words, '...' is literal, "..." keeps blanks (\ \" \$ \` escaped), \c is c, and a
// '#' starting a word comments out the rest. kInvalidArgument for an unterminated quote.
Result<std::vector<std::string>> SplitCommandLine(std::string_view line);

// S3 paths (s3_commands.cc): "s3://BUCKET/KEY"; allow_empty lets BUCKET and KEY be empty
// ("s3://", "s3://bkt", "s3://bkt/"). kInvalidArgument (usage) for anything else.
bool IsS3Url(const std::string& arg);
Status ParseS3Url(const std::string& arg, bool allow_empty, std::string* bucket, std::string* key);
// ls and rm on s3:// arguments.
Status RunS3Ls(const std::string& url, bool recursive, Context& ctx);
Status RunS3Rm(const std::string& url, bool recursive, Context& ctx);
// The summary of `rm -r` (a volume set or S3): one line, or one JSON object, of what was deleted
// below prefix; then the listing's failure, or an error when any object could not be deleted.
Status ReportRemoval(const std::string& bucket, const std::string& prefix, uint64_t deleted,
                     uint64_t failed, const Status& listing, Context& ctx);

// cairn serve's flags (CLI.md). The credential, --read-only/--state-dir and rate flags are parsed
// here for the backends and the authenticator that come later.
struct ServeOptions {
  std::string address = "127.0.0.1:9000";
  int threads = 2;
  int max_connections = 1024;
  std::string access_log, tls_cert, tls_key, domain;
  std::string access_key, secret_key, users, state_dir, hash_rate, heal_rate;
  std::string upload_expiry = "7d";  // abandoned multipart uploads older than this go; 0: never
  bool read_only = false, anonymous_read = false, no_fsync = false;
  std::string region = "us-east-1";
  bool no_auth = false;   // AllowAllAuthenticator, with a warning
  std::string port_file;  // written with the port once listening (tests start on port 0)
  std::vector<std::string> dirs;
};
// Serves until SIGINT or SIGTERM.
Status RunServe(const ServeOptions& o, Context& ctx);
// "HOST:PORT" ("[v6]:PORT"; an empty host listens on every address).
Status ParseAddress(const std::string& s, std::string* host, uint16_t* port);

// verify on a volume set (verify on shard files dispatches here when its arguments are not shard
// files): scope "" or BUCKET or BUCKET/PREFIX.
struct SetVerifyCli {
  std::vector<std::string> scope;
  bool deep = false;
  int jobs = 4;
  std::string max_rate;
};
void AddSetVerifyFlags(CLI::App& sub, SetVerifyCli& o);
Status RunSetVerify(const SetVerifyCli& o, Context& ctx);

// Splits "BUCKET/KEY" (key may be empty when allow_empty_key).
Status SplitPath(const std::string& arg, bool allow_empty_key, std::string* bucket, std::string* key);

}  // namespace cairn::cli
