// Formatting and opening volume sets from directories.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "libstore/common/status.h"
#include "libstore/format/volume_format.h"
#include "libstore/object/erasure_set.h"

namespace cairn {

// Parity by member count when --ec is not given: 1 -> 0, 2-3 -> 1, 4-5 -> 2, 6-7 -> 3, 8+ -> 4.
uint32_t DefaultParity(uint32_t n);

// Parses "K+M" (kInvalidArgument with a clear message otherwise).
Result<std::pair<uint32_t, uint32_t>> ParseEc(const std::string& s);

// Formats dirs (created if missing) as one set, in the order given. Refuses a directory that is
// not empty or that belongs to a set, unless force (then a previous cairn format and its buckets
// are removed first; other files are left alone).
Status InitSet(const std::vector<std::string>& dirs, const SetParams& p, bool force);

struct OpenedSet {
  std::vector<std::unique_ptr<Volume>> owned;
  std::unique_ptr<ErasureSet> set;
  VolumeFormat format;                 // the reference format (position 0's view of the set)
  std::vector<std::string> member_paths;  // by position: where each member was looked for
  std::vector<std::string> warnings;   // members offline, foreign directories ignored
};

// What PrepareMembers found or did for one member position.
struct MemberRepair {
  uint32_t position = 0;
  std::string path;
  // "formatted" (an empty directory took the member's old place), "would-format" (dry run),
  // "refused" (the directory holds another set or other files; left alone), "missing" (no such
  // directory; never created here)
  std::string action;
  std::string why;  // for refused and missing: one line saying why
};

// For heal: finds members of the set named by `dirs` whose directory has no valid format file.
// An existing empty directory (a lost+found alone counts as empty) gets the member's old identity
// back from the other members' format files (same set id, volume id and position), so the set can
// be healed onto it. A directory that belongs to another set, or holds files but no format, is
// refused; a missing one is reported, not created (the mount point of a disk that failed to mount
// must not become a member). Needs a read quorum of members with valid formats that agree on the
// set. Members already fine are not listed.
Result<std::vector<MemberRepair>> PrepareMembers(const std::vector<std::string>& dirs, bool dry_run);

// Opens the set that `dirs` (any members; one is enough) belong to. Missing or foreign members are
// left offline with a warning; fails below read quorum.
Result<OpenedSet> OpenSet(const std::vector<std::string>& dirs);

}  // namespace cairn
