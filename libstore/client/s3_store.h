// S3ObjectStore: a remote S3 endpoint (AWS, MinIO, Ceph, `cairn serve`) as an ObjectStore, over
// S3Client (its signing, retries and error mapping). The commands that work on a volume set
// (stat, get, put) take s3:// URLs through it, and the ObjectStore conformance suites run over it
// against a `cairn serve` child.
//
// What each call sends:
//  - PutObject streams the Source: a body that ends within part_size bytes goes as one PUT from a
//    buffer of that size; a longer one (the size of a Source is not known ahead) as a multipart
//    upload of parts of part_size, one part buffered at a time (memory: part_size), aborted on
//    any failure. Content-Type, user metadata (x-amz-meta-*), the standard headers kept as
//    "~cairn-<header>" entries (Cache-Control...), If-Match / If-None-Match: *, Content-MD5 and the
//    x-amz-checksum-* promised (PutOptions::expected, the trailer's value too) and the algorithm
//    to store (x-amz-checksum-algorithm) travel as headers; the promised digests are also
//    checked here while the body streams, before the PUT (or the multipart Complete) is sent, so
//    a mismatch commits nothing and has the store's codes (kBadDigest, kContentSha256Mismatch).
//  - OpenObject and HeadObject send a HEAD with the conditions (If-Match, If-None-Match,
//    If-Modified-Since, If-Unmodified-Since), partNumber and x-amz-checksum-mode: ENABLED; a 304
//    is kNotModified and a 412 kPreconditionFailed, *verdict filled from the answer's ETag and
//    Last-Modified. The range is resolved here against the size (kInvalidRange). The reader's
//    bytes come from GETs pinned to the opened version with If-Match on its ETag: WriteTo is one
//    GET (a whole object checked against its MD5 ETag or x-amz-checksum-*), Read fetches windows
//    of kReadWindow bytes.
//  - ListObjects is ListObjectsV2 (prefix, delimiter, start-after, continuation-token, max-keys);
//    CopyObject is CopyObject with x-amz-metadata-directive, x-amz-copy-source-if-* and
//    x-amz-checksum-algorithm; the multipart calls are S3's own.
//
// What S3 cannot express, and how it is answered (never faked):
//  - AbortStaleUploads: kNotImplemented (S3 has no such call; a bucket lifecycle rule,
//    AbortIncompleteMultipartUpload, does it on the server).
//  - PutOptions::etag kFast and CopyOptions::etag kFast: kNotImplemented (the server chooses the
//    ETag; S3's is the MD5).
//  - PutOptions::fsync, CopyOptions::fsync and the multipart fsync flags are not sent: the
//    server decides durability (cairn serve --no-fsync).
//  - The snapshot guarantee of a reader: a reader is pinned to its version with If-Match, so a
//    version replaced while it reads is not sent mixed: its next GET fails with
//    kPreconditionFailed ("the object changed after it was opened") instead of sending the old
//    bytes as a local store does.
//  - DeleteObject of a missing key: S3 answers success; the store's kNotFound comes from a HEAD
//    sent first, so a key deleted by someone else between the two is reported deleted.
//  - The info PutObject, CopyObject and CompleteMultipartUpload return: S3's answers carry the
//    ETag (and checksum) only; the size is the body's (PUT) or comes from a HEAD pinned to the new
//    ETag (copy, Complete), the time from the answer's Date header. ObjectInfo::missed is always
//    empty; parts_count is known only from a HEAD or GET with part_number (x-amz-mp-parts-count).
//  - An object stored without a Content-Type reads back with the server's default
//    ("binary/octet-stream" from cairn serve and AWS), as any S3 client sees it.
//
// Errors are the server's, mapped to cairn Codes as S3Client maps them (RawRequest::exact_codes:
// kInvalidArgument and kInvalidRange kept); HEAD answers without a body map by HTTP status (404 on
// an object HEAD is kNotFound: a missing bucket shows as kNotFound there unless a later call says).
//
// Thread safety: as ObjectStore (S3Client is thread-safe); a reader is one thread's.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "libstore/client/s3_client.h"
#include "libstore/object/object_store.h"

namespace cairn::s3 {

struct S3StoreOptions {
  // PutObject: a body longer than this goes as a multipart upload of parts of this size (at least
  // 5 MiB, S3's smallest part; at most 5 GiB).
  uint64_t part_size = uint64_t{8} << 20;
};

class S3ObjectStore : public ObjectStore {
 public:
  // Bytes one Read of a reader fetches ahead (one ranged GET).
  static constexpr size_t kReadWindow = size_t{1} << 20;

  // kInvalidArgument for a part size outside 5 MiB..5 GiB.
  static Result<std::unique_ptr<S3ObjectStore>> Create(std::unique_ptr<S3Client> client,
                                                       S3StoreOptions opts = {});
  S3Client& client() { return *client_; }

  Status MakeBucket(const std::string& bucket) override;
  // force: every object is deleted (and every open multipart upload aborted) first.
  Status RemoveBucket(const std::string& bucket, bool force) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;
  Status BucketExists(const std::string& bucket) override;

  Result<ObjectInfo> PutObject(const std::string& bucket, const std::string& key, Source& src,
                               const PutOptions& opts) override;
  Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket,
                                                   const std::string& key,
                                                   const cairn::GetOptions& opts,
                                                   ObjectInfo* verdict = nullptr) override;
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key,
                                const cairn::GetOptions& opts = {},
                                ObjectInfo* verdict = nullptr) override;
  Status DeleteObject(const std::string& bucket, const std::string& key) override;
  Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& opts) override;
  Result<ObjectInfo> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                const std::string& dst_bucket, const std::string& dst_key,
                                const CopyOptions& opts) override;

  Result<MultipartUpload> CreateMultipartUpload(const std::string& bucket, const std::string& key,
                                                const CreateMultipartOptions& opts) override;
  // The part is read into memory before it is sent (S3 needs its length first).
  Result<PartInfo> UploadPart(const std::string& bucket, const std::string& key,
                              const std::string& upload_id, int part_number, Source& src,
                              const UploadPartOptions& opts) override;
  Result<ObjectInfo> CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id,
                                             const std::vector<cairn::CompletedPart>& parts,
                                             const CompleteMultipartOptions& opts) override;
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id) override;
  Result<PartInfo> UploadPartCopy(const std::string& src_bucket, const std::string& src_key,
                                  const std::string& bucket, const std::string& key,
                                  const std::string& upload_id, int part_number,
                                  const CopyPartOptions& opts) override;
  // kNotImplemented: see the file comment.
  Result<uint64_t> AbortStaleUploads(int64_t older_than_ns) override;
  Result<ListPartsResult> ListParts(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id,
                                    const ListPartsOptions& opts) override;
  Result<ListUploadsResult> ListMultipartUploads(const std::string& bucket,
                                                 const ListUploadsOptions& opts) override;

 private:
  S3ObjectStore(std::unique_ptr<S3Client> client, S3StoreOptions opts)
      : client_(std::move(client)), opts_(opts) {}
  // HEAD of the object with opts' conditions and part number; fills *range_out when given.
  Result<ObjectInfo> Head(const std::string& bucket, const std::string& key,
                          const cairn::GetOptions& opts, ObjectInfo* verdict, ByteRange* range_out);
  // The multipart path of PutObject, after the first part_size bytes (in buf) showed the body
  // is longer.
  Result<ObjectInfo> PutMultipart(const std::string& bucket, const std::string& key, Source& src,
                                  const PutOptions& opts, std::string& buf);
  // UploadPart of a part in memory.
  Result<PartInfo> SendPart(const std::string& bucket, const std::string& key,
                            const std::string& upload_id, int part_number, const void* data,
                            size_t len, const UploadPartOptions& opts);
  // The checksum algorithm of an upload (from CreateMultipartUpload here, else ListParts).
  Result<ChecksumAlgorithm> UploadAlgorithm(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id);
  // Fills info's size, type and metadata from a HEAD pinned to info->etag (after a copy or a
  // Complete, whose answers carry the ETag only); left as it is when the HEAD fails.
  void CompleteInfo(ObjectInfo* info);

  std::unique_ptr<S3Client> client_;
  S3StoreOptions opts_;
  std::mutex mu_;
  std::map<std::string, ChecksumAlgorithm> upload_algorithms_;  // upload id -> algorithm
};

}  // namespace cairn::s3
