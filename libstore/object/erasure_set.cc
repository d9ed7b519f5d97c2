// ErasureSet: buckets, metadata quorum, inline PUT, commit and rollback, DELETE, HEAD, stat.
// The streaming data paths are in erasure_set_io.cc, listing in erasure_set_list.cc.
#include "libstore/object/erasure_set.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/hash.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/framing.h"
#include "libstore/format/key_path.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/key_locks.h"

namespace cairn {

uint32_t WriteQuorum(uint32_t k, uint32_t m) { return std::max(k, (k + m) / 2 + 1); }

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<ErasureSet>> ErasureSet::Open(std::vector<Volume*> volumes,
                                                     const SetParams& p,
                                                     const std::string& lock_dir) {
  ASSIGN_OR_RETURN(auto codec, ErasureCodec::Create(int(p.k), int(p.m)));
  if (volumes.size() != p.k + p.m) {
    return InvalidArgument("volume set needs " + std::to_string(p.k + p.m) + " volumes, got " +
                           std::to_string(volumes.size()));
  }
  if (p.block_size < 4096 || p.block_size > (64u << 20)) {
    return InvalidArgument("block size must be between 4 KiB and 64 MiB");
  }
  std::unique_ptr<ErasureSet> s(new ErasureSet(std::move(volumes), p, std::move(codec), lock_dir));
  if (s->online() < s->read_quorum()) {
    return QuorumError(std::to_string(s->online()) + " of " + std::to_string(s->n()) +
                       " volumes online, " + std::to_string(s->read_quorum()) + " needed");
  }
  return s;
}

ErasureSet::ErasureSet(std::vector<Volume*> volumes, const SetParams& p,
                       std::unique_ptr<ErasureCodec> codec, const std::string& lock_dir)
    : volumes_(std::move(volumes)),
      params_(p),
      write_quorum_(WriteQuorum(p.k, p.m)),
      read_quorum_(std::max(p.k, p.k + p.m - WriteQuorum(p.k, p.m) + 1)),
      codec_(std::move(codec)),
      locks_(std::make_unique<KeyLocks>(lock_dir)),
      spares_(volumes_.size()) {}

ErasureSet::~ErasureSet() {
  // Spare temp files hold superseded metadata; nothing needs them once this set is closed.
  for (uint32_t i = 0; i < spares_.size(); ++i) {
    for (const auto& p : spares_[i]) volumes_[i]->Remove(p).IgnoreError();
  }
}

uint32_t ErasureSet::online() const {
  uint32_t c = 0;
  for (auto* v : volumes_) c += v != nullptr;
  return c;
}

size_t ErasureSet::Stripe(const std::string& bucket, const std::string& key) const {
  uint64_t h = Xxh3_64(key.data(), key.size(), Xxh3_64(bucket.data(), bucket.size()));
  return size_t(h % KeyLocks::kStripes);
}

uint32_t ErasureSet::Rotation(const std::string& bucket, const std::string& key) const {
  std::string full = bucket + "/" + key;
  return uint32_t(Xxh3_64(full.data(), full.size()) % n());
}

ObjectInfo ErasureSet::InfoFrom(const std::string& bucket, const ObjectMeta& m) const {
  ObjectInfo i;
  i.bucket = bucket;
  i.key = m.key;
  i.size = m.size;
  i.etag = m.etag;
  i.mod_time_ns = m.mod_time_ns;
  i.content_type = m.content_type;
  i.user_meta = m.user_meta;
  return i;
}

// ---------------------------------------------------------------------------------------------
// Metadata

std::vector<ErasureSet::MetaRead> ErasureSet::ReadAllMeta(const std::string& path) {
  std::vector<MetaRead> out(n());
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr) {
      out[i].error = IOError("volume offline");
      continue;
    }
    auto raw = v->ReadFile(path, kMaxMetaFileSize);
    if (!raw.ok()) {
      out[i].error = raw.status();
      continue;
    }
    auto m = ObjectMeta::Decode(*raw);
    if (!m.ok()) {
      out[i].error = m.status().WithContext(v->Describe() + "/" + path);
      continue;
    }
    out[i].present = true;
    out[i].meta = std::move(m).value();
    out[i].raw = std::move(raw).value();
  }
  return out;
}

Result<int> ErasureSet::PickVersion(const std::vector<MetaRead>& metas, const std::string& what) {
  // Group by version id; choose the newest version that has a read quorum of copies.
  int best = -1;
  uint32_t answered = 0, present = 0;
  for (uint32_t i = 0; i < metas.size(); ++i) {
    if (metas[i].present) ++present;
    if (metas[i].present || metas[i].error.code() == Code::kNotFound) ++answered;
    if (!metas[i].present) continue;
    uint32_t count = 0;
    for (const auto& o : metas) count += o.present && o.meta.version_id == metas[i].meta.version_id;
    if (count < read_quorum_) continue;
    if (best < 0 || metas[i].meta.mod_time_ns > metas[best].meta.mod_time_ns ||
        (metas[i].meta.mod_time_ns == metas[best].meta.mod_time_ns &&
         metas[best].meta.version_id < metas[i].meta.version_id)) {
      best = int(i);
    }
  }
  if (best >= 0) return best;
  // A read quorum of volumes says "no such file": the object does not exist (or was deleted and
  // a few stale copies are left).
  if (answered - present >= read_quorum_) return NotFound(what + ": no such object");
  return DataLoss(what + ": metadata found on " + std::to_string(present) + " volumes, no version on " +
                  std::to_string(read_quorum_) + " (" + std::to_string(n() - answered) +
                  " volumes unreadable)");
}

Result<ObjectInfo> ErasureSet::HeadObject(const std::string& bucket, const std::string& key) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  std::shared_lock<std::shared_mutex> l(locks_->InProcess(Stripe(bucket, key)));
  auto metas = ReadAllMeta(KeyPaths(bucket, key).meta);
  auto pick = PickVersion(metas, bucket + "/" + key);
  if (!pick.ok()) {
    if (pick.status().code() == Code::kNotFound) RETURN_IF_ERROR(CheckBucket(bucket));
    return pick.status();
  }
  return InfoFrom(bucket, metas[*pick].meta);
}

Result<ObjectDetail> ErasureSet::StatObject(const std::string& bucket, const std::string& key) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  const ObjectPaths paths = KeyPaths(bucket, key);
  std::shared_lock<std::shared_mutex> l(locks_->InProcess(Stripe(bucket, key)));
  auto metas = ReadAllMeta(paths.meta);
  auto pick = PickVersion(metas, bucket + "/" + key);
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
      s.state = "offline";
    } else if (!mr.present) {
      s.state = mr.error.code() == Code::kNotFound ? "missing" : "corrupt-meta";
    } else if (mr.meta.version_id != d.meta.version_id) {
      s.state = "stale";
    } else {
      s.shard_index = int(mr.meta.shard_index);
      s.shard_bytes = mr.meta.shard_size;
      s.state = "ok";
      if (!mr.meta.is_inline()) {
        auto fi = volumes_[i]->Stat(paths.ShardPath(mr.meta.data_id.Hex()));
        if (!fi.ok()) {
          s.state = "missing-shard";
        } else if (fi->size != mr.meta.shard_size) {
          s.state = "short-shard";
        }
      }
    }
    d.shards.push_back(std::move(s));
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// PUT

Result<size_t> ReadFull(Source& src, void* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ASSIGN_OR_RETURN(size_t r, src.Read(static_cast<uint8_t*>(buf) + got, n - got));
    if (r == 0) break;
    got += r;
  }
  return got;
}

Status ErasureSet::SyncVolumes(const std::vector<bool>& which) {
  std::set<std::string> done;
  for (uint32_t i = 0; i < n(); ++i) {
    if (!which[i] || volumes_[i] == nullptr) continue;
    if (!done.insert(volumes_[i]->SyncDomain()).second) continue;
    RETURN_IF_ERROR(volumes_[i]->SyncAll());
  }
  return Status::Ok();
}

ObjectMeta ErasureSet::BaseMeta(const std::string& key, uint64_t size, const PutOptions& opts,
                                uint32_t rotation) const {
  ObjectMeta m;
  m.key = key;
  m.version_id = Uuid::Random();
  m.mod_time_ns = NowNs();
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

Result<ObjectInfo> ErasureSet::PutObject(const std::string& bucket, const std::string& key,
                                         Source& src, const PutOptions& opts) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(CheckBucket(bucket));
  if (online() < write_quorum_) {
    return QuorumError(std::to_string(online()) + " of " + std::to_string(n()) +
                       " volumes online, a write needs " + std::to_string(write_quorum_));
  }
  // Read up to inline_limit + 1 bytes: if the body ends within the limit it is stored inline.
  PooledBuffer head(params_.inline_limit + 1);
  ASSIGN_OR_RETURN(size_t got, ReadFull(src, head.data(), params_.inline_limit + 1));
  if (got > params_.inline_limit) {
    return PutStreaming(bucket, key, src, opts,
                        std::string_view(reinterpret_cast<char*>(head.data()), got));
  }
  // Inline: every volume's metadata carries its own framed shard.
  ObjectMeta base = BaseMeta(key, got, opts, Rotation(bucket, key));
  if (opts.etag == EtagMode::kFast) {
    base.etag = "x" + Xxh3_128(head.data(), got).Hex();
  } else {
    Md5Stream md5;
    md5.Update(head.data(), got);
    base.etag = md5.FinalHex();
  }
  std::vector<std::string> framed(n());
  for (auto& f : framed) f.reserve(base.shard_size);
  StripeLayout lay{got, params_.block_size, params_.k};
  EncodeBlocksInto(lay, head.data(), framed);

  std::string tmp = TempName(kTmpDir);
  std::vector<ObjectMeta> metas(n(), base);
  std::vector<std::string> meta_tmp(n());
  std::vector<bool> ok(n(), false);
  Status last;
  for (uint32_t s = 0; s < n(); ++s) {
    uint32_t pos = base.distribution[s];
    ObjectMeta& m = metas[pos];
    m.shard_index = s;
    m.inline_shard = std::move(framed[s]);
    Volume* v = volumes_[pos];
    if (v == nullptr) continue;
    meta_tmp[pos] = TakeSpare(pos, tmp + ".meta");
    Status st = v->OverwriteFile(meta_tmp[pos], m.Encode());
    if (st.ok()) {
      ok[pos] = true;
    } else {
      last = st;
      v->Remove(meta_tmp[pos]).IgnoreError();
    }
  }
  Status c = Commit(bucket, key, tmp, meta_tmp, metas, ok, opts.fsync);
  if (!c.ok()) {
    if (!last.ok()) c = c.WithContext(last.message());
    return c;
  }
  return InfoFrom(bucket, base);
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

Status ErasureSet::Commit(const std::string& bucket, const std::string& key, const std::string& tmp,
                          const std::vector<std::string>& meta_tmp, std::vector<ObjectMeta>& metas,
                          std::vector<bool>& ok, bool fsync) {
  const ObjectPaths paths = KeyPaths(bucket, key);
  const std::string& dir = paths.dir;
  const std::string& meta_path = paths.meta;
  auto shard_path = [&](uint32_t i) { return paths.ShardPath(metas[i].data_id.Hex()); };
  auto cleanup_tmp = [&](uint32_t i) {
    volumes_[i]->Remove(meta_tmp[i]).IgnoreError();
    if (!metas[i].is_inline()) volumes_[i]->Remove(tmp + ".shard").IgnoreError();
  };
  uint32_t ready = 0;
  for (uint32_t i = 0; i < n(); ++i) ready += ok[i];
  Status sync = Status::Ok();
  if (ready >= write_quorum_ && fsync) sync = SyncVolumes(ok);
  if (ready < write_quorum_ || !sync.ok()) {
    for (uint32_t i = 0; i < n(); ++i) {
      if (volumes_[i] != nullptr) cleanup_tmp(i);
    }
    if (!sync.ok()) return sync;
    return QuorumError("write reached " + std::to_string(ready) + " of " + std::to_string(n()) +
                       " volumes, " + std::to_string(write_quorum_) + " needed");
  }

  struct Done {
    bool committed = false;
    bool exchanged = false;  // meta_tmp now holds the previous metadata (swapped, not replaced)
    Uuid old_data;           // previous shard file, deleted after success
  };
  std::vector<Done> done(n());
  uint32_t committed = 0;
  Status last;
  {
    KeyWriteGuard guard(*locks_, Stripe(bucket, key));
    for (uint32_t i = 0; i < n(); ++i) {
      if (!ok[i]) continue;
      Volume* v = volumes_[i];
      Status s;
      // A concurrent DELETE of a sibling key may remove the (empty) directory between MakeDirs and
      // the renames: try once more.
      for (int attempt = 0; attempt < 2; ++attempt) {
        auto old = v->ReadFile(meta_path, kMaxMetaFileSize);
        if (old.ok()) {
          auto om = ObjectMeta::Decode(*old);
          if (om.ok()) done[i].old_data = om->data_id;
        } else if (dir.size() > bucket.size()) {
          // The bucket directory itself is never created here: a PUT must not revive a bucket
          // that was removed meanwhile.
          s = v->Stat(dir).ok() ? Status::Ok() : v->MakeDirs(dir);
          if (!s.ok()) break;
        }
        if (!metas[i].is_inline()) {
          s = v->Rename(tmp + ".shard", shard_path(i));
          if (!s.ok()) {
            if (s.code() == Code::kNotFound) continue;
            break;
          }
        }
        // Over an existing version: swap, so the previous metadata stays whole in meta_tmp (for a
        // rollback) and its inode is reused by the next PUT instead of being freed.
        if (old.ok()) {
          s = v->Exchange(meta_tmp[i], meta_path);
          if (s.ok()) done[i].exchanged = true;
        } else {
          s = v->Rename(meta_tmp[i], meta_path);
        }
        if (s.code() != Code::kNotFound) break;
      }
      if (s.ok()) {
        done[i].committed = true;
        ++committed;
      } else {
        last = s;
        cleanup_tmp(i);
        if (!metas[i].is_inline()) v->Remove(shard_path(i)).IgnoreError();
      }
    }
    std::vector<bool> which(n());
    for (uint32_t i = 0; i < n(); ++i) which[i] = done[i].committed;
    Status dsync = Status::Ok();
    if (committed >= write_quorum_ && fsync) dsync = SyncVolumes(which);
    if (committed < write_quorum_ || !dsync.ok()) {
      // Roll back: swap the previous metadata back in, or remove the new one for a new key.
      for (uint32_t i = 0; i < n(); ++i) {
        if (!done[i].committed) continue;
        Volume* v = volumes_[i];
        if (done[i].exchanged) {
          v->Exchange(meta_tmp[i], meta_path).IgnoreError();
          v->Remove(meta_tmp[i]).IgnoreError();
        } else {
          v->Remove(meta_path).IgnoreError();
          RemoveEmptyParents(v, bucket, dir);
        }
        if (!metas[i].is_inline()) v->Remove(shard_path(i)).IgnoreError();
      }
      if (fsync) SyncVolumes(which).IgnoreError();
      if (!dsync.ok()) return dsync;
      return QuorumError("commit reached " + std::to_string(committed) + " of " +
                         std::to_string(n()) + " volumes, " + std::to_string(write_quorum_) +
                         " needed" + (last.ok() ? std::string() : ": " + last.message()));
    }
  }
  // Success: drop the old shard files, keep the swapped-out metadata files as spares, record
  // volumes that missed the write.
  std::vector<uint32_t> missed;
  for (uint32_t i = 0; i < n(); ++i) {
    if (!done[i].committed) {
      missed.push_back(i);
      continue;
    }
    if (!done[i].old_data.IsZero() && done[i].old_data != metas[i].data_id) {
      volumes_[i]->Remove(paths.ShardPath(done[i].old_data.Hex())).IgnoreError();
    }
    if (done[i].exchanged) GiveSpare(i, meta_tmp[i]);
  }
  if (!missed.empty()) RecordMrf(bucket, key, metas[0].version_id, missed);
  return Status::Ok();
}

std::string ErasureSet::TakeSpare(uint32_t pos, const std::string& fallback) {
  std::lock_guard<std::mutex> l(spare_mu_);
  auto& v = spares_[pos];
  if (v.empty()) return fallback;
  std::string s = std::move(v.back());
  v.pop_back();
  return s;
}

void ErasureSet::GiveSpare(uint32_t pos, const std::string& path) {
  {
    std::lock_guard<std::mutex> l(spare_mu_);
    if (spares_[pos].size() < kMaxSpares) {
      spares_[pos].push_back(path);
      return;
    }
  }
  volumes_[pos]->Remove(path).IgnoreError();
}

void ErasureSet::RemoveEmptyParents(Volume* v, const std::string& bucket, std::string dir) {
  while (dir.size() > bucket.size()) {
    if (!v->RemoveDir(dir).ok()) return;
    dir.resize(dir.rfind('/'));
  }
}

// ---------------------------------------------------------------------------------------------
// DELETE

Status ErasureSet::DeleteObject(const std::string& bucket, const std::string& key) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  const ObjectPaths paths = KeyPaths(bucket, key);
  KeyWriteGuard guard(*locks_, Stripe(bucket, key));
  auto metas = ReadAllMeta(paths.meta);
  auto pick = PickVersion(metas, bucket + "/" + key);
  if (!pick.ok()) {
    if (pick.status().code() == Code::kNotFound) RETURN_IF_ERROR(CheckBucket(bucket));
    return pick.status();
  }
  uint32_t gone = 0;
  std::vector<bool> touched(n(), false);
  Status last;
  for (uint32_t i = 0; i < n(); ++i) {
    Volume* v = volumes_[i];
    if (v == nullptr) continue;
    if (!metas[i].present) {
      if (metas[i].error.code() == Code::kNotFound) ++gone;
      else if (v->Remove(paths.meta).ok()) ++gone;  // corrupt copy: remove it too
      continue;
    }
    Status s = v->Remove(paths.meta);
    if (s.ok() || s.code() == Code::kNotFound) {
      ++gone;
      touched[i] = true;
      if (!metas[i].meta.is_inline()) {
        v->Remove(paths.ShardPath(metas[i].meta.data_id.Hex())).IgnoreError();
      }
      RemoveEmptyParents(v, bucket, paths.dir);
    } else {
      last = s;
    }
  }
  RETURN_IF_ERROR(SyncVolumes(touched));
  if (gone < write_quorum_) {
    return QuorumError(bucket + "/" + key + ": deleted on " + std::to_string(gone) + " volumes, " +
                       std::to_string(write_quorum_) + " needed" +
                       (last.ok() ? std::string() : ": " + last.message()));
  }
  return Status::Ok();
}

}  // namespace cairn
