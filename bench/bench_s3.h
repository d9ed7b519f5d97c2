// `cairn bench s3`: an S3 load generator on the pooled HTTP client (libstore/client/http_client.h)
// and the SigV4 Signer. N threads, each with one kept-alive connection, run PUTs, GETs or both
// for a fixed duration or a fixed count of operations, and report ops/s, MB/s, latency
// percentiles and errors. Against --endpoint it measures any S3 server (or, with plain_http, any
// HTTP server taking unsigned GET/PUT: nginx WebDAV, a discard sink); without one it starts the
// cairn S3 server in process, on a plain directory and on a 4+2 volume set in a scratch directory,
// and measures both.
//
// The hot path: the body is one pre-touched buffer (its SHA-256 computed once); URLs, header
// arrays, response buffers and latency arrays are per-thread and reused. What still allocates per
// request is the Signer (its SignedHeaders strings) and libcurl's own bookkeeping.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libstore/common/status.h"

namespace cairn::bench {

struct S3Options {
  std::string endpoint;      // http(s)://host[:port]; empty: in-process servers (plain and 4+2)
  int concurrency = 16;      // threads, each with one connection
  uint64_t size = 4096;      // object size in bytes (> 0)
  double duration_sec = 5;   // how long each op runs, when count is 0
  uint64_t count = 0;        // operations in all per op (across threads); 0: run for duration
  std::string op = "mixed";  // put, get or mixed (a PUT phase, then a GET phase)
  std::string access_key, secret_key, region = "us-east-1";
  bool plain_http = false;  // unsigned GET/PUT of <endpoint>/<key>, no bucket (nginx, sinks)
  bool verify_tls = true;
  bool fsync = true;   // in-process servers only
  std::string dir;     // scratch base for in-process servers
  std::string bucket;  // empty: cairn-bench-<random>, created and removed
  bool keep = false;   // no cleanup: what the phases wrote (and a bucket made) stays
  bool warm = false;   // get: each object read once, untimed, before the timed GETs
};

struct S3Figure {
  std::string target;  // "endpoint", "plain", "4+2"
  std::string op;      // "put" or "get"
  uint64_t size = 0;
  int concurrency = 0;
  uint64_t ops = 0, errors = 0;
  double seconds = 0, ops_per_sec = 0, mb_per_sec = 0;  // MB = 1e6 bytes
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  std::string first_error;  // empty when errors == 0
};

// Runs the benchmark. Fails (the first failure) when the bucket cannot be created, the objects a
// GET phase reads cannot be written, or an in-process server cannot start; failures of timed
// operations are counted in `errors` instead. Removes what it wrote (and the bucket it made).
Result<std::vector<S3Figure>> RunS3(const S3Options& o);

// kInvalidArgument for options RunS3 would refuse (unknown op, concurrency outside 1..1024, size
// 0, duration <= 0 with count 0, an endpoint that is not http:// or https://).
Status CheckS3Options(const S3Options& o);

nlohmann::json S3ToJson(const std::vector<S3Figure>& figures);
std::string S3ToTable(const std::vector<S3Figure>& figures);

// The p-th percentile (0..100, nearest rank) of `sorted` (ascending); 0 when it is empty.
uint32_t Percentile(const std::vector<uint32_t>& sorted, double p);

}  // namespace cairn::bench
