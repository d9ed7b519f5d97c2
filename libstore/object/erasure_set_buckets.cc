// ErasureSet buckets: a bucket is a directory on every member, with its record (creation time,
// libstore/format/bucket_meta.h) in bucket.meta; it exists when a read quorum of members has it.
#include <algorithm>
#include <map>

#include "libstore/format/bucket_meta.h"
#include "libstore/format/key_path.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/key_locks.h"

namespace cairn {

// Writes bucket.meta durably through a temp file and a rename, so a crash never leaves it torn.
static Status WriteBucketMeta(Volume* v, const std::string& bucket, const std::string& bytes) {
  return ReplaceFile(*v, BucketMetaPath(bucket), bytes, kTmpDir);
}

// The bucket record on v, if it is there and decodes. Sets created before bucket.meta had a
// format hold the creation time as decimal text: that still counts (*legacy is set, so heal
// rewrites it as a record).
static Result<BucketMeta> ReadBucketMeta(Volume* v, const std::string& bucket,
                                         bool* legacy = nullptr) {
  ASSIGN_OR_RETURN(std::string raw, v->ReadFile(BucketMetaPath(bucket), kBucketMetaSize));
  auto m = BucketMeta::DecodeOrLegacy(raw, legacy);
  if (!m.ok()) return m.status().WithContext(v->Describe() + "/" + BucketMetaPath(bucket));
  return m;
}

// The lock mb, rb and heal's settling of a half-made bucket share: one for every bucket (they are
// rare), apart from every key's stripe (rb reads keys while it holds it).
size_t ErasureSet::BucketStripe(const std::string& /*bucket*/) const {
  return KeyLocks::kBucketLock;
}

// Moves the bucket's directory on v out of the namespace (one rename, made durable), then deletes
// it at leisure: a crash mid-way leaves a temp directory for gc, never half a bucket. OK when v
// has no such directory.
static Status MoveOutAndRemove(Volume* v, const std::string& bucket) {
  std::string trash = TempName(kTmpDir, ".rb");
  Status s = v->Rename(bucket, trash);
  if (s.ok()) s = v->SyncDir("");
  if (s.code() == Code::kNotFound) return Status::Ok();
  if (s.ok()) s = v->RemoveAll(trash);
  return s;
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
    // A read quorum of members holding it decides, whatever the rest would say: the other
    // members' stats are not asked (two system calls fewer per small PUT on 4+2).
    if (have >= read_quorum_) return Status::Ok();
    if (st.ok() || st.status().code() == Code::kNotFound) ++answered;
  }
  if (answered < read_quorum_) {
    return QuorumError("bucket " + bucket + ": only " + std::to_string(answered) +
                       " volumes answered, " + std::to_string(read_quorum_) + " needed");
  }
  return BucketNotFound("bucket " + bucket + " does not exist");
}

Status ErasureSet::MakeBucket(const std::string& bucket) { return MakeBucket(bucket, nullptr); }

Status ErasureSet::MakeBucket(const std::string& bucket, std::vector<std::string>* warnings) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(CheckWriteQuorum());
  KeyWriteGuard guard(*locks_, BucketStripe(bucket));
  if (CheckBucket(bucket).ok()) return AlreadyExists("bucket " + bucket + " already exists");
  BucketMeta meta;
  meta.created_ns = NowNs();
  ASSIGN_OR_RETURN(std::string bytes, meta.Encode());
  // What each member held before, so that a failed mb takes back exactly what it made.
  struct Before {
    bool touched = false;  // this mb created something here (or tried to)
    bool had_dir = false, had_meta = false;
  };
  std::vector<Before> before(n());
  std::vector<bool> ok(n(), false);
  std::vector<std::string> failed;  // one line per member that did not take the bucket
  uint32_t done = 0;
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr) continue;
    auto st = v->Stat(bucket);
    Status s;
    if (st.ok() && !st->is_dir()) {
      s = Corruption(v->Describe() + "/" + bucket + " exists and is a " + FileKindName(st->kind) +
                     ", not a directory");
    } else if (!st.ok() && st.status().code() != Code::kNotFound) {
      s = st.status();
    } else {
      before[i].had_dir = st.ok();
      before[i].had_meta = st.ok() && v->Stat(BucketMetaPath(bucket)).ok();
      before[i].touched = true;
      s = v->MakeDirs(bucket);
      if (s.ok()) s = WriteBucketMeta(v, bucket, bytes);
    }
    if (s.ok()) {
      ok[i] = true;
      ++done;
    } else {
      failed.push_back("member " + std::to_string(i + 1) + ": " + s.message());
    }
  }
  // The bucket directories' entries in the members' roots (bucket.meta's own directory was synced
  // by ReplaceFile).
  Status sync = done >= write_quorum_ ? SyncDirs(ok, "") : Status::Ok();
  if (done >= write_quorum_ && sync.ok()) {
    // Committed. Heal recreates the bucket on the members that missed it (every heal looks at
    // every bucket), so nothing needs journaling; the caller hears about them.
    if (warnings != nullptr) {
      for (const auto& f : failed) {
        warnings->push_back("bucket " + bucket + " not created on " + f +
                            " (cairn heal creates it there)");
      }
    }
    return Status::Ok();
  }
  // Below the write quorum: take back what this mb made, so that no bucket exists (a directory
  // that already held something, such as a concurrent PUT's object, stays).
  std::vector<bool> touched(n(), false);
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr || !before[i].touched) continue;
    touched[i] = true;
    if (!before[i].had_meta) v->Remove(BucketMetaPath(bucket)).IgnoreError();
    if (!before[i].had_dir) v->RemoveDir(bucket).IgnoreError();
  }
  SyncDirs(touched, "").IgnoreError();
  std::string why = !sync.ok() ? sync.message() : failed.empty() ? "" : failed.front();
  return QuorumError("bucket " + bucket + ": created on " + std::to_string(done) + " of " +
                     std::to_string(n()) + " members, " + std::to_string(write_quorum_) +
                     " needed; nothing kept" + (why.empty() ? std::string() : " (" + why + ")"));
}

Status ErasureSet::RemoveBucket(const std::string& bucket, bool force) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(CheckWriteQuorum());
  KeyWriteGuard guard(*locks_, BucketStripe(bucket));
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
    // The move must be durable before anything inside is deleted: else a crash can bring the
    // bucket back with some of its objects' files gone.
    Status s = MoveOutAndRemove(v, bucket);
    if (s.ok()) {
      ok[i] = true;
      ++done;
    } else {
      last = s;
    }
  }
  // (Each member's move out of the namespace was synced before its deletes; the deletes need no
  // sync: what a crash brings back of them is in .cairn/tmp, gc's.)
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
      // A directory without a valid record is not a bucket (someone's files left beside the set).
      auto meta = ReadBucketMeta(v, e.name);
      if (!meta.ok()) continue;
      auto& s = seen[e.name];
      if (s.first++ == 0) s.second = meta->created_ns;
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
      if (e.is_dir() && ValidateBucketName(e.name).ok() && ReadBucketMeta(v, e.name).ok()) {
        ++seen[e.name];
      }
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
  // A member lacks the bucket when its directory or its record is missing or does not decode.
  BucketMeta meta;
  bool have_meta = false, have_legacy = false;
  std::vector<uint32_t> missing;
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr) continue;
    auto st = v->Stat(bucket);
    bool legacy = false;
    auto m = ReadBucketMeta(v, bucket, &legacy);
    if (m.ok() && (!have_meta || (have_legacy && !legacy))) {
      meta = *m;  // a record's time wins over a legacy one
      have_meta = true;
      have_legacy = legacy;
    }
    if (st.ok() && st->is_dir() && m.ok() && !legacy) continue;
    missing.push_back(i);
  }
  if (dry_run || missing.empty()) return missing;
  if (!have_meta) meta.created_ns = NowNs();
  ASSIGN_OR_RETURN(std::string bytes, meta.Encode());
  std::vector<bool> touched(n(), false);
  std::vector<uint32_t> made;
  for (uint32_t i : missing) {
    Volume* v = volumes_[i];
    Status s = v->MakeDirs(bucket);
    if (s.ok()) s = WriteBucketMeta(v, bucket, bytes);
    // A member that cannot take it (full, read-only, a symlink in the way) does not stop the
    // heal: the bucket's objects stay short of that member, and their heal reports why.
    if (!s.ok()) continue;
    touched[i] = true;
    made.push_back(i);
  }
  RETURN_IF_ERROR(SyncDirs(touched, ""));
  return made;
}

Result<bool> ErasureSet::SettleUnfinishedBucket(const std::string& bucket, bool dry_run) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  KeyWriteGuard guard(*locks_, BucketStripe(bucket));
  // Per member: a valid record, a directory without one (damaged, or an mb cut off between the
  // two), nothing, or no answer.
  int64_t created = 0;
  uint32_t have = 0, could = 0;
  std::vector<bool> dir(n(), false), empty_dir(n(), false), absent(n(), false);
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr) {
      ++could;
      continue;
    }
    auto st = v->Stat(bucket);
    if (!st.ok()) {
      if (st.status().code() == Code::kNotFound) absent[i] = true;
      else ++could;
      continue;
    }
    auto m = ReadBucketMeta(v, bucket);
    if (m.ok()) {
      ++have;
      dir[i] = true;
      created = std::max(created, m->created_ns);
    } else if (m.status().code() != Code::kNotFound) {
      ++could;  // a record that cannot be read could have been a bucket's
    } else {
      // A directory without a record is no bucket (an mb cut off before the record): it goes
      // with the rest if it is empty.
      empty_dir[i] = true;
    }
  }
  if (have >= read_quorum_) return false;  // it exists (HealBucket's)
  for (uint32_t i = 0; i < n(); ++i) {
    if (absent[i] && replaced_ns(i) > created) ++could;  // lost with a replaced disk?
  }
  if (have + could >= read_quorum_ || have == 0) return false;
  if (dry_run) return true;
  Status last;
  for (uint32_t i = 0; i < n(); ++i) {
    if (empty_dir[i]) volumes_[i]->RemoveDir(bucket).IgnoreError();
    if (!dir[i]) continue;
    if (Status s = MoveOutAndRemove(volumes_[i], bucket); !s.ok()) last = s;
  }
  RETURN_IF_ERROR(last.WithContext("bucket " + bucket));
  return true;
}

}  // namespace cairn
