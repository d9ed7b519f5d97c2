// PlainDir::CopyObject: copy_file_range from the open source file into a temp file, renamed into
// place like a PUT; a copy onto itself rewrites the metadata record alone.
#include "libstore/common/hash.h"
#include "libstore/plain/key_map.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/plain/plain_internal.h"
#include "libstore/plain/plain_reader.h"

namespace cairn {
namespace {

// An open reader as the body of a PUT (a copy that involves a folder marker).
class ReaderSource : public Source {
 public:
  explicit ReaderSource(ObjectReader& r) : r_(r) {}
  Result<size_t> Read(void* buf, size_t n) override { return r_.Read(buf, n); }

 private:
  ObjectReader& r_;
};

Status Shrank(const std::string& what) {
  return Status(Code::kIOError, what + ": the file shrank while it was copied").WithRetryable();
}

}  // namespace

Result<ObjectInfo> PlainDir::CopyObject(const std::string& src_bucket, const std::string& src_key,
                                        const std::string& dst_bucket, const std::string& dst_key,
                                        const CopyOptions& opts) {
  RETURN_IF_ERROR(CheckWritable("copy object"));
  const bool self = src_bucket == dst_bucket && src_key == dst_key;
  if (self && opts.directive != MetadataDirective::kReplace) {
    return InvalidArgument(src_bucket + "/" + src_key +
                           ": a copy onto itself must replace the metadata");
  }
  const std::string src_name = src_bucket + "/" + src_key;
  // The source version is fixed here (its file stays open); its conditions are decided on it.
  ASSIGN_OR_RETURN(Opened o, Open(src_bucket, src_key, true));
  RETURN_IF_ERROR(CheckCopySource(opts, o.info, src_name));
  PutOptions po;
  if (opts.directive == MetadataDirective::kReplace) {
    po.content_type = opts.content_type;
    po.user_meta = opts.user_meta;
  } else {
    po.content_type = o.info.content_type;
    po.user_meta = o.info.user_meta;
  }
  po.etag = opts.etag;
  po.fsync = opts.fsync;
  RETURN_IF_ERROR(ValidatePutOptions(po));
  // The checksum the copy keeps: of the algorithm asked for, else of the source's. A FULL_OBJECT
  // value of that algorithm is carried over; any other is computed from the bytes.
  const ChecksumAlgorithm want = opts.checksum_algorithm != ChecksumAlgorithm::kNone
                                     ? opts.checksum_algorithm
                                     : o.info.checksum.algorithm;
  const bool carry = want != ChecksumAlgorithm::kNone && o.info.checksum.algorithm == want &&
                     o.info.checksum_type == ChecksumType::kFullObject;
  ASSIGN_OR_RETURN(KeyPath dst, MapPlainKey(dst_bucket, dst_key));
  RETURN_IF_ERROR(CheckBucket(dst_bucket));
  if (self) return RewriteRecord(src_bucket, src_key, dst.path, o, po, want);

  if (o.file == nullptr || dst.marker) {
    // A folder marker on either side: the bytes (none, or a marker's refusal of some) go through
    // PutObject, from the version opened above, which computes the checksum and checks a carried
    // one.
    po.checksum_algorithm = want;
    if (carry) po.expected.checksum = o.info.checksum;
    ASSIGN_OR_RETURN(ByteRange whole, ResolveRange(std::nullopt, o.info.size));
    Reader r(this, std::move(o), whole);
    ReaderSource body(r);
    return PutObject(dst_bucket, dst_key, body, po);
  }

  RETURN_IF_ERROR(CheckNoConflict(dst_key, dst.path, false));
  plain::TempFile tmp(vol_, TempName(plain::kTmpDir));
  ASSIGN_OR_RETURN(auto out, vol_->NewWritableFile(tmp.path()));
  const uint64_t size = o.info.size;
  plain::Digests digests;
  digests.md5_hex = o.md5_known ? o.info.etag : std::string();
  BodyChecksums::Plan plan;
  plan.md5 = digests.md5_hex.empty() && opts.etag == EtagMode::kMd5;
  plan.checksum = want;
  const bool through_buffer = plan.md5 || (want != ChecksumAlgorithm::kNone && !carry);
  if (through_buffer) {
    // One pass through the buffer, hashing as the bytes go; a carried checksum is checked on the
    // way, since the bytes are read anyway.
    BodyChecksums sums(plan);
    RETURN_IF_ERROR(plain::ReadThrough(*o.file, size, sums, out.get(), src_name));
    sums.Finish();
    if (carry) {
      ExpectedDigests e;
      e.checksum = o.info.checksum;
      RETURN_IF_ERROR(sums.Verify(e).WithContext("copy source " + src_name));
    }
    if (plan.md5) digests.md5_hex = plain::Digests::Of(sums).md5_hex;
    if (want != ChecksumAlgorithm::kNone) {
      digests.checksum = sums.checksum();
      digests.checksum_type = ChecksumType::kFullObject;
    }
  } else {
    // copy_file_range on a LocalVolume: no byte through user space. The source's record (its
    // checksum included) is stamped with the very file copied, checked unchanged below.
    for (uint64_t off = 0; off < size;) {
      ASSIGN_OR_RETURN(uint64_t got, out->AppendFrom(*o.file, off, size - off));
      if (got == 0) return Shrank(src_name);
      off += got;
    }
    if (carry) {
      digests.checksum = o.info.checksum;
      digests.checksum_type = ChecksumType::kFullObject;
    }
  }
  // The copy is of one version only if the source did not change while it was read.
  ASSIGN_OR_RETURN(FileInfo now, o.file->StatOpen());
  if (!(FileStamp::Of(now) == o.stamp)) {
    return Status(Code::kIOError, src_name + " changed while it was copied").WithRetryable();
  }
  if (plan.md5) {
    meta_->SetMd5(src_bucket, src_key, o.stamp, digests.md5_hex).IgnoreError();  // a cache only
  }
  AnnouncedPut ahead(meta_.get());
  if (Sync(po)) RETURN_IF_ERROR(out->Sync());
  RETURN_IF_ERROR(out->Close());
  return CommitTemp(dst_bucket, dst_key, dst.path, tmp, po, digests, size, ahead);
}

Result<ObjectInfo> PlainDir::RewriteRecord(const std::string& bucket, const std::string& key,
                                           const std::string& path, const Opened& o,
                                           const PutOptions& po, ChecksumAlgorithm want) {
  // The bytes stay: so does their checksum when it is of the algorithm wanted; another is read
  // from the open file first, outside the key's lock (the stamp checked under it proves the file
  // read is the one in place).
  std::string checksums;
  if (want != ChecksumAlgorithm::kNone) {
    if (o.info.checksum.algorithm == want && o.info.checksum_type == ChecksumType::kFullObject) {
      checksums = EncodeChecksums(o.info);
    } else {
      BodyChecksums::Plan plan;
      plan.checksum = want;
      BodyChecksums sums(plan);
      if (o.info.size != 0) {
        if (o.file == nullptr) return Internal(bucket + "/" + key + ": copied without its file");
        RETURN_IF_ERROR(
            plain::ReadThrough(*o.file, o.info.size, sums, nullptr, bucket + "/" + key));
      }
      sums.Finish();
      ObjectInfo computed;
      plain::Digests::Of(sums).ApplyTo(&computed);
      checksums = EncodeChecksums(computed);
    }
  }
  std::lock_guard<std::mutex> l(KeyLock(path));
  ASSIGN_OR_RETURN(FileInfo st, vol_->Stat(path));
  if (!(FileStamp::Of(st) == o.stamp)) {
    return Status(Code::kIOError, bucket + "/" + key + " changed while its metadata was replaced")
        .WithRetryable();
  }
  ASSIGN_OR_RETURN(auto old, meta_->Get(bucket, key, o.stamp));
  ObjectRecord rec;
  rec.stamp = o.stamp;
  rec.uploaded = true;
  rec.content_type = po.content_type;
  rec.user_meta = po.user_meta;
  if (old) rec.md5_hex = old->md5_hex;
  rec.checksums = std::move(checksums);
  RETURN_IF_ERROR(meta_->Put(bucket, key, rec));
  return Describe(bucket, key, st);
}

}  // namespace cairn
