#include "libstore/common/status.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

using namespace cairn;

namespace {
Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}
Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}
}  // namespace

TEST_CASE("Status and Result carry codes and context", "[status]") {
  CHECK(Status::Ok().ok());
  Status s = PosixError("/x/y", ENOSPC);
  CHECK(s.code() == Code::kNoSpace);
  CHECK(s.message().find("/x/y") == 0);
  CHECK(PosixError("p", ENOENT).code() == Code::kNotFound);
  CHECK(PosixError("p", EEXIST).code() == Code::kAlreadyExists);
  CHECK(PosixError("p", EIO).code() == Code::kIOError);
  CHECK(s.WithContext("put").message().rfind("put: /x/y", 0) == 0);
  CHECK(*Quarter(8) == 2);
  CHECK(Quarter(6).status().code() == Code::kInvalidArgument);
  CHECK(Quarter(6).status().message() == "odd: 3");
}

TEST_CASE("A Result never holds an OK status", "[status]") {
  Result<int> r = Status::Ok();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInternal);
  CHECK(r.status().message().find("OK status") != std::string::npos);
}

TEST_CASE("a missed quorum names its cause, and full volumes say so", "[status]") {
  Status full = QuorumError("write reached 3 of 6 volumes", PosixError("/v/x", ENOSPC));
  CHECK(full.code() == Code::kNoSpace);
  CHECK(full.message() == "write reached 3 of 6 volumes: " + PosixError("/v/x", ENOSPC).message());
  Status other = QuorumError("write reached 3 of 6 volumes", IOError("/v/x: bad"));
  CHECK(other.code() == Code::kQuorum);
  CHECK(other.message() == "write reached 3 of 6 volumes: /v/x: bad");
  Status unknown = QuorumError("write reached 3 of 6 volumes", Status::Ok());
  CHECK(unknown.code() == Code::kQuorum);
  CHECK(unknown.message() == "write reached 3 of 6 volumes");
}

TEST_CASE("Status carries its class and whether a retry may help", "[status]") {
  CHECK(NotFound("x").error_class() == ErrorClass::kAbsent);
  CHECK(Corruption("x").error_class() == ErrorClass::kDamaged);
  CHECK(DataLoss("x").error_class() == ErrorClass::kDamaged);
  CHECK(IOError("x").error_class() == ErrorClass::kUnavailable);
  CHECK(PosixError("x", ENOSPC).error_class() == ErrorClass::kUnavailable);
  CHECK(Internal("x").error_class() == ErrorClass::kBug);
  CHECK(InvalidArgument("x").error_class() == ErrorClass::kRequest);
  CHECK(Status::Ok().error_class() == ErrorClass::kNone);

  CHECK_FALSE(IOError("x").retryable());
  CHECK(IOError("x").WithRetryable().retryable());
  CHECK_FALSE(Status::Ok().WithRetryable().retryable());
  CHECK(PosixError("sock", ECONNRESET).retryable());
  CHECK(PosixError("f", EAGAIN).retryable());
  CHECK_FALSE(PosixError("f", EIO).retryable());
  CHECK_FALSE(PosixError("f", ENOENT).retryable());
  // Context keeps the bit.
  CHECK(PosixError("sock", ETIMEDOUT).WithContext("get").retryable());
}

TEST_CASE("Every code has a distinct name and a class", "[status]") {
  std::set<std::string> names;
  for (int c = 0; c <= static_cast<int>(Code::kLastCode); ++c) {
    const Code code = static_cast<Code>(c);
    const std::string name = CodeName(code);
    CHECK(name != "Unknown");
    CHECK(names.insert(name).second);
    if (code != Code::kInternal) CHECK(ClassOf(code) != ErrorClass::kBug);
  }
  CHECK(ClassOf(Code::kBucketNotFound) == ErrorClass::kAbsent);
  CHECK(ClassOf(Code::kBadDigest) == ErrorClass::kDamaged);
  CHECK(ClassOf(Code::kSignatureMismatch) == ErrorClass::kRequest);
  CHECK(ClassOf(Code::kPreconditionFailed) == ErrorClass::kNone);
}

TEST_CASE("Busy and timed-out answers are retryable however they are made", "[status]") {
  CHECK(Status(Code::kSlowDown, "busy").retryable());
  CHECK(Status(Code::kRequestTimeout, "slow client").retryable());
  CHECK_FALSE(Status(Code::kSlowDown, "busy").WithRetryable(false).retryable());
  CHECK_FALSE(Status(Code::kBadDigest, "md5").retryable());
  CHECK_FALSE(Status(Code::kNotFound, "x").retryable());
}
