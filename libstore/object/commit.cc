#include "libstore/object/commit.h"

#include <optional>
#include <set>
#include <utility>

#include "libstore/common/group_sync.h"
#include "libstore/format/upload_record.h"
#include "libstore/format/volume_format.h"

namespace cairn {

VersionCommit::VersionCommit(SetCore& core, std::string bucket, std::string key,
                             const Uuid& data_id, bool new_version)
    : core_(core),
      bucket_(std::move(bucket)),
      key_(std::move(key)),
      paths_(KeyPaths(bucket_, key_)),
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
  if (!m.spare.empty()) v->Remove(m.spare).IgnoreError();
  if (!m.shard_tmp.empty() && !m.shard_moved) v->Remove(m.shard_tmp).IgnoreError();
  m.meta_tmp.clear();
  m.spare.clear();
  m.shard_tmp.clear();
}

Status VersionCommit::RenameInto(Volume* v, const std::string& from, const std::string& to,
                                 bool& made_dir, bool no_replace) {
  auto rename = [&] { return no_replace ? v->RenameNoReplace(from, to) : v->Rename(from, to); };
  Status r = rename();
  if (r.code() != Code::kNotFound || !v->Stat(from).ok()) return r;
  // The target's directory is missing. The bucket's is never made here: a write must not revive
  // a bucket that was removed meanwhile.
  if (!v->Stat(bucket_).ok()) return BucketNotFound("bucket " + bucket_ + " is gone");
  RETURN_IF_ERROR(v->MakeDirs(paths_.dir));
  made_dir = true;
  return rename();
}

void VersionCommit::FailPublish(uint32_t pos, const Status& why) {
  Member& m = members_[pos];
  Volume* v = core_.volume(pos);
  m.error = why.WithContext(v->Describe());
  if (m.aside_new) v->Remove(paths_.DisplacedPath()).IgnoreError();  // a copy that never committed
  m.aside_new = false;
  if (m.shard_moved && new_version_) v->Remove(paths_.ShardPath(data_id_.Hex())).IgnoreError();
  m.shard_moved = false;
  m.staged = false;
  RemoveTemps(pos);
}

uint32_t VersionCommit::PublishWhereAbsent() {
  const std::string shard_path = data_id_.IsZero() ? "" : paths_.ShardPath(data_id_.Hex());
  for (uint32_t pos = 0; pos < members_.size(); ++pos) {
    Member& m = members_[pos];
    Volume* v = core_.volume(pos);
    if (!m.staged || v == nullptr) continue;
    Status s;
    if (!m.shard_tmp.empty()) {
      s = RenameInto(v, m.shard_tmp, shard_path, m.made_dir, /*no_replace=*/false);
      if (s.ok()) m.shard_moved = true;
    }
    if (s.ok()) s = RenameInto(v, m.meta_tmp, paths_.meta, m.made_dir, /*no_replace=*/true);
    if (s.code() == Code::kAlreadyExists) return pos;  // a copy is there (its shard stays moved)
    if (s.ok()) {
      m.meta_tmp.clear();
      m.published = true;
      m.shard_tmp.clear();
      m.was_absent = true;
    } else {
      FailPublish(pos, s);
    }
  }
  return uint32_t(members_.size());
}

void VersionCommit::Publish() {
  // A new version of a key that has no copy anywhere (a new key: the usual case) needs no look
  // at the members first: where the metadata file is absent the copy is renamed into place, and
  // a rename that refuses to replace (RenameNoReplace) finds that out in the same call. At the
  // first member that has a copy, the members from there on are published as below, from what
  // they hold; those published already had none, exactly as a read before them would have said
  // (the key's lock keeps every other writer of it out meanwhile). Heal (RequireUnchanged)
  // compares every member's copy first, so it always reads; so does a delete (ExpectCopies).
  uint32_t from = 0;
  if (as_read_ == nullptr && !expect_copies_) {
    from = PublishWhereAbsent();
    if (from == members_.size()) return;
  }
  std::vector<MetaRead> now = core_.ReadAllMeta(paths_.meta);
  for (uint32_t pos = 0; pos < from; ++pos) {
    if (!members_[pos].was_absent) continue;
    now[pos] = MetaRead();
    now[pos].error = NotFound(paths_.meta + ": no copy before this commit");
  }
  if (as_read_ != nullptr) {
    for (uint32_t pos = 0; pos < members_.size(); ++pos) {
      if (!SameCopy(now[pos], (*as_read_)[pos])) {
        changed_ = true;
        return;
      }
    }
  }
  const std::string shard_path = data_id_.IsZero() ? "" : paths_.ShardPath(data_id_.Hex());
  const std::string aside = paths_.DisplacedPath();
  // Over a commit that a crash cut off (no version on a read quorum of the metadata files), the
  // version readers see comes, on some members, from the copy beside the file, while the file
  // holds a copy that never committed (SetCore::ResolveVersion). There that copy beside it stays
  // as it is, and the new copy simply replaces the file.
  std::vector<bool> keep(members_.size(), false);
  if (core_.PickVersion(now, bucket_ + "/" + key_).status().code() == Code::kDataLoss) {
    std::vector<MetaRead> resolved = now;
    if (core_.ResolveVersion(paths_.meta, &resolved, bucket_ + "/" + key_).ok()) {
      for (uint32_t pos = 0; pos < members_.size(); ++pos) {
        if (!resolved[pos].displaced) continue;
        keep[pos] = true;
        if (!resolved[pos].meta.is_inline()) members_[pos].kept_data = resolved[pos].meta.data_id;
      }
    }
  }
  for (uint32_t pos = from; pos < members_.size(); ++pos) {
    Member& m = members_[pos];
    Volume* v = core_.volume(pos);
    if (!m.staged || v == nullptr) continue;
    const MetaRead& cur = now[pos];
    if (cur.present && !cur.meta.is_inline()) {
      m.old_data = cur.meta.data_id;
      m.old_multipart = cur.meta.is_multipart();
    }
    // The key's directory holds this member's copy, so it stays while the key's lock is held:
    // one look-up of it serves the renames and swaps below (Volume::HoldDir).
    std::optional<ScopedDirHold> hold;
    if (cur.present || cur.damaged()) hold.emplace(v, paths_.dir);
    Status s;
    if (!m.shard_tmp.empty() && !m.shard_moved) {
      s = RenameInto(v, m.shard_tmp, shard_path, m.made_dir, /*no_replace=*/false);
      if (s.ok()) m.shard_moved = true;
    }
    if (s.ok() && keep[pos]) {
      s = v->Rename(m.meta_tmp, paths_.meta);
      if (s.ok()) m.kept = true;
    } else if (s.ok() && !cur.absent()) {
      // Over a previous copy (whole or damaged): the new copy takes the place beside it (a swap
      // with what was there, left by an earlier commit: that goes to the temp file, a spare),
      // then the two are swapped, so that the previous copy stays whole beside the new one (for
      // a rollback, and for readers should a crash leave this commit on too few members). Two
      // swaps: no name is made or removed in the key's directory, and no inode allocated or
      // freed, once a key has been overwritten.
      s = v->Exchange(m.meta_tmp, aside);
      if (s.ok()) {
        m.spare = m.meta_tmp;
      } else if (s.code() == Code::kNotFound && v->Stat(m.meta_tmp).ok()) {
        s = v->Rename(m.meta_tmp, aside);  // the key's first overwrite on this member
      }
      if (s.ok()) {
        m.meta_tmp.clear();
        m.aside_new = true;  // aside holds the new copy: never leave it there unpublished
        s = v->Exchange(aside, paths_.meta);
        if (s.ok()) {
          m.exchanged = true;
          m.aside_new = false;
        } else if (s.code() == Code::kNotFound) {
          s = v->Rename(aside, paths_.meta);  // the previous copy vanished meanwhile
          if (s.ok()) m.aside_new = false;
        }
      }
    } else if (s.ok()) {
      // No previous copy.
      s = RenameInto(v, m.meta_tmp, paths_.meta, m.made_dir, /*no_replace=*/false);
      if (s.ok()) m.meta_tmp.clear();
    }
    if (s.ok()) {
      m.published = true;
      m.shard_tmp.clear();
      continue;
    }
    FailPublish(pos, s);
  }
}

void VersionCommit::Rollback(bool flush) {
  const std::string shard_path = data_id_.IsZero() ? "" : paths_.ShardPath(data_id_.Hex());
  const std::string aside = paths_.DisplacedPath();
  for (uint32_t pos = 0; pos < members_.size(); ++pos) {
    Member& m = members_[pos];
    if (!m.published) continue;
    m.rolled_back = true;
    Volume* v = core_.volume(pos);
    if (m.exchanged) {
      // The previous copy is beside the file: swapped back, and the new one (now beside it)
      // removed, so that no copy of a version that failed is left to be taken for one.
      v->Exchange(aside, paths_.meta).IgnoreError();
      v->Remove(aside).IgnoreError();
      m.exchanged = false;
    } else if (m.kept) {
      // The copy beside the file is the version readers saw: back in place.
      v->Rename(aside, paths_.meta).IgnoreError();
      m.kept = false;
    } else {
      v->Remove(paths_.meta).IgnoreError();
      core_.RemoveEmptyParents(v, bucket_, paths_.dir);
    }
    if (!shard_path.empty() && new_version_) v->Remove(shard_path).IgnoreError();
    m.published = false;
    m.old_data = Uuid();
    m.old_multipart = false;
    m.kept_data = Uuid();
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
                        " volumes, " + std::to_string(quorum) + " needed",
                    last);
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
      if (m.old_multipart) {
        // Its parts may still be read by a GET that opened the old version (a multipart reader
        // opens part files as it reaches them): gc removes them after a grace period counted
        // from this mark (GcOptions::released_older_than_ns).
        v->WriteFile(UploadReleasedPath(m.old_data), "", false).IgnoreError();
      } else {
        v->Remove(paths_.ShardPath(m.old_data.Hex())).IgnoreError();
      }
    }
    if (!m.kept_data.IsZero() && m.kept_data != data_id_) {
      v->Remove(paths_.ShardPath(m.kept_data.Hex())).IgnoreError();
    }
    // (The previous copy stays beside the file: the next overwrite swaps its new copy with it.)
    if (!m.spare.empty()) core_.GiveSpare(pos, m.spare);
    m.spare.clear();
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
