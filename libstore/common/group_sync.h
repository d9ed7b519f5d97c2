// How cairn flushes. Its write paths make their own files durable, several at once
// (FlushInParallel: fdatasync of each file, fsync of each directory), never with syncfs(2), which
// would also wait for every other writer's dirty data on the file system (docs/benchmarks.md,
// "Flushing"). GroupSyncFs remains for Volume::SyncAll.
//
// Group commit of durability: many threads that need "everything I wrote to this file system is
// durable" share one syncfs(2). A caller joins the current batch; one caller (the leader) flushes
// the file system for everyone who joined before the flush started, and the others wait for it.
//
// Why: with 16 concurrent small writers, one fsync per file costs ~4.8k files/s on this kind of
// machine; one flush per batch costs the same as one fsync and covers the whole batch.
// Thread safety: fully thread-safe; one process-wide instance per file system (st_dev).
#pragma once

#include <cstddef>
#include <functional>

#include "libstore/common/status.h"

namespace cairn {

// Makes every write and directory change made on fd's file system before the call durable.
// fd may be any open file or directory on that file system.
Status GroupSyncFs(int fd);

// Runs flush(0) .. flush(n-1) at once on up to max_threads threads (the caller's among them) and
// returns the first error in index order, after every call finished. For flushing several files
// or directories: an fdatasync waits for its own file's data only, and concurrent ones on one file
// system share their journal commits, so n flushes at once cost about as much as the largest, not
// the sum. (A syncfs would also wait for every other writer's dirty data on the file system.)
Status FlushInParallel(size_t n, const std::function<Status(size_t)>& flush,
                       size_t max_threads = 16);

}  // namespace cairn
