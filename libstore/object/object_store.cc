#include "libstore/object/object_store.h"

#include <cctype>
#include <set>

#include "libstore/format/object_meta.h"

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

// A control character that no header value may carry (tab is allowed, as in HTTP).
bool IsControl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

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

Status ValidatePutOptions(const PutOptions& o) {
  if (o.content_type.size() > kMaxContentTypeLen) {
    return InvalidArgument("content type is " + std::to_string(o.content_type.size()) +
                           " bytes, at most " + std::to_string(kMaxContentTypeLen) + " allowed");
  }
  for (unsigned char c : o.content_type) {
    if (IsControl(c)) {
      return InvalidArgument("content type '" + Shown(o.content_type) +
                             "' holds a control character");
    }
  }
  if (o.user_meta.size() > kMetaMaxUserEntries) {
    return InvalidArgument(std::to_string(o.user_meta.size()) + " user metadata entries, at most " +
                           std::to_string(kMetaMaxUserEntries) + " allowed");
  }
  size_t total = 0;
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
    for (unsigned char c : v) {
      if (IsControl(c)) {
        return InvalidArgument("user metadata value of '" + Shown(k) +
                               "' holds a control character");
      }
    }
    std::string lower = k;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (!seen.insert(lower).second) {
      return InvalidArgument("user metadata key '" + Shown(k) +
                             "' given twice (keys are compared ignoring case)");
    }
    total += k.size() + v.size();
  }
  if (total > kMaxUserMetaBytes) {
    return InvalidArgument("user metadata is " + std::to_string(total) +
                           " bytes (keys and values), at most " +
                           std::to_string(kMaxUserMetaBytes) + " allowed");
  }
  return Status::Ok();
}

}  // namespace cairn
