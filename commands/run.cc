// cairn run [FILE|-]: many cairn commands, one a line, run in parallel (like s5cmd run). Each line
// runs as a child cairn process (this binary, with the global flags run was given), so a line
// behaves exactly as on the command line; at most --jobs run at once and lines are read as
// children finish (a file of a million lines is never held whole).
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "cli/text_out.h"
#include "commands/commands.h"

extern char** environ;

namespace cairn::cli {

Result<std::vector<std::string>> SplitCommandLine(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool have = false;  // a word is open (possibly empty: '')
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      if (have) out.push_back(std::move(cur));
      cur.clear();
      have = false;
    } else if (c == '#' && !have) {
      break;  // a comment to the end of the line
    } else if (c == '\'') {
      const size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return InvalidArgument("an unterminated ' quote");
      cur.append(line.substr(i + 1, end - i - 1));
      have = true;
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size() &&
            (line[j + 1] == '"' || line[j + 1] == '\\' || line[j + 1] == '$' || line[j + 1] == '`')) {
          ++j;
        }
        cur.push_back(line[j]);
      }
      if (j >= line.size()) return InvalidArgument("an unterminated \" quote");
      have = true;
      i = j;
    } else if (c == '\\') {
      if (i + 1 < line.size()) cur.push_back(line[++i]);
      have = true;
    } else {
      cur.push_back(c);
      have = true;
    }
  }
  if (have) out.push_back(std::move(cur));
  return out;
}

namespace {

struct RunOptions {
  std::string file = "-";
  int jobs = 8;
};

struct Child {
  uint64_t line = 0;
  int err_fd = -1;  // a memfd holding the child's stderr
};

// The global flags run was given, passed on to every line.
std::vector<std::string> GlobalArgs(const Context& ctx) {
  std::vector<std::string> a;
  auto opt = [&](const char* flag, const std::string& v) {
    if (!v.empty()) {
      a.push_back(flag);
      a.push_back(v);
    }
  };
  opt("--endpoint-url", ctx.s3.endpoint_url);
  opt("--region", ctx.s3.region);
  opt("--profile", ctx.s3.profile);
  opt("--ca-bundle", ctx.s3.ca_bundle);
  if (ctx.s3.no_verify_ssl) a.push_back("--no-verify-ssl");
  a.push_back("--retries");
  a.push_back(std::to_string(ctx.retries));
  if (ctx.json) a.push_back("--json");
  if (ctx.quiet) a.push_back("-q");
  for (const auto& d : ctx.set_dirs) opt("--set", d);
  a.push_back("--no-progress");  // many children share one terminal
  return a;
}

// Copies what a finished child wrote on stderr to ours, each line prefixed with its line number.
void ForwardErrors(const Child& c) {
  std::string text;
  char buf[4096];
  for (off_t off = 0;;) {
    const ssize_t r = ::pread(c.err_fd, buf, sizeof buf, off);
    if (r <= 0) break;
    text.append(buf, size_t(r));
    off += r;
  }
  ::close(c.err_fd);
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string l = text.substr(start, nl - start);
    if (l.rfind("cairn: ", 0) == 0) l = l.substr(7);
    std::fprintf(stderr, "cairn: run: line %llu: %s\n", static_cast<unsigned long long>(c.line),
                 l.c_str());
    start = nl + 1;
  }
}

Status RunRun(const RunOptions& o, Context& ctx) {
  if (o.jobs < 1 || o.jobs > 1024) return InvalidArgument("--jobs must be between 1 and 1024");
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.file != "-") {
    file.open(o.file);
    if (!file) return PosixError(o.file, errno);
    in = &file;
  }
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return PosixError("/proc/self/exe", errno);
  self[n] = '\0';
  const std::vector<std::string> globals = GlobalArgs(ctx);
  std::map<pid_t, Child> running;
  uint64_t lines = 0, failed = 0, commands = 0;
  std::fflush(stdout);
  auto reap = [&]() {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) return;
    auto it = running.find(pid);
    if (it == running.end()) return;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    ForwardErrors(it->second);
    if (!ok) {
      ++failed;
      std::string why = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                          : "killed by signal " + std::to_string(WTERMSIG(status));
      std::fprintf(stderr, "cairn: run: line %llu failed (%s)\n",
                   static_cast<unsigned long long>(it->second.line), why.c_str());
    }
    running.erase(it);
  };
  std::string line;
  while (std::getline(*in, line)) {
    ++lines;
    auto words = SplitCommandLine(line);
    if (!words.ok()) {
      ++commands;
      ++failed;
      std::fprintf(stderr, "cairn: run: line %llu: %s\n", static_cast<unsigned long long>(lines),
                   EscapeUnprintable(words.status().message()).c_str());
      continue;
    }
    if (!words->empty() && words->front() == "cairn") words->erase(words->begin());
    if (words->empty()) continue;  // blank or a comment
    ++commands;
    if (words->front() == "run") {
      ++failed;
      std::fprintf(stderr, "cairn: run: line %llu: run cannot be nested\n",
                   static_cast<unsigned long long>(lines));
      continue;
    }
    while (running.size() >= size_t(o.jobs)) reap();
    std::vector<std::string> args{self};
    args.insert(args.end(), globals.begin(), globals.end());
    args.insert(args.end(), words->begin(), words->end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    Child c;
    c.line = lines;
    c.err_fd = ::memfd_create("cairn-run-stderr", MFD_CLOEXEC);
    if (c.err_fd < 0) return PosixError("memfd_create", errno);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, c.err_fd, 2);
    pid_t pid = 0;
    const int e = ::posix_spawn(&pid, self, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
      ::close(c.err_fd);
      ++failed;
      std::fprintf(stderr, "cairn: run: line %llu: %s\n", static_cast<unsigned long long>(lines),
                   std::strerror(e));
      continue;
    }
    running.emplace(pid, c);
  }
  if (in->bad()) {
    while (!running.empty()) reap();
    return PosixError(o.file == "-" ? "stdin" : o.file, EIO);
  }
  while (!running.empty()) reap();
  if (failed > 0) {
    return Status(Code::kIOError, std::to_string(failed) + " of " +
                                      std::to_string(commands) +
                                      " commands failed");
  }
  return Status::Ok();
}

}  // namespace

void RegisterRun(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand(
      "run", "Run cairn commands read one a line from FILE or stdin, several at once");
  sub->add_option("--jobs", o->jobs, "Commands running at once (default 8)")->type_name("N");
  sub->add_option("file", o->file, "The commands (default: stdin, also '-')")->type_name("FILE|-");
  sub->callback([o, &ctx, result] { *result = RunRun(*o, ctx); });
}

}  // namespace cairn::cli
