// cairn serve's users: the users file's grammar and errors (file and line), the order of flags,
// environment and file, and the generated pair.
#include "libstore/server/credentials.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/plain_test_util.h"

using namespace cairn;
using namespace cairn::server;

namespace {

Status Parse(std::string_view text, s3::CredentialTable* t = nullptr) {
  s3::CredentialTable local;
  return ParseUsers(text, "users.txt", t ? t : &local);
}

}  // namespace

TEST_CASE("credentials: users file", "[credentials]") {
  s3::CredentialTable t;
  REQUIRE(Parse("# comment\n\n  alice  alice-secret\t\r\nbob bob-secret-1 read-only\n"
                "   # indented comment\ncarol carol-secret",
                &t)
              .ok());
  CHECK(t.size() == 3);
  REQUIRE(t.Find("alice") != nullptr);
  CHECK(t.Find("alice")->secret_key == "alice-secret");
  CHECK_FALSE(t.Find("alice")->read_only);
  CHECK(t.Find("bob")->read_only);
  CHECK(t.Find("carol")->secret_key == "carol-secret");

  auto err = [](std::string_view text) { return Parse(text).message(); };
  CHECK(err("alice alice-secret\nbob\n") ==
        "users.txt:2: expected 'ACCESS SECRET [read-only]', got 1 field");
  CHECK(err("a b c d") == "users.txt:1: expected 'ACCESS SECRET [read-only]', got 4 fields");
  CHECK(err("\nalice alice-secret rw") ==
        "users.txt:2: unknown third field 'rw' (only 'read-only' may follow the secret)");
  CHECK(err("alice alice-secret\n#\nalice other-secret") ==
        "users.txt:3: access key 'alice' already given on line 1");
  CHECK(err("al/ce alice-secret").find("users.txt:1: access key 'al/ce' must be") == 0);
  CHECK(err("alice short").find("users.txt:1: the secret of 'alice' must be") == 0);
  CHECK(err("# nobody\n\n") == "users.txt: names no user");
  CHECK(err("") == "users.txt: names no user");
  CHECK(Parse("x").code() == Code::kInvalidArgument);
}

TEST_CASE("credentials: flags, then environment, plus the users file", "[credentials]") {
  CredentialSources src;
  SECTION("nothing: a random pair") {
    auto r = ResolveCredentials(src);
    REQUIRE(r.ok());
    REQUIRE((*r)->generated);
    const auto& g = *(*r)->generated;
    CHECK(g.access_key.size() == 20);
    CHECK(g.secret_key.size() == 40);
    CHECK(g.access_key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
          std::string::npos);
    CHECK((*r)->users.Find(g.access_key) != nullptr);
    auto again = RandomCredential();
    REQUIRE(again.ok());
    CHECK(again->access_key != g.access_key);
    CHECK(again->secret_key != g.secret_key);
  }
  SECTION("flags win over the environment") {
    src.access_key = "flagkey";
    src.secret_key = "flagsecret";
    src.env_access_key = "envkey";
    src.env_secret_key = "envsecret";
    auto r = ResolveCredentials(src);
    REQUIRE(r.ok());
    CHECK_FALSE((*r)->generated);
    CHECK((*r)->users.size() == 1);
    CHECK((*r)->users.Find("flagkey") != nullptr);
    CHECK((*r)->from == "--access-key");
  }
  SECTION("the environment") {
    src.env_access_key = "envkey";
    src.env_secret_key = "envsecret";
    auto r = ResolveCredentials(src);
    REQUIRE(r.ok());
    CHECK((*r)->users.Find("envkey") != nullptr);
    CHECK((*r)->from == "CAIRN_ACCESS_KEY");
  }
  SECTION("half-given pairs") {
    src.access_key = "flagkey";
    CHECK(ResolveCredentials(src).status().message() == "--access-key needs --secret-key");
    src.access_key.clear();
    src.secret_key = "flagsecret";
    CHECK(ResolveCredentials(src).status().message() == "--secret-key needs --access-key");
    src.secret_key.clear();
    src.env_access_key = "envkey";
    src.env_secret_key = "";
    auto r = ResolveCredentials(src);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message() == "CAIRN_ACCESS_KEY is set but CAIRN_SECRET_KEY is not");
    src.env_access_key.reset();
    src.env_secret_key = "envsecret";
    CHECK(ResolveCredentials(src).status().message() ==
          "CAIRN_SECRET_KEY is set but CAIRN_ACCESS_KEY is not");
    src.env_secret_key.reset();
    src.access_key = "a/b";
    src.secret_key = "flagsecret";
    CHECK(ResolveCredentials(src).status().code() == Code::kInvalidArgument);
  }
  SECTION("a users file, alone and beside a flag user") {
    test::PlainTmpDir dir;
    const std::string path = dir.path() + "/users";
    std::ofstream(path) << "reader reader-secret read-only\nwriter writer-secret\n";
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    src.users_file = path;
    auto r = ResolveCredentials(src);
    REQUIRE(r.ok());
    CHECK_FALSE((*r)->generated);
    CHECK((*r)->users.size() == 2);
    CHECK((*r)->warnings.empty());
    src.access_key = "admin";
    src.secret_key = "admin-secret";
    r = ResolveCredentials(src);
    REQUIRE(r.ok());
    CHECK((*r)->users.size() == 3);
    src.access_key = "writer";
    r = ResolveCredentials(src);
    CHECK(r.status().message() == path +
                                      ":2: access key 'writer' is already given by --access-key "
                                      "or CAIRN_ACCESS_KEY");
    src.access_key = "admin";
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    r = ResolveCredentials(src);
    REQUIRE(r.ok());
    REQUIRE((*r)->warnings.size() == 1);
    CHECK((*r)->warnings[0].find("chmod 600") != std::string::npos);
    src.users_file = dir.path() + "/missing";
    CHECK(ResolveCredentials(src).status().code() == Code::kNotFound);
    src.users_file = dir.path();
    CHECK(ResolveCredentials(src).status().code() == Code::kInvalidArgument);
  }
}
