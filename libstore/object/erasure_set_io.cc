// ErasureSet data path of a PUT: the streaming pipeline (GET: erasure_set_read.cc).
//
// PUT: the caller's thread reads a block, encodes it and checksums the chunks; writer threads (one
// per temp shard file, up to kMaxWriters) append chunk+checksum to the K+M files; a hash thread
// computes the ETag (MD5 costs ~0.7 GB/s, so it runs beside the pipeline, not in it). These
// threads are kept across PUTs (StageGroup), not started for each. A ring of kSlots block
// buffers, borrowed from the pool, bounds memory whatever the object size.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/hash.h"
#include "libstore/common/ring_pipeline.h"
#include "libstore/common/stage_threads.h"
#include "libstore/erasure/stripe.h"
#include "libstore/format/framing.h"
#include "libstore/format/key_path.h"
#include "libstore/object/commit.h"
#include "libstore/object/erasure_set.h"
#include "libstore/object/erasure_set_internal.h"
#include "libstore/object/key_locks.h"

namespace cairn {
namespace {

constexpr uint64_t kSlots = 4;
// Writer threads of one PUT at most (one per shard file up to this many; beyond, each writes
// every kMaxWriters-th file).
constexpr uint32_t kMaxWriters = 8;

struct Slot {
  PooledBuffer buf;
  uint8_t* data = nullptr;  // in buf: K+M chunks of cs bytes back to back, data chunks first
  uint64_t len = 0, cs = 0;
  uint64_t sums[kMaxShards];
};

}  // namespace

Status ErasureSet::StreamShards(Source& src, std::string_view head, const PutOptions& opts,
                                const std::vector<uint8_t>& distribution,
                                const std::string& shard_path, const std::string& what,
                                StreamedShards* out) {
  const uint32_t k = params_.k, total = n();
  const uint64_t bs = params_.block_size;
  const uint64_t cs_full = StripeLayout::ChunkLen(bs, k);
  std::vector<std::unique_ptr<WritableFile>>& files = out->files;
  std::vector<bool>& ok = out->ok;
  std::vector<Status>& errs = out->errs;
  files.clear();
  files.resize(total);
  ok.assign(total, false);
  errs.assign(total, Status::Ok());
  uint32_t opened = 0;
  for (uint32_t pos = 0; pos < total; ++pos) {
    if (volumes_[pos] == nullptr) continue;
    auto f = volumes_[pos]->NewWritableFile(shard_path);
    if (f.ok()) {
      files[pos] = std::move(f).value();
      ok[pos] = true;
      ++opened;
    } else {
      errs[pos] = f.status();
    }
  }
  auto remove_temps = [&] {
    for (uint32_t pos = 0; pos < total; ++pos) {
      if (volumes_[pos] == nullptr) continue;
      files[pos].reset();
      volumes_[pos]->Remove(shard_path).IgnoreError();
    }
  };
  auto first_error = [&]() -> Status {
    for (const auto& e : errs) {
      if (!e.ok()) return e;
    }
    return Status::Ok();
  };
  if (opened < write_quorum_) {
    remove_temps();
    return QuorumError("could open temp files on " + std::to_string(opened) + " volumes, " +
                           std::to_string(write_quorum_) + " needed",
                       first_error());
  }

  Slot slots[kSlots];
  for (auto& s : slots) s.buf = PooledBuffer(cs_full * total + kDirectAppendAlign);

  // Consumers 0..writers-1 write the shards, one thread per shard file (up to kMaxWriters), so
  // that each file's appends wait only for its own disk and the K+M files' writes proceed in
  // parallel. The next consumer hashes the body for the ETag (and Content-MD5: one MD5 for both);
  // the last, when a checksum or a payload hash is asked for, computes those on a core of its own,
  // so a CRC never slows the MD5 that bounds the PUT.
  BodyChecksums::Plan plan = ChecksumPlan(opts);
  BodyChecksums::Plan etag_plan, other_plan = plan;
  etag_plan.md5 = plan.md5;
  other_plan.md5 = false;
  const bool other_side =
      other_plan.checksum != ChecksumAlgorithm::kNone || other_plan.payload_sha256;
  // The first block is read before the threads start: a body of less than a block gets one
  // writer thread, not one per shard file (six thread starts per PUT: 962 against 1,347 PUT/s of
  // 256 KiB on 4+2, `cairn bench s3 --op put --size 256KiB --concurrency 4 --no-fsync` on tmpfs).
  Status read_error;
  uint64_t size = 0;
  size_t head_off = 0;
  // Reads block b into its slot; its length (short only at the end of the body, or on an error,
  // which read_error then holds). Block b's chunks go at offset b * (cs_full + checksum) of every
  // shard file: the block sits at that offset modulo kDirectAppendAlign in its slot, so that
  // direct appends write whole chunks (of a multiple of it) without copying them
  // (WritableFile::BypassCache).
  auto fill = [&](uint64_t b) -> uint64_t {
    Slot& s = slots[b % kSlots];
    uint8_t* data = s.data = s.buf.data() + (b * (cs_full + kChecksumLen)) % kDirectAppendAlign;
    // First from the bytes already read, then from the source.
    uint64_t len = 0;
    if (head_off < head.size()) {
      len = std::min<uint64_t>(bs, head.size() - head_off);
      std::memcpy(data, head.data() + head_off, len);
      head_off += len;
    }
    if (len < bs) {
      auto got = ReadFull(src, data + len, bs - len);
      if (!got.ok())
        read_error = got.status();
      else
        len += *got;
    }
    return len;
  };
  const uint64_t first_len = fill(0);
  const uint32_t writers = first_len == bs ? std::min(total, kMaxWriters) : 1;
  const size_t hash_consumer = writers, other_consumer = writers + 1;
  RingPipeline ring(kSlots, writers + (other_side ? 2 : 1));
  // Which files opened, read by every writer; ok/errs change only under mu (vector<bool> packs
  // its elements, so even distinct positions share a word).
  bool opened_at[kMaxShards];
  for (uint32_t pos = 0; pos < total; ++pos) opened_at[pos] = ok[pos];
  std::mutex mu;  // guards ok, errs and alive
  uint32_t alive = opened;
  auto write_shards = [&](uint32_t w) {
    bool live[kMaxShards];  // this writer's files still written (by shard index)
    for (uint32_t si = w; si < total; si += writers) live[si] = opened_at[distribution[si]];
    for (uint64_t b = 0; ring.WaitReady(b); ++b) {
      Slot& s = slots[b % kSlots];
      for (uint32_t si = w; si < total; si += writers) {
        if (!live[si]) continue;
        const uint32_t pos = distribution[si];
        // A body of a block or more: past the page cache (see WritableFile::BypassCache).
        if (b == 0 && s.len == bs) files[pos]->BypassCache();
        Status st = AppendFramed(*files[pos], s.data + si * s.cs, s.cs, s.sums[si]);
        if (!st.ok()) {
          live[si] = false;
          std::lock_guard<std::mutex> l(mu);
          ok[pos] = false;
          errs[pos] = st;
          if (--alive < write_quorum_) ring.Abort();
        }
      }
      // With fsync, let the disks start on what was written every 8 blocks, so the flush at
      // commit has little left to do.
      if (opts.fsync && b % 8 == 7) {
        for (uint32_t si = w; si < total; si += writers) {
          if (live[si]) files[distribution[si]]->StartWriteback();
        }
      }
      ring.Release(w, b);
    }
  };
  BodyChecksums etag_sums(etag_plan), other_sums(other_plan);
  Xxh3_128Stream xxh;
  const bool fast = opts.etag == EtagMode::kFast;
  // The stages run on kept threads (StageGroup), not threads started for this PUT. Declared after
  // everything the stages use: its destructor waits for them.
  StageGroup stages;
  // Whatever leaves this scope (a thrown bad_alloc too) stops the stages first, so that the
  // group's destructor does not wait for stages that wait for the producer.
  RingAbortOnExit abort_on_exit(ring);
  bool started = true;
  for (uint32_t w = 0; started && w < writers; ++w) {
    started = stages.Run([&write_shards, w] { write_shards(w); });
  }
  started = started && stages.Run([&] {
    for (uint64_t b = 0; ring.WaitReady(b); ++b) {
      Slot& s = slots[b % kSlots];
      if (fast) xxh.Update(s.data, s.len);
      if (etag_plan.md5) etag_sums.Update(s.data, s.len);
      ring.Release(hash_consumer, b);
    }
  });
  if (started && other_side) {
    started = stages.Run([&] {
      for (uint64_t b = 0; ring.WaitReady(b); ++b) {
        Slot& s = slots[b % kSlots];
        other_sums.Update(s.data, s.len);
        ring.Release(other_consumer, b);
      }
    });
  }
  if (!started) {
    // A stage that did not start would never release its slots: the others stop, and the
    // client is told to come back (503 SlowDown), as for any other limit of the server.
    ring.Abort();
    stages.Wait();
    remove_temps();
    return Status(Code::kSlowDown, what + ": cannot start a thread for the PUT's stages");
  }

  for (uint64_t b = 0; ring.WaitFree(b); ++b) {
    Slot& s = slots[b % kSlots];
    const uint64_t len = b == 0 ? first_len : fill(b);
    if (!read_error.ok() || len == 0) break;
    uint8_t* data = s.data;
    uint64_t cs = StripeLayout::ChunkLen(len, k);
    // Data chunks are laid out back to back at stride cs: chunk i is data + i*cs.
    std::memset(data + len, 0, cs * k - len);
    uint8_t* chunks[kMaxShards];
    for (uint32_t i = 0; i < total; ++i) chunks[i] = data + i * cs;
    codec_->Encode(cs, chunks, chunks + k);
    for (uint32_t i = 0; i < total; ++i) s.sums[i] = ChunkSum(chunks[i], cs, 0);
    s.len = len;
    s.cs = cs;
    size += len;
    ring.Publish(b);
    if (len < bs) break;
  }
  if (!read_error.ok()) ring.Abort();
  ring.Finish();
  stages.Wait();
  const bool abort_all = ring.aborted();

  if (!read_error.ok() || abort_all) {
    remove_temps();
    if (!read_error.ok()) return read_error.WithContext("reading input");
    return QuorumError("writes failed on too many volumes", first_error());
  }
  // The body ended (the source said so): the promises, a trailer's included, decide now, before
  // any metadata is written.
  etag_sums.Finish();
  other_sums.Finish();
  Status promised = [&]() -> Status {
    ASSIGN_OR_RETURN(ExpectedDigests expected, FinalExpectations(opts));
    return VerifyBody(expected, etag_sums, &other_sums);
  }();
  if (!promised.ok()) {
    remove_temps();
    return promised.WithContext(what);
  }
  out->size = size;
  out->md5 = etag_sums.md5();
  out->etag = fast ? "x" + xxh.Digest().Hex() : ToHex(etag_sums.md5().data(), 16);
  out->checksum = other_sums.checksum();
  return Status::Ok();
}

Result<ObjectInfo> ErasureSet::PutStreaming(const std::string& bucket, const std::string& key,
                                            Source& src, const PutOptions& opts,
                                            std::string_view head) {
  const uint32_t total = n();
  ObjectMeta base = BaseMeta(key, 0, opts, Rotation(bucket, key));
  base.data_id = Uuid::Random();
  const std::string tmp = TempName(kTmpDir);
  StreamedShards body;
  RETURN_IF_ERROR(
      StreamShards(src, head, opts, base.distribution, tmp + ".shard", bucket + "/" + key, &body));
  std::vector<std::unique_ptr<WritableFile>>& files = body.files;
  std::vector<bool>& ok = body.ok;
  std::vector<Status>& errs = body.errs;
  const uint64_t size = body.size;
  const uint64_t bs = params_.block_size;
  const uint32_t k = params_.k;
  base.size = size;
  base.shard_size = StripeLayout{size, bs, k}.shard_size();
  base.etag = body.etag;
  SetChecksum(&base, body.checksum);

  VersionCommit commit(*this, bucket, key, base.data_id, /*new_version=*/true);
  ObjectMeta m = base;
  for (uint32_t si = 0; si < total; ++si) {
    const uint32_t pos = base.distribution[si];
    if (volumes_[pos] == nullptr) continue;
    if (!ok[pos]) {
      // This volume failed mid-stream: drop its partial shard now; the rest go on.
      files[pos].reset();
      volumes_[pos]->Remove(tmp + ".shard").IgnoreError();
      commit.Fail(pos, errs[pos]);
      continue;
    }
    m.shard_index = si;
    std::string meta_tmp;
    // Durability: the commit flushes every member's temp files at once (FlushCommits).
    Status st = files[pos]->Close();
    if (st.ok()) {
      auto bytes = m.Encode();
      st = bytes.status();
      if (bytes.ok()) {
        meta_tmp = TakeSpare(pos, tmp + ".meta");
        st = volumes_[pos]->OverwriteFile(meta_tmp, *bytes);
      }
    }
    if (st.ok()) {
      commit.Stage(pos, meta_tmp, tmp + ".shard");
    } else {
      commit.Fail(pos, st);
      volumes_[pos]->Remove(tmp + ".shard").IgnoreError();
      if (!meta_tmp.empty()) volumes_[pos]->Remove(meta_tmp).IgnoreError();
    }
  }
  files.clear();
  ObjectInfo info = InfoFrom(bucket, base);
  RETURN_IF_ERROR(CommitPut(commit, base, opts, &info));
  return info;
}

// ---------------------------------------------------------------------------------------------
// GET

bool ErasureSet::FirstDegradedRead(const Uuid& version) {
  std::lock_guard<std::mutex> l(degraded_mu_);
  // Bounded: forgetting old versions only means one more journal entry for them.
  if (degraded_seen_.size() >= 4096) degraded_seen_.clear();
  return degraded_seen_.insert(version).second;
}

bool ErasureSet::FullReadDue(const Uuid& version) {
  const uint64_t h = Xxh3_64(version.b, sizeof(version.b), 0);
  const int64_t now = NowNs();
  std::lock_guard<std::mutex> l(full_read_mu_);
  FullRead& slot = full_reads_[h % kFullReadSlots];
  if (slot.version == version && now - slot.at_ns < kFullReadIntervalNs && now >= slot.at_ns) {
    return false;
  }
  slot.version = version;
  slot.at_ns = now;
  return true;
}

}  // namespace cairn
