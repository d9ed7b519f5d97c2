#include "libstore/object/commit.h"

#include <set>
#include <utility>

#include "libstore/common/group_sync.h"
#include "libstore/format/volume_format.h"

namespace cairn {

VersionCommit::VersionCommit(SetCore& core, std::string bucket, std::string key,
                             const Uuid& version_id, const Uuid& data_id, bool new_version)
    : core_(core),
      bucket_(std::move(bucket)),
      key_(std::move(key)),
      paths_(KeyPaths(bucket_, key_)),
      displaced_(paths_.DisplacedPath(version_id.Hex())),
      data_id_(data_id),
      new_version_(new_version),
      members_(core.n()) {}

VersionCommit::~VersionCommit() {
  if (finished_) return;
  for (uint32_t pos = 0; pos < members_.size(); ++pos) {
    if (!members_[pos].published) RemoveTemps(pos);
  }
}

void VersionCommit::Stage(uint32_t pos, std::string meta_tmp, std::string shard_tmp) {
  Member& m = members_[pos];
  m.staged = true;
  m.meta_tmp = std::move(meta_tmp);
  m.shard_tmp = std::move(shard_tmp);
  m.error = Status::Ok();
}

void VersionCommit::Fail(uint32_t pos, const Status& why) {
  Member& m = members_[pos];
  m.staged = false;
  m.error = why;
}

void VersionCommit::FailAll(const Status& why) {
  for (uint32_t pos = 0; pos < members_.size(); ++pos) {
    if (!members_[pos].staged) continue;
    RemoveTemps(pos);
    Fail(pos, why);
  }
}

void VersionCommit::RequireUnchanged(const std::vector<MetaRead>* as_read) { as_read_ = as_read; }

uint32_t VersionCommit::staged() const {
  uint32_t c = 0;
  for (const auto& m : members_) c += m.staged;
  return c;
}

uint32_t VersionCommit::published() const {
  uint32_t c = 0;
  for (const auto& m : members_) c += m.published;
  return c;
}

Status VersionCommit::first_error() const {
  for (const auto& m : members_) {
    if (!m.error.ok()) return m.error;
  }
  return Status::Ok();
}

std::vector<MissedWrite> VersionCommit::Missed() const {
  std::vector<MissedWrite> out;
  for (uint32_t pos = 0; pos < members_.size(); ++pos) {
    const Member& m = members_[pos];
    if (m.published) continue;
    MissedWrite w;
    w.position = pos;
    w.offline = core_.volume(pos) == nullptr;
    w.why = w.offline ? "offline" : m.error.ok() ? "not written" : m.error.message();
    out.push_back(std::move(w));
  }
  return out;
}

bool VersionCommit::Touched(uint32_t pos, Step step) const {
  const Member& m = members_[pos];
  switch (step) {
    case Step::kStaged:
      return m.staged;
    case Step::kPublished:
      return m.published;
    case Step::kRolledBack:
      return m.rolled_back;
  }
  return false;
}

std::vector<std::string> VersionCommit::FlushTargets(uint32_t pos, Step step) const {
  const Member& m = members_[pos];
  std::vector<std::string> out;
  if (!Touched(pos, step)) return out;
  if (step == Step::kStaged) {
    out.push_back(m.meta_tmp);
    if (!m.shard_tmp.empty()) out.push_back(m.shard_tmp);
    return out;
  }
  if (step == Step::kPublished && m.made_dir) {
    // The key's directory was made by this commit, and maybe its parents below the bucket: each
    // one's entry in its parent, from the bucket down.
    for (size_t slash = paths_.dir.find('/', bucket_.size()); slash != std::string::npos;
         slash = paths_.dir.find('/', slash + 1)) {
      out.push_back(paths_.dir.substr(0, slash));
    }
  }
  out.push_back(paths_.dir);  // the renamed shard and metadata copy (after a rollback: what is
                              // left of the directory, FlushCommits syncs its deepest ancestor)
  out.push_back(kTmpDir);     // the temp names they left (or the previous copy swapped out)
  return out;
}

void VersionCommit::RemoveTemps(uint32_t pos) {
  Member& m = members_[pos];
  Volume* v = core_.volume(pos);
  if (v == nullptr) return;
  if (!m.meta_tmp.empty()) v->Remove(m.meta_tmp).IgnoreError();
  if (!m.shard_tmp.empty() && !m.shard_moved) v->Remove(m.shard_tmp).IgnoreError();
  m.meta_tmp.clear();
  m.shard_tmp.clear();
}

Status VersionCommit::RenameInto(Volume* v, const std::string& from, const std::string& to,
                                 bool& made_dir) {
  Status r = v->Rename(from, to);
  if (r.code() != Code::kNotFound || !v->Stat(from).ok()) return r;
  // The target's directory is missing. The bucket's is never made here: a write must not revive
  // a bucket that was removed meanwhile.
  if (!v->Stat(bucket_).ok()) return NotFound("bucket " + bucket_ + " is gone");
  RETURN_IF_ERROR(v->MakeDirs(paths_.dir));
  made_dir = true;
  return v->Rename(from, to);
}

void VersionCommit::Publish() {
  const std::vector<MetaRead> now = core_.ReadAllMeta(paths_.meta);
  if (as_read_ != nullptr) {
    for (uint32_t pos = 0; pos < members_.size(); ++pos) {
      if (!SameCopy(now[pos], (*as_read_)[pos])) {
        changed_ = true;
        return;
      }
    }
  }
  const std::string shard_path = data_id_.IsZero() ? "" : paths_.ShardPath(data_id_.Hex());
  // Over a commit that a crash cut off (no version on a read quorum of the metadata files), the
  // version readers see is read from displaced copies on some members (SetCore::ResolveVersion).
  // There the copy to keep beside the new one is that displaced copy, not the member's file (a
  // copy that never committed): a durable duplicate of it takes this commit's displaced name
  // before the new copy replaces the file, so at every step each member still shows it.
  std::vector<std::string> keep(members_.size());
  if (core_.PickVersion(now, bucket_ + "/" + key_).status().code() == Code::kDataLoss) {
    std::vector<MetaRead> resolved = now;
    if (core_.ResolveVersion(paths_.meta, &resolved, bucket_ + "/" + key_).ok()) {
      for (uint32_t pos = 0; pos < members_.size(); ++pos) {
        Volume* v = core_.volume(pos);
        if (!members_[pos].staged || v == nullptr || !resolved[pos].displaced) continue;
        const std::string tmp = TempName(kTmpDir, ".prev");
        if (v->WriteFile(tmp, resolved[pos].raw, /*sync=*/true).ok()) {
          keep[pos] = tmp;
          members_[pos].stale_displaced = paths_.DisplacedPath(resolved[pos].slot_version.Hex());
          if (!resolved[pos].meta.is_inline()) members_[pos].kept_data = resolved[pos].meta.data_id;
        } else {
          v->Remove(tmp).IgnoreError();
        }
      }
    }
  }
  for (uint32_t pos = 0; pos < members_.size(); ++pos) {
    Member& m = members_[pos];
    Volume* v = core_.volume(pos);
    if (!m.staged || v == nullptr) continue;
    const MetaRead& cur = now[pos];
    if (cur.present && !cur.meta.is_inline()) m.old_data = cur.meta.data_id;
    Status s;
    if (!m.shard_tmp.empty()) {
      s = RenameInto(v, m.shard_tmp, shard_path, m.made_dir);
      if (s.ok()) m.shard_moved = true;
    }
    if (s.ok() && !keep[pos].empty()) {
      // The displaced copy's duplicate under this commit's name, then the new copy over the
      // member's file (whose copy never committed). Both in the key's directory.
      s = v->Rename(keep[pos], displaced_);
      if (s.ok()) {
        m.meta_tmp_kept = m.meta_tmp;
        m.meta_tmp = displaced_;
        s = v->Rename(m.meta_tmp_kept, paths_.meta);
        if (s.ok()) m.exchanged = true;  // displaced_ holds the copy to put back on a rollback
        else m.meta_tmp = m.meta_tmp_kept;
      }
      if (!s.ok()) v->Remove(keep[pos]).IgnoreError();
    } else if (s.ok() && !cur.absent()) {
      // Over a previous copy (whole or damaged): beside it, then swapped with it, so that it
      // stays whole under the displaced name (for a rollback, and for readers should a crash
      // leave this commit on too few members), and its inode is reused by a later write.
      s = v->Rename(m.meta_tmp, displaced_);
      if (s.ok()) {
        m.meta_tmp = displaced_;
        s = v->Exchange(displaced_, paths_.meta);
        if (s.ok()) m.exchanged = true;
      }
    }
    if (s.ok() ? !m.exchanged : s.code() == Code::kNotFound) {
      // No previous copy (or it vanished meanwhile): a plain rename.
      s = RenameInto(v, m.meta_tmp, paths_.meta, m.made_dir);
    }
    if (s.ok()) {
      m.published = true;
      if (!m.exchanged) m.meta_tmp.clear();  // renamed away: nothing left at the temp name
      m.shard_tmp.clear();
      continue;
    }
    m.error = s.WithContext(v->Describe());
    if (!keep[pos].empty()) v->Remove(keep[pos]).IgnoreError();  // (gone when it was renamed)
    if (m.shard_moved && new_version_) v->Remove(shard_path).IgnoreError();
    m.shard_moved = false;
    m.staged = false;
    RemoveTemps(pos);
  }
}

void VersionCommit::Rollback(bool flush) {
  const std::string shard_path = data_id_.IsZero() ? "" : paths_.ShardPath(data_id_.Hex());
  for (uint32_t pos = 0; pos < members_.size(); ++pos) {
    Member& m = members_[pos];
    if (!m.published) continue;
    m.rolled_back = true;
    Volume* v = core_.volume(pos);
    if (m.exchanged) {
      // meta_tmp holds the previous copy: swap it back; the new one is then at meta_tmp.
      v->Exchange(m.meta_tmp, paths_.meta).IgnoreError();
      v->Remove(m.meta_tmp).IgnoreError();
      m.exchanged = false;
    } else {
      v->Remove(paths_.meta).IgnoreError();
      core_.RemoveEmptyParents(v, bucket_, paths_.dir);
    }
    m.meta_tmp.clear();
    if (!shard_path.empty() && new_version_) v->Remove(shard_path).IgnoreError();
    m.published = false;
    m.old_data = Uuid();
  }
  // Best effort: the rollback is what the members hold now either way.
  if (flush) FlushCommits(core_, {this}, Step::kRolledBack).IgnoreError();
}

Status VersionCommit::PublishWithQuorum(uint32_t quorum, bool flush) {
  Publish();
  const uint32_t done = published();
  Status s;
  if (done < quorum) {
    const Status last = first_error();
    s = QuorumError("commit reached " + std::to_string(done) + " of " + std::to_string(core_.n()) +
                    " volumes, " + std::to_string(quorum) + " needed" +
                    (last.ok() ? std::string() : ": " + last.message()));
  } else if (flush) {
    s = FlushCommits(core_, {this}, Step::kPublished);
  }
  if (s.ok()) return s;
  Rollback(flush);
  for (auto& m : members_) {
    if (m.error.ok()) m.error = s;
  }
  return s;
}

void VersionCommit::Finish() {
  if (finished_) return;
  finished_ = true;
  for (uint32_t pos = 0; pos < members_.size(); ++pos) {
    Member& m = members_[pos];
    Volume* v = core_.volume(pos);
    if (v == nullptr) continue;
    if (!m.published) {
      RemoveTemps(pos);
      continue;
    }
    if (!m.old_data.IsZero() && m.old_data != data_id_) {
      v->Remove(paths_.ShardPath(m.old_data.Hex())).IgnoreError();
    }
    if (!m.kept_data.IsZero() && m.kept_data != data_id_) {
      v->Remove(paths_.ShardPath(m.kept_data.Hex())).IgnoreError();
    }
    if (!m.stale_displaced.empty()) v->Remove(m.stale_displaced).IgnoreError();
    if (m.exchanged) {
      // The displaced copy leaves the key's directory; its inode becomes a spare temp file.
      const std::string spare = TempName(kTmpDir, ".meta");
      if (v->Rename(m.meta_tmp, spare).ok())
        core_.GiveSpare(pos, spare);
      else
        v->Remove(m.meta_tmp).IgnoreError();
    }
    m.meta_tmp.clear();
  }
}

Status FlushCommits(SetCore& core, const std::vector<VersionCommit*>& commits,
                    VersionCommit::Step step) {
  // Each member's targets once (heal's commits share kTmpDir, say), then all flushed at once: the
  // files' own data (fdatasync), or the directories' entries. Never a syncfs, which would wait for
  // every other writer's dirty data on the file system too (docs/benchmarks.md, "Flushing").
  std::vector<std::pair<uint32_t, std::string>> targets;
  std::set<std::pair<uint32_t, std::string>> seen;
  for (const VersionCommit* c : commits) {
    for (uint32_t pos = 0; pos < core.n(); ++pos) {
      if (core.volume(pos) == nullptr) continue;
      for (auto& t : c->FlushTargets(pos, step)) {
        if (seen.emplace(pos, t).second) targets.emplace_back(pos, std::move(t));
      }
    }
  }
  return FlushInParallel(targets.size(), [&](size_t i) {
    Volume& v = *core.volume(targets[i].first);
    const std::string& path = targets[i].second;
    return step == VersionCommit::Step::kStaged ? v.SyncFile(path) : SyncDirOrAncestor(v, path);
  });
}

}  // namespace cairn
