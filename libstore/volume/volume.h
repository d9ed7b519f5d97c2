// Volume: the only way libstore touches a disk.
//
// A volume is a directory tree addressed by relative paths. Every path handed to a Volume goes
// through ValidateRelPath() first, so no path can escape the root, and a LocalVolume never follows
// a symbolic link beneath its root (see NewLocalVolume). Implementations:
// LocalVolume (a real directory), MemVolume (tests), FaultyVolume (a wrapper that injects faults),
// and VolumeWrapper, a forwarding base so a test can override one method.
//
// Thread safety: all Volume methods may be called concurrently. A file object is used by one
// thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/common/status.h"

namespace cairn {

constexpr size_t kMaxRelPathLen = 4096;

// The one validation function for relative paths: non-empty, not absolute, no empty, "." or ".."
// component, no NUL, at most kMaxRelPathLen bytes, no component over 255 bytes.
// ListDir, Stat and SyncDir also accept "" for the volume's root.
Status ValidateRelPath(std::string_view path);

// The alignment of a direct append (WritableFile::BypassCache): of the address, the file offset
// and the length that a LocalVolume writes without copying.
constexpr size_t kDirectAppendAlign = 4096;

struct ConstBuf {
  const void* data;
  size_t size;
};

// For volumes on a file descriptor: writes all of bufs at fd's position with writev, which takes
// a bounded number of buffers and may write short (looped until all is written; EINTR retried).
// Errors say "NAME: write".
Status WriteAllV(int fd, const ConstBuf* bufs, int n, const std::string& name);

// What a directory entry is. Volumes only ever create files and directories; a symbolic link or
// anything else (FIFO, socket, device) found in a volume was put there by someone else.
enum class FileKind : uint8_t { kFile, kDir, kSymlink, kOther };
// "file", "directory", "symlink", "special file" (a FIFO, socket or device).
const char* FileKindName(FileKind k);

struct FileInfo {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  FileKind kind = FileKind::kFile;  // of the entry itself: a symlink is kSymlink, never followed
  // Identity and change time, as stat(2) gives them (st_dev, st_ino, st_ctim). Together with size
  // and mtime they tell whether a file is still the one some record was made for. A volume that
  // cannot say leaves them 0 (LocalVolume and MemVolume always fill them).
  int64_t ctime_ns = 0;
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool is_dir() const { return kind == FileKind::kDir; }
};

// A directory entry with its stat data (ListDirStat).
struct StatEntry {
  std::string name;
  FileInfo info;
};

struct DirEntry {
  std::string name;
  FileKind kind = FileKind::kFile;  // of the entry itself, as Stat would say
  bool is_dir() const { return kind == FileKind::kDir; }
};

class ReadableFile;

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all buffers in order; on failure the file content is undefined (it is a temp file).
  virtual Status AppendV(const ConstBuf* bufs, int n) = 0;
  Status Append(const void* data, size_t n) {
    ConstBuf b{data, n};
    return AppendV(&b, 1);
  }
  // Overwrites n bytes at offset, which must lie within what was appended so far (used to finish
  // a header written as a placeholder). Does not move the append position.
  virtual Status WriteAt(uint64_t offset, const void* data, size_t n) = 0;
  // Makes everything appended so far durable.
  virtual Status Sync() = 0;
  // A hint: start writing what was appended so far to the disk now, without waiting, so a later
  // Sync (or syncfs) has less left to do. Default: nothing.
  virtual void StartWriteback() {}
  // A hint: a long run of large appends follows (the body of a big object), which no one reads
  // until the file is synced or closed; the volume may write it past the page cache. LocalVolume
  // then appends with O_DIRECT (no copy into the page cache, no fresh page per 4 KiB: in this kind
  // of VM that costs more than the MD5 of the same bytes), staging what is not aligned, and goes
  // back to buffered writes at the first WriteAt, Sync, Close, StatOpen or AppendFrom, which see
  // every byte appended. Ignored where the file system cannot (e.g. tmpfs). Default: nothing.
  // Appends cost least when their bytes sit at an address congruent to their file offset modulo
  // kDirectAppendAlign: then only the unaligned edges are copied, not the whole append.
  virtual void BypassCache() {}
  // Closes the file; further calls are errors. Destruction closes silently.
  virtual Status Close() = 0;
  // The open file's stat data (fstat), before Close: what Volume::Stat would say of its path
  // without looking the path up. Default: kInternal (not available; ask Volume::Stat instead).
  virtual Result<FileInfo> StatOpen();
  // Appends len bytes of src starting at src offset `offset` (fewer only when src ends first);
  // returns how many were appended. LocalVolume uses copy_file_range(2) when both files are local
  // (no bytes through user space; reflinks where the file system has them); every other pair, and
  // a kernel that refuses, goes through a buffer with ReadAt and Append. On failure the file
  // content is undefined, as for AppendV.
  virtual Result<uint64_t> AppendFrom(ReadableFile& src, uint64_t offset, uint64_t len);
};

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to n bytes at offset into buf; returns the bytes read (fewer only at end of file).
  virtual Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) = 0;
  virtual Result<uint64_t> Size() = 0;
  // The open file's own stat data (fstat: the inode that was opened, even if its name has since
  // been replaced). Default: Size() with every other field 0.
  virtual Result<FileInfo> StatOpen();
  // The open file's stat data as of its opening, when the volume took it then (LocalVolume does,
  // to refuse what is not a regular file): no second fstat for a caller that needs the stamp of
  // what it just opened. Default: StatOpen().
  virtual Result<FileInfo> StatAtOpen() { return StatOpen(); }
  // An OS file descriptor of this open file, for sendfile(2) and copy_file_range(2); owned by this
  // object and valid while it lives (do not close it; use pread-style calls that leave the file
  // position alone, or sendfile with an offset). -1 when there is none: only LocalVolume's files
  // have one, so a wrapper that must see every read (FaultyVolume) says -1 too.
  virtual int NativeFd() const { return -1; }
};

class Volume {
 public:
  virtual ~Volume() = default;
  // Human-readable identity (the root directory for LocalVolume), used in messages.
  virtual std::string Describe() const = 0;

  // Creates or truncates path for writing. The parent directory must exist.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) = 0;
  // Reads a whole file of at most max_size bytes (kCorruption if larger).
  virtual Result<std::string> ReadFile(const std::string& path, size_t max_size);
  // Writes a whole file (create or truncate), synced when sync is true.
  virtual Status WriteFile(const std::string& path, std::string_view data, bool sync);
  // Like WriteFile, but rewrites an existing file's blocks in place and then trims it, instead of
  // truncating to zero first: no blocks are freed and re-allocated, and ext4 does not start
  // writeback on close (its auto_da_alloc heuristic). For temp files that are reused.
  virtual Status OverwriteFile(const std::string& path, std::string_view data) {
    return WriteFile(path, data, false);
  }
  // Atomically replaces `to` with `from` (both files, or both directories with `to` absent).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Rename, then the stat data of what `to` names just after it (as Stat: a symlink is described,
  // not followed) in *after, left unset when that stat failed (the rename stands). The status is
  // the rename's. Default: Rename, then Stat (so a wrapper's Rename and Stat apply); LocalVolume
  // stats through the directory it renamed in (one fstatat, no lookup of the path again).
  virtual Status RenameAndStat(const std::string& from, const std::string& to,
                               std::optional<FileInfo>* after);
  // Like Rename of a file, but only when `to` does not exist (renameat2 RENAME_NOREPLACE):
  // kAlreadyExists, with nothing changed, when it does. One call where a look for `to` and a
  // Rename would be two. LocalVolume, MemVolume and CrashVolume decide atomically; the default
  // (Stat of `to`, then Rename) does not, so a caller that needs the answer to hold holds a lock
  // over `to` against every other writer of it (as VersionCommit does, under the key's lock).
  virtual Status RenameNoReplace(const std::string& from, const std::string& to);
  // Atomically swaps two existing files (renameat2 RENAME_EXCHANGE): each path then names the
  // other's inode. kNotFound if either is absent.
  virtual Status Exchange(const std::string& a, const std::string& b) = 0;
  // Removes a file. kNotFound if absent.
  virtual Status Remove(const std::string& path) = 0;
  // Removes an empty directory. kNotEmpty / kNotFound as the OS says.
  virtual Status RemoveDir(const std::string& path) = 0;
  // Creates path and any missing parents; fine if it exists as a directory.
  virtual Status MakeDirs(const std::string& path) = 0;
  // Lists a directory (no "." or ".."), in no particular order, with each entry's kind.
  virtual Result<std::vector<DirEntry>> ListDir(const std::string& path) = 0;
  // Lists a directory like ListDir, with each entry's stat data (of the entry itself: a symlink is
  // described, never followed), in one call. An entry removed between reading the directory and
  // describing it is left out. Default: ListDir, then Stat of each entry.
  virtual Result<std::vector<StatEntry>> ListDirStat(const std::string& path);
  // Describes the entry at path itself (a symlink is reported as kSymlink, not followed).
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  // Makes an existing file's data durable, as WritableFile::Sync does for a file still open
  // (fdatasync; not its name: that is SyncDir's). Default: SyncAll.
  virtual Status SyncFile(const std::string& path) {
    (void)path;
    return SyncAll();
  }
  // Makes the directory's entries (renames, creates, removes) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Makes every write, create, rename and remove completed so far on this volume durable. Volumes
  // with the same SyncDomain() share one flush, so a caller syncs each domain once.
  virtual Status SyncAll() { return SyncDir(""); }
  virtual std::string SyncDomain() const { return Describe(); }

  // A hint: the directory `path` stays where it is (never removed, renamed or replaced) while this
  // volume is open, so an implementation may keep it open and skip looking it up again (LocalVolume
  // does, for the parent of a Rename, Exchange, Remove or Stat, and flushes it by that fd in
  // SyncDir). Ignored if it does not exist.
  virtual void PinDir(const std::string& path) { (void)path; }
  // A hint for a few calls in a row: until ReleaseDir on this thread, directory `path` stays
  // where it is (the caller keeps it so: it holds a lock over a file in it that stays there), so
  // an implementation may open it once for this thread's calls on names in it (LocalVolume does,
  // for the parent of a Rename, Exchange or Remove) instead of looking it up for each. One
  // directory per thread at a time: a second HoldDir replaces the first (of any volume). Ignored
  // if it does not exist. Use ScopedDirHold.
  virtual void HoldDir(const std::string& path) { (void)path; }
  // Ends this thread's HoldDir on this volume (nothing if there is none).
  virtual void ReleaseDir() {}

  // Removes a file or a directory tree. Fine if absent. A symlink in the tree is removed itself;
  // what it points to is never touched.
  Status RemoveAll(const std::string& path);
};

// Volume::HoldDir for a scope.
class ScopedDirHold {
 public:
  ScopedDirHold(Volume* v, const std::string& dir) : v_(v) { v_->HoldDir(dir); }
  ~ScopedDirHold() { v_->ReleaseDir(); }
  ScopedDirHold(const ScopedDirHold&) = delete;
  ScopedDirHold& operator=(const ScopedDirHold&) = delete;

 private:
  Volume* v_;
};

// A fresh, unique temp file name inside dir ("" = the volume root): dir + "/" + 32 random hex
// digits + suffix. The one place temp names are made.
std::string TempName(std::string_view dir, std::string_view suffix = "");

// The one way to replace a small file (metadata copies, journals, format files, bucket records):
// writes data to a temp file in tmp_dir, syncs it, renames it over path, then syncs path's
// directory. A crash at any point leaves path either as it was or whole with the new data, never
// torn. When the write or the rename fails, the temp file is removed and path is as it was; when
// only the final directory sync fails, path may already hold the new data. path's directory must
// exist.
Status ReplaceFile(Volume& v, const std::string& path, std::string_view data,
                   std::string_view tmp_dir);

// The directory part of a relative path ("" for a name at the root).
std::string ParentDir(std::string_view path);
// The last component of a path (all of it when it has no '/').
std::string BaseName(std::string_view path);
// dir + "/" + name, or name alone when dir is "" (the root).
std::string JoinPath(std::string_view dir, std::string_view name);

// Makes directory path's entries durable on v (SyncDir); when path is gone (removed as empty after
// its last entry went), its deepest ancestor that is left instead, whose entry for it went.
Status SyncDirOrAncestor(Volume& v, std::string path);

// Forwards every call to a target it does not own. Subclass it and override what you need.
class VolumeWrapper : public Volume {
 public:
  explicit VolumeWrapper(Volume* target) : target_(target) {}
  Volume* target() const { return target_; }
  std::string Describe() const override { return target_->Describe(); }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return target_->NewWritableFile(p);
  }
  Result<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& p) override {
    return target_->NewReadableFile(p);
  }
  Result<std::string> ReadFile(const std::string& p, size_t max) override {
    return target_->ReadFile(p, max);
  }
  Status WriteFile(const std::string& p, std::string_view d, bool sync) override {
    return target_->WriteFile(p, d, sync);
  }
  Status OverwriteFile(const std::string& p, std::string_view d) override {
    return target_->OverwriteFile(p, d);
  }
  Status Rename(const std::string& f, const std::string& t) override {
    return target_->Rename(f, t);
  }
  Status RenameNoReplace(const std::string& f, const std::string& t) override {
    return target_->RenameNoReplace(f, t);
  }
  Status Exchange(const std::string& a, const std::string& b) override {
    return target_->Exchange(a, b);
  }
  Status Remove(const std::string& p) override { return target_->Remove(p); }
  Status RemoveDir(const std::string& p) override { return target_->RemoveDir(p); }
  Status MakeDirs(const std::string& p) override { return target_->MakeDirs(p); }
  Result<std::vector<DirEntry>> ListDir(const std::string& p) override {
    return target_->ListDir(p);
  }
  Result<std::vector<StatEntry>> ListDirStat(const std::string& p) override {
    return target_->ListDirStat(p);
  }
  Result<FileInfo> Stat(const std::string& p) override { return target_->Stat(p); }
  Status SyncFile(const std::string& p) override { return target_->SyncFile(p); }
  Status SyncDir(const std::string& p) override { return target_->SyncDir(p); }
  Status SyncAll() override { return target_->SyncAll(); }
  std::string SyncDomain() const override { return target_->SyncDomain(); }
  void PinDir(const std::string& p) override { target_->PinDir(p); }
  void HoldDir(const std::string& p) override { target_->HoldDir(p); }
  void ReleaseDir() override { target_->ReleaseDir(); }

 private:
  Volume* target_;
};

// A directory on a local file system. Sync and SyncFile are fdatasync, SyncDir is fsync of the
// directory; SyncAll
// goes through a process-wide group commit per file system: concurrent callers share one syncfs(2),
// so many small writers pay for one flush.
//
// Symbolic links: the root path itself is resolved like any path the user gives (it may be or
// pass through a symlink), once, when the volume is made; the volume keeps the root directory open
// and works relative to it from then on (so renaming or replacing the root directory later is not
// seen; a member is opened afresh by each command). Beneath the root no symlink is ever followed,
// by any method: every path is resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or
// one O_NOFOLLOW step at a time on kernels without openat2, and the last component is acted on with
// the *at() calls that do not follow it (Remove and Rename of a symlink act on the link itself,
// Stat and ListDir report it as FileKind::kSymlink). A symlink met where a directory or a file to
// open must be is kCorruption ("... is a symbolic link ..."): the volume's tree is not what cairn
// made, which verify and heal treat as a damaged entry, never as a transient I/O error. Files are
// opened non-blocking, so a FIFO or device planted in the tree fails instead of hanging. If the
// root does not exist yet, every call fails until it does.
std::unique_ptr<Volume> NewLocalVolume(const std::string& root);

// How a LocalVolume resolves paths beneath its root.
enum class LocalPathMode {
  kStrict,       // the default: no symlink followed (openat2 when the kernel has it)
  kStrictWalk,   // the same guarantee without openat2: O_NOFOLLOW at every step (tests)
  kFollowLinks,  // symlinks followed like any path: for a volume over the user's own files
                 // (shard files named on the command line), never for a volume set member
};
std::unique_ptr<Volume> NewLocalVolume(const std::string& root, LocalPathMode mode);

// An in-memory volume for tests. Sync is a no-op.
std::unique_ptr<Volume> NewMemVolume(const std::string& name = "mem");

}  // namespace cairn
