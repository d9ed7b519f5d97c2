// VerifySet: reads and checks every block of every file of one encode, and the verdict.
//
// Memory does not grow with the file: each file keeps the ranges of its bad blocks, and a block is
// unrecoverable where more than M shards are bad in every copy, found by sweeping those ranges.
#include <algorithm>
#include <mutex>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/stage_threads.h"
#include "libstore/format/framing.h"
#include "libstore/shards/shard_codec.h"

namespace cairn {
namespace {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;  // block ranges [first, last], sorted

void AddBlocks(Ranges* r, uint64_t first, uint64_t last) {
  if (!r->empty() && r->back().second + 1 >= first) {
    r->back().second = std::max(r->back().second, last);
  } else {
    r->emplace_back(first, last);
  }
}

// Blocks bad in both a and b.
Ranges Intersect(const Ranges& a, const Ranges& b) {
  Ranges out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    uint64_t lo = std::max(a[i].first, b[j].first), hi = std::min(a[i].second, b[j].second);
    if (lo <= hi) out.emplace_back(lo, hi);
    (a[i].second < b[j].second ? i : j)++;
  }
  return out;
}

// The number of blocks where more than `tolerated` of the per-shard range lists are bad.
uint64_t BlocksBadInMoreThan(const std::vector<Ranges>& per_shard, size_t tolerated) {
  std::vector<std::pair<uint64_t, int>> events;  // (block, +1 at a first, -1 after a last)
  for (const auto& r : per_shard) {
    for (const auto& [a, z] : r) {
      events.emplace_back(a, +1);
      events.emplace_back(z + 1, -1);
    }
  }
  std::sort(events.begin(), events.end());
  uint64_t total = 0;
  int active = 0;
  for (size_t e = 0; e < events.size(); ++e) {
    active += events[e].second;
    if (e + 1 < events.size() && size_t(std::max(active, 0)) > tolerated) {
      total += events[e + 1].first - events[e].first;
    }
  }
  return total;
}

// The blocks a file of `size` bytes can hold at least the start of; the others are missing.
uint64_t BlocksPresent(const StripeLayout& lay, uint64_t size) {
  if (size <= kShardHeaderSize) return 0;
  const uint64_t stride = lay.full_chunk_len() + kChecksumLen;
  return std::min(lay.num_blocks(), (size - kShardHeaderSize + stride - 1) / stride);
}

}  // namespace

std::string_view Name(ShardFileState s) {
  switch (s) {
    case ShardFileState::kOk:
      return "ok";
    case ShardFileState::kMissing:
      return "missing";
    case ShardFileState::kCorrupt:
      return "corrupt";
    case ShardFileState::kTruncated:
      return "truncated";
  }
  return "?";
}

std::string_view Name(SetVerdict v) {
  switch (v) {
    case SetVerdict::kHealthy:
      return "healthy";
    case SetVerdict::kDegraded:
      return "degraded";
    case SetVerdict::kUnrecoverable:
      return "unrecoverable";
    case SetVerdict::kConflicting:
      return "conflicting";
  }
  return "?";
}

Result<SetReport> VerifySet(Volume& vol, const ShardScan& scan, size_t set_index,
                            const ProgressFn& progress) {
  const ShardSet& set = scan.sets[set_index];
  const ShardHeader& ref = set.ref;
  const uint32_t n = ref.n();
  const StripeLayout lay = ref.layout();
  SetReport rep;
  rep.set = set_index;
  rep.blocks = lay.num_blocks();

  // One entry per file of the set (members and copies), one per missing shard.
  struct Item {
    size_t file = 0;  // position in scan.files
    std::unique_ptr<ReadableFile> reader;
    uint64_t present = 0;  // blocks the file reaches into
    Ranges bad;
  };
  std::vector<Item> items;
  std::vector<size_t> item_of_shard;  // rep.shards position -> items position, or SIZE_MAX
  for (uint32_t i = 0; i < n; ++i) {
    if (set.copies[i].empty()) {
      ShardHealth h;
      h.index = i;
      h.state = ShardFileState::kMissing;
      rep.shards.push_back(h);
      item_of_shard.push_back(SIZE_MAX);
      continue;
    }
    for (size_t f : set.copies[i]) {
      const ShardFileInfo& info = scan.files[f];
      ShardHealth h;
      h.index = i;
      h.path = info.path;
      h.role = info.role;
      h.state = info.size < ref.expected_size() ? ShardFileState::kTruncated : ShardFileState::kOk;
      rep.shards.push_back(h);
      Item it;
      it.file = f;
      it.present = BlocksPresent(lay, info.size);
      auto r = vol.NewReadableFile(info.path);
      if (r.ok()) it.reader = std::move(r).value();  // else every block counts as bad
      item_of_shard.push_back(items.size());
      items.push_back(std::move(it));
    }
  }

  // Two threads, each reading and checking every other file: reading is a copy out of the page
  // cache and checking a hash, so both cores are kept busy. Each item is touched by one thread.
  std::mutex mu;  // guards bytes_read and progress
  auto check = [&](size_t first) {
    PooledBuffer buf(lay.full_chunk_len() + kChecksumLen);
    uint64_t last = 0, bytes = 0;
    for (size_t t = first; t < items.size(); t += 2) last = std::max(last, items[t].present);
    for (uint64_t b = 0; b < last; ++b) {
      const uint64_t cs = lay.chunk_len(b), off = kShardHeaderSize + lay.shard_offset(b);
      for (size_t t = first; t < items.size(); t += 2) {
        Item& it = items[t];
        if (b >= it.present) continue;
        const uint32_t index = scan.files[it.file].header.index;
        ChunkRead r;
        if (it.reader) {
          r = ReadFramed(*it.reader, off, cs, ShardBlockSeed(ref.set_id, index, b), buf.data());
        }
        bytes += r.bytes;
        if (r.state != ChunkState::kGood) AddBlocks(&it.bad, b, b);
      }
      if (progress && first == 0) {
        std::lock_guard<std::mutex> l(mu);
        progress(lay.block_len(b));
      }
    }
    std::lock_guard<std::mutex> l(mu);
    rep.bytes_read += bytes;
  };
  {
    // The second half on a kept thread; on this one after the first half when none can start.
    StageGroup other;
    const bool started = other.Run([&check] { check(1); });
    check(0);
    if (!started) check(1);
  }

  // Blocks past a file's end are bad without reading them: the cost follows the real lengths.
  for (Item& it : items) {
    if (it.present < rep.blocks) AddBlocks(&it.bad, it.present, rep.blocks - 1);
  }
  // Per shard: the blocks bad in every copy; a missing shard is bad everywhere.
  std::vector<Ranges> per_shard(n);
  std::vector<bool> seen(n, false);
  for (size_t s = 0; s < rep.shards.size(); ++s) {
    ShardHealth& h = rep.shards[s];
    Ranges bad;
    if (item_of_shard[s] == SIZE_MAX) {
      if (rep.blocks > 0) bad.emplace_back(0, rep.blocks - 1);
    } else {
      bad = items[item_of_shard[s]].bad;
      for (const auto& [a, z] : bad) {
        h.bad_blocks += z - a + 1;
        h.bad_ranges.emplace_back(a * lay.block_size, z * lay.block_size + lay.block_len(z) - 1);
      }
      if (h.bad_blocks > 0 && h.state == ShardFileState::kOk) h.state = ShardFileState::kCorrupt;
    }
    per_shard[h.index] = seen[h.index] ? Intersect(per_shard[h.index], bad) : bad;
    seen[h.index] = true;
  }
  rep.unrecoverable_blocks = BlocksBadInMoreThan(per_shard, ref.m);

  if (set.conflicting()) {
    rep.verdict = SetVerdict::kConflicting;
  } else if (rep.unrecoverable_blocks > 0) {
    rep.verdict = SetVerdict::kUnrecoverable;
  } else {
    bool all_ok = std::all_of(rep.shards.begin(), rep.shards.end(),
                              [](const ShardHealth& h) { return h.state == ShardFileState::kOk; });
    rep.verdict = all_ok ? SetVerdict::kHealthy : SetVerdict::kDegraded;
  }
  return rep;
}

Status VerdictStatus(const ShardScan& scan, const SetReport& rep) {
  const ShardSet& set = scan.sets[rep.set];
  switch (rep.verdict) {
    case SetVerdict::kHealthy:
      return Status::Ok();
    case SetVerdict::kConflicting:
      return ConflictError(scan, rep.set);
    case SetVerdict::kUnrecoverable:
      return DataLoss(set.Label() + ": " + std::to_string(rep.unrecoverable_blocks) + " of " +
                      std::to_string(rep.blocks) + " blocks have fewer than " +
                      std::to_string(set.ref.k) + " good shards: unrecoverable");
    case SetVerdict::kDegraded:
      break;
  }
  uint32_t bad = 0;
  for (const auto& h : rep.shards) bad += h.state != ShardFileState::kOk;
  return Status(Code::kDegraded,
                set.Label() + ": " + std::to_string(bad) + " of " +
                    std::to_string(rep.shards.size()) +
                    " shard files missing or damaged, all data recoverable (run cairn repair)");
}

}  // namespace cairn
