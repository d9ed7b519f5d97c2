// S3 client configuration: endpoint, region and credentials found in the AWS tools' order, from a
// fake environment and config files in a temp HOME.
#include "libstore/client/s3_config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

using namespace cairn;
using namespace cairn::s3;

namespace {

struct Home {
  std::filesystem::path dir;
  std::map<std::string, std::string, std::less<>> env;
  Home() {
    char tmpl[] = "/tmp/cairn-s3conf-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    std::filesystem::create_directories(dir / ".aws");
    env["HOME"] = dir.string();
  }
  ~Home() { std::filesystem::remove_all(dir); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(dir / rel) << text;
  }
  EnvLookup Env() const {
    return [this](std::string_view n) -> std::optional<std::string> {
      auto it = env.find(n);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
  }
  Result<S3Config> Resolve(S3Flags f = {}) const { return ResolveS3Config(f, Env()); }
};

}  // namespace

TEST_CASE("s3 config: nothing configured is AWS us-east-1, virtual-hosted, anonymous",
          "[s3config]") {
  Home h;
  auto c = h.Resolve();
  REQUIRE(c.ok());
  CHECK(c->region == "us-east-1");
  CHECK(c->endpoint.https);
  CHECK(c->endpoint.host == "s3.us-east-1.amazonaws.com");
  CHECK_FALSE(c->endpoint.path_style);
  CHECK_FALSE(c->has_credentials());
  CHECK(c->profile == "default");
}

TEST_CASE("s3 config: environment credentials, region and endpoint", "[s3config]") {
  Home h;
  h.env["AWS_ACCESS_KEY_ID"] = "AKENV";
  h.env["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  h.env["AWS_SESSION_TOKEN"] = "tok";
  h.env["AWS_DEFAULT_REGION"] = "eu-west-1";
  h.env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000/";
  auto c = h.Resolve();
  REQUIRE(c.ok());
  CHECK(c->access_key == "AKENV");
  CHECK(c->secret_key == "envsecret");
  CHECK(c->session_token == "tok");
  CHECK(c->credentials_source == "environment");
  CHECK(c->region == "eu-west-1");
  CHECK_FALSE(c->endpoint.https);
  CHECK(c->endpoint.host == "127.0.0.1:9000");
  CHECK(c->endpoint.path.empty());
  CHECK(c->endpoint.path_style);

  SECTION("AWS_REGION wins over AWS_DEFAULT_REGION, the flag over both") {
    h.env["AWS_REGION"] = "ap-south-1";
    CHECK(h.Resolve()->region == "ap-south-1");
    S3Flags f;
    f.region = "us-west-2";
    CHECK(h.Resolve(f)->region == "us-west-2");
  }
  SECTION("AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL, the flag over both") {
    h.env["AWS_ENDPOINT_URL_S3"] = "https://minio.example:9443/base";
    auto s = h.Resolve();
    REQUIRE(s.ok());
    CHECK(s->endpoint.https);
    CHECK(s->endpoint.host == "minio.example:9443");
    CHECK(s->endpoint.path == "/base");
    S3Flags f;
    f.endpoint_url = "http://flag:1";
    CHECK(h.Resolve(f)->endpoint.host == "flag:1");
  }
  SECTION("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS leaves only the flag") {
    h.env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
    CHECK(h.Resolve()->endpoint.host == "s3.eu-west-1.amazonaws.com");
  }
  SECTION("half a key pair is refused, naming what is missing") {
    h.env.erase("AWS_SECRET_ACCESS_KEY");
    auto bad = h.Resolve();
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidArgument);
    CHECK(bad.status().message().find("AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY") !=
          std::string::npos);
  }
}

TEST_CASE("s3 config: profiles in ~/.aws/credentials and ~/.aws/config", "[s3config]") {
  Home h;
  h.Write(".aws/credentials",
          "# comment\n[default]\naws_access_key_id = AKDEF\naws_secret_access_key = defsecret\n\n"
          "[work]\n  aws_access_key_id=AKWORK\naws_secret_access_key=worksecret\n"
          "aws_session_token = worktoken\n");
  h.Write(".aws/config",
          "[default]\nregion = us-west-1\n"
          "[profile work]\nregion = eu-central-1\nendpoint_url = http://work.local:9000\n"
          "s3 =\n  addressing_style = virtual\n"
          "[profile conf-only]\naws_access_key_id = AKCONF\naws_secret_access_key = confsecret\n"
          "endpoint_url = https://s3.eu-north-1.amazonaws.com\n");

  SECTION("default profile") {
    auto c = h.Resolve();
    REQUIRE(c.ok());
    CHECK(c->access_key == "AKDEF");
    CHECK(c->region == "us-west-1");
    CHECK(c->endpoint.host == "s3.us-west-1.amazonaws.com");
    CHECK(c->credentials_source.find("profile default") == 0);
  }
  SECTION("AWS_PROFILE picks the section; [profile NAME] in config") {
    h.env["AWS_PROFILE"] = "work";
    auto c = h.Resolve();
    REQUIRE(c.ok());
    CHECK(c->access_key == "AKWORK");
    CHECK(c->secret_key == "worksecret");
    CHECK(c->session_token == "worktoken");
    CHECK(c->region == "eu-central-1");
    CHECK(c->endpoint.host == "work.local:9000");
    CHECK_FALSE(c->endpoint.https);
    CHECK_FALSE(c->endpoint.path_style);  // the nested s3.addressing_style
  }
  SECTION("environment keys win over AWS_PROFILE, but not over --profile") {
    h.env["AWS_PROFILE"] = "work";
    h.env["AWS_ACCESS_KEY_ID"] = "AKENV";
    h.env["AWS_SECRET_ACCESS_KEY"] = "envsecret";
    CHECK(h.Resolve()->access_key == "AKENV");
    S3Flags f;
    f.profile = "work";
    CHECK(h.Resolve(f)->access_key == "AKWORK");
  }
  SECTION("keys from the config file; region from an AWS endpoint's host") {
    S3Flags f;
    f.profile = "conf-only";
    auto c = h.Resolve(f);
    REQUIRE(c.ok());
    CHECK(c->access_key == "AKCONF");
    CHECK(c->region == "eu-north-1");
    CHECK_FALSE(c->endpoint.path_style);
  }
  SECTION("AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move the files") {
    h.Write("other-creds", "[default]\naws_access_key_id = AKOTHER\naws_secret_access_key = o\n");
    h.Write("other-config", "[default]\nregion = sa-east-1\n");
    h.env["AWS_SHARED_CREDENTIALS_FILE"] = (h.dir / "other-creds").string();
    h.env["AWS_CONFIG_FILE"] = (h.dir / "other-config").string();
    auto c = h.Resolve();
    REQUIRE(c.ok());
    CHECK(c->access_key == "AKOTHER");
    CHECK(c->region == "sa-east-1");
  }
  SECTION("a named profile that does not exist is an error") {
    S3Flags f;
    f.profile = "nope";
    auto c = h.Resolve(f);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == Code::kInvalidArgument);
    CHECK(c.status().message().find("(nope) could not be found") != std::string::npos);
  }
  SECTION("half a key pair in a profile is an error naming the file") {
    h.Write(".aws/credentials", "[default]\naws_access_key_id = AKHALF\n");
    auto c = h.Resolve();
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().find("credentials") != std::string::npos);
    CHECK(c.status().message().find("aws_access_key_id without") != std::string::npos);
  }
  SECTION("a malformed file is an error with its line") {
    h.Write(".aws/config", "[default]\nregion us-west-1\n");
    auto c = h.Resolve();
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().find("config:2: expected 'key = value'") != std::string::npos);
  }
}

TEST_CASE("s3 config: endpoint URLs", "[s3config]") {
  CHECK_FALSE(ParseEndpointUrl("ftp://x").ok());
  CHECK_FALSE(ParseEndpointUrl("http://").ok());
  CHECK_FALSE(ParseEndpointUrl("http://h/?q=1").ok());
  CHECK_FALSE(ParseEndpointUrl("http://user@h").ok());
  auto e = ParseEndpointUrl("https://s3.us-east-2.amazonaws.com");
  REQUIRE(e.ok());
  CHECK_FALSE(e->path_style);
  CHECK(e->base() == "https://s3.us-east-2.amazonaws.com");
  Home h;
  S3Flags f;
  f.endpoint_url = "https://s3.us-east-2.amazonaws.com";
  CHECK(h.Resolve(f)->region == "us-east-2");
  f.endpoint_url = "not a url";
  auto bad = h.Resolve(f);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("--endpoint-url") == 0);
}
