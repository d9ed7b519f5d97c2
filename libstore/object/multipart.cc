#include "libstore/object/multipart.h"

#include "libstore/common/hash.h"

namespace cairn {

std::string_view UnquoteEtag(std::string_view e) {
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') return e.substr(1, e.size() - 2);
  return e;
}

Status CheckCompleteList(const std::vector<CompletedPart>& parts, ChecksumAlgorithm alg,
                         ChecksumType type,
                         const std::function<Result<UploadedPart>(int number)>& lookup) {
  if (parts.empty()) return Status(Code::kMalformedXml, "Complete must name at least one part");
  if (parts.size() > size_t(kMaxPartNumber)) {
    return InvalidArgument("Complete names " + std::to_string(parts.size()) +
                           " parts, at most 10000 allowed");
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].part_number < 1 || parts[i].part_number > kMaxPartNumber) {
      return Status(Code::kInvalidPart,
                    "part number " + std::to_string(parts[i].part_number) + " is out of range");
    }
    if (i > 0 && parts[i].part_number <= parts[i - 1].part_number) {
      return Status(Code::kInvalidPartOrder,
                    "parts must be listed in ascending order of part number (part " +
                        std::to_string(parts[i].part_number) + " after " +
                        std::to_string(parts[i - 1].part_number) + ")");
    }
  }
  std::vector<uint64_t> sizes;
  sizes.reserve(parts.size());
  for (const CompletedPart& cp : parts) {
    const std::string which = "part " + std::to_string(cp.part_number);
    ASSIGN_OR_RETURN(UploadedPart up, lookup(cp.part_number));
    if (UnquoteEtag(cp.etag) != up.etag) {
      return Status(Code::kInvalidPart, which + " was uploaded with another ETag");
    }
    if (alg != ChecksumAlgorithm::kNone) {
      if (cp.checksum.empty()) {
        if (type == ChecksumType::kComposite) {
          return InvalidArgument(std::string("The upload was created using a ") + Name(alg) +
                                 " checksum. The complete request must include the checksum for "
                                 "each part. It was missing for " +
                                 which + " in the request.");
        }
      } else if (cp.checksum != up.checksum) {
        return Status(Code::kInvalidPart, which + " was uploaded with another checksum");
      }
    }
    sizes.push_back(up.size);
  }
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    if (sizes[i] < kMinPartSize) {
      return Status(Code::kEntityTooSmall,
                    "part " + std::to_string(parts[i].part_number) + " has " +
                        std::to_string(sizes[i]) +
                        " bytes; every part but the last must have at least 5 MiB");
    }
  }
  return Status::Ok();
}

namespace {

// "crc32", ..., or "null": how S3 names an algorithm in these messages.
std::string LowerName(ChecksumAlgorithm a) {
  if (a == ChecksumAlgorithm::kNone) return "null";
  std::string s = Name(a);
  for (char& c : s) c = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

}  // namespace

Status CheckCompleteChecksumMode(const CompleteMultipartOptions& o, ChecksumAlgorithm alg,
                                 ChecksumType type) {
  if (alg == ChecksumAlgorithm::kNone) type = ChecksumType::kNone;
  if (o.checksum_type != ChecksumType::kNone && o.checksum_type != type) {
    return Status(Code::kInvalidRequest,
                  std::string("The upload was created using the ") +
                      (type == ChecksumType::kNone ? "null" : Name(type)) +
                      " checksum mode. The complete request must use the same checksum mode.");
  }
  if (o.checksum_algorithm != ChecksumAlgorithm::kNone && o.checksum_algorithm != alg) {
    return Status(Code::kInvalidRequest,
                  "Checksum Type mismatch occurred, expected checksum Type: " + LowerName(alg) +
                      ", actual checksum Type: " + LowerName(o.checksum_algorithm));
  }
  return Status::Ok();
}

Status CheckCompleteChecksum(const CompleteMultipartOptions& o, const ChecksumValue& computed,
                             ChecksumType type, size_t nparts) {
  if (o.checksum_value.empty()) return Status::Ok();
  std::string_view given = o.checksum_value;
  bool ok = computed.algorithm != ChecksumAlgorithm::kNone;
  if (const size_t dash = given.rfind('-'); dash != std::string_view::npos) {
    // Only a COMPOSITE value has a part count, and it must be this object's.
    ok = ok && type == ChecksumType::kComposite &&
         given.substr(dash + 1) == std::to_string(nparts);
    given = given.substr(0, dash);
  }
  if (!ok || given != computed.Base64()) {
    return Status(Code::kBadDigest,
                  "The " + LowerName(o.checksum_algorithm == ChecksumAlgorithm::kNone
                                         ? computed.algorithm
                                         : o.checksum_algorithm) +
                      " you specified did not match the calculated checksum.");
  }
  return Status::Ok();
}

std::string MultipartEtag(std::string_view md5s) {
  Md5Stream md5;
  md5.Update(md5s.data(), md5s.size());
  return md5.FinalHex() + "-" + std::to_string(md5s.size() / 16);
}

Result<ByteRange> PartByteRange(const std::vector<uint64_t>& part_sizes, int n) {
  if (n < 1 || size_t(n) > part_sizes.size()) {
    return Status(Code::kInvalidPartNumber,
                  "part number " + std::to_string(n) + " is not satisfiable: the object has " +
                      std::to_string(part_sizes.size()) + " part" +
                      (part_sizes.size() == 1 ? "" : "s"));
  }
  ByteRange r;
  for (int i = 0; i + 1 < n; ++i) r.first += part_sizes[size_t(i)];
  r.length = part_sizes[size_t(n - 1)];
  r.partial = part_sizes.size() > 1;
  return r;
}

Result<ByteRange> ResolveGetBytes(const GetOptions& opts, uint64_t size,
                                  const std::vector<uint64_t>* part_sizes) {
  if (opts.part_number == 0) return ResolveRange(opts.range, size);
  if (opts.range) {
    return Status(Code::kInvalidRequest, "Cannot specify both Range header and partNumber query "
                                         "parameter");
  }
  if (part_sizes == nullptr) return PartByteRange({size}, opts.part_number);
  return PartByteRange(*part_sizes, opts.part_number);
}

GetOptions CopyPartSource(const CopyPartOptions& o) {
  GetOptions g;
  g.range = o.range;
  return g;
}

namespace {

Status BadSourceRange(uint64_t size) {
  return InvalidArgument("Range specified is not valid for source object of size: " +
                         std::to_string(size));
}

}  // namespace

Status CopyPartSourceError(const CopyPartOptions& o, const Status& s) {
  if (s.code() == Code::kInvalidRange && o.range) {
    return InvalidArgument("Range specified is not valid for source object: " + s.message());
  }
  return s;
}

Status CheckCopyPartSource(const CopyPartOptions& o, const ObjectInfo& src, const ByteRange& range) {
  RETURN_IF_ERROR(EvaluateConditions(o.source_conditions, src.etag, src.mod_time_ns,
                                     /*for_read=*/false)
                      .WithContext("copy source " + src.bucket + "/" + src.key));
  if (o.range && (o.range->suffix || o.range->last == GetRange::kToEnd ||
                  o.range->last < o.range->first || o.range->last >= src.size)) {
    return BadSourceRange(src.size);
  }
  constexpr uint64_t kMaxCopy = uint64_t(5) << 30;
  if (range.length > kMaxCopy) return CopySourceTooLarge(kMaxCopy);
  return Status::Ok();
}

Result<int> ParsePartNumber(std::string_view v) {
  int n = 0;
  bool ok = !v.empty() && v.size() <= 5;
  for (char c : v) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    n = n * 10 + (c - '0');
  }
  if (!ok || n < 1 || n > kMaxPartNumber) {
    return InvalidArgument("Part number must be an integer between 1 and 10000, inclusive");
  }
  return n;
}

}  // namespace cairn
