#include "libstore/object/object_store.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "libstore/format/object_meta.h"
#include "libstore/object/multipart.h"

namespace cairn {
namespace {

// RFC 9110 token characters: what an HTTP header name may hold.
bool IsTokenChar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

std::string Shown(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 40)) {
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  return s.size() > 40 ? out + "..." : out;
}

}  // namespace

bool HasControlChar(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return true;
  }
  return false;
}

bool IsSystemMetaKey(std::string_view key) {
  return key.size() >= kSystemMetaPrefix.size() &&
         key.compare(0, kSystemMetaPrefix.size(), kSystemMetaPrefix) == 0;
}

Status ValidatePutOptions(const PutOptions& o) {
  if (o.content_type.size() > kMaxContentTypeLen) {
    return InvalidArgument("content type is " + std::to_string(o.content_type.size()) +
                           " bytes, at most " + std::to_string(kMaxContentTypeLen) + " allowed");
  }
  if (HasControlChar(o.content_type)) {
    return InvalidArgument("content type '" + Shown(o.content_type) + "' holds a control character");
  }
  if (o.user_meta.size() > kMetaMaxUserEntries) {
    return InvalidArgument(std::to_string(o.user_meta.size()) + " user metadata entries, at most " +
                           std::to_string(kMetaMaxUserEntries) + " allowed");
  }
  size_t total = 0, system_total = 0;
  std::set<std::string> seen;
  for (const auto& [k, v] : o.user_meta) {
    if (k.empty()) return InvalidArgument("user metadata key is empty");
    if (k.size() > kMetaMaxUserKey) {
      return InvalidArgument("user metadata key '" + Shown(k) + "' is " + std::to_string(k.size()) +
                             " bytes, at most " + std::to_string(kMetaMaxUserKey) + " allowed");
    }
    for (unsigned char c : k) {
      if (!IsTokenChar(c)) {
        return InvalidArgument("user metadata key '" + Shown(k) +
                               "' may hold only letters, digits and !#$%&'*+-.^_`|~");
      }
    }
    if (HasControlChar(v)) {
      return InvalidArgument("user metadata value of '" + Shown(k) + "' holds a control character");
    }
    std::string lower = k;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (!seen.insert(lower).second) {
      return InvalidArgument("user metadata key '" + Shown(k) +
                             "' given twice (keys are compared ignoring case)");
    }
    (IsSystemMetaKey(k) ? system_total : total) += k.size() + v.size();
  }
  if (total > kMaxUserMetaBytes) {
    return InvalidArgument("user metadata is " + std::to_string(total) +
                           " bytes (keys and values), at most " +
                           std::to_string(kMaxUserMetaBytes) + " allowed");
  }
  if (system_total > kMaxSystemMetaBytes) {
    return InvalidArgument("the standard headers kept with the object are " +
                           std::to_string(system_total) + " bytes, at most " +
                           std::to_string(kMaxSystemMetaBytes) + " allowed");
  }
  if (o.expected.checksum) {
    const ChecksumAlgorithm a = o.expected.checksum->algorithm;
    if (a == ChecksumAlgorithm::kNone || o.expected.checksum->len != DigestLength(a)) {
      return InvalidArgument("the expected checksum is not a finished value");
    }
    if (o.checksum_algorithm != ChecksumAlgorithm::kNone && o.checksum_algorithm != a) {
      return InvalidArgument(std::string("checksum algorithm ") + Name(o.checksum_algorithm) +
                             " asked for, but a " + Name(a) + " value given");
    }
    if (o.trailing_checksum) {
      return InvalidArgument("a checksum value given both before and after the body");
    }
  }
  if (o.trailing_checksum && o.checksum_algorithm == ChecksumAlgorithm::kNone) {
    return InvalidArgument("a trailing checksum needs its algorithm named before the body");
  }
  return Status::Ok();
}

const char* Name(ChecksumType t) {
  switch (t) {
    case ChecksumType::kNone:
      return "";
    case ChecksumType::kComposite:
      return "COMPOSITE";
    case ChecksumType::kFullObject:
      return "FULL_OBJECT";
  }
  return "";
}

Result<ChecksumType> MultipartChecksumType(ChecksumAlgorithm a, ChecksumType t) {
  switch (a) {
    case ChecksumAlgorithm::kNone:
      if (t != ChecksumType::kNone) {
        return InvalidArgument(std::string("x-amz-checksum-type ") + Name(t) +
                               " needs an x-amz-checksum-algorithm");
      }
      return ChecksumType::kNone;
    case ChecksumAlgorithm::kCrc64Nvme:
      if (t == ChecksumType::kComposite) {
        return InvalidArgument(
            "The COMPOSITE checksum type cannot be used with the CRC64NVME "
            "checksum algorithm.");
      }
      return ChecksumType::kFullObject;
    case ChecksumAlgorithm::kSha1:
    case ChecksumAlgorithm::kSha256:
      if (t == ChecksumType::kFullObject) {
        return InvalidArgument(
            std::string("The FULL_OBJECT checksum type cannot be used with the ") + Name(a) +
            " checksum algorithm.");
      }
      return ChecksumType::kComposite;
    case ChecksumAlgorithm::kCrc32:
    case ChecksumAlgorithm::kCrc32c:
      return t == ChecksumType::kNone ? ChecksumType::kComposite : t;
  }
  return InvalidArgument("unknown checksum algorithm");
}

std::string ObjectInfo::ChecksumHeaderValue() const {
  if (checksum.algorithm == ChecksumAlgorithm::kNone) return "";
  std::string v = checksum.Base64();
  if (checksum_type == ChecksumType::kComposite) v += "-" + std::to_string(checksum_parts);
  return v;
}

ChecksumAlgorithm StoredChecksumAlgorithm(const PutOptions& o) {
  if (o.checksum_algorithm != ChecksumAlgorithm::kNone) return o.checksum_algorithm;
  return o.expected.checksum ? o.expected.checksum->algorithm : ChecksumAlgorithm::kNone;
}

BodyChecksums::Plan ChecksumPlan(const PutOptions& o) {
  BodyChecksums::Plan p;
  p.md5 = o.etag == EtagMode::kMd5 || o.expected.content_md5.has_value();
  p.checksum = StoredChecksumAlgorithm(o);
  p.payload_sha256 = o.expected.payload_sha256.has_value();
  return p;
}

Status VerifyBody(const ExpectedDigests& e, const BodyChecksums& a, const BodyChecksums* b) {
  auto pick = [&](bool BodyChecksums::Plan::*planned) -> const BodyChecksums& {
    return (b != nullptr && a.plan().*planned == false && b->plan().*planned) ? *b : a;
  };
  auto has_checksum = [&](const BodyChecksums& c) {
    return c.plan().checksum != ChecksumAlgorithm::kNone;
  };
  if (e.payload_sha256) {
    ExpectedDigests one;
    one.payload_sha256 = e.payload_sha256;
    RETURN_IF_ERROR(pick(&BodyChecksums::Plan::payload_sha256).Verify(one));
  }
  if (e.content_md5) {
    ExpectedDigests one;
    one.content_md5 = e.content_md5;
    RETURN_IF_ERROR(pick(&BodyChecksums::Plan::md5).Verify(one));
  }
  if (e.checksum) {
    ExpectedDigests one;
    one.checksum = e.checksum;
    const BodyChecksums& c = (b != nullptr && !has_checksum(a) && has_checksum(*b)) ? *b : a;
    RETURN_IF_ERROR(c.Verify(one));
  }
  return Status::Ok();
}

Result<ExpectedDigests> FinalExpectations(const PutOptions& o) {
  ExpectedDigests e = o.expected;
  if (!o.trailing_checksum) return e;
  ASSIGN_OR_RETURN(std::optional<ChecksumValue> late, o.trailing_checksum());
  if (late) {
    if (late->algorithm != o.checksum_algorithm) {
      return InvalidArgument(std::string("the trailer holds a ") + Name(late->algorithm) +
                             " checksum, " + Name(o.checksum_algorithm) + " was announced");
    }
    e.checksum = *late;
  }
  return e;
}

}  // namespace cairn

namespace cairn {

Result<ByteRange> ResolveRange(const std::optional<GetRange>& range, uint64_t size) {
  ByteRange out;
  if (!range) {
    out.length = size;
    return out;
  }
  const GetRange& r = *range;
  if (r.suffix) {
    if (r.suffix_len == 0) return Status(Code::kInvalidRange, "a suffix range of 0 bytes");
    out.length = std::min(r.suffix_len, size);
    out.first = size - out.length;
    out.partial = size > 0;
    return out;
  }
  if (r.last < r.first) {  // not a byte-range-spec: ignored
    out.length = size;
    return out;
  }
  if (r.first >= size) {
    return Status(Code::kInvalidRange, "range starts at " + std::to_string(r.first) +
                                           ", past the end of the object (" + std::to_string(size) +
                                           " bytes)");
  }
  out.first = r.first;
  out.length = std::min(r.last, size - 1) - r.first + 1;
  out.partial = true;
  return out;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The opaque part of an entity tag: W/ and the quotes dropped.
std::string_view Opaque(std::string_view t) {
  t = Trim(t);
  if (t.size() >= 2 && (t[0] == 'W' || t[0] == 'w') && t[1] == '/') t.remove_prefix(2);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
  return t;
}

}  // namespace

bool EtagListMatches(std::string_view list, std::string_view etag) {
  const std::string_view want = Opaque(etag);
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view item = Trim(list.substr(0, comma));
    if (item == "*") return true;
    if (!item.empty() && Opaque(item) == want) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

Status CheckCopySource(const CopyOptions& opts, const ObjectInfo& src, const std::string& name) {
  RETURN_IF_ERROR(
      EvaluateConditions(opts.source_conditions, src.etag, src.mod_time_ns, /*for_read=*/false)
          .WithContext("copy source " + name));
  if (src.size > opts.max_source_size) return CopySourceTooLarge(opts.max_source_size);
  return Status::Ok();
}

Status CopySourceTooLarge(uint64_t max_bytes) {
  return Status(Code::kInvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy "
                "source: " + std::to_string(max_bytes));
}

Status EvaluateConditions(const GetConditions& c, const std::string& etag, int64_t mod_time_ns,
                          bool for_read) {
  // Floor to whole seconds, also before 1970.
  const int64_t mod_s =
      mod_time_ns >= 0 ? mod_time_ns / 1000000000 : -((-mod_time_ns + 999999999) / 1000000000);
  if (c.if_match) {
    if (!EtagListMatches(*c.if_match, etag)) {
      return Status(Code::kPreconditionFailed, "If-Match: the ETag is \"" + etag + "\"");
    }
  } else if (c.if_unmodified_since && mod_s > *c.if_unmodified_since) {
    return Status(Code::kPreconditionFailed, "If-Unmodified-Since: modified since");
  }
  const Code not_modified = for_read ? Code::kNotModified : Code::kPreconditionFailed;
  if (c.if_none_match) {
    if (EtagListMatches(*c.if_none_match, etag)) {
      return Status(not_modified, "If-None-Match: the ETag is \"" + etag + "\"");
    }
  } else if (c.if_modified_since && mod_s <= *c.if_modified_since) {
    return Status(not_modified, "If-Modified-Since: not modified since");
  }
  return Status::Ok();
}

Status CheckPutConditions(const PutOptions& o, const ObjectInfo* current) {
  if (o.if_none_match_star && current != nullptr) {
    return Status(Code::kPreconditionFailed, "If-None-Match: *: the object exists");
  }
  if (o.if_match) {
    if (current == nullptr) {
      return Status(Code::kPreconditionFailed, "If-Match: the object does not exist");
    }
    if (!EtagListMatches(*o.if_match, current->etag)) {
      return Status(Code::kPreconditionFailed, "If-Match: the ETag is \"" + current->etag + "\"");
    }
  }
  return Status::Ok();
}

Status ObjectReader::WriteTo(Sink& sink) {
  constexpr size_t kChunk = 256 << 10;
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kChunk]);
  while (true) {
    ASSIGN_OR_RETURN(size_t got, Read(buf.get(), kChunk));
    if (got == 0) return Status::Ok();
    RETURN_IF_ERROR(sink.Write(buf.get(), got));
  }
}

Result<ObjectInfo> ObjectStore::GetObject(const std::string& bucket, const std::string& key,
                                          Sink& sink, const GetOptions& opts) {
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> r, OpenObject(bucket, key, opts));
  RETURN_IF_ERROR(r->WriteTo(sink));
  return r->info();
}

Result<ObjectInfo> ObjectStore::GetObject(const std::string& bucket, const std::string& key,
                                          Sink& sink, const GetRange& range) {
  GetOptions o;
  o.range = range;
  return GetObject(bucket, key, sink, o);
}

namespace {

// An open reader as the body of a PUT.
class ReaderSource : public Source {
 public:
  explicit ReaderSource(ObjectReader& r) : r_(r) {}
  Result<size_t> Read(void* buf, size_t n) override { return r_.Read(buf, n); }

 private:
  ObjectReader& r_;
};

Status NotImplementedHere(const char* what) {
  return Status(Code::kNotImplemented,
                std::string(what) + ": multipart uploads are not implemented");
}

}  // namespace

Result<ObjectInfo> ObjectStore::CopyObject(const std::string& src_bucket,
                                           const std::string& src_key,
                                           const std::string& dst_bucket,
                                           const std::string& dst_key, const CopyOptions& opts) {
  if (src_bucket == dst_bucket && src_key == dst_key &&
      opts.directive != MetadataDirective::kReplace) {
    return InvalidArgument(src_bucket + "/" + src_key +
                           ": a copy onto itself must replace the metadata");
  }
  // The source's version is fixed here; its conditions are decided on that version.
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> r, OpenObject(src_bucket, src_key, GetOptions()));
  const ObjectInfo& src = r->info();
  RETURN_IF_ERROR(CheckCopySource(opts, src, src_bucket + "/" + src_key));
  PutOptions po;
  if (opts.directive == MetadataDirective::kReplace) {
    po.content_type = opts.content_type;
    po.user_meta = opts.user_meta;
  } else {
    po.content_type = src.content_type;
    po.user_meta = src.user_meta;
  }
  if (opts.checksum_algorithm != ChecksumAlgorithm::kNone) {
    po.checksum_algorithm = opts.checksum_algorithm;
  } else if (src.checksum.algorithm != ChecksumAlgorithm::kNone) {
    po.checksum_algorithm = src.checksum.algorithm;
    if (src.checksum_type == ChecksumType::kFullObject) po.expected.checksum = src.checksum;
  }
  po.etag = opts.etag;
  po.fsync = opts.fsync;
  ReaderSource body(*r);
  return PutObject(dst_bucket, dst_key, body, po);
}

Result<MultipartUpload> ObjectStore::CreateMultipartUpload(const std::string&, const std::string&,
                                                           const CreateMultipartOptions&) {
  return NotImplementedHere("CreateMultipartUpload");
}

Result<PartInfo> ObjectStore::UploadPart(const std::string&, const std::string&, const std::string&,
                                         int, Source&, const UploadPartOptions&) {
  return NotImplementedHere("UploadPart");
}

Result<ObjectInfo> ObjectStore::CompleteMultipartUpload(const std::string&, const std::string&,
                                                        const std::string&,
                                                        const std::vector<CompletedPart>&,
                                                        const CompleteMultipartOptions&) {
  return NotImplementedHere("CompleteMultipartUpload");
}

Status ObjectStore::AbortMultipartUpload(const std::string&, const std::string&,
                                         const std::string&) {
  return NotImplementedHere("AbortMultipartUpload");
}

Result<ListPartsResult> ObjectStore::ListParts(const std::string&, const std::string&,
                                               const std::string&, const ListPartsOptions&) {
  return NotImplementedHere("ListParts");
}

Result<PartInfo> ObjectStore::UploadPartCopy(const std::string& src_bucket,
                                             const std::string& src_key, const std::string& bucket,
                                             const std::string& key, const std::string& upload_id,
                                             int part_number, const CopyPartOptions& opts) {
  // The source's version is fixed here; its conditions and the range are decided on it.
  auto r = OpenObject(src_bucket, src_key, CopyPartSource(opts));
  if (!r.ok()) return CopyPartSourceError(opts, r.status());
  RETURN_IF_ERROR(CheckCopyPartSource(opts, (*r)->info(), (*r)->range()));
  ReaderSource body(**r);
  UploadPartOptions po;
  po.fsync = opts.fsync;
  return UploadPart(bucket, key, upload_id, part_number, body, po);
}

Result<uint64_t> ObjectStore::AbortStaleUploads(int64_t) {
  return NotImplementedHere("AbortStaleUploads");
}

Result<ListUploadsResult> ObjectStore::ListMultipartUploads(const std::string&,
                                                            const ListUploadsOptions&) {
  return NotImplementedHere("ListMultipartUploads");
}

}  // namespace cairn
