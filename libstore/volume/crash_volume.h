// CrashVolume: an in-memory volume for tests that knows what a power loss would keep.
//
// It models a POSIX file system the way leveldb's fault_injection_test models one: what was made
// durable survives a crash, the rest is dropped. The model is deliberately the weakest that POSIX
// allows, so code that passes a crash test on it relies on nothing but its own syncs.
//
// The model: inodes and directory entries.
// - A file (an inode) has its live content and its durable content. WritableFile::Sync (fdatasync),
//   SyncFile and WriteFile(sync=true) make the durable content equal the live content. Content
//   belongs to the inode, not to a name: a file renamed after it was synced keeps its durable
//   content under the new name, and a rename never syncs content. A file never synced has empty
//   durable content.
// - A directory (an inode too) has its live entries (name -> inode) and its durable entries.
//   SyncDir(d) makes d's durable entries equal its live entries, all at once, and nothing else:
//   not the content of the files it names, not the entries of its subdirectories, and not d's own
//   entry in its parent.
// - SyncAll (syncfs) makes every directory's entries and every file's content durable. Volumes
//   never share a sync domain (SyncDomain() is Describe()).
// - Crash(kPowerLoss): the volume becomes what is reachable from the root through durable entries,
//   each file with its durable content. What follows from that:
//   - A file created and never synced: gone if its directory entry is not durable; empty (its
//     durable content) if the entry is.
//   - A file whose content was synced but whose name was not: gone. Its name must be made durable
//     by a sync of its directory (after the create or the rename that gave it that name).
//   - Rename, Exchange and Remove within one directory are atomic: a SyncDir makes all of the
//     directory's changes durable together, a crash before it undoes all of them.
//   - Across two directories, each directory's half is durable only once that directory is
//     synced. Destination synced, source not: after the crash the file has both names (one inode,
//     like a hard link). Source synced, destination not: it has neither name and is lost. The same
//     holds for each side of an Exchange. (Journaling file systems commit a rename as one
//     transaction; the model does not, so code must sync both directories, or sync the
//     destination and accept a stale source name as garbage.)
//   - Remove not made durable: the file comes back with its durable content.
//   - A directory made (MakeDirs) whose entry in its parent was not synced is gone after a crash,
//     with everything beneath it, even entries and content synced inside it. Each directory that
//     MakeDirs creates needs a sync of its parent. A directory removed (RemoveDir, or Rename
//     away) whose parent was not synced comes back with its durable entries.
// - Crash(kProcessKill): nothing is dropped: the kernel keeps what the process wrote, as after a
//   kill -9. Files the process had open are closed.
// - Crash(kPartial, seed): between the two, as a file system that writes back each inode on its
//   own schedule: each directory independently keeps its live entries or returns to its durable
//   ones, and each file independently keeps its live content or returns to its durable content,
//   chosen from the seed: what a file system that writes back in the background could leave.
// After a crash everything left is durable, file objects opened before it fail every call
// (kIOError), and mtimes are kept.
//
// Crash points: volumes may share a PowerSwitch, which counts every call made to any of them
// (each Volume method and each call on a file object; Describe and SyncDomain do not count; a
// WriteFile is its open, append, sync and close). Armed at N, the switch lets calls 0..N-1
// through and trips at call N: that call and every later one, on every volume sharing it, fails
// with kIOError ("injected crash") and changes nothing, as if the machine had stopped just before
// it. The test then calls Crash() on each volume and Reset() on the switch, and reopens.
//
// Behaviour otherwise matches MemVolume (same errors for the same mistakes). Thread safety: like
// every Volume; one mutex per volume guards its whole tree.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "libstore/volume/volume.h"

namespace cairn {

enum class CrashMode {
  kPowerLoss,    // keep only what was made durable
  kProcessKill,  // keep everything (a killed process; the machine stays up)
  kPartial,      // a seeded mix, per directory and per file, of the two
};
const char* CrashModeName(CrashMode m);

// Counts calls across the volumes that share it and trips at an armed call number.
// Thread-safe.
class PowerSwitch {
 public:
  // Trips at call number n counted from now (0: the very next call).
  void ArmAt(uint64_t n);
  // Never trips; clears a trip. The call counter restarts at 0.
  void Reset();
  bool tripped() const { return tripped_.load(); }
  // Calls counted since the last ArmAt or Reset (calls refused after the trip included).
  uint64_t calls() const { return calls_.load(); }

  // For volumes: counts one call; false when the power is off (the call must fail).
  bool Enter();

 private:
  std::mutex mu_;
  std::atomic<uint64_t> calls_{0};
  std::atomic<bool> tripped_{false};
  uint64_t trip_at_ = UINT64_MAX;  // guarded by mu_
};

class CrashVolume : public Volume {
 public:
  // power may be null (no crash points) and is not owned; it must outlive the volume.
  explicit CrashVolume(std::string name, PowerSwitch* power = nullptr);
  ~CrashVolume() override;

  // Drops what the mode says a crash drops (see above). Does not count as a call and works while
  // the switch is tripped.
  void Crash(CrashMode mode, uint64_t seed = 0);
  std::string Describe() const override;
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path, size_t max_size) override;
  Status OverwriteFile(const std::string& path, std::string_view data) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status RenameNoReplace(const std::string& from, const std::string& to) override;
  Status Exchange(const std::string& a, const std::string& b) override;
  Status Remove(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;
  Status MakeDirs(const std::string& path) override;
  Result<std::vector<DirEntry>> ListDir(const std::string& path) override;
  Result<FileInfo> Stat(const std::string& path) override;
  Status SyncFile(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Status SyncAll() override;

  struct State;  // the tree, shared with the file objects; defined in crash_volume.cc

 private:
  // Rename, or with no_replace RenameNoReplace (EEXIST when `to` exists).
  Status RenameImpl(const std::string& from, const std::string& to, bool no_replace);

  std::shared_ptr<State> s_;
};

}  // namespace cairn
