// How object keys and bucket names map onto directories inside a volume (docs/format.md, "Key
// layout").
//
// A key is split at '/' into segments; each segment becomes one directory whose name is the
// segment, escaped ('%' and control bytes as %XX), followed by a marker: '~' ends a segment.
// A segment whose escaped form is longer than kMaxChunk bytes is cut into chunks, each but the last
// marked '+' (continues in the child directory). The object's files (meta, s.<id>) live inside its
// directory; their names never end in '~' or '+', so they cannot collide with key directories.
// So `a`, `a/` and `a/b` are three directories: a~, a~/~ and a~/b~.
#pragma once

#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn {

constexpr size_t kMaxKeyLen = 1024;
constexpr size_t kMaxChunk = 200;
constexpr const char* kMetaName = "meta";

// 1..1024 bytes, no NUL.
Status ValidateKey(std::string_view key);
// S3 rules: 3-63 chars of a-z 0-9 . -, starts and ends with a letter or digit, no "..",
// not an IPv4 address, no "xn--" prefix, no "-s3alias" / "--ol-s3" suffix.
Status ValidateBucketName(std::string_view name);

// The directory (relative to the bucket directory) that holds key's files.
std::string KeyDirPath(std::string_view key);

// Decodes one directory entry name. Returns false if the name is not a key directory.
// *text is the decoded part of the key it stands for; *final is true for '~' (segment ends: the
// next level adds "/"), false for '+' (the segment continues in the next level).
bool DecodeKeyEntry(std::string_view name, std::string* text, bool* final);

}  // namespace cairn
