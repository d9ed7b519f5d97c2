#include "libstore/common/base64.h"

#include <catch2/catch.hpp>
#include <random>

using namespace cairn;

TEST_CASE("base64 encodes and decodes the RFC 4648 test vectors", "[base64]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, enc] : vectors) {
    CHECK(Base64Encode(plain) == enc);
    auto d = Base64Decode(enc);
    REQUIRE(d.ok());
    CHECK(*d == plain);
  }
}

TEST_CASE("base64 round-trips every byte value and length", "[base64]") {
  std::mt19937 rng(1);
  for (size_t n = 0; n < 300; ++n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    const std::string e = Base64Encode(s);
    CHECK(e.size() == Base64EncodedLen(n));
    auto d = Base64Decode(e);
    REQUIRE(d.ok());
    CHECK(*d == s);
  }
}

TEST_CASE("base64 decoding is strict", "[base64]") {
  for (const char* bad : {"Z", "Zg", "Zg=", "Zm9vY", "Zg=a", "Z===", "====", "=Zm9", "Zg==Zg==",
                          "Zh==", "Zm9=", "Zm9v\n", " Zm9v", "Zm-v", "Zm_v", "Zm9v====", "Zm=v"}) {
    INFO(bad);
    CHECK(Base64Decode(bad).status().code() == Code::kInvalidArgument);
  }
  // A NUL inside is a junk character, not an end.
  CHECK(!Base64Decode(std::string("Zm9v\0\0\0\0", 8)).ok());
  CHECK(!Base64Decode(std::string("Zm\0v", 4)).ok());
  // The destination bound is honoured.
  uint8_t out[3];
  auto n = Base64DecodeTo("Zm9vYmFy", out, 3);
  CHECK(n.status().code() == Code::kInvalidArgument);
  n = Base64DecodeTo("Zm9v", out, 3);
  REQUIRE(n.ok());
  CHECK(*n == 3);
}
