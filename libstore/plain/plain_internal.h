// Shared by the files of PlainDir (plain_*.cc); not an API.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "libstore/common/checksum.h"
#include "libstore/common/io.h"
#include "libstore/common/status.h"
#include "libstore/object/object_store.h"
#include "libstore/volume/volume.h"

namespace cairn::plain {

// Where uploads wait before their rename into place.
inline constexpr const char* kTmpDir = ".cairn/tmp";

// Bytes moved per read or write: a syscall per 256 KiB (PERFORMANCE.md).
inline constexpr size_t kIoBufferSize = 256 << 10;
// This thread's I/O buffer of kIoBufferSize bytes, made once per thread (no allocation per
// request). One user at a time: never held across a call that may use it again.
char* IoBuffer();

// Streams src into file (a PUT's temp file) and returns the bytes written; feeds them to sums
// (every digest its plan names, in one pass). A body of one I/O buffer or less is copied on this
// thread; a larger one through a ring of 1 MiB blocks: this thread reads, one thread appends, one
// computes the digests (MD5 and the checksums are the slowest stage, so they run beside the rest,
// not in series with it). With fsync, writeback starts every 8 MiB so the final flush is short.
// The first read or write failure. sums is not finished here.
Result<uint64_t> StreamIntoFile(Source& src, WritableFile& file, bool fsync, BodyChecksums& sums);

// A temp file under kTmpDir, removed when this goes out of scope unless Disarm() was called
// (after it was renamed into place).
class TempFile {
 public:
  TempFile(Volume* vol, std::string path) : vol_(vol), path_(std::move(path)) {}
  ~TempFile() {
    if (armed_) vol_->Remove(path_).IgnoreError();
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  void Disarm() { armed_ = false; }
  // The finished file's stat data when its writer could tell (WritableFile::StatOpen, before it
  // closed): saves looking the path up again. Unset: Volume::Stat says.
  std::optional<FileInfo> stat;
  // The finished file's writer, still open when its owner left it here (only once flushed): the
  // commit renames the file (Volume::RenameAndStat gives its stamp after the rename), takes the
  // stamp from it when the rename's stat did not (an fstat, where looking the new path up costs
  // an open, a stat and a close) and then closes it. Null: the commit looks the path up then.
  std::unique_ptr<WritableFile> open_file;

 private:
  Volume* vol_;
  std::string path_;
  bool armed_ = true;
};

// What a commit records about an object's bytes besides their size.
struct Digests {
  std::string md5_hex;     // 32 lowercase hex digits, or "" when not computed
  ChecksumValue checksum;  // the x-amz-checksum-* kept (algorithm kNone: none)
  ChecksumType checksum_type = ChecksumType::kNone;
  uint32_t checksum_parts = 0;  // COMPOSITE only

  // The finished digests of one pass over the whole body: its MD5 and checksum when planned (a
  // single pass gives a FULL_OBJECT checksum).
  static Digests Of(const BodyChecksums& sums);
  // Sets info's checksum fields to these.
  void ApplyTo(ObjectInfo* info) const;
};

// Feeds bytes [0, size) of f to sums through this thread's IoBuffer, appending each piece to out
// when given. A file shorter than size is kIOError (retryable) naming `what`.
Status ReadThrough(ReadableFile& f, uint64_t size, BodyChecksums& sums, WritableFile* out,
                   const std::string& what);

// A path lookup that says "not there": absent, or a component on the way is not a directory
// (ENOTDIR), or the entry is a symlink or a special file the volume refuses to open (kCorruption
// from LocalVolume). For keys, all of these mean "no such object".
bool IsAbsent(const Status& s);

}  // namespace cairn::plain
