// EncodeShards, DecodeShards, RepairShards and the temp files they write through.
#include "libstore/shards/shard_codec.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/group_sync.h"
#include "libstore/common/ring_pipeline.h"
#include "libstore/common/stage_threads.h"
#include "libstore/erasure/codec.h"
#include "libstore/format/framing.h"

namespace cairn {
namespace {

constexpr uint64_t kSlots = 8;
// Encode keeps up to kSlots stripes in flight, fewer when stripes are large (a 64 MiB block of
// 1+31 is a 2 GiB stripe): as many as fit in kSlotBudget, and never fewer than two, so reading
// and writing still overlap.
constexpr uint64_t kSlotBudget = 512ull << 20;
constexpr size_t kTempKeep = 200;  // bytes of the final name kept in a temp name
constexpr std::string_view kTempMark = ".part-";
constexpr size_t kTempHexDigits = 32;

// The finished temp files of an encode or a repair, made durable before they are renamed into
// place: each file's own data, all at once (fdatasync). Not a syncfs: that would wait for every
// other writer's dirty data on the file system too (docs/benchmarks.md, "Flushing").
Status MakeDurable(const std::vector<WritableFile*>& files) {
  return FlushInParallel(files.size(), [&](size_t i) { return files[i]->Sync(); });
}

// The temp files of one encode or repair: each created beside its final name and locked while it
// lives; renamed all at the end; removed on failure or destruction.
class TempShards {
 public:
  TempShards(Volume& vol, FileLocker* locker) : vol_(vol), locker_(locker) {}
  ~TempShards() { Abandon(); }

  // Creates the temp file for final_path; the object keeps it.
  Result<WritableFile*> Create(const std::string& final_path) {
    Temp t;
    t.final = final_path;
    t.tmp = ShardTempName(final_path);
    ASSIGN_OR_RETURN(t.file, vol_.NewWritableFile(t.tmp));
    if (locker_ != nullptr) {
      // Another encode may have taken our fresh file for a dead one's: then it holds the lock or
      // has removed the file, and we fail instead of writing into a file that is not there.
      auto lock = locker_->TryLock(t.tmp);
      if (!lock.ok()) {
        t.file.reset();
        vol_.Remove(t.tmp).IgnoreError();
        return lock.status();
      }
      t.lock = std::move(lock).value();
    }
    temps_.push_back(std::move(t));
    return temps_.back().file.get();
  }

  // Flushes (when fsync), closes, then renames every temp file to its final name and syncs their
  // directories (when fsync). When a rename fails: with undo, the final names already made are
  // removed too (all or nothing); the temp files are removed either way.
  Status Commit(bool fsync, bool undo) {
    std::vector<WritableFile*> files;
    for (auto& t : temps_) files.push_back(t.file.get());
    Status s = fsync ? MakeDurable(files) : Status::Ok();
    for (auto& t : temps_) {
      Status c = t.file->Close();
      if (s.ok()) s = c;
    }
    for (size_t i = 0; i < temps_.size() && s.ok(); ++i) {
      s = vol_.Rename(temps_[i].tmp, temps_[i].final);
      if (s.ok()) {
        temps_[i].renamed = true;
      } else if (undo) {
        for (size_t j = 0; j < i; ++j) vol_.Remove(temps_[j].final).IgnoreError();
      }
    }
    if (!s.ok()) {
      Abandon();
      return s;
    }
    if (!fsync) return Status::Ok();
    // The new names, with their directories. When this fails the files are in place but maybe
    // not durably: say so.
    std::set<std::string> dirs;
    for (const auto& t : temps_) dirs.insert(ParentDir(t.final));
    for (const auto& d : dirs) RETURN_IF_ERROR(vol_.SyncDir(d));
    return Status::Ok();
  }

  // Removes the temp files not renamed yet.
  void Abandon() {
    for (auto& t : temps_) {
      t.file.reset();
      if (!t.renamed) vol_.Remove(t.tmp).IgnoreError();
      t.renamed = true;
    }
  }

 private:
  struct Temp {
    std::string tmp, final;
    std::unique_ptr<WritableFile> file;
    std::unique_ptr<FileLock> lock;  // released after the rename, with the object
    bool renamed = false;
  };
  Volume& vol_;
  FileLocker* locker_;
  std::vector<Temp> temps_;
};

// Reads and checks block b of the files of one encode, trying each copy of a shard until one is
// good; rebuilds what `want` asks for.
class BlockReader {
 public:
  BlockReader(Volume& vol, const ShardScan& scan, size_t set)
      : set_(scan.sets[set]), lay_(set_.ref.layout()) {
    const uint32_t n = set_.ref.n();
    files_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      for (size_t f : set_.copies[i]) {
        auto r = vol.NewReadableFile(scan.files[f].path);
        if (r.ok()) files_[i].push_back(std::move(r).value());
      }
    }
    stride_ = lay_.full_chunk_len() + kChecksumLen;
    buf_ = PooledBuffer(stride_ * n);
  }
  const StripeLayout& layout() const { return lay_; }
  uint8_t* chunk(uint32_t i) { return buf_.data() + i * stride_; }

  // Reads block b of the shards in `which` and checks them; good[i] tells.
  void Load(uint64_t b, const bool* which, bool* good) {
    const uint64_t cs = lay_.chunk_len(b), off = kShardHeaderSize + lay_.shard_offset(b);
    for (uint32_t i = 0; i < set_.ref.n(); ++i) {
      good[i] = false;
      if (!which[i]) continue;
      const uint64_t seed = ShardBlockSeed(set_.ref.set_id, i, b);
      for (auto& f : files_[i]) {
        if (ReadFramed(*f, off, cs, seed, chunk(i)).state == ChunkState::kGood) {
          good[i] = true;
          break;
        }
      }
    }
  }

  // Loads block b preferring the data shards and rebuilds every shard in `want` that is not good.
  // kDataLoss when fewer than K chunks are good.
  Status LoadAndRebuild(uint64_t b, bool* good, const bool* want, ErasureCodec& codec) {
    const uint32_t k = set_.ref.k, n = set_.ref.n();
    bool which[kMaxShards] = {};
    for (uint32_t i = 0; i < n; ++i) which[i] = i < k || want[i];
    Load(b, which, good);
    uint32_t count = uint32_t(std::count(good, good + n, true));
    if (count < k) {
      // Not enough yet: read the remaining parity shards too.
      bool rest[kMaxShards] = {}, more[kMaxShards] = {};
      for (uint32_t i = 0; i < n; ++i) rest[i] = !which[i];
      Load(b, rest, more);
      for (uint32_t i = 0; i < n; ++i) good[i] = good[i] || more[i];
      count = uint32_t(std::count(good, good + n, true));
    }
    if (count < k) {
      return DataLoss("block " + std::to_string(b) + " (bytes " +
                      std::to_string(b * lay_.block_size) + "-" +
                      std::to_string(b * lay_.block_size + lay_.block_len(b) - 1) + "): only " +
                      std::to_string(count) + " of " + std::to_string(n) + " shards good, " +
                      std::to_string(k) + " needed");
    }
    bool need = false;
    for (uint32_t i = 0; i < n; ++i) need |= want[i] && !good[i];
    if (!need) return Status::Ok();
    uint8_t* ptrs[kMaxShards];
    for (uint32_t i = 0; i < n; ++i) ptrs[i] = chunk(i);
    return codec.Reconstruct(lay_.chunk_len(b), ptrs, good, want);
  }

 private:
  const ShardSet& set_;
  StripeLayout lay_;
  std::vector<std::vector<std::unique_ptr<ReadableFile>>> files_;  // index -> its copies
  uint64_t stride_ = 0;
  PooledBuffer buf_;
};

}  // namespace

// ----------------------------------------------------------------------------------- temp files

std::string ShardTempName(const std::string& final_path) {
  const std::string base = BaseName(final_path).substr(0, kTempKeep);
  return JoinPath(ParentDir(final_path), "." + base + std::string(kTempMark) + TempName(""));
}

bool IsShardTempName(std::string_view name) {
  const size_t tail = kTempMark.size() + kTempHexDigits;
  if (name.size() <= 1 + tail || name[0] != '.') return false;
  if (name.substr(name.size() - tail, kTempMark.size()) != kTempMark) return false;
  return std::all_of(name.end() - kTempHexDigits, name.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<std::vector<std::string>> RemoveDeadTemps(Volume& vol, FileLocker& locker,
                                                 const std::string& dir) {
  ASSIGN_OR_RETURN(auto entries, vol.ListDir(dir));
  std::vector<std::string> removed;
  for (const auto& e : entries) {
    if (e.is_dir() || !IsShardTempName(e.name)) continue;
    const std::string path = JoinPath(dir, e.name);
    auto lock = locker.TryLock(path);
    if (!lock.ok()) continue;  // alive (or gone already)
    if (vol.Remove(path).ok()) removed.push_back(path);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------- encode

Result<EncodeResult> EncodeShards(Volume& vol, const std::string& out_dir, Source& src,
                                  const EncodeOptions& o, const ProgressFn& progress) {
  if (o.k < 1 || uint64_t(o.k) + o.m > kShardMaxShards) {
    return InvalidArgument("K+M = " + std::to_string(o.k) + "+" + std::to_string(o.m) +
                           ": need K >= 1 and K + M <= " + std::to_string(kShardMaxShards));
  }
  ASSIGN_OR_RETURN(auto codec, ErasureCodec::Create(int(o.k), int(o.m)));
  if (o.block_size < kShardMinBlockSize || o.block_size > kShardMaxBlockSize) {
    return InvalidArgument("--block-size must be between 4 KiB and 64 MiB");
  }
  if (Status s = CheckBaseName(o.name, kShardNameMax); !s.ok()) {
    return InvalidArgument("shard name: " + s.message());
  }
  const uint32_t k = o.k, n = o.k + o.m;
  ShardHeader h;
  h.set_id = Uuid::Random();
  h.k = o.k;
  h.m = o.m;
  h.block_size = o.block_size;
  h.name = o.name;

  EncodeResult res;
  for (uint32_t i = 0; i < n; ++i) {
    res.files.push_back(JoinPath(out_dir, ShardFileName(o.name, i, n)));
    if (!o.force && vol.Stat(res.files[i]).ok()) {
      return AlreadyExists(ShowPath(vol, res.files[i]) + " exists (use --force to replace it)");
    }
  }
  if (o.locker != nullptr) {
    auto removed = RemoveDeadTemps(vol, *o.locker, out_dir);
    if (removed.ok()) res.removed_temps = std::move(removed).value();
  }
  TempShards temps(vol, o.locker);
  std::vector<WritableFile*> files(n);
  const std::string placeholder = h.Encode();  // incomplete until the end
  for (uint32_t i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(files[i], temps.Create(res.files[i]));
    RETURN_IF_ERROR(files[i]->Append(placeholder.data(), placeholder.size()));
  }

  struct Slot {
    PooledBuffer buf;
    uint64_t cs = 0;
    uint64_t sums[kMaxShards];
  };
  const uint64_t cs_full = StripeLayout::ChunkLen(o.block_size, k);
  const uint64_t num_slots = std::clamp<uint64_t>(kSlotBudget / (cs_full * n), 2, kSlots);
  std::vector<Slot> slots(num_slots);
  for (auto& s : slots) s.buf = PooledBuffer(cs_full * n);
  // Two writer threads, each appending to half of the shard files: copying 1.5x the input into
  // the page cache is the slowest stage, and the producer alone needs less than a core.
  constexpr size_t kWriters = 2;
  RingPipeline ring(num_slots, kWriters);
  Status write_errors[kWriters];
  // Kept threads; declared after what the writers use (its destructor waits for them), and the
  // ring is aborted on any way out of this scope first, so that no writer waits for blocks.
  StageGroup writers;
  RingAbortOnExit abort_on_exit(ring);
  for (size_t w = 0; w < kWriters; ++w) {
    const bool started = writers.Run([&, w] {
      Status& err = write_errors[w];
      for (uint64_t b = 0; ring.WaitReady(b); ++b) {
        Slot& s = slots[b % num_slots];
        for (uint32_t i = uint32_t(w); i < n && err.ok(); i += kWriters) {
          err = AppendFramed(*files[i], s.buf.data() + i * s.cs, s.cs, s.sums[i]);
        }
        if (!err.ok()) {
          ring.Abort();
          return;
        }
        // Every 8 blocks, let the disk start on what was written, so the final flush is short.
        if (o.fsync && b % 8 == 7) {
          for (uint32_t i = uint32_t(w); i < n; i += kWriters) files[i]->StartWriteback();
        }
        ring.Release(w, b);
      }
    });
    if (!started) {
      // The writer that started would wait for blocks forever: it stops, the temp shards go.
      ring.Abort();
      writers.Wait();
      return Status(Code::kIOError,
                    "cannot start a thread to write the shards with (the system "
                    "is out of threads or memory)");
    }
  }
  Xxh3_128Stream whole;
  Status read_error;
  uint64_t size = 0;
  for (uint64_t b = 0; ring.WaitFree(b); ++b) {
    Slot& s = slots[b % num_slots];
    uint8_t* data = s.buf.data();
    auto got = ReadFull(src, data, o.block_size);
    if (!got.ok()) read_error = got.status();
    uint64_t len = got.ok() ? *got : 0;
    if (len == 0) break;
    whole.Update(data, len);
    s.cs = StripeLayout::ChunkLen(len, k);
    std::memset(data + len, 0, s.cs * k - len);
    uint8_t* chunks[kMaxShards];
    for (uint32_t i = 0; i < n; ++i) chunks[i] = data + i * s.cs;
    codec->Encode(s.cs, chunks, chunks + k);
    for (uint32_t i = 0; i < n; ++i) s.sums[i] = ShardBlockSum(h.set_id, i, b, chunks[i], s.cs);
    size += len;
    ring.Publish(b);
    if (progress) progress(len);
    if (len < o.block_size) break;
  }
  if (!read_error.ok()) ring.Abort();
  ring.Finish();
  writers.Wait();
  if (!read_error.ok()) return read_error.WithContext("reading input");
  for (const auto& e : write_errors) RETURN_IF_ERROR(e);
  // Finish the headers now that size and hash are known, then make everything visible at once.
  h.file_size = size;
  h.file_hash = whole.Digest();
  h.complete = true;
  RETURN_IF_ERROR(h.Validate());  // what decode would refuse is never written
  for (uint32_t i = 0; i < n; ++i) {
    h.index = i;
    std::string bytes = h.Encode();
    RETURN_IF_ERROR(files[i]->WriteAt(0, bytes.data(), bytes.size()));
  }
  RETURN_IF_ERROR(temps.Commit(o.fsync, /*undo=*/true));
  h.index = 0;
  res.header = h;
  return res;
}

// ---------------------------------------------------------------------------------------- decode

Status DecodeShards(Volume& vol, const ShardScan& scan, size_t set, Sink& sink,
                    const ProgressFn& progress) {
  RETURN_IF_ERROR(ConflictError(scan, set));
  const ShardHeader& ref = scan.sets[set].ref;
  const uint32_t k = ref.k;
  ASSIGN_OR_RETURN(auto codec, ErasureCodec::Create(int(k), int(ref.m)));
  BlockReader reader(vol, scan, set);
  const StripeLayout& lay = reader.layout();
  bool want[kMaxShards] = {};
  for (uint32_t i = 0; i < k; ++i) want[i] = true;
  bool good[kMaxShards];
  Xxh3_128Stream whole;
  for (uint64_t b = 0; b < lay.num_blocks(); ++b) {
    RETURN_IF_ERROR(reader.LoadAndRebuild(b, good, want, *codec));
    uint64_t left = lay.block_len(b), cs = lay.chunk_len(b);
    for (uint32_t i = 0; i < k && left > 0; ++i) {
      uint64_t c = std::min(left, cs);
      whole.Update(reader.chunk(i), c);
      RETURN_IF_ERROR(sink.Write(reader.chunk(i), c));
      left -= c;
    }
    if (progress) progress(lay.block_len(b));
  }
  if (whole.Digest() != ref.file_hash) {
    return Corruption(scan.sets[set].Label() +
                      ": the decoded file does not match the hash recorded at encode time");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------- repair

Result<std::vector<std::string>> RepairShards(Volume& vol, const ShardScan& scan, size_t set,
                                              const RepairOptions& o, const ProgressFn& progress) {
  const ShardSet& s = scan.sets[set];
  const ShardHeader& ref = s.ref;
  const uint32_t k = ref.k, n = ref.n();
  RETURN_IF_ERROR(ConflictError(scan, set));
  ASSIGN_OR_RETURN(SetReport rep, VerifySet(vol, scan, set));
  if (rep.verdict == SetVerdict::kUnrecoverable) {
    return DataLoss(VerdictStatus(scan, rep).message() + ": cannot repair");
  }

  // What to write: every file that is not ok, and a file for every missing shard.
  std::vector<std::pair<uint32_t, std::string>> targets;  // index, path
  for (const ShardHealth& h : rep.shards) {
    if (h.state == ShardFileState::kOk) continue;
    if (h.state != ShardFileState::kMissing) {
      targets.emplace_back(h.index, h.path);
      continue;
    }
    std::string target = JoinPath(s.dir, ShardFileName(ref.name, h.index, n));
    auto st = vol.Stat(target);
    if (st.ok()) {
      // The name is taken: replace only a file that was given and found to be no usable shard
      // (a corrupt header, say), never one that could not be read or belongs to another encode.
      auto f = std::find_if(scan.files.begin(), scan.files.end(), [&](const ShardFileInfo& x) {
        return x.found == target || x.path == target;
      });
      std::string why;
      if (f == scan.files.end()) {
        why = "that file exists and was not given";
      } else if (f->role != ShardRole::kBadHeader) {
        why = "it is a " + std::string(Name(f->role)) + " of " + scan.sets[size_t(f->set)].Label();
      } else if (f->header_status.code() != Code::kCorruption) {
        why = "it could not be read (" + f->header_status.message() + ")";
      }
      if (!why.empty()) {
        return AlreadyExists(s.Label() + ": cannot recreate shard " + std::to_string(h.index + 1) +
                             " as " + ShowPath(vol, target) + ": " + why + "; move it away");
      }
      target = f->path;
    } else if (st.status().code() != Code::kNotFound) {
      return st.status();
    }
    targets.emplace_back(h.index, target);
  }
  std::vector<std::string> written;
  if (targets.empty()) return written;

  if (o.locker != nullptr) {
    std::set<std::string> dirs;
    for (const auto& t : targets) dirs.insert(ParentDir(t.second));
    for (const auto& d : dirs) RemoveDeadTemps(vol, *o.locker, d).status().IgnoreError();
  }
  bool want[kMaxShards] = {};
  TempShards temps(vol, o.locker);
  std::vector<WritableFile*> out;
  for (const auto& [index, path] : targets) {
    want[index] = true;
    ShardHeader h = ref;
    h.index = index;
    const std::string head = h.Encode();
    ASSIGN_OR_RETURN(WritableFile * f, temps.Create(path));
    RETURN_IF_ERROR(f->Append(head.data(), head.size()));
    out.push_back(f);
  }
  ASSIGN_OR_RETURN(auto codec, ErasureCodec::Create(int(k), int(ref.m)));
  BlockReader reader(vol, scan, set);
  const StripeLayout& lay = reader.layout();
  bool good[kMaxShards];
  for (uint64_t b = 0; b < lay.num_blocks(); ++b) {
    RETURN_IF_ERROR(reader.LoadAndRebuild(b, good, want, *codec));
    const uint64_t cs = lay.chunk_len(b);
    for (size_t t = 0; t < targets.size(); ++t) {
      const uint32_t i = targets[t].first;
      RETURN_IF_ERROR(AppendFramed(*out[t], reader.chunk(i), cs,
                                   ShardBlockSum(ref.set_id, i, b, reader.chunk(i), cs)));
    }
    if (progress) progress(lay.block_len(b));
  }
  RETURN_IF_ERROR(temps.Commit(o.fsync, /*undo=*/false));
  for (const auto& t : targets) written.push_back(t.second);
  return written;
}

}  // namespace cairn
