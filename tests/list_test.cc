// Listing against a reference model: prefix, delimiter, start-after, paging with continuation
// tokens, UTF-8 byte order, chunked long segments, and degraded sets.
#include <catch2/catch.hpp>
#include <set>

#include "tests/list_model.h"
#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::test;

TEST_CASE("listing matches the reference model", "[list]") {
  SetFixture f(2, 1, 64 << 10, 1 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  std::set<std::string> keys = {"a",
                                "a/",
                                "a/b",
                                "a-b",
                                "a/b/c",
                                "a/b/",
                                "a0",
                                "b",
                                "photos/2024/jan.jpg",
                                "photos/2024/feb.jpg",
                                "photos/2023/x",
                                "photos/readme",
                                "ü",
                                "z/ü/1",
                                "%",
                                "100%/x",
                                "dir/",
                                "dir//double",
                                std::string(300, 'q') + "/end",
                                std::string(300, 'q'),
                                std::string(200, 'q') + "a",
                                std::string(199, 'r') + "%" + "tail"};
  std::mt19937_64 rng(11);
  const char alphabet[] = "ab/-.";
  for (int i = 0; i < 150; ++i) {
    std::string k;
    int len = 1 + int(rng() % 8);
    for (int j = 0; j < len; ++j) k.push_back(alphabet[rng() % 5]);
    keys.insert(k);
  }
  for (const auto& k : keys) REQUIRE(f.Put("bkt", k, "x").ok());

  std::vector<std::string> prefixes = {
      "", "a", "a/", "a/b", "photos/", "photos/2024/", "q", "zz", "b/", "ü", std::string(250, 'q')};
  for (const auto& prefix : prefixes) {
    for (const std::string& delim : std::vector<std::string>{"", "/", "-", "b/"}) {
      for (const std::string& start : std::vector<std::string>{"", "a/b", "b", "photos/2024"}) {
        for (int max_keys : {1, 3, 1000}) {
          CAPTURE(prefix, delim, start, max_keys);
          Page want = Reference(keys, prefix, delim, start);
          Page got = ListAll(*f.set, prefix, delim, start, max_keys);
          REQUIRE(got.keys == want.keys);
          REQUIRE(got.prefixes == want.prefixes);
        }
      }
    }
  }
}

TEST_CASE("listing with volumes offline and after deletes", "[list][degraded]") {
  SetFixture f(4, 2, 64 << 10, 1 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  std::set<std::string> keys;
  for (int i = 0; i < 60; ++i) keys.insert("k/" + std::to_string(i * 7919 % 1000));
  for (const auto& k : keys) REQUIRE(f.Put("bkt", k, std::string(k.size() * 100, 'x')).ok());
  for (int i = 0; i < 10; ++i) {
    std::string k = *std::next(keys.begin(), i * 3);
    REQUIRE(f.set->DeleteObject("bkt", k).ok());
    keys.erase(k);
  }
  std::vector<Volume*> vols = f.vols;
  vols[1] = nullptr;
  vols[4] = nullptr;
  auto set = ErasureSet::Open(vols, f.params);
  REQUIRE(set.ok());
  Page got = ListAll(**set, "", "", "", 7);
  Page want = Reference(keys, "", "", "");
  CHECK(got.keys == want.keys);
  Page roll = ListAll(**set, "", "/", "", 1000);
  CHECK(roll.prefixes == std::vector<std::string>{"k/"});
  CHECK(roll.keys.empty());
}

TEST_CASE("bad continuation token is an invalid argument", "[list]") {
  SetFixture f(1, 0);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  ListOptions lo;
  lo.continuation_token = "garbage";
  CHECK(f.set->ListObjects("bkt", lo).status().code() == Code::kInvalidArgument);
  CHECK(f.set->ListObjects("nope", ListOptions{}).status().code() == Code::kBucketNotFound);
}
