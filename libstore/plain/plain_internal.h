// Shared by the files of PlainDir (plain_dir.cc, plain_list.cc, plain_hash.cc); not an API.
#pragma once

#include <cstddef>
#include <string>

#include "libstore/common/status.h"

namespace cairn::plain {

// Where uploads wait before their rename into place.
inline constexpr const char* kTmpDir = ".cairn/tmp";

// Bytes moved per read or write: a syscall per 256 KiB (PERFORMANCE.md).
inline constexpr size_t kIoBufferSize = 256 << 10;
// This thread's I/O buffer of kIoBufferSize bytes, made once per thread (no allocation per
// request). One user at a time: never held across a call that may use it again.
char* IoBuffer();

// A path lookup that says "not there": absent, or a component on the way is not a directory
// (ENOTDIR), or the entry is a symlink or a special file the volume refuses to open (kCorruption
// from LocalVolume). For keys, all of these mean "no such object".
bool IsAbsent(const Status& s);

}  // namespace cairn::plain
