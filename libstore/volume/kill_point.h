// A test hook, compiled in and inert unless the environment asks for it: with
//
//   CAIRN_TEST_KILL_AT=OP:N
//
// in the environment, a command kills itself with SIGKILL (exactly what `kill -9` does) just before
// the N-th call (counted from 1) of kind OP made through the set's volumes, counted across all of
// them. OP is one of: rename (Rename and Exchange), remove (Remove and RemoveDir), write
// (NewWritableFile, WriteFile, OverwriteFile), syncdir (SyncDir), syncall (SyncAll), any (every
// call above). tests/e2e_crash.sh uses it to cut `put`, `rm -r`, `rb`, `gc` and `heal` off at a
// chosen point of their work, e.g. between the renames of a PUT's commit, with no timing involved.
//
// Unset (or malformed, which is reported once on stderr), it costs one branch per volume opened.
#pragma once

#include <memory>

#include "libstore/volume/volume.h"

namespace cairn {

// Returns v wrapped so that CAIRN_TEST_KILL_AT applies to it, or v itself when the variable is
// unset. The count is shared by every volume wrapped in the process.
std::unique_ptr<Volume> WithKillPoint(std::unique_ptr<Volume> v);

}  // namespace cairn
