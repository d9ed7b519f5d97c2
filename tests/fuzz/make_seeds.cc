// Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/<name>, from real
// encodes (fixed ids, so a rerun gives the same bytes) and, for the MRF journal, the heal journal
// and bucket records, from what a set over in-memory volumes really writes (ids and times there
// are the store's own, so those seeds change with every rerun). Usage: fuzz_seeds CORPUS_DIR
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "libstore/format/heal_journal.h"
#include "libstore/format/key_path.h"
#include "libstore/format/object_meta.h"
#include "libstore/format/shard_file.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/heal.h"
#include "libstore/object/list_token.h"
#include "libstore/volume/faulty_volume.h"
#include "tests/test_util.h"

namespace cairn {
namespace {

std::string root;

void Put(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::string dir = root + "/" + target;
  ::mkdir(root.c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
      std::fclose(f) != 0) {
    std::perror((dir + "/" + name).c_str());
    std::exit(1);
  }
}

Uuid Id(uint8_t seed) {
  Uuid u;
  for (int i = 0; i < 16; ++i) u.b[i] = uint8_t(seed + 17 * i);
  return u;
}

void ObjectMetas() {
  ObjectMeta m;
  m.key = "photos/2024/cat.jpg";
  m.version_id = Id(1);
  m.mod_time_ns = 1700000000123456789;
  m.size = 5;
  m.etag = "5d41402abc4b2a76b9719d911017c592";
  m.content_type = "image/jpeg";
  m.k = 4;
  m.m = 2;
  m.block_size = 1 << 20;
  m.shard_index = 3;
  m.distribution = {2, 3, 4, 5, 0, 1};
  m.inline_shard = std::string(2 + 8, 'x');
  m.shard_size = m.inline_shard.size();
  Put("object_meta", "inline", m.Encode().value());

  m.user_meta = {{"owner", "ann"}, {"colour", "grey"}};
  m.key = "a/\x01%~=+";
  m.size = 3 << 20;
  m.data_id = Id(2);
  m.inline_shard.clear();
  m.shard_size = 3 * ((1 << 18) + 8);
  Put("object_meta", "shard-file", m.Encode().value());

  ObjectMeta one;
  one.key = "k";
  one.version_id = Id(3);
  one.block_size = 4096;
  one.distribution = {0};
  one.etag = "x0123456789abcdef0123456789abcdef";
  Put("object_meta", "empty-1+0", one.Encode().value());
}

void VolumeFormats() {
  VolumeFormat f;
  f.set_id = Id(10);
  f.k = 4;
  f.m = 2;
  f.block_size = 1 << 20;
  f.inline_limit = 128 << 10;
  for (uint32_t i = 0; i < 6; ++i)
    f.members.push_back({Id(uint8_t(20 + i)), "/srv/disk" + std::to_string(i)});
  f.position = 4;
  f.volume_id = f.members[4].volume_id;
  Put("volume_format", "4+2", f.Encode());

  VolumeFormat one;
  one.set_id = Id(11);
  one.k = 1;
  one.block_size = 65536;
  one.members.push_back({Id(30), "/tmp/one"});
  one.volume_id = one.members[0].volume_id;
  Put("volume_format", "1+0", one.Encode());
  Put("volume_format", "replaced", EncodeReplacedRecord(1764633600000000000LL));
}

void ShardHeaders() {
  ShardHeader h;
  h.set_id = Id(40);
  h.index = 5;
  h.k = 4;
  h.m = 2;
  h.block_size = 1 << 20;
  h.file_size = 10 << 20;
  h.file_hash = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  h.name = "backup.tar";
  h.complete = true;
  Put("shard_header", "complete", h.Encode());
  h.complete = false;
  h.index = 0;
  h.name = std::string(kShardNameMax, 'n');
  Put("shard_header", "incomplete-long-name", h.Encode() + "trailing chunk bytes");
}

void KeyEntries() {
  int i = 0;
  for (const char* key :
       {"a", "a/", "a/b", "..", "../x", "50%", "tab\there", "del\x7f/x", "a//b"}) {
    const ObjectPaths p = KeyPaths("b", key);
    size_t s = 2;
    while (true) {
      size_t slash = p.meta.find('/', s);
      Put("key_entry", std::to_string(i++),
          p.meta.substr(s, slash == std::string::npos ? std::string::npos : slash - s));
      if (slash == std::string::npos) break;
      s = slash + 1;
    }
  }
  const ObjectPaths chunked = KeyPaths("b", std::string(199, 'x') + "%" + std::string(30, 'y'));
  Put("key_entry", "chunk", chunked.dir.substr(2));
  Put("key_entry", "chunk-rest", chunked.meta.substr(chunked.dir.size() + 1));
}

void Keys() {
  Put("key_paths", "plain", "photos/2024/cat.jpg");
  Put("key_paths", "dots", "../../etc/passwd");
  Put("key_paths", "escapes", "50%/\x01\x1f\x7f/~+=");
  Put("key_paths", "slashes", "/a//b/");
  Put("key_paths", "long-segment", std::string(250, 'x') + "/" + std::string(120, '%'));
  Put("key_paths", "max", std::string(kMaxKeyLen, 'k'));
}

void Tokens() {
  Put("list_token", "object", EncodeListToken({"photos/2024/cat.jpg", false}));
  Put("list_token", "prefix", EncodeListToken({"photos/", true}));
  Put("list_token", "bytes", EncodeListToken({"\x01\xff/%", false}));
}

// Keeps the bytes of every file put in place by a rename (how ReplaceFile and commits write).
struct Recorder : VolumeWrapper {
  explicit Recorder(Volume* v) : VolumeWrapper(v) {}
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> written;  // (path, bytes)
  Status Rename(const std::string& from, const std::string& to) override {
    auto raw = ReadFile(from, 1 << 20);
    if (raw.ok()) {
      std::lock_guard<std::mutex> l(mu);
      written.emplace_back(to, *raw);
    }
    return VolumeWrapper::Rename(from, to);
  }
};

// Three seconds later at every call, so a heal journals its progress after every object.
struct TickingClock : Clock {
  std::atomic<int64_t> now{1700000000000000000};
  int64_t NowNs() override { return now.fetch_add(3'000'000'000); }
};

struct NoObserver : ScanObserver {
  void Object(const ObjectHealth&) override {}
};

// A 4+2 set: member 1 fails its writes while objects are put (MRF entries), then heal brings it
// back with a journal; member 0's renames are recorded.
void RealWrites() {
  std::vector<std::unique_ptr<Volume>> mem;
  std::vector<std::unique_ptr<FaultyVolume>> faulty;
  std::vector<Volume*> vols;
  for (uint32_t i = 0; i < 6; ++i) {
    mem.push_back(NewMemVolume("v" + std::to_string(i)));
    for (const char* d : {".cairn/tmp", ".cairn/mrf", ".cairn/heal"}) {
      mem.back()->MakeDirs(d).IgnoreError();
    }
    faulty.push_back(std::make_unique<FaultyVolume>(mem.back().get(), 2000 + i));
    vols.push_back(faulty.back().get());
  }
  Recorder rec(vols[0]);
  vols[0] = &rec;
  TickingClock clock;
  SetParams params;
  params.k = 4;
  params.m = 2;
  params.block_size = 64 << 10;
  params.inline_limit = 16 << 10;
  auto set = ErasureSet::Open(vols, params, "", &clock);
  auto must = [](const Status& st, const char* what) {
    if (!st.ok()) {
      std::fprintf(stderr, "fuzz_seeds: %s: %s\n", what, st.ToString().c_str());
      std::exit(1);
    }
  };
  must(set.status(), "open");
  must((*set)->MakeBucket("photos"), "mb");
  FaultRule fail;
  fail.op = FaultOp::kAppend;
  faulty[1]->AddRule(fail);
  for (const char* key : {"2024/cat.jpg", "a/\x01%~=+", "tiny"}) {
    test::StringSource src(test::RandomBytes(std::string(key) == "tiny" ? 10 : 300000, 7));
    PutOptions po;
    must((*set)->PutObject("photos", key, src, po).status(), "put");
  }
  faulty[1]->ClearRules();
  for (int i = 0; i < 4; ++i) {
    test::StringSource src(test::RandomBytes(1000, i));
    PutOptions po;
    must((*set)->PutObject("photos", "more/" + std::to_string(i), src, po).status(), "put");
  }
  SetScanOptions so;
  so.heal = true;
  so.jobs = 1;
  NoObserver obs;
  must(ScanSet(**set, so, obs).status(), "heal");
  int mrf = 0, journal = 0;
  for (const auto& [path, bytes] : rec.written) {
    if (path.rfind(".cairn/mrf/", 0) == 0) Put("mrf_entry", "put-" + std::to_string(mrf++), bytes);
    if (path == kHealJournalPath) Put("heal_journal", "heal-" + std::to_string(journal++), bytes);
    if (path == "photos/bucket.meta") Put("bucket_meta", "mb", bytes);
  }
  if (mrf == 0 || journal == 0) {
    std::fprintf(stderr, "fuzz_seeds: no MRF entry or heal journal was written\n");
    std::exit(1);
  }
  // What cairn wrote as bucket.meta before the record had a format.
  Put("bucket_meta", "legacy", "1700000000123456789");
}

void Strings(const std::string& target, const std::vector<std::string>& items) {
  int i = 0;
  for (const auto& s : items) Put(target, std::to_string(i++), s);
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) {
  using namespace cairn;
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds CORPUS_DIR\n");
    return 2;
  }
  root = argv[1];
  ObjectMetas();
  VolumeFormats();
  ShardHeaders();
  KeyEntries();
  Keys();
  Tokens();
  RealWrites();
  Strings("parse_size", {"0", "4096", "64K", "64KiB", "1MiB", "1.5G", "2T", "512b", "1gb"});
  Strings("parse_duration", {"0", "90s", "30m", "30min", "24h", "7d", "1.5d"});
  Strings("parse_range", {"0-0", "0-99", "100-", "18446744073709551614-", "5-5"});
  Strings("parse_ec", {"4+2", "1+0", "16+16", "8+4", "12+3"});
  Strings("text_out", {"photos/2024/cat.jpg", "it's", "a b", "\x1b[1mred\x1b[0m", "caf\xc3\xa9",
                       "\xff\xfe", "x\xe2\x80\xaey", "~home", "#x", "tab\there\nnext", "50%/\x7f"});
  Strings("parse_meta", {"owner=ann\ncolour=grey", "Content-Language=en", "x=", "a=b\tc",
                         "note=h\xc3\xa9llo w\xc3\xb6rld", "emoji=\xf0\x9f\x90\x88"});
  Strings("s3_xml",
          {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete "
           "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a/b.txt</Key></"
           "Object><Object><Key>x &amp; "
           "y</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>",
           "<Delete><Object><Key>&#x0;&#xD;<![CDATA[<k>]]></Key></Object></Delete>",
           "<CreateBucketConfiguration "
           "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</"
           "LocationConstraint></CreateBucketConfiguration>",
           "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"abc\"</"
           "ETag><ChecksumCRC32>DUoRhQ==</ChecksumCRC32></Part><Part><PartNumber>2</"
           "PartNumber><ETag>&quot;def&quot;</ETag><ChecksumCRC64NVME>jSnVw/bqjr4=</"
           "ChecksumCRC64NVME></Part></CompleteMultipartUpload>",
           "key one\377caf\303\251\377line\r\nbreak\377<&>\"'"});
  return 0;
}
