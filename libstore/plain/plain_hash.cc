// PlainDir::HashPass: fills the hash cache for files whose MD5 is not known yet, at a bounded rate.
#include <memory>

#include "libstore/common/hash.h"
#include "libstore/common/rate_limiter.h"
#include "libstore/plain/plain_dir.h"
#include "libstore/plain/plain_internal.h"

namespace cairn {

Status PlainDir::HashFile(const std::string& bucket, const std::string& key, RateLimiter* limiter,
                          const std::atomic<bool>* stop, HashPassStats* stats) {
  auto f = vol_->NewReadableFile(bucket + "/" + key);
  if (!f.ok()) return plain::IsAbsent(f.status()) ? Status::Ok() : f.status();
  ASSIGN_OR_RETURN(FileInfo before, (*f)->StatOpen());
  const FileStamp stamp = FileStamp::Of(before);
  ASSIGN_OR_RETURN(auto rec, meta_->Get(bucket, key, stamp));
  if (rec && !rec->md5_hex.empty()) return Status::Ok();
  Md5Stream md5;
  char* buf = plain::IoBuffer();
  uint64_t off = 0;
  while (off < before.size) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) return Status::Ok();
    size_t want = size_t(std::min<uint64_t>(before.size - off, plain::kIoBufferSize));
    if (limiter != nullptr) limiter->Acquire(want);
    ASSIGN_OR_RETURN(size_t got, (*f)->ReadAt(off, buf, want));
    if (got == 0) break;
    md5.Update(buf, got);
    off += got;
  }
  stats->bytes_hashed += off;
  ASSIGN_OR_RETURN(FileInfo after, (*f)->StatOpen());
  if (off != before.size || !(FileStamp::Of(after) == stamp)) {
    ++stats->files_changed;
    return Status::Ok();
  }
  RETURN_IF_ERROR(meta_->SetMd5(bucket, key, stamp, md5.FinalHex()));
  ++stats->files_hashed;
  return Status::Ok();
}

Result<HashPassStats> PlainDir::HashPass(uint64_t bytes_per_second, const std::atomic<bool>* stop) {
  HashPassStats stats;
  std::unique_ptr<RateLimiter> limiter;
  if (bytes_per_second > 0) limiter = std::make_unique<RateLimiter>(bytes_per_second);
  ASSIGN_OR_RETURN(auto buckets, ListBuckets());
  for (const auto& b : buckets) {
    // Page by page, like any client: the walk keeps no more than a listing page in memory.
    ListOptions lo;
    while (true) {
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) return stats;
      auto page = ListObjects(b.name, lo);
      if (!page.ok()) {
        if (page.status().code() == Code::kBucketNotFound) break;  // removed meanwhile
        return page.status();
      }
      for (const auto& o : page->objects) {
        if (o.etag.find('-') == std::string::npos || o.key.back() == '/') continue;
        RETURN_IF_ERROR(HashFile(b.name, o.key, limiter.get(), stop, &stats));
        if (stop != nullptr && stop->load(std::memory_order_relaxed)) return stats;
      }
      if (!page->truncated) break;
      lo.continuation_token = page->next_token;
    }
  }
  return stats;
}

}  // namespace cairn
