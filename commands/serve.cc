// cairn serve: a plain directory or a volume set as an S3 endpoint (serve_backend.h says which).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "commands/commands.h"
#include "commands/serve_backend.h"
#include "libstore/server/credentials.h"
#include "libstore/server/http_server.h"
#include "libstore/server/sigv4_auth.h"
#include "libstore/server/store_handler.h"

namespace cairn::cli {

Status ParseAddress(const std::string& s, std::string* host, uint16_t* port) {
  auto bad = [&] { return InvalidArgument("--address expects HOST:PORT, got '" + s + "'"); };
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return bad();
  std::string h = s.substr(0, colon);
  const std::string p = s.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return bad();
  const unsigned long v = std::stoul(p);
  if (v > 65535) return bad();
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) h = "0.0.0.0";
  *host = h;
  *port = uint16_t(v);
  return Status::Ok();
}

// Who may talk to the server (docs/serve.md "Authentication"): the users and the authenticator
// over them, built before the server starts so that bad credentials fail at once (exit 2).
struct ServeAuth {
  std::unique_ptr<server::ResolvedCredentials> creds;  // null with --no-auth
  std::unique_ptr<server::Authenticator> authenticator;
};

Result<ServeAuth> SetUpAuth(const ServeOptions& o, Context& ctx) {
  ServeAuth a;
  if (o.no_auth) {
    if (!o.access_key.empty() || !o.secret_key.empty() || !o.users.empty() || o.anonymous_read) {
      return InvalidArgument(
          "--no-auth takes no --access-key, --secret-key, --users or --anonymous-read");
    }
    ctx.Warn("warning: --no-auth: anyone who can reach the server may read, write and delete");
    a.authenticator = std::make_unique<server::AllowAllAuthenticator>();
    return a;
  }
  if (o.region.empty()) return InvalidArgument("--region must not be empty");
  server::CredentialSources src;
  src.access_key = o.access_key;
  src.secret_key = o.secret_key;
  src.users_file = o.users;
  if (const char* k = std::getenv("CAIRN_ACCESS_KEY")) src.env_access_key = k;
  if (const char* s = std::getenv("CAIRN_SECRET_KEY")) src.env_secret_key = s;
  ASSIGN_OR_RETURN(a.creds, server::ResolveCredentials(src));
  for (const auto& w : a.creds->warnings) ctx.Warn("warning: " + w);
  server::SigV4AuthOptions so;
  so.region = o.region;
  so.credentials = &a.creds->users;
  so.anonymous_read = o.anonymous_read;
  a.authenticator = std::make_unique<server::SigV4Authenticator>(so);
  return a;
}

// Says how clients authenticate; a generated pair is printed with a line to paste.
void PrintAuth(const ServeAuth& a, const ServeOptions& o, const std::string& host, uint16_t port,
               bool tls) {
  if (a.creds == nullptr) return;
  std::fprintf(stderr, "cairn: serve: SigV4 (region %s), %zu user%s from %s%s\n", o.region.c_str(),
               a.creds->users.size(), a.creds->users.size() == 1 ? "" : "s", a.creds->from.c_str(),
               o.anonymous_read ? ", anonymous reads allowed" : "");
  if (!a.creds->generated) return;
  std::string h = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  std::fprintf(stderr,
               "cairn: serve: no credentials given: generated a pair for this run (choose your "
               "own with --access-key/--secret-key, CAIRN_ACCESS_KEY/CAIRN_SECRET_KEY or "
               "--users)\n  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s%s aws --endpoint-url "
               "%s://%s:%u s3 ls\n",
               a.creds->generated->access_key.c_str(), a.creds->generated->secret_key.c_str(),
               o.region == "us-east-1" ? "" : (" AWS_DEFAULT_REGION=" + o.region).c_str(),
               tls ? "https" : "http", h.c_str(), unsigned(port));
}

Status RunServe(const ServeOptions& o, Context& ctx) {
  server::ServerOptions so;
  RETURN_IF_ERROR(ParseAddress(o.address, &so.host, &so.port));
  if (o.threads < 1 || o.threads > 256) return InvalidArgument("--threads must be 1..256");
  if (o.max_connections < 1) return InvalidArgument("--max-connections must be at least 1");
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return InvalidArgument("--tls-cert and --tls-key go together");
  }
  if (!o.hash_rate.empty()) RETURN_IF_ERROR(ParseSize(o.hash_rate).status());
  if (!o.heal_rate.empty()) RETURN_IF_ERROR(ParseSize(o.heal_rate).status());
  if (auto e = ParseDuration(o.upload_expiry); !e.ok()) {
    return e.status().WithContext("--upload-expiry");
  }
  ASSIGN_OR_RETURN(ServeAuth auth, SetUpAuth(o, ctx));
  so.threads = o.threads;
  so.max_connections = o.max_connections;
  so.domain = o.domain;
  so.tls_cert = o.tls_cert;
  so.tls_key = o.tls_key;
  so.handle_signals = true;
  ASSIGN_OR_RETURN(auto backend, OpenServeBackend(o, ctx));
  so.health_body = [b = backend.get()] { return b->HealthJson(); };
  std::unique_ptr<server::AccessLog> log;
  if (!o.access_log.empty()) {
    ASSIGN_OR_RETURN(log, server::AccessLog::Open(o.access_log));
    so.access_log = log.get();
  }
  server::StoreHandler handler(backend->store(), o.read_only, !o.no_fsync);
  handler.set_region(o.region);
  ASSIGN_OR_RETURN(auto srv, server::HttpServer::Start(so, auth.authenticator.get(), &handler));
  backend->StartBackground();
  std::fprintf(stderr, "cairn: serve: %s on %s://%s:%u\n", backend->Describe().c_str(),
               srv->tls() ? "https" : "http", so.host.c_str(), unsigned(srv->port()));
  PrintAuth(auth, o, so.host, srv->port(), srv->tls());
  if (!o.port_file.empty()) {
    FILE* f = std::fopen(o.port_file.c_str(), "w");
    if (f == nullptr) return PosixError("--port-file " + o.port_file, errno);
    std::fprintf(f, "%u\n", unsigned(srv->port()));
    std::fclose(f);
  }
  srv->Wait();
  std::fprintf(stderr, "cairn: serve: stopped\n");
  srv.reset();
  return Status::Ok();
}

void RegisterServe(CLI::App& app, Context& ctx, Status* result) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* sub =
      app.add_subcommand("serve", "Serve a directory or a volume set as an S3 endpoint");
  sub->add_option("--address", o->address, "Where to listen (default 127.0.0.1:9000; port 0: any)")
      ->type_name("HOST:PORT");
  sub->add_option("--threads", o->threads, "Network threads")->type_name("N");
  sub->add_option("--max-connections", o->max_connections,
                  "Connections served at once (more get 503 SlowDown)")
      ->type_name("N");
  sub->add_option("--access-log", o->access_log, "One line per request to FILE, or - for stdout")
      ->type_name("FILE|-");
  sub->add_option("--tls-cert", o->tls_cert, "Serve HTTPS with this certificate chain (PEM)")
      ->type_name("FILE");
  sub->add_option("--tls-key", o->tls_key, "The certificate's private key (PEM)")
      ->type_name("FILE");
  sub->add_option("--domain", o->domain, "Virtual-hosted-style addressing: BUCKET.HOST")
      ->type_name("HOST");
  sub->add_option("--access-key", o->access_key, "Access key of the one user")->type_name("KEY");
  sub->add_option("--secret-key", o->secret_key, "Secret key of the one user")->type_name("SECRET");
  sub->add_option("--users", o->users, "Users, one 'ACCESS SECRET [read-only]' a line")
      ->type_name("FILE");
  sub->add_flag("--read-only", o->read_only, "Refuse every write");
  sub->add_flag("--anonymous-read", o->anonymous_read,
                "Allow GET and HEAD without credentials (objects and listings)");
  sub->add_option("--region", o->region, "The region clients sign for (default us-east-1)")
      ->type_name("REGION");
  sub->add_flag("--no-fsync", o->no_fsync,
                "Do not wait for uploads to reach the disk (scratch use)");
  sub->add_option("--state-dir", o->state_dir, "Where a read-only directory's state lives")
      ->type_name("DIR");
  sub->add_option("--hash-rate", o->hash_rate,
                  "Background MD5 hashing rate of a plain directory (default 64MiB; 0: off)")
      ->type_name("SIZE");
  sub->add_option("--heal-rate", o->heal_rate,
                  "Background healing rate of a volume set (default 64MiB; 0: off)")
      ->type_name("SIZE");
  sub->add_option("--upload-expiry", o->upload_expiry,
                  "Abort multipart uploads not completed within this time (default 7d; 0: never)")
      ->type_name("DURATION");
  sub->add_flag("--no-auth", o->no_auth,
                "Serve without any authentication: anyone may read, write and delete");
  sub->add_option("--port-file", o->port_file, "Write the port listened on to FILE")
      ->type_name("FILE");
  sub->add_option("dirs", o->dirs, "A directory to serve as-is, or volume set members (or --set)")
      ->type_name("DIR...");
  sub->callback([o, &ctx, result] { *result = RunServe(*o, ctx); });
}

}  // namespace cairn::cli
