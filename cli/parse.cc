#include "cli/parse.h"

#include <cctype>
#include <cstdlib>
#include <string_view>

#include "cli/text_out.h"  // IsUtf8, Utf8Length
#include "libstore/object/multipart.h"  // kMinPartSize, kMaxPartSize

namespace cairn::cli {

std::string Cut(const std::string& s) { return s.size() <= 64 ? s : s.substr(0, 61) + "..."; }

namespace {

// True when [begin, end) holds only digits and dots (strtod then took a plain decimal number).
bool PlainNumber(const char* begin, const char* end) {
  for (const char* p = begin; p < end; ++p) {
    if (!((*p >= '0' && *p <= '9') || *p == '.')) return false;
  }
  return true;
}

// An RFC 9110 token character (an HTTP header name).
bool TokenChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
}

}  // namespace

Result<uint64_t> ParseSize(const std::string& s) {
  auto bad = [&] { return InvalidArgument("invalid size '" + s + "' (examples: 4096, 64K, 1MiB, 2G)"); };
  if (s.empty()) return bad();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  // A plain decimal number: strtod would also take blanks, a sign, hex, exponents, nan and inf.
  if (end == s.c_str() || !PlainNumber(s.c_str(), end) || !(v >= 0)) return bad();
  std::string unit = s.substr(size_t(end - s.c_str()));  // all of it, also past a NUL
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  double mul = 1;
  if (unit.empty() || unit == "B") mul = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") mul = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") mul = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") mul = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB") mul = 1024.0 * 1024 * 1024 * 1024;
  else return bad();
  double bytes = v * mul;
  if (!(bytes <= 1.8e19)) return bad();
  return uint64_t(bytes);
}

Result<uint64_t> ParsePartSize(const std::string& s) {
  ASSIGN_OR_RETURN(uint64_t size, ParseSize(s));
  if (size < kMinPartSize || size > kMaxPartSize) {
    return InvalidArgument("--part-size must be between 5MiB and 5GiB, got '" + s + "'");
  }
  return size;
}

Result<int64_t> ParseDuration(const std::string& s) {
  auto bad = [&] {
    return InvalidArgument("invalid duration '" + s + "' (examples: 0, 90s, 30m, 24h, 7d)");
  };
  if (s.empty()) return bad();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !PlainNumber(s.c_str(), end) || !(v >= 0)) return bad();
  std::string unit = s.substr(size_t(end - s.c_str()));
  double mul;
  if (unit.empty() && v == 0) mul = 0;
  else if (unit == "s") mul = 1;
  else if (unit == "m" || unit == "min") mul = 60;
  else if (unit == "h") mul = 3600;
  else if (unit == "d") mul = 86400;
  else return bad();
  double ns = v * mul * 1e9;
  if (!(ns <= 9e18)) return bad();
  return int64_t(ns);
}

Status ValidateFieldValue(const std::string& what, const std::string& value) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(what + " '" + Cut(value) + "': " + why);
  };
  if (!IsUtf8(value)) return bad("not UTF-8");
  for (size_t i = 0; i < value.size();) {
    uint32_t c = 0;
    i += Utf8Length(value, i, &c);
    if ((c < 0x20 && c != '\t') || c == 0x7F || (c >= 0x80 && c <= 0x9F)) {
      return bad("control characters cannot travel in an HTTP header");
    }
  }
  if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                         value.back() == '\t')) {
    return bad("leading or trailing blanks would be lost in an HTTP header");
  }
  return Status::Ok();
}

Status ParseMeta(const std::vector<std::string>& in,
                 std::vector<std::pair<std::string, std::string>>* out) {
  for (const auto& kv : in) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument("--meta expects NAME=VALUE, got '" + Cut(kv) + "'");
    }
    std::string name = kv.substr(0, eq), value = kv.substr(eq + 1);
    for (char& c : name) {
      if (!TokenChar(static_cast<unsigned char>(c))) {
        return InvalidArgument("--meta '" + Cut(kv) +
                               "': a name is an HTTP header name: letters, digits and "
                               "!#$%&'*+-.^_`|~ only");
      }
      c = char(std::tolower(static_cast<unsigned char>(c)));
    }
    if (IsSystemMetaKey(name)) {
      return InvalidArgument("--meta " + name + ": names starting with " +
                             std::string(kSystemMetaPrefix) +
                             " are reserved (the standard headers kept by cairn serve)");
    }
    RETURN_IF_ERROR(ValidateFieldValue("--meta " + name, value));
    for (const auto& [seen, v] : *out) {
      if (seen == name) {
        return InvalidArgument("--meta " + name +
                               " given twice (names are HTTP header names: case does not count)");
      }
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return Status::Ok();
}

Status ParseRange(const std::string& s, GetRange* r) {
  auto bad = [&] {
    return InvalidArgument(
        "--range expects FIRST-LAST (bytes, LAST inclusive and optional) or -N (the last N "
        "bytes), got '" +
        s + "'");
  };
  size_t dash = s.find('-');
  if (dash == std::string::npos) return bad();
  std::string a = s.substr(0, dash), b = s.substr(dash + 1);
  for (char c : a + b) {
    if (c < '0' || c > '9') return bad();
  }
  if (a.size() > 19 || b.size() > 19) return bad();
  if (a.empty()) {
    if (b.empty()) return bad();
    *r = GetRange::Suffix(std::stoull(b));
    return Status::Ok();
  }
  *r = GetRange{};
  r->first = std::stoull(a);
  r->last = b.empty() ? GetRange::kToEnd : std::stoull(b);
  if (r->last < r->first) return bad();
  return Status::Ok();
}

}  // namespace cairn::cli
