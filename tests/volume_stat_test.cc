// The Volume calls a served directory needs: listings with stat data, the stat of an open file,
// a file descriptor for sendfile, and AppendFrom (copy_file_range or a buffered copy).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "libstore/volume/crash_volume.h"
#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

class TmpRoot {
 public:
  TmpRoot() {
    char tmpl[] = "/tmp/cairn-vstat-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TmpRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct AnyVolume {
  explicit AnyVolume(const std::string& kind) : kind(kind) {
    if (kind == "local") {
      tmp = std::make_unique<TmpRoot>();
      vol = NewLocalVolume(tmp->path());
    } else if (kind == "local-walk") {
      tmp = std::make_unique<TmpRoot>();
      vol = NewLocalVolume(tmp->path(), LocalPathMode::kStrictWalk);
    } else if (kind == "crash") {
      vol = std::make_unique<CrashVolume>("t");
    } else {
      vol = NewMemVolume("t");
    }
  }
  bool local() const { return tmp != nullptr; }
  std::string kind;
  std::unique_ptr<TmpRoot> tmp;
  std::unique_ptr<Volume> vol;
};

std::map<std::string, FileInfo> ByName(const std::vector<StatEntry>& v) {
  std::map<std::string, FileInfo> m;
  for (const auto& e : v) m[e.name] = e.info;
  return m;
}

}  // namespace

TEST_CASE("ListDirStat describes every entry in one call", "[volume][volstat]") {
  for (const char* kind : {"mem", "local", "local-walk", "crash"}) {
    CAPTURE(kind);
    AnyVolume v(kind);
    REQUIRE(v.vol->MakeDirs("d/sub").ok());
    REQUIRE(v.vol->WriteFile("d/f1", "hello", false).ok());
    REQUIRE(v.vol->WriteFile("d/f2", std::string(1000, 'x'), false).ok());
    REQUIRE(v.vol->WriteFile("d/sub/deep", "z", false).ok());
    auto r = v.vol->ListDirStat("d");
    REQUIRE(r.ok());
    auto m = ByName(*r);
    REQUIRE(m.size() == 3);
    CHECK(m["f1"].kind == FileKind::kFile);
    CHECK(m["f1"].size == 5);
    CHECK(m["f2"].size == 1000);
    CHECK(m["sub"].kind == FileKind::kDir);
    // The same answer as Stat, field by field.
    for (const auto& [name, fi] : m) {
      auto st = v.vol->Stat("d/" + name);
      REQUIRE(st.ok());
      CHECK(st->size == fi.size);
      CHECK(st->mtime_ns == fi.mtime_ns);
      CHECK(st->ctime_ns == fi.ctime_ns);
      CHECK(st->ino == fi.ino);
      CHECK(st->dev == fi.dev);
      CHECK(st->kind == fi.kind);
    }
    if (std::string(kind) != "crash") {
      CHECK(m["f1"].ino != 0);
      CHECK(m["f1"].ino != m["f2"].ino);
      CHECK(m["f1"].ctime_ns != 0);
    }
    auto root = v.vol->ListDirStat("");
    REQUIRE(root.ok());
    CHECK(ByName(*root).count("d") == 1);
    CHECK(v.vol->ListDirStat("nope").status().code() == Code::kNotFound);
    CHECK(v.vol->ListDirStat("d/f1").status().code() == Code::kIOError);  // ENOTDIR
    CHECK(v.vol->ListDirStat("../x").status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("ListDirStat on LocalVolume reports symlinks without following them",
          "[volume][volstat]") {
  TmpRoot outside;
  AnyVolume v("local");
  REQUIRE(v.vol->MakeDirs("d").ok());
  REQUIRE(::symlink(outside.path().c_str(), (v.tmp->path() + "/d/link").c_str()) == 0);
  REQUIRE(::mkfifo((v.tmp->path() + "/d/fifo").c_str(), 0644) == 0);
  auto r = v.vol->ListDirStat("d");
  REQUIRE(r.ok());
  auto m = ByName(*r);
  CHECK(m["link"].kind == FileKind::kSymlink);
  CHECK(m["fifo"].kind == FileKind::kOther);
  // A symlinked directory on the way is refused, never listed through.
  CHECK(v.vol->ListDirStat("d/link").status().code() == Code::kCorruption);
}

TEST_CASE("Stat below a directory on LocalVolume: absent, entries, links, files on the way",
          "[volume][volstat]") {
  // Stat looks a path below a directory up whole (one openat2 that says "absent" at once) and
  // falls back to the parent's lookup for anything else: each answer must be the exact one.
  TmpRoot outside;
  REQUIRE(::mkfifo((outside.path() + "/x").c_str(), 0644) == 0);
  for (const char* kind : {"local", "local-walk"}) {
    CAPTURE(kind);
    AnyVolume v(kind);
    const std::string root = v.tmp->path();
    REQUIRE(v.vol->MakeDirs("d/sub").ok());
    REQUIRE(v.vol->WriteFile("d/f", "12345", false).ok());
    REQUIRE(::symlink(outside.path().c_str(), (root + "/d/link").c_str()) == 0);
    REQUIRE(::symlink("f", (root + "/d/flink").c_str()) == 0);
    REQUIRE(::mkfifo((root + "/d/fifo").c_str(), 0644) == 0);
    auto f = v.vol->Stat("d/f");
    REQUIRE(f.ok());
    CHECK(f->kind == FileKind::kFile);
    CHECK(f->size == 5);
    struct stat raw;
    REQUIRE(::lstat((root + "/d/f").c_str(), &raw) == 0);
    CHECK(f->ino == uint64_t(raw.st_ino));
    CHECK(v.vol->Stat("d/sub")->kind == FileKind::kDir);
    CHECK(v.vol->Stat("d/fifo")->kind == FileKind::kOther);
    // A symlink at the end is described, never followed.
    CHECK(v.vol->Stat("d/link")->kind == FileKind::kSymlink);
    CHECK(v.vol->Stat("d/flink")->kind == FileKind::kSymlink);
    CHECK(v.vol->Stat("d/missing").status().code() == Code::kNotFound);
    CHECK(v.vol->Stat("d/nodir/missing").status().code() == Code::kNotFound);
    CHECK(v.vol->Stat("nodir/missing").status().code() == Code::kNotFound);
    // Through a symlink on the way: refused (kCorruption names it), never looked at beyond it.
    CHECK(v.vol->Stat("d/link/x").status().code() == Code::kCorruption);
    // Through a file: ENOTDIR, which plain directories take for "absent".
    auto through = v.vol->Stat("d/f/x");
    CHECK(!through.ok());
    CHECK(through.status().code() != Code::kCorruption);
  }
}

TEST_CASE("StatOpen describes the opened inode; a replaced name is told apart",
          "[volume][volstat]") {
  for (const char* kind : {"mem", "local"}) {
    CAPTURE(kind);
    AnyVolume v(kind);
    REQUIRE(v.vol->WriteFile("f", "one", false).ok());
    auto f = v.vol->NewReadableFile("f");
    REQUIRE(f.ok());
    auto open_st = (*f)->StatOpen();
    REQUIRE(open_st.ok());
    auto path_st = v.vol->Stat("f");
    REQUIRE(path_st.ok());
    CHECK(open_st->ino == path_st->ino);
    CHECK(open_st->size == 3);
    CHECK(open_st->mtime_ns == path_st->mtime_ns);
    // Replace the name with another file: the open handle still describes the old inode.
    REQUIRE(v.vol->WriteFile("g", "second", false).ok());
    REQUIRE(v.vol->Rename("g", "f").ok());
    auto after = v.vol->Stat("f");
    REQUIRE(after.ok());
    CHECK(after->ino != open_st->ino);
    auto again = (*f)->StatOpen();
    REQUIRE(again.ok());
    CHECK(again->ino == open_st->ino);
    CHECK(again->size == 3);
    // A rename changes ctime (the stamp a record keeps sees it), not mtime.
    auto moved_from = v.vol->Stat("f");
    REQUIRE(v.vol->Rename("f", "h").ok());
    auto moved = v.vol->Stat("h");
    REQUIRE(moved.ok());
    CHECK(moved->ino == moved_from->ino);
    CHECK(moved->mtime_ns == moved_from->mtime_ns);
    if (std::string(kind) == "mem") CHECK(moved->ctime_ns != moved_from->ctime_ns);
  }
}

TEST_CASE("NativeFd: LocalVolume files have one, others say none", "[volume][volstat]") {
  AnyVolume local("local");
  REQUIRE(local.vol->WriteFile("f", "abcdef", false).ok());
  auto lf = local.vol->NewReadableFile("f");
  REQUIRE(lf.ok());
  int fd = (*lf)->NativeFd();
  REQUIRE(fd >= 0);
  char buf[3];
  REQUIRE(::pread(fd, buf, 3, 2) == 3);
  CHECK(std::string(buf, 3) == "cde");

  AnyVolume mem("mem");
  REQUIRE(mem.vol->WriteFile("f", "abc", false).ok());
  auto mf = mem.vol->NewReadableFile("f");
  REQUIRE(mf.ok());
  CHECK((*mf)->NativeFd() == -1);

  FaultyVolume faulty(local.vol.get(), 1);
  auto ff = faulty.NewReadableFile("f");
  REQUIRE(ff.ok());
  CHECK((*ff)->NativeFd() == -1);  // a faulty wrapper must see every read
}

TEST_CASE("AppendFrom copies a range between files of one volume", "[volume][volstat]") {
  const std::string data = RandomBytes(3 * (256 << 10) + 777, 5);
  for (const char* kind : {"mem", "local", "local-walk"}) {
    CAPTURE(kind);
    AnyVolume v(kind);
    REQUIRE(v.vol->WriteFile("src", data, false).ok());
    auto src = v.vol->NewReadableFile("src");
    REQUIRE(src.ok());
    auto dst = v.vol->NewWritableFile("dst");
    REQUIRE(dst.ok());
    REQUIRE((*dst)->Append("head", 4).ok());
    auto n = (*dst)->AppendFrom(**src, 100, data.size() - 200);
    REQUIRE(n.ok());
    CHECK(*n == data.size() - 200);
    // Appends after a copy land after it.
    REQUIRE((*dst)->Append("tail", 4).ok());
    // A range running past the end copies what there is.
    auto rest = (*dst)->AppendFrom(**src, data.size() - 10, 1000);
    REQUIRE(rest.ok());
    CHECK(*rest == 10);
    REQUIRE((*dst)->Close().ok());
    auto got = v.vol->ReadFile("dst", 1 << 24);
    REQUIRE(got.ok());
    CHECK(*got ==
          "head" + data.substr(100, data.size() - 200) + "tail" + data.substr(data.size() - 10));
  }
}

TEST_CASE("AppendFrom through a FaultyVolume sees injected faults", "[volume][volstat]") {
  auto mem = NewMemVolume();
  const std::string data = RandomBytes(600 << 10, 6);
  REQUIRE(mem->WriteFile("src", data, false).ok());
  FaultyVolume fv(mem.get(), 2);
  FaultRule r;
  r.op = FaultOp::kAppend;
  r.kind = FaultKind::kNoSpace;
  r.after_bytes = 300 << 10;
  fv.AddRule(r);
  auto src = fv.NewReadableFile("src");
  REQUIRE(src.ok());
  auto dst = fv.NewWritableFile("dst");
  REQUIRE(dst.ok());
  auto n = (*dst)->AppendFrom(**src, 0, data.size());
  CHECK(n.status().code() == Code::kNoSpace);
  CHECK(fv.injected() == 1);
  FaultRule rd;
  rd.op = FaultOp::kRead;
  fv.ClearRules();
  fv.AddRule(rd);
  auto dst2 = fv.NewWritableFile("dst2");
  REQUIRE(dst2.ok());
  CHECK((*dst2)->AppendFrom(**src, 0, 10).status().code() == Code::kIOError);
}

TEST_CASE("FaultyVolume gates ListDirStat and StatOpen", "[volume][volstat]") {
  auto mem = NewMemVolume();
  REQUIRE(mem->WriteFile("f", "x", false).ok());
  FaultyVolume fv(mem.get(), 3);
  auto f = fv.NewReadableFile("f");
  REQUIRE(f.ok());
  FaultRule r;
  r.op = FaultOp::kListDir;
  fv.AddRule(r);
  CHECK(fv.ListDirStat("").status().code() == Code::kIOError);
  fv.ClearRules();
  CHECK(fv.ListDirStat("").ok());
  r.op = FaultOp::kStat;
  fv.AddRule(r);
  CHECK((*f)->StatOpen().status().code() == Code::kIOError);
}
