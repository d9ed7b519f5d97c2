// Volume tests: one contract run against LocalVolume (a fresh temp dir) and MemVolume so they
// behave alike; ValidateRelPath; FaultyVolume's rules, kinds, counters and determinism.
#include "libstore/volume/volume.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/group_sync.h"
#include "libstore/volume/crash_volume.h"
#include "libstore/volume/faulty_volume.h"

namespace Catch {
template <>
struct StringMaker<cairn::Code> {
  static std::string convert(cairn::Code c) { return cairn::CodeName(c); }
};
}  // namespace Catch

namespace cairn {
namespace {

Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

#define REQUIRE_OK(expr)                       \
  do {                                         \
    const ::cairn::Status _s = StatusOf(expr); \
    INFO(_s.ToString());                       \
    REQUIRE(_s.ok());                          \
  } while (0)

#define CHECK_CODE(expr, want)                 \
  do {                                         \
    const ::cairn::Status _s = StatusOf(expr); \
    INFO(_s.ToString());                       \
    CHECK(_s.code() == (want));                \
  } while (0)

// Seeded bytes, so a failure reproduces.
std::string Pattern(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// "name" for files, "name/" for directories, sorted.
std::vector<std::string> Names(const std::vector<DirEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name + (e.is_dir() ? "/" : ""));
  std::sort(out.begin(), out.end());
  return out;
}

std::string ErrnoText(int err) { return std::strerror(err); }

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cairn-volume-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A fresh volume of the given kind. A LocalVolume's root is <tmp>/root, so anything that escapes
// the root would show up in <tmp>.
class TestVolume {
 public:
  explicit TestVolume(const std::string& kind) : kind_(kind) {
    if (kind == "local" || kind == "local-walk") {
      tmp_ = std::make_unique<TempDir>();
      root_ = tmp_->path() + "/root";
      REQUIRE(::mkdir(root_.c_str(), 0755) == 0);
      vol_ = kind == "local" ? NewLocalVolume(root_)
                             : NewLocalVolume(root_, LocalPathMode::kStrictWalk);
    } else if (kind == "crash") {
      vol_ = std::make_unique<CrashVolume>("t");
    } else {
      REQUIRE(kind == "mem");
      vol_ = NewMemVolume("t");
    }
  }
  Volume* get() const { return vol_.get(); }
  Volume* operator->() const { return vol_.get(); }
  bool local() const { return kind_ == "local" || kind_ == "local-walk"; }
  const std::string& root() const { return root_; }
  const std::string& tmp() const { return tmp_->path(); }
  // Entries next to the root (LocalVolume only): must stay exactly {"root"}.
  std::vector<std::string> OutsideRoot() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(tmp_->path())) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }

 private:
  std::string kind_;
  std::unique_ptr<TempDir> tmp_;
  std::string root_;
  std::unique_ptr<Volume> vol_;
};

std::string MustRead(Volume* v, const std::string& path) {
  auto r = v->ReadFile(path, 1 << 20);
  INFO(path << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return r.value();
}

// ------------------------------------------------------------------------------------------------
// The contract, run on both implementations.

TEST_CASE("volume: write, append, read back", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);

  SECTION("AppendV with several buffers, then Append, then read") {
    const std::string a = "hello", b = Pattern(4096, 1), c = "!";
    auto w = v->NewWritableFile("f");
    REQUIRE_OK(w);
    ConstBuf bufs[] = {
        {a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}, {c.data(), c.size()}};
    REQUIRE_OK((*w)->AppendV(bufs, 4));
    REQUIRE_OK((*w)->Append("tail", 4));
    REQUIRE_OK((*w)->Sync());
    REQUIRE_OK((*w)->Close());
    CHECK(MustRead(v.get(), "f") == a + b + c + "tail");
    // A closed file refuses further calls.
    CHECK_CODE((*w)->Append("x", 1), Code::kIOError);
    CHECK_CODE((*w)->Sync(), Code::kIOError);
    CHECK_CODE((*w)->Close(), Code::kIOError);
  }

  SECTION("many buffers in one AppendV") {
    std::vector<std::string> parts;
    std::vector<ConstBuf> bufs;
    std::string all;
    for (int i = 0; i < 200; ++i) parts.push_back(Pattern(1 + i % 7, 100 + i));
    for (const auto& p : parts) {
      bufs.push_back(ConstBuf{p.data(), p.size()});
      all += p;
    }
    auto w = v->NewWritableFile("many");
    REQUIRE_OK(w);
    REQUIRE_OK((*w)->AppendV(bufs.data(), static_cast<int>(bufs.size())));
    REQUIRE_OK((*w)->Close());
    CHECK(MustRead(v.get(), "many") == all);
  }

  SECTION("WriteFile creates and truncates") {
    REQUIRE_OK(v->WriteFile("f", "a long first version", true));
    REQUIRE_OK(v->WriteFile("f", "short", false));
    CHECK(MustRead(v.get(), "f") == "short");
    REQUIRE_OK(v->WriteFile("empty", "", true));
    CHECK(MustRead(v.get(), "empty").empty());
  }

  SECTION("appended bytes are visible to a reader before Close") {
    auto w = v->NewWritableFile("live");
    REQUIRE_OK(w);
    auto r = v->NewReadableFile("live");
    REQUIRE_OK(r);
    CHECK((*r)->Size().value() == 0);
    REQUIRE_OK((*w)->Append("abc", 3));
    CHECK((*r)->Size().value() == 3);
    char buf[8] = {};
    auto n = (*r)->ReadAt(0, buf, sizeof buf);
    REQUIRE_OK(n);
    CHECK(std::string(buf, *n) == "abc");
    REQUIRE_OK((*w)->Close());
  }

  SECTION("a missing parent directory is kNotFound") {
    CHECK_CODE(v->NewWritableFile("nodir/f"), Code::kNotFound);
    CHECK_CODE(v->WriteFile("nodir/f", "x", false), Code::kNotFound);
    REQUIRE_OK(v->MakeDirs("d"));
    REQUIRE_OK(v->WriteFile("d/f", "x", false));
    CHECK(MustRead(v.get(), "d/f") == "x");
  }

  SECTION("a file in the middle of a path is not a directory") {
    REQUIRE_OK(v->WriteFile("f", "x", false));
    CHECK_CODE(v->NewWritableFile("f/g"), Code::kIOError);  // ENOTDIR
    CHECK_CODE(v->Stat("f/g"), Code::kIOError);
    CHECK_CODE(v->ListDir("f"), Code::kIOError);
  }

  SECTION("writing over a directory is refused") {
    REQUIRE_OK(v->MakeDirs("d"));
    auto w = v->NewWritableFile("d");
    REQUIRE(!w.ok());
    CHECK(w.status().code() == Code::kIOError);
    CHECK(EndsWith(w.status().message(), ErrnoText(EISDIR)));
    CHECK(!v->ReadFile("d", 1 << 20).ok());
  }
}

// Pages of path in the page cache (mincore over a mapping of the file).
size_t ResidentPages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  const size_t len = size_t(st.st_size);
  void* m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  REQUIRE(m != MAP_FAILED);
  std::vector<unsigned char> vec((len + page - 1) / page);
  REQUIRE(::mincore(m, len, vec.data()) == 0);
  ::munmap(m, len);
  size_t n = 0;
  for (unsigned char c : vec) n += c & 1;
  return n;
}

// Whether files in dir can be opened with O_DIRECT (not on tmpfs before Linux 6.6, for one).
bool DirectIoWorks(const std::string& dir) {
  const std::string probe = dir + "/direct-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  return fd >= 0;
}

TEST_CASE("volume: BypassCache keeps every byte, in order, whatever the alignment",
          "[volume][direct]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  // Aligned (page-aligned pool buffers) and unaligned pieces, so that both the direct path and
  // the stage are taken, and a stage that fills and spills.
  PooledBuffer big(3 << 20);
  const std::string pat = Pattern(3 << 20, 7);
  std::memcpy(big.data(), pat.data(), pat.size());
  const std::string odd = Pattern(300 << 10, 8), tiny = Pattern(100, 9);
  std::string want;
  auto w = v->NewWritableFile("f");
  REQUIRE_OK(w);
  WritableFile& f = **w;
  f.BypassCache();
  auto append = [&](const void* p, size_t n) {
    REQUIRE_OK(f.Append(p, n));
    want.append(static_cast<const char*>(p), n);
  };
  append(big.data(), 1 << 20);             // aligned: straight from the buffer
  append(tiny.data(), tiny.size());        // into the stage
  append(big.data() + (1 << 20), 1 << 20);  // aligned, but behind staged bytes: staged too
  append(odd.data() + 1, odd.size() - 1);
  ConstBuf bufs[] = {{tiny.data(), 17}, {big.data() + (2 << 20), 1 << 20}, {odd.data(), 5}};
  REQUIRE_OK(f.AppendV(bufs, 3));
  for (const auto& b : bufs) want.append(static_cast<const char*>(b.data), b.size);
  // At addresses congruent to their file offsets: the staged page completed from them, then
  // straight from the buffer; once with a part page staged, once with whole pages staged.
  append(big.data() + want.size() % kDirectAppendAlign, (300 << 10) + 99);
  append(odd.data(), kDirectAppendAlign - want.size() % kDirectAppendAlign);  // (not tiny: short)
  append(big.data(), kDirectAppendAlign);  // whole pages staged behind the run
  append(big.data(), (64 << 10) + 1);

  SECTION("Close") { REQUIRE_OK(f.Close()); }
  SECTION("Sync, then more appends, then Close") {
    REQUIRE_OK(f.Sync());
    append(tiny.data(), tiny.size());
    append(big.data(), 1 << 20);
    REQUIRE_OK(f.Close());
  }
  SECTION("WriteAt over bytes still staged, then Close") {
    const size_t at = want.size() - 4;
    REQUIRE_OK(f.WriteAt(at, "WXYZ", 4));
    want.replace(at, 4, "WXYZ");
    REQUIRE_OK(f.Close());
  }
  SECTION("StatOpen sees every byte") {
    auto info = f.StatOpen();
    if (info.ok()) CHECK(info->size == want.size());  // a volume may not say (kInternal)
    REQUIRE_OK(f.Close());
  }
  SECTION("destruction without Close") { w->reset(); }
  auto got = v->ReadFile("f", 64 << 20);
  REQUIRE_OK(got);
  CHECK(got->size() == want.size());
  CHECK(*got == want);
}

TEST_CASE("LocalVolume: BypassCache writes past the page cache", "[volume][direct]") {
  TestVolume v("local");
  if (!DirectIoWorks(v.root())) {
    WARN("O_DIRECT is refused under " << v.root() << ": BypassCache is a no-op there");
    return;
  }
  PooledBuffer buf(4 << 20);
  std::memset(buf.data(), 'a', 4 << 20);
  for (const bool bypass : {false, true}) {
    INFO("bypass " << bypass);
    const std::string name = bypass ? "direct" : "buffered";
    auto w = v->NewWritableFile(name);
    REQUIRE_OK(w);
    if (bypass) (*w)->BypassCache();
    REQUIRE_OK((*w)->Append(buf.data(), 4 << 20));
    REQUIRE_OK((*w)->Close());
    const size_t resident = ResidentPages(v.root() + "/" + name);
    // Buffered: the pages just written are cached (all of them, unless reclaimed at once).
    if (bypass) CHECK(resident == 0);
    else CHECK(resident > 0);
  }
}

TEST_CASE("LocalVolume: a direct append congruent to its file offset stages only its tail",
          "[volume][direct]") {
  TestVolume v("local");
  if (!DirectIoWorks(v.root())) {
    WARN("O_DIRECT is refused under " << v.root() << ": BypassCache is a no-op there");
    return;
  }
  PooledBuffer buf(1 << 20);
  const std::string pat = Pattern(1 << 20, 3);
  std::memcpy(buf.data(), pat.data(), pat.size());
  auto w = v->NewWritableFile("f");
  REQUIRE_OK(w);
  WritableFile& f = **w;
  f.BypassCache();
  REQUIRE_OK(f.Append(pat.data(), 100));  // staged: not a whole page
  CHECK(v->Stat("f").value().size == 0);
  // 100 KiB at address 100 of a page, file offset 100: the staged page is completed and written
  // with every whole page after it (copied into the 256 KiB stage, nothing would be on disk yet).
  const size_t n = 100 << 10;
  REQUIRE_OK(f.Append(buf.data() + 100, n));
  CHECK(v->Stat("f").value().size == n);  // 100 + n bytes appended, the last 100 staged
  REQUIRE_OK(f.Close());
  std::string want = pat.substr(0, 100) + pat.substr(100, n);
  CHECK(v->ReadFile("f", 1 << 20).value() == want);
}

TEST_CASE("volume: ReadAt at offsets and short reads at EOF", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  const std::string data = Pattern(1000, 7);
  REQUIRE_OK(v->WriteFile("f", data, false));
  auto rf = v->NewReadableFile("f");
  REQUIRE_OK(rf);
  ReadableFile* r = rf->get();
  CHECK(r->Size().value() == 1000);

  struct Case {
    uint64_t offset;
    size_t n;
    size_t want;
  };
  const Case cases[] = {{0, 1000, 1000}, {0, 1, 1},      {500, 100, 100},
                        {999, 1, 1},     {990, 100, 10}, {1, 2000, 999},
                        {1000, 10, 0},   {5000, 10, 0},  {0, 0, 0}};
  for (const auto& c : cases) {
    INFO("offset " << c.offset << " n " << c.n);
    std::string buf(c.n, '\x55');
    auto got = r->ReadAt(c.offset, buf.data(), c.n);
    REQUIRE_OK(got);
    CHECK(*got == c.want);
    CHECK(buf.substr(0, *got) == data.substr(std::min<size_t>(c.offset, data.size()), c.want));
  }
  CHECK_CODE(v->NewReadableFile("missing"), Code::kNotFound);
}

TEST_CASE("volume: ReadFile max_size", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->WriteFile("f", Pattern(100, 3), false));
  auto exact = v->ReadFile("f", 100);
  REQUIRE_OK(exact);
  CHECK(*exact == Pattern(100, 3));
  CHECK_CODE(v->ReadFile("f", 99), Code::kCorruption);
  CHECK_CODE(v->ReadFile("f", 0), Code::kCorruption);
  CHECK_CODE(v->ReadFile("missing", 100), Code::kNotFound);
  // Around LocalVolume's one-read fast path (16 KiB) and far past it.
  for (size_t n : {size_t(0), size_t(16383), size_t(16384), size_t(16385), size_t(1 << 20) + 3}) {
    INFO("size " << n);
    REQUIRE_OK(v->WriteFile("g", Pattern(n, 5), false));
    auto got = v->ReadFile("g", n);
    REQUIRE_OK(got);
    CHECK(*got == Pattern(n, 5));
    if (n > 0) CHECK_CODE(v->ReadFile("g", n - 1), Code::kCorruption);
  }
}

TEST_CASE("volume: Rename of files", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->MakeDirs("d"));

  SECTION("replaces the target") {
    REQUIRE_OK(v->WriteFile("d/tmp", "new", true));
    REQUIRE_OK(v->WriteFile("d/obj", "old version", true));
    REQUIRE_OK(v->Rename("d/tmp", "d/obj"));
    CHECK(MustRead(v.get(), "d/obj") == "new");
    CHECK_CODE(v->Stat("d/tmp"), Code::kNotFound);
    CHECK(Names(v->ListDir("d").value()) == std::vector<std::string>{"obj"});
  }
  SECTION("moves across directories, to a new name") {
    REQUIRE_OK(v->MakeDirs("e"));
    REQUIRE_OK(v->WriteFile("d/a", "x", false));
    REQUIRE_OK(v->Rename("d/a", "e/b"));
    CHECK(MustRead(v.get(), "e/b") == "x");
    CHECK_CODE(v->Stat("d/a"), Code::kNotFound);
  }
  SECTION("an open writer keeps writing to the renamed file") {
    auto w = v->NewWritableFile("d/tmp");
    REQUIRE_OK(w);
    REQUIRE_OK((*w)->Append("12", 2));
    REQUIRE_OK(v->Rename("d/tmp", "d/final"));
    REQUIRE_OK((*w)->Append("34", 2));
    REQUIRE_OK((*w)->Close());
    CHECK(MustRead(v.get(), "d/final") == "1234");
  }
  SECTION("onto itself is a no-op") {
    REQUIRE_OK(v->WriteFile("d/a", "x", false));
    REQUIRE_OK(v->Rename("d/a", "d/a"));
    CHECK(MustRead(v.get(), "d/a") == "x");
  }
  SECTION("errors") {
    REQUIRE_OK(v->WriteFile("d/a", "x", false));
    CHECK_CODE(v->Rename("d/missing", "d/b"), Code::kNotFound);
    CHECK_CODE(v->Rename("d/a", "nodir/b"), Code::kNotFound);
    CHECK_CODE(v->Rename("nodir/a", "d/b"), Code::kNotFound);
    REQUIRE_OK(v->MakeDirs("d/sub"));
    CHECK_CODE(v->Rename("d/a", "d/sub"), Code::kIOError);  // EISDIR
    CHECK_CODE(v->Rename("d/a", "d/a/b"), Code::kIOError);  // ENOTDIR
    // Nothing moved.
    CHECK(MustRead(v.get(), "d/a") == "x");
    CHECK(v->Stat("d/sub").value().is_dir());
  }
}

TEST_CASE("volume: RenameAndStat describes the file it renamed", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->MakeDirs("d"));
  REQUIRE_OK(v->MakeDirs("t"));
  v->PinDir("t");  // the temp directory of a store: one step from its fd
  REQUIRE_OK(v->WriteFile("t/tmp", "new bytes", true));
  REQUIRE_OK(v->WriteFile("d/obj", "old", true));
  const FileInfo before = v->Stat("t/tmp").value();
  std::optional<FileInfo> after;
  REQUIRE_OK(v->RenameAndStat("t/tmp", "d/obj", &after));
  REQUIRE(after.has_value());
  const FileInfo now = v->Stat("d/obj").value();
  CHECK(after->kind == FileKind::kFile);
  CHECK(after->size == 9);
  CHECK(after->ino == before.ino);
  CHECK(after->ino == now.ino);
  CHECK(after->dev == now.dev);
  CHECK(after->mtime_ns == now.mtime_ns);
  CHECK(after->ctime_ns == now.ctime_ns);  // after the rename, which may have changed it
  CHECK(MustRead(v.get(), "d/obj") == "new bytes");
  // A rename that fails says so and describes nothing.
  std::optional<FileInfo> none;
  CHECK_CODE(v->RenameAndStat("t/missing", "d/x", &none), Code::kNotFound);
  CHECK_FALSE(none.has_value());
  CHECK_CODE(v->RenameAndStat("d/obj", "nodir/x", &none), Code::kNotFound);
  CHECK_FALSE(none.has_value());
}

TEST_CASE("volume: RenameNoReplace", "[volume]") {
  // "default": Volume's own, Stat then Rename (a wrapper that does not forward it).
  const std::string kind =
      GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash", "default");
  INFO("volume kind " << kind);
  TestVolume tv(kind == "default" ? "mem" : kind);
  struct OwnDefault : VolumeWrapper {
    using VolumeWrapper::VolumeWrapper;
    Status RenameNoReplace(const std::string& f, const std::string& t) override {
      return Volume::RenameNoReplace(f, t);
    }
  } own_default(tv.get());
  Volume* v = kind == "default" ? static_cast<Volume*>(&own_default) : tv.get();
  REQUIRE_OK(v->MakeDirs("d"));
  REQUIRE_OK(v->MakeDirs("e"));
  REQUIRE_OK(v->WriteFile("d/tmp", "new", false));

  SECTION("moves to an absent name, across directories") {
    REQUIRE_OK(v->RenameNoReplace("d/tmp", "e/obj"));
    CHECK(MustRead(v, "e/obj") == "new");
    CHECK_CODE(v->Stat("d/tmp"), Code::kNotFound);
  }
  SECTION("refuses an existing file and changes nothing") {
    REQUIRE_OK(v->WriteFile("e/obj", "old", false));
    CHECK_CODE(v->RenameNoReplace("d/tmp", "e/obj"), Code::kAlreadyExists);
    CHECK(MustRead(v, "e/obj") == "old");
    CHECK(MustRead(v, "d/tmp") == "new");
  }
  SECTION("refuses an existing directory") {
    REQUIRE_OK(v->MakeDirs("e/sub"));
    CHECK_CODE(v->RenameNoReplace("d/tmp", "e/sub"), Code::kAlreadyExists);
    CHECK(MustRead(v, "d/tmp") == "new");
  }
  SECTION("a missing source or target directory is kNotFound") {
    CHECK_CODE(v->RenameNoReplace("d/missing", "e/obj"), Code::kNotFound);
    CHECK_CODE(v->RenameNoReplace("d/tmp", "nodir/obj"), Code::kNotFound);
    CHECK(MustRead(v, "d/tmp") == "new");
  }
}

TEST_CASE("LocalVolume: HoldDir serves this thread's calls in the directory until ReleaseDir",
          "[volume]") {
  TempDir tmp;
  const std::string root = tmp.path() + "/root";
  REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  auto v = NewLocalVolume(root);
  REQUIRE_OK(v->MakeDirs("d"));
  REQUIRE_OK(v->MakeDirs("t"));
  REQUIRE_OK(v->WriteFile("d/a", "a", false));
  REQUIRE_OK(v->WriteFile("t/tmp", "new", false));
  {
    ScopedDirHold hold(v.get(), "d");
    // The directory is moved behind the volume's back: calls on names in "d" still reach the
    // directory that was held (one look-up for them all), not the path.
    REQUIRE(::rename((root + "/d").c_str(), (root + "/moved").c_str()) == 0);
    REQUIRE_OK(v->Exchange("t/tmp", "d/a"));
    REQUIRE_OK(v->Rename("d/a", "d/b"));
    REQUIRE_OK(v->RenameNoReplace("t/tmp", "d/c"));
    REQUIRE_OK(v->Remove("d/c"));
    // Another thread looks the path up as ever.
    Status other;
    std::thread([&] { other = v->Rename("d/b", "d/x"); }).join();
    CHECK_CODE(other, Code::kNotFound);
  }
  CHECK(MustRead(v.get(), "moved/b") == "new");
  CHECK_CODE(v->Stat("moved/c"), Code::kNotFound);
  // Released: "d" is looked up again.
  CHECK_CODE(v->Rename("moved/b", "d/b"), Code::kNotFound);
  // A directory that is not there is not held.
  {
    ScopedDirHold hold(v.get(), "nodir");
    CHECK_CODE(v->Rename("moved/b", "nodir/b"), Code::kNotFound);
  }
  CHECK(MustRead(v.get(), "moved/b") == "new");
  // A hold of another volume replaces this one's: "moved" is looked up again.
  auto w = NewLocalVolume(root);
  REQUIRE_OK(w->MakeDirs("e"));
  {
    ScopedDirHold hold(v.get(), "moved");
    ScopedDirHold other(w.get(), "e");
    REQUIRE(::rename((root + "/moved").c_str(), (root + "/moved2").c_str()) == 0);
    CHECK_CODE(v->Rename("moved/b", "moved/c"), Code::kNotFound);
  }
  CHECK(MustRead(v.get(), "moved2/b") == "new");
}

TEST_CASE("volume: Rename of directories", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->MakeDirs("src/sub/deep"));
  REQUIRE_OK(v->WriteFile("src/a", "A", false));
  REQUIRE_OK(v->WriteFile("src/sub/b", "B", false));
  REQUIRE_OK(v->WriteFile("src/sub/deep/c", "C", false));
  // Neighbours sharing the prefix must not move along.
  REQUIRE_OK(v->WriteFile("src.x", "neighbour", false));
  REQUIRE_OK(v->MakeDirs("srcdir"));

  SECTION("moves the whole subtree to an absent target") {
    REQUIRE_OK(v->MakeDirs("dst"));
    REQUIRE_OK(v->Rename("src", "dst/moved"));
    CHECK_CODE(v->Stat("src"), Code::kNotFound);
    CHECK(MustRead(v.get(), "dst/moved/a") == "A");
    CHECK(MustRead(v.get(), "dst/moved/sub/b") == "B");
    CHECK(MustRead(v.get(), "dst/moved/sub/deep/c") == "C");
    CHECK(Names(v->ListDir("dst/moved").value()) == std::vector<std::string>{"a", "sub/"});
    CHECK(MustRead(v.get(), "src.x") == "neighbour");
    CHECK(v->Stat("srcdir").value().is_dir());
    CHECK(Names(v->ListDir("").value()) == std::vector<std::string>{"dst/", "src.x", "srcdir/"});
  }
  SECTION("replaces an empty directory") {
    REQUIRE_OK(v->MakeDirs("empty"));
    REQUIRE_OK(v->Rename("src", "empty"));
    CHECK(MustRead(v.get(), "empty/sub/deep/c") == "C");
  }
  SECTION("errors") {
    REQUIRE_OK(v->MakeDirs("full/x"));
    CHECK_CODE(v->Rename("src", "full"), Code::kNotEmpty);
    CHECK_CODE(v->Rename("src", "src.x"), Code::kIOError);       // ENOTDIR
    CHECK_CODE(v->Rename("src", "src/sub/in"), Code::kIOError);  // EINVAL: into itself
    CHECK_CODE(v->Rename("src", "nodir/x"), Code::kNotFound);
    CHECK(MustRead(v.get(), "src/sub/deep/c") == "C");
  }
}

TEST_CASE("volume: Remove and RemoveDir", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->MakeDirs("d/sub"));
  REQUIRE_OK(v->WriteFile("d/f", "x", false));

  SECTION("Remove") {
    REQUIRE_OK(v->Remove("d/f"));
    CHECK_CODE(v->Stat("d/f"), Code::kNotFound);
    CHECK_CODE(v->Remove("d/f"), Code::kNotFound);
    CHECK_CODE(v->Remove("nodir/f"), Code::kNotFound);
    auto s = v->Remove("d/sub");
    CHECK(s.code() == Code::kIOError);
    CHECK(EndsWith(s.message(), ErrnoText(EISDIR)));
    CHECK(v->Stat("d/sub").value().is_dir());
  }
  SECTION("RemoveDir") {
    auto s = v->RemoveDir("d");
    CHECK(s.code() == Code::kNotEmpty);
    CHECK(EndsWith(s.message(), ErrnoText(ENOTEMPTY)));
    s = v->RemoveDir("d/f");
    CHECK(s.code() == Code::kIOError);
    CHECK(EndsWith(s.message(), ErrnoText(ENOTDIR)));
    CHECK_CODE(v->RemoveDir("d/missing"), Code::kNotFound);
    REQUIRE_OK(v->RemoveDir("d/sub"));
    CHECK_CODE(v->Stat("d/sub"), Code::kNotFound);
    REQUIRE_OK(v->Remove("d/f"));
    REQUIRE_OK(v->RemoveDir("d"));
    CHECK(v->ListDir("").value().empty());
  }
  SECTION("an open reader keeps the removed file's bytes") {
    auto r = v->NewReadableFile("d/f");
    REQUIRE_OK(r);
    REQUIRE_OK(v->Remove("d/f"));
    char c = 0;
    CHECK((*r)->ReadAt(0, &c, 1).value() == 1);
    CHECK(c == 'x');
  }
}

TEST_CASE("volume: ListDir, Stat, MakeDirs, SyncDir", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);

  SECTION("ListDir lists direct children only") {
    REQUIRE_OK(v->MakeDirs("d/x/y"));
    REQUIRE_OK(v->MakeDirs("d/empty"));
    REQUIRE_OK(v->WriteFile("d/f1", "1", false));
    REQUIRE_OK(v->WriteFile("d/x/f2", "2", false));
    REQUIRE_OK(v->WriteFile("d/name with spaces", "3", false));
    REQUIRE_OK(v->WriteFile("d/\xc3\xa9t\xc3\xa9", "4", false));
    CHECK(Names(v->ListDir("d").value()) ==
          std::vector<std::string>{"empty/", "f1", "name with spaces", "x/", "\xc3\xa9t\xc3\xa9"});
    CHECK(Names(v->ListDir("d/x").value()) == std::vector<std::string>{"f2", "y/"});
    CHECK(v->ListDir("d/empty").value().empty());
    CHECK(Names(v->ListDir("").value()) == std::vector<std::string>{"d/"});
    CHECK_CODE(v->ListDir("missing"), Code::kNotFound);
    CHECK_CODE(v->ListDir("d/f1"), Code::kIOError);  // ENOTDIR
  }
  SECTION("Stat") {
    REQUIRE_OK(v->MakeDirs("d"));
    REQUIRE_OK(v->WriteFile("d/f", Pattern(1234, 5), false));
    auto f = v->Stat("d/f");
    REQUIRE_OK(f);
    CHECK(f->size == 1234);
    CHECK(!f->is_dir());
    CHECK(f->mtime_ns > 0);
    auto d = v->Stat("d");
    REQUIRE_OK(d);
    CHECK(d->is_dir());
    CHECK(v->Stat("").value().is_dir());  // the root
    CHECK_CODE(v->Stat("missing"), Code::kNotFound);
    CHECK_CODE(v->Stat("d/missing/x"), Code::kNotFound);

    // mtime never goes backwards when the file changes.
    REQUIRE_OK(v->WriteFile("d/f", "rewritten", false));
    auto f2 = v->Stat("d/f");
    REQUIRE_OK(f2);
    CHECK(f2->size == 9);
    CHECK(f2->mtime_ns >= f->mtime_ns);
  }
  SECTION("MakeDirs creates parents and is idempotent") {
    REQUIRE_OK(v->MakeDirs("a/b/c"));
    REQUIRE_OK(v->MakeDirs("a/b/c"));
    REQUIRE_OK(v->MakeDirs("a/b"));
    REQUIRE_OK(v->MakeDirs("a/b2"));
    CHECK(v->Stat("a").value().is_dir());
    CHECK(v->Stat("a/b/c").value().is_dir());
    CHECK(Names(v->ListDir("a").value()) == std::vector<std::string>{"b/", "b2/"});
    REQUIRE_OK(v->WriteFile("a/file", "x", false));
    CHECK_CODE(v->MakeDirs("a/file"), Code::kIOError);    // exists, not a directory
    CHECK_CODE(v->MakeDirs("a/file/x"), Code::kIOError);  // ENOTDIR on the way
    CHECK(MustRead(v.get(), "a/file") == "x");
  }
  SECTION("SyncDir and SyncAll") {
    REQUIRE_OK(v->MakeDirs("d"));
    REQUIRE_OK(v->WriteFile("d/f", "x", true));
    REQUIRE_OK(v->SyncDir("d"));
    REQUIRE_OK(v->SyncDir(""));
    REQUIRE_OK(v->SyncAll());
    CHECK_CODE(v->SyncDir("missing"), Code::kNotFound);
    CHECK_CODE(v->SyncDir("d/f"), Code::kIOError);  // ENOTDIR
  }
}

TEST_CASE("volume: RemoveAll", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->MakeDirs("t/a/b/c"));
  REQUIRE_OK(v->MakeDirs("t/empty"));
  REQUIRE_OK(v->WriteFile("t/f", "1", false));
  REQUIRE_OK(v->WriteFile("t/a/b/c/g", "2", false));
  REQUIRE_OK(v->WriteFile("t2", "keep", false));

  REQUIRE_OK(v->RemoveAll("t"));
  CHECK_CODE(v->Stat("t"), Code::kNotFound);
  CHECK(Names(v->ListDir("").value()) == std::vector<std::string>{"t2"});
  REQUIRE_OK(v->RemoveAll("t"));        // absent is fine
  REQUIRE_OK(v->RemoveAll("nodir/x"));  // so is a missing parent
  REQUIRE_OK(v->RemoveAll("t2"));       // a plain file
  CHECK(v->ListDir("").value().empty());
}

TEST_CASE("volume: concurrent writers on one volume", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->MakeDirs("c"));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string name = "c/" + std::to_string(t) + "-" + std::to_string(i);
        if (!v->WriteFile(name + ".tmp", Pattern(100, t * 100 + i), false).ok() ||
            !v->Rename(name + ".tmp", name).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  auto entries = v->ListDir("c");
  REQUIRE_OK(entries);
  CHECK(entries->size() == 160);
  CHECK(MustRead(v.get(), "c/3-7") == Pattern(100, 307));
}

TEST_CASE("volume: OverwriteFile over longer, shorter and no content", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->MakeDirs("p"));
  REQUIRE_OK(v->MakeDirs("q"));
  // "p" pinned (as a set's temp directory is): opened from it in one step; "q" by its path.
  v->PinDir("p");
  for (const std::string dir : {"p", "q"}) {
    INFO(dir);
    const std::string f = dir + "/f";
    REQUIRE_OK(v->OverwriteFile(f, Pattern(3000, 1)));  // a new file
    CHECK(MustRead(v.get(), f) == Pattern(3000, 1));
    REQUIRE_OK(v->OverwriteFile(f, Pattern(100, 2)));  // shorter: the rest is cut
    CHECK(MustRead(v.get(), f) == Pattern(100, 2));
    CHECK(v->Stat(f).value().size == 100);
    REQUIRE_OK(v->OverwriteFile(f, Pattern(100, 3)));  // the same size
    CHECK(MustRead(v.get(), f) == Pattern(100, 3));
    REQUIRE_OK(v->OverwriteFile(f, Pattern(5000, 4)));  // longer
    CHECK(MustRead(v.get(), f) == Pattern(5000, 4));
    REQUIRE_OK(v->OverwriteFile(f, ""));  // empty
    CHECK(v->Stat(f).value().size == 0);
    REQUIRE_OK(v->WriteFile(f, "x", false));
    REQUIRE_OK(v->SyncFile(f));
    CHECK_CODE(v->SyncFile(dir + "/missing"), Code::kNotFound);
  }
}

TEST_CASE("volume: concurrent SyncDir of one directory", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  REQUIRE_OK(v->MakeDirs("d"));
  // Many callers of one directory at once (small PUTs sync the same bucket and temp directories):
  // every caller gets its answer (OK, or NotFound for a directory that is not there, which
  // SyncDirOrAncestor relies on).
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string name = "d/" + std::to_string(t) + "-" + std::to_string(i);
        if (!v->WriteFile(name, "x", false).ok()) ++bad;
        if (!v->SyncDir("d").ok()) ++bad;
        if (v->SyncDir("gone").code() != Code::kNotFound) ++bad;
        if (!SyncDirOrAncestor(*v.get(), "gone/deeper").ok()) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad == 0);
  CHECK(v->ListDir("d").value().size() == 320);
}

TEST_CASE("FlushInParallel: concurrent callers' flushes all run at once", "[volume]") {
  // Flushes block in the kernel; concurrent ones share the device's work. Four callers of 16
  // flushes each: all 64 must be able to wait together (a pool capped at 15 threads ran at most
  // 19 at once, each caller's remaining flushes one after another on its own thread).
  constexpr int kCallers = 4, kFlushes = 16, kTogether = kCallers * kFlushes;
  std::mutex mu;
  std::condition_variable cv;
  int running = 0, most = 0;
  auto flush = [&](size_t) {
    std::unique_lock<std::mutex> l(mu);
    most = std::max(most, ++running);
    cv.notify_all();
    cv.wait_for(l, std::chrono::seconds(2), [&] { return most >= kTogether; });
    --running;
    return Status::Ok();
  };
  std::atomic<int> failed{0};  // Catch2's assertions are not thread-safe: counted, then checked
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&] {
      if (!FlushInParallel(kFlushes, flush).ok()) ++failed;
    });
  }
  for (auto& t : callers) t.join();
  CHECK(failed == 0);
  CHECK(most == kTogether);
}

// ------------------------------------------------------------------------------------------------
// LocalVolume and symbolic links

// The entry kinds of a directory listing, "name:kind", sorted.
std::vector<std::string> Kinds(const std::vector<DirEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name + ":" + FileKindName(e.kind));
  std::sort(out.begin(), out.end());
  return out;
}

// Every entry below dir (recursive, not following links), "path" or "path/" for directories.
std::vector<std::string> Tree(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    out.push_back(e.path().string().substr(dir.size()) +
                  (e.is_directory() && !e.is_symlink() ? "/" : ""));
  }
  std::sort(out.begin(), out.end());
  return out;
}

#define CHECK_LINK_REFUSED(expr, link)                                                         \
  do {                                                                                         \
    const ::cairn::Status _s = StatusOf(expr);                                                 \
    INFO(#expr << ": " << _s.ToString());                                                      \
    CHECK(_s.code() == Code::kCorruption);                                                     \
    CHECK(_s.message().find(std::string(link) + ": is a symbolic link") != std::string::npos); \
  } while (0)

TEST_CASE("LocalVolume never follows a symlink beneath its root", "[volume][symlink]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk");
  INFO("volume kind " << kind);
  TestVolume v(kind);
  const std::string out = v.tmp() + "/outside";
  std::filesystem::create_directories(out + "/sub");
  REQUIRE(v->WriteFile("placeholder", "", false).ok());
  {
    auto o = NewLocalVolume(out);
    REQUIRE_OK(o->WriteFile("victim", "theirs", false));
    REQUIRE_OK(o->WriteFile("sub/old", "old", false));
  }
  const auto outside_before = Tree(out);
  const std::string r = v.root();
  REQUIRE_OK(v->MakeDirs("d"));
  REQUIRE_OK(v->WriteFile("d/f", "mine", false));
  REQUIRE(::symlink(out.c_str(), (r + "/ldir").c_str()) == 0);  // absolute
  REQUIRE(::symlink("../outside", (r + "/rel").c_str()) == 0);  // relative
  REQUIRE(::symlink((out + "/victim").c_str(), (r + "/d/lfile").c_str()) == 0);
  REQUIRE(::symlink("d", (r + "/inside").c_str()) == 0);  // even one that stays inside

  SECTION("a symlink on the way is refused by every method") {
    for (const std::string link : {"ldir", "rel", "inside"}) {
      INFO("through " << link);
      const std::string through = link == "inside" ? "inside/f" : link + "/victim";
      const std::string where = r + "/" + link;
      CHECK_LINK_REFUSED(v->NewWritableFile(link + "/new"), where);
      CHECK_LINK_REFUSED(v->NewReadableFile(through), where);
      CHECK_LINK_REFUSED(v->ReadFile(through, 100), where);
      CHECK_LINK_REFUSED(v->WriteFile(through, "escaped", true), where);
      CHECK_LINK_REFUSED(v->OverwriteFile(through, "escaped"), where);
      CHECK_LINK_REFUSED(v->Rename("d/f", link + "/stolen"), where);
      CHECK_LINK_REFUSED(v->Rename(through, "d/stolen"), where);
      CHECK_LINK_REFUSED(v->RenameNoReplace("d/f", link + "/stolen"), where);
      CHECK_LINK_REFUSED(v->Exchange("d/f", through), where);
      CHECK_LINK_REFUSED(v->Exchange(through, "d/f"), where);
      CHECK_LINK_REFUSED(v->Remove(through), where);
      CHECK_LINK_REFUSED(v->RemoveDir(link + "/sub"), where);
      CHECK_LINK_REFUSED(v->MakeDirs(link + "/new/deeper"), where);
      CHECK_LINK_REFUSED(v->MakeDirs(link), where);
      CHECK_LINK_REFUSED(v->ListDir(link), where);
      CHECK_LINK_REFUSED(v->ListDir(link + "/sub"), where);
      CHECK_LINK_REFUSED(v->Stat(through), where);
      CHECK_LINK_REFUSED(v->SyncFile(through), where);
      CHECK_LINK_REFUSED(v->SyncDir(link), where);
      CHECK_LINK_REFUSED(v->SyncDir(link + "/sub"), where);
    }
    CHECK(MustRead(v.get(), "d/f") == "mine");
  }
  SECTION("a symlink as the last component is acted on itself, never followed") {
    CHECK_LINK_REFUSED(v->NewReadableFile("d/lfile"), r + "/d/lfile");
    CHECK_LINK_REFUSED(v->ReadFile("d/lfile", 100), r + "/d/lfile");
    CHECK_LINK_REFUSED(v->NewWritableFile("d/lfile"), r + "/d/lfile");
    CHECK_LINK_REFUSED(v->OverwriteFile("d/lfile", "x"), r + "/d/lfile");
    CHECK_LINK_REFUSED(v->SyncFile("d/lfile"), r + "/d/lfile");
    CHECK_LINK_REFUSED(v->RemoveDir("ldir"), r + "/ldir");
    auto st = v->Stat("ldir");
    REQUIRE_OK(st);
    CHECK(st->kind == FileKind::kSymlink);
    CHECK(!st->is_dir());
    CHECK(Kinds(v->ListDir("").value()) ==
          std::vector<std::string>{"d:directory", "inside:symlink", "ldir:symlink",
                                   "placeholder:file", "rel:symlink"});
    CHECK(Kinds(v->ListDir("d").value()) == std::vector<std::string>{"f:file", "lfile:symlink"});
    // Rename and Exchange move the link itself.
    REQUIRE_OK(v->Rename("d/lfile", "d/moved"));
    CHECK(v->Stat("d/moved").value().kind == FileKind::kSymlink);
    REQUIRE_OK(v->Exchange("d/moved", "d/f"));
    CHECK(v->Stat("d/f").value().kind == FileKind::kSymlink);
    CHECK(MustRead(v.get(), "d/moved") == "mine");
    // Remove and RemoveAll remove links, never what they point to.
    REQUIRE_OK(v->Remove("d/f"));
    REQUIRE_OK(v->RemoveAll("ldir"));
    REQUIRE_OK(v->RemoveAll("rel"));
    CHECK_CODE(v->Stat("ldir"), Code::kNotFound);
  }
  SECTION("RemoveAll of a tree holding links removes the links only") {
    REQUIRE(::symlink(out.c_str(), (r + "/d/deep").c_str()) == 0);
    REQUIRE_OK(v->RemoveAll("d"));
    CHECK_CODE(v->Stat("d"), Code::kNotFound);
  }
  SECTION("FIFOs and sockets fail at once instead of blocking") {
    REQUIRE(::mkfifo((r + "/d/fifo").c_str(), 0644) == 0);
    CHECK(Kinds(v->ListDir("d").value()) ==
          std::vector<std::string>{"f:file", "fifo:special file", "lfile:symlink"});
    CHECK(v->Stat("d/fifo").value().kind == FileKind::kOther);
    CHECK_CODE(v->ReadFile("d/fifo", 100), Code::kCorruption);
    CHECK_CODE(v->NewReadableFile("d/fifo"), Code::kCorruption);
    CHECK_CODE(v->NewWritableFile("d/fifo"), Code::kCorruption);  // no reader: ENXIO
    CHECK_CODE(v->OverwriteFile("d/fifo", "x"), Code::kCorruption);
  }
  // Nothing outside changed, whatever was tried.
  CHECK(Tree(out) == outside_before);
  CHECK(NewLocalVolume(out)->ReadFile("victim", 100).value() == "theirs");
}

TEST_CASE("LocalVolume: the root may be reached through a symlink", "[volume][symlink]") {
  TempDir tmp;
  const std::string real = tmp.path() + "/real";
  REQUIRE(::mkdir(real.c_str(), 0755) == 0);
  REQUIRE(::symlink(real.c_str(), (tmp.path() + "/alias").c_str()) == 0);
  auto v = NewLocalVolume(tmp.path() + "/alias/");
  CHECK(v->Describe() == tmp.path() + "/alias");
  REQUIRE_OK(v->MakeDirs("a/b"));
  REQUIRE_OK(v->WriteFile("a/b/f", "x", true));
  REQUIRE_OK(v->SyncDir(""));
  REQUIRE_OK(v->SyncAll());
  CHECK(NewLocalVolume(real)->ReadFile("a/b/f", 10).value() == "x");
  // A root that does not exist yet works once it does; "/" names paths without "//".
  auto later = NewLocalVolume(tmp.path() + "/later");
  CHECK_CODE(later->Stat(""), Code::kNotFound);
  CHECK_CODE(later->WriteFile("f", "x", false), Code::kNotFound);
  REQUIRE(::mkdir((tmp.path() + "/later").c_str(), 0755) == 0);
  REQUIRE_OK(later->WriteFile("f", "x", false));
  auto slash = NewLocalVolume("/");
  auto missing = slash->ReadFile(tmp.path().substr(1) + "/nope", 10);
  CHECK(missing.status().message().find("//") == std::string::npos);
  CHECK(missing.status().message().rfind(tmp.path() + "/nope", 0) == 0);
}

TEST_CASE("LocalVolume in kFollowLinks mode follows links like any path", "[volume][symlink]") {
  TempDir tmp;
  const std::string root = tmp.path() + "/root", out = tmp.path() + "/outside";
  REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  REQUIRE(::mkdir(out.c_str(), 0755) == 0);
  REQUIRE(::symlink(out.c_str(), (root + "/l").c_str()) == 0);
  auto v = NewLocalVolume(root, LocalPathMode::kFollowLinks);
  REQUIRE_OK(v->WriteFile("l/f", "x", false));
  CHECK(MustRead(v.get(), "l/f") == "x");
  CHECK(v->ListDir("l").value().size() == 1);
  // Stat still describes the last component itself.
  CHECK(v->Stat("l").value().kind == FileKind::kSymlink);
}

// ------------------------------------------------------------------------------------------------
// Paths

TEST_CASE("ValidateRelPath", "[volume]") {
  const std::string accepted[] = {
      "a",
      "a/b",
      "a~/b+",
      "name with spaces/and more",
      "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac",
      "...",
      "a/..b/.c",
      std::string(255, 'x'),
      std::string(255, 'x') + "/" + std::string(255, 'y'),
  };
  for (const auto& p : accepted) {
    INFO("path '" << p << "'");
    REQUIRE_OK(ValidateRelPath(p));
  }

  // Exactly kMaxRelPathLen bytes is fine, one more is not.
  std::string at_limit;
  while (at_limit.size() + 101 <= kMaxRelPathLen) at_limit += std::string(100, 'p') + "/";
  at_limit += std::string(kMaxRelPathLen - at_limit.size(), 'q');
  REQUIRE(at_limit.size() == kMaxRelPathLen);
  REQUIRE_OK(ValidateRelPath(at_limit));

  const std::string rejected[] = {
      "",
      "/a",
      "/",
      "a//b",
      "a/",
      "./a",
      "a/..",
      "..",
      ".",
      "../a",
      "a/../b",
      "a/./b",
      std::string("a\0b", 3),
      std::string("\0", 1),
      std::string(256, 'x'),
      "a/" + std::string(256, 'x') + "/b",
      at_limit + "r",
  };
  for (const auto& p : rejected) {
    INFO("path '" << p << "' (" << p.size() << " bytes)");
    CHECK_CODE(ValidateRelPath(p), Code::kInvalidArgument);
  }
}

// Runs every Volume method with path `bad` and checks each says kInvalidArgument.
void CheckAllMethodsReject(Volume* v, const std::string& bad) {
  INFO("bad path '" << bad << "' on " << v->Describe());
  CHECK_CODE(v->NewWritableFile(bad), Code::kInvalidArgument);
  CHECK_CODE(v->NewReadableFile(bad), Code::kInvalidArgument);
  CHECK_CODE(v->ReadFile(bad, 100), Code::kInvalidArgument);
  CHECK_CODE(v->WriteFile(bad, "escaped", true), Code::kInvalidArgument);
  CHECK_CODE(v->Rename(bad, "good"), Code::kInvalidArgument);
  CHECK_CODE(v->Rename("good", bad), Code::kInvalidArgument);
  CHECK_CODE(v->RenameNoReplace(bad, "good2"), Code::kInvalidArgument);
  CHECK_CODE(v->RenameNoReplace("good", bad), Code::kInvalidArgument);
  CHECK_CODE(v->Remove(bad), Code::kInvalidArgument);
  CHECK_CODE(v->RemoveDir(bad), Code::kInvalidArgument);
  CHECK_CODE(v->MakeDirs(bad), Code::kInvalidArgument);
  CHECK_CODE(v->RemoveAll(bad), Code::kInvalidArgument);
  if (!bad.empty()) {  // "" names the root for these three
    CHECK_CODE(v->ListDir(bad), Code::kInvalidArgument);
    CHECK_CODE(v->Stat(bad), Code::kInvalidArgument);
    CHECK_CODE(v->SyncDir(bad), Code::kInvalidArgument);
  }
}

TEST_CASE("volume: escaping paths are rejected by every method", "[volume]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  const bool faulty = GENERATE(false, true);
  INFO("volume kind " << kind << (faulty ? " under FaultyVolume" : ""));
  TestVolume base(kind);
  FaultyVolume fv(base.get(), 1);
  fv.AddRule(FaultRule{FaultOp::kAny, "*", FaultKind::kIOError, 1000000});  // counts, never fires
  Volume* v = faulty ? static_cast<Volume*>(&fv) : base.get();

  REQUIRE_OK(v->WriteFile("good", "good", false));
  REQUIRE_OK(v->MakeDirs("sub"));
  const std::string escaping[] = {"..",
                                  "../escaped",
                                  "../root/good",
                                  "a/../../escaped",
                                  "sub/../..",
                                  "/tmp/cairn-volume-test-escaped",
                                  "./escaped",
                                  "",
                                  std::string("esc\0aped", 8),
                                  "sub//x"};
  for (const auto& bad : escaping) CheckAllMethodsReject(v, bad);

  // Nothing changed inside or outside the root.
  CHECK(MustRead(v, "good") == "good");
  CHECK(Names(v->ListDir("").value()) == std::vector<std::string>{"good", "sub/"});
  CHECK(v->ListDir("sub").value().empty());
  if (base.local()) CHECK(base.OutsideRoot() == std::vector<std::string>{"root"});
  CHECK(::access("/tmp/cairn-volume-test-escaped", F_OK) != 0);
  CHECK(fv.injected() == 0);
}

// ------------------------------------------------------------------------------------------------
// FaultyVolume

// A FaultyVolume over a fresh volume of the given kind.
struct FaultyFixture {
  explicit FaultyFixture(const std::string& kind, uint64_t seed = 42)
      : base(kind), fv(base.get(), seed) {}
  Volume* target() { return base.get(); }
  std::string Where(const std::string& path) { return base->Describe() + "/" + path; }

  TestVolume base;
  FaultyVolume fv;
};

TEST_CASE("FaultyVolume: no rules is a transparent wrapper", "[volume][fault]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  FaultyFixture f(kind);
  REQUIRE_OK(f.fv.MakeDirs("d"));
  REQUIRE_OK(f.fv.WriteFile("d/a", "abc", true));
  REQUIRE_OK(f.fv.Rename("d/a", "d/b"));
  CHECK(MustRead(&f.fv, "d/b") == "abc");
  CHECK(MustRead(f.target(), "d/b") == "abc");
  CHECK(Names(f.fv.ListDir("d").value()) == std::vector<std::string>{"b"});
  CHECK(f.fv.Stat("d/b").value().size == 3);
  REQUIRE_OK(f.fv.SyncDir("d"));
  REQUIRE_OK(f.fv.SyncAll());
  REQUIRE_OK(f.fv.RemoveAll("d"));
  CHECK_CODE(f.target()->Stat("d"), Code::kNotFound);
  CHECK(f.fv.Describe() == f.target()->Describe());
  CHECK(f.fv.injected() == 0);
}

TEST_CASE("FaultyVolume: kIOError obeys after_calls, times and the glob", "[volume][fault]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  FaultyFixture f(kind);
  REQUIRE_OK(f.target()->MakeDirs("a/deep"));
  REQUIRE_OK(f.target()->MakeDirs("b"));
  f.fv.AddRule(FaultRule{FaultOp::kOpenWrite, "a/*", FaultKind::kIOError, 2, 2});

  // Calls that do not match (other op, other path) neither fail nor count.
  REQUIRE_OK(f.fv.WriteFile("b/1", "x", false));
  REQUIRE_OK(f.fv.MakeDirs("a/x"));
  REQUIRE_OK(f.fv.NewReadableFile("b/1"));
  // Two matching calls pass...
  REQUIRE_OK(f.fv.WriteFile("a/1", "x", false));
  REQUIRE_OK(f.fv.WriteFile("a/deep/2", "x", false));  // '*' crosses '/'
  CHECK(f.fv.injected() == 0);
  // ...then two fail...
  auto s = f.fv.WriteFile("a/3", "x", false);
  CHECK(s.code() == Code::kIOError);
  CHECK(s.message() == f.Where("a/3") + ": injected I/O error");
  CHECK_CODE(f.fv.NewWritableFile("a/deep/4"), Code::kIOError);
  CHECK(f.fv.injected() == 2);
  // ...and nothing was created by the failed calls.
  CHECK_CODE(f.target()->Stat("a/3"), Code::kNotFound);
  CHECK_CODE(f.target()->Stat("a/deep/4"), Code::kNotFound);
  // times is used up.
  REQUIRE_OK(f.fv.WriteFile("a/5", "x", false));
  REQUIRE_OK(f.fv.WriteFile("b/6", "x", false));
  CHECK(f.fv.injected() == 2);

  SECTION("ClearRules") {
    f.fv.AddRule(FaultRule{FaultOp::kAny, "*", FaultKind::kIOError});
    CHECK_CODE(f.fv.Stat("a/5"), Code::kIOError);
    f.fv.ClearRules();
    REQUIRE_OK(f.fv.Stat("a/5"));
    CHECK(f.fv.injected() == 3);
  }
  SECTION("times = -1 fires forever, times = 0 never") {
    f.fv.AddRule(FaultRule{FaultOp::kStat, "b/*", FaultKind::kIOError, 0, 0});
    REQUIRE_OK(f.fv.Stat("b/6"));
    f.fv.AddRule(FaultRule{FaultOp::kStat, "b/*", FaultKind::kIOError});
    for (int i = 0; i < 50; ++i) CHECK_CODE(f.fv.Stat("b/6"), Code::kIOError);
    REQUIRE_OK(f.fv.Stat("a/5"));
    CHECK(f.fv.injected() == 52);
  }
}

TEST_CASE("FaultyVolume: every operation can fail", "[volume][fault]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  FaultyFixture f(kind);
  REQUIRE_OK(f.target()->MakeDirs("d/e"));
  REQUIRE_OK(f.target()->WriteFile("d/f", "data", false));
  uint64_t want = 0;

  auto fail_once = [&](FaultOp op, const std::string& glob) {
    f.fv.ClearRules();
    f.fv.AddRule(FaultRule{op, glob, FaultKind::kIOError, 0, 1});
  };
  auto check_injected = [&](const Status& s) {
    INFO(s.ToString());
    CHECK(s.code() == Code::kIOError);
    CHECK(s.message().find("injected") != std::string::npos);
    CHECK(f.fv.injected() == ++want);
  };

  fail_once(FaultOp::kOpenWrite, "d/f");
  check_injected(StatusOf(f.fv.NewWritableFile("d/f")));
  fail_once(FaultOp::kOpenRead, "d/f");
  check_injected(StatusOf(f.fv.ReadFile("d/f", 100)));
  fail_once(FaultOp::kRename, "d/g");  // matches the target path too
  check_injected(f.fv.Rename("d/f", "d/g"));
  fail_once(FaultOp::kRename, "d/g");
  check_injected(f.fv.RenameNoReplace("d/f", "d/g"));
  fail_once(FaultOp::kRemove, "d/f");
  check_injected(f.fv.Remove("d/f"));
  fail_once(FaultOp::kRemoveDir, "d/e");
  check_injected(f.fv.RemoveDir("d/e"));
  fail_once(FaultOp::kMakeDirs, "d/e/*");
  check_injected(f.fv.MakeDirs("d/e/n"));
  fail_once(FaultOp::kListDir, "d");
  check_injected(StatusOf(f.fv.ListDir("d")));
  fail_once(FaultOp::kStat, "d/f");
  check_injected(StatusOf(f.fv.Stat("d/f")));
  fail_once(FaultOp::kSyncDir, "d");
  check_injected(f.fv.SyncDir("d"));
  fail_once(FaultOp::kSyncAll, "*");
  check_injected(f.fv.SyncAll());

  // File operations.
  f.fv.ClearRules();
  auto w = f.fv.NewWritableFile("d/w");
  REQUIRE_OK(w);
  fail_once(FaultOp::kAppend, "d/w");
  check_injected((*w)->Append("x", 1));
  fail_once(FaultOp::kSync, "d/w");
  check_injected((*w)->Sync());
  fail_once(FaultOp::kClose, "d/w");
  check_injected((*w)->Close());
  auto r = f.fv.NewReadableFile("d/f");
  REQUIRE_OK(r);
  char buf[4];
  fail_once(FaultOp::kRead, "d/f");
  check_injected(StatusOf((*r)->ReadAt(0, buf, 4)));
  fail_once(FaultOp::kStat, "d/f");  // Size is an fstat
  check_injected(StatusOf((*r)->Size()));

  // Every failed call above did nothing to the target.
  f.fv.ClearRules();
  CHECK(MustRead(f.target(), "d/f") == "data");
  CHECK(Names(f.target()->ListDir("d").value()) == std::vector<std::string>{"e/", "f", "w"});
  CHECK(f.target()->ListDir("d/e").value().empty());
  CHECK((*r)->ReadAt(0, buf, 4).value() == 4);
}

TEST_CASE("FaultyVolume: kNoSpace", "[volume][fault]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  FaultyFixture f(kind);

  SECTION("after_bytes: appends succeed up to the limit, then kNoSpace") {
    f.fv.AddRule(FaultRule{FaultOp::kAppend, "*", FaultKind::kNoSpace, 0, -1, 10});
    auto w = f.fv.NewWritableFile("f");
    REQUIRE_OK(w);
    REQUIRE_OK((*w)->Append("0123", 4));
    REQUIRE_OK((*w)->Append("4567", 4));
    CHECK(f.fv.injected() == 0);
    auto s = (*w)->Append("89ab", 4);
    CHECK(s.code() == Code::kNoSpace);
    CHECK(s.message() == f.Where("f") + ": injected no space left on device");
    CHECK(f.fv.injected() == 1);
    // What fit was written, as a real short write would.
    CHECK(MustRead(f.target(), "f") == "0123456789");
    CHECK_CODE((*w)->Append("c", 1), Code::kNoSpace);
    CHECK(f.fv.injected() == 2);
    (*w)->Close().IgnoreError();

    // A new file starts from zero; an append that lands exactly on the limit succeeds.
    auto w2 = f.fv.NewWritableFile("g");
    REQUIRE_OK(w2);
    REQUIRE_OK((*w2)->Append("0123456789", 10));
    CHECK_CODE((*w2)->Append("x", 1), Code::kNoSpace);
    CHECK(MustRead(f.target(), "g") == "0123456789");
    // Other operations are not affected by a byte-limited rule.
    REQUIRE_OK(f.fv.MakeDirs("d"));
  }
  SECTION("without after_bytes, on any op") {
    f.fv.AddRule(FaultRule{FaultOp::kMakeDirs, "full/*", FaultKind::kNoSpace});
    REQUIRE_OK(f.fv.MakeDirs("full"));
    CHECK_CODE(f.fv.MakeDirs("full/x"), Code::kNoSpace);
    f.fv.AddRule(FaultRule{FaultOp::kOpenWrite, "*", FaultKind::kNoSpace});
    CHECK_CODE(f.fv.WriteFile("full/f", "x", false), Code::kNoSpace);
    CHECK(f.fv.injected() == 2);
  }
}

TEST_CASE("FaultyVolume: kTornWrite leaves a shorter file", "[volume][fault]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  FaultyFixture f(kind);
  const std::string a = Pattern(10, 1), b = Pattern(10, 2), c = Pattern(10, 3);
  const std::string whole = a + b + c;
  ConstBuf bufs[] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};

  SECTION("at after_bytes, in the middle of a buffer") {
    f.fv.AddRule(FaultRule{FaultOp::kAppend, "t*", FaultKind::kTornWrite, 0, 1, 14});
    auto w = f.fv.NewWritableFile("torn");
    REQUIRE_OK(w);
    auto s = (*w)->AppendV(bufs, 3);
    CHECK(s.code() == Code::kIOError);
    CHECK(s.message() == f.Where("torn") + ": injected torn write (14 of 30 bytes written)");
    CHECK(MustRead(f.target(), "torn") == whole.substr(0, 14));
    // times = 1: the next append goes through.
    REQUIRE_OK((*w)->AppendV(bufs, 3));
    CHECK(MustRead(f.target(), "torn") == whole.substr(0, 14) + whole);
    CHECK(f.fv.injected() == 1);
  }
  SECTION("at a seeded position") {
    f.fv.AddRule(FaultRule{FaultOp::kAppend, "*", FaultKind::kTornWrite, 1, 1});
    auto w = f.fv.NewWritableFile("torn");
    REQUIRE_OK(w);
    REQUIRE_OK((*w)->Append("head", 4));  // after_calls = 1
    CHECK_CODE((*w)->AppendV(bufs, 3), Code::kIOError);
    std::string got = MustRead(f.target(), "torn");
    REQUIRE(got.size() >= 4);
    CHECK(got.size() < 4 + whole.size());
    CHECK(got == "head" + whole.substr(0, got.size() - 4));
    CHECK(f.fv.injected() == 1);

    // Same seed, same calls: the same tear.
    FaultyVolume again(f.target(), 42);
    again.AddRule(FaultRule{FaultOp::kAppend, "*", FaultKind::kTornWrite, 1, 1});
    auto w2 = again.NewWritableFile("torn2");
    REQUIRE_OK(w2);
    REQUIRE_OK((*w2)->Append("head", 4));
    CHECK_CODE((*w2)->AppendV(bufs, 3), Code::kIOError);
    CHECK(MustRead(f.target(), "torn2") == got);
  }
  SECTION("empty appends are not torn") {
    f.fv.AddRule(FaultRule{FaultOp::kAppend, "*", FaultKind::kTornWrite});
    auto w = f.fv.NewWritableFile("e");
    REQUIRE_OK(w);
    REQUIRE_OK((*w)->Append("", 0));
    CHECK(f.fv.injected() == 0);
  }
}

// Reads `path` through `v` with one ReadAt.
std::string ReadOnce(Volume* v, const std::string& path, uint64_t offset, size_t n) {
  auto r = v->NewReadableFile(path);
  REQUIRE_OK(r);
  std::string buf(n, '\0');
  auto got = (*r)->ReadAt(offset, buf.data(), n);
  REQUIRE_OK(got);
  buf.resize(*got);
  return buf;
}

// The index of the one bit where a and b differ; fails unless exactly one differs.
size_t OneBitDiff(const std::string& a, const std::string& b) {
  REQUIRE(a.size() == b.size());
  int bits = 0;
  size_t where = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned x = static_cast<unsigned char>(a[i] ^ b[i]);
    if (x == 0) continue;
    bits += std::popcount(x);
    where = i * 8 + static_cast<size_t>(std::countr_zero(x));
  }
  CHECK(bits == 1);
  return where;
}

TEST_CASE("FaultyVolume: kBitFlip changes exactly one returned bit", "[volume][fault]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  FaultyFixture f(kind, 7);
  const std::string data = Pattern(4096, 11);
  REQUIRE_OK(f.target()->WriteFile("obj", data, true));
  // The bytes we are about to damage really exist on the target.
  REQUIRE(MustRead(f.target(), "obj") == data);

  f.fv.AddRule(FaultRule{FaultOp::kRead, "obj", FaultKind::kBitFlip, 1, 1});
  CHECK(ReadOnce(&f.fv, "obj", 0, 4096) == data);  // after_calls = 1
  const std::string range = ReadOnce(&f.fv, "obj", 1000, 500);
  CHECK(range != data.substr(1000, 500));
  const size_t bit = OneBitDiff(range, data.substr(1000, 500));
  CHECK(f.fv.injected() == 1);
  // times = 1: clean again; the stored bytes were never touched.
  CHECK(ReadOnce(&f.fv, "obj", 1000, 500) == data.substr(1000, 500));
  CHECK(MustRead(f.target(), "obj") == data);

  SECTION("same seed, same bit; other seeds, other bits") {
    std::vector<size_t> bits;
    for (uint64_t seed : {7, 7, 8, 9, 10, 11, 12}) {
      FaultyVolume other(f.target(), seed);
      other.AddRule(FaultRule{FaultOp::kRead, "obj", FaultKind::kBitFlip, 1, 1});
      REQUIRE(ReadOnce(&other, "obj", 0, 4096) == data);
      bits.push_back(OneBitDiff(ReadOnce(&other, "obj", 1000, 500), data.substr(1000, 500)));
    }
    CHECK(bits[0] == bit);
    CHECK(bits[1] == bit);
    std::sort(bits.begin(), bits.end());
    CHECK(std::unique(bits.begin(), bits.end()) - bits.begin() > 2);
  }
  SECTION("ReadFile goes through the wrapper too") {
    f.fv.AddRule(FaultRule{FaultOp::kRead, "*", FaultKind::kBitFlip, 0, 1});
    auto got = f.fv.ReadFile("obj", 1 << 20);
    REQUIRE_OK(got);
    OneBitDiff(*got, data);
  }
  SECTION("a read at EOF returns nothing to flip and does not count") {
    f.fv.AddRule(FaultRule{FaultOp::kRead, "*", FaultKind::kBitFlip, 0, 1});
    CHECK(ReadOnce(&f.fv, "obj", 4096, 10).empty());
    CHECK(f.fv.injected() == 1);
    OneBitDiff(ReadOnce(&f.fv, "obj", 4095, 10), data.substr(4095));
    CHECK(f.fv.injected() == 2);
  }
}

TEST_CASE("FaultyVolume: kOffline fails every op", "[volume][fault]") {
  const std::string kind = GENERATE(as<std::string>{}, "local", "local-walk", "mem", "crash");
  INFO("volume kind " << kind);
  FaultyFixture f(kind);
  REQUIRE_OK(f.fv.MakeDirs("d"));
  REQUIRE_OK(f.fv.WriteFile("d/f", "data", false));
  auto w = f.fv.NewWritableFile("d/open");
  REQUIRE_OK(w);
  auto r = f.fv.NewReadableFile("d/f");
  REQUIRE_OK(r);

  f.fv.AddRule(FaultRule{FaultOp::kAny, "*", FaultKind::kOffline, 2});
  REQUIRE_OK(f.fv.Stat("d/f"));
  REQUIRE_OK(f.fv.ListDir("d"));
  CHECK(!f.fv.offline());
  Status s = StatusOf(f.fv.Stat("d/f"));  // the third call takes the volume away
  CHECK(s.code() == Code::kIOError);
  CHECK(s.message().find("injected") != std::string::npos);
  CHECK(f.fv.offline());

  char buf[4];
  const Status all[] = {
      StatusOf(f.fv.NewWritableFile("d/x")),
      StatusOf(f.fv.NewReadableFile("d/f")),
      StatusOf(f.fv.ReadFile("d/f", 100)),
      f.fv.WriteFile("d/x", "x", false),
      f.fv.Rename("d/f", "d/g"),
      f.fv.Remove("d/f"),
      f.fv.RemoveDir("d"),
      f.fv.MakeDirs("e"),
      StatusOf(f.fv.ListDir("d")),
      StatusOf(f.fv.ListDir("")),
      StatusOf(f.fv.Stat("d")),
      f.fv.SyncDir("d"),
      f.fv.SyncAll(),
      f.fv.RemoveAll("d"),
      (*w)->Append("x", 1),
      (*w)->Sync(),
      (*w)->Close(),
      StatusOf((*r)->ReadAt(0, buf, 4)),
      StatusOf((*r)->Size()),
  };
  for (const auto& st : all) {
    INFO(st.ToString());
    CHECK(st.code() == Code::kIOError);
    CHECK(st.message().find("injected") != std::string::npos);
  }
  CHECK(f.fv.injected() == 1 + std::size(all));
  // Nothing reached the target.
  CHECK(MustRead(f.target(), "d/f") == "data");
  CHECK(Names(f.target()->ListDir("d").value()) == std::vector<std::string>{"f", "open"});

  // Back online.
  f.fv.ClearRules();
  CHECK(!f.fv.offline());
  CHECK(MustRead(&f.fv, "d/f") == "data");
}

TEST_CASE("FaultyVolume: rules fire exactly `times` under concurrency", "[volume][fault]") {
  FaultyFixture f("mem");
  REQUIRE_OK(f.target()->WriteFile("f", "x", false));
  f.fv.AddRule(FaultRule{FaultOp::kStat, "*", FaultKind::kIOError, 100, 37});
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!f.fv.Stat("f").ok()) ++failed;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failed == 37);
  CHECK(f.fv.injected() == 37);
}

TEST_CASE("FaultyVolume: the first due rule wins, every rule counts", "[volume][fault]") {
  FaultyFixture f("mem");
  REQUIRE_OK(f.target()->WriteFile("f", "x", false));
  f.fv.AddRule(FaultRule{FaultOp::kStat, "*", FaultKind::kNoSpace, 1, 1});
  f.fv.AddRule(FaultRule{FaultOp::kStat, "*", FaultKind::kIOError, 1, 2});
  REQUIRE_OK(f.fv.Stat("f"));                  // both skip their first call
  CHECK_CODE(f.fv.Stat("f"), Code::kNoSpace);  // both due: the first added fires
  CHECK_CODE(f.fv.Stat("f"), Code::kIOError);  // the second still has 2 times left
  CHECK_CODE(f.fv.Stat("f"), Code::kIOError);
  REQUIRE_OK(f.fv.Stat("f"));
  CHECK(f.fv.injected() == 3);
}

}  // namespace
}  // namespace cairn
