// verify and heal of a whole volume set (or one bucket, or one prefix).
//
// The keys of every online volume are merged into one ordered stream (ErasureSet::ScanKeys: a key
// on any volume counts, so an object that lost copies is still found) and checked or healed by a
// few worker threads. Heal first drains the MRF journal (objects that missed a write or served a
// bad shard), then recreates buckets missing on some volumes, then walks every object. Its progress
// is journaled in .cairn/heal/state on every online volume every few seconds, so a heal that was
// killed resumes where it stopped; the journal is removed when a heal completes.
//
// Memory is bounded whatever the number of objects: keys stream; the journal holds one key.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "libstore/common/status.h"
#include "libstore/object/erasure_set.h"

namespace cairn {

struct SetScanOptions {
  std::string bucket;  // "" = every bucket
  std::string prefix;  // within bucket
  bool heal = false;   // false: verify only
  bool deep = false;   // verify: read every block (heal always does)
  bool dry_run = false;
  bool remove_dangling = false;
  uint64_t max_rate = 0;  // bytes per second read, 0 = unlimited
  int jobs = 4;           // objects in flight
  bool resume = true;     // heal: continue an interrupted heal of the same scope
  int64_t journal_every_ms = 2000;  // heal: how often progress is journaled (0: every object)
};

struct ScanSummary {
  // As found.
  uint64_t scanned = 0, healthy = 0, degraded = 0, unrecoverable = 0;
  // Heal: healed counts objects given at least one new shard or metadata copy (with a dry run:
  // that would be); still_degraded those still short of one afterwards (a member offline or
  // refused, a write failed, changed meanwhile); unrecoverable_after those left unrecoverable;
  // removed the dangling ones deleted. An object can be both healed and still degraded.
  uint64_t healed = 0, still_degraded = 0, unrecoverable_after = 0, removed = 0;
  // Heal: deletes that had not finished (delete markers or copies of the deleted version left)
  // and were finished (dry run: would be).
  uint64_t deletes_finished = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t buckets_healed = 0, dangling_buckets = 0;
  // Buckets on too few members to have ever been made, or left by an rb cut off half way:
  // verify counts them (degraded), heal removes what is left of them (dry run: would).
  uint64_t unfinished_buckets = 0;
  uint64_t mrf_entries = 0, mrf_cleared = 0;
  // Symlinks and other non-files found in the members' trees (each reported in a note, left
  // alone): the set is not as cairn made it, so the verdict is at best degraded.
  uint64_t foreign_entries = 0;
  double seconds = 0;
  std::string resumed_from;  // "bucket/key" when a journaled heal was resumed
};

class ScanObserver {
 public:
  virtual ~ScanObserver() = default;
  // Every object checked (healthy ones too), one call at a time, from any thread.
  virtual void Object(const ObjectHealth& h) = 0;
  // Set-level events: a bucket recreated or dangling, a journal resumed, MRF drained.
  virtual void Note(const std::string& line) { (void)line; }
  // Bytes read so far, every few MiB, one call at a time (for progress bars).
  virtual void Progress(uint64_t bytes_read) { (void)bytes_read; }
};

// Runs verify (o.heal false) or heal over the scope. Fails only when the scan itself cannot go on
// (a volume's directory unreadable, below quorum); per-object trouble is in the summary.
Result<ScanSummary> ScanSet(ErasureSet& set, const SetScanOptions& o, ScanObserver& obs);

// ---- the background healer of a serving process (`cairn serve`): drains the MRF journal.

struct HealQueuedOptions {
  uint64_t max_rate = 0;  // bytes per second read (and rebuilt), 0 = unlimited
  // Stops between objects when set (checked before each object); may be null.
  const std::atomic<bool>* stop = nullptr;
};

struct HealQueuedSummary {
  uint64_t entries = 0;  // journal entries found
  uint64_t objects = 0;  // distinct objects they named
  uint64_t healed = 0;   // objects given a new shard or metadata copy
  uint64_t cleared = 0;  // entries removed: their object is whole again, or gone
  uint64_t left = 0;     // entries kept: still degraded (a member offline...), changed, failed
  uint64_t bytes_read = 0, bytes_written = 0;
  bool stopped = false;  // *stop was seen before every object was done
};

// Heals every object the MRF journal names (partial writes, degraded reads), oldest entries
// first, each as HealObject does, and removes the entries of objects that are whole again or no
// longer exist. Entries of objects it could not make whole stay for the next pass. Reads are
// throttled to max_rate so that it never starves requests. Safe beside live traffic (heal commits
// under the key's lock and leaves an object changed meanwhile to its writer). A server calls it
// from one background thread every few seconds; two passes at once on one set are safe but waste
// work. Fails only when the journal cannot be listed.
Result<HealQueuedSummary> HealQueued(ErasureSet& set, const HealQueuedOptions& o);

// Exit status for a finished scan: Ok, kDegraded (exit 3) or kDataLoss (exit 1), with a one-line
// message saying what is left.
Status ScanVerdict(const SetScanOptions& o, const ScanSummary& s);

}  // namespace cairn
