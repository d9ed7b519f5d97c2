// The command line's parsers (sizes, durations, put's --meta and --content-type): every accepted
// spelling, and every bad one turned away with kInvalidArgument (never a crash or a wrapped-around
// number, never something S3 would refuse or change).
#include <catch2/catch.hpp>

#include "cli/parse.h"

namespace cairn::cli {
namespace {

TEST_CASE("ParseSize: units, fractions and bad input", "[parse]") {
  CHECK(*ParseSize("0") == 0);
  CHECK(*ParseSize("4096") == 4096);
  CHECK(*ParseSize("64K") == 64 * 1024);
  CHECK(*ParseSize("1MiB") == 1024 * 1024);
  CHECK(*ParseSize("1.5g") == uint64_t(1.5 * 1024 * 1024 * 1024));
  CHECK(*ParseSize("2T") == (uint64_t(2) << 40));
  for (const char* bad : {"", "fast", "-1", "1X", "nan", "inf", "1e30", "NaNK", "1e400"}) {
    INFO(bad);
    CHECK(ParseSize(bad).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("ParseDuration: units and bad input", "[parse]") {
  CHECK(*ParseDuration("0") == 0);
  CHECK(*ParseDuration("90s") == 90LL * 1000000000);
  CHECK(*ParseDuration("30m") == 1800LL * 1000000000);
  CHECK(*ParseDuration("30min") == 1800LL * 1000000000);
  CHECK(*ParseDuration("24h") == 86400LL * 1000000000);
  CHECK(*ParseDuration("1.5d") == 129600LL * 1000000000);
  for (const char* bad : {"", "5", "3x", "-1h", "+1h", "nan", "nans", "inf", "infh", "1e300d"}) {
    INFO(bad);
    CHECK(ParseDuration(bad).status().code() == Code::kInvalidArgument);
  }
}

using Meta = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("ParseMeta: HTTP header names, lower-cased, each once", "[parse]") {
  Meta m;
  REQUIRE(ParseMeta({"Owner=me", "x-amz-Thing=a=b", "empty=", "t=tab\tin", "u=caf\xC3\xA9",
                     "odd!#$%&'*+-.^_`|~=1"},
                    &m)
              .ok());
  CHECK(m == Meta{{"owner", "me"},
                  {"x-amz-thing", "a=b"},
                  {"empty", ""},
                  {"t", "tab\tin"},
                  {"u", "caf\xC3\xA9"},
                  {"odd!#$%&'*+-.^_`|~", "1"}});
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{{"novalue"},
                                                                            {"=v"},
                                                                            {"a=1", "A=2"},
                                                                            {"Key=1", "kEY=2"},
                                                                            {"a b=1"},
                                                                            {"a/b=1"},
                                                                            {"a:b=1"},
                                                                            {"caf\xC3\xA9=1"},
                                                                            {"a\nb=1"},
                                                                            {"k=line\nbreak"},
                                                                            {"k=\x1B[2J"},
                                                                            {"k=\xFF"},
                                                                            {"k=csi\xC2\x9B"},
                                                                            {"k= lead"},
                                                                            {"k=trail\t"},
                                                                            {"k=\x7F"},
                                                                            {"~cairn-expires=0"},
                                                                            {"~CAIRN-x=1"}}) {
    INFO(bad.back());
    Meta out;
    CHECK(ParseMeta(bad, &out).code() == Code::kInvalidArgument);
  }
}

TEST_CASE("ValidateFieldValue: what --content-type accepts", "[parse]") {
  CHECK(ValidateFieldValue("--content-type", "").ok());
  CHECK(ValidateFieldValue("--content-type", "text/plain; charset=utf-8").ok());
  for (const char* bad :
       {"text/plain\r\nX-Evil: 1", "a\x1B", " text/plain", "text/plain ", "\xFF"}) {
    INFO(bad);
    CHECK(ValidateFieldValue("--content-type", bad).code() == Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace cairn::cli
