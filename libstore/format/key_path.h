// How object keys and bucket names map onto paths inside a volume (docs/format.md, "Key layout").
//
// A key is split at '/' into segments. Every segment but the last becomes one directory, named
// by the segment escaped ('%' and control bytes as %XX) plus the marker '~'. The last segment names
// the object's files in that directory: `<seg>=` is the metadata, `<seg>=<data id hex>` the shard
// file. A segment whose escaped form is longer than kMaxChunk bytes is cut into chunks; every chunk
// but the last becomes a directory marked '+' (the segment continues inside it).
// So `a` is the file a=, `a/` is a~/=, and `a/b` is a~/b=: three objects that never collide, and a
// new key costs one file per volume, no directory, when its parent exists.
#pragma once

#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn {

constexpr size_t kMaxKeyLen = 1024;
constexpr size_t kMaxChunk = 200;
// 1..1024 bytes, no NUL.
Status ValidateKey(std::string_view key);
// S3 rules: 3-63 chars of a-z 0-9 . -, starts and ends with a letter or digit, no "..",
// not an IPv4 address, no "xn--" prefix, no "-s3alias" / "--ol-s3" suffix.
Status ValidateBucketName(std::string_view name);

// Where an object's files live, relative to the volume root.
struct ObjectPaths {
  std::string dir;    // the directory holding them: the bucket, or a directory below it
  std::string meta;   // dir + "/" + <last chunk> + "="
  std::string ShardPath(const std::string& data_id_hex) const { return meta + data_id_hex; }
  // Beside the metadata file: the copy the last overwrite replaced, meta + ".prev" (commit.h).
  // Never listed.
  std::string DisplacedPath() const { return meta + kDisplacedSuffix; }
  static constexpr const char* kDisplacedSuffix = ".prev";
};
ObjectPaths KeyPaths(std::string_view bucket, std::string_view key);

// Decodes one directory entry name. Returns false if the name is neither a key directory nor an
// object's metadata file. *text is the decoded part of the key it stands for. *kind says what it
// is: kSegment ('~': the segment ends, keys below continue after "/"), kChunk ('+': the segment
// continues in the directory), kObject ('=': the metadata of the object whose key ends here).
enum class KeyEntry { kSegment, kChunk, kObject };
bool DecodeKeyEntry(std::string_view name, std::string* text, KeyEntry* kind);

}  // namespace cairn
