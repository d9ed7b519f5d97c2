// Key mapping and validation of the plain-directory backend, the mime table, and the metadata
// store.
#include <stdlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <new>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "libstore/plain/key_map.h"
#include "libstore/plain/meta_store.h"
#include "libstore/plain/mime_types.h"
#include "tests/plain_test_util.h"

using namespace cairn;

TEST_CASE("plain bucket names follow S3's rules", "[plain][keymap]") {
  for (const std::string& ok : {std::string("abc"), std::string("my-bucket"), std::string("a.b.c"),
                                std::string("123"), std::string(63, 'a')}) {
    CAPTURE(ok);
    CHECK(ValidatePlainBucketName(ok).ok());
  }
  for (const std::string& bad :
       {std::string("ab"), std::string(64, 'a'), std::string(".cairn"), std::string("Abc"),
        std::string("a_b"), std::string("-ab"), std::string("ab-"), std::string("a..b"),
        std::string("192.168.1.1"), std::string("xn--abc"), std::string("abc-s3alias"),
        std::string("sthree-x"), std::string("a b"), std::string("a/b"), std::string("..."),
        std::string("ab\0c", 4)}) {
    CAPTURE(bad);
    CHECK(ValidatePlainBucketName(bad).code() == Code::kInvalidBucketName);
  }
  CHECK(ValidatePlainBucketName("1.2.3").ok());  // three parts: not an address
}

TEST_CASE("plain keys map to paths beneath their bucket, or are refused", "[plain][keymap]") {
  auto m = MapPlainKey("bkt", "a/b/c.txt");
  REQUIRE(m.ok());
  CHECK(m->path == "bkt/a/b/c.txt");
  CHECK_FALSE(m->marker);
  m = MapPlainKey("bkt", "dir/");
  REQUIRE(m.ok());
  CHECK(m->path == "bkt/dir");
  CHECK(m->marker);
  CHECK(MapPlainKey("bkt", ".cairn").ok());  // only the root's .cairn is special
  CHECK(MapPlainKey("bkt", "a..b/..c/c..").ok());
  std::string long_key(kPlainMaxKeyLen, 'x');
  for (size_t i = 200; i < long_key.size(); i += 201) long_key[i] = '/';
  CHECK(MapPlainKey("bkt", long_key).ok());

  for (const std::string& bad :
       {std::string(""), std::string("/"), std::string("/a"), std::string("a//b"),
        std::string("a/./b"), std::string("a/../b"), std::string(".."), std::string("."),
        std::string("../x"), std::string("x/.."), std::string("a//"), std::string("a\0b", 3),
        std::string(256, 'n'), std::string("a/") + std::string(256, 'n')}) {
    CAPTURE(bad);
    CHECK(MapPlainKey("bkt", bad).status().code() == Code::kInvalidArgument);
  }
  CHECK(MapPlainKey("bkt", std::string(1025, 'a')).status().code() == Code::kKeyTooLong);
  CHECK(MapPlainKey("BAD", "a").status().code() == Code::kInvalidBucketName);
  CHECK(MapPlainKey(".cairn", "a").status().code() == Code::kInvalidBucketName);
  CHECK(PlainKeyOf("a/b", true) == "a/b/");
  CHECK(PlainKeyOf("a/b", false) == "a/b");
}

TEST_CASE("mime table: parsed once, by extension, injected", "[plain][mime]") {
  MimeTypes t = MimeTypes::Parse(
      "# comment\n"
      "text/html  html htm\n"
      "image/jpeg\tjpeg jpg # trailing\n"
      "not-a-type foo\n"
      "text/plain txt\r\n"
      "application/x-first dup\n"
      "application/x-second dup\n");
  CHECK(t.TypeOf("a/b/index.html") == "text/html");
  CHECK(t.TypeOf("PHOTO.JPG") == "image/jpeg");
  CHECK(t.TypeOf("notes.txt") == "text/plain");
  CHECK(t.TypeOf("x.foo") == kDefaultContentType);
  CHECK(t.TypeOf("x.dup") == "application/x-first");
  CHECK(t.TypeOf("noext") == kDefaultContentType);
  CHECK(t.TypeOf("dir.html/file") == kDefaultContentType);
  CHECK(t.TypeOf("trailingdot.") == kDefaultContentType);
  CHECK(MimeTypes().TypeOf("a.html") == kDefaultContentType);
  auto missing = MimeTypes::Load("/nonexistent-dir-cairn/mime.types");
  REQUIRE(missing.ok());
  CHECK(missing->size() == 0);
}

TEST_CASE("meta store: records are ignored once their stamp no longer matches", "[plain][meta]") {
  auto ms = MetaStore::Open("");
  REQUIRE(ms.ok());
  FileStamp st{1, 2, 3, 4, 5};
  ObjectRecord rec;
  rec.stamp = st;
  rec.uploaded = true;
  rec.content_type = "text/plain";
  rec.user_meta = {{"a", "1"}, {"empty", ""}};
  rec.md5_hex = "0123456789abcdef0123456789abcdef";
  REQUIRE((*ms)->Put("bkt", "k", rec).ok());
  auto got = (*ms)->Get("bkt", "k", st);
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->content_type == "text/plain");
  CHECK((*got)->user_meta == rec.user_meta);
  CHECK((*got)->md5_hex == rec.md5_hex);
  // Each field of the stamp counts.
  for (int field = 0; field < 5; ++field) {
    FileStamp other = st;
    if (field == 0) other.dev++;
    if (field == 1) other.ino++;
    if (field == 2) other.size++;
    if (field == 3) other.mtime_ns++;
    if (field == 4) other.ctime_ns++;
    REQUIRE((*ms)->Put("bkt", "k", rec).ok());
    auto stale = (*ms)->Get("bkt", "k", other);
    REQUIRE(stale.ok());
    CHECK_FALSE(stale->has_value());
    CHECK(*(*ms)->Count() == 0);  // cleaned on the way
  }
  // SetMd5 keeps a current record's metadata, and replaces a stale one.
  REQUIRE((*ms)->Put("bkt", "k", rec).ok());
  REQUIRE((*ms)->SetMd5("bkt", "k", st, "ffffffffffffffffffffffffffffffff").ok());
  got = (*ms)->Get("bkt", "k", st);
  REQUIRE(got->has_value());
  CHECK((*got)->content_type == "text/plain");
  CHECK((*got)->md5_hex == "ffffffffffffffffffffffffffffffff");
  FileStamp st2{1, 9, 3, 4, 5};
  REQUIRE((*ms)->SetMd5("bkt", "k", st2, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee").ok());
  got = (*ms)->Get("bkt", "k", st2);
  REQUIRE(got->has_value());
  CHECK((*got)->content_type.empty());
  CHECK_FALSE((*got)->uploaded);
  REQUIRE((*ms)->Put("other", "k", rec).ok());
  REQUIRE((*ms)->DeleteBucket("bkt").ok());
  CHECK(*(*ms)->Count() == 1);
  REQUIRE((*ms)->Delete("other", "k").ok());
  CHECK(*(*ms)->Count() == 0);
}

TEST_CASE("ETags: the MD5 when known, else stable, '-1', never empty", "[plain][meta]") {
  FileStamp st{1, 2, 3, 4, 5};
  CHECK(PlainEtag(st, "abc") == "abc");
  std::string e = PlainEtag(st, "");
  CHECK(e.size() == 34);
  CHECK(e.substr(32) == "-1");
  CHECK(PlainEtag(st, "") == e);
  FileStamp touched = st;
  touched.mtime_ns++;
  CHECK(PlainEtag(touched, "") != e);
  CHECK(PlainEtag(FileStamp{}, "").size() == 34);
}

TEST_CASE("meta store: a pending record's full stamp goes in only while it is still pending",
          "[plain][meta]") {
  const test::PlainTmpDir tmp;  // removed at the end, also when a REQUIRE stops the test
  const std::string db = tmp.path() + "/meta.db";
  const FileStamp full{1, 2, 3, 4, 5};
  FileStamp touched = full;  // the same file after a chmod: another ctime
  touched.ctime_ns = 99;
  ObjectRecord rec;
  rec.stamp = full;
  rec.stamp.ctime_ns = FileStamp::kCtimePending;
  rec.uploaded = true;
  rec.content_type = "text/plain";
  {
    auto ms = MetaStore::Open(db, /*durable=*/true);
    REQUIRE(ms.ok());
    REQUIRE((*ms)->Put("bkt", "k", rec).ok());
    // Pending: the record describes the file whatever its ctime.
    CHECK((*ms)->Get("bkt", "k", touched)->has_value());
    REQUIRE((*ms)->CompleteStamp("bkt", "k", full).ok());
    auto got = (*ms)->Get("bkt", "k", full);
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->stamp == full);
    CHECK((*got)->content_type == "text/plain");
    // Completed: another ctime is another state of the file.
    CHECK_FALSE((*ms)->Get("bkt", "k", touched)->has_value());

    // A later record of the key (another file) is not overwritten by the earlier file's stamp.
    REQUIRE((*ms)->Put("bkt", "k2", rec).ok());
    ObjectRecord later = rec;
    later.stamp.ino = 7;
    later.content_type = "later/type";
    REQUIRE((*ms)->Put("bkt", "k2", later).ok());
    REQUIRE((*ms)->CompleteStamp("bkt", "k2", full).ok());
    FileStamp later_file = later.stamp;
    later_file.ctime_ns = 42;
    got = (*ms)->Get("bkt", "k2", later_file);
    REQUIRE(got->has_value());
    CHECK((*got)->content_type == "later/type");
    CHECK((*got)->stamp.ctime_ns == FileStamp::kCtimePending);

    // Nor a record no longer pending (an MD5 found since replaced it with a full stamp).
    REQUIRE((*ms)->Put("bkt", "k3", rec).ok());
    REQUIRE((*ms)->SetMd5("bkt", "k3", touched, std::string(32, 'a')).ok());
    REQUIRE((*ms)->CompleteStamp("bkt", "k3", full).ok());
    CHECK((*ms)->Get("bkt", "k3", touched)->has_value());
    CHECK_FALSE((*ms)->Get("bkt", "k3", full)->has_value());

    REQUIRE((*ms)->Put("bkt", "k4", rec).ok());
    REQUIRE((*ms)->CompleteStamp("bkt", "k4", full).ok());
  }
  // Durable commits after a completion still go through (synchronous is set back) and persist.
  auto ms = MetaStore::Open(db, /*durable=*/true);
  REQUIRE(ms.ok());
  auto got = (*ms)->Get("bkt", "k4", full);
  REQUIRE(got->has_value());
  CHECK((*got)->stamp == full);
  REQUIRE((*ms)->Put("bkt", "k5", rec).ok());
}

TEST_CASE("meta store: completions wait for an announced Put's transaction, and only for one",
          "[plain][meta]") {
  const test::PlainTmpDir tmp;  // removed at the end, also when a REQUIRE stops the test
  const std::string db = tmp.path() + "/meta.db";
  const FileStamp full{1, 2, 3, 4, 5};
  ObjectRecord rec;
  rec.stamp = full;
  rec.stamp.ctime_ns = FileStamp::kCtimePending;
  rec.uploaded = true;
  rec.content_type = "text/plain";
  auto pending = [&](uint64_t ino) {
    ObjectRecord r = rec;
    r.stamp.ino = ino;
    return r;
  };
  auto full_of = [&](uint64_t ino) {
    FileStamp f = full;
    f.ino = ino;
    return f;
  };
  {
    auto opened = MetaStore::Open(db, /*durable=*/true);
    REQUIRE(opened.ok());
    MetaStore& ms = **opened;
    // Nothing announced: written at once.
    REQUIRE(ms.Put("bkt", "a", pending(10)).ok());
    REQUIRE(ms.CompleteStamp("bkt", "a", full_of(10)).ok());
    CHECK(ms.WaitingCompletions() == 0);
    CHECK(ms.Get("bkt", "a", full_of(10))->has_value());
    {
      // Announced: the completion waits, the record stays pending (and still describes its
      // file), and the announced Put writes it in its own transaction.
      REQUIRE(ms.Put("bkt", "b", pending(11)).ok());
      AnnouncedPut ahead(&ms);
      REQUIRE(ms.CompleteStamp("bkt", "b", full_of(11)).ok());
      CHECK(ms.WaitingCompletions() == 1);
      FileStamp touched = full_of(11);
      touched.ctime_ns = 99;
      CHECK(ms.Get("bkt", "b", touched)->has_value());
      // The announced Put is of the same key, another file: the completion goes first and
      // cannot touch it; previous is the record as completed.
      std::optional<ObjectRecord> previous;
      REQUIRE(ahead.Put("bkt", "b", pending(12), &previous).ok());
      CHECK(ms.WaitingCompletions() == 0);
      REQUIRE(previous.has_value());
      CHECK(previous->stamp == full_of(11));
      auto got = ms.Get("bkt", "b", full_of(12));
      REQUIRE(got->has_value());
      CHECK((*got)->stamp.ctime_ns == FileStamp::kCtimePending);
    }
    {
      // Two announced; one withdrawn: the completion waits on for the other, whose Put writes it.
      REQUIRE(ms.Put("bkt", "c", pending(13)).ok());
      auto one = std::make_unique<AnnouncedPut>(&ms);
      AnnouncedPut two(&ms);
      REQUIRE(ms.CompleteStamp("bkt", "c", full_of(13)).ok());
      one.reset();
      CHECK(ms.WaitingCompletions() == 1);
      REQUIRE(two.Put("bkt", "d", pending(14)).ok());
      CHECK(ms.WaitingCompletions() == 0);
      auto got = ms.Get("bkt", "c", full_of(13));
      REQUIRE(got->has_value());
      CHECK((*got)->stamp == full_of(13));
    }
    {
      // The last announcement withdrawn (an upload that failed before its record): written then.
      REQUIRE(ms.Put("bkt", "e", pending(15)).ok());
      {
        AnnouncedPut ahead(&ms);
        REQUIRE(ms.CompleteStamp("bkt", "e", full_of(15)).ok());
        CHECK(ms.WaitingCompletions() == 1);
      }
      CHECK(ms.WaitingCompletions() == 0);
      CHECK(ms.Get("bkt", "e", full_of(15))->has_value());
    }
    // previous is the record as stored, even one that no longer describes its file.
    std::optional<ObjectRecord> previous;
    {
      AnnouncedPut ahead(&ms);
      REQUIRE(ahead.Put("bkt", "a", pending(16), &previous).ok());
    }
    REQUIRE(previous.has_value());
    CHECK(previous->stamp == full_of(10));
    {
      AnnouncedPut ahead(&ms);
      REQUIRE(ahead.Put("bkt", "new", pending(17), &previous).ok());
    }
    CHECK_FALSE(previous.has_value());
  }
  // What the announced Puts carried was committed.
  auto ms = MetaStore::Open(db, /*durable=*/true);
  REQUIRE(ms.ok());
  CHECK((*ms)->Get("bkt", "c", full_of(13))->has_value());
  CHECK((*ms)->Get("bkt", "e", full_of(15))->has_value());
}

TEST_CASE("meta store: concurrent Puts share a transaction, each returns once its record is "
          "committed",
          "[plain][meta][groupcommit]") {
  const test::PlainTmpDir tmp;  // removed at the end, also when a REQUIRE stops the test
  const std::string db = tmp.path() + "/meta.db";
  // With and without a flush at each commit: without, the batches form while one transaction
  // holds the connection.
  const bool durable = GENERATE(true, false);
  INFO("durable " << durable);
  auto opened = MetaStore::Open(db, durable);
  REQUIRE(opened.ok());
  MetaStore& ms = **opened;
  constexpr int kThreads = 8, kPuts = 60;
  auto stamp_of = [](int t, int i) { return FileStamp{1, uint64_t(t * 1000 + i + 1), 3, 4, 5}; };
  // Each thread checks its own records through a connection of its own, right after each Put
  // returned: a connection sees committed transactions only, so a Put that returned before the
  // batch holding its record committed is caught. (Catch's macros are not thread-safe: the
  // threads count, the test checks.)
  // One round: kThreads threads, each kPuts Puts to a key of its own. The Puts share
  // transactions only when they overlap, which a loaded machine (or a file system whose flush
  // costs nothing) may not give in one round: rounds go on until one batch was seen, at most
  // kRounds, and every round checks every Put. Without group commit no round ever shows a batch.
  constexpr int kRounds = 10;
  int rounds = 0;
  while (rounds < kRounds && ms.group_commits() == 0) {
    const int round = rounds++;
    std::vector<int> unseen(kThreads, 0), failed(kThreads, 0), wrong_previous(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto reader = MetaStore::Open(db, /*durable=*/true);
        if (!reader.ok()) {
          failed[t] = -1;
          return;
        }
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(round);
        for (int i = 0; i < kPuts; ++i) {
          ObjectRecord rec;
          rec.stamp = stamp_of(t, i);
          rec.uploaded = true;
          rec.content_type = "text/" + std::to_string(i);
          std::optional<ObjectRecord> previous;
          // Every other Put announced and asking for the record it replaces (as PlainDir's).
          Status s;
          if (i % 2 == 1) {
            AnnouncedPut ahead(&ms);
            s = ahead.Put("bkt", key, rec, &previous);
            if (!previous || previous->stamp != stamp_of(t, i - 1)) ++wrong_previous[t];
          } else {
            s = ms.Put("bkt", key, rec);
          }
          if (!s.ok()) {
            ++failed[t];
            continue;
          }
          auto got = (*reader)->Get("bkt", key, rec.stamp);
          if (!got.ok() || !got->has_value() || (*got)->content_type != rec.content_type) {
            ++unseen[t];
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      INFO("round " << round << ", thread " << t);
      CHECK(failed[t] == 0);
      CHECK(unseen[t] == 0);
      CHECK(wrong_previous[t] == 0);
    }
  }
  // The Puts did share transactions (8 writers, each waiting for a flush of the WAL or for the
  // transaction that holds the connection).
  CHECK(ms.group_commits() > 0);
  CHECK(*ms.Count() == int64_t(kThreads) * rounds);
}

TEST_CASE("meta store: a batch that throws fails its Puts and hands the lead on",
          "[plain][meta][groupcommit]") {
  const test::PlainTmpDir tmp;  // removed at the end, also when a REQUIRE stops the test
  auto opened = MetaStore::Open(tmp.path() + "/meta.db", GENERATE(true, false));
  REQUIRE(opened.ok());
  MetaStore& ms = **opened;
  auto rec_of = [](uint64_t ino) {
    ObjectRecord rec;
    rec.stamp = FileStamp{1, ino, 3, 4, FileStamp::kCtimePending};
    rec.uploaded = true;
    rec.content_type = "text/plain";
    return rec;
  };

  // One Put alone: its batch throws, the Put returns the failure (no exception escapes), and the
  // next Put leads a batch of its own (a lead left taken would keep it waiting for ever).
  ms.SetBatchHookForTest([](size_t) { throw std::bad_alloc(); });
  Status s;
  REQUIRE_NOTHROW(s = ms.Put("bkt", "alone", rec_of(1)));
  CHECK(s.code() == Code::kIOError);
  CHECK(*ms.Count() == 0);
  ms.SetBatchHookForTest(nullptr);
  REQUIRE(ms.Put("bkt", "alone", rec_of(1)).ok());
  CHECK(*ms.Count() == 1);

  // A batch of several, with an announced Put among them and a completion waiting for it: the
  // first leader's batch throws once b and c are queued behind it, then b's batch (b and c)
  // throws too. Each of the three fails; none is written; the announcement ends (and the
  // completion is written then); and a later Put goes through.
  std::atomic<int> batches{0};
  std::atomic<bool> in_first{false};
  std::vector<size_t> sizes;  // written by the hook, under the store's lock
  ms.SetBatchHookForTest([&](size_t n) {
    sizes.push_back(n);
    const int i = batches.fetch_add(1);
    if (i == 0) {
      in_first = true;
      while (ms.QueuedPutsForTest() < 2) std::this_thread::yield();
    }
    if (i < 2) throw std::bad_alloc();
  });
  Status a, b, c;
  std::thread ta([&] { a = ms.Put("bkt", "a", rec_of(10)); });
  while (!in_first) std::this_thread::yield();
  std::thread tb([&] {
    AnnouncedPut ahead(&ms);
    // Waits for b's Put (announced): its transaction was to carry it.
    ms.CompleteStamp("bkt", "alone", FileStamp{1, 1, 3, 4, 77}).IgnoreError();
    std::optional<ObjectRecord> previous;
    b = ahead.Put("bkt", "b", rec_of(11), &previous);
  });
  std::thread tc([&] { c = ms.Put("bkt", "c", rec_of(12)); });
  ta.join();
  tb.join();
  tc.join();
  CHECK(sizes == std::vector<size_t>{1, 2});
  CHECK(a.code() == Code::kIOError);
  CHECK(b.code() == Code::kIOError);
  CHECK(c.code() == Code::kIOError);
  CHECK(*ms.Count() == 1);
  CHECK_FALSE(ms.Get("bkt", "b", rec_of(11).stamp)->has_value());
  // The completion waited for b's Put; the hook threw before the batch took it, so it was
  // written when b's announcement ended.
  CHECK(ms.WaitingCompletions() == 0);
  CHECK(ms.Get("bkt", "alone", FileStamp{1, 1, 3, 4, 77})->has_value());
  REQUIRE(ms.Put("bkt", "d", rec_of(13)).ok());
  CHECK(*ms.Count() == 2);
  CHECK(batches == 3);
}

TEST_CASE("meta store persists in a database file (WAL)", "[plain][meta]") {
  const test::PlainTmpDir tmp;  // removed at the end, also when a REQUIRE stops the test
  const std::string db = tmp.path() + "/meta.db";
  FileStamp st{1, 2, 3, 4, 5};
  {
    auto ms = MetaStore::Open(db);
    REQUIRE(ms.ok());
    ObjectRecord rec;
    rec.stamp = st;
    rec.md5_hex = "0123456789abcdef0123456789abcdef";
    REQUIRE((*ms)->Put("bkt", "k", rec).ok());
  }
  {
    auto ms = MetaStore::Open(db);
    REQUIRE(ms.ok());
    auto got = (*ms)->Get("bkt", "k", st);
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->md5_hex == "0123456789abcdef0123456789abcdef");
  }
  CHECK(MetaStore::Open("/nonexistent-dir-cairn/x/meta.db").status().code() == Code::kIOError);
}

TEST_CASE(
    "meta store: its cache answers what the database holds after another connection's or "
    "process's commits",
    "[plain][meta][metacache]") {
  const test::PlainTmpDir tmp;  // removed at the end, also when a REQUIRE stops the test
  const std::string db = tmp.path() + "/meta.db";
  const FileStamp st{1, 2, 3, 4, 5};
  ObjectRecord rec;
  rec.stamp = st;
  rec.uploaded = true;
  rec.content_type = "text/plain";
  rec.md5_hex = std::string(32, 'a');
  auto ms = MetaStore::Open(db);
  REQUIRE(ms.ok());
  MetaStore& store = **ms;
  REQUIRE(store.Put("bkt", "k", rec).ok());
  auto content_type = [&](const std::string& key) {
    auto got = store.Get("bkt", key, st);
    REQUIRE(got.ok());
    return got->has_value() ? (*got)->content_type : std::string("(none)");
  };
  // Read twice: the second answer comes from the cache.
  CHECK(content_type("k") == "text/plain");
  const uint64_t hits = store.cache_hits();
  CHECK(content_type("k") == "text/plain");
  CHECK(content_type("absent") == "(none)");
  CHECK(content_type("absent") == "(none)");
  CHECK(store.cache_hits() == hits + 2);

  // Another connection (as another cairn process sharing the directory would) changes the row and
  // adds one for the key that had none: the next Gets see both, as the database does.
  {
    auto other = SqliteDb::Open(db);
    REQUIRE(other.ok());
    REQUIRE((*other)
                ->Exec("UPDATE objects SET content_type='image/png' WHERE key=CAST('k' AS BLOB);"
                       "INSERT INTO objects SELECT bucket, CAST('absent' AS BLOB), dev, ino,"
                       " size, mtime_ns, ctime_ns, uploaded, 'text/csv', user_meta, checksums,"
                       " md5 FROM objects WHERE key=CAST('k' AS BLOB);")
                .ok());
  }
  CHECK(content_type("k") == "image/png");
  CHECK(content_type("absent") == "text/csv");
  CHECK(content_type("k") == "image/png");

  // Another process: the same through python3's sqlite3 (another process's locks and mapping of
  // the WAL index).
  const std::string cmd =
      "python3 -c \"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("
      "\\\"UPDATE objects SET content_type='video/mp4' WHERE key=CAST('k' AS BLOB)\\\"); "
      "c.commit()\" " +
      db;
  REQUIRE(std::system(cmd.c_str()) == 0);
  CHECK(content_type("k") == "video/mp4");
  CHECK(content_type("absent") == "text/csv");

  // This store's own writes.
  REQUIRE(store.SetMd5("bkt", "k", st, std::string(32, 'b')).ok());
  auto got = store.Get("bkt", "k", st);
  REQUIRE(got->has_value());
  CHECK((*got)->md5_hex == std::string(32, 'b'));
  CHECK((*got)->content_type == "video/mp4");
  REQUIRE(store.Delete("bkt", "k").ok());
  CHECK(content_type("k") == "(none)");
  // A cached row is not returned for a file it does not describe (and is forgotten then).
  REQUIRE(store.Put("bkt", "k", rec).ok());
  CHECK(content_type("k") == "text/plain");
  FileStamp touched = st;
  touched.mtime_ns++;
  got = store.Get("bkt", "k", touched);
  REQUIRE(got.ok());
  CHECK_FALSE(got->has_value());
  CHECK(content_type("k") == "(none)");
}

TEST_CASE("meta store in memory: its cache follows its own writes", "[plain][meta][metacache]") {
  auto ms = MetaStore::Open("");
  REQUIRE(ms.ok());
  MetaStore& store = **ms;
  const FileStamp st{1, 2, 3, 4, 5};
  ObjectRecord rec;
  rec.stamp = st;
  rec.content_type = "text/plain";
  for (int i = 0; i < 3; ++i) {
    rec.content_type = "type/" + std::to_string(i);
    REQUIRE(store.Put("bkt", "k", rec).ok());
    for (int j = 0; j < 2; ++j) {
      auto got = store.Get("bkt", "k", st);
      REQUIRE(got->has_value());
      CHECK((*got)->content_type == rec.content_type);
    }
  }
  CHECK(store.cache_hits() == 3);
  // Past kCacheRows rows the cache starts again; answers stay right.
  for (size_t i = 0; i < MetaStore::kCacheRows + 10; ++i) {
    CHECK_FALSE(store.Get("bkt", "n" + std::to_string(i), st)->has_value());
  }
  CHECK(store.Get("bkt", "k", st)->has_value());
}
