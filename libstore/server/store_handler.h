// The S3 operations over any ObjectStore: ListBuckets, CreateBucket (with a
// CreateBucketConfiguration body), DeleteBucket, HeadBucket, GetBucketLocation, ListObjects (v1
// and v2), ListObjectVersions (one version each, VersionId "null"), GetBucketAcl and
// GetObjectAcl (the owner's FULL_CONTROL grant), PutObject (Content-Type, x-amz-meta-* and the
// standard headers), GetObject and HeadObject (Range, the conditionals decided in the store,
// response-* overrides, sendfile when the store offers a file range), DeleteObject,
// DeleteObjects (XML batch, quiet mode, Content-MD5 or x-amz-checksum-* checked against the body)
// and CopyObject (metadata directive, copy-source conditions), and multipart uploads (Create,
// UploadPart, UploadPartCopy, Complete, Abort, ListParts, ListMultipartUploads), GetObject and
// HeadObject with partNumber. Anything else answers NotImplemented, never a wrong success. Every value in a
// response is escaped (s3::XmlWriter); errors go back as Status and the server renders them with
// the S3 error table (s3/errors.h).
//
// Routing is by method, bucket, key and sub-resource query parameters (store_handler.cc); object
// operations are in store_handler_objects.cc, the batch and ACL answers in
// store_handler_batch.cc, multipart uploads in store_handler_multipart.cc.
#pragma once

#include <string>
#include <string_view>

#include "libstore/object/object_store.h"
#include "libstore/server/http.h"

namespace cairn::server {

class StoreHandler : public S3Handler {
 public:
  // store is not owned; read_only refuses every write with AccessDenied; fsync is PutOptions'.
  StoreHandler(ObjectStore& store, bool read_only, bool fsync = true)
      : store_(store), read_only_(read_only), fsync_(fsync) {}
  Status Handle(const HttpRequest& req, const Identity& who, Source& body,
                ResponseWriter& out) override;
  // The one region this server is in (serve --region): what GetBucketLocation, HeadBucket's
  // x-amz-bucket-region and CreateBucket's LocationConstraint check use. Set before serving.
  void set_region(std::string region) { region_ = std::move(region); }
  // The largest source one CopyObject copies (CopyOptions::max_source_size): S3's 5 GiB, which
  // clients expect (above it they copy in UploadPartCopy parts); tests lower it.
  void set_max_copy_source(uint64_t bytes) { max_copy_source_ = bytes; }

 private:
  // store_handler.cc
  Status ListBuckets(const HttpRequest& req, ResponseWriter& out);
  Status CreateBucket(const HttpRequest& req, Source& body, ResponseWriter& out);
  Status DeleteBucket(const HttpRequest& req, ResponseWriter& out);
  Status HeadBucket(const HttpRequest& req, ResponseWriter& out);
  Status GetBucketLocation(const HttpRequest& req, ResponseWriter& out);
  Status ListObjects(const HttpRequest& req, ResponseWriter& out, bool v2);
  // The query every listing shares: prefix, delimiter, encoding-type (url or absent), and the page
  // size named max_name (max-keys, max-uploads: 0..1000; more counts as 1000). kInvalidArgument
  // on a bad value.
  struct ListQuery {
    ListOptions opts;
    bool url = false;
    int max_keys = 1000;
  };
  static Result<ListQuery> ParseListQuery(const HttpRequest& req,
                                          const char* max_name = "max-keys");
  // One page from the store into *r; max_keys 0 only checks that the bucket exists (S3 then
  // answers an empty page).
  Status ListPage(const HttpRequest& req, ListQuery& lq, ListResult* r);
  // kBucketNotFound when the bucket is missing.
  Status NeedBucket(const std::string& bucket);
  // kNotFound from an object call: NoSuchBucket when the bucket is missing, else NoSuchKey.
  Status ObjectError(const HttpRequest& req, const Status& s);
  Status ObjectError(const std::string& bucket, const Status& s);
  // An error of a copy whose source is in src_bucket: ObjectError's, and 412 for a 304.
  Status CopySourceError(const std::string& src_bucket, const Status& s);

  // store_handler_objects.cc
  Status PutObject(const HttpRequest& req, Source& body, ResponseWriter& out);
  Status GetObject(const HttpRequest& req, ResponseWriter& out, bool head);
  Status DeleteObject(const HttpRequest& req, ResponseWriter& out);
  Status CopyObject(const HttpRequest& req, ResponseWriter& out);

  // store_handler_batch.cc
  Status DeleteObjects(const HttpRequest& req, Source& body, ResponseWriter& out);
  Status ListObjectVersions(const HttpRequest& req, ResponseWriter& out);
  Status GetAcl(const HttpRequest& req, ResponseWriter& out);

  // store_handler_multipart.cc
  Status CreateMultipartUpload(const HttpRequest& req, ResponseWriter& out);
  Status UploadPart(const HttpRequest& req, Source& body, ResponseWriter& out);
  // UploadPart with x-amz-copy-source: CopyPartResult with the part's ETag and time.
  Status UploadPartCopy(const HttpRequest& req, int part_number, ResponseWriter& out);
  Status CompleteMultipartUpload(const HttpRequest& req, Source& body, ResponseWriter& out);
  Status AbortMultipartUpload(const HttpRequest& req, ResponseWriter& out);
  Status ListParts(const HttpRequest& req, ResponseWriter& out);
  Status ListMultipartUploads(const HttpRequest& req, ResponseWriter& out);

  ObjectStore& store_;
  const bool read_only_;
  const bool fsync_;
  std::string region_ = "us-east-1";
  uint64_t max_copy_source_ = uint64_t(5) << 30;
};

// Percent-encodes what S3's encoding-type=url encodes (everything but unreserved characters and
// '/').
std::string UrlEncodeKey(std::string_view s);

}  // namespace cairn::server
