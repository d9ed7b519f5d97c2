// HostVolume: the host's file system as the user names it, for the shard commands (encode, decode,
// verify, repair) whose files are the user's own, named on the command line or found in a
// directory the user named.
//
// Unlike LocalVolume, which confines a volume set member to its tree and never follows a symlink
// beneath its root, a HostVolume follows symlinks wherever the OS does: a shard file reached
// through a symlink is read where it lives. It is never given a path that comes from data: shard
// header names reach it only after CheckBaseName, joined to a directory the user named.
//
// Paths are relative to "/" (HostPath makes them from what the user typed) and are shown in
// messages as "/" + path. Files it creates are new: NewWritableFile opens with O_EXCL | O_NOFOLLOW,
// so an existing name, or a symlink planted at it, is refused (kAlreadyExists), never truncated or
// followed. Every file it creates is reported to an optional observer until it is renamed or
// removed (the CLI removes such temp files when it is interrupted).
//
// Thread safety: as Volume. The observer is called on the thread that creates, renames or removes.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "libstore/shards/shard_codec.h"
#include "libstore/volume/volume.h"

namespace cairn {

class HostVolume : public Volume, public FileLocker {
 public:
  // Called with the absolute path of a file this volume is about to create (live = true), and
  // again when it was renamed away or removed, or could not be created (live = false).
  using TempObserver = std::function<void(const std::string& abs_path, bool live)>;
  explicit HostVolume(TempObserver observer = nullptr) : observer_(std::move(observer)) {}

  std::string Describe() const override { return "/"; }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  // Refuses what is not a regular file (a FIFO would block the open, a device is not a shard).
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Exchange(const std::string& a, const std::string& b) override;
  Status Remove(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;
  // mkdir -p, following symlinks to directories like mkdir(1).
  Status MakeDirs(const std::string& path) override;
  // is_dir follows symlinks: a symlink to a directory is listed as one.
  Result<std::vector<DirEntry>> ListDir(const std::string& path) override;
  // Follows symlinks.
  Result<FileInfo> Stat(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  // Flushes every file system this volume created files on (one syncfs each, shared with
  // concurrent callers through GroupSyncFs).
  Status SyncAll() override;
  std::string SyncDomain() const override { return "host"; }

  // FileLocker: flock(LOCK_EX | LOCK_NB) on the file (not following a symlink).
  Result<std::unique_ptr<FileLock>> TryLock(const std::string& path) override;

 private:
  void Gone(const std::string& path);

  TempObserver observer_;
  std::mutex mu_;
  std::map<dev_t, std::string> devices_;  // file systems written to -> a directory on each
};

// How messages show a HostVolume path: "/" + path.
std::string HostDisplay(const std::string& path);

// The HostVolume path of what the user typed (relative to the working directory, or absolute):
// the directory part with every symlink resolved (realpath), the last component as typed (a
// symlink there stays one) unless it is "." or "..", no leading slash ("" for "/"). An error
// (kNotFound if the directory does not exist) shows the typed path made absolute and tidied.
Result<std::string> HostPath(const std::string& typed);

// The HostVolume path of what `path` really is, every symlink resolved: the file a symlinked
// shard points to. kNotFound for a dangling symlink.
Result<std::string> HostRealPath(const std::string& path);

// The HostVolume path of a directory the user typed, created with its missing parents first when
// `create` is set (like mkdir -p). kInvalidArgument if it, or a parent, exists but is not a
// directory.
Result<std::string> HostDir(const std::string& typed, bool create);

// What the user typed, made absolute and tidied without touching the disk: no empty or "."
// components (".." is kept: it means something only on the disk). For messages.
std::string TidyPath(const std::string& typed);

}  // namespace cairn
