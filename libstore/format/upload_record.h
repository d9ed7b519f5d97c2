// The staging area of a multipart upload on a volume set: one directory per upload on every
// member, `.cairn/multipart/<upload id>/`, holding the upload's record (`upload`), one record per
// part (`<number>.part`, five digits) and each part's shard file (`<part data id hex>`). Complete
// leaves the shard files where they are: the object's metadata names the upload (its data_id) and
// the parts, so the directory becomes the object's data. Byte layouts in docs/format.md
// ("Multipart upload record", "Part record").
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libstore/common/checksum.h"
#include "libstore/common/status.h"
#include "libstore/format/encoding.h"

namespace cairn {

constexpr const char* kMultipartDir = ".cairn/multipart";
constexpr char kUploadMagic[8] = {'C', 'A', 'I', 'R', 'N', 'M', 'P', 'U'};
constexpr uint32_t kUploadVersion = 1;
constexpr char kPartMagic[8] = {'C', 'A', 'I', 'R', 'N', 'P', 'R', 'T'};
constexpr uint32_t kPartVersion = 1;
constexpr size_t kMaxUploadRecordSize = 64 << 10;
constexpr size_t kMaxPartRecordSize = 256;

// Paths inside a member, from the upload's id.
std::string UploadDir(const Uuid& upload);                              // .cairn/multipart/<hex>
std::string UploadRecordPath(const Uuid& upload);                       // <dir>/upload
std::string PartRecordPath(const Uuid& upload, uint32_t number);        // <dir>/00042.part
std::string PartShardPath(const Uuid& upload, const Uuid& part_data);   // <dir>/<data hex>
// An empty file a commit writes when the multipart object made from the upload is deleted or
// overwritten: its mtime tells gc since when no current version needs the parts.
std::string UploadReleasedPath(const Uuid& upload);                     // <dir>/released
// The part number of a part record's file name ("00042.part" -> 42); false for any other name.
bool ParsePartRecordName(std::string_view name, uint32_t* number);

enum class UploadState : uint8_t {
  kOpen = 0,       // parts may be uploaded; Complete and Abort may end it
  kCompleted = 1,  // Complete published an object from it (completed_* say which)
};

struct UploadRecord {
  std::string bucket, key;
  int64_t initiated_ns = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_meta;
  ChecksumAlgorithm checksum_algorithm = ChecksumAlgorithm::kNone;
  uint8_t checksum_type = 0;  // 0 none, kMetaChecksumFullObject or kMetaChecksumComposite
  UploadState state = UploadState::kOpen;
  // kCompleted: the version Complete published, its ETag, and the XXH3-64 of the part list it
  // was asked for (0 when a later call marked it; a retried Complete is matched against the
  // object's own part list, not this).
  Uuid completed_version;
  std::string completed_etag;
  uint64_t completed_parts_hash = 0;

  // kInvalidArgument past the format's limits (those of object metadata).
  Result<std::string> Encode() const;
  // kCorruption for anything that is not a whole, valid record.
  static Result<UploadRecord> Decode(std::string_view bytes);
};

// One member's record of an uploaded part (written after its shard file is durable).
struct PartRecord {
  uint32_t number = 0;
  uint64_t size = 0;
  Uuid data_id;              // the shard file's name
  uint64_t shard_size = 0;   // framed bytes of the shard file
  std::array<uint8_t, 16> md5{};
  ChecksumValue checksum;    // of the upload's algorithm, or none
  int64_t mod_time_ns = 0;

  std::string Encode() const;
  static Result<PartRecord> Decode(std::string_view bytes);
  bool SameAs(const PartRecord& o) const {
    return number == o.number && size == o.size && data_id == o.data_id &&
           shard_size == o.shard_size && md5 == o.md5 && checksum == o.checksum &&
           mod_time_ns == o.mod_time_ns;
  }
};

}  // namespace cairn
