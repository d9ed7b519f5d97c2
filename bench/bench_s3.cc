// `cairn bench s3`: see bench_s3.h.
#include "bench/bench_s3.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "bench/bench.h"
#include "libstore/client/http_client.h"
#include "libstore/common/hash.h"
#include "libstore/object/set_open.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/s3/sigv4.h"
#include "libstore/server/http_server.h"
#include "libstore/server/sigv4_auth.h"
#include "libstore/server/store_handler.h"
#include "libstore/volume/volume.h"

namespace cairn::bench {

namespace {

using Clock = std::chrono::steady_clock;

// What GET phases read: g-0 .. g-(n-1), at most `concurrency` objects and 256 MiB in all.
uint64_t GetObjects(const S3Options& o) {
  return std::clamp<uint64_t>((uint64_t(256) << 20) / o.size, 1, uint64_t(o.concurrency));
}
// How many keys each PUT thread cycles over (overwrites beyond that): 256 MiB per thread at most.
uint64_t PutRing(const S3Options& o) {
  return std::clamp<uint64_t>((uint64_t(256) << 20) / o.size, 1, 1024);
}

std::string RandomAlnum(size_t n, bool upper) {
  static const char kLower[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  static const char kUpper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::string s(n, '0');
  for (auto& c : s) c = (upper ? kUpper : kLower)[rd() % 36];
  return s;
}

// The endpoint split for signing: scheme and authority (what goes into Host).
struct Endpoint {
  std::string base;  // scheme://authority, no trailing slash
  std::string host;  // authority
  std::string path;  // any path prefix (plain_http), no trailing slash
  bool https = false;
};

Result<Endpoint> ParseEndpoint(const std::string& url) {
  Endpoint e;
  size_t rest;
  if (url.rfind("http://", 0) == 0) {
    rest = 7;
  } else if (url.rfind("https://", 0) == 0) {
    rest = 8;
    e.https = true;
  } else {
    return InvalidArgument("--endpoint must start with http:// or https://, got '" + url + "'");
  }
  const size_t slash = url.find('/', rest);
  e.host = url.substr(rest, slash == std::string::npos ? std::string::npos : slash - rest);
  if (e.host.empty()) return InvalidArgument("--endpoint without a host: '" + url + "'");
  e.base = url.substr(0, rest + e.host.size());
  if (slash != std::string::npos) e.path = url.substr(slash);
  while (!e.path.empty() && e.path.back() == '/') e.path.pop_back();
  return e;
}

// Counts the bytes of a GET body and drops them.
class CountSink : public Sink {
 public:
  Status Write(const void*, size_t n) override {
    bytes += n;
    return Status::Ok();
  }
  uint64_t bytes = 0;
};

// One thread's connection and reused buffers.
struct Worker {
  std::unique_ptr<http::HttpConnection> conn;
  http::Response resp;
  CountSink sink;
  std::string url;
  char target[256];
  std::vector<uint32_t> lat_us;
  uint64_t ops = 0, errors = 0, puts_done = 0;
  std::string first_error;
};

class Generator {
 public:
  Generator(const S3Options& o, Endpoint ep, std::string bucket)
      : o_(o), ep_(std::move(ep)), bucket_(std::move(bucket)), body_(o.size, 7) {
    s3::SignerOptions so;
    so.access_key = o.access_key;
    so.secret_key = o.secret_key;
    so.region = o.region;
    signer_ = std::make_unique<s3::Signer>(so);
    payload_ =
        ep_.https ? std::string(s3::kUnsignedPayload) : Sha256Hex(body_.data(), body_.size());
  }

  Status Init() {
    http::ClientOptions co;
    co.verify_tls = o_.verify_tls;
    ASSIGN_OR_RETURN(client_, http::HttpClient::Create(co));
    workers_.resize(size_t(o_.concurrency));
    for (auto& w : workers_) {
      ASSIGN_OR_RETURN(w.conn, client_->Connect());
      w.url.reserve(ep_.base.size() + sizeof(w.target));
    }
    return Status::Ok();
  }

  // One request on w; the target is in w.target. OK only for a 2xx answer.
  Status Do(Worker& w, std::string_view method, bool body) {
    w.url.assign(ep_.base);
    w.url.append(w.target);
    http::Request q;
    q.method = method;
    q.url = w.url;
    q.sink = &w.sink;
    if (body) {
      q.body_data = body_.data();
      q.body_size = body_.size();
    }
    // No Expect: 100-continue (a sink that never answers it would cost curl's 1 s wait).
    std::array<http::Header, 6> hs;
    size_t n = 0;
    hs[n++] = {"Host", ep_.host};
    hs[n++] = {"Expect", ""};
    std::optional<s3::SignedHeaders> sh;
    if (!o_.plain_http) {
      const s3::HttpHeader to_sign[] = {{"host", ep_.host}};
      auto r = signer_->Sign(method, w.target, to_sign,
                             body ? std::string_view(payload_) : s3::kEmptySha256Hex);
      if (!r.ok()) return r.status();
      sh = std::move(r).value();
      hs[n++] = {"x-amz-date", sh->amz_date};
      hs[n++] = {"x-amz-content-sha256", sh->content_sha256};
      hs[n++] = {"Authorization", sh->authorization};
    }
    q.headers = std::span<const http::Header>(hs.data(), n);
    RETURN_IF_ERROR(w.conn->Do(q, &w.resp));
    if (w.resp.status < 200 || w.resp.status >= 300) {
      return http::StatusForHttp(w.resp.status, std::string(method) + " " + w.target, w.resp.body);
    }
    return Status::Ok();
  }

  void SetTarget(Worker& w, const char* kind, uint64_t a, uint64_t b) {
    if (o_.plain_http) {
      std::snprintf(w.target, sizeof(w.target), "%s/%s-%llu-%llu", ep_.path.c_str(), kind,
                    (unsigned long long)a, (unsigned long long)b);
    } else {
      std::snprintf(w.target, sizeof(w.target), "/%s/%s-%llu-%llu", bucket_.c_str(), kind,
                    (unsigned long long)a, (unsigned long long)b);
    }
  }

  Status Bucket(std::string_view method) {
    if (o_.plain_http) return Status::Ok();
    std::snprintf(workers_[0].target, sizeof(workers_[0].target), "/%s", bucket_.c_str());
    return Do(workers_[0], method, false);
  }

  // Writes the objects GET phases read, in parallel; the first failure.
  Status Prefill() {
    RETURN_IF_ERROR(EachGetObject("PUT"));
    prefilled_ = true;
    return Status::Ok();
  }
  // Reads each of them once (--warm): the timed GETs then find them where a server keeps what
  // was read (a PUT of 1 MiB or more to `cairn serve` does not leave its bytes in the page cache,
  // nginx's WebDAV PUT does).
  Status Warm() { return EachGetObject("GET"); }

  // One request of `method` on each object the GET phases read, in parallel; the first failure.
  Status EachGetObject(std::string_view method) {
    const uint64_t n = GetObjects(o_);
    const bool body = method == "PUT";
    std::vector<Status> st(workers_.size());
    RunThreads([&](size_t t) {
      for (uint64_t i = t; i < n && st[t].ok(); i += workers_.size()) {
        SetTarget(workers_[t], "g", i, 0);
        st[t] = Do(workers_[t], method, body);
      }
    });
    for (auto& s : st) RETURN_IF_ERROR(s);
    return Status::Ok();
  }

  S3Figure Phase(bool put, const std::string& target) {
    std::atomic<uint64_t> next{0};
    const uint64_t nget = GetObjects(o_), ring = PutRing(o_);
    for (auto& w : workers_) {
      w.lat_us.clear();
      w.lat_us.reserve(o_.count ? o_.count / workers_.size() + 1 : 1 << 16);
      w.ops = w.errors = 0;
      w.first_error.clear();
    }
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o_.duration_sec));
    RunThreads([&](size_t t) {
      Worker& w = workers_[t];
      for (uint64_t seq = 0;; ++seq) {
        if (o_.count ? next.fetch_add(1) >= o_.count : Clock::now() >= deadline) break;
        if (put) {
          SetTarget(w, "k", t, seq % ring);
        } else {
          SetTarget(w, "g", (t + seq) % nget, 0);
        }
        const auto t0 = Clock::now();
        Status s = Do(w, put ? "PUT" : "GET", put);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
        w.lat_us.push_back(uint32_t(std::min<int64_t>(us.count(), UINT32_MAX)));
        ++w.ops;
        if (put) w.puts_done = std::max(w.puts_done, seq + 1);
        if (!s.ok()) {
          if (w.errors++ == 0) w.first_error = std::string(CodeName(s.code())) + ": " + s.message();
        }
      }
    });
    const double secs = SecondsSince(start);
    S3Figure f;
    f.target = target;
    f.op = put ? "put" : "get";
    f.size = o_.size;
    f.concurrency = o_.concurrency;
    f.seconds = secs;
    std::vector<uint32_t> all;
    for (auto& w : workers_) {
      f.ops += w.ops;
      f.errors += w.errors;
      if (f.first_error.empty()) f.first_error = w.first_error;
      all.insert(all.end(), w.lat_us.begin(), w.lat_us.end());
    }
    std::sort(all.begin(), all.end());
    const uint64_t good = f.ops - f.errors;
    f.ops_per_sec = secs > 0 ? double(good) / secs : 0;
    f.mb_per_sec = f.ops_per_sec * double(o_.size) / 1e6;
    f.p50_ms = Percentile(all, 50) / 1e3;
    f.p90_ms = Percentile(all, 90) / 1e3;
    f.p99_ms = Percentile(all, 99) / 1e3;
    f.max_ms = all.empty() ? 0 : all.back() / 1e3;
    return f;
  }

  // Deletes what was written (each thread its own keys) and the bucket when we made it; the
  // first failure.
  Status Cleanup(bool remove_bucket) {
    const uint64_t ring = PutRing(o_), nget = prefilled_ ? GetObjects(o_) : 0;
    std::vector<Status> st(workers_.size());
    RunThreads([&](size_t t) {
      Worker& w = workers_[t];
      for (uint64_t j = 0; j < std::min(w.puts_done, ring) && st[t].ok(); ++j) {
        SetTarget(w, "k", t, j);
        st[t] = Do(w, "DELETE", false);
      }
      for (uint64_t i = t; i < nget && st[t].ok(); i += workers_.size()) {
        SetTarget(w, "g", i, 0);
        st[t] = Do(w, "DELETE", false);
      }
    });
    for (auto& s : st) RETURN_IF_ERROR(s.WithContext("cleanup"));
    if (remove_bucket) RETURN_IF_ERROR(Bucket("DELETE").WithContext("cleanup"));
    return Status::Ok();
  }

 private:
  template <typename F>
  void RunThreads(F&& fn) {
    std::vector<std::thread> ts;
    ts.reserve(workers_.size());
    for (size_t t = 0; t < workers_.size(); ++t) ts.emplace_back([&fn, t] { fn(t); });
    for (auto& th : ts) th.join();
  }

  const S3Options& o_;
  const Endpoint ep_;
  const std::string bucket_;
  Buffer body_;
  std::string payload_;
  std::unique_ptr<s3::Signer> signer_;
  std::unique_ptr<http::HttpClient> client_;
  std::vector<Worker> workers_;
  bool prefilled_ = false;
};

// Runs the phases `o.op` asks for against ep; figures are labelled `target`.
Status Measure(const S3Options& o, const Endpoint& ep, const std::string& target,
               std::vector<S3Figure>* out) {
  const std::string bucket = o.bucket.empty() ? "cairn-bench-" + RandomAlnum(8, false) : o.bucket;
  Generator g(o, ep, bucket);
  RETURN_IF_ERROR(g.Init());
  const bool made = !o.plain_http && o.bucket.empty();
  if (made) RETURN_IF_ERROR(g.Bucket("PUT").WithContext("creating bucket " + bucket));
  Status s = Status::Ok();
  if (o.op == "put" || o.op == "mixed") out->push_back(g.Phase(true, target));
  if (o.op == "get" || o.op == "mixed") {
    s = g.Prefill().WithContext("writing the objects to read");
    if (s.ok() && o.warm) s = g.Warm().WithContext("reading the objects once (--warm)");
    if (s.ok()) out->push_back(g.Phase(false, target));
  }
  if (o.keep) return s;
  Status c = g.Cleanup(made);
  return s.ok() ? c : s;
}

// One in-process server over a store, on a free loopback port.
struct LocalServer {
  // The authenticator `cairn serve` runs, so the figures include every check it makes.
  s3::CredentialTable credentials;
  std::unique_ptr<server::SigV4Authenticator> auth;
  std::unique_ptr<server::StoreHandler> handler;
  std::unique_ptr<server::HttpServer> srv;
  Status Start(ObjectStore& store, const S3Options& o) {
    RETURN_IF_ERROR(credentials.Add({o.access_key, o.secret_key, false}));
    server::SigV4AuthOptions ao;
    ao.region = o.region;
    ao.credentials = &credentials;
    auth = std::make_unique<server::SigV4Authenticator>(ao);
    handler = std::make_unique<server::StoreHandler>(store, false, o.fsync);
    server::ServerOptions so;
    so.port = 0;
    so.threads = 2;
    so.storage_threads = std::max(32, o.concurrency * 2);
    ASSIGN_OR_RETURN(srv, server::HttpServer::Start(so, auth.get(), handler.get()));
    return Status::Ok();
  }
  Endpoint endpoint() const {
    Endpoint e;
    e.host = "127.0.0.1:" + std::to_string(srv->port());
    e.base = "http://" + e.host;
    return e;
  }
};

Status MeasureInProcess(S3Options o, std::vector<S3Figure>* out) {
  if (o.access_key.empty()) o.access_key = "BENCH" + RandomAlnum(15, true);
  if (o.secret_key.empty()) o.secret_key = RandomAlnum(40, false);
  Scratch scratch(o.dir);
  if (scratch.root.empty()) return PosixError(o.dir + ": scratch directory", scratch.error);
  {
    const std::string root = scratch.root + "/plain";
    if (::mkdir(root.c_str(), 0755) != 0) return PosixError(root, errno);
    auto vol = NewLocalVolume(root);
    PlainDirOptions po;
    po.no_fsync = !o.fsync;
    po.db_path = root + "/.cairn/meta.db";
    ASSIGN_OR_RETURN(auto store, PlainDir::Open(vol.get(), po));
    LocalServer ls;
    RETURN_IF_ERROR(ls.Start(*store, o));
    RETURN_IF_ERROR(Measure(o, ls.endpoint(), "plain", out).WithContext("plain directory"));
  }
  {
    std::vector<std::string> dirs;
    for (int i = 0; i < 6; ++i) dirs.push_back(scratch.root + "/d" + std::to_string(i + 1));
    SetParams p;
    p.k = 4;
    p.m = 2;
    RETURN_IF_ERROR(InitSet(dirs, p, false));
    ASSIGN_OR_RETURN(OpenedSet opened, OpenSet(dirs));
    LocalServer ls;
    RETURN_IF_ERROR(ls.Start(*opened.set, o));
    RETURN_IF_ERROR(Measure(o, ls.endpoint(), "4+2", out).WithContext("4+2 set"));
  }
  return Status::Ok();
}

}  // namespace

uint32_t Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * double(sorted.size()));
  const size_t i = size_t(std::clamp(rank, 1.0, double(sorted.size()))) - 1;
  return sorted[i];
}

Status CheckS3Options(const S3Options& o) {
  if (o.op != "put" && o.op != "get" && o.op != "mixed")
    return InvalidArgument("--op must be put, get or mixed, got '" + o.op + "'");
  if (o.concurrency < 1 || o.concurrency > 1024)
    return InvalidArgument("--concurrency must be between 1 and 1024");
  if (o.size == 0) return InvalidArgument("--size must be at least 1 byte");
  if (o.count == 0 && !(o.duration_sec > 0))
    return InvalidArgument("--duration must be more than 0 (or give --count)");
  if (!o.endpoint.empty()) RETURN_IF_ERROR(ParseEndpoint(o.endpoint).status());
  if (o.endpoint.empty() && o.plain_http)
    return InvalidArgument("--plain-http needs an --endpoint");
  if (!o.endpoint.empty() && !o.plain_http && (o.access_key.empty() || o.secret_key.empty())) {
    return InvalidArgument(
        "an S3 endpoint needs credentials: --access-key and --secret-key, or AWS_ACCESS_KEY_ID "
        "and AWS_SECRET_ACCESS_KEY");
  }
  return Status::Ok();
}

Result<std::vector<S3Figure>> RunS3(const S3Options& o) {
  RETURN_IF_ERROR(CheckS3Options(o));
  std::vector<S3Figure> out;
  if (o.endpoint.empty()) {
    RETURN_IF_ERROR(MeasureInProcess(o, &out));
  } else {
    ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint(o.endpoint));
    RETURN_IF_ERROR(Measure(o, ep, "endpoint", &out));
  }
  return out;
}

nlohmann::json S3ToJson(const std::vector<S3Figure>& figures) {
  auto a = nlohmann::json::array();
  for (const auto& f : figures) {
    a.push_back({{"target", f.target},
                 {"op", f.op},
                 {"size", f.size},
                 {"concurrency", f.concurrency},
                 {"ops", f.ops},
                 {"errors", f.errors},
                 {"seconds", f.seconds},
                 {"ops_per_sec", f.ops_per_sec},
                 {"mb_per_sec", f.mb_per_sec},
                 {"p50_ms", f.p50_ms},
                 {"p90_ms", f.p90_ms},
                 {"p99_ms", f.p99_ms},
                 {"max_ms", f.max_ms},
                 {"first_error", f.first_error}});
  }
  return a;
}

std::string S3ToTable(const std::vector<S3Figure>& figures) {
  std::string s;
  char line[256];
  std::snprintf(line, sizeof(line), "%-9s %-4s %12s %4s %9s %10s %10s %9s %9s %9s %9s %7s\n",
                "target", "op", "size", "conc", "ops", "ops/s", "MB/s", "p50 ms", "p90 ms",
                "p99 ms", "max ms", "errors");
  s += line;
  for (const auto& f : figures) {
    std::snprintf(line, sizeof(line),
                  "%-9s %-4s %12llu %4d %9llu %10.1f %10.1f %9.2f %9.2f %9.2f %9.2f %7llu\n",
                  f.target.c_str(), f.op.c_str(), (unsigned long long)f.size, f.concurrency,
                  (unsigned long long)f.ops, f.ops_per_sec, f.mb_per_sec, f.p50_ms, f.p90_ms,
                  f.p99_ms, f.max_ms, (unsigned long long)f.errors);
    s += line;
  }
  for (const auto& f : figures) {
    if (!f.first_error.empty())
      s += f.target + " " + f.op + " first error: " + f.first_error + "\n";
  }
  return s;
}

}  // namespace cairn::bench
