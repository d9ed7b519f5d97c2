// Verify and heal of a multipart object (its data: one shard file per part and member, in the
// staging directory of the upload it came from; libstore/format/upload_record.h). Blocks are
// numbered across the whole object, part after part, in the report.
//
// A member's part files are judged by their own checksums, whatever its metadata copy says: they
// were written when the part was uploaded, and the shard index a member holds is the key's (the
// distribution), the same for every part. Heal rebuilds each damaged or missing part file from K
// good ones into a temp file, makes it durable and renames it into the staging directory; then
// it rewrites missing, stale or damaged metadata copies with a VersionCommit that publishes only
// if no copy changed since they were read (a writer meanwhile wins).
#include <algorithm>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/rate_limiter.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/framing.h"
#include "libstore/format/key_path.h"
#include "libstore/format/upload_record.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/commit.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/key_locks.h"

namespace cairn {
namespace {

void AddRange(std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint64_t b) {
  if (!ranges.empty() && ranges.back().second + 1 == b) {
    ranges.back().second = b;
  } else {
    ranges.emplace_back(b, b);
  }
}

class MultipartExam {
 public:
  MultipartExam(SetCore& core, const CheckOptions& o, const std::string& bucket,
                const std::string& key, const ObjectMeta& ref, const std::vector<MetaRead>& metas,
                ObjectHealth* h)
      : core_(core), o_(o), bucket_(bucket), key_(key), ref_(ref), metas_(metas), h_(*h),
        n_(core.n()), shard_of_(n_, -1), meta_ok_(n_, false),
        rebuild_(ref.parts.size(), std::vector<bool>(n_, false)) {
    for (uint32_t si = 0; si < n_; ++si) shard_of_[ref.distribution[si]] = int(si);
  }

  void Examine(bool deep) {
    h_.is_inline = false;
    h_.blocks = 0;
    for (const ObjectPart& p : ref_.parts) h_.blocks += Layout(p).num_blocks();
    for (uint32_t pos = 0; pos < n_; ++pos) {
      if (core_.volume(pos) == nullptr) {
        Problem(pos, ProblemKind::kOffline);
        continue;
      }
      const MetaRead& mr = metas_[pos];
      if (mr.present && !mr.displaced && mr.meta.version_id == ref_.version_id &&
          int(mr.meta.shard_index) == shard_of_[pos]) {
        meta_ok_[pos] = true;
      } else if (!mr.present) {
        Problem(pos, mr.absent() ? ProblemKind::kMissingMeta : ProblemKind::kCorruptMeta);
      } else {
        Problem(pos, mr.meta.version_id == ref_.version_id ? ProblemKind::kCorruptMeta
                                                           : ProblemKind::kStaleMeta);
      }
    }
    const uint64_t stride = StripeLayout::ChunkLen(ref_.block_size, ref_.k) + kChecksumLen;
    PooledBuffer buf(deep ? stride : 0);
    uint64_t first = 0;
    uint32_t worst = n_;
    for (size_t pi = 0; pi < ref_.parts.size(); ++pi) {
      const ObjectPart& part = ref_.parts[pi];
      const StripeLayout lay = Layout(part);
      auto files = Open(pi);
      for (uint32_t pos = 0; pos < n_; ++pos) {
        if (!files[pos] && core_.volume(pos) != nullptr) rebuild_[pi][pos] = true;
      }
      if (!deep) {
        uint32_t have = 0;
        for (const auto& f : files) have += f != nullptr;
        worst = std::min(worst, have);
        first += lay.num_blocks();
        continue;
      }
      for (uint64_t b = 0; b < lay.num_blocks(); ++b) {
        const uint64_t cs = lay.chunk_len(b), off = lay.shard_offset(b);
        uint32_t good = 0;
        for (uint32_t pos = 0; pos < n_; ++pos) {
          if (!files[pos]) continue;
          if (o_.limiter) o_.limiter->Acquire(cs + kChecksumLen);
          ChunkRead r = ReadFramed(*files[pos], off, cs, 0, buf.data());
          h_.bytes_read += r.bytes;
          if (o_.on_read && r.state != ChunkState::kUnreadable) o_.on_read(r.bytes);
          if (r.state == ChunkState::kGood) {
            ++good;
          } else {
            AddRange(Problem(pos, ProblemKind::kCorruptBlocks).blocks, first + b);
            rebuild_[pi][pos] = true;
          }
        }
        worst = std::min(worst, good);
        if (good < core_.k()) AddRange(h_.lost_blocks, first + b);
      }
      first += lay.num_blocks();
    }
    std::sort(h_.problems.begin(), h_.problems.end(),
              [](const ShardProblem& a, const ShardProblem& b) { return a.position < b.position; });
    if (!h_.lost_blocks.empty() || worst < core_.k()) {
      h_.health = Health::kUnrecoverable;
      if (h_.lost_blocks.empty() && h_.blocks > 0) h_.lost_blocks.emplace_back(0, h_.blocks - 1);
    } else if (!h_.problems.empty()) {
      h_.health = Health::kDegraded;
    }
  }

  // After Examine(true): rebuilds what is bad, then the metadata copies.
  void Heal() {
    h_.after = h_.health;
    if (h_.health == Health::kHealthy) return;
    if (h_.health == Health::kUnrecoverable) {
      h_.action = ObjectHealth::Action::kFailed;
      h_.note = "fewer than K good shards of some blocks: not rebuilt";
      return;
    }
    bool any_target = false;
    for (uint32_t pos = 0; pos < n_; ++pos) {
      if (core_.volume(pos) == nullptr) continue;
      bool t = !meta_ok_[pos];
      for (const auto& r : rebuild_) t = t || r[pos];
      any_target = any_target || t;
    }
    if (!any_target) return;  // only offline members are missing
    if (o_.dry_run) {
      h_.action = ObjectHealth::Action::kWouldHeal;
      return;
    }
    std::vector<bool> healed(n_, false);
    for (size_t pi = 0; pi < ref_.parts.size(); ++pi) {
      if (Status s = RebuildPart(pi, &healed); !s.ok()) {
        h_.action = ObjectHealth::Action::kFailed;
        h_.note = s.message();
        return;
      }
    }
    Status meta = CommitMeta(&healed);
    for (uint32_t pos = 0; pos < n_; ++pos) {
      if (healed[pos]) h_.healed.push_back(pos);
    }
    if (!meta.ok()) {
      h_.action = meta.code() == Code::kAborted ? ObjectHealth::Action::kChanged
                                                 : ObjectHealth::Action::kFailed;
      h_.note = meta.message();
      return;
    }
    h_.action = ObjectHealth::Action::kHealed;
    h_.after = core_.online() < n_ ? Health::kDegraded : Health::kHealthy;
  }

 private:
  StripeLayout Layout(const ObjectPart& p) const { return {p.size, ref_.block_size, ref_.k}; }

  ShardProblem& Problem(uint32_t pos, ProblemKind what) {
    for (auto& p : h_.problems) {
      if (p.position == pos && p.problem == what) return p;
    }
    ShardProblem p;
    p.position = pos;
    p.shard_index = shard_of_[pos];
    p.problem = what;
    h_.problems.push_back(std::move(p));
    return h_.problems.back();
  }

  // Part pi's shard files, by member; null where missing or of the wrong size (a problem).
  std::vector<std::unique_ptr<ReadableFile>> Open(size_t pi) {
    const ObjectPart& part = ref_.parts[pi];
    std::vector<std::unique_ptr<ReadableFile>> files(n_);
    for (uint32_t pos = 0; pos < n_; ++pos) {
      Volume* v = core_.volume(pos);
      if (v == nullptr) continue;
      auto f = v->NewReadableFile(PartShardPath(ref_.data_id, part.data_id));
      Result<uint64_t> size = f.ok() ? (*f)->Size() : Result<uint64_t>(f.status());
      if (!size.ok()) {
        Problem(pos, ProblemKind::kMissingShard);
        continue;
      }
      if (*size != part.shard_size) {
        Problem(pos, *size < part.shard_size ? ProblemKind::kShortShard : ProblemKind::kLongShard);
        continue;
      }
      files[pos] = std::move(f).value();
    }
    return files;
  }

  Status RebuildPart(size_t pi, std::vector<bool>* healed) {
    std::vector<uint32_t> targets;
    for (uint32_t pos = 0; pos < n_; ++pos) {
      if (rebuild_[pi][pos] && core_.volume(pos) != nullptr) targets.push_back(pos);
    }
    if (targets.empty()) return Status::Ok();
    const ObjectPart& part = ref_.parts[pi];
    const StripeLayout lay = Layout(part);
    std::vector<std::unique_ptr<ReadableFile>> files = Open(pi);
    for (uint32_t pos : targets) files[pos].reset();
    std::vector<std::unique_ptr<WritableFile>> out(n_);
    std::vector<std::string> tmp(n_);
    auto drop = [&] {
      for (uint32_t pos : targets) {
        out[pos].reset();
        if (!tmp[pos].empty()) core_.volume(pos)->Remove(tmp[pos]).IgnoreError();
      }
    };
    for (uint32_t pos : targets) {
      tmp[pos] = TempName(kTmpDir, ".heal");
      auto f = core_.volume(pos)->NewWritableFile(tmp[pos]);
      if (!f.ok()) {
        drop();
        return f.status().WithContext(core_.volume(pos)->Describe());
      }
      out[pos] = std::move(f).value();
    }
    const uint64_t stride = lay.full_chunk_len() + kChecksumLen;
    PooledBuffer buf(stride * n_);
    for (uint64_t b = 0; b < lay.num_blocks(); ++b) {
      const uint64_t cs = lay.chunk_len(b), off = lay.shard_offset(b);
      uint8_t* chunk[kMaxShards];
      bool present[kMaxShards] = {}, want[kMaxShards] = {};
      uint32_t good = 0;
      for (uint32_t si = 0; si < n_; ++si) chunk[si] = buf.data() + si * stride;
      for (uint32_t pos = 0; pos < n_; ++pos) {
        const uint32_t si = uint32_t(shard_of_[pos]);
        if (files[pos] && good < core_.k()) {
          present[si] = ReadFramed(*files[pos], off, cs, 0, chunk[si]).state == ChunkState::kGood;
          good += present[si];
        }
      }
      for (uint32_t pos : targets) want[shard_of_[pos]] = true;
      Status s = core_.codec().Reconstruct(cs, chunk, present, want);
      for (uint32_t pos : targets) {
        if (!s.ok()) break;
        const uint8_t* c = chunk[shard_of_[pos]];
        s = AppendFramed(*out[pos], c, cs, ChunkSum(c, cs, 0));
        h_.bytes_written += cs + kChecksumLen;
      }
      if (!s.ok()) {
        drop();
        return s.WithContext("part " + std::to_string(part.number) + " block " +
                             std::to_string(b));
      }
    }
    for (uint32_t pos : targets) {
      Volume* v = core_.volume(pos);
      Status s = out[pos]->Sync();
      if (s.ok()) s = out[pos]->Close();
      out[pos].reset();
      if (s.ok()) s = v->MakeDirs(UploadDir(ref_.data_id));
      if (s.ok()) s = v->Rename(tmp[pos], PartShardPath(ref_.data_id, part.data_id));
      if (s.ok()) s = v->SyncDir(UploadDir(ref_.data_id));
      if (!s.ok()) {
        drop();
        return s.WithContext(v->Describe());
      }
      tmp[pos].clear();
      (*healed)[pos] = true;
    }
    return Status::Ok();
  }

  // kAborted when a copy changed since it was read.
  Status CommitMeta(std::vector<bool>* healed) {
    VersionCommit commit(core_, bucket_, key_, ref_.data_id, /*new_version=*/false);
    commit.RequireUnchanged(&metas_);
    const std::string tmp = TempName(kTmpDir, ".hmeta");
    bool any = false;
    for (uint32_t pos = 0; pos < n_; ++pos) {
      Volume* v = core_.volume(pos);
      if (v == nullptr || meta_ok_[pos]) continue;
      ObjectMeta m = ref_;
      m.shard_index = uint32_t(shard_of_[pos]);
      auto bytes = m.Encode();
      Status s = bytes.status();
      if (s.ok()) s = v->WriteFile(tmp, *bytes, false);
      if (s.ok()) {
        commit.Stage(pos, tmp);
        any = true;
      } else {
        commit.Fail(pos, s.WithContext(v->Describe()));
        v->Remove(tmp).IgnoreError();
      }
    }
    if (!any) return commit.first_error();
    RETURN_IF_ERROR(FlushCommits(core_, {&commit}, VersionCommit::Step::kStaged));
    {
      KeyWriteGuard guard(core_.locks(), core_.Stripe(bucket_, key_));
      commit.Publish();
    }
    if (commit.changed()) {
      return Status(Code::kAborted, "changed while healing; left to its writer");
    }
    Status flush = FlushCommits(core_, {&commit}, VersionCommit::Step::kPublished);
    commit.Finish();
    for (uint32_t pos = 0; pos < n_; ++pos) {
      if (commit.is_published(pos)) (*healed)[pos] = true;
    }
    RETURN_IF_ERROR(flush);
    return commit.first_error();
  }

  SetCore& core_;
  const CheckOptions& o_;
  const std::string bucket_, key_;
  const ObjectMeta& ref_;
  const std::vector<MetaRead>& metas_;
  ObjectHealth& h_;
  const uint32_t n_;
  std::vector<int> shard_of_;
  std::vector<bool> meta_ok_;
  std::vector<std::vector<bool>> rebuild_;  // [part][member]: its part file must be rebuilt
};

}  // namespace

void ExamineMultipart(SetCore& core, const CheckOptions& o, const std::string& bucket,
                      const std::string& key, const ObjectMeta& ref,
                      const std::vector<MetaRead>& metas, bool heal, ObjectHealth* h) {
  MultipartExam e(core, o, bucket, key, ref, metas, h);
  e.Examine(o.deep || heal);
  if (heal) e.Heal();
}

}  // namespace cairn
