#include "libstore/object/set_core.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "libstore/common/group_sync.h"
#include "libstore/common/hash.h"
#include "libstore/format/key_path.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/key_locks.h"

namespace cairn {

uint32_t WriteQuorum(uint32_t k, uint32_t m) { return std::max(k, (k + m) / 2 + 1); }

bool SameCopy(const MetaRead& a, const MetaRead& b) {
  if (a.present != b.present) return false;
  if (a.present) return a.file_raw() == b.file_raw();
  return a.error.error_class() == b.error.error_class();
}

SetCore::SetCore(std::vector<Volume*> volumes, const SetParams& p,
                 std::unique_ptr<ErasureCodec> codec, const std::string& lock_dir, Clock* clock)
    : volumes_(std::move(volumes)),
      params_(p),
      write_quorum_(WriteQuorum(p.k, p.m)),
      read_quorum_(std::max(p.k, p.k + p.m - WriteQuorum(p.k, p.m) + 1)),
      codec_(std::move(codec)),
      locks_(std::make_unique<KeyLocks>(lock_dir)),
      clock_(clock != nullptr ? clock : Clock::Real()),
      replaced_ns_(volumes_.size(), 0),
      spares_(volumes_.size()) {
  for (uint32_t i = 0; i < volumes_.size(); ++i) {
    if (volumes_[i] == nullptr) continue;
    // Written once, durably, when heal formats the member as a replacement; a record that does
    // not decode is taken as "replaced now", so nothing on the member is taken as never written.
    auto raw = volumes_[i]->ReadFile(kReplacedPath, 64);
    if (!raw.ok()) continue;
    auto t = DecodeReplacedRecord(*raw);
    replaced_ns_[i] = t.ok() ? *t : NowNs();
  }
}

SetCore::~SetCore() {
  // Spare temp files hold superseded metadata; nothing needs them once the set is closed.
  for (uint32_t i = 0; i < spares_.size(); ++i) {
    for (const auto& p : spares_[i]) volumes_[i]->Remove(p).IgnoreError();
  }
}

uint32_t SetCore::online() const {
  uint32_t c = 0;
  for (auto* v : volumes_) c += v != nullptr;
  return c;
}

size_t SetCore::Stripe(const std::string& bucket, const std::string& key) const {
  uint64_t h = Xxh3_64(key.data(), key.size(), Xxh3_64(bucket.data(), bucket.size()));
  return size_t(h % KeyLocks::kStripes);
}

uint32_t SetCore::Rotation(const std::string& bucket, const std::string& key) const {
  // The hash of "BUCKET/KEY", put together on the stack (every GET and HEAD asks): a bucket name
  // and a key fit (63 + 1 + 1024 bytes).
  char buf[1152];
  const size_t len = bucket.size() + 1 + key.size();
  if (len > sizeof(buf)) {
    const std::string full = bucket + "/" + key;
    return uint32_t(Xxh3_64(full.data(), full.size()) % n());
  }
  std::memcpy(buf, bucket.data(), bucket.size());
  buf[bucket.size()] = '/';
  std::memcpy(buf + bucket.size() + 1, key.data(), key.size());
  return uint32_t(Xxh3_64(buf, len) % n());
}

namespace {

// Member v's copy at path (v null: offline) into *out.
void ReadMetaInto(Volume* v, const std::string& path, MetaRead* out) {
  out->skipped = false;
  if (v == nullptr) {
    out->error = IOError("volume offline");
    return;
  }
  auto raw = v->ReadFile(path, kMaxMetaFileSize);
  if (!raw.ok()) {
    out->error = raw.status();
    return;
  }
  auto m = ObjectMeta::Decode(*raw);
  if (!m.ok()) {
    out->error = m.status().WithContext(v->Describe() + "/" + path);
    return;
  }
  out->error = Status::Ok();
  out->present = true;
  out->meta = std::move(m).value();
  out->raw = std::move(raw).value();
}

}  // namespace

std::vector<MetaRead> SetCore::ReadAllMeta(const std::string& path) const {
  std::vector<MetaRead> out(n());
  for (uint32_t i = 0; i < n(); ++i) ReadMetaInto(volumes_[i], path, &out[i]);
  return out;
}

std::vector<MetaRead> SetCore::ReadQuorumMeta(const std::string& path, uint32_t first) const {
  std::vector<MetaRead> out(n());
  for (auto& r : out) r.skipped = true;
  for (uint32_t i = 0; i < n(); ++i) {
    const uint32_t pos = (first + i) % n();
    ReadMetaInto(volumes_[pos], path, &out[pos]);
    if (i + 1 >= read_quorum_ && i + 1 < n() && QuorumDecided(out)) break;
  }
  return out;
}

void SetCore::ReadSkippedMeta(const std::string& path, std::vector<MetaRead>* metas) const {
  for (uint32_t i = 0; i < n(); ++i) {
    if ((*metas)[i].skipped) ReadMetaInto(volumes_[i], path, &(*metas)[i]);
  }
}

bool SetCore::AnySkipped(const std::vector<MetaRead>& metas) {
  for (const auto& r : metas) {
    if (r.skipped) return true;
  }
  return false;
}

bool SetCore::QuorumDecided(const std::vector<MetaRead>& metas) const {
  uint32_t skipped = 0, absent = 0, markers = 0, top = 0, second = 0;
  for (uint32_t i = 0; i < metas.size(); ++i) {
    const MetaRead& r = metas[i];
    skipped += r.skipped;
    absent += r.absent();
    if (!r.present) continue;
    markers += r.meta.is_delete_marker();
    bool seen = false;  // each version counted once, at its first copy
    for (uint32_t j = 0; j < i && !seen; ++j) {
      seen = metas[j].present && metas[j].meta.version_id == r.meta.version_id;
    }
    if (seen) continue;
    uint32_t count = 0;
    for (uint32_t j = i; j < metas.size(); ++j) {
      count += metas[j].present && metas[j].meta.version_id == r.meta.version_id;
    }
    if (count > top) {
      second = top;
      top = count;
    } else if (count > second) {
      second = count;
    }
  }
  // A version the skipped members could still lift to a read quorum: the pick may change.
  if (second + skipped >= read_quorum_) return false;
  if (top >= read_quorum_) return true;  // the one version with a quorum, whatever comes
  if (top + skipped >= read_quorum_) return false;
  return absent + markers >= read_quorum_;  // no version can have a quorum: kNotFound
}

Result<int> SetCore::PickVersion(const std::vector<MetaRead>& metas,
                                 const std::string& what) const {
  // Group by version id; choose the newest version that has a read quorum of copies.
  int best = -1;
  uint32_t present = 0, absent = 0, markers = 0;
  for (uint32_t i = 0; i < metas.size(); ++i) {
    const MetaRead& r = metas[i];
    absent += r.absent();
    markers += r.present && r.meta.is_delete_marker();
    if (!r.present) continue;
    ++present;
    uint32_t count = 0;
    for (const auto& o : metas) count += o.present && o.meta.version_id == r.meta.version_id;
    if (count < read_quorum_) continue;
    if (best < 0 || r.meta.mod_time_ns > metas[best].meta.mod_time_ns ||
        (r.meta.mod_time_ns == metas[best].meta.mod_time_ns &&
         metas[best].meta.version_id < r.meta.version_id)) {
      best = int(i);
    }
  }
  if (best >= 0) return best;
  // A read quorum of members says "no such file" (or holds the marker of a delete): the object
  // does not exist (or was deleted and a few stale copies or markers are left).
  if (absent + markers >= read_quorum_) return NotFound(what + ": no such object");
  return DataLoss(what + ": metadata found on " + std::to_string(present) +
                  " volumes, no version on " + std::to_string(read_quorum_) + " (" +
                  std::to_string(metas.size() - present - absent) + " volumes unreadable)");
}

Result<int> SetCore::ResolveVersion(const std::string& meta_path, std::vector<MetaRead>* metas,
                                    const std::string& what) const {
  auto pick = PickVersion(*metas, what);
  if (pick.ok() || pick.status().code() != Code::kDataLoss) return pick;
  std::vector<MetaRead>& in = *metas;
  // 1. The copies beside the metadata files: what the last overwrite or delete on each member
  //    replaced (VersionCommit::Publish).
  std::vector<MetaRead> moved(in.size());
  bool any = false;
  for (uint32_t i = 0; i < in.size(); ++i) {
    if (!in[i].present || volumes_[i] == nullptr) continue;
    auto raw = volumes_[i]->ReadFile(meta_path + ObjectPaths::kDisplacedSuffix, kMaxMetaFileSize);
    if (!raw.ok()) continue;
    auto m = ObjectMeta::Decode(*raw);
    if (!m.ok() || m->version_id == in[i].meta.version_id) continue;
    moved[i].present = true;
    moved[i].meta = std::move(m).value();
    moved[i].raw = std::move(raw).value();
    moved[i].displaced = true;
    moved[i].slot_raw = in[i].raw;
    moved[i].slot_version = in[i].meta.version_id;
    any = true;
  }
  if (any) {
    // Each member counts for the version of its file and for the one beside it. The newest
    // version that has a read quorum so counted is the object (a copy beside a file that is
    // older than the object's version, left by an overwrite that finished, never outvotes it).
    const ObjectMeta* best = nullptr;
    auto count = [&](const Uuid& v) {
      uint32_t c = 0;
      for (uint32_t j = 0; j < in.size(); ++j) {
        c += (in[j].present && in[j].meta.version_id == v) ||
             (moved[j].present && moved[j].meta.version_id == v);
      }
      return c;
    };
    for (uint32_t i = 0; i < in.size(); ++i) {
      for (const MetaRead* r : {&in[i], &moved[i]}) {
        if (!r->present || count(r->meta.version_id) < read_quorum_) continue;
        const ObjectMeta& c = r->meta;
        if (best == nullptr || c.mod_time_ns > best->mod_time_ns ||
            (c.mod_time_ns == best->mod_time_ns && best->version_id < c.version_id)) {
          best = &c;
        }
      }
    }
    if (best != nullptr) {
      const Uuid pick = best->version_id;
      std::vector<MetaRead> alt = in;
      for (uint32_t i = 0; i < in.size(); ++i) {
        if (moved[i].present && moved[i].meta.version_id == pick &&
            !(in[i].meta.version_id == pick)) {
          alt[i] = std::move(moved[i]);
        }
      }
      auto p2 = PickVersion(alt, what);
      if (p2.ok()) {
        *metas = std::move(alt);
        return p2;
      }
    }
  }
  // 2. Nothing that could have committed: leftovers of a write cut off below its quorum.
  if (!AnyCouldBeCommitted(meta_path, in, /*shards=*/false)) {
    return NotFound(what + ": no such object");
  }
  return pick;
}

bool SetCore::CouldBeCommitted(const std::string& meta_path, const std::vector<MetaRead>& metas,
                               const ObjectMeta& x, bool shards) const {
  uint32_t count = 0;
  for (uint32_t i = 0; i < metas.size(); ++i) {
    const MetaRead& r = metas[i];
    if (r.present) {
      count += r.meta.version_id == x.version_id;
    } else if (!r.absent() || volumes_[i] == nullptr) {
      ++count;  // damaged, or the member cannot say
    } else if (replaced_ns_[i] > x.mod_time_ns) {
      ++count;  // the copy may have been on the disk this member replaced
    } else if (shards && !x.is_inline() && volumes_[i]->Stat(meta_path + x.data_id.Hex()).ok()) {
      ++count;  // its metadata copy was lost, its shard file is there
    }
  }
  return count >= read_quorum_;
}

bool SetCore::AnyCouldBeCommitted(const std::string& meta_path, const std::vector<MetaRead>& metas,
                                  bool shards) const {
  for (uint32_t i = 0; i < metas.size(); ++i) {
    if (!metas[i].present) continue;
    bool seen = false;  // each version once
    for (uint32_t j = 0; j < i && !seen; ++j) {
      seen = metas[j].present && metas[j].meta.version_id == metas[i].meta.version_id;
    }
    if (!seen && CouldBeCommitted(meta_path, metas, metas[i].meta, shards)) return true;
  }
  return false;
}

Result<int> SetCore::ResolveReadable(const std::string& meta_path, std::vector<MetaRead>* metas,
                                     const std::string& what) const {
  ASSIGN_OR_RETURN(int pick, ResolveVersion(meta_path, metas, what));
  if ((*metas)[pick].meta.is_delete_marker()) return NotFound(what + ": no such object");
  return pick;
}

Result<int> SetCore::PickReadable(const std::vector<MetaRead>& metas,
                                  const std::string& what) const {
  ASSIGN_OR_RETURN(int pick, PickVersion(metas, what));
  if (metas[pick].meta.is_delete_marker()) return NotFound(what + ": no such object");
  return pick;
}

Status SetCore::SyncDirs(const std::vector<bool>& which, const std::string& dir) const {
  return FlushInParallel(n(), [&](size_t i) {
    return which[i] && volumes_[i] != nullptr ? SyncDirOrAncestor(*volumes_[i], dir) : Status::Ok();
  });
}

void SetCore::RemoveEmptyParents(Volume* v, const std::string& bucket, std::string dir) const {
  while (dir.size() > bucket.size()) {
    if (!v->RemoveDir(dir).ok()) return;
    dir.resize(dir.rfind('/'));
  }
}

std::string SetCore::TakeSpare(uint32_t pos, const std::string& fallback) {
  std::lock_guard<std::mutex> l(spare_mu_);
  auto& v = spares_[pos];
  if (v.empty()) return fallback;
  std::string s = std::move(v.back());
  v.pop_back();
  return s;
}

void KeepReserve(Volume& v) {
  auto st = v.Stat(kReservePath);
  if (st.ok() && st->size == kReserveBytes) return;
  if (v.WriteFile(kReservePath, std::string(kReserveBytes, '\0'), false).ok()) return;
  v.Remove(kReservePath).IgnoreError();  // no room now: none rather than a short one
}

void SetCore::KeepReserves() {
  for (Volume* v : volumes_) {
    if (v != nullptr) KeepReserve(*v);
  }
}

bool SetCore::ReleaseReserve(uint32_t pos) { return volumes_[pos]->Remove(kReservePath).ok(); }

void SetCore::GiveSpare(uint32_t pos, const std::string& path) {
  auto st = volumes_[pos]->Stat(path);
  if (st.ok() && st->kind == FileKind::kFile && st->size <= kMaxSpareBytes) {
    std::lock_guard<std::mutex> l(spare_mu_);
    if (spares_[pos].size() < kMaxSpares) {
      spares_[pos].push_back(path);
      return;
    }
  }
  volumes_[pos]->Remove(path).IgnoreError();
}

}  // namespace cairn
