// The heal journal, .cairn/heal/state on every online member: how far an unfinished heal got, so
// that a heal of the same scope resumes after it. Byte layout in docs/format.md ("Heal
// journal").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn {

constexpr char kHealJournalMagic[8] = {'C', 'A', 'I', 'R', 'N', 'H', 'E', 'L'};
constexpr uint32_t kHealJournalVersion = 2;
constexpr size_t kMaxHealJournalSize = 1 << 16;  // what readers read of it
constexpr const char* kHealDir = ".cairn/heal";
constexpr const char* kHealJournalPath = ".cairn/heal/state";

struct HealJournal {
  std::string scope_bucket, scope_prefix;  // what the heal covers ("" bucket: the whole set)
  // The last object finished in key order: every object of the scope up to and including it is
  // done, and counted in `counts`.
  std::string bucket, key;
  int64_t started_ns = 0, updated_ns = 0;
  struct Counts {
    uint64_t scanned = 0, healthy = 0, degraded = 0, unrecoverable = 0;
    uint64_t healed = 0, still_degraded = 0, unrecoverable_after = 0, removed = 0;
    uint64_t deletes_finished = 0;
    uint64_t bytes_read = 0, bytes_written = 0;
  } counts;

  // The file's bytes; kInvalidArgument when a name is past the format's limits.
  Result<std::string> Encode() const;
  // kCorruption for anything that is not a whole, valid journal of this version.
  static Result<HealJournal> Decode(std::string_view bytes);
};

}  // namespace cairn
