// Verify and heal of one object of a volume set.
//
// An ObjectExam reads every volume's metadata copy, settles which version is the object, and
// works out per volume what is wrong: metadata missing, stale or corrupt; shard file missing, too
// short or too long; and (deep) which blocks fail their checksum. Heal then rebuilds, in one pass
// over the blocks, every shard that needs it from K good ones, checks each rebuilt block against a
// further good shard when there is one, writes new shards and metadata copies to temp files, makes
// them durable, and moves them into place with a VersionCommit (commit.h) under the key's write
// lock, but only if no volume's metadata changed since it was read (a PUT or DELETE meanwhile
// wins; heal leaves it alone). An object whose newest copies are delete markers is a delete that
// did not finish: heal finishes it.
#include <algorithm>
#include <cstring>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/hash.h"
#include "libstore/common/rate_limiter.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/framing.h"
#include "libstore/format/key_path.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/commit.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/key_locks.h"
#include "libstore/object/set_core.h"

namespace cairn {

const char* Name(Health h) {
  switch (h) {
    case Health::kHealthy: return "healthy";
    case Health::kDegraded: return "degraded";
    case Health::kUnrecoverable: return "unrecoverable";
  }
  return "?";
}

const char* Name(ProblemKind p) {
  switch (p) {
    case ProblemKind::kOffline:
      return "offline";
    case ProblemKind::kMissingMeta:
      return "missing-meta";
    case ProblemKind::kStaleMeta:
      return "stale-meta";
    case ProblemKind::kCorruptMeta:
      return "corrupt-meta";
    case ProblemKind::kMissingShard:
      return "missing-shard";
    case ProblemKind::kShortShard:
      return "short-shard";
    case ProblemKind::kLongShard:
      return "long-shard";
    case ProblemKind::kCorruptBlocks:
      return "corrupt-blocks";
    case ProblemKind::kDeleteMarker:
      return "delete-marker";
  }
  return "?";
}

const char* Name(ObjectHealth::Action a) {
  using A = ObjectHealth::Action;
  switch (a) {
    case A::kNone:
      return "none";
    case A::kHealed:
      return "healed";
    case A::kWouldHeal:
      return "would-heal";
    case A::kRemoved:
      return "removed";
    case A::kWouldRemove:
      return "would-remove";
    case A::kChanged:
      return "changed";
    case A::kFailed:
      return "failed";
    case A::kQueued:
      return "queued";
    case A::kFinishedDelete:
      return "finished-delete";
    case A::kWouldFinishDelete:
      return "would-finish-delete";
  }
  return "?";
}

namespace {

// Appends block b to a list of inclusive ranges kept in increasing order.
void AddBlock(std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint64_t b) {
  if (!ranges.empty() && ranges.back().second + 1 == b) {
    ranges.back().second = b;
  } else {
    ranges.emplace_back(b, b);
  }
}

// A failure that says nothing about the file itself (the member, the OS or the medium failed): the
// member's state is unknown. Absent and damaged files are known states.
bool MemberTrouble(const Status& s) {
  const ErrorClass c = s.error_class();
  return c != ErrorClass::kAbsent && c != ErrorClass::kDamaged;
}

// Orders copies: newer modified time first, then the larger version id.
bool Newer(const ObjectMeta& a, const ObjectMeta& b) {
  if (a.mod_time_ns != b.mod_time_ns) return a.mod_time_ns > b.mod_time_ns;
  return b.version_id < a.version_id;
}

bool IsPermutation(const std::vector<uint8_t>& d) {
  std::vector<bool> seen(d.size(), false);
  for (uint8_t x : d) {
    if (x >= d.size() || seen[x]) return false;
    seen[x] = true;
  }
  return true;
}

}  // namespace

// Verify and heal of one object; see the top of this file. Works on the set through its SetCore.
class ObjectExam {
 public:
  ObjectExam(SetCore& core, const std::string& bucket, const std::string& key,
             const CheckOptions& o)
      : core_(core), o_(o), paths_(KeyPaths(bucket, key)), n_(core.n()), pos_(n_) {
    h_.bucket = bucket;
    h_.key = key;
  }
  ~ObjectExam() { DropTemps(); }

  Result<ObjectHealth> Run(bool heal) {
    RETURN_IF_ERROR(ValidateBucketName(h_.bucket));
    RETURN_IF_ERROR(ValidateKey(h_.key));
    metas_ = core_.ReadAllMeta(paths_.meta);
    for (uint32_t pos = 0; pos < n_; ++pos) {
      if (metas_[pos].unknown()) Uncertain(pos);
    }
    RETURN_IF_ERROR(Settle());
    if (h_.deleting) {
      if (heal) FinishDelete();
      return h_;
    }
    if (h_.uncommitted) {
      if (heal) RemoveCopies();
      return h_;
    }
    if (h_.dangling || h_.health == Health::kUnrecoverable) {
      if (heal) Dangling();
      return h_;
    }
    if (ref_.is_multipart()) {
      ExamineMultipart(core_, o_, h_.bucket, h_.key, ref_, metas_, heal, &h_);
      return h_;
    }
    Plan();
    if (!heal && !o_.deep) {
      Summarize();
      return h_;
    }
    // Deep pass; while healing, a shard found damaged that was not a target becomes one and the
    // pass runs again (at most once per shard).
    for (uint32_t round = 0; round <= n_; ++round) {
      const bool write = heal && !o_.dry_run && !AnyLost();
      std::vector<uint32_t> found;
      Status st = Pass(write, &found);
      if (!st.ok()) {
        DropTemps();
        h_.action = ObjectHealth::Action::kFailed;
        h_.note = st.message();
        break;
      }
      if (!heal || found.empty()) break;
      for (uint32_t si : found) shard_[si].target = true;
      DropTemps();
      if (!write) break;
    }
    Summarize();
    if (!heal || h_.action == ObjectHealth::Action::kFailed) {
      if (heal) h_.after = h_.health;
      return h_;
    }
    if (h_.health == Health::kUnrecoverable) {
      DropTemps();
      if (h_.dangling) Dangling();
      else h_.after = h_.health;
      return h_;
    }
    if (Prepare()) h_.action = ObjectHealth::Action::kQueued;
    return h_;
  }

 private:
  struct PosState {
    bool meta_ok = false;      // holds a good copy of the chosen version's metadata
    Uuid old_data;             // a stale copy's shard file, removed once healed
    int shard = -1;            // shard index this position holds
  };
  struct ShardState {
    uint32_t pos = 0;
    std::unique_ptr<ReadableFile> src;  // where this shard can be read from (maybe null)
    bool target = false;                // to be rewritten
    bool meta_target = false;           // the metadata copy at pos needs rewriting
    std::vector<std::pair<uint64_t, uint64_t>> bad;
    std::unique_ptr<WritableFile> out;
    std::string tmp;          // temp shard path on volume pos
    std::string inline_out;   // rebuilt inline shard
    Status write_error;       // writing the rebuilt shard failed: this target is given up
  };

  Volume* vol(uint32_t pos) const { return core_.volume(pos); }
  uint32_t offline() const { return n_ - core_.online(); }
  // Members whose state is unknown: offline, or a read that failed with an I/O error rather than
  // "no such file" or a bad checksum. They may hold what looks lost, so an object short of copies
  // is only dangling if it would be short even with all of them.
  void Uncertain(uint32_t pos) { uncertain_[pos] = true; }
  uint32_t uncertain() const {
    uint32_t c = 0;
    for (uint32_t pos = 0; pos < n_; ++pos) c += uncertain_[pos] || vol(pos) == nullptr;
    return c;
  }
  bool AnyLost() const { return !h_.lost_blocks.empty(); }

  void Problem(uint32_t pos, int shard, ProblemKind what) {
    ShardProblem p;
    p.position = pos;
    p.shard_index = shard;
    p.problem = what;
    h_.problems.push_back(std::move(p));
  }

  // Decides which version is the object. Fills ref_, or marks the object unrecoverable, or finds
  // a delete that did not finish (Deleting).
  Status Settle() {
    uint32_t present = 0, damaged = 0;
    for (const auto& m : metas_) {
      present += m.present;
      damaged += m.damaged();
    }
    if (present == 0 && damaged == 0) {
      return NotFound(h_.bucket + "/" + h_.key + ": no such object");
    }
    // The version readers see, settled as they settle it: a commit that a crash cut off leaves
    // either its displaced copies (the previous version is the object, and the members that took
    // the new copy get it back) or copies that never committed (removed).
    auto pick = core_.ResolveVersion(paths_.meta, &metas_, h_.bucket + "/" + h_.key);
    if (pick.ok()) {
      if (metas_[*pick].meta.is_delete_marker()) return Deleting(*pick);
      ref_ = metas_[*pick].meta;
    } else {
      // No version on a read quorum. The newest copy may still be the object if volumes that lost
      // its metadata still hold its shard file: then the metadata was lost, not deleted. If the
      // newest copy is a delete marker, a delete stopped half way.
      int cand = -1;
      for (uint32_t i = 0; i < n_; ++i) {
        if (!metas_[i].present) continue;
        if (cand < 0 || Newer(metas_[i].meta, metas_[cand].meta)) cand = int(i);
      }
      if (cand >= 0 && metas_[cand].meta.is_delete_marker()) return Deleting(cand);
      if (cand >= 0 && !core_.AnyCouldBeCommitted(paths_.meta, metas_, /*shards=*/true)) {
        return Uncommitted(cand);
      }
      uint32_t evidence = 0;
      if (cand >= 0) {
        const ObjectMeta& c = metas_[cand].meta;
        for (uint32_t i = 0; i < n_; ++i) {
          if (metas_[i].present && metas_[i].meta.version_id == c.version_id) {
            ++evidence;
          } else if (!metas_[i].present && vol(i) != nullptr && !c.is_inline() &&
                     vol(i)->Stat(paths_.ShardPath(c.data_id.Hex())).ok()) {
            ++evidence;
          }
        }
      }
      if (cand < 0 || evidence < core_.read_quorum()) {
        h_.health = Health::kUnrecoverable;
        h_.dangling = evidence + uncertain() < core_.read_quorum();
        if (cand >= 0) {
          h_.version = metas_[cand].meta.version_id;
          h_.size = metas_[cand].meta.size;
          ref_data_ = metas_[cand].meta.data_id;
        }
        for (uint32_t i = 0; i < n_; ++i) {
          if (vol(i) == nullptr)
            Problem(i, -1, ProblemKind::kOffline);
          else if (!metas_[i].present) Problem(i, -1, MetaProblem(i));
        }
        h_.note = "metadata on " + std::to_string(present) + " of " + std::to_string(n_) +
                  " volumes, " + std::to_string(core_.read_quorum()) + " needed";
        return Status::Ok();
      }
      ref_ = metas_[cand].meta;
    }
    ref_data_ = ref_.data_id;
    h_.version = ref_.version_id;
    h_.size = ref_.size;
    h_.is_inline = ref_.is_inline();
    if (ref_.k != core_.k() || ref_.m != core_.m() || !IsPermutation(ref_.distribution) ||
        ref_.distribution.size() != n_) {
      return Corruption(h_.bucket + "/" + h_.key + ": metadata coded for another layout");
    }
    lay_ = StripeLayout{ref_.size, ref_.block_size, ref_.k};
    h_.blocks = lay_.num_blocks();
    return Status::Ok();
  }

  // The newest copies are the delete marker at `marker`: the object was deleted, and the delete
  // did not finish on every member (it was interrupted, or members missed it). Every copy left
  // is a problem; heal removes them (FinishDelete).
  Status Deleting(int marker) {
    h_.deleting = true;
    h_.health = Health::kDegraded;
    h_.version = metas_[marker].meta.version_id;
    for (uint32_t pos = 0; pos < n_; ++pos) {
      const MetaRead& mr = metas_[pos];
      if (vol(pos) == nullptr) {
        Problem(pos, -1, ProblemKind::kOffline);
      } else if (mr.present) {
        Problem(pos, -1,
                mr.meta.is_delete_marker() ? ProblemKind::kDeleteMarker : ProblemKind::kStaleMeta);
      } else if (!mr.absent()) {
        Problem(pos, -1, ProblemKind::kCorruptMeta);
      }
    }
    h_.note = "a delete that did not finish; heal finishes it";
    return Status::Ok();
  }

  // No copy at `newest` or elsewhere could have been on a read quorum, even with the members that
  // cannot say: a write (or a delete's markers) that a crash or a failure cut off before it
  // committed. Readers do not see it; heal removes its copies and shard files (RemoveCopies),
  // whatever --remove-dangling says, as they hold nothing that was ever committed.
  Status Uncommitted(int newest) {
    h_.uncommitted = true;
    h_.dangling = true;
    h_.health = Health::kDegraded;
    const ObjectMeta& c = metas_[newest].meta;
    h_.version = c.version_id;
    h_.size = c.size;
    ref_data_ = c.data_id;
    uint32_t present = 0;
    for (uint32_t pos = 0; pos < n_; ++pos) {
      const MetaRead& mr = metas_[pos];
      present += mr.present;
      if (vol(pos) == nullptr) Problem(pos, -1, ProblemKind::kOffline);
      else if (mr.present) Problem(pos, -1, ProblemKind::kStaleMeta);
    }
    h_.note = "a write that never committed: copies on " + std::to_string(present) + " of " +
              std::to_string(n_) + " volumes, " + std::to_string(core_.read_quorum()) +
              " needed; heal removes them";
    return Status::Ok();
  }

  ProblemKind MetaProblem(uint32_t pos) const {
    return metas_[pos].absent() ? ProblemKind::kMissingMeta : ProblemKind::kCorruptMeta;
  }

  // Per position: is the metadata right, and where can each shard be read from.
  void Plan() {
    shard_.resize(n_);
    for (uint32_t si = 0; si < n_; ++si) {
      uint32_t pos = ref_.distribution[si];
      pos_[pos].shard = int(si);
      shard_[si].pos = pos;
    }
    for (uint32_t pos = 0; pos < n_; ++pos) {
      const int si = pos_[pos].shard;
      ShardState& sh = shard_[si];
      if (vol(pos) == nullptr) {
        Problem(pos, si, ProblemKind::kOffline);
        continue;
      }
      const auto& mr = metas_[pos];
      // A displaced copy is of this version, but the member's file is not: rewritten.
      if (mr.present && !mr.displaced && mr.meta.version_id == ref_.version_id &&
          int(mr.meta.shard_index) == si) {
        pos_[pos].meta_ok = true;
      } else {
        sh.meta_target = true;
        if (!mr.present) {
          Problem(pos, si, MetaProblem(pos));
        } else if (mr.displaced) {
          Problem(pos, si, ProblemKind::kStaleMeta);
        } else {
          Problem(pos, si,
                  mr.meta.is_delete_marker()              ? ProblemKind::kDeleteMarker
                  : mr.meta.version_id == ref_.version_id ? ProblemKind::kCorruptMeta
                                                          : ProblemKind::kStaleMeta);
          if (!mr.meta.is_inline() && mr.meta.data_id != ref_.data_id) pos_[pos].old_data = mr.meta.data_id;
        }
      }
      if (ref_.is_inline()) {
        // A displaced copy of this version still holds this member's shard.
        const bool whole = pos_[pos].meta_ok || (mr.displaced && mr.meta.version_id == ref_.version_id &&
                                                 int(mr.meta.shard_index) == si);
        if (whole) sh.src = std::make_unique<StringFile>(mr.meta.inline_shard);
        else sh.target = true;
        continue;
      }
      auto f = vol(pos)->NewReadableFile(paths_.ShardPath(ref_.data_id.Hex()));
      Result<uint64_t> size = f.ok() ? (*f)->Size() : Result<uint64_t>(f.status());
      if (!size.ok()) {
        if (MemberTrouble(size.status())) Uncertain(pos);
        sh.target = true;
        // A missing metadata copy already says the shard must be rebuilt.
        if (pos_[pos].meta_ok) Problem(pos, si, ProblemKind::kMissingShard);
        continue;
      }
      if (*size != ref_.shard_size) {
        sh.target = true;
        Problem(pos, si,
                *size < ref_.shard_size ? ProblemKind::kShortShard : ProblemKind::kLongShard);
      }
      sh.src = std::move(f).value();
    }
  }

  // Reads every block of every readable shard, checks checksums, and (write) rebuilds the target
  // shards into temp files. *found gets non-target shards with bad blocks.
  Status Pass(bool write, std::vector<uint32_t>* found) {
    const uint32_t k = core_.k();
    for (auto& sh : shard_) sh.bad.clear();
    h_.lost_blocks.clear();
    passed_ = true;
    min_good_ = n_;
    std::vector<uint32_t> targets;
    for (uint32_t si = 0; si < n_; ++si) {
      if (shard_[si].target && vol(shard_[si].pos) != nullptr) targets.push_back(si);
    }
    // A member that cannot take its rebuilt shard (full, failing) is given up on; the others are
    // still healed.
    auto give_up = [&](ShardState& sh, const Status& st) {
      sh.write_error = st.WithContext(vol(sh.pos)->Describe());
      sh.out.reset();
      vol(sh.pos)->Remove(sh.tmp).IgnoreError();
      sh.tmp.clear();
    };
    if (write && !ref_.is_inline()) {
      for (uint32_t si : targets) {
        ShardState& sh = shard_[si];
        sh.write_error = Status::Ok();
        sh.tmp = TempName(kTmpDir, ".heal");
        auto f = vol(sh.pos)->NewWritableFile(sh.tmp);
        if (f.ok()) sh.out = std::move(f).value();
        else give_up(sh, f.status());
      }
    }
    for (uint32_t si : targets) shard_[si].inline_out.clear();
    const uint64_t cs_full = lay_.full_chunk_len();
    const uint64_t stride = cs_full + kChecksumLen;
    PooledBuffer buf(stride * (n_ + 1));
    uint8_t* spare = buf.data() + stride * n_;
    for (uint64_t b = 0; b < lay_.num_blocks(); ++b) {
      const uint64_t cs = lay_.chunk_len(b), off = lay_.shard_offset(b);
      uint8_t* chunk[kMaxShards];
      bool good[kMaxShards];
      uint32_t g = 0;
      for (uint32_t si = 0; si < n_; ++si) {
        chunk[si] = buf.data() + si * stride;
        good[si] = false;
        ShardState& sh = shard_[si];
        if (!sh.src) continue;
        if (o_.limiter) o_.limiter->Acquire(cs + kChecksumLen);
        ChunkRead r = ReadFramed(*sh.src, off, cs, 0, chunk[si]);
        if (r.state == ChunkState::kUnreadable && MemberTrouble(r.error)) Uncertain(sh.pos);
        h_.bytes_read += r.bytes;
        if (o_.on_read && r.state != ChunkState::kUnreadable) o_.on_read(r.bytes);
        good[si] = r.state == ChunkState::kGood;
        if (good[si]) {
          ++g;
        } else {
          AddBlock(sh.bad, b);
          if (!sh.target && std::find(found->begin(), found->end(), si) == found->end()) {
            found->push_back(si);
          }
        }
      }
      min_good_ = std::min(min_good_, g);
      if (g < k) {
        AddBlock(h_.lost_blocks, b);
        continue;
      }
      if (!write || targets.empty()) continue;
      bool want[kMaxShards] = {};
      bool need = false;
      for (uint32_t si : targets) {
        want[si] = !good[si];
        need |= want[si];
      }
      if (need) {
        // With a good shard to spare, leave one out of the rebuild and rebuild it too: it must
        // come out as read, or the rebuilt blocks are not trusted.
        int check = -1;
        if (g > k) {
          for (uint32_t si = n_; si-- > 0;) {
            if (good[si] && !shard_[si].target) {
              check = int(si);
              break;
            }
          }
        }
        bool present[kMaxShards];
        std::copy(good, good + n_, present);
        uint8_t* saved = nullptr;
        if (check >= 0) {
          present[check] = false;
          want[check] = true;
          saved = chunk[check];
          chunk[check] = spare;
        }
        RETURN_IF_ERROR(core_.codec().Reconstruct(cs, chunk, present, want));
        if (check >= 0) {
          chunk[check] = saved;
          if (std::memcmp(spare, saved, cs) != 0) {
            return DataLoss("block " + std::to_string(b) + ": shards disagree (shard " +
                            std::to_string(check + 1) + " does not match the others); not rebuilt");
          }
        }
      }
      for (uint32_t si : targets) {
        ShardState& sh = shard_[si];
        const uint64_t sum = ChunkSum(chunk[si], cs, 0);
        if (ref_.is_inline()) {
          AppendFramed(&sh.inline_out, chunk[si], cs, sum);
        } else if (sh.out) {
          Status st = AppendFramed(*sh.out, chunk[si], cs, sum);
          if (!st.ok()) {
            give_up(sh, st);
            continue;
          }
        } else {
          continue;
        }
        h_.bytes_written += cs + kChecksumLen;
      }
    }
    return Status::Ok();
  }

  void DropTemps() {
    for (auto& sh : shard_) {
      sh.out.reset();
      if (!sh.tmp.empty() && vol(sh.pos) != nullptr) vol(sh.pos)->Remove(sh.tmp).IgnoreError();
      sh.tmp.clear();
    }
  }

  // Turns the findings into problems and a health verdict.
  void Summarize() {
    uint32_t readable = 0;
    for (uint32_t si = 0; si < shard_.size(); ++si) {
      ShardState& sh = shard_[si];
      if (sh.src && !sh.target) ++readable;
      if (!sh.bad.empty()) {
        // Blocks past the end of a short shard are already said by "short-shard".
        bool is_short = false;
        for (const auto& p : h_.problems) {
          is_short |= p.position == sh.pos && p.problem == ProblemKind::kShortShard;
        }
        if (!is_short) {
          ShardProblem p;
          p.position = sh.pos;
          p.shard_index = int(si);
          p.problem = ProblemKind::kCorruptBlocks;
          p.blocks = sh.bad;
          h_.problems.push_back(std::move(p));
        } else {
          for (auto& p : h_.problems) {
            if (p.position == sh.pos && p.problem == ProblemKind::kShortShard) p.blocks = sh.bad;
          }
        }
      }
    }
    std::sort(h_.problems.begin(), h_.problems.end(),
              [](const ShardProblem& a, const ShardProblem& b) { return a.position < b.position; });
    // After a block pass, the worst block decides; otherwise (quick, or an empty object whose
    // shards are only metadata) the shards that look whole.
    const uint32_t good = passed_ && h_.blocks > 0 ? min_good_ : readable;
    if (!h_.lost_blocks.empty() || good < core_.k()) {
      h_.health = Health::kUnrecoverable;
      h_.dangling = good + uncertain() < core_.k();
      if (h_.lost_blocks.empty() && h_.blocks > 0) h_.lost_blocks.emplace_back(0, h_.blocks - 1);
    } else if (!h_.problems.empty()) {
      h_.health = Health::kDegraded;
    }
  }

  // ---- commit (public: driven by ErasureSet::HealObject and CommitHeals)
 public:
  // The rebuilt shards and new metadata copies are committed with a VersionCommit that publishes
  // only if no member's metadata changed since Run read it. Prepare closes the rebuilt shards,
  // writes the metadata copies to temp files and stages them; the batch then flushes, publishes
  // each object under its key's lock, and flushes again (ErasureSet::CommitHeals); Finish cleans
  // up and settles the verdict. Prepare returns false when there is nothing to commit (the
  // verdict is then final).
  bool Prepare() {
    for (uint32_t si = 0; si < n_; ++si) {
      const ShardState& sh = shard_[si];
      if (vol(sh.pos) != nullptr && (sh.target || sh.meta_target)) to_write_.push_back(sh.pos);
    }
    std::sort(to_write_.begin(), to_write_.end());
    if (to_write_.empty()) {
      h_.after = h_.health;
      return false;
    }
    if (o_.dry_run) {
      h_.action = ObjectHealth::Action::kWouldHeal;
      h_.healed = to_write_;
      h_.after = offline() > 0 ? Health::kDegraded : Health::kHealthy;
      return false;
    }
    commit_ = std::make_unique<VersionCommit>(core_, h_.bucket, h_.key, ref_data_,
                                              /*new_version=*/false);
    commit_->RequireUnchanged(&metas_);
    const std::string tmp = TempName(kTmpDir, ".hmeta");
    for (uint32_t pos : to_write_) {
      ShardState& sh = shard_[pos_[pos].shard];
      Status s = sh.target ? sh.write_error : Status::Ok();
      if (s.ok() && sh.out) s = sh.out->Close();
      sh.out.reset();
      ObjectMeta m = ref_;
      m.shard_index = uint32_t(pos_[pos].shard);
      if (ref_.is_inline()) m.inline_shard = sh.target ? sh.inline_out : metas_[pos].meta.inline_shard;
      std::string meta_tmp;
      if (s.ok()) {
        auto bytes = m.Encode();
        s = bytes.status();
        if (bytes.ok()) {
          meta_tmp = core_.TakeSpare(pos, tmp);
          s = vol(pos)->OverwriteFile(meta_tmp, *bytes);
        }
      }
      if (s.ok()) {
        const bool new_shard = sh.target && !ref_.is_inline();
        commit_->Stage(pos, meta_tmp, new_shard ? sh.tmp : std::string());
        if (new_shard) sh.tmp.clear();  // the commit owns it now
      } else {
        commit_->Fail(pos, s.WithContext(vol(pos)->Describe()));
        if (!meta_tmp.empty()) vol(pos)->Remove(meta_tmp).IgnoreError();
      }
    }
    // Sources are no longer needed; do not hold their descriptors while the batch waits.
    for (auto& sh : shard_) sh.src.reset();
    return true;
  }

  VersionCommit* commit() const { return commit_.get(); }

  // After the batch published (or failed to flush: `flush` says why).
  ObjectHealth Finish(const Status& flush) {
    commit_->Finish();
    DropTemps();
    std::vector<uint32_t> published;
    for (uint32_t pos : to_write_) {
      if (commit_->is_published(pos)) published.push_back(pos);
    }
    if (!flush.ok()) published.clear();
    h_.healed = published;
    if (commit_->changed()) {
      h_.action = ObjectHealth::Action::kChanged;
      h_.note = "changed while healing; left to its writer";
      h_.after = h_.health;
    } else if (published.size() < to_write_.size()) {
      const Status error = !flush.ok() ? flush : commit_->first_error();
      h_.action = published.empty() ? ObjectHealth::Action::kFailed : ObjectHealth::Action::kHealed;
      h_.note = error.ok() ? "not every copy could be written" : error.message();
      h_.after = Health::kDegraded;
    } else {
      h_.action = ObjectHealth::Action::kHealed;
      h_.after = offline() > 0 ? Health::kDegraded : Health::kHealthy;
    }
    return h_;
  }

  uint64_t pending_bytes() const { return h_.bytes_written; }
  const ObjectHealth& health() const { return h_; }

 private:
  // True when no member's copy changed since Run read them; the caller holds the key's lock.
  bool Unchanged() const {
    const auto now = core_.ReadAllMeta(paths_.meta);
    for (uint32_t i = 0; i < n_; ++i) {
      if (!SameCopy(now[i], metas_[i])) return false;
    }
    return true;
  }

  // An unrecoverable object: reported; removed only when asked and only when dangling.
  void Dangling() {
    h_.after = h_.health;
    if (!o_.remove_dangling || !h_.dangling) return;
    RemoveCopies();
  }

  // Removes every copy and shard file of the object (dangling, or never committed), under the
  // key's lock and only if nothing changed since it was read.
  void RemoveCopies() {
    h_.after = h_.health;
    if (o_.dry_run) {
      h_.action = ObjectHealth::Action::kWouldRemove;
      return;
    }
    KeyWriteGuard guard(core_.locks(), core_.Stripe(h_.bucket, h_.key));
    if (!Unchanged()) {
      h_.action = ObjectHealth::Action::kChanged;
      h_.note = "changed while healing; left to its writer";
      return;
    }
    std::vector<bool> touched(n_, false);
    for (uint32_t i = 0; i < n_; ++i) {
      Volume* v = vol(i);
      if (v == nullptr) continue;
      // The metadata copy before the shard files it names: a crash in between leaves a shard
      // file no copy names (gc's), never a copy naming a shard file that is gone.
      Status s = v->Remove(paths_.meta);
      touched[i] = s.ok();
      v->Remove(paths_.DisplacedPath()).IgnoreError();
      if (metas_[i].present && !metas_[i].meta.is_inline()) {
        v->Remove(paths_.ShardPath(metas_[i].meta.data_id.Hex())).IgnoreError();
      }
      if (!ref_data_.IsZero()) {
        v->Remove(paths_.ShardPath(ref_data_.Hex())).IgnoreError();
      }
      core_.RemoveEmptyParents(v, h_.bucket, paths_.dir);
    }
    core_.SyncDirs(touched, paths_.dir).IgnoreError();
    h_.action = ObjectHealth::Action::kRemoved;
    h_.after = Health::kHealthy;
  }

  // A delete that did not finish (Deleting): removes, under the key's lock and only if nothing
  // changed meanwhile, every copy of an older version (with its shard file) and every damaged
  // copy; and the markers too once every member is online and readable, so that none can bring
  // the object back. Until then the markers stay and the object stays degraded.
  void FinishDelete() {
    const bool all_known = uncertain() == 0;
    if (o_.dry_run) {
      h_.action = ObjectHealth::Action::kWouldFinishDelete;
      h_.after = all_known ? Health::kHealthy : Health::kDegraded;
      return;
    }
    KeyWriteGuard guard(core_.locks(), core_.Stripe(h_.bucket, h_.key));
    if (!Unchanged()) {
      h_.action = ObjectHealth::Action::kChanged;
      h_.note = "changed while healing; left to its writer";
      h_.after = h_.health;
      return;
    }
    // Two passes, each made durable before the next: first every copy that is not a marker (of
    // an older version, or damaged), then the markers. A crash in between leaves the markers and
    // fewer old copies: still a delete that the next heal finishes, never an old copy alone that
    // would look like a dangling object. Within a member, the metadata copy goes before the shard
    // file it names (a crash in between leaves a shard file no copy names: gc's).
    bool left = false;
    for (const bool markers : {false, true}) {
      std::vector<bool> touched(n_, false);
      for (uint32_t i = 0; i < n_; ++i) {
        Volume* v = vol(i);
        const MetaRead& mr = metas_[i];
        if (v == nullptr || mr.absent() || mr.unknown()) continue;
        const bool marker = mr.present && mr.meta.is_delete_marker();
        if (marker != markers) continue;
        if (marker && !all_known) {
          left = true;
          continue;
        }
        Status s = v->Remove(paths_.meta);
        if (!s.ok() && s.code() != Code::kNotFound) {
          left = true;
          h_.note = s.message();
          continue;
        }
        if (mr.present && !mr.meta.is_inline()) {
          v->Remove(paths_.ShardPath(mr.meta.data_id.Hex())).IgnoreError();
        }
        v->Remove(paths_.DisplacedPath()).IgnoreError();  // what the delete displaced, too
        touched[i] = true;
        h_.healed.push_back(i);
        core_.RemoveEmptyParents(v, h_.bucket, paths_.dir);
      }
      if (Status sync = core_.SyncDirs(touched, paths_.dir); !sync.ok()) {
        left = true;
        h_.note = sync.message();
        break;  // the markers stay until the old copies' removal is durable
      }
    }
    h_.action = ObjectHealth::Action::kFinishedDelete;
    h_.after = left ? Health::kDegraded : Health::kHealthy;
  }

  SetCore& core_;
  const CheckOptions& o_;
  const ObjectPaths paths_;
  const uint32_t n_;
  ObjectHealth h_;
  std::vector<MetaRead> metas_;
  ObjectMeta ref_;
  Uuid ref_data_;
  StripeLayout lay_;
  std::vector<PosState> pos_;
  std::vector<ShardState> shard_;
  // Commit state.
  std::vector<uint32_t> to_write_;
  std::unique_ptr<VersionCommit> commit_;
  uint32_t min_good_ = 0;
  bool passed_ = false;
  std::vector<bool> uncertain_ = std::vector<bool>(n_, false);
};

Result<ObjectHealth> ErasureSet::CheckObject(const std::string& bucket, const std::string& key,
                                             const CheckOptions& o) {
  ObjectExam e(*this, bucket, key, o);
  return e.Run(false);
}

HealBatch::HealBatch() = default;
// Never committed: each ObjectExam's VersionCommit removes the temp files it holds.
HealBatch::~HealBatch() = default;

void HealBatch::Add(std::unique_ptr<ObjectExam> e, uint64_t bytes) {
  bytes_ += bytes;
  pending_.push_back(std::move(e));
}

std::vector<std::unique_ptr<ObjectExam>> HealBatch::Take() {
  bytes_ = 0;
  return std::move(pending_);
}

Result<ObjectHealth> ErasureSet::HealObject(const std::string& bucket, const std::string& key,
                                            const CheckOptions& o, HealBatch* batch) {
  auto e = std::make_unique<ObjectExam>(*this, bucket, key, o);
  ASSIGN_OR_RETURN(ObjectHealth h, e->Run(true));
  if (h.action != ObjectHealth::Action::kQueued) return h;
  if (batch != nullptr) {
    const uint64_t bytes = e->pending_bytes();
    batch->Add(std::move(e), bytes);
    return h;
  }
  HealBatch one;
  one.Add(std::move(e), 0);
  return CommitHeals(one).front();
}

std::vector<ObjectHealth> ErasureSet::CommitHeals(HealBatch& batch) {
  std::vector<std::unique_ptr<ObjectExam>> exams = batch.Take();
  std::vector<VersionCommit*> commits;
  for (auto& e : exams) commits.push_back(e->commit());
  // One flush for every object's new files before any gets its name, one for the names.
  const Status flush = FlushCommits(*this, commits, VersionCommit::Step::kStaged);
  for (VersionCommit* c : commits) {
    if (!flush.ok()) {
      c->FailAll(flush);
      continue;
    }
    KeyWriteGuard guard(*locks_, Stripe(c->bucket(), c->key()));
    c->Publish();
  }
  const Status dflush = FlushCommits(*this, commits, VersionCommit::Step::kPublished);
  std::vector<ObjectHealth> out;
  for (auto& e : exams) out.push_back(e->Finish(flush.ok() ? dflush : flush));
  return out;
}

}  // namespace cairn
