// The write quorum, max(K, N/2 + 1): K+1 when K = M, so that two halves of a set split in two can
// never both accept writes. A write below quorum must fail before it changes anything.
#include <catch2/catch.hpp>

#include "tests/test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

// Takes the volumes at `positions` offline (or back online with online = true) and reopens.
void SetOnline(SetFixture& f, std::initializer_list<int> positions, bool online) {
  for (int p : positions) f.vols[p] = online ? f.faulty[p].get() : nullptr;
  f.Reopen();
  REQUIRE(f.set != nullptr);
}

}  // namespace

TEST_CASE("write quorum: K+1 when K = M, else max(K, N/2 + 1)", "[quorum]") {
  CHECK(WriteQuorum(1, 1) == 2);
  CHECK(WriteQuorum(2, 2) == 3);
  CHECK(WriteQuorum(4, 4) == 5);
  CHECK(WriteQuorum(2, 1) == 2);
  CHECK(WriteQuorum(4, 2) == 4);
  CHECK(WriteQuorum(8, 4) == 8);
  CHECK(WriteQuorum(3, 5) == 5);
  CHECK(WriteQuorum(1, 0) == 1);
}

TEST_CASE("2+2 with K members online: every write fails and changes nothing", "[quorum]") {
  SetFixture f(2, 2, 64 << 10, 16 << 10);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.set->MakeBucket("gone").ok());
  const std::string big = RandomBytes(300000, 1), small = RandomBytes(500, 2);
  REQUIRE(f.Put("bkt", "big", big).ok());
  REQUIRE(f.Put("bkt", "small", small).ok());
  CHECK(f.set->write_quorum() == 3);
  CHECK(f.set->read_quorum() == 2);

  SetOnline(f, {3}, false);  // K+1 = 3 online: writes work
  REQUIRE(f.Put("bkt", "three", small).ok());
  SetOnline(f, {1}, false);  // K = 2 online
  CHECK(f.Put("bkt", "big", RandomBytes(400000, 3)).code() == Code::kQuorum);
  CHECK(f.Put("bkt", "new", small).code() == Code::kQuorum);
  CHECK(f.set->DeleteObject("bkt", "small").code() == Code::kQuorum);
  CHECK(f.set->DeleteObject("bkt", "three").code() == Code::kQuorum);
  CHECK(f.set->MakeBucket("other").code() == Code::kQuorum);
  CHECK(f.set->RemoveBucket("gone", false).code() == Code::kQuorum);
  // Reads need only K.
  CHECK(*f.Get("bkt", "big") == big);

  SetOnline(f, {1, 3}, true);
  CHECK(*f.Get("bkt", "big") == big);
  CHECK(*f.Get("bkt", "small") == small);
  CHECK(*f.Get("bkt", "three") == small);
  CHECK(f.set->HeadObject("bkt", "new").status().code() == Code::kNotFound);
  CHECK(f.set->BucketExists("other").code() == Code::kBucketNotFound);
  CHECK(f.set->BucketExists("gone").ok());
  // Nothing was removed from the members that were online: every copy is whole.
  for (const char* key : {"big", "small"}) {
    auto d = f.set->StatObject("bkt", key);
    REQUIRE(d.ok());
    for (const auto& s : d->shards) CHECK(s.state == CopyState::kOk);
  }
  for (int v : {0, 2}) {
    INFO("volume " << v);
    CHECK(f.Files(v, "other").empty());
    CHECK(f.Files(v, ".cairn/tmp").empty());
  }
}
