// The command line's size and duration parsers: every accepted spelling, and every bad one turned
// away with kInvalidArgument (never a crash or a wrapped-around number).
#include <catch2/catch.hpp>

#include "commands/commands.h"

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

}  // namespace
}  // namespace cairn::cli
