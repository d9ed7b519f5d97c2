#include "libstore/client/local_walk.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

using namespace cairn;
using namespace cairn::s3;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t ? t : "/tmp") + "/cairn-walk-XXXXXX";
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    // rm copes with trees deeper than PATH_MAX (the unreadable-directory case makes one).
    const std::string cmd = "rm -rf '" + path + "'";
    if (std::system(cmd.c_str()) != 0) WARN("could not remove " << path);
  }
  void File(const std::string& rel, const std::string& body = "x") {
    fs::create_directories(fs::path(path + "/" + rel).parent_path());
    std::ofstream(path + "/" + rel) << body;
  }
  std::string path;
};

std::vector<std::string> Walk(const std::string& root, std::vector<std::string>* problems = nullptr,
                              bool follow = true) {
  LocalWalkOptions o;
  o.follow_dir_symlinks = follow;
  o.on_problem = [problems](const Status& s) {
    if (problems) problems->push_back(s.message());
  };
  auto w = LocalWalker::Open(root, o);
  REQUIRE(w.ok());
  std::vector<std::string> keys;
  LocalFile f;
  while (true) {
    auto more = (*w)->Next(&f);
    REQUIRE(more.ok());
    if (!*more) break;
    CHECK(f.path == root + "/" + f.key);
    keys.push_back(f.key);
  }
  return keys;
}

}  // namespace

TEST_CASE("local walk: keys in S3 byte order, directories sorted as 'name/'", "[sync]") {
  TempDir t;
  for (const char* k : {"ab", "a-b", "a/b", "a/a/z", "a.txt", "a0", "b", "with space/f",
                        "\xc3\xa9t\xc3\xa9/x", "Z", "a/b-c", "a/b/c"}) {
    if (std::string(k) == "a/b") continue;  // a/b is a directory below (a/b/c)
    t.File(k);
  }
  const auto keys = Walk(t.path);
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  CHECK(keys == sorted);
  CHECK(keys == std::vector<std::string>{"Z", "a-b", "a.txt", "a/a/z", "a/b-c", "a/b/c", "a0",
                                         "ab", "b", "with space/f", "\xc3\xa9t\xc3\xa9/x"});
}

TEST_CASE("local walk: sizes and mtimes; empty directories give nothing", "[sync]") {
  TempDir t;
  t.File("empty", "");
  t.File("five", "12345");
  fs::create_directories(t.path + "/nothing/here");
  struct timespec ts[2] = {{0, UTIME_OMIT}, {1234567890, 123456789}};
  REQUIRE(::utimensat(AT_FDCWD, (t.path + "/five").c_str(), ts, 0) == 0);
  auto w = LocalWalker::Open(t.path);
  REQUIRE(w.ok());
  LocalFile f;
  REQUIRE(*(*w)->Next(&f));
  CHECK(f.key == "empty");
  CHECK(f.size == 0);
  REQUIRE(*(*w)->Next(&f));
  CHECK(f.key == "five");
  CHECK(f.size == 5);
  CHECK(f.mtime_ns == int64_t(1234567890) * 1000000000 + 123456789);
  CHECK_FALSE(*(*w)->Next(&f));
}

TEST_CASE("local walk: random trees come out sorted and complete", "[sync]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    TempDir t;
    std::vector<std::string> want;
    const char* parts[] = {"a", "b", "a-", "a.b", "0", "\xc3\xa9"};
    for (int i = 0; i < 60; ++i) {
      std::string k;
      for (int n = 1 + int(rng() % 3); n > 0; --n) {
        if (!k.empty()) k += '/';
        k += parts[rng() % 6];
      }
      k += "f" + std::to_string(i % 7);
      // A name can be a file or a directory, not both: keep the first use of every prefix.
      bool clash = false;
      for (const auto& w : want) {
        if (w == k || k.rfind(w + "/", 0) == 0 || w.rfind(k + "/", 0) == 0) clash = true;
      }
      if (clash) continue;
      t.File(k);
      want.push_back(k);
    }
    std::sort(want.begin(), want.end());
    CHECK(Walk(t.path) == want);
  }
}

TEST_CASE("local walk: symlinks followed to files, loops and special files reported", "[sync]") {
  TempDir t;
  t.File("real/f", "abc");
  REQUIRE(::symlink("real/f", (t.path + "/link-to-file").c_str()) == 0);
  REQUIRE(::symlink("real", (t.path + "/link-to-dir").c_str()) == 0);
  REQUIRE(::symlink("..", (t.path + "/real/loop").c_str()) == 0);
  REQUIRE(::symlink("nowhere", (t.path + "/dangling").c_str()) == 0);
  REQUIRE(::mkfifo((t.path + "/fifo").c_str(), 0600) == 0);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  const std::string sp = t.path + "/sock";
  REQUIRE(sp.size() < sizeof(addr.sun_path));
  std::copy(sp.begin(), sp.end(), addr.sun_path);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);

  std::vector<std::string> problems;
  const auto keys = Walk(t.path, &problems);
  CHECK(keys == std::vector<std::string>{"link-to-dir/f", "link-to-file", "real/f"});
  auto has = [&](const std::string& what) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(what) != std::string::npos; });
  };
  CHECK(has("dangling: skipped: a dangling symlink"));
  CHECK(has("fifo: skipped: a FIFO"));
  CHECK(has("sock: skipped: a socket"));
  CHECK(has("loop: skipped: a symlink loop"));
  ::close(sock);

  // A destination walk does not enter symlinked directories (nor report them).
  problems.clear();
  CHECK(Walk(t.path, &problems, false) == std::vector<std::string>{"link-to-file", "real/f"});
}

TEST_CASE("local walk: unreadable directories are reported, the rest is walked", "[sync]") {
  // A directory whose path is longer than PATH_MAX cannot be opened by its path, by root either
  // (permission bits would not stop root): made with mkdirat from descriptors.
  TempDir t;
  t.File("a");
  t.File("z");
  int fd = ::open(t.path.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  const std::string name(200, 'd');
  for (int depth = 0; depth < 22; ++depth) {
    REQUIRE(::mkdirat(fd, name.c_str(), 0700) == 0);
    const int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
    ::close(fd);
    REQUIRE(next >= 0);
    fd = next;
  }
  const int file = ::openat(fd, "deep", O_CREAT | O_WRONLY, 0600);
  REQUIRE(file >= 0);
  ::close(file);
  ::close(fd);
  std::vector<std::string> problems;
  const auto keys = Walk(t.path, &problems);
  CHECK(keys == std::vector<std::string>{"a", "z"});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("skipped") != std::string::npos);
  CHECK(problems[0].find("File name too long") != std::string::npos);
}

TEST_CASE("local walk: a root that is missing or not a directory", "[sync]") {
  TempDir t;
  t.File("file");
  auto a = LocalWalker::Open(t.path + "/missing");
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().code() == Code::kNotFound);
  auto b = LocalWalker::Open(t.path + "/file");
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().code() == Code::kInvalidArgument);
}
