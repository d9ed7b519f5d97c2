#include "libstore/shards/shard_codec.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/ring_pipeline.h"
#include "libstore/erasure/codec.h"

namespace cairn {
namespace {

constexpr uint64_t kSlots = 8;

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

Result<std::string> RootRelative(const std::string& path) {
  if (path.empty()) return InvalidArgument("empty path");
  std::string dir = ".", base = path;
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    base = path.substr(slash + 1);
  }
  char buf[PATH_MAX];
  if (::realpath(dir.c_str(), buf) == nullptr) return PosixError(dir, errno);
  std::string out = buf;
  if (!base.empty() && base != ".") {
    if (base == "..") {
      if (::realpath(path.c_str(), buf) == nullptr) return PosixError(path, errno);
      out = buf;
    } else {
      out = (out == "/" ? "" : out) + "/" + base;
    }
  }
  return out.size() > 1 ? out.substr(1) : std::string();
}

bool VerifyReport::healthy() const {
  for (const auto& s : shards) {
    if (s.state != "ok") return false;
  }
  return unrecoverable_blocks == 0;
}

// ---------------------------------------------------------------------------------------- encode

Result<EncodeResult> EncodeShards(Volume& vol, const std::string& out_dir, Source& src,
                                  const EncodeOptions& o, const ProgressFn& progress) {
  ASSIGN_OR_RETURN(auto codec, ErasureCodec::Create(int(o.k), int(o.m)));
  if (o.block_size < 4096 || o.block_size > (64u << 20)) {
    return InvalidArgument("--block-size must be between 4 KiB and 64 MiB");
  }
  if (o.name.empty() || o.name.size() > kShardNameMax || o.name.find('/') != std::string::npos) {
    return InvalidArgument("shard name must be 1 to 255 bytes without '/'");
  }
  const uint32_t k = o.k, n = o.k + o.m;
  ShardHeader h;
  h.set_id = Uuid::Random();
  h.k = o.k;
  h.m = o.m;
  h.block_size = o.block_size;
  h.name = o.name;

  EncodeResult res;
  std::vector<std::string> tmp(n);
  for (uint32_t i = 0; i < n; ++i) {
    res.files.push_back(Join(out_dir, ShardFileName(o.name, i, n)));
    tmp[i] = Join(out_dir, "." + ShardFileName(o.name, i, n) + ".part-" + h.set_id.Hex().substr(0, 8));
    if (!o.force && vol.Stat(res.files[i]).ok()) {
      return AlreadyExists("/" + res.files[i] + " exists (use --force to replace it)");
    }
  }
  std::vector<std::unique_ptr<WritableFile>> files(n);
  auto cleanup = [&] {
    for (uint32_t i = 0; i < n; ++i) {
      files[i].reset();
      vol.Remove(tmp[i]).IgnoreError();
    }
  };
  const std::string placeholder = h.Encode();  // incomplete until the end
  for (uint32_t i = 0; i < n; ++i) {
    auto f = vol.NewWritableFile(tmp[i]);
    Status s = f.ok() ? (*f)->Append(placeholder.data(), placeholder.size()) : f.status();
    if (!s.ok()) {
      cleanup();
      return s;
    }
    files[i] = std::move(f).value();
  }

  struct Slot {
    PooledBuffer buf;
    uint64_t cs = 0;
    uint64_t sums[kMaxShards];
  };
  const uint64_t cs_full = (uint64_t(o.block_size) + k - 1) / k;
  Slot slots[kSlots];
  for (auto& s : slots) s.buf = PooledBuffer(cs_full * n);
  // Two writer threads, each appending to half of the shard files: copying 1.5x the input into
  // the page cache is the slowest stage, and the producer alone needs less than a core.
  constexpr size_t kWriters = 2;
  RingPipeline ring(kSlots, kWriters);
  Status write_errors[kWriters];
  std::vector<std::thread> writers;
  for (size_t w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Status& err = write_errors[w];
      for (uint64_t b = 0; ring.WaitReady(b); ++b) {
        Slot& s = slots[b % kSlots];
        for (uint32_t i = uint32_t(w); i < n && err.ok(); i += kWriters) {
          ConstBuf bufs[2] = {{s.buf.data() + i * s.cs, s.cs}, {&s.sums[i], kChecksumLen}};
          err = files[i]->AppendV(bufs, 2);
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
  }
  Xxh3_128Stream whole;
  Status read_error;
  uint64_t size = 0;
  for (uint64_t b = 0; ring.WaitFree(b); ++b) {
    Slot& s = slots[b % kSlots];
    uint8_t* data = s.buf.data();
    auto got = ReadFull(src, data, o.block_size);
    if (!got.ok()) read_error = got.status();
    uint64_t len = got.ok() ? *got : 0;
    if (len == 0) break;
    whole.Update(data, len);
    s.cs = (len + k - 1) / k;
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
  for (auto& t : writers) t.join();
  Status write_error;
  for (const auto& e : write_errors) {
    if (write_error.ok()) write_error = e;
  }
  if (!read_error.ok() || !write_error.ok()) {
    cleanup();
    return !read_error.ok() ? read_error.WithContext("reading input") : write_error;
  }
  // Finish the headers now that size and hash are known, then make everything visible at once.
  h.file_size = size;
  h.file_hash = whole.Digest();
  h.complete = true;
  for (uint32_t i = 0; i < n; ++i) {
    h.index = i;
    std::string bytes = h.Encode();
    Status s = files[i]->WriteAt(0, bytes.data(), bytes.size());
    if (s.ok()) s = files[i]->Close();
    if (!s.ok()) {
      cleanup();
      return s;
    }
  }
  // One flush for all K+M files (a syncfs shared with any concurrent writer), not K+M fsyncs.
  if (Status s = o.fsync ? vol.SyncAll() : Status::Ok(); !s.ok()) {
    cleanup();
    return s;
  }
  for (uint32_t i = 0; i < n; ++i) {
    Status s = vol.Rename(tmp[i], res.files[i]);
    if (!s.ok()) {
      // Undo the ones already renamed: all K+M or none.
      for (uint32_t j = 0; j < i; ++j) vol.Remove(res.files[j]).IgnoreError();
      cleanup();
      return s;
    }
  }
  vol.SyncDir(out_dir).IgnoreError();
  h.index = 0;
  res.header = h;
  return res;
}

// ------------------------------------------------------------------------------------------ scan

Result<ShardScan> ScanShards(Volume& vol, const std::vector<std::string>& paths) {
  ShardScan scan;
  // Expand directories into the *.cairn files they hold.
  std::vector<std::string> files;
  for (const auto& p : paths) {
    auto st = vol.Stat(p);
    if (!st.ok()) return st.status().WithContext("/" + p);
    if (!st->is_dir) {
      files.push_back(p);
      continue;
    }
    ASSIGN_OR_RETURN(auto entries, vol.ListDir(p));
    std::vector<std::string> names;
    for (const auto& e : entries) {
      if (!e.is_dir && e.name.size() > 6 && e.name[0] != '.' &&
          e.name.compare(e.name.size() - 6, 6, ".cairn") == 0) {
        names.push_back(e.name);
      }
    }
    std::sort(names.begin(), names.end());
    for (const auto& nm : names) files.push_back(Join(p, nm));
  }
  // The same file named twice (or through a directory and by name) counts once.
  std::vector<std::string> unique;
  for (auto& f : files) {
    if (std::find(unique.begin(), unique.end(), f) == unique.end()) unique.push_back(std::move(f));
  }
  files = std::move(unique);
  if (files.empty()) return NotFound("no shard files (*.cairn) found");
  for (const auto& f : files) {
    ShardFileInfo info;
    info.path = f;
    auto st = vol.Stat(f);
    info.size = st.ok() ? st->size : 0;
    auto file = vol.NewReadableFile(f);
    std::string head(kShardHeaderSize, '\0');
    if (!file.ok()) {
      info.header_status = file.status();
    } else {
      auto got = (*file)->ReadAt(0, head.data(), head.size());
      if (!got.ok()) {
        info.header_status = got.status();
      } else {
        head.resize(*got);
        auto h = ShardHeader::Decode(head);
        if (!h.ok()) info.header_status = h.status();
        else if (!h->complete) info.header_status = Corruption("incomplete shard (its encode did not finish)");
        else info.header = std::move(h).value();
      }
    }
    info.role = info.header_status.ok() ? "member" : "bad-header";
    scan.files.push_back(std::move(info));
  }
  // The set: the encode with the most distinct indexes among valid headers.
  std::map<Uuid, std::vector<bool>> indexes;
  for (const auto& f : scan.files) {
    if (!f.header_status.ok()) continue;
    auto& v = indexes[f.header.set_id];
    v.resize(f.header.k + f.header.m);
    v[f.header.index] = true;
  }
  size_t best = 0;
  for (const auto& [id, v] : indexes) {
    size_t c = size_t(std::count(v.begin(), v.end(), true));
    if (c > best) {
      best = c;
      scan.found_set = true;
      for (const auto& f : scan.files) {
        if (f.header_status.ok() && f.header.set_id == id) {
          scan.ref = f.header;
          break;
        }
      }
    }
  }
  if (!scan.found_set) {
    return Corruption("no readable shard header among the " + std::to_string(files.size()) +
                      " files given (" + scan.files[0].path + ": " + scan.files[0].header_status.message() + ")");
  }
  const ShardHeader& ref = scan.ref;
  scan.by_index.assign(ref.k + ref.m, -1);
  for (size_t i = 0; i < scan.files.size(); ++i) {
    ShardFileInfo& f = scan.files[i];
    if (!f.header_status.ok()) continue;
    const ShardHeader& h = f.header;
    if (h.set_id != ref.set_id) {
      f.role = "foreign";
    } else if (h.k != ref.k || h.m != ref.m || h.block_size != ref.block_size ||
               h.file_size != ref.file_size || h.file_hash != ref.file_hash) {
      f.role = "conflict";
    } else if (scan.by_index[h.index] >= 0) {
      f.role = "duplicate";
    } else {
      scan.by_index[h.index] = int(i);
      if (scan.dir.empty()) scan.dir = DirOf(f.path);
    }
  }
  for (const auto& f : scan.files) {
    if (f.role == "member" || f.role == "bad-header") continue;
    scan.mixed = "/" + f.path + ": " +
                 (f.role == "foreign" ? "belongs to another encode (set " + f.header.set_id.Hex().substr(0, 8) +
                                            ", not " + ref.set_id.Hex().substr(0, 8) + ")"
                  : f.role == "duplicate" ? "duplicate of shard " + std::to_string(f.header.index + 1)
                                          : "its header disagrees with the other shards (K+M, size or hash)");
    break;
  }
  return scan;
}

// ------------------------------------------------------------------------------- block reading

namespace {

// Reads and checks block b of every member shard; rebuilds what `want` asks for.
class BlockReader {
 public:
  BlockReader(Volume& vol, const ShardScan& scan) : scan_(scan), lay_(scan.ref.layout()) {
    const uint32_t n = scan.ref.k + scan.ref.m;
    files_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      if (scan.by_index[i] < 0) continue;
      auto f = vol.NewReadableFile(scan.files[size_t(scan.by_index[i])].path);
      if (f.ok()) files_[i] = std::move(f).value();
    }
    stride_ = lay_.full_chunk_len() + kChecksumLen;
    buf_ = PooledBuffer(stride_ * n);
  }
  const StripeLayout& layout() const { return lay_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint8_t* chunk(uint32_t i) { return buf_.data() + i * stride_; }

  // Reads block b of the shards in `which` (all when null) and checks them; good[i] tells.
  void Load(uint64_t b, const bool* which, bool* good) {
    const uint32_t n = scan_.ref.k + scan_.ref.m;
    const uint64_t cs = lay_.chunk_len(b), off = kShardHeaderSize + lay_.shard_offset(b);
    for (uint32_t i = 0; i < n; ++i) {
      good[i] = false;
      if ((which && !which[i]) || !files_[i]) continue;
      auto r = files_[i]->ReadAt(off, chunk(i), cs + kChecksumLen);
      if (!r.ok()) continue;
      bytes_read_ += *r;
      if (*r != cs + kChecksumLen) continue;
      uint64_t sum;
      std::memcpy(&sum, chunk(i) + cs, kChecksumLen);
      good[i] = ShardBlockSum(scan_.ref.set_id, i, b, chunk(i), cs) == sum;
    }
  }

  // Loads block b preferring the data shards, rebuilds every shard in `want` that is not good.
  // Returns kDataLoss when fewer than K chunks are good.
  Status LoadAndRebuild(uint64_t b, bool* good, const bool* want, ErasureCodec& codec) {
    const uint32_t k = scan_.ref.k, n = k + scan_.ref.m;
    bool which[kMaxShards] = {};
    for (uint32_t i = 0; i < k; ++i) which[i] = true;
    for (uint32_t i = k; i < n; ++i) which[i] = want[i];
    Load(b, which, good);
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; ++i) count += good[i];
    if (count < k) {
      // Not enough yet: read the remaining parity shards too.
      bool rest[kMaxShards] = {};
      bool more[kMaxShards] = {};
      for (uint32_t i = 0; i < n; ++i) rest[i] = !which[i];
      Load(b, rest, more);
      for (uint32_t i = 0; i < n; ++i) {
        if (rest[i]) good[i] = more[i];
      }
      count = 0;
      for (uint32_t i = 0; i < n; ++i) count += good[i];
    }
    if (count < k) {
      return DataLoss("block " + std::to_string(b) + " (bytes " + std::to_string(b * lay_.block_size) +
                      "-" + std::to_string(b * lay_.block_size + lay_.block_len(b) - 1) + "): only " +
                      std::to_string(count) + " of " + std::to_string(n) + " shards good, " +
                      std::to_string(k) + " needed");
    }
    uint8_t* ptrs[kMaxShards];
    for (uint32_t i = 0; i < n; ++i) ptrs[i] = chunk(i);
    bool need = false;
    for (uint32_t i = 0; i < n; ++i) need |= want[i] && !good[i];
    if (!need) return Status::Ok();
    return codec.Reconstruct(lay_.chunk_len(b), ptrs, good, want);
  }

 private:
  const ShardScan& scan_;
  StripeLayout lay_;
  std::vector<std::unique_ptr<ReadableFile>> files_;
  uint64_t stride_ = 0;
  PooledBuffer buf_;
  uint64_t bytes_read_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------- verify

Result<VerifyReport> VerifyShards(Volume& vol, const ShardScan& scan, const ProgressFn& progress) {
  const ShardHeader& ref = scan.ref;
  const uint32_t k = ref.k, n = k + ref.m;
  VerifyReport rep;
  for (const auto& f : scan.files) {
    if (f.role != "member") rep.others.push_back(f);
  }
  rep.shards.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    ShardHealth& s = rep.shards[i];
    s.index = i;
    if (scan.by_index[i] < 0) {
      s.state = "missing";
      continue;
    }
    const ShardFileInfo& f = scan.files[size_t(scan.by_index[i])];
    s.path = f.path;
    s.state = f.size < ref.expected_size() ? "truncated" : "ok";
  }
  // Two threads, each reading and checking half of the shards: reading is a copy out of the page
  // cache and checking a hash, so both cores are kept busy. good_count[b] sums over the halves.
  const StripeLayout lay = ref.layout();
  rep.blocks = lay.num_blocks();
  std::vector<uint8_t> good_count(rep.blocks, 0);
  std::mutex mu;  // guards good_count, bytes_read and progress
  auto check_half = [&](uint32_t first) {
    BlockReader reader(vol, scan);
    bool which[kMaxShards] = {};
    for (uint32_t i = first; i < n; i += 2) which[i] = true;
    bool good[kMaxShards];
    for (uint64_t b = 0; b < rep.blocks; ++b) {
      reader.Load(b, which, good);
      uint8_t count = 0;
      for (uint32_t i = first; i < n; i += 2) {
        count += good[i];
        ShardHealth& sh = rep.shards[i];  // only this thread touches shard i
        if (good[i] || sh.state == "missing") continue;
        ++sh.bad_blocks;
        if (sh.state == "ok") sh.state = "corrupt";
        uint64_t a = b * lay.block_size, z = a + lay.block_len(b) - 1;
        if (!sh.bad_ranges.empty() && sh.bad_ranges.back().second + 1 == a) {
          sh.bad_ranges.back().second = z;
        } else {
          sh.bad_ranges.emplace_back(a, z);
        }
      }
      std::lock_guard<std::mutex> l(mu);
      good_count[b] += count;
      if (progress && first == 0) progress(lay.block_len(b));
    }
    std::lock_guard<std::mutex> l(mu);
    rep.bytes_read += reader.bytes_read();
  };
  std::thread other(check_half, 1);
  check_half(0);
  other.join();
  for (uint8_t c : good_count) rep.unrecoverable_blocks += c < k;
  // A shard longer than expected holds trailing garbage: not healthy, but every block is fine.
  for (auto& s : rep.shards) {
    if (s.state == "ok" && scan.files[size_t(scan.by_index[s.index])].size != ref.expected_size()) {
      s.state = "corrupt";
    }
  }
  return rep;
}

// ---------------------------------------------------------------------------------------- decode

Status DecodeShards(Volume& vol, const ShardScan& scan, Sink& sink, const ProgressFn& progress) {
  if (!scan.mixed.empty()) return InvalidArgument("shards from different encodes given: " + scan.mixed);
  const ShardHeader& ref = scan.ref;
  const uint32_t k = ref.k;
  ASSIGN_OR_RETURN(auto codec, ErasureCodec::Create(int(k), int(ref.m)));
  BlockReader reader(vol, scan);
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
    return Corruption("the decoded file does not match the hash recorded at encode time");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------- repair

Result<std::vector<std::string>> RepairShards(Volume& vol, const ShardScan& scan,
                                              const ProgressFn& progress) {
  if (!scan.mixed.empty()) return InvalidArgument("shards from different encodes given: " + scan.mixed);
  ASSIGN_OR_RETURN(VerifyReport rep, VerifyShards(vol, scan));
  if (!rep.recoverable()) {
    return DataLoss(std::to_string(rep.unrecoverable_blocks) +
                    " blocks have fewer than K good shards: cannot repair");
  }
  const ShardHeader& ref = scan.ref;
  const uint32_t k = ref.k, n = k + ref.m;
  bool want[kMaxShards] = {};
  std::vector<std::string> targets(n), tmps(n);
  std::vector<std::unique_ptr<WritableFile>> out(n);
  std::vector<std::string> written;
  auto cleanup = [&] {
    for (uint32_t i = 0; i < n; ++i) {
      out[i].reset();
      if (!tmps[i].empty()) vol.Remove(tmps[i]).IgnoreError();
    }
  };
  for (uint32_t i = 0; i < n; ++i) {
    if (rep.shards[i].state == "ok") continue;
    want[i] = true;
    targets[i] = rep.shards[i].path.empty() ? Join(scan.dir, ShardFileName(ref.name, i, n))
                                            : rep.shards[i].path;
    tmps[i] = Join(DirOf(targets[i]), "." + ShardFileName(ref.name, i, n) + ".repair");
    ShardHeader h = ref;
    h.index = i;
    std::string head = h.Encode();
    auto f = vol.NewWritableFile(tmps[i]);
    Status s = f.ok() ? (*f)->Append(head.data(), head.size()) : f.status();
    if (!s.ok()) {
      cleanup();
      return s;
    }
    out[i] = std::move(f).value();
  }
  if (targets == std::vector<std::string>(n)) return written;  // all healthy: nothing to do
  ASSIGN_OR_RETURN(auto codec, ErasureCodec::Create(int(k), int(ref.m)));
  BlockReader reader(vol, scan);
  const StripeLayout& lay = reader.layout();
  bool good[kMaxShards];
  for (uint64_t b = 0; b < lay.num_blocks(); ++b) {
    Status s = reader.LoadAndRebuild(b, good, want, *codec);
    const uint64_t cs = lay.chunk_len(b);
    for (uint32_t i = 0; i < n && s.ok(); ++i) {
      if (!want[i]) continue;
      uint64_t sum = ShardBlockSum(ref.set_id, i, b, reader.chunk(i), cs);
      ConstBuf bufs[2] = {{reader.chunk(i), cs}, {&sum, kChecksumLen}};
      s = out[i]->AppendV(bufs, 2);
    }
    if (!s.ok()) {
      cleanup();
      return s;
    }
    if (progress) progress(lay.block_len(b));
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (!want[i]) continue;
    Status s = out[i]->Close();
    if (!s.ok()) {
      cleanup();
      return s;
    }
  }
  if (Status s = vol.SyncAll(); !s.ok()) {
    cleanup();
    return s;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (!want[i]) continue;
    Status s = vol.Rename(tmps[i], targets[i]);
    if (!s.ok()) {
      cleanup();
      return s;
    }
    tmps[i].clear();
    written.push_back(targets[i]);
  }
  return written;
}

}  // namespace cairn
