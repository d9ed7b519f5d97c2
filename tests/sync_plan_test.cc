#include "libstore/client/sync_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>

#include "libstore/common/hash.h"
#include "serve_fixture.h"

using namespace cairn;
using namespace cairn::s3;

namespace {

constexpr int64_t kSec = 1000000000;

class FakeStream : public EntryStream {
 public:
  explicit FakeStream(std::vector<SyncEntry> v) : v_(std::move(v)) {}
  Result<bool> Next(SyncEntry* e) override {
    ++pulls;
    if (fail_at >= 0 && i_ == size_t(fail_at)) return Status(Code::kIOError, "injected listing failure");
    if (i_ == v_.size()) return false;
    *e = v_[i_++];
    return true;
  }
  int fail_at = -1;
  int pulls = 0;

 private:
  std::vector<SyncEntry> v_;
  size_t i_ = 0;
};

SyncEntry E(std::string key, uint64_t size = 1, int64_t mtime_sec = 100, std::string etag = "") {
  SyncEntry e;
  e.key = std::move(key);
  e.size = size;
  e.mtime_ns = mtime_sec * kSec;
  e.etag = std::move(etag);
  return e;
}

// "copy:missing:key" strings of the whole plan.
std::vector<std::string> Plan(std::vector<SyncEntry> src, std::vector<SyncEntry> dst,
                              PlanOptions o = {}) {
  FakeStream s(std::move(src)), d(std::move(dst));
  SyncPlanner p(s, d, std::move(o));
  std::vector<std::string> out;
  SyncAction a;
  while (true) {
    auto more = p.Next(&a);
    REQUIRE(more.ok());
    if (!*more) break;
    const std::string& key = a.kind == ActionKind::kDelete ? a.dst.key : a.src.key;
    out.push_back(std::string(Name(a.kind)) + ":" + Name(a.reason) + ":" + key);
  }
  return out;
}

}  // namespace

TEST_CASE("sync plan: missing keys are copied, equal ones left, extra ones deleted with --delete",
          "[sync]") {
  std::vector<SyncEntry> src = {E("a"), E("b"), E("d")};
  std::vector<SyncEntry> dst = {E("b"), E("c"), E("e")};
  CHECK(Plan(src, dst) == std::vector<std::string>{"copy:missing:a", "copy:missing:d"});
  PlanOptions o;
  o.delete_extra = true;
  CHECK(Plan(src, dst, o) == std::vector<std::string>{"copy:missing:a", "delete:not-in-source:c",
                                                       "copy:missing:d",
                                                       "delete:not-in-source:e"});
  CHECK(Plan({}, {}, o).empty());
  CHECK(Plan({}, {E("x")}, o) == std::vector<std::string>{"delete:not-in-source:x"});
  CHECK(Plan({E("x")}, {}) == std::vector<std::string>{"copy:missing:x"});
}

TEST_CASE("sync plan: every compare rule", "[sync]") {
  // Same size, same second: unchanged (the nanoseconds below a second do not count).
  SyncEntry s = E("k", 10, 100), d = E("k", 10, 100);
  s.mtime_ns += 999999999;
  CHECK_FALSE(CopyReason(s, d, std::nullopt).has_value());
  // Size differs, even with an older source.
  CHECK(CopyReason(E("k", 11, 50), E("k", 10, 100), std::nullopt) == Reason::kSizeDiffers);
  // Newer source by a second.
  CHECK(CopyReason(E("k", 10, 101), E("k", 10, 100), std::nullopt) == Reason::kNewer);
  // Older source (an upload's LastModified is later than the file): unchanged.
  CHECK_FALSE(CopyReason(E("k", 10, 99), E("k", 10, 100), std::nullopt).has_value());
  // --checksum decides over the times when it can tell.
  CHECK(CopyReason(E("k", 10, 100), E("k", 10, 100), false) == Reason::kChecksumDiffers);
  CHECK_FALSE(CopyReason(E("k", 10, 500), E("k", 10, 100), true).has_value());
  // ... but not over the size.
  CHECK(CopyReason(E("k", 11, 100), E("k", 10, 100), true) == Reason::kSizeDiffers);
  // Times before 1970 round down, not toward zero.
  CHECK(CopyReason(E("k", 1, 0), E("k", 1, -1), std::nullopt) == Reason::kNewer);

  CHECK(Plan({E("a", 1, 100), E("b", 2, 100), E("c", 1, 200)},
             {E("a", 1, 100), E("b", 1, 100), E("c", 1, 100)}) ==
        std::vector<std::string>{"copy:size:b", "copy:newer:c"});
}

TEST_CASE("sync plan: --checksum asks only for same-size keys on both sides", "[sync]") {
  PlanOptions o;
  o.checksum = true;
  std::vector<std::string> asked;
  o.same_content = [&](const SyncEntry& s, const SyncEntry& d) -> Result<std::optional<bool>> {
    asked.push_back(s.key);
    CHECK(s.key == d.key);
    if (s.key == "same") return std::optional<bool>(true);
    if (s.key == "unknown") return std::optional<bool>();
    if (s.key == "broken") return Status(Code::kIOError, "injected read failure");
    return std::optional<bool>(false);
  };
  CHECK(Plan({E("diff", 5, 100), E("new"), E("same", 5, 900), E("size", 6), E("unknown", 5, 200)},
             {E("diff", 5, 100), E("same", 5, 100), E("size", 5), E("unknown", 5, 100)}, o) ==
        std::vector<std::string>{"copy:checksum:diff", "copy:missing:new", "copy:size:size",
                                 "copy:newer:unknown"});
  CHECK(asked == std::vector<std::string>{"diff", "same", "unknown"});

  FakeStream s({E("broken")}), d({E("broken")});
  SyncPlanner p(s, d, o);
  SyncAction a;
  auto r = p.Next(&a);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("injected read failure") != std::string::npos);
}

TEST_CASE("sync plan: keys in byte order: 'a-b' < 'a/b' < 'ab', unicode after ASCII", "[sync]") {
  std::vector<std::string> keys = {"a-b", "a/b", "ab", "z", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac"};
  std::vector<SyncEntry> src;
  for (const auto& k : keys) src.push_back(E(k));
  const auto plan = Plan(src, {E("a/b")});
  CHECK(plan == std::vector<std::string>{"copy:missing:a-b", "copy:missing:ab", "copy:missing:z",
                                         "copy:missing:\xc3\xa9t\xc3\xa9",
                                         "copy:missing:\xe2\x82\xac"});
}

TEST_CASE("sync plan: a stream out of order or failing ends the plan with an error", "[sync]") {
  {
    FakeStream s({E("b"), E("a")}), d({});
    SyncPlanner p(s, d, {});
    SyncAction a;
    Result<bool> r = true;
    while (r.ok() && *r) r = p.Next(&a);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInternal);
    CHECK(r.status().message().find("source listing is out of key order: 'a' after 'b'") !=
          std::string::npos);
  }
  {
    FakeStream s({}), d({E("a"), E("a")});
    SyncPlanner p(s, d, {});
    SyncAction a;
    Result<bool> r = true;
    while (r.ok() && *r) r = p.Next(&a);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("destination listing") != std::string::npos);
  }
  {
    FakeStream s({E("a"), E("b"), E("c")}), d({});
    s.fail_at = 2;
    SyncPlanner p(s, d, {});
    SyncAction a;
    int actions = 0;
    Result<bool> r = true;
    while (true) {
      r = p.Next(&a);
      if (!r.ok() || !*r) break;
      ++actions;
    }
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "injected listing failure");
    CHECK(actions == 1);  // "a" was planned; "b" waits for the next pull, which failed
  }
}

TEST_CASE("sync plan: filters apply to both sides", "[sync]") {
  PlanOptions o;
  o.delete_extra = true;
  o.filter.Add(FilterKind::kExclude, "*.tmp");
  o.filter.Add(FilterKind::kExclude, "keep/*");
  o.filter.Add(FilterKind::kInclude, "keep/in*");
  const auto plan = Plan({E("a.tmp"), E("b"), E("keep/in1"), E("keep/out")},
                         {E("c.tmp"), E("keep/in2"), E("keep/x")}, o);
  CHECK(plan == std::vector<std::string>{"copy:missing:b", "copy:missing:keep/in1",
                                         "delete:not-in-source:keep/in2"});
}

TEST_CASE("sync plan: keys that cannot be local paths are refused, folder markers skipped",
          "[sync]") {
  PlanOptions o;
  o.local_destination = true;
  // Byte order: "." (0x2e) < "/" (0x2f), so "../up" comes before "/abs".
  FakeStream s({E("../up"), E("/abs"), E("a/../../b"), E("a//b"), E("dir/"), E("dir/./x"),
                E("dir/f")}),
      d({});
  SyncPlanner p(s, d, o);
  std::vector<std::string> got;
  SyncAction a;
  while (true) {
    auto r = p.Next(&a);
    REQUIRE(r.ok());
    if (!*r) break;
    got.push_back(std::string(Name(a.kind)) + ":" + a.src.key);
  }
  CHECK(got == std::vector<std::string>{"refuse:../up", "refuse:/abs", "refuse:a/../../b",
                                        "refuse:a//b", "refuse:dir/./x", "copy:dir/f"});
  CHECK(IsSafeRelativePath("a/b c/\xc3\xa9"));
  CHECK(IsSafeRelativePath("..a/b.."));
  CHECK_FALSE(IsSafeRelativePath(""));
  CHECK_FALSE(IsSafeRelativePath("a/"));
  CHECK_FALSE(IsSafeRelativePath(".."));
  CHECK_FALSE(IsSafeRelativePath(std::string("a\0b", 3)));
}

TEST_CASE("sync plan: random streams against a set model", "[sync]") {
  std::mt19937 rng(16);
  for (int round = 0; round < 200; ++round) {
    std::set<std::string> sk, dk;
    const char* alphabet[] = {"a", "b", "/", "-", "\xc3\xa9"};
    for (int i = 0; i < 30; ++i) {
      std::string k;
      for (int n = 1 + int(rng() % 4); n > 0; --n) k += alphabet[rng() % 5];
      (rng() % 2 ? sk : dk).insert(k);
      if (rng() % 3 == 0) {
        sk.insert(k);
        dk.insert(k);
      }
    }
    std::vector<SyncEntry> s, d;
    for (const auto& k : sk) s.push_back(E(k, k.size()));
    for (const auto& k : dk) d.push_back(E(k, k.size()));
    PlanOptions o;
    o.delete_extra = true;
    std::vector<std::string> want;
    std::set<std::string> all = sk;
    all.insert(dk.begin(), dk.end());
    for (const auto& k : all) {
      if (!dk.count(k)) want.push_back("copy:missing:" + k);
      if (!sk.count(k)) want.push_back("delete:not-in-source:" + k);
    }
    REQUIRE(Plan(s, d, o) == want);
  }
}

TEST_CASE("ParseS3Time reads S3's ISO 8601 times", "[sync]") {
  CHECK(ParseS3Time("1970-01-01T00:00:00.000Z") == int64_t(0));
  CHECK(ParseS3Time("1970-01-01T00:00:01Z") == kSec);
  CHECK(ParseS3Time("2026-12-03T07:16:08.000Z") == int64_t(1796282168) * kSec);
  CHECK(ParseS3Time("2000-02-29T12:00:00.5Z") == int64_t(951825600) * kSec + kSec / 2);
  CHECK_FALSE(ParseS3Time("2026-12-03 07:16:08Z").has_value());
  CHECK_FALSE(ParseS3Time("2026-13-03T07:16:08Z").has_value());
  CHECK_FALSE(ParseS3Time("2026-12-03T07:16:08").has_value());
  CHECK_FALSE(ParseS3Time("2026-12-03T07:16:08.x0Z").has_value());
  CHECK_FALSE(ParseS3Time("").has_value());
}

TEST_CASE("--checksum: MD5 and multipart ETags against a local file", "[sync]") {
  const std::string dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  const std::string path = dir + "/cairn-sync-plan-test-" + std::to_string(::getpid());
  std::string body(uint64_t(17) << 20, '\0');
  std::mt19937 rng(3);
  for (auto& c : body) c = char(rng());
  { std::ofstream(path, std::ios::binary).write(body.data(), std::streamsize(body.size())); }
  Md5Stream md5;
  md5.Update(body.data(), body.size());
  const std::string whole = md5.FinalHex();

  auto r = LocalMatchesEtag(path, body.size(), whole);
  REQUIRE(r.ok());
  CHECK(*r == std::optional<bool>(true));
  std::string other = whole;
  other[0] = other[0] == 'a' ? 'b' : 'a';
  r = LocalMatchesEtag(path, body.size(), other);
  REQUIRE(r.ok());
  CHECK(*r == std::optional<bool>(false));

  // The multipart ETag for 8 MiB parts, computed here by hand: 3 parts.
  std::string cat;
  for (uint64_t off = 0; off < body.size(); off += 8 << 20) {
    Md5Stream p;
    p.Update(body.data() + off, std::min<uint64_t>(8 << 20, body.size() - off));
    uint8_t d[16];
    p.Final(d);
    cat.append(reinterpret_cast<char*>(d), 16);
  }
  Md5Stream m;
  m.Update(cat.data(), cat.size());
  const std::string mp = m.FinalHex() + "-3";
  const int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  auto e = MultipartEtag(fd, body.size(), 8 << 20);
  ::close(fd);
  REQUIRE(e.ok());
  CHECK(*e == mp);
  r = LocalMatchesEtag(path, body.size(), mp);
  REQUIRE(r.ok());
  CHECK(*r == std::optional<bool>(true));
  r = LocalMatchesEtag(path, body.size(), other + "-3");
  REQUIRE(r.ok());
  CHECK(*r == std::optional<bool>(false));
  // 40 parts of a 17 MiB file: no usual part size gives that many; cannot tell.
  r = LocalMatchesEtag(path, body.size(), mp.substr(0, 32) + "-40");
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_value());
  // Not an ETag of either kind.
  r = LocalMatchesEtag(path, body.size(), "xyz");
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_value());
  // A file that is gone: an error naming it.
  ::unlink(path.c_str());
  r = LocalMatchesEtag(path, body.size(), whole);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find(path) != std::string::npos);

  CHECK(CandidatePartSizes(uint64_t(17) << 20, 3) ==
        std::vector<uint64_t>{uint64_t(8) << 20, uint64_t(6) << 20});
  CHECK(CandidatePartSizes(uint64_t(17) << 20, 4) == std::vector<uint64_t>{uint64_t(5) << 20});
  CHECK(CandidatePartSizes(100, 0).empty());

  CHECK(EtagsMatch(whole, whole) == std::optional<bool>(true));
  CHECK(EtagsMatch(whole, other) == std::optional<bool>(false));
  CHECK(EtagsMatch(mp, mp) == std::optional<bool>(true));
  CHECK_FALSE(EtagsMatch(mp, whole).has_value());
}

// ---------------------------------------------------------------------- RemoteStream over serve

namespace {

// The serve stack over a 2+1 set in memory, no authentication.
struct ListServer : test::ServeFixture {
  ListServer() : ServeFixture(/*max_attempts=*/1) {}
  void Put(const std::string& key, const std::string& body) {
    Payload p;
    p.data = body.data();
    p.size = body.size();
    REQUIRE(client->PutObject("bkt", key, p).ok());
  }
};

}  // namespace

TEST_CASE("RemoteStream: a listing in pages, keys relative to the prefix, in order", "[sync]") {
  ListServer s;
  REQUIRE(s.f.set->MakeBucket("bkt").ok());
  std::vector<std::string> want;
  for (int i = 0; i < 23; ++i) {
    const std::string rel = (i % 3 == 0 ? "a-b" : i % 3 == 1 ? "a/b" : "\xc3\xa9") + std::to_string(i);
    s.Put("p/" + rel, std::string(size_t(i), 'x'));
    want.push_back(rel);
  }
  s.Put("o", "outside before");
  s.Put("p0", "beside the prefix");
  s.Put("q/x", "outside after");
  std::sort(want.begin(), want.end());

  RemoteStream rs(*s.client, "bkt", "p/", 4);  // 6 pages
  std::vector<std::string> got;
  SyncEntry e;
  while (true) {
    auto more = rs.Next(&e);
    REQUIRE(more.ok());
    if (!*more) break;
    got.push_back(e.key);
    CHECK(e.size == uint64_t(std::stoi(e.key.substr(e.key.find_first_of("0123456789")))));
    CHECK(e.etag.size() == 32);
    CHECK(e.mtime_ns > int64_t(1700000000) * kSec);
    CHECK(e.path.empty());
  }
  CHECK(got == want);

  SECTION("stopped half way: the destructor ends the listing thread") {
    auto early = std::make_unique<RemoteStream>(*s.client, "bkt", "p/", 2);
    for (int i = 0; i < 3; ++i) REQUIRE(*early->Next(&e));
    early.reset();  // would hang if the listing thread waited for a reader forever
    SUCCEED();
  }
  SECTION("a missing bucket is the stream's error") {
    RemoteStream missing(*s.client, "nope", "");
    auto r = missing.Next(&e);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kBucketNotFound);
  }
  SECTION("an empty prefix lists the whole bucket") {
    RemoteStream all(*s.client, "bkt", "", 1000);
    int n = 0;
    while (*all.Next(&e)) ++n;
    CHECK(n == 26);
  }
}
