// SetCore: what every operation on an erasure set shares: its members, layout and quorums, the
// codec, the per-key locks, the clock, the pool of spare temp files, and the reads every operation
// starts with (every member's metadata copy of a key, and the version they make up).
//
// ErasureSet is a SetCore. The units that work on one object for it (ObjectExam: verify and heal;
// VersionCommit: moving a version into place; gc) are given a SetCore& instead of reaching into
// ErasureSet's private members.
//
// Thread safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "libstore/common/clock.h"
#include "libstore/common/status.h"
#include "libstore/erasure/codec.h"
#include "libstore/format/object_meta.h"
#include "libstore/volume/volume.h"

namespace cairn {

class KeyLocks;

struct SetParams {
  uint32_t k = 0, m = 0;
  uint32_t block_size = 1 << 20;
  uint32_t inline_limit = 128 << 10;
};

// Write quorum for K+M: max(K, (K+M)/2 + 1).
uint32_t WriteQuorum(uint32_t k, uint32_t m);
// Makes v's reserve (kReservePath) when it is missing and there is room (SetCore::KeepReserves).
void KeepReserve(Volume& v);

// One member's copy of an object's metadata, as read.
struct MetaRead {
  bool present = false;  // a metadata file was read and decoded (a delete marker counts)
  Status error;          // why not
  ObjectMeta meta;
  std::string raw;  // the bytes as read
  // Set by SetCore::ResolveVersion only: meta and raw are the copy beside the member's metadata
  // file (ObjectPaths::DisplacedPath: what an overwrite or delete cut off half way replaced), and
  // the file itself holds slot_raw, a copy of slot_version, which is not the object's version.
  bool displaced = false;
  std::string slot_raw;
  Uuid slot_version;
  // The member was not read (SetCore::ReadQuorumMeta stopped before it): it may hold anything,
  // so it counts as a member that cannot say (unknown()).
  bool skipped = false;
  // The bytes of the member's metadata file as read (for a displaced read, slot_raw).
  const std::string& file_raw() const { return displaced ? slot_raw : raw; }

  // Not present, by the class of the error: there is no copy; there is a copy but it is damaged
  // (bad checksum, malformed); or the member could not say (offline, I/O error), so it may hold
  // anything.
  bool absent() const { return !present && error.error_class() == ErrorClass::kAbsent; }
  bool damaged() const { return !present && error.error_class() == ErrorClass::kDamaged; }
  bool unknown() const { return !present && !absent() && !damaged(); }
};

// True when two reads of one member's copy saw the same thing. The one "changed since it was read"
// test: heal commits, and removes dangling objects, only where every member's copy still reads
// as it did when heal examined the object.
bool SameCopy(const MetaRead& a, const MetaRead& b);

class SetCore {
 public:
  SetCore(const SetCore&) = delete;
  SetCore& operator=(const SetCore&) = delete;

  uint32_t k() const { return params_.k; }
  uint32_t m() const { return params_.m; }
  uint32_t n() const { return params_.k + params_.m; }
  const SetParams& params() const { return params_; }
  uint32_t write_quorum() const { return write_quorum_; }
  // Copies needed to believe a version or bucket exists: max(K, N - write quorum + 1).
  uint32_t read_quorum() const { return read_quorum_; }
  // Members online (not nullptr).
  uint32_t online() const;
  // The member at a position, or nullptr when it is offline.
  Volume* volume(uint32_t pos) const { return volumes_[pos]; }
  const ErasureCodec& codec() const { return *codec_; }
  KeyLocks& locks() const { return *locks_; }
  Clock& clock() const { return *clock_; }
  // The set's clock, in nanoseconds since the epoch.
  int64_t NowNs() const { return clock_->NowNs(); }

  // The lock stripe of a key (KeyLocks).
  size_t Stripe(const std::string& bucket, const std::string& key) const;
  // First shard's member position for a key: shards rotate across members by key hash.
  uint32_t Rotation(const std::string& bucket, const std::string& key) const;

  // Reads the metadata file at meta_path from every member (offline ones: an "offline" error).
  std::vector<MetaRead> ReadAllMeta(const std::string& meta_path) const;
  // Reads members one by one from position `first` on (wrapping; a key's Rotation puts its data
  // shards first) and stops as soon as the copies read decide what PickVersion over every member
  // would say (QuorumDecided); the members not read are MetaRead::skipped. A healthy object costs
  // read_quorum() reads instead of n().
  std::vector<MetaRead> ReadQuorumMeta(const std::string& meta_path, uint32_t first) const;
  // Reads the members *metas skipped, so that it holds every member's copy.
  void ReadSkippedMeta(const std::string& meta_path, std::vector<MetaRead>* metas) const;
  // True when PickVersion's answer over every member is already fixed by the copies read, whatever
  // the skipped members hold: a version has a read quorum and no other version could reach one
  // (then it is the pick), or a read quorum is absent or deleted and no version could reach one
  // (kNotFound). Needs 2 * read_quorum() > n() to ever stop early for a version (true when
  // read_quorum() + write_quorum() > n(), as SetCore's quorums are).
  bool QuorumDecided(const std::vector<MetaRead>& metas) const;
  static bool AnySkipped(const std::vector<MetaRead>& metas);
  // Picks the newest version (by modified time, then version id) that has a read quorum of
  // copies; it may be a delete marker (callers that read objects treat that as "no such
  // object"). kNotFound when no version has a quorum and a read quorum of members has no copy or
  // a delete marker; kDataLoss when copies exist but disagree below quorum.
  Result<int> PickVersion(const std::vector<MetaRead>& metas, const std::string& what) const;
  // As PickVersion, but a delete marker is kNotFound: the version a reader sees.
  Result<int> PickReadable(const std::vector<MetaRead>& metas, const std::string& what) const;
  // PickVersion, then, when copies disagree below quorum, what a commit cut off half way left:
  //  1. An overwrite or delete that published its copy on some members only: each of those keeps
  //     the copy it replaced beside it (ObjectPaths::DisplacedPath). Each member counts for the
  //     version of its file and for the one beside it; the newest version with a read quorum so
  //     counted is picked (the previous one, or the new one when a crash between a member's two
  //     swaps left it beside the file on enough members), and *metas gets the copies beside the
  //     files where the files hold another version (MetaRead::displaced).
  //  2. A write that never committed: no version present could have reached the read quorum,
  //     even counting members that cannot answer, hold a damaged copy, or were replaced since it
  //     was written (CouldBeCommitted without shard files). kNotFound: its copies are leftovers.
  //     Heal removes them, unless shard files without metadata copies make up a quorum: then it
  //     restores those copies (a write cut off between a member's shard and metadata renames,
  //     or metadata lost), and the object reads from then on.
  // Reads of the slow path cost a metadata read or a stat per member; the fast path costs none.
  Result<int> ResolveVersion(const std::string& meta_path, std::vector<MetaRead>* metas,
                             const std::string& what) const;
  // As ResolveVersion, but a delete marker is kNotFound.
  Result<int> ResolveReadable(const std::string& meta_path, std::vector<MetaRead>* metas,
                              const std::string& what) const;
  // Whether version x (one of *metas) could have been on a read quorum of members when it was
  // written: its copies, plus members that cannot say (offline, I/O error), hold a damaged copy,
  // were replaced after x was written, or (with shards) hold x's shard file without a metadata
  // copy.
  bool CouldBeCommitted(const std::string& meta_path, const std::vector<MetaRead>& metas,
                        const ObjectMeta& x, bool shards) const;
  // True when some present copy's version could have been committed (CouldBeCommitted).
  bool AnyCouldBeCommitted(const std::string& meta_path, const std::vector<MetaRead>& metas,
                           bool shards) const;
  // When member pos was last formatted as a replacement (PrepareMembers), in ns of the set's
  // clock; 0 when it never was. Copies written before that may be missing from it.
  int64_t replaced_ns(uint32_t pos) const { return replaced_ns_[pos]; }

  // Makes the entries of directory dir ("" for the root: a bucket's entry; a key's directory:
  // what was renamed into or removed from it) durable on the members in `which`, all at once;
  // when dir is gone (removed as empty), its deepest ancestor left instead. Only these
  // directories: never a syncfs, which would wait for every other writer's dirty data on the file
  // system (docs/benchmarks.md, "Flushing"). Commits flush through FlushCommits (commit.h).
  Status SyncDirs(const std::vector<bool>& which, const std::string& dir) const;
  // Removes dir and its parents while they are empty, up to (not including) the bucket.
  void RemoveEmptyParents(Volume* v, const std::string& bucket, std::string dir) const;

  // Spare temp files: a commit over an existing copy swaps the new metadata in (Exchange) and
  // keeps the old file as the next write's temp file, so small writes allocate and free no inodes
  // (inode allocation dominated small-PUT profiles on ext4). A DELETE's marker, once removed,
  // becomes a spare too, so that a later new key's PUT reuses its inode: on ext4 without a
  // journal, every inode allocation scans past the inodes freed in the last minutes, which made
  // delete-then-write cycles of small objects cost ~6 such scans per key. At most kMaxSpares per
  // member, and only files of at most kMaxSpareBytes (a spare keeps its blocks until reused or the
  // set closes: at most 16 MiB a member). TakeSpare returns a spare of member pos, or fallback
  // when there is none; GiveSpare removes what it does not keep.
  std::string TakeSpare(uint32_t pos, const std::string& fallback);
  void GiveSpare(uint32_t pos, const std::string& path);

  // Room for deletes on full members. A delete writes its markers before it frees anything, and
  // deleting is how a full set is given room back: a marker refused for room releases its
  // member's reserve (kReservePath) and is tried once more. KeepReserves makes the missing ones
  // again, where there is room: at format, when a set is served, after a delete that released one.
  void KeepReserves();
  bool ReleaseReserve(uint32_t pos);
  static constexpr size_t kMaxSpares = 1024;
  static constexpr uint64_t kMaxSpareBytes = 16 << 10;

 protected:
  // volumes[i] is the member at position i, or nullptr when it is offline (not owned). clock may
  // be null: the wall clock.
  SetCore(std::vector<Volume*> volumes, const SetParams& p, std::unique_ptr<ErasureCodec> codec,
          const std::string& lock_dir, Clock* clock);
  // Removes the spare files still held.
  ~SetCore();

  std::vector<Volume*> volumes_;
  SetParams params_;
  uint32_t write_quorum_, read_quorum_;
  std::unique_ptr<ErasureCodec> codec_;
  std::unique_ptr<KeyLocks> locks_;
  Clock* clock_;
  std::vector<int64_t> replaced_ns_;  // per position (replaced_ns)

 private:
  std::mutex spare_mu_;
  std::vector<std::vector<std::string>> spares_;  // per member position
};

}  // namespace cairn
