#include "libstore/server/request_target.h"

#include <cstring>

namespace cairn::server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only, no sign, at most UINT64_MAX; false otherwise (and for an empty string).
bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = uint64_t(c - '0');
    if (x > (UINT64_MAX - d) / 10) return false;
    x = x * 10 + d;
  }
  *v = x;
  return true;
}

constexpr const char* kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char* kDays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kLongDays[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                      "Thursday", "Friday", "Saturday"};

int MonthIndex(std::string_view s) {
  for (int i = 0; i < 12; ++i) {
    if (s == kMonths[i]) return i;
  }
  return -1;
}

bool IsDayName(std::string_view s, bool long_form) {
  for (int i = 0; i < 7; ++i) {
    if (s == (long_form ? kLongDays[i] : kDays[i])) return true;
  }
  return false;
}

// Exactly n digits at s[pos..]; a leading space stands for a zero when space_pad.
bool Digits(std::string_view s, size_t pos, size_t n, int* v, bool space_pad = false) {
  if (pos + n > s.size()) return false;
  int x = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (space_pad && i == 0 && c == ' ' && n > 1) c = '0';
    if (c < '0' || c > '9') return false;
    x = x * 10 + (c - '0');
  }
  *v = x;
  return true;
}

// "HH:MM:SS" at s[pos..].
bool ParseClock(std::string_view s, size_t pos, int* h, int* m, int* sec) {
  return pos + 8 <= s.size() && Digits(s, pos, 2, h) && s[pos + 2] == ':' &&
         Digits(s, pos + 3, 2, m) && s[pos + 5] == ':' && Digits(s, pos + 6, 2, sec);
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil calendar method).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool LeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::optional<int64_t> Combine(int year, int month0, int day, int h, int m, int s) {
  static constexpr int kMonthDays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month0 < 0 || month0 > 11 || day < 1 || day > kMonthDays[month0]) return std::nullopt;
  if (month0 == 1 && day == 29 && !LeapYear(year)) return std::nullopt;
  if (h > 23 || m > 59 || s > 60) return std::nullopt;  // 60: a leap second
  return DaysFromCivil(year, month0 + 1, day) * 86400 + h * 3600 + m * 60 + s;
}

}  // namespace

Status PercentDecode(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      const int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return InvalidArgument("invalid percent-encoding in the request");
      c = char(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return InvalidArgument("the request names a NUL byte");
    out->push_back(c);
  }
  return Status::Ok();
}

Result<Target> ParseTarget(std::string_view raw) {
  if (raw.empty() || raw.front() != '/') {
    return InvalidArgument("the request target is not an absolute path");
  }
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '#') {
      return InvalidArgument("the request target holds a character it may not");
    }
  }
  Target t;
  const size_t q = raw.find('?');
  t.raw_path = std::string(raw.substr(0, q));
  RETURN_IF_ERROR(PercentDecode(t.raw_path, &t.path));
  if (q == std::string_view::npos) return t;
  std::string_view rest = raw.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    std::pair<std::string, std::string> kv;
    RETURN_IF_ERROR(PercentDecode(item.substr(0, eq), &kv.first));
    if (eq != std::string_view::npos)
      RETURN_IF_ERROR(PercentDecode(item.substr(eq + 1), &kv.second));
    t.query.push_back(std::move(kv));
  }
  return t;
}

Result<Address> ResolveAddress(std::string_view raw_path, std::string_view host,
                               std::string_view domain) {
  if (raw_path.empty() || raw_path.front() != '/') {
    return InvalidArgument("the request path does not start with '/'");
  }
  Address a;
  std::string_view h = host;
  if (const size_t colon = h.rfind(':');
      colon != std::string_view::npos && h.find(']') == std::string_view::npos) {
    h = h.substr(0, colon);
  }
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);  // a fully qualified name
  if (!domain.empty() && h.size() > domain.size() + 1 && h[h.size() - domain.size() - 1] == '.' &&
      EqualsIgnoreCase(h.substr(h.size() - domain.size()), domain)) {
    for (char c : h.substr(0, h.size() - domain.size() - 1)) a.bucket.push_back(Lower(c));
    RETURN_IF_ERROR(PercentDecode(raw_path.substr(1), &a.key));
  } else {
    std::string_view rest = raw_path.substr(1);
    const size_t slash = rest.find('/');
    RETURN_IF_ERROR(PercentDecode(rest.substr(0, slash), &a.bucket));
    if (slash != std::string_view::npos)
      RETURN_IF_ERROR(PercentDecode(rest.substr(slash + 1), &a.key));
    if (a.bucket.empty() && !a.key.empty()) {
      return Status(Code::kInvalidBucketName, "the request names a key but no bucket");
    }
  }
  if (a.bucket.find('/') != std::string::npos) {
    return Status(Code::kInvalidBucketName, "a bucket name cannot hold '/'");
  }
  if (a.key.size() > kMaxKeyBytes) {
    return Status(Code::kKeyTooLong, "the key is " + std::to_string(a.key.size()) +
                                         " bytes; at most " + std::to_string(kMaxKeyBytes));
  }
  return a;
}

ByteRange ParseRangeHeader(std::string_view value) {
  ByteRange none;
  std::string_view v = Trim(value);
  const size_t eq = v.find('=');
  if (eq == std::string_view::npos || !EqualsIgnoreCase(Trim(v.substr(0, eq)), "bytes")) {
    return none;
  }
  v = Trim(v.substr(eq + 1));
  if (v.find(',') != std::string_view::npos) return none;  // several ranges: S3 sends it all
  const size_t dash = v.find('-');
  if (dash == std::string_view::npos) return none;
  const std::string_view a = Trim(v.substr(0, dash)), b = Trim(v.substr(dash + 1));
  ByteRange r;
  if (a.empty()) {
    if (!ParseU64(b, &r.suffix)) return none;
    r.kind = ByteRange::Kind::kSuffix;
    return r;
  }
  if (!ParseU64(a, &r.first)) return none;
  if (b.empty()) {
    r.kind = ByteRange::Kind::kFrom;
    return r;
  }
  if (!ParseU64(b, &r.last) || r.last < r.first) return none;
  r.kind = ByteRange::Kind::kFromTo;
  return r;
}

bool ResolveRange(const ByteRange& r, uint64_t size, uint64_t* first, uint64_t* last) {
  if (size == 0) return false;
  switch (r.kind) {
    case ByteRange::Kind::kNone:
      *first = 0;
      *last = size - 1;
      return true;
    case ByteRange::Kind::kFromTo:
    case ByteRange::Kind::kFrom:
      if (r.first >= size) return false;
      *first = r.first;
      *last = r.kind == ByteRange::Kind::kFrom || r.last >= size ? size - 1 : r.last;
      return true;
    case ByteRange::Kind::kSuffix:
      if (r.suffix == 0) return false;
      *first = r.suffix >= size ? 0 : size - r.suffix;
      *last = size - 1;
      return true;
  }
  return false;
}

std::optional<int64_t> ParseHttpDate(std::string_view s) {
  int day = 0, year = 0, h = 0, m = 0, sec = 0;
  const size_t comma = s.find(',');
  if (comma == 3) {  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (s.size() != 29 || !IsDayName(s.substr(0, 3), false) || s[4] != ' ' ||
        !Digits(s, 5, 2, &day) || s[7] != ' ' || s[11] != ' ' || !Digits(s, 12, 4, &year) ||
        s[16] != ' ' || !ParseClock(s, 17, &h, &m, &sec) || s.substr(25) != " GMT") {
      return std::nullopt;
    }
    return Combine(year, MonthIndex(s.substr(8, 3)), day, h, m, sec);
  }
  if (comma != std::string_view::npos) {  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    const std::string_view rest = s.substr(comma);
    if (!IsDayName(s.substr(0, comma), true) || rest.size() != 24 || rest[1] != ' ' ||
        !Digits(rest, 2, 2, &day) || rest[4] != '-' || rest[8] != '-' ||
        !Digits(rest, 9, 2, &year) || rest[11] != ' ' || !ParseClock(rest, 12, &h, &m, &sec) ||
        rest.substr(20) != " GMT") {
      return std::nullopt;
    }
    year += year < 70 ? 2000 : 1900;
    return Combine(year, MonthIndex(rest.substr(5, 3)), day, h, m, sec);
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (s.size() != 24 || !IsDayName(s.substr(0, 3), false) || s[3] != ' ' || s[7] != ' ' ||
      !Digits(s, 8, 2, &day, true) || s[10] != ' ' || !ParseClock(s, 11, &h, &m, &sec) || s[19] != ' ' ||
      !Digits(s, 20, 4, &year)) {
    return std::nullopt;
  }
  return Combine(year, MonthIndex(s.substr(4, 3)), day, h, m, sec);
}

size_t FormatHttpDate(int64_t seconds, char* buf) {
  int64_t days = seconds / 86400, rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const int weekday = int(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  // Civil date from days (inverse of DaysFromCivil).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = int(doy - (153 * mp + 2) / 5 + 1);
  const int mon = int(mp < 10 ? mp + 3 : mp - 9);
  const int64_t y = yoe + era * 400 + (mon <= 2);
  const int yy = int(y < 0 ? 0 : y > 9999 ? 9999 : y);
  char* p = buf;
  std::memcpy(p, kDays[weekday], 3);
  p += 3;
  *p++ = ',';
  *p++ = ' ';
  *p++ = char('0' + d / 10);
  *p++ = char('0' + d % 10);
  *p++ = ' ';
  std::memcpy(p, kMonths[mon - 1], 3);
  p += 3;
  *p++ = ' ';
  *p++ = char('0' + yy / 1000);
  *p++ = char('0' + yy / 100 % 10);
  *p++ = char('0' + yy / 10 % 10);
  *p++ = char('0' + yy % 10);
  *p++ = ' ';
  const int hh = int(rem / 3600), mm = int(rem / 60 % 60), ss = int(rem % 60);
  const int parts[3] = {hh, mm, ss};
  for (int i = 0; i < 3; ++i) {
    *p++ = char('0' + parts[i] / 10);
    *p++ = char('0' + parts[i] % 10);
    *p++ = i == 2 ? ' ' : ':';
  }
  std::memcpy(p, "GMT", 3);
  p += 3;
  *p = '\0';
  return size_t(p - buf);
}

}  // namespace cairn::server
