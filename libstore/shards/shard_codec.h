// Erasure coding of plain files into standalone shard files, and back: encode, scan, verify,
// decode, repair (`cairn encode|decode|verify|repair`). Any K good shards of the K+M rebuild the
// file; a shard with a few bad blocks still serves its good ones, and so does another copy of it.
//
// All file access goes through a Volume (a HostVolume in the CLI). Memory is bounded by a few
// blocks per shard whatever the file size; verify keeps only the ranges of bad blocks.
// Thread safety: each call is independent; none shares state.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/common/io.h"  // Source, Sink
#include "libstore/format/shard_file.h"
#include "libstore/volume/volume.h"

namespace cairn {

using ProgressFn = std::function<void(uint64_t bytes)>;

// How messages show a path of vol: "/" + path on the CLI's HostVolume (rooted at "/"),
// "<Describe()>/<path>" on others.
std::string ShowPath(const Volume& vol, const std::string& path);
std::string ShowPath(const std::string& root, const std::string& path);

// Whether a directory entry is taken for a shard file when its directory is given: "*.cairn", not
// hidden.
bool IsShardFileName(std::string_view name);

// ------------------------------------------------------------------------------ temp files

// An exclusive lock on a file, held until the object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// Locks that tell a running encode's (or repair's) temp files from a dead one's. HostVolume
// implements it with flock(2); an encode holds the lock of each of its temp files until they have
// their final names.
class FileLocker {
 public:
  virtual ~FileLocker() = default;
  // Takes the lock of an existing file without waiting; an error if another holder has it.
  virtual Result<std::unique_ptr<FileLock>> TryLock(const std::string& path) = 0;
};

// The temp name beside `final_path` under which encode and repair write that shard file: hidden,
// "<dir>/.<final name>.part-<32 random hex digits>", the final name cut to 200 bytes so that the
// temp name fits in 255.
std::string ShardTempName(const std::string& final_path);
// Whether a directory entry is such a temp name.
bool IsShardTempName(std::string_view name);

// Removes the shard temp files in dir (IsShardTempName) whose encode or repair is gone: each is
// removed only while this call holds its lock, so a live encode's files are never touched (one that
// has just created a file and not locked it yet fails cleanly instead). Returns the paths removed;
// files it cannot lock or remove are left.
Result<std::vector<std::string>> RemoveDeadTemps(Volume& vol, FileLocker& locker,
                                                 const std::string& dir);

// ---------------------------------------------------------------------------------- encode

struct EncodeOptions {
  uint32_t k = 4, m = 2;
  uint32_t block_size = 1 << 20;
  std::string name;    // the original's base name: names the shard files and is recorded
  bool force = false;  // replace existing shard files of the same names
  bool fsync = true;   // flush the shards to disk before they get their final names
  // Optional: locks each temp file while the encode runs, and lets the encode first remove dead
  // encodes' temp files from its directory (RemoveDeadTemps).
  FileLocker* locker = nullptr;
};

struct EncodeResult {
  ShardHeader header;                      // as written (index of shard 0)
  std::vector<std::string> files;          // by index
  std::vector<std::string> removed_temps;  // dead encodes' temp files removed first
};

// Streams src into K+M shard files in out_dir (which must exist). They are written under temp
// names (ShardTempName) beside their final names and renamed only when all are complete, so a
// failed encode leaves nothing. kInvalidArgument for options encode cannot write (the name must
// pass CheckBaseName with kShardNameMax); kAlreadyExists for an existing shard file unless force.
Result<EncodeResult> EncodeShards(Volume& vol, const std::string& out_dir, Source& src,
                                  const EncodeOptions& o, const ProgressFn& progress = nullptr);

// ------------------------------------------------------------------------------------ scan

// What a file given to decode/verify/repair is (docs/format.md, "How shard files are judged").
enum class ShardRole {
  kMember,     // the shard of its index in its encode
  kCopy,       // another file with the same header as a member: usable, block by block
  kConflict,   // the set id of an encode, but a header that disagrees with its members
  kBadHeader,  // unreadable, not a shard, a corrupt or incomplete header, or a file longer than
               // its header says (so its header does not describe it)
};
std::string_view Name(ShardRole r);  // "member", "copy", "conflict", "bad-header"

struct ShardFileInfo {
  std::string path;   // where it is read and repaired (symlinks resolved when the scan resolves)
  std::string found;  // as named or listed
  uint64_t size = 0;
  Status header_status;  // why the file is kBadHeader; ok otherwise
  ShardHeader header;
  ShardRole role = ShardRole::kBadHeader;
  int set = -1;  // index into ShardScan::sets; -1 for kBadHeader
};

// One encode found among the files: every file with its set id.
struct ShardSet {
  ShardHeader ref;  // what its members agree on (index: of the first member found)
  // index -> positions in ShardScan::files of the files holding that shard: the member first (the
  // one with the canonical name if any), then its copies. Empty when the shard is missing.
  std::vector<std::vector<size_t>> copies;
  std::vector<size_t> conflicts;  // files with this set id whose header disagrees
  std::string dir;                // where a missing shard is recreated
  bool conflicting() const { return !conflicts.empty(); }
  // "<name> (set <8 hex digits>)", for messages.
  std::string Label() const;
};

struct ShardScan {
  std::vector<ShardFileInfo> files;  // arguments in order, each directory's entries sorted
  std::vector<ShardSet> sets;        // by name, then set id
  std::string root;                  // the volume's Describe(), for Show

  // How messages show a path of the scanned volume ("/" + path on the CLI's HostVolume).
  std::string Show(const std::string& path) const;
};

struct ScanOptions {
  // Maps each file found (named, or listed in a named directory) to the path it is read and
  // repaired at: the CLI passes HostRealPath, so a symlinked shard is used where it lives. An
  // error makes that file kBadHeader. Default: as found.
  std::function<Result<std::string>(const std::string&)> resolve;
};

// Reads the header of every shard file among paths (files, or directories: the *.cairn files they
// hold, hidden names skipped) and classifies each (ShardRole). Files are grouped by set id into
// encodes; within one, the headers that agree with the most distinct shard indexes make the
// members and copies, any other header is a conflict. The same file reached twice (after resolve)
// counts once. kNotFound if a path does not exist or no file was found, kCorruption if no file has
// a usable header.
Result<ShardScan> ScanShards(Volume& vol, const std::vector<std::string>& paths,
                             const ScanOptions& o = {});

// The one encode of a scan, for decode: kInvalidArgument naming them when there are several.
Result<size_t> OnlySet(const ShardScan& scan);

// ---------------------------------------------------------------------------------- verify

enum class ShardFileState {
  kOk,
  kMissing,    // no usable file holds this shard
  kCorrupt,    // some blocks fail their checksum
  kTruncated,  // shorter than its header says (the blocks past the end are bad)
};
std::string_view Name(ShardFileState s);  // "ok", "missing", "corrupt", "truncated"

// One encode's verdict; worse ones compare greater. The CLI's exit codes: 0, 3, 1, 1.
enum class SetVerdict {
  kHealthy,        // every shard present and good
  kDegraded,       // damage that repair can rebuild from the good shards
  kUnrecoverable,  // some block has fewer than K good shards
  kConflicting,    // headers disagree within the encode: nothing is trusted, repair refuses
};
std::string_view Name(SetVerdict v);  // "healthy", "degraded", "unrecoverable", "conflicting"

struct ShardHealth {
  uint32_t index = 0;
  std::string path;                     // "" when missing
  ShardRole role = ShardRole::kMember;  // kMember or kCopy
  ShardFileState state = ShardFileState::kMissing;
  uint64_t bad_blocks = 0;
  std::vector<std::pair<uint64_t, uint64_t>> bad_ranges;  // byte ranges [first, last] of the file
};

struct SetReport {
  size_t set = 0;                   // index into ShardScan::sets
  std::vector<ShardHealth> shards;  // by index: a missing one once, one entry per file otherwise
  uint64_t blocks = 0;
  uint64_t unrecoverable_blocks = 0;  // blocks with fewer than K good chunks among all files
  uint64_t bytes_read = 0;
  SetVerdict verdict = SetVerdict::kHealthy;
};

// Reads every block of every file of one encode and checks it. Cost is bounded by the files'
// real lengths, whatever their headers claim.
Result<SetReport> VerifySet(Volume& vol, const ShardScan& scan, size_t set,
                            const ProgressFn& progress = nullptr);

// What a verdict means for the commands, in one place: ok (healthy), kDegraded (repair can fix
// it), kDataLoss (unrecoverable) or kCorruption (conflicting headers, ConflictError), each with a
// one-line message naming the encode.
Status VerdictStatus(const ShardScan& scan, const SetReport& rep);
// Why an encode with conflicting headers is refused: which files disagree, and on what.
Status ConflictError(const ShardScan& scan, size_t set);

// ---------------------------------------------------------------------------- decode, repair

// Rebuilds the original of one encode into sink, block by block, and checks the whole-file hash at
// the end (kCorruption if it does not match). kDataLoss as soon as a block has fewer than K good
// chunks; bytes of such a block are never written. kCorruption (ConflictError) for an encode with
// conflicting headers.
Status DecodeShards(Volume& vol, const ShardScan& scan, size_t set, Sink& sink,
                    const ProgressFn& progress = nullptr);

struct RepairOptions {
  bool fsync = true;  // flush the rewritten shards before they get their final names
  // Optional: locks the temp files and removes dead ones from the directories written to.
  FileLocker* locker = nullptr;
};

// Rewrites every missing, truncated or corrupt file of one encode (the byte-identical file encode
// wrote): a temp file renamed over the bad one, or to the canonical name in the set's directory for
// a missing shard. Returns the paths written. Changes nothing and fails when the encode has
// conflicting headers (kCorruption), when its data is unrecoverable (kDataLoss), or when a missing
// shard's name is taken by a file that is not an unusable copy of it (kAlreadyExists).
Result<std::vector<std::string>> RepairShards(Volume& vol, const ShardScan& scan, size_t set,
                                              const RepairOptions& o = {},
                                              const ProgressFn& progress = nullptr);

}  // namespace cairn
