// Output files of the commands (`get BUCKET/KEY FILE`, `decode -o FILE`): the one place that
// decides how a command writes a file for the user, and when it may replace one (docs/commands.md,
// "Output files").
#pragma once

#include <memory>
#include <string>

#include "cli/progress.h"
#include "libstore/common/io.h"  // Sink
#include "libstore/common/status.h"

namespace cairn::cli {

// The overwrite rule, one for every command: a name the user typed replaces an existing file,
// like cp; a name cairn derived from data (a shard header's name, an object key's last segment)
// never replaces one unless --force.
inline bool MayReplace(bool typed_by_user, bool force) { return typed_by_user || force; }

class OutputFile {
 public:
  // Opens `path` for writing; messages show it as given.
  //  - A name that does not exist, or an existing regular file: a new temp file beside it
  //    (".<name>.cairn-<32 hex digits>", created with O_EXCL | O_NOFOLLOW, so never through a
  //    planted symlink), renamed over the name by Commit after an fsync, then the directory is
  //    synced. Until then the old file is untouched. The temp file is removed when the command
  //    fails, when this object is destroyed uncommitted, and when the process is killed by SIGINT,
  //    SIGTERM or SIGHUP. A symlink to a regular file stays a symlink: the file it points to is
  //    replaced that way, beside it.
  //  - An existing character or block device or FIFO (or a symlink to one): opened and written in
  //    place, never created, truncated, renamed or replaced.
  //  - A directory, a socket or a dangling symlink: kInvalidArgument.
  // An existing regular file and replace == false: kInvalidArgument ("exists (use --force ...)").
  static Result<std::unique_ptr<OutputFile>> Open(const std::string& path, bool replace,
                                                  Progress* progress = nullptr);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Where to write the content.
  Sink& sink() { return *sink_; }
  // The temp file's descriptor, for writers that fill it at offsets (pwrite: parallel ranged
  // downloads) instead of through sink(); -1 when the output is written in place (a device or a
  // FIFO, which only take a stream). Open for reading too (a download is read back to check it).
  // Owned by this object.
  int positional_fd() const { return tmp_.empty() ? -1 : fd_; }
  // Makes the content the file's: fsync and rename (regular files), or just close (devices,
  // FIFOs; a block device is fsynced). On failure the temp file is removed and the old file stays.
  Status Commit();
  // Commit without its fsyncs (of the file and of its directory): for --no-fsync, scratch data
  // that a crash may lose. Set before Commit.
  void set_fsync(bool on) { fsync_ = on; }

 private:
  OutputFile() = default;
  void Abort();

  std::string path_;     // as given, for messages
  std::string target_;   // what the temp file is renamed over ("" when written in place)
  std::string tmp_;      // the temp file ("" when written in place)
  bool replace_ = true;  // may the rename replace an existing target
  bool sync_in_place_ = false;
  bool fsync_ = true;
  int fd_ = -1;
  int tracked_ = -1;  // TrackTempFile slot
  std::unique_ptr<Sink> sink_;
};

// Has `path` removed if the process is killed by SIGINT, SIGTERM or SIGHUP (whose handlers are
// installed on first use, unless the signal is ignored or handled already), until UntrackTempFile.
// Returns a slot, or -1 when all are taken (then the file is not removed on a signal).
// Thread-safe and async-signal-safe on the handler's side.
int TrackTempFile(const std::string& path);
void UntrackTempFile(int slot);

}  // namespace cairn::cli
