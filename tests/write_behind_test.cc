// WriteBehind (libstore/volume/write_behind.h): what it asks of the kernel, what it does when a
// call fails (unsupported: nothing more, silently; a failed wait: kept, and Sync and Close of a
// LocalVolume file fail with it), and, with the kernel's calls, that the bytes come back whole
// and the pages behind the cursor left the page cache; then a plain PUT with fsync through it.
#include "libstore/volume/write_behind.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "libstore/volume/volume.h"
#include "tests/plain_test_util.h"

namespace cairn {
namespace {

constexpr uint64_t kWbMiB = 1 << 20;
constexpr unsigned kWbWaitFlags =
    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;

struct WbCall {
  char what;  // 's' SyncRange, 'd' DropCache
  uint64_t off, len;
  unsigned flags;
  bool operator==(const WbCall& o) const {
    return what == o.what && off == o.off && len == o.len && flags == o.flags;
  }
};

// Records the calls; fails SyncRange with queue_err (WRITE alone) or wait_err (with a wait).
class WbFakeCalls : public WritebackCalls {
 public:
  int SyncRange(int, uint64_t off, uint64_t len, unsigned flags) override {
    calls.push_back({'s', off, len, flags});
    return flags == SYNC_FILE_RANGE_WRITE ? queue_err : wait_err;
  }
  int DropCache(int, uint64_t off, uint64_t len) override {
    calls.push_back({'d', off, len, 0});
    return 0;
  }
  std::vector<WbCall> calls;
  int queue_err = 0, wait_err = 0;
};

}  // namespace
}  // namespace cairn

namespace Catch {
template <>
struct StringMaker<cairn::WbCall> {
  static std::string convert(const cairn::WbCall& c) {
    return std::string(1, c.what) + "(" + std::to_string(c.off) + "," + std::to_string(c.len) +
           "," + std::to_string(c.flags) + ")";
  }
};
}  // namespace Catch

namespace cairn {
namespace {

TEST_CASE("write behind: queues every range, waits for and drops what is lag behind",
          "[volume][write_behind]") {
  WbFakeCalls fake;
  WriteBehind wb(fake);
  wb.Start(3, 4 * kWbMiB);
  wb.Start(3, 4 * kWbMiB);  // nothing new: no call
  wb.Advance(3, 8 * kWbMiB, 16 * kWbMiB);  // nothing is 16 MiB behind yet
  wb.Advance(3, 24 * kWbMiB + 5, 16 * kWbMiB);
  wb.Advance(3, 32 * kWbMiB, 16 * kWbMiB);
  const std::vector<WbCall> want = {
      {'s', 0, 4 * kWbMiB, SYNC_FILE_RANGE_WRITE},
      {'s', 4 * kWbMiB, 4 * kWbMiB, SYNC_FILE_RANGE_WRITE},
      {'s', 8 * kWbMiB, 16 * kWbMiB + 5, SYNC_FILE_RANGE_WRITE},
      {'s', 0, 8 * kWbMiB, kWbWaitFlags},  // whole 64 KiB pages only: 8 MiB + 5 rounds down
      {'d', 0, 8 * kWbMiB, 0},
      {'s', 24 * kWbMiB + 5, 8 * kWbMiB - 5, SYNC_FILE_RANGE_WRITE},
      {'s', 8 * kWbMiB, 8 * kWbMiB, kWbWaitFlags},
      {'d', 8 * kWbMiB, 8 * kWbMiB, 0},
  };
  CHECK(fake.calls == want);
  CHECK(wb.dropped() == 16 * kWbMiB);
  CHECK(wb.error().ok());
  CHECK_FALSE(wb.off());
}

TEST_CASE("write behind: a kernel that cannot turns it off silently", "[volume][write_behind]") {
  for (int err : {ENOSYS, EINVAL, ESPIPE, EOPNOTSUPP}) {
    CAPTURE(err);
    for (bool in_wait : {false, true}) {
      WbFakeCalls fake;
      (in_wait ? fake.wait_err : fake.queue_err) = err;
      WriteBehind wb(fake);
      wb.Advance(3, 40 * kWbMiB, 8 * kWbMiB);
      const size_t made = fake.calls.size();
      CHECK(made == (in_wait ? 2u : 1u));  // no drop after a failed wait
      wb.Advance(3, 80 * kWbMiB, 8 * kWbMiB);
      CHECK(fake.calls.size() == made);  // off: no more calls
      CHECK(wb.off());
      CHECK(wb.error().ok());
      CHECK(wb.dropped() == 0);
    }
  }
}

TEST_CASE("write behind: a failed wait is kept; a failed queuing is left to the flush",
          "[volume][write_behind]") {
  SECTION("wait") {
    WbFakeCalls fake;
    fake.wait_err = EIO;
    WriteBehind wb(fake);
    wb.Advance(3, 40 * kWbMiB, 8 * kWbMiB);
    CHECK(wb.error().code() == Code::kIOError);
    CHECK(wb.dropped() == 0);
    CHECK(fake.calls.size() == 2u);  // queued, waited: nothing dropped
    wb.Advance(3, 80 * kWbMiB, 8 * kWbMiB);
    CHECK(fake.calls.size() == 2u);
  }
  SECTION("queue") {
    WbFakeCalls fake;
    fake.queue_err = EIO;
    WriteBehind wb(fake);
    wb.Advance(3, 40 * kWbMiB, 8 * kWbMiB);
    CHECK(wb.error().ok());
    CHECK(wb.off());
    CHECK(fake.calls.size() == 1u);
  }
}

// Writes `total` bytes (byte i = i * 7 + i / 4096) in 1 MiB appends, WriteBehind every 4 MiB.
Status WriteFileBehind(Volume& v, const std::string& path, uint64_t total, uint64_t lag,
                       bool sync) {
  ASSIGN_OR_RETURN(auto f, v.NewWritableFile(path));
  std::string buf(kWbMiB, '\0');
  for (uint64_t off = 0; off < total; off += kWbMiB) {
    for (uint64_t i = 0; i < kWbMiB; ++i) buf[i] = char((off + i) * 7 + (off + i) / 4096);
    RETURN_IF_ERROR(f->Append(buf.data(), buf.size()));
    if ((off / kWbMiB) % 4 == 3) f->WriteBehind(lag);
  }
  if (sync) RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

bool WbWhole(const std::string& data, uint64_t total) {
  if (data.size() != total) return false;
  for (uint64_t i = 0; i < total; ++i) {
    if (data[i] != char(i * 7 + i / 4096)) return false;
  }
  return true;
}

// Pages of [0, len) of the file in the page cache.
size_t WbResident(const std::string& file, uint64_t len) {
  int fd = ::open(file.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  void* p = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(p != MAP_FAILED);
  const long page = ::sysconf(_SC_PAGESIZE);
  std::vector<unsigned char> vec((len + page - 1) / page);
  REQUIRE(::mincore(p, len, vec.data()) == 0);
  ::munmap(p, len);
  ::close(fd);
  size_t n = 0;
  for (unsigned char c : vec) n += c & 1;
  return n;
}

TEST_CASE("write behind: a LocalVolume file comes back whole, its early pages out of the cache",
          "[volume][write_behind]") {
  test::PlainTmpDir tmp;
  auto v = NewLocalVolume(tmp.path());
  const uint64_t total = 48 * kWbMiB;
  REQUIRE(WriteFileBehind(*v, "f", total, 8 * kWbMiB, true).ok());
  // Page cache behaviour is the file system's: on tmpfs there is no writeback, nothing to drop.
  struct statfs sf;
  REQUIRE(::statfs(tmp.path().c_str(), &sf) == 0);
  if (sf.f_type != 0x01021994 /* TMPFS_MAGIC */) {
    const long page = ::sysconf(_SC_PAGESIZE);
    // The first 32 MiB were dropped (the last WriteBehind ran at 48 MiB, lag 8 MiB: up to 40).
    CHECK(WbResident(tmp.path() + "/f", 32 * kWbMiB) < size_t(32 * kWbMiB / page / 8));
  }
  auto back = v->ReadFile("f", total);
  REQUIRE(back.ok());
  CHECK(WbWhole(*back, total));
}

TEST_CASE("write behind: LocalVolume's Sync and Close fail after a failed wait",
          "[volume][write_behind]") {
  test::PlainTmpDir tmp;
  auto v = NewLocalVolume(tmp.path());
  WbFakeCalls fake;
  fake.wait_err = EIO;
  {
    ScopedWritebackCalls scoped(&fake);
    auto f = v->NewWritableFile("f");
    REQUIRE(f.ok());
    std::string buf(kWbMiB, 'x');
    for (int i = 0; i < 24; ++i) REQUIRE((*f)->Append(buf.data(), buf.size()).ok());
    (*f)->WriteBehind(8 * kWbMiB);
    CHECK((*f)->Sync().code() == Code::kIOError);
    CHECK((*f)->Sync().code() == Code::kIOError);  // every time
    CHECK((*f)->Close().code() == Code::kIOError);
  }
  // Unsupported: nothing fails.
  fake.wait_err = ENOSYS;
  {
    ScopedWritebackCalls scoped(&fake);
    REQUIRE(WriteFileBehind(*v, "g", 24 * kWbMiB, 8 * kWbMiB, true).ok());
  }
  auto back = v->ReadFile("g", 24 * kWbMiB);
  REQUIRE(back.ok());
  CHECK(WbWhole(*back, 24 * kWbMiB));
}

TEST_CASE("write behind: a plain PUT with fsync fails on a failed wait, and is whole otherwise",
          "[plain][write_behind]") {
  test::PlainFixture f("local");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  const std::string old_data = test::RandomBytes(100000, 3);
  REQUIRE(f.Put("bkt", "k", old_data).ok());
  const std::string data = test::RandomBytes(80 * kWbMiB, 5);
  WbFakeCalls fake;
  fake.wait_err = EIO;
  {
    ScopedWritebackCalls scoped(&fake);
    CHECK(f.Put("bkt", "k", data).code() == Code::kIOError);
  }
  CHECK(std::count_if(fake.calls.begin(), fake.calls.end(),
                      [](const WbCall& c) { return c.flags == kWbWaitFlags; }) == 1);
  CHECK(*f.Get("bkt", "k") == old_data);
  CHECK(f.vol->ListDir(".cairn/tmp")->empty());
  // The kernel's calls: the PUT is whole.
  REQUIRE(f.Put("bkt", "k", data).ok());
  CHECK(*f.Get("bkt", "k") == data);
}

}  // namespace
}  // namespace cairn
