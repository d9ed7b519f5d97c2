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

// A path the user gave for a member, made absolute (from the current directory) and clean: the
// part that exists is resolved like the kernel resolves it (symlinks, "..", "//", "."), the rest
// is appended with "." and empty components dropped and ".." taken lexically. kInvalidArgument for
// an empty path or one that contains NUL.
Result<std::string> NormalizeMemberPath(const std::string& path);

// Formats dirs (created if missing) as one set, in the order given; each is named by its
// normalized path (NormalizeMemberPath). Checks every directory before it touches any, and
// refuses (kInvalidArgument, exit 2), changing nothing:
//   - a path that exists and is not a directory, or a directory that cannot be created;
//   - one directory given twice, or one member inside another (device and inode of every
//     ancestor are compared, so bind mounts and symlinks do not hide it);
//   - a directory inside a member of another volume set (that set's rb or gc would reach in);
//   - a directory that is not empty (a lost+found alone counts as empty) or belongs to a set,
//     unless force.
// With force, what a cairn format identifies as its own is removed first, and only that: when the
// directory holds a valid volume format file, its .cairn directory and every bucket directory
// whose bucket.meta decodes (BucketMeta::DecodeOrLegacy); everything else (other files, directories without a valid bucket
// record, anything in a directory without a valid format) is left alone. Directories this call
// created are removed again if it fails. Concurrent inits of one directory are serialized (flock
// on each directory), so the second one sees the first one's set and refuses.
Status InitSet(const std::vector<std::string>& dirs, const SetParams& p, bool force);

// Makes v member `position` of the set that f describes (f's own position and volume id are
// ignored): creates the system directories and writes the format file through a temp file and a
// rename, all durable, so a crash leaves either no format or a complete one, never half of one.
// replaced_ns > 0: v replaces a lost member, formatted at that time (ns since the epoch, the
// set's clock): the replacement record (.cairn/replaced) is written first, so copies older than
// it that are missing from v are taken as lost with the old disk, not as never written.
// Used by InitSet and PrepareMembers; tests call it on in-memory volumes.
Status FormatMember(Volume& v, VolumeFormat f, uint32_t position, int64_t replaced_ns = 0);

struct OpenedSet {
  std::vector<std::unique_ptr<Volume>> owned;
  std::unique_ptr<ErasureSet> set;
  VolumeFormat format;                    // the reference format (position 0's view of the set)
  std::vector<std::string> member_paths;  // by position: where each member was looked for
  std::vector<std::string> warnings;      // members offline, foreign directories ignored
};

// What PrepareMembers found or did for one member position.
struct MemberRepair {
  enum class Action {
    kFormatted,    // an empty directory took the member's old place
    kWouldFormat,  // dry run: it would
    kRefused,      // the directory holds another set or other files; left alone
    kMissing,      // no such directory; never created here
  };
  // "formatted", "would-format", "refused", "missing".
  static const char* Name(Action a);

  uint32_t position = 0;
  std::string path;
  Action action = Action::kRefused;
  std::string why;  // for refused and missing: one line saying why
};

// For heal: finds members of the set named by `dirs` whose directory has no valid format file.
// An existing empty directory (a lost+found alone counts as empty) gets the member's old identity
// back from the other members' format files (same set id, volume id and position), so the set can
// be healed onto it. A directory that belongs to another set, or holds files but no format, is
// refused; a missing one is reported, not created (the mount point of a disk that failed to mount
// must not become a member). Needs a read quorum of members with valid formats that agree on the
// set. Members already fine are not listed. Every member directory is locked (flock) while it
// is examined and formatted, so two heals never format one replacement at once, and neither sees
// the other's half-made format as "files but no format".
Result<std::vector<MemberRepair>> PrepareMembers(const std::vector<std::string>& dirs,
                                                 bool dry_run);

// Opens the set that `dirs` (any members; one is enough) belong to. Missing or foreign members are
// left offline with a warning; fails below read quorum.
Result<OpenedSet> OpenSet(const std::vector<std::string>& dirs);

}  // namespace cairn
