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

 private:
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
                 const std::vector<uint32_t>& positions, bool fsync);
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
