// VersionCommit: moves one new version of an object into place on the members of a set. The one
// commit step of PUT, of DELETE (which commits a delete marker like a version) and of heal.
//
// The caller first stages the version on each member that takes part: its metadata copy in a
// temp file and, for a shard that is new or rebuilt, the shard in another temp file. Then:
//   1. FlushCommits(kStaged): the staged files become durable.
//   2. Publish, under the key's write lock: on each staged member the shard is renamed to its
//      name and the metadata copy put in place. Over a previous copy, the new copy first takes
//      the place beside it (ObjectPaths::DisplacedPath, `<name>=.prev`: swapped with what an
//      earlier overwrite left there, which goes to the temp file and becomes a spare; renamed
//      there on a key's first overwrite), and then the two are swapped (RENAME_EXCHANGE), so the
//      previous copy stays whole beside the new one; where there was none, a plain rename (the
//      key's directory is made when it is missing, never the bucket's). After RequireUnchanged
//      (heal), nothing is published when any member's metadata changed since the caller read it.
//      Why beside it and not in the temp directory: a crash can keep the members' new copies on
//      fewer than the read quorum while the old ones are gone from as many (4+2, 3 and 3); the
//      previous version is then read back from the copies beside them (SetCore::ResolveVersion).
//      Both names live in the key's directory, so one directory sync makes the swap durable
//      whole: a member never holds the new copy without the old. In steady state the two swaps
//      make and remove no name and allocate no inode. A new key (no copy on any member: the
//      usual PUT) is published without reading the members first: each copy is renamed into
//      place with RenameNoReplace, which says in the same call whether a copy was there; from
//      the first member that has one, the rest are read and published as above.
//   3. FlushCommits(kPublished): the renames become durable.
//   4. Below the quorum the caller asked for, every member is put back as it was (the previous
//      copy swapped back, the new files removed) and flushed again.
//   5. Finish: the previous version's shard files are removed, the temp files swapped out go to
//      the set's spare pool, leftover temp files are removed. The previous copy stays beside the
//      new one until the next overwrite (a delete removes it with the key's other files; gc once
//      it is older than its grace period).
// PUT and DELETE run steps 2 to 4 in one hold of the key's lock (PublishWithQuorum); heal
// publishes many objects, each under its own lock, between two flushes they all share.
//
// FlushCommits is the only place a commit flushes: it makes durable exactly what FlushTargets
// names (fdatasync of the staged files, fsync of the directories that changed), all at once.
//
// Not thread-safe: one thread drives a VersionCommit. A commit that is destroyed before Finish
// removes the temp files it still holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libstore/common/status.h"
#include "libstore/format/encoding.h"
#include "libstore/format/key_path.h"
#include "libstore/object/object_store.h"
#include "libstore/object/set_core.h"

namespace cairn {

class VersionCommit {
 public:
  // data_id: the version's shard file id (zero when inline: no shard files). new_version: the
  // version is new (PUT, DELETE), so its shard files are too and a member that fails keeps none;
  // heal republishes an existing version, and a rebuilt shard renamed into place stays even when
  // its metadata copy then fails.
  VersionCommit(SetCore& core, std::string bucket, std::string key, const Uuid& data_id,
                bool new_version);
  ~VersionCommit();
  VersionCommit(const VersionCommit&) = delete;
  VersionCommit& operator=(const VersionCommit&) = delete;

  const std::string& bucket() const { return bucket_; }
  const std::string& key() const { return key_; }
  const ObjectPaths& paths() const { return paths_; }

  // Member pos holds the version's metadata copy in meta_tmp and, unless shard_tmp is empty, its
  // shard in shard_tmp (written, not flushed). The commit owns both files from now on.
  void Stage(uint32_t pos, std::string meta_tmp, std::string shard_tmp = "");
  // Member pos could not be staged (why); its temp files are the caller's to remove.
  void Fail(uint32_t pos, const Status& why);
  // Every member fails (a flush failed); nothing is published.
  void FailAll(const Status& why);
  // Publish only if every member's metadata copy still reads as in *as_read (SameCopy). Not
  // copied: *as_read must outlive the commit.
  void RequireUnchanged(const std::vector<MetaRead>* as_read);
  // The key is known to have copies (a delete, which found a version): Publish reads every
  // member's copy first, without trying RenameNoReplace on the first member (a call that would
  // only be refused).
  void ExpectCopies() { expect_copies_ = true; }

  uint32_t staged() const;
  uint32_t published() const;
  bool is_published(uint32_t pos) const { return members_[pos].published; }
  // Publish found a member's metadata changed since RequireUnchanged's read: nothing published.
  bool changed() const { return changed_; }
  // The first error of a member, or OK.
  Status first_error() const;
  // Members that did not take the version, in position order: offline, failed, or not staged.
  std::vector<MissedWrite> Missed() const;
  // What a flush after staging (kStaged), publishing (kPublished) or a rollback (kRolledBack)
  // must make durable on member pos: the files whose data (kStaged), or the directories whose
  // entries, changed (the key's directory, every directory the commit made for it from the bucket
  // down, and the temp directory; after a rollback the key's directory may be gone).
  enum class Step { kStaged, kPublished, kRolledBack };
  std::vector<std::string> FlushTargets(uint32_t pos, Step step) const;
  // True when member pos has anything for that flush (FlushTargets would not be empty).
  bool Touched(uint32_t pos, Step step) const;

  // Step 2; the caller holds the key's write lock (KeyWriteGuard). Members that fail are failed
  // one by one (their error kept); the others are published.
  void Publish();
  // Steps 2 to 4 for a commit of its own; the caller holds the key's write lock. With flush, the
  // renames are flushed. Below `quorum` published members, or when that flush fails, every
  // member is rolled back and the result is kQuorum (naming the last member's error) or the
  // flush's error.
  Status PublishWithQuorum(uint32_t quorum, bool flush);
  // Step 5, after the lock is released (or under it).
  void Finish();

 private:
  struct Member {
    bool staged = false, published = false;
    bool shard_moved = false;  // the shard temp file was renamed into place
    bool exchanged = false;    // the previous copy is beside the file (DisplacedPath)
    bool kept = false;         // published over a cut-off commit: the copy beside it was kept
    bool aside_new = false;    // DisplacedPath holds the new copy, not yet swapped in
    bool rolled_back = false;  // published, then put back as it was
    bool made_dir = false;     // RenameInto made the key's directory (and maybe its parents)
    bool was_absent = false;   // published by PublishWhereAbsent: the member had no copy
    std::string meta_tmp, shard_tmp;
    std::string spare;  // a temp file that the swap beside the file left holding stale bytes
    Uuid old_data;  // the previous copy's shard file id (zero: none, or inline)
    // The previous copy was a multipart object: old_data is its upload, whose staging directory
    // holds the parts (marked released by Finish, removed by gc after a short grace).
    bool old_multipart = false;
    // Publishing over a cut-off commit (kept): the shard file of the version kept beside the
    // file, superseded once this commit is done.
    Uuid kept_data;
    Status error;
  };
  // Renames from to to on v (with no_replace: RenameNoReplace, kAlreadyExists when `to` exists);
  // when the key's directory is missing (a sibling's delete removed it, or the member was wiped),
  // makes it once (never the bucket) and tries again. Sets made_dir when it made the directory.
  Status RenameInto(Volume* v, const std::string& from, const std::string& to, bool& made_dir,
                    bool no_replace);
  // Publishes the staged members, in position order, whose metadata file is absent (renamed into
  // place with RenameNoReplace), until the first that has one: returns its position (nothing
  // done there but its shard moved), or n() when there was none.
  uint32_t PublishWhereAbsent();
  // Member pos failed to publish (why): what it moved is taken back, its temp files removed.
  void FailPublish(uint32_t pos, const Status& why);
  void Rollback(bool flush);
  void RemoveTemps(uint32_t pos);

  SetCore& core_;
  const std::string bucket_, key_;
  const ObjectPaths paths_;
  const Uuid data_id_;
  const bool new_version_;
  std::vector<Member> members_;
  const std::vector<MetaRead>* as_read_ = nullptr;
  bool expect_copies_ = false;
  bool changed_ = false;
  bool finished_ = false;
};

// The one flush of commits: makes what `step` changed, on every member of every commit given,
// durable: every FlushTargets path once, all at once (Volume::SyncFile for kStaged; SyncDir, or
// the deepest ancestor left of a directory that is gone, otherwise).
Status FlushCommits(SetCore& core, const std::vector<VersionCommit*>& commits,
                    VersionCommit::Step step);

}  // namespace cairn
