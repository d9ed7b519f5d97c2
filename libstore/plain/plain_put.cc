// StreamIntoFile: the body of a plain PUT into its temp file (plain_internal.h).
#include <cstring>

#include "libstore/common/buffer_pool.h"
#include "libstore/common/ring_pipeline.h"
#include "libstore/common/stage_threads.h"
#include "libstore/plain/plain_internal.h"

namespace cairn::plain {
namespace {

constexpr size_t kBlock = 1 << 20;
constexpr uint64_t kSlots = 4;
constexpr uint64_t kWritebackEvery = 8;  // blocks: start writeback every 8 MiB when flushing

struct Slot {
  PooledBuffer buf;
  size_t len = 0;
};

}  // namespace

Result<uint64_t> StreamIntoFile(Source& src, WritableFile& file, bool fsync, BodyChecksums& sums) {
  const BodyChecksums::Plan& plan = sums.plan();
  const bool hash = plan.md5 || plan.checksum != ChecksumAlgorithm::kNone || plan.payload_sha256;
  // A body that fits one I/O buffer is copied on this thread: no threads for a small PUT.
  char* first = IoBuffer();
  ASSIGN_OR_RETURN(size_t n, ReadFull(src, first, kIoBufferSize));
  if (n < kIoBufferSize) {
    sums.Update(first, n);
    if (n > 0) RETURN_IF_ERROR(file.Append(first, n));
    return uint64_t(n);
  }
  // Larger: a ring of kSlots blocks. This thread reads (and the source checks what it checks,
  // e.g. a signed payload's SHA-256), a writer thread appends, a hash thread computes the digests.
  Slot slots[kSlots];
  for (auto& s : slots) s.buf = PooledBuffer(kBlock);
  RingPipeline ring(kSlots, hash ? 2 : 1);
  Status write_error;
  // The writer and the hasher run on kept threads (StageGroup), not threads started per PUT.
  // Declared after what they use: its destructor waits for them; the ring is aborted on any exit
  // first, so that it never waits for a stage that waits for this thread.
  StageGroup stages;
  RingAbortOnExit abort_on_exit(ring);
  bool started = stages.Run([&] {
    for (uint64_t b = 0; ring.WaitReady(b); ++b) {
      const Slot& s = slots[b % kSlots];
      // A body of a block or more: past the page cache (see WritableFile::BypassCache).
      if (b == 0 && s.len == kBlock) file.BypassCache();
      Status st = file.Append(s.buf.data(), s.len);
      if (!st.ok()) {
        write_error = st;
        ring.Abort();
        return;
      }
      // With a flush at the end, let the disk start on what was written, so it has little left.
      if (fsync && b % kWritebackEvery == kWritebackEvery - 1) file.StartWriteback();
      ring.Release(0, b);
    }
  });
  if (started && hash) {
    started = stages.Run([&] {
      for (uint64_t b = 0; ring.WaitReady(b); ++b) {
        const Slot& s = slots[b % kSlots];
        sums.Update(s.buf.data(), s.len);
        ring.Release(1, b);
      }
    });
  }
  if (!started) {
    ring.Abort();
    stages.Wait();
    return Status(Code::kSlowDown, "cannot start a thread for the PUT's stages");
  }
  Status read_error;
  uint64_t size = 0;
  for (uint64_t b = 0; ring.WaitFree(b); ++b) {
    Slot& s = slots[b % kSlots];
    size_t len = 0;
    if (b == 0) {
      std::memcpy(s.buf.data(), first, n);
      len = n;
    }
    auto got = ReadFull(src, s.buf.data() + len, kBlock - len);
    if (!got.ok()) {
      read_error = got.status();
      break;
    }
    len += *got;
    if (len == 0) break;
    s.len = len;
    size += len;
    ring.Publish(b);
    if (len < kBlock) break;
  }
  if (!read_error.ok()) ring.Abort();
  ring.Finish();
  stages.Wait();
  RETURN_IF_ERROR(read_error);
  RETURN_IF_ERROR(write_error);
  return size;
}

}  // namespace cairn::plain
