// Object metadata, one copy per volume (where: key_path.h). Byte layout in docs/format.md
// ("Object metadata"). Small objects carry their shard inline, so they need no shard file. A
// delete marker is a metadata copy that says "deleted": a DELETE commits one like a version before
// it removes anything, so a delete that stops half way is finished by heal, not taken for loss.
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "libstore/common/checksum.h"
#include "libstore/common/status.h"
#include "libstore/format/encoding.h"

namespace cairn {

constexpr char kObjectMetaMagic[8] = {'C', 'A', 'I', 'R', 'N', 'O', 'B', 'J'};
// Version 1: no checksum section. Version 2: version 1 plus a checksum section (the object's
// x-amz-checksum-*) before the file checksum. Encode writes version 1 for an object without a
// checksum and version 2 only with one, so a copy has exactly one encoding and a binary that reads
// only version 1 still reads every object stored without a checksum. Decode reads both.
// Version 3: a multipart object (ObjectMeta::parts not empty): version 2's fields, the checksum
// section always present (algorithm 0: none), then the parts section. Encode writes version 3
// only for a multipart object, so every other object keeps its version 1 or 2 bytes, and a binary
// that reads only versions 1 and 2 refuses a multipart object's copy ("unsupported version 3")
// instead of reading it as a single shard file it would not find.
constexpr uint32_t kObjectMetaVersion1 = 1;
constexpr uint32_t kObjectMetaVersion2 = 2;
constexpr uint32_t kObjectMetaVersion3 = 3;
constexpr uint32_t kObjectMetaVersion = kObjectMetaVersion3;  // the newest
// How the stored checksum covers the object (S3's x-amz-checksum-type).
constexpr uint8_t kMetaChecksumFullObject = 1;  // of the whole object's bytes
constexpr uint8_t kMetaChecksumComposite = 2;   // of the parts' checksums, "-N" (multipart)
constexpr uint32_t kMetaMaxChecksumParts = 10000;
constexpr uint32_t kMetaMaxParts = 10000;  // S3's part numbers are 1..10000
constexpr uint32_t kMetaFlagInline = 1;        // the shard is inline (no shard file)
constexpr uint32_t kMetaFlagDeleteMarker = 2;  // a delete marker (always inline and empty)
// The format's limits: Decode refuses anything beyond them, and so Encode refuses to write it.
constexpr size_t kMaxMetaFileSize = 16 << 20;  // a whole metadata file
constexpr size_t kMetaMaxKey = 1024;
constexpr size_t kMetaMaxEtag = 256;
constexpr size_t kMetaMaxContentType = 1024;
constexpr size_t kMetaMaxUserEntries = 1024;
constexpr size_t kMetaMaxUserKey = 1024;
constexpr size_t kMetaMaxUserValue = 8192;
constexpr size_t kMetaMaxShards = 32;  // K + M
// Block sizes a set can have (`cairn init`): a reader sizes its buffers by the copy's.
constexpr uint32_t kMetaMinBlockSize = 4096;
constexpr uint32_t kMetaMaxBlockSize = 64u << 20;

// One part of a multipart object. Its data is one shard file per member, coded like a single
// object of `size` bytes (blocks of the object's block size, framed chunks with XXH3), in the
// upload's staging directory (PartShardPath in key_path.h).
struct ObjectPart {
  uint32_t number = 0;  // the S3 part number, 1..kMetaMaxParts, ascending in ObjectMeta::parts
  uint64_t size = 0;    // bytes of object data
  Uuid data_id;         // names its shard files
  uint64_t shard_size = 0;  // framed bytes of each shard file (StripeLayout::shard_size)
  std::array<uint8_t, 16> md5{};  // MD5 of the part's bytes (its ETag, and the object's)
  // The part's x-amz-checksum-* of the object's checksum algorithm (length 0 when none).
  ChecksumValue checksum;
  bool operator==(const ObjectPart& o) const;
};

struct ObjectMeta {
  std::string key;  // the object key (without bucket)
  Uuid version_id;  // one per PUT; every volume's copy of one PUT carries the same
  int64_t mod_time_ns = 0;
  uint64_t size = 0;
  std::string etag;  // hex MD5 of the body, or "x" + hex XXH3-128 with --etag fast
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  uint32_t k = 1, m = 0;
  uint32_t block_size = 0;
  uint32_t shard_index = 0;           // which shard (0..K+M-1) this volume holds
  std::vector<uint8_t> distribution;  // distribution[shard] = volume position holding it
  Uuid data_id;                       // names the shard file (key_path.h); zero when inline
  uint64_t shard_size = 0;            // framed shard bytes (chunks + checksums)
  std::string inline_shard;           // framed shard bytes when inline
  bool delete_marker = false;  // this copy marks the object deleted (size 0, inline, no shard)
  // The x-amz-checksum-* the client sent or asked for; algorithm kNone: none (then type and
  // parts are 0). Type kMetaChecksumFullObject (parts 0) or kMetaChecksumComposite (parts 1 to
  // kMetaMaxChecksumParts).
  ChecksumValue checksum;
  uint8_t checksum_type = 0;
  uint32_t checksum_parts = 0;
  // A multipart object: its parts in ascending number (then data_id names the upload, whose
  // staging directory holds every part's shard files, and shard_size is the sum of the parts').
  // Empty for any other object.
  std::vector<ObjectPart> parts;

  bool is_multipart() const { return !parts.empty(); }
  bool is_inline() const { return data_id.IsZero(); }
  bool is_delete_marker() const { return delete_marker; }

  // Ok when Decode would accept what Encode writes for these fields; else kInvalidArgument
  // saying which field breaks which limit.
  Status Validate() const;
  // The bytes of the metadata file. Fails (kInvalidArgument) exactly when Validate does, or when
  // the file would exceed kMaxMetaFileSize: the store never writes a copy it cannot read back.
  Result<std::string> Encode() const;
  // kCorruption on a bad magic, version, checksum, unknown flag, broken limit or inconsistent
  // fields.
  static Result<ObjectMeta> Decode(std::string_view bytes);
};

}  // namespace cairn
