// ErasureSet: opening, consistent metadata reads, inline PUT and its commit, DELETE, HEAD, stat.
// The streaming data paths are in erasure_set_io.cc, listing in erasure_set_list.cc, buckets in
// erasure_set_buckets.cc; the commit step itself is VersionCommit (commit.h).
#include "libstore/object/erasure_set.h"

#include <algorithm>
#include <map>
#include <set>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/hash.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/framing.h"
#include "libstore/format/key_path.h"
#include "libstore/format/upload_record.h"
#include "libstore/object/commit.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/key_locks.h"

namespace cairn {

const char* Name(CopyState s) {
  switch (s) {
    case CopyState::kOk:
      return "ok";
    case CopyState::kOffline:
      return "offline";
    case CopyState::kMissing:
      return "missing";
    case CopyState::kStale:
      return "stale";
    case CopyState::kCorruptMeta:
      return "corrupt-meta";
    case CopyState::kMissingShard:
      return "missing-shard";
    case CopyState::kShortShard:
      return "short-shard";
  }
  return "?";
}

Result<std::unique_ptr<ErasureSet>> ErasureSet::Open(std::vector<Volume*> volumes,
                                                     const SetParams& p,
                                                     const std::string& lock_dir, Clock* clock) {
  ASSIGN_OR_RETURN(auto codec, ErasureCodec::Create(int(p.k), int(p.m)));
  if (volumes.size() != p.k + p.m) {
    return InvalidArgument("volume set needs " + std::to_string(p.k + p.m) + " volumes, got " +
                           std::to_string(volumes.size()));
  }
  if (p.block_size < 4096 || p.block_size > (64u << 20)) {
    return InvalidArgument("block size must be between 4 KiB and 64 MiB");
  }
  // PUT reads ahead inline_limit + 1 bytes: 2^32-1 would wrap to 0 and store every body as empty.
  if (p.inline_limit > kMaxInlineLimit) {
    return InvalidArgument("inline limit must be at most 1 MiB");
  }
  std::unique_ptr<ErasureSet> s(
      new ErasureSet(std::move(volumes), p, std::move(codec), lock_dir, clock));
  if (s->online() < s->read_quorum()) {
    return QuorumError(std::to_string(s->online()) + " of " + std::to_string(s->n()) +
                       " volumes online, " + std::to_string(s->read_quorum()) + " needed");
  }
  return s;
}

ErasureSet::ErasureSet(std::vector<Volume*> volumes, const SetParams& p,
                       std::unique_ptr<ErasureCodec> codec, const std::string& lock_dir,
                       Clock* clock)
    : SetCore(std::move(volumes), p, std::move(codec), lock_dir, clock) {}

ErasureSet::~ErasureSet() = default;

ObjectInfo ErasureSet::InfoFrom(const std::string& bucket, const ObjectMeta& m) const {
  ObjectInfo i;
  i.bucket = bucket;
  i.key = m.key;
  i.size = m.size;
  i.etag = m.etag;
  i.mod_time_ns = m.mod_time_ns;
  i.content_type = m.content_type;
  i.user_meta = m.user_meta;
  i.checksum = m.checksum;
  i.checksum_parts = m.checksum_parts;
  i.checksum_type = m.checksum_type == kMetaChecksumFullObject  ? ChecksumType::kFullObject
                    : m.checksum_type == kMetaChecksumComposite ? ChecksumType::kComposite
                                                                : ChecksumType::kNone;
  i.parts_count = uint32_t(m.parts.size());
  return i;
}

// ---------------------------------------------------------------------------------------------
// Metadata

Result<int> ErasureSet::ReadVersion(
    const std::string& bucket, const std::string& key, std::vector<MetaRead>* metas,
    const std::function<bool(const std::vector<MetaRead>&, int)>& then, MetaReads reads) {
  const std::string path = KeyPaths(bucket, key).meta;
  const std::string what = bucket + "/" + key;
  const size_t stripe = Stripe(bucket, key);
  {
    // Writers of this process hold the stripe's write lock while they rename, so under the read
    // lock this process's commits are never seen half done.
    std::shared_lock<std::shared_mutex> l(locks_->InProcess(stripe));
    *metas = reads == MetaReads::kQuorum ? ReadQuorumMeta(path, Rotation(bucket, key))
                                         : ReadAllMeta(path);
    for (int round = 0; round < 2; ++round) {
      auto pick = PickReadable(*metas, what);
      if (pick.ok() && (!then || then(*metas, *pick))) return pick;
      // Absent on a read quorum is an answer, whatever a writer is doing: a committed version
      // is on a write quorum at every moment of a later commit (each member holds the old or
      // the new copy), so it is never missing from a read quorum. (A quorum read stops only
      // where every member's copies would give the same answer: QuorumDecided.)
      if (!pick.ok() && pick.status().code() == Code::kNotFound) return pick;
      // `then` wanted more than the members read (the shards of the others): read them too.
      if (!AnySkipped(*metas)) break;
      ReadSkippedMeta(path, metas);
    }
  }
  // Copies that disagree below quorum, or a version whose shard files vanished, can be a commit
  // of another process caught half done. Under the write lock (which every commit holds, across
  // processes too) none is; what is read now is the truth, and only then is a commit that a
  // crash cut off settled from what it left (ResolveVersion: its displaced copies, or copies of
  // a write that never committed), as those files come and go while a commit runs.
  KeyWriteGuard guard(*locks_, stripe);
  *metas = ReadAllMeta(path);
  ASSIGN_OR_RETURN(int pick, ResolveReadable(path, metas, what));
  if (then) then(*metas, pick);
  return pick;
}

Result<ObjectDetail> ErasureSet::StatObject(const std::string& bucket, const std::string& key) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  const ObjectPaths paths = KeyPaths(bucket, key);
  std::vector<MetaRead> metas;
  auto pick = ReadVersion(bucket, key, &metas);
  if (!pick.ok()) {
    if (pick.status().code() == Code::kNotFound) RETURN_IF_ERROR(CheckBucket(bucket));
    return pick.status();
  }
  ObjectDetail d;
  d.meta = metas[*pick].meta;
  d.info = InfoFrom(bucket, d.meta);
  for (uint32_t i = 0; i < n(); ++i) {
    ShardState s;
    s.position = i;
    s.volume = volumes_[i] ? volumes_[i]->Describe() : "(offline)";
    const MetaRead& mr = metas[i];
    if (volumes_[i] == nullptr) {
      s.state = CopyState::kOffline;
    } else if (!mr.present) {
      s.state = mr.absent() ? CopyState::kMissing : CopyState::kCorruptMeta;
    } else if (mr.displaced || mr.meta.version_id != d.meta.version_id) {
      // (Displaced: the member's file holds a copy of a commit a crash cut off.)
      s.state = CopyState::kStale;
    } else {
      s.shard_index = int(mr.meta.shard_index);
      s.shard_bytes = mr.meta.shard_size;
      s.state = CopyState::kOk;
      if (mr.meta.is_multipart()) {
        // One shard file per part, in the upload's directory.
        for (const ObjectPart& p : mr.meta.parts) {
          auto fi = volumes_[i]->Stat(PartShardPath(mr.meta.data_id, p.data_id));
          if (!fi.ok()) {
            s.state = CopyState::kMissingShard;
            break;
          }
          if (fi->size != p.shard_size) s.state = CopyState::kShortShard;
        }
      } else if (!mr.meta.is_inline()) {
        auto fi = volumes_[i]->Stat(paths.ShardPath(mr.meta.data_id.Hex()));
        if (!fi.ok()) {
          s.state = CopyState::kMissingShard;
        } else if (fi->size != mr.meta.shard_size) {
          s.state = CopyState::kShortShard;
        }
      }
    }
    d.shards.push_back(std::move(s));
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// PUT

ObjectMeta ErasureSet::BaseMeta(const std::string& key, uint64_t size, const PutOptions& opts,
                                uint32_t rotation) const {
  ObjectMeta m;
  m.key = key;
  m.version_id = Uuid::Random();
  m.mod_time_ns = NowNs();  // the set's clock
  m.size = size;
  m.content_type = opts.content_type;
  m.user_meta = opts.user_meta;
  m.k = params_.k;
  m.m = params_.m;
  m.block_size = params_.block_size;
  m.distribution.resize(n());
  for (uint32_t s = 0; s < n(); ++s) m.distribution[s] = uint8_t((rotation + s) % n());
  StripeLayout lay{size, params_.block_size, params_.k};
  m.shard_size = lay.shard_size();
  return m;
}

void ErasureSet::SetChecksum(ObjectMeta* m, const ChecksumValue& v) {
  if (v.algorithm == ChecksumAlgorithm::kNone) return;
  m->checksum = v;
  m->checksum_type = kMetaChecksumFullObject;
  m->checksum_parts = 0;
}

Status ErasureSet::CheckWriteQuorum() const {
  if (online() >= write_quorum_) return Status::Ok();
  return QuorumError(std::to_string(online()) + " of " + std::to_string(n()) +
                     " volumes online, a write needs " + std::to_string(write_quorum_));
}

Result<ObjectInfo> ErasureSet::PutObject(const std::string& bucket, const std::string& key,
                                         Source& src, const PutOptions& opts) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(ValidatePutOptions(opts));
  RETURN_IF_ERROR(CheckBucket(bucket));
  RETURN_IF_ERROR(CheckWriteQuorum());
  // Conditions are decided at the commit; this early look only spares reading a body that would
  // be refused.
  RETURN_IF_ERROR(CheckPutConditionsNow(bucket, key, opts, /*locked=*/false));
  // Read up to inline_limit + 1 bytes: if the body ends within the limit it is stored inline.
  PooledBuffer head(params_.inline_limit + 1);
  ASSIGN_OR_RETURN(size_t got, ReadFull(src, head.data(), params_.inline_limit + 1));
  if (got > params_.inline_limit) {
    return PutStreaming(bucket, key, src, opts,
                        std::string_view(reinterpret_cast<char*>(head.data()), got));
  }
  // Inline: every volume's metadata carries its own framed shard.
  ObjectMeta base = BaseMeta(key, got, opts, Rotation(bucket, key));
  // One pass for every digest: the MD5 serves both the ETag and Content-MD5.
  BodyChecksums sums(ChecksumPlan(opts));
  sums.Update(head.data(), got);
  sums.Finish();
  ASSIGN_OR_RETURN(ExpectedDigests expected, FinalExpectations(opts));
  RETURN_IF_ERROR(VerifyBody(expected, sums, nullptr).WithContext(bucket + "/" + key));
  SetChecksum(&base, sums.checksum());
  if (opts.etag == EtagMode::kFast) {
    base.etag = "x" + Xxh3_128(head.data(), got).Hex();
  } else {
    base.etag = ToHex(sums.md5().data(), 16);
  }
  std::vector<std::string> framed(n());
  for (auto& f : framed) f.reserve(base.shard_size);
  StripeLayout lay{got, params_.block_size, params_.k};
  EncodeBlocksInto(lay, head.data(), framed);

  const std::string tmp = TempName(kTmpDir, ".meta");
  VersionCommit commit(*this, bucket, key, Uuid(), /*new_version=*/true);
  ObjectMeta m = base;
  for (uint32_t s = 0; s < n(); ++s) {
    const uint32_t pos = base.distribution[s];
    Volume* v = volumes_[pos];
    if (v == nullptr) continue;
    m.shard_index = s;
    m.inline_shard = std::move(framed[s]);
    ASSIGN_OR_RETURN(std::string bytes, m.Encode());
    const std::string meta_tmp = TakeSpare(pos, tmp);
    // A spare (a superseded metadata file) is overwritten in place; the fresh temp name is a new
    // file, with nothing beyond the new content to cut (WriteFile: no size check).
    Status st = meta_tmp == tmp ? v->WriteFile(meta_tmp, bytes, /*sync=*/false)
                                : v->OverwriteFile(meta_tmp, bytes);
    if (st.ok()) {
      commit.Stage(pos, meta_tmp);
    } else {
      commit.Fail(pos, st);
      v->Remove(meta_tmp).IgnoreError();
    }
  }
  ObjectInfo info = InfoFrom(bucket, base);
  RETURN_IF_ERROR(CommitPut(commit, base, opts, &info));
  return info;
}

void ErasureSet::EncodeBlocksInto(const StripeLayout& lay, const uint8_t* data,
                                  std::vector<std::string>& framed) const {
  const uint32_t k = params_.k, total = n();
  uint64_t cs_full = lay.full_chunk_len();
  PooledBuffer scratch(size_t(cs_full) * total);
  for (uint64_t b = 0; b < lay.num_blocks(); ++b) {
    uint64_t len = lay.block_len(b), cs = lay.chunk_len(b);
    uint8_t* chunks[kMaxShards];
    for (uint32_t s = 0; s < total; ++s) chunks[s] = scratch.data() + s * cs;
    std::memset(scratch.data(), 0, cs * k);
    std::memcpy(scratch.data(), data + b * lay.block_size, len);
    codec_->Encode(cs, chunks, chunks + k);
    for (uint32_t s = 0; s < total; ++s) {
      AppendFramed(&framed[s], chunks[s], cs, ChunkSum(chunks[s], cs, 0));
    }
  }
}

Status ErasureSet::CheckPutConditionsNow(const std::string& bucket, const std::string& key,
                                         const PutOptions& opts, bool locked) {
  if (!opts.if_none_match_star && !opts.if_match) return Status::Ok();
  std::vector<MetaRead> metas;
  Result<int> pick = 0;
  if (locked) {
    const std::string path = KeyPaths(bucket, key).meta;
    metas = ReadAllMeta(path);
    pick = ResolveReadable(path, &metas, bucket + "/" + key);
  } else {
    pick = ReadVersion(bucket, key, &metas);
  }
  if (!pick.ok() && pick.status().code() != Code::kNotFound) return pick.status();
  ObjectInfo current;
  if (pick.ok()) current = InfoFrom(bucket, metas[*pick].meta);
  return CheckPutConditions(opts, pick.ok() ? &current : nullptr).WithContext(bucket + "/" + key);
}

Status ErasureSet::CommitPut(VersionCommit& c, const ObjectMeta& base, const PutOptions& opts,
                             ObjectInfo* info) {
  const bool fsync = opts.fsync;
  if (c.staged() < write_quorum_) {
    const Status last = c.first_error();
    return QuorumError("write reached " + std::to_string(c.staged()) + " of " +
                           std::to_string(n()) + " volumes, " + std::to_string(write_quorum_) +
                           " needed",
                       last);
  }
  // The new files are flushed before the lock is taken, so writers of other keys in this stripe
  // do not wait for this flush.
  if (fsync) RETURN_IF_ERROR(FlushCommits(*this, {&c}, VersionCommit::Step::kStaged));
  {
    KeyWriteGuard guard(*locks_, Stripe(c.bucket(), c.key()));
    RETURN_IF_ERROR(CheckPutConditionsNow(c.bucket(), c.key(), opts, /*locked=*/true));
    RETURN_IF_ERROR(c.PublishWithQuorum(write_quorum_, fsync));
  }
  c.Finish();
  std::vector<MissedWrite> missed = c.Missed();
  if (!missed.empty()) {
    std::vector<uint32_t> positions;
    for (const auto& w : missed) positions.push_back(w.position);
    RecordMrf(c.bucket(), c.key(), base.version_id, positions);
  }
  if (info != nullptr) info->missed = std::move(missed);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// DELETE

Status ErasureSet::DeleteObject(const std::string& bucket, const std::string& key) {
  return DeleteObjects(bucket, {key}).front();
}

namespace {
// Deletes that share their flushes (DeleteObjects).
constexpr size_t kDeleteBatch = 64;
}  // namespace

std::vector<Status> ErasureSet::DeleteObjects(const std::string& bucket,
                                              const std::vector<std::string>& keys) {
  std::vector<Status> out(keys.size());
  if (Status b = ValidateBucketName(bucket); !b.ok()) {
    std::fill(out.begin(), out.end(), b);
    return out;
  }
  // In batches of at most kDeleteBatch: each batch's markers are written into the spare files the
  // previous batch's swapped-out copies and markers became, so a long rm -r allocates no inode
  // once the pool holds a batch, and frees one per member and key (the deleted version's copy)
  // only once the pool is full.
  for (size_t first = 0; first < keys.size(); first += kDeleteBatch) {
    DeleteBatch(bucket, keys, first, std::min(keys.size(), first + kDeleteBatch), &out);
  }
  return out;
}

void ErasureSet::DeleteBatch(const std::string& bucket, const std::vector<std::string>& keys,
                             size_t begin, size_t end, std::vector<Status>* results) {
  std::vector<Status>& out = *results;
  // One delete: its key's index in `keys`, its marker, and the commit of the marker.
  struct Delete {
    size_t index;
    ObjectMeta marker;
    std::unique_ptr<VersionCommit> commit;
  };
  std::vector<Delete> batch;
  Status bucket_missing;  // CheckBucket's answer, asked once, on the first key not found
  bool bucket_checked = false;
  bool released = false;  // a member's reserve was given up for a marker (KeepReserves)
  for (size_t i = begin; i < end; ++i) {
    const std::string& key = keys[i];
    const std::string what = bucket + "/" + key;
    if (out[i] = ValidateKey(key); !out[i].ok()) continue;
    std::vector<MetaRead> metas;
    auto pick = ReadVersion(bucket, key, &metas);
    if (!pick.ok()) {
      out[i] = pick.status();
      if (out[i].code() == Code::kNotFound) {
        if (!bucket_checked) bucket_missing = CheckBucket(bucket);
        bucket_checked = true;
        if (!bucket_missing.ok()) out[i] = bucket_missing;
      }
      continue;
    }
    if (online() < write_quorum_) {
      out[i] = QuorumError(std::to_string(online()) + " of " + std::to_string(n()) +
                           " volumes online, a delete needs " + std::to_string(write_quorum_));
      continue;
    }
    // The delete marker is committed like a version (staged, flushed, published on a write
    // quorum or rolled back), so a delete that stops half way leaves markers that say so.
    Delete d{i, BaseMeta(key, 0, PutOptions(), Rotation(bucket, key)), nullptr};
    d.marker.delete_marker = true;
    d.commit = std::make_unique<VersionCommit>(*this, bucket, key, Uuid(), /*new_version=*/true);
    d.commit->ExpectCopies();
    const std::string tmp = TempName(kTmpDir, ".meta");
    for (uint32_t s = 0; s < n(); ++s) {
      const uint32_t pos = d.marker.distribution[s];
      Volume* v = volumes_[pos];
      if (v == nullptr) continue;
      d.marker.shard_index = s;
      auto bytes = d.marker.Encode();
      if (!bytes.ok()) {
        d.commit->Fail(pos, bytes.status());
        continue;
      }
      const std::string meta_tmp = TakeSpare(pos, tmp);
      Status st = v->OverwriteFile(meta_tmp, *bytes);
      if (st.code() == Code::kNoSpace && ReleaseReserve(pos)) {
        released = true;
        st = v->OverwriteFile(meta_tmp, *bytes);
      }
      if (st.ok()) {
        d.commit->Stage(pos, meta_tmp);
      } else {
        d.commit->Fail(pos, st);
        v->Remove(meta_tmp).IgnoreError();
      }
    }
    if (d.commit->staged() < write_quorum_) {
      const Status last = d.commit->first_error();
      out[i] = QuorumError(what + ": delete reached " + std::to_string(d.commit->staged()) +
                               " of " + std::to_string(n()) + " volumes, " +
                               std::to_string(write_quorum_) + " needed",
                           last);
      continue;
    }
    batch.push_back(std::move(d));
  }
  // Many deletes share each flush: one for every marker's file, one for the renames.
  std::vector<VersionCommit*> commits;
  for (auto& d : batch) commits.push_back(d.commit.get());
  if (Status f = FlushCommits(*this, commits, VersionCommit::Step::kStaged); !f.ok()) {
    for (auto& d : batch) out[d.index] = f;
    return;  // the commits remove their temp files
  }
  commits.clear();
  for (auto& d : batch) {
    KeyWriteGuard guard(*locks_, Stripe(bucket, keys[d.index]));
    Status s = d.commit->PublishWithQuorum(write_quorum_, /*flush=*/false);
    if (s.ok())
      commits.push_back(d.commit.get());
    else
      out[d.index] = s.WithContext(bucket + "/" + keys[d.index]);
  }
  if (Status f = FlushCommits(*this, commits, VersionCommit::Step::kPublished); !f.ok()) {
    // Whether the markers reached the disk is unknown: they stay, and so does every file of the
    // deleted versions, for heal to settle.
    for (auto& d : batch) {
      if (out[d.index].ok()) out[d.index] = f;
    }
    return;
  }
  for (auto& d : batch) {
    if (!out[d.index].ok()) continue;
    const std::string& key = keys[d.index];
    {
      // The delete is durable. The deleted version's shard files go; so do the markers once
      // every member holds one (until then they keep a member that missed the delete from
      // bringing the object back), and only while they are still this delete's (the key may
      // have been written again since it was published). What a crash leaves of either, heal
      // and gc remove.
      KeyWriteGuard guard(*locks_, Stripe(bucket, key));
      d.commit->Finish();
      if (d.commit->published() == n()) {
        const ObjectPaths& paths = d.commit->paths();
        auto now = ReadAllMeta(paths.meta);
        bool ours = true;
        for (const auto& r : now) {
          ours = ours && r.present && r.meta.version_id == d.marker.version_id;
        }
        // Two temp names serve every member, as a PUT's one does (each has its own temp
        // directory).
        const std::string marker_spare = ours ? TempName(kTmpDir, ".meta") : "";
        const std::string spare = ours ? TempName(kTmpDir, ".meta") : "";
        for (uint32_t pos = 0; ours && pos < n(); ++pos) {
          Volume* v = volumes_[pos];
          {
            // The key's directory holds the marker until it moves out (and the copy beside it
            // until that one does): one look-up of it for both moves.
            ScopedDirHold hold(v, paths.dir);
            // The marker and the deleted version's copy beside it: their inodes become spare
            // temp files, for the next writes (freeing and allocating inodes is what small
            // writes pay most for on ext4). Moved aside, the marker is gone from the key as if
            // removed.
            if (v->Rename(paths.meta, marker_spare).ok()) {
              GiveSpare(pos, marker_spare);
            } else {
              v->Remove(paths.meta).IgnoreError();
            }
            if (v->Rename(paths.DisplacedPath(), spare).ok()) GiveSpare(pos, spare);
          }
          RemoveEmptyParents(v, bucket, paths.dir);
        }
      }
    }
    std::vector<uint32_t> missed;
    for (const auto& w : d.commit->Missed()) missed.push_back(w.position);
    if (!missed.empty()) RecordMrf(bucket, key, d.marker.version_id, missed);
  }
  if (released) KeepReserves();  // the deleted versions' room, where there is some now
}

}  // namespace cairn
