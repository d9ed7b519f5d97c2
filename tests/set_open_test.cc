// PrepareMembers on real directories: a replaced (empty or missing) member directory gets its old
// identity back; anything that holds data or another identity is refused and left untouched.
#include "libstore/object/set_open.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace cairn;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cairn-members-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteBytes(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  REQUIRE(out.good());
}

std::string FormatFile(const std::string& dir) { return dir + "/" + kFormatPath; }

Result<VolumeFormat> DecodeFormatOf(const std::string& dir) {
  if (!fs::exists(FormatFile(dir))) return NotFound(FormatFile(dir));
  return VolumeFormat::Decode(ReadBytes(FormatFile(dir)));
}

// Removes everything inside dir but keeps dir itself.
void EmptyDir(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
  REQUIRE(fs::is_empty(dir));
}

SetParams Params42() {
  SetParams p;
  p.k = 4;
  p.m = 2;
  p.block_size = 64 << 10;
  p.inline_limit = 16 << 10;
  return p;
}

// A 4+2 set on <tmp>/d<i>/data, so removing <tmp>/d<i> also removes a member's parent.
struct SetDirs {
  TempDir tmp;
  std::vector<std::string> dirs;
  std::vector<std::string> formats;  // each member's format file as InitSet wrote it

  SetDirs() {
    for (int i = 0; i < 6; ++i) dirs.push_back(tmp.path() + "/d" + std::to_string(i) + "/data");
    REQUIRE(InitSet(dirs, Params42(), false).ok());
    for (const auto& d : dirs) formats.push_back(ReadBytes(FormatFile(d)));
  }
};

const MemberRepair* Find(const std::vector<MemberRepair>& r, uint32_t position) {
  for (const auto& m : r) {
    if (m.position == position) return &m;
  }
  return nullptr;
}

// Opens the set and requires every member online with nothing to warn about.
void RequireAllOnline(const std::vector<std::string>& dirs) {
  auto opened = OpenSet(dirs);
  REQUIRE(opened.ok());
  CHECK(opened->warnings == std::vector<std::string>{});
  CHECK(opened->owned.size() == 6);
}

}  // namespace

TEST_CASE("an emptied member directory gets its old identity back", "[members]") {
  SetDirs s;
  EmptyDir(s.dirs[2]);
  {
    // The damage is real: the set sees member 3 offline.
    auto opened = OpenSet(s.dirs);
    REQUIRE(opened.ok());
    REQUIRE(opened->warnings.size() == 1);
    CHECK(opened->warnings[0].find("member 3") != std::string::npos);
  }
  auto r = PrepareMembers(s.dirs, false);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].position == 2);
  CHECK((*r)[0].action == MemberRepair::Action::kFormatted);
  CHECK((*r)[0].path == s.dirs[2]);

  auto old = VolumeFormat::Decode(s.formats[2]);
  REQUIRE(old.ok());
  auto now = DecodeFormatOf(s.dirs[2]);
  REQUIRE(now.ok());
  CHECK(now->position == 2);
  CHECK(now->volume_id == old->volume_id);
  CHECK(now->set_id == old->set_id);
  // Members list, K, M and sizes are the set's own: the very bytes InitSet wrote.
  CHECK(ReadBytes(FormatFile(s.dirs[2])) == s.formats[2]);
  CHECK(fs::is_directory(s.dirs[2] + "/.cairn/tmp"));
  CHECK(fs::is_directory(s.dirs[2] + "/.cairn/mrf"));
  CHECK(fs::is_directory(s.dirs[2] + "/.cairn/locks"));
  CHECK(fs::is_empty(s.dirs[2] + "/.cairn/tmp"));  // the temp format was renamed away
  // The other members' formats need no change.
  for (int i = 0; i < 6; ++i) CHECK(ReadBytes(FormatFile(s.dirs[i])) == s.formats[i]);

  RequireAllOnline(s.dirs);
  auto again = PrepareMembers(s.dirs, false);
  REQUIRE(again.ok());
  CHECK(again->empty());
}

TEST_CASE("a missing member directory is reported, not created", "[members]") {
  SetDirs s;
  fs::remove_all(fs::path(s.dirs[4]).parent_path());  // the member and its parent
  REQUIRE(!fs::exists(fs::path(s.dirs[4]).parent_path()));
  // One directory is enough: the others are found where the set was formatted.
  auto r = PrepareMembers({s.dirs[0]}, false);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].position == 4);
  CHECK((*r)[0].action == MemberRepair::Action::kMissing);
  CHECK((*r)[0].why.find("create it") != std::string::npos);
  CHECK((*r)[0].path == s.dirs[4]);
  CHECK(!fs::exists(fs::path(s.dirs[4]).parent_path()));
  // Once it exists (the new disk mounted there), it takes the member's old place.
  fs::create_directories(s.dirs[4]);
  r = PrepareMembers({s.dirs[0]}, false);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].action == MemberRepair::Action::kFormatted);
  auto now = DecodeFormatOf(s.dirs[4]);
  REQUIRE(now.ok());
  CHECK(now->position == 4);
  CHECK(ReadBytes(FormatFile(s.dirs[4])) == s.formats[4]);
  RequireAllOnline({s.dirs[0]});
}

TEST_CASE("a dry run says what it would format and writes nothing", "[members]") {
  SetDirs s;
  EmptyDir(s.dirs[1]);
  EmptyDir(s.dirs[3]);
  auto r = PrepareMembers(s.dirs, true);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  const MemberRepair* m1 = Find(*r, 1);
  const MemberRepair* m3 = Find(*r, 3);
  REQUIRE(m1 != nullptr);
  REQUIRE(m3 != nullptr);
  CHECK(m1->action == MemberRepair::Action::kWouldFormat);
  CHECK(m3->action == MemberRepair::Action::kWouldFormat);
  CHECK(m3->path == s.dirs[3]);
  CHECK(fs::is_empty(s.dirs[1]));
  CHECK(fs::is_empty(s.dirs[3]));

  // The dry run predicted the real one.
  auto real = PrepareMembers(s.dirs, false);
  REQUIRE(real.ok());
  REQUIRE(real->size() == 2);
  REQUIRE(Find(*real, 1) != nullptr);
  REQUIRE(Find(*real, 3) != nullptr);
  CHECK(Find(*real, 1)->action == MemberRepair::Action::kFormatted);
  CHECK(Find(*real, 3)->action == MemberRepair::Action::kFormatted);
  RequireAllOnline(s.dirs);
}

TEST_CASE("a directory holding another identity is refused and left alone", "[members]") {
  SetDirs s;
  std::string target = s.dirs[2];
  std::string want_why;
  SECTION("another set") {
    TempDir other_tmp;
    std::vector<std::string> other;
    for (int i = 0; i < 6; ++i) other.push_back(other_tmp.path() + "/o" + std::to_string(i));
    REQUIRE(InitSet(other, Params42(), false).ok());
    auto of = DecodeFormatOf(other[2]);
    REQUIRE(of.ok());
    EmptyDir(target);
    fs::create_directories(target + "/.cairn");
    fs::copy_file(FormatFile(other[2]), FormatFile(target));
    want_why = "belongs to another volume set (set " + of->set_id.Hex().substr(0, 8) + ")";
  }
  SECTION("another member of this set") {
    EmptyDir(target);
    fs::create_directories(target + "/.cairn");
    fs::copy_file(FormatFile(s.dirs[1]), FormatFile(target));
    want_why = "holds member 2's identity of this set, not member 3's";
  }
  std::string before = ReadBytes(FormatFile(target));
  REQUIRE(!before.empty());
  for (bool dry_run : {true, false}) {
    CAPTURE(dry_run);
    auto r = PrepareMembers(s.dirs, dry_run);
    REQUIRE(r.ok());
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].position == 2);
    CHECK((*r)[0].action == MemberRepair::Action::kRefused);
    CHECK((*r)[0].why == want_why);
  }
  CHECK(ReadBytes(FormatFile(target)) == before);
  // Nothing was added beside it either.
  CHECK(!fs::exists(target + "/.cairn/tmp"));
}

TEST_CASE("a directory with files but no valid format is refused and left alone", "[members]") {
  SetDirs s;
  std::string target = s.dirs[3];
  std::string file, content;
  SECTION("someone's file") {
    EmptyDir(target);
    file = target + "/precious.txt";
    content = "not cairn's";
    WriteBytes(file, content);
  }
  SECTION("a corrupt format file") {
    file = FormatFile(target);
    content = ReadBytes(file);
    content[content.size() / 2] ^= 0x5a;
    WriteBytes(file, content);
    REQUIRE(!DecodeFormatOf(target).ok());  // the damage is real
  }
  auto r = PrepareMembers(s.dirs, false);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].position == 3);
  CHECK((*r)[0].action == MemberRepair::Action::kRefused);
  CHECK((*r)[0].why ==
        "not empty and has no valid cairn format file; empty it to use it as a replacement");
  CHECK(ReadBytes(file) == content);
}

TEST_CASE("a member path that is a file is refused", "[members]") {
  SetDirs s;
  fs::remove_all(s.dirs[5]);
  WriteBytes(s.dirs[5], "a file");
  auto r = PrepareMembers(s.dirs, false);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].position == 5);
  CHECK((*r)[0].action == MemberRepair::Action::kRefused);
  CHECK((*r)[0].why.find("not a directory") != std::string::npos);
  CHECK(fs::is_regular_file(s.dirs[5]));
  CHECK(ReadBytes(s.dirs[5]) == "a file");
}

TEST_CASE("below read quorum nothing is formatted", "[members]") {
  SetDirs s;
  SECTION("two members lost: four left is exactly the read quorum") {
    EmptyDir(s.dirs[0]);
    EmptyDir(s.dirs[5]);
    auto r = PrepareMembers(s.dirs, false);
    REQUIRE(r.ok());
    CHECK(r->size() == 2);
    RequireAllOnline(s.dirs);
  }
  SECTION("three members lost") {
    EmptyDir(s.dirs[0]);
    EmptyDir(s.dirs[1]);
    fs::remove_all(s.dirs[5]);
    for (bool dry_run : {true, false}) {
      CAPTURE(dry_run);
      auto r = PrepareMembers(s.dirs, dry_run);
      REQUIRE(!r.ok());
      CHECK(r.status().code() == Code::kQuorum);
      CHECK(r.status().message().find("found 3 ") != std::string::npos);
      CHECK(r.status().message().find("need at least 4") != std::string::npos);
    }
    CHECK(fs::is_empty(s.dirs[0]));
    CHECK(fs::is_empty(s.dirs[1]));
    CHECK(!fs::exists(s.dirs[5]));
  }
}

TEST_CASE("a healthy set needs nothing", "[members]") {
  SetDirs s;
  for (const auto& dirs : {s.dirs, std::vector<std::string>{s.dirs[5]}}) {
    auto r = PrepareMembers(dirs, false);
    REQUIRE(r.ok());
    CHECK(r->empty());
  }
  for (int i = 0; i < 6; ++i) CHECK(ReadBytes(FormatFile(s.dirs[i])) == s.formats[i]);
  RequireAllOnline(s.dirs);
}

TEST_CASE("a directory holding only lost+found counts as empty", "[members]") {
  SetDirs s;
  EmptyDir(s.dirs[5]);
  fs::create_directory(s.dirs[5] + "/lost+found");
  auto r = PrepareMembers(s.dirs, false);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].position == 5);
  CHECK((*r)[0].action == MemberRepair::Action::kFormatted);
  CHECK(fs::is_directory(s.dirs[5] + "/lost+found"));
  CHECK(ReadBytes(FormatFile(s.dirs[5])) == s.formats[5]);
  RequireAllOnline(s.dirs);
}

// ------------------------------------------------------------------------------------------------
// init: what it refuses, what --force removes, how paths are named

namespace {

// Every entry below dir, recursive, sorted ("sub/" for directories).
std::vector<std::string> TreeOf(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out.push_back(e.path().string().substr(dir.size() + 1) + (e.is_directory() ? "/" : ""));
  }
  std::sort(out.begin(), out.end());
  return out;
}

SetParams Params(uint32_t k, uint32_t m) {
  SetParams p = Params42();
  p.k = k;
  p.m = m;
  return p;
}

// Runs fn with the current directory set to dir.
template <typename Fn>
auto InDir(const std::string& dir, Fn fn) {
  const fs::path before = fs::current_path();
  fs::current_path(dir);
  auto r = fn();
  fs::current_path(before);
  return r;
}

}  // namespace

TEST_CASE("init refuses overlapping members and changes nothing", "[members][init]") {
  TempDir t;
  const std::string n = t.path() + "/n";
  std::string want;
  std::vector<std::string> dirs;
  SECTION("a member inside another") {
    dirs = {n + "/s", n + "/s/bkt", n + "/t"};
    want = n + "/s/bkt: is inside " + n + "/s, another member of this set";
  }
  SECTION("the same, the inner one first") {
    dirs = {n + "/s/bkt", n + "/t", n + "/s"};
    want = n + "/s/bkt: is inside " + n + "/s, another member of this set";
  }
  SECTION("inside through a symlink") {
    fs::create_directories(n + "/s");
    fs::create_directory_symlink(n + "/s", t.path() + "/alias");
    dirs = {n + "/s", t.path() + "/alias/deeper/x", n + "/t"};
    want = n + "/s/deeper/x: is inside " + n + "/s, another member";
  }
  SECTION("one directory twice, once through a symlink") {
    fs::create_directories(n + "/s");
    fs::create_directory_symlink(n + "/s", t.path() + "/alias");
    dirs = {n + "/s", t.path() + "/alias", n + "/t"};
    want = "given twice";
  }
  const auto before = TreeOf(t.path());
  Status s = InitSet(dirs, Params(2, 1), false);
  INFO(s.ToString());
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find(want) != std::string::npos);
  CHECK(TreeOf(t.path()) == before);  // the directories it made are gone again
}

TEST_CASE("init refuses a directory inside a member of another set", "[members][init]") {
  TempDir t;
  std::vector<std::string> other;
  for (int i = 0; i < 3; ++i) other.push_back(t.path() + "/o" + std::to_string(i));
  REQUIRE(InitSet(other, Params(2, 1), false).ok());
  const auto before = TreeOf(t.path());
  Status s = InitSet({other[1] + "/bkt/deep", t.path() + "/x"}, Params(1, 1), false);
  INFO(s.ToString());
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("is inside " + other[1] + ", a member of another volume set") !=
        std::string::npos);
  CHECK(TreeOf(t.path()) == before);
}

TEST_CASE("init: a file, an uncreatable directory, a non-empty one: exit 2, nothing made",
          "[members][init]") {
  TempDir t;
  WriteBytes(t.path() + "/file", "x");
  fs::create_directories(t.path() + "/full");
  WriteBytes(t.path() + "/full/theirs", "y");
  const auto before = TreeOf(t.path());
  struct Case {
    std::string dir, want;
  } cases[] = {
      {t.path() + "/file", t.path() + "/file: exists and is not a directory"},
      {t.path() + "/file/sub", t.path() + "/file/sub: cannot create the directory"},
      {t.path() + "/full", t.path() + "/full: directory is not empty"},
  };
  for (const auto& c : cases) {
    INFO(c.dir);
    Status s = InitSet({t.path() + "/fresh/a", c.dir}, Params(1, 1), false);
    INFO(s.ToString());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.message().find(c.want) != std::string::npos);
    CHECK(s.message().find("//") == std::string::npos);
    CHECK(TreeOf(t.path()) == before);
  }
}

TEST_CASE("init names members by clean absolute paths", "[members][init]") {
  TempDir t;
  fs::create_directories(t.path() + "/w");
  Status s = InDir(t.path() + "/w", [] {
    return InitSet({"./a", "../b", "c//d/./", "e/../f"}, Params(2, 2), false);
  });
  REQUIRE(s.ok());
  auto f = DecodeFormatOf(t.path() + "/w/a");
  REQUIRE(f.ok());
  std::vector<std::string> paths;
  for (const auto& m : f->members) paths.push_back(m.path);
  CHECK(paths == std::vector<std::string>{t.path() + "/w/a", t.path() + "/b", t.path() + "/w/c/d",
                                          t.path() + "/w/f"});
  // Any spelling of a member names the set.
  auto opened = InDir(t.path() + "/w", [] { return OpenSet({"c/./d//"}); });
  REQUIRE(opened.ok());
  CHECK(opened->owned.size() == 4);
  CHECK(NormalizeMemberPath("/").value() == "/");
  CHECK(NormalizeMemberPath("//x//y/").value() == "/x/y");
  CHECK(NormalizeMemberPath(t.path() + "/w/nope/../a").value() == t.path() + "/w/a");
  CHECK(NormalizeMemberPath("").status().code() == Code::kInvalidArgument);
}

TEST_CASE("init accepts a directory holding only lost+found", "[members][init]") {
  TempDir t;
  fs::create_directories(t.path() + "/m/lost+found");
  REQUIRE(InitSet({t.path() + "/m"}, Params(1, 0), false).ok());
  CHECK(fs::is_directory(t.path() + "/m/lost+found"));
  CHECK(DecodeFormatOf(t.path() + "/m").ok());
}

TEST_CASE("init --force removes only what a cairn format identifies as its own",
          "[members][init]") {
  TempDir t;
  SECTION("no format at all: nothing is removed") {
    const std::string d = t.path() + "/d";
    fs::create_directories(d + "/abc");
    WriteBytes(d + "/abc/bucket.meta", "1764633600000000000");
    WriteBytes(d + "/abc/song.mp3", "music");
    const auto before = TreeOf(d);
    CHECK(InitSet({d}, Params(1, 0), false).code() == Code::kInvalidArgument);
    REQUIRE(InitSet({d}, Params(1, 0), true).ok());
    auto after = TreeOf(d);
    for (const auto& p : before) CHECK(std::count(after.begin(), after.end(), p) == 1);
    CHECK(ReadBytes(d + "/abc/song.mp3") == "music");
    CHECK(DecodeFormatOf(d).ok());
  }
  SECTION("a previous set: its buckets and .cairn go, the rest stays") {
    std::vector<std::string> dirs;
    for (int i = 0; i < 3; ++i) dirs.push_back(t.path() + "/m" + std::to_string(i));
    REQUIRE(InitSet(dirs, Params(2, 1), false).ok());
    {
      auto s = OpenSet(dirs);
      REQUIRE(s.ok());
      REQUIRE(s->set->MakeBucket("bkt").ok());
    }
    const auto old = DecodeFormatOf(dirs[0]);
    REQUIRE(old.ok());
    for (const auto& d : dirs) {
      REQUIRE(fs::exists(d + "/bkt/bucket.meta"));
      WriteBytes(d + "/keep.txt", "mine");
      fs::create_directories(d + "/fake");
      WriteBytes(d + "/fake/bucket.meta", "not a record");
      fs::create_directories(d + "/older");  // a bucket of a cairn before records had a format
      WriteBytes(d + "/older/bucket.meta", "1764633600000000000");
      WriteBytes(d + "/older/x=", "an old object");
      fs::create_directories(d + "/plain");
      fs::create_directories(d + "/lost+found");
    }
    REQUIRE(InitSet(dirs, Params(2, 1), true).ok());
    for (const auto& d : dirs) {
      INFO(d);
      CHECK(!fs::exists(d + "/bkt"));
      CHECK(ReadBytes(d + "/keep.txt") == "mine");
      CHECK(ReadBytes(d + "/fake/bucket.meta") == "not a record");
      CHECK(!fs::exists(d + "/older"));
      CHECK(fs::is_directory(d + "/plain"));
      CHECK(fs::is_directory(d + "/lost+found"));
      auto now = DecodeFormatOf(d);
      REQUIRE(now.ok());
      CHECK(now->set_id != old->set_id);
    }
    // The new set sees none of the old buckets, nor the directories left beside it.
    auto s = OpenSet(dirs);
    REQUIRE(s.ok());
    auto list = s->set->ListBuckets();
    REQUIRE(list.ok());
    CHECK(list->empty());
  }
  SECTION("a corrupt format identifies nothing: buckets stay") {
    const std::string d = t.path() + "/d";
    REQUIRE(InitSet({d}, Params(1, 0), false).ok());
    {
      auto s = OpenSet({d});
      REQUIRE(s.ok());
      REQUIRE(s->set->MakeBucket("bkt").ok());
    }
    std::string raw = ReadBytes(FormatFile(d));
    raw[raw.size() / 2] ^= 1;
    WriteBytes(FormatFile(d), raw);
    REQUIRE(InitSet({d}, Params(1, 0), true).ok());
    CHECK(fs::exists(d + "/bkt/bucket.meta"));
    CHECK(DecodeFormatOf(d).ok());
  }
}

// ------------------------------------------------------------------------------------------------
// Two heals formatting one replacement

TEST_CASE("PrepareMembers waits for a member another process is formatting", "[members][lock]") {
  SetDirs s;
  EmptyDir(s.dirs[2]);
  // Another heal holds the member's lock and has made half of the format.
  int fd = ::open(s.dirs[2].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  fs::create_directories(s.dirs[2] + "/.cairn/tmp");
  std::atomic<bool> done{false};
  Result<std::vector<MemberRepair>> r = std::vector<MemberRepair>{};
  std::thread heal([&] {
    r = PrepareMembers(s.dirs, false);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(!done);  // it waits instead of calling the half-made directory "not empty"
  fs::create_directories(s.dirs[2] + "/.cairn/mrf");
  fs::create_directories(s.dirs[2] + "/.cairn/locks");
  WriteBytes(FormatFile(s.dirs[2]), s.formats[2]);
  ::close(fd);  // releases the lock
  heal.join();
  REQUIRE(r.ok());
  CHECK(r->empty());  // the member was whole by the time it looked
  RequireAllOnline(s.dirs);
}

TEST_CASE("two PrepareMembers at once: one formats, neither refuses", "[members][lock]") {
  SetDirs s;
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    EmptyDir(s.dirs[4]);
    Result<std::vector<MemberRepair>> a = std::vector<MemberRepair>{}, b = a;
    std::thread ta([&] { a = PrepareMembers(s.dirs, false); });
    std::thread tb([&] { b = PrepareMembers(s.dirs, false); });
    ta.join();
    tb.join();
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->size() + b->size() == 1);
    for (const auto* r : {&*a, &*b}) {
      for (const auto& m : *r) CHECK(m.action == MemberRepair::Action::kFormatted);
    }
    CHECK(ReadBytes(FormatFile(s.dirs[4])) == s.formats[4]);
  }
  RequireAllOnline(s.dirs);
}

TEST_CASE("two inits of the same directories at once: one set, the other refused",
          "[members][lock][init]") {
  for (int round = 0; round < 10; ++round) {
    CAPTURE(round);
    TempDir t;
    std::vector<std::string> dirs, reversed;
    for (int i = 0; i < 3; ++i) dirs.push_back(t.path() + "/m" + std::to_string(i));
    reversed.assign(dirs.rbegin(), dirs.rend());  // locks are taken in one order whatever is given
    Status a, b;
    std::thread ta([&] { a = InitSet(dirs, Params(2, 1), false); });
    std::thread tb([&] { b = InitSet(reversed, Params(2, 1), false); });
    ta.join();
    tb.join();
    INFO(a.ToString() << " / " << b.ToString());
    CHECK(a.ok() != b.ok());
    const Status& refused = a.ok() ? b : a;
    CHECK(refused.code() == Code::kInvalidArgument);
    CHECK(refused.message().find("already belongs to a volume set") != std::string::npos);
    // Every member carries the one set that won.
    auto f0 = DecodeFormatOf(dirs[0]);
    REQUIRE(f0.ok());
    for (const auto& d : dirs) {
      auto f = DecodeFormatOf(d);
      REQUIRE(f.ok());
      CHECK(f->set_id == f0->set_id);
    }
  }
}
