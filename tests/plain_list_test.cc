// PlainDir listings against the reference model (tests/list_model.h) over tricky trees: names that
// sort around '/', folder markers, empty directories, UTF-8, long names, and files added between
// pages.
#include <catch2/catch.hpp>
#include <random>

#include "libstore/plain/key_map.h"
#include "tests/list_model.h"
#include "tests/plain_test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

// Keys a plain directory can hold together: no key is a prefix-directory of another key's file.
bool Compatible(const std::set<std::string>& keys, const std::string& k) {
  if (!ValidatePlainKey(k).ok()) return false;
  // k's parent directories must not be files, and k (a file) must not be a directory.
  for (size_t pos = k.find('/'); pos != std::string::npos && pos + 1 < k.size();
       pos = k.find('/', pos + 1)) {
    if (keys.count(k.substr(0, pos))) return false;
  }
  const std::string base = k.back() == '/' ? k.substr(0, k.size() - 1) : k;
  if (k.back() == '/') return !keys.count(base);
  for (const auto& o : keys) {
    if (o.size() > k.size() && o.compare(0, k.size(), k) == 0 && o[k.size()] == '/') return false;
  }
  return true;
}

}  // namespace

TEST_CASE("plain listing matches the reference model", "[plain][list]") {
  for (const char* kind : {"mem", "local"}) {
    CAPTURE(kind);
    PlainDirOptions o;
    o.no_fsync = true;
    PlainFixture f(kind, o);
    REQUIRE(f.store->MakeBucket("bkt").ok());
    std::set<std::string> keys;
    std::vector<std::string> wanted = {"a-b",
                                       "a/b",
                                       "a/b/",
                                       "a/b/c",
                                       "a0",
                                       "a.",
                                       "b",
                                       "a/",
                                       "photos/2024/jan.jpg",
                                       "photos/2024/feb.jpg",
                                       "photos/2023/x",
                                       "photos/readme",
                                       "ü",
                                       "z/ü/1",
                                       "%",
                                       "100%/x",
                                       "dir/",
                                       std::string(250, 'q') + "/end",
                                       std::string(200, 'q') + "a",
                                       "empty-marker/",
                                       "deep/er/than/that/",
                                       "x/y-",
                                       "x/y/z",
                                       "x/y0"};
    std::mt19937_64 rng(11);
    const char alphabet[] = "ab/-.";
    for (int i = 0; i < 150; ++i) {
      std::string k;
      int len = 1 + int(rng() % 8);
      for (int j = 0; j < len; ++j) k.push_back(alphabet[rng() % 5]);
      wanted.push_back(k);
    }
    for (const auto& k : wanted) {
      if (!Compatible(keys, k)) continue;
      keys.insert(k);
      REQUIRE(f.Put("bkt", k, k.back() == '/' ? "" : "x").ok());
    }
    // Markers whose directory also holds objects keep their record; an implicit directory is
    // not a key. Directories made for deeper keys are implied by those keys only.
    std::vector<std::string> prefixes = {"",
                                         "a",
                                         "a/",
                                         "a/b",
                                         "photos/",
                                         "photos/2024/",
                                         "q",
                                         "zz",
                                         "b/",
                                         "ü",
                                         std::string(250, 'q'),
                                         "x/y",
                                         "deep/er/",
                                         "a//",
                                         "../"};
    for (const auto& prefix : prefixes) {
      for (const std::string& delim : std::vector<std::string>{"", "/", "-", "b/"}) {
        for (const std::string& start : std::vector<std::string>{"", "a/b", "b", "photos/2024"}) {
          for (int max_keys : {1, 3, 1000}) {
            CAPTURE(prefix, delim, start, max_keys);
            Page want = Reference(keys, prefix, delim, start);
            Page got = ListAll(*f.store, prefix, delim, start, max_keys);
            REQUIRE(got.keys == want.keys);
            REQUIRE(got.prefixes == want.prefixes);
          }
        }
      }
    }
  }
}

TEST_CASE("plain listing shows files changed between pages at once", "[plain][list]") {
  PlainFixture f("mem");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  for (const char* k : {"a", "c", "e"}) REQUIRE(f.Put("bkt", k, "x").ok());
  ListOptions lo;
  lo.max_keys = 1;
  auto p1 = f.store->ListObjects("bkt", lo);
  REQUIRE(p1.ok());
  REQUIRE(p1->objects[0].key == "a");
  REQUIRE(f.vol->WriteFile("bkt/b", "new", false).ok());  // another program adds a file
  REQUIRE(f.vol->Remove("bkt/c").ok());
  lo.continuation_token = p1->next_token;
  lo.max_keys = 1000;
  auto p2 = f.store->ListObjects("bkt", lo);
  REQUIRE(p2.ok());
  REQUIRE(p2->objects.size() == 2);
  CHECK(p2->objects[0].key == "b");
  CHECK(p2->objects[0].size == 3);
  CHECK(p2->objects[1].key == "e");
  lo.continuation_token = "garbage";
  CHECK(f.store->ListObjects("bkt", lo).status().code() == Code::kInvalidArgument);
  lo.continuation_token.clear();
  lo.max_keys = 0;
  CHECK(f.store->ListObjects("bkt", lo).status().code() == Code::kInvalidArgument);
}
