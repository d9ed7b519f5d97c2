// ErasureSet buckets: a bucket is a directory on every member, with its creation time in
// bucket.meta; it exists when a read quorum of members has it.
#include <cstdlib>
#include <map>

#include "libstore/format/key_path.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"

namespace cairn {

static std::string BucketMetaPath(const std::string& bucket) { return bucket + "/bucket.meta"; }

// Writes bucket.meta durably through a temp file and a rename, so a crash never leaves it torn.
static Status WriteBucketMeta(Volume* v, const std::string& bucket, const std::string& created) {
  return ReplaceFile(*v, BucketMetaPath(bucket), created, kTmpDir);
}

Status ErasureSet::BucketExists(const std::string& bucket) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  return CheckBucket(bucket);
}

Status ErasureSet::CheckBucket(const std::string& bucket) {
  uint32_t have = 0, answered = 0;
  for (auto* v : volumes_) {
    if (v == nullptr) continue;
    auto st = v->Stat(bucket);
    if (st.ok() && st->is_dir()) ++have;
    if (st.ok() || st.status().code() == Code::kNotFound) ++answered;
  }
  if (have >= read_quorum_) return Status::Ok();
  if (answered < read_quorum_) {
    return QuorumError("bucket " + bucket + ": only " + std::to_string(answered) +
                       " volumes answered, " + std::to_string(read_quorum_) + " needed");
  }
  return NotFound("bucket " + bucket + " does not exist");
}

Status ErasureSet::MakeBucket(const std::string& bucket) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(CheckWriteQuorum());
  if (CheckBucket(bucket).ok()) return AlreadyExists("bucket " + bucket + " already exists");
  std::string created = std::to_string(NowNs());
  std::vector<bool> ok(n(), false);
  uint32_t done = 0;
  Status last;
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr) continue;
    Status s = v->MakeDirs(bucket);
    if (s.ok()) s = WriteBucketMeta(v, bucket, created);
    if (s.ok()) {
      ok[i] = true;
      ++done;
    } else {
      last = s;
    }
  }
  Status sync = SyncVolumes(ok);
  if (done < write_quorum_ || !sync.ok()) {
    return QuorumError("bucket " + bucket + ": created on " + std::to_string(done) + " volumes, " +
                       std::to_string(write_quorum_) + " needed" +
                       (last.ok() ? std::string() : " (" + last.message() + ")"));
  }
  return Status::Ok();
}

Status ErasureSet::RemoveBucket(const std::string& bucket, bool force) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(CheckWriteQuorum());
  RETURN_IF_ERROR(CheckBucket(bucket));
  if (!force) {
    ListOptions lo;
    lo.max_keys = 1;
    ASSIGN_OR_RETURN(ListResult lr, ListObjects(bucket, lo));
    if (!lr.objects.empty() || !lr.common_prefixes.empty()) {
      return NotEmpty("bucket " + bucket + " is not empty (use --force to remove its objects)");
    }
  }
  uint32_t done = 0;
  Status last;
  std::vector<bool> ok(n(), false);
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr) continue;
    // Move the bucket out of the namespace first (one rename), then delete at leisure: a crash
    // mid-way leaves a temp directory for gc, never half a bucket.
    std::string trash = TempName(kTmpDir, ".rb");
    Status s = v->Rename(bucket, trash);
    if (s.code() == Code::kNotFound) s = Status::Ok();
    if (s.ok()) s = v->RemoveAll(trash);
    if (s.ok()) {
      ok[i] = true;
      ++done;
    } else {
      last = s;
    }
  }
  RETURN_IF_ERROR(SyncVolumes(ok));
  if (done < write_quorum_) {
    return QuorumError("bucket " + bucket + ": removed on " + std::to_string(done) + " volumes" +
                       (last.ok() ? std::string() : " (" + last.message() + ")"));
  }
  return Status::Ok();
}

Result<std::vector<BucketInfo>> ErasureSet::ListBuckets() {
  std::map<std::string, std::pair<uint32_t, int64_t>> seen;  // name -> (count, created)
  uint32_t answered = 0;
  for (auto* v : volumes_) {
    if (v == nullptr) continue;
    auto entries = v->ListDir("");
    if (!entries.ok()) continue;
    ++answered;
    for (const auto& e : *entries) {
      if (!e.is_dir() || !ValidateBucketName(e.name).ok()) continue;
      auto& s = seen[e.name];
      ++s.first;
      if (s.second == 0) {
        auto raw = v->ReadFile(BucketMetaPath(e.name), 64);
        if (raw.ok()) s.second = std::atoll(raw->c_str());
      }
    }
  }
  if (answered < read_quorum_) return QuorumError("too few volumes answered to list buckets");
  std::vector<BucketInfo> out;
  for (const auto& [name, s] : seen) {
    if (s.first >= read_quorum_) out.push_back(BucketInfo{name, s.second});
  }
  return out;
}

Result<std::vector<std::pair<std::string, uint32_t>>> ErasureSet::ScanBuckets(
    const ForeignEntryFn& foreign) {
  std::map<std::string, uint32_t> seen;
  auto report = [&](uint32_t pos, const std::string& dir, const DirEntry& e) {
    if (foreign && (e.kind == FileKind::kSymlink || e.kind == FileKind::kOther)) {
      foreign(ForeignEntry{pos, dir.empty() ? e.name : dir + "/" + e.name, e.kind});
    }
  };
  for (uint32_t pos = 0; pos < n(); ++pos) {
    Volume* v = volumes_[pos];
    if (v == nullptr) continue;
    ASSIGN_OR_RETURN(auto entries, v->ListDir(""));
    for (const auto& e : entries) {
      if (e.is_dir() && ValidateBucketName(e.name).ok()) ++seen[e.name];
      report(pos, "", e);
    }
    if (foreign) {
      // .cairn itself is a directory here (the member's format was read through it).
      auto sys = v->ListDir(kSysDir);
      if (sys.ok()) {
        for (const auto& e : *sys) report(pos, kSysDir, e);
      }
    }
  }
  return std::vector<std::pair<std::string, uint32_t>>(seen.begin(), seen.end());
}

Result<std::vector<uint32_t>> ErasureSet::HealBucket(const std::string& bucket, bool dry_run) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(CheckBucket(bucket));
  std::string created;
  std::vector<uint32_t> missing;
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr) continue;
    auto st = v->Stat(bucket);
    auto meta = v->ReadFile(BucketMetaPath(bucket), 64);
    if (st.ok() && st->is_dir() && meta.ok()) {
      if (created.empty()) created = *meta;
      continue;
    }
    missing.push_back(i);
  }
  if (dry_run || missing.empty()) return missing;
  if (created.empty()) created = std::to_string(NowNs());
  std::vector<bool> touched(n(), false);
  for (uint32_t i : missing) {
    Volume* v = volumes_[i];
    Status s = v->MakeDirs(bucket);
    if (s.ok()) s = WriteBucketMeta(v, bucket, created);
    if (!s.ok()) return s.WithContext(v->Describe());
    touched[i] = true;
  }
  RETURN_IF_ERROR(SyncVolumes(touched));
  return missing;
}

}  // namespace cairn
