// Helpers shared by the erasure_set*.cc files; not part of the library's API.
#pragma once

#include <cstdint>

namespace cairn {

// Wall-clock time in nanoseconds since the epoch.
int64_t NowNs();

}  // namespace cairn
