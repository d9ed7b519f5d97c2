// The serve stack in process for tests of the S3 client side: a 2+1 volume set in memory behind
// StoreHandler and HttpServer on a free loopback port, no authentication, and an S3Client
// addressing it path-style (retries without waiting).
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "libstore/client/s3_client.h"
#include "libstore/server/http.h"
#include "libstore/server/http_server.h"
#include "libstore/server/store_handler.h"
#include "test_util.h"

namespace cairn::test {

struct ServeFixture {
  SetFixture f{2, 1};
  server::AllowAllAuthenticator auth;
  server::StoreHandler handler{*f.set, false, false};
  std::unique_ptr<server::HttpServer> srv;
  std::unique_ptr<s3::S3Client> client;

  explicit ServeFixture(int max_attempts = 5) {
    server::ServerOptions o;
    o.port = 0;
    auto r = server::HttpServer::Start(o, &auth, &handler);
    REQUIRE(r.ok());
    srv = std::move(r).value();
    s3::S3ClientOptions co;
    co.config.endpoint.https = false;
    co.config.endpoint.host = "127.0.0.1:" + std::to_string(srv->port());
    co.config.endpoint.path_style = true;
    co.config.region = "us-east-1";
    co.max_attempts = max_attempts;
    co.sleep = [](std::chrono::milliseconds) {};
    auto c = s3::S3Client::Create(std::move(co));
    REQUIRE(c.ok());
    client = std::move(c).value();
  }
};

}  // namespace cairn::test
