// An S3 client over HttpClient: the operations `cairn ls/cat/rm/presign/cp s3://...` need, against
// any S3 endpoint (AWS, MinIO, Ceph, `cairn serve`).
//
// Requests: path-style or virtual-hosted as S3Config says; signed with the SigV4 Signer shared
// with `cairn serve` (signing keys cached). Payload: UNSIGNED-PAYLOAD over HTTPS (TLS protects the
// body; Content-MD5 still checks it end to end), the body's SHA-256 over plain HTTP (bodies are
// either in memory or re-readable ranges of a file, hashed before they are sent).
//
// Retries: a failure whose Status is retryable() (5xx, 429/503 SlowDown, 408, timeouts, reset or
// refused connections; http_client.h and ErrorFromResponse decide, nobody else) is repeated up to
// `max_attempts` in all, with exponential backoff and full jitter (base 100 ms, cap 10 s), but only
// for requests that are safe to repeat: GET, HEAD, PUT (object, part, copy), DELETE, ListObjects,
// and DeleteObjects (deleting a key twice leaves the same state), and the multipart POSTs as the
// AWS SDKs repeat them: a repeated CreateMultipartUpload at worst leaves an empty upload for the
// server's expiry; a repeated Complete is answered as the first by S3, and when a server answers
// NoSuchUpload after an earlier attempt, the object counts as completed if its ETag is the one
// the parts make. A GET whose body was cut short resumes with a
// Range from the byte it reached, pinned to the same object with If-Match on its ETag.
//
// Errors: every failure names the operation, bucket and key ("GET bkt/key: NoSuchKey: The
// specified key does not exist.") and carries the cairn Code of the S3 error code (NoSuchBucket ->
// kBucketNotFound, NoSuchKey -> kNotFound, SignatureDoesNotMatch -> kSignatureMismatch, ...).
//
// Integrity: PutObject and UploadPart send Content-MD5; GetObject checks the body against the
// ETag when the ETag is an MD5 (not a multipart "-N" ETag, and not for a range) and fails with
// kCorruption on a mismatch (the sink then holds bad bytes: callers write to a temp file). A
// whole-object GET also asks for the stored checksum (x-amz-checksum-mode: ENABLED) and checks
// the body against the x-amz-checksum-crc32/crc32c/crc64nvme/sha1/sha256 the server returns, in
// the same pass (kCorruption on a mismatch); a COMPOSITE value ("...-N", a checksum of the parts'
// checksums) cannot be checked from the bytes alone and is skipped. A multipart ETag ("MD5-N")
// is not checked by GetObject: it needs the parts' sizes (a HEAD ?partNumber per part) and the
// bytes again, which a sink such as stdout cannot give back; DownloadRanges, which writes to a
// file, checks it.
//
// Thread safety: an S3Client may be used from any number of threads; each call takes a pooled
// connection for its duration, so N threads get N connections kept alive.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/client/http_client.h"
#include "libstore/client/s3_config.h"
#include "libstore/common/io.h"
#include "libstore/common/status.h"
#include "libstore/s3/sigv4.h"

namespace cairn::s3 {

struct S3ClientOptions {
  S3Config config;
  int max_attempts = 5;  // attempts in all, at least 1 (--retries N gives N + 1)
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{10000};
  // How the client waits between attempts; tests replace it to record the delays.
  std::function<void(std::chrono::milliseconds)> sleep;
  uint64_t jitter_seed = 0;  // 0: random
  Clock* clock = Clock::Real();
};

struct BucketEntry {
  std::string name;
  std::string created;  // ISO 8601 as the server sent it
};

struct ObjectEntry {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes
  std::string last_modified;
  std::string storage_class;
};

struct ListParams {
  std::string prefix;
  std::string delimiter;
  std::string start_after;
  int max_keys = 1000;
  std::string continuation_token;  // ListObjectsPage only: the previous page's next_token
};

// One page of ListObjectsV2; views are valid during the callback only.
struct ListPage {
  std::vector<ObjectEntry> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;  // ListObjectsPage: more pages follow (next_token)
  std::string next_token;
};

struct ObjectHead {
  uint64_t size = 0;  // Content-Length of the object (of the range for a ranged GET)
  // GetObject: the whole object's size (a 206's Content-Range total; else as size).
  uint64_t total_size = 0;
  std::string etag;   // without quotes
  std::string last_modified;
  std::string content_type;
  // The x-amz-checksum-<algorithm> header and its value the server sent ("" when none), and
  // whether GetObject checked the body against it.
  std::string checksum_header, checksum_value;
  bool checksum_verified = false;
};

struct GetOptions {
  // Bytes [first, last] (last inclusive); none: the whole object.
  std::optional<std::pair<uint64_t, uint64_t>> range;
  bool verify_md5 = true;  // check the body against an MD5 ETag (whole objects only)
  // Sent as If-Match (a quoted ETag): the ranges of one download all come from one version.
  std::string if_match;
  // Check a whole object's body against the x-amz-checksum-* the server returns (asked for with
  // x-amz-checksum-mode: ENABLED).
  bool verify_checksum = true;
};

// A request body: memory, or a range of an open file read with pread (re-readable for retries).
struct Payload {
  const void* data = nullptr;
  int fd = -1;
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string content_type;
};

// A request the typed calls do not cover (S3ObjectStore's conditions, metadata, checksums and
// multipart listings), sent with the same signing, retries and error mapping.
struct RawRequest {
  std::string_view method = "GET";
  std::string op;  // for messages
  std::string bucket, key;
  std::string query;  // encoded, without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  // The body: sent with its SHA-256 signed (plain HTTP) and a Content-MD5 computed from it unless
  // headers carry one already.
  const Payload* body = nullptr;
  Sink* sink = nullptr;     // where a 2xx answer's body goes (else Response::body)
  bool idempotent = true;   // false: never repeated
  // The server's error codes as they map to cairn Codes, kInvalidArgument and kInvalidRange
  // included (the typed calls report those as kIOError: for a command line user the server
  // refused, not a usage error; an ObjectStore caller wants the code).
  bool exact_codes = false;
};

// The cairn Code of an S3 error code (NoSuchKey -> kNotFound; the shared table, errors.h).
Code CodeOfS3Error(std::string_view s3code);

// Per-key result of DeleteObjects: OK or the server's error for that key.
struct DeleteResult {
  std::string key;
  Status status;
};

struct CompletedUploadPart {
  uint32_t number = 0;
  std::string etag;  // as the server returned it (quotes kept)
};

// True when an ETag (quotes removed) is the hex MD5 of the whole body: 32 hex digits.
bool IsMd5Etag(std::string_view etag);
// The x-amz-copy-source header's value: "/bucket/key", URI-encoded.
std::string CopySource(const std::string& bucket, const std::string& key);
// The Status for an S3 error answer: the <Error> document's code mapped to a cairn Code (via the
// shared error table, errors.h), retryable as StatusForHttp says, the message "context: Code:
// Message". Without a document (HEAD) it falls back on the HTTP status.
Status ErrorFromResponse(int http_status, std::string_view body, std::string_view context);

class S3Client {
 public:
  // kInternal when curl cannot start; kInvalidArgument for max_attempts < 1.
  static Result<std::unique_ptr<S3Client>> Create(S3ClientOptions opts);
  ~S3Client();

  Result<std::vector<BucketEntry>> ListBuckets();
  // Calls on_page for every page, in key order, until the listing ends or on_page fails (its
  // status is returned). Memory: one page at a time.
  Status ListObjects(const std::string& bucket, const ListParams& p,
                     const std::function<Status(const ListPage&)>& on_page);
  // One page of ListObjectsV2 (from p.continuation_token when set) into *page.
  Status ListObjectsPage(const std::string& bucket, const ListParams& p, ListPage* page);
  // Sends r (see RawRequest); OK only for a 2xx answer, which is in *resp. A 304 is OK too
  // (resp->status says so): the caller decides what a condition's answer means.
  Status Send(const RawRequest& r, http::Response* resp);
  Result<ObjectHead> HeadObject(const std::string& bucket, const std::string& key);
  // Streams the object into sink; see the file comment for retries and verification.
  Result<ObjectHead> GetObject(const std::string& bucket, const std::string& key, Sink& sink,
                               const GetOptions& o = {});
  // Downloads the object `head` describes (HeadObject's answer) into fd at its offsets: ranged
  // GETs of part_size, `jobs` at a time, each pinned to head.etag with If-Match; then reads fd
  // back and fails with kCorruption when it does not match the ETag: an MD5, or a multipart
  // ETag (the MD5 of the parts' MD5s, "-N"; the parts' sizes come from HEADs with partNumber, and
  // a server that does not answer those leaves such an object unchecked). fd must be open for
  // reading and writing. on_bytes (may be empty) is told of every write, one call at a time.
  // On failure fd holds a partial object: the caller removes it.
  Status DownloadRanges(const std::string& bucket, const std::string& key, const ObjectHead& head,
                        int fd, uint64_t part_size, int jobs,
                        const std::function<void(uint64_t)>& on_bytes);
  // The check DownloadRanges ends with: fd's first head.size bytes against head.etag (an MD5, or
  // a multipart ETag as above); kCorruption on a mismatch. For writers that fill fd themselves.
  Status VerifyDownload(const std::string& bucket, const std::string& key, const ObjectHead& head,
                        int fd);
  // Uploads body with Content-MD5; returns the ETag (quotes removed). A returned MD5 ETag that
  // differs from the body's MD5 is kCorruption.
  Result<std::string> PutObject(const std::string& bucket, const std::string& key,
                                const Payload& body);
  Status DeleteObject(const std::string& bucket, const std::string& key);
  // Deletes keys in requests of at most 1,000; one result per key, in order. The Status is for
  // failures of whole requests (then results may be partial); per-key failures are in results.
  Status DeleteObjects(const std::string& bucket, const std::vector<std::string>& keys,
                       std::vector<DeleteResult>* results);
  // Server-side copy; returns the new ETag.
  Result<std::string> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                 const std::string& dst_bucket, const std::string& dst_key);
  Result<std::string> CreateMultipartUpload(const std::string& bucket, const std::string& key,
                                            const std::string& content_type = {});
  // Returns the part's ETag (quotes kept, as Complete wants it).
  Result<std::string> UploadPart(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id, uint32_t part_number,
                                 const Payload& body);
  // Copies bytes [first, last] of src as part part_number of a multipart upload to dst
  // (server-side); returns the part's ETag (quotes kept). src_etag (quotes removed; empty: any
  // version) pins the source with x-amz-copy-source-if-match, so that the parts of one copy all
  // come from one version (another one: kPreconditionFailed).
  Result<std::string> UploadPartCopy(const std::string& src_bucket, const std::string& src_key,
                                     const std::string& dst_bucket, const std::string& dst_key,
                                     const std::string& upload_id, uint32_t part_number,
                                     uint64_t first, uint64_t last,
                                     const std::string& src_etag = "");
  Result<std::string> CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                              const std::string& upload_id,
                                              const std::vector<CompletedUploadPart>& parts);
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id);
  // A presigned URL for GET or PUT of bucket/key, valid for expires_sec (1..604800).
  Result<std::string> Presign(std::string_view method, const std::string& bucket,
                              const std::string& key, int64_t expires_sec);

  const S3Config& config() const { return opts_.config; }
  // Attempts beyond the first, over the client's life (tests and summaries).
  uint64_t retries() const;

 private:
  struct Call;
  explicit S3Client(S3ClientOptions opts);
  Result<std::unique_ptr<http::HttpConnection>> Lease();
  void Return(std::unique_ptr<http::HttpConnection> c);
  // Sends one S3 request with retries; fills *resp; OK only for a 2xx answer.
  Status Execute(Call& call, http::Response* resp);
  Status Attempt(Call& call, http::HttpConnection& conn, http::Response* resp);
  std::chrono::milliseconds Backoff(int attempt);
  // Sends body with c: its MD5 into md5 and Content-MD5; its SHA-256 signed over HTTP,
  // UNSIGNED-PAYLOAD over HTTPS.
  Status AttachBody(Call& c, const Payload& body, uint8_t md5[16]);
  // After DownloadRanges of an object with a multipart ETag: checks fd's bytes against it.
  Status VerifyMultipartEtag(const std::string& bucket, const std::string& key,
                             const ObjectHead& head, int fd, const std::string& what);

  S3ClientOptions opts_;
  std::unique_ptr<http::HttpClient> http_;
  std::unique_ptr<Signer> signer_;
  SigningKeyCache key_cache_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<http::HttpConnection>> idle_;
  std::mt19937_64 rng_;
  uint64_t retries_ = 0;
};

}  // namespace cairn::s3
