#include <catch2/catch.hpp>

#include "libstore/common/status.h"

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
