// On-disk formats: golden bytes (built here field by field, as docs/format.md describes them),
// checksum and truncation detection, key layout.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "libstore/common/hash.h"
#include "libstore/format/framing.h"
#include "libstore/format/heal_journal.h"
#include "libstore/format/key_path.h"
#include "libstore/format/mrf_entry.h"
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

TEST_CASE("replacement record: golden bytes, round trip, damage detected", "[format]") {
  std::string want = "CAIRNRPL";
  Le(&want, 1, 4);                        // version
  Le(&want, 1764633600000000000ULL, 8);  // replaced at
  AppendChecksum(&want);
  const std::string got = EncodeReplacedRecord(1764633600000000000LL);
  REQUIRE(got == want);
  REQUIRE(got.size() == kReplacedSize);
  CHECK(*DecodeReplacedRecord(got) == 1764633600000000000LL);
  CHECK(*DecodeReplacedRecord(EncodeReplacedRecord(-5)) == 0);  // clamped, never negative
  for (size_t i = 0; i < got.size(); ++i) {
    std::string bad = got;
    bad[i] ^= 0x01;
    CHECK(DecodeReplacedRecord(bad).status().code() == Code::kCorruption);
    CHECK(!DecodeReplacedRecord(got.substr(0, i)).ok());
  }
  CHECK(!DecodeReplacedRecord(got + "x").ok());
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
  auto encoded = m.Encode();
  REQUIRE(encoded.ok());
  std::string got = *encoded;
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

TEST_CASE("object metadata: version 2's checksum section, golden bytes; version 1 still reads",
          "[format][putsums]") {
  ObjectMeta m;
  m.key = "c";
  m.version_id = Fill(0x66);
  m.mod_time_ns = 7;
  m.size = 2;
  m.etag = "e";
  m.k = 1;
  m.m = 1;
  m.block_size = 4096;
  m.shard_index = 0;
  m.distribution = {0, 1};
  m.shard_size = 2;
  m.inline_shard = "hi";
  // An object stored without a checksum is written as version 1, as before this section.
  std::string v1 = "CAIRNOBJ";
  Le(&v1, 1, 4);  // version
  Le(&v1, 1, 4);  // flags: inline
  LeStr(&v1, "c");
  v1 += std::string(16, '\x66');
  Le(&v1, 7, 8);
  Le(&v1, 2, 8);
  LeStr(&v1, "e");
  LeStr(&v1, "");
  Le(&v1, 0, 4);
  Le(&v1, 1, 4);
  Le(&v1, 1, 4);
  Le(&v1, 4096, 4);
  Le(&v1, 0, 4);
  Le(&v1, 2, 4);
  v1 += std::string("\x00\x01", 2);
  v1 += std::string(16, '\0');
  Le(&v1, 2, 8);
  LeStr(&v1, "hi");
  std::string body = v1;  // without the file checksum
  AppendChecksum(&v1);
  REQUIRE(m.Encode().ok());
  CHECK(*m.Encode() == v1);
  auto old = ObjectMeta::Decode(v1);
  REQUIRE(old.ok());
  CHECK(old->checksum.algorithm == ChecksumAlgorithm::kNone);
  CHECK(old->checksum_type == 0);

  // With one: version 2, the section after the inline shard.
  m.checksum.algorithm = ChecksumAlgorithm::kCrc32;
  m.checksum.len = 4;
  m.checksum.bytes = {0xde, 0xad, 0xbe, 0xef};
  m.checksum_type = kMetaChecksumFullObject;
  std::string v2 = body;
  v2[8] = 2;                                     // version
  v2 += std::string("\x01", 1);                  // algorithm: CRC32
  v2 += std::string("\x01", 1);                  // type: FULL_OBJECT
  Le(&v2, 0, 4);                                 // parts
  v2 += std::string("\x04\xde\xad\xbe\xef", 5);  // length, big-endian CRC
  AppendChecksum(&v2);
  auto enc = m.Encode();
  REQUIRE(enc.ok());
  CHECK(*enc == v2);
  auto back = ObjectMeta::Decode(v2);
  REQUIRE(back.ok());
  CHECK(back->checksum == m.checksum);
  CHECK(back->checksum_type == kMetaChecksumFullObject);
  CHECK(back->checksum_parts == 0);
  for (size_t i = 0; i < v2.size(); ++i) {
    std::string bad = v2;
    bad[i] ^= 0x10;
    CHECK(ObjectMeta::Decode(bad).status().code() == Code::kCorruption);
  }
  // One encoding per value: a version 2 file without its section, or a version 1 file with one,
  // is refused; so is a section that breaks its own rules.
  std::string no_section = body;
  no_section[8] = 2;
  AppendChecksum(&no_section);
  CHECK(ObjectMeta::Decode(no_section).status().code() == Code::kCorruption);
  std::string v1_with = v2.substr(0, v2.size() - 8);
  v1_with[8] = 1;
  AppendChecksum(&v1_with);
  CHECK(ObjectMeta::Decode(v1_with).status().code() == Code::kCorruption);
  auto refused = [&](auto edit) {
    ObjectMeta x = m;
    edit(x);
    CHECK(x.Encode().status().code() == Code::kInvalidArgument);
  };
  refused([](ObjectMeta& x) { x.checksum.len = 8; });
  refused([](ObjectMeta& x) { x.checksum_type = 0; });
  refused([](ObjectMeta& x) { x.checksum_type = 3; });
  refused([](ObjectMeta& x) { x.checksum_parts = 2; });  // a FULL_OBJECT has no parts
  refused([](ObjectMeta& x) { x.checksum_type = kMetaChecksumComposite; });  // 0 parts
  refused([](ObjectMeta& x) {
    x.checksum_type = kMetaChecksumComposite;
    x.checksum_parts = kMetaMaxChecksumParts + 1;
  });
  refused([](ObjectMeta& x) { x.checksum.algorithm = ChecksumAlgorithm::kNone; });
  refused([](ObjectMeta& x) {
    x.delete_marker = true;
    x.size = 0;
    x.shard_size = 0;
    x.inline_shard.clear();
  });
  ObjectMeta comp = m;
  comp.checksum_type = kMetaChecksumComposite;
  comp.checksum_parts = 3;
  auto ce = comp.Encode();
  REQUIRE(ce.ok());
  auto cd = ObjectMeta::Decode(*ce);
  REQUIRE(cd.ok());
  CHECK(cd->checksum_parts == 3);
}

TEST_CASE("object metadata: a delete marker's golden bytes", "[format]") {
  ObjectMeta m;
  m.key = "gone";
  m.version_id = Fill(0x55);
  m.mod_time_ns = 42;
  m.k = 2;
  m.m = 1;
  m.block_size = 4096;
  m.shard_index = 1;
  m.distribution = {2, 0, 1};
  m.delete_marker = true;

  std::string want = "CAIRNOBJ";
  Le(&want, 1, 4);  // version
  Le(&want, 3, 4);  // flags: inline, delete marker
  LeStr(&want, "gone");
  want += std::string(16, '\x55');
  Le(&want, 42, 8);
  Le(&want, 0, 8);  // size
  LeStr(&want, "");
  LeStr(&want, "");
  Le(&want, 0, 4);  // no user metadata
  Le(&want, 2, 4);
  Le(&want, 1, 4);
  Le(&want, 4096, 4);
  Le(&want, 1, 4);
  Le(&want, 3, 4);
  want += std::string("\x02\x00\x01", 3);
  want += std::string(16, '\0');
  Le(&want, 0, 8);
  LeStr(&want, "");
  AppendChecksum(&want);
  auto got = m.Encode();
  REQUIRE(got.ok());
  CHECK(*got == want);
  auto back = ObjectMeta::Decode(*got);
  REQUIRE(back.ok());
  CHECK(back->is_delete_marker());
  // A marker is empty and inline, always.
  m.size = 1;
  CHECK(m.Encode().status().code() == Code::kInvalidArgument);
  m.size = 0;
  m.data_id = Fill(1);
  CHECK(m.Encode().status().code() == Code::kInvalidArgument);
}

namespace {

// The metadata layout written field by field with no checks at all: what a buggy or hostile
// writer could put on disk.
std::string RawMeta(const ObjectMeta& m) {
  std::string s = "CAIRNOBJ";
  Le(&s, 1, 4);
  Le(&s, (m.is_inline() ? 1 : 0) | (m.delete_marker ? 2 : 0), 4);
  LeStr(&s, m.key);
  s.append(reinterpret_cast<const char*>(m.version_id.b), 16);
  Le(&s, uint64_t(m.mod_time_ns), 8);
  Le(&s, m.size, 8);
  LeStr(&s, m.etag);
  LeStr(&s, m.content_type);
  Le(&s, m.user_meta.size(), 4);
  for (const auto& [k, v] : m.user_meta) {
    LeStr(&s, k);
    LeStr(&s, v);
  }
  Le(&s, m.k, 4);
  Le(&s, m.m, 4);
  Le(&s, m.block_size, 4);
  Le(&s, m.shard_index, 4);
  Le(&s, m.distribution.size(), 4);
  s.append(m.distribution.begin(), m.distribution.end());
  s.append(reinterpret_cast<const char*>(m.data_id.b), 16);
  Le(&s, m.shard_size, 8);
  LeStr(&s, m.inline_shard);
  AppendChecksum(&s);
  return s;
}

template <typename T>
T Pick(std::mt19937_64& rng, std::initializer_list<T> options) {
  return *(options.begin() + rng() % options.size());
}

// Mostly one of the good values, one time in 12 one of the bad ones.
template <typename T>
T Either(std::mt19937_64& rng, std::initializer_list<T> good, std::initializer_list<T> bad) {
  return rng() % 12 == 0 ? Pick(rng, bad) : Pick(rng, good);
}

}  // namespace

TEST_CASE("object metadata: Encode refuses exactly what Decode refuses, and round-trips",
          "[format]") {
  std::mt19937_64 rng(20261202);
  int encoded = 0, refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    ObjectMeta m;
    m.key = std::string(Either<size_t>(rng, {0, 1, 7, 1024}, {1025}), 'k');
    m.version_id = Fill(uint8_t(rng()));
    m.mod_time_ns = int64_t(rng());
    m.etag = std::string(Either<size_t>(rng, {0, 32, 256}, {257}), 'e');
    m.content_type = std::string(Either<size_t>(rng, {0, 10, 1024}, {1025}), 't');
    const size_t entries = Either<size_t>(rng, {0, 1, 3, 1024}, {1025});
    const bool big_entries = entries <= 3;
    for (size_t i = 0; i < entries; ++i) {
      size_t kl = big_entries ? Either<size_t>(rng, {0, 1, 1024}, {1025}) : 1;
      size_t vl = big_entries ? Either<size_t>(rng, {0, 1, 8192}, {8193}) : 1;
      m.user_meta.emplace_back(std::string(kl, 'a'), std::string(vl, 'v'));
    }
    const uint32_t nd = Either<uint32_t>(rng, {1, 3, 6, 32}, {0, 33});
    m.distribution.resize(nd);
    for (uint32_t i = 0; i < nd; ++i) m.distribution[i] = uint8_t((i * 7 + 1) % std::max(nd, 1u));
    if (nd > 0 && rng() % 12 == 0) m.distribution[rng() % nd] = uint8_t(nd + rng() % 3);
    if (nd > 1 && rng() % 12 == 0) m.distribution[0] = m.distribution[nd - 1];  // a duplicate
    const uint32_t half = std::max(nd / 2, 1u);
    switch (rng() % 24) {
      case 0:
        m.k = 0, m.m = nd;
        break;
      case 1:
        m.k = UINT32_MAX, m.m = nd + 1;
        break;  // K + M overflows to nd
      case 2:
        m.k = nd, m.m = 1;
        break;
      default:
        m.k = half, m.m = nd - half;
        break;
    }
    m.block_size =
        Either<uint32_t>(rng, {4096, 1u << 20, 64u << 20}, {0, 1, 4095, (64u << 20) + 1});
    m.shard_index = Either<uint32_t>(rng, {0, nd > 0 ? nd - 1 : 0}, {nd, 40});
    if (rng() % 2) m.data_id = Fill(uint8_t(1 + rng() % 200));
    m.size = Pick<uint64_t>(rng, {0, 1, 5000, UINT64_MAX});
    const size_t inl = m.is_inline() ? Pick<size_t>(rng, {0, 3, 100}) : 0;
    m.inline_shard = std::string(Either<size_t>(rng, {inl}, {inl + 2}), 'i');
    m.shard_size = m.is_inline() ? Either<size_t>(rng, {inl}, {inl + 1}) : rng() % 1000;
    if (rng() % 6 == 0) {
      m.delete_marker = true;
      m.size = Either<uint64_t>(rng, {0}, {1});
      if (rng() % 12 != 0) m.data_id = Uuid(), m.inline_shard.clear(), m.shard_size = 0;
    }
    if (rng() % 300 == 0) {
      // Past the size of a metadata file.
      m.data_id = Uuid();
      m.inline_shard = std::string(kMaxMetaFileSize, 's');
      m.shard_size = m.inline_shard.size();
    }

    auto enc = m.Encode();
    auto dec = ObjectMeta::Decode(RawMeta(m));
    INFO("iteration " << iter << ": " << (enc.ok() ? "encoded" : enc.status().message()) << " / "
                      << (dec.ok() ? "decoded" : dec.status().message()));
    REQUIRE(enc.ok() == dec.ok());
    if (!enc.ok()) {
      CHECK(enc.status().code() == Code::kInvalidArgument);
      CHECK(dec.status().code() == Code::kCorruption);
      ++refused;
      continue;
    }
    ++encoded;
    CHECK(*enc == RawMeta(m));
    const ObjectMeta& b = *dec;
    CHECK(b.key == m.key);
    CHECK(b.version_id == m.version_id);
    CHECK(b.mod_time_ns == m.mod_time_ns);
    CHECK(b.size == m.size);
    CHECK(b.etag == m.etag);
    CHECK(b.content_type == m.content_type);
    CHECK(b.user_meta == m.user_meta);
    CHECK(b.k == m.k);
    CHECK(b.m == m.m);
    CHECK(b.block_size == m.block_size);
    CHECK(b.shard_index == m.shard_index);
    CHECK(b.distribution == m.distribution);
    CHECK(b.data_id == m.data_id);
    CHECK(b.shard_size == m.shard_size);
    CHECK(b.inline_shard == m.inline_shard);
    CHECK(b.delete_marker == m.delete_marker);
  }
  // Both outcomes were exercised, many times.
  CHECK(encoded > 100);
  CHECK(refused > 100);
}

TEST_CASE("MRF entry: golden bytes, round trip, damage detected", "[format][mrf]") {
  MrfEntry e;
  e.bucket = "bkt";
  e.key = "a/b";
  e.version_id = Fill(0x33);
  e.time_ns = 1700000000123456789;
  e.positions = {1, 4};

  std::string want = "CAIRNMRF";
  Le(&want, 1, 4);
  LeStr(&want, "bkt");
  LeStr(&want, "a/b");
  want += std::string(16, '\x33');
  Le(&want, 1700000000123456789, 8);
  Le(&want, 2, 4);
  Le(&want, 1, 4);
  Le(&want, 4, 4);
  AppendChecksum(&want);
  auto got = e.Encode();
  REQUIRE(got.ok());
  REQUIRE(*got == want);
  auto back = MrfEntry::Decode(*got);
  REQUIRE(back.ok());
  CHECK(back->bucket == "bkt");
  CHECK(back->key == "a/b");
  CHECK(back->version_id == e.version_id);
  CHECK(back->time_ns == e.time_ns);
  CHECK(back->positions == e.positions);
  CHECK(back->id.empty());
  for (size_t i = 0; i < got->size(); ++i) {
    std::string bad = *got;
    bad[i] ^= 0x04;
    CHECK(MrfEntry::Decode(bad).status().code() == Code::kCorruption);
  }
  for (size_t len = 0; len < got->size(); ++len) {
    CHECK(!MrfEntry::Decode(got->substr(0, len)).ok());
  }
  e.positions.assign(33, 0);
  CHECK(e.Encode().status().code() == Code::kInvalidArgument);
  e.positions.clear();
  e.key = std::string(1025, 'k');
  CHECK(e.Encode().status().code() == Code::kInvalidArgument);
}

TEST_CASE("heal journal: golden bytes, round trip, damage detected", "[format][journal]") {
  HealJournal j;
  j.scope_bucket = "bkt";
  j.scope_prefix = "p/";
  j.bucket = "bkt";
  j.key = "p/7";
  j.started_ns = 11;
  j.updated_ns = 22;
  j.counts.scanned = 1;
  j.counts.healthy = 2;
  j.counts.degraded = 3;
  j.counts.unrecoverable = 4;
  j.counts.healed = 5;
  j.counts.still_degraded = 6;
  j.counts.unrecoverable_after = 7;
  j.counts.removed = 8;
  j.counts.deletes_finished = 9;
  j.counts.bytes_read = 10;
  j.counts.bytes_written = 11;

  std::string want = "CAIRNHEL";
  Le(&want, 2, 4);
  LeStr(&want, "bkt");
  LeStr(&want, "p/");
  LeStr(&want, "bkt");
  LeStr(&want, "p/7");
  Le(&want, 11, 8);
  Le(&want, 22, 8);
  for (uint64_t v = 1; v <= 11; ++v) Le(&want, v, 8);
  AppendChecksum(&want);
  auto got = j.Encode();
  REQUIRE(got.ok());
  REQUIRE(*got == want);
  auto back = HealJournal::Decode(*got);
  REQUIRE(back.ok());
  CHECK(back->scope_prefix == "p/");
  CHECK(back->key == "p/7");
  CHECK(back->counts.deletes_finished == 9);
  CHECK(back->counts.bytes_written == 11);
  for (size_t i = 0; i < got->size(); ++i) {
    std::string bad = *got;
    bad[i] ^= 0x01;
    CHECK(HealJournal::Decode(bad).status().code() == Code::kCorruption);
  }
  for (size_t len = 0; len < got->size(); ++len) {
    CHECK(!HealJournal::Decode(got->substr(0, len)).ok());
  }
  j.bucket = std::string(64, 'b');
  CHECK(j.Encode().status().code() == Code::kInvalidArgument);
  // Names it could never have been given are refused both ways: a bucket that is no bucket name,
  // a key with no bucket or that is no key.
  for (auto [sb, b, k] : {std::tuple<std::string, std::string, std::string>{"B!", "bkt", "k"},
                          {"bkt", "..bad", "k"},
                          {"bkt", "", "k"},
                          {"bkt", "bkt", std::string("a\0b", 3)}}) {
    HealJournal bad = j;
    bad.scope_bucket = sb;
    bad.bucket = b;
    bad.key = k;
    CHECK(bad.Encode().status().code() == Code::kInvalidArgument);
    // The same fields written by hand (as a damaged or planted file would hold them).
    std::string raw = "CAIRNHEL";
    Le(&raw, 2, 4);
    LeStr(&raw, sb);
    LeStr(&raw, "p/");
    LeStr(&raw, b);
    LeStr(&raw, k);
    Le(&raw, 11, 8);
    Le(&raw, 22, 8);
    for (uint64_t v = 1; v <= 11; ++v) Le(&raw, v, 8);
    AppendChecksum(&raw);
    CHECK(HealJournal::Decode(raw).status().code() == Code::kCorruption);
  }
  // Nothing finished yet, or a whole-set scope: empty names are fine.
  HealJournal none;
  CHECK(HealJournal::Decode(*none.Encode()).ok());
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
  REQUIRE(DecodeKeyEntry(std::string(200, 'c') + "+", &text, &kind));  // only a full chunk is cut
  CHECK(text == std::string(200, 'c'));
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

TEST_CASE("TempName: unique in a process and apart from a forked child's", "[format]") {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string name = TempName("tmp");
    REQUIRE(name.size() == 4 + 32);
    REQUIRE(name.find_first_not_of("0123456789abcdef", 4) == std::string::npos);
    REQUIRE(seen.insert(name).second);
  }
  // A child of fork() draws its own random part: its names are not the parent's next ones.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string name = TempName("tmp");
    const bool whole = ::write(fds[1], name.data(), name.size()) == ssize_t(name.size());
    ::_exit(whole ? 0 : 1);
  }
  ::close(fds[1]);
  char buf[64];
  const ssize_t n = ::read(fds[0], buf, sizeof(buf));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(n == 36);
  const std::string child(buf, size_t(n));
  const std::string parent = TempName("tmp");
  CHECK(child != parent);
  // Their first halves differ too (a child never repeats its parent's names).
  CHECK(child.substr(4, 16) != parent.substr(4, 16));
  CHECK(seen.count(child) == 0);
}
