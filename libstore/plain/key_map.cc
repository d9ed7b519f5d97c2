#include "libstore/plain/key_map.h"

#include <cstdio>

namespace cairn {
namespace {

bool IsLowerOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Four dot-separated runs of 1-3 digits, as S3 checks it.
bool LooksLikeIpv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == i || j - i > 3) return false;
    ++parts;
    if (j == s.size()) break;
    if (s[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

Status BadBucket(std::string_view bucket, const char* why) {
  std::string shown(bucket.substr(0, 80));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return Status(Code::kInvalidBucketName, "bucket name '" + shown + "': " + why);
}

Status BadKey(const char* why) { return InvalidArgument(std::string("object key ") + why); }

}  // namespace

Status ValidatePlainBucketName(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return BadBucket(b, "must be 3 to 63 characters long");
  for (char c : b) {
    if (!IsLowerOrDigit(c) && c != '.' && c != '-') {
      return BadBucket(b, "may hold only lowercase letters, digits, '.' and '-'");
    }
  }
  if (!IsLowerOrDigit(b.front()) || !IsLowerOrDigit(b.back())) {
    return BadBucket(b, "must start and end with a letter or a digit");
  }
  if (b.find("..") != std::string_view::npos) return BadBucket(b, "may not hold '..'");
  if (LooksLikeIpv4(b)) return BadBucket(b, "may not be an IP address");
  for (std::string_view p : {"xn--", "sthree-", "amzn-s3-demo-"}) {
    if (StartsWith(b, p)) return BadBucket(b, "starts with a reserved prefix");
  }
  for (std::string_view s : {"-s3alias", "--ol-s3", ".mrap", "--x-s3"}) {
    if (EndsWith(b, s)) return BadBucket(b, "ends with a reserved suffix");
  }
  return Status::Ok();
}

Status ValidatePlainKey(std::string_view key) {
  if (key.empty()) return BadKey("is empty");
  if (key.size() > kPlainMaxKeyLen) {
    return Status(Code::kKeyTooLong, "object key is " + std::to_string(key.size()) +
                                         " bytes; at most " + std::to_string(kPlainMaxKeyLen));
  }
  if (key.find('\0') != std::string_view::npos) return BadKey("holds a NUL byte");
  // Segments between slashes; a single trailing slash (a folder marker) ends the last one.
  std::string_view rest = key;
  if (rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return BadKey("'/' names no file in a plain directory");
  size_t start = 0;
  while (true) {
    size_t slash = rest.find('/', start);
    std::string_view seg = rest.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty()) return BadKey("has an empty segment ('//' or a leading '/')");
    if (seg == "." || seg == "..") return BadKey("has a '.' or '..' segment");
    if (seg.size() > kPlainMaxSegment) {
      return BadKey("has a segment over 255 bytes (a file name's limit)");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

Result<KeyPath> MapPlainKey(std::string_view bucket, std::string_view key) {
  RETURN_IF_ERROR(ValidatePlainBucketName(bucket));
  RETURN_IF_ERROR(ValidatePlainKey(key));
  KeyPath kp;
  kp.marker = key.back() == '/';
  kp.path.reserve(bucket.size() + 1 + key.size());
  kp.path.append(bucket);
  kp.path += '/';
  kp.path.append(kp.marker ? key.substr(0, key.size() - 1) : key);
  return kp;
}

std::string PlainKeyOf(std::string_view rel, bool dir) {
  std::string k(rel);
  if (dir) k += '/';
  return k;
}

}  // namespace cairn
