// The store `cairn serve` serves, chosen from its directory arguments, with its background work:
//  - one directory that is not a volume-set member (no .cairn/format): a PlainDir over it, its
//    metadata database in DIR/.cairn/meta.db (or STATE_DIR/meta.db with --state-dir; in memory
//    for --read-only without one), and a thread hashing files whose MD5 is not known yet
//    (HashPass at --hash-rate, default 64 MiB/s; 0 disables it), at start, then again after
//    NextPassWait;
//  - members of a volume set (or --set / CAIRN_SET): the ErasureSet, and a thread draining the
//    MRF journal with HealQueued at --heal-rate (default 64 MiB/s; 0 disables it);
//  - on both, unless --read-only: a thread that aborts multipart uploads begun more than
//    --upload-expiry ago (default 7d; 0 disables it) and never completed nor aborted
//    (ObjectStore::AbortStaleUploads), at start and then every hour (every --upload-expiry when
//    that is shorter).
// The threads stop (and are joined) when the backend is destroyed.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cli/context.h"
#include "commands/commands.h"
#include "libstore/object/object_store.h"

namespace cairn::cli {

class ServeBackend {
 public:
  virtual ~ServeBackend() = default;
  virtual ObjectStore& store() = 0;
  // One line for stderr at start: what is served ("a plain directory /srv/data", "a 4+2 volume
  // set (1 of 6 members offline: /mnt/d3)").
  virtual std::string Describe() const = 0;
  // GET /health's body: {"status":"ok","backend":"plain"|"volume-set",...}; for a volume set
  // also "members":{"total":N,"online":N,"offline":[{"position":P,"path":"..."}]}.
  // Thread-safe.
  virtual std::string HealthJson() const = 0;
  // Starts the background threads (none for a rate or expiry of 0).
  virtual void StartBackground() = 0;
};

// How long a background pass that says whether it found work (the hash pass) waits before its
// next run: `base` after a pass that found work; after one that found none, twice the previous
// wait, up to kMaxIdlePassWait (a tree that only cairn writes has nothing to hash: walking it
// every 5 s would stat every file of it every 5 s); and never less than 4 times the pass's own
// duration (a walk of a big tree takes at most a fifth of the time).
inline constexpr std::chrono::nanoseconds kMaxIdlePassWait = std::chrono::minutes(5);
std::chrono::nanoseconds NextPassWait(std::chrono::nanoseconds base, std::chrono::nanoseconds prev,
                                      bool found_work, std::chrono::nanoseconds took);

Result<std::unique_ptr<ServeBackend>> OpenServeBackend(const ServeOptions& o, Context& ctx);

}  // namespace cairn::cli
