// Inputs the fuzz targets (tests/fuzz/) found, each turned into a test of the fix: a decoder
// accepts only what its encoder produces, and the parsers refuse whatever is not a plain number.
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "cli/parse.h"
#include "libstore/format/encoding.h"
#include "libstore/format/key_path.h"
#include "libstore/format/mrf_entry.h"
#include "libstore/format/object_meta.h"
#include "libstore/format/shard_file.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/list_token.h"
#include "libstore/object/set_open.h"
#include "tests/fuzz/meta_bytes.h"
#include "tests/test_util.h"

using namespace cairn;

namespace {

// Decode refuses the bytes of m as corrupt, and Encode refuses to write them.
void CheckRefused(const ObjectMeta& m) {
  CHECK(ObjectMeta::Decode(fuzz::MetaBytes(m)).status().code() == Code::kCorruption);
  CHECK(m.Encode().status().code() == Code::kInvalidArgument);
}

// Encode writes m, and its bytes are fuzz::MetaBytes(m), which decodes.
void CheckAccepted(const ObjectMeta& m) {
  auto enc = m.Encode();
  REQUIRE(enc.ok());
  CHECK(*enc == fuzz::MetaBytes(m));
  CHECK(ObjectMeta::Decode(*enc).ok());
}

}  // namespace

TEST_CASE("fuzz: Reader reads zero bytes into a null pointer without touching it", "[fuzz]") {
  // object_meta: a metadata file with K+M = 0 read its empty distribution with memcpy(nullptr,
  // ..., 0), which is undefined (UBSan: "null pointer passed as argument 1").
  Reader r("x");
  r.Bytes(nullptr, 0);
  CHECK(r.ok());
  CHECK(r.U8() == 'x');
  r.Bytes(nullptr, 0);
  CHECK(r.ok());

  ObjectMeta m;
  m.key = "k";
  m.block_size = 4096;
  m.k = 0;
  m.distribution.clear();
  CheckRefused(m);
}

TEST_CASE("fuzz: a shard header whose K+M overflows 32 bits is corrupt", "[fuzz]") {
  ShardHeader h;
  h.set_id.b[0] = 1;
  h.index = 5;
  h.k = 260;
  h.m = 0xFFFFFF02u;  // K+M wraps around to 6
  h.block_size = 1 << 20;
  h.file_size = 1;
  h.name = "x";
  CHECK(ShardHeader::Decode(h.Encode()).status().code() == Code::kCorruption);
  h.k = 4;
  h.m = 2;
  CHECK(ShardHeader::Decode(h.Encode()).ok());
}

TEST_CASE("fuzz: DecodeKeyEntry accepts only names KeyPaths produces", "[fuzz]") {
  std::string text;
  KeyEntry kind;
  // What the encoder writes.
  for (const char* name : {"a=", "a~", "=", "~", "50%25=", "%01%1F%7F~", "..~", "..=", "a=b~"}) {
    INFO(name);
    CHECK(DecodeKeyEntry(name, &text, &kind));
  }
  CHECK(DecodeKeyEntry(std::string(kMaxChunk, 'x') + "+", &text, &kind));
  CHECK(DecodeKeyEntry(std::string(kMaxChunk - 2, 'x') + "+", &text, &kind));
  CHECK(DecodeKeyEntry(std::string(kMaxChunk, 'x') + "=", &text, &kind));
  // What it never writes: a raw control byte (the fuzzer's "..\xff...\x14=~"), an escape of a byte
  // that needs none (so `%61=` would list as a second `a`, `x%2F=` as `x/`), an escaped NUL, a
  // lower-case escape, a chunk that is longer than kMaxChunk or cut before it was full.
  for (std::string name :
       {std::string("..\xff\xff\xff\xff\xff\xff\xff\x14=~"), std::string("\x01="),
        std::string("\x7f~"), std::string("%61="), std::string("x%2F="), std::string("%00="),
        std::string("%1f="), std::string("%2="), std::string("a+"),
        std::string(kMaxChunk + 1, 'x') + "=", std::string(kMaxChunk - 3, 'x') + "+",
        std::string("a/b=")}) {
    INFO(name);
    CHECK_FALSE(DecodeKeyEntry(name, &text, &kind));
  }
}

TEST_CASE("fuzz: a listing ignores entries KeyPaths would not produce", "[fuzz][list]") {
  test::SetFixture f(1, 0);
  REQUIRE(f.set->MakeBucket("bkt").ok());
  REQUIRE(f.Put("bkt", "a", "x").ok());
  // A copy of a's metadata under a non-canonical name that also decodes to "a".
  auto raw = f.mem[0]->ReadFile("bkt/a=", 1 << 20);
  REQUIRE(raw.ok());
  REQUIRE(f.mem[0]->WriteFile("bkt/%61=", *raw, false).ok());
  auto r = f.set->ListObjects("bkt", ListOptions{});
  REQUIRE(r.ok());
  REQUIRE(r->objects.size() == 1);
  CHECK(r->objects[0].key == "a");
}

TEST_CASE("fuzz: a continuation token holds a marker a listing could return", "[fuzz][list]") {
  ListToken t;
  CHECK_FALSE(DecodeListToken("c16f", &t));  // 'o' and an empty marker
  CHECK_FALSE(DecodeListToken(EncodeListToken({std::string(kMaxKeyLen + 1, 'k'), false}), &t));
  REQUIRE(DecodeListToken(EncodeListToken({std::string(kMaxKeyLen, 'k'), true}), &t));
  CHECK(t.marker == std::string(kMaxKeyLen, 'k'));
  CHECK(t.is_prefix);
}

TEST_CASE("fuzz: ParseSize and ParseDuration take a plain decimal number and a unit",
          "[fuzz][parse]") {
  using cli::ParseDuration;
  using cli::ParseSize;
  // The fuzzer's inputs: bytes after a NUL were ignored ("1\0-" was 1, "9s\0...-0sC" was 9 s).
  CHECK_FALSE(ParseSize(std::string("1\0-", 3)).ok());
  CHECK_FALSE(ParseDuration(std::string("9s\0\0\xa1-0sC", 9)).ok());
  // A sign, blanks, hex, exponents: strtod takes them, a size is none of them.
  for (const char* bad : {"-0", "+1", " 1", "-0K", "0x10", "0x1p4", "1e3", "1E3K", ".5.5", "1 K"}) {
    INFO(bad);
    CHECK(ParseSize(bad).status().code() == Code::kInvalidArgument);
  }
  for (const char* bad : {" -0s", "\t1s", "0x10s", "1e3s", "-0s"}) {
    INFO(bad);
    CHECK(ParseDuration(bad).status().code() == Code::kInvalidArgument);
  }
  CHECK(*ParseSize("0.5K") == 512);
  CHECK(*ParseSize("1.") == 1);
  CHECK(*ParseDuration("0.5m") == 30LL * 1000000000);
}

TEST_CASE("fuzz: object metadata needs a permutation as distribution and K+M without overflow",
          "[fuzz]") {
  ObjectMeta m;
  m.key = "k";
  m.block_size = 4096;
  m.k = 2;
  m.m = 1;
  m.distribution = {0, 1, 2};
  CheckAccepted(m);
  // The fuzzer's find: two shards on one volume, none on another.
  m.distribution = {2, 0, 2};
  CheckRefused(m);
  // K+M wraps around to 3.
  m.distribution = {0, 1, 2};
  m.k = 0xFFFFFFFFu;
  m.m = 4;
  CheckRefused(m);
}

TEST_CASE("fuzz: a volume format whose K+M overflows 32 bits is corrupt", "[fuzz]") {
  VolumeFormat f;
  f.set_id.b[0] = 1;
  f.block_size = 1 << 20;
  f.members = {{Uuid{}, "/a"}, {Uuid{}, "/b"}};
  f.members[1].volume_id.b[0] = 2;
  f.position = 1;
  f.volume_id = f.members[1].volume_id;
  f.k = 1;
  f.m = 1;
  REQUIRE(VolumeFormat::Decode(f.Encode()).ok());
  f.k = 0xFFFFFFFFu;  // K+M wraps around to 2
  f.m = 3;
  CHECK(VolumeFormat::Decode(f.Encode()).status().code() == Code::kCorruption);
}

TEST_CASE("fuzz: a volume format holds only block sizes and inline limits init writes", "[fuzz]") {
  VolumeFormat f;
  f.set_id.b[0] = 1;
  f.members = {{Uuid{}, "/a"}};
  f.members[0].volume_id.b[0] = 2;
  f.volume_id = f.members[0].volume_id;
  f.k = 1;
  f.block_size = kMinBlockSize;
  f.inline_limit = kMaxInlineLimit;
  REQUIRE(VolumeFormat::Decode(f.Encode()).ok());
  f.block_size = kMaxBlockSize;
  REQUIRE(VolumeFormat::Decode(f.Encode()).ok());
  // An inline limit of 2^32-1 made PUT read ahead inline_limit + 1 = 0 bytes and store every
  // object as an empty inline one; a huge block size makes every reader allocate it.
  for (uint32_t bs : {1u, 4096u + 1, kMaxBlockSize + 64, 0xFFFFFFC0u}) {
    f.block_size = bs;
    CHECK(VolumeFormat::Decode(f.Encode()).status().code() == Code::kCorruption);
  }
  f.block_size = 1 << 20;
  for (uint32_t il : {kMaxInlineLimit + 1, 0xFFFFFFFFu}) {
    f.inline_limit = il;
    CHECK(VolumeFormat::Decode(f.Encode()).status().code() == Code::kCorruption);
  }
  // And init refuses to write one.
  char dir[] = "/tmp/cairn-fuzz-test-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  SetParams p;
  p.k = 1;
  p.m = 0;
  p.block_size = 1 << 20;
  p.inline_limit = kMaxInlineLimit + 1;
  CHECK(InitSet({std::string(dir) + "/m"}, p, false).code() == Code::kInvalidArgument);
  CHECK(::rmdir((std::string(dir) + "/m").c_str()) != 0);  // never made
  CHECK(::rmdir(dir) == 0);
}

TEST_CASE("fuzz: object metadata holds a block size a set can have", "[fuzz]") {
  ObjectMeta m;
  m.key = "k";
  m.distribution = {0};
  for (uint32_t bs : {kMinBlockSize, kMaxBlockSize}) {
    m.block_size = bs;
    CheckAccepted(m);
  }
  for (uint32_t bs : {1u, kMinBlockSize - 1, kMaxBlockSize + 1, 0xFFFFFFFFu}) {
    m.block_size = bs;
    CheckRefused(m);
  }
}

TEST_CASE("fuzz: a set refuses an inline limit that would wrap PUT's read-ahead", "[fuzz]") {
  // With 2^32-1, a 100000-byte PUT succeeded and stored an empty object.
  std::vector<std::unique_ptr<Volume>> mem;
  mem.push_back(NewMemVolume());
  SetParams p;
  p.k = 1;
  p.m = 0;
  p.block_size = 64 << 10;
  p.inline_limit = 0xFFFFFFFFu;
  CHECK(ErasureSet::Open({mem[0].get()}, p).status().code() == Code::kInvalidArgument);
  p.inline_limit = kMaxInlineLimit;
  CHECK(ErasureSet::Open({mem[0].get()}, p).ok());
}

TEST_CASE("fuzz: an MRF entry names a valid bucket and key", "[fuzz]") {
  // Heal heals (and gc keeps) whatever object an entry names: a planted entry for bucket "..",
  // ".cairn" or "" pointed heal at paths outside the buckets.
  MrfEntry e;
  e.bucket = "bkt";
  e.key = "a/b";
  e.positions = {1};
  auto good = e.Encode();
  REQUIRE(good.ok());
  REQUIRE(MrfEntry::Decode(*good).ok());
  for (const auto& [bucket, key] :
       std::vector<std::pair<std::string, std::string>>{{"..", "x"},
                                                        {".cairn", "format"},
                                                        {"", "x"},
                                                        {"bkt", ""},
                                                        {"b/../c", "x"},
                                                        {"bkt", std::string("a\0b", 3)}}) {
    INFO(bucket << " " << key);
    // The bytes as a planted file would hold them (the layout of docs/format.md).
    std::string raw = "CAIRNMRF";
    Writer w(&raw);
    w.U32(kMrfVersion);
    w.Str(bucket);
    w.Str(key);
    w.Bytes(e.version_id.b, 16);
    w.I64(e.time_ns);
    w.U32(0);
    Seal(&raw);
    CHECK(MrfEntry::Decode(raw).status().code() == Code::kCorruption);
    MrfEntry bad = e;
    bad.bucket = bucket;
    bad.key = key;
    CHECK(bad.Encode().status().code() == Code::kInvalidArgument);
  }
}
