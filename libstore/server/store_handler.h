// The first S3 operations, over any ObjectStore: ListBuckets, CreateBucket, DeleteBucket,
// HeadBucket, GetBucketLocation, ListObjects (v1 and v2), PutObject, GetObject (Range and the
// conditionals), HeadObject, DeleteObject. Anything else answers NotImplemented, never a wrong
// success. Routing is by method, bucket, key and sub-resource query parameters; later groups of
// operations (multipart, copy, batch delete) go into files of their own behind the same router.
#pragma once

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

 private:
  Status ListBuckets(const HttpRequest& req, ResponseWriter& out);
  Status CreateBucket(const HttpRequest& req, ResponseWriter& out);
  Status DeleteBucket(const HttpRequest& req, ResponseWriter& out);
  Status HeadBucket(const HttpRequest& req, ResponseWriter& out);
  Status GetBucketLocation(const HttpRequest& req, ResponseWriter& out);
  Status ListObjects(const HttpRequest& req, ResponseWriter& out, bool v2);
  Status PutObject(const HttpRequest& req, Source& body, ResponseWriter& out);
  Status GetObject(const HttpRequest& req, ResponseWriter& out, bool head);
  Status DeleteObject(const HttpRequest& req, ResponseWriter& out);
  // kNotFound from an object call: NoSuchBucket when the bucket is missing, else NoSuchKey.
  Status ObjectError(const HttpRequest& req, const Status& s);

  ObjectStore& store_;
  const bool read_only_;
  const bool fsync_;
};

// Percent-encodes what S3's encoding-type=url encodes (everything but unreserved characters and
// '/').
std::string UrlEncodeKey(std::string_view s);

}  // namespace cairn::server
