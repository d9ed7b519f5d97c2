// On-disk formats: golden bytes (built here field by field, as docs/format.md describes them),
// checksum and truncation detection, key layout.
#include <catch2/catch.hpp>

#include "libstore/common/hash.h"
#include "libstore/format/framing.h"
#include "libstore/format/key_path.h"
#include "libstore/format/object_meta.h"
#include "libstore/format/volume_format.h"

using namespace cairn;

namespace {

void Le(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(char(v >> (8 * i)));
}
void LeStr(std::string* s, const std::string& v) {
  Le(s, v.size(), 4);
  *s += v;
}
Uuid Fill(uint8_t x) {
  Uuid u;
  for (auto& b : u.b) b = x;
  return u;
}
void AppendChecksum(std::string* s) { Le(s, Xxh3_64(s->data(), s->size()), 8); }

}  // namespace

TEST_CASE("volume format file: golden bytes, round trip, damage detected", "[format]") {
  VolumeFormat f;
  f.set_id = Fill(0x11);
  f.volume_id = Fill(0x22);
  f.position = 1;
  f.k = 1;
  f.m = 1;
  f.block_size = 1 << 20;
  f.inline_limit = 128 << 10;
  f.members = {{Fill(0x33), "/d1"}, {Fill(0x22), "/d2"}};

  std::string want = "CAIRNVOL";
  Le(&want, 1, 4);                  // version
  want += std::string(16, '\x11');  // set id
  want += std::string(16, '\x22');  // volume id
  Le(&want, 1, 4);                  // position
  Le(&want, 1, 4);                  // k
  Le(&want, 1, 4);                  // m
  Le(&want, 1 << 20, 4);            // block size
  Le(&want, 128 << 10, 4);          // inline limit
  Le(&want, 2, 4);                  // members
  want += std::string(16, '\x33');
  LeStr(&want, "/d1");
  want += std::string(16, '\x22');
  LeStr(&want, "/d2");
  AppendChecksum(&want);
  std::string got = f.Encode();
  REQUIRE(got == want);

  auto back = VolumeFormat::Decode(got);
  REQUIRE(back.ok());
  CHECK(back->set_id == f.set_id);
  CHECK(back->members[0].path == "/d1");
  // Every single-byte change and every truncation is detected.
  for (size_t i = 0; i < got.size(); ++i) {
    std::string bad = got;
    bad[i] ^= 0x01;
    CHECK(VolumeFormat::Decode(bad).status().code() == Code::kCorruption);
    CHECK(!VolumeFormat::Decode(got.substr(0, i)).ok());
  }
}

TEST_CASE("object metadata: golden bytes, round trip, damage detected", "[format]") {
  ObjectMeta m;
  m.key = "a/b";
  m.version_id = Fill(0x44);
  m.mod_time_ns = 1234567890123;
  m.size = 5;
  m.etag = "e";
  m.content_type = "text/plain";
  m.user_meta = {{"k", "v"}};
  m.k = 2;
  m.m = 1;
  m.block_size = 65536;
  m.shard_index = 2;
  m.distribution = {1, 2, 0};
  m.shard_size = 3;
  m.inline_shard = "xyz";

  std::string want = "CAIRNOBJ";
  Le(&want, 1, 4);  // version
  Le(&want, 1, 4);  // flags: inline
  LeStr(&want, "a/b");
  want += std::string(16, '\x44');
  Le(&want, 1234567890123, 8);
  Le(&want, 5, 8);
  LeStr(&want, "e");
  LeStr(&want, "text/plain");
  Le(&want, 1, 4);
  LeStr(&want, "k");
  LeStr(&want, "v");
  Le(&want, 2, 4);
  Le(&want, 1, 4);
  Le(&want, 65536, 4);
  Le(&want, 2, 4);
  Le(&want, 3, 4);
  want += std::string("\x01\x02\x00", 3);
  want += std::string(16, '\0');  // data id: zero = inline
  Le(&want, 3, 8);
  LeStr(&want, "xyz");
  AppendChecksum(&want);
  std::string got = m.Encode();
  REQUIRE(got == want);
  auto back = ObjectMeta::Decode(got);
  REQUIRE(back.ok());
  CHECK(back->key == "a/b");
  CHECK(back->inline_shard == "xyz");
  CHECK(back->is_inline());
  for (size_t i = 0; i < got.size(); ++i) {
    std::string bad = got;
    bad[i] ^= 0x10;
    CHECK(ObjectMeta::Decode(bad).status().code() == Code::kCorruption);
  }
}

TEST_CASE("key layout", "[format][keys]") {
  auto meta = [](const std::string& key) { return KeyPaths("b", key).meta; };
  CHECK(meta("a") == "b/a=");
  CHECK(meta("a/") == "b/a~/=");
  CHECK(meta("a/b") == "b/a~/b=");
  CHECK(meta("/") == "b/~/=");
  CHECK(meta("..") == "b/..=");
  CHECK(meta("../x") == "b/..~/x=");
  CHECK(meta("50%") == "b/50%25=");
  CHECK(meta("t\tx") == "b/t%09x=");
  CHECK(KeyPaths("b", "a/b").dir == "b/a~");
  CHECK(KeyPaths("b", "a").dir == "b");
  CHECK(KeyPaths("b", "a/b").ShardPath("00ff") == "b/a~/b=00ff");
  std::string long_seg(250, 'x');
  CHECK(meta(long_seg) == "b/" + std::string(200, 'x') + "+/" + std::string(50, 'x') + "=");
  CHECK(meta(long_seg + "/k") ==
        "b/" + std::string(200, 'x') + "+/" + std::string(50, 'x') + "~/k=");
  // An escape is never cut in half.
  std::string pct = std::string(199, 'y') + "%";
  CHECK(meta(pct) == "b/" + std::string(199, 'y') + "+/%25=");

  std::string text;
  KeyEntry kind;
  REQUIRE(DecodeKeyEntry("50%25~", &text, &kind));
  CHECK(text == "50%");
  CHECK(kind == KeyEntry::kSegment);
  REQUIRE(DecodeKeyEntry("abc+", &text, &kind));
  CHECK(text == "abc");
  CHECK(kind == KeyEntry::kChunk);
  REQUIRE(DecodeKeyEntry("a=b=", &text, &kind));
  CHECK(text == "a=b");
  CHECK(kind == KeyEntry::kObject);
  REQUIRE(DecodeKeyEntry("=", &text, &kind));
  CHECK(text.empty());
  CHECK(!DecodeKeyEntry("bucket.meta", &text, &kind));
  CHECK(!DecodeKeyEntry("a=0123456789abcdef0123456789abcdef", &text, &kind));  // a shard file
  CHECK(!DecodeKeyEntry("bad%2~", &text, &kind));
  CHECK(!DecodeKeyEntry("bad%zz~", &text, &kind));
}

TEST_CASE("bucket names follow the S3 rules", "[format]") {
  for (const std::string& ok :
       std::vector<std::string>{"abc", "my-bucket", "a.b.c", "0123", std::string(63, 'a')}) {
    CAPTURE(ok);
    CHECK(ValidateBucketName(ok).ok());
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "ab", "ABC", "a_b", "-ab", "ab-", ".ab", "a..b", "10.0.0.1",
                                "xn--ab", "ab-s3alias", "ab--ol-s3", std::string(64, 'a'), "a b"}) {
    CAPTURE(bad);
    CHECK(ValidateBucketName(bad).code() == Code::kInvalidArgument);
  }
}

TEST_CASE("Framed chunks: one writer, one checker", "[format][framing]") {
  auto vol = NewMemVolume();
  const std::string chunk = "0123456789abcdef0123456789";
  const uint64_t seed = 42;
  {
    auto f = vol->NewWritableFile("f");
    REQUIRE(f.ok());
    REQUIRE((*f)->Append("xx", 2).ok());  // the chunk starts at offset 2
    REQUIRE(
        AppendFramed(**f, chunk.data(), chunk.size(), ChunkSum(chunk.data(), chunk.size(), seed))
            .ok());
    REQUIRE((*f)->Close().ok());
  }
  std::string mem;
  AppendFramed(&mem, chunk.data(), chunk.size(), ChunkSum(chunk.data(), chunk.size(), seed));
  auto raw = vol->ReadFile("f", 1 << 20);
  REQUIRE(raw.ok());
  CHECK(raw->substr(2) == mem);
  CHECK(mem.size() == chunk.size() + kChecksumLen);
  // Seed 0 is plain XXH3-64: what volume sets store.
  CHECK(ChunkSum(chunk.data(), chunk.size(), 0) == Xxh3_64(chunk.data(), chunk.size()));

  auto file = vol->NewReadableFile("f");
  REQUIRE(file.ok());
  std::string buf(chunk.size() + kChecksumLen, '\0');
  auto* b = reinterpret_cast<uint8_t*>(buf.data());
  ChunkRead r = ReadFramed(**file, 2, chunk.size(), seed, b);
  CHECK(r.state == ChunkState::kGood);
  CHECK(r.bytes == chunk.size() + kChecksumLen);
  CHECK(buf.substr(0, chunk.size()) == chunk);
  // Another seed (another shard, block or encode) is caught like bitrot.
  CHECK(ReadFramed(**file, 2, chunk.size(), seed + 1, b).state == ChunkState::kBad);
  // So is a short read at the end of the file.
  r = ReadFramed(**file, 3, chunk.size(), seed, b);
  CHECK(r.state == ChunkState::kBad);
  CHECK(r.bytes == chunk.size() + kChecksumLen - 1);
  // And a flipped bit.
  REQUIRE(
      vol->WriteFile("f", "xx" + mem.substr(0, 5) + char(mem[5] ^ 4) + mem.substr(6), false).ok());
  file = vol->NewReadableFile("f");
  REQUIRE(file.ok());
  CHECK(ReadFramed(**file, 2, chunk.size(), seed, b).state == ChunkState::kBad);
}

TEST_CASE("ReplaceFile swaps a small file whole and leaves no temp file", "[volume][format]") {
  auto vol = NewMemVolume();
  REQUIRE(vol->MakeDirs("tmp").ok());
  REQUIRE(vol->MakeDirs("d").ok());
  REQUIRE(ReplaceFile(*vol, "d/x", "one", "tmp").ok());
  REQUIRE(ReplaceFile(*vol, "d/x", "two", "tmp").ok());
  CHECK(*vol->ReadFile("d/x", 100) == "two");
  CHECK(vol->ListDir("tmp")->empty());
  // A failed rename (the directory is missing) leaves no temp file behind.
  CHECK_FALSE(ReplaceFile(*vol, "nodir/x", "three", "tmp").ok());
  CHECK(vol->ListDir("tmp")->empty());
  CHECK(TempName("tmp", ".s").size() == 4 + 32 + 2);
  CHECK(TempName("", "").size() == 32);
  CHECK(TempName("tmp") != TempName("tmp"));
}
