// ErasureSet reads: OpenObject's reader (verifying and rebuilding blocks as they are read), HEAD.
//
// The reader holds the version's shard files open from the moment its metadata was read (under
// the key's read lock), so every byte it sends is of that version even when a writer replaces it
// meanwhile: a commit unlinks the old shard files, open descriptors keep them. It decodes one block
// at a time into one pooled buffer, so memory is a block whatever the object size.
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "libstore/common/buffer_pool.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/framing.h"
#include "libstore/format/key_path.h"
#include "libstore/format/upload_record.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/multipart.h"

namespace cairn {

class ErasureSet::SetReader : public ObjectReader {
 public:
  SetReader(ErasureSet& set, std::string bucket)
      : ObjectReader({}, {}), set_(set), bucket_(std::move(bucket)) {}
  ~SetReader() override { NoteDegraded(); }

  // Opens the shard files of the version metas_[pick] names; false when fewer than K opened.
  // A multipart object's part files are opened part by part as the read reaches them (OpenPart):
  // they are removed only by gc, after its grace period, never by the commit that replaces the
  // object.
  // Copies read from a quorum of members only (ReadQuorumMeta) suffice for an inline object whose
  // K data shards are all there and whole, when the version is not due for a read of every
  // member (FullReadDue); false asks ReadVersion for the other members' copies. A shard file, by
  // contrast, would have to be opened now for the read to survive a bad block found later, so an
  // object with shard files always reads every member.
  bool OpenShards(const std::string& key, int pick) {
    const ObjectMeta& chosen = metas_[pick].meta;
    if (SetCore::AnySkipped(metas_) &&
        (!chosen.is_inline() || chosen.is_multipart() || !DataShardsWhole(chosen) ||
         set_.FullReadDue(chosen.version_id))) {
      return false;
    }
    if (chosen.is_multipart()) return true;
    const uint32_t total = set_.n();
    ClearShards();
    uint32_t opened = 0;
    for (uint32_t pos = 0; pos < total; ++pos) {
      const MetaRead& mr = metas_[pos];
      if (!mr.present || mr.meta.version_id != chosen.version_id) continue;
      const uint32_t si = mr.meta.shard_index;
      if (si >= total || shards_[si] != nullptr) continue;
      if (mr.meta.is_inline()) {
        // metas_ is not changed again once the version is picked: the string outlives the file.
        shards_[si] = &inline_[si].emplace(mr.meta.inline_shard);
      } else {
        // The key's paths only when a shard file is to be opened: an inline object needs none.
        if (!paths_) paths_ = KeyPaths(bucket_, key);
        auto f = set_.volumes_[pos]->NewReadableFile(paths_->ShardPath(mr.meta.data_id.Hex()));
        if (!f.ok()) continue;
        owned_.push_back(std::move(f).value());
        shards_[si] = owned_.back().get();
      }
      ++opened;
    }
    return opened >= set_.k();
  }

  // After the pick: fixes the version, the range and the buffers.
  Status Start(int pick, const ByteRange& range) {
    meta_ = &metas_[pick].meta;  // metas_ does not change from now on
    info_ = set_.InfoFrom(bucket_, *meta_);
    range_ = range;
    pos_ = range.first;
    end_ = range.first + range.length;
    if (meta_->k != set_.k() || meta_->m != set_.m())
      return Corruption("object coded with another K+M");
    lay_ = StripeLayout{meta_->size, meta_->block_size, meta_->k};
    stride_ = lay_.full_chunk_len() + kChecksumLen;
    bad_.fill(false);
    if (meta_->is_multipart()) {
      part_start_.clear();
      uint64_t at = 0;
      for (const ObjectPart& p : meta_->parts) {
        part_start_.push_back(at);
        at += p.size;
      }
      part_ = SIZE_MAX;
    } else {
      // A shard of a member that was not read (a quorum read) is not known to be bad.
      for (uint32_t si = 0; si < set_.n(); ++si) {
        const uint32_t pos = si < meta_->distribution.size() ? meta_->distribution[si] : si;
        bad_[si] = shards_[si] == nullptr && !(pos < metas_.size() && metas_[pos].skipped);
      }
    }
    if (range.length > 0) buf_ = PooledBuffer(stride_ * set_.n());
    return Status::Ok();
  }

  std::vector<MetaRead>* metas() { return &metas_; }

  Result<size_t> Read(void* out, size_t n) override {
    RETURN_IF_ERROR(error_);
    size_t done = 0;
    auto* dst = static_cast<uint8_t*>(out);
    while (done < n && pos_ < end_) {
      EnterPart();
      const uint64_t b = (pos_ - seg_start_) / lay_.block_size;
      if (b != block_) {
        if (Status s = Decode(b); !s.ok()) {
          if (done > 0) return done;  // the bytes before the bad block; the error comes next
          return s;
        }
      }
      // Bytes of the block from pos_, chunk by chunk (chunks are not contiguous in buf_).
      const uint64_t in_block = pos_ - seg_start_ - b * lay_.block_size;
      const uint64_t cs = lay_.chunk_len(b);
      const uint64_t si = in_block / cs, off = in_block % cs;
      const uint64_t block_left = lay_.block_len(b) - in_block;
      const size_t c = size_t(std::min<uint64_t>({cs - off, block_left, end_ - pos_, n - done}));
      std::memcpy(dst + done, buf_.data() + si * stride_ + off, c);
      done += c;
      pos_ += c;
    }
    if (pos_ == end_) NoteDegraded();
    return done;
  }

  Status WriteTo(Sink& sink) override {
    RETURN_IF_ERROR(error_);
    while (pos_ < end_) {
      EnterPart();
      const uint64_t b = (pos_ - seg_start_) / lay_.block_size;
      if (b != block_) RETURN_IF_ERROR(Decode(b));
      const uint64_t bstart = seg_start_ + b * lay_.block_size;
      const uint64_t cs = lay_.chunk_len(b);
      const uint64_t to = std::min(end_, bstart + lay_.block_len(b));  // exclusive
      // A block whose data chunks were all read whole from shard files goes out of those files
      // with sendfile (when the sink can): the page cache's bytes that were just read and
      // checked, without the copy into the socket from buf_. A rebuilt block goes from buf_.
      const bool from_files = block_from_files_ && sink.CanSendFile();
      while (pos_ < to) {
        const uint64_t in_block = pos_ - bstart, si = in_block / cs, off = in_block % cs;
        const uint64_t c = std::min(cs - off, to - pos_);
        const int fd = from_files ? shards_[si]->NativeFd() : -1;
        if (fd >= 0) {
          RETURN_IF_ERROR(sink.SendFile(fd, lay_.shard_offset(b) + off, c));
        } else {
          RETURN_IF_ERROR(sink.Write(buf_.data() + si * stride_ + off, c));
        }
        pos_ += c;
      }
    }
    NoteDegraded();
    return Status::Ok();
  }

 private:
  // Drops the shards opened (of the version, or of the last part read).
  void ClearShards() {
    shards_.fill(nullptr);
    owned_.clear();
    for (auto& f : inline_) f.reset();
  }

  // Whether the members read hold every data shard of inline version v, each block's checksum
  // right: then no block needs a parity shard.
  bool DataShardsWhole(const ObjectMeta& v) const {
    if (v.k != set_.k() || v.m != set_.m() || v.distribution.size() != set_.n()) return false;
    const StripeLayout lay{v.size, v.block_size, v.k};
    const uint64_t blocks = lay.num_blocks();
    for (uint32_t si = 0; si < v.k; ++si) {
      const uint32_t pos = v.distribution[si];
      if (pos >= metas_.size()) return false;
      const MetaRead& mr = metas_[pos];
      if (!mr.present || mr.meta.version_id != v.version_id || mr.meta.shard_index != si) {
        return false;
      }
      const std::string& shard = mr.meta.inline_shard;
      for (uint64_t b = 0; b < blocks; ++b) {
        const uint64_t off = lay.shard_offset(b), cs = lay.chunk_len(b);
        if (shard.size() < off + cs + kChecksumLen) return false;
        if (!FramedGood(reinterpret_cast<const uint8_t*>(shard.data()) + off, cs, 0)) return false;
      }
    }
    return true;
  }

  // A multipart object: makes the part holding pos_ the one read (its layout and shard files).
  // Every member whose copy is of this version holds its shard index of every part.
  void EnterPart() {
    if (!meta_->is_multipart()) return;
    const size_t p = size_t(std::upper_bound(part_start_.begin(), part_start_.end(), pos_) -
                            part_start_.begin()) -
                     1;
    if (p == part_) return;
    part_ = p;
    const ObjectPart& part = meta_->parts[p];
    seg_start_ = part_start_[p];
    lay_ = StripeLayout{part.size, meta_->block_size, meta_->k};
    block_ = UINT64_MAX;
    const uint32_t total = set_.n();
    ClearShards();
    for (uint32_t pos = 0; pos < total; ++pos) {
      const MetaRead& mr = metas_[pos];
      if (!mr.present || mr.meta.version_id != meta_->version_id) continue;
      const uint32_t si = mr.meta.shard_index;
      if (si >= total || shards_[si] != nullptr || set_.volumes_[pos] == nullptr) continue;
      auto f = set_.volumes_[pos]->NewReadableFile(PartShardPath(meta_->data_id, part.data_id));
      if (f.ok()) {
        owned_.push_back(std::move(f).value());
        shards_[si] = owned_.back().get();
      }
    }
    for (uint32_t si = 0; si < total; ++si) bad_[si] = bad_[si] || shards_[si] == nullptr;
  }

  // Reads block b's data chunks (rebuilding missing or corrupt ones from parity) into buf_.
  Status Decode(uint64_t b) {
    const uint32_t k = set_.k(), total = set_.n();
    const uint64_t cs = lay_.chunk_len(b), off = lay_.shard_offset(b);
    uint8_t* chunk[kMaxShards];
    bool present[kMaxShards];
    uint32_t good = 0;
    for (uint32_t si = 0; si < total; ++si) {
      chunk[si] = buf_.data() + si * stride_;
      present[si] = false;
    }
    auto load = [&](uint32_t si) {
      if (shards_[si] == nullptr) return;
      if (ReadFramed(*shards_[si], off, cs, 0, chunk[si]).state == ChunkState::kGood) {
        present[si] = true;
        ++good;
        return;
      }
      bad_[si] = true;
    };
    for (uint32_t si = 0; si < k; ++si) load(si);
    for (uint32_t si = k; si < total && good < k; ++si) load(si);
    block_ = UINT64_MAX;
    if (good < k) {
      const std::string where =
          meta_->is_multipart() ? " part " + std::to_string(meta_->parts[part_].number) : "";
      error_ = DataLoss(bucket_ + "/" + meta_->key + where + ": block " + std::to_string(b) +
                        ": only " + std::to_string(good) + " of " + std::to_string(total) +
                        " shards readable, " + std::to_string(k) + " needed");
      return error_;
    }
    bool want[kMaxShards] = {};
    bool missing_data = false;
    for (uint32_t si = 0; si < k; ++si) {
      want[si] = !present[si];
      missing_data |= want[si];
    }
    if (missing_data) {
      error_ = set_.codec_->Reconstruct(cs, chunk, present, want);
      RETURN_IF_ERROR(error_);
    }
    block_from_files_ = !missing_data;
    block_ = b;
    return Status::Ok();
  }

  // Queues the object for heal (once per version and process) when a shard of an online member
  // was missing or corrupt; not for data loss (heal cannot rebuild it; verify reports it).
  void NoteDegraded() {
    if (noted_ || meta_ == nullptr || meta_->distribution.empty()) return;
    noted_ = true;
    if (error_.code() == Code::kDataLoss) return;
    std::vector<uint32_t> degraded;
    for (uint32_t si = 0; si < set_.n(); ++si) {
      const uint32_t pos = meta_->distribution[si];
      if (bad_[si] && set_.volumes_[pos] != nullptr) degraded.push_back(pos);
    }
    if (!degraded.empty() && set_.FirstDegradedRead(meta_->version_id)) {
      set_.RecordMrf(bucket_, meta_->key, meta_->version_id, degraded);
    }
  }

  ErasureSet& set_;
  const std::string bucket_;
  std::vector<MetaRead> metas_;
  const ObjectMeta* meta_ = nullptr;  // the version read: metas_[pick].meta (Start)
  // The version's (or the part's) shards by shard index, null where none opened: files in
  // owned_, or an inline shard's bytes in metas_ read through inline_ (members of the reader, not
  // one heap object per shard).
  std::array<ReadableFile*, kMaxShards> shards_{};
  std::vector<std::unique_ptr<ReadableFile>> owned_;
  std::array<std::optional<StringFile>, kMaxShards> inline_;
  std::optional<ObjectPaths> paths_;  // the key's, made when a shard file is first opened
  std::array<bool, kMaxShards> bad_{};  // shard indexes found missing or corrupt
  StripeLayout lay_{0, 1, 1};  // of the object, or of the part being read
  uint64_t stride_ = 0;
  // Multipart: where each part starts in the object, the part being read, and its start.
  std::vector<uint64_t> part_start_;
  size_t part_ = SIZE_MAX;
  uint64_t seg_start_ = 0;
  PooledBuffer buf_;
  uint64_t pos_ = 0, end_ = 0;
  uint64_t block_ = UINT64_MAX;  // the block decoded in buf_
  bool block_from_files_ = false;  // its data chunks were all read whole, none rebuilt
  Status error_;
  bool noted_ = false;
};

Result<std::unique_ptr<ObjectReader>> ErasureSet::OpenObject(const std::string& bucket,
                                                             const std::string& key,
                                                             const GetOptions& opts,
                                                             ObjectInfo* verdict) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  auto r = std::make_unique<SetReader>(*this, bucket);
  // The shard files are opened under the same lock as the metadata was read, so a commit cannot
  // remove them in between (in this process; across processes, ReadVersion retries under the
  // write lock when too few could be opened). Reads then go on from open files.
  auto pick = ReadVersion(
      bucket, key, r->metas(),
      [&](const std::vector<MetaRead>&, int p) { return r->OpenShards(key, p); },
      MetaReads::kQuorum);
  if (!pick.ok()) {
    if (pick.status().code() == Code::kNotFound) RETURN_IF_ERROR(CheckBucket(bucket));
    return pick.status();
  }
  const ObjectMeta& chosen = (*r->metas())[*pick].meta;
  if (Status c = EvaluateConditions(opts.conditions, chosen.etag, chosen.mod_time_ns, true);
      !c.ok()) {
    if (verdict != nullptr) *verdict = InfoFrom(bucket, chosen);
    return c.WithContext(bucket + "/" + key);
  }
  std::vector<uint64_t> part_sizes;
  if (opts.part_number != 0) {
    for (const ObjectPart& p : chosen.parts) part_sizes.push_back(p.size);
  }
  ASSIGN_OR_RETURN(ByteRange range, ResolveGetBytes(opts, chosen.size,
                                                    chosen.is_multipart() ? &part_sizes : nullptr));
  RETURN_IF_ERROR(r->Start(*pick, range));
  return std::unique_ptr<ObjectReader>(std::move(r));
}

Result<ObjectInfo> ErasureSet::HeadObject(const std::string& bucket, const std::string& key,
                                          const GetOptions& opts, ObjectInfo* verdict) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  std::vector<MetaRead> metas;
  // The version is all HEAD needs: copies from a quorum of members decide it.
  auto pick = ReadVersion(bucket, key, &metas, {}, MetaReads::kQuorum);
  if (!pick.ok()) {
    if (pick.status().code() == Code::kNotFound) RETURN_IF_ERROR(CheckBucket(bucket));
    return pick.status();
  }
  ObjectInfo info = InfoFrom(bucket, metas[*pick].meta);
  if (Status c = EvaluateConditions(opts.conditions, info.etag, info.mod_time_ns, true); !c.ok()) {
    if (verdict != nullptr) *verdict = info;
    return c.WithContext(bucket + "/" + key);
  }
  return info;
}

}  // namespace cairn
