#include "libstore/s3/sigv4_canonical.h"

#include <algorithm>
#include <cstring>

#include "libstore/s3/sigv4.h"

namespace cairn::s3 {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendByte(unsigned char b, bool encode_slash, std::string* out) {
  if (Unreserved(b) || (b == '/' && !encode_slash)) {
    out->push_back(char(b));
  } else {
    out->push_back('%');
    out->push_back(kHexUpper[b >> 4]);
    out->push_back(kHexUpper[b & 15]);
  }
}

// Normalises one raw component (see the header): escapes decoded, then re-encoded. An escaped
// byte that is not unreserved stays escaped (so %2F in a path stays %2F).
bool AppendNormalized(std::string_view raw, bool encode_slash, std::string* out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return false;
      int hi = HexVal(raw[i + 1]), lo = HexVal(raw[i + 2]);
      if (hi < 0 || lo < 0) return false;
      AppendByte(static_cast<unsigned char>(hi * 16 + lo), true, out);
      i += 2;
    } else {
      AppendByte(c, encode_slash, out);
    }
  }
  return true;
}

// Percent-decodes raw into *out; false on a bad escape. '+' stays '+'.
bool PercentDecode(std::string_view raw, std::string* out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out->push_back(raw[i]);
      continue;
    }
    if (i + 2 >= raw.size()) return false;
    int hi = HexVal(raw[i + 1]), lo = HexVal(raw[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(char(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* v) {
  if (pos + n > s.size()) return false;
  int r = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    r = r * 10 + (s[i] - '0');
  }
  *v = r;
  return true;
}

bool Civil(int y, int mo, int d, int h, int mi, int s, int64_t* out) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 ||
      mi > 59 || s > 60) {
    return false;
  }
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return false;
  *out = DaysFromCivil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + s;
  return true;
}

bool TokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
         c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
         c == '+' || c == '^' || c == '`' || c == '|' || c == '~';
}

void AppendHexLower(const uint8_t* d, size_t n, std::string* out) {
  for (size_t i = 0; i < n; ++i) {
    out->push_back(kHexLower[d[i] >> 4]);
    out->push_back(kHexLower[d[i] & 15]);
  }
}

}  // namespace

void AppendUriEncoded(std::string_view s, bool encode_slash, std::string* out) {
  for (unsigned char c : s) AppendByte(c, encode_slash, out);
}

std::string UriEncodePath(std::string_view path) {
  std::string out;
  if (path.empty() || path.front() != '/') out.push_back('/');
  AppendUriEncoded(path, false, &out);
  return out;
}

std::string UriEncodeQueryComponent(std::string_view s) {
  std::string out;
  AppendUriEncoded(s, true, &out);
  return out;
}

Status AppendCanonicalUri(std::string_view raw_path, std::string* out) {
  if (raw_path.empty()) {
    out->push_back('/');
    return Status::Ok();
  }
  if (raw_path.front() != '/') return InvalidArgument("request target does not start with '/'");
  if (!AppendNormalized(raw_path, false, out)) {
    return InvalidArgument("invalid percent-encoding in the request path");
  }
  return Status::Ok();
}

Status AppendCanonicalQuery(std::string_view raw_query, bool drop_signature, QueryScratch* scratch,
                            std::string* out) {
  scratch->text.clear();
  scratch->pairs.clear();
  size_t pos = 0;
  while (pos <= raw_query.size()) {
    size_t amp = raw_query.find('&', pos);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view part = raw_query.substr(pos, amp - pos);
    pos = amp + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view k = part.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    const size_t ko = scratch->text.size();
    if (!AppendNormalized(k, true, &scratch->text)) {
      return InvalidArgument("invalid percent-encoding in the request query");
    }
    const size_t kl = scratch->text.size() - ko;
    if (drop_signature && std::string_view(scratch->text).substr(ko) == "X-Amz-Signature") {
      scratch->text.resize(ko);
      continue;
    }
    const size_t vo = scratch->text.size();
    if (!AppendNormalized(v, true, &scratch->text)) {
      return InvalidArgument("invalid percent-encoding in the request query");
    }
    scratch->pairs.push_back(
        {uint32_t(ko), uint32_t(kl), uint32_t(vo), uint32_t(scratch->text.size() - vo)});
  }
  const std::string_view t = scratch->text;
  auto key = [t](const std::array<uint32_t, 4>& p) { return t.substr(p[0], p[1]); };
  auto val = [t](const std::array<uint32_t, 4>& p) { return t.substr(p[2], p[3]); };
  std::sort(scratch->pairs.begin(), scratch->pairs.end(), [&](const auto& a, const auto& b) {
    int c = key(a).compare(key(b));
    return c != 0 ? c < 0 : val(a) < val(b);
  });
  for (size_t i = 0; i < scratch->pairs.size(); ++i) {
    if (i) out->push_back('&');
    out->append(key(scratch->pairs[i]));
    out->push_back('=');
    out->append(val(scratch->pairs[i]));
  }
  return Status::Ok();
}

void AppendCanonicalHeaderValue(std::string_view value, std::string* out) {
  value = Trim(value);
  bool space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      space = true;
      continue;
    }
    if (space) out->push_back(' ');
    space = false;
    out->push_back(c);
  }
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

bool ParseAmzDate(std::string_view s, int64_t* epoch_sec) {
  int y, mo, d, h, mi, se;
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  if (!Digits(s, 0, 4, &y) || !Digits(s, 4, 2, &mo) || !Digits(s, 6, 2, &d) ||
      !Digits(s, 9, 2, &h) || !Digits(s, 11, 2, &mi) || !Digits(s, 13, 2, &se)) {
    return false;
  }
  return Civil(y, mo, d, h, mi, se, epoch_sec);
}

bool ParseHttpDate(std::string_view s, int64_t* epoch_sec) {
  // "Fri, 24 May 2013 00:00:00 GMT": 29 characters, fixed positions.
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  static constexpr std::string_view kDays = "MonTueWedThuFriSatSun";
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return false;
  }
  size_t wd = kDays.find(s.substr(0, 3));
  size_t mon = kMonths.find(s.substr(8, 3));
  if (wd == std::string_view::npos || wd % 3 || mon == std::string_view::npos || mon % 3) {
    return false;
  }
  int d, y, h, mi, se;
  if (!Digits(s, 5, 2, &d) || !Digits(s, 12, 4, &y) || !Digits(s, 17, 2, &h) ||
      !Digits(s, 20, 2, &mi) || !Digits(s, 23, 2, &se)) {
    return false;
  }
  return Civil(y, int(mon / 3) + 1, d, h, mi, se, epoch_sec);
}

std::array<char, 16> FormatAmzDate(int64_t epoch_sec) {
  int64_t days = epoch_sec >= 0 ? epoch_sec / 86400 : (epoch_sec - 86399) / 86400;
  int64_t rem = epoch_sec - days * 86400;
  // civil_from_days (Howard Hinnant's algorithm).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  std::array<char, 16> out{};
  auto put = [&](size_t pos, int64_t v, int n) {
    for (int i = n - 1; i >= 0; --i, v /= 10) out[pos + size_t(i)] = char('0' + v % 10);
  };
  put(0, y, 4);
  put(4, m, 2);
  put(6, d, 2);
  out[8] = 'T';
  put(9, rem / 3600, 2);
  put(11, rem / 60 % 60, 2);
  put(13, rem % 60, 2);
  out[15] = 'Z';
  return out;
}

bool DecodeHex32(std::string_view hex, uint8_t out[32]) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexVal(hex[2 * i]), lo = HexVal(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi * 16 + lo);
  }
  return true;
}

bool ParseCredentialScope(std::string_view s, CredentialScope* out) {
  std::string_view parts[4];
  std::string_view rest = s;
  for (int i = 3; i >= 0; --i) {
    size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos) return false;
    parts[i] = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (rest.empty() || parts[3] != "aws4_request" || parts[0].size() != 8 || parts[1].empty() ||
      parts[2].empty()) {
    return false;
  }
  for (char c : parts[0]) {
    if (c < '0' || c > '9') return false;
  }
  // Printable characters only, none that the Authorization header uses as a separator; the
  // access key may hold '/' (the scope is split from the right).
  auto printable = [](std::string_view p, bool slash_ok) {
    for (unsigned char c : p) {
      if (c < 0x21 || c >= 0x7f || c == ',' || c == ';' || c == '=' || (c == '/' && !slash_ok)) {
        return false;
      }
    }
    return true;
  };
  if (!printable(rest, true) || !printable(parts[1], false) || !printable(parts[2], false)) {
    return false;
  }
  *out = {rest, parts[0], parts[1], parts[2]};
  return true;
}

bool ValidSignedHeaders(std::string_view list) {
  if (list.empty()) return false;
  std::string_view prev;
  bool host = false;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t semi = list.find(';', pos);
    if (semi == std::string_view::npos) semi = list.size();
    std::string_view name = list.substr(pos, semi - pos);
    pos = semi + 1;
    if (name.empty()) return false;
    for (char c : name) {
      if (!TokenChar(c)) return false;
    }
    if (!prev.empty() && !(prev < name)) return false;
    prev = name;
    host = host || name == "host";
  }
  return host;
}

Status ParseAuthorization(std::string_view header, ParsedAuthorization* out) {
  auto bad = [](std::string_view why) {
    return Status(Code::kAuthHeaderMalformed,
                  "the authorization header is malformed: " + std::string(why));
  };
  if (!header.starts_with(kSigV4Algorithm) || header.size() == kSigV4Algorithm.size() ||
      header[kSigV4Algorithm.size()] != ' ') {
    return bad("the algorithm must be AWS4-HMAC-SHA256");
  }
  std::string_view rest = header.substr(kSigV4Algorithm.size() + 1);
  bool have_cred = false, have_signed = false, have_sig = false;
  while (true) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return bad("expected Name=value");
    std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    if (name == "Credential") {
      if (have_cred) return bad("Credential given twice");
      if (!ParseCredentialScope(value, &out->credential)) return bad("bad Credential");
      have_cred = true;
    } else if (name == "SignedHeaders") {
      if (have_signed) return bad("SignedHeaders given twice");
      if (!ValidSignedHeaders(value)) {
        return bad("SignedHeaders must be sorted lowercase names and include host");
      }
      out->signed_headers = value;
      have_signed = true;
    } else if (name == "Signature") {
      if (have_sig) return bad("Signature given twice");
      if (!DecodeHex32(value, out->signature.data())) return bad("bad Signature");
      have_sig = true;
    } else {
      return bad("unknown component '" + std::string(name.substr(0, 64)) + "'");
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (!have_cred || !have_signed || !have_sig) {
    return bad("Credential, SignedHeaders and Signature are all required");
  }
  return Status::Ok();
}

std::string FormatAuthorization(const ParsedAuthorization& a) {
  std::string out(kSigV4Algorithm);
  out += " Credential=";
  out += a.credential.access_key;
  for (std::string_view p : {a.credential.date, a.credential.region, a.credential.service}) {
    out += '/';
    out += p;
  }
  out += "/aws4_request, SignedHeaders=";
  out += a.signed_headers;
  out += ", Signature=";
  AppendHexLower(a.signature.data(), 32, &out);
  return out;
}

Status ParsePresignQuery(std::string_view raw_query, ParsedPresign* out) {
  auto bad = [](std::string_view why) {
    return Status(Code::kAuthQueryMalformed,
                  "error parsing the X-Amz-Credential parameter: " + std::string(why));
  };
  enum { kAlg, kCred, kDate, kExpires, kSigned, kSig, kCount };
  static constexpr std::string_view kNames[kCount] = {"X-Amz-Algorithm",     "X-Amz-Credential",
                                                      "X-Amz-Date",          "X-Amz-Expires",
                                                      "X-Amz-SignedHeaders", "X-Amz-Signature"};
  std::array<std::pair<size_t, size_t>, kCount> at{};
  std::array<bool, kCount> seen{};
  out->storage.clear();
  out->storage.reserve(raw_query.size());  // views into storage must not move
  size_t pos = 0;
  while (pos <= raw_query.size()) {
    size_t amp = raw_query.find('&', pos);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view part = raw_query.substr(pos, amp - pos);
    pos = amp + 1;
    size_t eq = part.find('=');
    std::string_view k = part.substr(0, eq);
    for (int i = 0; i < kCount; ++i) {
      if (k != kNames[i]) continue;
      if (seen[i]) return bad(std::string(kNames[i]) + " given twice");
      seen[i] = true;
      size_t off = out->storage.size();
      if (eq == std::string_view::npos || !PercentDecode(part.substr(eq + 1), &out->storage)) {
        return bad(std::string(kNames[i]) + " is malformed");
      }
      at[i] = {off, out->storage.size() - off};
    }
  }
  for (int i = 0; i < kCount; ++i) {
    if (!seen[i]) return bad(std::string(kNames[i]) + " is missing");
  }
  const std::string_view st = out->storage;
  auto get = [&](int i) { return st.substr(at[i].first, at[i].second); };
  if (get(kAlg) != kSigV4Algorithm) return bad("X-Amz-Algorithm must be AWS4-HMAC-SHA256");
  if (!ParseCredentialScope(get(kCred), &out->credential)) return bad("bad X-Amz-Credential");
  int64_t t;
  if (!ParseAmzDate(get(kDate), &t)) return bad("X-Amz-Date must be yyyymmddThhmmssZ");
  out->amz_date = get(kDate);
  std::string_view e = get(kExpires);
  if (e.empty() || e.size() > 7) {
    return bad("X-Amz-Expires must be a number of seconds from 0 to 604800");
  }
  int64_t ex = 0;
  for (char c : e) {
    if (c < '0' || c > '9')
      return bad("X-Amz-Expires must be a number of seconds from 0 to 604800");
    ex = ex * 10 + (c - '0');
  }
  if (ex > kMaxPresignExpiresSec) {
    return bad("X-Amz-Expires must be less than a week (in seconds); that is, 604800");
  }
  out->expires_sec = ex;
  if (!ValidSignedHeaders(get(kSigned))) {
    return bad("X-Amz-SignedHeaders must be sorted lowercase names and include host");
  }
  out->signed_headers = get(kSigned);
  if (!DecodeHex32(get(kSig), out->signature.data())) return bad("bad X-Amz-Signature");
  return Status::Ok();
}

std::string FormatPresignQuery(const ParsedPresign& p) {
  std::string out = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=";
  std::string cred(p.credential.access_key);
  for (std::string_view s : {p.credential.date, p.credential.region, p.credential.service}) {
    cred += '/';
    cred += s;
  }
  cred += "/aws4_request";
  AppendUriEncoded(cred, true, &out);
  out += "&X-Amz-Date=";
  out += p.amz_date;
  out += "&X-Amz-Expires=" + std::to_string(p.expires_sec) + "&X-Amz-SignedHeaders=";
  AppendUriEncoded(p.signed_headers, true, &out);
  out += "&X-Amz-Signature=";
  AppendHexLower(p.signature.data(), 32, &out);
  return out;
}

}  // namespace cairn::s3
