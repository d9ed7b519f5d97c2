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

#include <memory>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "libstore/erasure/codec.h"
#include "libstore/format/object_meta.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/object_store.h"
#include "libstore/volume/volume.h"

namespace cairn {

struct SetParams {
  uint32_t k = 0, m = 0;
  uint32_t block_size = 1 << 20;
  uint32_t inline_limit = 128 << 10;
};

// The state of one volume's copy of an object, for `cairn stat` and verify.
struct ShardState {
  uint32_t position = 0;       // volume position in the set
  std::string volume;          // Describe() of the volume, or "(offline)"
  std::string state;           // ok, offline, missing, stale, corrupt-meta, missing-shard, short-shard
  int shard_index = -1;        // shard this volume holds for the chosen version, -1 if unknown
  uint64_t shard_bytes = 0;
};

struct ObjectDetail {
  ObjectInfo info;
  ObjectMeta meta;             // the chosen version (from one volume; shard_index is that volume's)
  std::vector<ShardState> shards;
};

// What verify and heal found for one object (libstore/object/heal.h runs them over a whole set).
enum class Health { kHealthy, kDegraded, kUnrecoverable };
const char* HealthName(Health h);  // "healthy", "degraded", "unrecoverable"

struct ShardProblem {
  uint32_t position = 0;   // volume position in the set
  int shard_index = -1;    // the shard that volume holds for the object, -1 if unknown
  // offline, missing-meta, stale-meta, corrupt-meta, missing-shard, short-shard, long-shard,
  // corrupt-blocks
  std::string problem;
  std::vector<std::pair<uint64_t, uint64_t>> blocks;  // bad block ranges, inclusive (deep only)
};

struct ObjectHealth {
  std::string bucket, key;
  Health health = Health::kHealthy;
  // Unrecoverable and not because of offline volumes: fewer than K good shards (or metadata copies
  // below quorum with no way to restore them) even if every volume came back.
  bool dangling = false;
  Uuid version;
  uint64_t size = 0;
  uint64_t blocks = 0;
  bool is_inline = false;
  std::vector<ShardProblem> problems;
  std::vector<std::pair<uint64_t, uint64_t>> lost_blocks;  // blocks with fewer than K good shards
  uint64_t bytes_read = 0;
  // Heal only.
  // kQueued: rebuilt into temp files and waiting in a HealBatch (ErasureSet::CommitHeals).
  enum class Action { kNone, kHealed, kWouldHeal, kRemoved, kWouldRemove, kChanged, kFailed, kQueued };
  Action action = Action::kNone;
  std::vector<uint32_t> healed;   // positions given a new shard or metadata copy
  uint64_t bytes_written = 0;
  Health after = Health::kHealthy;  // what is left once the heal committed
  std::string note;                 // why a heal failed or was skipped
};

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

struct GcOptions {
  int64_t older_than_ns = 24LL * 3600 * 1000000000;  // grace period: younger things are kept
  bool dry_run = false;
  int64_t now_ns = 0;  // 0: the wall clock (tests pass a fixed time)
};

// One thing gc removed (or, dry run, would remove).
struct GcItem {
  uint32_t position = 0;  // volume position
  std::string path;       // relative to the volume root
  // temp (.cairn/tmp entry), orphan-shard (no metadata copy on any volume names it),
  // empty-dir (a key directory left empty), stale-mrf (journal entry for a version that is gone),
  // bad-mrf (unreadable journal entry)
  std::string what;
  uint64_t bytes = 0;
};

struct GcReport {
  uint64_t items = 0, bytes = 0;
  std::vector<std::string> errors;  // what could not be removed or read, one line each
  std::vector<std::string> notes;   // what was kept on purpose, one line each
};

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

 private:
  friend class ErasureSet;
  std::vector<std::unique_ptr<class ObjectExam>> pending_;
  uint64_t bytes_ = 0;
};

struct MrfEntry {
  std::string id;              // file name in .cairn/mrf
  std::string bucket, key;
  Uuid version_id;
  std::vector<uint32_t> positions;  // volumes that missed the write or served a bad shard
  int64_t time_ns = 0;
};

class ErasureSet : public ObjectStore {
 public:
  // volumes[i] is the member at position i, or nullptr when it is offline. Does not take ownership.
  // lock_dir: a local directory for cross-process commit locks (flock), or "" for in-process
  // locking only. Fails below read quorum.
  static Result<std::unique_ptr<ErasureSet>> Open(std::vector<Volume*> volumes, const SetParams& p,
                                                  const std::string& lock_dir = "");

  ~ErasureSet() override;

  uint32_t k() const { return params_.k; }
  uint32_t m() const { return params_.m; }
  uint32_t n() const { return params_.k + params_.m; }
  const SetParams& params() const { return params_; }
  uint32_t write_quorum() const { return write_quorum_; }
  // Copies needed to believe a version or bucket exists: max(K, N - write quorum + 1).
  uint32_t read_quorum() const { return read_quorum_; }
  uint32_t online() const;

  Status MakeBucket(const std::string& bucket) override;
  Status RemoveBucket(const std::string& bucket, bool force) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;
  Status BucketExists(const std::string& bucket) override;
  Result<ObjectInfo> PutObject(const std::string& bucket, const std::string& key, Source& src,
                               const PutOptions& opts) override;
  Result<ObjectInfo> GetObject(const std::string& bucket, const std::string& key, Sink& sink,
                               GetRange range = {}) override;
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key) override;
  Status DeleteObject(const std::string& bucket, const std::string& key) override;
  Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& opts) override;

  // Per-volume shard state of an object (reads metadata everywhere, stats shard files).
  Result<ObjectDetail> StatObject(const std::string& bucket, const std::string& key);

  // The MRF journal: entries from every online volume, merged by id.
  Result<std::vector<MrfEntry>> ListMrf();
  // Removes one journal entry from every online volume.
  void RemoveMrf(const std::string& id);

  // ---- verify, heal and gc (erasure_set_heal.cc, erasure_set_gc.cc; driven by heal.h)
  Volume* volume(uint32_t pos) const { return volumes_[pos]; }
  // Checks one object: quick (metadata on every volume, shard files of the right size) or deep.
  // kNotFound when no volume holds a copy.
  Result<ObjectHealth> CheckObject(const std::string& bucket, const std::string& key,
                                   const CheckOptions& o);
  // Checks one object deeply and rebuilds every missing, stale or damaged shard and metadata copy
  // (temp file, flush, rename; nothing is written for an object it cannot fully rebuild, and an
  // object changed meanwhile is left to its writer: Action::kChanged). kNotFound as CheckObject.
  // With a batch, an object that needs writing is queued there (Action::kQueued) and its final
  // ObjectHealth comes from CommitHeals.
  Result<ObjectHealth> HealObject(const std::string& bucket, const std::string& key,
                                  const CheckOptions& o, HealBatch* batch = nullptr);
  // Commits every queued object with two flushes per volume in all; returns their verdicts.
  std::vector<ObjectHealth> CommitHeals(HealBatch& batch);
  // Every key of bucket starting with prefix and after start_after that has a metadata file on
  // any online volume, in order, once each; fn returns false to stop. Memory is bounded by
  // directory size, not by the number of keys.
  Status ScanKeys(const std::string& bucket, const std::string& prefix,
                  const std::string& start_after,
                  const std::function<bool(const std::string& key)>& fn);
  // Removes what no object needs and that is older than the grace period (erasure_set_gc.cc):
  // temp files of writes that died, shard files no metadata copy names, empty key directories,
  // journal entries of versions that are gone. Calls fn for each item removed (or to be removed).
  Result<GcReport> CollectGarbage(const GcOptions& o, const std::function<void(const GcItem&)>& fn);
  // Bucket names found on any online volume, with the number of volumes that have each.
  Result<std::vector<std::pair<std::string, uint32_t>>> ScanBuckets();
  // Creates a bucket (directory and bucket.meta) on every online volume that lacks it. Returns
  // the positions it was (or, dry run, would be) created on. The bucket must be on a read quorum.
  Result<std::vector<uint32_t>> HealBucket(const std::string& bucket, bool dry_run);

 private:
  friend class ObjectExam;  // verify and heal of one object (erasure_set_heal.cc)
  ErasureSet(std::vector<Volume*> volumes, const SetParams& p, std::unique_ptr<ErasureCodec> codec,
             const std::string& lock_dir);

  struct MetaRead {
    bool present = false;       // a meta file was read and decoded
    Status error;               // why not (kNotFound, corruption, I/O)
    ObjectMeta meta;
    std::string raw;            // the bytes as read (for rollback)
  };
  // Reads the metadata file at `meta_path` from every online volume.
  std::vector<MetaRead> ReadAllMeta(const std::string& meta_path);
  // Picks the newest version held by at least K volumes. kNotFound when no version has K copies
  // and fewer than K volumes hold any copy; kDataLoss-ish quorum error when copies exist but
  // disagree below quorum.
  Result<int> PickVersion(const std::vector<MetaRead>& metas, const std::string& what);
  Status CheckBucket(const std::string& bucket);
  ObjectInfo InfoFrom(const std::string& bucket, const ObjectMeta& m) const;

  // The commit half of a PUT: every volume i in `ok` has its temp metadata at meta_tmp[i] (and
  // <tmp>.shard for non-inline objects); moves them into place under the commit lock, rolls back
  // below quorum, and removes every temp file it does not keep as a spare.
  Status Commit(const std::string& bucket, const std::string& key, const std::string& tmp,
                const std::vector<std::string>& meta_tmp, std::vector<ObjectMeta>& metas,
                std::vector<bool>& ok, bool fsync);
  // Spare temp files: a PUT over an existing object swaps its new metadata in (Exchange) and
  // keeps the old file as the next PUT's temp file, so small PUTs allocate and free no inodes
  // (inode allocation dominated small-PUT profiles on ext4). Per volume, at most kMaxSpares.
  std::string TakeSpare(uint32_t pos, const std::string& fallback);
  void GiveSpare(uint32_t pos, const std::string& path);
  Status SyncVolumes(const std::vector<bool>& which);
  // Metadata common to every volume's copy of a new version (shard_index and data fields unset).
  ObjectMeta BaseMeta(const std::string& key, uint64_t size, const PutOptions& opts,
                      uint32_t rotation) const;
  // Encodes a whole in-memory body into K+M framed shards (chunk + checksum per block).
  void EncodeBlocksInto(const struct StripeLayout& lay, const uint8_t* data,
                        std::vector<std::string>& framed) const;
  void RecordMrf(const std::string& bucket, const std::string& key, const Uuid& version,
                 const std::vector<uint32_t>& positions);
  // Removes dir and its parents while they are empty, up to (not including) the bucket.
  void RemoveEmptyParents(Volume* v, const std::string& bucket, std::string dir);

  // Streams the shard data of one object version, verifying and rebuilding blocks.
  Status ReadData(const std::string& bucket, const std::string& key,
                  const std::vector<MetaRead>& metas, const ObjectMeta& chosen, Sink& sink,
                  uint64_t first, uint64_t last);
  Result<ObjectInfo> PutStreaming(const std::string& bucket, const std::string& key, Source& src,
                                  const PutOptions& opts, std::string_view head);

  size_t Stripe(const std::string& bucket, const std::string& key) const;
  // First shard's volume position for a key: shards rotate across volumes by key hash.
  uint32_t Rotation(const std::string& bucket, const std::string& key) const;

  std::vector<Volume*> volumes_;
  SetParams params_;
  uint32_t write_quorum_, read_quorum_;
  std::unique_ptr<ErasureCodec> codec_;
  std::unique_ptr<class KeyLocks> locks_;
  // True the first time this process reads `version` degraded, so a hot degraded object is
  // journaled once, not on every GET.
  bool FirstDegradedRead(const Uuid& version);
  std::mutex degraded_mu_;
  std::set<Uuid> degraded_seen_;

  static constexpr size_t kMaxSpares = 64;
  std::mutex spare_mu_;
  std::vector<std::vector<std::string>> spares_;  // per volume position
};

// Write quorum for K+M: max(K, (K+M)/2 + 1).
uint32_t WriteQuorum(uint32_t k, uint32_t m);

}  // namespace cairn
