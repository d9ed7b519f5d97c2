// PlainDir over MemVolume, LocalVolume and FaultyVolume: files served as-is, uploads that never
// tear, keys that cannot escape, metadata that is never stale, and MD5 ETags for foreign files.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "commands/serve_backend.h"
#include "libstore/common/hash.h"
#include "libstore/common/stage_threads.h"
#include "tests/plain_test_util.h"

using namespace cairn;
using namespace cairn::test;

namespace {

// Counts ListDir and ListDirStat calls.
class CountingVolume : public VolumeWrapper {
 public:
  using VolumeWrapper::VolumeWrapper;
  Result<std::vector<DirEntry>> ListDir(const std::string& p) override {
    ++lists;
    return VolumeWrapper::ListDir(p);
  }
  Result<std::vector<StatEntry>> ListDirStat(const std::string& p) override {
    ++lists;
    return VolumeWrapper::ListDirStat(p);
  }
  int lists = 0;
};

}  // namespace

TEST_CASE("plain: buckets are top-level directories", "[plain]") {
  for (const char* kind : {"mem", "local"}) {
    CAPTURE(kind);
    PlainFixture f(kind);
    CHECK(f.store->BucketExists("bkt").code() == Code::kBucketNotFound);
    REQUIRE(f.store->MakeBucket("bkt").ok());
    CHECK(f.store->MakeBucket("bkt").code() == Code::kAlreadyExists);
    CHECK(f.store->MakeBucket("Bad_Name").code() == Code::kInvalidBucketName);
    CHECK(f.store->MakeBucket(".cairn").code() == Code::kInvalidBucketName);
    REQUIRE(f.vol->MakeDirs("NotABucket").ok());  // a directory S3 could not name: not listed
    REQUIRE(f.vol->WriteFile("file-at-root", "x", false).ok());
    CHECK(f.store->MakeBucket("file-at-root").code() == Code::kInvalidArgument);
    auto b = f.store->ListBuckets();
    REQUIRE(b.ok());
    REQUIRE(b->size() == 1);
    CHECK((*b)[0].name == "bkt");
    REQUIRE(f.Put("bkt", "a/b", "x").ok());
    CHECK(f.store->RemoveBucket("bkt", false).code() == Code::kNotEmpty);
    REQUIRE(f.store->RemoveBucket("bkt", true).ok());
    CHECK(f.store->BucketExists("bkt").code() == Code::kBucketNotFound);
    CHECK(f.store->RemoveBucket("bkt", false).code() == Code::kBucketNotFound);
    CHECK(f.Put("nope", "k", "x").code() == Code::kBucketNotFound);
    CHECK(f.Get("nope", "k").status().code() == Code::kBucketNotFound);
    CHECK(f.store->ListObjects("nope", {}).status().code() == Code::kBucketNotFound);
  }
}

TEST_CASE("plain: put, get, head, delete; files are the objects", "[plain]") {
  for (const char* kind : {"mem", "local", "faulty"}) {
    CAPTURE(kind);
    PlainFixture f(kind);
    REQUIRE(f.store->MakeBucket("bkt").ok());
    const std::string data = RandomBytes(700000, 1);
    PutOptions po;
    po.content_type = "text/x-test";
    po.user_meta = {{"color", "blue"}};
    StringSource src(data, 4096);
    auto put = f.store->PutObject("bkt", "dir/sub/file.bin", src, po);
    REQUIRE(put.ok());
    CHECK(put->etag == Md5Hex(data));
    CHECK(put->size == data.size());
    // The file is there, as-is.
    auto raw = f.vol->ReadFile("bkt/dir/sub/file.bin", 1 << 24);
    REQUIRE(raw.ok());
    CHECK(*raw == data);
    // No temp file is left.
    CHECK(f.vol->ListDir(".cairn/tmp")->empty());
    auto head = f.store->HeadObject("bkt", "dir/sub/file.bin");
    REQUIRE(head.ok());
    CHECK(head->etag == Md5Hex(data));
    CHECK(head->content_type == "text/x-test");
    CHECK(head->user_meta == po.user_meta);
    CHECK(*f.Get("bkt", "dir/sub/file.bin") == data);
    CHECK(*f.Get("bkt", "dir/sub/file.bin", GetRange{5, 10}) == data.substr(5, 6));
    CHECK(*f.Get("bkt", "dir/sub/file.bin", GetRange{699990}) == data.substr(699990));
    CHECK(f.Get("bkt", "dir/sub/file.bin", GetRange{700000}).status().code() ==
          Code::kInvalidRange);
    // Overwrite replaces content and metadata.
    REQUIRE(f.Put("bkt", "dir/sub/file.bin", "short").ok());
    head = f.store->HeadObject("bkt", "dir/sub/file.bin");
    CHECK(head->size == 5);
    CHECK(head->user_meta.empty());
    CHECK(head->etag == Md5Hex("short"));
    // Empty object.
    REQUIRE(f.Put("bkt", "empty", "").ok());
    CHECK(f.Get("bkt", "empty")->empty());
    CHECK(f.store->HeadObject("bkt", "empty")->etag == Md5Hex(""));
    CHECK(f.Get("bkt", "empty", GetRange{1}).status().code() == Code::kInvalidRange);
    // Delete removes the emptied parents, never the bucket.
    REQUIRE(f.store->DeleteObject("bkt", "dir/sub/file.bin").ok());
    CHECK(f.vol->Stat("bkt/dir").status().code() == Code::kNotFound);
    REQUIRE(f.store->DeleteObject("bkt", "empty").ok());
    CHECK(f.vol->Stat("bkt")->is_dir());
    CHECK(f.store->DeleteObject("bkt", "empty").code() == Code::kNotFound);
    CHECK(f.store->HeadObject("bkt", "empty").status().code() == Code::kNotFound);
    CHECK(*f.store->meta().Count() == 0);
  }
}

TEST_CASE("plain: a body of a block or more is written past the page cache", "[plain][direct]") {
  PlainFixture f("local");
  BypassCounter counter(f.vol);
  auto store = PlainDir::Open(&counter, f.opts);
  REQUIRE(store.ok());
  REQUIRE((*store)->MakeBucket("bkt").ok());
  for (const size_t size : {size_t(0), size_t(300 << 10), size_t((1 << 20) - 1), size_t(3 << 20)}) {
    CAPTURE(size);
    const std::string data = RandomBytes(size, size + 1);
    StringSource src(data, 70000);
    auto put = (*store)->PutObject("bkt", "k", src, {});
    REQUIRE(put.ok());
    CHECK(put->etag == Md5Hex(data));
    CHECK(f.vol->ReadFile("bkt/k", 8 << 20).value() == data);
    CHECK(counter.hints == (size >= (1 << 20) ? 1 : 0));
  }
}

TEST_CASE("plain: a PUT that cannot start its stage threads fails as SlowDown and leaves nothing",
          "[plain][stage]") {
  PlainFixture f("local");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  const std::string old_body = RandomBytes(1000, 3), big = RandomBytes(3 << 20, 4);
  REQUIRE(f.Put("bkt", "k", old_body).ok());
  // A body past one I/O buffer streams through a writer and a hasher: the first, then the second
  // (the writer already waiting for blocks), cannot start.
  for (int after : {0, 1}) {
    CAPTURE(after);
    StageGroup::FailRunForTest(after);
    CHECK(f.Put("bkt", "k", big).code() == Code::kSlowDown);
    CHECK(f.Get("bkt", "k").value() == old_body);
    CHECK(f.vol->ListDir(".cairn/tmp")->empty());
  }
  REQUIRE(f.Put("bkt", "k", big).ok());
  CHECK(f.Get("bkt", "k").value() == big);
}

TEST_CASE("plain: keys that cannot be files are refused with a clear error", "[plain]") {
  PlainFixture f("mem");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "a", "file").ok());
  Status s = f.Put("bkt", "a/b", "x");
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("a is an object") != std::string::npos);
  CHECK(f.Put("bkt", "a/b/c/d", "x").code() == Code::kInvalidArgument);
  CHECK(f.Put("bkt", "a/", "").code() == Code::kInvalidArgument);
  REQUIRE(f.Put("bkt", "d/e", "x").ok());
  s = f.Put("bkt", "d", "x");
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("prefix") != std::string::npos);
  for (const char* bad : {"../escape", "x/../../y", "./x", "x//y", "/abs"}) {
    CAPTURE(bad);
    CHECK(f.Put("bkt", bad, "x").code() == Code::kInvalidArgument);
    CHECK(f.Get("bkt", bad).status().code() == Code::kInvalidArgument);
  }
  CHECK(f.Put("bkt", std::string(1025, 'k'), "x").code() == Code::kKeyTooLong);
  // GET of a prefix, or through an object, is simply absent.
  CHECK(f.Get("bkt", "d").status().code() == Code::kNotFound);
  CHECK(f.Get("bkt", "a/b").status().code() == Code::kNotFound);
  CHECK(f.store->DeleteObject("bkt", "d").code() == Code::kNotFound);
  // Nothing was written by the refusals.
  CHECK(f.vol->ListDir(".cairn/tmp")->empty());
  CHECK(f.vol->Stat("escape").status().code() == Code::kNotFound);
}

TEST_CASE("plain: folder markers are directories, listed as their key", "[plain]") {
  PlainFixture f("mem");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  PutOptions po;
  po.content_type = "application/x-directory";
  REQUIRE(f.Put("bkt", "folder/", "", po).ok());
  CHECK(f.vol->Stat("bkt/folder")->is_dir());
  CHECK(f.Put("bkt", "other/", "bytes").code() == Code::kInvalidArgument);
  REQUIRE(f.Put("bkt", "folder/inside", "x").ok());
  auto head = f.store->HeadObject("bkt", "folder/");
  REQUIRE(head.ok());
  CHECK(head->size == 0);
  CHECK(head->content_type == "application/x-directory");
  auto l = f.store->ListObjects("bkt", {});
  REQUIRE(l.ok());
  REQUIRE(l->objects.size() == 2);
  CHECK(l->objects[0].key == "folder/");
  CHECK(l->objects[1].key == "folder/inside");
  // Deleting the object inside keeps the marker directory.
  REQUIRE(f.store->DeleteObject("bkt", "folder/inside").ok());
  CHECK(f.vol->Stat("bkt/folder")->is_dir());
  REQUIRE(f.store->HeadObject("bkt", "folder/").ok());
  // An implicit directory (made for a deeper key) is no marker while it holds objects.
  REQUIRE(f.Put("bkt", "impl/x", "x").ok());
  CHECK(f.store->HeadObject("bkt", "impl/").status().code() == Code::kNotFound);
  // An empty directory another program made is a marker.
  REQUIRE(f.vol->MakeDirs("bkt/made-elsewhere").ok());
  CHECK(f.store->HeadObject("bkt", "made-elsewhere/").ok());
  REQUIRE(f.store->DeleteObject("bkt", "folder/").ok());
  CHECK(f.vol->Stat("bkt/folder").status().code() == Code::kNotFound);
}

TEST_CASE("plain: files from elsewhere get real MD5 ETags by GET or by the hash pass", "[plain]") {
  for (const char* kind : {"mem", "local"}) {
    CAPTURE(kind);
    MimeTypes mime = MimeTypes::Parse("text/html html\nimage/png png\n");
    PlainDirOptions o;
    o.mime = &mime;
    PlainFixture f(kind, o);
    REQUIRE(f.store->MakeBucket("bkt").ok());
    const std::string page = "<html>" + RandomBytes(300000, 2) + "</html>";
    REQUIRE(f.vol->MakeDirs("bkt/site").ok());
    REQUIRE(f.vol->WriteFile("bkt/site/index.html", page, false).ok());
    REQUIRE(f.vol->WriteFile("bkt/site/logo.png", "png", false).ok());
    auto head = f.store->HeadObject("bkt", "site/index.html");
    REQUIRE(head.ok());
    CHECK(head->content_type == "text/html");
    CHECK(head->etag.size() == 34);
    CHECK(head->etag.substr(32) == "-1");
    CHECK(f.store->HeadObject("bkt", "site/index.html")->etag == head->etag);  // stable
    // A ranged GET does not hash; a whole GET does, and the ETag becomes the MD5.
    REQUIRE(f.Get("bkt", "site/index.html", GetRange{0, 10}).ok());
    CHECK(f.store->HeadObject("bkt", "site/index.html")->etag == head->etag);
    StringSink sink;
    auto got = f.store->GetObject("bkt", "site/index.html", sink);
    REQUIRE(got.ok());
    CHECK(got->etag == Md5Hex(page));
    CHECK(f.store->HeadObject("bkt", "site/index.html")->etag == Md5Hex(page));
    // Changed by another program: the record is stale at once.
    REQUIRE(f.vol->WriteFile("bkt/site/index.html", "new content", false).ok());
    auto after = f.store->HeadObject("bkt", "site/index.html");
    REQUIRE(after.ok());
    CHECK(after->etag != Md5Hex(page));
    CHECK(after->etag.substr(32) == "-1");
    CHECK(after->size == 11);
    // The hash pass fills the rest, and stops when asked.
    std::atomic<bool> stop{true};
    auto none = f.store->HashPass(0, &stop);
    REQUIRE(none.ok());
    CHECK(none->files_hashed == 0);
    stop = false;
    auto pass = f.store->HashPass(100 << 20, &stop);
    REQUIRE(pass.ok());
    CHECK(pass->files_hashed == 2);
    CHECK(f.store->HeadObject("bkt", "site/index.html")->etag == Md5Hex("new content"));
    CHECK(f.store->HeadObject("bkt", "site/logo.png")->etag == Md5Hex("png"));
    CHECK(f.store->HashPass(0, nullptr)->files_hashed == 0);  // nothing left to do
  }
}

TEST_CASE("plain: metadata of an upload is gone once another program rewrites the file",
          "[plain]") {
  PlainFixture f("mem");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  PutOptions po;
  po.content_type = "text/x-mine";
  po.user_meta = {{"k", "v"}};
  REQUIRE(f.Put("bkt", "x.bin", "abc", po).ok());
  REQUIRE(f.vol->WriteFile("bkt/x.bin", "abc", false).ok());  // same bytes, new mtime
  auto h = f.store->HeadObject("bkt", "x.bin");
  REQUIRE(h.ok());
  CHECK(h->user_meta.empty());
  CHECK(h->content_type == kDefaultContentType);
  CHECK(h->etag.substr(32) == "-1");
}

TEST_CASE("plain: a failed upload leaves the old file and no temp file", "[plain]") {
  PlainFixture f("faulty");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  const std::string old_data = RandomBytes(100000, 3);
  PutOptions old_po;
  old_po.content_type = "old/type";
  old_po.user_meta = {{"m", "old"}};
  REQUIRE(f.Put("bkt", "k", old_data, old_po).ok());
  const std::string old_etag = f.store->HeadObject("bkt", "k")->etag;
  SECTION("ENOSPC mid-put") {
    FaultRule r;
    r.op = FaultOp::kAppend;
    r.kind = FaultKind::kNoSpace;
    r.path_glob = ".cairn/tmp/*";
    r.after_bytes = 300000;
    f.faulty->AddRule(r);
    CHECK(f.Put("bkt", "k", RandomBytes(1 << 20, 4)).code() == Code::kNoSpace);
    CHECK(f.faulty->injected() == 1);
  }
  SECTION("the source fails") {
    FailingSource src(RandomBytes(1 << 20, 4), 500000);
    CHECK(f.store->PutObject("bkt", "k", src, {}).status().code() == Code::kIOError);
  }
  SECTION("fsync fails") {
    FaultRule r;
    r.op = FaultOp::kSync;
    f.faulty->AddRule(r);
    CHECK(f.Put("bkt", "k", "new").code() == Code::kIOError);
    CHECK(f.faulty->injected() == 1);
  }
  SECTION("the rename fails") {
    FaultRule r;
    r.op = FaultOp::kRename;
    f.faulty->AddRule(r);
    CHECK(f.Put("bkt", "k", "new").code() == Code::kIOError);
    CHECK(f.faulty->injected() == 1);
  }
  f.faulty->ClearRules();
  CHECK(*f.Get("bkt", "k") == old_data);
  CHECK(f.store->HeadObject("bkt", "k")->etag == old_etag);
  // Its record too: the new record written before the rename was taken back.
  CHECK(f.store->HeadObject("bkt", "k")->content_type == "old/type");
  CHECK(f.store->HeadObject("bkt", "k")->user_meta == old_po.user_meta);
  CHECK(f.base->ListDir(".cairn/tmp")->empty());
}

TEST_CASE("plain: a close that fails: before the rename unflushed, harmless after a flush",
          "[plain]") {
  // On a directory: its files tell their stat data while open (MemVolume's do not), so a
  // flushed upload's file stays open across the rename.
  PlainFixture f("local");
  f.vol = f.faulty.get();
  f.Reopen();
  REQUIRE(f.store->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "k", "old").ok());
  FaultRule r;
  r.op = FaultOp::kClose;
  r.path_glob = ".cairn/tmp/*";
  r.times = 1;
  // Unflushed, a close is where a network file system reports bytes it could not write: it
  // comes before the rename, and the older copy stays.
  f.faulty->AddRule(r);
  PutOptions po;
  po.fsync = false;
  CHECK(f.Put("bkt", "k", "new", po).code() == Code::kIOError);
  CHECK(f.faulty->injected() == 1);
  CHECK(*f.Get("bkt", "k") == "old");
  // Flushed before the rename: the object is in place and whole, so the PUT says so.
  f.faulty->ClearRules();
  f.faulty->AddRule(r);
  REQUIRE(f.Put("bkt", "k", "new").ok());
  CHECK(f.faulty->injected() == 2);
  f.faulty->ClearRules();
  CHECK(*f.Get("bkt", "k") == "new");
  CHECK(f.store->HeadObject("bkt", "k")->etag == Md5Hex("new"));
  CHECK(f.base->ListDir(".cairn/tmp")->empty());
}

TEST_CASE("plain: no_fsync skips every sync; fsync is used otherwise", "[plain]") {
  for (bool no_fsync : {false, true}) {
    PlainDirOptions o;
    o.no_fsync = no_fsync;
    PlainFixture f("faulty", o);
    REQUIRE(f.store->MakeBucket("bkt").ok());
    FaultRule r;
    r.op = FaultOp::kSync;
    f.faulty->AddRule(r);
    FaultRule d;
    d.op = FaultOp::kSyncDir;
    f.faulty->AddRule(d);
    Status s = f.Put("bkt", "k", "x");
    CHECK(s.ok() == no_fsync);
    CHECK((f.faulty->injected() == 0) == no_fsync);
  }
}

TEST_CASE("plain: read-only mode refuses every write and writes nothing", "[plain]") {
  PlainFixture rw("mem");
  REQUIRE(rw.store->MakeBucket("bkt").ok());
  REQUIRE(rw.Put("bkt", "k", "data").ok());
  REQUIRE(rw.vol->RemoveAll(".cairn").ok());
  PlainDirOptions o;
  o.read_only = true;
  auto ro = PlainDir::Open(rw.vol, o);
  REQUIRE(ro.ok());
  StringSource src("x");
  CHECK((*ro)->PutObject("bkt", "k2", src, {}).status().code() == Code::kAccessDenied);
  CHECK((*ro)->DeleteObject("bkt", "k").code() == Code::kAccessDenied);
  CHECK((*ro)->MakeBucket("new").code() == Code::kAccessDenied);
  CHECK((*ro)->RemoveBucket("bkt", true).code() == Code::kAccessDenied);
  StringSink sink;
  REQUIRE((*ro)->GetObject("bkt", "k", sink).ok());
  CHECK(sink.out == "data");
  CHECK(rw.vol->Stat(".cairn").status().code() == Code::kNotFound);
  REQUIRE((*ro)->ListObjects("bkt", {}).ok());
}

TEST_CASE("plain: symlinks inside the tree never lead outside", "[plain][symlink]") {
  PlainFixture f("local");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  const std::string outside = f.tmp->path() + "/outside";
  std::filesystem::create_directory(outside);
  { std::ofstream(outside + "/secret") << "secret"; }
  REQUIRE(::symlink(outside.c_str(), (f.root + "/bkt/link").c_str()) == 0);
  REQUIRE(::symlink((outside + "/secret").c_str(), (f.root + "/bkt/file-link").c_str()) == 0);
  REQUIRE(::symlink(outside.c_str(), (f.root + "/linked-bucket").c_str()) == 0);
  CHECK(f.Get("bkt", "link/secret").status().code() == Code::kNotFound);
  CHECK(f.Get("bkt", "file-link").status().code() == Code::kNotFound);
  CHECK(f.Put("bkt", "link/new", "x").code() == Code::kInvalidArgument);
  CHECK(f.store->BucketExists("linked-bucket").code() == Code::kBucketNotFound);
  CHECK(f.Get("linked-bucket", "secret").status().code() == Code::kBucketNotFound);
  auto l = f.store->ListObjects("bkt", {});
  REQUIRE(l.ok());
  CHECK(l->objects.empty());
  auto b = f.store->ListBuckets();
  REQUIRE(b.ok());
  CHECK(b->size() == 1);
  // Nothing was created outside.
  CHECK(std::filesystem::exists(outside + "/new") == false);
  CHECK(std::distance(std::filesystem::directory_iterator(outside),
                      std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("plain: a FIFO in the tree is never opened, replaced or listed", "[plain][symlink]") {
  PlainFixture f("local");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  // Opening a FIFO for reading would wait for a writer: a GET must not hang on one.
  REQUIRE(::mkfifo((f.root + "/bkt/pipe").c_str(), 0644) == 0);
  REQUIRE(::mkfifo((f.root + "/pipe-bucket").c_str(), 0644) == 0);
  CHECK(f.Get("bkt", "pipe").status().code() == Code::kNotFound);
  const Status put = f.Put("bkt", "pipe", "x");
  CHECK(put.code() == Code::kInvalidArgument);
  CHECK(put.message() ==
        "object key pipe: a special file of that name is in the served directory");
  const Status mb = f.store->MakeBucket("pipe-bucket");
  CHECK(mb.code() == Code::kInvalidArgument);
  CHECK(mb.message() ==
        "bucket pipe-bucket: a special file of that name is in the served directory");
  auto l = f.store->ListObjects("bkt", {});
  REQUIRE(l.ok());
  CHECK(l->objects.empty());
  struct stat st {};
  REQUIRE(::lstat((f.root + "/bkt/pipe").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
}

TEST_CASE("plain: a temp file a crash left is removed at open", "[plain]") {
  PlainFixture f("mem");
  REQUIRE(f.vol->WriteFile(".cairn/tmp/leftover", "torn", false).ok());
  f.Reopen();
  CHECK(f.vol->ListDir(".cairn/tmp")->empty());
}

TEST_CASE("plain: paging through 100,000 files costs about one walk", "[plain][list]") {
  auto mem = NewMemVolume();
  CountingVolume counting(mem.get());
  PlainDirOptions o;
  o.no_fsync = true;
  auto store = PlainDir::Open(&counting, o);
  REQUIRE(store.ok());
  REQUIRE((*store)->MakeBucket("bkt").ok());
  // 100 directories of 1,000 files, written straight to the volume (files from elsewhere).
  char name[64];
  for (int d = 0; d < 100; ++d) {
    std::snprintf(name, sizeof(name), "bkt/d%03d", d);
    REQUIRE(mem->MakeDirs(name).ok());
    for (int i = 0; i < 1000; ++i) {
      std::snprintf(name, sizeof(name), "bkt/d%03d/f%04d", d, i);
      REQUIRE(mem->WriteFile(name, "", false).ok());
    }
  }
  counting.lists = 0;
  ListOptions lo;
  size_t total = 0;
  int pages = 0;
  std::string prev;
  while (true) {
    auto r = (*store)->ListObjects("bkt", lo);
    REQUIRE(r.ok());
    ++pages;
    for (const auto& obj : r->objects) {
      REQUIRE(obj.key > prev);
      prev = obj.key;
    }
    total += r->objects.size();
    if (!r->truncated) break;
    lo.continuation_token = r->next_token;
  }
  CHECK(total == 100000);
  CHECK(pages == 100);
  // One walk lists 101 directories; each page adds the directories on its seek path (2).
  INFO("ListDir calls: " << counting.lists);
  CHECK(counting.lists <= 101 + 2 * pages + 2);
}

TEST_CASE("plain: the checksums column, its form and what cannot be read", "[plain]") {
  // The documented form (docs/plain.md): "ALGORITHM=base64", "-N" for COMPOSITE.
  ObjectInfo info;
  CHECK(EncodeChecksums(info).empty());
  info.checksum = *ParseChecksum(ChecksumAlgorithm::kCrc32, "yZRlqg==");
  info.checksum_type = ChecksumType::kFullObject;
  CHECK(EncodeChecksums(info) == "CRC32=yZRlqg==");
  info.checksum_type = ChecksumType::kComposite;
  info.checksum_parts = 3;
  CHECK(EncodeChecksums(info) == "CRC32=yZRlqg==-3");
  ObjectInfo back;
  DecodeChecksums("CRC32=yZRlqg==-3", &back);
  CHECK(back.checksum == info.checksum);
  CHECK(back.checksum_type == ChecksumType::kComposite);
  CHECK(back.checksum_parts == 3);
  DecodeChecksums("SHA1=qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", &back);
  CHECK(back.checksum.algorithm == ChecksumAlgorithm::kSha1);
  CHECK(back.checksum_type == ChecksumType::kFullObject);
  CHECK(back.checksum_parts == 0);
  // Anything else is no checksum at all: never a wrong one.
  for (const char* bad :
       {"", "CRC32", "MD4=yZRlqg==", "CRC32=yZRlqg", "CRC32=yZRlqg==-0", "CRC32=yZRlqg==-x",
        "CRC32=yZRlqg==-10001", "CRC32=yZRl==", "SHA1=yZRlqg=="}) {
    CAPTURE(bad);
    ObjectInfo none = info;
    DecodeChecksums(bad, &none);
    CHECK(none.checksum.algorithm == ChecksumAlgorithm::kNone);
    CHECK(none.checksum_type == ChecksumType::kNone);
    CHECK(none.checksum_parts == 0);
  }
}

TEST_CASE("plain: a record written before checksums were kept reads as having none", "[plain]") {
  PlainFixture f("mem");
  REQUIRE(f.store->MakeBucket("bkt").ok());
  PutOptions po;
  po.content_type = "text/x-old";
  po.expected.checksum = *ParseChecksum(ChecksumAlgorithm::kCrc32, "NSRBwg==");  // of "abc"
  REQUIRE(f.Put("bkt", "old", "abc", po).ok());
  auto st = f.vol->Stat("bkt/old");
  REQUIRE(st.ok());
  auto rec = f.store->meta().Get("bkt", "old", FileStamp::Of(*st));
  REQUIRE(rec.ok());
  REQUIRE(rec->has_value());
  CHECK((*rec)->checksums == "CRC32=NSRBwg==");
  // The row as an older cairn wrote it: the same, with the column empty.
  (*rec)->checksums.clear();
  REQUIRE(f.store->meta().Put("bkt", "old", **rec).ok());
  auto h = f.store->HeadObject("bkt", "old");
  REQUIRE(h.ok());
  CHECK(h->content_type == "text/x-old");
  CHECK(h->etag == Md5Hex("abc"));
  CHECK(h->checksum.algorithm == ChecksumAlgorithm::kNone);
}

TEST_CASE("plain: the background hash pass backs off while it finds nothing to hash", "[plain]") {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const auto base = seconds(5);
  const auto quick = milliseconds(10);
  // Work found: again after the base interval.
  CHECK(cli::NextPassWait(base, base, true, quick) == base);
  CHECK(cli::NextPassWait(base, seconds(160), true, quick) == base);
  // Nothing found: twice the previous wait, up to the cap.
  CHECK(cli::NextPassWait(base, base, false, quick) == seconds(10));
  CHECK(cli::NextPassWait(base, seconds(10), false, quick) == seconds(20));
  CHECK(cli::NextPassWait(base, seconds(200), false, quick) == cli::kMaxIdlePassWait);
  CHECK(cli::NextPassWait(base, cli::kMaxIdlePassWait, false, quick) == cli::kMaxIdlePassWait);
  // A long walk waits at least 4 times its duration, work or not.
  CHECK(cli::NextPassWait(base, base, true, seconds(30)) == seconds(120));
  CHECK(cli::NextPassWait(base, base, false, seconds(300)) == seconds(1200));
}
