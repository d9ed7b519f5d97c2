// Erasure coding of plain files into standalone shard files, and back: encode, scan, verify,
// decode, repair (`cairn encode|decode|verify|repair`). Any K good shards of the K+M rebuild the
// file; a shard with a few bad blocks still serves its good ones.
//
// All file access goes through a Volume (LocalVolume("/") with paths relative to "/" in the CLI).
// Memory is bounded by a few blocks per shard whatever the file size.
// Thread safety: each call is independent; none shares state.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "libstore/format/shard_file.h"
#include "libstore/object/object_store.h"  // Source, Sink
#include "libstore/volume/volume.h"

namespace cairn {

using ProgressFn = std::function<void(uint64_t bytes)>;

struct EncodeOptions {
  uint32_t k = 4, m = 2;
  uint32_t block_size = 1 << 20;
  std::string name;    // the original's base name: names the shard files and is recorded
  bool force = false;  // replace existing shard files of the same names
  bool fsync = true;   // flush the shards to disk before they get their final names
};

struct EncodeResult {
  ShardHeader header;              // as written (index of shard 0)
  std::vector<std::string> files;  // by index
};

// Streams src into K+M shard files in out_dir. They are written under temp names beside their
// final names and renamed only when all are complete, so a failed encode leaves nothing.
Result<EncodeResult> EncodeShards(Volume& vol, const std::string& out_dir, Source& src,
                                  const EncodeOptions& o, const ProgressFn& progress = nullptr);

// One file given to decode/verify/repair.
struct ShardFileInfo {
  std::string path;
  uint64_t size = 0;
  Status header_status;  // not ok: unreadable, not a shard, or its header is corrupt/incomplete
  ShardHeader header;
  std::string role;      // "member", "foreign" (another encode), "duplicate", "conflict", "bad-header"
};

// The shards found among some paths (files, or directories holding *.cairn files), grouped: the
// encode with the most distinct shard indexes is the set; other files get their role.
struct ShardScan {
  bool found_set = false;
  ShardHeader ref;                 // the set's header (index field: of the first member found)
  std::vector<ShardFileInfo> files;
  std::vector<int> by_index;       // index -> position in files, -1 if no member has it
  std::string dir;                 // where missing shards are recreated (the first member's dir)
  // A one-line description of what stops decode/repair from trusting the input (foreign files,
  // duplicate indexes, conflicting headers), or "" if none.
  std::string mixed;
};
Result<ShardScan> ScanShards(Volume& vol, const std::vector<std::string>& paths);

struct ShardHealth {
  uint32_t index = 0;
  std::string path;        // "" when missing
  std::string state;       // ok, missing, corrupt, truncated, bad-header
  uint64_t bad_blocks = 0;
  std::vector<std::pair<uint64_t, uint64_t>> bad_ranges;  // byte ranges [first, last] in the file
};

struct VerifyReport {
  std::vector<ShardHealth> shards;  // one per index of the set
  std::vector<ShardFileInfo> others;  // given files that are not members (foreign, duplicate...)
  uint64_t blocks = 0;
  uint64_t unrecoverable_blocks = 0;  // blocks with fewer than K good chunks
  uint64_t bytes_read = 0;
  bool healthy() const;
  bool recoverable() const { return unrecoverable_blocks == 0; }
};
Result<VerifyReport> VerifyShards(Volume& vol, const ShardScan& scan,
                                  const ProgressFn& progress = nullptr);

// Rebuilds the original into sink, block by block, and checks the whole-file hash at the end
// (kCorruption if it does not match). kDataLoss as soon as a block has fewer than K good chunks;
// bytes of such a block are never written. Refuses a mixed scan (kInvalidArgument).
Status DecodeShards(Volume& vol, const ShardScan& scan, Sink& sink,
                    const ProgressFn& progress = nullptr);

// Regenerates every missing, truncated or corrupt shard (temp file, then rename over the bad one
// or to its canonical name in scan.dir). Returns the paths written; nothing is changed when the
// data is unrecoverable.
Result<std::vector<std::string>> RepairShards(Volume& vol, const ShardScan& scan,
                                              const ProgressFn& progress = nullptr);

// Converts a path to the form a LocalVolume rooted at "/" takes (absolute, normalised, without the
// leading slash). kNotFound if the parent directory does not exist.
Result<std::string> RootRelative(const std::string& path);

}  // namespace cairn
