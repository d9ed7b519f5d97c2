// PrepareMembers on real directories: a replaced (empty or missing) member directory gets its old
// identity back; anything that holds data or another identity is refused and left untouched.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "libstore/object/set_open.h"

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
  CHECK((*r)[0].action == "formatted");
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
  CHECK((*r)[0].action == "missing");
  CHECK((*r)[0].why.find("create it") != std::string::npos);
  CHECK((*r)[0].path == s.dirs[4]);
  CHECK(!fs::exists(fs::path(s.dirs[4]).parent_path()));
  // Once it exists (the new disk mounted there), it takes the member's old place.
  fs::create_directories(s.dirs[4]);
  r = PrepareMembers({s.dirs[0]}, false);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].action == "formatted");
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
  CHECK(m1->action == "would-format");
  CHECK(m3->action == "would-format");
  CHECK(m3->path == s.dirs[3]);
  CHECK(fs::is_empty(s.dirs[1]));
  CHECK(fs::is_empty(s.dirs[3]));

  // The dry run predicted the real one.
  auto real = PrepareMembers(s.dirs, false);
  REQUIRE(real.ok());
  REQUIRE(real->size() == 2);
  REQUIRE(Find(*real, 1) != nullptr);
  REQUIRE(Find(*real, 3) != nullptr);
  CHECK(Find(*real, 1)->action == "formatted");
  CHECK(Find(*real, 3)->action == "formatted");
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
    CHECK((*r)[0].action == "refused");
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
  CHECK((*r)[0].action == "refused");
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
  CHECK((*r)[0].action == "refused");
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
  CHECK((*r)[0].action == "formatted");
  CHECK(fs::is_directory(s.dirs[5] + "/lost+found"));
  CHECK(ReadBytes(FormatFile(s.dirs[5])) == s.formats[5]);
  RequireAllOnline(s.dirs);
}
