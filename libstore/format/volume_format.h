// The per-volume format file, `.cairn/format`: which set a directory belongs to and where.
// Byte layout in docs/format.md ("Volume format file").
#pragma once

#include <string>
#include <vector>

#include "libstore/common/status.h"
#include "libstore/format/encoding.h"

namespace cairn {

constexpr char kVolumeFormatMagic[8] = {'C', 'A', 'I', 'R', 'N', 'V', 'O', 'L'};
constexpr uint32_t kVolumeFormatVersion = 1;
constexpr const char* kFormatPath = ".cairn/format";
constexpr const char* kSysDir = ".cairn";
constexpr const char* kTmpDir = ".cairn/tmp";
constexpr const char* kMrfDir = ".cairn/mrf";
// Room kept on each member for deletes on a full disk (SetCore::KeepReserves): a file of zeros.
constexpr const char* kReservePath = ".cairn/reserve";
constexpr uint64_t kReserveBytes = 1 << 20;
constexpr size_t kMaxFormatFileSize = 1 << 20;
// What `init` accepts, and so all a format file may hold: block sizes are multiples of 64 in
// [kMinBlockSize, kMaxBlockSize]; the inline limit is at most kMaxInlineLimit.
constexpr uint32_t kMinBlockSize = 4096;
constexpr uint32_t kMaxBlockSize = 64u << 20;
constexpr uint32_t kMaxInlineLimit = 1u << 20;

// `.cairn/replaced`: when heal formatted this member as a replacement of a lost one, so that a copy
// missing from it may be one the old disk held (docs/format.md, "Replacement record"). A member
// formatted by init has none.
constexpr const char* kReplacedPath = ".cairn/replaced";
constexpr char kReplacedMagic[8] = {'C', 'A', 'I', 'R', 'N', 'R', 'P', 'L'};
constexpr uint32_t kReplacedVersion = 1;
constexpr size_t kReplacedSize = 8 + 4 + 8 + 8;  // magic, version, time, checksum
// The record's bytes for a time in ns since the epoch (clamped to >= 0).
std::string EncodeReplacedRecord(int64_t ns);
// kCorruption unless bytes are exactly one record.
Result<int64_t> DecodeReplacedRecord(std::string_view bytes);

struct VolumeFormat {
  Uuid set_id;
  Uuid volume_id;           // this member
  uint32_t position = 0;    // this member's index in `members`
  uint32_t k = 0, m = 0;
  uint32_t block_size = 0;  // bytes of object data per erasure-coded block
  uint32_t inline_limit = 0;  // objects up to this size live inside the metadata file
  struct Member {
    Uuid volume_id;
    std::string path;       // absolute path when the set was formatted (a hint to find it again)
  };
  std::vector<Member> members;  // in position order; size() == k + m

  std::string Encode() const;
  // kCorruption on a bad magic, version, checksum or inconsistent fields.
  static Result<VolumeFormat> Decode(std::string_view bytes);
};

}  // namespace cairn
