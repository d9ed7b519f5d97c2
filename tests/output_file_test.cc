// cli/output_file: regular files are replaced whole through a temp file (or refused), devices and
// FIFOs are written in place and stay what they are, directories and sockets are refused, and no
// temp file is left behind, not even when the process is killed by a signal.
#include "cli/output_file.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

using namespace cairn;
using namespace cairn::cli;

namespace {

struct Scratch {
  std::string path;
  Scratch() {
    char tmpl[] = "/tmp/cairn-output-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~Scratch() { REQUIRE(std::system(("rm -rf '" + path + "'").c_str()) == 0); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  // The names in the directory, hidden ones included.
  std::vector<std::string> List() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    REQUIRE(d != nullptr);
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string Slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void Spit(const std::string& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << data;
}

Status WriteAll(const std::string& path, bool replace, const std::string& data) {
  ASSIGN_OR_RETURN(auto out, OutputFile::Open(path, replace));
  RETURN_IF_ERROR(out->sink().Write(data.data(), data.size()));
  return out->Commit();
}

}  // namespace

TEST_CASE("output file: a new name, and a regular file replaced or refused", "[output]") {
  Scratch d;
  REQUIRE(WriteAll(d / "new", false, "fresh").ok());
  CHECK(Slurp(d / "new") == "fresh");
  CHECK(d.List() == std::vector<std::string>{"new"});

  // Not to be replaced (a name derived from data, without --force): refused, untouched.
  Status s = WriteAll(d / "new", false, "other");
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("--force") != std::string::npos);
  CHECK(Slurp(d / "new") == "fresh");

  // Replaced whole, keeping its permissions.
  REQUIRE(::chmod((d / "new").c_str(), 0600) == 0);
  REQUIRE(WriteAll(d / "new", true, "replaced").ok());
  CHECK(Slurp(d / "new") == "replaced");
  struct stat st;
  REQUIRE(::stat((d / "new").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(d.List() == std::vector<std::string>{"new"});

  // Not committed (the command failed): the old file stays and the temp file goes.
  {
    auto out = OutputFile::Open(d / "new", true);
    REQUIRE(out.ok());
    REQUIRE((*out)->sink().Write("half", 4).ok());
    CHECK(d.List().size() == 2);
  }
  CHECK(Slurp(d / "new") == "replaced");
  CHECK(d.List() == std::vector<std::string>{"new"});

  // Created by someone else while we wrote, when we may not replace: theirs stays.
  {
    auto out = OutputFile::Open(d / "late", false);
    REQUIRE(out.ok());
    REQUIRE((*out)->sink().Write("ours", 4).ok());
    Spit(d / "late", "theirs");
    CHECK((*out)->Commit().code() == Code::kInvalidArgument);
  }
  CHECK(Slurp(d / "late") == "theirs");
  CHECK(d.List() == (std::vector<std::string>{"late", "new"}));
}

TEST_CASE("output file: a symlink to a file stays a symlink", "[output]") {
  Scratch d;
  Spit(d / "target", "old");
  REQUIRE(::symlink((d / "target").c_str(), (d / "link").c_str()) == 0);
  REQUIRE(WriteAll(d / "link", true, "new").ok());
  struct stat st;
  REQUIRE(::lstat((d / "link").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(Slurp(d / "target") == "new");
  CHECK(WriteAll(d / "link", false, "x").code() == Code::kInvalidArgument);
  REQUIRE(::symlink((d / "nowhere").c_str(), (d / "dangling").c_str()) == 0);
  CHECK(WriteAll(d / "dangling", true, "x").code() == Code::kInvalidArgument);
  CHECK(::access((d / "nowhere").c_str(), F_OK) != 0);
}

TEST_CASE("output file: directories and sockets refused, FIFOs and devices written in place",
          "[output]") {
  Scratch d;
  REQUIRE(::mkdir((d / "dir").c_str(), 0755) == 0);
  CHECK(WriteAll(d / "dir", true, "x").code() == Code::kInvalidArgument);

  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", (d / "sock").c_str());
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  CHECK(WriteAll(d / "sock", true, "x").code() == Code::kInvalidArgument);
  ::close(sock);

  REQUIRE(::mkfifo((d / "fifo").c_str(), 0600) == 0);
  std::string got;
  std::thread reader([&] { got = Slurp(d / "fifo"); });
  // In place even when we may not replace: writing into a FIFO replaces nothing.
  CHECK(WriteAll(d / "fifo", false, "through the pipe").ok());
  reader.join();
  CHECK(got == "through the pipe");
  struct stat st;
  REQUIRE(::lstat((d / "fifo").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));

  if (::mknod((d / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
    CHECK(WriteAll(d / "null", true, "discarded").ok());
    REQUIRE(::lstat((d / "null").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    // Through a symlink, as /dev/stdout is one.
    REQUIRE(::symlink((d / "null").c_str(), (d / "null-link").c_str()) == 0);
    CHECK(WriteAll(d / "null-link", true, "discarded").ok());
    REQUIRE(::lstat((d / "null").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  } else {
    WARN("not allowed to make a device node: character devices not tested");
  }
  const auto left = d.List();  // nothing but what the test made: no temp file
  CHECK((left == std::vector<std::string>{"dir", "fifo", "null", "null-link", "sock"} ||
         left == std::vector<std::string>{"dir", "fifo", "sock"}));
}

TEST_CASE("output file: a temp file is removed when the process is killed", "[output]") {
  Scratch d;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // SIGHUP: Catch2 handles SIGINT and SIGTERM itself, so ours are not installed for those.
    auto out = OutputFile::Open(d / "out", true);
    if (!out.ok()) ::_exit(10);
    (*out)->sink().Write("partial", 7).IgnoreError();
    ::raise(SIGHUP);
    ::_exit(11);  // not reached: the handler removes the temp file and dies of the signal
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGHUP);
  CHECK(d.List().empty());
}
