// S3's rules of multipart uploads that every ObjectStore applies the same way: the part numbers,
// the checks of a CompleteMultipartUpload list against the parts uploaded, and the part layout of
// a completed object (what GET ?partNumber=N reads).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "libstore/common/checksum.h"
#include "libstore/common/status.h"
#include "libstore/object/object_store.h"

namespace cairn {

constexpr int kMaxPartNumber = 10000;
constexpr uint64_t kMinPartSize = uint64_t(5) << 20;  // every part of an object but the last
constexpr uint64_t kMaxPartSize = uint64_t(5) << 30;  // any part (S3's limit)

// An ETag as a client sends it back (CompletedPart::etag, If-Match): the quotes dropped.
std::string_view UnquoteEtag(std::string_view etag);

// What a store knows of one uploaded part, for CheckCompleteList.
struct UploadedPart {
  std::string etag;  // MD5 hex, no quotes
  uint64_t size = 0;
  std::string checksum;  // base64 of the upload's algorithm; "" when it has none
};

// Checks a Complete's list, in S3's order, and calls nothing of the store but `lookup`:
//  1. at least one part (kMalformedXml), at most 10,000 (kInvalidArgument), numbers 1..10,000
//     (kInvalidPart) in strictly ascending order (kInvalidPartOrder);
//  2. for each entry, lookup(number) gives the part uploaded under that number (its errors are
//     returned as they are: kInvalidPart for a part not uploaded); the ETag must be that part's
//     (kInvalidPart); with a checksum algorithm (alg), a COMPOSITE upload needs each part's
//     checksum (kInvalidArgument), and one given must be the part's (kInvalidPart);
//  3. every part but the last at least kMinPartSize (kEntityTooSmall).
// lookup is called once per entry, in list order (a store may collect what it needs then).
Status CheckCompleteList(const std::vector<CompletedPart>& parts, ChecksumAlgorithm alg,
                         ChecksumType type,
                         const std::function<Result<UploadedPart>(int number)>& lookup);

// The checksum a Complete request expects of the object (CompleteMultipartOptions), against an
// upload created with algorithm alg and type (kNone, kNone: none), as S3 decides it; every error
// comes before anything is published, so the upload stays open:
//  - CheckCompleteChecksumMode, before the part list is checked: an x-amz-checksum-type that is
//    not the upload's ("The upload was created using the ... checksum mode"), or a value of
//    another algorithm than the upload's (none included), is kInvalidRequest;
//  - CheckCompleteChecksum, once the parts' checksums are combined into `computed` (the object's
//    FULL_OBJECT or COMPOSITE checksum, of nparts parts): a value that is not computed's is
//    kBadDigest. A COMPOSITE value may carry the "-N" suffix, then N must be nparts. No value:
//    OK (the type need not be sent either).
Status CheckCompleteChecksumMode(const CompleteMultipartOptions& o, ChecksumAlgorithm alg,
                                 ChecksumType type);
Status CheckCompleteChecksum(const CompleteMultipartOptions& o, const ChecksumValue& computed,
                             ChecksumType type, size_t nparts);

// S3's multipart ETag: "<MD5 hex of the concatenated binary part MD5s>-<N>"; md5s holds the N
// binary digests end to end (16 bytes each).
std::string MultipartEtag(std::string_view md5s);

// GET / HEAD ?partNumber=N: the bytes of part n of an object whose parts have these sizes, in
// order (a single-part or non-multipart object: one part, its size). partial is true when the
// object has more than one part (S3 answers 206 with Content-Range then, 200 for a single part).
// kInvalidPartNumber for n < 1 or n past the last part.
Result<ByteRange> PartByteRange(const std::vector<uint64_t>& part_sizes, int n);

// UploadPartCopy's source, shared by every store's implementation:
// The options that open the source: its range, no conditions (CheckCopyPartSource decides them
// with a copy's verdicts).
GetOptions CopyPartSource(const CopyPartOptions& o);
// An error of opening the source, as UploadPartCopy answers it: a range that starts past the end
// is kInvalidArgument (S3's "Range specified is not valid for source object of size"), the rest
// unchanged.
Status CopyPartSourceError(const CopyPartOptions& o, const Status& s);
// Once the source is open (its info and the range resolved): the copy-source conditions
// (kPreconditionFailed), a range within the source (kInvalidArgument as above), a copy of at most
// 5 GiB (kInvalidRequest).
Status CheckCopyPartSource(const CopyPartOptions& o, const ObjectInfo& src, const ByteRange& range);

// The bytes a GET with opts sends of an object of `size` bytes: ResolveRange(opts.range), or
// with opts.part_number, PartByteRange of the part sizes (part_sizes null: an object of one
// part, `size`). A part number with a range is kInvalidRequest.
Result<ByteRange> ResolveGetBytes(const GetOptions& opts, uint64_t size,
                                  const std::vector<uint64_t>* part_sizes);

// Parses a partNumber query value: 1..10000, else kInvalidArgument.
Result<int> ParsePartNumber(std::string_view v);

}  // namespace cairn
