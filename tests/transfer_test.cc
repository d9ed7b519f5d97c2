// The transfer engine against the in-process serve stack (a 2+1 set in memory): uploads (single
// PUT and multipart), downloads (one GET and parallel ranges), server-side copies (CopyObject and
// UploadPartCopy), deletes, per-object failures, cancellation and the bounded queue.
#include "libstore/client/transfer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "libstore/client/sync_plan.h"
#include "libstore/common/stage_threads.h"
#include "serve_fixture.h"

using namespace cairn;
using namespace cairn::s3;

namespace {

// The serve stack in process with a bucket "bkt".
struct TransferServer : test::ServeFixture {
  TransferServer() { REQUIRE(f.set->MakeBucket("bkt").ok()); }
  size_t OpenUploads() {
    auto r = f.set->ListMultipartUploads("bkt", {});
    REQUIRE(r.ok());
    return r->uploads.size();
  }
};

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = "/tmp/cairn-transfer-XXXXXX";
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() { [[maybe_unused]] int r = std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class StringSinkForTest : public Sink {
 public:
  Status Write(const void* d, size_t n) override {
    data.append(static_cast<const char*>(d), n);
    return Status::Ok();
  }
  std::string data;
};

// Results by tag.
struct Collected {
  std::map<uint64_t, Status> status;
  std::map<uint64_t, std::string> etag;
  std::map<uint64_t, uint64_t> bytes;
  int repeated = 0;  // reports of a task already reported
  // Exactly one report per task: checked here, on the test's thread (the engine reports from its
  // workers, and Catch2's assertions are not thread-safe).
  ~Collected() { CHECK(repeated == 0); }
  std::function<void(const TransferResult&)> Callback() {
    return [this](const TransferResult& r) {
      if (status.count(r.task.tag) != 0) ++repeated;
      status[r.task.tag] = r.status;
      etag[r.task.tag] = r.etag;
      bytes[r.task.tag] = r.bytes;
    };
  }
};

size_t EntriesIn(const std::string& dir) {
  size_t n = 0;
  for (auto* d = ::opendir(dir.c_str()); d != nullptr;) {
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      ::closedir(d);
      break;
    }
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("transfer: upload, download, copy and delete, small and multipart", "[transfer]") {
  TransferServer s;
  TempDir t;
  const uint64_t part = uint64_t(5) << 20;
  std::vector<std::string> bodies;
  for (int i = 0; i < 40; ++i) bodies.push_back(Random(size_t(i * 97), uint64_t(i)));
  // Three parts each: 40 downloaded with its size but no ETag, 41 with neither (both probed by
  // the first part's range), 42 with both (ranged from the start).
  for (uint64_t seed : {99, 98, 97}) bodies.push_back(Random(size_t(part * 2 + 12345), seed));
  for (size_t i = 0; i < bodies.size(); ++i) WriteFile(t.path + "/f" + std::to_string(i), bodies[i]);

  Collected up;
  TransferOptions o;
  o.jobs = 4;
  o.part_size = part;
  o.queue_limit = 2;  // producers block: the test would hang if Submit lost a wakeup
  o.on_result = up.Callback();
  auto e = TransferEngine::Create(*s.client, o);
  REQUIRE(e.ok());
  for (size_t i = 0; i < bodies.size(); ++i) {
    TransferTask task;
    task.kind = TransferKind::kUpload;
    task.local = t.path + "/f" + std::to_string(i);
    task.dst_bucket = "bkt";
    task.dst_key = "dir/k " + std::to_string(i);
    task.tag = i;
    REQUIRE((*e)->Submit(std::move(task)).ok());
  }
  TransferStats st = (*e)->Finish();
  CHECK(st.done == bodies.size());
  CHECK(st.failed == 0);
  CHECK(st.submitted == bodies.size());
  uint64_t total = 0;
  for (const auto& b : bodies) total += b.size();
  CHECK(st.bytes == total);
  for (size_t i = 0; i < bodies.size(); ++i) {
    INFO(i);
    REQUIRE(up.status.count(i) == 1);
    CHECK(up.status[i].ok());
    CHECK(up.bytes[i] == bodies[i].size());
  }
  CHECK(up.etag[40].find("-3") != std::string::npos);  // a multipart ETag: three parts
  CHECK(s.OpenUploads() == 0);

  // Downloads: sizes and ETags as a listing gives them (the big one in parallel ranges).
  Collected down;
  o.on_result = down.Callback();
  e = TransferEngine::Create(*s.client, o);
  REQUIRE(e.ok());
  for (size_t i = 0; i < bodies.size(); ++i) {
    TransferTask task;
    task.kind = TransferKind::kDownload;
    task.src_bucket = "bkt";
    task.src_key = "dir/k " + std::to_string(i);
    task.local = t.path + "/out/sub/g" + std::to_string(i);
    if (i % 2 == 0) {  // half with a known size, half without
      task.size = bodies[i].size();
      if (i != 40) task.etag = up.etag[i];
    }
    task.tag = i;
    REQUIRE((*e)->Submit(std::move(task)).ok());
  }
  st = (*e)->Finish();
  CHECK(st.done == bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    INFO(i);
    CHECK(down.status[i].ok());
    CHECK(ReadFile(t.path + "/out/sub/g" + std::to_string(i)) == bodies[i]);
  }
  CHECK(EntriesIn(t.path + "/out/sub") == bodies.size());  // no temp file left
  // Durable by default: the directories made (their parents t.path and out) and the one renamed
  // into (out/sub), each fsynced once however many files went in.
  CHECK(st.durable.ok());
  CHECK(st.dirs_synced == 3);

  // Copies and deletes.
  Collected cp;
  o.on_result = cp.Callback();
  o.multipart_copy_above = part;  // the big one as UploadPartCopy parts
  e = TransferEngine::Create(*s.client, o);
  REQUIRE(e.ok());
  for (uint64_t i : {3, 40}) {
    TransferTask task;
    task.kind = TransferKind::kCopy;
    task.src_bucket = "bkt";
    task.src_key = "dir/k " + std::to_string(i);
    task.dst_bucket = "bkt";
    task.dst_key = "copy/" + std::to_string(i);
    task.size = bodies[i].size();
    task.tag = i;
    REQUIRE((*e)->Submit(std::move(task)).ok());
  }
  TransferTask del;
  del.kind = TransferKind::kDelete;
  del.dst_bucket = "bkt";
  del.dst_key = "dir/k 5";
  del.tag = 5;
  REQUIRE((*e)->Submit(del).ok());
  st = (*e)->Finish();
  CHECK(st.done == 3);
  CHECK(cp.status[3].ok());
  CHECK(cp.status[40].ok());
  CHECK(cp.status[5].ok());
  for (uint64_t i : {3, 40}) {
    StringSinkForTest sink;
    REQUIRE(s.client->GetObject("bkt", "copy/" + std::to_string(i), sink).ok());
    CHECK(sink.data == bodies[i]);
  }
  CHECK(s.client->HeadObject("bkt", "dir/k 5").status().code() == Code::kNotFound);
  auto copied = s.client->HeadObject("bkt", "copy/40");
  REQUIRE(copied.ok());
  CHECK(copied->etag.find("-3") != std::string::npos);  // three UploadPartCopy parts
  CHECK(cp.bytes[40] == bodies[40].size());
  CHECK((*e)->Submit(del).code() == Code::kInvalidArgument);  // after Finish

  // A named source (size unknown, as `cp s3://b/k s3://b/k2` has it) that the server refuses to
  // copy in one CopyObject (S3 above 5 GiB; here above 1 MiB): its size is asked, then parts.
  s.handler.set_max_copy_source(uint64_t(1) << 20);
  Collected named;
  o.on_result = named.Callback();
  e = TransferEngine::Create(*s.client, o);
  REQUIRE(e.ok());
  for (uint64_t i : {39, 41}) {  // 3,783 bytes: copied whole; 10 MiB: refused, then 3 parts
    TransferTask task;
    task.kind = TransferKind::kCopy;
    task.src_bucket = "bkt";
    task.src_key = "dir/k " + std::to_string(i);
    task.dst_bucket = "bkt";
    task.dst_key = "named/" + std::to_string(i);
    task.tag = i;
    REQUIRE((*e)->Submit(std::move(task)).ok());
  }
  st = (*e)->Finish();
  CHECK(st.done == 2);
  for (uint64_t i : {39, 41}) {
    INFO(i);
    CHECK(named.status[i].ok());
    StringSinkForTest sink;
    REQUIRE(s.client->GetObject("bkt", "named/" + std::to_string(i), sink).ok());
    CHECK(sink.data == bodies[i]);
  }
  auto whole = s.client->HeadObject("bkt", "named/39");
  REQUIRE(whole.ok());
  CHECK(whole->etag.find('-') == std::string::npos);
  auto parted = s.client->HeadObject("bkt", "named/41");
  REQUIRE(parted.ok());
  CHECK(parted->etag.find("-3") != std::string::npos);
  // The server's refusal as S3 words it, and the source pinned: a part copy of another version
  // is refused.
  auto refused = s.client->CopyObject("bkt", "dir/k 41", "bkt", "named/again");
  CHECK(refused.status().code() == Code::kInvalidRequest);
  CHECK(refused.status().message().find("larger than the maximum allowable size") !=
        std::string::npos);
  auto id = s.client->CreateMultipartUpload("bkt", "named/pinned", "");
  REQUIRE(id.ok());
  CHECK(s.client->UploadPartCopy("bkt", "dir/k 41", "bkt", "named/pinned", *id, 1, 0, 99,
                                 "0123456789abcdef0123456789abcdef")
            .status()
            .code() == Code::kPreconditionFailed);
  auto src = s.client->HeadObject("bkt", "dir/k 41");
  REQUIRE(src.ok());
  CHECK(s.client->UploadPartCopy("bkt", "dir/k 41", "bkt", "named/pinned", *id, 1, 0, 99,
                                 src->etag)
            .ok());
  CHECK(s.client->AbortMultipartUpload("bkt", "named/pinned", *id).ok());
}

TEST_CASE("transfer: a failed object is reported, the others succeed", "[transfer]") {
  TransferServer s;
  TempDir t;
  WriteFile(t.path + "/a", "alpha");
  ::mkfifo((t.path + "/fifo").c_str(), 0600);
  Collected c;
  TransferOptions o;
  o.jobs = 2;
  o.on_result = c.Callback();
  auto e = TransferEngine::Create(*s.client, o);
  REQUIRE(e.ok());
  auto up = [&](const std::string& local, uint64_t tag) {
    TransferTask task;
    task.local = local;
    task.dst_bucket = "bkt";
    task.dst_key = "k" + std::to_string(tag);
    task.tag = tag;
    REQUIRE((*e)->Submit(std::move(task)).ok());
  };
  up(t.path + "/a", 1);
  up(t.path + "/missing", 2);
  up(t.path, 3);  // a directory
  TransferTask get;
  get.kind = TransferKind::kDownload;
  get.src_bucket = "bkt";
  get.src_key = "nope";
  get.local = t.path + "/got";
  get.tag = 4;
  REQUIRE((*e)->Submit(get).ok());
  TransferTask nobucket;
  nobucket.local = t.path + "/a";
  nobucket.dst_bucket = "nobucket";
  nobucket.dst_key = "x";
  nobucket.tag = 5;
  REQUIRE((*e)->Submit(nobucket).ok());
  TransferStats st = (*e)->Finish();
  CHECK(st.done == 1);
  CHECK(st.failed == 4);
  CHECK(c.status[1].ok());
  CHECK(c.status[2].code() == Code::kNotFound);
  CHECK(c.status[2].message().find("/missing") != std::string::npos);
  CHECK(c.status[3].message().find("is a directory") != std::string::npos);
  CHECK(c.status[4].code() == Code::kNotFound);
  CHECK(c.status[4].message().find("bkt/nope") != std::string::npos);
  CHECK(c.status[5].code() == Code::kBucketNotFound);
  CHECK(::access((t.path + "/got").c_str(), F_OK) != 0);
  CHECK(EntriesIn(t.path) == 2);  // a and fifo: no temp file of the failed download
}

TEST_CASE("transfer: cancellation", "[transfer]") {
  TransferServer s;
  TempDir t;
  const uint64_t part = uint64_t(5) << 20;
  const std::string big = Random(size_t(part * 3), 5);
  WriteFile(t.path + "/big", big);
  WriteFile(t.path + "/small", "x");
  REQUIRE(s.client->PutObject("bkt", "big", Payload{big.data(), -1, 0, big.size(), {}}).ok());

  SECTION("tasks queued when the flag is seen are not started; Submit refuses more") {
    std::atomic<bool> cancel{false};
    Collected c;
    TransferOptions o;
    o.jobs = 1;
    o.cancel = &cancel;
    o.on_result = [&](const TransferResult& r) {
      c.Callback()(r);
      cancel = true;  // after the first object
    };
    auto e = TransferEngine::Create(*s.client, o);
    REQUIRE(e.ok());
    for (uint64_t i = 0; i < 3; ++i) {
      TransferTask task;
      task.local = t.path + "/small";
      task.dst_bucket = "bkt";
      task.dst_key = "s" + std::to_string(i);
      task.tag = i;
      Status st = (*e)->Submit(std::move(task));
      if (!st.ok()) CHECK(st.code() == Code::kAborted);
    }
    TransferStats st = (*e)->Finish();
    CHECK(st.done == 1);
    CHECK(st.done + st.failed + st.cancelled == st.submitted);
    CHECK(c.status.size() == 1);
  }

  SECTION("a ranged download stopped part way leaves no file") {
    std::atomic<bool> cancel{false};
    Collected c;
    TransferOptions o;
    o.jobs = 2;
    o.part_size = part;
    o.cancel = &cancel;
    o.on_result = c.Callback();
    std::string tmp_seen;
    o.open_download = [&](const TransferTask& task, DirSync* durable) {
      auto r = OpenLocalDownload(task.local, durable);
      cancel = true;  // as if Ctrl-C came right after the download began
      return r;
    };
    auto e = TransferEngine::Create(*s.client, o);
    REQUIRE(e.ok());
    TransferTask task;
    task.kind = TransferKind::kDownload;
    task.src_bucket = "bkt";
    task.src_key = "big";
    task.size = big.size();
    task.local = t.path + "/down/big";
    REQUIRE((*e)->Submit(std::move(task)).ok());
    (*e)->Finish();
    REQUIRE(c.status.size() == 1);
    CHECK(c.status[0].code() == Code::kAborted);
    CHECK(EntriesIn(t.path + "/down") == 0);
  }

  SECTION("a multipart upload stopped part way is aborted") {
    std::atomic<bool> cancel{false};
    Collected c;
    TransferOptions o;
    o.jobs = 1;
    o.part_size = part;
    o.cancel = &cancel;
    o.on_result = c.Callback();
    auto e = TransferEngine::Create(*s.client, o);
    REQUIRE(e.ok());
    TransferTask task;
    task.local = t.path + "/big";
    task.dst_bucket = "bkt";
    task.dst_key = "up-big";
    REQUIRE((*e)->Submit(std::move(task)).ok());
    // Stop once the first part is in: the upload exists on the server then.
    while ((*e)->stats().bytes == 0 && (*e)->stats().done + (*e)->stats().failed == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    cancel = true;
    (*e)->Finish();
    REQUIRE(c.status.size() == 1);
    if (!c.status[0].ok()) {  // the last parts may have been under way already
      CHECK(c.status[0].code() == Code::kAborted);
      CHECK(c.status[0].message().find("aborted") != std::string::npos);
      CHECK(s.client->HeadObject("bkt", "up-big").status().code() == Code::kNotFound);
    }
    CHECK(s.OpenUploads() == 0);
  }
}

TEST_CASE("transfer: with fewer threads than jobs, or none", "[transfer][stage]") {
  TransferServer s;
  TempDir t;
  TransferOptions o;
  o.jobs = 4;
  // None of the four workers can start: a clear error, not the end of the process.
  StageGroup::FailRunForTest(0, 4);
  auto none = TransferEngine::Create(*s.client, o);
  StageGroup::FailRunForTest(-1);
  CHECK(none.status().code() == Code::kIOError);
  CHECK_THAT(none.status().message(), Catch::Contains("cannot start a thread"));
  // One of four starts: every task still gets done, by that one.
  for (int i = 0; i < 6; ++i) WriteFile(t.path + "/f" + std::to_string(i), Random(1000, i));
  Collected up;
  o.on_result = up.Callback();
  StageGroup::FailRunForTest(1, 3);
  auto one = TransferEngine::Create(*s.client, o);
  StageGroup::FailRunForTest(-1);
  REQUIRE(one.ok());
  for (int i = 0; i < 6; ++i) {
    TransferTask task;
    task.kind = TransferKind::kUpload;
    task.local = t.path + "/f" + std::to_string(i);
    task.dst_bucket = "bkt";
    task.dst_key = "few/" + std::to_string(i);
    task.tag = uint64_t(i);
    REQUIRE((*one)->Submit(std::move(task)).ok());
  }
  TransferStats st = (*one)->Finish();
  CHECK(st.done == 6);
  CHECK(st.failed == 0);
  for (int i = 0; i < 6; ++i) CHECK(up.status.at(uint64_t(i)).ok());
  // A listing stream whose producer thread cannot start fails, now and at every later call.
  RemoteStream rs(*s.client, "bkt", "few/");
  StageGroup::FailRunForTest(0);
  SyncEntry entry;
  auto first = rs.Next(&entry);
  StageGroup::FailRunForTest(-1);
  CHECK(first.status().code() == Code::kIOError);
  CHECK(rs.Next(&entry).status().code() == Code::kIOError);
  RemoteStream works(*s.client, "bkt", "few/");
  size_t listed = 0;
  for (auto n = works.Next(&entry); n.ok() && *n; n = works.Next(&entry)) ++listed;
  CHECK(listed == 6);
}

TEST_CASE("transfer: part sizes and options", "[transfer]") {
  CHECK(TransferEngine::PartSizeFor(100, 8 << 20) == 8 << 20);
  const uint64_t huge = uint64_t(5) << 40;  // 5 TiB: parts of at least 5 TiB / 10,000
  CHECK(TransferEngine::PartSizeFor(huge, 8 << 20) * 10000 >= huge);
  CHECK((huge + TransferEngine::PartSizeFor(huge, 8 << 20) - 1) /
            TransferEngine::PartSizeFor(huge, 8 << 20) <=
        10000);
  TransferServer s;
  TransferOptions o;
  o.jobs = 0;
  CHECK(TransferEngine::Create(*s.client, o).status().code() == Code::kInvalidArgument);
  o.jobs = 1;
  o.part_size = 1 << 20;
  CHECK(TransferEngine::Create(*s.client, o).status().code() == Code::kInvalidArgument);
  CHECK(Name(TransferKind::kCopy) == std::string("copy"));
}

// The first file each download writes is spoiled where the check reads it back (O_APPEND sends
// every pwrite to the end, after a junk byte): the check must fail, and the object be fetched
// again into a new file, or fail for good when no attempt is left.
TEST_CASE("transfer: a download that fails its check is fetched again", "[transfer]") {
  TransferServer s;
  TempDir t;
  const uint64_t part = uint64_t(5) << 20;
  const std::string big = Random(size_t(part * 2 + 777), 11), small = Random(3000, 12);
  WriteFile(t.path + "/big", big);
  {
    TransferOptions o;
    o.part_size = part;
    auto e = TransferEngine::Create(*s.client, o);
    REQUIRE(e.ok());
    TransferTask up;
    up.local = t.path + "/big";
    up.dst_bucket = "bkt";
    up.dst_key = "big";
    REQUIRE((*e)->Submit(up).ok());
    REQUIRE((*e)->Finish().done == 1);
  }
  Payload p;
  p.data = small.data();
  p.size = small.size();
  auto small_etag = s.client->PutObject("bkt", "small", p);
  REQUIRE(small_etag.ok());
  auto big_head = s.client->HeadObject("bkt", "big");
  REQUIRE(big_head.ok());

  for (int attempts : {1, 3}) {
    INFO(attempts);
    std::mutex mu;
    std::map<std::string, int> opened;
    int unspoiled = 0;  // files the test failed to spoil (under mu)
    Collected c;
    TransferOptions o;
    o.jobs = 3;
    // Ranges of 6 MiB, not the upload's 5 MiB parts: the ranges' MD5s cannot make the ETag, so
    // the file is read back to check it (the check the spoiled file must fail).
    o.part_size = part + (1 << 20);
    o.object_attempts = attempts;
    o.on_result = c.Callback();
    o.open_download = [&](const TransferTask& task, DirSync* durable) {
      auto r = OpenLocalDownload(task.local, durable);
      std::lock_guard<std::mutex> l(mu);
      if (r.ok() && opened[task.local]++ == 0) {
        // Checked on the test's thread below: this runs on the engine's workers, and Catch2's
        // assertions are not thread-safe.
        const int fd = (*r)->positional_fd();
        if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_APPEND) != 0 || ::write(fd, "!", 1) != 1)
          ++unspoiled;
      }
      return r;
    };
    auto e = TransferEngine::Create(*s.client, o);
    REQUIRE(e.ok());
    const std::string dir = t.path + "/d" + std::to_string(attempts);
    auto get = [&](const std::string& key, uint64_t tag, bool known) {
      TransferTask task;
      task.kind = TransferKind::kDownload;
      task.src_bucket = "bkt";
      task.src_key = key;
      task.local = dir + "/" + std::to_string(tag);
      if (known) {
        task.size = key == "big" ? big.size() : small.size();
        task.etag = key == "big" ? big_head->etag : *small_etag;
      }
      task.tag = tag;
      REQUIRE((*e)->Submit(std::move(task)).ok());
    };
    get("big", 1, true);    // parallel ranges from the start
    get("big", 2, false);   // probed, then ranges
    get("small", 3, false); // probed: whole in one range, checked from the file
    TransferStats st = (*e)->Finish();
    CHECK(unspoiled == 0);
    for (uint64_t tag : {1, 2, 3}) {
      INFO(tag);
      const std::string path = dir + "/" + std::to_string(tag);
      CHECK(opened[path] == std::min(attempts, 2));
      if (attempts == 1) {
        CHECK(c.status[tag].code() == Code::kCorruption);
        CHECK(::access(path.c_str(), F_OK) != 0);
      } else {
        CHECK(c.status[tag].ok());
        CHECK(ReadFile(path) == (tag == 3 ? small : big));
      }
    }
    CHECK(EntriesIn(dir) == (attempts == 1 ? 0u : 3u));  // no temp file either way
    CHECK(st.failed == (attempts == 1 ? 3u : 0u));
  }
}

TEST_CASE("transfer: DirSync fsyncs each directory once, and reports failures", "[transfer]") {
  TempDir t;
  REQUIRE(::mkdir((t.path + "/a").c_str(), 0777) == 0);
  REQUIRE(::mkdir((t.path + "/b").c_str(), 0777) == 0);
  SECTION("once per directory, however often added") {
    DirSync d;
    for (int i = 0; i < 100; ++i) d.Add(t.path + (i % 3 == 0 ? "/a" : "/b"));
    CHECK(d.synced() == 0);  // nothing before Flush (under the limit)
    REQUIRE(d.Flush().ok());
    CHECK(d.synced() == 2);
    REQUIRE(d.Flush().ok());  // nothing owed any more
    CHECK(d.synced() == 2);
    d.Add(t.path + "/a");  // owed again after another rename
    REQUIRE(d.Flush().ok());
    CHECK(d.synced() == 3);
  }
  SECTION("the limit syncs early: memory stays bounded") {
    DirSync d(2);
    d.Add(t.path + "/a");
    d.Add(t.path + "/a");
    CHECK(d.synced() == 0);
    d.Add(t.path + "/b");  // two held: synced now
    CHECK(d.synced() == 2);
    REQUIRE(d.Flush().ok());
    CHECK(d.synced() == 2);
  }
  SECTION("a directory that cannot be synced fails the Flush, once, naming it") {
    DirSync d;
    d.Add(t.path + "/gone");
    d.Add(t.path + "/a");
    Status st = d.Flush();
    CHECK(st.code() == Code::kNotFound);
    CHECK(st.message().find("/gone") != std::string::npos);
    CHECK(d.synced() == 1);  // the others were still synced
    CHECK(d.Flush().ok());
  }
  SECTION("a failure of a sync that the limit ran is kept for Flush") {
    DirSync d(1);
    d.Add(t.path + "/gone");
    CHECK(d.synced() == 0);
    CHECK(d.Flush().code() == Code::kNotFound);
    CHECK(d.Flush().ok());
  }
}

TEST_CASE("transfer: OpenLocalDownload owes syncs only when durable", "[transfer]") {
  TempDir t;
  const std::string path = t.path + "/x/y/f";
  for (bool durable : {true, false}) {
    INFO(durable);
    REQUIRE(std::system(("rm -rf '" + t.path + "/x'").c_str()) == 0);
    DirSync d;
    auto target = OpenLocalDownload(path, durable ? &d : nullptr);
    REQUIRE(target.ok());
    REQUIRE((*target)->sink().Write("hello", 5).ok());
    REQUIRE((*target)->Commit().ok());
    CHECK(ReadFile(path) == "hello");
    REQUIRE(d.Flush().ok());
    // Made x (in t.path) and y (in x), renamed into y.
    CHECK(d.synced() == (durable ? 3u : 0u));
  }
  // Over an existing file: only its directory is owed.
  DirSync d;
  auto target = OpenLocalDownload(path, &d);
  REQUIRE(target.ok());
  REQUIRE((*target)->Commit().ok());
  CHECK(ReadFile(path).empty());
  REQUIRE(d.Flush().ok());
  CHECK(d.synced() == 1);
  // Not committed: nothing renamed, nothing owed.
  target = OpenLocalDownload(path, &d);
  REQUIRE(target.ok());
  target->reset();
  REQUIRE(d.Flush().ok());
  CHECK(d.synced() == 1);
  CHECK(EntriesIn(t.path + "/x/y") == 1);
}

TEST_CASE("transfer: downloads without fsync, and a directory sync that fails", "[transfer]") {
  TransferServer s;
  TempDir t;
  const std::string body = Random(1000, 7);
  REQUIRE(s.client->PutObject("bkt", "k", Payload{body.data(), -1, 0, body.size(), {}}).ok());
  for (int mode = 0; mode < 3; ++mode) {
    INFO(mode);
    Collected c;
    TransferOptions o;
    o.jobs = 2;
    o.on_result = c.Callback();
    o.fsync_downloads = mode != 1;
    std::atomic<int> no_durable{0};  // checked below: the opener runs on the engine's workers
    if (mode == 2) {
      // An opener that owes a sync to a directory that is gone by the end.
      o.open_download = [&](const TransferTask& task, DirSync* durable) {
        if (durable == nullptr)
          ++no_durable;
        else
          durable->Add(t.path + "/gone");
        return OpenLocalDownload(task.local, durable);
      };
    }
    auto e = TransferEngine::Create(*s.client, o);
    REQUIRE(e.ok());
    for (uint64_t i = 0; i < 5; ++i) {
      TransferTask task;
      task.kind = TransferKind::kDownload;
      task.src_bucket = "bkt";
      task.src_key = "k";
      task.local = t.path + "/m" + std::to_string(mode) + "/f" + std::to_string(i);
      task.tag = i;
      REQUIRE((*e)->Submit(std::move(task)).ok());
    }
    TransferStats st = (*e)->Finish();
    CHECK(no_durable == 0);
    CHECK(st.done == 5);
    for (uint64_t i = 0; i < 5; ++i) {
      CHECK(ReadFile(t.path + "/m" + std::to_string(mode) + "/f" + std::to_string(i)) == body);
    }
    if (mode == 0) {
      CHECK(st.durable.ok());
      CHECK(st.dirs_synced == 2);  // t.path (m0 made in it) and m0
    } else if (mode == 1) {
      CHECK(st.durable.ok());
      CHECK(st.dirs_synced == 0);
    } else {
      CHECK(st.durable.code() == Code::kNotFound);
      CHECK(st.durable.message().find("not made durable") != std::string::npos);
      CHECK(st.dirs_synced == 2);
    }
  }
}
