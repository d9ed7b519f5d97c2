// Conditional GET/HEAD (304/412 as S3 and RFC 9110 decide them) and conditional PUT, decided by
// the store against the version it reads or replaces.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "tests/test_util.h"

namespace cairn {
namespace {

using test::RandomBytes;
using test::SetFixture;
using test::StringSource;

constexpr int64_t kSec = 1000000000;

TEST_CASE("EtagListMatches: lists, quotes, weak tags and *", "[conditions]") {
  const std::string e = "d41d8cd98f00b204e9800998ecf8427e";
  CHECK(EtagListMatches("\"" + e + "\"", e));
  CHECK(EtagListMatches(e, e));
  CHECK(EtagListMatches("W/\"" + e + "\"", e));
  CHECK(EtagListMatches("\"x\", \"" + e + "\"", e));
  CHECK(EtagListMatches("\"x\",W/\"" + e + "\" ,\"y\"", e));
  CHECK(EtagListMatches("*", e));
  CHECK(EtagListMatches(" * ", e));
  CHECK_FALSE(EtagListMatches("\"x\", \"y\"", e));
  CHECK_FALSE(EtagListMatches("", e));
  CHECK_FALSE(EtagListMatches(",", e));
  CHECK_FALSE(EtagListMatches("\"" + e.substr(1) + "\"", e));
  CHECK(EtagListMatches("\"abc-2\"", "abc-2"));  // a multipart ETag
}

TEST_CASE("EvaluateConditions: each condition and the precedence between them", "[conditions]") {
  const std::string etag = "abc";
  const int64_t mod = 1000 * kSec + 500000000;  // 1000.5 s: compared as 1000
  auto eval = [&](GetConditions c, bool read = true) {
    return EvaluateConditions(c, etag, mod, read).code();
  };
  GetConditions c;
  CHECK(eval(c) == Code::kOk);

  SECTION("If-Match") {
    c.if_match = "\"abc\"";
    CHECK(eval(c) == Code::kOk);
    c.if_match = "\"other\"";
    CHECK(eval(c) == Code::kPreconditionFailed);
    c.if_match = "*";
    CHECK(eval(c) == Code::kOk);
  }
  SECTION("If-None-Match: 304 on a read, 412 otherwise") {
    c.if_none_match = "\"abc\"";
    CHECK(eval(c) == Code::kNotModified);
    CHECK(eval(c, false) == Code::kPreconditionFailed);
    c.if_none_match = "*";
    CHECK(eval(c) == Code::kNotModified);
    c.if_none_match = "\"other\"";
    CHECK(eval(c) == Code::kOk);
  }
  SECTION("If-Modified-Since at seconds resolution") {
    c.if_modified_since = 1000;  // the same second: not modified since
    CHECK(eval(c) == Code::kNotModified);
    c.if_modified_since = 999;
    CHECK(eval(c) == Code::kOk);
    c.if_modified_since = 2000;
    CHECK(eval(c) == Code::kNotModified);
    CHECK(eval(c, false) == Code::kPreconditionFailed);
  }
  SECTION("If-Unmodified-Since at seconds resolution") {
    c.if_unmodified_since = 1000;
    CHECK(eval(c) == Code::kOk);
    c.if_unmodified_since = 999;
    CHECK(eval(c) == Code::kPreconditionFailed);
  }
  SECTION("If-Match true makes If-Unmodified-Since ignored") {
    c.if_match = "\"abc\"";
    c.if_unmodified_since = 1;
    CHECK(eval(c) == Code::kOk);
    c.if_match = "\"no\"";
    CHECK(eval(c) == Code::kPreconditionFailed);
  }
  SECTION("If-None-Match false gives 304 even when If-Modified-Since is true") {
    c.if_none_match = "\"abc\"";
    c.if_modified_since = 1;
    CHECK(eval(c) == Code::kNotModified);
  }
  SECTION("If-None-Match true makes If-Modified-Since ignored") {
    c.if_none_match = "\"other\"";
    c.if_modified_since = 5000;
    CHECK(eval(c) == Code::kOk);
  }
  SECTION("412 comes before 304") {
    c.if_match = "\"no\"";
    c.if_none_match = "\"abc\"";
    CHECK(eval(c) == Code::kPreconditionFailed);
    c = GetConditions();
    c.if_unmodified_since = 1;
    c.if_modified_since = 5000;
    CHECK(eval(c) == Code::kPreconditionFailed);
  }
  SECTION("times before 1970 floor to the second below") {
    CHECK(EvaluateConditions(GetConditions{std::nullopt, std::nullopt, -1, std::nullopt}, etag,
                             -kSec / 2, true)
              .code() == Code::kNotModified);
    CHECK(EvaluateConditions(GetConditions{std::nullopt, std::nullopt, std::nullopt, -1}, etag,
                             -kSec / 2, true)
              .code() == Code::kOk);
  }
}

TEST_CASE("conditional GET and HEAD on a volume set, with the info a 304 needs", "[conditions]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  f.clock.Set(1700000000 * kSec + 250000000);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(100000, 6);
  StringSource src(data);
  auto put = f.set->PutObject("bkt", "k", src, PutOptions());
  REQUIRE(put.ok());
  const std::string quoted = "\"" + put->etag + "\"";

  GetOptions o;
  o.conditions.if_none_match = quoted;
  ObjectInfo verdict;
  auto r = f.set->OpenObject("bkt", "k", o, &verdict);
  CHECK(r.status().code() == Code::kNotModified);
  CHECK(verdict.etag == put->etag);
  CHECK(verdict.mod_time_ns == put->mod_time_ns);
  CHECK(verdict.size == data.size());
  ObjectInfo hv;
  CHECK(f.set->HeadObject("bkt", "k", o, &hv).status().code() == Code::kNotModified);
  CHECK(hv.etag == put->etag);
  CHECK(f.set->HeadObject("bkt", "k", o).status().code() == Code::kNotModified);  // no verdict

  o = GetOptions();
  o.conditions.if_match = "\"nope\"";
  verdict = ObjectInfo();
  CHECK(f.set->OpenObject("bkt", "k", o, &verdict).status().code() == Code::kPreconditionFailed);
  CHECK(verdict.etag == put->etag);
  CHECK(f.set->HeadObject("bkt", "k", o).status().code() == Code::kPreconditionFailed);

  o = GetOptions();
  o.conditions.if_modified_since = 1700000000;
  CHECK(f.set->OpenObject("bkt", "k", o).status().code() == Code::kNotModified);
  o.conditions.if_modified_since = 1699999999;
  auto ok = f.set->OpenObject("bkt", "k", o);
  REQUIRE(ok.ok());
  test::StringSink sink;
  REQUIRE((*ok)->WriteTo(sink).ok());
  CHECK(sink.out == data);

  o = GetOptions();
  o.conditions.if_unmodified_since = 1699999999;
  CHECK(f.set->HeadObject("bkt", "k", o).status().code() == Code::kPreconditionFailed);
  // Conditions come before the range: a 304 whatever range was asked.
  o = GetOptions();
  o.conditions.if_none_match = "*";
  o.range = GetRange{data.size() + 10};
  CHECK(f.set->OpenObject("bkt", "k", o).status().code() == Code::kNotModified);
  // A missing object is a 404 whatever the conditions.
  CHECK(f.set->OpenObject("bkt", "nokey", o).status().code() == Code::kNotFound);
}

TEST_CASE("conditional PUT: If-None-Match * and If-Match, nothing committed on failure",
          "[conditions]") {
  SetFixture f(4, 2, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  for (size_t size : {size_t(100), size_t(200000)}) {  // inline and streamed
    CAPTURE(size);
    const std::string key = "k" + std::to_string(size);
    const std::string v1 = RandomBytes(size, 1), v2 = RandomBytes(size, 2);
    PutOptions po;
    po.if_match = "\"anything\"";
    StringSource s0(v1);
    CHECK(f.set->PutObject("bkt", key, s0, po).status().code() == Code::kPreconditionFailed);
    CHECK(f.set->HeadObject("bkt", key).status().code() == Code::kNotFound);
    po = PutOptions();
    po.if_none_match_star = true;
    StringSource s1(v1);
    auto first = f.set->PutObject("bkt", key, s1, po);
    REQUIRE(first.ok());
    StringSource s2(v2);
    CHECK(f.set->PutObject("bkt", key, s2, po).status().code() == Code::kPreconditionFailed);
    CHECK(*f.Get("bkt", key) == v1);
    po = PutOptions();
    po.if_match = "\"other\"";
    StringSource s3(v2);
    CHECK(f.set->PutObject("bkt", key, s3, po).status().code() == Code::kPreconditionFailed);
    CHECK(*f.Get("bkt", key) == v1);
    po.if_match = "\"" + first->etag + "\"";
    StringSource s4(v2);
    REQUIRE(f.set->PutObject("bkt", key, s4, po).ok());
    CHECK(*f.Get("bkt", key) == v2);
  }
  // Nothing left behind by the refused writes: only the objects' own files, no temp files.
  for (size_t i = 0; i < f.mem.size(); ++i) {
    for (const auto& p : f.Files(i, ".cairn/tmp")) {
      auto st = f.mem[i]->Stat(p);
      REQUIRE(st.ok());
      CHECK(p.find(".shard") == std::string::npos);
    }
  }
}

TEST_CASE(
    "conditional PUT under concurrency: one of many If-None-Match * writers wins, and "
    "If-Match writers replace each version once",
    "[conditions][concurrent]") {
  SetFixture f(2, 1, 64 << 10, 4 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  constexpr int kWriters = 8;
  for (int round = 0; round < 5; ++round) {
    const std::string key = "race" + std::to_string(round);
    std::atomic<int> won{0}, refused{0}, other{0};
    std::vector<std::thread> ts;
    for (int w = 0; w < kWriters; ++w) {
      ts.emplace_back([&, w] {
        PutOptions po;
        po.if_none_match_star = true;
        po.fsync = false;
        StringSource src(RandomBytes(w % 2 ? 50 : 70000, w), 997);
        Status s = f.set->PutObject("bkt", key, src, po).status();
        if (s.ok())
          ++won;
        else if (s.code() == Code::kPreconditionFailed)
          ++refused;
        else
          ++other;
      });
    }
    for (auto& t : ts) t.join();
    CHECK(won == 1);
    CHECK(refused == kWriters - 1);
    CHECK(other == 0);
  }
  // Compare-and-swap: each writer reads the ETag and replaces that version with If-Match (every
  // body is different, so every version has its own ETag). No two writers may succeed from the
  // same ETag: each version is replaced at most once.
  REQUIRE(f.Put("bkt", "cas", "0").ok());
  std::mutex mu;
  std::vector<std::string> replaced;
  std::vector<std::thread> ts;
  for (int w = 0; w < kWriters; ++w) {
    ts.emplace_back([&, w] {
      for (int i = 0; i < 10; ++i) {
        auto h = f.set->HeadObject("bkt", "cas");
        if (!h.ok()) continue;
        PutOptions po;
        po.if_match = h->etag;
        po.fsync = false;
        StringSource src(std::to_string(w) + "-" + std::to_string(i));
        if (f.set->PutObject("bkt", "cas", src, po).ok()) {
          std::lock_guard<std::mutex> l(mu);
          replaced.push_back(h->etag);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  REQUIRE(!replaced.empty());
  std::sort(replaced.begin(), replaced.end());
  CHECK(std::adjacent_find(replaced.begin(), replaced.end()) == replaced.end());
}

}  // namespace
}  // namespace cairn
