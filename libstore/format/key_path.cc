#include "libstore/format/key_path.h"

namespace cairn {

Status ValidateKey(std::string_view key) {
  if (key.empty()) return InvalidArgument("object key is empty");
  if (key.size() > kMaxKeyLen) {
    return InvalidArgument("object key longer than 1024 bytes (" + std::to_string(key.size()) + ")");
  }
  if (key.find('\0') != std::string_view::npos) return InvalidArgument("object key contains NUL");
  return Status::Ok();
}

Status ValidateBucketName(std::string_view n) {
  auto bad = [&](const char* why) {
    return InvalidArgument("invalid bucket name '" + std::string(n) + "': " + why);
  };
  if (n.size() < 3 || n.size() > 63) return bad("must be 3 to 63 characters long");
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return bad("only lowercase letters, digits, '.' and '-' are allowed");
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(n.front()) || !alnum(n.back())) return bad("must start and end with a letter or digit");
  if (n.find("..") != std::string_view::npos) return bad("must not contain '..'");
  if (n.substr(0, 4) == "xn--") return bad("must not start with 'xn--'");
  if (n.size() >= 8 && n.substr(n.size() - 8) == "-s3alias") return bad("must not end with '-s3alias'");
  if (n.size() >= 7 && n.substr(n.size() - 7) == "--ol-s3") return bad("must not end with '--ol-s3'");
  int dots = 0;
  bool digits_only = true;
  for (char c : n) {
    if (c == '.') ++dots;
    else if (!(c >= '0' && c <= '9')) digits_only = false;
  }
  if (dots == 3 && digits_only) return bad("must not look like an IP address");
  return Status::Ok();
}

namespace {

bool NeedsEscape(unsigned char c) { return c == '%' || c < 0x20 || c == 0x7f; }

// Appends seg escaped and chunked; the last chunk is followed by `marker` ('~' for a directory),
// or by nothing when marker is 0 (the caller names the object files after it).
void AppendSegment(std::string* out, std::string_view seg, char marker) {
  static const char kHex[] = "0123456789ABCDEF";
  size_t chunk = 0;  // bytes in the current chunk
  for (unsigned char c : seg) {
    size_t need = NeedsEscape(c) ? 3 : 1;
    if (chunk + need > kMaxChunk) {
      out->append("+/");
      chunk = 0;
    }
    if (need == 3) {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(char(c));
    }
    chunk += need;
  }
  if (marker) out->push_back(marker);
}

}  // namespace

ObjectPaths KeyPaths(std::string_view bucket, std::string_view key) {
  std::string path(bucket);
  path.reserve(bucket.size() + key.size() + 16);
  size_t start = 0;
  for (size_t slash; (slash = key.find('/', start)) != std::string_view::npos; start = slash + 1) {
    path.push_back('/');
    AppendSegment(&path, key.substr(start, slash - start), '~');
  }
  path.push_back('/');
  AppendSegment(&path, key.substr(start), 0);
  ObjectPaths p;
  size_t last = path.rfind('/');
  p.dir = path.substr(0, last);
  p.meta = std::move(path);
  p.meta.push_back('=');
  return p;
}

bool DecodeKeyEntry(std::string_view name, std::string* text, KeyEntry* kind) {
  // Only what AppendSegment writes: any other spelling of a key (`%61=` beside `a=`, `x%2F=`) would
  // list as a second copy of a key, or as a key whose files live elsewhere.
  if (name.empty() || name.size() - 1 > kMaxChunk) return false;
  const std::string_view body = name.substr(0, name.size() - 1);
  char marker = name.back();
  if (marker == '~') *kind = KeyEntry::kSegment;
  else if (marker == '+') *kind = KeyEntry::kChunk;
  else if (marker == '=') *kind = KeyEntry::kObject;
  else return false;
  // A segment is cut only where its next byte (3 when escaped) would not fit.
  if (*kind == KeyEntry::kChunk && body.size() + 3 <= kMaxChunk) return false;
  text->clear();
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < body.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == '%') {
      if (i + 2 >= body.size()) return false;  // escape runs into the marker
      int h = hexval(body[i + 1]), l = hexval(body[i + 2]);
      if (h < 0 || l < 0) return false;
      const unsigned char v = static_cast<unsigned char>(h * 16 + l);
      if (!NeedsEscape(v) || v == 0) return false;  // no key holds a NUL
      text->push_back(char(v));
      i += 2;
    } else {
      if (NeedsEscape(c) || c == '/') return false;
      text->push_back(char(c));
    }
  }
  return true;
}

}  // namespace cairn
