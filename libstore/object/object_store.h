// ObjectStore: the seam of the system. Buckets and objects, streamed in and out; the S3 server,
// the CLI and the benchmarks all go through it. Implementations: ErasureSet (a volume set);
// later PlainDir (a directory served as-is).
//
// Thread safety: every method may be called concurrently. Concurrent PUT/GET/DELETE of one key
// never expose a torn object: a reader sees one complete version or none.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libstore/common/checksum.h"
#include "libstore/common/io.h"
#include "libstore/common/status.h"

namespace cairn {

enum class EtagMode { kMd5, kFast };

struct PutOptions {
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  EtagMode etag = EtagMode::kMd5;
  bool fsync = true;  // data, metadata and directories durable before success
  // Conditional write (S3's conditional PUT), decided under the key's lock against the version
  // the PUT replaces, so two writers cannot both pass (no HEAD-then-act race):
  //   if_none_match_star  "If-None-Match: *": kPreconditionFailed when the key exists.
  //   if_match            "If-Match: <etag list>" (as GetConditions::if_match, "*" included):
  //                       kPreconditionFailed when the key does not exist or its ETag differs.
  // A failed condition commits nothing and leaves the current object as it was. A store may
  // also check before it reads the body (to refuse early); the check under the lock decides.
  bool if_none_match_star = false;
  std::optional<std::string> if_match;

  // What the client promised about the body: Content-MD5, one x-amz-checksum-* value, the SHA-256
  // of a signed payload. Each is computed while the body streams (one pass; the MD5 is the one the
  // MD5 ETag uses) and checked after the body ended, before anything is committed: a mismatch is
  // kContentSha256Mismatch (the payload hash, checked first) or kBadDigest, commits nothing and
  // leaves an older version intact.
  ExpectedDigests expected;
  // The x-amz-checksum-* algorithm computed and stored with the object (returned in
  // ObjectInfo::checksum, FULL_OBJECT), also when no value is promised (x-amz-sdk-checksum-
  // algorithm; x-amz-trailer before its trailer arrived). kNone: expected.checksum's algorithm,
  // if any; when both are set they must be the same (else kInvalidArgument).
  ChecksumAlgorithm checksum_algorithm = ChecksumAlgorithm::kNone;
  // A checksum value that arrives after the body (aws-chunked's trailing x-amz-checksum-*). The
  // store calls it once, after src.Read returned 0 (so a decoder has read its trailers) and
  // before committing; it returns the promised value (of checksum_algorithm, which must then be
  // set; another algorithm is kInvalidArgument), nullopt when the trailer carried none (the
  // computed value is stored unchecked), or an error that fails the PUT, nothing committed. Not
  // together with expected.checksum (kInvalidArgument). Called on the PutObject caller's thread.
  std::function<Result<std::optional<ChecksumValue>>()> trailing_checksum;
};

// The x-amz-checksum-* algorithm a PUT with these options stores (see checksum_algorithm).
ChecksumAlgorithm StoredChecksumAlgorithm(const PutOptions& o);
// The digests such a PUT computes over its body: MD5 for Content-MD5 or an MD5 ETag, the stored
// checksum algorithm, the payload SHA-256 when one is expected.
BodyChecksums::Plan ChecksumPlan(const PutOptions& o);
// After the body ended: what the client promised, the trailer's value (trailing_checksum) folded
// in. Errors: the callback's, or kInvalidArgument for a trailer of another algorithm.
Result<ExpectedDigests> FinalExpectations(const PutOptions& o);

// Checks a finished body against what was promised, the digests computed by one BodyChecksums or
// split over two (a store may run them on two threads): each expectation is checked by the one
// whose plan computed it, the payload hash first, then Content-MD5, then the checksum (see
// BodyChecksums::Verify for the codes). An expectation neither computed is kInternal.
Status VerifyBody(const ExpectedDigests& e, const BodyChecksums& a, const BodyChecksums* b);

struct ObjectInfo;

// The verdict of PutOptions' conditions on the version a PUT would replace (null: the key has no
// object): Ok, or kPreconditionFailed naming the condition. Stores call it under the key's lock.
Status CheckPutConditions(const PutOptions& o, const ObjectInfo* current);

// System metadata: entries of PutOptions::user_meta whose key starts with kSystemMetaPrefix carry
// what S3 keeps beside the user's own metadata (the S3 server keeps the standard headers
// Cache-Control, Content-Disposition, Content-Encoding, Content-Language and Expires as
// "~cairn-<header>"). Stores keep them as any user metadata entry (so every stored format reads
// them as before), but they are not user-defined metadata: they do not count toward
// kMaxUserMetaBytes, and have a budget of their own, kMaxSystemMetaBytes. The prefix is a valid
// header token; the S3 server refuses a client's own x-amz-meta-~cairn-*, so none can be forged.
inline constexpr std::string_view kSystemMetaPrefix = "~cairn-";
bool IsSystemMetaKey(std::string_view key);

// Whether s holds a control character no HTTP field value may carry (RFC 9110 5.5: any below
// 0x20 but tab, and DEL): one would end the field early and forge others.
bool HasControlChar(std::string_view s);

// Limits of PutOptions, as S3 sets them: user-defined metadata at most 2 KiB, counted as S3
// counts it (the bytes of every key and value, summed; system entries apart); keys are HTTP
// header tokens (they travel as x-amz-meta-KEY) of at most 1 KiB, unique ignoring case, at most
// 1024 of them (system entries included); values hold no control characters; system entries at
// most 8 KiB (keys and values, summed: S3 takes at most 8 KB of request headers); a content type
// of at most 256 bytes without control characters. Every store refuses more, before reading the
// body. (Within these limits every object metadata copy can be written and read back: see the
// format's limits in object_meta.h.)
constexpr size_t kMaxUserMetaBytes = 2048;
constexpr size_t kMaxSystemMetaBytes = 8192;
constexpr size_t kMaxContentTypeLen = 256;
// kInvalidArgument naming the first limit broken.
Status ValidatePutOptions(const PutOptions& o);

// A member of a volume set that did not take a write that succeeded without it.
struct MissedWrite {
  uint32_t position = 0;  // member position in the set
  bool offline = false;   // it was offline (else: the write to it failed)
  std::string why;        // the error, for a failed write
};

// How an object's checksum is formed (x-amz-checksum-type).
enum class ChecksumType {
  kNone,        // no checksum algorithm was asked for
  kComposite,   // checksum of the concatenated binary part checksums, "-N" suffix
  kFullObject,  // the checksum of the whole object's bytes (a single PUT's; a multipart upload's
                // from the CRC combine of the parts)
};
// "COMPOSITE", "FULL_OBJECT"; "" for kNone.
const char* Name(ChecksumType t);

struct ObjectInfo {
  std::string bucket, key;
  uint64_t size = 0;
  std::string etag;
  int64_t mod_time_ns = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  // The x-amz-checksum-* stored with the object (sent or asked for by the client at PUT):
  // checksum.algorithm kNone when none. checksum_parts: the N of a COMPOSITE checksum.
  ChecksumValue checksum;
  ChecksumType checksum_type = ChecksumType::kNone;
  uint32_t checksum_parts = 0;
  // The x-amz-checksum-<algorithm> header value: base64, with "-N" for COMPOSITE; "" for none.
  std::string ChecksumHeaderValue() const;
  // PUT on a volume set: the members that missed the write (the object is queued for healing).
  // Empty when every member took it, and for every other call.
  std::vector<MissedWrite> missed;
  // A multipart object's number of parts (what GET ?partNumber=N selects from and S3 returns as
  // x-amz-mp-parts-count); 0 for an object made by one PUT or copy.
  uint32_t parts_count = 0;
};

struct BucketInfo {
  std::string name;
  int64_t created_ns = 0;
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;           // empty: no roll-up
  std::string start_after;         // list keys strictly after this one
  std::string continuation_token;  // from a previous ListResult; overrides start_after
  int max_keys = 1000;             // objects + common prefixes per page, 1..1000
};

struct ListResult {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_token;  // opaque; pass back as continuation_token
};

// A byte range as a GET asks for it (an HTTP Range header's one byte-range-spec), resolved
// against the object's size inside the store (ResolveRange):
//   GetRange{first, last}   bytes first..last inclusive ("first-last"); last past the end is
//                           clipped to it;
//   GetRange{first}         from first to the end ("first-"; last stays kToEnd);
//   GetRange::Suffix(n)     the last n bytes ("-n"), the whole object when it is shorter.
struct GetRange {
  static constexpr uint64_t kToEnd = UINT64_MAX;
  uint64_t first = 0;
  uint64_t last = kToEnd;  // inclusive
  bool suffix = false;     // true: the last `suffix_len` bytes; first and last unused
  uint64_t suffix_len = 0;
  static GetRange Suffix(uint64_t n) {
    GetRange r;
    r.suffix = true;
    r.suffix_len = n;
    return r;
  }
};

// The bytes a GET sends: [first, first + length) of the object.
struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
  // True when a range was asked and the answer is a part (HTTP 206 with Content-Range
  // "bytes first-(first+length-1)/size"); false for the whole object (200).
  bool partial = false;
};

// Resolves a requested range against an object of `size` bytes, as RFC 9110 and S3 do:
//  - no range: the whole object, not partial;
//  - a range whose first byte is at or past the end, or any first-last / first- range of an empty
//    object, or a suffix of 0 bytes: kInvalidRange (416);
//  - last < first is not a valid byte-range-spec: the range is ignored (the whole object, not
//    partial), as S3 answers "bytes=5-1";
//  - a suffix range of an empty object: the whole (empty) object, not partial (there is no
//    Content-Range to give for zero bytes).
Result<ByteRange> ResolveRange(const std::optional<GetRange>& range, uint64_t size);

// Conditions of a GET or HEAD (RFC 9110 section 13, as S3 applies them), decided by the store
// against the very version it reads. ETag lists are header values as sent: comma-separated
// entity tags, quoted or not, with or without the weak prefix W/ (S3 compares the opaque part
// only, so W/"x" matches "x"), or "*" (matches any existing object). Times are seconds since the
// epoch, the resolution of HTTP dates; the object's modification time is truncated to seconds
// before comparing.
struct GetConditions {
  std::optional<std::string> if_match;
  std::optional<std::string> if_none_match;
  std::optional<int64_t> if_modified_since;
  std::optional<int64_t> if_unmodified_since;
  bool empty() const {
    return !if_match && !if_none_match && !if_modified_since && !if_unmodified_since;
  }
};

// True when etag (as stored: no quotes) is one of the entity tags in `list` (see GetConditions),
// or list is "*".
bool EtagListMatches(std::string_view list, std::string_view etag);

// What the conditions say about an object with this ETag and modification time. Precedence as
// RFC 9110 13.2.2 and S3:
//  1. If-Match false -> failed. If-Match true makes If-Unmodified-Since ignored; without
//     If-Match, If-Unmodified-Since false (modified after the date) -> failed.
//  2. If-None-Match matching -> not modified (a GET or HEAD; `for_read` false: failed). If-None-
//     Match not matching makes If-Modified-Since ignored; without If-None-Match, If-Modified-Since
//     false (not modified after the date) -> not modified (GET/HEAD only: ignored otherwise).
// Returns Ok, kNotModified (304) or kPreconditionFailed (412) with a message naming the condition.
// for_read false is for the copy-source conditions of CopyObject: every failure is a 412 there.
Status EvaluateConditions(const GetConditions& c, const std::string& etag, int64_t mod_time_ns,
                          bool for_read);

struct GetOptions {
  std::optional<GetRange> range;
  GetConditions conditions;
  // GET / HEAD ?partNumber=N (1..10000; 0: not asked): the bytes of part N of a multipart object,
  // as it was completed (PartByteRange in multipart.h; an object of one PUT is one part). Not
  // together with range (kInvalidRequest). A part past the last is kInvalidPartNumber, decided
  // after the conditions.
  int part_number = 0;
};

// An open GET: the version it reads is fixed when it opens (one quorum read of its metadata) and
// every byte it sends is of that version, whatever writers do meanwhile.
//
// Use: info() and range() before the first byte; then either WriteTo(sink) once, or Read()
// repeatedly until it returns 0, or (when ZeroCopy() offers one) send the file range yourself.
// Not thread-safe: one thread at a time. Must not outlive the store that opened it. Dropping a
// reader before its end is fine (a client that went away): it releases what it holds.
class ObjectReader {
 public:
  virtual ~ObjectReader() = default;

  // The version being read (the same for every byte).
  const ObjectInfo& info() const { return info_; }
  // The exact bytes it sends (resolved from GetOptions::range).
  const ByteRange& range() const { return range_; }

  // Pulls up to n more bytes of the range into buf; 0 once the range is all sent. Each byte is
  // verified before it is returned; a block that cannot be rebuilt fails (kDataLoss) before any
  // of its bytes is returned, and every later call fails the same way.
  virtual Result<size_t> Read(void* buf, size_t n) = 0;
  // Writes what is left of the range to sink, then returns. The default pulls through Read with a
  // buffer of its own; a store may write straight from its blocks. A failed Write stops it with
  // that status.
  virtual Status WriteTo(Sink& sink);

  // A file whose bytes [offset, offset + length) are exactly the range, for sendfile(2): a store
  // that keeps objects as whole files offers it, others return nullopt. The descriptor stays
  // open and valid (and its bytes are of the version described) while the reader lives; the
  // caller must not close it, and reads it at explicit offsets only (sendfile with an offset
  // pointer, pread), never through its file position. Using it replaces Read/WriteTo.
  struct FileRange {
    int fd = -1;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  virtual std::optional<FileRange> ZeroCopy() { return std::nullopt; }

 protected:
  ObjectReader(ObjectInfo info, ByteRange range) : info_(std::move(info)), range_(range) {}
  ObjectInfo info_;
  ByteRange range_;
};

// CopyObject's options (S3 CopyObject with x-amz-metadata-directive and x-amz-copy-source-if-*).
enum class MetadataDirective {
  kCopy,     // the destination gets the source's content type and user metadata
  kReplace,  // the destination gets content_type and user_meta below
};

struct CopyOptions {
  MetadataDirective directive = MetadataDirective::kCopy;
  std::string content_type;                                    // kReplace only
  std::vector<std::pair<std::string, std::string>> user_meta;  // kReplace only
  // x-amz-copy-source-if-match / -none-match / -modified-since / -unmodified-since, decided on the
  // source version that is copied; every failure is kPreconditionFailed (never a 304).
  GetConditions source_conditions;
  // x-amz-checksum-algorithm of the copy. kNone: the source's algorithm (none when it has none);
  // its FULL_OBJECT value is carried over and, as the bytes are recomputed while they stream,
  // checked (a copy that read anything else is kBadDigest, nothing committed); a COMPOSITE
  // (multipart) source's is recomputed over the whole object (FULL_OBJECT). Another algorithm:
  // computed over the bytes and stored instead. The same under either directive.
  ChecksumAlgorithm checksum_algorithm = ChecksumAlgorithm::kNone;
  EtagMode etag = EtagMode::kMd5;
  bool fsync = true;
  // The largest source one copy takes: a larger one is kInvalidRequest, nothing written. S3
  // refuses a CopyObject of more than 5 GiB (its callers then copy in UploadPartCopy parts), and
  // so does `cairn serve`; a local copy has no limit.
  uint64_t max_source_size = UINT64_MAX;
};

// The source checks of CopyObject, on the version that is copied (name: "bucket/key", for
// messages): its conditions (EvaluateConditions, for_read false) and opts.max_source_size.
Status CheckCopySource(const CopyOptions& opts, const ObjectInfo& src, const std::string& name);
// S3's answer (InvalidRequest) to a copy of a source larger than max_bytes.
Status CopySourceTooLarge(uint64_t max_bytes);

// ---- multipart uploads (issue 10). Declared here so that the S3 layer and both backends share one
// seam; every store answers kNotImplemented until it implements them.

struct CreateMultipartOptions {
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  // x-amz-checksum-algorithm: "", "CRC32", "CRC32C", "CRC64NVME", "SHA1" or "SHA256" (the names
  // of checksum.h's ChecksumAlgorithm), and x-amz-checksum-type.
  std::string checksum_algorithm;
  ChecksumType checksum_type = ChecksumType::kNone;
  bool fsync = true;
};

// The checksum type of an upload created with algorithm a (kNone: none) and x-amz-checksum-type
// t (kNone: not sent), as S3 allows them: CRC64NVME only FULL_OBJECT (its default), SHA1 and
// SHA256 only COMPOSITE (their default), CRC32 and CRC32C either (COMPOSITE by default); no
// algorithm, no type. kInvalidArgument for a type without an algorithm or a pair S3 refuses.
Result<ChecksumType> MultipartChecksumType(ChecksumAlgorithm a, ChecksumType t);

struct MultipartUpload {
  std::string bucket, key;
  std::string upload_id;  // opaque, URL-safe, unique per upload
  int64_t initiated_ns = 0;
  std::string checksum_algorithm;
  ChecksumType checksum_type = ChecksumType::kNone;
};

struct UploadPartOptions {
  // What the client promised for this part: Content-MD5 (base64), one x-amz-checksum-<algo>
  // value (base64; must be of the upload's algorithm when it has one), the signed payload's
  // SHA-256 (hex). Checked before the part is kept: kBadDigest / kContentSha256Mismatch.
  std::string content_md5;
  std::string checksum_algorithm, checksum_value;
  std::string payload_sha256;
  bool fsync = true;
  // The part's size as the request declared it (Content-Length, or x-amz-decoded-content-length
  // of an aws-chunked body), when it did: lets a store place the part before its bytes arrive. A
  // body that turns out longer fails the part.
  std::optional<uint64_t> size;
};

struct PartInfo {
  int part_number = 0;  // 1..10000
  std::string etag;     // MD5 hex of the part's bytes
  uint64_t size = 0;
  int64_t mod_time_ns = 0;
  std::string checksum;  // base64, of the upload's algorithm ("" when it has none)
};

// One entry of CompleteMultipartUpload's list: the part number and the ETag (and checksum) the
// client got back from UploadPart.
struct CompletedPart {
  int part_number = 0;
  std::string etag;
  std::string checksum;  // base64; required when the upload has a checksum algorithm
};

// UploadPartCopy's options (UploadPart with x-amz-copy-source).
struct CopyPartOptions {
  // x-amz-copy-source-range "bytes=first-last" (both given, first <= last; the store checks
  // last against the source's size: kInvalidArgument past its end, as S3 answers); none: the
  // whole source (at most 5 GiB, else kInvalidRequest).
  std::optional<GetRange> range;
  // x-amz-copy-source-if-*, decided on the source version that is copied; every failure is
  // kPreconditionFailed (never a 304).
  GetConditions source_conditions;
  bool fsync = true;
};

struct CompleteMultipartOptions {
  // Conditions on the key the object lands on, as PutOptions'.
  bool if_none_match_star = false;
  std::optional<std::string> if_match;
  // What the client expects of the object's checksum (x-amz-checksum-<alg> and
  // x-amz-checksum-type on Complete; CheckCompleteChecksum in multipart.h has the rules):
  // checksum_algorithm kNone with checksum_value "" when no value was sent; the value is base64,
  // the FULL_OBJECT checksum of the whole object or the COMPOSITE one (of the concatenated part
  // checksums, "-N" allowed). checksum_type kNone: not sent.
  ChecksumAlgorithm checksum_algorithm = ChecksumAlgorithm::kNone;
  std::string checksum_value;
  ChecksumType checksum_type = ChecksumType::kNone;
  bool fsync = true;
};

struct ListPartsOptions {
  int max_parts = 1000;        // 1..1000
  int part_number_marker = 0;  // list parts numbered strictly after this one
};

struct ListPartsResult {
  MultipartUpload upload;
  std::vector<PartInfo> parts;  // ascending part numbers
  bool truncated = false;
  int next_part_number_marker = 0;
};

struct ListUploadsOptions {
  std::string prefix;
  std::string delimiter;
  std::string key_marker;        // uploads of keys after this one (or of this key, see below)
  std::string upload_id_marker;  // with key_marker: uploads of key_marker after this id
  int max_uploads = 1000;        // 1..1000
};

struct ListUploadsResult {
  std::vector<MultipartUpload> uploads;  // in key order, then initiation order
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_key_marker, next_upload_id_marker;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Status MakeBucket(const std::string& bucket) = 0;
  // Fails with kNotEmpty unless force, which removes every object first.
  virtual Status RemoveBucket(const std::string& bucket, bool force) = 0;
  virtual Result<std::vector<BucketInfo>> ListBuckets() = 0;
  virtual Status BucketExists(const std::string& bucket) = 0;

  // Streams the body from src. On failure nothing is visible and an older object is intact.
  virtual Result<ObjectInfo> PutObject(const std::string& bucket, const std::string& key,
                                       Source& src, const PutOptions& opts) = 0;
  // Opens the object for reading: reads its metadata once (a quorum read on a volume set),
  // decides opts.conditions and opts.range against that version, and returns a reader of exactly
  // that version. Errors: kBucketNotFound, kNotFound (no such object), kInvalidRange,
  // kNotModified / kPreconditionFailed (a condition failed: then *verdict, when given, gets the
  // info of the version they were decided on, for the 304's ETag and Last-Modified), kQuorum,
  // kDataLoss. A reader's data errors come from its Read/WriteTo.
  virtual Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket,
                                                           const std::string& key,
                                                           const GetOptions& opts,
                                                           ObjectInfo* verdict = nullptr) = 0;
  // OpenObject, then WriteTo(sink): streams the range to sink, every byte verified; returns the
  // info of the version sent. If the data cannot be rebuilt the GET fails (kDataLoss) before
  // writing any byte of the bad block.
  Result<ObjectInfo> GetObject(const std::string& bucket, const std::string& key, Sink& sink,
                               const GetOptions& opts = {});
  Result<ObjectInfo> GetObject(const std::string& bucket, const std::string& key, Sink& sink,
                               const GetRange& range);
  // The info GET would describe, with the same conditions and errors as OpenObject. Its range and
  // part_number are not used: a HEAD with Range is answered by the caller from info.size, and a
  // HEAD with partNumber opens the object (OpenObject) for the part's range. *verdict as there.
  virtual Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key,
                                        const GetOptions& opts = {},
                                        ObjectInfo* verdict = nullptr) = 0;
  virtual Status DeleteObject(const std::string& bucket, const std::string& key) = 0;
  virtual Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& opts) = 0;

  // Copies the source object's version (fixed when the copy starts) to the destination, with the
  // source's or new metadata (opts.directive). Errors: those of OpenObject for the source (its
  // conditions give kPreconditionFailed only) and of PutObject for the destination; a copy onto
  // itself is kInvalidArgument unless kReplace (which rewrites the metadata). On failure the
  // destination is as it was. The default streams the source through OpenObject into PutObject,
  // a block at a time; a store that can copy cheaper (copy_file_range) overrides it.
  virtual Result<ObjectInfo> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                        const std::string& dst_bucket, const std::string& dst_key,
                                        const CopyOptions& opts);

  // ---- multipart (issue 10); each default returns kNotImplemented.
  // Errors shared by all: kBucketNotFound; kUploadNotFound for an unknown, completed or aborted
  // upload id (or one of another key).
  //
  // Starts an upload of bucket/key; nothing is visible under the key until Complete.
  virtual Result<MultipartUpload> CreateMultipartUpload(const std::string& bucket,
                                                        const std::string& key,
                                                        const CreateMultipartOptions& opts);
  // Stores part `part_number` (1..10000; else kInvalidArgument) from src; a part uploaded twice
  // keeps the last. Returns its ETag and checksum.
  virtual Result<PartInfo> UploadPart(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id, int part_number, Source& src,
                                      const UploadPartOptions& opts);
  // Makes the object from the listed parts: ascending part numbers (kInvalidPartOrder), each
  // uploaded with that ETag (kInvalidPart), all but the last at least 5 MiB (kEntityTooSmall).
  // The result's ETag is "<MD5 of the binary part MD5s>-<N>". Repeating a Complete that
  // succeeded returns the same object.
  virtual Result<ObjectInfo> CompleteMultipartUpload(const std::string& bucket,
                                                     const std::string& key,
                                                     const std::string& upload_id,
                                                     const std::vector<CompletedPart>& parts,
                                                     const CompleteMultipartOptions& opts);
  // Drops the upload and its parts.
  virtual Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id);
  // Stores part `part_number` of the upload from bytes of an object (S3 UploadPartCopy): the
  // source's version is fixed when the copy starts; its conditions and range as CopyPartOptions
  // says. Errors: the source's as OpenObject's (kNotFound, kBucketNotFound, kPreconditionFailed,
  // kInvalidRange) and the destination's as UploadPart's. The default streams the range through
  // OpenObject into UploadPart, a block at a time; a store that can copy cheaper overrides it.
  virtual Result<PartInfo> UploadPartCopy(const std::string& src_bucket, const std::string& src_key,
                                          const std::string& bucket, const std::string& key,
                                          const std::string& upload_id, int part_number,
                                          const CopyPartOptions& opts);
  // Removes the uploads begun more than older_than_ns ago (on the store's clock) that were
  // neither completed nor aborted, with their parts, as AbortMultipartUpload would (what S3's
  // AbortIncompleteMultipartUpload lifecycle rule does; `cairn serve` runs it in the background).
  // Returns how many uploads were removed. older_than_ns < 0: kInvalidArgument.
  virtual Result<uint64_t> AbortStaleUploads(int64_t older_than_ns);
  virtual Result<ListPartsResult> ListParts(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id,
                                            const ListPartsOptions& opts);
  virtual Result<ListUploadsResult> ListMultipartUploads(const std::string& bucket,
                                                         const ListUploadsOptions& opts);
};

}  // namespace cairn
