// Status and Result<T>: how every fallible libstore call reports failure.
//
// A Status is a code plus a one-line message that carries context (path, volume, offset). Codes are
// coarse on purpose: they map onto process exit codes now and onto S3 error codes later.
// Thread safety: values; copy freely.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cairn {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // the caller asked for something malformed (usage error)
  kNotFound,         // bucket, object, file or volume does not exist
  kAlreadyExists,    // refuse to overwrite / bucket exists
  kNotEmpty,         // directory or bucket not empty
  kIOError,          // the operating system said no
  kNoSpace,          // ENOSPC / EDQUOT
  kCorruption,       // a checksum or format check failed
  kDataLoss,         // more shards lost than parity can rebuild
  kQuorum,           // not enough volumes answered
  kAborted,          // interrupted or cancelled
  kInternal,         // a broken invariant
  kDegraded,         // verify: damage found, but everything can still be rebuilt (exit code 3)

  // Finer codes for what a network client must be told apart (the S3 layer's error table maps
  // each to an HTTP status and an S3 error code; the store never speaks HTTP). Classes in ClassOf.
  kBucketNotFound,      // the bucket does not exist (S3 NoSuchBucket; kNotFound is the object)
  kUploadNotFound,      // no such multipart upload, or it finished (NoSuchUpload)
  kNotModified,         // a conditional read's condition says "you have it" (304)
  kPreconditionFailed,  // a conditional read or write's condition failed (412)
  kInvalidRange,        // a range that starts past the end of the object (416)
  kBadDigest,           // the body does not match the Content-MD5 or x-amz-checksum-* it came with
  kInvalidDigest,       // a Content-MD5 or x-amz-checksum-* value that is not well formed
  kContentSha256Mismatch,  // the body does not match the signed x-amz-content-sha256
  kEntityTooLarge,         // a body above the limit (S3: 5 GiB for one PUT)
  kEntityTooSmall,         // a multipart part below the minimum size
  kInvalidPart,            // Complete names a part that was not uploaded, or with another ETag
  kInvalidPartOrder,       // Complete lists parts out of ascending order
  kKeyTooLong,             // an object key above 1024 bytes
  kInvalidBucketName,      // a bucket name S3 would refuse
  kMalformedXml,           // a request body that is not the XML the operation takes
  kMissingContentLength,   // a PUT without Content-Length (nor a decoded length)
  kIncompleteBody,         // the body ended before the length it announced
  kRequestTimeout,         // the client stopped sending (retryable)
  kSlowDown,               // the server is at a limit; try again later (retryable)
  kNotImplemented,         // an operation or feature cairn does not do
  kAccessDenied,           // authenticated (or anonymous) but not allowed, or an expired presign
  kSignatureMismatch,      // the request's signature is not the one its secret key gives
  kInvalidAccessKeyId,     // no such access key
  kRequestTimeTooSkewed,   // the request's date is more than 15 minutes from the server's clock
  kAuthHeaderMalformed,    // an Authorization header that cannot be parsed
  kAuthQueryMalformed,     // presigned-URL query parameters that cannot be parsed
  kInvalidPartNumber,      // GET/HEAD ?partNumber=N past the object's last part (416)
  kInvalidRequest,         // a request whose parameters do not go together (S3 InvalidRequest)
  kLastCode = kInvalidRequest,  // for tables and tests that walk every code
};

const char* CodeName(Code c);

// What a failure says about the thing it concerned, so every caller classifies errors one way:
//   kAbsent      it is not there (kNotFound)
//   kDamaged     it is there but not what it should be (kCorruption, kDataLoss)
//   kUnavailable the medium, the OS or the peers failed; the thing itself may be fine (kIOError,
//                kNoSpace, kQuorum, kAborted)
//   kRequest     the caller asked for something malformed or in conflict with the state
//                (kInvalidArgument, kAlreadyExists, kNotEmpty)
//   kBug         a broken invariant (kInternal)
// The finer codes: kBucketNotFound, kUploadNotFound -> kAbsent; kBadDigest and
// kContentSha256Mismatch -> kDamaged (what arrived is not what was promised); kRequestTimeout,
// kSlowDown -> kUnavailable; kNotModified and kPreconditionFailed -> kNone (verdicts); the rest
// (limits, malformed input, auth) -> kRequest.
//   kNone        not a failure (kOk), or a verdict rather than an error (kDegraded)
enum class ErrorClass { kNone, kAbsent, kDamaged, kUnavailable, kRequest, kBug };
ErrorClass ClassOf(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  // retryable() starts as RetryableByDefault(code).
  Status(Code code, std::string msg);

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  ErrorClass error_class() const { return ClassOf(code_); }
  // True when the same request may succeed if repeated later (a timeout, a reset connection, a
  // busy resource, a 5xx or SlowDown answer). Set by whoever saw the failure; never guessed by the
  // caller. A retryable status is never OK.
  bool retryable() const { return retryable_; }
  // A copy marked retryable (or not). No effect on an OK status.
  Status WithRetryable(bool r = true) const;
  const std::string& message() const { return msg_; }
  // "message" or "OK".
  std::string ToString() const { return ok() ? "OK" : msg_; }
  // Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const;
  // Explicit, greppable way to drop a status on purpose.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  bool retryable_ = false;
  std::string msg_;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status NotEmpty(std::string m) { return Status(Code::kNotEmpty, std::move(m)); }
inline Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
inline Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
inline Status DataLoss(std::string m) { return Status(Code::kDataLoss, std::move(m)); }
inline Status QuorumError(std::string m) { return Status(Code::kQuorum, std::move(m)); }
// A quorum missed because of `cause` (a volume's error, or OK when none is known): "m: cause".
// Full volumes say so (kNoSpace: the storage is full, not "too few volumes answered").
Status QuorumError(std::string m, const Status& cause);
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status BucketNotFound(std::string m) { return Status(Code::kBucketNotFound, std::move(m)); }
// Codes that say "try again later" are retryable however they were made.
bool RetryableByDefault(Code c);

// Maps an errno to a Status: "context: strerror". ENOENT -> kNotFound, ENOSPC/EDQUOT -> kNoSpace,
// EEXIST -> kAlreadyExists, ENOTEMPTY -> kNotEmpty, anything else -> kIOError. EINTR, EAGAIN,
// EBUSY, ETIMEDOUT, ECONNRESET, ECONNREFUSED, EPIPE, ENOBUFS and ENOMEM are marked retryable.
Status PosixError(std::string_view context, int err);

// The status a Result holds when it was (wrongly) given an OK status: kInternal, so the mistake
// surfaces as an error where it happened instead of a Result that holds neither value nor error.
Status OkStatusInResult();

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  // A failure. An OK status is a bug and becomes kInternal (OkStatusInResult).
  Result(Status status)  // NOLINT: implicit on purpose
      : v_(status.ok() ? OkStatusInResult() : std::move(status)) {}
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

#define CAIRN_CONCAT_INNER(a, b) a##b
#define CAIRN_CONCAT(a, b) CAIRN_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)     \
  do {                            \
    ::cairn::Status _st = (expr); \
    if (!_st.ok()) return _st;    \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(CAIRN_CONCAT(_res_, __LINE__), lhs, expr)

}  // namespace cairn
