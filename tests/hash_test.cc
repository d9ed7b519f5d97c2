#include "libstore/common/hash.h"

#include <catch2/catch.hpp>
#include <cstring>

using namespace cairn;

TEST_CASE("MD5 and XXH3 match known vectors; streams match one-shot", "[hash]") {
  Md5Stream m;
  CHECK(m.FinalHex() == "d41d8cd98f00b204e9800998ecf8427e");
  m.Reset();
  m.Update("abc", 3);
  CHECK(m.FinalHex() == "900150983cd24fb0d6963f7d28e17f72");
  // XXH3-64 of the empty input (xxHash's published value).
  CHECK(Xxh3_64("", 0) == 0x2D06800538D394C2ULL);
  std::string data(100000, 'q');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char(i * 131);
  Xxh3_128Stream s;
  for (size_t off = 0; off < data.size(); off += 4097)
    s.Update(data.data() + off, std::min<size_t>(4097, data.size() - off));
  CHECK(s.Digest() == Xxh3_128(data.data(), data.size()));
  CHECK(Xxh3_128(data.data(), data.size()).Hex().size() == 32);
}

TEST_CASE("SHA-1, SHA-256 and HMAC-SHA256 match published vectors", "[hash]") {
  const std::string abc = "abc";
  uint8_t d[ShaStream::kMaxDigestLen];
  ShaStream sha1(ShaStream::Kind::kSha1);
  sha1.Update(abc.data(), abc.size());
  REQUIRE(sha1.Final(d) == 20);
  CHECK(ToHex(d, 20) == "a9993e364706816aba3e25717850c26c9cd0d89d");  // FIPS 180-2, "abc"
  ShaStream sha256(ShaStream::Kind::kSha256);
  CHECK(sha256.digest_len() == 32);
  // Split updates give the same digest as one.
  sha256.Update("a", 1);
  sha256.Update("bc", 2);
  REQUIRE(sha256.Final(d) == 32);
  CHECK(ToHex(d, 32) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha256.Reset();
  sha256.Final(d);
  CHECK(ToHex(d, 32) == Sha256Hex("", 0));
  CHECK(Sha256Hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2.
  const std::string key = "Jefe", data = "what do ya want for nothing?";
  HmacSha256(key.data(), key.size(), data.data(), data.size(), d);
  CHECK(ToHex(d, 32) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  uint8_t e[32];
  std::memcpy(e, d, 32);
  CHECK(ConstantTimeEqual(d, e, 32));
  e[31] ^= 1;
  CHECK_FALSE(ConstantTimeEqual(d, e, 32));
}

TEST_CASE("HMAC-SHA1 matches RFC 2202", "[hash]") {
  const std::string key = "Jefe", data = "what do ya want for nothing?";
  uint8_t d[20];
  HmacSha1(key.data(), key.size(), data.data(), data.size(), d);
  CHECK(ToHex(d, 20) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  // Interleaved with SHA-256 on the same thread: each keeps its own context.
  uint8_t e[32];
  HmacSha256(key.data(), key.size(), data.data(), data.size(), e);
  HmacSha1(key.data(), key.size(), data.data(), data.size(), d);
  CHECK(ToHex(d, 20) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}
