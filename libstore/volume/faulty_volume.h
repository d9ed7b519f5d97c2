// FaultyVolume: a Volume wrapper for tests that injects faults deterministically, addressed by
// operation, path pattern and call number. In the spirit of rocksdb's fault_injection_fs and
// minio's naughty disk.
//
// Every injected error's message says "injected", e.g. "mem:x/a/b: injected I/O error".
// Paths are validated (ValidateRelPath) before any rule is consulted, so an invalid path always
// gives kInvalidArgument, never an injected fault. ListDir, Stat and SyncDir pass "" (the root) on
// to the target, as rules see it: "*" matches it, "a*" does not.
//
// Thread safety: like every Volume; rules and counters are guarded by one mutex. Bit positions are
// derived from (seed, number of faults injected so far), so the same seed and the same sequence of
// calls give the same faults.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/volume/volume.h"

namespace cairn {

// Which call a rule applies to. File operations use the path the file was opened with.
enum class FaultOp {
  kOpenWrite,  // Volume::NewWritableFile (and so WriteFile)
  kAppend,     // WritableFile::AppendV / Append
  kSync,       // WritableFile::Sync and Volume::SyncFile
  kClose,      // WritableFile::Close
  kOpenRead,   // Volume::NewReadableFile (and so ReadFile)
  kRead,       // ReadableFile::ReadAt
  kRename,     // Volume::Rename, RenameNoReplace and Exchange; the glob may match either path
  kRemove,     // Volume::Remove
  kRemoveDir,  // Volume::RemoveDir
  kMakeDirs,   // Volume::MakeDirs
  kListDir,    // Volume::ListDir and ListDirStat
  kStat,       // Volume::Stat, ReadableFile::Size and StatOpen (an fstat)
  kSyncDir,    // Volume::SyncDir
  kSyncAll,    // Volume::SyncAll; its path is "" (matched by "*")
  kAny,        // every operation above
};

enum class FaultKind {
  kIOError,    // the call fails with kIOError and does nothing
  kNoSpace,    // the call fails with kNoSpace; on kAppend with after_bytes, after writing the
               // bytes that still fit under after_bytes
  kTornWrite,  // kAppend only: writes a prefix of the buffers, then fails with kIOError. The
               // prefix ends at after_bytes (file offset) if set, else at a seeded-random length
               // shorter than the append. Applies only to appends of at least one byte.
  kBitFlip,    // kRead only: the read succeeds but one bit, at a seeded-random position within the
               // bytes returned, is flipped. Applies only to reads that return at least one byte.
  kOffline,    // the volume goes offline when the rule fires: from then on every call, including
               // calls on files opened earlier, fails with kIOError until ClearRules()
};

struct FaultRule {
  FaultOp op = FaultOp::kAny;
  // fnmatch(3) pattern without FNM_PATHNAME, so "*" also matches '/': "*" is everything,
  // "objs/*" is everything under objs.
  std::string path_glob = "*";
  FaultKind kind = FaultKind::kIOError;
  // Let this many matching calls pass before the rule fires.
  uint64_t after_calls = 0;
  // Fire at most this many times; -1 is forever.
  int64_t times = -1;
  // kNoSpace / kTornWrite on appends: appends that keep the file (as written through this
  // wrapper since it was opened) at or below after_bytes do not match and succeed. 0: unused.
  uint64_t after_bytes = 0;
};

// How rules combine: every rule counts every call it matches (op, glob, and the kind's own
// conditions above), independently of other rules. Of the rules that are due on a call, the one
// added first fires and uses up one of its `times`; the others do not.
class FaultyVolume : public VolumeWrapper {
 public:
  // target is not owned and must outlive this volume and every file opened through it (those
  // files may outlive the FaultyVolume itself).
  FaultyVolume(Volume* target, uint64_t seed);
  ~FaultyVolume() override;

  void AddRule(FaultRule r);
  // Removes all rules and brings the volume back online. Counters of injected() remain.
  void ClearRules();
  // How many faults fired (each failed call while offline counts).
  uint64_t injected() const;
  bool offline() const;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override;
  // Through this wrapper's own files, so faults apply (VolumeWrapper would bypass them).
  Result<std::string> ReadFile(const std::string& path, size_t max_size) override;
  Status WriteFile(const std::string& path, std::string_view data, bool sync) override;
  // Goes through WriteFile above, so write faults apply to it too.
  Status OverwriteFile(const std::string& path, std::string_view data) override {
    return WriteFile(path, data, false);
  }
  Status Rename(const std::string& from, const std::string& to) override;
  Status RenameNoReplace(const std::string& from, const std::string& to) override;
  Status Exchange(const std::string& a, const std::string& b) override;
  Status Remove(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;
  Status MakeDirs(const std::string& path) override;
  Result<std::vector<DirEntry>> ListDir(const std::string& path) override;
  Result<std::vector<StatEntry>> ListDirStat(const std::string& path) override;  // kListDir rules
  Result<FileInfo> Stat(const std::string& path) override;
  Status SyncFile(const std::string& path) override;  // kSync rules apply, by path
  Status SyncDir(const std::string& path) override;
  Status SyncAll() override;

  class Injector;  // shared with the file objects; defined in faulty_volume.cc

 private:
  std::shared_ptr<Injector> inj_;
};

}  // namespace cairn
