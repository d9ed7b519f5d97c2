// PlainDir's own CopyObject (copy_file_range into a temp file, a self-copy that rewrites the
// record), where its metadata database lives and what a PUT does when the database fails.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "libstore/common/hash.h"
#include "libstore/plain/sqlite_db.h"
#include "tests/plain_test_util.h"

namespace cairn {
namespace {

using test::PlainFixture;
using test::PlainTmpDir;
using test::RandomBytes;
using test::Md5Hex;
using test::StringSink;
using test::StringSource;

TEST_CASE("plain copy: bytes copied into a new file, the source's MD5 learned on the way",
          "[plain][copy]") {
  for (const char* kind : {"mem", "local", "faulty"}) {
    CAPTURE(kind);
    PlainFixture f(kind);
    REQUIRE(f.store->MakeBucket("bkt").ok());
    // A file that did not come through cairn: its MD5 is not known yet.
    const std::string data = RandomBytes(700000, 11);
    REQUIRE(f.vol->WriteFile("bkt/foreign.bin", data, false).ok());
    REQUIRE(f.store->HeadObject("bkt", "foreign.bin")->etag.substr(32) == "-1");
    auto c = f.store->CopyObject("bkt", "foreign.bin", "bkt", "copies/one", CopyOptions());
    REQUIRE(c.ok());
    CHECK(c->etag == Md5Hex(data));
    CHECK(c->size == data.size());
    CHECK(*f.Get("bkt", "copies/one") == data);
    CHECK(f.store->HeadObject("bkt", "foreign.bin")->etag == Md5Hex(data));  // learned
    auto src_st = f.vol->Stat("bkt/foreign.bin");
    auto dst_st = f.vol->Stat("bkt/copies/one");
    CHECK(src_st->ino != dst_st->ino);  // a file of its own
    // Known MD5 now: the copy goes through AppendFrom and keeps it.
    auto c2 = f.store->CopyObject("bkt", "copies/one", "bkt", "copies/two", CopyOptions());
    REQUIRE(c2.ok());
    CHECK(c2->etag == Md5Hex(data));
    CHECK(*f.Get("bkt", "copies/two") == data);
    // kFast on a file whose MD5 is unknown: no hashing, a stamp ETag.
    REQUIRE(f.vol->WriteFile("bkt/other.bin", "other", false).ok());
    CopyOptions fast;
    fast.etag = EtagMode::kFast;
    auto c3 = f.store->CopyObject("bkt", "other.bin", "bkt", "fast", fast);
    REQUIRE(c3.ok());
    CHECK(c3->etag.substr(32) == "-1");
    CHECK(*f.Get("bkt", "fast") == "other");
    CHECK(f.base->ListDir(".cairn/tmp")->empty());
  }
}

TEST_CASE("plain copy: onto itself with REPLACE rewrites the record only", "[plain][copy]") {
  PlainFixture f("local");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  PutOptions po;
  po.content_type = "a/b";
  REQUIRE(f.Put("bkt", "k", "payload", po).ok());
  auto before = f.vol->Stat("bkt/k");
  REQUIRE(before.ok());
  CopyOptions rep;
  rep.directive = MetadataDirective::kReplace;
  rep.content_type = "c/d";
  rep.user_meta = {{"x", "y"}};
  auto r = f.store->CopyObject("bkt", "k", "bkt", "k", rep);
  REQUIRE(r.ok());
  auto after = f.vol->Stat("bkt/k");
  CHECK(FileStamp::Of(*after) == FileStamp::Of(*before));  // same file, untouched
  CHECK(r->etag == Md5Hex("payload"));
  auto h = f.store->HeadObject("bkt", "k");
  CHECK(h->content_type == "c/d");
  CHECK(h->user_meta == rep.user_meta);
  // A folder marker's metadata too.
  REQUIRE(f.Put("bkt", "dir/", "").ok());
  REQUIRE(f.store->CopyObject("bkt", "dir/", "bkt", "dir/", rep).ok());
  CHECK(f.store->HeadObject("bkt", "dir/")->content_type == "c/d");
}

TEST_CASE("plain copy: folder markers on either side", "[plain][copy]") {
  PlainFixture f("mem");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  PutOptions po;
  po.content_type = "marker/type";
  REQUIRE(f.Put("bkt", "m/", "", po).ok());
  REQUIRE(f.Put("bkt", "file", "bytes").ok());
  REQUIRE(f.store->CopyObject("bkt", "m/", "bkt", "n/", CopyOptions()).ok());
  CHECK(f.store->HeadObject("bkt", "n/")->content_type == "marker/type");
  REQUIRE(f.store->CopyObject("bkt", "m/", "bkt", "empty", CopyOptions()).ok());
  CHECK(f.Get("bkt", "empty")->empty());
  CHECK(f.store->CopyObject("bkt", "file", "bkt", "p/", CopyOptions()).status().code() ==
        Code::kInvalidArgument);
  CHECK(f.store->HeadObject("bkt", "p/").status().code() == Code::kNotFound);
}

TEST_CASE("plain copy: a failed copy leaves the destination and no temp file", "[plain][copy]") {
  PlainFixture f("faulty");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  const std::string data = RandomBytes(600000, 12);
  REQUIRE(f.Put("bkt", "src", data).ok());
  PutOptions po;
  po.content_type = "old/type";
  REQUIRE(f.Put("bkt", "dst", "old", po).ok());
  FaultRule r;
  SECTION("ENOSPC") {
    r.op = FaultOp::kAppend;
    r.kind = FaultKind::kNoSpace;
    r.path_glob = ".cairn/tmp/*";
    r.after_bytes = 300000;
  }
  SECTION("reading the source") {
    r.op = FaultOp::kRead;
    r.path_glob = "bkt/src";
    r.after_calls = 1;
  }
  SECTION("the rename") { r.op = FaultOp::kRename; }
  f.faulty->AddRule(r);
  CHECK_FALSE(f.store->CopyObject("bkt", "src", "bkt", "dst", CopyOptions()).ok());
  CHECK(f.faulty->injected() == 1);
  f.faulty->ClearRules();
  CHECK(*f.Get("bkt", "dst") == "old");
  auto h = f.store->HeadObject("bkt", "dst");
  CHECK(h->content_type == "old/type");
  CHECK(h->etag == Md5Hex("old"));
  CHECK(f.base->ListDir(".cairn/tmp")->empty());
  CopyOptions ro;
  PlainDirOptions o;
  o.read_only = true;
  auto rostore = PlainDir::Open(f.vol, o);
  REQUIRE(rostore.ok());
  CHECK((*rostore)->CopyObject("bkt", "src", "bkt", "x", ro).status().code() ==
        Code::kAccessDenied);
}

// A served directory with its database in <tmp>/state/sub/meta.db, a directory that does not
// exist yet.
struct DbFixture {
  PlainTmpDir tmp;
  std::string root = tmp.path() + "/root";
  std::string db = tmp.path() + "/state/sub/meta.db";
  std::unique_ptr<Volume> vol;
  DbFixture() {
    std::filesystem::create_directory(root);
    vol = NewLocalVolume(root);
  }
  std::unique_ptr<PlainDir> Open(bool read_only) {
    PlainDirOptions o;
    o.read_only = read_only;
    o.db_path = db;
    auto r = PlainDir::Open(vol.get(), o);
    REQUIRE(r.ok());
    return std::move(r).value();
  }
};

TEST_CASE("plain db: Open makes the database's directory; read-only writes only there",
          "[plain][db]") {
  DbFixture f;
  std::filesystem::create_directory(f.root + "/bkt");
  { std::ofstream(f.root + "/bkt/page.html") << "hello"; }
  auto before = std::filesystem::last_write_time(f.root);
  {
    auto ro = f.Open(true);
    CHECK(std::filesystem::exists(f.db));
    StringSink sink;
    REQUIRE(ro->GetObject("bkt", "page.html", sink).ok());  // learns the MD5
    CHECK(sink.out == "hello");
  }
  // Nothing was made in the served directory, and the MD5 survives in the state directory.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(f.root)) {
    names.push_back(e.path().filename().string());
  }
  CHECK(names == std::vector<std::string>{"bkt"});
  CHECK(std::filesystem::last_write_time(f.root) == before);
  auto again = f.Open(true);
  CHECK(again->HeadObject("bkt", "page.html")->etag == Md5Hex("hello"));
  // Read-write over the same state directory: .cairn/tmp in the served directory, the database
  // where it was.
  auto rw = f.Open(false);
  CHECK(std::filesystem::is_directory(f.root + "/.cairn/tmp"));
  CHECK_FALSE(std::filesystem::exists(f.root + "/.cairn/meta.db"));
  // A database that cannot be made fails Open.
  { std::ofstream(f.tmp.path() + "/file") << "x"; }
  PlainDirOptions bad;
  bad.db_path = f.tmp.path() + "/file/sub/meta.db";
  CHECK_FALSE(PlainDir::Open(f.vol.get(), bad).ok());
}

TEST_CASE("plain db: a PUT whose record cannot be written", "[plain][db]") {
  DbFixture f;
  auto store = f.Open(false);
  REQUIRE(store->MakeBucket("bkt").ok());
  PutOptions po;
  po.content_type = "old/type";
  StringSource s0("old");
  REQUIRE(store->PutObject("bkt", "k", s0, po).ok());
  auto other = SqliteDb::Open(f.db);
  REQUIRE(other.ok());
  po.content_type = "new/type";
  SECTION("before the rename: the PUT fails and changes nothing") {
    REQUIRE((*other)
                ->Exec("CREATE TRIGGER broken BEFORE INSERT ON objects BEGIN"
                       " SELECT RAISE(FAIL, 'injected'); END;")
                .ok());
    StringSource s1("new");
    CHECK_FALSE(store->PutObject("bkt", "k", s1, po).ok());
    REQUIRE((*other)->Exec("DROP TRIGGER broken;").ok());
    StringSink sink;
    auto info = store->GetObject("bkt", "k", sink);
    REQUIRE(info.ok());
    CHECK(sink.out == "old");
    CHECK(info->content_type == "old/type");
    CHECK(info->etag == Md5Hex("old"));
  }
  SECTION("after the rename: the PUT succeeds and its pending record describes the file") {
    REQUIRE((*other)
                ->Exec("CREATE TRIGGER broken BEFORE INSERT ON objects"
                       " WHEN NEW.ctime_ns != -9223372036854775808 BEGIN"
                       " SELECT RAISE(FAIL, 'injected'); END;")
                .ok());
    StringSource s1("new");
    auto put = store->PutObject("bkt", "k", s1, po);
    REQUIRE(put.ok());
    CHECK(put->etag == Md5Hex("new"));
    REQUIRE((*other)->Exec("DROP TRIGGER broken;").ok());
    for (int reopen = 0; reopen < 2; ++reopen) {
      if (reopen) store = f.Open(false);
      StringSink sink;
      auto info = store->GetObject("bkt", "k", sink);
      REQUIRE(info.ok());
      CHECK(sink.out == "new");
      CHECK(info->content_type == "new/type");
      CHECK(info->etag == Md5Hex("new"));
    }
    // Another program rewrites the file in place (a new mtime): the pending record is stale.
    { std::ofstream(f.root + "/bkt/k") << "new"; }
    auto h = store->HeadObject("bkt", "k");
    CHECK(h->content_type != "new/type");
    CHECK(h->etag.substr(32) == "-1");
  }
  CHECK(std::filesystem::is_empty(f.root + "/.cairn/tmp"));
}

}  // namespace
}  // namespace cairn
