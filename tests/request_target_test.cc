// Request parsing without a network: targets, query decoding, addressing styles, Range, dates.
#include "libstore/server/request_target.h"

#include <catch2/catch.hpp>

using namespace cairn;
using namespace cairn::server;

TEST_CASE("request target: path and query decoding", "[server][request]") {
  auto t = ParseTarget("/b/a%20b+c?list-type=2&prefix=x%2Fy+z&flag&prefix=2&=v&&");
  REQUIRE(t.ok());
  CHECK(t->raw_path == "/b/a%20b+c");
  CHECK(t->path == "/b/a b+c");  // '+' is not a space in S3
  REQUIRE(t->query.size() == 5);
  CHECK(t->query[0] == std::make_pair(std::string("list-type"), std::string("2")));
  CHECK(t->query[1] == std::make_pair(std::string("prefix"), std::string("x/y+z")));
  CHECK(t->query[2] == std::make_pair(std::string("flag"), std::string("")));
  CHECK(t->query[3] == std::make_pair(std::string("prefix"), std::string("2")));  // duplicates kept
  CHECK(t->query[4] == std::make_pair(std::string(""), std::string("v")));
  for (const char* bad :
       {"/a%", "/a%2", "/a%zz", "/a?x=%g1", "/a%00", "a", "", "/a b", "/a#f", "/a\x01", "/?%"}) {
    INFO(bad);
    auto r = ParseTarget(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("request target: path-style and virtual-hosted addressing", "[server][request]") {
  auto a = ResolveAddress("/bkt/dir/k%2Fx", "localhost:9000", "");
  REQUIRE(a.ok());
  CHECK(a->bucket == "bkt");
  CHECK(a->key == "dir/k/x");
  a = ResolveAddress("/", "h", "");
  REQUIRE(a.ok());
  CHECK(a->bucket.empty());
  CHECK(a->key.empty());
  a = ResolveAddress("/bkt/", "h", "");
  REQUIRE(a.ok());
  CHECK(a->bucket == "bkt");
  CHECK(a->key.empty());
  // Virtual-hosted: the bucket from the host, the whole path is the key.
  a = ResolveAddress("/dir/k", "Bkt.Example.COM:9000", "example.com");
  REQUIRE(a.ok());
  CHECK(a->bucket == "bkt");
  CHECK(a->key == "dir/k");
  // The domain itself, or another host: path-style.
  a = ResolveAddress("/bkt/k", "example.com", "example.com");
  REQUIRE(a.ok());
  CHECK(a->bucket == "bkt");
  a = ResolveAddress("/bkt/k", "x.other.com", "example.com");
  REQUIRE(a.ok());
  CHECK(a->bucket == "bkt");
  CHECK(ResolveAddress("//k", "h", "").status().code() == Code::kInvalidBucketName);
  CHECK(ResolveAddress("/a%2Fb/k", "h", "").status().code() == Code::kInvalidBucketName);
  CHECK(ResolveAddress("/b/%zz", "h", "").status().code() == Code::kInvalidArgument);
  CHECK(ResolveAddress("/b/" + std::string(1024, 'k'), "h", "").ok());
  CHECK(ResolveAddress("/b/" + std::string(1025, 'k'), "h", "").status().code() ==
        Code::kKeyTooLong);
  // Encoded bytes count once decoded.
  std::string enc;
  for (int i = 0; i < 1024; ++i) enc += "%41";
  CHECK(ResolveAddress("/b/" + enc, "h", "").ok());
  CHECK(ResolveAddress("/b/" + enc + "%41", "h", "").status().code() == Code::kKeyTooLong);
}

TEST_CASE("Range header: the forms S3 takes, the rest ignored", "[server][request]") {
  uint64_t f = 0, l = 0;
  auto r = ParseRangeHeader("bytes=2-5");
  REQUIRE(r.kind == server::ByteRange::Kind::kFromTo);
  REQUIRE(ResolveRange(r, 10, &f, &l));
  CHECK((f == 2 && l == 5));
  REQUIRE(ResolveRange(ParseRangeHeader("bytes=2-500"), 10, &f, &l));
  CHECK((f == 2 && l == 9));  // clipped
  REQUIRE(ResolveRange(ParseRangeHeader("bytes=7-"), 10, &f, &l));
  CHECK((f == 7 && l == 9));
  REQUIRE(ResolveRange(ParseRangeHeader("bytes=-3"), 10, &f, &l));
  CHECK((f == 7 && l == 9));
  REQUIRE(ResolveRange(ParseRangeHeader("bytes=-30"), 10, &f, &l));
  CHECK((f == 0 && l == 9));  // a suffix longer than the object: all of it
  CHECK(!ResolveRange(ParseRangeHeader("bytes=10-"), 10, &f, &l));
  CHECK(!ResolveRange(ParseRangeHeader("bytes=10-20"), 10, &f, &l));
  CHECK(!ResolveRange(ParseRangeHeader("bytes=-0"), 10, &f, &l));
  CHECK(!ResolveRange(ParseRangeHeader("bytes=0-0"), 0, &f, &l));
  // Ignored (the whole object, 200): several ranges, other units, bad syntax, reversed.
  for (const char* ign :
       {"bytes=0-1,3-4", "items=0-1", "bytes=a-b", "bytes=5-2", "bytes=", "bytes=-", "bytes 0-1",
        "bytes=99999999999999999999-", "bytes=1-2-3", "bytes=+1-2"}) {
    INFO(ign);
    CHECK(ParseRangeHeader(ign).kind == server::ByteRange::Kind::kNone);
  }
  CHECK(ParseRangeHeader(" Bytes = 1 - 2 ").kind == server::ByteRange::Kind::kFromTo);
  REQUIRE(ResolveRange(ParseRangeHeader("bytes=18446744073709551615-"), UINT64_MAX, &f, &l) ==
          false);
}

TEST_CASE("HTTP dates: the three formats of RFC 7231, round trip", "[server][request]") {
  const int64_t t = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == t);
  CHECK(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT") == t);
  CHECK(ParseHttpDate("Sun Nov  6 08:49:37 1994") == t);
  CHECK(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(ParseHttpDate("Tue, 29 Feb 2028 12:00:00 GMT").has_value());
  for (const char* bad : {"", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 1994 08:49:37 GMT",
                          "Sun, 29 Feb 2027 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                          "Sun, 06 Foo 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
                          "Sunday, 06-Nov-94 08:49:37", "Sun Nov 6 08:49:37 1994",
                          "1994-11-06T08:49:37Z", "Sun, 6 Nov 1994 08:49:37 GMT"}) {
    INFO(bad);
    CHECK(!ParseHttpDate(bad).has_value());
  }
  char buf[32];
  CHECK(FormatHttpDate(t, buf) == 29);
  CHECK(std::string(buf) == "Sun, 06 Nov 1994 08:49:37 GMT");
  for (int64_t s : {int64_t(0), int64_t(951782400), int64_t(1700000000), int64_t(4102444799)}) {
    FormatHttpDate(s, buf);
    CHECK(ParseHttpDate(buf) == s);
  }
}
