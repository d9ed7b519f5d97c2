// cairn run [FILE|-]: many cairn commands, one a line, run in parallel (like s5cmd run). Each line
// runs as a child cairn process (this binary, with the global flags run was given), so a line
// behaves exactly as on the command line; at most --jobs run at once and lines are read as
// children finish (a file of a million lines is never held whole). Each child's stdout comes
// through a pipe and goes out in whole lines (never a line cut by another child's output); its
// stderr is forwarded when it ends, each line prefixed with the line number.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "cli/fd_io.h"
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

// What a child may have written on stdout and run not yet forwarded: lines go out whole, so a
// child's line is never cut by another's. A line longer than this goes out in pieces, and the
// child keeps stdout to itself until its newline (the others wait, their pipes fill, they block).
constexpr size_t kLineBuffer = size_t(64) << 10;

struct RunOptions {
  std::string file = "-";
  int jobs = 8;
};

struct Child {
  pid_t pid = 0;
  uint64_t line = 0;
  int err_fd = -1;              // a memfd holding the child's stderr
  int out_fd = -1;              // the read end of the child's stdout pipe
  std::unique_ptr<char[]> buf;  // kLineBuffer bytes: its stdout not forwarded yet
  size_t len = 0;
  bool mid_line = false;  // a piece of a long line went out: stdout is this child's until '\n'
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

// The command lines, read from a descriptor as they are needed (so that reading waits in the
// same poll as the children's output). Lines as std::getline gives them.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  int fd() const { return fd_; }
  bool eof() const { return eof_; }
  bool done() const { return eof_ && start_ >= buf_.size(); }
  const Status& status() const { return status_; }
  // The next whole line (or the last one, unterminated, at the end); false when none is read yet.
  bool Next(std::string* line) {
    const size_t nl = buf_.find('\n', start_);
    if (nl == std::string::npos && !(eof_ && start_ < buf_.size())) return false;
    const size_t end = nl == std::string::npos ? buf_.size() : nl;
    line->assign(buf_, start_, end - start_);
    start_ = nl == std::string::npos ? buf_.size() : nl + 1;
    return true;
  }
  // One read(2) (it may wait). A read error ends the input, kept in status().
  void Fill() {
    if (start_ > 0) {
      buf_.erase(0, start_);
      start_ = 0;
    }
    char chunk[16384];
    ssize_t r;
    do {
      r = ::read(fd_, chunk, sizeof chunk);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) {
      if (r < 0) status_ = PosixError("reading the commands", errno);
      eof_ = true;
      return;
    }
    buf_.append(chunk, size_t(r));
  }

 private:
  int fd_;
  std::string buf_;
  size_t start_ = 0;
  bool eof_ = false;
  Status status_;
};

// The children running, and their stdout forwarded to ours in whole lines.
class Children {
 public:
  size_t size() const { return running_.size(); }
  uint64_t failed = 0;
  // The first failure to write our stdout (then the children's output is read and dropped).
  const Status& out_status() const { return out_status_; }

  // Starts one line's command. An error is that line's (counted by the caller).
  Status Spawn(const char* self, std::vector<std::string>& args, uint64_t line) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    Child c;
    c.line = line;
    c.err_fd = ::memfd_create("cairn-run-stderr", MFD_CLOEXEC);
    if (c.err_fd < 0) return PosixError("memfd_create", errno);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      const int e = errno;
      ::close(c.err_fd);
      return PosixError("pipe", e);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, c.err_fd, 2);
    const int e = ::posix_spawn(&c.pid, self, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);  // the child's now: its exit closes the pipe (EOF)
    if (e != 0) {
      ::close(out[0]);
      ::close(c.err_fd);
      return Status(Code::kIOError, std::strerror(e));
    }
    c.out_fd = out[0];
    c.buf.reset(new char[kLineBuffer]);
    running_.push_back(std::move(c));
    return Status::Ok();
  }

  // Waits until a child wrote or ended, or input_fd (unless -1) can be read; forwards whole
  // lines and finishes the children whose stdout ended. Returns whether input_fd is readable.
  bool Pump(int input_fd) {
    fds_.clear();
    if (input_fd >= 0) fds_.push_back({input_fd, POLLIN, 0});
    const size_t first = fds_.size();
    // A child in the middle of a long line is the only one read until it ends that line.
    bool owned = false;
    size_t owner = 0;
    for (size_t i = 0; i < running_.size(); ++i) {
      if (running_[i].mid_line) {
        owned = true;
        owner = i;
      }
    }
    for (size_t i = 0; i < running_.size(); ++i) {
      if (!owned || owner == i) fds_.push_back({running_[i].out_fd, POLLIN, 0});
    }
    int n;
    do {
      n = ::poll(fds_.data(), fds_.size(), -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return false;  // cannot happen with valid descriptors; try again
    const bool input = input_fd >= 0 && fds_[0].revents != 0;
    // Back to front: a finished child is removed without moving the ones not looked at yet.
    for (size_t k = fds_.size(); k-- > first;) {
      if (fds_[k].revents == 0) continue;
      const size_t i = owned ? owner : k - first;
      if (!Read(running_[i])) {
        Finish(running_[i]);
        running_.erase(running_.begin() + ptrdiff_t(i));
      } else if (!owned && running_[i].mid_line) {
        break;  // it began a long line: the others wait until it ends that line
      }
    }
    return input;
  }

 private:
  // One read of the child's stdout; forwards its complete lines (or, buffer full, a piece).
  // False at its end (EOF, or an error reading it).
  bool Read(Child& c) {
    ssize_t r;
    do {
      r = ::read(c.out_fd, c.buf.get() + c.len, kLineBuffer - c.len);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) return false;
    c.len += size_t(r);
    size_t upto = 0;
    for (size_t i = c.len; i > c.len - size_t(r); --i) {
      if (c.buf[i - 1] == '\n') {
        upto = i;
        break;
      }
    }
    if (upto == 0 && c.len == kLineBuffer) {
      upto = c.len;  // no newline in a full buffer: a piece of a long line
      c.mid_line = true;
    } else if (upto > 0) {
      c.mid_line = false;
    }
    if (upto > 0) {
      Write(c.buf.get(), upto);
      std::memmove(c.buf.get(), c.buf.get() + upto, c.len - upto);
      c.len -= upto;
    }
    return true;
  }

  // The child's stdout ended: what is left goes out (ended with a newline, so that the next
  // output starts a line), then its exit status and its stderr.
  void Finish(Child& c) {
    if (c.len > 0 || c.mid_line) {
      // Read leaves less than a full buffer, with no newline in it.
      c.buf[c.len++] = '\n';
      Write(c.buf.get(), c.len);
    }
    ::close(c.out_fd);
    int status = 0;
    pid_t got;
    do {
      got = ::waitpid(c.pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    const int wait_errno = errno;
    ForwardErrors(c);
    const bool ok = got == c.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
      ++failed;
      std::string why;
      if (got != c.pid) {
        why = std::string("lost: ") + std::strerror(wait_errno);
      } else if (WIFEXITED(status)) {
        why = "exit " + std::to_string(WEXITSTATUS(status));
      } else {
        why = "killed by signal " + std::to_string(WTERMSIG(status));
      }
      std::fprintf(stderr, "cairn: run: line %llu failed (%s)\n",
                   static_cast<unsigned long long>(c.line), why.c_str());
    }
  }

  // Writes all of it to our stdout; after a failure (a reader gone), drops it.
  void Write(const char* p, size_t n) {
    while (n > 0 && out_status_.ok()) {
      const ssize_t w = ::write(1, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) {
        pollfd pf{1, POLLOUT, 0};
        ::poll(&pf, 1, -1);
        continue;
      }
      if (w < 0) {
        if (errno == EPIPE) StdoutReaderGone() = true;
        out_status_ = PosixError("stdout", errno);
        return;
      }
      p += w;
      n -= size_t(w);
    }
  }

  std::vector<Child> running_;
  std::vector<pollfd> fds_;
  Status out_status_;
};

Status RunRun(const RunOptions& o, Context& ctx) {
  if (o.jobs < 1 || o.jobs > 1024) return InvalidArgument("--jobs must be between 1 and 1024");
  int in_fd = 0;
  if (o.file != "-") {
    in_fd = ::open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) return PosixError(o.file, errno);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd > 0) ::close(fd);
    }
  } in_closer{in_fd};
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return PosixError("/proc/self/exe", errno);
  self[n] = '\0';
  const std::vector<std::string> globals = GlobalArgs(ctx);
  LineReader in(in_fd);
  Children children;
  uint64_t lines = 0, failed = 0, commands = 0;
  std::fflush(stdout);
  std::string line;
  while (true) {
    while (children.size() < size_t(o.jobs) && in.Next(&line)) {
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
      std::vector<std::string> args{self};
      args.insert(args.end(), globals.begin(), globals.end());
      args.insert(args.end(), words->begin(), words->end());
      Status s = children.Spawn(self, args, lines);
      if (!s.ok()) {
        ++failed;
        std::fprintf(stderr, "cairn: run: line %llu: %s\n", static_cast<unsigned long long>(lines),
                     s.message().c_str());
      }
    }
    if (in.done() && children.size() == 0) break;
    const bool want_input = children.size() < size_t(o.jobs) && !in.eof();
    if (children.Pump(want_input ? in.fd() : -1)) in.Fill();
  }
  failed += children.failed;
  if (!in.status().ok()) return in.status().WithContext(o.file == "-" ? "stdin" : o.file);
  if (failed > 0) {
    return Status(Code::kIOError, std::to_string(failed) + " of " +
                                      std::to_string(commands) +
                                      " commands failed");
  }
  return children.out_status();
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
