// ErasureSet: an ObjectStore over N = K+M volumes (one per disk), Reed-Solomon coded.
//
// Layout per volume (docs/format.md): .cairn/format, .cairn/tmp/ (temp files), .cairn/mrf/ (the
// journal of partial writes), .cairn/locks/ (cross-process commit locks), and one directory per
// bucket holding each object's metadata file and, for objects above the inline limit, one shard
// file, in a directory tree that mirrors the key (see key_path.h).
//
// Quorums: a write (PUT, DELETE, bucket create/remove) succeeds when it committed on the write
// quorum: max(K, N/2 + 1) volumes (K, or K+1 when K == M). A read needs K volumes agreeing on a
// version. Missing or corrupt shards are rebuilt on the fly (degraded read) and recorded in the
// MRF journal for healing.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "libstore/format/mrf_entry.h"
#include "libstore/format/object_meta.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/object_store.h"
#include "libstore/object/set_core.h"
#include "libstore/volume/volume.h"

namespace cairn {

// The state of one member's copy of an object, for `cairn stat`.
enum class CopyState {
  kOk,
  kOffline,       // the member is offline
  kMissing,       // no metadata copy
  kStale,         // a copy of another (older) version
  kCorruptMeta,   // a metadata copy that fails its checksum or does not decode
  kMissingShard,  // the metadata is right, the shard file is not there
  kShortShard,    // the shard file is not the size the metadata says
};
const char* Name(CopyState s);  // "ok", "offline", "missing", "stale", "corrupt-meta", ...

struct ShardState {
  uint32_t position = 0;  // volume position in the set
  std::string volume;     // Describe() of the volume, or "(offline)"
  CopyState state = CopyState::kOk;
  int shard_index = -1;  // shard this volume holds for the chosen version, -1 if unknown
  uint64_t shard_bytes = 0;
};

struct ObjectDetail {
  ObjectInfo info;
  ObjectMeta meta;  // the chosen version (from one volume; shard_index is that volume's)
  std::vector<ShardState> shards;
};

// What verify and heal found for one object (libstore/object/heal.h runs them over a whole set).
enum class Health { kHealthy, kDegraded, kUnrecoverable };
const char* Name(Health h);  // "healthy", "degraded", "unrecoverable"

// What is wrong with one member's copy of an object.
enum class ProblemKind {
  kOffline,        // the member is offline
  kMissingMeta,    // no metadata copy
  kStaleMeta,      // a copy of an older version
  kCorruptMeta,    // a metadata copy that fails its checksum or does not decode
  kMissingShard,   // no shard file
  kShortShard,     // the shard file is truncated
  kLongShard,      // the shard file is longer than the metadata says
  kCorruptBlocks,  // blocks fail their checksums (deep)
  kDeleteMarker,   // the marker of a delete that did not finish on every member
};
const char* Name(ProblemKind p);  // "offline", "missing-meta", ..., "delete-marker"

struct ShardProblem {
  uint32_t position = 0;  // volume position in the set
  int shard_index = -1;   // the shard that volume holds for the object, -1 if unknown
  ProblemKind problem = ProblemKind::kOffline;
  std::vector<std::pair<uint64_t, uint64_t>> blocks;  // bad block ranges, inclusive (deep only)
};

struct ObjectHealth {
  std::string bucket, key;
  Health health = Health::kHealthy;
  // Unrecoverable and not because of offline volumes: fewer than K good shards (or metadata copies
  // below quorum with no way to restore them) even if every volume came back.
  bool dangling = false;
  // A delete that did not finish on every member (it was interrupted, or members were offline):
  // its delete markers, or copies of the deleted version, are left. Degraded; heal finishes it.
  bool deleting = false;
  // Copies of a write (or of a delete's markers) that never reached a quorum: a crash or a failure
  // cut it off. Readers do not see it; degraded, and heal removes the copies.
  bool uncommitted = false;
  Uuid version;
  uint64_t size = 0;
  uint64_t blocks = 0;
  bool is_inline = false;
  std::vector<ShardProblem> problems;
  std::vector<std::pair<uint64_t, uint64_t>> lost_blocks;  // blocks with fewer than K good shards
  uint64_t bytes_read = 0;
  // Heal only.
  // kQueued: rebuilt into temp files and waiting in a HealBatch (ErasureSet::CommitHeals).
  // kFinishedDelete: the delete was finished (every copy and marker removed, or every copy of
  // the deleted version where members are offline).
  enum class Action {
    kNone,
    kHealed,
    kWouldHeal,
    kRemoved,
    kWouldRemove,
    kChanged,
    kFailed,
    kQueued,
    kFinishedDelete,
    kWouldFinishDelete,
  };
  Action action = Action::kNone;
  std::vector<uint32_t> healed;  // positions given a new shard or metadata copy
  uint64_t bytes_written = 0;
  Health after = Health::kHealthy;  // what is left once the heal committed
  std::string note;                 // why a heal failed or was skipped
};
const char* Name(ObjectHealth::Action a);  // "none", "healed", "would-heal", ...

// Throttles verify and heal: Acquire(n) blocks until n more bytes may be read.
class RateLimiter;

struct CheckOptions {
  bool deep = false;             // read every block and check its checksum (heal always does)
  bool dry_run = false;          // heal: report, change nothing
  bool remove_dangling = false;  // heal: delete dangling objects
  RateLimiter* limiter = nullptr;
  // Told the bytes of every block read, as they are read (for progress bars); may be called from
  // several threads at once.
  std::function<void(uint64_t)> on_read;
};

// The release grace `cairn gc` and serve's background pass give the parts of deleted or
// overwritten multipart objects (GcOptions::released_older_than_ns): an hour, or the run's own
// grace period when that is shorter.
constexpr int64_t kReleasedUploadGraceNs = 3600LL * 1000000000;

struct GcOptions {
  int64_t older_than_ns = 24LL * 3600 * 1000000000;  // grace period: younger things are kept
  bool dry_run = false;
  bool uploads_only = false;  // only multipart uploads' staging directories (GcKind::kUpload)
  // The parts of a multipart object that was deleted or overwritten (its upload marked released
  // by the commit) go once the mark is this old, whatever older_than_ns says: only GETs that
  // opened the old version before the mark still read them. Negative: older_than_ns.
  int64_t released_older_than_ns = -1;
};

// What gc removes.
enum class GcKind {
  kTemp,         // an entry of .cairn/tmp
  kOrphanShard,  // a shard file no metadata copy on any volume names
  kEmptyDir,     // a key directory left empty
  kStaleMrf,     // an MRF journal entry for a version that is gone
  kBadMrf,       // an MRF journal entry that cannot be decoded
  kDisplaced,    // a metadata copy a commit moved aside, left by a crash, no longer needed
  kUpload,       // a multipart upload's staging directory: abandoned, aborted half way, or the
                 // data of a multipart object that was overwritten or deleted
};
// "temp", "orphan-shard", "empty-dir", "stale-mrf", "bad-mrf", "displaced-copy", "upload"
const char* Name(GcKind k);

// One thing gc removed (or, dry run, would remove).
struct GcItem {
  uint32_t position = 0;  // volume position
  std::string path;       // relative to the volume root
  GcKind what = GcKind::kTemp;
  uint64_t bytes = 0;
};

struct GcReport {
  uint64_t items = 0, bytes = 0;
  std::vector<std::string> errors;  // what could not be removed or read, one line each
  std::vector<std::string> notes;   // what was kept on purpose, one line each
};

class ObjectExam;
struct UploadRecord;
struct PartRecord;

// Objects rebuilt into temp files and waiting for their commit, so that many objects share each
// flush (ErasureSet::HealObject with a batch, then CommitHeals). Dropping a batch removes its temp
// files. Not thread-safe: one batch per thread, or a lock around it.
class HealBatch {
 public:
  HealBatch();
  ~HealBatch();
  HealBatch(const HealBatch&) = delete;
  HealBatch& operator=(const HealBatch&) = delete;
  size_t size() const { return pending_.size(); }
  uint64_t bytes() const { return bytes_; }  // rebuilt bytes waiting

  // Used by ErasureSet: queues an examined object with `bytes` rebuilt; hands them all back.
  void Add(std::unique_ptr<ObjectExam> e, uint64_t bytes);
  std::vector<std::unique_ptr<ObjectExam>> Take();

 private:
  std::vector<std::unique_ptr<ObjectExam>> pending_;
  uint64_t bytes_ = 0;
};

// Something in a member's tree that cairn never makes and never follows or opens: a symbolic link,
// or a FIFO, socket or device. Verify and heal report each one and leave it alone.
struct ForeignEntry {
  uint32_t position = 0;  // the member
  std::string path;       // relative to the member's root
  FileKind kind = FileKind::kSymlink;
};
using ForeignEntryFn = std::function<void(const ForeignEntry&)>;

class ErasureSet : public ObjectStore, public SetCore {
 public:
  // volumes[i] is the member at position i, or nullptr when it is offline. Does not take ownership.
  // lock_dir: a local directory for cross-process commit locks (flock), or "" for in-process
  // locking only. clock: where times come from (null: the wall clock; not owned). Fails below
  // read quorum.
  static Result<std::unique_ptr<ErasureSet>> Open(std::vector<Volume*> volumes, const SetParams& p,
                                                  const std::string& lock_dir = "",
                                                  Clock* clock = nullptr);

  ~ErasureSet() override;

  Status MakeBucket(const std::string& bucket) override;
  // MakeBucket that also says, in *warnings (may be null), which members missed a bucket that
  // was made on a write quorum (heal creates it there). Below the write quorum, what it made is
  // removed again and it fails: a bucket exists after mb exactly when mb succeeded.
  Status MakeBucket(const std::string& bucket, std::vector<std::string>* warnings);
  Status RemoveBucket(const std::string& bucket, bool force) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;
  Status BucketExists(const std::string& bucket) override;
  // Refuses options past the limits of PutOptions (ValidatePutOptions) before reading any byte.
  // The result's `missed` names the members that did not take the write; they are recorded in the
  // MRF journal for heal.
  Result<ObjectInfo> PutObject(const std::string& bucket, const std::string& key, Source& src,
                               const PutOptions& opts) override;
  // The reader rebuilds missing or corrupt data chunks from parity as it goes; a read that met a
  // missing or corrupt shard on an online member queues the object in the MRF journal (once per
  // version and process) when it ends or is dropped. It offers no ZeroCopy.
  Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket,
                                                   const std::string& key, const GetOptions& opts,
                                                   ObjectInfo* verdict = nullptr) override;
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key,
                                const GetOptions& opts = {},
                                ObjectInfo* verdict = nullptr) override;
  // Commits a delete marker on every online member like a version (write quorum, rolled back
  // below it), then removes the deleted version's files and, when every member took the marker,
  // the markers. A delete that stops half way leaves markers that heal recognises and finishes;
  // members that missed it keep the markers in place and are recorded in the MRF journal.
  Status DeleteObject(const std::string& bucket, const std::string& key) override;
  // Deletes many objects of one bucket, each as DeleteObject does, sharing the flushes: the
  // markers of all are flushed once, each is published under its own key's lock, and the renames
  // of all are flushed once. Returns one status per key, in order (kNotFound for a key that does
  // not exist). A flush that fails fails every delete not yet durable; their markers are left
  // for heal to settle.
  std::vector<Status> DeleteObjects(const std::string& bucket,
                                    const std::vector<std::string>& keys);
  Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& opts) override;

  // ---- multipart uploads (erasure_set_multipart.cc): the ObjectStore contract. Each part is
  // erasure-coded as it streams into the upload's staging directory on every member
  // (upload_record.h); Complete commits metadata naming the parts, no data is copied. The data
  // of an object that was overwritten or deleted, and of uploads nobody finished, is removed by
  // gc (CollectGarbage) once older than its grace period.
  Result<MultipartUpload> CreateMultipartUpload(const std::string& bucket, const std::string& key,
                                                const CreateMultipartOptions& opts) override;
  Result<PartInfo> UploadPart(const std::string& bucket, const std::string& key,
                              const std::string& upload_id, int part_number, Source& src,
                              const UploadPartOptions& opts) override;
  Result<ObjectInfo> CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                             const std::string& upload_id,
                                             const std::vector<CompletedPart>& parts,
                                             const CompleteMultipartOptions& opts) override;
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id) override;
  Result<ListPartsResult> ListParts(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id,
                                    const ListPartsOptions& opts) override;
  Result<ListUploadsResult> ListMultipartUploads(const std::string& bucket,
                                                 const ListUploadsOptions& opts) override;
  // The gc of uploads alone (CollectGarbage with uploads_only): open uploads initiated before
  // older_than_ns ago, and what they staged, are removed. Returns the number of uploads removed.
  Result<uint64_t> AbortStaleUploads(int64_t older_than_ns) override;

  // Per-volume shard state of an object (reads metadata everywhere, stats shard files).
  Result<ObjectDetail> StatObject(const std::string& bucket, const std::string& key);

  // The MRF journal: entries from every online volume, merged by id.
  Result<std::vector<MrfEntry>> ListMrf();
  // Removes one journal entry from every online volume.
  void RemoveMrf(const std::string& id);

  // ---- verify, heal and gc (erasure_set_heal.cc, erasure_set_gc.cc; driven by heal.h)
  // Checks one object: quick (metadata on every volume, shard files of the right size) or deep.
  // kNotFound when no volume holds a copy.
  Result<ObjectHealth> CheckObject(const std::string& bucket, const std::string& key,
                                   const CheckOptions& o);
  // Checks one object deeply and rebuilds every missing, stale or damaged shard and metadata copy
  // (temp file, flush, rename; nothing is written for an object it cannot fully rebuild, and an
  // object changed meanwhile is left to its writer: Action::kChanged); finishes an interrupted
  // delete (Action::kFinishedDelete). kNotFound as CheckObject. With a batch, an object that
  // needs writing is queued there (Action::kQueued) and its final ObjectHealth comes from
  // CommitHeals.
  Result<ObjectHealth> HealObject(const std::string& bucket, const std::string& key,
                                  const CheckOptions& o, HealBatch* batch = nullptr);
  // Commits every queued object with two flushes per volume in all; returns their verdicts.
  std::vector<ObjectHealth> CommitHeals(HealBatch& batch);
  // Every key of bucket starting with prefix and after start_after that has a metadata file on
  // any online volume, in order, once each; fn returns false to stop. Memory is bounded by
  // directory size, not by the number of keys.
  // Entries of the key trees walked that are symlinks or other non-files go to `foreign` (if set).
  Status ScanKeys(const std::string& bucket, const std::string& prefix,
                  const std::string& start_after,
                  const std::function<bool(const std::string& key)>& fn,
                  const ForeignEntryFn& foreign = nullptr);
  // Removes what no object needs and that is older than the grace period, measured on the set's
  // clock (erasure_set_gc.cc): temp files of writes that died, shard files no metadata copy
  // names, empty key directories, journal entries of versions that are gone. Calls fn for each
  // item removed (or to be removed).
  Result<GcReport> CollectGarbage(const GcOptions& o, const std::function<void(const GcItem&)>& fn);
  // Bucket names found on any online volume, with the number of volumes that have each (a
  // directory whose bucket.meta does not decode does not count: it is not a bucket). Symlinks
  // and other non-files at a member's top level or in its .cairn directory go to `foreign`.
  Result<std::vector<std::pair<std::string, uint32_t>>> ScanBuckets(
      const ForeignEntryFn& foreign = nullptr);
  // Creates a bucket (directory and bucket.meta) on every online volume that lacks it or whose
  // bucket.meta does not decode. Returns the positions it was (or, dry run, would be) created on;
  // a member that cannot take it is skipped. The bucket must be on a read quorum.
  Result<std::vector<uint32_t>> HealBucket(const std::string& bucket, bool dry_run);
  // A bucket on fewer members than the read quorum: an mb or an rb that a crash cut off, when it
  // could not have been on a read quorum even counting the members that cannot say, hold a
  // damaged record, or were replaced after it was made. Then (not dry run) what is left of it is
  // removed, objects and all (none of them can be read: each has copies only where the bucket
  // is), under the bucket's lock, which mb and rb hold too. Returns whether it was (or would
  // be) removed; false leaves it alone (it may have been lost with members: reported).
  Result<bool> SettleUnfinishedBucket(const std::string& bucket, bool dry_run);

  // How often a GET reads every member's copy of a version it reads from a quorum (FullReadDue),
  // in ns of the set's clock.
  static constexpr int64_t kFullReadIntervalNs = int64_t(10) * 1000 * 1000 * 1000;

 private:
  class SetReader;  // OpenObject's reader (erasure_set_read.cc)

  ErasureSet(std::vector<Volume*> volumes, const SetParams& p, std::unique_ptr<ErasureCodec> codec,
             const std::string& lock_dir, Clock* clock);

  Status CheckBucket(const std::string& bucket);
  // The lock stripe that mb, rb and SettleUnfinishedBucket take for a bucket.
  size_t BucketStripe(const std::string& bucket) const;
  // kQuorum unless at least a write quorum of volumes is online. Every write (PUT, DELETE, bucket
  // create and remove) checks it before it changes anything, so a write that cannot reach its
  // quorum leaves the set as it was instead of half done.
  Status CheckWriteQuorum() const;
  ObjectInfo InfoFrom(const std::string& bucket, const ObjectMeta& m) const;

  // Which members' metadata copies ReadVersion reads: all of them, or (kQuorum) members in the
  // key's rotation order until they decide the version (SetCore::ReadQuorumMeta); the others
  // are then MetaRead::skipped.
  enum class MetaReads { kAll, kQuorum };
  // Reads the members' metadata copies of a key into *metas and picks the version a reader sees
  // (PickReadable), then calls then(metas, pick) (if given) under the same lock. The first read
  // holds only the in-process read lock; when `then` returns false on copies read with kQuorum,
  // the skipped members are read and `then` asked again. When the copies disagree below a read
  // quorum, or `then` returns false on every member's copy (the version's files vanished), the
  // key is read once more, from every member, under its write lock (in-process and across
  // processes), where no commit of another process is half done. So a reader racing writers sees
  // a committed version, never a mix.
  Result<int> ReadVersion(const std::string& bucket, const std::string& key,
                          std::vector<MetaRead>* metas,
                          const std::function<bool(const std::vector<MetaRead>&, int)>& then = {},
                          MetaReads reads = MetaReads::kAll);

  // Metadata common to every volume's copy of a new version (shard_index and data fields unset).
  ObjectMeta BaseMeta(const std::string& key, uint64_t size, const PutOptions& opts,
                      uint32_t rotation) const;
  // Records a computed x-amz-checksum-* in m as a single PUT's (FULL_OBJECT); kNone: nothing.
  static void SetChecksum(ObjectMeta* m, const ChecksumValue& v);
  // Encodes a whole in-memory body into K+M framed shards (chunk + checksum per block).
  void EncodeBlocksInto(const struct StripeLayout& lay, const uint8_t* data,
                        std::vector<std::string>& framed) const;
  // The commit half of a PUT: the version is staged in `c` (its temp files written); flushes,
  // publishes under the key's lock, rolls back below the write quorum, records members that
  // missed it in the MRF journal. info gets the missed members.
  // PutOptions' conditions are checked under the key's lock, against the version the commit
  // would replace; a failed one publishes nothing (the staged files are removed).
  Status CommitPut(class VersionCommit& c, const ObjectMeta& base, const PutOptions& opts,
                   ObjectInfo* info);
  // The version a PUT with conditions would replace, decided now (null: none). Call under the
  // key's write lock for a verdict that holds until the commit.
  Status CheckPutConditionsNow(const std::string& bucket, const std::string& key,
                               const PutOptions& opts, bool locked);
  void RecordMrf(const std::string& bucket, const std::string& key, const Uuid& version,
                 const std::vector<uint32_t>& positions);
  // DeleteObjects of keys[begin, end), its statuses into (*out)[begin, end).
  void DeleteBatch(const std::string& bucket, const std::vector<std::string>& keys, size_t begin,
                   size_t end, std::vector<Status>* out);

  // The body of a PUT or an UploadPart streamed into K+M shard files (one per online member, at
  // shard_path, not flushed), the promises of opts checked (errors with context `what`). On
  // failure nothing is left on the members. out->files stay open for the caller to close.
  struct StreamedShards {
    std::vector<std::unique_ptr<WritableFile>> files;  // by member position
    std::vector<bool> ok;                              // the member took every block
    std::vector<Status> errs;                          // why not
    uint64_t size = 0;
    std::array<uint8_t, 16> md5{};  // when opts' plan computed it
    std::string etag;
    ChecksumValue checksum;  // StoredChecksumAlgorithm(opts)'s value, or none
  };
  Status StreamShards(Source& src, std::string_view head, const PutOptions& opts,
                      const std::vector<uint8_t>& distribution, const std::string& shard_path,
                      const std::string& what, StreamedShards* out);
  // Streams the shard data of one object version, verifying and rebuilding blocks.
  Result<ObjectInfo> PutStreaming(const std::string& bucket, const std::string& key, Source& src,
                                  const PutOptions& opts, std::string_view head);

  // Multipart helpers (erasure_set_multipart.cc).
  std::mutex& UploadMutex(const Uuid& upload);
  // The upload's record as a read quorum has it (a completed copy anywhere wins);
  // kUploadNotFound when there is none or it is of another bucket or key.
  Result<UploadRecord> ReadUpload(const Uuid& id, const std::string& bucket,
                                         const std::string& key);
  // The part as at least K members record it (the newest such); when no version of its record is
  // on K members (a replacement cut short), the newest recorded version whose shard files are on
  // K members. kInvalidPart when none. *holders (if given): which members hold that record (in
  // the second case, that version's shard file).
  Result<PartRecord> ReadPart(const Uuid& id, uint32_t number, std::vector<bool>* holders);
  // Whether the key's current version is the object Complete made from upload `id` (with
  // `parts`, if given: from that part list); *info gets it then.
  bool CompletedFrom(const std::string& bucket, const std::string& key, const Uuid& id,
                     ObjectInfo* info, const std::vector<CompletedPart>* parts = nullptr);
  // Replaces the record on every online member that has the upload's directory (best effort).
  void WriteUploadRecord(const Uuid& id, const UploadRecord& rec);
  std::array<std::mutex, 64> upload_mu_;

  // True the first time this process reads `version` degraded, so a hot degraded object is
  // journaled once, not on every GET.
  bool FirstDegradedRead(const Uuid& version);
  std::mutex degraded_mu_;
  std::set<Uuid> degraded_seen_;

  // Whether a GET of `version` must read every member's copy although a quorum read sufficed:
  // true when this process has not read the version from every member in the last
  // kFullReadIntervalNs of the set's clock (and then it counts as read now). So a copy missing,
  // stale or damaged on a member that quorum reads skip is still seen by a GET, and journaled for
  // heal, at most that long after it was first read degraded, as a GET reading every member would.
  // Bounded: a direct-mapped table of kFullReadSlots versions; a version pushed out just costs
  // one more full read.
  bool FullReadDue(const Uuid& version);
  static constexpr size_t kFullReadSlots = 4096;
  struct FullRead {
    Uuid version;
    int64_t at_ns = 0;
  };
  std::mutex full_read_mu_;
  std::vector<FullRead> full_reads_ = std::vector<FullRead>(kFullReadSlots);
};

}  // namespace cairn
