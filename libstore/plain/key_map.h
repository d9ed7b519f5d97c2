// Key mapping for PlainDir: how S3 buckets and keys name files of a directory served as-is.
//
// A bucket is a top-level directory whose name S3 accepts (ValidatePlainBucketName); the root's
// `.cairn` directory, where PlainDir keeps its state, never is one (it fails those rules anyway: a
// bucket name cannot start with '.'). A key names the path beneath its bucket, segment for
// segment: "a/b/c" in bucket "bkt" is the file bkt/a/b/c. A key that ends in '/' is a folder
// marker: it names the directory itself ("a/b/" is the directory bkt/a/b).
//
// Keys that cannot name a file of their own are refused here, before any disk access: empty
// keys, keys over 1024 bytes (kKeyTooLong), NUL bytes, empty segments ("a//b", "/a"), "." and ".."
// segments, and segments over 255 bytes (NAME_MAX). What only the tree can tell (a key whose
// parent is an object, or an object under a key) is PlainDir's to refuse, with kInvalidArgument.
//
// Pure functions, no state: thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "libstore/common/status.h"

namespace cairn {

constexpr size_t kPlainMaxKeyLen = 1024;  // S3's limit, in bytes
constexpr size_t kPlainMaxSegment = 255;  // NAME_MAX
// The root directory that holds PlainDir's state (temp files, the metadata database).
constexpr std::string_view kPlainStateDir = ".cairn";

// S3's bucket naming rules: 3 to 63 bytes of lowercase letters, digits, '.' and '-', starting
// and ending with a letter or digit, no "..", not shaped like an IPv4 address, none of the
// prefixes "xn--", "sthree-", "amzn-s3-demo-" nor the suffixes "-s3alias", "--ol-s3",
// ".mrap", "--x-s3". kInvalidBucketName naming the rule broken.
Status ValidatePlainBucketName(std::string_view bucket);

// The key rules above: kKeyTooLong or kInvalidArgument naming the rule broken.
Status ValidatePlainKey(std::string_view key);

struct KeyPath {
  std::string path;     // relative to the served root: "<bucket>/<key without a trailing '/'>"
  bool marker = false;  // the key ends in '/': a folder marker, the directory `path`
};

// The path of key in bucket, after both are validated (the bucket with ValidatePlainBucketName).
Result<KeyPath> MapPlainKey(std::string_view bucket, std::string_view key);

// The inverse, for listings: the key of the entry `rel` (a path relative to the bucket directory,
// "" for the bucket itself is not an object) that is a directory (a marker) or not.
std::string PlainKeyOf(std::string_view rel, bool dir);

}  // namespace cairn
